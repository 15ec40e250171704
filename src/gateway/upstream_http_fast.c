/* The plain-HTTP upstream's fast exchange (see upstream_http_fast.h). */
#include "gateway/upstream_http_fast.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define WAIT_SLICE_MS 100 /* a blocked recv returns this often to poll cancellation */

struct gw_fast {
    char host[256]; /* for getaddrinfo: no brackets */
    char port[8];
    char *head; /* "POST <path> HTTP/1.1\r\nHost: ...\r\nAccept: ...\r\nContent-Type: ...\r\n" */
    size_t head_len;
    pthread_mutex_t mu;
    int *idle; /* kept-alive connections */
    size_t nidle, cap;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *url_part(CURLU *u, CURLUPart what, unsigned flags)
{
    char *v = NULL;
    return curl_url_get(u, what, &v, flags) == CURLUE_OK ? v : NULL;
}

gw_fast *gw_fast_new(const char *url, unsigned pool_max)
{
    const char *mode = getenv("DMCP_GW_HTTP_CLIENT");
    if (mode != NULL && strcmp(mode, "curl") == 0) {
        return NULL;
    }
    CURLU *u = curl_url();
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    char *scheme = url_part(u, CURLUPART_SCHEME, 0);
    char *host = url_part(u, CURLUPART_HOST, 0);
    char *port = url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    char *explicit_port = url_part(u, CURLUPART_PORT, 0);
    char *path = url_part(u, CURLUPART_PATH, 0);
    char *query = url_part(u, CURLUPART_QUERY, 0);
    char *user = url_part(u, CURLUPART_USER, 0);
    gw_fast *f = NULL;
    /* Only plain http without credentials in the URL (libcurl would send those as Basic). */
    if (scheme != NULL && strcmp(scheme, "http") == 0 && host != NULL && port != NULL &&
        path != NULL && user == NULL && strlen(host) < sizeof(((gw_fast *)0)->host) &&
        strlen(port) < sizeof(((gw_fast *)0)->port) && (f = calloc(1, sizeof(*f))) != NULL) {
        const char *h = host;
        size_t hl = strlen(host);
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
            h++;
            hl -= 2;
        }
        memcpy(f->host, h, hl);
        f->host[hl] = '\0';
        snprintf(f->port, sizeof(f->port), "%s", port);
        size_t cap = strlen(path) + (query != NULL ? strlen(query) + 1 : 0) + strlen(host) + 160;
        f->head = malloc(cap);
        int n = f->head != NULL
                    ? snprintf(f->head, cap,
                               "POST %s%s%s HTTP/1.1\r\nHost: %s%s%s\r\nAccept: application/json, "
                               "text/event-stream\r\nContent-Type: application/json\r\n",
                               path, query != NULL ? "?" : "", query != NULL ? query : "", host,
                               explicit_port != NULL ? ":" : "",
                               explicit_port != NULL ? explicit_port : "")
                    : -1;
        f->cap = pool_max > 0 ? pool_max : 1;
        f->idle = calloc(f->cap, sizeof(int));
        if (n < 0 || (size_t)n >= cap || f->idle == NULL) {
            free(f->head);
            free(f->idle);
            free(f);
            f = NULL;
        } else {
            f->head_len = (size_t)n;
            pthread_mutex_init(&f->mu, NULL);
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(explicit_port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_url_cleanup(u);
    return f;
}

void gw_fast_free(gw_fast *f)
{
    if (f == NULL) {
        return;
    }
    for (size_t i = 0; i < f->nidle; i++) {
        close(f->idle[i]);
    }
    pthread_mutex_destroy(&f->mu);
    free(f->idle);
    free(f->head);
    free(f);
}

/* A new connection (blocking, TCP_NODELAY, receive slices of WAIT_SLICE_MS), or -1. */
static int dial(const gw_fast *f, unsigned connect_ms)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(f->host, f->port, &hints, &res) != 0) {
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            struct pollfd pf = {fd, POLLOUT, 0};
            int e = 0;
            socklen_t el = sizeof(e);
            rc = poll(&pf, 1, (int)connect_ms) == 1 &&
                         getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0
                     ? 0
                     : -1;
        }
        if (rc != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        struct timeval tv = {0, WAIT_SLICE_MS * 1000};
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }
    return fd;
}

/* A kept-alive connection (fresh: a new one whatever the pool holds), or a new one. */
static int take(gw_fast *f, bool fresh, bool *reused, unsigned connect_ms)
{
    int fd = -1;
    pthread_mutex_lock(&f->mu);
    if (f->nidle > 0 && !fresh) {
        fd = f->idle[--f->nidle];
    }
    pthread_mutex_unlock(&f->mu);
    *reused = fd >= 0;
    return fd >= 0 ? fd : dial(f, connect_ms);
}

static void give(gw_fast *f, int fd, bool keep)
{
    if (keep) {
        pthread_mutex_lock(&f->mu);
        if (f->nidle < f->cap) {
            f->idle[f->nidle++] = fd;
            fd = -1;
        }
        pthread_mutex_unlock(&f->mu);
    }
    if (fd >= 0) {
        close(fd);
    }
}

typedef enum { XR_OK, XR_DEAD_EARLY, XR_UNREACHABLE, XR_TIMEOUT, XR_CANCELLED, XR_PROTOCOL } xres;

static bool stop_now(const gw_fast_req *r, long long deadline, xres *why)
{
    if (r->cancelled != NULL && r->cancelled(r->cb.ud)) {
        *why = XR_CANCELLED;
        return true;
    }
    if (deadline > 0 && now_ms() >= deadline) {
        *why = XR_TIMEOUT;
        return true;
    }
    return false;
}

static xres send_all(int fd, struct iovec *iov, int n, const gw_fast_req *r, long long deadline)
{
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)n;
    bool sent_any = false;
    while (m.msg_iovlen > 0) {
        ssize_t k = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (k < 0) {
            xres why;
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (stop_now(r, deadline, &why)) {
                    return why;
                }
                continue;
            }
            return sent_any ? XR_UNREACHABLE : XR_DEAD_EARLY;
        }
        sent_any = true;
        size_t left = (size_t)k;
        while (m.msg_iovlen > 0 && left >= m.msg_iov[0].iov_len) {
            left -= m.msg_iov[0].iov_len;
            m.msg_iov++;
            m.msg_iovlen--;
        }
        if (m.msg_iovlen > 0) {
            m.msg_iov[0].iov_base = (char *)m.msg_iov[0].iov_base + left;
            m.msg_iov[0].iov_len -= left;
        }
    }
    return XR_OK;
}

