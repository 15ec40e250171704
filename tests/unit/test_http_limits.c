/*
 * The HTTP transport's limits, each hit from outside over raw loopback sockets: the right
 * status (or a closed connection) comes back, and another client is still served.
 *  - 2,100 connections from 127.0.0.2 while a client on 127.0.0.1 is served promptly;
 *  - header, body and idle deadlines that a trickle cannot stretch;
 *  - sessions per principal (the least recently used idle one makes room; 429 when all are
 *    busy) and the session table (503), both with Retry-After;
 *  - requests in flight per session, the per-principal rate, streams per session/principal;
 *  - a GET after the client dropped its stream is not refused with 409;
 *  - a stop answers a request whose headers were still arriving.
 * And the limit API itself (names, parsing, ranges).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "dmcp/metrics.h"
#include "mcp_test.h"
#include "raw_http.h"

static dmcp_status authenticate(void *ud, const dmcp_http_request *req, dmcp_principal **out,
                                dmcp_http_response **refusal)
{
    (void)ud;
    static const char *const users[] = {"alice", "bob", "carol", "dave"};
    const char *h = dmcp_http_request_header(req, "Authorization", 0);
    for (size_t i = 0; h != NULL && i < sizeof(users) / sizeof(users[0]); i++) {
        if (strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, users[i]) == 0) {
            char key[64];
            snprintf(key, sizeof(key), "iss|%s", users[i]);
            assert_int_equal(dmcp_principal_new(key, out), DMCP_OK);
            return DMCP_OK;
        }
    }
    assert_int_equal(dmcp_http_response_new(401, refusal), DMCP_OK);
    return DMCP_E_INVALID_TOKEN;
}

static atomic_int slow_running;

static dmcp_status t_slow(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    atomic_fetch_add(&slow_running, 1);
    sleep_ms(1500);
    atomic_fetch_sub(&slow_running, 1);
    return dmcp_result_add_text(res, "slow done");
}

static dmcp_status t_progress(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    dmcp_call_progress(call, 50, 100, NULL);
    return dmcp_result_add_text(res, "progress done");
}

typedef struct limit_set {
    dmcp_limit limit;
    double value;
} limit_set;

/* A server with the mock authorizer (unless open) and the given limits. */
static dmcp_server *start(const limit_set *ls, size_t n, bool open, unsigned *port)
{
    dmcp_server *s;
    dmcp_error err;
    assert_int_equal(dmcp_server_new("limits", "1", &s), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("slow", t_slow, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(s, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("progress", t_progress, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(s, t), DMCP_OK);
    if (!open) {
        dmcp_authorizer *az;
        assert_int_equal(dmcp_authorizer_new(NULL, NULL, &az), DMCP_OK);
        dmcp_authorizer_set_authenticate(az, authenticate);
        assert_int_equal(dmcp_server_set_authorizer(s, az), DMCP_OK);
    }
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_threads(s, 4), DMCP_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(dmcp_server_set_limit(s, ls[i].limit, ls[i].value), DMCP_OK);
    }
    assert_int_equal(dmcp_server_start(s, &err), DMCP_OK);
    *port = dmcp_server_port(s);
    return s;
}

#define ACCEPT "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
#define INIT                                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"     \
    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"
#define PING "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}"

/* A POST of body as user (NULL: no token) on session sid (NULL: none). */
static void post(unsigned port, const char *user, const char *sid, const char *body, exchange *x)
{
    char req[4096];
    char auth[64] = "", sess[128] = "";
    if (user != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", user);
    }
    if (sid != NULL) {
        snprintf(sess, sizeof(sess), "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: 2025-11-25\r\n",
                 sid);
    }
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s" ACCEPT
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             auth, sess, strlen(body), body);
    raw_to(port, req, x, 3000);
}

/* Opens a session for user; copies its id into sid (empty when refused) and returns the status. */
static int open_session(unsigned port, const char *user, char *sid, exchange *x)
{
    post(port, user, NULL, INIT, x);
    sid[0] = '\0';
    const char *h = strstr(x->data, "Mcp-Session-Id: ");
    if (h != NULL) {
        sscanf(h + 16, "%127[0-9a-f]", sid);
    }
    return status_of(x);
}

/* Opens a GET stream of the session and leaves it open; returns its socket. */
static int open_get(unsigned port, const char *user, const char *sid, exchange *x)
{
    int fd = dial_from(port, NULL);
    assert_true(fd >= 0);
    char req[512];
    snprintf(req, sizeof(req),
             "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n"
             "MCP-Protocol-Version: 2025-11-25\r\n\r\n",
             user, sid);
    send_all(fd, req, strlen(req));
    read_answer(fd, x, 300); /* the head and the priming event; the stream stays open */
    return fd;
}

/* ---------------------------------------------------------------------------------------- */

static void test_limit_api(void **state)
{
    (void)state;
    dmcp_limit l;
    double v;
    assert_int_equal(dmcp_limit_parse("max-connections-per-ip=12", &l, &v), DMCP_OK);
    assert_int_equal(l, DMCP_LIMIT_MAX_CONNECTIONS_PER_IP);
    assert_true(v == 12);
    assert_int_equal(dmcp_limit_parse("rate=0.5", &l, &v), DMCP_OK);
    assert_int_equal(l, DMCP_LIMIT_RATE);
    assert_int_equal(dmcp_limit_parse("rate=-1", &l, &v), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_limit_parse("rate=", &l, &v), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_limit_parse("rate=1x", &l, &v), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_limit_parse("nope=1", &l, &v), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_limit_parse("rate", &l, &v), DMCP_E_INVALID_ARG);
    for (int i = 0; i < DMCP_LIMIT__COUNT; i++) {
        assert_non_null(dmcp_limit_name((dmcp_limit)i));
    }
    assert_null(dmcp_limit_name(DMCP_LIMIT__COUNT));
    dmcp_server *s;
    assert_int_equal(dmcp_server_new("x", "1", &s), DMCP_OK);
    assert_true(dmcp_server_limit(s, DMCP_LIMIT_MAX_CONNECTIONS) == 2048);
    assert_true(dmcp_server_limit(s, DMCP_LIMIT_MAX_SESSIONS) == 10000);
    assert_true(dmcp_server_limit(s, DMCP_LIMIT_MAX_SESSIONS_PER_PRINCIPAL) < 10000);
    assert_int_equal(dmcp_server_set_limit(s, DMCP_LIMIT_MAX_BODY, 10), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_limit(s, DMCP_LIMIT_MAX_CONNECTIONS, 0), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_limit(s, DMCP_LIMIT__COUNT, 1), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_limit(s, DMCP_LIMIT_RATE, 5), DMCP_OK);
    assert_true(dmcp_server_limit(s, DMCP_LIMIT_RATE_BURST) == 0); /* 0: 2 x rate */
    assert_int_equal(dmcp_server_set_limit(s, DMCP_LIMIT_MAX_SESSIONS, 7), DMCP_OK);
    assert_true(dmcp_server_limit(s, DMCP_LIMIT_MAX_SESSIONS) == 7);
    /* The command-line options, as every example server takes them. */
    dmcp_error err;
    assert_int_equal(dmcp_server_set_option(s, "limit", "max-sessions=9", &err), DMCP_OK);
    assert_true(dmcp_server_limit(s, DMCP_LIMIT_MAX_SESSIONS) == 9);
    assert_int_equal(dmcp_server_set_option(s, "limit", "max-sessions=0", &err),
                     DMCP_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "--limit max-sessions=0"));
    assert_int_equal(dmcp_server_set_option(s, "metrics-listen", "nope", &err), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_option(s, "metrics-listen", "127.0.0.1:0", &err), DMCP_OK);
    assert_int_equal(dmcp_server_set_option(s, "log-level", "loud", &err), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_option(s, "log-level", "debug", &err), DMCP_OK);
    assert_int_equal(dmcp_server_set_option(s, "access-log", "", &err), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_option(s, "frobnicate", "1", &err), DMCP_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "frobnicate"));
    char *help = dmcp_server_options_help();
    assert_non_null(help);
    for (int i = 0; i < DMCP_LIMIT__COUNT; i++) {
        assert_non_null(strstr(help, dmcp_limit_name((dmcp_limit)i)));
    }
    assert_non_null(strstr(help, "--metrics-listen"));
    dmcp_free(help);
    dmcp_server_free(s);
}

