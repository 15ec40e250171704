/*
 * Forwarded requests answered later (dmcp_forwarder.start, dmcp_call_answer) over the real
 * HTTP transport, with one HTTP worker thread: a call the forwarder holds does not hold the
 * worker (other requests are answered meanwhile); the answer, an error object, notifications
 * sent before the answer, an answer given inside start, a call start declines (request()
 * serves it), cancellation, 2026-07-28 requests, and a stop with a call still out.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "mcp_test.h"
#include "raw_http.h"

#include "dmcp/forward.h"

static dmcp_call *held[4]; /* calls taken and not answered yet, by slot */
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int starts, requests;
static atomic_int answer_in_request; /* dmcp_call_answer's status on a call request() serves */

static json_t *text_result(const char *text)
{
    return json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text);
}

static dmcp_status fw_start(void *ud, dmcp_call *call, const char *method, const json_t *params)
{
    (void)ud;
    atomic_fetch_add(&starts, 1);
    const char *name = json_string_value(json_object_get(params, "name"));
    if (strcmp(method, "tools/call") != 0 || name == NULL || strcmp(name, "decline") == 0) {
        return DMCP_E_STATE; /* request() serves it */
    }
    if (strcmp(name, "inline") == 0) {
        assert_int_equal(dmcp_call_answer(call, DMCP_OK, text_result("inline"), NULL), DMCP_OK);
        return DMCP_OK;
    }
    if (strcmp(name, "notes") == 0) {
        json_t *n = json_pack("{s:s,s:s,s:{s:s,s:s}}", "jsonrpc", "2.0", "method",
                              "notifications/message", "params", "level", "info", "data", "first");
        assert_int_equal(dmcp_call_notify(call, n), DMCP_OK);
        json_decref(n);
    }
    int slot = (int)json_integer_value(json_object_get(json_object_get(params, "arguments"), "slot"));
    pthread_mutex_lock(&held_mu);
    held[slot] = call;
    pthread_mutex_unlock(&held_mu);
    return DMCP_OK;
}

static dmcp_status fw_request(void *ud, dmcp_call *call, const char *method, const json_t *params,
                              json_t **result, json_t **error)
{
    (void)ud;
    (void)method;
    (void)params;
    (void)error;
    atomic_fetch_add(&requests, 1);
    /* Not a call taken by start: answering it is refused. */
    atomic_store(&answer_in_request, (int)dmcp_call_answer(call, DMCP_OK, json_object(), NULL));
    *result = text_result("sync");
    return DMCP_OK;
}

static dmcp_server *srv;
static unsigned port;
static char sid[128];

/* Reads one response (head and Content-Length body) from a keep-alive connection. */
static void read_one(int fd, exchange *x, long timeout_ms)
{
    x->len = 0;
    long end = now_ms() + timeout_ms;
    for (;;) {
        x->data[x->len] = '\0';
        const char *head_end = strstr(x->data, "\r\n\r\n");
        const char *cl = strstr(x->data, "Content-Length: ");
        if (head_end != NULL && cl != NULL && cl < head_end &&
            x->len >= (size_t)(head_end + 4 - x->data) + strtoul(cl + 16, NULL, 10)) {
            return;
        }
        long left = end - now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            return;
        }
        ssize_t n = recv(fd, x->data + x->len, sizeof(x->data) - 1 - x->len, 0);
        if (n <= 0) {
            x->closed = true;
            return;
        }
        x->len += (size_t)n;
    }
}

static void send_post(int fd, const char *body)
{
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
                     "Accept: application/json, text/event-stream\r\n"
                     "MCP-Protocol-Version: 2025-11-25\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
                     port, sid[0] ? "Mcp-Session-Id: " : "", sid, sid[0] ? "\r\n" : "",
                     strlen(body), body);
    send_all(fd, req, (size_t)n);
}

static int call_on(int fd, int id, const char *tool, int slot)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
             "\"arguments\":{\"slot\":%d}}}",
             id, tool, slot);
    send_post(fd, body);
    return fd;
}

