/*
 * A whole token through dmcp_validator_validate() against a static key set: the EC P-256 key
 * of RFC 7515 Appendix A.3 (whose example token is in the seed corpus and validates), plus an
 * Ed25519 key. Any outcome other than OK / INVALID_TOKEN is a bug, as is OK without a token.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmcp/auth.h"

static const char JWKS[] = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a3\","
                           "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                           "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
                           "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\","
                           "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

static int64_t fixed_clock(void *ud)
{
    (void)ud;
    return 1300819000; /* before the A.3 token's exp (1300819380) */
}

static dmcp_validator *validator(void)
{
    static dmcp_validator *v;
    if (v != NULL) {
        return v;
    }
    dmcp_validator_config *cfg = NULL;
    if (dmcp_validator_config_new(&cfg) != DMCP_OK ||
        dmcp_validator_config_set_issuer(cfg, "joe") != DMCP_OK ||
        dmcp_validator_config_disable_audience_check(cfg) != DMCP_OK ||
        dmcp_validator_config_set_jwks_json(cfg, JWKS) != DMCP_OK ||
        dmcp_validator_config_set_token_cache_size(cfg, 8) != DMCP_OK ||
        dmcp_validator_config_set_clock(cfg, fixed_clock, NULL) != DMCP_OK ||
        dmcp_validator_new(cfg, &v, NULL) != DMCP_OK) {
        abort();
    }
    dmcp_validator_config_free(cfg);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dmcp_validator *v = validator();
    dmcp_token *t = NULL;
    dmcp_error err;
    dmcp_status st = dmcp_validator_validate(v, (const char *)data, size, &t, &err);
    if (st == DMCP_OK) {
        if (t == NULL || dmcp_token_issuer(t) == NULL || strcmp(dmcp_token_issuer(t), "joe")) {
            abort();
        }
        /* An accepted payload always yields its claims object (NULL: out of memory only). */
        if (!json_is_object(dmcp_token_claims(t))) {
            abort();
        }
        dmcp_token_free(t);
        return 0;
    }
    if (st != DMCP_E_INVALID_TOKEN || t != NULL || err.reason == DMCP_REASON_NONE) {
        abort();
    }
    return 0;
}
