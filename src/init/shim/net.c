// SPDX-License-Identifier: Apache-2.0
/*
 * Network: static IPv4 with the classic ioctls, which cover everything contract version 1 asks,
 * and the DHCP clients (dhcp.c) for interfaces that want one.
 *
 * An interface's set-up either works or yields a one-line problem. What happens then depends on
 * the interface: one the user asked for is an init-error (the app never runs on a network it was
 * promised and does not have); one marked `optional` (the defaults baked into standalone images)
 * gets a warning naming the problem, and the app starts without it.
 */
#include "shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long an interface may take to appear after its driver module was loaded. */
#define IFACE_WAIT_MS 2000

/* The socket the configuration ioctls go through; kept open for leases that change later. */
static int net_sock = -1;

bool problem(char *err, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return false;
}

void ifreq_init(struct ifreq *ifr, const char *name) {
    memset(ifr, 0, sizeof *ifr);
    strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
}

static void set_sockaddr(struct sockaddr *sa, struct in_addr addr) {
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = addr};
    memcpy(sa, &sin, sizeof sin);
}

static bool bring_up(const char *name, char *err, size_t len) {
    struct ifreq ifr;
    ifreq_init(&ifr, name);
    if (ioctl(net_sock, SIOCGIFFLAGS, &ifr) != 0) return problem(err, len, "cannot read the flags of %s: %s", name, strerror(errno));
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(net_sock, SIOCSIFFLAGS, &ifr) != 0) return problem(err, len, "cannot bring %s up: %s", name, strerror(errno));
    return true;
}

/* A NIC's driver registers it while its module loads, but give a slow probe a moment. */
static bool wait_for_interface(const char *name, char *err, size_t len) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (if_nametoindex(name) == 0) {
        if (elapsed_ms(&start) >= IFACE_WAIT_MS)
            return problem(err, len, "network interface %s does not exist (is its driver in the image's modules?)", name);
        sleep_ms(10);
    }
    return true;
}

static bool parse_cidr(const struct iface *ifc, struct in_addr *addr, struct in_addr *mask, int *prefix, char *err, size_t len) {
    char text[INET_ADDRSTRLEN];
    const char *slash = strchr(ifc->addr, '/');
    char *rest;
    size_t n = slash ? (size_t)(slash - ifc->addr) : 0;
    if (!slash || n >= sizeof text) return problem(err, len, "invalid addr '%s' for %s (expected A.B.C.D/len)", ifc->addr, ifc->name);
    memcpy(text, ifc->addr, n);
    text[n] = '\0';
    long bits = strtol(slash + 1, &rest, 10);
    if (inet_pton(AF_INET, text, addr) != 1 || *rest != '\0' || slash[1] == '\0' || bits < 0 || bits > 32)
        return problem(err, len, "invalid addr '%s' for %s (expected A.B.C.D/len)", ifc->addr, ifc->name);
    mask->s_addr = htonl(bits == 0 ? 0 : 0xffffffffu << (32 - bits));
    *prefix = (int)bits;
    return true;
}

static bool set_address(const struct iface *ifc, char *err, size_t len) {
    struct in_addr addr = {0}, mask = {0}, broadcast;
    int prefix = 32;
    struct ifreq ifr;
    if (!parse_cidr(ifc, &addr, &mask, &prefix, err, len)) return false;
    broadcast.s_addr = addr.s_addr | ~mask.s_addr;

    ifreq_init(&ifr, ifc->name);
    set_sockaddr(&ifr.ifr_addr, addr);
    if (ioctl(net_sock, SIOCSIFADDR, &ifr) != 0) return problem(err, len, "cannot set address %s on %s: %s", ifc->addr, ifc->name, strerror(errno));
    set_sockaddr(&ifr.ifr_netmask, mask);
    if (ioctl(net_sock, SIOCSIFNETMASK, &ifr) != 0) return problem(err, len, "cannot set netmask of %s: %s", ifc->name, strerror(errno));
    if (prefix < 31) { /* /31 and /32 have no broadcast address */
        set_sockaddr(&ifr.ifr_broadaddr, broadcast);
        if (ioctl(net_sock, SIOCSIFBRDADDR, &ifr) != 0) return problem(err, len, "cannot set broadcast of %s: %s", ifc->name, strerror(errno));
    }
    return true;
}

