/* require_scopes and the insufficient-scope error (descope-wire-protocol.md §6). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "dmcp/dmcp.h"

static void assert_strv(const char *const *got, size_t n, const char *const *want, size_t m)
{
    assert_int_equal(n, m);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(got[i], want[i]);
    }
}

static void test_wire_example(void **state)
{
    (void)state;
    const char *req[] = {"calendar.read"};
    const char *tok[] = {"read", "write"};
    dmcp_scope_error *e = NULL;
    assert_int_equal(dmcp_scope_error_new(req, 1, tok, 2, NULL, &e), DMCP_OK);
    char *js = dmcp_scope_error_to_json(e);
    assert_non_null(js);
    assert_string_equal(js, "{\n"
                            "  \"error\": \"insufficient_scope\",\n"
                            "  \"scope\": \"calendar.read read write\",\n"
                            "  \"error_description\": \"Token missing required scopes: "
                            "calendar.read\",\n"
                            "  \"missing_scopes\": [\n"
                            "    \"calendar.read\"\n"
                            "  ],\n"
                            "  \"token_scopes\": [\n"
                            "    \"read\",\n"
                            "    \"write\"\n"
                            "  ],\n"
                            "  \"required_scopes\": [\n"
                            "    \"calendar.read\"\n"
                            "  ]\n"
                            "}");
    dmcp_free(js);
    dmcp_scope_error_free(e);
}

static void test_fields(void **state)
{
    (void)state;
    const char *req[] = {"z", "b", "a", "z", "b"};
    const char *tok[] = {"a", "m", "a"};
    dmcp_scope_error *e = NULL;
    size_t n = 0;
    assert_int_equal(dmcp_scope_error_new(req, 5, tok, 3, NULL, &e), DMCP_OK);
    const char *missing[] = {"z", "b"}; /* order required, de-duplicated */
    {
        const char *const *got = dmcp_scope_error_missing(e, &n);
        assert_strv(got, n, missing, 2);
    }
    const char *combined[] = {"a", "b", "m", "z"};
    {
        const char *const *got = dmcp_scope_error_combined(e, &n);
        assert_strv(got, n, combined, 4);
    }
    {
        const char *const *got = dmcp_scope_error_required(e, &n);
        assert_strv(got, n, req, 5);
    } /* as passed */
    {
        const char *const *got = dmcp_scope_error_token_scopes(e, &n);
        assert_strv(got, n, tok, 3);
    }
    assert_string_equal(dmcp_scope_error_scope(e), "a b m z");
    assert_string_equal(dmcp_scope_error_description(e), "Token missing required scopes: z, b");
    dmcp_scope_error_free(e);

    /* "" is kept as the description; NULL gives the default. */
    assert_int_equal(dmcp_scope_error_new(req, 1, NULL, 0, "", &e), DMCP_OK);
    assert_string_equal(dmcp_scope_error_description(e), "");
    dmcp_scope_error_free(e);

    /* Byte order, not locale order: "B" < "a" and "é" (0xC3...) after "z". */
    const char *req2[] = {"\xC3\xA9", "z", "a", "B"};
    assert_int_equal(dmcp_scope_error_new(req2, 4, NULL, 0, NULL, &e), DMCP_OK);
    assert_string_equal(dmcp_scope_error_scope(e), "B a z \xC3\xA9");
    dmcp_scope_error_free(e);
    dmcp_scope_error_free(NULL);
    assert_null(dmcp_scope_error_to_json(NULL));
}

