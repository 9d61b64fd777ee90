// SPDX-License-Identifier: Apache-2.0
/* Console logging and the status channel. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

bool verbose;
int status_fd = -1;

void write_all(int fd, const char *buf, size_t len) {
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
__attribute__((format(printf, 1, 2))) void say(const char *fmt, ...) {
    if (!verbose) return;
    va_list ap;
    va_start(ap, fmt);
    write_line(STDERR_FILENO, "kiln-init: ", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    write_line(STDERR_FILENO, "kiln-init: warning: ", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) void log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    write_line(STDERR_FILENO, "kiln-init: error: ", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) void status_line(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    write_line(status_fd >= 0 ? status_fd : STDOUT_FILENO, "", fmt, ap);
    va_end(ap);
}

/* Serial ports transmit asynchronously: wait until the bytes have left, or the isa-debug-exit
 * write would end QEMU before the host saw the last lines. */
void drain(int fd) {
    if (fd >= 0 && isatty(fd)) tcdrain(fd);
}

long elapsed_ms(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The kernel gives PID 1 no stdio when the initramfs has no /dev/console node; take it from
 * devtmpfs. If even that fails, there is nowhere to print to and we carry on silently. */
void open_console(void) {
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) return;
    for (int target = 0; target <= 2; target++)
        if (fd != target) dup2(fd, target);
    if (fd > 2) close(fd);
}

/* Status lines must arrive byte for byte: no "\n" -> "\r\n" translation on a serial port. */
void open_status(const char *path) {
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
