/* Resources: definitions, RFC 6570 level-1 templates, list/templates pagination, read (text,
 * blob, reader, template), errors (-32002 with data.uri, bad params), subscriptions and
 * resources/updated delivery, capabilities. */
#include "mcp_test.h"

static dmcp_status r_reader(dmcp_contents *out, const char *uri, const json_t *vars, void *ud)
{
    (void)ud;
    if (vars != NULL) {
        const char *id = json_string_value(json_object_get(vars, "id"));
        if (strcmp(id, "missing") == 0) {
            return DMCP_E_NOT_FOUND;
        }
        if (strcmp(id, "broken") == 0) {
            return DMCP_E_UPSTREAM;
        }
        char text[128];
        snprintf(text, sizeof(text), "id=%s", id);
        return dmcp_contents_add_text(out, uri, "text/plain", text);
    }
    return dmcp_contents_add_text(out, uri, NULL, "dynamic");
}

static dmcp_server *make_server(void)
{
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("res", "1", &srv), DMCP_OK);
    dmcp_resource *r;
    assert_int_equal(dmcp_resource_new("test://text", "Text", &r), DMCP_OK);
    assert_int_equal(dmcp_resource_set_description(r, "a text"), DMCP_OK);
    assert_int_equal(dmcp_resource_set_mime_type(r, "text/plain"), DMCP_OK);
    assert_int_equal(dmcp_resource_set_text(r, "hello"), DMCP_OK);
    assert_int_equal(dmcp_server_add_resource(srv, r), DMCP_OK);
    assert_int_equal(dmcp_resource_new("test://bin", "Bin", &r), DMCP_OK);
    assert_int_equal(dmcp_resource_set_mime_type(r, "image/png"), DMCP_OK);
    assert_int_equal(dmcp_resource_set_blob(r, "AAEC"), DMCP_OK);
    assert_int_equal(dmcp_server_add_resource(srv, r), DMCP_OK);
    assert_int_equal(dmcp_resource_new("test://dyn", "Dyn", &r), DMCP_OK);
    assert_int_equal(dmcp_resource_set_reader(r, r_reader, NULL), DMCP_OK);
    assert_int_equal(dmcp_server_add_resource(srv, r), DMCP_OK);
    dmcp_resource_template *t;
    assert_int_equal(
        dmcp_resource_template_new("test://item/{id}/data", "Item", r_reader, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_resource_template_set_mime_type(t, "text/plain"), DMCP_OK);
    assert_int_equal(dmcp_server_add_resource_template(srv, t), DMCP_OK);
    return srv;
}

static void test_definitions(void **state)
{
    (void)state;
    dmcp_resource *r = NULL;
    assert_int_equal(dmcp_resource_new("no-scheme", "x", &r), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_resource_new("test://a b", "x", &r), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_resource_new("1x://a", "x", &r), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_resource_new("test://a", "", &r), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_resource_new("test://a", NULL, &r), DMCP_E_INVALID_ARG);
    assert_null(r);
    assert_int_equal(dmcp_resource_new("test://a", "A", &r), DMCP_OK);
    /* Blobs must be padded standard base64. */
    assert_int_equal(dmcp_resource_set_blob(r, "AAE"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_resource_set_blob(r, "AA=C"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_resource_set_blob(r, "AA-_"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_resource_set_blob(r, "AA=="), DMCP_OK);
    assert_int_equal(dmcp_resource_set_text(r, "\xff"), DMCP_E_INVALID_ARG);

    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("res", "1", &srv), DMCP_OK);
    assert_int_equal(dmcp_server_add_resource(srv, r), DMCP_OK);
    /* Duplicate URI; a resource with nothing to read. */
    assert_int_equal(dmcp_resource_new("test://a", "A2", &r), DMCP_OK);
    assert_int_equal(dmcp_resource_set_text(r, "x"), DMCP_OK);
    assert_int_equal(dmcp_server_add_resource(srv, r), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_resource_new("test://empty", "E", &r), DMCP_OK);
    assert_int_equal(dmcp_server_add_resource(srv, r), DMCP_E_INVALID_ARG);
    dmcp_server_free(srv);
    dmcp_resource_free(NULL);
    dmcp_resource_template_free(NULL);
}

static void test_template_parse(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "test://{}",    "test://{a",   "test://a}",    "test://{+a}",   "test://{#a}",
        "test://{a,b}", "test://{a*}", "test://{a:3}", "test://{a}{b}", "test://{a}/{a}",
        "test://{a-b}", "test://{/a}", "test://{?a}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dmcp_resource_template *t = NULL;
        assert_int_equal(dmcp_resource_template_new(bad[i], "n", r_reader, NULL, &t),
                         DMCP_E_INVALID_ARG);
        assert_null(t);
    }
    dmcp_resource_template *t;
    assert_int_equal(dmcp_resource_template_new("test://x/{a}", "n", NULL, NULL, &t),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_resource_template_new("test://x/{a}/y/{b_2}", "n", r_reader, NULL, &t),
                     DMCP_OK);
    assert_int_equal(dmcp_resource_template_set_completion(t, "c", (dmcp_complete_fn)NULL, NULL),
                     DMCP_E_INVALID_ARG);
    dmcp_resource_template_free(t);

    /* Matching: literal text exactly, a variable a non-empty run without / ? #. */
    json_t *v = dmcp__uri_template_match("test://x/{a}/y/{b}", "test://x/1/y/two");
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "a")), "1");
    assert_string_equal(json_string_value(json_object_get(v, "b")), "two");
    json_decref(v);
    v = dmcp__uri_template_match("test://x/{a}.json", "test://x/abc.json");
    assert_string_equal(json_string_value(json_object_get(v, "a")), "abc");
    json_decref(v);
    /* Percent-decoding of values; bad escapes and %00 do not match. */
    v = dmcp__uri_template_match("test://x/{a}", "test://x/a%20b%C3%A9");
    assert_string_equal(json_string_value(json_object_get(v, "a")), "a b\xc3\xa9");
    json_decref(v);
    static const char *const nomatch[] = {"test://x/",    "test://x/a/b", "test://x/a?q",
                                          "test://x/a#f", "test://y/a",   "test://x/%zz",
                                          "test://x/%00", "test://x/%4",  "test://x/%ff"};
    for (size_t i = 0; i < sizeof(nomatch) / sizeof(nomatch[0]); i++) {
        assert_null(dmcp__uri_template_match("test://x/{a}", nomatch[i]));
    }
}