/* 2,100 connections from 127.0.0.2 that never finish their headers, under the defaults: the
 * address gets its share, the rest are closed, and 127.0.0.1 is still served at once. */
static void test_one_address_gets_its_share(void **state)
{
    (void)state;
    enum { N = 2100 };
    unsigned port;
    dmcp_server *s = start(NULL, 0, false, &port);
    static int fds[N];
    int opened = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = dial_from(port, "127.0.0.2");
        if (fds[i] >= 0) {
            send_all(fds[i], "POST /mcp HTTP/1.1\r\nHost: 12", 28);
            opened++;
        }
    }
    assert_int_equal(opened, N);
    long t0 = now_ms();
    exchange x;
    raw_to(port, "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &x, 3000);
    long took = now_ms() - t0;
    printf("# served on 127.0.0.1 in %ld ms beside %d trickling connections\n", took, N);
    assert_int_equal(status_of(&x), 401);
    assert_true(took < 3000); /* without the per-address share it would never be served */
    /* The connections past the address's share were closed by the server. */
    int closed = 0;
    for (int i = 0; i < N; i++) {
        exchange y;
        read_answer(fds[i], &y, i < 50 ? 200 : 1);
        closed += y.closed;
        close(fds[i]);
    }
    printf("# %d of %d connections from 127.0.0.2 closed at once\n", closed, N);
    assert_true(closed >= N - (int)dmcp_server_limit(s, DMCP_LIMIT_MAX_CONNECTIONS_PER_IP));
    /* ...and every one of those refusals is counted. */
    char *m = NULL;
    assert_int_equal(dmcp_metrics_render(&m, NULL), DMCP_OK);
    const char *series = "dmcp_limit_refusals_total{limit=\"per_ip_connections\"} ";
    const char *at = strstr(m, series);
    assert_non_null(at);
    double refused = strtod(at + strlen(series), NULL);
    printf("# per_ip_connections refusals counted: %.0f\n", refused);
    assert_true(refused >= closed - 8); /* a few may close for other reasons (none expected) */
    dmcp_free(m);
    dmcp_server_free(s);
}

