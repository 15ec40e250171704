/*
 * Request framing and refusal before the body, over raw loopback sockets (no HTTP client
 * library in between, so the bytes are exactly what an attacker sends):
 *  - request smuggling (RFC 9112 §6.1, §6.3): two Content-Length values, Content-Length with
 *    Transfer-Encoding, transfer codings we do not implement; each gets exactly one response
 *    (400 or 501) and a closed connection, and the request hidden after it never runs;
 *  - refusal before reading: a request that announces a body is checked (Host, path, method,
 *    credentials, POST headers) when its headers end, answered without its body, and closed;
 *    500 such connections leave the server's memory flat;
 *  - the server-wide budget for buffered body bytes (503 with Retry-After past it).
 * And the framing judge itself, dmcp__http_framing(), value by value.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mcp_test.h"
#include "raw_http.h"

static dmcp_server *srv;
static unsigned port;
static atomic_int authn_calls;
static atomic_int deletes_seen; /* DELETE requests that reached the authorizer */

static dmcp_status authenticate(void *ud, const dmcp_http_request *req, dmcp_principal **out,
                                dmcp_http_response **refusal)
{
    (void)ud;
    atomic_fetch_add(&authn_calls, 1);
    if (strcmp(dmcp_http_request_method(req), "DELETE") == 0) {
        atomic_fetch_add(&deletes_seen, 1);
    }
    const char *h = dmcp_http_request_header(req, "Authorization", 0);
    if (h != NULL && strcmp(h, "Bearer alice") == 0) {
        assert_int_equal(dmcp_principal_new("iss|alice", out), DMCP_OK);
        return DMCP_OK;
    }
    assert_int_equal(dmcp_http_response_new(401, refusal), DMCP_OK);
    dmcp_http_response_add_header(*refusal, "WWW-Authenticate", "Bearer");
    return DMCP_E_INVALID_TOKEN;
}

static dmcp_status t_echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)ud;
    return dmcp_result_add_text(res, json_string_value(json_object_get(args, "text")));
}

static int setup(void **state)
{
    (void)state;
    /* Both ends of 500 connections live in this process. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    dmcp_error err;
    assert_int_equal(dmcp_server_new("framing", "1", &srv), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("echo", t_echo, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    dmcp_authorizer *az;
    assert_int_equal(dmcp_authorizer_new(NULL, NULL, &az), DMCP_OK);
    dmcp_authorizer_set_authenticate(az, authenticate);
    assert_int_equal(dmcp_server_set_authorizer(srv, az), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(srv, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_threads(srv, 2), DMCP_OK);
    assert_int_equal(dmcp_server_set_max_buffered(srv, 1), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_max_buffered(srv, 3 * 1024 * 1024), DMCP_OK);
    assert_int_equal(dmcp_server_start(srv, &err), DMCP_OK);
    port = dmcp_server_port(srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_server_free(srv);
    return 0;
}

static int dial(void)
{
    int fd = dial_from(port, NULL);
    assert_true(fd >= 0);
    return fd;
}

static void raw(const char *req, exchange *x, long timeout_ms)
{
    raw_to(port, req, x, timeout_ms);
}

#define PING "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"
#define HEADERS                                                                                    \
    "Host: 127.0.0.1\r\nAuthorization: Bearer alice\r\nAccept: application/json, "                 \
    "text/event-stream\r\nContent-Type: application/json\r\n"
/* A complete request hidden where a second request would start if the framing were misread. */
#define SMUGGLED "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer alice\r\n\r\n"

/* Exactly one response with this status, and the connection closed promptly after it. */
static void assert_one_and_closed(const exchange *x, int status)
{
    if (status_of(x) != status || responses(x) != 1 || !x->closed) {
        printf("# the server answered:\n%s\n", x->data);
    }
    assert_int_equal(status_of(x), status);
    assert_int_equal(responses(x), 1);
    assert_true(x->closed);
    assert_true(has_header(x, "Connection: close"));
}

/* ---------------------------------------------------------------------------------------- */
/* Smuggling                                                                                */
/* ---------------------------------------------------------------------------------------- */

static void test_two_content_lengths(void **state)
{
    (void)state;
    char req[1024];
    /* The first value frames the ping, the second would swallow the DELETE: either way one
     * party reads a request the other does not. */
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\n" HEADERS "Content-Length: %zu\r\nContent-Length: %zu\r\n"
             "\r\n" PING SMUGGLED,
             strlen(PING), strlen(PING) + strlen(SMUGGLED));
    int before = atomic_load(&deletes_seen);
    exchange x;
    raw(req, &x, 3000);
    assert_one_and_closed(&x, 400);
    assert_int_equal(atomic_load(&deletes_seen), before);

    /* The same within one field ("5, 7"). libmicrohttpd refuses this one itself before our
     * handler runs (its 0.9.75 error page repeats its header block, so no response count
     * here): 400, closed, and the hidden request never runs. */
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\n" HEADERS "Content-Length: %zu, %zu\r\n\r\n" PING SMUGGLED,
             strlen(PING), strlen(PING) + strlen(SMUGGLED));
    raw(req, &x, 3000);
    assert_int_equal(status_of(&x), 400);
    assert_true(x.closed);
    assert_int_equal(atomic_load(&deletes_seen), before);
}

