/*
 * stdio transport with server->client traffic: a tool's sampling request is written as a
 * line, the client's answer (a line) reaches the waiting handler; list_changed goes out once
 * the client is initialized; end of input fails a request still waiting for its answer.
 */
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "mcp_test.h"

static dmcp_status t_sample(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    json_t *p = json_pack("{s:[],s:i}", "messages", "maxTokens", 1);
    json_t *out = NULL;
    dmcp_status st = dmcp_call_sample(call, p, 5000, &out);
    json_decref(p);
    const char *model = json_string_value(json_object_get(out, "model"));
    char buf[128];
    snprintf(buf, sizeof(buf), "%s %s", dmcp_status_name(st), model != NULL ? model : "-");
    json_decref(out);
    return dmcp_result_add_text(res, buf);
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
    assert_int_equal(dmcp_tool_new("sample", t_sample, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(h->srv, t), DMCP_OK);
    assert_int_equal(dmcp_server_set_list_changed(h->srv, DMCP_LIST_TOOLS), DMCP_OK);
    assert_int_equal(pipe(h->to_srv), 0);
    assert_int_equal(pipe(h->from_srv), 0);
    assert_int_equal(pthread_create(&h->th, NULL, run, h), 0);
}

static void send_line(harness *h, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(write(h->to_srv[1], s, n), (ssize_t)n);
    assert_int_equal(write(h->to_srv[1], "\n", 1), 1);
}

static json_t *read_msg(harness *h)
{
    for (int spins = 0; spins < 500; spins++) {
        char *nl = memchr(h->buf, '\n', h->len);
        if (nl != NULL) {
            size_t l = (size_t)(nl - h->buf);
            json_t *v = json_loadb(h->buf, l, 0, NULL);
            assert_non_null(v);
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
    close(h->to_srv[1]);
    pthread_join(h->th, NULL);
    assert_int_equal(h->rc, DMCP_OK);
    close(h->from_srv[1]);
    close(h->from_srv[0]);
    close(h->to_srv[0]);
    dmcp_server_free(h->srv);
}

static void init(harness *h)
{
    send_line(h, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                 "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"sampling\":{}}}}");
    json_decref(read_msg(h));
}

static void test_sampling_over_stdio(void **state)
{
    (void)state;
    harness h;
    start(&h);
    init(&h);
    /* Before notifications/initialized nothing unsolicited is written. */
    assert_int_equal(dmcp_server_notify_list_changed(h.srv, DMCP_LIST_TOOLS), DMCP_OK);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    json_t *m = read_msg(&h);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 1); /* the ping, nothing else */
    json_decref(m);
    assert_int_equal(dmcp_server_notify_list_changed(h.srv, DMCP_LIST_TOOLS), DMCP_OK);
    m = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(m, "method")),
                        "notifications/tools/list_changed");
    json_decref(m);

    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"sample\",\"arguments\":{}}}");
    json_t *req = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(req, "method")),
                        "sampling/createMessage");
    char answer[256];
    snprintf(answer, sizeof(answer),
             "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"role\":\"assistant\",\"content\":"
             "{\"type\":\"text\",\"text\":\"x\"},\"model\":\"stdio-model\"}}",
             (long long)json_integer_value(json_object_get(req, "id")));
    send_line(&h, answer);
    m = read_msg(&h);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 2);
    assert_string_equal(mt_text(m), "DMCP_OK stdio-model");
    json_decref(m);
    json_decref(req);

    /* End of input while a request waits: the handler is told at once, not after 5 s. */
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"sample\",\"arguments\":{}}}");
    req = read_msg(&h);
    assert_string_equal(json_string_value(json_object_get(req, "method")),
                        "sampling/createMessage");
    json_decref(req);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    close(h.to_srv[1]);
    h.to_srv[1] = -1;
    m = read_msg(&h); /* the runtime's notifications/cancelled for its request */
    assert_string_equal(json_string_value(json_object_get(m, "method")), "notifications/cancelled");
    json_decref(m);
    m = read_msg(&h);
    assert_string_equal(mt_text(m), "DMCP_E_CANCELLED -");
    json_decref(m);
    pthread_join(h.th, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 3);
    assert_int_equal(h.rc, DMCP_OK);
    close(h.from_srv[1]);
    close(h.from_srv[0]);
    close(h.to_srv[0]);
    dmcp_server_free(h.srv);
}

static void test_no_capability_over_stdio(void **state)
{
    (void)state;
    harness h;
    start(&h);
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                  "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    json_decref(read_msg(&h));
    send_line(&h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                  "{\"name\":\"sample\",\"arguments\":{}}}");
    json_t *m = read_msg(&h);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 2);
    assert_string_equal(mt_text(m), "DMCP_E_STATE -");
    json_decref(m);
    finish(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampling_over_stdio),
        cmocka_unit_test(test_no_capability_over_stdio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