/* One attempt on fd: send, then read the response to its end. */
static xres attempt(int fd, const char *hdr, size_t hdr_len, const gw_fast_req *r,
                    long long deadline, gw_h1 *p, const char **why)
{
    struct iovec iov[2] = {{(void *)hdr, hdr_len}, {(void *)r->body, r->body_len}};
    xres x = send_all(fd, iov, r->body_len > 0 ? 2 : 1, r, deadline);
    if (x != XR_OK) {
        return x;
    }
    gw_h1_init(p);
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            size_t used = 0;
            gw_h1_rc rc = gw_h1_feed(p, buf, (size_t)n, &used, &r->cb);
            if (rc == GW_H1_DONE) {
                return XR_OK;
            }
            if (rc == GW_H1_ERROR) {
                *why = p->error;
                return XR_PROTOCOL;
            }
            continue;
        }
        if (n == 0) {
            bool started = gw_h1_started(p); /* before gw_h1_eof, which ends the parser */
            if (gw_h1_eof(p) == GW_H1_DONE) {
                return XR_OK;
            }
            *why = p->error;
            return started ? XR_UNREACHABLE : XR_DEAD_EARLY;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (stop_now(r, deadline, &x)) {
                return x;
            }
            continue;
        }
        return gw_h1_started(p) ? XR_UNREACHABLE : XR_DEAD_EARLY;
    }
}

dmcp_status gw_fast_post(gw_fast *f, const gw_fast_req *r, const char **why)
{
    *why = NULL;
    long long deadline = r->timeout_ms > 0 ? now_ms() + r->timeout_ms : 0;
    /* The head: the fixed part, the caller's lines, Content-Length. */
    size_t len = f->head_len + 48;
    for (size_t i = 0; i < r->n_lines; i++) {
        len += strlen(r->lines[i]) + 2;
    }
    char small[4096];
    char *hdr = len <= sizeof(small) ? small : malloc(len);
    if (hdr == NULL) {
        *why = "out of memory";
        return DMCP_E_NOMEM;
    }
    memcpy(hdr, f->head, f->head_len);
    size_t at = f->head_len;
    for (size_t i = 0; i < r->n_lines; i++) {
        size_t l = strlen(r->lines[i]);
        memcpy(hdr + at, r->lines[i], l);
        memcpy(hdr + at + l, "\r\n", 2);
        at += l + 2;
    }
    at += (size_t)snprintf(hdr + at, len - at, "Content-Length: %zu\r\n\r\n", r->body_len);
    gw_h1 *p = malloc(sizeof(*p));
    xres x = XR_UNREACHABLE;
    for (int round = 0; p != NULL && round < 2; round++) {
        bool reused = false;
        int fd = take(f, round > 0, &reused, r->connect_ms); /* the retry: a new connection */
        if (fd < 0) {
            x = XR_UNREACHABLE;
            *why = "cannot connect";
            break;
        }
        x = attempt(fd, hdr, at, r, deadline, p, why);
        give(f, fd, x == XR_OK && p->keep_alive);
        if (!(x == XR_DEAD_EARLY && reused)) {
            break; /* a kept-alive connection the upstream had closed: once more, new */
        }
        *why = NULL;
    }
    free(p);
    if (hdr != small) {
        free(hdr);
    }
    switch (x) {
    case XR_OK:
        return DMCP_OK;
    case XR_TIMEOUT:
        return DMCP_E_TIMEOUT;
    case XR_CANCELLED:
        return DMCP_E_CANCELLED;
    case XR_PROTOCOL:
        return DMCP_E_PROTOCOL;
    default:
        if (*why == NULL) {
            *why = "the connection failed";
        }
        return DMCP_E_UNREACHABLE;
    }
}