static void test_list(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    assert_int_equal(dmcp_server_set_page_size(srv, 2), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}");
    const json_t *list = json_object_get(mt_result(a), "resources");
    assert_int_equal(json_array_size(list), 2);
    const json_t *first = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(first, "uri")), "test://text");
    assert_string_equal(json_string_value(json_object_get(first, "name")), "Text");
    assert_string_equal(json_string_value(json_object_get(first, "description")), "a text");
    assert_string_equal(json_string_value(json_object_get(first, "mimeType")), "text/plain");
    const char *cur = json_string_value(json_object_get(mt_result(a), "nextCursor"));
    assert_non_null(cur);
    char buf[256];
    snprintf(buf, sizeof(buf),
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/list\",\"params\":"
             "{\"cursor\":\"%s\"}}",
             cur);
    json_decref(a);
    a = mt_send(&e, buf);
    assert_int_equal(json_array_size(json_object_get(mt_result(a), "resources")), 1);
    assert_null(json_object_get(mt_result(a), "nextCursor"));
    json_decref(a);
    /* Cursors we never handed out, or of another list, are -32602. */
    static const char *const bad[] = {"\"r9\"", "\"r0\"", "\"p2\"", "\"r\"", "\"r-1\"", "5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf),
                 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/list\",\"params\":"
                 "{\"cursor\":%s}}",
                 bad[i]);
        a = mt_send(&e, buf);
        assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
        json_decref(a);
    }
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/templates/list\"}");
    const json_t *tl = json_object_get(mt_result(a), "resourceTemplates");
    assert_int_equal(json_array_size(tl), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tl, 0), "uriTemplate")),
                        "test://item/{id}/data");
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static json_t *read_uri(mt_env *e, const char *uri)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/read\",\"params\":"
             "{\"uri\":\"%s\"}}",
             uri);
    return mt_send(e, buf);
}

static const json_t *first_contents(const json_t *a)
{
    return json_array_get(json_object_get(mt_result(a), "contents"), 0);
}

