// SPDX-License-Identifier: Apache-2.0
/* DHCP (RFC 2131): DISCOVER → OFFER → REQUEST → ACK over a UDP socket bound to the interface. */
#include "shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * The interface has no address yet, so the request sets the BROADCAST flag: the server then
 * broadcasts its replies, which the kernel delivers to a socket bound to port 68 on that
 * device. No packet socket or hand-made IP header is needed. The lease is not renewed: the
 * guest lives as long as its app, and a kiln instance that outlives its lease keeps working
 * until the server hands the address to someone else (see docs/guest-contract.md).
 */
#define DHCP_TRY_MS 1000   /* first retransmission timeout, doubled each time (RFC 2131 4.1) */
#define DHCP_TOTAL_MS 15000

struct dhcp_packet {
    uint8_t op, htype, hlen, hops;
    uint32_t xid;
    uint16_t secs, flags;
    uint32_t ciaddr, yiaddr, siaddr, giaddr;
    uint8_t chaddr[16];
    uint8_t sname[64];
    uint8_t file[128];
    uint8_t magic[4];
    uint8_t options[312];
} __attribute__((packed));

enum { DHCP_DISCOVER = 1, DHCP_OFFER = 2, DHCP_REQUEST = 3, DHCP_ACK = 5, DHCP_NAK = 6 };
enum { OPT_PAD = 0, OPT_SUBNET = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_MTU = 26, OPT_REQUESTED_IP = 50,
       OPT_MSG_TYPE = 53, OPT_SERVER_ID = 54, OPT_PARAMS = 55, OPT_END = 255 };
static const uint8_t dhcp_magic[4] = {99, 130, 83, 99};

struct dhcp_lease {
    struct in_addr addr, mask, router, server;
    struct in_addr dns[4];
    int n_dns;
    int mtu;
};

static uint8_t *put_option(uint8_t *p, uint8_t code, const void *data, uint8_t len) {
    *p++ = code;
    *p++ = len;
    memcpy(p, data, len);
    return p + len;
}

static size_t dhcp_build(struct dhcp_packet *pkt, uint32_t xid, const uint8_t mac[6], int type, const struct dhcp_lease *offer) {
    memset(pkt, 0, sizeof *pkt);
    pkt->op = 1; /* BOOTREQUEST */
    pkt->htype = 1; /* Ethernet */
    pkt->hlen = 6;
    pkt->xid = xid;
    pkt->flags = htons(0x8000); /* BROADCAST: we cannot receive unicast before we have an address */
    memcpy(pkt->chaddr, mac, 6);
    memcpy(pkt->magic, dhcp_magic, 4);
    uint8_t *p = pkt->options;
    uint8_t t = (uint8_t)type;
    p = put_option(p, OPT_MSG_TYPE, &t, 1);
    static const uint8_t params[] = {OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_MTU};
    p = put_option(p, OPT_PARAMS, params, sizeof params);
    if (type == DHCP_REQUEST) {
        p = put_option(p, OPT_REQUESTED_IP, &offer->addr, 4);
        p = put_option(p, OPT_SERVER_ID, &offer->server, 4);
    }
    *p++ = OPT_END;
    size_t len = (size_t)(p - (uint8_t *)pkt);
    return len < 300 ? 300 : len; /* some servers ignore BOOTP messages shorter than 300 bytes */
}

/* Returns the message type, or -1 when the packet is not a reply to us. */
static int dhcp_parse(const struct dhcp_packet *pkt, size_t len, uint32_t xid, const uint8_t mac[6], struct dhcp_lease *lease) {
    if (len < offsetof(struct dhcp_packet, options) || pkt->op != 2 || pkt->xid != xid || memcmp(pkt->chaddr, mac, 6) != 0 ||
        memcmp(pkt->magic, dhcp_magic, 4) != 0)
        return -1;
    int type = -1;
    memset(lease, 0, sizeof *lease);
    lease->addr.s_addr = pkt->yiaddr;
    const uint8_t *p = pkt->options, *end = (const uint8_t *)pkt + len;
    while (p < end && *p != OPT_END) {
        if (*p == OPT_PAD) {
            p++;
            continue;
        }
        if (p + 2 > end || p + 2 + p[1] > end) break;
        uint8_t code = p[0], olen = p[1];
        const uint8_t *data = p + 2;
        if (code == OPT_MSG_TYPE && olen == 1) type = data[0];
        else if (code == OPT_SUBNET && olen == 4) memcpy(&lease->mask, data, 4);
        else if (code == OPT_ROUTER && olen >= 4) memcpy(&lease->router, data, 4);
        else if (code == OPT_SERVER_ID && olen == 4) memcpy(&lease->server, data, 4);
        else if (code == OPT_MTU && olen == 2) lease->mtu = data[0] << 8 | data[1];
        else if (code == OPT_DNS)
            for (int i = 0; i + 4 <= olen && lease->n_dns < 4; i += 4) memcpy(&lease->dns[lease->n_dns++], data + i, 4);
        p += 2 + olen;
    }
    return type;
}

