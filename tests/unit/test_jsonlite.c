/* jsonlite strictness: each case is checked against jansson too, so the two parsers' rules
 * are shown to agree on it (the fuzz target tests/fuzz/fuzz_jsonlite_diff.c does the same on
 * generated inputs). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "testutil.h"

#include "jsonlite.h"

static dmcp__jl_error parse(const char *s, size_t n, dmcp__jl_doc *d)
{
    return dmcp__jl_parse((const unsigned char *)s, n, d);
}

static bool jansson_accepts(const char *s, size_t n)
{
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(j);
    json_decref(j);
    return ok;
}

static void accept_n(const char *s, size_t n)
{
    dmcp__jl_doc d;
    if (parse(s, n, &d) != DMCP__JL_OK) {
        fail_msg("jsonlite refused %s", s);
    }
    dmcp__jl_free(&d);
    assert_true(jansson_accepts(s, n));
}

static void reject_n(const char *s, size_t n)
{
    dmcp__jl_doc d;
    dmcp__jl_error e = parse(s, n, &d);
    if (e == DMCP__JL_OK) {
        dmcp__jl_free(&d);
        fail_msg("jsonlite accepted %s", s);
    }
    assert_null(d.members);
    assert_null(d.arena);
    assert_false(jansson_accepts(s, n));
}

#define ACCEPT(s) accept_n((s), sizeof(s) - 1)
#define REJECT(s) reject_n((s), sizeof(s) - 1)

static void test_values(void **state)
{
    (void)state;
    dmcp__jl_doc d;
    const char *s = "{\"s\":\"a\\u00e9\\ud83d\\ude00\\n\",\"i\":-42,\"r\":1.5e2,\"t\":true,"
                    "\"f\":false,\"n\":null,\"a\":[\"x\",\"y\"],\"m\":[\"x\",1],\"o\":{\"k\":[]},"
                    "\"e\":[],\"big\":9223372036854775807,\"small\":-9223372036854775808}";
    assert_int_equal(parse(s, strlen(s), &d), DMCP__JL_OK);
    const dmcp__jl_member *m = dmcp__jl_get(&d, "s");
    assert_int_equal(m->type, DMCP__JL_STRING);
    assert_int_equal(m->str.len, 1 + 2 + 4 + 1);
    assert_memory_equal(m->str.s, "a\xc3\xa9\xf0\x9f\x98\x80\n", 8);
    m = dmcp__jl_get(&d, "i");
    assert_int_equal(m->type, DMCP__JL_INT);
    assert_int_equal(m->i, -42);
    m = dmcp__jl_get(&d, "r");
    assert_int_equal(m->type, DMCP__JL_REAL);
    assert_true(m->d == 150.0);
    assert_int_equal(dmcp__jl_get(&d, "t")->type, DMCP__JL_TRUE);
    assert_int_equal(dmcp__jl_get(&d, "f")->type, DMCP__JL_FALSE);
    assert_int_equal(dmcp__jl_get(&d, "n")->type, DMCP__JL_NULL);
    m = dmcp__jl_get(&d, "a");
    assert_int_equal(m->type, DMCP__JL_ARRAY);
    assert_true(m->all_strings);
    assert_int_equal(m->n_items, 2);
    assert_string_equal(d.strs[m->first_str].s, "x");
    assert_string_equal(d.strs[m->first_str + 1].s, "y");
    m = dmcp__jl_get(&d, "m");
    assert_false(m->all_strings);
    assert_int_equal(m->n_items, 2);
    m = dmcp__jl_get(&d, "o");
    assert_int_equal(m->type, DMCP__JL_OBJECT);
    assert_int_equal(m->n_items, 1);
    m = dmcp__jl_get(&d, "e");
    assert_true(m->all_strings);
    assert_int_equal(m->n_items, 0);
    assert_int_equal(dmcp__jl_get(&d, "big")->i, INT64_MAX);
    assert_int_equal(dmcp__jl_get(&d, "small")->i, INT64_MIN);
    assert_null(dmcp__jl_get(&d, "k")); /* nested keys are not top-level members */
    assert_null(dmcp__jl_get(&d, "missing"));
    dmcp__jl_free(&d);
    assert_true(jansson_accepts(s, strlen(s)));
}