static bool set_mtu(const struct iface *ifc, char *err, size_t len) {
    char *rest;
    long mtu = strtol(ifc->mtu, &rest, 10);
    struct ifreq ifr;
    if (*rest != '\0' || mtu < 68 || mtu > 65535) return problem(err, len, "invalid mtu '%s' for %s", ifc->mtu, ifc->name);
    ifreq_init(&ifr, ifc->name);
    ifr.ifr_mtu = (int)mtu;
    if (ioctl(net_sock, SIOCSIFMTU, &ifr) != 0) return problem(err, len, "cannot set mtu %ld on %s: %s", mtu, ifc->name, strerror(errno));
    return true;
}

/* Needs the interface up and addressed, so the gateway is known to be on-link. */
static bool add_default_route(const struct iface *ifc, char *err, size_t len) {
    struct in_addr gw, any = {.s_addr = INADDR_ANY};
    struct rtentry rt;
    if (inet_pton(AF_INET, ifc->gw, &gw) != 1) return problem(err, len, "invalid gw '%s' for %s", ifc->gw, ifc->name);
    memset(&rt, 0, sizeof rt);
    set_sockaddr(&rt.rt_dst, any);
    set_sockaddr(&rt.rt_genmask, any);
    set_sockaddr(&rt.rt_gateway, gw);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = (char *)ifc->name;
    if (ioctl(net_sock, SIOCADDRT, &rt) != 0 && errno != EEXIST)
        return problem(err, len, "cannot add a default route via %s on %s: %s", ifc->gw, ifc->name, strerror(errno));
    return true;
}

bool apply_iface(const struct iface *ifc, char *err, size_t len) {
    if (ifc->mtu && !set_mtu(ifc, err, len)) return false;
    if (ifc->addr && !set_address(ifc, err, len)) return false;
    if (!bring_up(ifc->name, err, len)) return false;
    if (ifc->gw && !add_default_route(ifc, err, len)) return false;
    say("configured %s: addr %s, gw %s, mtu %s", ifc->name, ifc->addr ? ifc->addr : "none", ifc->gw ? ifc->gw : "none",
        ifc->mtu ? ifc->mtu : "default");
    return true;
}

/* Setting 0.0.0.0 deletes the interface's IPv4 address, and with it the routes through it. */
void remove_address(const char *name) {
    struct ifreq ifr;
    ifreq_init(&ifr, name);
    set_sockaddr(&ifr.ifr_addr, (struct in_addr){.s_addr = INADDR_ANY});
    if (ioctl(net_sock, SIOCSIFADDR, &ifr) != 0 && errno != EADDRNOTAVAIL)
        warn("cannot remove the address of %s: %s", name, strerror(errno));
}

static bool configure_iface(struct iface *ifc, struct strv *dns, char *err, size_t len) {
    if (strlen(ifc->name) >= IFNAMSIZ) return problem(err, len, "interface name '%s' is too long", ifc->name);
    if (!wait_for_interface(ifc->name, err, len)) return false;
    if (ifc->dhcp) {
        if (!bring_up(ifc->name, err, len)) return false;
        struct dhcp_client *client = dhcp_open(ifc, dns, err, len);
        if (!client) return false;
        if (!dhcp_acquire(client, err, len)) {
            /* The client stays in PID 1's event loop: an optional interface is configured when a server answers. */
            size_t used = strlen(err);
            if (ifc->optional) snprintf(err + used, len - used, "; DHCP keeps asking in the background");
            return false;
        }
    }
    return apply_iface(ifc, err, len);
}

void configure_network(struct config *c) {
    char err[384];
    net_sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (net_sock < 0) fail("cannot open a socket to configure the network: %s", strerror(errno));
    if (!bring_up("lo", err, sizeof err)) fail("%s", err); /* the kernel already gives lo 127.0.0.1/8 once it is up */
    say("brought up lo");
    for (size_t i = 0; i < c->n_ifaces; i++) {
        struct iface *ifc = &c->ifaces[i];
        if (configure_iface(ifc, &c->dns, err, sizeof err)) continue;
        if (!ifc->optional) fail("%s", err);
        warn("network set-up of %s failed, starting the app without it: %s", ifc->name, err);
    }
}
