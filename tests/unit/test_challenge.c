/* WWW-Authenticate builders: mcp-resource-server.md §4 and the exact rows of §5. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "dmcp/dmcp.h"

#define RM "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

static void assert_challenge(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    dmcp_free(got);
}

static void test_rows(void **state)
{
    (void)state;
    /* Row 3: no Authorization - no error code (RFC 6750 §3.1). */
    assert_challenge(dmcp_challenge_no_token("tools.call", RM),
                     "Bearer scope=\"tools.call\", resource_metadata=\"" RM "\"");
    /* Row 5: malformed header. */
    assert_challenge(dmcp_challenge_invalid_request("Malformed Authorization header", RM),
                     "Bearer error=\"invalid_request\", error_description=\"Malformed "
                     "Authorization header\", resource_metadata=\"" RM "\"");
    /* Row 6: bad signature and friends. */
    assert_challenge(dmcp_challenge_invalid_token(NULL, "tools.call", RM),
                     "Bearer error=\"invalid_token\", error_description=\"Invalid token\", "
                     "scope=\"tools.call\", resource_metadata=\"" RM "\"");
    static const dmcp_reason invalid[] = {
        DMCP_REASON_NONE,   DMCP_REASON_MALFORMED,   DMCP_REASON_TOO_LARGE, DMCP_REASON_ALGORITHM,
        DMCP_REASON_HEADER, DMCP_REASON_UNKNOWN_KEY, DMCP_REASON_SIGNATURE, DMCP_REASON_CLAIM};
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        assert_challenge(
            dmcp_challenge_invalid_token(dmcp_reason_description(invalid[i]), "tools.call", RM),
            "Bearer error=\"invalid_token\", error_description=\"Invalid token\", "
            "scope=\"tools.call\", resource_metadata=\"" RM "\"");
    }
    /* Row 7: expired. */
    assert_challenge(dmcp_challenge_invalid_token(dmcp_reason_description(DMCP_REASON_EXPIRED),
                                                  "tools.call", RM),
                     "Bearer error=\"invalid_token\", error_description=\"Token expired\", "
                     "scope=\"tools.call\", resource_metadata=\"" RM "\"");
    /* Row 8: wrong iss or aud. */
    assert_challenge(
        dmcp_challenge_invalid_token(dmcp_reason_description(DMCP_REASON_ISSUER), "tools.call", RM),
        "Bearer error=\"invalid_token\", error_description=\"Token not issued for "
        "this resource\", scope=\"tools.call\", resource_metadata=\"" RM "\"");
    assert_string_equal(dmcp_reason_description(DMCP_REASON_AUDIENCE),
                        "Token not issued for this resource");
    assert_string_equal(dmcp_reason_description(DMCP_REASON_NOT_YET_VALID), "Token not yet valid");
    assert_string_equal(dmcp_reason_description((dmcp_reason)999), "Invalid token");
}

static void test_row9_from_scope_error(void **state)
{
    (void)state;
    const char *tok[] = {"tools.call"};
    const char *req[] = {"calendar.read"};
    dmcp_scope_error *e = NULL;
    assert_int_equal(dmcp_require_scopes(tok, 1, req, 1, NULL, NULL, &e),
                     DMCP_E_INSUFFICIENT_SCOPE);
    assert_challenge(dmcp_challenge_insufficient_scope(dmcp_scope_error_description(e),
                                                       dmcp_scope_error_scope(e), RM),
                     "Bearer error=\"insufficient_scope\", error_description=\"Token missing "
                     "required scopes: calendar.read\", scope=\"calendar.read tools.call\", "
                     "resource_metadata=\"" RM "\"");
    dmcp_scope_error_free(e);
}

static void test_description_sanitised(void **state)
{
    (void)state;
    /* '"' -> '\'', '\\' -> '/', controls -> SP, each non-ASCII character -> one '?'. */
    assert_challenge(dmcp_challenge_build("invalid_token",
                                          "a\"b\\c\r\nd\x7f\xC3\xA9\xF0\x9F\x98\x80z", NULL, NULL),
                     "Bearer error=\"invalid_token\", error_description=\"a'b/c  d ??z\"");
    /* Capped at 256 bytes. */
    char long_desc[600];
    memset(long_desc, 'd', sizeof(long_desc) - 1);
    long_desc[sizeof(long_desc) - 1] = '\0';
    char *h = dmcp_challenge_build("invalid_token", long_desc, NULL, NULL);
    assert_non_null(h);
    const char *v = strstr(h, "error_description=\"");
    assert_non_null(v);
    v += strlen("error_description=\"");
    assert_int_equal(strcspn(v, "\""), 256);
    dmcp_free(h);
    /* An empty description is left out (RFC 6749 A.8: 1*char). */
    assert_challenge(dmcp_challenge_build("invalid_token", "", NULL, NULL),
                     "Bearer error=\"invalid_token\"");
    assert_challenge(dmcp_challenge_build(NULL, NULL, NULL, NULL), "Bearer");
}

static void test_rejects(void **state)
{
    (void)state;
    /* Scope tokens outside RFC 6749 §3.3, or badly separated. */
    static const char *bad_scopes[] = {"a\"b", "a\\b", " a",          "a ",
                                       "a  b", "a\tb", "caf\xC3\xA9", "a\r\nSet-Cookie: x"};
    for (size_t i = 0; i < sizeof(bad_scopes) / sizeof(bad_scopes[0]); i++) {
        assert_null(dmcp_challenge_insufficient_scope(NULL, bad_scopes[i], RM));
    }
    assert_challenge(dmcp_challenge_no_token("a! b#[ ]~", NULL), "Bearer scope=\"a! b#[ ]~\"");
    assert_challenge(dmcp_challenge_no_token("", NULL), "Bearer");
    /* resource_metadata must be an http(s) URL needing no escaping. */
    static const char *bad_urls[] = {"https://h/\"x",     "https://h/a\\b", "https://h/ a",
                                     "ftp://h/x",         "not a url",      "http://example.com/x",
                                     "https://h/\r\nX: y"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        assert_null(dmcp_challenge_no_token(NULL, bad_urls[i]));
    }
    assert_challenge(dmcp_challenge_no_token(NULL, "http://127.0.0.1:8080/.well-known/x"),
                     "Bearer resource_metadata=\"http://127.0.0.1:8080/.well-known/x\"");
    /* Error codes: no quote or backslash, not empty. */
    assert_null(dmcp_challenge_build("a\"b", NULL, NULL, NULL));
    assert_null(dmcp_challenge_build("", NULL, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_row9_from_scope_error),
        cmocka_unit_test(test_description_sanitised),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
