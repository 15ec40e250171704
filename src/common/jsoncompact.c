/*
 * Compact re-serialisation of a JSON text without building a value: the bytes that
 * json_dumps(json_loadb(in, JSON_REJECT_DUPLICATES), JSON_COMPACT) gives (keys in their order),
 * in one pass over the input. Why: `descope-mcp validate --batch` prints every token's claims,
 * and building a jansson object only to dump it cost a quarter of the command's time per
 * token (issue 8 part 3).
 *
 * Precondition: jansson accepts the input (for a token payload, the validator's jsonlite
 * grammar already checked exactly that: valid UTF-8, no duplicate keys, bounded depth). What
 * this writer does not reproduce by itself it refuses (returns false) and the caller falls
 * back to jansson: an integer beyond int64 (jansson refuses it), a \u0000 or lone surrogate
 * escape (jansson refuses both). Reals are converted by jansson itself, one at a time, so
 * their digits are jansson's. tests/fuzz/fuzz_json_compact.c checks it against jansson.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"
#include "jsoncompact.h"

typedef struct jc {
    const unsigned char *p, *end;
    dmcp__buf *out;
    bool bad;
} jc;

static void ws(jc *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

static void put(jc *c, const void *s, size_t n)
{
    dmcp__buf *b = c->out;
    if (b->data != NULL && b->cap - b->len > n) {
        memcpy(b->data + b->len, s, n); /* the common case: room reserved up front */
        b->len += n;
        b->data[b->len] = '\0';
    } else if (!c->bad && dmcp__buf_append(b, s, n) != DMCP_OK) {
        c->bad = true;
    }
}

static int hexval(unsigned char h)
{
    if (h >= '0' && h <= '9') {
        return h - '0';
    }
    if (h >= 'a' && h <= 'f') {
        return h - 'a' + 10;
    }
    if (h >= 'A' && h <= 'F') {
        return h - 'A' + 10;
    }
    return -1;
}

