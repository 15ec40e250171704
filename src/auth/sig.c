/*
 * JWS signature verification through OpenSSL 3 EVP (RFC 7518 §3.3-3.5, RFC 8037 §3.1).
 *
 * Speed: everything that can be done once per key is done at import (dmcp__sig_prepare):
 * for each algorithm the key may verify, an EVP_MD_CTX is initialised for verification
 * (digest fetched, provider context built, PSS padding set). A verification copies that
 * template (EVP_MD_CTX_copy_ex) instead of initialising a context, which skips the per-call
 * fetches and lock traffic of EVP_DigestVerifyInit (OpenSSL 3.0, openssl#17064, #20286).
 * Templates are only ever read after import, so concurrent verifications with one key are safe.
 * Ed25519 has no digest, and OpenSSL 3.0 cannot copy a digest-less context, so EdDSA uses a
 * fresh EVP_DigestVerifyInit_ex per call (what a bare caller would do anyway).
 */
#include "jose.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "sig_internal.h"

typedef struct alg_desc {
    const char *name;
    dmcp__kty kty;
    int md;          /* index into k_md, -1 for EdDSA */
    bool pss;
    size_t ec_field; /* ECDSA: bytes of r and of s (RFC 7518 §3.4) */
} alg_desc;

enum { MD_SHA256 = 0, MD_SHA384 = 1, MD_SHA512 = 2, MD_COUNT = 3 };

static const alg_desc k_alg[DMCP__ALG_COUNT] = {
    [DMCP__ALG_UNKNOWN] = {NULL, 0, -1, false, 0},
    [DMCP__ALG_RS256] = {"RS256", DMCP__KTY_RSA, MD_SHA256, false, 0},
    [DMCP__ALG_RS384] = {"RS384", DMCP__KTY_RSA, MD_SHA384, false, 0},
    [DMCP__ALG_RS512] = {"RS512", DMCP__KTY_RSA, MD_SHA512, false, 0},
    [DMCP__ALG_PS256] = {"PS256", DMCP__KTY_RSA, MD_SHA256, true, 0},
    [DMCP__ALG_PS384] = {"PS384", DMCP__KTY_RSA, MD_SHA384, true, 0},
    [DMCP__ALG_PS512] = {"PS512", DMCP__KTY_RSA, MD_SHA512, true, 0},
    [DMCP__ALG_ES256] = {"ES256", DMCP__KTY_EC, MD_SHA256, false, 32},
    [DMCP__ALG_ES384] = {"ES384", DMCP__KTY_EC, MD_SHA384, false, 48},
    [DMCP__ALG_ES512] = {"ES512", DMCP__KTY_EC, MD_SHA512, false, 66},
    [DMCP__ALG_EDDSA] = {"EdDSA", DMCP__KTY_OKP, -1, false, 0},
};

static const char *const k_md_name[MD_COUNT] = {"SHA2-256", "SHA2-384", "SHA2-512"};
static EVP_MD *k_md[MD_COUNT];
static pthread_once_t k_once = PTHREAD_ONCE_INIT;
static dmcp_status k_init_status = DMCP_E_INTERNAL;

/* One pre-initialised verification context per algorithm the key may verify. */
struct dmcp__sig_cache {
    EVP_MD_CTX *tmpl[DMCP__ALG_COUNT];
};

dmcp__alg dmcp__alg_from_name(const char *name, size_t len)
{
    if (name == NULL || len != 5) {
        return DMCP__ALG_UNKNOWN;
    }
    for (int a = 1; a < DMCP__ALG_COUNT; a++) {
        /* Exact and case-sensitive (RFC 7515 §4.1.1: "alg" is a case-sensitive string). */
        if (memcmp(k_alg[a].name, name, 5) == 0) {
            return (dmcp__alg)a;
        }
    }
    return DMCP__ALG_UNKNOWN;
}

const char *dmcp__alg_name(dmcp__alg alg)
{
    if ((int)alg <= 0 || (int)alg >= DMCP__ALG_COUNT) {
        return "unknown";
    }
    return k_alg[alg].name;
}

static void jose_init_once(void)
{
    for (int i = 0; i < MD_COUNT; i++) {
        k_md[i] = EVP_MD_fetch(NULL, k_md_name[i], NULL);
        if (k_md[i] == NULL) {
            return; /* status stays DMCP_E_INTERNAL; never freed (process lifetime) */
        }
    }
    k_init_status = DMCP_OK;
}

dmcp_status dmcp__jose_init(void)
{
    if (pthread_once(&k_once, jose_init_once) != 0) {
        return DMCP_E_INTERNAL;
    }
    return k_init_status;
}

/* Initialises ctx to verify with key for alg (the per-call work a bare caller does). */
static bool verify_init(EVP_MD_CTX *ctx, EVP_PKEY *pkey, dmcp__alg alg)
{
    const alg_desc *d = &k_alg[alg];
    EVP_PKEY_CTX *pctx = NULL;
    const EVP_MD *md = d->md < 0 ? NULL : k_md[d->md];
    if (EVP_DigestVerifyInit_ex(ctx, &pctx, md == NULL ? NULL : EVP_MD_get0_name(md), NULL,
                                NULL, pkey, NULL) != 1) {
        return false;
    }
    if (d->pss) {
        /* RFC 7518 §3.5: MGF1 with the same hash; salt length equal to the hash length. */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1) {
            return false;
        }
    } else if (d->kty == DMCP__KTY_RSA) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
            return false;
        }
    }
    return true;
}

