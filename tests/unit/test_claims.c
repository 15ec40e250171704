/* Claim rules (RFC 7519 §4.1, wire protocol §4) at their exact boundaries, and the Descope
 * issuer forms (wire protocol §4.1). */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "auth/validator_int.h"

#define NOW INT64_C(1700000000)

static char *const EXTRA[] = {"https://extra.example"};
static char *const AUDS[] = {"https://mcp.example.com/mcp"};

static dmcp__issuer_rules RULES = {"https://api.descope.com/v1/apps/agentic/P2abc/MS1",
                                   EXTRA,
                                   1,
                                   "https://api.descope.com",
                                   "P2abc",
                                   false};

static dmcp_status run(const char *json, unsigned leeway, int64_t now, dmcp_reason *why,
                       dmcp__claims *out)
{
    dmcp__claims_policy pol = {leeway, &RULES, true, AUDS, 1};
    dmcp__jl_doc d;
    assert_int_equal(dmcp__jl_parse((const unsigned char *)json, strlen(json), &d), DMCP__JL_OK);
    dmcp_error err;
    dmcp_error_clear(&err);
    dmcp__claims c;
    dmcp_status st = dmcp__claims_check(&pol, &d, now, &c, &err);
    *why = err.reason;
    if (out != NULL) {
        *out = c;
    }
    dmcp__jl_free(&d);
    return st;
}

/* A claims set with iss/aud fixed and the given time members. */
static const char *with_times(const char *times)
{
    static char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"iss\":\"https://api.descope.com/v1/apps/P2abc\",\"aud\":\"%s\"%s%s}", AUDS[0],
             *times ? "," : "", times);
    return buf;
}

static void expect(const char *json, unsigned leeway, int64_t now, dmcp_status st,
                   dmcp_reason reason)
{
    dmcp_reason why;
    dmcp_status got = run(json, leeway, now, &why, NULL);
    if (got != st || (st != DMCP_OK && why != reason)) {
        fail_msg("%s leeway %u now %lld: got %d/%d want %d/%d", json, leeway, (long long)now, got,
                 why, st, reason);
    }
}

