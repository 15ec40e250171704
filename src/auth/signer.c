/*
 * A signing key of our own (dmcp/signer.h): ES256 (P-256) or RS256 (RSA >= 2048) through
 * OpenSSL 3 EVP, its RFC 7638 thumbprint as kid, and its public JWKS. The verifying side is the
 * validator (sig.c, jwk.c); nothing here parses attacker input but the PEM a deployer gives.
 */
#include "jose.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dmcp/signer.h"

#define EC_FIELD 32u /* P-256: bytes of x, of y, of r and of s */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

struct dmcp_signer {
    EVP_PKEY *key;
    dmcp__alg alg;
    char kid[64];
    char *jwk; /* the public JWK (compact JSON object), members in RFC 7638 order + kid/alg/use */
};

static char *b64(const unsigned char *in, size_t len)
{
    char *out = malloc((len * 4 + 2) / 3 + 1);
    if (out != NULL) {
        dmcp__b64url_encode(in, len, out);
    }
    return out;
}

/* A big-endian unsigned parameter, left-padded to pad bytes (0: minimal, RFC 7518 §6.3.1). */
static char *bn_param(const EVP_PKEY *key, const char *name, size_t pad)
{
    BIGNUM *bn = NULL;
    char *out = NULL;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
        return NULL;
    }
    size_t n = pad != 0 ? pad : (size_t)BN_num_bytes(bn);
    unsigned char *buf = malloc(n > 0 ? n : 1);
    if (buf != NULL && BN_bn2binpad(bn, buf, (int)n) == (int)n) {
        out = b64(buf, n);
    }
    free(buf);
    BN_free(bn);
    return out;
}

/* The public JWK members and the thumbprint (RFC 7638 §3.2: required members only, sorted,
 * no whitespace, hashed with SHA-256). */
static dmcp_status describe(dmcp_signer *s)
{
    char *a = NULL, *b = NULL, canon[2400], jwk[2600];
    int n = -1;
    if (s->alg == DMCP__ALG_ES256) {
        a = bn_param(s->key, OSSL_PKEY_PARAM_EC_PUB_X, EC_FIELD);
        b = bn_param(s->key, OSSL_PKEY_PARAM_EC_PUB_Y, EC_FIELD);
        if (a != NULL && b != NULL) {
            n = snprintf(canon, sizeof(canon), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                         a, b);
        }
    } else {
        a = bn_param(s->key, OSSL_PKEY_PARAM_RSA_N, 0);
        b = bn_param(s->key, OSSL_PKEY_PARAM_RSA_E, 0);
        if (a != NULL && b != NULL) {
            n = snprintf(canon, sizeof(canon), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", b, a);
        }
    }
    free(a);
    free(b);
    if (n < 0 || (size_t)n >= sizeof(canon)) {
        return DMCP_E_NOMEM;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(canon, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        return DMCP_E_INTERNAL;
    }
    dmcp__b64url_encode(md, mdlen, s->kid);
    /* The published JWK: the canonical members, then kid, alg and use. */
    int m = snprintf(jwk, sizeof(jwk), "%.*s,\"kid\":\"%s\",\"alg\":\"%s\",\"use\":\"sig\"}",
                     n - 1, canon, s->kid, dmcp__alg_name(s->alg));
    if (m < 0 || (size_t)m >= sizeof(jwk) || (s->jwk = dmcp__strdup(jwk)) == NULL) {
        return DMCP_E_NOMEM;
    }
    return DMCP_OK;
}

static dmcp_status finish(EVP_PKEY *key, dmcp_signer **out, dmcp_error *err)
{
    dmcp_signer *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        EVP_PKEY_free(key);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    s->key = key;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        char group[64] = "";
        size_t glen = 0;
        if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           &glen) != 1 ||
            (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
            dmcp_signer_free(s);
            return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                              "signing key: EC keys must be on P-256 (ES256), this one is on %s",
                              group[0] != '\0' ? group : "an unknown curve");
        }
        s->alg = DMCP__ALG_ES256;
    } else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(key);
        if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
            dmcp_signer_free(s);
            return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                              "signing key: RSA keys must have 2048 to 8192 bits, this one has %d",
                              bits);
        }
        s->alg = DMCP__ALG_RS256;
    } else {
        dmcp_signer_free(s);
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                          "signing key: only EC P-256 (ES256) and RSA (RS256) keys are supported");
    }
    dmcp_status st = describe(s);
    if (st != DMCP_OK) {
        dmcp_signer_free(s);
        return dmcp__fail(err, st, DMCP_REASON_NONE, "signing key: cannot describe the public key");
    }
    *out = s;
    return DMCP_OK;
}