static void test_equal_content_lengths_are_one_length(void **state)
{
    (void)state;
    char req[1024];
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\n" HEADERS "Content-Length: %zu\r\nContent-Length: %zu\r\n"
             "\r\n" PING,
             strlen(PING), strlen(PING));
    exchange x;
    raw(req, &x, 500);
    /* Without a session this stateful server answers 400 "Mcp-Session-Id required": the body
     * was read and judged, not refused by framing. */
    assert_int_equal(status_of(&x), 400);
    assert_non_null(strstr(x.data, "Mcp-Session-Id"));
}

static void test_content_length_with_chunked(void **state)
{
    (void)state;
    char req[1024];
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\n" HEADERS "Content-Length: 4\r\n"
             "Transfer-Encoding: chunked\r\n\r\n%zx\r\n" PING "\r\n0\r\n\r\n" SMUGGLED,
             strlen(PING));
    int before = atomic_load(&deletes_seen);
    exchange x;
    raw(req, &x, 3000);
    assert_one_and_closed(&x, 400);
    assert_int_equal(atomic_load(&deletes_seen), before);
}

static void test_unknown_transfer_codings(void **state)
{
    (void)state;
    static const char *const te[] = {
        "Transfer-Encoding: xchunked\r\n",
        "Transfer-Encoding: chunked, identity\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: identity\r\n",
    };
    for (size_t i = 0; i < sizeof(te) / sizeof(te[0]); i++) {
        char req[1024];
        snprintf(req, sizeof(req), "POST /mcp HTTP/1.1\r\n" HEADERS "%s\r\n5\r\nhello\r\n0\r\n\r\n",
                 te[i]);
        exchange x;
        long t0 = now_ms();
        raw(req, &x, 3000);
        assert_one_and_closed(&x, 501);
        assert_true(now_ms() - t0 < 2000); /* answered, not left to the idle timeout */
    }
    exchange x;
    raw("POST /mcp HTTP/1.1\r\n" HEADERS "Transfer-Encoding: ,\r\n\r\n", &x, 3000);
    assert_one_and_closed(&x, 400);
}

static void test_chunked_alone_is_served(void **state)
{
    (void)state;
    char req[1024];
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\n" HEADERS "Transfer-Encoding: chunked\r\n\r\n%zx\r\n" PING
             "\r\n0\r\n\r\n",
             strlen(PING));
    exchange x;
    raw(req, &x, 500);
    assert_int_equal(status_of(&x), 400); /* read and judged: no session id */
    assert_non_null(strstr(x.data, "Mcp-Session-Id"));
    assert_false(has_header(&x, "Connection: close"));
}

/* ---------------------------------------------------------------------------------------- */
/* Refusal before the body                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* Headers announcing a 3 MB body, none of it sent: the refusal must come anyway. */
static void announce(const char *first_line, const char *headers, exchange *x)
{
    char req[2048];
    snprintf(req, sizeof(req), "%s\r\n%sContent-Length: 3000000\r\n\r\n", first_line, headers);
    raw(req, x, 3000);
}

