// SPDX-License-Identifier: Apache-2.0
/* A power button on a GPIO line (QEMU's arm virt board) */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * Booted without firmware, QEMU's virt board has no ACPI: its power button is GPIO line 3 of
 * the board's PL061 controller, described in the device tree as a gpio-keys KEY_POWER. The arm64
 * cloud kernel drives the PL061 (GPIO_PL061=y) but has no gpio-keys driver (KEYBOARD_GPIO is
 * off), so the line is free: the shim asks the GPIO character device (GPIO_CDEV=y) for its
 * rising edges, which QEMU makes on `system_powerdown`. The host names the line in the
 * runtime config ("power-gpio /dev/gpiochip0:3"); targets with ACPI do not send the record.
 */

/* Kernel ABI from <linux/gpio.h> (uAPI v1), which musl does not ship. */
struct gpio_event_request {
    uint32_t lineoffset;
    uint32_t handleflags;
    uint32_t eventflags;
    char consumer_label[32];
    int fd;
};
struct gpio_event_data {
    uint64_t timestamp;
    uint32_t id;
};
#define GPIOHANDLE_REQUEST_INPUT (1u << 0)
#define GPIOEVENT_REQUEST_RISING_EDGE (1u << 0)
#define GPIO_GET_LINEEVENT_IOCTL _IOWR(0xB4, 0x04, struct gpio_event_request)

/* Returns a descriptor that becomes readable when the button is pressed, or -1 (said why). */
int open_gpio_button(const char *spec) {
    if (!spec) return -1;
    const char *colon = strrchr(spec, ':');
    char *end = NULL;
    unsigned long line = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || colon == spec || !end || *end || end == colon + 1 || line > 0xffff) {
        warn("power-gpio '%s' is not CHIP:LINE: the power button will not stop the app", spec);
        return -1;
    }
    char chip[128];
    snprintf(chip, sizeof chip, "%.*s", (int)(colon - spec), spec);
    int chip_fd = open(chip, O_RDONLY | O_CLOEXEC);
    if (chip_fd < 0) {
        warn("cannot open %s (%s): the power button will not stop the app", chip, strerror(errno));
        return -1;
    }
    struct gpio_event_request req = {
        .lineoffset = (uint32_t)line,
        .handleflags = GPIOHANDLE_REQUEST_INPUT,
        .eventflags = GPIOEVENT_REQUEST_RISING_EDGE,
        .consumer_label = "kiln-power-button",
    };
    int ok = ioctl(chip_fd, GPIO_GET_LINEEVENT_IOCTL, &req);
    int saved = errno;
    close(chip_fd);
    if (ok < 0) {
        warn("cannot watch %s line %lu (%s): the power button will not stop the app", chip, line, strerror(saved));
        return -1;
    }
    fcntl(req.fd, F_SETFD, FD_CLOEXEC);
    fcntl(req.fd, F_SETFL, O_NONBLOCK);
    say("watching the power button on %s line %lu", chip, line);
    return req.fd;
}

/* Reads every pending edge; true if there was one. */
bool gpio_button_pressed(int fd) {
    struct gpio_event_data event;
    bool pressed = false;
    ssize_t n;
    while ((n = read(fd, &event, sizeof event)) == (ssize_t)sizeof event || (n < 0 && errno == EINTR))
        if (n > 0) pressed = true;
    return pressed;
}