/* A 2026-07-28 tools/call of tool (no session), with extra params fields (or ""). */
static void send_post26(int fd, int id, const char *tool, int slot, const char *extra)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"_meta\":{"
             "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
             "\"io.modelcontextprotocol/clientCapabilities\":{}},\"name\":\"%s\","
             "\"arguments\":{\"slot\":%d}%s}}",
             id, tool, slot, extra);
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
                     "Accept: application/json, text/event-stream\r\n"
                     "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: %s\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     port, tool, strlen(body), body);
    send_all(fd, req, (size_t)n);
}

static dmcp_call *wait_held(int slot)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&held_mu);
        dmcp_call *c = held[slot];
        pthread_mutex_unlock(&held_mu);
        if (c != NULL) {
            return c;
        }
        sleep_ms(5);
    }
    fail_msg("the call of slot %d never reached start", slot);
    return NULL;
}

static dmcp_call *take_held(int slot)
{
    dmcp_call *c = wait_held(slot);
    pthread_mutex_lock(&held_mu);
    held[slot] = NULL;
    pthread_mutex_unlock(&held_mu);
    return c;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(dmcp_server_new("later", "1", &srv), DMCP_OK);
    dmcp_forwarder f = {0};
    f.methods = DMCP_FORWARD_TOOLS;
    f.request = fw_request;
    f.start = fw_start;
    assert_int_equal(dmcp_server_set_forwarder(srv, &f), DMCP_OK);
    assert_int_equal(dmcp_server_set_threads(srv, 1), DMCP_OK); /* one worker for everything */
    assert_int_equal(dmcp_server_set_listen(srv, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_shutdown_timeout(srv, 1), DMCP_OK);
    dmcp_error err;
    assert_int_equal(dmcp_server_start(srv, &err), DMCP_OK);
    port = dmcp_server_port(srv);
    int fd = dial_from(port, NULL);
    sid[0] = '\0';
    send_post(fd, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                  "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                  "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    exchange x;
    read_one(fd, &x, 5000);
    const char *h = strstr(x.data, "Mcp-Session-Id: ");
    assert_non_null(h);
    sscanf(h + 16, "%127[^\r]", sid);
    send_post(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    read_one(fd, &x, 5000);
    assert_int_equal(status_of(&x), 202);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_server_free(srv);
    return 0;
}

/* A held call does not hold the only worker; its answer arrives when given. */
static void test_held_call_frees_the_worker(void **state)
{
    (void)state;
    int a = call_on(dial_from(port, NULL), 1, "wait", 0);
    dmcp_call *c = wait_held(0);
    assert_non_null(c);
    /* Meanwhile, on another connection: an answer given in start, and one request() gives. */
    int b = dial_from(port, NULL);
    exchange x;
    call_on(b, 2, "inline", 0);
    read_one(b, &x, 3000);
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "\"text\":\"inline\""));
    int before = atomic_load(&requests);
    call_on(b, 3, "decline", 0);
    read_one(b, &x, 3000);
    assert_non_null(strstr(x.data, "\"text\":\"sync\""));
    assert_int_equal(atomic_load(&requests), before + 1);
    assert_int_equal(atomic_load(&answer_in_request), DMCP_E_STATE);
    close(b);
    /* Nothing on the first connection yet. */
    read_one(a, &x, 200);
    assert_int_equal(x.len, 0);
    c = take_held(0);
    assert_int_equal(dmcp_call_answer(c, DMCP_OK, text_result("late"), NULL), DMCP_OK);
    read_one(a, &x, 3000);
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "\"id\":1"));
    assert_non_null(strstr(x.data, "\"text\":\"late\""));
    /* Keep-alive: the connection serves the next request. */
    call_on(a, 4, "inline", 0);
    read_one(a, &x, 3000);
    assert_non_null(strstr(x.data, "\"id\":4"));
    close(a);
}

/* An error object comes back as the JSON-RPC error; notifications sent before the answer go
 * first (the answer is then an SSE body). */
