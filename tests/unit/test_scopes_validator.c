/* dmcp_validator_require_scopes(): the token's scopes and the validator's hierarchy hook. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#include "dmcp/dmcp.h"
#include "mint.h"

#define ISS "https://issuer.example.test"
#define AUD "https://mcp.example.com/mcp"

static int hook_calls;

/* "calendar" implies "calendar.<anything>" (MCP 2026-07-28 §11.1.2 style hierarchy). */
static bool implies_prefix(const char *granted, const char *required, void *userdata)
{
    size_t n = strlen(granted);
    hook_calls++;
    assert_ptr_equal(userdata, &hook_calls);
    return strncmp(granted, required, n) == 0 && required[n] == '.';
}

static dmcp_validator *make(const char *jwks, bool hook)
{
    dmcp_validator_config *cfg = NULL;
    dmcp_validator *v = NULL;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(cfg, AUD), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    if (hook) {
        assert_int_equal(dmcp_validator_config_set_scope_implies(cfg, implies_prefix, &hook_calls),
                         DMCP_OK);
    }
    assert_int_equal(dmcp_validator_new(cfg, &v, NULL), DMCP_OK);
    dmcp_validator_config_free(cfg);
    return v;
}

static void test_validator_hook(void **state)
{
    (void)state;
    dmcp_mint_key *k = dmcp_mint_key_new("ES256");
    assert_non_null(k);
    char *jwk = dmcp_mint_key_jwk(k, "k1", "ES256");
    char *jwks = dmcp_mint_jwks((const char *const *)&jwk, 1);
    char payload[512];
    long long now = (long long)time(NULL);
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u\",\"scope\":\"calendar tools.call\","
             "\"iat\":%lld,\"exp\":%lld}",
             ISS, AUD, now, now + 600);
    char *tok = dmcp_mint_sign_simple(k, "ES256", "k1", payload);
    assert_non_null(tok);

    dmcp_validator *plain = make(jwks, false);
    dmcp_validator *hier = make(jwks, true);
    dmcp_token *t = NULL;
    assert_int_equal(dmcp_validator_validate(hier, tok, strlen(tok), &t, NULL), DMCP_OK);

    const char *need[] = {"calendar.read", "tools.call"};
    dmcp_scope_error *e = NULL;
    /* Without the hook: exact matching, calendar.read is missing. */
    assert_int_equal(dmcp_validator_require_scopes(plain, t, need, 2, &e),
                     DMCP_E_INSUFFICIENT_SCOPE);
    size_t n = 0;
    const char *const *m = dmcp_scope_error_missing(e, &n);
    assert_int_equal(n, 1);
    assert_string_equal(m[0], "calendar.read");
    assert_string_equal(dmcp_scope_error_scope(e), "calendar calendar.read tools.call");
    dmcp_scope_error_free(e);

    /* With it: granted, and the hook really was consulted. */
    hook_calls = 0;
    assert_int_equal(dmcp_validator_require_scopes(hier, t, need, 2, &e), DMCP_OK);
    assert_null(e);
    assert_true(hook_calls > 0);
    const char *other[] = {"mail.send"};
    assert_int_equal(dmcp_validator_require_scopes(hier, t, other, 1, &e),
                     DMCP_E_INSUFFICIENT_SCOPE);
    dmcp_scope_error_free(e);
    assert_int_equal(dmcp_validator_require_scopes(NULL, t, need, 2, &e), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_validator_require_scopes(hier, NULL, need, 2, &e), DMCP_E_INVALID_ARG);

    dmcp_token_free(t);
    dmcp_validator_free(plain);
    dmcp_validator_free(hier);
    free(tok);
    free(jwks);
    free(jwk);
    dmcp_mint_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
