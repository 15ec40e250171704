/* jsonlite's second product: a jansson tree (dmcp__jl_load), strict like the flat parser and
 * built in one pass; used for MCP messages and token claims. */
#include <stddef.h>
#include <stdlib.h>

#include "jsonlite_lex.h"

static json_t *build_value(jl *j, unsigned depth);

static json_t *nomem_null(jl *j)
{
    fail(j, DMCP__JL_ENOMEM);
    return NULL;
}

static json_t *build_string(jl *j)
{
    dmcp__jl_str s;
    if (!dmcp__jl_lex_string(j, &s)) {
        return NULL;
    }
    json_t *v = json_stringn(s.s, s.len);
    return v != NULL ? v : nomem_null(j);
}

static json_t *build_number(jl *j)
{
    const unsigned char *start = j->p;
    dmcp__jl_type type;
    int64_t iv;
    double dv;
    if (!dmcp__jl_lex_number(j, &type, &iv, &dv)) {
        return NULL;
    }
    if (type == DMCP__JL_INT) {
        json_t *v = json_integer((json_int_t)iv);
        return v != NULL ? v : nomem_null(j);
    }
    /* Reals (rare in MCP messages) go through jansson itself: its conversion, locale
     * handling included, exactly; the grammar and the overflow check were applied above. */
    json_error_t e;
    json_t *v = json_loadb((const char *)start, (size_t)(j->p - start), JSON_DECODE_ANY, &e);
    if (!json_is_real(v)) {
        json_decref(v);
        fail(j, DMCP__JL_ESYNTAX);
        return NULL;
    }
    return v;
}

static json_t *build_object(jl *j, unsigned depth)
{
    j->p++; /* '{' */
    json_t *o = json_object();
    if (o == NULL) {
        return nomem_null(j);
    }
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return o;
    }
    for (;;) {
        skip_ws(j);
        dmcp__jl_str k;
        if (j->p >= j->end || *j->p != '"' || !dmcp__jl_lex_string(j, &k)) {
            fail(j, DMCP__JL_ESYNTAX);
            break;
        }
        /* JSON_REJECT_DUPLICATES: the same key twice is an error, at every depth. */
        if (json_object_getn(o, k.s, k.len) != NULL) {
            fail(j, DMCP__JL_EDUP);
            break;
        }
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':') {
            fail(j, DMCP__JL_ESYNTAX);
            break;
        }
        j->p++;
        skip_ws(j);
        json_t *v = build_value(j, depth);
        if (v == NULL) {
            break;
        }
        if (json_object_setn_new(o, k.s, k.len, v) != 0) {
            fail(j, DMCP__JL_ENOMEM);
            break;
        }
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return o;
        }
        fail(j, DMCP__JL_ESYNTAX);
        break;
    }
    json_decref(o);
    return NULL;
}

static json_t *build_array(jl *j, unsigned depth)
{
    j->p++; /* '[' */
    json_t *a = json_array();
    if (a == NULL) {
        return nomem_null(j);
    }
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return a;
    }
    for (;;) {
        skip_ws(j);
        json_t *v = build_value(j, depth);
        if (v == NULL) {
            break;
        }
        if (json_array_append_new(a, v) != 0) {
            fail(j, DMCP__JL_ENOMEM);
            break;
        }
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return a;
        }
        fail(j, DMCP__JL_ESYNTAX);
        break;
    }
    json_decref(a);
    return NULL;
}

/* depth: containers enclosing this value. */
static json_t *build_value(jl *j, unsigned depth)
{
    if (j->p >= j->end) {
        fail(j, DMCP__JL_ESYNTAX);
        return NULL;
    }
    switch (*j->p) {
    case '{':
    case '[':
        if (depth + 1 > DMCP__JL_MAX_DEPTH) {
            fail(j, DMCP__JL_EDEPTH);
            return NULL;
        }
        return *j->p == '{' ? build_object(j, depth + 1) : build_array(j, depth + 1);
    case '"':
        return build_string(j);
    case 't':
        return lit(j, "true", 4) ? json_true() : NULL;
    case 'f':
        return lit(j, "false", 5) ? json_false() : NULL;
    case 'n':
        return lit(j, "null", 4) ? json_null() : NULL;
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
            return build_number(j);
        }
        fail(j, DMCP__JL_ESYNTAX);
        return NULL;
    }
}

dmcp__jl_error dmcp__jl_load(const unsigned char *in, size_t len, json_t **out)
{
    *out = NULL;
    jl j; /* only p, end, arena and err are used by the builders */
    memset(&j, 0, offsetof(jl, keys_inline));
    j.p = in;
    j.end = in + len;
    j.err = DMCP__JL_OK;
    j.arena = malloc(len + 1);
    if (j.arena == NULL) {
        return DMCP__JL_ENOMEM;
    }
    skip_ws(&j);
    json_t *v = build_value(&j, 0);
    if (v != NULL) {
        skip_ws(&j);
        if (j.p != j.end) {
            fail(&j, DMCP__JL_ESYNTAX); /* trailing bytes */
        }
    }
    free(j.arena);
    if (j.err != DMCP__JL_OK || v == NULL) {
        json_decref(v);
        return j.err != DMCP__JL_OK ? j.err : DMCP__JL_ESYNTAX;
    }
    *out = v;
    return DMCP__JL_OK;
}