static void test_refused_before_the_body(void **state)
{
    (void)state;
    exchange x;
    /* No credentials: 401 at once. */
    announce("POST /mcp HTTP/1.1",
             "Host: 127.0.0.1\r\nAccept: application/json, text/event-stream\r\nContent-Type: "
             "application/json\r\n",
             &x);
    assert_one_and_closed(&x, 401);
    assert_true(has_header(&x, "WWW-Authenticate: Bearer"));
    assert_true(x.first_ms < 1000);
    /* A bad Host, another path, a method the endpoint does not serve. */
    announce("POST /mcp HTTP/1.1",
             "Host: evil.example\r\nAuthorization: Bearer alice\r\nContent-Type: "
             "application/json\r\n",
             &x);
    assert_one_and_closed(&x, 403);
    announce("POST /elsewhere HTTP/1.1", HEADERS, &x);
    assert_one_and_closed(&x, 404);
    announce("PUT /mcp HTTP/1.1", HEADERS, &x);
    assert_one_and_closed(&x, 405);
    /* Authenticated, but the POST headers are wrong. */
    announce("POST /mcp HTTP/1.1",
             "Host: 127.0.0.1\r\nAuthorization: Bearer alice\r\nAccept: application/json\r\n"
             "Content-Type: application/json\r\n",
             &x);
    assert_one_and_closed(&x, 406);
    announce("POST /mcp HTTP/1.1",
             "Host: 127.0.0.1\r\nAuthorization: Bearer alice\r\nAccept: application/json, "
             "text/event-stream\r\nContent-Type: text/plain\r\n",
             &x);
    assert_one_and_closed(&x, 415);
    announce("POST /mcp HTTP/1.1", HEADERS "MCP-Protocol-Version: 1999-01-01\r\n", &x);
    assert_one_and_closed(&x, 400);
    /* A GET or DELETE carries no body. */
    announce("DELETE /mcp HTTP/1.1", HEADERS "Mcp-Session-Id: x\r\n", &x);
    assert_one_and_closed(&x, 400);
    /* Above the body cap: 413 before anything else is read. */
    exchange big;
    raw("POST /mcp HTTP/1.1\r\n" HEADERS "Content-Length: 5000000\r\n\r\n", &big, 3000);
    assert_one_and_closed(&big, 413);
}

static void test_bodiless_refusal_keeps_the_connection(void **state)
{
    (void)state;
    /* A refusal of a request without a body needs no close: the next request on the same
     * connection is served. */
    int fd = dial();
    const char *two = "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                      "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    send_all(fd, two, strlen(two));
    exchange x;
    read_answer(fd, &x, 3000);
    close(fd);
    assert_int_equal(responses(&x), 2);
    assert_int_equal(status_of(&x), 401);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    assert_non_null(f);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
            break;
        }
    }
    fclose(f);
    return kib;
}

/* 500 unauthenticated connections each announce 3 MB and push 256 KiB of it: the server
 * refuses every one at its headers and holds none of the bytes. */
static void test_unauthenticated_bodies_are_not_buffered(void **state)
{
    (void)state;
    enum { CONNS = 500, PUSH = 256 * 1024 };
    static int fds[CONNS];
    char *chunk = calloc(1, PUSH);
    assert_non_null(chunk);
    memset(chunk, '[', PUSH);
    long before = rss_kib();
    int answered = 0;
    for (int i = 0; i < CONNS; i++) {
        fds[i] = dial();
        const char *h = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json, "
                        "text/event-stream\r\nContent-Type: application/json\r\n"
                        "Content-Length: 3000000\r\n\r\n";
        send_all(fds[i], h, strlen(h));
        /* Non-blocking push: a server that reads takes it all, one that refused takes none. */
        struct timeval tv = {0, 20000};
        setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        send_all(fds[i], chunk, PUSH);
    }
    long during = rss_kib();
    for (int i = 0; i < CONNS; i++) {
        exchange x;
        read_answer(fds[i], &x, 2000);
        answered += status_of(&x) == 401;
        close(fds[i]);
    }
    free(chunk);
    /* 500 x 256 KiB would be 125 MiB if the bodies were buffered; allow 16 MiB of noise. */
    printf("# RSS before %ld KiB, with 500 connections %ld KiB\n", before, during);
    assert_true(during - before < 16 * 1024);
    assert_int_equal(answered, CONNS);
}

/* ---------------------------------------------------------------------------------------- */
/* Server-wide buffer budget (3 MiB in this server)                                         */
/* ---------------------------------------------------------------------------------------- */

