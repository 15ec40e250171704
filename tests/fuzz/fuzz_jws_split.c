/* Compact JWS splitting: no crash, and on success the parts are consistent with the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *tok = (const char *)data;
    dmcp__jws_parts p;
    dmcp_error err;
    if (dmcp__jws_split(tok, size, &p, &err) != DMCP_OK) {
        if (p.mem != NULL || err.status == DMCP_OK) {
            abort();
        }
        return 0;
    }
    /* signing input is "<h>.<p>" at the start of the token; the rest is "." + signature. */
    if (p.signing_input != tok || p.signing_input_len >= size ||
        tok[p.signing_input_len] != '.' || p.header_len == 0 || p.payload_len == 0 ||
        memchr(tok + p.signing_input_len + 1, '.', size - p.signing_input_len - 1) != NULL) {
        abort();
    }
    /* Touch every decoded byte (ASan catches a bad length). */
    unsigned x = 0;
    for (size_t i = 0; i < p.header_len; i++) {
        x += p.header[i];
    }
    for (size_t i = 0; i < p.payload_len; i++) {
        x += p.payload[i];
    }
    for (size_t i = 0; i < p.sig_len; i++) {
        x += p.sig[i];
    }
    (void)x;
    dmcp__jws_parts_clear(&p);
    return 0;
}
