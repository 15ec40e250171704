/* JSON-RPC 2.0 framing: parsing limits, message shapes, id types, batches. */
#include "mcp_test.h"

#include "jsonlite.h"

static json_t *parse(const char *s, int *code)
{
    return dmcp__jsonrpc_parse(s, strlen(s), DMCP_MAX_BODY_BYTES, code);
}

static char *nested(size_t depth)
{
    char *s = malloc(2 * depth + 1);
    for (size_t i = 0; i < depth; i++) {
        s[i] = '[';
        s[2 * depth - 1 - i] = ']';
    }
    s[2 * depth] = '\0';
    return s;
}

static void test_parse_limits(void **state)
{
    (void)state;
    int code = 0;
    json_t *v = parse("{\"a\":1}", &code);
    assert_non_null(v);
    json_decref(v);

    assert_null(parse("{\"a\":", &code));
    assert_int_equal(code, DMCP_JSONRPC_PARSE_ERROR);
    assert_null(parse("42", &code));
    assert_int_equal(code, DMCP_JSONRPC_INVALID_REQUEST);
    assert_null(parse("\"str\"", &code));
    assert_int_equal(code, DMCP_JSONRPC_INVALID_REQUEST);
    /* Trailing garbage, duplicate keys, \u0000, invalid UTF-8, raw NUL. */
    assert_null(parse("{} {}", &code));
    assert_null(parse("{\"method\":\"a\",\"method\":\"b\"}", &code));
    assert_int_equal(code, DMCP_JSONRPC_PARSE_ERROR);
    assert_null(parse("{\"a\":\"x\\u0000y\"}", &code));
    assert_null(parse("{\"a\":\"\xc3\x28\"}", &code));
    assert_int_equal(code, DMCP_JSONRPC_PARSE_ERROR);
    assert_null(parse("{\"a\":\"\\ud800\"}", &code));
    const char with_nul[] = "{\"a\":1}\0";
    assert_null(dmcp__jsonrpc_parse(with_nul, sizeof(with_nul) - 1, 100, &code));
    /* Size cap. */
    assert_null(dmcp__jsonrpc_parse("{\"a\":1}", 7, 6, &code));
    assert_null(dmcp__jsonrpc_parse("", 0, 6, &code));
}

static void test_parse_depth(void **state)
{
    (void)state;
    int code = 0;
    char *ok = nested(DMCP_MAX_JSON_DEPTH);
    json_t *v = parse(ok, &code);
    assert_non_null(v);
    json_decref(v);
    free(ok);
    char *deep = nested(DMCP_MAX_JSON_DEPTH + 1);
    assert_null(parse(deep, &code));
    assert_int_equal(code, DMCP_JSONRPC_PARSE_ERROR);
    free(deep);
    /* Brackets inside strings do not count, escaped quotes do not end the string. */
    char buf[400];
    snprintf(buf, sizeof(buf), "{\"a\":\"%s\\\"[[[\"}",
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    v = parse(buf, &code);
    assert_non_null(v);
    json_decref(v);
}

static dmcp__msg_kind kind(const char *s, const json_t **id, json_t **keep)
{
    int code;
    *keep = parse(s, &code);
    assert_non_null(*keep);
    return dmcp__jsonrpc_classify(*keep, id);
}

static void test_classify(void **state)
{
    (void)state;
    const json_t *id;
    json_t *m;
    static const struct {
        const char *text;
        dmcp__msg_kind want;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", DMCP__MSG_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\",\"params\":{}}", DMCP__MSG_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", DMCP__MSG_NOTIFICATION},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", DMCP__MSG_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-1,\"message\":\"x\"}}",
         DMCP__MSG_RESPONSE},
        {"{\"id\":1,\"method\":\"ping\"}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"result\":{}}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1}}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"result\":{}}", DMCP__MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"no code\"}}", DMCP__MSG_INVALID},
        {"[]", DMCP__MSG_INVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dmcp__msg_kind k = kind(cases[i].text, &id, &m);
        if (k != cases[i].want) {
            fail_msg("case %zu (%s): got %d want %d", i, cases[i].text, k, cases[i].want);
        }
        json_decref(m);
    }
    /* The id is reported for an invalid message when it is usable. */
    assert_int_equal(kind("{\"jsonrpc\":\"1.0\",\"id\":\"x\",\"method\":\"a\"}", &id, &m),
                     DMCP__MSG_INVALID);
    assert_string_equal(json_string_value(id), "x");
    json_decref(m);
}

static void test_builders_keep_id_type(void **state)
{
    (void)state;
    json_t *sid = json_string("1"), *iid = json_integer(1);
    json_t *a = dmcp__jsonrpc_result(sid, json_object());
    json_t *b = dmcp__jsonrpc_result(iid, json_object());
    assert_true(json_is_string(json_object_get(a, "id")));
    assert_true(json_is_integer(json_object_get(b, "id")));
    json_t *e = dmcp__jsonrpc_error(NULL, -32700, "Parse error", NULL);
    assert_true(json_is_null(json_object_get(e, "id")));
    assert_int_equal(mt_error_code(e), -32700);
    char *s = dmcp__json_dump(a, NULL);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{}}");
    free(s);
    /* Output is one line even when strings hold newlines. */
    json_t *n = dmcp__jsonrpc_notification("x", json_pack("{s:s}", "t", "a\nb"));
    s = dmcp__json_dump(n, NULL);
    assert_null(strchr(s, '\n'));
    free(s);
    json_decref(n);
    json_decref(a);
    json_decref(b);
    json_decref(e);
    json_decref(sid);
    json_decref(iid);
}

