/*
 * The forwarder hook (dmcp_server_set_forwarder): forwarded families reach the callback with a
 * call context (and registered entries of those families are not served), others are not;
 * results, error objects, notifications on the request's stream, per-tool scopes through the
 * authorizer, merged capabilities, client notifications, streaming choice, session end.
 */
#include "mcp_test.h"

typedef struct fw_state {
    int calls;
    char last_method[64];
    char last_sid[128];
    int notes;
    char note_method[64];
    int ended;
    char ended_id[128];
    bool saw_client_caps;
} fw_state;

static fw_state fs;

static dmcp_status fw_request(void *ud, dmcp_call *call, const char *method, const json_t *params,
                              json_t **result, json_t **error)
{
    assert_ptr_equal(ud, &fs);
    fs.calls++;
    snprintf(fs.last_method, sizeof(fs.last_method), "%s", method);
    const json_t *caps = dmcp_call_client_capabilities(call);
    fs.saw_client_caps = json_is_object(json_object_get(caps, "sampling"));
    if (strcmp(method, "tools/list") == 0) {
        *result = json_pack("{s:[{s:s,s:{s:s}}]}", "tools", "name", "up__echo", "inputSchema",
                            "type", "object");
        return DMCP_OK;
    }
    if (strcmp(method, "tools/call") == 0) {
        const char *name = json_string_value(json_object_get(params, "name"));
        assert_string_equal(dmcp_call_tool_name(call), name);
        if (strcmp(name, "fail") == 0) {
            *error = json_pack("{s:i,s:s,s:{s:i}}", "code", -32001, "message", "Upstream timed out",
                               "data", "status", 504);
            return DMCP_E_TIMEOUT;
        }
        if (strcmp(name, "nothing") == 0) {
            return DMCP_E_UPSTREAM; /* neither result nor error: -32603 */
        }
        json_t *n = json_pack("{s:s,s:s,s:{s:s}}", "jsonrpc", "2.0", "method",
                              "notifications/message", "params", "level", "info");
        assert_int_equal(dmcp_call_notify(call, n), DMCP_OK);
        json_decref(n);
        /* A request is not a notification. */
        json_t *bad = json_pack("{s:s,s:i,s:s}", "jsonrpc", "2.0", "id", 1, "method", "x");
        assert_int_equal(dmcp_call_notify(call, bad), DMCP_E_INVALID_ARG);
        json_decref(bad);
        *result = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", name);
        return DMCP_OK;
    }
    *result = json_object();
    return DMCP_OK;
}

static void fw_notify(void *ud, const char *sid, const json_t *msg)
{
    (void)ud;
    fs.notes++;
    const char *m = json_string_value(json_object_get(msg, "method"));
    snprintf(fs.note_method, sizeof(fs.note_method), "%s", m != NULL ? m : "");
    snprintf(fs.last_sid, sizeof(fs.last_sid), "%s", sid != NULL ? sid : "(null)");
}

static void fw_end(void *ud, const char *sid)
{
    (void)ud;
    fs.ended++;
    snprintf(fs.ended_id, sizeof(fs.ended_id), "%s", sid);
}

static const char *const admin_scopes[] = {"admin.write"};

static size_t fw_scopes(void *ud, const char *tool, const char *const **scopes)
{
    (void)ud;
    if (tool != NULL && strcmp(tool, "admin") == 0) {
        *scopes = admin_scopes;
        return 1;
    }
    return 0;
}

static int az_calls;
static dmcp_status az_tool(void *ud, const dmcp_principal *p, const char *tool,
                           const char *const *scopes, size_t n, dmcp_http_response **refusal,
                           char **tool_error)
{
    (void)ud;
    (void)p;
    (void)tool_error;
    az_calls++;
    assert_string_equal(tool, "admin");
    assert_int_equal(n, 1);
    assert_string_equal(scopes[0], "admin.write");
    assert_int_equal(dmcp_http_response_new(403, refusal), DMCP_OK);
    return DMCP_E_INSUFFICIENT_SCOPE;
}

