// SPDX-License-Identifier: Apache-2.0
/* Host name and name resolution files. */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static FILE *create_text_file(const char *path) {
    FILE *f = fopen(path, "we");
    if (!f) fail("cannot write %s: %s", path, strerror(errno));
    return f;
}

static void close_text_file(FILE *f, const char *path) {
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0) failed = true;
    if (failed) fail("cannot write %s: %s", path, strerror(errno));
}

static void write_hosts(const char *hostname) {
    FILE *f = create_text_file("/etc/hosts");
    fprintf(f, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if (hostname) fprintf(f, "127.0.1.1\t%s\n", hostname);
    close_text_file(f, "/etc/hosts");
}

void configure_names(const struct config *c) {
    if (mkdir("/etc", 0755) != 0 && errno != EEXIST) fail("cannot create /etc: %s", strerror(errno));
    if (c->hostname) {
        if (sethostname(c->hostname, strlen(c->hostname)) != 0)
            fail("cannot set hostname '%s': %s", c->hostname, strerror(errno));
        FILE *f = create_text_file("/etc/hostname");
        fprintf(f, "%s\n", c->hostname);
        close_text_file(f, "/etc/hostname");
        write_hosts(c->hostname);
        say("hostname %s", c->hostname);
    } else if (access("/etc/hosts", F_OK) != 0) {
        write_hosts(NULL); /* keep an image's own /etc/hosts when there is no name to add */
    }
    if (c->dns.len > 0 && !write_resolv_conf(&c->dns)) fail("cannot write /etc/resolv.conf: %s", strerror(errno));
}

/* Also called after the app has started (a DHCP lease that came late): never fatal. */
bool write_resolv_conf(const struct strv *dns) {
    FILE *f = fopen("/etc/resolv.conf", "we");
    if (!f) return false;
    for (size_t i = 0; i < dns->len; i++) fprintf(f, "nameserver %s\n", dns->items[i]);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0) failed = true;
    if (!failed) say("wrote /etc/resolv.conf with %zu nameserver(s)", dns->len);
    return !failed;
}
