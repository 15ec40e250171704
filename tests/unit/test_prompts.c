/* Prompts: definitions, prompts/list (pagination, arguments), prompts/get with arguments
 * (missing required, undeclared, non-string -> -32602; unknown prompt -> -32602), every
 * content type, handler failure. */
#include "mcp_test.h"

static dmcp_status p_greet(const json_t *args, dmcp_prompt_result *r, void *ud)
{
    (void)ud;
    char text[256];
    const json_t *tone = json_object_get(args, "tone");
    snprintf(text, sizeof(text), "Hello %s (%s)", json_string_value(json_object_get(args, "who")),
             tone != NULL ? json_string_value(tone) : "plain");
    dmcp_prompt_result_set_description(r, "a greeting");
    return dmcp_prompt_result_add_text(r, DMCP_ROLE_USER, text);
}

static dmcp_status p_all(const json_t *args, dmcp_prompt_result *r, void *ud)
{
    (void)args;
    (void)ud;
    assert_int_equal(dmcp_prompt_result_add_text(r, DMCP_ROLE_ASSISTANT, "t"), DMCP_OK);
    assert_int_equal(dmcp_prompt_result_add_image(r, DMCP_ROLE_USER, "AA==", "image/png"), DMCP_OK);
    assert_int_equal(dmcp_prompt_result_add_audio(r, DMCP_ROLE_USER, "AA==", "audio/wav"), DMCP_OK);
    assert_int_equal(
        dmcp_prompt_result_add_embedded_text(r, DMCP_ROLE_USER, "test://e", "text/plain", "e"),
        DMCP_OK);
    assert_int_equal(
        dmcp_prompt_result_add_embedded_blob(r, DMCP_ROLE_USER, "test://b", NULL, "AA=="), DMCP_OK);
    assert_int_equal(
        dmcp_prompt_result_add_resource_link(r, DMCP_ROLE_USER, "test://l", "L", NULL, NULL),
        DMCP_OK);
    /* Bad input is refused and adds nothing. */
    assert_int_equal(dmcp_prompt_result_add_text(r, (dmcp_role)7, "x"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_prompt_result_add_text(r, DMCP_ROLE_USER, NULL), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_prompt_result_add_content(r, DMCP_ROLE_USER, json_object()),
                     DMCP_E_INVALID_ARG);
    return DMCP_OK;
}

static dmcp_status p_fail(const json_t *args, dmcp_prompt_result *r, void *ud)
{
    (void)args;
    (void)r;
    (void)ud;
    return DMCP_E_UPSTREAM;
}

static dmcp_server *make_server(void)
{
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("prompts", "1", &srv), DMCP_OK);
    dmcp_prompt *p;
    assert_int_equal(dmcp_prompt_new("greet", p_greet, NULL, &p), DMCP_OK);
    assert_int_equal(dmcp_prompt_set_title(p, "Greeting"), DMCP_OK);
    assert_int_equal(dmcp_prompt_set_description(p, "Greets someone"), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "who", "Who to greet", true), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "tone", NULL, false), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "who", NULL, false), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_add_prompt(srv, p), DMCP_OK);
    assert_int_equal(dmcp_prompt_new("all", p_all, NULL, &p), DMCP_OK);
    assert_int_equal(dmcp_server_add_prompt(srv, p), DMCP_OK);
    assert_int_equal(dmcp_prompt_new("fail", p_fail, NULL, &p), DMCP_OK);
    assert_int_equal(dmcp_server_add_prompt(srv, p), DMCP_OK);
    return srv;
}

static void test_definitions(void **state)
{
    (void)state;
    dmcp_prompt *p = NULL;
    assert_int_equal(dmcp_prompt_new("bad name", p_greet, NULL, &p), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_prompt_new("", p_greet, NULL, &p), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_prompt_new("x", NULL, NULL, &p), DMCP_E_INVALID_ARG);
    assert_null(p);
    assert_int_equal(dmcp_prompt_new("x", p_greet, NULL, &p), DMCP_OK);
    assert_int_equal(dmcp_prompt_add_argument(p, "a b", NULL, true), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_prompt_set_completion(p, "undeclared", NULL, NULL), DMCP_E_INVALID_ARG);
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("p", "1", &srv), DMCP_OK);
    assert_int_equal(dmcp_server_add_prompt(srv, p), DMCP_OK);
    assert_int_equal(dmcp_prompt_new("x", p_greet, NULL, &p), DMCP_OK);
    assert_int_equal(dmcp_server_add_prompt(srv, p), DMCP_E_INVALID_ARG); /* duplicate */
    dmcp_server_free(srv);
    dmcp_prompt_free(NULL);
}

