/* Tool definitions, tools/list pagination, tools/call validation, results, context. */
#include "mcp_test.h"

static dmcp_status h_echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)ud;
    return dmcp_result_add_text(res, json_string_value(json_object_get(args, "text")));
}

static dmcp_status h_fail(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)res;
    (void)ud;
    return DMCP_E_UPSTREAM;
}

static dmcp_status h_fail_text(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    dmcp_result_add_text(res, "calendar is down");
    return DMCP_E_UPSTREAM;
}

/* Returns structuredContent chosen by args.mode. */
static dmcp_status h_structured(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)ud;
    const char *mode = json_string_value(json_object_get(args, "mode"));
    if (strcmp(mode, "good") == 0) {
        return dmcp_result_set_structured(res, json_pack("{s:i}", "n", 3));
    }
    if (strcmp(mode, "bad") == 0) {
        return dmcp_result_set_structured(res, json_pack("{s:s}", "n", "three"));
    }
    return dmcp_result_add_text(res, "no structure");
}

static dmcp_status h_all_blocks(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    assert_int_equal(dmcp_result_add_text(res, "t"), DMCP_OK);
    assert_int_equal(dmcp_result_add_image(res, "iVBO", "image/png"), DMCP_OK);
    assert_int_equal(dmcp_result_add_audio(res, "UklG", "audio/wav"), DMCP_OK);
    assert_int_equal(dmcp_result_add_resource_link(res, "file:///a", "a", "text/plain", NULL),
                     DMCP_OK);
    assert_int_equal(dmcp_result_add_embedded_text(res, "test://e", "text/plain", "body"), DMCP_OK);
    assert_int_equal(dmcp_result_add_embedded_blob(res, "test://b", NULL, "AAEC"), DMCP_OK);
    assert_int_equal(dmcp_result_add_text(res, NULL), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_result_add_text(res, "\xff"), DMCP_E_INVALID_ARG); /* bad UTF-8 */
    assert_int_equal(dmcp_result_add_content(res, json_pack("{s:i}", "x", 1)), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_result_set_structured(res, json_integer(1)), DMCP_E_INVALID_ARG);
    return DMCP_OK;
}

/* Sends progress and logs; checks the monotonic rule. */
static dmcp_status h_notify(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    assert_int_equal(dmcp_call_progress(call, 1, 10, "one"), DMCP_OK);
    assert_int_equal(dmcp_call_progress(call, 1, 10, NULL), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_call_progress(call, 2, -1, NULL), DMCP_OK);
    assert_int_equal(dmcp_call_log(call, DMCP_LOG_DEBUG, "lg", "dbg"), DMCP_OK);
    assert_int_equal(dmcp_call_log(call, DMCP_LOG_ERROR, NULL, "err"), DMCP_OK);
    assert_string_equal(dmcp_call_tool_name(call), "notify");
    assert_non_null(dmcp_call_request_id(call));
    assert_false(dmcp_call_is_cancelled(call));
    assert_null(dmcp_call_principal(call));
    return dmcp_result_add_text(res, "done");
}

