/* completion/complete: prompt arguments and template variables, the 100-value cap, total and
 * hasMore, context arguments, errors, and the completions capability. */
#include "mcp_test.h"

static dmcp_status c_prefix(const char *arg, const char *value, const json_t *ctx,
                            dmcp_completion *out, void *ud)
{
    (void)ud;
    static const char *const words[] = {"paris", "park", "party", "rome"};
    for (size_t i = 0; i < 4; i++) {
        if (strncmp(words[i], value, strlen(value)) == 0) {
            assert_int_equal(dmcp_completion_add_value(out, words[i]), DMCP_OK);
        }
    }
    /* The context's resolved arguments reach the callback. */
    const char *other = json_string_value(json_object_get(ctx, "country"));
    if (other != NULL) {
        char v[96];
        snprintf(v, sizeof(v), "%s-in-%s", arg, other);
        dmcp_completion_add_value(out, v);
    }
    return DMCP_OK;
}

static dmcp_status c_many(const char *arg, const char *value, const json_t *ctx,
                          dmcp_completion *out, void *ud)
{
    (void)arg;
    (void)value;
    (void)ctx;
    (void)ud;
    for (int i = 0; i < 250; i++) {
        char v[16];
        snprintf(v, sizeof(v), "v%d", i);
        assert_int_equal(dmcp_completion_add_value(out, v), DMCP_OK);
    }
    assert_int_equal(dmcp_completion_add_value(out, NULL), DMCP_E_INVALID_ARG);
    return DMCP_OK;
}

static dmcp_status c_declared(const char *arg, const char *value, const json_t *ctx,
                              dmcp_completion *out, void *ud)
{
    (void)arg;
    (void)value;
    (void)ctx;
    (void)ud;
    dmcp_completion_add_value(out, "a");
    dmcp_completion_set_total(out, 40);
    return DMCP_OK;
}

static dmcp_status c_fail(const char *arg, const char *value, const json_t *ctx,
                          dmcp_completion *out, void *ud)
{
    (void)arg;
    (void)value;
    (void)ctx;
    (void)out;
    (void)ud;
    return DMCP_E_UPSTREAM;
}

static dmcp_status p_noop(const json_t *args, dmcp_prompt_result *r, void *ud)
{
    (void)args;
    (void)ud;
    return dmcp_prompt_result_add_text(r, DMCP_ROLE_USER, "x");
}

static dmcp_status r_noop(dmcp_contents *out, const char *uri, const json_t *vars, void *ud)
{
    (void)vars;
    (void)ud;
    return dmcp_contents_add_text(out, uri, NULL, "x");
}

static dmcp_server *make_server(void)
{
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("complete", "1", &srv), DMCP_OK);
    dmcp_prompt *p;
    assert_int_equal(dmcp_prompt_new("trip", p_noop, NULL, &p), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "city", NULL, true), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "country", NULL, false), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "many", NULL, false), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "declared", NULL, false), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "broken", NULL, false), DMCP_OK);
    assert_int_equal(dmcp_prompt_set_completion(p, "city", c_prefix, NULL), DMCP_OK);
    assert_int_equal(dmcp_prompt_set_completion(p, "many", c_many, NULL), DMCP_OK);
    assert_int_equal(dmcp_prompt_set_completion(p, "declared", c_declared, NULL), DMCP_OK);
    assert_int_equal(dmcp_prompt_set_completion(p, "broken", c_fail, NULL), DMCP_OK);
    assert_int_equal(dmcp_server_add_prompt(srv, p), DMCP_OK);
    dmcp_resource_template *t;
    assert_int_equal(dmcp_resource_template_new("test://city/{name}", "City", r_noop, NULL, &t),
                     DMCP_OK);
    assert_int_equal(dmcp_resource_template_set_completion(t, "name", c_prefix, NULL), DMCP_OK);
    assert_int_equal(dmcp_resource_template_set_completion(t, "nope", c_prefix, NULL),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_add_resource_template(srv, t), DMCP_OK);
    return srv;
}

static json_t *complete(mt_env *e, const char *ref, const char *arg, const char *value,
                        const char *context)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"completion/complete\",\"params\":"
             "{\"ref\":%s,\"argument\":{\"name\":\"%s\",\"value\":\"%s\"}%s%s}}",
             ref, arg, value, context != NULL ? ",\"context\":" : "",
             context != NULL ? context : "");
    return mt_send(e, buf);
}

