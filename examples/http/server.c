/* A small HTTP/1.1 server for kiln's quick start: answers every GET with a short page naming
 * the guest's hostname, keeps connections alive, and exits cleanly on SIGTERM (which the kiln
 * init shim sends when the VM is asked to stop). Listens on $PORT, default 80. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig) { (void)sig; stopping = 1; }

/* Reads one request head (up to the blank line); returns 0 at EOF or error. */
static int read_request(int fd, char *buf, size_t size) {
    size_t used = 0;
    while (used + 1 < size) {
        ssize_t n = read(fd, buf + used, size - 1 - used);
        if (n <= 0) return 0;
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n")) return 1;
    }
    return 0;
}

static void serve(int fd, unsigned long *served) {
    char request[4096], host[64], body[256], response[512];
    gethostname(host, sizeof host);
    while (!stopping && read_request(fd, request, sizeof request)) {
        int is_get = strncmp(request, "GET ", 4) == 0;
        int len = snprintf(body, sizeof body, "<h1>Hello from kiln</h1><p>served by %s, request %lu</p>\n", host, ++*served);
        int head = snprintf(response, sizeof response,
                            "HTTP/1.1 %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n",
                            is_get ? "200 OK" : "405 Method Not Allowed", is_get ? len : 0);
        if (write(fd, response, (size_t)head) != head) return;
        if (is_get && write(fd, body, (size_t)len) != len) return;
    }
}

int main(void) {
    const char *port_text = getenv("PORT");
    int port = port_text ? atoi(port_text) : 80;
    struct sigaction sa = {0};
    sa.sa_handler = on_term; /* no SA_RESTART: accept() returns EINTR so we can stop */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port), .sin_addr = {htonl(INADDR_ANY)}};
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 64) < 0) {
        perror("http-server: cannot listen");
        return 1;
    }
    printf("http-server: listening on port %d\n", port);
    fflush(stdout);
    unsigned long served = 0;
    while (!stopping) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            perror("http-server: accept");
            return 1;
        }
        serve(fd, &served);
        close(fd);
    }
    printf("http-server: stopping after %lu requests\n", served);
    return 0;
}
