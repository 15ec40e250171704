/* Strict JSON object parser for JWS headers and JWT claims (see jsonlite.h for why). */
#include "jsonlite_lex.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return true;
    }
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) {
        ncap *= 2;
    }
    void *n = realloc(*arr, ncap * elem);
    if (n == NULL) {
        return false;
    }
    *arr = n;
    *cap = ncap;
    return true;
}

/* The key stack starts in the parser struct and moves to the heap when it outgrows it. */
static bool grow_keys(jl *j)
{
    size_t ncap = j->cap_keys * 2;
    dmcp__jl_str *n;
    if (j->keys == j->keys_inline) {
        n = malloc(ncap * sizeof(*n));
        if (n != NULL) {
            memcpy(n, j->keys, j->n_keys * sizeof(*n));
        }
    } else {
        n = realloc(j->keys, ncap * sizeof(*n));
    }
    if (n == NULL) {
        return false;
    }
    j->keys = n;
    j->cap_keys = ncap;
    return true;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool read_hex4(jl *j, unsigned *out)
{
    if (j->end - j->p < 4) {
        return false;
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0) {
            return false;
        }
        v = (v << 4) | (unsigned)h;
    }
    j->p += 4;
    *out = v;
    return true;
}

/* Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80), or 0 when invalid
 * (RFC 3629 §4: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t avail = (size_t)(end - p);
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F;
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* j->p is at the opening quote. The decoded text goes to the arena: decoded bytes plus the NUL
 * never exceed the raw bytes including both quotes, so an arena of len + 1 cannot overflow. */
bool dmcp__jl_lex_string(jl *j, dmcp__jl_str *out)
{
    j->p++;
    char *o = j->arena + j->arena_used;
    char *start = o;
    for (;;) {
        const unsigned char *run = j->p;
        while (j->p < j->end && *j->p >= 0x20 && *j->p < 0x80 && *j->p != '"' && *j->p != '\\') {
            j->p++;
        }
        size_t n = (size_t)(j->p - run);
        memcpy(o, run, n);
        o += n;
        if (j->p >= j->end) {
            return fail(j, DMCP__JL_ESYNTAX);
        }
        unsigned char c = *j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if (c < 0x20) {
            return fail(j, DMCP__JL_ESYNTAX); /* RFC 8259 §7: control characters escaped */
        }
        if (c >= 0x80) {
            size_t u = utf8_len(j->p, j->end);
            if (u == 0) {
                return fail(j, DMCP__JL_ESYNTAX);
            }
            memcpy(o, j->p, u);
            o += u;
            j->p += u;
            continue;
        }
        /* backslash */
        j->p++;
        if (j->p >= j->end) {
            return fail(j, DMCP__JL_ESYNTAX);
        }
        c = *j->p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            *o++ = (char)c;
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (!read_hex4(j, &cp)) {
                return fail(j, DMCP__JL_ESYNTAX);
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(j, DMCP__JL_ESYNTAX); /* lone low surrogate */
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') {
                    return fail(j, DMCP__JL_ESYNTAX);
                }
                j->p += 2;
                if (!read_hex4(j, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    return fail(j, DMCP__JL_ESYNTAX);
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) {
                /* A NUL would truncate every C string made from the value (jansson refuses
                 * it too without JSON_ALLOW_NUL). */
                return fail(j, DMCP__JL_ESYNTAX);
            }
            o += put_utf8(o, cp);
            break;
        }
        default:
            return fail(j, DMCP__JL_ESYNTAX);
        }
    }
    *o = '\0';
    out->s = start;
    out->len = (size_t)(o - start);
    j->arena_used += out->len + 1;
    return true;
}