static const json_t *completion(const json_t *a)
{
    return json_object_get(mt_result(a), "completion");
}

static void test_prompt_argument(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    mt_env e;
    mt_env_init(&e, srv);
    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                            "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}");
    assert_non_null(json_object_get(json_object_get(mt_result(a), "capabilities"), "completions"));
    json_decref(a);
    const char *ref = "{\"type\":\"ref/prompt\",\"name\":\"trip\"}";
    a = complete(&e, ref, "city", "par", NULL);
    const json_t *c = completion(a);
    assert_int_equal(json_array_size(json_object_get(c, "values")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "values"), 0)),
                        "paris");
    assert_int_equal(json_integer_value(json_object_get(c, "total")), 3);
    assert_true(json_is_false(json_object_get(c, "hasMore")));
    json_decref(a);
    a = complete(&e, ref, "city", "r", "{\"arguments\":{\"country\":\"it\"}}");
    c = completion(a);
    assert_int_equal(json_array_size(json_object_get(c, "values")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "values"), 1)),
                        "city-in-it");
    json_decref(a);
    /* No completer: an empty answer, not an error. */
    a = complete(&e, ref, "country", "x", NULL);
    c = completion(a);
    assert_int_equal(json_array_size(json_object_get(c, "values")), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "total")), 0);
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_cap_and_total(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    const char *ref = "{\"type\":\"ref/prompt\",\"name\":\"trip\"}";
    json_t *a = complete(&e, ref, "many", "", NULL);
    const json_t *c = completion(a);
    /* Completion §"Completion results": at most 100 values. */
    assert_int_equal(json_array_size(json_object_get(c, "values")), 100);
    assert_int_equal(json_integer_value(json_object_get(c, "total")), 250);
    assert_true(json_is_true(json_object_get(c, "hasMore")));
    json_decref(a);
    a = complete(&e, ref, "declared", "", NULL);
    c = completion(a);
    assert_int_equal(json_integer_value(json_object_get(c, "total")), 40);
    assert_true(json_is_true(json_object_get(c, "hasMore")));
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_template_variable(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    const char *ref = "{\"type\":\"ref/resource\",\"uri\":\"test://city/{name}\"}";
    json_t *a = complete(&e, ref, "name", "ro", NULL);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(completion(a), "values"), 0)), "rome");
    json_decref(a);
    a = complete(&e, ref, "other", "ro", NULL);
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_errors(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    static const char *const refs[] = {
        "{\"type\":\"ref/prompt\",\"name\":\"nope\"}",
        "{\"type\":\"ref/resource\",\"uri\":\"test://city/x\"}", /* a URI, not the template */
        "{\"type\":\"ref/tool\",\"name\":\"trip\"}",
        "{\"name\":\"trip\"}",
        "\"trip\"",
    };
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        json_t *a = complete(&e, refs[i], "city", "p", NULL);
        assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
        json_decref(a);
    }
    const char *ref = "{\"type\":\"ref/prompt\",\"name\":\"trip\"}";
    json_t *a = complete(&e, ref, "undeclared", "p", NULL);
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    a = complete(&e, ref, "city", "p", "{\"arguments\":[1]}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    a = complete(&e, ref, "broken", "p", NULL);
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INTERNAL_ERROR);
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"completion/complete\",\"params\":"
                    "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"trip\"},"
                    "\"argument\":{\"name\":\"city\",\"value\":3}}}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);

    /* Nothing completes: no capability, and the method does not exist. */
    assert_int_equal(dmcp_server_new("none", "1", &srv), DMCP_OK);
    dmcp_prompt *p;
    assert_int_equal(dmcp_prompt_new("trip", p_noop, NULL, &p), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "city", NULL, true), DMCP_OK);
    assert_int_equal(dmcp_server_add_prompt(srv, p), DMCP_OK);
    mt_env_init(&e, srv);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                    "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    assert_null(json_object_get(json_object_get(mt_result(a), "capabilities"), "completions"));
    json_decref(a);
    a = complete(&e, ref, "city", "p", NULL);
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_METHOD_NOT_FOUND);
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_argument),
        cmocka_unit_test(test_cap_and_total),
        cmocka_unit_test(test_template_variable),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
