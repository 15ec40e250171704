/* The sandbox's signing key: generation and PEM here; kid, JWKS and RS256 signing are the
 * library's (dmcp/signer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sandbox.h"

EVP_PKEY *sbx_key_generate(void)
{
    /* RSA 2048: what Descope publishes (RS256) and the minimum our validator accepts. */
    return EVP_RSA_gen(2048);
}

char *sbx_key_to_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *out = NULL;
    if (bio == NULL) {
        return NULL;
    }
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1) {
        char *data = NULL;
        long n = BIO_get_mem_data(bio, &data);
        if (n > 0) {
            out = malloc((size_t)n + 1);
            if (out != NULL) {
                memcpy(out, data, (size_t)n);
                out[n] = '\0';
            }
        }
    }
    BIO_free(bio);
    return out;
}

json_t *sbx_jwks(const sbx *s)
{
    char *txt = dmcp_signer_jwks_json(s->signer);
    json_t *out = txt != NULL ? json_loads(txt, 0, NULL) : NULL;
    free(txt);
    return out;
}

char *sbx_jwt_sign(const sbx *s, const json_t *claims)
{
    /* RFC 9068 §2.1: access tokens are typed at+jwt. */
    char *out = NULL;
    return dmcp_signer_sign(s->signer, claims, "at+jwt", &out) == DMCP_OK ? out : NULL;
}

dmcp_validator *sbx_validator_new(const sbx *s)
{
    json_t *jwks = sbx_jwks(s);
    char *txt = jwks != NULL ? json_dumps(jwks, JSON_COMPACT) : NULL;
    dmcp_validator_config *cfg = NULL;
    dmcp_validator *v = NULL;
    dmcp_error err;
    memset(&err, 0, sizeof(err));
    json_decref(jwks);
    if (txt == NULL || dmcp_validator_config_new(&cfg) != DMCP_OK) {
        goto out;
    }
    if (dmcp_validator_config_set_jwks_json(cfg, txt) != DMCP_OK ||
        dmcp_validator_config_set_issuer(cfg, s->issuer) != DMCP_OK ||
        dmcp_validator_config_disable_audience_check(cfg) != DMCP_OK ||
        dmcp_validator_config_set_algorithms(cfg, "RS256") != DMCP_OK ||
        dmcp_validator_config_set_require_at_jwt(cfg, true) != DMCP_OK) {
        goto out;
    }
    if (dmcp_validator_new(cfg, &v, &err) != DMCP_OK) {
        fprintf(stderr, "sandbox: validator: %s\n", err.message);
        v = NULL;
    }
out:
    dmcp_validator_config_free(cfg);
    free(txt);
    return v;
}