static dmcp_server *make_server(unsigned page)
{
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("t", "1", &srv), DMCP_OK);
    assert_int_equal(dmcp_server_set_page_size(srv, page), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("echo", h_echo, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_tool_set_input_schema_json(
                         t, "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":"
                            "\"string\"}},\"required\":[\"text\"]}"),
                     DMCP_OK);
    assert_int_equal(dmcp_tool_set_title(t, "Echo"), DMCP_OK);
    json_t *ann = json_pack("{s:b}", "readOnlyHint", 1);
    assert_int_equal(dmcp_tool_set_annotations(t, ann), DMCP_OK);
    json_decref(ann);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("fail", h_fail, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("fail_text", h_fail_text, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("structured", h_structured, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_tool_set_input_schema_json(
                         t, "{\"type\":\"object\",\"properties\":{\"mode\":{\"enum\":"
                            "[\"good\",\"bad\",\"none\"]}},\"required\":[\"mode\"]}"),
                     DMCP_OK);
    assert_int_equal(
        dmcp_tool_set_output_schema_json(t, "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":"
                                            "\"integer\"}},\"required\":[\"n\"]}"),
        DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("blocks", h_all_blocks, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("notify", h_notify, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    return srv;
}

static void test_definitions(void **state)
{
    (void)state;
    dmcp_tool *t = NULL;
    char long_name[70];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    assert_int_equal(dmcp_tool_new(long_name, h_echo, NULL, &t), DMCP_E_INVALID_ARG);
    long_name[64] = '\0';
    assert_int_equal(dmcp_tool_new(long_name, h_echo, NULL, &t), DMCP_OK);
    dmcp_tool_free(t);
    assert_int_equal(dmcp_tool_new("a b", h_echo, NULL, &t), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_tool_new("a/b", h_echo, NULL, &t), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_tool_new("", h_echo, NULL, &t), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_tool_new("ok", NULL, NULL, &t), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_tool_new("A-z_0.9", h_echo, NULL, &t), DMCP_OK);
    /* Schemas must be object schemas; scopes must be RFC 6749 scope tokens. */
    assert_int_equal(dmcp_tool_set_input_schema_json(t, "{\"type\":\"string\"}"),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_tool_set_input_schema_json(t, "{bad"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_tool_add_required_scope(t, "a b"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_tool_add_required_scope(t, "a\"b"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_tool_add_required_scope(t, "admin.write"), DMCP_OK);
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("t", "1", &srv), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("A-z_0.9", h_echo, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_E_INVALID_ARG); /* duplicate */
    dmcp_server_free(srv);
}

static void test_list_pagination(void **state)
{
    (void)state;
    dmcp_server *srv = make_server(4);
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    const json_t *tools = json_object_get(mt_result(a), "tools");
    assert_int_equal(json_array_size(tools), 4);
    const json_t *t0 = json_array_get(tools, 0);
    assert_string_equal(json_string_value(json_object_get(t0, "name")), "echo");
    assert_string_equal(json_string_value(json_object_get(t0, "title")), "Echo");
    assert_true(json_is_true(json_object_get(json_object_get(t0, "annotations"), "readOnlyHint")));
    /* Default input schema for a tool without arguments. */
    const json_t *t1 = json_array_get(tools, 1);
    assert_true(
        json_is_false(json_object_get(json_object_get(t1, "inputSchema"), "additionalProperties")));
    assert_non_null(json_object_get(json_array_get(tools, 3), "outputSchema"));
    const char *cur = json_string_value(json_object_get(mt_result(a), "nextCursor"));
    assert_non_null(cur);
    char req[256];
    snprintf(req, sizeof(req),
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"cursor\":"
             "\"%s\"}}",
             cur);
    json_t *b = mt_send(&e, req);
    assert_int_equal(json_array_size(json_object_get(mt_result(b), "tools")), 2);
    assert_null(json_object_get(mt_result(b), "nextCursor"));
    json_decref(a);
    json_decref(b);
    static const char *const bad[] = {"\"zz\"", "\"t99\"", "\"t\"", "\"t-1\"", "5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":"
                 "{\"cursor\":%s}}",
                 bad[i]);
        json_t *c = mt_send(&e, req);
        assert_int_equal(mt_error_code(c), DMCP_JSONRPC_INVALID_PARAMS);
        json_decref(c);
    }
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static json_t *call(mt_env *e, const char *name, const char *args)
{
    char req[512];
    snprintf(req, sizeof(req),
             "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"%s\"%s%s}}",
             name, args != NULL ? ",\"arguments\":" : "", args != NULL ? args : "");
    return mt_send(e, req);
}

static void test_call(void **state)
{
    (void)state;
    dmcp_server *srv = make_server(100);
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    json_t *a = call(&e, "echo", "{\"text\":\"hello\"}");
    assert_string_equal(mt_text(a), "hello");
    assert_false(mt_is_error(a));
    json_decref(a);
    /* Unknown tool / missing name: protocol error -32602 (Tools §6). */
    a = call(&e, "nope", "{}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "error"), "message")),
                        "Unknown tool: nope");
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{}}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    /* Bad arguments: isError naming the problem (SEP-1303). */
    a = call(&e, "echo", "{\"text\":5}");
    assert_true(mt_is_error(a));
    assert_non_null(strstr(mt_text(a), "text: expected string"));
    json_decref(a);
    a = call(&e, "echo", NULL);
    assert_true(mt_is_error(a));
    assert_non_null(strstr(mt_text(a), "missing required property \"text\""));
    json_decref(a);
    a = call(&e, "echo", "[1]");
    assert_true(mt_is_error(a));
    json_decref(a);
    a = call(&e, "fail", "{\"x\":1}"); /* default schema: no properties allowed */
    assert_true(mt_is_error(a));
    assert_non_null(strstr(mt_text(a), "unexpected property"));
    json_decref(a);
    /* Handler failure: isError, with the handler's text if it gave one. */
    a = call(&e, "fail", "{}");
    assert_true(mt_is_error(a));
    assert_non_null(strstr(mt_text(a), "upstream API error"));
    json_decref(a);
    a = call(&e, "fail_text", "{}");
    assert_true(mt_is_error(a));
    assert_string_equal(mt_text(a), "calendar is down");
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_structured_and_blocks(void **state)
{
    (void)state;
    dmcp_server *srv = make_server(100);
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    json_t *a = call(&e, "structured", "{\"mode\":\"good\"}");
    assert_false(mt_is_error(a));
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(mt_result(a), "structuredContent"), "n")),
                     3);
    assert_string_equal(mt_text(a), "{\"n\":3}"); /* serialised copy as text */
    json_decref(a);
    a = call(&e, "structured", "{\"mode\":\"bad\"}");
    assert_true(mt_is_error(a));
    assert_null(json_object_get(mt_result(a), "structuredContent"));
    json_decref(a);
    a = call(&e, "structured", "{\"mode\":\"none\"}");
    assert_true(mt_is_error(a));
    json_decref(a);

    a = call(&e, "blocks", "{}");
    const json_t *c = json_object_get(mt_result(a), "content");
    assert_int_equal(json_array_size(c), 6);
    static const char *const types[] = {"text",          "image",    "audio",
                                        "resource_link", "resource", "resource"};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(json_string_value(json_object_get(json_array_get(c, i), "type")),
                            types[i]);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 1), "mimeType")),
                        "image/png");
    const json_t *res = json_object_get(json_array_get(c, 4), "resource");
    assert_string_equal(json_string_value(json_object_get(res, "text")), "body");
    res = json_object_get(json_array_get(c, 5), "resource");
    assert_string_equal(json_string_value(json_object_get(res, "blob")), "AAEC");
    assert_null(json_object_get(res, "mimeType"));
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_notifications(void **state)
{
    (void)state;
    dmcp_server *srv = make_server(100);
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    /* Without a progress token: no progress notifications, logs still go out. */
    json_t *a = call(&e, "notify", "{}");
    assert_string_equal(mt_text(a), "done");
    json_decref(a);
    assert_int_equal(json_array_size(e.notes), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(e.notes, 0), "method")),
                        "notifications/message");
    json_array_clear(e.notes);
    /* With a token: progress echoes it, increasing; level filter after setLevel. */
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\","
                    "\"params\":{\"level\":\"warning\"}}");
    assert_non_null(mt_result(a));
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":"
                    "{\"name\":\"notify\",\"_meta\":{\"progressToken\":\"tok\"}}}");
    json_decref(a);
    assert_int_equal(json_array_size(e.notes), 3);
    const json_t *p0 = json_object_get(json_array_get(e.notes, 0), "params");
    const json_t *p1 = json_object_get(json_array_get(e.notes, 1), "params");
    const json_t *p2 = json_object_get(json_array_get(e.notes, 2), "params");
    assert_string_equal(json_string_value(json_object_get(p0, "progressToken")), "tok");
    assert_true(json_number_value(json_object_get(p0, "progress")) == 1.0);
    assert_true(json_number_value(json_object_get(p0, "total")) == 10.0);
    assert_string_equal(json_string_value(json_object_get(p0, "message")), "one");
    assert_true(json_number_value(json_object_get(p1, "progress")) == 2.0);
    assert_null(json_object_get(p1, "total"));
    assert_string_equal(json_string_value(json_object_get(p2, "level")), "error");
    assert_null(json_object_get(p2, "logger"));
    assert_string_equal(json_string_value(json_object_get(p2, "data")), "err");
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"logging/setLevel\","
                    "\"params\":{\"level\":\"loud\"}}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

