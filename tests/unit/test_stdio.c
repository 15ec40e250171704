/* stdio transport, driven through pipes: framing, lifecycle, notifications, cancellation,
 * bad input, EOF and SIGTERM; and the example server's --stdio mode as a process. And
 * 2026-07-28 on the same pipe: stateless requests by their _meta (discover, resultType, the
 * _meta errors), input-required results with a sealed requestState, subscriptions/listen
 * (acknowledged, filtered, tagged, ended by notifications/cancelled), cancellation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcp_test.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static dmcp_status t_echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)ud;
    return dmcp_result_add_text(res, json_string_value(json_object_get(args, "text")));
}

static dmcp_status t_progress(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    dmcp_call_progress(call, 1, 2, NULL);
    dmcp_call_progress(call, 2, 2, NULL);
    return dmcp_result_add_text(res, "p");
}

static dmcp_status t_wait(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    for (int i = 0; i < 300; i++) {
        if (dmcp_call_is_cancelled(call)) {
            return dmcp_result_add_text(res, "cancelled");
        }
        sleep_ms(10);
    }
    return dmcp_result_add_text(res, "timeout");
}

/* Holds until cancelled (at most 60 s): keeps a thread busy. holds_running counts the
 * handlers that have started (a worker may exist before it has taken its call), hold_ran
 * which ids did. */
static atomic_int holds_running;
static atomic_bool hold_ran[64];
static dmcp_status t_hold(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    json_int_t id = json_integer_value(dmcp_call_request_id(call));
    if (id > 0 && id < 64) {
        atomic_store(&hold_ran[id], true);
    }
    atomic_fetch_add(&holds_running, 1);
    for (int i = 0; i < 6000 && !dmcp_call_is_cancelled(call); i++) {
        sleep_ms(10);
    }
    return dmcp_result_add_text(res, dmcp_call_is_cancelled(call) ? "cancelled" : "timeout");
}

/* Asks for a name (elicitation): 2025 a request on the pipe, 2026 an input-required result. */
static dmcp_status t_ask(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    json_t *schema = json_pack("{s:s,s:{s:{s:s}}}", "type", "object", "properties", "name",
                               "type", "string");
    json_t *answer = NULL;
    dmcp_status st = dmcp_call_elicit(call, "name?", schema, 5000, &answer);
    json_decref(schema);
    if (st == DMCP_OK) {
        st = dmcp_result_add_text(
            res, json_string_value(json_object_get(json_object_get(answer, "content"), "name")));
    }
    json_decref(answer);
    return st;
}

/* The thread that called dmcp_server_run_stdio (the first holder of the reader role). */
static pthread_t reader_thread;

/* Says which thread ran it: "reader" (the one that called dmcp_server_run_stdio) or "other". */
static dmcp_status t_where(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    return dmcp_result_add_text(res, pthread_equal(pthread_self(), reader_thread) ? "reader"
                                                                                  : "other");
}

typedef struct harness {
    dmcp_server *srv;
    int to_srv[2], from_srv[2];
    pthread_t th;
    dmcp_status rc;
    char buf[1 << 16];
    size_t len;
} harness;

static void *run(void *p)
{
    harness *h = p;
    h->rc = dmcp_server_run_stdio(h->srv, h->to_srv[0], h->from_srv[1], NULL);
    return NULL;
}

