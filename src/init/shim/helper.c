// SPDX-License-Identifier: Apache-2.0
/* The kernel's shutdown helpers: a hypervisor's shutdown request becomes SIGTERM to the app. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/*
 * Xen's `xl shutdown` (a "poweroff" request in the domain's control/shutdown xenstore node)
 * reaches a Linux guest as orderly_poweroff(): the kernel starts the program named in
 * kernel.poweroff_cmd (/sbin/poweroff), and a guest without one ignores the request. The shim
 * names itself there. Started that way it is not PID 1, and it only sends SIGTERM to PID 1: the
 * same graceful stop as the ACPI power button (the app gets SIGTERM, its status is reported,
 * the VM powers off).
 */
#define POWEROFF_CMD "/proc/sys/kernel/poweroff_cmd"

void take_over_shutdown_helper(void) {
    int fd = open(POWEROFF_CMD, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, SHIM_PATH, strlen(SHIM_PATH)) < 0) warn("cannot set %s: %s", POWEROFF_CMD, strerror(errno));
    if (fd >= 0) close(fd);
}

int ask_init_to_stop(void) { return kill(1, SIGTERM) == 0 ? 0 : 1; }