/* ---- per-tool scopes through the authorizer hook ---- */

static int az_mode; /* 0 allow, 1 HTTP refusal, 2 tool error, 3 internal failure */
static int az_calls;

static dmcp_status az_tool(void *ud, const dmcp_principal *p, const char *tool,
                           const char *const *scopes, size_t n, dmcp_http_response **refusal,
                           char **tool_error)
{
    (void)ud;
    (void)p;
    az_calls++;
    assert_string_equal(tool, "admin");
    assert_int_equal(n, 1);
    assert_string_equal(scopes[0], "admin.write");
    switch (az_mode) {
    case 0:
        return DMCP_OK;
    case 1:
        assert_int_equal(dmcp_http_response_new(403, refusal), DMCP_OK);
        return DMCP_E_INSUFFICIENT_SCOPE;
    case 2:
        *tool_error = strdup("{\"error\":\"insufficient_scope\"}");
        return DMCP_E_INSUFFICIENT_SCOPE;
    default:
        return DMCP_E_INTERNAL;
    }
}

static void test_tool_scopes(void **state)
{
    (void)state;
    dmcp_server *srv = make_server(100);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("admin", h_echo, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_tool_set_input_schema_json(t, "{\"type\":\"object\"}"), DMCP_OK);
    assert_int_equal(dmcp_tool_add_required_scope(t, "admin.write"), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    dmcp_authorizer *az;
    assert_int_equal(dmcp_authorizer_new(NULL, NULL, &az), DMCP_OK);
    dmcp_authorizer_set_authorize_tool(az, az_tool);
    assert_int_equal(dmcp_server_set_authorizer(srv, az), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);

    /* Tools without scopes never reach the hook. */
    az_calls = 0;
    json_t *a = call(&e, "echo", "{\"text\":\"x\"}");
    json_decref(a);
    assert_int_equal(az_calls, 0);

    az_mode = 0;
    a = call(&e, "admin", "{\"text\":\"ok\"}");
    assert_string_equal(mt_text(a), "ok");
    json_decref(a);
    assert_int_equal(az_calls, 1);

    /* Pre-dispatch check: HTTP refusal is handed back to the transport. */
    json_t *msg = json_loads("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\","
                             "\"params\":{\"name\":\"admin\",\"arguments\":{\"text\":\"x\"}}}",
                             0, NULL);
    dmcp_http_response *refusal = NULL;
    json_t *ans = NULL;
    az_mode = 1;
    assert_int_equal(dmcp__authorize_call(&e.ctx, msg, &refusal, &ans), DMCP_E_INSUFFICIENT_SCOPE);
    assert_non_null(refusal);
    assert_int_equal(refusal->status, 403);
    assert_null(ans);
    dmcp_http_response_free(refusal);
    /* If a transport skipped the pre-check, dispatch still refuses (as isError). */
    a = call(&e, "admin", "{\"text\":\"x\"}");
    assert_true(mt_is_error(a));
    json_decref(a);

    az_mode = 2;
    assert_int_equal(dmcp__authorize_call(&e.ctx, msg, &refusal, &ans), DMCP_E_INSUFFICIENT_SCOPE);
    assert_null(refusal);
    assert_true(mt_is_error(ans));
    assert_string_equal(mt_text(ans), "{\"error\":\"insufficient_scope\"}");
    json_decref(ans);

    az_mode = 3;
    assert_int_equal(dmcp__authorize_call(&e.ctx, msg, &refusal, &ans), DMCP_E_INTERNAL);
    assert_int_equal(mt_error_code(ans), DMCP_JSONRPC_INTERNAL_ERROR);
    json_decref(ans);
    json_decref(msg);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_principal(void **state)
{
    (void)state;
    dmcp_principal *p;
    assert_int_equal(dmcp_principal_new("", &p), DMCP_E_INVALID_ARG);
    /* No key: a principal that identifies nobody (it can never hold a session). */
    assert_int_equal(dmcp_principal_new(NULL, &p), DMCP_OK);
    assert_null(dmcp_principal_binding_key(p));
    dmcp_principal_unref(p);
    assert_int_equal(dmcp_principal_new("iss|sub|cid", &p), DMCP_OK);
    assert_int_equal(dmcp_principal_set_user_id(p, "u1"), DMCP_OK);
    assert_int_equal(dmcp_principal_set_client_id(p, "c1"), DMCP_OK);
    assert_int_equal(dmcp_principal_add_scope(p, "a"), DMCP_OK);
    assert_int_equal(dmcp_principal_add_scope(p, "b"), DMCP_OK);
    json_t *claims = json_pack("{s:s}", "sub", "u1");
    assert_int_equal(dmcp_principal_set_claims(p, claims), DMCP_OK);
    json_decref(claims);
    assert_int_equal(dmcp_principal_set_access_token(p, "tok123", 6), DMCP_OK);
    size_t len = 0;
    assert_string_equal(dmcp_principal_access_token(p, &len), "tok123");
    assert_int_equal(len, 6);
    assert_string_equal(dmcp_principal_binding_key(p), "iss|sub|cid");
    assert_int_equal(dmcp_principal_scope_count(p), 2);
    assert_string_equal(dmcp_principal_scope(p, 1), "b");
    assert_null(dmcp_principal_scope(p, 2));
    assert_true(dmcp_principal_has_scope(p, "a"));
    assert_false(dmcp_principal_has_scope(p, "c"));
    assert_string_equal(json_string_value(json_object_get(dmcp_principal_claims(p), "sub")), "u1");
    dmcp_principal *q = dmcp_principal_ref(p);
    dmcp_principal_unref(p);
    assert_string_equal(dmcp_principal_user_id(q), "u1");
    dmcp_principal_unref(q);
    /* NULL-safe accessors (stdio / no authorizer). */
    assert_null(dmcp_principal_user_id(NULL));
    assert_int_equal(dmcp_principal_scope_count(NULL), 0);
    assert_null(dmcp_principal_access_token(NULL, &len));
    assert_int_equal(len, 0);
    dmcp_principal_unref(NULL);
}

static void test_http_response_builder(void **state)
{
    (void)state;
    dmcp_http_response *r;
    assert_int_equal(dmcp_http_response_new(99, &r), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_http_response_new(401, &r), DMCP_OK);
    assert_int_equal(dmcp_http_response_add_header(r, "WWW-Authenticate", "Bearer x\r\nSet: y"),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_http_response_add_header(r, "Bad Name", "v"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_http_response_add_header(r, "WWW-Authenticate", "Bearer"), DMCP_OK);
    assert_int_equal(dmcp_http_response_set_body(r, "application/json", "{}", 2), DMCP_OK);
    assert_int_equal(r->nheaders, 1);
    dmcp_http_response_free(r);
}

static void test_server_config(void **state)
{
    (void)state;
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("", "1", &srv), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_new("n", "1", &srv), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen_string(srv, "127.0.0.1:8080"), DMCP_OK);
    assert_string_equal(srv->listen_host, "127.0.0.1");
    assert_int_equal(srv->listen_port, 8080);
    assert_int_equal(dmcp_server_set_listen_string(srv, "[::1]:0"), DMCP_OK);
    assert_string_equal(srv->listen_host, "::1");
    assert_int_equal(srv->listen_port, 0);
    assert_int_equal(dmcp_server_set_listen_string(srv, "localhost:65535"), DMCP_OK);
    static const char *const bad[] = {"127.0.0.1", ":80",    "h:",       "h:65536",
                                      "h:8o",      "::1:80", "h:123456", "a b:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (dmcp_server_set_listen_string(srv, bad[i]) != DMCP_E_INVALID_ARG) {
            fail_msg("accepted listen string %s", bad[i]);
        }
    }
    assert_int_equal(dmcp_server_set_endpoint(srv, "/v1/mcp"), DMCP_OK);
    assert_int_equal(dmcp_server_set_endpoint(srv, "mcp"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_endpoint(srv, "/m?x"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_endpoint(srv, "/m%2f"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_add_allowed_origin(srv, "example.com"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_add_allowed_origin(srv, "*"), DMCP_OK);
    assert_int_equal(dmcp_server_add_allowed_host(srv, "h/x"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_page_size(srv, 0), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_threads(srv, 65), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_max_body(srv, DMCP_MAX_BODY_BYTES + 1), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_title(srv, "\xff"), DMCP_E_INVALID_ARG);
    dmcp_server_free(srv);
    dmcp_server_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definitions),   cmocka_unit_test(test_list_pagination),
        cmocka_unit_test(test_call),          cmocka_unit_test(test_structured_and_blocks),
        cmocka_unit_test(test_notifications), cmocka_unit_test(test_tool_scopes),
        cmocka_unit_test(test_principal),     cmocka_unit_test(test_http_response_builder),
        cmocka_unit_test(test_server_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