dmcp_status dmcp__sig_prepare(dmcp__jwk *key)
{
    dmcp_status st = dmcp__jose_init();
    if (st != DMCP_OK) {
        return st;
    }
    struct dmcp__sig_cache *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return DMCP_E_NOMEM;
    }
    for (int a = 1; a < DMCP__ALG_COUNT; a++) {
        if ((key->alg_mask & DMCP__ALG_BIT(a)) == 0 || k_alg[a].md < 0) {
            continue;
        }
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (ctx == NULL) {
            dmcp__sig_cache_free(c);
            return DMCP_E_NOMEM;
        }
        if (!verify_init(ctx, key->pkey, (dmcp__alg)a)) {
            /* The key cannot be used for this algorithm at all. */
            EVP_MD_CTX_free(ctx);
            dmcp__sig_cache_free(c);
            ERR_clear_error();
            return DMCP_E_INVALID_ARG;
        }
        c->tmpl[a] = ctx;
    }
    key->verify_cache = c;
    return DMCP_OK;
}

void dmcp__sig_cache_free(void *cache)
{
    struct dmcp__sig_cache *c = cache;
    if (c == NULL) {
        return;
    }
    for (int a = 0; a < DMCP__ALG_COUNT; a++) {
        EVP_MD_CTX_free(c->tmpl[a]);
    }
    free(c);
}

/*
 * JOSE ECDSA signature (r || s, each exactly `f` bytes, RFC 7518 §3.4) to DER for OpenSSL.
 * A DER signature, or any other length, is refused by the length check before this point.
 * r = 0 or s = 0 is refused here (never valid, SEC 1 §4.1.4 step 1); r, s >= n are left to
 * OpenSSL's verify, which rejects them.
 */
static int ecdsa_to_der(const unsigned char *sig, size_t f, unsigned char *der, size_t der_cap)
{
    int len = -1;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)f, NULL);
    BIGNUM *s = BN_bin2bn(sig + f, (int)f, NULL);
    if (es == NULL || r == NULL || s == NULL || BN_is_zero(r) || BN_is_zero(s)) {
        goto out;
    }
    if (ECDSA_SIG_set0(es, r, s) != 1) {
        goto out;
    }
    r = NULL; /* owned by es now */
    s = NULL;
    if ((size_t)i2d_ECDSA_SIG(es, NULL) > der_cap) {
        goto out;
    }
    unsigned char *p = der;
    len = i2d_ECDSA_SIG(es, &p);
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return len;
}

/* The exact signature length for alg with this key (RFC 8017 §8.2.2 step 1, RFC 7518 §3.4,
 * RFC 8032 §5.1.7). */
static size_t expected_sig_len(const dmcp__jwk *key, dmcp__alg alg)
{
    const alg_desc *d = &k_alg[alg];
    switch (d->kty) {
    case DMCP__KTY_RSA:
        return (key->bits + 7u) / 8u;
    case DMCP__KTY_EC:
        return 2u * d->ec_field;
    case DMCP__KTY_OKP:
        return 64u;
    default:
        return 0;
    }
}

dmcp_status dmcp__sig_verify(const dmcp__jwk *key, dmcp__alg alg, const unsigned char *msg,
                             size_t msg_len, const unsigned char *sig, size_t sig_len)
{
    if (key == NULL || key->pkey == NULL || (int)alg <= 0 || (int)alg >= DMCP__ALG_COUNT ||
        (key->alg_mask & DMCP__ALG_BIT(alg)) == 0 || k_alg[alg].kty != key->kty) {
        return DMCP_E_INVALID_TOKEN;
    }
    if ((msg == NULL && msg_len != 0) || sig == NULL || sig_len != expected_sig_len(key, alg)) {
        return DMCP_E_INVALID_TOKEN;
    }
    unsigned char der[2 * 66 + 16]; /* P-521: 2 x (66 + 1 + 2) + 3 < 148 */
    if (key->kty == DMCP__KTY_EC) {
        int n = ecdsa_to_der(sig, k_alg[alg].ec_field, der, sizeof(der));
        if (n <= 0) {
            ERR_clear_error();
            return DMCP_E_INVALID_TOKEN;
        }
        sig = der;
        sig_len = (size_t)n;
    }
    const struct dmcp__sig_cache *c = key->verify_cache;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return DMCP_E_NOMEM;
    }
    bool ready;
    if (c != NULL && c->tmpl[alg] != NULL) {
        ready = EVP_MD_CTX_copy_ex(ctx, c->tmpl[alg]) == 1;
    } else {
        ready = dmcp__jose_init() == DMCP_OK && verify_init(ctx, key->pkey, alg);
    }
    int rc = ready ? EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) : -1;
    EVP_MD_CTX_free(ctx);
    if (rc != 1) {
        /* A failed verify leaves entries on this thread's error queue; drop them. */
        ERR_clear_error();
        return DMCP_E_INVALID_TOKEN;
    }
    return DMCP_OK;
}
