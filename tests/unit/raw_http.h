/*
 * A raw HTTP/1.1 client for the transport tests: exact bytes on a loopback socket, no client
 * library deciding framing or retries for us. Header-only (static functions), test code only.
 */
#ifndef DMCP_RAW_HTTP_H
#define DMCP_RAW_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Connects to 127.0.0.1:port from the loopback address `from` (NULL: any); -1 on failure. */
static inline int dial_from(unsigned port, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    if (from != NULL) {
        struct sockaddr_in b = {0};
        b.sin_family = AF_INET;
        inet_pton(AF_INET, from, &b.sin_addr);
        if (bind(fd, (struct sockaddr *)&b, sizeof(b)) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends everything it can; stops quietly when the server has closed. */
static inline void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        data += n;
        len -= (size_t)n;
    }
}

typedef struct exchange {
    char data[65536];
    size_t len;
    bool closed;   /* the server closed the connection (EOF or reset) */
    long first_ms; /* time to the first byte of the answer, -1 if none */
} exchange;

/* Reads until the server closes or timeout_ms passes without a byte. */
static inline void read_answer(int fd, exchange *x, long timeout_ms)
{
    long start = now_ms();
    x->len = 0;
    x->closed = false;
    x->first_ms = -1;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)timeout_ms) <= 0) {
            break;
        }
        ssize_t n = recv(fd, x->data + x->len, sizeof(x->data) - 1 - x->len, 0);
        if (n <= 0) {
            x->closed = true;
            break;
        }
        if (x->first_ms < 0) {
            x->first_ms = now_ms() - start;
        }
        x->len += (size_t)n;
        if (x->len >= sizeof(x->data) - 1) {
            break;
        }
    }
    x->data[x->len] = '\0';
}

/* Sends raw bytes on a new connection to port and reads everything the server answers. */
static inline void raw_to(unsigned port, const char *req, exchange *x, long timeout_ms)
{
    int fd = dial_from(port, NULL);
    if (fd < 0) {
        x->len = 0;
        x->data[0] = '\0';
        x->closed = true;
        return;
    }
    send_all(fd, req, strlen(req));
    read_answer(fd, x, timeout_ms);
    close(fd);
}

/* Number of status lines in the bytes. */
static inline int responses(const exchange *x)
{
    int n = 0;
    for (const char *p = x->data; (p = strstr(p, "HTTP/1.1 ")) != NULL; p++) {
        n++;
    }
    return n;
}

static inline int status_of(const exchange *x)
{
    int st = 0;
    return sscanf(x->data, "HTTP/1.1 %d", &st) == 1 ? st : 0;
}

/* True when the first response's head holds this text (e.g. "Retry-After: 1"). */
static inline bool has_header(const exchange *x, const char *line)
{
    const char *end = strstr(x->data, "\r\n\r\n");
    const char *p = strstr(x->data, line);
    return p != NULL && end != NULL && p < end;
}

#endif