static void start(harness *h)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(dmcp_server_new("stdio", "1", &h->srv), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("echo", t_echo, NULL, &t), DMCP_OK);
    assert_int_equal(
        dmcp_tool_set_input_schema_json(
            t, "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}"),
        DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(h->srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("progress", t_progress, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(h->srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("wait", t_wait, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(h->srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("ask", t_ask, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(h->srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("hold", t_hold, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(h->srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("where", t_where, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(h->srv, t), DMCP_OK);
    dmcp_resource *r;
    assert_int_equal(dmcp_resource_new("test://r", "r", &r), DMCP_OK);
    assert_int_equal(dmcp_resource_set_text(r, "x"), DMCP_OK);
    assert_int_equal(dmcp_server_add_resource(h->srv, r), DMCP_OK);
    assert_int_equal(dmcp_server_set_list_changed(h->srv, DMCP_LIST_TOOLS), DMCP_OK);
    assert_int_equal(pipe(h->to_srv), 0);
    assert_int_equal(pipe(h->from_srv), 0);
    assert_int_equal(pthread_create(&h->th, NULL, run, h), 0);
    reader_thread = h->th;
}

static void send_line(harness *h, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(write(h->to_srv[1], s, n), (ssize_t)n);
    assert_int_equal(write(h->to_srv[1], "\n", 1), 1);
}

/* Reads one output line (bounded wait: 30 s, for a loaded CI machine); returns a parsed
 * message. */
static json_t *read_msg(harness *h)
{
    for (int spins = 0; spins < 3000; spins++) {
        char *nl = memchr(h->buf, '\n', h->len);
        if (nl != NULL) {
            size_t l = (size_t)(nl - h->buf);
            json_t *v = json_loadb(h->buf, l, 0, NULL);
            if (v == NULL) {
                fail_msg("stdout carried a non-JSON line: %.*s", (int)l, h->buf);
            }
            memmove(h->buf, nl + 1, h->len - l - 1);
            h->len -= l + 1;
            return v;
        }
        struct pollfd p = {h->from_srv[0], POLLIN, 0};
        if (poll(&p, 1, 10) > 0) {
            ssize_t n = read(h->from_srv[0], h->buf + h->len, sizeof(h->buf) - h->len);
            assert_true(n > 0);
            h->len += (size_t)n;
        }
    }
    fail_msg("no output line");
    return NULL;
}

static void finish(harness *h)
{
    close(h->to_srv[1]); /* EOF */
    pthread_join(h->th, NULL);
    assert_int_equal(h->rc, DMCP_OK);
    /* Nothing else was written. */
    char extra[16];
    close(h->from_srv[1]);
    assert_int_equal(read(h->from_srv[0], extra, sizeof(extra)), 0);
    close(h->from_srv[0]);
    close(h->to_srv[0]);
    dmcp_server_free(h->srv);
}

static void test_session_flow(void **state)
{
    (void)state;
    harness h;
    start(&h);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\"}");
    json_t *m = read_msg(&h);
    assert_int_equal(mt_error_code(m), DMCP_JSONRPC_INVALID_REQUEST);
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                  "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}");
    m = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(mt_result(m), "protocolVersion")),
                        "2025-06-18");
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"2\",\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"echo\",\"arguments\":{\"text\":\"line\\nbreak\"}}}");
    m = read_msg(&h);
    assert_true(json_is_string(json_object_get(m, "id")));
    assert_string_equal(mt_text(m), "line\nbreak");
    json_decref(m);
    /* Garbage, CRLF, blank lines, batches (refused after 06-18). */
    send_line(&h, "this is not json");
    m = read_msg(&h);
    assert_int_equal(mt_error_code(m), DMCP_JSONRPC_PARSE_ERROR);
    json_decref(m);
    send_line(&h, "");
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\r");
    m = read_msg(&h);
    assert_non_null(mt_result(m));
    json_decref(m);
    send_line(&h, "[{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}]");
    m = read_msg(&h);
    assert_int_equal(mt_error_code(m), DMCP_JSONRPC_INVALID_REQUEST);
    json_decref(m);
    /* Progress notifications precede the result on stdout. */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"progress\",\"_meta\":{\"progressToken\":7}}}");
    for (int i = 1; i <= 2; i++) {
        m = read_msg(&h);
        assert_string_equal(json_string_value(json_object_get(m, "method")),
                            "notifications/progress");
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(m, "params"), "progressToken")), 7);
        json_decref(m);
    }
    m = read_msg(&h);
    assert_string_equal(mt_text(m), "p");
    json_decref(m);
    /* Cancellation reaches a running handler. */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"wait\"}}");
    sleep_ms(50);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                  "{\"requestId\":6}}");
    m = read_msg(&h);
    assert_string_equal(mt_text(m), "cancelled");
    json_decref(m);
    finish(&h);
}