static bool is_digit(const jl *j)
{
    return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

bool dmcp__jl_lex_number(jl *j, dmcp__jl_type *type, int64_t *iv, double *dv)
{
    const unsigned char *s = j->p;
    bool neg = false, real = false;
    if (*j->p == '-') {
        neg = true;
        j->p++;
    }
    if (!is_digit(j)) {
        return fail(j, DMCP__JL_ESYNTAX);
    }
    if (*j->p == '0') {
        j->p++;
        if (is_digit(j)) {
            return fail(j, DMCP__JL_ESYNTAX); /* leading zero */
        }
    } else {
        while (is_digit(j)) {
            j->p++;
        }
    }
    const unsigned char *int_end = j->p;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!is_digit(j)) {
            return fail(j, DMCP__JL_ESYNTAX);
        }
        while (is_digit(j)) {
            j->p++;
        }
        real = true;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (!is_digit(j)) {
            return fail(j, DMCP__JL_ESYNTAX);
        }
        while (is_digit(j)) {
            j->p++;
        }
        real = true;
    }
    if (!real) {
        /* int64 with overflow detection; like jansson's strtoll ERANGE check, an integer that
         * does not fit is an error, not a real. Accumulate negatively so INT64_MIN fits. */
        int64_t v = 0;
        for (const unsigned char *q = s + (neg ? 1 : 0); q < int_end; q++) {
            int d = *q - '0';
            if (v < (INT64_MIN + d) / 10) {
                return fail(j, DMCP__JL_ESYNTAX);
            }
            v = v * 10 - d;
        }
        if (!neg) {
            if (v == INT64_MIN) {
                return fail(j, DMCP__JL_ESYNTAX);
            }
            v = -v;
        }
        *type = DMCP__JL_INT;
        *iv = v;
        *dv = (double)v;
        return true;
    }
    /* Reals: strtod on a NUL-terminated copy, the same conversion jansson uses; overflow to
     * infinity is an error (jansson: "real number overflow"), underflow is not. */
    size_t n = (size_t)(j->p - s);
    char small[64];
    char *buf = small;
    if (n >= sizeof(small)) {
        buf = malloc(n + 1);
        if (buf == NULL) {
            return fail(j, DMCP__JL_ENOMEM);
        }
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    bool overflow = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
    if (buf != small) {
        free(buf);
    }
    if (overflow) {
        return fail(j, DMCP__JL_ESYNTAX);
    }
    *type = DMCP__JL_REAL;
    *dv = d;
    *iv = 0;
    return true;
}

static bool parse_value(jl *j, unsigned depth, dmcp__jl_member *top);

static int key_cmp(const void *a, const void *b)
{
    const dmcp__jl_str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c != 0) {
        return c;
    }
    return (x->len > y->len) - (x->len < y->len);
}

static bool parse_object(jl *j, unsigned depth, size_t *count, bool top)
{
    if (depth > DMCP__JL_MAX_DEPTH) {
        return fail(j, DMCP__JL_EDEPTH);
    }
    j->p++; /* '{' */
    size_t base = j->n_keys;
    size_t n = 0;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        *count = 0;
        return true;
    }
    for (;;) {
        skip_ws(j);
        if (j->p >= j->end || *j->p != '"') {
            return fail(j, DMCP__JL_ESYNTAX);
        }
        dmcp__jl_str key;
        if (!dmcp__jl_lex_string(j, &key)) {
            return false;
        }
        if (n < JL_LINEAR_KEYS) {
            for (size_t i = base; i < j->n_keys; i++) {
                /* Length and first byte first: claim names are short and alike in length
                 * (iss, aud, sub, exp...), so a memcmp call per pair would dominate. */
                const dmcp__jl_str *o = &j->keys[i];
                if (o->len == key.len && (key.len == 0 || o->s[0] == key.s[0]) &&
                    memcmp(o->s, key.s, key.len) == 0) {
                    return fail(j, DMCP__JL_EDUP);
                }
            }
        }
        if (j->n_keys == j->cap_keys && !grow_keys(j)) {
            return fail(j, DMCP__JL_ENOMEM);
        }
        j->keys[j->n_keys++] = key;
        n++;
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':') {
            return fail(j, DMCP__JL_ESYNTAX);
        }
        j->p++;
        skip_ws(j);
        dmcp__jl_member *m = NULL;
        if (top) {
            dmcp__jl_doc *d = j->doc;
            if (!grow((void **)&d->members, &j->cap_members, d->n + 1, sizeof(*d->members))) {
                return fail(j, DMCP__JL_ENOMEM);
            }
            m = &d->members[d->n++];
            memset(m, 0, sizeof(*m));
            m->key = key;
        }
        if (!parse_value(j, depth, m)) {
            return false;
        }
        skip_ws(j);
        if (j->p >= j->end) {
            return fail(j, DMCP__JL_ESYNTAX);
        }
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == '}') {
            j->p++;
            break;
        }
        return fail(j, DMCP__JL_ESYNTAX);
    }
    if (n > JL_LINEAR_KEYS) {
        qsort(j->keys + base, n, sizeof(*j->keys), key_cmp);
        for (size_t i = base + 1; i < base + n; i++) {
            if (key_cmp(&j->keys[i - 1], &j->keys[i]) == 0) {
                return fail(j, DMCP__JL_EDUP);
            }
        }
    }
    j->n_keys = base;
    *count = n;
    return true;
}

