/*
 * JWK / JWKS import (RFC 7517 §4-5, RFC 7518 §6, RFC 8037 §2) into OpenSSL 3 EVP_PKEYs, and key
 * selection (wire protocol §3). Only public signature-verification keys are accepted: anything
 * unusual makes the key unusable rather than being guessed at (RFC 8725 §3.1, §3.2).
 */
#include "jose.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "sig_internal.h"

#define RSA_MIN_BITS 2048u
/* Bounds the cost of one verification (and of import) for attacker-influenced key sets. */
#define RSA_MAX_BITS 8192u
/* e is normally 65537; a larger exponent only costs verification time (RFC 8017 allows up to
 * n - 1, nobody uses it). 64 bits is also OpenSSL's limit for moduli above 3072 bits. */
#define RSA_MAX_E_BYTES 8u
#define KID_MAX_BYTES 1024u

#define RSA_ALGS                                                                              \
    (DMCP__ALG_BIT(DMCP__ALG_RS256) | DMCP__ALG_BIT(DMCP__ALG_RS384) |                        \
     DMCP__ALG_BIT(DMCP__ALG_RS512) | DMCP__ALG_BIT(DMCP__ALG_PS256) |                        \
     DMCP__ALG_BIT(DMCP__ALG_PS384) | DMCP__ALG_BIT(DMCP__ALG_PS512))

typedef struct curve_desc {
    const char *crv;   /* JWK "crv" (RFC 7518 §6.2.1.1) */
    const char *group; /* OpenSSL group name */
    size_t field;      /* bytes of x and of y */
    unsigned bits;
    dmcp__alg alg;     /* the only JWS alg for this curve (RFC 7518 §3.4) */
} curve_desc;

static const curve_desc k_curves[] = {
    {"P-256", "prime256v1", 32, 256, DMCP__ALG_ES256},
    {"P-384", "secp384r1", 48, 384, DMCP__ALG_ES384},
    {"P-521", "secp521r1", 66, 521, DMCP__ALG_ES512},
};

/* Members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037
 * §2). A JWKS carrying one is mis-published; refusing the key keeps us from ever treating
 * secret material as a verification key. */
static const char *const k_private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

static dmcp_status unusable(dmcp_error *err, const char *why)
{
    return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "unusable JWK: %s", why);
}

/* Optional string member: *out NULL when absent; false when present but not a string. */
static bool opt_string(const json_t *jwk, const char *name, const char **out, size_t *len)
{
    const json_t *v = json_object_get(jwk, name);
    *out = NULL;
    *len = 0;
    if (v == NULL) {
        return true;
    }
    if (!json_is_string(v)) {
        return false;
    }
    *out = json_string_value(v);
    *len = json_string_length(v);
    return true;
}

/* Decodes a required base64url member into a new buffer (caller frees). */
static dmcp_status b64_member(const json_t *jwk, const char *name, size_t max_bytes,
                              unsigned char **out, size_t *out_len, dmcp_error *err)
{
    const char *s = NULL;
    size_t len = 0;
    *out = NULL;
    *out_len = 0;
    if (!opt_string(jwk, name, &s, &len) || s == NULL) {
        return unusable(err, "missing or non-string key member");
    }
    if (len == 0 || len > (max_bytes * 4 + 2) / 3) {
        return unusable(err, "key member of wrong size");
    }
    unsigned char *buf = malloc(DMCP__B64URL_DECODED_MAX(len));
    if (buf == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    if (dmcp__b64url_decode(s, len, buf, out_len) != DMCP_OK) {
        free(buf);
        return unusable(err, "key member is not strict base64url");
    }
    *out = buf;
    return DMCP_OK;
}

static dmcp_status pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **out,
                                 dmcp_error *err)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    dmcp_status st = DMCP_OK;
    *out = NULL;
    if (params == NULL || ctx == NULL) {
        st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    } else if (EVP_PKEY_fromdata_init(ctx) != 1 ||
               EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        *out = NULL;
        st = unusable(err, "key rejected by OpenSSL");
    }
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return st;
}