static void test_overlong_line(void **state)
{
    (void)state;
    harness h;
    start(&h);
    /* Larger than the 4 MiB cap: one parse error, then service continues. Written from a
     * thread-free loop with the reader draining, since the pipe buffer is small. */
    size_t big = DMCP_MAX_BODY_BYTES + 100;
    char *b = malloc(big);
    memset(b, 'x', big);
    int fl = fcntl(h.to_srv[1], F_GETFL);
    fcntl(h.to_srv[1], F_SETFL, fl | O_NONBLOCK);
    size_t off = 0;
    for (int spins = 0; off < big && spins < 100000; spins++) {
        ssize_t n = write(h.to_srv[1], b + off, big - off);
        if (n > 0) {
            off += (size_t)n;
        } else {
            sleep_ms(1);
        }
    }
    fcntl(h.to_srv[1], F_SETFL, fl);
    assert_int_equal(off, big);
    free(b);
    send_line(&h, "");
    json_t *m = read_msg(&h);
    assert_int_equal(mt_error_code(m), DMCP_JSONRPC_PARSE_ERROR);
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    m = read_msg(&h);
    assert_non_null(mt_result(m));
    json_decref(m);
    finish(&h);
}

static void test_sigterm(void **state)
{
    (void)state;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old); /* never kill the test process */
    harness h;
    start(&h);
    sleep_ms(100);
    pthread_kill(h.th, SIGTERM);
    pthread_join(h.th, NULL);
    assert_int_equal(h.rc, DMCP_OK);
    close(h.to_srv[1]);
    close(h.to_srv[0]);
    close(h.from_srv[0]);
    close(h.from_srv[1]);
    dmcp_server_free(h.srv);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The example server as a process: --stdio, EOF ends it with status 0. */
static void test_echo_server_stdio(void **state)
{
    (void)state;
    const char *bin = getenv("DMCP_BIN_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/mcp-echo-server", bin != NULL ? bin : "");
    if (bin == NULL || access(path, X_OK) != 0) {
        skip();
    }
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(path, path, "--stdio", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    const char *script =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
        "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
        "\"arguments\":{\"text\":\"from stdio\"}}}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\","
        "\"arguments\":{}}}\n";
    assert_int_equal(write(in[1], script, strlen(script)), (ssize_t)strlen(script));
    close(in[1]);
    char buf[8192];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(out[0], buf + len, sizeof(buf) - 1 - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Three answers, each one JSON line; the echo and whoami results in them. */
    assert_non_null(strstr(buf, "\"text\":\"from stdio\""));
    assert_non_null(strstr(buf, "\"structuredContent\":{\"user_id\":null,\"scopes\":[],"
                                "\"client_id\":null}"));
    int lines = 0;
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_t *v = json_loads(line, 0, NULL);
        assert_non_null(v);
        json_decref(v);
        lines++;
    }
    assert_int_equal(lines, 3);
}


/* ---- 2026-07-28 on the same pipe ---- */

#define META26                                                                                    \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                    \
    "\"io.modelcontextprotocol/clientCapabilities\":{\"elicitation\":{\"form\":{}}}}"

static const char *result_type(const json_t *m)
{
    return json_string_value(json_object_get(mt_result(m), "resultType"));
}

static void test_era26_requests(void **state)
{
    (void)state;
    harness h;
    start(&h);
    /* No initialize: a 2026 request stands alone. */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{" META26
                  "}}");
    json_t *m = read_msg(&h);
    assert_string_equal(result_type(m), "complete");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(mt_result(m), "supportedVersions"), 0)),
        "2026-07-28");
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                  "\"echo\",\"arguments\":{\"text\":\"hi\"}," META26 "}}");
    m = read_msg(&h);
    assert_string_equal(mt_text(m), "hi");
    assert_string_equal(result_type(m), "complete");
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{" META26 "}}");
    m = read_msg(&h);
    assert_true(json_is_integer(json_object_get(mt_result(m), "ttlMs")));
    assert_non_null(json_object_get(mt_result(m), "cacheScope"));
    json_decref(m);
    /* The _meta rules, without headers: unknown method, unsupported version, missing keys. */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"params\":{" META26 "}}");
    m = read_msg(&h);
    assert_int_equal(mt_error_code(m), DMCP_JSONRPC_METHOD_NOT_FOUND);
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                  "\"io.modelcontextprotocol/protocolVersion\":\"2030-01-01\","
                  "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    m = read_msg(&h);
    assert_int_equal(mt_error_code(m), -32022);
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                  "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");
    m = read_msg(&h);
    assert_int_equal(mt_error_code(m), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(m);
    /* The 2025 session on the same pipe is untouched: still needs initialize, then no
     * resultType on its results. */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}");
    m = read_msg(&h);
    assert_int_equal(mt_error_code(m), DMCP_JSONRPC_INVALID_REQUEST);
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"initialize\",\"params\":"
                  "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    json_decref(read_msg(&h));
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"echo\",\"arguments\":{\"text\":\"old\"}}}");
    m = read_msg(&h);
    assert_string_equal(mt_text(m), "old");
    assert_null(json_object_get(mt_result(m), "resultType"));
    json_decref(m);
    /* A running 2026 call is cancelled by notifications/cancelled (stdio-only in 2026). */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"w\",\"method\":\"tools/call\",\"params\":{\"name\":"
                  "\"wait\"," META26 "}}");
    sleep_ms(50);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
                  "\"requestId\":\"w\"," META26 "}}");
    m = read_msg(&h);
    assert_string_equal(mt_text(m), "cancelled");
    json_decref(m);
    finish(&h);
}

