/* JWT minting helper for tests, benchmarks and demos. See mint.h. */
#include "mint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

struct dmcp_mint_key {
    EVP_PKEY *pkey;
};

typedef enum { K_RSA, K_PSS, K_EC, K_ED } kind;

typedef struct {
    const char *name;
    kind k;
    const char *md;    /* digest name, NULL for EdDSA */
    int field_bytes;   /* ECDSA r / s length */
    const char *group; /* EC curve */
} alg_info;

static const alg_info k_algs[] = {
    {"RS256", K_RSA, "SHA256", 0, NULL},      {"RS384", K_RSA, "SHA384", 0, NULL},
    {"RS512", K_RSA, "SHA512", 0, NULL},      {"PS256", K_PSS, "SHA256", 0, NULL},
    {"PS384", K_PSS, "SHA384", 0, NULL},      {"PS512", K_PSS, "SHA512", 0, NULL},
    {"ES256", K_EC, "SHA256", 32, "P-256"},   {"ES384", K_EC, "SHA384", 48, "P-384"},
    {"ES512", K_EC, "SHA512", 66, "P-521"},   {"EdDSA", K_ED, NULL, 0, NULL},
};

static const alg_info *find_alg(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(k_algs) / sizeof(k_algs[0]); i++) {
        if (strcmp(k_algs[i].name, name) == 0) {
            return &k_algs[i];
        }
    }
    return NULL;
}

dmcp_mint_key *dmcp_mint_key_from_pkey(EVP_PKEY *pkey)
{
    if (pkey == NULL) {
        return NULL;
    }
    dmcp_mint_key *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    k->pkey = pkey;
    return k;
}

dmcp_mint_key *dmcp_mint_key_new_rsa(int bits)
{
    EVP_PKEY *p = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) <= 0 || EVP_PKEY_generate(ctx, &p) <= 0) {
        p = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return dmcp_mint_key_from_pkey(p);
}

dmcp_mint_key *dmcp_mint_key_new(const char *alg)
{
    const alg_info *a = find_alg(alg);
    if (a == NULL) {
        return NULL;
    }
    switch (a->k) {
    case K_RSA:
    case K_PSS:
        return dmcp_mint_key_new_rsa(2048);
    case K_EC:
        return dmcp_mint_key_from_pkey(EVP_PKEY_Q_keygen(NULL, NULL, "EC", a->group));
    case K_ED:
        return dmcp_mint_key_from_pkey(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
    default:
        return NULL;
    }
}

void dmcp_mint_key_free(dmcp_mint_key *key)
{
    if (key == NULL) {
        return;
    }
    EVP_PKEY_free(key->pkey);
    free(key);
}

EVP_PKEY *dmcp_mint_key_pkey(const dmcp_mint_key *key)
{
    return key == NULL ? NULL : key->pkey;
}

char *dmcp_mint_b64url(const void *data, size_t len)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *in = data;
    char *out = malloc(len / 3 * 4 + 5);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

static int set_b64(json_t *obj, const char *name, const unsigned char *data, size_t len)
{
    char *s = dmcp_mint_b64url(data, len);
    int rc = s == NULL ? -1 : json_object_set_new(obj, name, json_string(s));
    free(s);
    return rc;
}

static int set_bn(json_t *obj, const char *name, const EVP_PKEY *pkey, const char *param)
{
    BIGNUM *bn = NULL;
    int rc = -1;
    if (EVP_PKEY_get_bn_param(pkey, param, &bn) == 1) {
        int n = BN_num_bytes(bn);
        unsigned char *buf = malloc((size_t)n + 1);
        if (buf != NULL && BN_bn2bin(bn, buf) == n) {
            rc = set_b64(obj, name, buf, (size_t)n);
        }
        free(buf);
    }
    BN_free(bn);
    return rc;
}

char *dmcp_mint_key_jwk(const dmcp_mint_key *key, const char *kid, const char *alg)
{
    if (key == NULL) {
        return NULL;
    }
    char *out = NULL;
    json_t *o = json_object();
    int rc = -1;
    if (o == NULL) {
        return NULL;
    }
    if (EVP_PKEY_is_a(key->pkey, "RSA")) {
        json_object_set_new(o, "kty", json_string("RSA"));
        rc = set_bn(o, "n", key->pkey, OSSL_PKEY_PARAM_RSA_N);
        if (rc == 0) {
            rc = set_bn(o, "e", key->pkey, OSSL_PKEY_PARAM_RSA_E);
        }
    } else if (EVP_PKEY_is_a(key->pkey, "EC")) {
        char group[32];
        unsigned char pt[1 + 2 * 66];
        size_t ptlen = 0;
        const char *crv = NULL;
        if (EVP_PKEY_get_utf8_string_param(key->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                           sizeof(group), NULL) == 1) {
            crv = strcmp(group, "prime256v1") == 0 ? "P-256"
                  : strcmp(group, "secp384r1") == 0 ? "P-384"
                  : strcmp(group, "secp521r1") == 0 ? "P-521"
                                                    : NULL;
        }
        /* The encoded public key of a generated key is the uncompressed point 04||x||y. */
        if (crv != NULL &&
            EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                            sizeof(pt), &ptlen) == 1 &&
            ptlen % 2 == 1 && pt[0] == 4) {
            size_t f = (ptlen - 1) / 2;
            json_object_set_new(o, "kty", json_string("EC"));
            json_object_set_new(o, "crv", json_string(crv));
            rc = set_b64(o, "x", pt + 1, f);
            if (rc == 0) {
                rc = set_b64(o, "y", pt + 1 + f, f);
            }
        }
    } else if (EVP_PKEY_is_a(key->pkey, "ED25519")) {
        unsigned char pub[32];
        size_t publen = sizeof(pub);
        if (EVP_PKEY_get_raw_public_key(key->pkey, pub, &publen) == 1 && publen == 32) {
            json_object_set_new(o, "kty", json_string("OKP"));
            json_object_set_new(o, "crv", json_string("Ed25519"));
            rc = set_b64(o, "x", pub, publen);
        }
    }
    if (rc == 0) {
        json_object_set_new(o, "use", json_string("sig"));
        if (kid != NULL) {
            json_object_set_new(o, "kid", json_string(kid));
        }
        if (alg != NULL) {
            json_object_set_new(o, "alg", json_string(alg));
        }
        out = json_dumps(o, JSON_COMPACT);
    }
    json_decref(o);
    return out;
}

