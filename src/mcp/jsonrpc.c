/* JSON-RPC 2.0 framing (JSON-RPC 2.0 §4-6; MCP 2025-11-25 Basic §1). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlite.h"
#include "mcp/mcp_internal.h"

/*
 * Nesting depth and NUL check before jansson sees the bytes: jansson's own depth limit is
 * 2048 (compile time), far above the 64 we allow, and a pre-scan refuses deep input without
 * building a tree for it. Strings are skipped so brackets inside them do not count.
 */
static bool scan_ok(const char *data, size_t len)
{
    size_t depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\0') {
            return false;
        }
        if (in_str) {
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            depth++;
            if (depth > DMCP_MAX_JSON_DEPTH) {
                return false;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

json_t *dmcp__jsonrpc_parse(const char *data, size_t len, size_t max, int *code)
{
    *code = DMCP_JSONRPC_PARSE_ERROR;
    if (data == NULL || len == 0 || len > max || !scan_ok(data, len)) {
        return NULL;
    }
    /* Duplicate keys are refused: {"method":"a","method":"b"} must not mean either.
     * dmcp__jl_load is json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) at a fraction of
     * its cost (jsonlite.h says why; fuzz_jl_load_diff checks the equivalence). */
    json_t *v = NULL;
    dmcp__jl_error je = dmcp__jl_load((const unsigned char *)data, len, &v);
    if (je != DMCP__JL_OK) {
        return NULL;
    }
    if (!json_is_object(v) && !json_is_array(v)) {
        *code = DMCP_JSONRPC_INVALID_REQUEST;
        json_decref(v);
        return NULL;
    }
    return v;
}

static bool id_ok(const json_t *id)
{
    /* MCP Basic §1.1: string or integer, never null (JSON-RPC also allows null/fractions). */
    return json_is_string(id) || json_is_integer(id);
}

dmcp__msg_kind dmcp__jsonrpc_classify(const json_t *msg, const json_t **id)
{
    *id = NULL;
    if (!json_is_object(msg)) {
        return DMCP__MSG_INVALID;
    }
    const json_t *jv = json_object_get(msg, "jsonrpc");
    const json_t *idv = json_object_get(msg, "id");
    if (idv != NULL && id_ok(idv)) {
        *id = idv;
    }
    if (!json_is_string(jv) || strcmp(json_string_value(jv), "2.0") != 0) {
        return DMCP__MSG_INVALID;
    }
    const json_t *method = json_object_get(msg, "method");
    const json_t *result = json_object_get(msg, "result");
    const json_t *error = json_object_get(msg, "error");
    if (method != NULL) {
        if (!json_is_string(method) || json_string_length(method) == 0 || result != NULL ||
            error != NULL) {
            return DMCP__MSG_INVALID;
        }
        const json_t *params = json_object_get(msg, "params");
        /* JSON-RPC §4.2: params is structured; MCP uses objects only. */
        if (params != NULL && !json_is_object(params)) {
            return DMCP__MSG_INVALID;
        }
        if (idv == NULL) {
            return DMCP__MSG_NOTIFICATION;
        }
        return id_ok(idv) ? DMCP__MSG_REQUEST : DMCP__MSG_INVALID;
    }
    /* A response: exactly one of result / error, and an id (null only with an error). */
    if ((result == NULL) == (error == NULL) || idv == NULL) {
        return DMCP__MSG_INVALID;
    }
    if (!id_ok(idv) && !(json_is_null(idv) && error != NULL)) {
        return DMCP__MSG_INVALID;
    }
    if (error != NULL &&
        (!json_is_object(error) || !json_is_integer(json_object_get(error, "code")))) {
        return DMCP__MSG_INVALID;
    }
    return DMCP__MSG_RESPONSE;
}

static json_t *envelope(const json_t *id)
{
    json_t *o = json_object();
    if (o == NULL) {
        return NULL;
    }
    /* The id is a string or an integer (id_ok): immutable here (nothing in the runtime sets a
     * scalar's value), so a reference is as good as the copy it used to be and saves two
     * allocations per answer. jansson's reference counts are atomic. */
    json_t *idc = id != NULL ? json_incref((json_t *)id) : json_null();
    if (json_object_set_new(o, "jsonrpc", json_string("2.0")) != 0 ||
        json_object_set_new(o, "id", idc) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dmcp__jsonrpc_result(const json_t *id, json_t *result)
{
    json_t *o = envelope(id);
    if (o == NULL || result == NULL || json_object_set_new(o, "result", result) != 0) {
        if (o == NULL) {
            json_decref(result);
        }
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dmcp__jsonrpc_error(const json_t *id, int code, const char *message, json_t *data)
{
    json_t *o = envelope(id);
    json_t *e = json_object();
    if (o == NULL || e == NULL) {
        json_decref(o);
        json_decref(e);
        json_decref(data);
        return NULL;
    }
    json_object_set_new(e, "code", json_integer(code));
    json_object_set_new(e, "message", json_string(message != NULL ? message : "error"));
    if (data != NULL) {
        json_object_set_new(e, "data", data);
    }
    if (json_object_set_new(o, "error", e) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dmcp__jsonrpc_notification(const char *method, json_t *params)
{
    json_t *o = json_object();
    if (o == NULL) {
        json_decref(params);
        return NULL;
    }
    json_object_set_new(o, "jsonrpc", json_string("2.0"));
    json_object_set_new(o, "method", json_string(method));
    if (params != NULL) {
        json_object_set_new(o, "params", params);
    }
    return o;
}

/*
 * Compact serialisation, byte-for-byte what json_dumps(v, JSON_COMPACT) writes (objects in
 * insertion order, "\uXXXX" for other control characters, UTF-8 as is, "/" unescaped; reals
 * are handed to jansson itself). Written here because a measured requirement forces it
 * (issue 3, bench/http/run.sh): json_dumps() cost ~15k instructions per tools/call response
 * (callgrind), mostly its cycle check, which formats every container's address with
 * snprintf("%p") into a hash table. A depth cap replaces that check: a value containing itself
 * exceeds it and fails as jansson's check would. Strings need no UTF-8 check: jansson only
 * makes string values from valid UTF-8 (nothing here uses the _nocheck constructors).
 */
typedef struct jout {
    char *p;
    size_t len, cap;
    bool bad;
} jout;

/* Ensures room for n more bytes plus a NUL. */
static bool jout_room(jout *o, size_t n)
{
    if (o->bad) {
        return false;
    }
    if (n < o->cap - o->len) {
        return true;
    }
    size_t cap = o->cap != 0 ? o->cap : 256;
    while (cap - o->len <= n) {
        if (cap > SIZE_MAX / 2) {
            o->bad = true;
            return false;
        }
        cap *= 2;
    }
    char *np = realloc(o->p, cap);
    if (np == NULL) {
        o->bad = true;
        return false;
    }
    o->p = np;
    o->cap = cap;
    return true;
}

static void jout_put(jout *o, const char *s, size_t n)
{
    if (jout_room(o, n)) {
        memcpy(o->p + o->len, s, n);
        o->len += n;
    }
}

static void jout_ch(jout *o, char c)
{
    if (jout_room(o, 1)) {
        o->p[o->len++] = c;
    }
}

static void jout_str(jout *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    jout_ch(o, '"');
    size_t run = 0; /* start of the pending run of bytes needing no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        jout_put(o, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t en = 2;
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 0xF];
            en = 6;
            break;
        }
        jout_put(o, e, en);
    }
    jout_put(o, s + run, n - run);
    jout_ch(o, '"');
}

static void jout_int(jout *o, json_int_t v)
{
    char d[24];
    size_t i = sizeof(d);
    /* Unsigned magnitude: -INT64_MIN does not fit a json_int_t. */
    unsigned long long m = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        d[--i] = (char)('0' + (m % 10));
        m /= 10;
    } while (m != 0);
    if (v < 0) {
        d[--i] = '-';
    }
    jout_put(o, d + i, sizeof(d) - i);
}

#define JOUT_MAX_DEPTH 2048 /* jansson's own parser depth limit */

static void jout_value(jout *o, const json_t *v, size_t depth)
{
    if (o->bad) {
        return;
    }
    if (depth > JOUT_MAX_DEPTH) {
        o->bad = true;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        jout_ch(o, '{');
        bool first = true;
        for (void *it = json_object_iter((json_t *)v); it != NULL && !o->bad;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first) {
                jout_ch(o, ',');
            }
            first = false;
            jout_str(o, json_object_iter_key(it), json_object_iter_key_len(it));
            jout_ch(o, ':');
            jout_value(o, json_object_iter_value(it), depth + 1);
        }
        jout_ch(o, '}');
        break;
    }
    case JSON_ARRAY: {
        jout_ch(o, '[');
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n && !o->bad; i++) {
            if (i > 0) {
                jout_ch(o, ',');
            }
            jout_value(o, json_array_get(v, i), depth + 1);
        }
        jout_ch(o, ']');
        break;
    }
    case JSON_STRING:
        jout_str(o, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jout_int(o, json_integer_value(v));
        break;
    case JSON_REAL: {
        /* jansson's shortest-round-trip formatting, kept exactly. */
        char *r = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (r == NULL) {
            o->bad = true;
            return;
        }
        jout_put(o, r, strlen(r));
        free(r);
        break;
    }
    case JSON_TRUE:
        jout_put(o, "true", 4);
        break;
    case JSON_FALSE:
        jout_put(o, "false", 5);
        break;
    case JSON_NULL:
        jout_put(o, "null", 4);
        break;
    default:
        o->bad = true;
        break;
    }
}

char *dmcp__json_dump(const json_t *v, size_t *len)
{
    /* Compact: never a newline, so the output is one SSE data line / stdio line. Like
     * json_dumps(v, JSON_COMPACT): only an object or an array is a document. */
    if (len != NULL) {
        *len = 0;
    }
    if (!json_is_object(v) && !json_is_array(v)) {
        return NULL;
    }
    jout o = {NULL, 0, 0, false};
    jout_value(&o, v, 0);
    if (o.bad || !jout_room(&o, 0)) {
        free(o.p);
        return NULL;
    }
    o.p[o.len] = '\0';
    if (len != NULL) {
        *len = o.len;
    }
    return o.p;
}
