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
 * Built static against musl by src/init/build.ts, from every .c file of this directory. musl
 * ships no <linux/...> headers, so the few netlink definitions needed are spelled out in
 * power.c (they are stable kernel ABI).
 *
 * This header is what the files share: the configuration, the logging and failure helpers,
 * and one entry point per job. Everything else stays static in its file.
 */
#ifndef KILN_SHIM_H
#define KILN_SHIM_H

#define _GNU_SOURCE
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/types.h>
#include <time.h>

#define SHIM_PATH "/kiln/init"
#define IMAGE_CONF "/kiln/image.conf"
#define RUNTIME_CONF "/kiln/runtime.conf"

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

/* ---- log.c: console logging and the status channel ------------------------------------------- */

extern bool verbose;
extern int status_fd; /* -1: status lines go to the console */

void write_all(int fd, const char *buf, size_t len);
__attribute__((format(printf, 1, 2))) void say(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_error(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void status_line(const char *fmt, ...);
void drain(int fd);
long elapsed_ms(const struct timespec *since);
void sleep_ms(long ms);
void open_console(void);
void open_status(const char *path);

/* ---- report.c: ending the VM ----------------------------------------------------------------- */

extern unsigned short exit_port; /* 0: power off instead of isa-debug-exit */

noreturn void end_vm(unsigned value);
__attribute__((format(printf, 1, 2))) noreturn void fail(const char *fmt, ...);
void *xrealloc(void *p, size_t size);
noreturn void report_and_end(int status);

/* ---- signals.c ------------------------------------------------------------------------------- */

const char *signal_name(int sig, char *buf, size_t size);
void install_crash_handlers(void);
sigset_t handled_signals(void);
void reset_child_signals(void);

/* ---- config.c: /kiln/image.conf and /kiln/runtime.conf --------------------------------------- */

struct strv { /* a growable NULL-terminated array of strings */
    char **items;
    size_t len;
};

void strv_push(struct strv *v, char *s);

struct iface {
    const char *name;
    const char *addr; /* A.B.C.D/len */
    const char *gw;
    const char *mtu;
    bool dhcp;        /* address, gateway (unless given) and name servers come from DHCP */
    bool optional;    /* best effort: a failed set-up is a warning and the app starts anyway */
};

struct volume {
    const char *serial; /* the virtio-blk serial number the host gave the disk, or NULL */
    const char *partlabel; /* or: the GPT partition name (PARTNAME), on any disk (virtio, NVMe, SCSI) */
    const char *xen_vbd; /* or: the Xen virtual block device number (xenstore device/vbd/N), a xen-blkfront disk */
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
    /* CHIP:LINE of a GPIO power button (arm virt), from the host; NULL where ACPI has the button. */
    const char *power_gpio;
};

/* The first configuration problem; reported once the status device is known. */
extern char config_problem[512];

void parse_conf(struct config *c, const char *path, bool required);
void parse_exit_method(const char *method);
void check_config(const struct config *c);

/* ---- mounts.c: file systems and volumes ------------------------------------------------------ */

void mount_dev(void);
void mount_system(void);
void make_dev_links(void);
void mount_volumes(const struct config *c);
const char *volume_name(const struct volume *v);
void unmount_volumes(void);

/* ---- modules.c, net.c, dhcp.c, names.c: preparing the system --------------------------------- */

void load_modules(const struct strv *modules);

/* Steps that may be best effort write a one-line problem into err and return false; problem()
 * formats it (and returns false) so that a step can `return problem(err, len, "...", ...)`. */
__attribute__((format(printf, 3, 4))) bool problem(char *err, size_t len, const char *fmt, ...);

void ifreq_init(struct ifreq *ifr, const char *name);
/* Fatal for an interface the user asked for; a warning for an `optional` one. */
void configure_network(struct config *c);
/* MTU, address, up, default route: what the iface record says (also for leases that change later). */
bool apply_iface(const struct iface *ifc, char *err, size_t len);
void remove_address(const char *name);

struct pollfd;
struct dhcp_client;
struct dhcp_client *dhcp_open(struct iface *ifc, struct strv *dns, char *err, size_t len);
/* Waits (boundedly) for the first lease and writes it into ifc; the client then lives on. */
bool dhcp_acquire(struct dhcp_client *client, char *err, size_t len);
/* PID 1's event loop: the clients' sockets, the time to their next step, and handling both. */
size_t dhcp_pollfds(struct pollfd *fds, size_t max);
int dhcp_timeout_ms(void);
void dhcp_events(const struct pollfd *fds, size_t n);

void configure_names(const struct config *c);
bool write_resolv_conf(const struct strv *dns);

/* ---- helper.c: the kernel's poweroff helper is the shim itself ------------------------------- */

void take_over_shutdown_helper(void);
int ask_init_to_stop(void);

/* ---- power.c: the ACPI power button ---------------------------------------------------------- */

int open_acpi_events(void);
bool power_button_pressed(int fd);

/* ---- power-gpio.c: a power button on a GPIO line (arm virt) ---------------------------------- */

int open_gpio_button(const char *spec);
bool gpio_button_pressed(int fd);

/* ---- app.c: starting the app ----------------------------------------------------------------- */

char **build_env(const struct config *c);
char **build_argv(const struct config *c);
pid_t start_app(const struct config *c, char **argv, char **envp);

#endif
