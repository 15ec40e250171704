/* Newline-delimited framing: see lines.h. */
#include "gateway/lines.h"

#include <stdlib.h>
#include <string.h>

static bool grow(dmcp__lines *lb, size_t need)
{
    if (need <= lb->cap)
        return true;
    size_t nc = lb->cap ? lb->cap : 4096;
    while (nc < need)
        nc *= 2;
    if (nc > lb->max + 1)
        nc = lb->max + 1;
    char *nb = realloc(lb->b, nc);
    if (!nb)
        return false;
    lb->b = nb;
    lb->cap = nc;
    return true;
}

dmcp_status dmcp__lines_feed(dmcp__lines *lb, const char *p, size_t n, bool strict,
                             dmcp__line_fn fn, void *ud)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (!lb->skipping) {
            if (take > lb->max - lb->n) {
                if (strict)
                    return DMCP_E_TOO_LARGE;
                size_t room = lb->max - lb->n;
                if (!grow(lb, lb->max + 1))
                    return DMCP_E_NOMEM;
                memcpy(lb->b + lb->n, p, room);
                lb->n += room;
                lb->skipping = true;
            } else {
                if (!grow(lb, lb->n + take + 1))
                    return DMCP_E_NOMEM;
                memcpy(lb->b + lb->n, p, take);
                lb->n += take;
            }
        }
        if (!nl)
            return DMCP_OK;
        p = nl + 1;
        n -= take + 1;
        size_t len = lb->n;
        if (len > 0 && lb->b[len - 1] == '\r')
            len--;
        if (len > 0) {
            lb->b[len] = '\0';
            fn(ud, lb->b, len);
        }
        lb->n = 0;
        lb->skipping = false;
    }
    return DMCP_OK;
}

void dmcp__lines_free(dmcp__lines *lb)
{
    if (!lb)
        return;
    free(lb->b);
    lb->b = NULL;
    lb->n = lb->cap = 0;
}