/* Sends `request` and waits for a reply of one of the wanted types, retransmitting with back-off. */
static int dhcp_exchange(int fd, const struct dhcp_packet *request, size_t len, uint32_t xid, const uint8_t mac[6],
                         int want1, int want2, struct dhcp_lease *lease, const struct timespec *start) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(67), .sin_addr.s_addr = htonl(INADDR_BROADCAST)};
    for (long wait = DHCP_TRY_MS; elapsed_ms(start) < DHCP_TOTAL_MS; wait *= 2) {
        if (sendto(fd, request, len, 0, (struct sockaddr *)&to, sizeof to) < 0) warn("dhcp: send failed: %s", strerror(errno));
        struct timespec sent;
        clock_gettime(CLOCK_MONOTONIC, &sent);
        for (;;) {
            long left = wait - elapsed_ms(&sent);
            if (left <= 0) break;
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (poll(&pfd, 1, (int)left) <= 0) continue;
            struct dhcp_packet reply;
            ssize_t n = recv(fd, &reply, sizeof reply, 0);
            if (n <= 0) continue;
            int type = dhcp_parse(&reply, (size_t)n, xid, mac, lease);
            if (type == want1 || type == want2) return type;
        }
    }
    return -1;
}

static char *format_cidr(struct in_addr addr, struct in_addr mask) {
    int prefix = __builtin_popcount(ntohl(mask.s_addr));
    char *text = xrealloc(NULL, INET_ADDRSTRLEN + 4);
    inet_ntop(AF_INET, &addr, text, INET_ADDRSTRLEN);
    snprintf(text + strlen(text), 4, "/%d", prefix);
    return text;
}

static char *format_addr(struct in_addr addr) {
    char *text = xrealloc(NULL, INET_ADDRSTRLEN);
    inet_ntop(AF_INET, &addr, text, INET_ADDRSTRLEN);
    return text;
}

/* Fills in the interface's addr (and gw and mtu when the config did not give them) and adds
 * the server's name servers to `dns`. The interface must be up. */
void dhcp_configure(int sock, struct iface *ifc, struct strv *dns) {
    struct ifreq ifr;
    ifreq_init(&ifr, ifc->name);
    if (ioctl(sock, SIOCGIFHWADDR, &ifr) != 0) fail("dhcp: cannot read the MAC address of %s: %s", ifc->name, strerror(errno));
    uint8_t mac[6];
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("dhcp: cannot open a socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifc->name, (socklen_t)strlen(ifc->name) + 1) != 0)
        fail("dhcp: cannot bind a socket to %s: %s", ifc->name, strerror(errno));
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(68), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) fail("dhcp: cannot bind port 68: %s", strerror(errno));

    uint32_t xid;
    if (getrandom(&xid, sizeof xid, GRND_NONBLOCK) != sizeof xid) xid = (uint32_t)getpid() ^ (uint32_t)time(NULL) ^ mac[5];
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct dhcp_packet pkt;
    struct dhcp_lease offer, ack;
    size_t len = dhcp_build(&pkt, xid, mac, DHCP_DISCOVER, NULL);
    if (dhcp_exchange(fd, &pkt, len, xid, mac, DHCP_OFFER, DHCP_OFFER, &offer, &start) < 0)
        fail("dhcp: no offer on %s within %d s (is a DHCP server on that network?)", ifc->name, DHCP_TOTAL_MS / 1000);
    say("dhcp: %s offered by %s", format_addr(offer.addr), format_addr(offer.server));
    len = dhcp_build(&pkt, xid, mac, DHCP_REQUEST, &offer);
    int type = dhcp_exchange(fd, &pkt, len, xid, mac, DHCP_ACK, DHCP_NAK, &ack, &start);
    close(fd);
    if (type == DHCP_NAK) fail("dhcp: the server refused %s for %s (NAK)", format_addr(offer.addr), ifc->name);
    if (type < 0) fail("dhcp: no answer to the request for %s on %s", format_addr(offer.addr), ifc->name);
    if (ack.mask.s_addr == 0) ack.mask = offer.mask.s_addr ? offer.mask : (struct in_addr){htonl(0xffffff00u)};
    if (ack.router.s_addr == 0) ack.router = offer.router;
    if (ack.n_dns == 0) {
        memcpy(ack.dns, offer.dns, sizeof ack.dns);
        ack.n_dns = offer.n_dns;
    }
    ifc->addr = format_cidr(ack.addr, ack.mask);
    if (!ifc->gw && ack.router.s_addr != 0) ifc->gw = format_addr(ack.router);
    if (!ifc->mtu && ack.mtu >= 68) {
        char *mtu = xrealloc(NULL, 12);
        snprintf(mtu, 12, "%d", ack.mtu);
        ifc->mtu = mtu;
    }
    for (int i = 0; i < ack.n_dns; i++) strv_push(dns, format_addr(ack.dns[i]));
    say("dhcp: %s got %s, gw %s, %d name server(s)", ifc->name, ifc->addr, ifc->gw ? ifc->gw : "none", ack.n_dns);
}
