/* text/event-stream parsing for upstream responses (see sse_parse.h). */
#include "gateway/sse_parse.h"

#include <stdlib.h>
#include <string.h>

void gw_sse_init(gw_sse *p, size_t max_event)
{
    memset(p, 0, sizeof(*p));
    p->max_event = max_event;
}

void gw_sse_free(gw_sse *p)
{
    free(p->line);
    free(p->data);
    memset(p, 0, sizeof(*p));
}

static bool grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return true;
    }
    size_t nc = *cap ? *cap : 256;
    while (nc < need) {
        nc *= 2;
    }
    char *n = realloc(*buf, nc);
    if (n == NULL) {
        return false;
    }
    *buf = n;
    *cap = nc;
    return true;
}

static void set_field(char *dst, size_t cap, const char *v, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
    }
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* One complete line (without its terminator). */
static bool line_done(gw_sse *p, gw_sse_fn fn, void *ud)
{
    const char *l = p->line != NULL ? p->line : "";
    size_t n = p->line_len;
    if (n == 0) { /* dispatch */
        bool ok = true;
        if (p->has_data) {
            if (!grow(&p->data, &p->data_cap, p->data_len + 1)) {
                return false;
            }
            p->data[p->data_len] = '\0';
            gw_sse_event ev = {p->event, p->data, p->data_len, p->id};
            ok = fn(ud, &ev);
        }
        p->data_len = 0;
        p->has_data = false;
        p->event[0] = '\0';
        return ok;
    }
    if (l[0] == ':') {
        return true; /* comment */
    }
    const char *colon = memchr(l, ':', n);
    size_t flen = colon != NULL ? (size_t)(colon - l) : n;
    const char *v = colon != NULL ? colon + 1 : l + n;
    size_t vlen = colon != NULL ? n - flen - 1 : 0;
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (flen == 4 && memcmp(l, "data", 4) == 0) {
        size_t need = p->data_len + (p->has_data ? 1 : 0) + vlen + 1;
        if (need > p->max_event || !grow(&p->data, &p->data_cap, need)) {
            return false;
        }
        if (p->has_data) {
            p->data[p->data_len++] = '\n';
        }
        memcpy(p->data + p->data_len, v, vlen);
        p->data_len += vlen;
        p->has_data = true;
    } else if (flen == 5 && memcmp(l, "event", 5) == 0) {
        set_field(p->event, sizeof(p->event), v, vlen);
    } else if (flen == 2 && memcmp(l, "id", 2) == 0) {
        if (memchr(v, '\0', vlen) == NULL) {
            set_field(p->id, sizeof(p->id), v, vlen);
        }
    }
    /* retry and unknown fields are ignored */
    return true;
}

bool gw_sse_feed(gw_sse *p, const char *buf, size_t len, gw_sse_fn fn, void *ud)
{
    if (p->failed) {
        return false;
    }
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (!p->bom_done) {
            if (c == bom[p->bom_seen]) {
                if (++p->bom_seen == 3) {
                    p->bom_done = true;
                }
                continue;
            }
            p->bom_done = true;
            /* a partial BOM prefix was real data (cannot be valid UTF-8 text anyway) */
            for (size_t k = 0; k < p->bom_seen; k++) {
                if (!grow(&p->line, &p->line_cap, p->line_len + 1)) {
                    p->failed = true;
                    return false;
                }
                p->line[p->line_len++] = (char)bom[k];
            }
        }
        if (p->skip_lf) {
            p->skip_lf = false;
            if (c == '\n') {
                continue;
            }
        }
        if (c == '\r' || c == '\n') {
            p->skip_lf = c == '\r';
            if (!line_done(p, fn, ud)) {
                p->failed = true;
                return false;
            }
            p->line_len = 0;
            continue;
        }
        if (p->line_len + 1 > p->max_event + 16 ||
            !grow(&p->line, &p->line_cap, p->line_len + 1)) {
            p->failed = true;
            return false;
        }
        p->line[p->line_len++] = (char)c;
    }
    return true;
}
