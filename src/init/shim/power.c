// SPDX-License-Identifier: Apache-2.0
/* ACPI power button */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Debian's cloud kernel has the ACPI button driver as a module (`button`, no dependencies).
 * When it is loaded, a press is announced both as KEY_POWER on an input device (readable only
 * with the evdev module as well) and as a generic-netlink event on the "acpi_event" family,
 * which the ACPI core provides built in. Listening on netlink therefore needs one module, not
 * two, and no device scanning.
 */

/* Kernel ABI from <linux/netlink.h> and <linux/genetlink.h>, which musl does not ship. */
struct nl_msghdr {
    uint32_t len;
    uint16_t type;
    uint16_t flags;
    uint32_t seq;
    uint32_t pid;
};
struct genl_msghdr {
    uint8_t cmd;
    uint8_t version;
    uint16_t reserved;
};
struct nl_attr {
    uint16_t len;
    uint16_t type;
};
struct nl_sockaddr {
    sa_family_t family;
    unsigned short pad;
    uint32_t pid;
    uint32_t groups;
};
#define NETLINK_GENERIC 16
#define NETLINK_ADD_MEMBERSHIP 1
#define NLMSG_ERROR 2
#define NLM_F_REQUEST 1
#define GENL_ID_CTRL 0x10
#define CTRL_CMD_GETFAMILY 3
#define CTRL_ATTR_FAMILY_NAME 2
#define CTRL_ATTR_MCAST_GROUPS 7
#define CTRL_ATTR_MCAST_GRP_NAME 1
#define CTRL_ATTR_MCAST_GRP_ID 2
#define NLA_TYPE_MASK 0x3fff
#define NL_ALIGN(n) (((n) + 3u) & ~3u)

/* From drivers/acpi/event.c (not exported to uapi, but what acpid has read for years). */
#define ACPI_FAMILY_NAME "acpi_event"
#define ACPI_MCAST_GROUP_NAME "acpi_mc_group"
#define ACPI_ATTR_EVENT 1
struct acpi_event {
    char device_class[20];
    char bus_id[15];
    uint32_t type;
    uint32_t data;
};

/* The attribute after `prev` in [start, end), or the first one when prev is NULL. */
static const struct nl_attr *next_attr(const void *start, const void *end, const struct nl_attr *prev) {
    const char *p = prev ? (const char *)prev + NL_ALIGN(prev->len) : start;
    const struct nl_attr *a = (const struct nl_attr *)p;
    if (p + sizeof *a > (const char *)end || a->len < sizeof *a || p + a->len > (const char *)end) return NULL;
    return a;
}

static const void *attr_data(const struct nl_attr *a) { return a + 1; }
static size_t attr_len(const struct nl_attr *a) { return a->len - sizeof *a; }

/* Finds the id of the ACPI multicast group in a CTRL_CMD_GETFAMILY reply; 0 if absent. */
static uint32_t acpi_group_id(const void *attrs, const void *end) {
    for (const struct nl_attr *a = next_attr(attrs, end, NULL); a; a = next_attr(attrs, end, a)) {
        if ((a->type & NLA_TYPE_MASK) != CTRL_ATTR_MCAST_GROUPS) continue;
        const char *groups_end = (const char *)attr_data(a) + attr_len(a);
        for (const struct nl_attr *g = next_attr(attr_data(a), groups_end, NULL); g; g = next_attr(attr_data(a), groups_end, g)) {
            const char *g_end = (const char *)attr_data(g) + attr_len(g);
            bool is_acpi = false;
            uint32_t id = 0;
            for (const struct nl_attr *f = next_attr(attr_data(g), g_end, NULL); f; f = next_attr(attr_data(g), g_end, f)) {
                /* The name includes its NUL; compare within the attribute, never past it. */
                if (f->type == CTRL_ATTR_MCAST_GRP_NAME && attr_len(f) >= sizeof ACPI_MCAST_GROUP_NAME)
                    is_acpi = memcmp(attr_data(f), ACPI_MCAST_GROUP_NAME, sizeof ACPI_MCAST_GROUP_NAME) == 0;
                if (f->type == CTRL_ATTR_MCAST_GRP_ID && attr_len(f) >= sizeof id) memcpy(&id, attr_data(f), sizeof id);
            }
            if (is_acpi) return id;
        }
    }
    return 0;
}

