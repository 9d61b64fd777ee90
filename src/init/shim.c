// SPDX-License-Identifier: Apache-2.0
/*
 * kiln-init: PID 1 of every kiln guest.
 *
 * It implements the guest side of docs/guest-contract.md (version 1): read /kiln/image.conf and
 * /kiln/runtime.conf, prepare the system (mounts, modules, network, hostname), run the app,
 * forward shutdown requests to it, reap every process, report how the app ended on the status
 * device and end the VM.
 *
 * Ground rules, because this program is PID 1:
 *  - It must never exit or die: the kernel panics when init goes away. Every path ends in
 *    end_vm(), which powers the VM off and then sleeps forever; a crash handler does the same
 *    for our own bugs.
 *  - Nothing else exists in the guest (no shell, no ip, no modprobe): everything is done with
 *    system calls and ioctls.
 *  - There is one place that waits for events (wait_for_app: poll over a signalfd and the ACPI
 *    event socket); nothing busy-waits.
 *
 * Built static against musl by src/init/build.ts. musl ships no <linux/...> headers, so the few
 * netlink definitions needed are spelled out below (they are stable kernel ABI).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <sys/io.h>
#define HAVE_PORT_IO 1
#endif

#define IMAGE_CONF "/kiln/image.conf"
#define RUNTIME_CONF "/kiln/runtime.conf"
#define CONTRACT_VERSION "1"
#define DEFAULT_PATH "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
#define DEFAULT_HOME "HOME=/"

/* How long leftover processes get between SIGTERM and SIGKILL once the app has ended. */
#define GRACE_MS 1000
/* How long to wait for SIGKILLed processes to disappear (one stuck in the kernel never does). */
#define KILL_WAIT_MS 1000
/* How long an interface may take to appear after its driver module was loaded. */
#define IFACE_WAIT_MS 2000

/*
 * The value written to the isa-debug-exit port; QEMU then exits with status (value << 1) | 1.
 * The KILN-EXIT status line is what the host trusts; this encoding is only a fallback for a
 * host that lost the status channel, so it may lose detail: exit codes above 125 are clamped.
 */
enum {
    EXIT_VALUE_MAX_CODE = 125,
    EXIT_VALUE_SIGNALED = 126,
    EXIT_VALUE_INIT_ERROR = 127,
};

/* Debian's kernel may be built with ACPI_TINY_POWER_BUTTON, which signals PID 1 with this. */
#define SIGNAL_TINY_POWER_BUTTON 38

/* ------------------------------------------------------------------------------------------ */
/* Console logging and the status channel                                                     */

static bool verbose;
static int status_fd = -1;        /* -1: status lines go to the console */
static unsigned short exit_port;  /* 0: power off instead of isa-debug-exit */

static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* nowhere left to complain to */
        buf += n;
        len -= (size_t)n;
    }
}

/* Formats one line and writes it with a single write(2), so it is not torn apart by output
 * from the app or the kernel. Over-long lines are cut. */
