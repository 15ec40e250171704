/* Helpers shared by the validator's unit tests (static, header-only). */
#ifndef DMCP_VTEST_H
#define DMCP_VTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "auth/validator_int.h"
#include "dmcp/auth.h"
#include "mint.h"

#define VT_NOW INT64_C(1700000000)
#define VT_ISS "https://issuer.example.com"
#define VT_AUD "https://mcp.example.com/mcp"

static int64_t vt_clock(void *ud)
{
    return *(const int64_t *)ud;
}

/* A config with the test issuer, audience, a static key set and a movable clock. */
static inline dmcp_validator_config *vt_config(const char *jwks, int64_t *now)
{
    dmcp_validator_config *cfg = NULL;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, VT_ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(cfg, VT_AUD), DMCP_OK);
    if (jwks != NULL) {
        assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    }
    assert_int_equal(dmcp_validator_config_set_clock(cfg, vt_clock, now), DMCP_OK);
    return cfg;
}

static inline dmcp_validator *vt_validator(dmcp_validator_config *cfg)
{
    dmcp_validator *v = NULL;
    dmcp_error err;
    dmcp_status st = dmcp_validator_new(cfg, &v, &err);
    if (st != DMCP_OK) {
        fprintf(stderr, "validator_new: %s\n", err.message);
    }
    assert_int_equal(st, DMCP_OK);
    dmcp_validator_config_free(cfg);
    return v;
}

/* A standard claims set valid at VT_NOW; `extra` is appended inside the object (may be ""). */
static inline char *vt_claims(const char *extra)
{
    char *p = malloc(4096);
    assert_non_null(p);
    snprintf(p, 4096,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"user-1\",\"exp\":%lld,\"iat\":%lld,"
             "\"scope\":\"read write\"%s%s}",
             VT_ISS, VT_AUD, (long long)(VT_NOW + 600), (long long)(VT_NOW - 10),
             (extra != NULL && *extra) ? "," : "", extra != NULL ? extra : "");
    return p;
}

/* Validates and returns the status; *reason receives err.reason. Frees the token. */
static inline dmcp_status vt_check(dmcp_validator *v, const char *tok, dmcp_reason *reason)
{
    dmcp_error err;
    dmcp_error_clear(&err);
    dmcp_token *t = NULL;
    dmcp_status st = dmcp_validator_validate(v, tok, strlen(tok), &t, &err);
    if (reason != NULL) {
        *reason = err.reason;
    }
    /* The message never echoes the token. */
    if (strlen(tok) > 20) {
        assert_null(strstr(err.message, tok));
    }
    if (st == DMCP_OK) {
        assert_non_null(t);
    } else {
        assert_null(t);
    }
    dmcp_token_free(t);
    return st;
}

/* Asserts DMCP_E_INVALID_TOKEN with the given reason. */
#define VT_REJECT(v, tok, why)                                                                     \
    do {                                                                                           \
        dmcp_reason r_ = DMCP_REASON_NONE;                                                         \
        assert_int_equal(vt_check((v), (tok), &r_), DMCP_E_INVALID_TOKEN);                         \
        assert_int_equal(r_, (why));                                                               \
    } while (0)

#define VT_ACCEPT(v, tok) assert_int_equal(vt_check((v), (tok), NULL), DMCP_OK)

/* A key and a one-key JWKS text for alg with kid. */
static inline dmcp_mint_key *vt_key(const char *alg, const char *kid, const char *jwk_alg,
                                    char **jwks)
{
    dmcp_mint_key *k = dmcp_mint_key_new(alg);
    assert_non_null(k);
    char *jwk = dmcp_mint_key_jwk(k, kid, jwk_alg);
    assert_non_null(jwk);
    const char *one[1] = {jwk};
    *jwks = dmcp_mint_jwks(one, 1);
    assert_non_null(*jwks);
    free(jwk);
    return k;
}

#endif
