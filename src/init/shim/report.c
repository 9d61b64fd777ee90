// SPDX-License-Identifier: Apache-2.0
/* Ending the VM: the exit report, isa-debug-exit and the power-off. */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <sys/io.h>
#define HAVE_PORT_IO 1
#endif

unsigned short exit_port;

/* Powers the VM off. Only async-signal-safe calls on the normal path: the crash handler uses it. */
noreturn void end_vm(unsigned value) {
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
__attribute__((format(printf, 1, 2))) noreturn void fail(const char *fmt, ...) {
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

void *xrealloc(void *p, size_t size) {
    p = realloc(p, size);
    if (!p) fail("out of memory");
    return p;
}

noreturn void report_and_end(int status) {
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
