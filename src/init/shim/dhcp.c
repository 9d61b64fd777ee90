// SPDX-License-Identifier: Apache-2.0
/*
 * DHCP (RFC 2131): one client per interface, over a UDP socket bound to that interface.
 *
 * The first lease is awaited before the app starts (DISCOVER → OFFER → REQUEST → ACK, starting
 * again after a NAK or an unanswered REQUEST, with retransmissions backing off from 1 s to 8 s)
 * for at most DHCP_ACQUIRE_MS. After that the client lives in PID 1's event loop (main.c): it
 * renews the lease at T1 by unicast to its server, rebinds by broadcast at T2, and when the
 * lease runs out without either, removes the address and starts over. A renewal that fails is
 * a warning on the console, never the end of the app. An optional interface (the defaults
 * baked into standalone images) whose first lease did not come in time keeps asking in the
 * same loop and is configured when an answer arrives.
 *
 * Before the interface has an address, requests set the BROADCAST flag: the server then
 * broadcasts its replies, which the kernel delivers to a socket bound to port 68 on that
 * device, so no packet socket or hand-made IP header is needed. Renewals carry the address in
 * `ciaddr` and get unicast replies on the same socket.
 */
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

#define DHCP_ACQUIRE_MS 30000 /* how long the app waits for the first lease */
#define DHCP_FIRST_TRY_MS 1000 /* first retransmission timeout, doubled each time (RFC 2131 4.1) */
#define DHCP_MAX_TRY_MS 8000 /* while the app waits: retransmit at least this often */
#define DHCP_IDLE_TRY_MS 64000 /* in the background: the RFC's ceiling */
#define DHCP_REQUEST_TRIES 4 /* REQUESTs for one offer before starting over with DISCOVER */
#define DHCP_RENEW_MIN_MS 60000 /* RFC 2131 4.4.5: retransmit a renewal no sooner than this */
#define DHCP_MAX_CLIENTS 16

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
enum { OPT_PAD = 0, OPT_SUBNET = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_MTU = 26, OPT_REQUESTED_IP = 50, OPT_LEASE_TIME = 51,
       OPT_MSG_TYPE = 53, OPT_SERVER_ID = 54, OPT_PARAMS = 55, OPT_T1 = 58, OPT_T2 = 59, OPT_END = 255 };
static const uint8_t dhcp_magic[4] = {99, 130, 83, 99};
#define LEASE_INFINITE 0xffffffffu

struct dhcp_lease {
    struct in_addr addr, mask, router, server;
    struct in_addr dns[4];
    int n_dns;
    int mtu;
    uint32_t lease_s, t1_s, t2_s; /* 0: not given */
};

enum dhcp_state { SELECTING, REQUESTING, BOUND, RENEWING, REBINDING };

struct dhcp_client {
    struct iface *ifc;
    struct strv *dns;   /* the config's name servers; the server's are added */
    bool gw_given, mtu_given;
    int fd;
    uint8_t mac[6];
    enum dhcp_state state;
    uint32_t xid;
    long try_ms;        /* current retransmission timeout */
    int tries;          /* REQUESTs sent for the current offer */
    long next_ms;       /* when to retransmit or move on */
    long sent_ms;       /* when the last request went out: a lease's times count from there */
    bool waiting;       /* the app waits for this lease (before start); otherwise background */
    bool configured;    /* the interface carries `lease`'s address */
    struct dhcp_lease offer, lease;
    long t1_ms, t2_ms, expiry_ms; /* absolute, CLOCK_MONOTONIC; -1 for an infinite lease */
    char problem[256];  /* why the last attempt failed, for the app-start decision */
    char addr_text[INET_ADDRSTRLEN + 4], gw_text[INET_ADDRSTRLEN], mtu_text[12];
};

static struct dhcp_client clients[DHCP_MAX_CLIENTS];
static size_t n_clients;

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *ntoa(struct in_addr addr, char buf[INET_ADDRSTRLEN]) {
    return inet_ntop(AF_INET, &addr, buf, INET_ADDRSTRLEN);
}

static uint8_t *put_option(uint8_t *p, uint8_t code, const void *data, uint8_t len) {
    *p++ = code;
    *p++ = len;
    memcpy(p, data, len);
    return p + len;
}

static void new_xid(struct dhcp_client *cl) {
    if (getrandom(&cl->xid, sizeof cl->xid, GRND_NONBLOCK) != sizeof cl->xid) cl->xid ^= (uint32_t)now_ms() ^ cl->mac[5] ^ 0x9e3779b9u;
}

