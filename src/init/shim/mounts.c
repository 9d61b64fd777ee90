// SPDX-License-Identifier: Apache-2.0
/* File systems: the kernel's own (/dev, /proc, /sys, ...) and the volumes. */
#include "shim.h"

#include <dirent.h>
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

/* Volumes: ext4 on virtio-blk disks found by the serial number the host gave each one, on Xen disks found by device number, or on partitions found by GPT name */

/* How long a disk may take to appear after virtio_blk was loaded. */
#define DISK_WAIT_MS 3000
/* xen-blkfront connects to its backend through xenstore after the module is loaded: slower, above all nested under TCG. */
#define XEN_DISK_WAIT_MS 30000

/* Mounted volumes, unmounted (in reverse) before the report so their file systems are clean. */
static const char *mounted[64];
static size_t n_mounted;

/* Reads a small sysfs file into text (NUL-terminated); false if it is missing or empty. */
static bool read_sysfs(const char *path, char *text, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, text, size - 1);
    close(fd);
    if (n <= 0) return false;
    text[n] = '\0';
    return true;
}

/* Device probe order is not a contract, the serial is: look through /sys/block/vd*. */
static bool find_disk(const char *serial, char *dev, size_t size) {
    for (char letter = 'a'; letter <= 'z'; letter++) {
        char path[64], text[64];
        snprintf(path, sizeof path, "/sys/block/vd%c/serial", letter);
        if (!read_sysfs(path, text, sizeof text)) continue;
        text[strcspn(text, "\n")] = '\0';
        if (strcmp(text, serial) == 0) {
            snprintf(dev, size, "/dev/vd%c", letter);
            return true;
        }
    }
    return false;
}

/*
 * A partition by its GPT name: the kernel puts it in each partition's uevent as PARTNAME, for
 * every disk driver alike, so the same name finds a partition on virtio-blk, NVMe or SCSI.
 */
static bool find_partition(const char *name, char *dev, size_t size) {
    DIR *dir = opendir("/sys/class/block");
    if (!dir) return false;
    bool found = false;
    for (struct dirent *entry; !found && (entry = readdir(dir));) {
        if (entry->d_name[0] == '.') continue;
        char path[320], text[1024];
        snprintf(path, sizeof path, "/sys/class/block/%s/uevent", entry->d_name);
        if (!read_sysfs(path, text, sizeof text)) continue;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            if (strncmp(line, "PARTNAME=", 9) == 0 && strcmp(line + 9, name) == 0) {
                int written = snprintf(dev, size, "/dev/%s", entry->d_name);
                found = written > 0 && (size_t)written < size;
            }
        }
    }
    closedir(dir);
    return found;
}

/*
 * A Xen disk by its virtual device number, the N of device/vbd/N in xenstore, which the host
 * chose in xl.cfg (vdev=xvdb is 51728): xen-blkfront puts the disk it made for that device under
 * /sys/bus/xen/devices/vbd-N/block/, whatever name it gave it.
 */
static bool find_xen_disk(const char *vbd, char *dev, size_t size) {
    char path[96];
    snprintf(path, sizeof path, "/sys/bus/xen/devices/vbd-%s/block", vbd);
    DIR *dir = opendir(path);
    if (!dir) return false;
    bool found = false;
    for (struct dirent *entry; !found && (entry = readdir(dir));) {
        if (entry->d_name[0] == '.') continue;
        int written = snprintf(dev, size, "/dev/%s", entry->d_name);
        found = written > 0 && (size_t)written < size;
    }
    closedir(dir);
    return found;
}

const char *volume_name(const struct volume *v) { return v->serial ? v->serial : v->xen_vbd ? v->xen_vbd : v->partlabel; }

static bool find_volume(const struct volume *v, char *dev, size_t size) {
    if (v->serial) return find_disk(v->serial, dev, size);
    if (v->xen_vbd) return find_xen_disk(v->xen_vbd, dev, size);
    return find_partition(v->partlabel, dev, size);
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
        const char *name = volume_name(v);
        while (!find_volume(v, dev, sizeof dev)) {
            if (elapsed_ms(&start) >= (v->xen_vbd ? XEN_DISK_WAIT_MS : DISK_WAIT_MS)) {
                if (v->serial)
                    fail("the disk for volume %s (serial %s) did not appear (is virtio-blk in the image's modules?)", v->mount, v->serial);
                if (v->xen_vbd)
                    fail("the Xen disk for volume %s (vbd %s) did not appear (is xen-blkfront in the image's modules?)", v->mount, v->xen_vbd);
                fail("no partition named %s appeared for %s (is the disk's driver in the image's modules?)", v->partlabel, v->mount);
            }
            sleep_ms(10);
        }
        make_dirs(v->mount);
        unsigned long flags = MS_NOSUID | MS_NODEV | (v->ro ? MS_RDONLY : 0);
        if (mount(dev, v->mount, "ext4", flags, NULL) != 0)
            fail("cannot mount %s (%s) on %s: %s", dev, name, v->mount, strerror(errno));
        if (n_mounted < sizeof mounted / sizeof *mounted) mounted[n_mounted++] = v->mount;
        say("mounted %s (%s) on %s%s", dev, name, v->mount, v->ro ? " read-only" : "");
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