static void test_error_and_notes(void **state)
{
    (void)state;
    int a = call_on(dial_from(port, NULL), 5, "wait", 1);
    dmcp_call *c = take_held(1);
    json_t *e = json_pack("{s:i,s:s,s:{s:i}}", "code", -32001, "message", "Upstream timed out",
                          "data", "status", 504);
    assert_int_equal(dmcp_call_answer(c, DMCP_E_TIMEOUT, NULL, e), DMCP_OK);
    exchange x;
    read_one(a, &x, 3000);
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "\"code\":-32001"));
    assert_non_null(strstr(x.data, "Upstream timed out"));
    assert_non_null(strstr(x.data, "\"status\":504"));
    call_on(a, 6, "notes", 2);
    c = take_held(2);
    assert_int_equal(dmcp_call_answer(c, DMCP_OK, text_result("after"), NULL), DMCP_OK);
    read_one(a, &x, 3000);
    assert_non_null(strstr(x.data, "text/event-stream"));
    const char *note = strstr(x.data, "\"data\":\"first\"");
    const char *ans = strstr(x.data, "\"text\":\"after\"");
    assert_non_null(note);
    assert_non_null(ans);
    assert_true(note < ans);
    close(a);
}

/* notifications/cancelled reaches a held call; a call not taken cannot be answered. */
static void test_cancel_reaches_a_held_call(void **state)
{
    (void)state;
    int a = call_on(dial_from(port, NULL), 7, "wait", 3);
    dmcp_call *c = wait_held(3);
    assert_false(dmcp_call_is_cancelled(c));
    int b = dial_from(port, NULL);
    send_post(b, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                 "\"params\":{\"requestId\":7}}");
    exchange x;
    read_one(b, &x, 3000);
    assert_int_equal(status_of(&x), 202);
    close(b);
    assert_true(dmcp_call_is_cancelled(c));
    c = take_held(3);
    assert_int_equal(dmcp_call_answer(c, DMCP_OK, text_result("x"), NULL), DMCP_OK);
    read_one(a, &x, 3000);
    assert_int_equal(status_of(&x), 200);
    close(a);
    assert_int_equal(dmcp_call_answer(NULL, DMCP_OK, NULL, NULL), DMCP_E_STATE);
}

/* A stop answers the call still out itself; the forwarder's late answer is dropped. */
static void test_stop_with_a_call_out(void **state)
{
    (void)state;
    int a = call_on(dial_from(port, NULL), 8, "wait", 0);
    dmcp_call *c = take_held(0);
    long t0 = now_ms();
    dmcp_server_stop(srv);
    assert_true(now_ms() - t0 < 5000);
    exchange x;
    read_one(a, &x, 1000);
    /* The stop's own answer reached the client before libmicrohttpd stopped. */
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "Server stopping"));
    assert_non_null(strstr(x.data, "\"id\":8"));
    close(a);
    assert_true(dmcp_call_is_cancelled(c));
    assert_int_equal(dmcp_call_answer(c, DMCP_OK, text_result("too late"), NULL), DMCP_OK);
}

/* 2026-07-28 requests (no session) are offered too, and answered with the era's rules. */
static void test_era26(void **state)
{
    (void)state;
    int a = dial_from(port, NULL);
    send_post26(a, 11, "wait", 2, "");
    dmcp_call *c = wait_held(2);
    assert_true(dmcp_call_is_stateless_revision(c));
    assert_null(dmcp_call_session_id(c));
    exchange x;
    int b = dial_from(port, NULL); /* the worker is free meanwhile */
    send_post26(b, 12, "decline", 0, "");
    read_one(b, &x, 3000);
    assert_non_null(strstr(x.data, "\"text\":\"sync\""));
    assert_non_null(strstr(x.data, "\"resultType\":\"complete\""));
    /* A requestState that fails its check: refused before start is asked. */
    int before = atomic_load(&starts);
    send_post26(b, 13, "wait", 3, ",\"requestState\":\"forged\"");
    read_one(b, &x, 3000);
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "\"code\":-32602"));
    assert_int_equal(atomic_load(&starts), before);
    close(b);
    c = take_held(2);
    assert_int_equal(dmcp_call_answer(c, DMCP_OK, text_result("late26"), NULL), DMCP_OK);
    read_one(a, &x, 3000);
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "\"id\":11"));
    assert_non_null(strstr(x.data, "\"text\":\"late26\""));
    assert_non_null(strstr(x.data, "\"resultType\":\"complete\""));
    close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_call_frees_the_worker),
        cmocka_unit_test(test_error_and_notes),
        cmocka_unit_test(test_cancel_reaches_a_held_call),
        cmocka_unit_test(test_era26),
        cmocka_unit_test(test_stop_with_a_call_out),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