/* DISCOVER, or a REQUEST in the state's form (RFC 2131 4.3.2 and table 5). */
static size_t build(const struct dhcp_client *cl, struct dhcp_packet *pkt, int type) {
    memset(pkt, 0, sizeof *pkt);
    pkt->op = 1; /* BOOTREQUEST */
    pkt->htype = 1; /* Ethernet */
    pkt->hlen = 6;
    pkt->xid = cl->xid;
    bool renewal = cl->state == RENEWING || cl->state == REBINDING;
    if (renewal) pkt->ciaddr = cl->lease.addr.s_addr; /* we can receive unicast at our address */
    else pkt->flags = htons(0x8000); /* BROADCAST: we cannot receive unicast before we have an address */
    memcpy(pkt->chaddr, cl->mac, 6);
    memcpy(pkt->magic, dhcp_magic, 4);
    uint8_t *p = pkt->options;
    uint8_t t = (uint8_t)type;
    p = put_option(p, OPT_MSG_TYPE, &t, 1);
    static const uint8_t params[] = {OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_MTU, OPT_LEASE_TIME, OPT_T1, OPT_T2};
    p = put_option(p, OPT_PARAMS, params, sizeof params);
    if (type == DHCP_REQUEST && cl->state == REQUESTING) {
        p = put_option(p, OPT_REQUESTED_IP, &cl->offer.addr, 4);
        p = put_option(p, OPT_SERVER_ID, &cl->offer.server, 4);
    }
    *p++ = OPT_END;
    size_t len = (size_t)(p - (uint8_t *)pkt);
    return len < 300 ? 300 : len; /* some servers ignore BOOTP messages shorter than 300 bytes */
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Returns the message type, or -1 when the packet is not a reply to this client's request. */
static int parse(const struct dhcp_client *cl, const struct dhcp_packet *pkt, size_t len, struct dhcp_lease *lease) {
    if (len < offsetof(struct dhcp_packet, options) || pkt->op != 2 || pkt->xid != cl->xid || memcmp(pkt->chaddr, cl->mac, 6) != 0 ||
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
        else if (code == OPT_LEASE_TIME && olen == 4) lease->lease_s = be32(data);
        else if (code == OPT_T1 && olen == 4) lease->t1_s = be32(data);
        else if (code == OPT_T2 && olen == 4) lease->t2_s = be32(data);
        else if (code == OPT_DNS)
            for (int i = 0; i + 4 <= olen && lease->n_dns < 4; i += 4) memcpy(&lease->dns[lease->n_dns++], data + i, 4);
        p += 2 + olen;
    }
    return type;
}

static void transmit(struct dhcp_client *cl, int type) {
    struct dhcp_packet pkt;
    size_t len = build(cl, &pkt, type);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(67), .sin_addr.s_addr = htonl(INADDR_BROADCAST)};
    if (cl->state == RENEWING) to.sin_addr = cl->lease.server; /* RENEWING talks to the server that gave the lease */
    if (sendto(cl->fd, &pkt, len, 0, (struct sockaddr *)&to, sizeof to) < 0)
        warn("dhcp: %s: cannot send: %s", cl->ifc->name, strerror(errno));
    cl->sent_ms = now_ms();
}

static long backoff(struct dhcp_client *cl) {
    long wait = cl->try_ms;
    long ceiling = cl->waiting ? DHCP_MAX_TRY_MS : DHCP_IDLE_TRY_MS;
    cl->try_ms = cl->try_ms * 2 > ceiling ? ceiling : cl->try_ms * 2;
    return wait;
}

static void start_selecting(struct dhcp_client *cl) {
    cl->state = SELECTING;
    cl->try_ms = DHCP_FIRST_TRY_MS;
    new_xid(cl);
    say("dhcp: %s: DISCOVER", cl->ifc->name);
    transmit(cl, DHCP_DISCOVER);
    cl->next_ms = now_ms() + backoff(cl);
}

static void send_request(struct dhcp_client *cl) {
    cl->tries++;
    transmit(cl, DHCP_REQUEST);
}

/* RFC 2131 4.4.5: in RENEWING and REBINDING, wait half the time left to the next step (T2, the
 * end of the lease), but at least a minute, and never past that step. */
static long renewal_wait(long now, long step_ms) {
    long half = (step_ms - now) / 2;
    long wait = half > DHCP_RENEW_MIN_MS ? half : DHCP_RENEW_MIN_MS;
    return now + wait < step_ms ? now + wait : step_ms;
}