char *dmcp_mint_jwks(const char *const *jwks, size_t n)
{
    json_t *doc = json_object();
    json_t *arr = json_array();
    char *out = NULL;
    int ok = doc != NULL && arr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *k = json_loads(jwks[i], 0, NULL);
        ok = k != NULL && json_array_append_new(arr, k) == 0;
    }
    if (ok && json_object_set(doc, "keys", arr) == 0) {
        out = json_dumps(doc, JSON_COMPACT);
    }
    json_decref(arr);
    json_decref(doc);
    return out;
}

/* DER ECDSA-Sig-Value to r||s, each left-padded to f bytes (RFC 7518 §3.4). */
static unsigned char *der_to_jose(const unsigned char *der, size_t der_len, int f, size_t *len)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    unsigned char *out = NULL;
    if (es != NULL) {
        const BIGNUM *r = NULL;
        const BIGNUM *s = NULL;
        ECDSA_SIG_get0(es, &r, &s);
        out = malloc((size_t)f * 2);
        if (out != NULL && (BN_bn2binpad(r, out, f) != f || BN_bn2binpad(s, out + f, f) != f)) {
            free(out);
            out = NULL;
        }
        *len = (size_t)f * 2;
    }
    ECDSA_SIG_free(es);
    return out;
}

unsigned char *dmcp_mint_sign_raw(const dmcp_mint_key *key, const char *alg, const void *msg,
                                  size_t msg_len, dmcp_mint_sigfmt fmt, size_t *sig_len)
{
    const alg_info *a = find_alg(alg);
    if (key == NULL || a == NULL || sig_len == NULL) {
        return NULL;
    }
    int fits = (a->k == K_RSA || a->k == K_PSS) ? EVP_PKEY_is_a(key->pkey, "RSA")
               : a->k == K_EC                   ? EVP_PKEY_is_a(key->pkey, "EC")
                                                : EVP_PKEY_is_a(key->pkey, "ED25519");
    if (!fits) {
        return NULL;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL;
    size_t len = 0;
    if (ctx == NULL || EVP_DigestSignInit_ex(ctx, &pctx, a->md, NULL, NULL, key->pkey, NULL) != 1) {
        goto out;
    }
    if (a->k == K_PSS) {
        /* RFC 7518 §3.5: MGF1 with the same hash, salt length = hash length. */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
            goto out;
        }
    }
    if (EVP_DigestSign(ctx, NULL, &len, msg, msg_len) != 1) {
        goto out;
    }
    sig = malloc(len);
    if (sig == NULL || EVP_DigestSign(ctx, sig, &len, msg, msg_len) != 1) {
        free(sig);
        sig = NULL;
        goto out;
    }
    if (a->k == K_EC && fmt == DMCP_MINT_SIG_JOSE) {
        unsigned char *raw = der_to_jose(sig, len, a->field_bytes, &len);
        free(sig);
        sig = raw;
    }
    *sig_len = len;
out:
    EVP_MD_CTX_free(ctx);
    return sig;
}

char *dmcp_mint_sign(const dmcp_mint_key *key, const char *alg, const char *header_json,
                     const char *payload_json)
{
    if (header_json == NULL || payload_json == NULL) {
        return NULL;
    }
    char *h = dmcp_mint_b64url(header_json, strlen(header_json));
    char *p = dmcp_mint_b64url(payload_json, strlen(payload_json));
    char *si = NULL;
    char *s = NULL;
    char *tok = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    if (h == NULL || p == NULL) {
        goto out;
    }
    size_t si_len = strlen(h) + 1 + strlen(p);
    si = malloc(si_len + 1);
    if (si == NULL) {
        goto out;
    }
    snprintf(si, si_len + 1, "%s.%s", h, p);
    sig = dmcp_mint_sign_raw(key, alg, si, si_len, DMCP_MINT_SIG_JOSE, &sig_len);
    if (sig == NULL) {
        goto out;
    }
    s = dmcp_mint_b64url(sig, sig_len);
    if (s == NULL) {
        goto out;
    }
    size_t tok_len = si_len + 1 + strlen(s);
    tok = malloc(tok_len + 1);
    if (tok != NULL) {
        snprintf(tok, tok_len + 1, "%s.%s", si, s);
    }
out:
    free(h);
    free(p);
    free(si);
    free(s);
    free(sig);
    return tok;
}

char *dmcp_mint_sign_simple(const dmcp_mint_key *key, const char *alg, const char *kid,
                            const char *payload_json)
{
    json_t *h = json_object();
    char *hs = NULL;
    char *tok = NULL;
    if (h == NULL) {
        return NULL;
    }
    json_object_set_new(h, "alg", json_string(alg));
    json_object_set_new(h, "typ", json_string("JWT"));
    if (kid != NULL) {
        json_object_set_new(h, "kid", json_string(kid));
    }
    hs = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    if (hs != NULL) {
        tok = dmcp_mint_sign(key, alg, hs, payload_json);
    }
    free(hs);
    return tok;
}