static void test_era26_input_required(void **state)
{
    (void)state;
    harness h;
    start(&h);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                  "\"ask\",\"arguments\":{}," META26 "}}");
    json_t *m = read_msg(&h);
    assert_string_equal(result_type(m), "input_required");
    const json_t *reqs = json_object_get(mt_result(m), "inputRequests");
    assert_int_equal(json_object_size(reqs), 1);
    const char *key = json_object_iter_key(json_object_iter((json_t *)reqs));
    assert_string_equal(
        json_string_value(json_object_get(json_object_iter_value(json_object_iter((json_t *)reqs)),
                                          "method")),
        "elicitation/create");
    const char *rs = json_string_value(json_object_get(mt_result(m), "requestState"));
    assert_non_null(rs);
    /* The retry with the answer completes; the same with a tampered state is refused. */
    json_t *retry = json_pack("{s:s,s:i,s:s,s:{s:s,s:{},s:{s:{s:s,s:{s:s}}},s:s,s:{s:s,s:{s:{}}}}}",
                              "jsonrpc", "2.0", "id", 2, "method", "tools/call", "params", "name",
                              "ask", "arguments", "inputResponses", key, "action", "accept",
                              "content", "name", "Ada", "requestState", rs, "_meta",
                              "io.modelcontextprotocol/protocolVersion", "2026-07-28",
                              "io.modelcontextprotocol/clientCapabilities", "elicitation", "form");
    assert_non_null(retry);
    char *line = json_dumps(retry, JSON_COMPACT);
    send_line(&h, line);
    free(line);
    json_t *r = read_msg(&h);
    assert_string_equal(result_type(r), "complete");
    assert_string_equal(mt_text(r), "Ada");
    json_decref(r);
    char *bad = strdup(rs);
    bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A'; /* the MAC no longer fits */
    json_object_set_new(json_object_get(retry, "params"), "requestState", json_string(bad));
    free(bad);
    line = json_dumps(retry, JSON_COMPACT);
    send_line(&h, line);
    free(line);
    r = read_msg(&h);
    assert_int_equal(mt_error_code(r), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(r);
    json_decref(retry);
    json_decref(m);
    finish(&h);
}

