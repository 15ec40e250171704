/* The JSON Schema subset tool arguments are checked against. */
#include "mcp_test.h"

static bool check(const char *schema, const char *value, char *msg, size_t n)
{
    json_error_t e;
    json_t *s = json_loads(schema, JSON_DECODE_ANY, &e);
    json_t *v = json_loads(value, JSON_DECODE_ANY, &e);
    assert_non_null(s);
    assert_non_null(v);
    bool ok = dmcp__schema_check(s, v, msg, n);
    json_decref(s);
    json_decref(v);
    return ok;
}

#define OK(s, v) assert_true(check(s, v, msg, sizeof(msg)))
#define BAD(s, v, frag)                                                                            \
    do {                                                                                           \
        assert_false(check(s, v, msg, sizeof(msg)));                                               \
        if (strstr(msg, frag) == NULL) {                                                           \
            fail_msg("message \"%s\" lacks \"%s\"", msg, frag);                                    \
        }                                                                                          \
    } while (0)

static void test_types(void **state)
{
    (void)state;
    char msg[256];
    OK("{\"type\":\"integer\"}", "3");
    OK("{\"type\":\"integer\"}", "3.0"); /* 2020-12: zero fractional part is an integer */
    BAD("{\"type\":\"integer\"}", "3.5", "expected integer");
    BAD("{\"type\":\"integer\"}", "\"3\"", "expected integer");
    OK("{\"type\":\"number\"}", "3");
    OK("{\"type\":\"number\"}", "3.5");
    BAD("{\"type\":\"number\"}", "true", "expected number");
    OK("{\"type\":\"string\"}", "\"x\"");
    BAD("{\"type\":\"string\"}", "null", "expected string");
    OK("{\"type\":\"boolean\"}", "false");
    OK("{\"type\":\"null\"}", "null");
    OK("{\"type\":\"array\"}", "[]");
    BAD("{\"type\":\"object\"}", "[]", "expected object");
    OK("{\"type\":[\"string\",\"null\"]}", "null");
    BAD("{\"type\":[\"string\",\"null\"]}", "1", "none of the allowed types");
    OK("true", "1");
    BAD("false", "1", "no value");
    /* Unknown keywords pass through. */
    OK("{\"type\":\"string\",\"format\":\"email\",\"pattern\":\"^z\"}", "\"abc\"");
}

static void test_object_rules(void **state)
{
    (void)state;
    char msg[256];
    const char *s = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},"
                    "\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":5}},"
                    "\"required\":[\"a\"],\"additionalProperties\":false}";
    OK(s, "{\"a\":\"x\"}");
    OK(s, "{\"a\":\"x\",\"n\":5}");
    BAD(s, "{}", "missing required property \"a\"");
    BAD(s, "{\"a\":\"x\",\"b\":1}", "unexpected property \"b\"");
    BAD(s, "{\"a\":1}", "a: expected string");
    BAD(s, "{\"a\":\"x\",\"n\":0}", "n: below minimum");
    BAD(s, "{\"a\":\"x\",\"n\":6}", "n: above maximum");
    /* additionalProperties as a schema; absent means allowed. */
    OK("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}", "{\"x\":1}");
    BAD("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}", "{\"x\":\"1\"}",
        "x: expected number");
    OK("{\"type\":\"object\"}", "{\"anything\":[1,2]}");
    /* Nested path in the message. */
    BAD("{\"type\":\"object\",\"properties\":{\"o\":{\"type\":\"object\",\"properties\":"
        "{\"p\":{\"type\":\"boolean\"}}}}}",
        "{\"o\":{\"p\":1}}", "o.p: expected boolean");
}

static void test_scalar_rules(void **state)
{
    (void)state;
    char msg[256];
    OK("{\"enum\":[\"a\",1,null]}", "1");
    OK("{\"enum\":[\"a\",1,null]}", "null");
    BAD("{\"enum\":[\"a\",1,null]}", "\"1\"", "not one of the allowed values");
    OK("{\"const\":\"k\"}", "\"k\"");
    BAD("{\"const\":\"k\"}", "\"j\"", "constant");
    OK("{\"minLength\":2,\"maxLength\":3}", "\"ab\"");
    /* Lengths count code points, not bytes: "éé" is 2 characters in 4 bytes. */
    OK("{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\"");
    BAD("{\"minLength\":2}", "\"a\"", "too short");
    BAD("{\"maxLength\":3}", "\"abcd\"", "too long");
    BAD("{\"exclusiveMinimum\":0}", "0", "exclusiveMinimum");
    BAD("{\"exclusiveMaximum\":10}", "10", "exclusiveMaximum");
    OK("{\"exclusiveMaximum\":10}", "9.99");
}

static void test_arrays(void **state)
{
    (void)state;
    char msg[256];
    const char *s = "{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1,"
                    "\"maxItems\":2}";
    OK(s, "[1]");
    BAD(s, "[]", "too few");
    BAD(s, "[1,2,3]", "too many");
    BAD(s, "[1,\"x\"]", "[1]: expected integer");
}

static void test_object_schema_shape(void **state)
{
    (void)state;
    json_t *ok = json_pack("{s:s}", "type", "object");
    json_t *bad = json_pack("{s:s}", "type", "string");
    assert_true(dmcp__schema_is_object_schema(ok));
    assert_false(dmcp__schema_is_object_schema(bad));
    assert_false(dmcp__schema_is_object_schema(NULL));
    json_decref(ok);
    json_decref(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_object_rules),
        cmocka_unit_test(test_scalar_rules),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_object_schema_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