static void test_list(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    assert_int_equal(dmcp_server_set_page_size(srv, 2), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                            "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    const json_t *pc = json_object_get(json_object_get(mt_result(a), "capabilities"), "prompts");
    assert_true(json_is_false(json_object_get(pc, "listChanged")));
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/list\"}");
    const json_t *list = json_object_get(mt_result(a), "prompts");
    assert_int_equal(json_array_size(list), 2);
    const json_t *g = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(g, "name")), "greet");
    assert_string_equal(json_string_value(json_object_get(g, "title")), "Greeting");
    assert_string_equal(json_string_value(json_object_get(g, "description")), "Greets someone");
    const json_t *args = json_object_get(g, "arguments");
    assert_int_equal(json_array_size(args), 2);
    assert_true(json_is_true(json_object_get(json_array_get(args, 0), "required")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(args, 0), "description")),
                        "Who to greet");
    assert_true(json_is_false(json_object_get(json_array_get(args, 1), "required")));
    assert_null(json_object_get(json_array_get(list, 1), "arguments"));
    const char *cur = json_string_value(json_object_get(mt_result(a), "nextCursor"));
    char buf[256];
    snprintf(buf, sizeof(buf),
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"prompts/list\",\"params\":"
             "{\"cursor\":\"%s\"}}",
             cur);
    json_decref(a);
    a = mt_send(&e, buf);
    assert_int_equal(json_array_size(json_object_get(mt_result(a), "prompts")), 1);
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static json_t *get(mt_env *e, const char *name, const char *args_json)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"prompts/get\",\"params\":"
             "{\"name\":\"%s\"%s%s}}",
             name, args_json != NULL ? ",\"arguments\":" : "", args_json != NULL ? args_json : "");
    return mt_send(e, buf);
}

static const char *error_message(const json_t *a)
{
    return json_string_value(json_object_get(json_object_get(a, "error"), "message"));
}

static void test_get(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    json_t *a = get(&e, "greet", "{\"who\":\"Ada\"}");
    const json_t *res = mt_result(a);
    assert_string_equal(json_string_value(json_object_get(res, "description")), "a greeting");
    const json_t *m = json_array_get(json_object_get(res, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "role")), "user");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "content"), "text")),
                        "Hello Ada (plain)");
    json_decref(a);
    a = get(&e, "greet", "{\"who\":\"Ada\",\"tone\":\"warm\"}");
    m = json_array_get(json_object_get(mt_result(a), "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "content"), "text")),
                        "Hello Ada (warm)");
    json_decref(a);

    /* Argument errors are -32602 (Prompts §"Error handling"), before the handler runs. */
    a = get(&e, "greet", NULL);
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    assert_string_equal(error_message(a), "Missing required argument: who");
    json_decref(a);
    a = get(&e, "greet", "{\"tone\":\"warm\"}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    a = get(&e, "greet", "{\"who\":\"Ada\",\"extra\":\"x\"}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    assert_string_equal(error_message(a), "Unknown argument: extra");
    json_decref(a);
    a = get(&e, "greet", "{\"who\":5}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    a = get(&e, "greet", "[\"Ada\"]");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    a = get(&e, "nope", NULL);
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    assert_string_equal(error_message(a), "Unknown prompt: nope");
    json_decref(a);
    a = get(&e, "bad name<script>", NULL);
    assert_string_equal(error_message(a), "Unknown prompt");
    json_decref(a);
    a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"prompts/get\",\"params\":{}}");
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INVALID_PARAMS);
    json_decref(a);
    a = get(&e, "fail", NULL);
    assert_int_equal(mt_error_code(a), DMCP_JSONRPC_INTERNAL_ERROR);
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

static void test_content_types(void **state)
{
    (void)state;
    dmcp_server *srv = make_server();
    mt_env e;
    mt_env_init(&e, srv);
    mt_initialize(&e, DMCP_PROTOCOL_2025_11_25);
    json_t *a = get(&e, "all", NULL);
    const json_t *msgs = json_object_get(mt_result(a), "messages");
    assert_int_equal(json_array_size(msgs), 6);
    static const char *const types[] = {"text",     "image",    "audio",
                                        "resource", "resource", "resource_link"};
    for (size_t i = 0; i < 6; i++) {
        const json_t *c = json_object_get(json_array_get(msgs, i), "content");
        assert_string_equal(json_string_value(json_object_get(c, "type")), types[i]);
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                        "assistant");
    const json_t *emb =
        json_object_get(json_object_get(json_array_get(msgs, 3), "content"), "resource");
    assert_string_equal(json_string_value(json_object_get(emb, "uri")), "test://e");
    assert_string_equal(json_string_value(json_object_get(emb, "text")), "e");
    const json_t *blob =
        json_object_get(json_object_get(json_array_get(msgs, 4), "content"), "resource");
    assert_string_equal(json_string_value(json_object_get(blob, "blob")), "AA==");
    json_decref(a);
    mt_env_free(&e);
    dmcp_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definitions),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_content_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