static bool parse_array(jl *j, unsigned depth, dmcp__jl_member *top)
{
    if (depth > DMCP__JL_MAX_DEPTH) {
        return fail(j, DMCP__JL_EDEPTH);
    }
    j->p++; /* '[' */
    dmcp__jl_doc *d = j->doc;
    size_t n = 0;
    bool all_strings = true;
    size_t first = d->n_strs;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        goto done;
    }
    for (;;) {
        skip_ws(j);
        if (j->p >= j->end) {
            return fail(j, DMCP__JL_ESYNTAX);
        }
        if (top != NULL && *j->p == '"') {
            dmcp__jl_str s;
            if (!dmcp__jl_lex_string(j, &s)) {
                return false;
            }
            if (all_strings) {
                if (!grow((void **)&d->strs, &j->cap_strs, d->n_strs + 1, sizeof(*d->strs))) {
                    return fail(j, DMCP__JL_ENOMEM);
                }
                d->strs[d->n_strs++] = s;
            }
        } else {
            if (!parse_value(j, depth, NULL)) {
                return false;
            }
            if (all_strings && top != NULL) {
                all_strings = false;
                d->n_strs = first; /* not a string array: drop what was collected */
            }
        }
        n++;
        skip_ws(j);
        if (j->p >= j->end) {
            return fail(j, DMCP__JL_ESYNTAX);
        }
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == ']') {
            j->p++;
            break;
        }
        return fail(j, DMCP__JL_ESYNTAX);
    }
done:
    if (top != NULL) {
        top->type = DMCP__JL_ARRAY;
        top->n_items = n;
        top->all_strings = all_strings;
        top->first_str = first;
    }
    return true;
}

/* j->p is at the first byte of a value (whitespace skipped). `top` is the member to fill when
 * the value is a top-level member's value, else NULL. */
static bool parse_value(jl *j, unsigned depth, dmcp__jl_member *top)
{
    if (j->p >= j->end) {
        return fail(j, DMCP__JL_ESYNTAX);
    }
    dmcp__jl_member scratch;
    dmcp__jl_member *m = top != NULL ? top : &scratch;
    switch (*j->p) {
    case '{': {
        size_t count;
        if (!parse_object(j, depth + 1, &count, false)) {
            return false;
        }
        m->type = DMCP__JL_OBJECT;
        m->n_items = count;
        return true;
    }
    case '[':
        return parse_array(j, depth + 1, top);
    case '"':
        m->type = DMCP__JL_STRING;
        return dmcp__jl_lex_string(j, &m->str);
    case 't':
        m->type = DMCP__JL_TRUE;
        return lit(j, "true", 4);
    case 'f':
        m->type = DMCP__JL_FALSE;
        return lit(j, "false", 5);
    case 'n':
        m->type = DMCP__JL_NULL;
        return lit(j, "null", 4);
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
            return dmcp__jl_lex_number(j, &m->type, &m->i, &m->d);
        }
        return fail(j, DMCP__JL_ESYNTAX);
    }
}

void dmcp__jl_free(dmcp__jl_doc *doc)
{
    if (doc == NULL) {
        return;
    }
    free(doc->members);
    free(doc->strs);
    free(doc->arena);
    memset(doc, 0, sizeof(*doc));
}

dmcp__jl_error dmcp__jl_parse(const unsigned char *in, size_t len, dmcp__jl_doc *doc)
{
    memset(doc, 0, sizeof(*doc));
    jl j; /* keys_inline is left uninitialised on purpose: only pushed entries are read */
    j.arena = NULL;
    j.arena_used = 0;
    j.cap_members = 0;
    j.cap_strs = 0;
    j.n_keys = 0;
    j.err = DMCP__JL_OK;
    j.p = in;
    j.end = in + len;
    j.doc = doc;
    j.keys = j.keys_inline;
    j.cap_keys = JL_INLINE_KEYS;
    skip_ws(&j);
    if (j.p >= j.end) {
        return DMCP__JL_ESYNTAX;
    }
    if (*j.p != '{') {
        /* Anything else is either not JSON or not an object: both are refused. */
        bool json_start = *j.p == '[' || *j.p == '"' || *j.p == '-' ||
                          (*j.p >= '0' && *j.p <= '9') || *j.p == 't' || *j.p == 'f' || *j.p == 'n';
        return json_start ? DMCP__JL_ENOTOBJ : DMCP__JL_ESYNTAX;
    }
    j.arena = malloc(len + 1);
    if (j.arena == NULL) {
        return DMCP__JL_ENOMEM;
    }
    doc->arena = j.arena;
    size_t count;
    if (parse_object(&j, 1, &count, true)) {
        skip_ws(&j);
        if (j.p != j.end) {
            fail(&j, DMCP__JL_ESYNTAX); /* trailing bytes */
        }
    }
    if (j.keys != j.keys_inline) {
        free(j.keys);
    }
    if (j.err != DMCP__JL_OK) {
        dmcp__jl_free(doc);
        return j.err;
    }
    return DMCP__JL_OK;
}

const dmcp__jl_member *dmcp__jl_get(const dmcp__jl_doc *doc, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < doc->n; i++) {
        const dmcp__jl_member *m = &doc->members[i];
        if (m->key.len == klen && memcmp(m->key.s, key, klen) == 0) {
            return m;
        }
    }
    return NULL;
}
