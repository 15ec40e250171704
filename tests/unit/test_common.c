/* Status map, capped buffer, URL checks and well-known URL derivation. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "dmcp/dmcp.h"
#include "http.h"
#include "internal.h"
#include "url.h"

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(dmcp_status_name(DMCP_OK), "DMCP_OK");
    assert_string_equal(dmcp_status_name(DMCP_E_INVALID_TOKEN), "DMCP_E_INVALID_TOKEN");
    assert_string_equal(dmcp_strerror(DMCP_E_INSUFFICIENT_SCOPE), "insufficient scope");
    assert_string_equal(dmcp_strerror((dmcp_status)-9999), "unknown status");
    assert_int_equal(DMCP_VERSION_NUM, dmcp_version_num());
    assert_string_equal(dmcp_version(), DMCP_VERSION_STRING);
    assert_true(DMCP_VERSION_AT_LEAST(0, 0, 1));
}

static void test_buf_cap(void **state)
{
    (void)state;
    dmcp__buf b;
    dmcp__buf_init(&b, 8);
    assert_int_equal(dmcp__buf_appends(&b, "1234"), DMCP_OK);
    assert_int_equal(dmcp__buf_appends(&b, "5678"), DMCP_OK);
    assert_int_equal(dmcp__buf_appends(&b, "9"), DMCP_E_TOO_LARGE);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    dmcp__buf_free(&b);
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(dmcp__host_is_loopback("localhost"));
    assert_true(dmcp__host_is_loopback("127.0.0.1"));
    assert_true(dmcp__host_is_loopback("127.1.2.3"));
    assert_true(dmcp__host_is_loopback("[::1]"));
    assert_false(dmcp__host_is_loopback("127.0.0.1.evil.com"));
    assert_false(dmcp__host_is_loopback("128.0.0.1"));
    assert_false(dmcp__host_is_loopback("localhost.evil.com"));
    assert_false(dmcp__host_is_loopback("1270.0.0.1"));
}

static void test_url_check(void **state)
{
    (void)state;
    bool lb = false;
    assert_int_equal(dmcp__url_check("https://api.descope.com/x", false, &lb, NULL), DMCP_OK);
    assert_false(lb);
    assert_int_equal(dmcp__url_check("http://127.0.0.1:8080/x", false, &lb, NULL), DMCP_OK);
    assert_true(lb);
    assert_int_equal(dmcp__url_check("http://api.descope.com/x", false, NULL, NULL),
                     DMCP_E_CONFIG);
    assert_int_equal(dmcp__url_check("https://u:p@h/x", false, NULL, NULL), DMCP_E_CONFIG);
    assert_int_equal(dmcp__url_check("https://h/x#f", false, NULL, NULL), DMCP_E_CONFIG);
    assert_int_equal(dmcp__url_check("https://h/x?q=1", false, NULL, NULL), DMCP_E_CONFIG);
    assert_int_equal(dmcp__url_check("https://h/x?q=1", true, NULL, NULL), DMCP_OK);
    assert_int_equal(dmcp__url_check("ftp://h/x", false, NULL, NULL), DMCP_E_CONFIG);
    assert_int_equal(dmcp__url_check("/relative", false, NULL, NULL), DMCP_E_CONFIG);
}

static void test_wellknown_shapes(void **state)
{
    (void)state;
    dmcp__wellknown wk;
    assert_int_equal(
        dmcp__wellknown_parse("https://api.descope.com/v1/apps/agentic/P2abc/MS35x/.well-known/"
                              "openid-configuration",
                              false, &wk, NULL),
        DMCP_OK);
    assert_int_equal(wk.shape, DMCP__WK_AGENTIC);
    assert_string_equal(wk.project_id, "P2abc");
    assert_string_equal(wk.server_id, "MS35x");
    assert_string_equal(wk.issuer, "https://api.descope.com/v1/apps/agentic/P2abc/MS35x");
    assert_string_equal(wk.origin, "https://api.descope.com");
    dmcp__wellknown_free(&wk);

    assert_int_equal(dmcp__wellknown_parse(
                         "https://api.eu.descope.com/v1/apps/P2abc/.well-known/openid-configuration",
                         true, &wk, NULL),
                     DMCP_OK);
    assert_int_equal(wk.shape, DMCP__WK_PROJECT);
    assert_string_equal(wk.project_id, "P2abc");
    assert_string_equal(wk.origin, "https://api.eu.descope.com");
    dmcp__wellknown_free(&wk);

    assert_int_equal(dmcp__wellknown_parse(
                         "https://auth.example.com:8443/P2abc/.well-known/openid-configuration",
                         true, &wk, NULL),
                     DMCP_OK);
    assert_int_equal(wk.shape, DMCP__WK_LEGACY);
    assert_string_equal(wk.origin, "https://auth.example.com:8443");
    assert_string_equal(wk.issuer, "https://auth.example.com:8443/P2abc");
    dmcp__wellknown_free(&wk);

    /* A generic issuer without the suffix: discovery URL appended, no project id. */
    assert_int_equal(dmcp__wellknown_parse("http://127.0.0.1:4444/oidc", false, &wk, NULL),
                     DMCP_OK);
    assert_int_equal(wk.shape, DMCP__WK_GENERIC);
    assert_null(wk.project_id);
    assert_string_equal(wk.discovery_url,
                        "http://127.0.0.1:4444/oidc/.well-known/openid-configuration");
    dmcp__wellknown_free(&wk);

    /* The Python package's defect: never take "v1" as the project id. */
    dmcp_error err;
    assert_int_equal(dmcp__wellknown_parse("https://h/v1/apps/agentic/P1/.well-known/"
                                           "openid-configuration",
                                           true, &wk, &err),
                     DMCP_E_CONFIG);
    assert_int_equal(dmcp__wellknown_parse("https://h/v1/.well-known/openid-configuration", true,
                                           &wk, &err),
                     DMCP_E_CONFIG);
}

static void test_max_age(void **state)
{
    (void)state;
    assert_int_equal(dmcp__parse_max_age("public, max-age=600"), 600);
    assert_int_equal(dmcp__parse_max_age("max-age = 60, must-revalidate"), 60);
    assert_int_equal(dmcp__parse_max_age("no-store"), -1);
    assert_int_equal(dmcp__parse_max_age("s-maxage=5"), -1);
    assert_int_equal(dmcp__parse_max_age("max-age=abc"), -1);
    assert_int_equal(dmcp__parse_max_age(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names), cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_loopback),     cmocka_unit_test(test_url_check),
        cmocka_unit_test(test_wellknown_shapes), cmocka_unit_test(test_max_age),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