/* dmcp__json_dump is json_dumps(v, JSON_COMPACT), byte for byte (jsonrpc.c writes it itself). */
static void assert_dump_like_jansson(json_t *v)
{
    size_t len = 0;
    char *mine = dmcp__json_dump(v, &len);
    char *ref = json_dumps(v, JSON_COMPACT);
    assert_non_null(mine);
    assert_non_null(ref);
    assert_int_equal(len, strlen(ref));
    assert_string_equal(mine, ref);
    free(mine);
    free(ref);
    json_decref(v);
}

static void test_dump_matches_jansson(void **state)
{
    (void)state;
    /* Every control character, quote, backslash, slash, DEL, multi-byte UTF-8, embedded NUL. */
    char all[40];
    for (int i = 0; i < 32; i++) {
        all[i] = (char)(i + 1 == 32 ? 0x7F : i + 1);
    }
    json_t *o = json_object();
    json_object_set_new(o, "ctl", json_stringn(all, 32));
    json_object_set_new(o, "nul", json_stringn("a\0b", 3));
    json_object_set_new(o, "q\"k\\/\n", json_string("\"\\/ caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    json_object_setn_new(o, "k\0ey", 4, json_true());
    json_object_set_new(o, "f", json_false());
    json_object_set_new(o, "n", json_null());
    json_object_set_new(o, "ints", json_pack("[I,I,I,I,I]", (json_int_t)0, (json_int_t)-1,
                                             (json_int_t)1234567890123LL,
                                             (json_int_t)INT64_MAX, (json_int_t)INT64_MIN));
    json_object_set_new(o, "reals", json_pack("[f,f,f,f]", 0.5, -1e300, 1.0, 0.1));
    json_object_set_new(o, "empty", json_pack("{s:{},s:[],s:s}", "o", "a", "s", ""));
    json_object_set_new(o, "deep", json_pack("[[[{s:[1,{}]}]]]", "x"));
    assert_dump_like_jansson(o);
    /* Insertion order is kept after deletions and replacements, as jansson iterates. */
    o = json_pack("{s:i,s:i,s:i}", "z", 1, "a", 2, "m", 3);
    json_object_del(o, "a");
    json_object_set_new(o, "a", json_integer(4));
    json_object_set_new(o, "z", json_integer(5));
    assert_dump_like_jansson(o);
    assert_dump_like_jansson(json_array());
    /* A real JSON-RPC answer (the id is borrowed). */
    json_t *id = json_string("1-2");
    assert_dump_like_jansson(dmcp__jsonrpc_result(
        id, json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text",
                      "hello, benchmark", "isError", 0)));
    json_decref(id);
    /* Like json_dumps(JSON_COMPACT): a scalar alone is not a document. */
    json_t *sc = json_string("x");
    assert_null(dmcp__json_dump(sc, NULL));
    assert_null(json_dumps(sc, JSON_COMPACT));
    json_decref(sc);
    /* A value containing itself fails instead of recursing without end. */
    json_t *a = json_array(), *b = json_array();
    json_array_append(a, b);
    json_array_append(b, a);
    assert_null(dmcp__json_dump(a, NULL));
    json_array_clear(b);
    json_decref(a);
    json_decref(b);
}

/* dmcp__jl_load (the request parser) accepts what json_loadb(REJECT_DUPLICATES|DECODE_ANY)
 * accepts and builds the same value, member order included. */
static void test_load_matches_jansson(void **state)
{
    (void)state;
    static const char *const cases[] = {
        ("{\"jsonrpc\":\"2.0\",\"id\":\"1-2\",\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"echo\",\"arguments\":{\"text\":\"hello, benchmark\"}}}"),
        "{\"z\":1,\"a\":[true,false,null,-0,0,-1,9223372036854775807,-9223372036854775808]}",
        "[1.5,-0.0,1E+2,1e-400,0.1,2.5e-3,123456789.125]", " \t\n\r[ 1 , \"x\" , {} ] \n",
        "\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "{\"\\u00e9\":\"\xc3\xa9\"}", "5",
        "true", "null", "[]", "{}", "\"\"", "{\"\":0}",
        /* refused by both */
        "", " ", "{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1,\"b\":2}}", "{\"a\":1,\"\\u0061\":2}",
        "[1.5e400]", "[-1e400]", "[99999999999999999999]", "[-9223372036854775809]",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\u0000\"", "[01]", "[-]",
        "[1.]", "[.5]", "[1e]", "[+1]", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "[1 2]",
        "{\"a\" 1}", "\"\x01\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "\"\xf4\x90\x80\x80\"",
        "\"\xff\"", "[\"a\"", "{", "[", "tru", "nul", "falsey", "[1]x", "1 2", "\"a\"\"b\"",
        "'a'", "[NaN]", "[Infinity]", "\xef\xbb\xbf{}", "[\"\\x\"]", "[\"\\u12\"]",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *in = cases[i];
        json_t *mine = NULL;
        dmcp__jl_error e = dmcp__jl_load((const unsigned char *)in, strlen(in), &mine);
        json_t *ref = json_loadb(in, strlen(in), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
        if ((mine != NULL) != (ref != NULL)) {
            fail_msg("case %zu (%s): jl_load %s, jansson %s", i, in, mine ? "accepts" : "refuses",
                     ref ? "accepts" : "refuses");
        }
        assert_int_equal(e == DMCP__JL_OK, mine != NULL);
        if (mine != NULL) {
            char *a = json_dumps(mine, JSON_COMPACT | JSON_ENCODE_ANY);
            char *b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
            assert_string_equal(a, b);
            assert_true(json_equal(mine, ref));
            free(a);
            free(b);
        }
        json_decref(mine);
        json_decref(ref);
    }
    /* Depth: 64 nested containers are fine, 65 are refused (jansson would allow 2048). */
    char deep[2 * 65 + 1];
    for (size_t n = 64; n <= 65; n++) {
        memset(deep, '[', n);
        memset(deep + n, ']', n);
        json_t *v = NULL;
        assert_int_equal(dmcp__jl_load((const unsigned char *)deep, 2 * n, &v),
                         n == 64 ? DMCP__JL_OK : DMCP__JL_EDEPTH);
        json_decref(v);
    }
}

static void test_process_shapes(void **state)
{
    (void)state;
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("t", "1", &srv), DMCP_OK);
    mt_env e;
    mt_env_init(&e, srv);
    /* Invalid request with a usable id keeps it; empty batch is one -32600. */
    json_t *a = mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":3}");
    assert_int_equal(mt_error_code(a), -32600);
    assert_int_equal(json_integer_value(json_object_get(a, "id")), 7);
    json_decref(a);
    a = mt_send(&e, "[]");
    assert_int_equal(mt_error_code(a), -32600);
    json_decref(a);
    /* Batch (2025-03-26): answers for requests and invalid items, none for notifications;
     * ids keep their type ("1" and 1 are different requests). */
    mt_initialize(&e, DMCP_PROTOCOL_2025_03_26);
    a = mt_send(&e, "[{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"method\":\"ping\"},"
                    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{}},"
                    "5]");
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), 4);
    assert_true(json_is_string(json_object_get(json_array_get(a, 0), "id")));
    assert_true(json_is_integer(json_object_get(json_array_get(a, 1), "id")));
    assert_int_equal(mt_error_code(json_array_get(a, 2)), -32600); /* initialize in batch */
    assert_int_equal(mt_error_code(json_array_get(a, 3)), -32600);
    json_decref(a);
    /* Only notifications: nothing to answer. */
    assert_null(mt_send(&e, "[{\"jsonrpc\":\"2.0\",\"method\":\"x\"}]"));
    assert_null(mt_send(&e, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}"));
    mt_env_free(&e);
    dmcp_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_limits),   cmocka_unit_test(test_parse_depth),
        cmocka_unit_test(test_classify),       cmocka_unit_test(test_builders_keep_id_type),
        cmocka_unit_test(test_process_shapes), cmocka_unit_test(test_dump_matches_jansson),
        cmocka_unit_test(test_load_matches_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