static void test_caps_and_args(void **state)
{
    (void)state;
    dmcp_scope_error *e = NULL;
    char big[DMCP_MAX_SCOPE_LEN + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *one[] = {big};
    assert_int_equal(dmcp_scope_error_new(one, 1, NULL, 0, NULL, &e), DMCP_E_TOO_LARGE);
    assert_null(e);
    big[DMCP_MAX_SCOPE_LEN] = '\0'; /* exactly at the cap is fine */
    assert_int_equal(dmcp_scope_error_new(one, 1, NULL, 0, NULL, &e), DMCP_OK);
    dmcp_scope_error_free(e);

    const char **many = calloc(DMCP_MAX_SCOPES + 1, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i <= DMCP_MAX_SCOPES; i++) {
        many[i] = "s";
    }
    assert_int_equal(dmcp_scope_error_new(many, DMCP_MAX_SCOPES + 1, NULL, 0, NULL, &e),
                     DMCP_E_TOO_LARGE);
    assert_int_equal(dmcp_require_scopes(many, DMCP_MAX_SCOPES + 1, one, 1, NULL, NULL, &e),
                     DMCP_E_TOO_LARGE);
    free(many);

    const char *nul[] = {"a", NULL};
    assert_int_equal(dmcp_scope_error_new(nul, 2, NULL, 0, NULL, &e), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_scope_error_new(NULL, 1, NULL, 0, NULL, &e), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_scope_error_new(nul, 1, NULL, 0, NULL, NULL), DMCP_E_INVALID_ARG);
    /* Ill-formed UTF-8 (overlong '/', lone surrogate, truncated) is refused, never escaped. */
    const char *bad[] = {"\xC0\xAF", "\xED\xA0\x80", "\xE2\x82", "\xFF"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(dmcp_scope_error_new(&bad[i], 1, NULL, 0, NULL, &e), DMCP_E_INVALID_ARG);
        assert_int_equal(dmcp_scope_error_new(nul, 1, NULL, 0, bad[i], &e), DMCP_E_INVALID_ARG);
    }
}

static bool implies_prefix(const char *granted, const char *required, void *userdata)
{
    /* "calendar" implies "calendar.<anything>" */
    int *calls = userdata;
    (*calls)++;
    size_t n = strlen(granted);
    return strncmp(granted, required, n) == 0 && required[n] == '.';
}

static void test_require(void **state)
{
    (void)state;
    const char *tok[] = {"tools.call", "calendar"};
    const char *need_ok[] = {"tools.call"};
    const char *need_sub[] = {"calendar.read", "tools.call"};
    dmcp_scope_error *e = (dmcp_scope_error *)1;
    int calls = 0;

    assert_int_equal(dmcp_require_scopes(tok, 2, need_ok, 1, NULL, NULL, &e), DMCP_OK);
    assert_null(e);
    assert_int_equal(dmcp_require_scopes(tok, 2, NULL, 0, NULL, NULL, &e), DMCP_OK);
    assert_int_equal(dmcp_require_scopes(NULL, 0, NULL, 0, NULL, NULL, NULL), DMCP_OK);

    /* Exact matching by default: "calendar" does not grant "calendar.read". */
    assert_int_equal(dmcp_require_scopes(tok, 2, need_sub, 2, NULL, NULL, &e),
                     DMCP_E_INSUFFICIENT_SCOPE);
    assert_non_null(e);
    size_t n = 0;
    const char *const *m = dmcp_scope_error_missing(e, &n);
    assert_int_equal(n, 1);
    assert_string_equal(m[0], "calendar.read");
    assert_string_equal(dmcp_scope_error_scope(e), "calendar calendar.read tools.call");
    dmcp_scope_error_free(e);
    assert_int_equal(dmcp_require_scopes(tok, 2, need_sub, 2, NULL, NULL, NULL),
                     DMCP_E_INSUFFICIENT_SCOPE);

    /* The hierarchy hook grants it. */
    assert_int_equal(dmcp_require_scopes(tok, 2, need_sub, 2, implies_prefix, &calls, &e), DMCP_OK);
    assert_true(calls > 0);
    assert_null(e);
    /* ...but not an unrelated scope; the error's missing list honours the hook too. */
    const char *need_more[] = {"calendar.write", "mail.send"};
    assert_int_equal(dmcp_require_scopes(tok, 2, need_more, 2, implies_prefix, &calls, &e),
                     DMCP_E_INSUFFICIENT_SCOPE);
    m = dmcp_scope_error_missing(e, &n);
    assert_int_equal(n, 1);
    assert_string_equal(m[0], "mail.send");
    assert_string_equal(dmcp_scope_error_description(e),
                        "Token missing required scopes: mail.send");
    dmcp_scope_error_free(e);

    /* Token without scopes. */
    assert_int_equal(dmcp_require_scopes(NULL, 0, need_ok, 1, NULL, NULL, &e),
                     DMCP_E_INSUFFICIENT_SCOPE);
    char *js = dmcp_scope_error_to_json(e);
    assert_non_null(strstr(js, "\"token_scopes\": [],"));
    dmcp_free(js);
    dmcp_scope_error_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_example),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_caps_and_args),
        cmocka_unit_test(test_require),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