/* Waits until the server closes fd while `feed` bytes are sent every 200 ms; returns ms. */
static long closed_after(int fd, const char *feed, long max_ms)
{
    long t0 = now_ms();
    char buf[4096];
    while (now_ms() - t0 < max_ms) {
        if (feed != NULL) {
            send_all(fd, feed, strlen(feed));
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) > 0) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n <= 0) {
                return now_ms() - t0;
            }
        }
    }
    return -1;
}

static void test_deadlines_count_trickles(void **state)
{
    (void)state;
    limit_set ls[] = {
        {DMCP_LIMIT_IDLE_TIMEOUT, 1}, {DMCP_LIMIT_HEADER_TIMEOUT, 1}, {DMCP_LIMIT_BODY_TIMEOUT, 1}};
    unsigned port;
    dmcp_server *s = start(ls, 3, false, &port);
    /* Headers that keep coming, one line every 200 ms: never silent, still cut. */
    int fd = dial_from(port, NULL);
    send_all(fd, "GET /mcp HTTP/1.1\r\n", 19);
    long t = closed_after(fd, "X-Trickle: y\r\n", 9000);
    close(fd);
    printf("# trickled headers cut after %ld ms\n", t);
    assert_true(t > 0 && t < 6000); /* a 1 s deadline, swept each second; 9 s of trickle */
    /* A body that keeps coming. */
    fd = dial_from(port, NULL);
    const char *h =
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer alice\r\n" ACCEPT
        "Content-Length: 100000\r\n\r\n[";
    send_all(fd, h, strlen(h));
    t = closed_after(fd, "          ", 9000);
    close(fd);
    printf("# trickled body cut after %ld ms\n", t);
    assert_true(t > 0 && t < 6000);
    /* An idle connection, and one idle after a request. */
    fd = dial_from(port, NULL);
    t = closed_after(fd, NULL, 9000);
    close(fd);
    assert_true(t > 0 && t < 6000);
    fd = dial_from(port, NULL);
    const char *get = "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    send_all(fd, get, strlen(get));
    exchange x;
    read_answer(fd, &x, 300);
    assert_int_equal(status_of(&x), 401);
    t = closed_after(fd, NULL, 9000);
    close(fd);
    assert_true(t > 0 && t < 6000);
    dmcp_server_free(s);
}

