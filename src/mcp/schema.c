/*
 * The JSON Schema subset that MCP tool schemas use (MCP 2025-11-25 Basic §4.1; JSON Schema
 * 2020-12 Validation §6): type (incl. "integer"), properties, required, enum, const, items,
 * additionalProperties, minimum/maximum, exclusiveMinimum/exclusiveMaximum, minLength/
 * maxLength (in code points), minItems/maxItems. Every other keyword passes through
 * unchecked: a tool schema is advisory to the client and this check protects handlers from
 * the shapes they declared, nothing more.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mcp/mcp_internal.h"

#define SCHEMA_MAX_DEPTH DMCP_MAX_JSON_DEPTH

typedef struct check_state {
    char *msg;
    size_t msg_len;
    char path[256];
} check_state;

static bool fail(check_state *st, const char *what)
{
    snprintf(st->msg, st->msg_len, "%s%s%s", st->path[0] != '\0' ? st->path : "arguments",
             st->path[0] != '\0' ? ": " : ": ", what);
    return false;
}

static bool type_matches(const char *type, const json_t *v)
{
    if (strcmp(type, "object") == 0) {
        return json_is_object(v);
    }
    if (strcmp(type, "array") == 0) {
        return json_is_array(v);
    }
    if (strcmp(type, "string") == 0) {
        return json_is_string(v);
    }
    if (strcmp(type, "boolean") == 0) {
        return json_is_boolean(v);
    }
    if (strcmp(type, "null") == 0) {
        return json_is_null(v);
    }
    if (strcmp(type, "number") == 0) {
        return json_is_number(v);
    }
    if (strcmp(type, "integer") == 0) {
        /* 2020-12 §6.1.1: a number with zero fractional part is an integer (1.0 counts). */
        if (json_is_integer(v)) {
            return true;
        }
        if (json_is_real(v)) {
            double d = json_real_value(v);
            return isfinite(d) && floor(d) == d;
        }
        return false;
    }
    return true; /* unknown type names are not ours to judge */
}

static bool check_type(check_state *st, const json_t *type, const json_t *v)
{
    if (json_is_string(type)) {
        if (!type_matches(json_string_value(type), v)) {
            char m[96];
            snprintf(m, sizeof(m), "expected %s", json_string_value(type));
            return fail(st, m);
        }
        return true;
    }
    if (json_is_array(type)) {
        size_t i;
        const json_t *t;
        json_array_foreach(type, i, t)
        {
            if (json_is_string(t) && type_matches(json_string_value(t), v)) {
                return true;
            }
        }
        return fail(st, "value has none of the allowed types");
    }
    return true;
}

/* Code points in a valid UTF-8 string (jansson guarantees validity). */
static size_t utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            count++;
        }
    }
    return count;
}

static bool num_kw(const json_t *schema, const char *kw, double *out)
{
    const json_t *k = json_object_get(schema, kw);
    if (!json_is_number(k)) {
        return false;
    }
    *out = json_number_value(k);
    return true;
}

static bool check_number(check_state *st, const json_t *schema, const json_t *v)
{
    double d = json_number_value(v), lim;
    if (num_kw(schema, "minimum", &lim) && d < lim) {
        return fail(st, "below minimum");
    }
    if (num_kw(schema, "maximum", &lim) && d > lim) {
        return fail(st, "above maximum");
    }
    if (num_kw(schema, "exclusiveMinimum", &lim) && d <= lim) {
        return fail(st, "not above exclusiveMinimum");
    }
    if (num_kw(schema, "exclusiveMaximum", &lim) && d >= lim) {
        return fail(st, "not below exclusiveMaximum");
    }
    return true;
}

static bool count_kw(const json_t *schema, const char *kw, json_int_t *out)
{
    const json_t *k = json_object_get(schema, kw);
    if (!json_is_integer(k) || json_integer_value(k) < 0) {
        return false;
    }
    *out = json_integer_value(k);
    return true;
}

static bool check(check_state *st, const json_t *schema, const json_t *v, int depth);