static dmcp_status h_local(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    return dmcp_result_add_text(res, "local");
}

static dmcp_server *make(bool stream)
{
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("gw", "1", &srv), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("local", h_local, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    json_t *caps = json_pack("{s:{s:b}}", "tools", "listChanged", 1);
    dmcp_forwarder f = {DMCP_FORWARD_TOOLS | DMCP_FORWARD_LOGGING,
                        stream,
                        caps,
                        fw_request,
                        fw_notify,
                        fw_end,
                        fw_scopes,
                        &fs,
                        NULL,
                        NULL};
    assert_int_equal(dmcp_server_set_forwarder(srv, &f), DMCP_OK);
    json_decref(caps); /* copied */
    memset(&fs, 0, sizeof(fs));
    return srv;
}

static json_t *send_fmt(mt_env *e, const char *text)
{
    return mt_send(e, text);
}

static void test_forwarded_methods(void **state)
{
    (void)state;
    dmcp_server *srv = make(false);
    mt_env e;
    mt_env_init(&e, srv);
    json_t *a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                             "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"sampling\":{}},"
                             "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    /* The forwarder's capabilities are merged over the server's own. */
    const json_t *tools = json_object_get(json_object_get(mt_result(a), "capabilities"), "tools");
    assert_true(json_is_true(json_object_get(tools, "listChanged")));
    json_decref(a);

    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(mt_result(a), "tools"), 0), "name")),
                        "up__echo");
    json_decref(a);
    assert_int_equal(fs.calls, 1);
    assert_true(fs.saw_client_caps);

    /* A registered tool of a forwarded family is not served: the forwarder answers. */
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"local\",\"arguments\":{}}}");
    assert_string_equal(mt_text(a), "local");
    assert_int_equal(fs.calls, 2);
    json_decref(a);
    /* The forwarder's notification went out on the request's stream, as given. */
    assert_int_equal(json_array_size(e.notes), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(e.notes, 0), "method")),
        "notifications/message");

    /* Error objects become JSON-RPC errors, with data. */
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"fail\",\"arguments\":{}}}");
    assert_int_equal(mt_error_code(a), -32001);
    const json_t *err = json_object_get(a, "error");
    assert_string_equal(json_string_value(json_object_get(err, "message")), "Upstream timed out");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(err, "data"), "status")),
                     504);
    json_decref(a);
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"nothing\",\"arguments\":{}}}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INTERNAL_ERROR);
    json_decref(a);

    /* Families not forwarded are the server's (no prompts registered: -32601). */
    int before = fs.calls;
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"prompts/list\"}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_METHOD_NOT_FOUND);
    json_decref(a);
    assert_int_equal(fs.calls, before);

    /* logging/setLevel: forwarded and applied here. */
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"logging/setLevel\","
                     "\"params\":{\"level\":\"error\"}}");
    assert_non_null(mt_result(a));
    json_decref(a);
    assert_string_equal(fs.last_method, "logging/setLevel");
    assert_int_equal(atomic_load(&e.sess->log_level), DMCP_LOG_ERROR);

    /* Client notifications reach the forwarder, except initialized and cancelled. */
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_null(a);
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                     "\"params\":{\"requestId\":9}}");
    assert_null(a);
    assert_int_equal(fs.notes, 0);
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/roots/list_changed\"}");
    assert_null(a);
    assert_int_equal(fs.notes, 1);
    assert_string_equal(fs.note_method, "notifications/roots/list_changed");
    /* A response under a string id answers a request the forwarder sent itself
     * (dmcp_server_send_to_session): it reaches the forwarder. Integer ids are the runtime's
     * own and never do. */
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":\"dmcp-gw.0.1\",\"result\":{\"roots\":[]}}");
    assert_null(a);
    assert_int_equal(fs.notes, 2);
    assert_string_equal(fs.note_method, "");
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":41,\"result\":{\"roots\":[]}}");
    assert_null(a);
    assert_int_equal(fs.notes, 2);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_forwarded_scopes(void **state)
{
    (void)state;
    dmcp_server *srv = make(false);
    dmcp_authorizer *az;
    assert_int_equal(dmcp_authorizer_new(NULL, NULL, &az), DMCP_OK);
    dmcp_authorizer_set_authorize_tool(az, az_tool);
    assert_int_equal(dmcp_server_set_authorizer(srv, az), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    az_calls = 0;
    /* The transport's pre-check sees the forwarder's scopes and gets the HTTP refusal. */
    json_t *msg = json_loads("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\","
                             "\"params\":{\"name\":\"admin\",\"arguments\":{}}}",
                             0, NULL);
    dmcp_http_response *refusal = NULL;
    json_t *ans = NULL;
    assert_int_equal(dmcp__authorize_call(&e.ctx, msg, &refusal, &ans), DMCP_E_INSUFFICIENT_SCOPE);
    assert_non_null(refusal);
    assert_int_equal(refusal->status, 403);
    dmcp_http_response_free(refusal);
    json_decref(msg);
    /* Without the pre-check, dispatch refuses as a tool error and never forwards. */
    json_t *a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
                             "\"params\":{\"name\":\"admin\",\"arguments\":{}}}");
    assert_true(mt_is_error(a));
    json_decref(a);
    assert_int_equal(fs.calls, 0);
    assert_int_equal(az_calls, 2);
    /* Tools without rules are not checked. */
    a = send_fmt(&e, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"free\",\"arguments\":{}}}");
    assert_string_equal(mt_text(a), "free");
    json_decref(a);
    assert_int_equal(az_calls, 2);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_stream_choice_and_config(void **state)
{
    (void)state;
    dmcp_server *srv = make(true);
    json_t *m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", 0, NULL);
    assert_true(dmcp__wants_stream(srv, NULL, m));
    /* A client that declared nothing it could answer with gets JSON; one with sampling SSE. */
    dmcp__session *sess = dmcp__session_new_local();
    sess->client_caps = json_pack("{s:{}}", "experimental");
    assert_false(dmcp__wants_stream(srv, sess, m));
    json_object_set_new(sess->client_caps, "sampling", json_object());
    assert_true(dmcp__wants_stream(srv, sess, m));
    dmcp__session_unref(sess);
    json_decref(m);
    dmcp_server_free(srv);
    srv = make(false);
    m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                   "\"x\"}}",
                   0, NULL);
    assert_false(dmcp__wants_stream(srv, NULL, m));
    json_decref(m);
    m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                   "\"x\",\"_meta\":{\"progressToken\":1}}}",
                   0, NULL);
    assert_true(dmcp__wants_stream(srv, NULL, m));
    json_decref(m);
    dmcp_forwarder bad = {0};
    assert_int_equal(dmcp_server_set_forwarder(srv, &bad), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_forwarder(NULL, &bad), DMCP_E_INVALID_ARG);
    dmcp_server_free(srv);
}