static void test_era26_listen(void **state)
{
    (void)state;
    harness h;
    start(&h);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"L\",\"method\":\"subscriptions/listen\",\"params\":{"
                  "\"notifications\":{\"resourceSubscriptions\":[\"test://r\"],"
                  "\"promptsListChanged\":true}," META26 "}}");
    json_t *m = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(m, "method")),
                        "notifications/subscriptions/acknowledged");
    const json_t *p = json_object_get(m, "params");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(p, "_meta"), "io.modelcontextprotocol/subscriptionId")),
                        "L");
    /* Honoured: the resource; not the prompts list (the server never said it changes). */
    assert_non_null(json_object_get(json_object_get(p, "notifications"), "resourceSubscriptions"));
    assert_null(json_object_get(json_object_get(p, "notifications"), "promptsListChanged"));
    json_decref(m);
    /* Not opted in (tools list), another uri: not sent; the subscribed uri: sent, tagged. */
    assert_int_equal(dmcp_server_notify_list_changed(h.srv, DMCP_LIST_TOOLS), DMCP_OK);
    assert_int_equal(dmcp_server_notify_resource_updated(h.srv, "test://other"), DMCP_OK);
    assert_int_equal(dmcp_server_notify_resource_updated(h.srv, "test://r"), DMCP_OK);
    m = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(m, "method")),
                        "notifications/resources/updated");
    p = json_object_get(m, "params");
    assert_string_equal(json_string_value(json_object_get(p, "uri")), "test://r");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(p, "_meta"), "io.modelcontextprotocol/subscriptionId")),
                        "L");
    json_decref(m);
    /* Cancelled: nothing more. The next line out is the answer to the next request. */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
                  "\"requestId\":\"L\"," META26 "}}");
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META26 "}}");
    json_decref(read_msg(&h)); /* answered after the cancellation was handled (one reader) */
    assert_int_equal(dmcp_server_notify_resource_updated(h.srv, "test://r"), DMCP_OK);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{" META26 "}}");
    m = read_msg(&h);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 2);
    json_decref(m);
    /* A listen still open at end of input ends with it (finish checks nothing more came). */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"M\",\"method\":\"subscriptions/listen\",\"params\":{"
                  "\"notifications\":{\"toolsListChanged\":true}," META26 "}}");
    json_decref(read_msg(&h));
    assert_int_equal(dmcp_server_notify_list_changed(h.srv, DMCP_LIST_TOOLS), DMCP_OK);
    m = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(m, "method")),
                        "notifications/tools/list_changed");
    json_decref(m);
    /* Bad params: an error, no stream. */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"N\",\"method\":\"subscriptions/listen\",\"params\":{"
                  META26 "}}");
    m = read_msg(&h);
    assert_int_equal(mt_error_code(m), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(m);
    finish(&h);
    /* After the run: notifying reaches no freed listener (ASan would say). */
}

