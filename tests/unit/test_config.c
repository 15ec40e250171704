/* Configuration setters: copies, ranges, refusals. */
#include <string.h>

#include "testutil.h"

#include "auth/auth_internal.h"
#include "auth/validator_int.h"

static void test_defaults_and_copies(void **state)
{
    (void)state;
    dmcp_validator_config *c = NULL;
    assert_int_equal(dmcp_validator_config_new(&c), DMCP_OK);
    assert_int_equal(c->leeway, 5);
    assert_int_equal(c->max_token_bytes, DMCP_MAX_TOKEN_BYTES);
    assert_int_equal(c->token_cache_size, 10000);
    assert_int_equal(c->default_ttl, 3600);
    assert_int_equal(c->min_ttl, 300);
    assert_int_equal(c->max_ttl, 86400);
    assert_int_equal(c->cooldown, 60);
    assert_int_equal(c->stale_limit, 86400);
    assert_int_equal(c->alg_mask, DMCP__ALG_ALL_MASK);
    char url[] = "https://mcp.example.com/mcp";
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(c, url), DMCP_OK);
    url[8] = 'X';
    assert_string_equal(c->mcp_server_url, "https://mcp.example.com/mcp"); /* copied */
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(c, NULL), DMCP_OK);
    assert_null(c->mcp_server_url);
    dmcp_validator_config_free(c);
    dmcp_validator_config_free(NULL);
    assert_int_equal(dmcp_validator_config_new(NULL), DMCP_E_INVALID_ARG);
}

static void test_urls(void **state)
{
    (void)state;
    dmcp_validator_config *c = NULL;
    assert_int_equal(dmcp_validator_config_new(&c), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_well_known_url(
                         c, "https://api.descope.com/v1/apps/agentic/P2abc/MS1/.well-known/"
                            "openid-configuration"),
                     DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_well_known_url(c, "http://idp.example.com"),
                     DMCP_E_CONFIG); /* http only for loopback */
    assert_int_equal(dmcp_validator_config_set_well_known_url(c, "http://127.0.0.1:8080/x"),
                     DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_well_known_url(c, "https://u:p@h.example/"),
                     DMCP_E_CONFIG);
    assert_int_equal(dmcp_validator_config_set_jwks_url(c, "ftp://h.example/jwks"), DMCP_E_CONFIG);
    assert_int_equal(dmcp_validator_config_set_jwks_url(c, "https://h.example/jwks"), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(c, "https://h.example/mcp#f"),
                     DMCP_E_CONFIG);
    assert_int_equal(dmcp_validator_config_set_issuer(c, ""), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_config_add_audience(c, ""), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_config_add_audience(c, NULL), DMCP_E_INVALID_ARG);
    for (int i = 0; i < DMCP__MAX_LIST; i++) {
        assert_int_equal(dmcp_validator_config_add_audience(c, "a"), DMCP_OK);
    }
    assert_int_equal(dmcp_validator_config_add_audience(c, "a"), DMCP_E_CONFIG);
    dmcp_validator_config_free(c);
}

static void test_ranges(void **state)
{
    (void)state;
    dmcp_validator_config *c = NULL;
    assert_int_equal(dmcp_validator_config_new(&c), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_leeway(c, 300), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_leeway(c, 301), DMCP_E_INVALID_ARG);
    assert_int_equal(c->leeway, 300);
    assert_int_equal(dmcp_validator_config_set_leeway(c, 0), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_max_token_bytes(c, DMCP_MAX_TOKEN_BYTES_LIMIT),
                     DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_max_token_bytes(c, DMCP_MAX_TOKEN_BYTES_LIMIT + 1),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_config_set_max_token_bytes(c, 0), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_config_set_http_timeouts(c, 0, 100), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_config_set_http_timeouts(c, 200, 100), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_config_set_http_timeouts(c, 100, 200), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_key_cache(c, 3600, 300, 86400, 60, 86400), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_key_cache(c, 3600, 600, 300, 60, 86400),
                     DMCP_E_INVALID_ARG); /* min > max */
    assert_int_equal(dmcp_validator_config_set_key_cache(c, 3600, 300, 86400, 0, 86400),
                     DMCP_E_INVALID_ARG); /* no cooldown */
    assert_int_equal(dmcp_validator_config_set_key_cache(c, 0, 300, 86400, 60, 86400),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_config_set_token_cache_size(c, 0), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_token_cache_size(c, (size_t)1 << 30),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_config_set_challenge_scope(c, (dmcp_challenge_scope)7),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_config_set_challenge_scope(c, DMCP_CHALLENGE_SCOPE_REQUIRED),
                     DMCP_OK);
    dmcp_validator_config_free(c);
}

static void test_algorithms(void **state)
{
    (void)state;
    dmcp_validator_config *c = NULL;
    assert_int_equal(dmcp_validator_config_new(&c), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_algorithms(c, "ES256  EdDSA "), DMCP_OK);
    assert_int_equal(c->alg_mask, DMCP__ALG_BIT(DMCP__ALG_ES256) | DMCP__ALG_BIT(DMCP__ALG_EDDSA));
    const char *bad[] = {"none", "NONE", "HS256", "hs384", "ES256 HS512", "RS256 nOnE",
                         "",     "   ",  "ES257", "es256", "RS256,ES256"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(bad); i++) {
        assert_int_equal(dmcp_validator_config_set_algorithms(c, bad[i]), DMCP_E_CONFIG);
        /* a refused list leaves the previous one in place */
        assert_int_equal(c->alg_mask,
                         DMCP__ALG_BIT(DMCP__ALG_ES256) | DMCP__ALG_BIT(DMCP__ALG_EDDSA));
    }
    assert_int_equal(dmcp_validator_config_set_algorithms(c, NULL), DMCP_OK);
    assert_int_equal(c->alg_mask, DMCP__ALG_ALL_MASK);
    dmcp_validator_config_free(c);
}

static bool implies(const char *g, const char *r, void *ud)
{
    (void)ud;
    return strcmp(g, "all") == 0 && r != NULL;
}

static void test_hooks_reach_validator(void **state)
{
    (void)state;
    dmcp_validator_config *c = NULL;
    assert_int_equal(dmcp_validator_config_new(&c), DMCP_OK);
    int ud = 0;
    assert_int_equal(dmcp_validator_config_set_scope_implies(c, implies, &ud), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_challenge_scope(c, DMCP_CHALLENGE_SCOPE_REQUIRED),
                     DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(c, "https://i.example"), DMCP_OK);
    assert_int_equal(dmcp_validator_config_disable_audience_check(c), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(
                         c, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
                            "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}"),
                     DMCP_OK);
    dmcp_validator *v = NULL;
    assert_int_equal(dmcp_validator_new(c, &v, NULL), DMCP_OK);
    dmcp_validator_config_free(c);
    dmcp_scope_implies_fn fn = NULL;
    void *u = NULL;
    dmcp__validator_implies(v, &fn, &u);
    assert_ptr_equal(fn, implies);
    assert_ptr_equal(u, &ud);
    assert_int_equal(dmcp__validator_challenge_scope(v), DMCP_CHALLENGE_SCOPE_REQUIRED);
    dmcp_validator_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_copies),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_algorithms),
        cmocka_unit_test(test_hooks_reach_validator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
