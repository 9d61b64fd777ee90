// SPDX-License-Identifier: Apache-2.0
/* Signals: their names, the crash handler, and the set PID 1 takes through its signalfd. */
#include "shim.h"

#include <stdio.h>
#include <unistd.h>

/* Debian's kernel may be built with ACPI_TINY_POWER_BUTTON, which signals PID 1 with this. */
#define SIGNAL_TINY_POWER_BUTTON 38

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
const char *signal_name(int sig, char *buf, size_t size) {
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

void install_crash_handlers(void) {
    struct sigaction sa = {.sa_handler = on_crash};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++) sigaction(crash_signals[i], &sa, NULL);
}

/* The signals PID 1 handles through its signalfd. They are blocked from the very start, so a
 * stop request that arrives while booting is kept and acted on once the app runs. */
sigset_t handled_signals(void) {
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
void reset_child_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++) signal(crash_signals[i], SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
}
