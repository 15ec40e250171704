/* Seam between JWK import and the verifier (internal to src/auth/jwk.c and sig.c). */
#ifndef DMCP_SIG_INTERNAL_H
#define DMCP_SIG_INTERNAL_H

#include "jose.h"

/* Builds key->verify_cache for every algorithm in key->alg_mask. DMCP_E_INVALID_ARG when the
 * key cannot be used for one of them. Needs key->pkey, kty and alg_mask set. */
dmcp_status dmcp__sig_prepare(dmcp__jwk *key);
void dmcp__sig_cache_free(void *cache);

#endif
