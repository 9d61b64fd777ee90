// SPDX-License-Identifier: Apache-2.0
/* Kernel modules, loaded in the order of the `module` records. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *module_error_hint(int err) {
    switch (err) {
    case ENOENT: return " (unknown symbol: is a module it depends on loaded before it?)";
    case ENOEXEC: return " (not a module for this kernel)";
    case EKEYREJECTED: return " (its signature was rejected)";
    default: return "";
    }
}

void load_modules(const struct strv *modules) {
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