static void test_structure(void **state)
{
    (void)state;
    ACCEPT("{}");
    ACCEPT(" \t\r\n{ } \n");
    ACCEPT("{\"a\":{\"a\":{\"a\":1}},\"b\":[[[]]]}");
    REJECT("");
    REJECT("   ");
    REJECT("{");
    REJECT("}");
    REJECT("{\"a\"}");
    REJECT("{\"a\":}");
    REJECT("{\"a\":1,}");
    REJECT("{,}");
    REJECT("{\"a\":1 \"b\":2}");
    REJECT("{\"a\":[1,]}");
    REJECT("{\"a\":[,1]}");
    REJECT("{a:1}");
    REJECT("{'a':1}");
    REJECT("{} x");
    REJECT("{}{}");
    REJECT("{}\0");
    REJECT("\xef\xbb\xbf{}"); /* BOM */
    REJECT("{\"a\":1}\v");
    REJECT("{\"a\":tru}");
    REJECT("{\"a\":truee}");
    REJECT("{\"a\":nul}");
    REJECT("{\"a\":True}");
    REJECT("{\"a\":undefined}");
    REJECT("{\"a\":NaN}");
    REJECT("{\"a\":Infinity}");
    /* Not an object at the top. */
    dmcp__jl_doc d;
    assert_int_equal(parse("[1]", 3, &d), DMCP__JL_ENOTOBJ);
    assert_int_equal(parse("\"x\"", 3, &d), DMCP__JL_ENOTOBJ);
    assert_int_equal(parse("1", 1, &d), DMCP__JL_ENOTOBJ);
    assert_int_equal(parse("null", 4, &d), DMCP__JL_ENOTOBJ);
}

static void test_numbers(void **state)
{
    (void)state;
    ACCEPT("{\"a\":0}");
    ACCEPT("{\"a\":-0}");
    ACCEPT("{\"a\":0.5}");
    ACCEPT("{\"a\":1e5}");
    ACCEPT("{\"a\":1E+5}");
    ACCEPT("{\"a\":1e-5}");
    ACCEPT("{\"a\":-1.25e-400}"); /* underflow is accepted (jansson too) */
    REJECT("{\"a\":01}");
    REJECT("{\"a\":-01}");
    REJECT("{\"a\":+1}");
    REJECT("{\"a\":-}");
    REJECT("{\"a\":.5}");
    REJECT("{\"a\":1.}");
    REJECT("{\"a\":1.e5}");
    REJECT("{\"a\":1e}");
    REJECT("{\"a\":1e+}");
    REJECT("{\"a\":0x10}");
    REJECT("{\"a\":1e400}"); /* overflow to infinity */
    REJECT("{\"a\":-1e400}");
    REJECT("{\"a\":9223372036854775808}"); /* int64 overflow */
    REJECT("{\"a\":-9223372036854775809}");
    REJECT("{\"a\":99999999999999999999999}");
    dmcp__jl_doc d;
    assert_int_equal(parse("{\"a\":-0}", 8, &d), DMCP__JL_OK);
    assert_int_equal(d.members[0].type, DMCP__JL_INT);
    assert_int_equal(d.members[0].i, 0);
    dmcp__jl_free(&d);
}