static void test_exp_boundaries(void **state)
{
    (void)state;
    char t[128];
    /* Refused iff exp <= now - leeway. */
    snprintf(t, sizeof(t), "\"exp\":%lld", (long long)NOW);
    expect(with_times(t), 0, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_EXPIRED); /* exp == now */
    expect(with_times(t), 0, NOW - 1, DMCP_OK, DMCP_REASON_NONE);
    expect(with_times(t), 5, NOW + 4, DMCP_OK, DMCP_REASON_NONE);
    expect(with_times(t), 5, NOW + 5, DMCP_E_INVALID_TOKEN, DMCP_REASON_EXPIRED);
    /* Fractional exp: refused iff exp <= now - leeway. */
    snprintf(t, sizeof(t), "\"exp\":%lld.5", (long long)NOW);
    expect(with_times(t), 0, NOW, DMCP_OK, DMCP_REASON_NONE);
    expect(with_times(t), 0, NOW + 1, DMCP_E_INVALID_TOKEN, DMCP_REASON_EXPIRED);
    expect(with_times(t), 3, NOW + 3, DMCP_OK, DMCP_REASON_NONE);
    expect(with_times(t), 3, NOW + 4, DMCP_E_INVALID_TOKEN, DMCP_REASON_EXPIRED);
    /* Types and presence. */
    expect(with_times(""), 5, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
    expect(with_times("\"exp\":\"1800000000\""), 5, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
    expect(with_times("\"exp\":true"), 5, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
    expect(with_times("\"exp\":[1800000000]"), 5, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
    /* Extremes saturate instead of wrapping. */
    expect(with_times("\"exp\":9223372036854775807"), 300, NOW, DMCP_OK, DMCP_REASON_NONE);
    expect(with_times("\"exp\":1e300"), 300, NOW, DMCP_OK, DMCP_REASON_NONE);
    expect(with_times("\"exp\":-9223372036854775808"), 300, NOW, DMCP_E_INVALID_TOKEN,
           DMCP_REASON_EXPIRED);
    expect(with_times("\"exp\":-1e300"), 0, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_EXPIRED);
}

static void test_nbf_iat_boundaries(void **state)
{
    (void)state;
    char t[160];
    const char *names[] = {"nbf", "iat"};
    for (int i = 0; i < 2; i++) {
        /* Refused iff value > now + leeway. */
        snprintf(t, sizeof(t), "\"exp\":%lld,\"%s\":%lld", (long long)(NOW + 1000), names[i],
                 (long long)(NOW + 5));
        expect(with_times(t), 5, NOW, DMCP_OK, DMCP_REASON_NONE);
        expect(with_times(t), 4, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_NOT_YET_VALID);
        expect(with_times(t), 0, NOW + 5, DMCP_OK, DMCP_REASON_NONE);
        expect(with_times(t), 0, NOW + 4, DMCP_E_INVALID_TOKEN, DMCP_REASON_NOT_YET_VALID);
        snprintf(t, sizeof(t), "\"exp\":%lld,\"%s\":%lld.5", (long long)(NOW + 1000), names[i],
                 (long long)NOW);
        expect(with_times(t), 0, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_NOT_YET_VALID);
        expect(with_times(t), 0, NOW + 1, DMCP_OK, DMCP_REASON_NONE);
        snprintf(t, sizeof(t), "\"exp\":%lld,\"%s\":\"%lld\"", (long long)(NOW + 1000), names[i],
                 (long long)NOW);
        expect(with_times(t), 5, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
        snprintf(t, sizeof(t), "\"exp\":%lld,\"%s\":null", (long long)(NOW + 1000), names[i]);
        expect(with_times(t), 5, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
    }
    /* The window recorded for the cache matches the checks. */
    dmcp__claims c;
    dmcp_reason why;
    snprintf(t, sizeof(t), "\"exp\":%lld,\"nbf\":%lld,\"iat\":%lld", (long long)(NOW + 100),
             (long long)(NOW - 50), (long long)(NOW + 2));
    assert_int_equal(run(with_times(t), 5, NOW, &why, &c), DMCP_OK);
    assert_int_equal(c.exp, NOW + 100);
    assert_int_equal(c.reject_at, NOW + 105);
    assert_int_equal(c.valid_from, NOW - 3);
}

static void issuer(const char *iss, bool legacy, bool ok)
{
    RULES.legacy = legacy;
    char buf[512];
    snprintf(buf, sizeof(buf), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld}", iss, AUDS[0],
             (long long)(NOW + 60));
    expect(buf, 0, NOW, ok ? DMCP_OK : DMCP_E_INVALID_TOKEN,
           ok ? DMCP_REASON_NONE : DMCP_REASON_ISSUER);
    RULES.legacy = false;
}

static void test_issuers(void **state)
{
    (void)state;
    const char *o = "https://api.descope.com";
    char b[256];
#define I(fmt, legacy, ok) (snprintf(b, sizeof(b), fmt, o), issuer(b, legacy, ok))
    I("%s/v1/apps/agentic/P2abc/MS1", false, true); /* configured */
    I("%s/v1/apps/agentic/P2abc/MS2", false, true); /* another server of the project */
    I("%s/v1/apps/P2abc", false, true);             /* project-level */
    I("%s/v1/apps/P2abc/T9", false, true);          /* tenant */
    I("%s/v1/apps/P2abc/", false, false);           /* empty tenant segment */
    I("%s/v1/apps/P2abc/T9/x", false, false);       /* two segments */
    I("%s/v1/apps/agentic/P2abc/", false, false);
    I("%s/v1/apps/agentic/P2abc", false, false);
    I("%s/v1/apps/agentic/P2abc/MS1/", false, false); /* trailing slash */
    I("%s/v1/apps/agentic/P2abc/MS1/x", false, false);
    I("%s/v1/apps/P2abcd", false, false); /* other project sharing a prefix */
    I("%s/v1/apps/P2ab", false, false);
    I("%s/v1/apps/agentic/P2abcd/MS1", false, false);
    I("%s/v1/apps/P2abc/../P9", false, false);
    I("%s/P2abc", false, false); /* legacy forms: opt-in */
    I("%s/P2abc", true, true);
    I("%s/P2abc/", true, false);
    I("%s", false, false);
    I("%s/", false, false);
#undef I
    issuer("P2abc", false, false);
    issuer("P2abc", true, true);
    issuer("P2abcd", true, false);
    issuer("https://eu.descope.com/v1/apps/P2abc", false, false); /* other origin */
    issuer("https://api.descope.com.evil.com/v1/apps/P2abc", false, false);
    issuer("http://api.descope.com/v1/apps/P2abc", false, false);
    issuer("HTTPS://API.DESCOPE.COM/v1/apps/P2abc", false, false);
    issuer("https://extra.example", false, true);
    issuer("https://extra.example/", false, false);
    /* A generic issuer: exact match only. */
    dmcp__issuer_rules g = {"https://idp.example/realms/x", NULL, 0, NULL, NULL, true};
    assert_true(dmcp__issuer_accepted(&g, "https://idp.example/realms/x", 28));
    assert_false(dmcp__issuer_accepted(&g, "https://idp.example/realms/x/", 29));
    assert_false(dmcp__issuer_accepted(&g, "https://idp.example/realms/", 27));
    /* Embedded NUL cannot truncate the comparison. */
    assert_false(dmcp__issuer_accepted(&g, "https://idp.example/realms/x\0y", 30));
}

static void test_audience(void **state)
{
    (void)state;
    const char *iss = "https://extra.example";
    char b[256];
    long long exp = NOW + 60;
#define A(aud, st, r)                                                                              \
    (snprintf(b, sizeof(b), "{\"iss\":\"%s\",\"aud\":%s,\"exp\":%lld}", iss, aud, exp),            \
     expect(b, 0, NOW, st, r))
    A("\"https://mcp.example.com/mcp\"", DMCP_OK, DMCP_REASON_NONE);
    A("[\"a\",\"https://mcp.example.com/mcp\"]", DMCP_OK, DMCP_REASON_NONE);
    A("\"https://mcp.example.com/mcp/\"", DMCP_E_INVALID_TOKEN, DMCP_REASON_AUDIENCE);
    A("\"https://MCP.example.com/mcp\"", DMCP_E_INVALID_TOKEN, DMCP_REASON_AUDIENCE);
    A("[]", DMCP_E_INVALID_TOKEN, DMCP_REASON_AUDIENCE);
    A("[[\"https://mcp.example.com/mcp\"]]", DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
    A("null", DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
    A("1", DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
#undef A
    snprintf(b, sizeof(b), "{\"iss\":\"%s\",\"exp\":%lld}", iss, exp);
    expect(b, 0, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_AUDIENCE);
    /* With the check off, a missing aud passes (a malformed one still does not). */
    dmcp__claims_policy pol = {0, &RULES, false, NULL, 0};
    dmcp__jl_doc d;
    assert_int_equal(dmcp__jl_parse((const unsigned char *)b, strlen(b), &d), DMCP__JL_OK);
    dmcp__claims c;
    assert_int_equal(dmcp__claims_check(&pol, &d, NOW, &c, NULL), DMCP_OK);
    dmcp__jl_free(&d);
}

static void test_identity(void **state)
{
    (void)state;
    const char *base = "\"iss\":\"https://extra.example\",\"aud\":\"https://mcp.example.com/mcp\","
                       "\"exp\":1700000100";
    char b[512];
    const char *bad[] = {"\"sub\":1",          "\"dsub\":[]",       "\"azp\":{}",
                         "\"client_id\":true", "\"scope\":[\"a\"]", "\"scopes\":[\"a\",1]",
                         "\"scp\":{}",         "\"scp\":[\"a b\"]", "\"iss\":null"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(bad); i++) {
        if (strncmp(bad[i], "\"iss\"", 5) == 0) {
            snprintf(b, sizeof(b),
                     "{\"aud\":\"https://mcp.example.com/mcp\",\"exp\":1700000100,%s}", bad[i]);
        } else {
            snprintf(b, sizeof(b), "{%s,%s}", base, bad[i]);
        }
        expect(b, 0, NOW, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM);
    }
    /* null identity claims count as absent; tenant order dct, tenantId, tenant. */
    snprintf(b, sizeof(b), "{%s,\"sub\":null,\"tenant\":\"c\",\"tenantId\":\"b\",\"dct\":5}", base);
    dmcp__claims c;
    dmcp__claims_policy pol = {0, &RULES, true, AUDS, 1};
    dmcp__jl_doc d;
    /* Inspect the extracted members while the document is alive (they point into it). */
    assert_int_equal(dmcp__jl_parse((const unsigned char *)b, strlen(b), &d), DMCP__JL_OK);
    assert_int_equal(dmcp__claims_check(&pol, &d, NOW, &c, NULL), DMCP_OK);
    assert_null(c.sub);
    assert_string_equal(c.tenant->str.s, "b");
    dmcp__jl_free(&d);
    /* scp as a spaced string (Entra ID style) is read as scope. */
    snprintf(b, sizeof(b), "{%s,\"scp\":\"a b\"}", base);
    assert_int_equal(dmcp__jl_parse((const unsigned char *)b, strlen(b), &d), DMCP__JL_OK);
    assert_int_equal(dmcp__claims_check(&pol, &d, NOW, &c, NULL), DMCP_OK);
    assert_non_null(c.scope);
    assert_string_equal(c.scope->str.s, "a b");
    assert_null(c.scopes);
    dmcp__jl_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_boundaries), cmocka_unit_test(test_nbf_iat_boundaries),
        cmocka_unit_test(test_issuers),        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