static dmcp_status import_rsa(const json_t *jwk, dmcp__jwk *k, dmcp_error *err)
{
    unsigned char *n = NULL;
    unsigned char *e = NULL;
    size_t n_len = 0;
    size_t e_len = 0;
    BIGNUM *bn_n = NULL;
    BIGNUM *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    dmcp_status st = b64_member(jwk, "n", RSA_MAX_BITS / 8 + 1, &n, &n_len, err);
    if (st != DMCP_OK) {
        goto out;
    }
    st = b64_member(jwk, "e", RSA_MAX_E_BYTES + 1, &e, &e_len, err);
    if (st != DMCP_OK) {
        goto out;
    }
    bn_n = BN_bin2bn(n, (int)n_len, NULL);
    bn_e = BN_bin2bn(e, (int)e_len, NULL);
    if (bn_n == NULL || bn_e == NULL) {
        st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
        goto out;
    }
    /* Leading zero octets are tolerated (RFC 7518 §6.3.1.1 forbids them, but the value is
     * unambiguous); the size rules apply to the number itself. */
    int bits = BN_num_bits(bn_n);
    if (bits < (int)RSA_MIN_BITS || bits > (int)RSA_MAX_BITS) {
        st = unusable(err, "RSA modulus size outside 2048..8192 bits");
        goto out;
    }
    /* e = 1 makes the "signature" the message itself; an even e is not a valid RSA exponent
     * (Wycheproof json_web_key tcId 9). */
    if (!BN_is_odd(bn_e) || BN_is_one(bn_e) || BN_num_bytes(bn_e) > (int)RSA_MAX_E_BYTES) {
        st = unusable(err, "RSA public exponent must be odd, > 1 and at most 64 bits");
        goto out;
    }
    if (!BN_is_odd(bn_n)) {
        st = unusable(err, "RSA modulus is even");
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1) {
        st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
        goto out;
    }
    st = pkey_fromdata("RSA", bld, &k->pkey, err);
    if (st != DMCP_OK) {
        goto out;
    }
    k->kty = DMCP__KTY_RSA;
    k->bits = (unsigned)bits;
    if (k->alg == DMCP__ALG_UNKNOWN) {
        k->alg_mask = RSA_ALGS;
    } else if ((DMCP__ALG_BIT(k->alg) & RSA_ALGS) != 0) {
        k->alg_mask = DMCP__ALG_BIT(k->alg);
    } else {
        st = unusable(err, "JWK alg does not fit an RSA key");
    }
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
    free(e);
    return st;
}

static dmcp_status import_ec(const json_t *jwk, dmcp__jwk *k, dmcp_error *err)
{
    const char *crv = NULL;
    size_t crv_len = 0;
    const curve_desc *c = NULL;
    unsigned char *x = NULL;
    unsigned char *y = NULL;
    size_t x_len = 0;
    size_t y_len = 0;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY_CTX *check = NULL;
    unsigned char point[1 + 2 * 66];
    dmcp_status st = DMCP_OK;
    if (!opt_string(jwk, "crv", &crv, &crv_len) || crv == NULL) {
        return unusable(err, "EC key without crv");
    }
    for (size_t i = 0; i < DMCP__ARRAY_LEN(k_curves); i++) {
        if (strlen(k_curves[i].crv) == crv_len && memcmp(k_curves[i].crv, crv, crv_len) == 0) {
            c = &k_curves[i];
        }
    }
    if (c == NULL) {
        return unusable(err, "unsupported EC curve");
    }
    /* The only alg a curve serves (RFC 7518 §3.4): an ES256 label on a P-384 key is refused
     * (Wycheproof json_web_key tcId 19, 23). */
    if (k->alg != DMCP__ALG_UNKNOWN && k->alg != c->alg) {
        return unusable(err, "JWK alg does not fit the EC curve");
    }
    st = b64_member(jwk, "x", c->field, &x, &x_len, err);
    if (st == DMCP_OK) {
        st = b64_member(jwk, "y", c->field, &y, &y_len, err);
    }
    if (st != DMCP_OK) {
        goto out;
    }
    /* RFC 7518 §6.2.1.2/3: x and y are exactly the field size (no stripping, no padding). */
    if (x_len != c->field || y_len != c->field) {
        st = unusable(err, "EC coordinate of wrong length");
        goto out;
    }
    point[0] = 0x04; /* uncompressed point, SEC 1 §2.3.3 */
    memcpy(point + 1, x, c->field);
    memcpy(point + 1 + c->field, y, c->field);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                         1 + 2 * c->field) != 1) {
        st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
        goto out;
    }
    st = pkey_fromdata("EC", bld, &k->pkey, err);
    if (st != DMCP_OK) {
        goto out;
    }
    /* Explicit SP 800-56A §5.6.2.3.3 public key validation (coordinates in range, on the
     * curve, not infinity): invalid-curve points must never reach a verifier. */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (check == NULL || EVP_PKEY_public_check(check) != 1) {
        st = unusable(err, "EC point is not a valid public key on the curve");
        goto out;
    }
    k->kty = DMCP__KTY_EC;
    k->bits = c->bits;
    k->alg_mask = DMCP__ALG_BIT(c->alg);
out:
    EVP_PKEY_CTX_free(check);
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return st;
}