/* Refuses to prompt for a passphrase: an encrypted PEM fails instead of blocking on a tty. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

dmcp_status dmcp_signer_new(const char *pem, dmcp_signer **out, dmcp_error *err)
{
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "out is NULL");
    }
    *out = NULL;
    dmcp_status st = dmcp__ensure_init();
    if (st != DMCP_OK) {
        return dmcp__fail(err, st, DMCP_REASON_NONE, "library initialisation failed");
    }
    EVP_PKEY *key = NULL;
    if (pem == NULL) {
        key = EVP_EC_gen("P-256");
        if (key == NULL) {
            return dmcp__fail(err, DMCP_E_INTERNAL, DMCP_REASON_NONE,
                              "signing key: P-256 key generation failed");
        }
        return finish(key, out, err);
    }
    size_t len = strnlen(pem, DMCP_MAX_SIGNER_PEM_BYTES + 1);
    if (len > DMCP_MAX_SIGNER_PEM_BYTES) {
        return dmcp__fail(err, DMCP_E_TOO_LARGE, DMCP_REASON_NONE,
                          "signing key: the PEM is larger than %d bytes", DMCP_MAX_SIGNER_PEM_BYTES);
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (key == NULL) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                          "signing key: not an unencrypted PEM private key");
    }
    return finish(key, out, err);
}

dmcp_status dmcp_signer_new_file(const char *path, dmcp_signer **out, dmcp_error *err)
{
    if (path == NULL || out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "path or out is NULL");
    }
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return dmcp__fail(err, DMCP_E_IO, DMCP_REASON_NONE, "signing key: cannot open %s: %s",
                          path, strerror(errno));
    }
    char *buf = malloc(DMCP_MAX_SIGNER_PEM_BYTES + 2);
    size_t n = buf != NULL ? fread(buf, 1, DMCP_MAX_SIGNER_PEM_BYTES + 1, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (buf == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    dmcp_status st;
    if (bad) {
        st = dmcp__fail(err, DMCP_E_IO, DMCP_REASON_NONE, "signing key: cannot read %s", path);
    } else if (n > DMCP_MAX_SIGNER_PEM_BYTES) {
        st = dmcp__fail(err, DMCP_E_TOO_LARGE, DMCP_REASON_NONE,
                        "signing key: %s is larger than %d bytes", path, DMCP_MAX_SIGNER_PEM_BYTES);
    } else if (memchr(buf, '\0', n) != NULL) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "signing key: %s is not a PEM file", path);
    } else {
        buf[n] = '\0';
        st = dmcp_signer_new(buf, out, err);
    }
    dmcp__free_secret(buf, DMCP_MAX_SIGNER_PEM_BYTES + 2);
    return st;
}

void dmcp_signer_free(dmcp_signer *s)
{
    if (s == NULL) {
        return;
    }
    EVP_PKEY_free(s->key);
    free(s->jwk);
    free(s);
}

const char *dmcp_signer_alg(const dmcp_signer *s)
{
    return s != NULL ? dmcp__alg_name(s->alg) : NULL;
}

const char *dmcp_signer_kid(const dmcp_signer *s)
{
    return s != NULL ? s->kid : NULL;
}

char *dmcp_signer_jwks_json(const dmcp_signer *s)
{
    if (s == NULL) {
        return NULL;
    }
    size_t len = strlen(s->jwk) + 16;
    char *out = malloc(len);
    if (out != NULL) {
        snprintf(out, len, "{\"keys\":[%s]}", s->jwk);
    }
    return out;
}

/* DER ECDSA-Sig-Value -> the JWS form, r || s, each left-padded to the field (RFC 7518 §3.4). */
static bool der_to_raw(const unsigned char *der, size_t len, unsigned char raw[2 * EC_FIELD])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    bool ok = false;
    if (sig != NULL) {
        const BIGNUM *r = ECDSA_SIG_get0_r(sig), *sv = ECDSA_SIG_get0_s(sig);
        ok = BN_bn2binpad(r, raw, EC_FIELD) == EC_FIELD &&
             BN_bn2binpad(sv, raw + EC_FIELD, EC_FIELD) == EC_FIELD;
        ECDSA_SIG_free(sig);
    }
    return ok;
}

