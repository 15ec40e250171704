/*
 * JWKS parsing and import: no crash or leak on any document; every imported key is
 * self-consistent; selection and verification with garbage never succeed by accident.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dmcp__jwks *ks = NULL;
    size_t skipped = 0;
    if (dmcp__jwks_parse((const char *)data, size, &ks, &skipped, NULL) != DMCP_OK) {
        if (ks != NULL) {
            abort();
        }
        return 0;
    }
    static const unsigned char sig[512];
    for (size_t i = 0; i < ks->n; i++) {
        const dmcp__jwk *k = &ks->keys[i];
        if (k->pkey == NULL || k->alg_mask == 0 || (k->alg_mask & ~DMCP__ALG_ALL_MASK) != 0 ||
            k->verify_cache == NULL) {
            abort();
        }
        if (k->kty == DMCP__KTY_RSA && (k->bits < 2048 || k->bits > 8192)) {
            abort();
        }
        for (int a = 1; a < DMCP__ALG_COUNT; a++) {
            if ((k->alg_mask & DMCP__ALG_BIT(a)) == 0) {
                continue;
            }
            const dmcp__jwk *s = dmcp__jwks_select(ks, k->kid, k->kid_len, (dmcp__alg)a, NULL);
            (void)s;
            /* An all-zero signature of any length never verifies for RSA (s = 0) or ECDSA
             * (r = 0). Not asserted for Ed25519: a fuzzed small-order public key can make an
             * all-zero signature mathematically valid. */
            for (size_t len = 63; len <= 66 * 2 + 1; len++) {
                if (dmcp__sig_verify(k, (dmcp__alg)a, (const unsigned char *)"x", 1, sig, len) ==
                        DMCP_OK &&
                    k->kty != DMCP__KTY_OKP) {
                    abort();
                }
            }
            size_t rlen = (k->bits + 7) / 8;
            if (k->kty == DMCP__KTY_RSA && rlen <= sizeof(sig) &&
                dmcp__sig_verify(k, (dmcp__alg)a, (const unsigned char *)"x", 1, sig, rlen) ==
                    DMCP_OK) {
                abort();
            }
        }
    }
    dmcp__jwks_free(ks);
    return 0;
}
