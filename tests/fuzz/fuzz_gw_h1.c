/*
 * The gateway's HTTP/1.1 response parser (src/gateway/h1_resp.c) on any bytes: fed whole and fed
 * in pieces (sizes from the first input byte), it reaches the same verdict, the same status,
 * error and body bytes, and stops at the same byte; keep-alive agrees unless the pieces hid
 * bytes past the response (then the whole feed, which saw them, must refuse reuse); it never
 * delivers more body than it was given nor more than one final head.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/h1_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink {
    char *buf;
    size_t len, cap;
    int heads;
} sink;

static bool on_head(void *ud, const gw_h1 *p)
{
    sink *s = ud;
    if (p->status < 200 || p->status > 599)
        abort();
    s->heads++;
    return true;
}

static bool on_data(void *ud, const char *b, size_t n)
{
    sink *s = ud;
    if (s->len + n > s->cap)
        abort();
    memcpy(s->buf + s->len, b, n);
    s->len += n;
    return true;
}

static gw_h1_rc run(const char *d, size_t n, size_t piece, gw_h1 *p, sink *s, size_t *consumed)
{
    gw_h1_cb cb = {on_head, on_data, s};
    gw_h1_init(p);
    gw_h1_rc rc = GW_H1_MORE;
    size_t i = 0;
    while (i < n && rc == GW_H1_MORE) {
        size_t step = piece == 0 || piece > n - i ? n - i : piece;
        size_t used = 0;
        rc = gw_h1_feed(p, d + i, step, &used, &cb);
        if (used > step || (rc == GW_H1_MORE && used != step))
            abort();
        i += used;
    }
    *consumed = i;
    if (rc == GW_H1_MORE)
        rc = gw_h1_eof(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    size_t piece = (size_t)data[0] % 17 + 1;
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    gw_h1 *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    sink sa = {malloc(n + 1), 0, n, 0}, sb = {malloc(n + 1), 0, n, 0};
    size_t ca = 0, cb = 0;
    gw_h1_rc ra = run(d, n, 0, a, &sa, &ca);
    gw_h1_rc rb = run(d, n, piece, b, &sb, &cb);
    if (ra != rb || sa.len != sb.len || memcmp(sa.buf, sb.buf, sa.len) != 0 || sa.heads != sb.heads)
        abort();
    /* Both stop at the response's end; only a feed that saw bytes past it drops keep-alive. */
    if (ra == GW_H1_DONE && (a->status != b->status || ca != cb ||
                             (ca == n && a->keep_alive != b->keep_alive) ||
                             (ca < n && a->keep_alive)))
        abort();
    if (ra == GW_H1_ERROR && (a->error == NULL || b->error == NULL || strcmp(a->error, b->error) != 0))
        abort();
    if (sa.heads > 1)
        abort();
    free(sa.buf);
    free(sb.buf);
    free(a);
    free(b);
    return 0;
}