/* Threads of this process (/proc/self/task). */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* A flood of calls: at most 32 pool threads besides the reader run them (one of the 33
 * always reads), the rest wait in the queue; a queued call that is cancelled is dropped
 * unanswered, running ones see their cancellation. Which calls run first depends on how the
 * input was cut into chunks (a chunk's last call runs on the reader), so the test asks the
 * handlers. (First in the group: no threads of an earlier test linger in the count.) */
static void test_pool_bounded(void **state)
{
    (void)state;
    harness h;
    int base = thread_count();
    atomic_store(&holds_running, 0);
    for (int i = 0; i < 64; i++) {
        atomic_store(&hold_ran[i], false);
    }
    start(&h); /* + the thread running dmcp_server_run_stdio */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                  "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}");
    json_decref(read_msg(&h));
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    char line[160];
    for (int id = 1; id <= 40; id++) {
        snprintf(line, sizeof(line),
                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
                 "{\"name\":\"hold\"}}", id);
        send_line(&h, line);
    }
    /* The pool fills up (readiness poll, 20 s at most), and never grows past its cap. */
    for (int i = 0; i < 2000 && thread_count() - base < 1 + 32; i++) {
        sleep_ms(10);
    }
    assert_int_equal(thread_count() - base, 1 + 32);
    /* ping is answered inline while every worker is busy: the reader is not blocked. */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"ping\",\"method\":\"ping\"}");
    json_t *m = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "ping");
    json_decref(m);
    assert_int_equal(thread_count() - base, 1 + 32);
    /* 32 calls run, 8 wait: cancelled there, they are dropped. Wait until all 32 handlers
     * have started: on a loaded machine a worker may still be on its way to the queue. */
    for (int i = 0; i < 3000 && atomic_load(&holds_running) < 32; i++) {
        sleep_ms(10);
    }
    sleep_ms(50); /* no 33rd starts */
    assert_int_equal(atomic_load(&holds_running), 32);
    bool ran[41] = {false};
    int nran = 0;
    for (int id = 1; id <= 40; id++) {
        ran[id] = atomic_load(&hold_ran[id]);
        nran += ran[id];
    }
    assert_int_equal(nran, 32);
    for (int id = 1; id <= 40; id++) {
        if (ran[id]) {
            continue;
        }
        snprintf(line, sizeof(line),
                 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                 "{\"requestId\":%d}}", id);
        send_line(&h, line);
    }
    /* A ping after them: the cancellations were handled (one reader, in order). */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"ping2\",\"method\":\"ping\"}");
    m = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "ping2");
    json_decref(m);
    for (int id = 1; id <= 40; id++) {
        if (!ran[id]) {
            continue;
        }
        snprintf(line, sizeof(line),
                 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                 "{\"requestId\":%d}}", id);
        send_line(&h, line);
    }
    bool seen[41] = {false};
    for (int i = 0; i < 32; i++) {
        m = read_msg(&h);
        json_int_t id = json_integer_value(json_object_get(m, "id"));
        assert_true(id >= 1 && id <= 40 && ran[id]);
        assert_false(seen[id]);
        seen[id] = true;
        assert_string_equal(mt_text(m), "cancelled");
        json_decref(m);
    }
    assert_int_equal(atomic_load(&holds_running), 32); /* the dropped ones never started */
    finish(&h); /* nothing else was written: the 8 queued were never answered */
}

/* The reader role is lent, not handed over: a call read alone runs on the reader itself (no
 * thread switch); one that runs long has the role taken over, so a ping and its
 * cancellation still get through while it runs. */
static void test_reader_lent(void **state)
{
    (void)state;
    harness h;
    start(&h);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                  "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}");
    json_decref(read_msg(&h));
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    for (int i = 1; i <= 3; i++) { /* one at a time: each is the last call of its chunk */
        char line[128];
        snprintf(line, sizeof(line),
                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
                 "{\"name\":\"where\"}}", i);
        send_line(&h, line);
        json_t *m = read_msg(&h);
        assert_string_equal(mt_text(m), "reader");
        json_decref(m);
    }
    /* A call that waits for its cancellation (3 s at most), on the reader... */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"w\",\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"wait\"}}");
    sleep_ms(20);
    /* ...does not stop reading: a ping and a call are answered, then the cancellation. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    json_t *m = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "p");
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"where\"}}");
    m = read_msg(&h);
    assert_string_equal(mt_text(m), "other"); /* the reader is busy with "w" */
    json_decref(m);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                  "{\"requestId\":\"w\"}}");
    m = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "w");
    assert_string_equal(mt_text(m), "cancelled");
    json_decref(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* Well inside the 3 s the call would otherwise have held the reader. */
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2500);
    finish(&h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_bounded),
        cmocka_unit_test(test_session_flow),
        cmocka_unit_test(test_reader_lent),
        cmocka_unit_test(test_era26_requests),
        cmocka_unit_test(test_era26_input_required),
        cmocka_unit_test(test_era26_listen),
        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_sigterm),
        cmocka_unit_test(test_echo_server_stdio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
