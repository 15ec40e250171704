/*
 * The gateway's stdio framing (src/gateway/lines.c) and its stderr sanitiser (child.c), on any
 * bytes fed in any chunking: the lines delivered are exactly those of a simple reference split
 * (strict: up to the first line over the cap, then DMCP_E_TOO_LARGE; lenient: every line, cut
 * at the cap); the sanitiser never writes a control byte nor past its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/child.h"
#include "gateway/lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct got {
    char *all; /* delivered lines, each followed by '\n' */
    size_t n, cap;
    size_t max;
} got;

static void on_line(void *ud, const char *line, size_t len)
{
    got *g = ud;
    if (len == 0 || len > g->max || line[len] != '\0' || memchr(line, '\n', len))
        abort();
    if (g->n + len + 1 > g->cap)
        abort();
    memcpy(g->all + g->n, line, len);
    g->n += len;
    g->all[g->n++] = '\n';
}

/* The reference: split on '\n', drop a trailing '\r', skip empty lines; only complete lines. */
static size_t reference(const char *d, size_t n, size_t max, int strict, char *out, int *too_large)
{
    size_t o = 0, start = 0;
    *too_large = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '\n') {
            if (strict && i - start + 1 > max) { /* the line is over the cap already */
                *too_large = 1;
                return o;
            }
            continue;
        }
        if (i == n)
            break; /* unfinished last line: not delivered */
        size_t len = i - start;
        if (!strict && len > max)
            len = max;
        if (len > 0 && d[start + len - 1] == '\r')
            len--;
        if (len > 0) {
            memcpy(out + o, d + start, len);
            o += len;
            out[o++] = '\n';
        }
        start = i + 1;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 8192)
        return 0;
    size_t max = 1 + data[0] % 64;
    size_t chunk = 1 + data[1] % 37;
    const char *d = (const char *)data + 2;
    size_t n = size - 2;
    char *ref = malloc(n + 1);
    got g = {.all = malloc(n + 1), .cap = n + 1, .max = max};
    if (!ref || !g.all)
        abort();
    for (int strict = 0; strict <= 1; strict++) {
        dmcp__lines lb = {.max = max};
        g.n = 0;
        dmcp_status st = DMCP_OK;
        for (size_t off = 0; off < n && st == DMCP_OK; off += chunk) {
            size_t k = n - off < chunk ? n - off : chunk;
            st = dmcp__lines_feed(&lb, d + off, k, strict, on_line, &g);
        }
        int too_large = 0;
        size_t rn = reference(d, n, max, strict, ref, &too_large);
        if ((st == DMCP_E_TOO_LARGE) != (too_large == 1))
            abort();
        if (st != DMCP_OK && st != DMCP_E_TOO_LARGE)
            abort();
        if (rn != g.n || memcmp(ref, g.all, rn) != 0)
            abort();
        if (dmcp__lines_pending(&lb) > max)
            abort();
        dmcp__lines_free(&lb);
    }
    /* The sanitiser: bounded, no control bytes. */
    char out[65];
    size_t cap = 1 + data[1] % sizeof out;
    dmcp__child_sanitize(d, n, out, cap);
    size_t len = strlen(out);
    if (len >= cap)
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            abort();
    free(ref);
    free(g.all);
    return 0;
}
