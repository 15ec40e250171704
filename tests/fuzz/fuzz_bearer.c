/*
 * Fuzzes the glue's parsers: the Authorization header (dmcp__bearer_parse) and the canonical
 * resource URL (dmcp__canonicalize, on curl_url), checking their output invariants.
 * Input: the first byte picks the parser (even: Authorization, odd: URL); the rest is the
 * value, copied into an exact-size buffer so the sanitizers see any read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmcp/protect.h"
#include "glue/glue_internal.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool b64token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

static void check_bearer(const char *v, size_t len)
{
    const char *tok = (const char *)1;
    size_t tlen = 1;
    dmcp__bearer kind = dmcp__bearer_parse(v, len, &tok, &tlen);
    if (kind != DMCP__BEARER_OK) {
        if (tok != NULL || tlen != 0) {
            abort();
        }
        return;
    }
    /* "Bearer" (any case), one SP, then the token up to the very end. */
    if (len < 8 || dmcp__ascii_ncasecmp(v, "bearer ", 7) != 0 || tok != v + 7 || tlen != len - 7 ||
        tlen > DMCP_MAX_TOKEN_BYTES_LIMIT) {
        abort();
    }
    size_t i = 0;
    while (i < tlen && b64token_char((unsigned char)tok[i])) {
        i++;
    }
    if (i == 0) {
        abort();
    }
    while (i < tlen && tok[i] == '=') {
        i++;
    }
    if (i != tlen) {
        abort();
    }
}

static void check_url(const char *v)
{
    dmcp__canon c;
    if (dmcp__canonicalize(v, &c, NULL) != DMCP_OK) {
        return;
    }
    /* Visible ASCII, no quote or backslash (it goes into quoted challenge values). */
    for (const char *p = c.url; *p != '\0'; p++) {
        unsigned char u = (unsigned char)*p;
        if (u <= 0x20 || u >= 0x7F || u == '"' || u == '\\' ||
            (p < c.url + c.origin_len && u >= 'A' && u <= 'Z')) {
            abort();
        }
    }
    /* Idempotent: the canonical form is its own canonical form. */
    dmcp__canon again;
    if (dmcp__canonicalize(c.url, &again, NULL) != DMCP_OK || strcmp(again.url, c.url) != 0) {
        abort();
    }
    char *m = dmcp__metadata_url(&c);
    if (m == NULL || strstr(m, DMCP__PRM_SUFFIX) == NULL) {
        abort();
    }
    free(m);
    dmcp__canon_free(&again);
    dmcp__canon_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 70000) {
        return 0;
    }
    size_t len = size - 1;
    char *v = malloc(len + 1);
    if (v == NULL) {
        return 0;
    }
    memcpy(v, data + 1, len);
    if ((data[0] & 1) == 0) {
        check_bearer(v, len); /* no NUL: the parser must honour len */
    } else {
        v[len] = '\0';
        if (strlen(v) == len) {
            check_url(v);
        }
    }
    free(v);
    return 0;
}
