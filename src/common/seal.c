/*
 * Integrity seals for state the server hands to a client and takes back (the 2026-07-28
 * requestState of input-required results). Lives in src/common because it needs OpenSSL's
 * HMAC, which the MCP runtime (src/mcp) may not include (tests/layout/check_rooms.sh): the
 * runtime calls these two functions and never sees a key schedule or a digest API.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "internal.h"

dmcp_status dmcp__hmac_sha256(const unsigned char *key, size_t key_len, const void *data,
                              size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    if (key == NULL || key_len == 0 || key_len > 1024 ||
        HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) == NULL || n != 32) {
        return DMCP_E_INTERNAL;
    }
    return DMCP_OK;
}

bool dmcp__mac_equal(const unsigned char *a, const unsigned char *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

dmcp_status dmcp__random_bytes(unsigned char *out, size_t len)
{
    return len <= 1024 && RAND_bytes(out, (int)len) == 1 ? DMCP_OK : DMCP_E_INTERNAL;
}