static void test_strings(void **state)
{
    (void)state;
    ACCEPT("{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}");
    ACCEPT("{\"a\":\"\\uD834\\uDD1E\"}");
    ACCEPT("{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}");
    ACCEPT("{\"\":\"\"}");
    REJECT("{\"a\":\"\\u0000\"}"); /* NUL */
    REJECT("{\"a\":\"x\0y\"}");    /* raw NUL */
    REJECT("{\"a\":\"\x01\"}");    /* control character */
    REJECT("{\"a\":\"\n\"}");
    REJECT("{\"a\":\"\x7f\"}"
           "x"); /* DEL allowed, trailing x is not */
    REJECT("{\"a\":\"\\x41\"}");
    REJECT("{\"a\":\"\\u12\"}");
    REJECT("{\"a\":\"\\u12G4\"}");
    REJECT("{\"a\":\"\\uD834\"}"); /* lone high surrogate */
    REJECT("{\"a\":\"\\uD834x\"}");
    REJECT("{\"a\":\"\\uD834\\u0041\"}");
    REJECT("{\"a\":\"\\uDD1E\"}");  /* lone low surrogate */
    REJECT("{\"a\":\"\xc0\xaf\"}"); /* overlong '/' */
    REJECT("{\"a\":\"\xc1\xbf\"}");
    REJECT("{\"a\":\"\xe0\x80\xaf\"}"); /* overlong 3-byte */
    REJECT("{\"a\":\"\xf0\x80\x80\xaf\"}");
    REJECT("{\"a\":\"\xed\xa0\x80\"}");     /* encoded surrogate U+D800 */
    REJECT("{\"a\":\"\xf4\x90\x80\x80\"}"); /* above U+10FFFF */
    REJECT("{\"a\":\"\xf5\x80\x80\x80\"}");
    REJECT("{\"a\":\"\x80\"}"); /* stray continuation */
    REJECT("{\"a\":\"\xc3\"}"); /* truncated */
    REJECT("{\"a\":\"\xe2\x82\"}");
    REJECT("{\"a\":\"\xff\"}");
    REJECT("{\"a\":\"abc}"); /* unterminated */
    REJECT("{\"\xc3\":1}");  /* bad UTF-8 in a key */
    ACCEPT("{\"a\":\"\x7f\"}");
}

static void test_duplicates(void **state)
{
    (void)state;
    REJECT("{\"a\":1,\"a\":2}");
    REJECT("{\"a\":1,\"\\u0061\":2}");             /* equal after unescaping */
    REJECT("{\"o\":{\"x\":1,\"x\":1}}");           /* nested */
    REJECT("{\"o\":[{\"x\":1,\"y\":2,\"x\":3}]}"); /* inside an array */
    ACCEPT("{\"o\":{\"x\":1},\"p\":{\"x\":1}}");   /* same key, different objects */
    ACCEPT("{\"a\":1,\"A\":2,\"a \":3}");
    /* Large objects (sorted check) with and without a duplicate far apart. */
    char buf[8192];
    size_t off = (size_t)snprintf(buf, sizeof(buf), "{");
    for (int i = 0; i < 300; i++) {
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s\"k%d\":%d", i ? "," : "", i, i);
    }
    snprintf(buf + off, sizeof(buf) - off, "}");
    accept_n(buf, strlen(buf));
    snprintf(buf + off, sizeof(buf) - off, ",\"k7\":0}");
    reject_n(buf, strlen(buf));
    dmcp__jl_doc d;
    assert_int_equal(parse(buf, strlen(buf), &d), DMCP__JL_EDUP);
}

static void test_depth(void **state)
{
    (void)state;
    char buf[1024];
    /* 64 levels in all (top object + 63 arrays) pass; 65 do not. */
    for (int levels = 64; levels <= 65; levels++) {
        size_t off = 0;
        buf[off++] = '{';
        buf[off++] = '"';
        buf[off++] = 'a';
        buf[off++] = '"';
        buf[off++] = ':';
        for (int i = 1; i < levels; i++) {
            buf[off++] = '[';
        }
        for (int i = 1; i < levels; i++) {
            buf[off++] = ']';
        }
        buf[off++] = '}';
        dmcp__jl_doc d;
        dmcp__jl_error e = parse(buf, off, &d);
        if (levels == 64) {
            assert_int_equal(e, DMCP__JL_OK);
            dmcp__jl_free(&d);
        } else {
            assert_int_equal(e, DMCP__JL_EDEPTH); /* jansson allows 2048: documented */
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),     cmocka_unit_test(test_structure),
        cmocka_unit_test(test_numbers),    cmocka_unit_test(test_strings),
        cmocka_unit_test(test_duplicates), cmocka_unit_test(test_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
