/* Compact JWS splitting (RFC 7515 §7.1, §5.2 steps 1-3). */
#include "jose.h"

#include <stdlib.h>
#include <string.h>

dmcp_status dmcp__jws_split(const char *token, size_t len, dmcp__jws_parts *out,
                            dmcp_error *err)
{
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "no output");
    }
    memset(out, 0, sizeof(*out));
    if (token == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_MALFORMED, "no token");
    }
    /* Hard ceiling independent of the validator's configurable cap; bounds the work here. */
    if (len > DMCP_MAX_TOKEN_BYTES_LIMIT) {
        return dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_TOO_LARGE,
                          "token larger than %d bytes", DMCP_MAX_TOKEN_BYTES_LIMIT);
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 == NULL ? NULL : memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    /* Exactly two dots: JWE (four dots) and JSON serialisation are not accepted here. */
    if (d1 == NULL || d2 == NULL ||
        memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_MALFORMED,
                          "token is not three dot-separated segments");
    }
    size_t hlen = (size_t)(d1 - token);
    size_t plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - token);
    if (hlen == 0 || plen == 0) {
        return dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_MALFORMED,
                          "empty header or payload segment");
    }
    size_t hmax = DMCP__B64URL_DECODED_MAX(hlen);
    size_t pmax = DMCP__B64URL_DECODED_MAX(plen);
    size_t smax = DMCP__B64URL_DECODED_MAX(slen);
    unsigned char *mem = malloc(hmax + pmax + smax);
    if (mem == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    unsigned char *h = mem;
    unsigned char *p = mem + hmax;
    unsigned char *s = p + pmax;
    if (dmcp__b64url_decode(token, hlen, h, &out->header_len) != DMCP_OK ||
        dmcp__b64url_decode(d1 + 1, plen, p, &out->payload_len) != DMCP_OK ||
        dmcp__b64url_decode(d2 + 1, slen, s, &out->sig_len) != DMCP_OK) {
        free(mem);
        memset(out, 0, sizeof(*out));
        return dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_MALFORMED,
                          "token segment is not strict base64url");
    }
    out->mem = mem;
    out->header = h;
    out->payload = p;
    out->sig = s;
    out->signing_input = token;
    out->signing_input_len = (size_t)(d2 - token);
    return DMCP_OK;
}

void dmcp__jws_parts_clear(dmcp__jws_parts *p)
{
    if (p == NULL) {
        return;
    }
    free(p->mem);
    memset(p, 0, sizeof(*p));
}