static long hex4(jc *c)
{
    if (c->end - c->p < 4) {
        return -1;
    }
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(c->p[i]);
        if (h < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    c->p += 4;
    return v;
}

/* One code point as UTF-8, escaped as jansson's dumper escapes it. */
static void emit_cp(jc *c, unsigned long cp)
{
    static const char hex[] = "0123456789ABCDEF";
    char u[6];
    size_t n = 0;
    if (cp < 0x20 || cp == '"' || cp == '\\') {
        u[0] = '\\';
        n = 2;
        switch (cp) {
        case '"':
            u[1] = '"';
            break;
        case '\\':
            u[1] = '\\';
            break;
        case '\b':
            u[1] = 'b';
            break;
        case '\f':
            u[1] = 'f';
            break;
        case '\n':
            u[1] = 'n';
            break;
        case '\r':
            u[1] = 'r';
            break;
        case '\t':
            u[1] = 't';
            break;
        default:
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = hex[cp >> 4];
            u[5] = hex[cp & 0xF];
            n = 6;
        }
    } else if (cp < 0x80) {
        u[n++] = (char)cp;
    } else if (cp < 0x800) {
        u[n++] = (char)(0xC0 | (cp >> 6));
        u[n++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        u[n++] = (char)(0xE0 | (cp >> 12));
        u[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[n++] = (char)(0x80 | (cp & 0x3F));
    } else {
        u[n++] = (char)(0xF0 | (cp >> 18));
        u[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[n++] = (char)(0x80 | (cp & 0x3F));
    }
    put(c, u, n);
}

static void string(jc *c)
{
    c->p++; /* the opening quote */
    put(c, "\"", 1);
    const unsigned char *run = c->p; /* bytes copied as they are */
    while (!c->bad) {
        if (c->p >= c->end) {
            c->bad = true;
            return;
        }
        unsigned char ch = *c->p;
        if (ch == '"' || ch == '\\' || ch < 0x20) {
            put(c, run, (size_t)(c->p - run));
        }
        if (ch == '"') {
            c->p++;
            put(c, "\"", 1);
            return;
        }
        if (ch < 0x20) {
            c->bad = true; /* raw control characters are not JSON */
            return;
        }
        if (ch != '\\') {
            c->p++;
            continue;
        }
        if (c->end - c->p < 2) {
            c->bad = true;
            return;
        }
        unsigned char e = c->p[1];
        c->p += 2;
        unsigned long cp;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            cp = e;
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u': {
            long v = hex4(c);
            if (v <= 0) {
                c->bad = true; /* malformed, or \u0000 (jansson refuses NUL in strings) */
                return;
            }
            cp = (unsigned long)v;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                c->bad = true; /* a lone low surrogate */
                return;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                long lo = -1;
                if (c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u') {
                    c->p += 2;
                    lo = hex4(c);
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    c->bad = true; /* a high surrogate without its low half */
                    return;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
            }
            break;
        }
        default:
            c->bad = true;
            return;
        }
        emit_cp(c, cp);
        run = c->p;
    }
}

static void number(jc *c)
{
    const unsigned char *start = c->p;
    bool real = false;
    while (c->p < c->end) {
        unsigned char ch = *c->p;
        if (ch == '.' || ch == 'e' || ch == 'E') {
            real = true;
        } else if (!((ch >= '0' && ch <= '9') || ch == '-' || ch == '+')) {
            break;
        }
        c->p++;
    }
    size_t n = (size_t)(c->p - start);
    if (n == 0 || n > 512) {
        c->bad = true;
        return;
    }
    if (real) {
        /* jansson's own conversion and formatting, for exactly its digits. */
        json_t *v = json_loadb((const char *)start, n, JSON_DECODE_ANY, NULL);
        char *s = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(v);
        if (s == NULL) {
            c->bad = true;
            return;
        }
        put(c, s, strlen(s));
        free(s);
        return;
    }
    /* An integer as json_int_t prints it: "-0" is "0"; beyond int64 jansson refuses it. */
    bool neg = start[0] == '-';
    uint64_t m = 0;
    for (size_t i = neg ? 1 : 0; i < n; i++) {
        if (start[i] < '0' || start[i] > '9' || m > (UINT64_MAX - 9) / 10) {
            c->bad = true;
            return;
        }
        m = m * 10 + (uint64_t)(start[i] - '0');
    }
    if ((!neg && m > (uint64_t)INT64_MAX) || (neg && m > (uint64_t)INT64_MAX + 1)) {
        c->bad = true;
        return;
    }
    char d[24];
    size_t i = sizeof(d);
    do {
        d[--i] = (char)('0' + (m % 10));
        m /= 10;
    } while (m != 0);
    if (neg && !(i == sizeof(d) - 1 && d[i] == '0')) {
        d[--i] = '-';
    }
    put(c, d + i, sizeof(d) - i);
}

static void literal(jc *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) {
        c->bad = true;
        return;
    }
    c->p += n;
    put(c, word, n);
}

#define JC_MAX_DEPTH 2048

static void value(jc *c, unsigned depth)
{
    ws(c);
    if (c->bad || c->p >= c->end || depth > JC_MAX_DEPTH) {
        c->bad = true;
        return;
    }
    unsigned char ch = *c->p;
    if (ch == '{' || ch == '[') {
        unsigned char close = ch == '{' ? '}' : ']';
        put(c, c->p, 1);
        c->p++;
        ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            put(c, &close, 1);
            return;
        }
        for (;;) {
            if (ch == '{') {
                ws(c);
                if (c->p >= c->end || *c->p != '"') {
                    c->bad = true;
                    return;
                }
                string(c);
                ws(c);
                if (c->bad || c->p >= c->end || *c->p != ':') {
                    c->bad = true;
                    return;
                }
                c->p++;
                put(c, ":", 1);
            }
            value(c, depth + 1);
            ws(c);
            if (c->bad || c->p >= c->end) {
                c->bad = true;
                return;
            }
            if (*c->p == close) {
                c->p++;
                put(c, &close, 1);
                return;
            }
            if (*c->p != ',') {
                c->bad = true;
                return;
            }
            c->p++;
            put(c, ",", 1);
        }
    }
    if (ch == '"') {
        string(c);
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
        number(c);
    } else if (ch == 't') {
        literal(c, "true", 4);
    } else if (ch == 'f') {
        literal(c, "false", 5);
    } else if (ch == 'n') {
        literal(c, "null", 4);
    } else {
        c->bad = true;
    }
}

bool dmcp__json_compact(const unsigned char *in, size_t len, dmcp__buf *out)
{
    size_t mark = out->len;
    jc c = {in, in + len, out, false};
    /* Compact output is rarely longer than the input: reserve that much once. */
    if (dmcp__buf_append(out, in, len) != DMCP_OK) {
        return false;
    }
    out->len = mark;
    ws(&c);
    /* Like json_dumps: a document is an object or an array. */
    if (c.p >= c.end || (*c.p != '{' && *c.p != '[')) {
        return false;
    }
    value(&c, 0);
    ws(&c);
    if (c.bad || c.p != c.end) {
        out->len = mark;
        return false;
    }
    return true;
}
