// SPDX-License-Identifier: Apache-2.0
/* Configuration: /kiln/image.conf and /kiln/runtime.conf, records of `key NUL value NUL`. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONTRACT_VERSION "1"

void strv_push(struct strv *v, char *s) {
    v->items = xrealloc(v->items, (v->len + 2) * sizeof *v->items);
    v->items[v->len++] = s;
    v->items[v->len] = NULL;
}

char config_problem[512];

__attribute__((format(printf, 1, 2))) static void config_error(const char *fmt, ...) {
    if (config_problem[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(config_problem, sizeof config_problem, fmt, ap);
    va_end(ap);
}

/* Reads a whole file into memory that is never freed: the configuration points into it. */
static char *read_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *data = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (cap - size < 4096) data = xrealloc(data, cap = cap * 2 + 4096);
        ssize_t n = read(fd, data + size, cap - size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            free(data);
            errno = saved;
            return NULL;
        }
        if (n == 0) break;
        size += (size_t)n;
    }
    close(fd);
    *len = size;
    return data;
}

static struct volume *current_volume(struct config *c, const char *path, const char *key) {
    if (c->n_volumes == 0) {
        config_error("%s: '%s' record before any 'volume' record", path, key);
        return NULL;
    }
    return &c->volumes[c->n_volumes - 1];
}

static struct iface *current_iface(struct config *c, const char *path, const char *key) {
    if (c->n_ifaces == 0) {
        config_error("%s: '%s' record before any 'iface' record", path, key);
        return NULL;
    }
    return &c->ifaces[c->n_ifaces - 1];
}

static void apply_record(struct config *c, const char *path, const char *key, char *value) {
    struct iface *ifc;
    struct volume *vol;
    if (strcmp(key, "version") == 0) c->version = value;
    else if (strcmp(key, "module") == 0) strv_push(&c->modules, value);
    else if (strcmp(key, "app") == 0) c->app = value;
    else if (strcmp(key, "arg") == 0) strv_push(&c->args, value);
    else if (strcmp(key, "env") == 0) strv_push(&c->env, value);
    else if (strcmp(key, "workdir") == 0) c->workdir = value;
    else if (strcmp(key, "hostname") == 0) c->hostname = value;
    else if (strcmp(key, "dns") == 0) strv_push(&c->dns, value);
    else if (strcmp(key, "status") == 0) c->status = value;
    else if (strcmp(key, "exit") == 0) c->exit = value;
    else if (strcmp(key, "power-gpio") == 0) c->power_gpio = value;
    else if (strcmp(key, "verbose") == 0) verbose = strcmp(value, "0") != 0;
    else if (strcmp(key, "iface") == 0) {
        c->ifaces = xrealloc(c->ifaces, (c->n_ifaces + 1) * sizeof *c->ifaces);
        c->ifaces[c->n_ifaces++] = (struct iface){.name = value};
    } else if (strcmp(key, "addr") == 0) {
        if ((ifc = current_iface(c, path, key))) ifc->addr = value;
    } else if (strcmp(key, "gw") == 0) {
        if ((ifc = current_iface(c, path, key))) ifc->gw = value;
    } else if (strcmp(key, "mtu") == 0) {
        if ((ifc = current_iface(c, path, key))) ifc->mtu = value;
    } else if (strcmp(key, "dhcp") == 0) {
        if ((ifc = current_iface(c, path, key))) ifc->dhcp = strcmp(value, "0") != 0;
    } else if (strcmp(key, "optional") == 0) {
        if ((ifc = current_iface(c, path, key))) ifc->optional = strcmp(value, "0") != 0;
    } else if (strcmp(key, "volume") == 0) {
        c->volumes = xrealloc(c->volumes, (c->n_volumes + 1) * sizeof *c->volumes);
        c->volumes[c->n_volumes++] = (struct volume){.serial = value};
    } else if (strcmp(key, "xen-vbd") == 0) {
        c->volumes = xrealloc(c->volumes, (c->n_volumes + 1) * sizeof *c->volumes);
        c->volumes[c->n_volumes++] = (struct volume){.xen_vbd = value};
    } else if (strcmp(key, "partition") == 0) {
        c->volumes = xrealloc(c->volumes, (c->n_volumes + 1) * sizeof *c->volumes);
        c->volumes[c->n_volumes++] = (struct volume){.partlabel = value};
    } else if (strcmp(key, "mount") == 0) {
        if ((vol = current_volume(c, path, key))) vol->mount = value;
    } else if (strcmp(key, "ro") == 0) {
        if ((vol = current_volume(c, path, key))) vol->ro = strcmp(value, "0") != 0;
    } else warn("%s: unknown key '%s' ignored", path, key);
}

void parse_conf(struct config *c, const char *path, bool required) {
    size_t len;
    char *data = read_file(path, &len);
    if (!data) {
        if (errno != ENOENT || required) config_error("cannot read %s: %s", path, strerror(errno));
        return;
    }
    char *end = data + len;
    for (char *key = data; key < end;) {
        char *key_end = memchr(key, '\0', (size_t)(end - key));
        char *value = key_end ? key_end + 1 : end;
        char *value_end = memchr(value, '\0', (size_t)(end - value));
        if (!value_end) {
            config_error("%s is malformed: its last record is cut short (at byte %zu)", path, (size_t)(key - data));
            return;
        }
        apply_record(c, path, key, value);
        key = value_end + 1;
    }
}

void parse_exit_method(const char *method) {
    const char *prefix = "isa-debug-exit:";
    if (!method || strcmp(method, "poweroff") == 0) return;
    if (strncmp(method, prefix, strlen(prefix)) == 0) {
        char *rest;
        unsigned long port = strtoul(method + strlen(prefix), &rest, 0);
        if (*rest == '\0' && port > 0 && port <= 0xffff) {
            exit_port = (unsigned short)port;
            return;
        }
    }
    /* A newer host may know other methods: powering off still ends the VM. */
    warn("unknown exit method '%s': will power off", method);
}

void check_config(const struct config *c) {
    if (c->version && strcmp(c->version, CONTRACT_VERSION) != 0)
        fail("%s has contract version %s, but this kiln-init speaks version %s", RUNTIME_CONF, c->version,
             CONTRACT_VERSION);
    if (!c->app) fail("%s has no 'app' record", RUNTIME_CONF);
    if (c->app[0] != '/') fail("the app must be an absolute path, got '%s'", c->app);
    if (c->workdir && c->workdir[0] != '/') fail("workdir must be an absolute path, got '%s'", c->workdir);
    for (size_t i = 0; i < c->n_volumes; i++)
        if (!c->volumes[i].mount || c->volumes[i].mount[0] != '/')
            fail("volume %s has no absolute 'mount' record", volume_name(&c->volumes[i]));
}