static void test_read(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    json_t *a = read_uri(&e, "test://text");
    const json_t *c = first_contents(a);
    assert_string_equal(json_string_value(json_object_get(c, "uri")), "test://text");
    assert_string_equal(json_string_value(json_object_get(c, "mimeType")), "text/plain");
    assert_string_equal(json_string_value(json_object_get(c, "text")), "hello");
    assert_null(json_object_get(c, "blob"));
    json_decref(a);
    a = read_uri(&e, "test://bin");
    c = first_contents(a);
    assert_string_equal(json_string_value(json_object_get(c, "blob")), "AAEC");
    assert_null(json_object_get(c, "text"));
    json_decref(a);
    a = read_uri(&e, "test://dyn");
    assert_string_equal(json_string_value(json_object_get(first_contents(a), "text")), "dynamic");
    json_decref(a);
    a = read_uri(&e, "test://item/42/data");
    c = first_contents(a);
    assert_string_equal(json_string_value(json_object_get(c, "uri")), "test://item/42/data");
    assert_string_equal(json_string_value(json_object_get(c, "text")), "id=42");
    json_decref(a);

    /* Unknown resource, and a template whose reader says not found: -32002 + data.uri. */
    static const char *const missing[] = {"test://nope", "test://item/missing/data",
                                          "test://item/1/2/data"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        a = read_uri(&e, missing[i]);
        assert_int_equal(mt_error_code(a), DMCP_JSONRPC_RESOURCE_NOT_FOUND);
        const json_t *err = json_object_get(a, "error");
        assert_string_equal(json_string_value(json_object_get(err, "message")),
                            "Resource not found");
        assert_string_equal(json_string_value(json_object_get(json_object_get(err, "data"), "uri")),
                            missing[i]);
        json_decref(a);
    }
    a = read_uri(&e, "test://item/broken/data");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INTERNAL_ERROR);
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"resources/read\",\"params\":"
                    "{\"uri\":5}}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"resources/read\"}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_capabilities_and_gating(void **state)
{
    (void)state;
    /* Without resources the methods do not exist and no capability is declared. */
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("none", "1", &srv), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                            "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    const json_t *caps = json_object_get(mt_result(a), "capabilities");
    assert_null(json_object_get(caps, "resources"));
    assert_null(json_object_get(caps, "prompts"));
    assert_null(json_object_get(caps, "completions"));
    assert_non_null(json_object_get(caps, "logging"));
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_METHOD_NOT_FOUND);
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);

    srv = make_server();
    assert_int_equal(dmcp_server_set_list_changed(srv, DMCP_LIST_RESOURCES), DMCP_OK);
    assert_int_equal(dmcp_server_set_list_changed(srv, 8), DMCP_E_INVALID_ARG);
    mt_env_init(&e, srv);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                    "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    const json_t *rc = json_object_get(json_object_get(mt_result(a), "capabilities"), "resources");
    assert_true(json_is_true(json_object_get(rc, "subscribe")));
    assert_true(json_is_true(json_object_get(rc, "listChanged")));
    json_decref(a);
    /* Before initialize only ping passes. */
    mt_env e2;
    mt_env_init(&e2, srv);
    a = read_uri(&e2, "test://text");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_REQUEST);
    json_decref(a);
    mt_env_free(&e2);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

/* Collects unsolicited messages (the stdio-style session output). */
static dmcp_status out_collect(dmcp__sink *sink, json_t *msg)
{
    json_array_append_new((json_t *)sink->ud, msg);
    return DMCP_OK;
}

static void test_subscriptions(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    json_t *out = json_array();
    dmcp__sink osink = {out_collect, out, true, NULL};
    e.sess->out = &osink;
    /* The runtime delivers to the session the way dmcp_server_run_stdio registers it. */
    srv->stdio_sess = e.sess;

    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\","
                            "\"params\":{\"uri\":\"test://text\"}}");
    assert_int_equal(json_object_size(mt_result(a)), 0);
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\","
                    "\"params\":{\"uri\":\"test://item/9/data\"}}");
    assert_int_equal(mt_error_code(a), 0);
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/subscribe\","
                    "\"params\":{\"uri\":\"test://unknown\"}}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_RESOURCE_NOT_FOUND);
    json_decref(a);

    /* Not before notifications/initialized (Lifecycle §1.1). */
    assert_int_equal(dmcp_server_notify_resource_updated(srv, "test://text"), DMCP_OK);
    assert_int_equal(json_array_size(out), 0);
    json_decref(mt_send(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));

    assert_int_equal(dmcp_server_notify_resource_updated(srv, "test://text"), DMCP_OK);
    assert_int_equal(dmcp_server_notify_resource_updated(srv, "test://bin"), DMCP_OK);
    assert_int_equal(json_array_size(out), 1); /* only the subscribed one */
    const json_t *n = json_array_get(out, 0);
    assert_string_equal(json_string_value(json_object_get(n, "method")),
                        "notifications/resources/updated");
    assert_string_equal(json_string_value(json_object_get(json_object_get(n, "params"), "uri")),
                        "test://text");
    assert_null(json_object_get(n, "id"));

    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/unsubscribe\","
                    "\"params\":{\"uri\":\"test://text\"}}");
    assert_int_equal(json_object_size(mt_result(a)), 0);
    json_decref(a);
    assert_int_equal(dmcp_server_notify_resource_updated(srv, "test://text"), DMCP_OK);
    assert_int_equal(json_array_size(out), 1);

    /* list_changed: only for declared lists; resources declared here. */
    assert_int_equal(dmcp_server_notify_list_changed(srv, DMCP_LIST_RESOURCES), DMCP_E_STATE);
    srv->list_changed = DMCP_LIST_RESOURCES;
    assert_int_equal(dmcp_server_notify_list_changed(srv, DMCP_LIST_RESOURCES), DMCP_OK);
    assert_int_equal(dmcp_server_notify_list_changed(srv, DMCP_LIST_PROMPTS), DMCP_E_STATE);
    assert_int_equal(dmcp_server_notify_list_changed(srv, 3), DMCP_E_INVALID_ARG);
    assert_int_equal(json_array_size(out), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "method")),
                        "notifications/resources/list_changed");
    assert_int_equal(dmcp_server_notify_resource_updated(srv, "\xff"), DMCP_E_INVALID_ARG);
    srv->stdio_sess = NULL;
    e.sess->out = NULL;
    json_decref(out);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definitions),
        cmocka_unit_test(test_template_parse),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_capabilities_and_gating),
        cmocka_unit_test(test_subscriptions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
