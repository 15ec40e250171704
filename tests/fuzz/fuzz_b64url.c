/*
 * Strict base64url decoder: never crashes or over-reads; whatever it accepts re-encodes to
 * exactly the input (canonical form, so no two strings decode to the same bytes); and the
 * input read as bytes survives encode-then-decode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) {
        return 0;
    }
    unsigned char *out = malloc(DMCP__B64URL_DECODED_MAX(size));
    char *enc = malloc((size * 4 + 2) / 3 + 1);
    unsigned char *back = malloc(DMCP__B64URL_DECODED_MAX((size * 4 + 2) / 3));
    if (out == NULL || enc == NULL || back == NULL) {
        abort();
    }
    size_t n = 0;
    if (dmcp__b64url_decode((const char *)data, size, out, &n) == DMCP_OK) {
        if (n != size * 3 / 4) {
            abort();
        }
        char *re = malloc((n * 4 + 2) / 3 + 1);
        if (re == NULL || dmcp__b64url_encode(out, n, re) != size ||
            memcmp(re, data, size) != 0) {
            abort();
        }
        free(re);
    }
    /* decode(encode(x)) == x for the raw bytes. */
    size_t e = dmcp__b64url_encode(data, size, enc);
    if (e != (size * 4 + 2) / 3 || strlen(enc) != e) {
        abort();
    }
    size_t m = 0;
    if (dmcp__b64url_decode(enc, e, back, &m) != DMCP_OK || m != size ||
        (size > 0 && memcmp(back, data, size) != 0)) {
        abort();
    }
    free(out);
    free(enc);
    free(back);
    return 0;
}
