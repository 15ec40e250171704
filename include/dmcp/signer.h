/*
 * dmcp/signer.h - sign short-lived JWTs with a key of your own and publish its public half as
 * a JWKS (RFC 7515, RFC 7517, RFC 7518, RFC 7638).
 *
 * The gateway uses it for its upstream assertion: the upstream verifies who is calling with
 * the JWKS, never seeing the caller's access token. Any service can use it the same way.
 *
 *   dmcp_signer *s;
 *   if (dmcp_signer_new(NULL, &s, &err) != DMCP_OK) { ... }   // a fresh P-256 key (ES256)
 *   json_t *claims = json_pack("{s:s,s:s,s:I}", "iss", me, "aud", them, "exp", now + 60);
 *   char *jwt;
 *   dmcp_signer_sign(s, claims, "JWT", &jwt);                  // "<header>.<payload>.<sig>"
 *   char *jwks = dmcp_signer_jwks_json(s);                     // serve at your JWKS URL
 *
 * Keys: EC P-256 (ES256) or RSA of 2048 to 8192 bits (RS256), as a PEM private key (PKCS#8 or
 * the traditional forms, unencrypted). The key id (kid) is the RFC 7638 thumbprint of the public
 * key, so every process loading the same PEM publishes and signs with the same kid.
 */
#ifndef DMCP_SIGNER_H
#define DMCP_SIGNER_H

#include <stddef.h>

#include <jansson.h>

#include "dmcp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bound of a PEM private key accepted by dmcp_signer_new (bytes). */
#define DMCP_MAX_SIGNER_PEM_BYTES (64 * 1024)
/* Upper bound of the claims a JWT may carry once serialized (bytes). */
#define DMCP_MAX_SIGNER_CLAIMS_BYTES (16 * 1024)

typedef struct dmcp_signer dmcp_signer;

/*
 * A signer from a PEM private key (NUL-terminated, at most DMCP_MAX_SIGNER_PEM_BYTES), or, with
 * pem NULL, from a fresh P-256 key generated with the system's CSPRNG (lost when the signer is
 * freed: a process restart publishes a new key). Other key types, RSA below 2048 bits, EC
 * curves other than P-256 and encrypted PEM are refused with DMCP_E_CONFIG.
 * Ownership: *out is new, release with dmcp_signer_free(). err may be NULL.
 * Thread-safety: may be called from any thread.
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_signer_new(const char *pem, dmcp_signer **out,
                                                      dmcp_error *err);

/* Reads the PEM from a file (at most DMCP_MAX_SIGNER_PEM_BYTES) and calls dmcp_signer_new.
 * DMCP_E_IO when the file cannot be read. The message never contains key material. */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_signer_new_file(const char *path, dmcp_signer **out,
                                                           dmcp_error *err);

/* NULL is a no-op. The private key is wiped by OpenSSL on free. */
DMCP_API void dmcp_signer_free(dmcp_signer *s);

/* "ES256" or "RS256". Borrowed; valid while s lives. Thread-safe. */
DMCP_API const char *dmcp_signer_alg(const dmcp_signer *s);
/* The key id (RFC 7638 SHA-256 thumbprint, base64url). Borrowed; valid while s lives. */
DMCP_API const char *dmcp_signer_kid(const dmcp_signer *s);

/*
 * Signs `claims` (a JSON object, at most DMCP_MAX_SIGNER_CLAIMS_BYTES serialized) into a
 * compact JWS with the protected header {"alg", "typ", "kid"}; typ NULL leaves typ out.
 * The claims are signed as given: set iss, aud, iat, exp (and jti) yourself.
 * Ownership: *out_jwt is a new string, release with free(). Thread-safety: one signer may sign
 * from many threads at once.
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_signer_sign(const dmcp_signer *s, const json_t *claims,
                                                       const char *typ, char **out_jwt);

/*
 * The public key as a JWK Set: {"keys":[{"kty","crv"/"n","x"/"e",("y"),"kid","alg","use":"sig"}]}.
 * Never contains private members. Ownership: a new string (compact JSON), release with free();
 * NULL when out of memory. Thread-safe.
 */
DMCP_API char *dmcp_signer_jwks_json(const dmcp_signer *s);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_SIGNER_H */
