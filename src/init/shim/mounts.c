// SPDX-License-Identifier: Apache-2.0
/* File systems: the kernel's own (/dev, /proc, /sys, ...) and the volumes. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

struct mount_point {
    const char *target;
    const char *fstype;
    const char *options;
    unsigned long flags;
};

static const struct mount_point dev_mount = {"/dev", "devtmpfs", "mode=0755", MS_NOSUID};

static const struct mount_point other_mounts[] = {
    {"/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
    {"/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC},
    {"/dev/pts", "devpts", "mode=0620,ptmxmode=0666", MS_NOSUID | MS_NOEXEC},
    {"/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV},
    {"/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV},
    {"/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV},
};

/* A failed mount is reported but not fatal: many apps never touch the file system in question. */
static void mount_one(const struct mount_point *m) {
    if (mkdir(m->target, 0755) != 0 && errno != EEXIST) {
        warn("cannot create %s: %s", m->target, strerror(errno));
        return;
    }
    if (mount(m->fstype, m->target, m->fstype, m->flags, m->options) != 0 && errno != EBUSY)
        warn("cannot mount %s on %s: %s", m->fstype, m->target, strerror(errno));
    else say("mounted %s on %s", m->fstype, m->target);
}

/* devtmpfs has no /dev/fd and friends, which shells and many programs expect. */
void make_dev_links(void) {
    static const char *const links[][2] = {
        {"/proc/self/fd", "/dev/fd"},
        {"/proc/self/fd/0", "/dev/stdin"},
        {"/proc/self/fd/1", "/dev/stdout"},
        {"/proc/self/fd/2", "/dev/stderr"},
    };
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) symlink(links[i][0], links[i][1]);
}

/* /dev alone, first: the console lives there. */
void mount_dev(void) { mount_one(&dev_mount); }

/* The rest, once the configuration has been read and can be reported on. */
void mount_system(void) {
    for (size_t i = 0; i < sizeof other_mounts / sizeof *other_mounts; i++) mount_one(&other_mounts[i]);
}

/* Volumes: virtio-blk disks holding ext4, found by the serial number the host gave each one */

/* How long a disk may take to appear after virtio_blk was loaded. */
#define DISK_WAIT_MS 3000

/* Mounted volumes, unmounted (in reverse) before the report so their file systems are clean. */
static const char *mounted[64];
static size_t n_mounted;

/* Device probe order is not a contract, the serial is: look through /sys/block/vd*. */
static bool find_disk(const char *serial, char *dev, size_t size) {
    for (char letter = 'a'; letter <= 'z'; letter++) {
        char path[64], text[64] = {0};
        snprintf(path, sizeof path, "/sys/block/vd%c/serial", letter);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        if (n <= 0) continue;
        text[n] = '\0';
        text[strcspn(text, "\n")] = '\0';
        if (strcmp(text, serial) == 0) {
            snprintf(dev, size, "/dev/vd%c", letter);
            return true;
        }
    }
    return false;
}

/* mkdir -p: mount points may be anywhere, e.g. /srv/www/data in an image that has no /srv. */
static void make_dirs(const char *path) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) fail("mount point %s is too long", path);
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) fail("cannot create mount point %s: %s", buf, strerror(errno));
            *p = saved;
            if (saved == '\0') return;
        }
    }
}

void mount_volumes(const struct config *c) {
    for (size_t i = 0; i < c->n_volumes; i++) {
        const struct volume *v = &c->volumes[i];
        char dev[32];
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (!find_disk(v->serial, dev, sizeof dev)) {
            if (elapsed_ms(&start) >= DISK_WAIT_MS)
                fail("the disk for volume %s (serial %s) did not appear (is virtio-blk in the image's modules?)", v->mount, v->serial);
            sleep_ms(10);
        }
        make_dirs(v->mount);
        unsigned long flags = MS_NOSUID | MS_NODEV | (v->ro ? MS_RDONLY : 0);
        if (mount(dev, v->mount, "ext4", flags, NULL) != 0)
            fail("cannot mount %s (%s) on %s: %s", dev, v->serial, v->mount, strerror(errno));
        if (n_mounted < sizeof mounted / sizeof *mounted) mounted[n_mounted++] = v->mount;
        say("mounted %s (%s) on %s%s", dev, v->serial, v->mount, v->ro ? " read-only" : "");
    }
}

void unmount_volumes(void) {
    while (n_mounted > 0) {
        const char *path = mounted[--n_mounted];
        if (umount2(path, 0) != 0) {
            warn("cannot unmount %s: %s (remounting read-only)", path, strerror(errno));
            mount(NULL, path, NULL, MS_REMOUNT | MS_RDONLY, NULL);
        }
    }
}