static dmcp_status import_okp(const json_t *jwk, dmcp__jwk *k, dmcp_error *err)
{
    const char *crv = NULL;
    size_t crv_len = 0;
    unsigned char *x = NULL;
    size_t x_len = 0;
    /* RFC 8037 §2: Ed448 and the X* (key agreement) curves are not signature keys we use. */
    if (!opt_string(jwk, "crv", &crv, &crv_len) || crv == NULL || crv_len != 7 ||
        memcmp(crv, "Ed25519", 7) != 0) {
        return unusable(err, "unsupported OKP curve");
    }
    if (k->alg != DMCP__ALG_UNKNOWN && k->alg != DMCP__ALG_EDDSA) {
        return unusable(err, "JWK alg does not fit an Ed25519 key");
    }
    dmcp_status st = b64_member(jwk, "x", 32, &x, &x_len, err);
    if (st != DMCP_OK) {
        return st;
    }
    if (x_len != 32) {
        free(x);
        return unusable(err, "Ed25519 key of wrong length");
    }
    k->pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, x_len);
    free(x);
    if (k->pkey == NULL) {
        return unusable(err, "Ed25519 key rejected by OpenSSL");
    }
    k->kty = DMCP__KTY_OKP;
    k->bits = 256;
    k->alg_mask = DMCP__ALG_BIT(DMCP__ALG_EDDSA);
    return DMCP_OK;
}

/* Checks "use" and "key_ops" (RFC 7517 §4.2, §4.3). */
static dmcp_status check_usage(const json_t *jwk, dmcp_error *err)
{
    const char *use = NULL;
    size_t use_len = 0;
    if (!opt_string(jwk, "use", &use, &use_len)) {
        return unusable(err, "use is not a string");
    }
    if (use != NULL && (use_len != 3 || memcmp(use, "sig", 3) != 0)) {
        return unusable(err, "use is not sig");
    }
    const json_t *ops = json_object_get(jwk, "key_ops");
    if (ops == NULL) {
        return DMCP_OK;
    }
    if (!json_is_array(ops)) {
        return unusable(err, "key_ops is not an array");
    }
    bool verify = false;
    size_t i;
    const json_t *op;
    json_array_foreach (ops, i, op) {
        if (!json_is_string(op)) {
            return unusable(err, "key_ops member is not a string");
        }
        if (json_string_length(op) == 6 && memcmp(json_string_value(op), "verify", 6) == 0) {
            verify = true;
        }
    }
    return verify ? DMCP_OK : unusable(err, "key_ops without verify");
}

dmcp_status dmcp__jwk_import(const json_t *jwk, dmcp__jwk *out, dmcp_error *err)
{
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "no output");
    }
    memset(out, 0, sizeof(*out));
    if (!json_is_object(jwk)) {
        return unusable(err, "not a JSON object");
    }
    dmcp_status st = dmcp__jose_init();
    if (st != DMCP_OK) {
        return dmcp__fail(err, st, DMCP_REASON_NONE, "crypto initialisation failed");
    }
    for (size_t i = 0; i < DMCP__ARRAY_LEN(k_private_members); i++) {
        if (json_object_get(jwk, k_private_members[i]) != NULL) {
            return unusable(err, "private or symmetric key material");
        }
    }
    const char *kty = NULL;
    size_t kty_len = 0;
    const char *alg = NULL;
    size_t alg_len = 0;
    const char *kid = NULL;
    size_t kid_len = 0;
    if (!opt_string(jwk, "kty", &kty, &kty_len) || kty == NULL) {
        return unusable(err, "missing kty");
    }
    st = check_usage(jwk, err);
    if (st != DMCP_OK) {
        return st;
    }
    if (!opt_string(jwk, "alg", &alg, &alg_len)) {
        return unusable(err, "alg is not a string");
    }
    if (alg != NULL) {
        /* An alg we do not understand (HS256, RSA-OAEP, ES521, ...) makes the key unusable:
         * the publisher restricted it to something we cannot honour. */
        out->alg = dmcp__alg_from_name(alg, alg_len);
        if (out->alg == DMCP__ALG_UNKNOWN) {
            return unusable(err, "unsupported JWK alg");
        }
    }
    if (!opt_string(jwk, "kid", &kid, &kid_len) || kid_len > KID_MAX_BYTES) {
        return unusable(err, "kid is not a string or too long");
    }
    if (kty_len == 3 && memcmp(kty, "RSA", 3) == 0) {
        st = import_rsa(jwk, out, err);
    } else if (kty_len == 2 && memcmp(kty, "EC", 2) == 0) {
        st = import_ec(jwk, out, err);
    } else if (kty_len == 3 && memcmp(kty, "OKP", 3) == 0) {
        st = import_okp(jwk, out, err);
    } else {
        /* "oct" (symmetric: would enable HMAC confusion, RFC 8725 §2.1) and unknown types. */
        st = unusable(err, "unsupported kty");
    }
    if (st == DMCP_OK && kid != NULL) {
        out->kid = malloc(kid_len + 1);
        if (out->kid == NULL) {
            st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
        } else {
            memcpy(out->kid, kid, kid_len);
            out->kid[kid_len] = '\0';
            out->kid_len = kid_len;
        }
    }
    if (st == DMCP_OK) {
        st = dmcp__sig_prepare(out);
        if (st != DMCP_OK) {
            st = st == DMCP_E_NOMEM ? dmcp__fail(err, st, DMCP_REASON_NONE, "out of memory")
                                    : unusable(err, "key cannot be used for its algorithms");
        }
    }
    if (st != DMCP_OK) {
        dmcp__jwk_clear(out);
        ERR_clear_error();
    }
    return st;
}

