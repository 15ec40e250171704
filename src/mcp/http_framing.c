/*
 * Request framing (RFC 9112 §6): judged from the Content-Length and Transfer-Encoding header
 * fields before a byte of the body is read, whatever libmicrohttpd would make of them.
 *
 * A request whose length two parties could read differently is an error: both headers at
 * once, Content-Length values that differ, or a transfer coding other than exactly "chunked"
 * (§6.1, §6.3). The caller answers 400 or 501 and closes the connection, so the bytes after
 * the headers can never be read as another request (request smuggling).
 */
#include <stdint.h>
#include <string.h>

#include "mcp/mcp_internal.h"

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional whitespace around [*s, *e). */
static void trim(const char **s, const char **e)
{
    while (*s < *e && is_ows(**s)) {
        (*s)++;
    }
    while (*e > *s && is_ows((*e)[-1])) {
        (*e)--;
    }
}

/* Parses one Content-Length value: a comma-separated list of equal 1*DIGIT elements (§6.3
 * item 5 allows a recipient to accept "5, 5"). Folds it into *len (UINT64_MAX = none yet). */
static bool cl_value(const char *v, uint64_t *len)
{
    const char *p = v;
    for (;;) {
        const char *s = p, *e = strchr(p, ',');
        if (e == NULL) {
            e = p + strlen(p);
        }
        const char *next = *e == ',' ? e + 1 : NULL;
        trim(&s, &e);
        if (s == e || e - s > 18) {
            return false; /* empty element or beyond 10^18: not a length we could mean */
        }
        uint64_t n = 0;
        for (const char *q = s; q < e; q++) {
            if (*q < '0' || *q > '9') {
                return false;
            }
            n = n * 10 + (uint64_t)(*q - '0');
        }
        if (*len != UINT64_MAX && *len != n) {
            return false;
        }
        *len = n;
        if (next == NULL) {
            return true;
        }
        p = next;
    }
}

/* Counts the transfer codings of one Transfer-Encoding value; *chunked_only stays true while
 * every coding is "chunked" (case-insensitive, without parameters). */
static size_t te_value(const char *v, bool *chunked_only)
{
    size_t n = 0;
    const char *p = v;
    for (;;) {
        const char *s = p, *e = strchr(p, ',');
        if (e == NULL) {
            e = p + strlen(p);
        }
        const char *next = *e == ',' ? e + 1 : NULL;
        trim(&s, &e);
        if (s != e) {
            n++;
            if ((size_t)(e - s) != 7 || dmcp__ascii_ncasecmp(s, "chunked", 7) != 0) {
                *chunked_only = false;
            }
        }
        if (next == NULL) {
            return n;
        }
        p = next;
    }
}

dmcp__framing dmcp__http_framing(const char *const *cl, size_t ncl, const char *const *te,
                                 size_t nte, uint64_t *length, bool *chunked)
{
    *length = 0;
    *chunked = false;
    if (ncl > 0 && nte > 0) {
        return DMCP__FRAMING_BAD; /* §6.1: both; a proxy may have framed it by the other */
    }
    if (nte > 0) {
        size_t codings = 0;
        bool chunked_only = true;
        for (size_t i = 0; i < nte; i++) {
            codings += te_value(te[i] != NULL ? te[i] : "", &chunked_only);
        }
        if (codings == 0) {
            return DMCP__FRAMING_BAD; /* an empty coding list frames nothing */
        }
        if (codings != 1 || !chunked_only) {
            return DMCP__FRAMING_UNSUPPORTED; /* §6.1: 501 for a coding we do not implement */
        }
        *chunked = true;
        return DMCP__FRAMING_OK;
    }
    uint64_t len = UINT64_MAX;
    for (size_t i = 0; i < ncl; i++) {
        if (!cl_value(cl[i] != NULL ? cl[i] : "", &len)) {
            return DMCP__FRAMING_BAD; /* §6.3 item 5: invalid or differing values */
        }
    }
    *length = len == UINT64_MAX ? 0 : len;
    return DMCP__FRAMING_OK;
}
