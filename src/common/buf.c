/* Capped growable buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

void dmcp__buf_init(dmcp__buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

dmcp_status dmcp__buf_append(dmcp__buf *b, const void *data, size_t len)
{
    if (len == 0) {
        return DMCP_OK;
    }
    if (len > b->max || b->len > b->max - len) {
        return DMCP_E_TOO_LARGE;
    }
    size_t need = b->len + len + 1; /* room for the terminating NUL */
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) {
            cap *= 2;
        }
        if (cap > b->max + 1) {
            cap = b->max + 1;
        }
        char *p = realloc(b->data, cap);
        if (p == NULL) {
            return DMCP_E_NOMEM;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return DMCP_OK;
}

dmcp_status dmcp__buf_appends(dmcp__buf *b, const char *s)
{
    return dmcp__buf_append(b, s, strlen(s));
}

dmcp_status dmcp__buf_printf(dmcp__buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return DMCP_E_INTERNAL;
    }
    if ((size_t)n < sizeof(small)) {
        return dmcp__buf_append(b, small, (size_t)n);
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        return DMCP_E_NOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    dmcp_status st = dmcp__buf_append(b, big, (size_t)n);
    free(big);
    return st;
}

char *dmcp__buf_take(dmcp__buf *b, size_t *len)
{
    char *p = b->data;
    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

void dmcp__buf_free(dmcp__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void dmcp__buf_free_secret(dmcp__buf *b)
{
    if (b->data != NULL) {
        OPENSSL_cleanse(b->data, b->cap);
    }
    dmcp__buf_free(b);
}
