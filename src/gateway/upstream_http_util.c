/* Helpers of the HTTP upstream: error detail, header lines, the pool of curl handles. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/upstream_http_int.h"

void gw_http_fail(dmcp_error *err, dmcp_status st, int http, const char *fmt, ...)
{
    if (err == NULL) {
        return;
    }
    memset(err, 0, sizeof(*err));
    err->status = st;
    err->http_status = http;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

bool gw_http_header_ok(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '\r' || *s == '\n') {
            return false;
        }
    }
    return s != NULL;
}

/* "Name: value" (malloc'd) or NULL for a name/value with CR/LF or an empty name. */
static char *header_line(const char *name, const char *value)
{
    if (name == NULL || name[0] == '\0' || strchr(name, ':') != NULL || !gw_http_header_ok(name) ||
        !gw_http_header_ok(value) || strlen(name) + strlen(value) > 8192) {
        return NULL;
    }
    size_t nl = strlen(name), vl = strlen(value);
    char *l = malloc(nl + vl + 3);
    if (l != NULL) {
        memcpy(l, name, nl);
        memcpy(l + nl, ": ", 2);
        memcpy(l + nl + 2, value, vl + 1);
    }
    return l;
}

void gw_http_free_lines(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (l[i] != NULL) {
            /* may hold a connection token or an identity value */
            memset(l[i], 0, strlen(l[i]));
            free(l[i]);
        }
    }
    free(l);
}

char **gw_http_copy_lines(const dmcp_gw_header *h, size_t n, bool *ok)
{
    *ok = true;
    if (n == 0) {
        return NULL;
    }
    char **l = calloc(n, sizeof(*l));
    if (l == NULL) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        l[i] = header_line(h[i].name, h[i].value);
        if (l[i] == NULL) {
            gw_http_free_lines(l, n);
            *ok = false;
            return NULL;
        }
    }
    return l;
}

/* ---- handle pool ---- */

/* A handle for method; *ready: its common options are already set (a POST handle reused
 * for a POST), so only the per-request ones need setting. */
CURL *gw_http_take(http_up *up, bool post, bool *ready)
{
    pthread_mutex_lock(&up->pool_mu);
    bool was_post = false;
    CURL *h = NULL;
    if (up->npool > 0) {
        up->npool--;
        h = up->pool[up->npool];
        was_post = up->pool_post[up->npool];
    }
    pthread_mutex_unlock(&up->pool_mu);
    *ready = false;
    if (h == NULL) {
        h = curl_easy_init();
    } else if (post && was_post) {
        *ready = true;
    } else {
        curl_easy_reset(h); /* keeps its connection cache */
    }
    return h;
}

void gw_http_give(http_up *up, CURL *h, bool reusable, bool post)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&up->pool_mu);
    if (reusable && up->npool < POOL_MAX) {
        up->pool_post[up->npool] = post;
        up->pool[up->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&up->pool_mu);
    if (h != NULL) {
        curl_easy_cleanup(h);
    }
}

char **gw_http_fresh_lines(const usess *s, size_t *n)
{
    *n = 0;
    if (s->fresh == NULL) {
        return NULL;
    }
    dmcp_gw_header h[4];
    size_t k = s->fresh(s->fresh_ud, h, 4);
    bool ok = true;
    char **lines = k > 0 ? gw_http_copy_lines(h, k, &ok) : NULL;
    for (size_t i = 0; i < k; i++) {
        if (h[i].value != NULL) {
            memset((char *)h[i].value, 0, strlen(h[i].value));
        }
        free((char *)h[i].value);
    }
    if (!ok || lines == NULL) {
        return NULL;
    }
    *n = k;
    return lines;
}

/* The outcome of a transfer, from either client, as .request reports it. */
dmcp_status gw_http_outcome(const xfer *x, dmcp_status transport, const char *detail,
                           dmcp_error *err)
{
    if (x->response != NULL) {
        return DMCP_OK; /* a final response arrived, whatever happened after it */
    }
    if (x->cancelled || transport == DMCP_E_CANCELLED) {
        gw_http_fail(err, DMCP_E_CANCELLED, 0, "the request was cancelled");
        return DMCP_E_CANCELLED;
    }
    if (x->too_large) {
        gw_http_fail(err, DMCP_E_PROTOCOL, 0, "the upstream's answer is too large");
        return DMCP_E_PROTOCOL;
    }
    if (x->bad_event || (x->is_sse && x->sse.failed)) {
        gw_http_fail(err, DMCP_E_PROTOCOL, 0, "the upstream sent a malformed message");
        return DMCP_E_PROTOCOL;
    }
    if (transport == DMCP_E_TIMEOUT) {
        gw_http_fail(err, DMCP_E_TIMEOUT, 504, "the upstream did not answer in time");
        return DMCP_E_TIMEOUT;
    }
    if (transport == DMCP_E_PROTOCOL) {
        gw_http_fail(err, DMCP_E_PROTOCOL, 502, "the upstream's HTTP response is malformed (%s)",
                     detail != NULL ? detail : "refused");
        return DMCP_E_PROTOCOL;
    }
    if (transport != DMCP_OK) {
        gw_http_fail(err, DMCP_E_UNREACHABLE, 502, "the upstream is unreachable (%s)",
                     detail != NULL ? detail : "connection failed");
        return DMCP_E_UNREACHABLE;
    }
    return DMCP_OK;
}
