// SPDX-License-Identifier: Apache-2.0
/* PID 1's flow (see shim.h), and supervising the app: the event loop, reaping, the stop. */
#include "shim.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long leftover processes get between SIGTERM and SIGKILL once the app has ended. */
#define GRACE_MS 1000
/* How long to wait for SIGKILLed processes to disappear (one stuck in the kernel never does). */
#define KILL_WAIT_MS 1000

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

/* The event loop: runs until the app has ended, and returns its wait status. Between events it
 * keeps the DHCP leases alive (dhcp.c). */
static int wait_for_app(pid_t app, int sfd, int acpi_fd, int gpio_fd) {
    bool app_done = false;
    int app_status = 0;
    reap(app, &app_done, &app_status);
    while (!app_done) {
        /* poll() skips entries whose fd is negative: a button that is not there. */
        struct pollfd fds[3 + 16] = {{.fd = sfd, .events = POLLIN}, {.fd = acpi_fd, .events = POLLIN}, {.fd = gpio_fd, .events = POLLIN}};
        size_t n_dhcp = dhcp_pollfds(fds + 3, sizeof fds / sizeof fds[0] - 3);
        int ready = poll(fds, 3 + n_dhcp, dhcp_timeout_ms());
        if (ready >= 0) dhcp_events(fds + 3, n_dhcp);
        if (ready < 0) {
            if (errno != EINTR) {
                log_error("poll: %s", strerror(errno));
                sleep_ms(100); /* ENOMEM: give the kernel a moment rather than spin */
            }
            continue;
        }
        if (fds[0].revents & POLLIN) handle_signals(sfd, app, &app_done, &app_status);
        if (acpi_fd >= 0 && (fds[1].revents & POLLIN) && power_button_pressed(acpi_fd))
            request_stop(app, "the ACPI power button was pressed");
        if (gpio_fd >= 0 && (fds[2].revents & POLLIN) && gpio_button_pressed(gpio_fd))
            request_stop(app, "the power button was pressed");
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

int main(void) {
    /* Started by the kernel as its poweroff helper (helper.c), not as init. */
    if (getpid() != 1) return ask_init_to_stop();
    sigset_t handled = handled_signals();
    sigprocmask(SIG_BLOCK, &handled, NULL);
    install_crash_handlers();
    reboot(RB_DISABLE_CAD); /* ctrl-alt-del: SIGINT to us instead of an instant reboot */

    /* The console first, so that every later problem can be seen. */
    mount_dev();
    open_console();

    struct config cfg = {0};
    parse_conf(&cfg, IMAGE_CONF, false);
    parse_conf(&cfg, RUNTIME_CONF, true);
    parse_exit_method(cfg.exit);
    open_status(cfg.status);
    if (config_problem[0]) fail("%s", config_problem);
    check_config(&cfg);

    mount_system();
    make_dev_links();
    take_over_shutdown_helper();
    load_modules(&cfg.modules);
    mount_volumes(&cfg);
    configure_network(&cfg);
    configure_names(&cfg);

    /* A GPIO button (arm virt) when the host names one; otherwise ACPI's. */
    int gpio_fd = open_gpio_button(cfg.power_gpio);
    int acpi_fd = gpio_fd >= 0 ? -1 : open_acpi_events();
    int sfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) fail("cannot create a signalfd: %s", strerror(errno));

    pid_t app = start_app(&cfg, build_argv(&cfg), build_env(&cfg));
    status_line("KILN-START");
    int status = wait_for_app(app, sfd, acpi_fd, gpio_fd);
    stop_everything(sfd);
    report_and_end(status);
}
