/* Lifecycle: version negotiation, initialize, gating, ping, cancellation, capabilities. */
#include <pthread.h>
#include <time.h>

#include "mcp_test.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static atomic_int waiting;

/* Waits (bounded) until cancelled; reports what it saw. */
static dmcp_status h_wait(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    atomic_store(&waiting, 1);
    for (int i = 0; i < 400; i++) { /* at most 4 s */
        if (dmcp_call_is_cancelled(call)) {
            return dmcp_result_add_text(res, "cancelled");
        }
        sleep_ms(10);
    }
    return dmcp_result_add_text(res, "not cancelled");
}

static void test_negotiation(void **state)
{
    (void)state;
    assert_string_equal(dmcp__version_negotiate("2025-03-26"), "2025-03-26");
    assert_string_equal(dmcp__version_negotiate("2025-06-18"), "2025-06-18");
    assert_string_equal(dmcp__version_negotiate("2025-11-25"), "2025-11-25");
    assert_string_equal(dmcp__version_negotiate("2024-11-05"), DMCP_PROTOCOL_LATEST);
    assert_string_equal(dmcp__version_negotiate("2099-01-01"), DMCP_PROTOCOL_LATEST);
    assert_string_equal(dmcp__version_negotiate(NULL), DMCP_PROTOCOL_LATEST);
    assert_true(dmcp__version_supported("2025-06-18"));
    assert_false(dmcp__version_supported("2025-06-19"));
    assert_true(dmcp__version_allows_batch("2025-03-26"));
    assert_false(dmcp__version_allows_batch("2025-06-18"));
    assert_false(dmcp__version_allows_batch("2025-11-25"));
}

static void test_initialize(void **state)
{
    (void)state;
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("srv", "2.0", &srv), DMCP_OK);
    assert_int_equal(dmcp_server_set_title(srv, "Server Title"), DMCP_OK);
    assert_int_equal(dmcp_server_set_instructions(srv, "Be nice"), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    /* Before initialize: only ping. */
    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_REQUEST);
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_true(json_is_object(mt_result(a)));
    assert_int_equal(json_object_size(mt_result(a)), 0);
    json_decref(a);
    /* Bad params. */
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    /* Unsupported version -> our newest. */
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                    "{\"protocolVersion\":\"2024-11-05\",\"capabilities\":{\"sampling\":{}},"
                    "\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}");
    const json_t *r = mt_result(a);
    assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")),
                        DMCP_PROTOCOL_LATEST);
    const json_t *si = json_object_get(r, "serverInfo");
    assert_string_equal(json_string_value(json_object_get(si, "name")), "srv");
    assert_string_equal(json_string_value(json_object_get(si, "version")), "2.0");
    assert_string_equal(json_string_value(json_object_get(si, "title")), "Server Title");
    assert_string_equal(json_string_value(json_object_get(r, "instructions")), "Be nice");
    /* No tools registered: no tools capability (declare only what exists). */
    const json_t *caps = json_object_get(r, "capabilities");
    assert_null(json_object_get(caps, "tools"));
    assert_non_null(json_object_get(caps, "logging"));
    json_decref(a);
    assert_true(e.sess->initialized);
    assert_non_null(json_object_get(e.sess->client_caps, "sampling"));
    /* A second initialize on the same session is refused. */
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":"
                    "{\"protocolVersion\":\"2025-06-18\"}}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_REQUEST);
    json_decref(a);
    /* initialized notification, unknown method, unknown notification. */
    assert_false(e.sess->client_ready);
    assert_null(mt_send(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
    assert_true(e.sess->client_ready);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/list\"}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_METHOD_NOT_FOUND);
    json_decref(a);
    assert_null(mt_send(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}"));
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_capabilities_and_title_by_version(void **state)
{
    (void)state;
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("srv", "1", &srv), DMCP_OK);
    assert_int_equal(dmcp_server_set_title(srv, "T"), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("w", h_wait, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                            "{\"protocolVersion\":\"2025-03-26\"}}");
    const json_t *r = mt_result(a);
    assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), "2025-03-26");
    assert_non_null(json_object_get(json_object_get(r, "capabilities"), "tools"));
    /* title is not part of 2025-03-26 Implementation. */
    assert_null(json_object_get(json_object_get(r, "serverInfo"), "title"));
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

typedef struct call_arg {
    mt_env *e;
    json_t *answer;
} call_arg;

static void *run_call(void *p)
{
    call_arg *c = p;
    c->answer = mt_send(c->e, "{\"jsonrpc\":\"2.0\",\"id\":\"w1\",\"method\":\"tools/call\","
                              "\"params\":{\"name\":\"w\"}}");
    return NULL;
}

static void test_cancellation(void **state)
{
    (void)state;
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("srv", "1", &srv), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("w", h_wait, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    atomic_store(&waiting, 0);
    call_arg c = {&e, NULL};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_call, &c), 0);
    for (int i = 0; i < 300 && atomic_load(&waiting) == 0; i++) {
        sleep_ms(10);
    }
    assert_int_equal(atomic_load(&waiting), 1);
    /* A different id (integer vs string) must not cancel it. */
    assert_null(mt_send(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                            "\"params\":{\"requestId\":\"w2\"}}"));
    sleep_ms(50);
    assert_null(mt_send(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                            "\"params\":{\"requestId\":\"w1\",\"reason\":\"user\"}}"));
    pthread_join(th, NULL);
    assert_string_equal(mt_text(c.answer), "cancelled");
    json_decref(c.answer);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_stateless_gate(void **state)
{
    (void)state;
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("srv", "1", &srv), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    e.ctx.stateless = true;
    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_non_null(mt_result(a));
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiation),
        cmocka_unit_test(test_initialize),
        cmocka_unit_test(test_capabilities_and_title_by_version),
        cmocka_unit_test(test_cancellation),
        cmocka_unit_test(test_stateless_gate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
