// SPDX-License-Identifier: Apache-2.0
/* Starting the app. */
#include "shim.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
#define DEFAULT_HOME "HOME=/"

/* Builds the app's environment from scratch: nothing of PID 1's (the kernel's) is passed on.
 * A repeated NAME replaces the earlier value, as `docker run -e` does. */
char **build_env(const struct config *c) {
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

char **build_argv(const struct config *c) {
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
pid_t start_app(const struct config *c, char **argv, char **envp) {
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