/* Asks the generic-netlink controller for the ACPI event family and joins its multicast group. */
static bool join_acpi_events(int fd) {
    struct {
        struct nl_msghdr nl;
        struct genl_msghdr genl;
        struct nl_attr attr;
        char name[NL_ALIGN(sizeof ACPI_FAMILY_NAME)];
    } req = {
        .nl = {.len = sizeof req, .type = GENL_ID_CTRL, .flags = NLM_F_REQUEST, .seq = 1},
        .genl = {.cmd = CTRL_CMD_GETFAMILY, .version = 1},
        .attr = {.len = sizeof(struct nl_attr) + sizeof ACPI_FAMILY_NAME, .type = CTRL_ATTR_FAMILY_NAME},
        .name = ACPI_FAMILY_NAME,
    };
    union {
        struct nl_msghdr nl;
        char bytes[8192];
    } reply;
    if (send(fd, &req, sizeof req, 0) < 0) return false;
    ssize_t n = recv(fd, &reply, sizeof reply, 0);
    if (n < (ssize_t)(sizeof reply.nl + sizeof(struct genl_msghdr)) || reply.nl.type == NLMSG_ERROR) return false;
    size_t len = reply.nl.len < (size_t)n ? reply.nl.len : (size_t)n;
    const char *attrs = reply.bytes + sizeof reply.nl + sizeof(struct genl_msghdr);
    uint32_t group = acpi_group_id(attrs, reply.bytes + len);
    return group != 0 && setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) == 0;
}

/* Returns a socket that becomes readable on ACPI events, or -1 when there are none to get. */
int open_acpi_events(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_GENERIC);
    struct nl_sockaddr local = {.family = AF_NETLINK};
    if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
        say("no generic netlink (%s): the power button will not stop the app", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    /* The controller's reply must be read synchronously: switch blocking on for it. */
    fcntl(fd, F_SETFL, 0);
    bool joined = join_acpi_events(fd);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (!joined) {
        say("no ACPI event channel (ACPI is off or not built in): the power button will not stop the app");
        close(fd);
        return -1;
    }
    if (access("/sys/bus/acpi/drivers/button", F_OK) == 0) say("watching the ACPI power button");
    else say("the ACPI button driver is not loaded (module 'button'): the power button will not stop the app");
    return fd;
}

static bool is_power_button_event(const struct nl_msghdr *msg) {
    const char *end = (const char *)msg + msg->len;
    const char *attrs = (const char *)(msg + 1) + sizeof(struct genl_msghdr);
    if (attrs > end) return false;
    for (const struct nl_attr *a = next_attr(attrs, end, NULL); a; a = next_attr(attrs, end, a)) {
        struct acpi_event event;
        if ((a->type & NLA_TYPE_MASK) != ACPI_ATTR_EVENT || attr_len(a) < sizeof event) continue;
        memcpy(&event, attr_data(a), sizeof event);
        if (strncmp(event.device_class, "button/power", sizeof event.device_class) == 0) return true;
    }
    return false;
}

/* Reads every pending ACPI event; true if one of them was a power button press. */
bool power_button_pressed(int fd) {
    union {
        struct nl_msghdr nl;
        char bytes[8192];
    } buf;
    bool pressed = false;
    ssize_t n;
    while ((n = recv(fd, &buf, sizeof buf, 0)) > 0 || (n < 0 && (errno == EINTR || errno == ENOBUFS))) {
        for (size_t off = 0; n > 0 && off + sizeof(struct nl_msghdr) <= (size_t)n;) {
            const struct nl_msghdr *msg = (const struct nl_msghdr *)(buf.bytes + off);
            if (msg->len < sizeof *msg || off + msg->len > (size_t)n) break;
            if (is_power_button_event(msg)) pressed = true;
            off += NL_ALIGN(msg->len);
        }
    }
    return pressed;
}