dmcp_status dmcp_signer_sign(const dmcp_signer *s, const json_t *claims, const char *typ,
                             char **out_jwt)
{
    if (out_jwt == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out_jwt = NULL;
    if (s == NULL || !json_is_object(claims)) {
        return DMCP_E_INVALID_ARG;
    }
    if (typ != NULL && (strlen(typ) > 64 || strpbrk(typ, "\"\\") != NULL)) {
        return DMCP_E_INVALID_ARG;
    }
    char hdr[256];
    int hn = typ != NULL ? snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"%s\",\"kid\":\"%s\"}",
                                    dmcp__alg_name(s->alg), typ, s->kid)
                         : snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
                                    dmcp__alg_name(s->alg), s->kid);
    if (hn < 0 || (size_t)hn >= sizeof(hdr)) {
        return DMCP_E_INTERNAL;
    }
    char *body = json_dumps(claims, JSON_COMPACT);
    if (body == NULL) {
        return DMCP_E_NOMEM;
    }
    size_t bn = strlen(body);
    if (bn > DMCP_MAX_SIGNER_CLAIMS_BYTES) {
        free(body);
        return DMCP_E_TOO_LARGE;
    }
    size_t hb = ((size_t)hn * 4 + 2) / 3, pb = (bn * 4 + 2) / 3;
    /* header . payload . signature (RSA 8192: 1024 bytes -> 1366 characters) */
    size_t cap = hb + 1 + pb + 1 + 1400 + 1;
    char *jwt = malloc(cap);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[1024 + 16];
    size_t siglen = sizeof(sig);
    dmcp_status st = DMCP_E_INTERNAL;
    if (jwt == NULL || ctx == NULL) {
        st = DMCP_E_NOMEM;
        goto out;
    }
    size_t off = dmcp__b64url_encode((const unsigned char *)hdr, (size_t)hn, jwt);
    jwt[off++] = '.';
    off += dmcp__b64url_encode((const unsigned char *)body, bn, jwt + off);
    if (EVP_PKEY_get_size(s->key) > (int)sizeof(sig) ||
        EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, s->key) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)jwt, off) != 1) {
        goto out;
    }
    jwt[off++] = '.';
    if (s->alg == DMCP__ALG_ES256) {
        unsigned char raw[2 * EC_FIELD];
        if (!der_to_raw(sig, siglen, raw)) {
            goto out;
        }
        off += dmcp__b64url_encode(raw, sizeof(raw), jwt + off);
    } else {
        off += dmcp__b64url_encode(sig, siglen, jwt + off);
    }
    *out_jwt = jwt;
    jwt = NULL;
    st = DMCP_OK;
out:
    EVP_MD_CTX_free(ctx);
    free(jwt);
    free(body);
    return st;
}
