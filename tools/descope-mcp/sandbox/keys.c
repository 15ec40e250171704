/* The sandbox's signing key: generation, PEM, JWK (RFC 7517), JWS RS256 (RFC 7515/7518). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "sandbox.h"

EVP_PKEY *sbx_key_generate(void)
{
    /* RSA 2048: what Descope publishes (RS256) and the minimum our validator accepts. */
    return EVP_RSA_gen(2048);
}

EVP_PKEY *sbx_key_from_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (bio == NULL) {
        return NULL;
    }
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (key != NULL && (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048)) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
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

/* base64url of an RSA key parameter (big-endian, no leading zeros: RFC 7518 §6.3.1). */
static char *rsa_param(EVP_PKEY *key, const char *name)
{
    BIGNUM *bn = NULL;
    char *out = NULL;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
        return NULL;
    }
    int n = BN_num_bytes(bn);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf != NULL && BN_bn2bin(bn, buf) == n) {
        out = sbx_b64url(buf, (size_t)n);
    }
    free(buf);
    BN_free(bn);
    return out;
}

bool sbx_key_thumbprint(EVP_PKEY *key, char out[64])
{
    /* RFC 7638 §3.2: SHA-256 of {"e","kty","n"} with no whitespace, members sorted. */
    char *n = rsa_param(key, OSSL_PKEY_PARAM_RSA_N);
    char *e = rsa_param(key, OSSL_PKEY_PARAM_RSA_E);
    bool ok = false;
    if (n != NULL && e != NULL) {
        size_t len = strlen(n) + strlen(e) + 32;
        char *canon = malloc(len);
        unsigned char md[32];
        unsigned int mdlen = 0;
        if (canon != NULL) {
            snprintf(canon, len, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e, n);
            if (EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) == 1) {
                char *t = sbx_b64url(md, mdlen);
                if (t != NULL && strlen(t) < 64) {
                    strcpy(out, t);
                    ok = true;
                }
                free(t);
            }
        }
        free(canon);
    }
    free(n);
    free(e);
    return ok;
}

json_t *sbx_jwks(const sbx *s)
{
    char *n = rsa_param(s->key, OSSL_PKEY_PARAM_RSA_N);
    char *e = rsa_param(s->key, OSSL_PKEY_PARAM_RSA_E);
    json_t *out = NULL;
    if (n != NULL && e != NULL) {
        out = json_pack("{s:[{s:s,s:s,s:s,s:s,s:s,s:s}]}", "keys", "kty", "RSA", "kid", s->kid,
                        "alg", "RS256", "use", "sig", "n", n, "e", e);
    }
    free(n);
    free(e);
    return out;
}

static char *b64url_json(const json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT);
    char *out = NULL;
    if (txt != NULL) {
        out = sbx_b64url((const unsigned char *)txt, strlen(txt));
    }
    free(txt);
    return out;
}

char *sbx_jwt_sign(const sbx *s, const json_t *claims)
{
    /* RFC 9068 §2.1: access tokens are typed at+jwt. */
    json_t *hdr = json_pack("{s:s,s:s,s:s}", "alg", "RS256", "typ", "at+jwt", "kid", s->kid);
    char *h = b64url_json(hdr);
    char *p = b64url_json(claims);
    char *out = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    json_decref(hdr);
    if (h == NULL || p == NULL || ctx == NULL) {
        goto out;
    }
    size_t hl = strlen(h);
    size_t pl = strlen(p);
    char *input = malloc(hl + pl + 2);
    if (input == NULL) {
        goto out;
    }
    memcpy(input, h, hl);
    input[hl] = '.';
    memcpy(input + hl + 1, p, pl + 1);
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, s->key) == 1 &&
        EVP_PKEY_get_size(s->key) <= (int)sizeof(sig) &&
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input, hl + pl + 1) == 1) {
        char *sg = sbx_b64url(sig, siglen);
        if (sg != NULL) {
            size_t sl = strlen(sg);
            out = malloc(hl + pl + sl + 3);
            if (out != NULL) {
                memcpy(out, input, hl + pl + 1);
                out[hl + pl + 1] = '.';
                memcpy(out + hl + pl + 2, sg, sl + 1);
            }
        }
        free(sg);
    }
    free(input);
out:
    EVP_MD_CTX_free(ctx);
    free(h);
    free(p);
    return out;
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
