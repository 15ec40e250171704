/*
 * JWT minting helper for tests, benchmarks and demos (NOT part of the library).
 * Plain OpenSSL 3 + jansson. Generates keys, exports public JWKs / JWKS documents and signs
 * compact JWS tokens for the ten algorithms the validator understands.
 *
 * Header and payload are passed as raw JSON text and are base64url-encoded byte for byte, so
 * tests can craft broken headers. To craft broken signatures, use dmcp_mint_sign_raw() (the
 * JOSE signature bytes, or DER ECDSA when asked) and assemble segments with dmcp_mint_b64url().
 *
 * Ownership: every char * / unsigned char * returned is malloc'd; release with free().
 * Thread-safety: functions are safe to call concurrently on distinct keys.
 */
#ifndef DMCP_MINT_H
#define DMCP_MINT_H

#include <stddef.h>

#include <openssl/evp.h>

typedef struct dmcp_mint_key dmcp_mint_key;

/*
 * A new key fitting `alg`: RS* / PS* give RSA 2048 (e = 65537), ES256/384/512 give P-256/384/521,
 * "EdDSA" gives Ed25519. NULL for any other name.
 */
dmcp_mint_key *dmcp_mint_key_new(const char *alg);

/* As dmcp_mint_key_new() for RSA with a chosen modulus size (e.g. 1024 to test rejection). */
dmcp_mint_key *dmcp_mint_key_new_rsa(int bits);

/* Takes an existing private key (ownership passes to the mint key). */
dmcp_mint_key *dmcp_mint_key_from_pkey(EVP_PKEY *pkey);

void dmcp_mint_key_free(dmcp_mint_key *key);

/* The underlying private key (borrowed). */
EVP_PKEY *dmcp_mint_key_pkey(const dmcp_mint_key *key);

/*
 * The public JWK as JSON text: {"kty":..., "kid":kid (when non-NULL), "use":"sig",
 * "alg":alg (when alg non-NULL), members...}. Never contains private members.
 */
char *dmcp_mint_key_jwk(const dmcp_mint_key *key, const char *kid, const char *alg);

/* {"keys":[jwk, ...]} from n JWK JSON texts (each as returned by dmcp_mint_key_jwk()). */
char *dmcp_mint_jwks(const char *const *jwks, size_t n);

/* base64url (no padding) of bytes. */
char *dmcp_mint_b64url(const void *data, size_t len);

/* Signature encodings for dmcp_mint_sign_raw(). */
typedef enum dmcp_mint_sigfmt {
    DMCP_MINT_SIG_JOSE = 0, /* what a JWS carries: ECDSA as r||s of fixed length */
    DMCP_MINT_SIG_DER = 1   /* ECDSA as ASN.1 DER (invalid in a JWS); same as JOSE otherwise */
} dmcp_mint_sigfmt;

/*
 * Signs msg with key for alg (RS256..512, PS256..512 with salt = hash length, ES256..512,
 * EdDSA). The alg must fit the key type. Returns the signature bytes and *sig_len, or NULL.
 */
unsigned char *dmcp_mint_sign_raw(const dmcp_mint_key *key, const char *alg,
                                  const void *msg, size_t msg_len, dmcp_mint_sigfmt fmt,
                                  size_t *sig_len);

/*
 * A compact JWS: b64url(header_json) "." b64url(payload_json) "." b64url(sig), signing with
 * `alg` (which need not match the header's alg: tests use that). NULL on error.
 */
char *dmcp_mint_sign(const dmcp_mint_key *key, const char *alg, const char *header_json,
                     const char *payload_json);

/* Convenience: header {"alg":alg,"typ":"JWT","kid":kid} (kid omitted when NULL). */
char *dmcp_mint_sign_simple(const dmcp_mint_key *key, const char *alg, const char *kid,
                            const char *payload_json);

#endif /* DMCP_MINT_H */