static void test_sessions_per_principal(void **state)
{
    (void)state;
    limit_set ls[] = {{DMCP_LIMIT_MAX_SESSIONS_PER_PRINCIPAL, 2}, {DMCP_LIMIT_MAX_SESSIONS, 4}};
    unsigned port;
    dmcp_server *s = start(ls, 2, false, &port);
    char s1[128], s2[128], s3[128], s4[128], b1[128], c1[128], d1[128];
    exchange x;
    assert_int_equal(open_session(port, "alice", s1, &x), 200);
    sleep_ms(1100); /* last use is kept in seconds */
    assert_int_equal(open_session(port, "alice", s2, &x), 200);
    /* At the cap, the least recently used idle session makes room. */
    assert_int_equal(open_session(port, "alice", s3, &x), 200);
    post(port, "alice", s1, PING, &x);
    assert_int_equal(status_of(&x), 404);
    post(port, "alice", s2, PING, &x);
    assert_int_equal(status_of(&x), 200);
    /* Both sessions busy (a stream open on each): the next one is refused, with a wait. */
    int g2 = open_get(port, "alice", s2, &x);
    int g3 = open_get(port, "alice", s3, &x);
    assert_int_equal(open_session(port, "alice", s4, &x), 429);
    assert_true(has_header(&x, "Retry-After: "));
    /* Other principals are not affected... */
    assert_int_equal(open_session(port, "bob", b1, &x), 200);
    assert_int_equal(open_session(port, "carol", c1, &x), 200);
    /* ...until the table itself is full: 503, with a wait. */
    assert_int_equal(open_session(port, "dave", d1, &x), 503);
    assert_true(has_header(&x, "Retry-After: "));
    close(g2);
    close(g3);
    dmcp_server_free(s);
}

typedef struct slow_arg {
    unsigned port;
    const char *sid;
    exchange x;
} slow_arg;

static void *slow_call(void *p)
{
    slow_arg *a = p;
    post(a->port, "alice", a->sid,
         "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","
         "\"arguments\":{}}}",
         &a->x);
    return NULL;
}

static void test_inflight_per_session(void **state)
{
    (void)state;
    limit_set ls[] = {{DMCP_LIMIT_MAX_INFLIGHT_PER_SESSION, 1}};
    unsigned port;
    dmcp_server *s = start(ls, 1, false, &port);
    char sid[128], other[128];
    exchange x;
    assert_int_equal(open_session(port, "alice", sid, &x), 200);
    assert_int_equal(open_session(port, "alice", other, &x), 200);
    slow_arg a;
    memset(&a, 0, sizeof(a));
    a.port = port;
    a.sid = sid;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_call, &a), 0);
    for (int i = 0; i < 500 && atomic_load(&slow_running) == 0; i++) {
        sleep_ms(10); /* until the slow call is in its handler */
    }
    assert_int_equal(atomic_load(&slow_running), 1);
    post(port, "alice", sid, PING, &x);
    assert_int_equal(status_of(&x), 429);
    assert_true(has_header(&x, "Retry-After: 1"));
    post(port, "alice", other, PING, &x); /* another session of the same user is served */
    assert_int_equal(status_of(&x), 200);
    pthread_join(t, NULL);
    assert_int_equal(status_of(&a.x), 200);
    post(port, "alice", sid, PING, &x);
    assert_int_equal(status_of(&x), 200);
    dmcp_server_free(s);
}

static void test_rate_per_principal(void **state)
{
    (void)state;
    limit_set ls[] = {{DMCP_LIMIT_RATE, 1}, {DMCP_LIMIT_RATE_BURST, 3}};
    unsigned port;
    dmcp_server *s = start(ls, 2, false, &port);
    exchange x;
    int ok = 0, limited = 0;
    for (int i = 0; i < 6; i++) {
        raw_to(port,
               "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer alice\r\n"
               "Accept: text/event-stream\r\nConnection: close\r\n\r\n",
               &x, 2000);
        if (status_of(&x) == 429) {
            limited++;
            assert_true(has_header(&x, "Retry-After: 1"));
        } else {
            ok++; /* 400: no session id, but past the rate check */
        }
    }
    assert_int_equal(ok, 3);
    assert_int_equal(limited, 3);
    raw_to(port,
           "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bob\r\n"
           "Accept: text/event-stream\r\nConnection: close\r\n\r\n",
           &x, 2000);
    assert_int_equal(status_of(&x), 400); /* bob has a bucket of his own */
    sleep_ms(1100);
    raw_to(port,
           "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer alice\r\n"
           "Accept: text/event-stream\r\nConnection: close\r\n\r\n",
           &x, 2000);
    assert_int_equal(status_of(&x), 400); /* refilled */
    dmcp_server_free(s);
}