static bool check_child(check_state *st, const json_t *schema, const json_t *v, int depth,
                        const char *key, size_t index, bool is_index)
{
    size_t saved = strlen(st->path);
    size_t room = sizeof(st->path) - saved;
    if (is_index) {
        snprintf(st->path + saved, room, "%s[%zu]", saved == 0 ? "arguments" : "", index);
    } else {
        /* As snprintf("%s%s") would write (truncated to the room), on every property of every
         * call: a plain copy instead of the format machinery. */
        char *o = st->path + saved;
        size_t left = room - 1;
        if (saved != 0 && left > 0) {
            *o++ = '.';
            left--;
        }
        size_t klen = strnlen(key, left);
        memcpy(o, key, klen);
        o[klen] = '\0';
    }
    bool ok = check(st, schema, v, depth + 1);
    if (ok) {
        st->path[saved] = '\0';
    }
    return ok;
}

static bool check_object(check_state *st, const json_t *schema, const json_t *v, int depth)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *req = json_object_get(schema, "required");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    if (json_is_array(req)) {
        size_t i;
        const json_t *r;
        json_array_foreach(req, i, r)
        {
            if (json_is_string(r) && json_object_get(v, json_string_value(r)) == NULL) {
                char m[160];
                snprintf(m, sizeof(m), "missing required property \"%.100s\"",
                         json_string_value(r));
                return fail(st, m);
            }
        }
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        const json_t *ps = json_is_object(props) ? json_object_get(props, key) : NULL;
        if (ps != NULL) {
            if (!check_child(st, ps, val, depth, key, 0, false)) {
                return false;
            }
            continue;
        }
        if (json_is_false(addl)) {
            char m[160];
            snprintf(m, sizeof(m), "unexpected property \"%.100s\"", key);
            return fail(st, m);
        }
        if (json_is_object(addl) && !check_child(st, addl, val, depth, key, 0, false)) {
            return false;
        }
    }
    return true;
}

static bool check_array(check_state *st, const json_t *schema, const json_t *v, int depth)
{
    json_int_t n;
    size_t len = json_array_size(v);
    if (count_kw(schema, "minItems", &n) && (json_int_t)len < n) {
        return fail(st, "too few items");
    }
    if (count_kw(schema, "maxItems", &n) && (json_int_t)len > n) {
        return fail(st, "too many items");
    }
    const json_t *items = json_object_get(schema, "items");
    if (json_is_object(items)) {
        size_t i;
        const json_t *it;
        json_array_foreach(v, i, it)
        {
            if (!check_child(st, items, it, depth, NULL, i, true)) {
                return false;
            }
        }
    }
    return true;
}

static bool check(check_state *st, const json_t *schema, const json_t *v, int depth)
{
    if (depth > SCHEMA_MAX_DEPTH) {
        return fail(st, "nested too deeply");
    }
    if (json_is_true(schema)) {
        return true;
    }
    if (json_is_false(schema)) {
        return fail(st, "no value allowed");
    }
    if (!json_is_object(schema)) {
        return true;
    }
    const json_t *type = json_object_get(schema, "type");
    if (type != NULL && !check_type(st, type, v)) {
        return false;
    }
    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        bool found = false;
        size_t i;
        const json_t *e;
        json_array_foreach(en, i, e)
        {
            if (json_equal(e, v)) {
                found = true;
                break;
            }
        }
        if (!found) {
            return fail(st, "value is not one of the allowed values");
        }
    }
    const json_t *cst = json_object_get(schema, "const");
    if (cst != NULL && !json_equal(cst, v)) {
        return fail(st, "value is not the required constant");
    }
    if (json_is_number(v) && !check_number(st, schema, v)) {
        return false;
    }
    if (json_is_string(v)) {
        json_int_t n;
        size_t cps = utf8_len(json_string_value(v), json_string_length(v));
        if (count_kw(schema, "minLength", &n) && (json_int_t)cps < n) {
            return fail(st, "string too short");
        }
        if (count_kw(schema, "maxLength", &n) && (json_int_t)cps > n) {
            return fail(st, "string too long");
        }
    }
    if (json_is_object(v)) {
        return check_object(st, schema, v, depth);
    }
    if (json_is_array(v)) {
        return check_array(st, schema, v, depth);
    }
    return true;
}

bool dmcp__schema_check(const json_t *schema, const json_t *value, char *msg, size_t msg_len)
{
    check_state st;
    st.msg = msg;
    st.msg_len = msg_len;
    st.path[0] = '\0';
    if (msg_len > 0) {
        msg[0] = '\0';
    }
    return check(&st, schema, value, 0);
}

bool dmcp__schema_is_object_schema(const json_t *schema)
{
    const json_t *t = json_object_get(schema, "type");
    return json_is_object(schema) && json_is_string(t) &&
           strcmp(json_string_value(t), "object") == 0;
}