static int released;
static void fw_release(void *ud, const char *id)
{
    (void)ud;
    (void)id;
    released++;
}

/* With a shared store a local copy going away is a release, not an end: only a DELETE served
 * on this instance (marked) ends the session for good (a gateway then ends its upstream
 * session; on a release it only lets go of it, since another replica may carry on). */
static void test_session_end_when_shared(void **state)
{
    (void)state;
    memset(&fs, 0, sizeof(fs));
    released = 0;
    dmcp__session_table *t;
    assert_int_equal(dmcp__sessions_new(10, 0, &t), DMCP_OK);
    dmcp__sessions_set_on_end(t, fw_end, fw_release, &fs, true);
    dmcp__session *s;
    assert_int_equal(dmcp__sessions_create(t, "k", &s), DMCP_OK);
    dmcp__sessions_end(t, s); /* evicted / dropped here */
    dmcp__session_unref(s);
    assert_int_equal(fs.ended, 0);
    assert_int_equal(released, 1);
    assert_int_equal(dmcp__sessions_create(t, "k", &s), DMCP_OK);
    dmcp__session_mark_deleted(s); /* DELETE served here */
    dmcp__sessions_end(t, s);
    dmcp__session_unref(s);
    assert_int_equal(fs.ended, 1);
    assert_int_equal(released, 1);
    dmcp__sessions_free(t);
}