static void write_line(int fd, const char *prefix, const char *fmt, va_list ap) {
    char line[1024];
    size_t n = (size_t)snprintf(line, sizeof line, "%s", prefix);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    if (m > 0) n += (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2;
    line[n++] = '\n';
    write_all(fd, line, n);
}

/* A step, shown only with the `verbose` record. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
    if (!verbose) return;
    va_list ap;
    va_start(ap, fmt);
    write_line(STDERR_FILENO, "kiln-init: ", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    write_line(STDERR_FILENO, "kiln-init: warning: ", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) static void log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    write_line(STDERR_FILENO, "kiln-init: error: ", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) static void status_line(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    write_line(status_fd >= 0 ? status_fd : STDOUT_FILENO, "", fmt, ap);
    va_end(ap);
}

/* Serial ports transmit asynchronously: wait until the bytes have left, or the isa-debug-exit
 * write would end QEMU before the host saw the last lines. */
static void drain(int fd) {
    if (fd >= 0 && isatty(fd)) tcdrain(fd);
}

static long elapsed_ms(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Ending the VM                                                                               */

/* Powers the VM off. Only async-signal-safe calls on the normal path: the crash handler uses it. */
noreturn static void end_vm(unsigned value) {
    drain(status_fd);
    drain(STDOUT_FILENO);
#ifdef HAVE_PORT_IO
    /* isa-debug-exit ends QEMU at once. ioperm fails under kernel lockdown (e.g. secure boot);
     * then the power-off below still ends the VM, only without an exit value. */
    if (exit_port != 0 && ioperm(exit_port, 1, 1) == 0) outb((unsigned char)value, exit_port);
#else
    (void)value;
#endif
    reboot(RB_POWER_OFF);
    log_error("cannot power off: %s", strerror(errno));
    for (;;) pause(); /* all signals are blocked: this sleeps for good */
}

static void one_line(char *text) {
    for (char *p = text; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

/* The app could not be started: report why and end the VM. */
__attribute__((format(printf, 1, 2))) noreturn static void fail(const char *fmt, ...) {
    char message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    one_line(message);
    log_error("%s", message);
    sync();
    status_line("KILN-EXIT init-error=%s", message);
    end_vm(EXIT_VALUE_INIT_ERROR);
}

static void *xrealloc(void *p, size_t size) {
    p = realloc(p, size);
    if (!p) fail("out of memory");
    return p;
}

/* ------------------------------------------------------------------------------------------ */
/* Signals                                                                                     */

static const char *const signal_names[] = {
    [SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",       [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
    [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",     [SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",
    [SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
    [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM", [SIGSTKFLT] = "SIGSTKFLT",
    [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",     [SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP",
    [SIGTTIN] = "SIGTTIN", [SIGTTOU] = "SIGTTOU",     [SIGURG] = "SIGURG",   [SIGXCPU] = "SIGXCPU",
    [SIGXFSZ] = "SIGXFSZ", [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH",
    [SIGIO] = "SIGIO",     [SIGPWR] = "SIGPWR",       [SIGSYS] = "SIGSYS",
};

/* Real-time signals are named from the kernel's SIGRTMIN (32), which is not libc's. */
static const char *signal_name(int sig, char *buf, size_t size) {
    if (sig > 0 && (size_t)sig < sizeof signal_names / sizeof *signal_names && signal_names[sig])
        return signal_names[sig];
    if (sig >= 32) snprintf(buf, size, "SIGRTMIN+%d", sig - 32);
    else snprintf(buf, size, "SIG%d", sig);
    return buf;
}

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

/* A bug in this program must not panic the kernel: report it like any init error. */
static void on_crash(int sig) {
    static const char message[] = "KILN-EXIT init-error=kiln-init crashed\n";
    static const char console[] = "kiln-init: error: kiln-init crashed\n";
    (void)sig;
    write_all(STDERR_FILENO, console, sizeof console - 1);
    write_all(status_fd >= 0 ? status_fd : STDOUT_FILENO, message, sizeof message - 1);
    end_vm(EXIT_VALUE_INIT_ERROR);
}

static void install_crash_handlers(void) {
    struct sigaction sa = {.sa_handler = on_crash};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++) sigaction(crash_signals[i], &sa, NULL);
}

/* The signals PID 1 handles through its signalfd. They are blocked from the very start, so a
 * stop request that arrives while booting is kept and acted on once the app runs. */
static sigset_t handled_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT); /* ctrl-alt-del, once reboot(RB_DISABLE_CAD) is set */
    sigaddset(&set, SIGPWR);
    sigaddset(&set, SIGNAL_TINY_POWER_BUTTON);
    return set;
}

/* What the app's process gets instead of PID 1's signal setup (the mask survives execve). */
static void reset_child_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++) signal(crash_signals[i], SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration: /kiln/image.conf and /kiln/runtime.conf, records of `key NUL value NUL`      */

struct strv { /* a growable NULL-terminated array of strings */
    char **items;
    size_t len;
};

static void strv_push(struct strv *v, char *s) {
    v->items = xrealloc(v->items, (v->len + 2) * sizeof *v->items);
    v->items[v->len++] = s;
    v->items[v->len] = NULL;
}

struct iface {
    const char *name;
    const char *addr; /* A.B.C.D/len */
    const char *gw;
    const char *mtu;
    bool dhcp;        /* address, gateway (unless given) and name servers come from DHCP */
};

struct volume {
    const char *serial; /* the virtio-blk serial number the host gave the disk */
    const char *mount;  /* absolute mount point */
    bool ro;
};

struct config {
    const char *version;
    struct strv modules;
    const char *app;
    struct strv args;
    struct strv env;
    const char *workdir;
    const char *hostname;
    struct iface *ifaces;
    size_t n_ifaces;
    struct strv dns;
    struct volume *volumes;
    size_t n_volumes;
    const char *status;
    const char *exit;
};

/* The first configuration problem; reported once the status device is known. */
static char config_problem[512];

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
    } else if (strcmp(key, "volume") == 0) {
        c->volumes = xrealloc(c->volumes, (c->n_volumes + 1) * sizeof *c->volumes);
        c->volumes[c->n_volumes++] = (struct volume){.serial = value};
    } else if (strcmp(key, "mount") == 0) {
        if ((vol = current_volume(c, path, key))) vol->mount = value;
    } else if (strcmp(key, "ro") == 0) {
        if ((vol = current_volume(c, path, key))) vol->ro = strcmp(value, "0") != 0;
    } else warn("%s: unknown key '%s' ignored", path, key);
}

static void parse_conf(struct config *c, const char *path, bool required) {
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

static void parse_exit_method(const char *method) {
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

static void check_config(const struct config *c) {
    if (c->version && strcmp(c->version, CONTRACT_VERSION) != 0)
        fail("%s has contract version %s, but this kiln-init speaks version %s", RUNTIME_CONF, c->version,
             CONTRACT_VERSION);
    if (!c->app) fail("%s has no 'app' record", RUNTIME_CONF);
    if (c->app[0] != '/') fail("the app must be an absolute path, got '%s'", c->app);
    if (c->workdir && c->workdir[0] != '/') fail("workdir must be an absolute path, got '%s'", c->workdir);
    for (size_t i = 0; i < c->n_volumes; i++)
        if (!c->volumes[i].mount || c->volumes[i].mount[0] != '/')
            fail("volume %s has no absolute 'mount' record", c->volumes[i].serial);
}

/* ------------------------------------------------------------------------------------------ */
/* File systems and the console                                                                */

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
static void make_dev_links(void) {
    static const char *const links[][2] = {
        {"/proc/self/fd", "/dev/fd"},
        {"/proc/self/fd/0", "/dev/stdin"},
        {"/proc/self/fd/1", "/dev/stdout"},
        {"/proc/self/fd/2", "/dev/stderr"},
    };
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) symlink(links[i][0], links[i][1]);
}

/* The kernel gives PID 1 no stdio when the initramfs has no /dev/console node; take it from
 * devtmpfs. If even that fails, there is nowhere to print to and we carry on silently. */
static void open_console(void) {
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) return;
    for (int target = 0; target <= 2; target++)
        if (fd != target) dup2(fd, target);
    if (fd > 2) close(fd);
}

/* Status lines must arrive byte for byte: no "\n" -> "\r\n" translation on a serial port. */
static void open_status(const char *path) {
    if (!path) return;
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        log_error("cannot open the status device %s: %s (reporting on the console)", path, strerror(errno));
        return;
    }
    struct termios tio;
    if (tcgetattr(fd, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(fd, TCSANOW, &tio);
    }
    status_fd = fd;
}

/* ------------------------------------------------------------------------------------------ */
/* Kernel modules                                                                              */

static const char *module_error_hint(int err) {
    switch (err) {
    case ENOENT: return " (unknown symbol: is a module it depends on loaded before it?)";
    case ENOEXEC: return " (not a module for this kernel)";
    case EKEYREJECTED: return " (its signature was rejected)";
    default: return "";
    }
}

static void load_modules(const struct strv *modules) {
    for (size_t i = 0; i < modules->len; i++) {
        const char *path = modules->items[i];
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail("cannot load module %s: %s", path, strerror(errno));
        if (syscall(SYS_finit_module, fd, "", 0) != 0) {
            int err = errno;
            if (err != EEXIST) fail("cannot load module %s: %s%s", path, strerror(err), module_error_hint(err));
            say("module %s was already loaded", path);
        } else {
            say("loaded module %s in %ld ms", path, elapsed_ms(&start));
        }
        close(fd);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Volumes: virtio-blk disks holding ext4, found by the serial number the host gave each one   */

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

static void mount_volumes(const struct config *c) {
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

static void unmount_volumes(void) {
    while (n_mounted > 0) {
        const char *path = mounted[--n_mounted];
        if (umount2(path, 0) != 0) {
            warn("cannot unmount %s: %s (remounting read-only)", path, strerror(errno));
            mount(NULL, path, NULL, MS_REMOUNT | MS_RDONLY, NULL);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Network: static IPv4 with the classic ioctls, which cover everything contract version 1 asks */

static void ifreq_init(struct ifreq *ifr, const char *name) {
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

/* ------------------------------------------------------------------------------------------ */
/* DHCP (RFC 2131): DISCOVER → OFFER → REQUEST → ACK over a UDP socket bound to the interface.  */
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
static void dhcp_configure(int sock, struct iface *ifc, struct strv *dns) {
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

static void configure_network(struct config *c) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) fail("cannot open a socket to configure the network: %s", strerror(errno));
    bring_up(sock, "lo"); /* the kernel already gives lo 127.0.0.1/8 once it is up */
    say("brought up lo");
    for (size_t i = 0; i < c->n_ifaces; i++) configure_iface(sock, &c->ifaces[i], &c->dns);
    close(sock);
}

/* ------------------------------------------------------------------------------------------ */
/* Host name and name resolution files                                                         */

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

static void configure_names(const struct config *c) {
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
    if (c->dns.len > 0) {
        FILE *f = create_text_file("/etc/resolv.conf");
        for (size_t i = 0; i < c->dns.len; i++) fprintf(f, "nameserver %s\n", c->dns.items[i]);
        close_text_file(f, "/etc/resolv.conf");
        say("wrote /etc/resolv.conf with %zu nameserver(s)", c->dns.len);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* ACPI power button                                                                           */
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
static int open_acpi_events(void) {
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
static bool power_button_pressed(int fd) {
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

/* ------------------------------------------------------------------------------------------ */
/* Starting the app                                                                            */

/* Builds the app's environment from scratch: nothing of PID 1's (the kernel's) is passed on.
 * A repeated NAME replaces the earlier value, as `docker run -e` does. */
static char **build_env(const struct config *c) {
    struct strv env = {0};
    bool has_path = false, has_home = false;
    for (size_t i = 0; i < c->env.len; i++) {
        char *entry = c->env.items[i];
        const char *eq = strchr(entry, '=');
        if (!eq || eq == entry) fail("invalid env record '%s' (expected NAME=value)", entry);
        size_t name_len = (size_t)(eq - entry) + 1;
        size_t j = 0;
        while (j < env.len && strncmp(env.items[j], entry, name_len) != 0) j++;
        if (j < env.len) env.items[j] = entry;
        else strv_push(&env, entry);
        has_path |= strncmp(entry, "PATH=", 5) == 0;
        has_home |= strncmp(entry, "HOME=", 5) == 0;
    }
    if (!has_path) strv_push(&env, DEFAULT_PATH);
    if (!has_home) strv_push(&env, DEFAULT_HOME);
    return env.items;
}

static char **build_argv(const struct config *c) {
    struct strv argv = {0};
    strv_push(&argv, (char *)c->app);
    for (size_t i = 0; i < c->args.len; i++) strv_push(&argv, c->args.items[i]);
    return argv.items;
}

/* What the child sends back through the close-on-exec pipe when it cannot exec the app. */
struct child_failure {
    enum { FAILED_CHDIR, FAILED_EXEC } step;
    int err;
};

noreturn static void child_failed(int pipe_fd, int step, int err) {
    struct child_failure f = {.step = step, .err = err};
    write_all(pipe_fd, (const char *)&f, sizeof f);
    _exit(127);
}

noreturn static void run_app(const char *workdir, char **argv, char **envp, int pipe_fd) {
    reset_child_signals();
    setsid(); /* its own session and process group, apart from PID 1 */
    if (chdir(workdir) != 0) child_failed(pipe_fd, FAILED_CHDIR, errno);
    execve(argv[0], argv, envp);
    child_failed(pipe_fd, FAILED_EXEC, errno);
}

/* The interpreter a program asks for: PT_INTERP of an ELF, or the #! line of a script. */
static bool find_interpreter(const char *path, char *out, size_t size, const char **kind) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool found = false;
    Elf64_Ehdr eh;
    if (fd < 0) return false;
    ssize_t n = pread(fd, &eh, sizeof eh, 0);
    if (n >= 2 && memcmp(&eh, "#!", 2) == 0) {
        char line[256];
        n = pread(fd, line, sizeof line - 1, 2);
        line[n > 0 ? n : 0] = '\0';
        size_t start = strspn(line, " \t"), len = strcspn(line + start, " \t\n");
        if (len > 0 && len < size) {
            memcpy(out, line + start, len);
            out[len] = '\0';
            *kind = "script interpreter";
            found = true;
        }
    } else if (n == sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64) {
        for (unsigned i = 0; i < eh.e_phnum && !found; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) != sizeof ph) break;
            if (ph.p_type != PT_INTERP || ph.p_filesz == 0 || ph.p_filesz > size) continue;
            found = pread(fd, out, ph.p_filesz, (off_t)ph.p_offset) == (ssize_t)ph.p_filesz;
            out[ph.p_filesz - 1] = '\0';
            *kind = "ELF interpreter";
        }
    }
    close(fd);
    return found;
}

noreturn static void fail_exec(const char *app, int err) {
    struct stat st;
    bool exists = stat(app, &st) == 0;
    if (err == ENOENT && exists) {
        /* The file is there, so what is missing is the program it asks the kernel to load. */
        char interp[256];
        const char *kind;
        if (find_interpreter(app, interp, sizeof interp, &kind))
            fail("cannot execute %s: No such file or directory (its %s %s is missing)", app, kind, interp);
        fail("cannot execute %s: No such file or directory (the program or its ELF interpreter)", app);
    }
    const char *hint = "";
    if (err == EACCES && exists && S_ISDIR(st.st_mode)) hint = " (it is a directory)";
    else if (err == EACCES && exists && !(st.st_mode & 0111)) hint = " (the file is not executable)";
    else if (err == ENOEXEC) hint = " (not a program for this machine, or a script without #!)";
    fail("cannot execute %s: %s%s", app, strerror(err), hint);
}

/*
 * Forks and execs the app. Returns only once the exec has succeeded, which the parent learns
 * from a close-on-exec pipe: it closes without data on success, and carries the errno on
 * failure. So KILN-START is never followed by an init-error.
 */
static pid_t start_app(const struct config *c, char **argv, char **envp) {
    const char *workdir = c->workdir ? c->workdir : "/";
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) fail("cannot create a pipe: %s", strerror(errno));
    say("starting %s in %s", c->app, workdir);
    pid_t pid = fork();
    if (pid < 0) fail("cannot fork: %s", strerror(errno));
    if (pid == 0) run_app(workdir, argv, envp, fds[1]);
    close(fds[1]);

    struct child_failure f;
    ssize_t n;
    do n = read(fds[0], &f, sizeof f);
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    if (n == 0) return pid;
    waitpid(pid, NULL, 0);
    if (n != sizeof f) fail("the app's process ended before it could exec %s", c->app);
    if (f.step == FAILED_CHDIR) fail("cannot change to workdir %s: %s", workdir, strerror(f.err));
    fail_exec(c->app, f.err);
}

/* ------------------------------------------------------------------------------------------ */
/* Supervising                                                                                 */

static void request_stop(pid_t app, const char *why) {
    say("%s: sending SIGTERM to the app", why);
    kill(app, SIGTERM);
}

/* Reaps every exited child (orphans are re-parented to PID 1); notes the app's status. */
static void reap(pid_t app, bool *app_done, int *app_status) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == app) {
            *app_done = true;
            *app_status = status;
        }
    }
}

/* Reads all queued signals; stop requests are forwarded, SIGCHLD leads to reaping. */
static void handle_signals(int sfd, pid_t app, bool *app_done, int *app_status) {
    struct signalfd_siginfo si;
    char buf[24];
    while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) continue;
        char why[64];
        snprintf(why, sizeof why, "received %s", signal_name((int)si.ssi_signo, buf, sizeof buf));
        request_stop(app, why);
    }
    reap(app, app_done, app_status);
}

/* The event loop: runs until the app has ended, and returns its wait status. */
static int wait_for_app(pid_t app, int sfd, int acpi_fd) {
    bool app_done = false;
    int app_status = 0;
    reap(app, &app_done, &app_status);
    while (!app_done) {
        struct pollfd fds[2] = {{.fd = sfd, .events = POLLIN}, {.fd = acpi_fd, .events = POLLIN}};
        nfds_t count = acpi_fd >= 0 ? 2 : 1;
        if (poll(fds, count, -1) < 0) {
            if (errno != EINTR) {
                log_error("poll: %s", strerror(errno));
                sleep_ms(100); /* ENOMEM: give the kernel a moment rather than spin */
            }
            continue;
        }
        if (fds[0].revents & POLLIN) handle_signals(sfd, app, &app_done, &app_status);
        if (count == 2 && (fds[1].revents & POLLIN) && power_button_pressed(acpi_fd))
            request_stop(app, "the ACPI power button was pressed");
    }
    return app_status;
}

/* Waits until PID 1 has no children left, reaping them; false if some remain after timeout_ms. */
static bool wait_no_children(int sfd, long timeout_ms) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t pid;
        while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
        }
        if (pid < 0 && errno == ECHILD) return true;
        long left = timeout_ms - elapsed_ms(&start);
        if (left <= 0) return false;
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        poll(&p, 1, (int)left);
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {
        } /* the app is gone: stop requests no longer matter */
    }
}

/* The app has ended; whatever it left behind goes too (SIGTERM, a grace period, SIGKILL). */
static void stop_everything(int sfd) {
    if (wait_no_children(sfd, 0)) return;
    say("stopping the remaining processes");
    kill(-1, SIGTERM);
    if (wait_no_children(sfd, GRACE_MS)) return;
    say("killing the remaining processes");
    kill(-1, SIGKILL);
    if (!wait_no_children(sfd, KILL_WAIT_MS)) warn("some processes did not go away after SIGKILL");
}

noreturn static void report_and_end(int status) {
    unmount_volumes();
    sync(); /* before the report, so that a host seeing KILN-EXIT knows the disks are written */
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        say("the app exited with code %d", code);
        status_line("KILN-EXIT code=%d", code);
        end_vm(code > EXIT_VALUE_MAX_CODE ? EXIT_VALUE_MAX_CODE : (unsigned)code);
    }
    char buf[24];
    int sig = WTERMSIG(status);
    const char *name = signal_name(sig, buf, sizeof buf);
    say("the app was killed by %s", name);
    status_line("KILN-EXIT signal=%s number=%d", name, sig);
    end_vm(EXIT_VALUE_SIGNALED);
}

/* ------------------------------------------------------------------------------------------ */

int main(void) {
    sigset_t handled = handled_signals();
    sigprocmask(SIG_BLOCK, &handled, NULL);
    install_crash_handlers();
    reboot(RB_DISABLE_CAD); /* ctrl-alt-del: SIGINT to us instead of an instant reboot */

    /* The console first, so that every later problem can be seen. */
    mount_one(&dev_mount);
    open_console();

    struct config cfg = {0};
    parse_conf(&cfg, IMAGE_CONF, false);
    parse_conf(&cfg, RUNTIME_CONF, true);
    parse_exit_method(cfg.exit);
    open_status(cfg.status);
    if (config_problem[0]) fail("%s", config_problem);
    check_config(&cfg);

    for (size_t i = 0; i < sizeof other_mounts / sizeof *other_mounts; i++) mount_one(&other_mounts[i]);
    make_dev_links();
    load_modules(&cfg.modules);
    mount_volumes(&cfg);
    configure_network(&cfg);
    configure_names(&cfg);

    int acpi_fd = open_acpi_events();
    int sfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) fail("cannot create a signalfd: %s", strerror(errno));

    pid_t app = start_app(&cfg, build_argv(&cfg), build_env(&cfg));
    status_line("KILN-START");
    int status = wait_for_app(app, sfd, acpi_fd);
    stop_everything(sfd);
    report_and_end(status);
}