void dmcp__jwk_clear(dmcp__jwk *k)
{
    if (k == NULL) {
        return;
    }
    dmcp__sig_cache_free(k->verify_cache);
    EVP_PKEY_free(k->pkey);
    free(k->kid);
    memset(k, 0, sizeof(*k));
}

dmcp_status dmcp__jwks_parse(const char *json, size_t len, dmcp__jwks **out, size_t *skipped,
                             dmcp_error *err)
{
    json_error_t jerr;
    if (skipped != NULL) {
        *skipped = 0;
    }
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "no output");
    }
    *out = NULL;
    if (json == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "no JWKS document");
    }
    if (len > DMCP_MAX_JWKS_BYTES) {
        return dmcp__fail(err, DMCP_E_TOO_LARGE, DMCP_REASON_NONE,
                          "JWKS document larger than %d bytes", DMCP_MAX_JWKS_BYTES);
    }
    /* Duplicate member names are ambiguous (RFC 7517 §4, RFC 8259 §4): refuse them. */
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *keys = json_is_object(doc) ? json_object_get(doc, "keys") : NULL;
    if (!json_is_array(keys)) {
        json_decref(doc);
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                          "not a JWKS document (need an object with a keys array)");
    }
    dmcp__jwks *ks = calloc(1, sizeof(*ks));
    size_t n = json_array_size(keys);
    if (ks == NULL || (n > 0 && (ks->keys = calloc(n, sizeof(*ks->keys))) == NULL)) {
        free(ks);
        json_decref(doc);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    size_t skip = 0;
    for (size_t i = 0; i < n; i++) {
        dmcp_status st = dmcp__jwk_import(json_array_get(keys, i), &ks->keys[ks->n], NULL);
        if (st == DMCP_E_NOMEM) {
            dmcp__jwks_free(ks);
            json_decref(doc);
            return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
        }
        if (st == DMCP_OK) {
            ks->n++;
        } else {
            skip++;
        }
    }
    json_decref(doc);
    if (skipped != NULL) {
        *skipped = skip;
    }
    *out = ks;
    return DMCP_OK;
}

void dmcp__jwks_free(dmcp__jwks *ks)
{
    if (ks == NULL) {
        return;
    }
    for (size_t i = 0; i < ks->n; i++) {
        dmcp__jwk_clear(&ks->keys[i]);
    }
    free(ks->keys);
    free(ks);
}

const dmcp__jwk *dmcp__jwks_select(const dmcp__jwks *ks, const char *kid, size_t kid_len,
                                   dmcp__alg alg, dmcp_reason *why)
{
    dmcp_reason dummy;
    if (why == NULL) {
        why = &dummy;
    }
    *why = DMCP_REASON_UNKNOWN_KEY;
    if ((int)alg <= 0 || (int)alg >= DMCP__ALG_COUNT) {
        *why = DMCP_REASON_ALGORITHM;
        return NULL;
    }
    if (ks == NULL) {
        return NULL;
    }
    const dmcp__jwk *found = NULL;
    size_t fitting = 0;
    bool kid_seen = false;
    for (size_t i = 0; i < ks->n; i++) {
        const dmcp__jwk *k = &ks->keys[i];
        if (kid != NULL) {
            if (k->kid == NULL || k->kid_len != kid_len || memcmp(k->kid, kid, kid_len) != 0) {
                continue;
            }
            kid_seen = true;
        }
        if ((k->alg_mask & DMCP__ALG_BIT(alg)) != 0) {
            found = k;
            fitting++;
        }
    }
    /* Exactly one candidate: with a kid, two keys sharing kid and alg are as ambiguous as two
     * kid-less candidates (Wycheproof json_web_key "DuplicateKid"). */
    if (fitting == 1) {
        *why = DMCP_REASON_NONE;
        return found;
    }
    if (fitting == 0 && kid_seen) {
        *why = DMCP_REASON_ALGORITHM;
    }
    return NULL;
}