/* Session attributes: capped key and object, kept with the session, absent outside one. */
static void test_session_attrs(void **state)
{
    (void)state;
    dmcp_server *srv = make(false);
    dmcp__session_table *t;
    assert_int_equal(dmcp__sessions_new(10, 0, &t), DMCP_OK);
    dmcp__session *s;
    assert_int_equal(dmcp__sessions_create(t, "k", &s), DMCP_OK);
    dmcp_call call;
    memset(&call, 0, sizeof(call));
    call.srv = srv;
    call.sess = s;
    assert_null(dmcp_call_session_attr(&call, "gw.a"));
    assert_int_equal(dmcp_call_set_session_attr(&call, "gw.a", json_string("u1")), DMCP_OK);
    json_t *v = dmcp_call_session_attr(&call, "gw.a");
    assert_string_equal(json_string_value(v), "u1");
    json_decref(v);
    char longkey[DMCP_SESSION_ATTR_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(dmcp_call_set_session_attr(&call, longkey, json_true()), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_call_set_session_attr(&call, "", json_true()), DMCP_E_INVALID_ARG);
    char *big = malloc(DMCP_SESSION_ATTRS_MAX);
    memset(big, 'x', DMCP_SESSION_ATTRS_MAX - 1);
    big[DMCP_SESSION_ATTRS_MAX - 1] = '\0';
    assert_int_equal(dmcp_call_set_session_attr(&call, "gw.b", json_string(big)), DMCP_E_TOO_LARGE);
    free(big);
    assert_null(dmcp_call_session_attr(&call, "gw.b")); /* nothing changed */
    v = dmcp_call_session_attr(&call, "gw.a");
    assert_string_equal(json_string_value(v), "u1");
    json_decref(v);
    assert_int_equal(dmcp_call_set_session_attr(&call, "gw.a", NULL), DMCP_OK); /* removed */
    assert_null(dmcp_call_session_attr(&call, "gw.a"));
    call.sess = NULL; /* outside a session */
    assert_int_equal(dmcp_call_set_session_attr(&call, "gw.a", json_true()), DMCP_E_STATE);
    assert_null(dmcp_call_session_attr(&call, "gw.a"));
    dmcp__sessions_end(t, s);
    dmcp__session_unref(s);
    dmcp__sessions_free(t);
    dmcp_server_free(srv);
}

static void test_session_end(void **state)
{
    (void)state;
    memset(&fs, 0, sizeof(fs));
    dmcp__session_table *t;
    assert_int_equal(dmcp__sessions_new(10, 0, &t), DMCP_OK);
    dmcp__sessions_set_on_end(t, fw_end, NULL, &fs, false);
    dmcp__session *s;
    assert_int_equal(dmcp__sessions_create(t, "k", &s), DMCP_OK);
    char id[DMCP__SESSION_ID_LEN + 1];
    memcpy(id, s->id, sizeof(id));
    dmcp__sessions_end(t, s);
    assert_int_equal(fs.ended, 0); /* still referenced by us */
    dmcp__session_unref(s);
    assert_int_equal(fs.ended, 1);
    assert_string_equal(fs.ended_id, id);
    dmcp__sessions_free(t);
    /* Pushing to an unknown session. */
    dmcp_server *srv = make(false);
    assert_int_equal(dmcp_server_send_to_session(srv, "nope", json_object()), DMCP_E_STATE);
    dmcp_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forwarded_methods),
        cmocka_unit_test(test_forwarded_scopes),
        cmocka_unit_test(test_stream_choice_and_config),
        cmocka_unit_test(test_session_end),
        cmocka_unit_test(test_session_end_when_shared),
        cmocka_unit_test(test_session_attrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