static void format_lease(struct dhcp_client *cl) {
    char addr[INET_ADDRSTRLEN];
    snprintf(cl->addr_text, sizeof cl->addr_text, "%s/%d", ntoa(cl->lease.addr, addr), __builtin_popcount(ntohl(cl->lease.mask.s_addr)));
    cl->ifc->addr = cl->addr_text;
    if (!cl->gw_given) {
        cl->ifc->gw = NULL;
        if (cl->lease.router.s_addr != 0) cl->ifc->gw = ntoa(cl->lease.router, cl->gw_text);
    }
    if (!cl->mtu_given) {
        cl->ifc->mtu = NULL;
        if (cl->lease.mtu >= 68) {
            snprintf(cl->mtu_text, sizeof cl->mtu_text, "%d", cl->lease.mtu);
            cl->ifc->mtu = cl->mtu_text;
        }
    }
}

/* Adds the server's name servers that are not listed yet; true if any was new. */
static bool merge_dns(struct dhcp_client *cl) {
    bool added = false;
    for (int i = 0; i < cl->lease.n_dns; i++) {
        char text[INET_ADDRSTRLEN];
        ntoa(cl->lease.dns[i], text);
        bool known = false;
        for (size_t j = 0; j < cl->dns->len && !known; j++) known = strcmp(cl->dns->items[j], text) == 0;
        if (known) continue;
        strv_push(cl->dns, strcpy(xrealloc(NULL, sizeof text), text));
        added = true;
    }
    return added;
}

static void set_times(struct dhcp_client *cl) {
    struct dhcp_lease *l = &cl->lease;
    if (l->lease_s == 0 || l->lease_s == LEASE_INFINITE) { /* no end: nothing to renew */
        cl->t1_ms = cl->t2_ms = cl->expiry_ms = -1;
        cl->next_ms = -1;
        return;
    }
    /* RFC 2131 4.4.5: T1 defaults to half the lease, T2 to seven eighths; nonsense is replaced by those. */
    uint32_t t2 = l->t2_s && l->t2_s <= l->lease_s ? l->t2_s : (uint32_t)((uint64_t)l->lease_s * 7 / 8);
    uint32_t t1 = l->t1_s && l->t1_s <= t2 ? l->t1_s : (l->lease_s / 2 <= t2 ? l->lease_s / 2 : t2);
    cl->t1_ms = cl->sent_ms + (long)t1 * 1000;
    cl->t2_ms = cl->sent_ms + (long)t2 * 1000;
    cl->expiry_ms = cl->sent_ms + (long)l->lease_s * 1000;
    cl->next_ms = cl->t1_ms;
}

/* An ACK: the lease (new, renewed or moved to another address) takes effect. */
static void bind_lease(struct dhcp_client *cl, const struct dhcp_lease *ack) {
    char addr[INET_ADDRSTRLEN], server[INET_ADDRSTRLEN];
    enum dhcp_state was = cl->state;
    struct dhcp_lease old = cl->lease;
    struct dhcp_lease l = *ack;
    if (was == REQUESTING) { /* an ACK may leave out what the offer said */
        if (l.mask.s_addr == 0) l.mask = cl->offer.mask;
        if (l.router.s_addr == 0) l.router = cl->offer.router;
        if (l.server.s_addr == 0) l.server = cl->offer.server;
        if (l.n_dns == 0) {
            memcpy(l.dns, cl->offer.dns, sizeof l.dns);
            l.n_dns = cl->offer.n_dns;
        }
        if (l.mtu == 0) l.mtu = cl->offer.mtu;
    } else if (l.server.s_addr == 0) {
        l.server = old.server;
    }
    if (l.mask.s_addr == 0) l.mask.s_addr = htonl(0xffffff00u);
    cl->lease = l;
    cl->state = BOUND;
    set_times(cl);
    bool same = cl->configured && old.addr.s_addr == l.addr.s_addr && old.mask.s_addr == l.mask.s_addr && old.router.s_addr == l.router.s_addr;
    format_lease(cl);
    bool new_dns = merge_dns(cl);
    if (was == RENEWING || was == REBINDING)
        say("dhcp: %s: %s %s from %s, lease %u s", cl->ifc->name, was == RENEWING ? "renewed" : "rebound", ntoa(l.addr, addr),
            ntoa(l.server, server), l.lease_s);
    else
        say("dhcp: %s got %s, gw %s, %d name server(s), lease %u s", cl->ifc->name, cl->ifc->addr, cl->ifc->gw ? cl->ifc->gw : "none",
            l.n_dns, l.lease_s);
    if (cl->waiting) return; /* configure_network applies it, and configure_names writes the name servers */
    if (!same) {
        char err[384];
        if (cl->configured && old.addr.s_addr != l.addr.s_addr) remove_address(cl->ifc->name);
        if (apply_iface(cl->ifc, err, sizeof err)) say("dhcp: %s: configured %s", cl->ifc->name, cl->ifc->addr);
        else warn("dhcp: %s: %s", cl->ifc->name, err);
    }
    cl->configured = true;
    if (new_dns && !write_resolv_conf(cl->dns)) warn("dhcp: %s: could not update /etc/resolv.conf", cl->ifc->name);
}