static void test_streams(void **state)
{
    (void)state;
    limit_set ls[] = {{DMCP_LIMIT_MAX_STREAMS_PER_SESSION, 1},
                      {DMCP_LIMIT_MAX_STREAMS_PER_PRINCIPAL, 2}};
    unsigned port;
    dmcp_server *s = start(ls, 2, false, &port);
    char a1[128], a2[128], a3[128];
    exchange x;
    assert_int_equal(open_session(port, "alice", a1, &x), 200);
    assert_int_equal(open_session(port, "alice", a2, &x), 200);
    assert_int_equal(open_session(port, "alice", a3, &x), 200);
    int g1 = open_get(port, "alice", a1, &x);
    assert_int_equal(status_of(&x), 200);
    /* The session's one stream is in use: a streamed call is answered buffered, not lost. */
    post(
        port, "alice", a1,
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"progress\","
        "\"arguments\":{},\"_meta\":{\"progressToken\":7}}}",
        &x);
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "progress done"));
    assert_non_null(strstr(x.data, "notifications/progress"));
    int g2 = open_get(port, "alice", a2, &x);
    assert_int_equal(status_of(&x), 200);
    /* The principal's two streams are in use. */
    int g3 = open_get(port, "alice", a3, &x);
    assert_int_equal(status_of(&x), 429);
    assert_true(has_header(&x, "Retry-After: 1"));
    close(g3);
    close(g1);
    close(g2);
    dmcp_server_free(s);
}

static void test_get_after_dropped_stream(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(NULL, 0, false, &port);
    char sid[128];
    exchange x;
    assert_int_equal(open_session(port, "alice", sid, &x), 200);
    int g = open_get(port, "alice", sid, &x);
    assert_int_equal(status_of(&x), 200);
    /* A live stream still excludes a second one. */
    int g2 = open_get(port, "alice", sid, &x);
    assert_int_equal(status_of(&x), 409);
    close(g2);
    /* The client drops it and asks again at once (the heartbeat is 15 s away). */
    close(g);
    sleep_ms(50);
    g = open_get(port, "alice", sid, &x);
    assert_int_equal(status_of(&x), 200);
    close(g);
    dmcp_server_free(s);
}

typedef struct stop_arg {
    dmcp_server *s;
} stop_arg;

static void *stopper(void *p)
{
    dmcp_server_stop(((stop_arg *)p)->s);
    return NULL;
}

static void test_stop_answers_arriving_requests(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(NULL, 0, true, &port);
    int probe = dial_from(port, NULL);
    assert_true(probe >= 0);
    int fd = dial_from(port, NULL);
    const char *head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    send_all(fd, head, strlen(head));
    sleep_ms(100);
    stop_arg a = {s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stopper, &a), 0);
    /* A second, established connection asks /readyz until it says "stopping": from then on
     * the stop is waiting for the first request. */
    bool stopping = false;
    for (int i = 0; i < 300 && !stopping; i++) {
        const char *rq = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        send_all(probe, rq, strlen(rq));
        exchange y;
        read_answer(probe, &y, 200);
        stopping = status_of(&y) == 503 && strstr(y.data, "stopping") != NULL;
        if (!stopping) {
            sleep_ms(10);
        }
    }
    close(probe);
    assert_true(stopping);
    char rest[512];
    snprintf(rest, sizeof(rest), ACCEPT "Content-Length: %zu\r\n\r\n%s", strlen(INIT), INIT);
    send_all(fd, rest, strlen(rest));
    exchange x;
    read_answer(fd, &x, 3000);
    close(fd);
    pthread_join(t, NULL);
    assert_int_equal(status_of(&x), 200);
    assert_true(has_header(&x, "Connection: close"));
    assert_true(x.closed);
    dmcp_server_free(s);
}

static int setup(void **state)
{
    (void)state;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
        rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_api),
        cmocka_unit_test(test_one_address_gets_its_share),
        cmocka_unit_test(test_deadlines_count_trickles),
        cmocka_unit_test(test_sessions_per_principal),
        cmocka_unit_test(test_inflight_per_session),
        cmocka_unit_test(test_rate_per_principal),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_get_after_dropped_stream),
        cmocka_unit_test(test_stop_answers_arriving_requests),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