static void test_buffer_budget(void **state)
{
    (void)state;
    /* Two authenticated uploads of 2 MB each cannot be held at once: the second is told to
     * come back, before it sends anything. */
    const char *h = "POST /mcp HTTP/1.1\r\n" HEADERS "Content-Length: 2000000\r\n\r\n";
    int a = dial();
    send_all(a, h, strlen(h));
    send_all(a, "[", 1);
    sleep_ms(200);
    exchange x;
    raw(h, &x, 3000);
    assert_one_and_closed(&x, 503);
    assert_true(has_header(&x, "Retry-After: 1"));
    close(a);
    /* Once the first connection is gone its reservation is returned. */
    long deadline = now_ms() + 3000;
    char req[1024];
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\n" HEADERS
             "Content-Length: %zu\r\nConnection: close\r\n\r\n" PING,
             strlen(PING));
    do {
        sleep_ms(50);
        raw(req, &x, 3000);
    } while (status_of(&x) == 503 && now_ms() < deadline);
    assert_int_equal(status_of(&x), 400); /* judged: no session id */
}

/* ---------------------------------------------------------------------------------------- */
/* The framing judge                                                                        */
/* ---------------------------------------------------------------------------------------- */

static dmcp__framing judge(const char *cl1, const char *cl2, const char *te1, const char *te2,
                           uint64_t *len, bool *chunked)
{
    const char *cl[2] = {cl1, cl2}, *te[2] = {te1, te2};
    size_t ncl = cl1 == NULL ? 0 : (cl2 == NULL ? 1 : 2);
    size_t nte = te1 == NULL ? 0 : (te2 == NULL ? 1 : 2);
    return dmcp__http_framing(cl, ncl, te, nte, len, chunked);
}

static void test_framing_judge(void **state)
{
    (void)state;
    uint64_t len;
    bool ch;
    assert_int_equal(judge(NULL, NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_OK);
    assert_true(len == 0 && !ch);
    assert_int_equal(judge("42", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_OK);
    assert_true(len == 42);
    assert_int_equal(judge("42", "42", NULL, NULL, &len, &ch), DMCP__FRAMING_OK);
    assert_int_equal(judge(" 42 ,42", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_OK);
    assert_true(len == 42);
    assert_int_equal(judge("0", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_OK);
    assert_int_equal(judge("42", "43", NULL, NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge("42, 43", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge("", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge("42,", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge("+42", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge("-1", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge("0x10", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge("99999999999999999999", NULL, NULL, NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge(NULL, NULL, "chunked", NULL, &len, &ch), DMCP__FRAMING_OK);
    assert_true(ch);
    assert_int_equal(judge(NULL, NULL, " Chunked ", NULL, &len, &ch), DMCP__FRAMING_OK);
    assert_int_equal(judge("5", NULL, "chunked", NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge(NULL, NULL, "chunked", "chunked", &len, &ch), DMCP__FRAMING_UNSUPPORTED);
    assert_int_equal(judge(NULL, NULL, "xchunked", NULL, &len, &ch), DMCP__FRAMING_UNSUPPORTED);
    assert_int_equal(judge(NULL, NULL, "chunked;x=1", NULL, &len, &ch), DMCP__FRAMING_UNSUPPORTED);
    assert_int_equal(judge(NULL, NULL, "gzip, chunked", NULL, &len, &ch),
                     DMCP__FRAMING_UNSUPPORTED);
    assert_int_equal(judge(NULL, NULL, "", NULL, &len, &ch), DMCP__FRAMING_BAD);
    assert_int_equal(judge(NULL, NULL, " , ", NULL, &len, &ch), DMCP__FRAMING_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing_judge),
        cmocka_unit_test(test_two_content_lengths),
        cmocka_unit_test(test_equal_content_lengths_are_one_length),
        cmocka_unit_test(test_content_length_with_chunked),
        cmocka_unit_test(test_unknown_transfer_codings),
        cmocka_unit_test(test_chunked_alone_is_served),
        cmocka_unit_test(test_refused_before_the_body),
        cmocka_unit_test(test_bodiless_refusal_keeps_the_connection),
        cmocka_unit_test(test_unauthenticated_bodies_are_not_buffered),
        cmocka_unit_test(test_buffer_budget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
