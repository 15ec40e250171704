/*
 * JOSE building blocks for the validator (internal): strict base64url, compact JWS splitting,
 * JWK / JWKS import into OpenSSL, and signature verification through EVP.
 * Knows nothing of claims, issuers or caching.
 */
#ifndef DMCP_JOSE_H
#define DMCP_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "internal.h"

/* ---- algorithms ---- */

/* The JWS algorithms we understand. "none" and HS* are deliberately absent: they can never be
 * represented, so they can never be enabled (RFC 8725 §3.1). */
typedef enum dmcp__alg {
    DMCP__ALG_UNKNOWN = 0,
    DMCP__ALG_RS256,
    DMCP__ALG_RS384,
    DMCP__ALG_RS512,
    DMCP__ALG_PS256,
    DMCP__ALG_PS384,
    DMCP__ALG_PS512,
    DMCP__ALG_ES256,
    DMCP__ALG_ES384,
    DMCP__ALG_ES512,
    DMCP__ALG_EDDSA,
    DMCP__ALG_COUNT
} dmcp__alg;

#define DMCP__ALG_BIT(a) (1u << (unsigned)(a))
#define DMCP__ALG_ALL_MASK (((1u << (unsigned)DMCP__ALG_COUNT) - 1u) & ~1u)

/* Exact, case-sensitive match of a JWS "alg" value; anything else is DMCP__ALG_UNKNOWN. */
dmcp__alg dmcp__alg_from_name(const char *name, size_t len);
const char *dmcp__alg_name(dmcp__alg alg);

/* Fetches the SHA-2 EVP_MDs once (OpenSSL 3 fetch paths contend on locks). Idempotent. */
dmcp_status dmcp__jose_init(void);

/* ---- strict base64url (RFC 7515 §2, RFC 4648 §5) ---- */

/* Upper bound of the decoded size of `len` base64url characters. */
#define DMCP__B64URL_DECODED_MAX(len) ((len) / 4 * 3 + 3)

/*
 * Decodes strictly: alphabet A-Z a-z 0-9 - _ only; no padding, whitespace, '+' or '/';
 * a length of 1 mod 4 is invalid; unused trailing bits must be zero (canonical form).
 * `out` must hold DMCP__B64URL_DECODED_MAX(len) bytes. Returns DMCP_OK or
 * DMCP_E_MALFORMED_REQUEST.
 */
dmcp_status dmcp__b64url_decode(const char *in, size_t len, unsigned char *out, size_t *out_len);

/* Encodes without padding; `out` must hold (len * 4 + 2) / 3 + 1 bytes; NUL-terminates.
 * Returns the encoded length. */
size_t dmcp__b64url_encode(const unsigned char *in, size_t len, char *out);

/* ---- compact JWS ---- */

/*
 * A compact JWS split into its parts (RFC 7515 §7.1). Exactly three segments, none of the
 * first two empty; all three strictly base64url. Decoded header and payload are raw bytes
 * (JSON is parsed by the caller); everything lives in one allocation owned by the struct.
 */
typedef struct dmcp__jws_parts {
    const char *signing_input; /* points into the caller's token: "<h>.<p>" */
    size_t signing_input_len;
    unsigned char *header;     /* decoded header JSON (not NUL-terminated) */
    size_t header_len;
    unsigned char *payload;    /* decoded payload */
    size_t payload_len;
    unsigned char *sig;        /* decoded signature */
    size_t sig_len;
    void *mem;                 /* the single allocation behind header/payload/sig */
} dmcp__jws_parts;

/* Ownership: on DMCP_OK release with dmcp__jws_parts_clear(). Failures set
 * DMCP_E_INVALID_TOKEN with reason MALFORMED. The token must outlive `out`. */
dmcp_status dmcp__jws_split(const char *token, size_t len, dmcp__jws_parts *out,
                            dmcp_error *err);
void dmcp__jws_parts_clear(dmcp__jws_parts *p);

/* ---- keys ---- */

typedef enum dmcp__kty { DMCP__KTY_RSA = 1, DMCP__KTY_EC = 2, DMCP__KTY_OKP = 3 } dmcp__kty;

typedef struct dmcp__jwk {
    EVP_PKEY *pkey;       /* imported public key */
    char *kid;            /* NULL when absent; NUL-terminated copy */
    size_t kid_len;       /* bytes of kid (a JSON string may hold U+0000) */
    dmcp__alg alg;        /* the JWK's "alg", or DMCP__ALG_UNKNOWN when absent */
    dmcp__kty kty;
    unsigned bits;        /* RSA modulus bits, EC field bits, 256 for Ed25519 */
    uint32_t alg_mask;    /* DMCP__ALG_BIT()s this key may verify: its alg if present,
                             else every alg of its key type (and curve) */
    void *verify_cache;   /* private to the verifier (pre-initialised contexts) */
} dmcp__jwk;

typedef struct dmcp__jwks {
    dmcp__jwk *keys;
    size_t n;
} dmcp__jwks;

/*
 * Imports one public JWK (RFC 7517/7518/8037): RSA (n, e; modulus >= 2048 bits; e odd, > 1),
 * EC (P-256/384/521, x, y of exact length, point on the curve), OKP Ed25519 (x, 32 bytes).
 * Rejects private members (d, p, q, ...), "use" other than "sig", key_ops without "verify",
 * symmetric keys ("oct") and anything not understood. Returns DMCP_OK,
 * DMCP_E_INVALID_ARG (unusable key) or DMCP_E_NOMEM.
 */
dmcp_status dmcp__jwk_import(const json_t *jwk, dmcp__jwk *out, dmcp_error *err);
void dmcp__jwk_clear(dmcp__jwk *k);

/*
 * Parses a JWKS document {"keys":[...]} (at most DMCP_MAX_JWKS_BYTES, duplicates rejected),
 * importing every usable key and skipping the rest (*skipped counts them, may be NULL).
 * A document that is not a JWKS is DMCP_E_INVALID_ARG; a JWKS with no usable key is DMCP_OK
 * with n == 0. Ownership: *out new, release with dmcp__jwks_free().
 */
dmcp_status dmcp__jwks_parse(const char *json, size_t len, dmcp__jwks **out, size_t *skipped,
                             dmcp_error *err);
void dmcp__jwks_free(dmcp__jwks *ks);

/*
 * Key selection (wire protocol §3): with a kid, the key with that kid whose alg_mask contains
 * alg; without a kid, the one key whose alg_mask contains alg (none or several: NULL).
 * Returns NULL with *why = UNKNOWN_KEY or ALGORITHM.
 */
const dmcp__jwk *dmcp__jwks_select(const dmcp__jwks *ks, const char *kid, size_t kid_len,
                                   dmcp__alg alg, dmcp_reason *why);

/* ---- signatures ---- */

/*
 * Verifies sig over msg with key for alg: RS* PKCS#1 v1.5, PS* (MGF1 with the same hash,
 * salt = hash length), ES* (raw r||s of exactly 2 * field bytes, converted to DER), EdDSA
 * (Ed25519). The key's alg_mask must contain alg. Returns DMCP_OK or DMCP_E_INVALID_TOKEN
 * (reason SIGNATURE or ALGORITHM). Thread-safety: safe; the key is only read.
 */
dmcp_status dmcp__sig_verify(const dmcp__jwk *key, dmcp__alg alg, const unsigned char *msg,
                             size_t msg_len, const unsigned char *sig, size_t sig_len);

#endif /* DMCP_JOSE_H */