static void lose_lease(struct dhcp_client *cl, const char *why) {
    char addr[INET_ADDRSTRLEN];
    warn("dhcp: %s: %s; removed %s and asking for a new lease", cl->ifc->name, why, ntoa(cl->lease.addr, addr));
    if (cl->configured) remove_address(cl->ifc->name);
    cl->configured = false;
    start_selecting(cl);
}

static void on_reply(struct dhcp_client *cl) {
    struct dhcp_packet reply;
    struct dhcp_lease got;
    char addr[INET_ADDRSTRLEN];
    ssize_t n = recv(cl->fd, &reply, sizeof reply, MSG_DONTWAIT);
    if (n <= 0) return;
    int type = parse(cl, &reply, (size_t)n, &got);
    switch (cl->state) {
    case SELECTING:
        if (type != DHCP_OFFER || got.addr.s_addr == 0) return;
        cl->offer = got;
        char server[INET_ADDRSTRLEN];
        say("dhcp: %s: %s offered by %s", cl->ifc->name, ntoa(got.addr, addr), ntoa(got.server, server));
        cl->state = REQUESTING;
        cl->tries = 0;
        cl->try_ms = DHCP_FIRST_TRY_MS;
        send_request(cl);
        cl->next_ms = now_ms() + backoff(cl);
        return;
    case REQUESTING:
        if (type == DHCP_ACK) bind_lease(cl, &got);
        else if (type == DHCP_NAK) {
            snprintf(cl->problem, sizeof cl->problem, "dhcp: the server refused %s for %s (NAK)", ntoa(cl->offer.addr, addr), cl->ifc->name);
            say("%s; starting over", cl->problem);
            start_selecting(cl);
        }
        return;
    case RENEWING:
    case REBINDING:
        if (type == DHCP_ACK) bind_lease(cl, &got);
        else if (type == DHCP_NAK) lose_lease(cl, "the server refused to extend the lease (NAK)");
        return;
    case BOUND:
        return; /* a late duplicate */
    }
}

/* Whatever is due at next_ms: a retransmission, or the next step of the lease's life. */
static void on_timer(struct dhcp_client *cl) {
    char addr[INET_ADDRSTRLEN], server[INET_ADDRSTRLEN];
    long now = now_ms();
    switch (cl->state) {
    case SELECTING:
        if (!cl->problem[0])
            snprintf(cl->problem, sizeof cl->problem, "dhcp: no offer on %s within %d s (is a DHCP server on that network?)", cl->ifc->name,
                     DHCP_ACQUIRE_MS / 1000);
        say("dhcp: %s: no offer yet, DISCOVER again", cl->ifc->name);
        transmit(cl, DHCP_DISCOVER);
        cl->next_ms = now + backoff(cl);
        return;
    case REQUESTING:
        if (cl->tries >= DHCP_REQUEST_TRIES) {
            snprintf(cl->problem, sizeof cl->problem, "dhcp: no answer to the request for %s on %s", ntoa(cl->offer.addr, addr), cl->ifc->name);
            say("%s; starting over", cl->problem);
            start_selecting(cl);
            return;
        }
        send_request(cl);
        cl->next_ms = now + backoff(cl);
        return;
    case BOUND: /* T1 */
        cl->state = RENEWING;
        new_xid(cl);
        say("dhcp: %s: renewing %s with %s", cl->ifc->name, ntoa(cl->lease.addr, addr), ntoa(cl->lease.server, server));
        transmit(cl, DHCP_REQUEST);
        cl->next_ms = renewal_wait(now, cl->t2_ms);
        return;
    case RENEWING:
        if (now < cl->t2_ms) {
            transmit(cl, DHCP_REQUEST);
            cl->next_ms = renewal_wait(now, cl->t2_ms);
            return;
        }
        warn("dhcp: %s: %s did not answer the renewal of %s; asking any server (the lease ends in %ld s)", cl->ifc->name,
             ntoa(cl->lease.server, server), ntoa(cl->lease.addr, addr), (cl->expiry_ms - now) / 1000);
        cl->state = REBINDING;
        new_xid(cl);
        transmit(cl, DHCP_REQUEST);
        cl->next_ms = renewal_wait(now, cl->expiry_ms);
        return;
    case REBINDING:
        if (now < cl->expiry_ms) {
            warn("dhcp: %s: no server extended the lease of %s yet (it ends in %ld s)", cl->ifc->name, ntoa(cl->lease.addr, addr),
                 (cl->expiry_ms - now) / 1000);
            transmit(cl, DHCP_REQUEST);
            cl->next_ms = renewal_wait(now, cl->expiry_ms);
            return;
        }
        lose_lease(cl, "the lease ended without a renewal");
        return;
    }
}

