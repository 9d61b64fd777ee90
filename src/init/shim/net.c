// SPDX-License-Identifier: Apache-2.0
/* Network: static IPv4 with the classic ioctls, which cover everything contract version 1 asks. */
#include "shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long an interface may take to appear after its driver module was loaded. */
#define IFACE_WAIT_MS 2000

void ifreq_init(struct ifreq *ifr, const char *name) {
    memset(ifr, 0, sizeof *ifr);
    strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
}

static void set_sockaddr(struct sockaddr *sa, struct in_addr addr) {
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = addr};
    memcpy(sa, &sin, sizeof sin);
}

static void bring_up(int sock, const char *name) {
    struct ifreq ifr;
    ifreq_init(&ifr, name);
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) fail("cannot read the flags of %s: %s", name, strerror(errno));
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) fail("cannot bring %s up: %s", name, strerror(errno));
}

/* A NIC's driver registers it while its module loads, but give a slow probe a moment. */
static void wait_for_interface(const char *name) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (if_nametoindex(name) == 0) {
        if (elapsed_ms(&start) >= IFACE_WAIT_MS)
            fail("network interface %s does not exist (is its driver in the image's modules?)", name);
        sleep_ms(10);
    }
}

static void parse_cidr(const struct iface *ifc, struct in_addr *addr, struct in_addr *mask, int *prefix) {
    char text[INET_ADDRSTRLEN];
    const char *slash = strchr(ifc->addr, '/');
    char *rest;
    size_t len = slash ? (size_t)(slash - ifc->addr) : 0;
    if (!slash || len >= sizeof text) fail("invalid addr '%s' for %s (expected A.B.C.D/len)", ifc->addr, ifc->name);
    memcpy(text, ifc->addr, len);
    text[len] = '\0';
    long bits = strtol(slash + 1, &rest, 10);
    if (inet_pton(AF_INET, text, addr) != 1 || *rest != '\0' || slash[1] == '\0' || bits < 0 || bits > 32)
        fail("invalid addr '%s' for %s (expected A.B.C.D/len)", ifc->addr, ifc->name);
    mask->s_addr = htonl(bits == 0 ? 0 : 0xffffffffu << (32 - bits));
    *prefix = (int)bits;
}

static void set_address(int sock, const struct iface *ifc) {
    struct in_addr addr, mask, broadcast;
    int prefix;
    struct ifreq ifr;
    parse_cidr(ifc, &addr, &mask, &prefix);
    broadcast.s_addr = addr.s_addr | ~mask.s_addr;

    ifreq_init(&ifr, ifc->name);
    set_sockaddr(&ifr.ifr_addr, addr);
    if (ioctl(sock, SIOCSIFADDR, &ifr) != 0) fail("cannot set address %s on %s: %s", ifc->addr, ifc->name, strerror(errno));
    set_sockaddr(&ifr.ifr_netmask, mask);
    if (ioctl(sock, SIOCSIFNETMASK, &ifr) != 0) fail("cannot set netmask of %s: %s", ifc->name, strerror(errno));
    if (prefix < 31) { /* /31 and /32 have no broadcast address */
        set_sockaddr(&ifr.ifr_broadaddr, broadcast);
        if (ioctl(sock, SIOCSIFBRDADDR, &ifr) != 0) fail("cannot set broadcast of %s: %s", ifc->name, strerror(errno));
    }
}

static void set_mtu(int sock, const struct iface *ifc) {
    char *rest;
    long mtu = strtol(ifc->mtu, &rest, 10);
    struct ifreq ifr;
    if (*rest != '\0' || mtu < 68 || mtu > 65535) fail("invalid mtu '%s' for %s", ifc->mtu, ifc->name);
    ifreq_init(&ifr, ifc->name);
    ifr.ifr_mtu = (int)mtu;
    if (ioctl(sock, SIOCSIFMTU, &ifr) != 0) fail("cannot set mtu %ld on %s: %s", mtu, ifc->name, strerror(errno));
}

/* Needs the interface up and addressed, so the gateway is known to be on-link. */
static void add_default_route(int sock, const struct iface *ifc) {
    struct in_addr gw, any = {.s_addr = INADDR_ANY};
    struct rtentry rt;
    if (inet_pton(AF_INET, ifc->gw, &gw) != 1) fail("invalid gw '%s' for %s", ifc->gw, ifc->name);
    memset(&rt, 0, sizeof rt);
    set_sockaddr(&rt.rt_dst, any);
    set_sockaddr(&rt.rt_genmask, any);
    set_sockaddr(&rt.rt_gateway, gw);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = (char *)ifc->name;
    if (ioctl(sock, SIOCADDRT, &rt) != 0 && errno != EEXIST)
        fail("cannot add a default route via %s on %s: %s", ifc->gw, ifc->name, strerror(errno));
}

static void configure_iface(int sock, struct iface *ifc, struct strv *dns) {
    if (strlen(ifc->name) >= IFNAMSIZ) fail("interface name '%s' is too long", ifc->name);
    wait_for_interface(ifc->name);
    if (ifc->dhcp) {
        bring_up(sock, ifc->name);
        dhcp_configure(sock, ifc, dns);
    }
    if (ifc->mtu) set_mtu(sock, ifc);
    if (ifc->addr) set_address(sock, ifc);
    bring_up(sock, ifc->name);
    if (ifc->gw) add_default_route(sock, ifc);
    say("configured %s: addr %s, gw %s, mtu %s", ifc->name, ifc->addr ? ifc->addr : "none", ifc->gw ? ifc->gw : "none",
        ifc->mtu ? ifc->mtu : "default");
}

void configure_network(struct config *c) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) fail("cannot open a socket to configure the network: %s", strerror(errno));
    bring_up(sock, "lo"); /* the kernel already gives lo 127.0.0.1/8 once it is up */
    say("brought up lo");
    for (size_t i = 0; i < c->n_ifaces; i++) configure_iface(sock, &c->ifaces[i], &c->dns);
    close(sock);
}