struct dhcp_client *dhcp_open(struct iface *ifc, struct strv *dns, char *err, size_t len) {
    if (n_clients == DHCP_MAX_CLIENTS) {
        problem(err, len, "dhcp: more than %d interfaces ask for DHCP", DHCP_MAX_CLIENTS);
        return NULL;
    }
    struct dhcp_client *cl = &clients[n_clients];
    memset(cl, 0, sizeof *cl);
    cl->ifc = ifc;
    cl->dns = dns;
    cl->gw_given = ifc->gw != NULL;
    cl->mtu_given = ifc->mtu != NULL;
    cl->waiting = true;
    cl->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (cl->fd < 0) {
        problem(err, len, "dhcp: cannot open a socket: %s", strerror(errno));
        return NULL;
    }
    struct ifreq ifr;
    ifreq_init(&ifr, ifc->name);
    int one = 1;
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(68), .sin_addr.s_addr = htonl(INADDR_ANY)};
    const char *step = NULL;
    if (ioctl(cl->fd, SIOCGIFHWADDR, &ifr) != 0) step = "read the MAC address of";
    else if (setsockopt(cl->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
             setsockopt(cl->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0 ||
             setsockopt(cl->fd, SOL_SOCKET, SO_BINDTODEVICE, ifc->name, (socklen_t)strlen(ifc->name) + 1) != 0)
        step = "bind a socket to";
    else if (bind(cl->fd, (struct sockaddr *)&local, sizeof local) != 0)
        step = "bind port 68 on";
    if (step) {
        problem(err, len, "dhcp: cannot %s %s: %s", step, ifc->name, strerror(errno));
        close(cl->fd);
        return NULL;
    }
    memcpy(cl->mac, ifr.ifr_hwaddr.sa_data, 6);
    n_clients++;
    return cl;
}

bool dhcp_acquire(struct dhcp_client *cl, char *err, size_t len) {
    long deadline = now_ms() + DHCP_ACQUIRE_MS;
    start_selecting(cl);
    while (cl->state != BOUND) {
        long now = now_ms();
        if (now >= deadline) break;
        long until = cl->next_ms < deadline ? cl->next_ms : deadline;
        struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
        if (poll(&pfd, 1, until > now ? (int)(until - now) : 0) > 0) on_reply(cl);
        if (cl->state != BOUND && now_ms() >= cl->next_ms && now_ms() < deadline) on_timer(cl);
    }
    cl->waiting = false; /* from now on it lives in the event loop */
    if (cl->state == BOUND) {
        cl->configured = true; /* the caller applies it next */
        return true;
    }
    /* Keep asking in the background, at the RFC's relaxed pace. */
    if (cl->try_ms < DHCP_MAX_TRY_MS) cl->try_ms = DHCP_MAX_TRY_MS;
    return problem(err, len, "%s", cl->problem[0] ? cl->problem : "dhcp: no lease");
}

size_t dhcp_pollfds(struct pollfd *fds, size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < n_clients && n < max; i++) fds[n++] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
    return n;
}

int dhcp_timeout_ms(void) {
    long soonest = -1, now = now_ms();
    for (size_t i = 0; i < n_clients; i++) {
        long next = clients[i].next_ms;
        if (next >= 0 && (soonest < 0 || next < soonest)) soonest = next;
    }
    if (soonest < 0) return -1;
    return soonest <= now ? 0 : (int)(soonest - now > 3600000 ? 3600000 : soonest - now);
}

void dhcp_events(const struct pollfd *fds, size_t n) {
    for (size_t i = 0; i < n && i < n_clients; i++)
        if (fds[i].revents & POLLIN) on_reply(&clients[i]);
    long now = now_ms();
    for (size_t i = 0; i < n_clients; i++)
        if (clients[i].next_ms >= 0 && clients[i].next_ms <= now) on_timer(&clients[i]);
}
