/*
 * RFC 6570 level-1 URI templates for resource templates: the variable names of a template and
 * matching a URI against it (percent-decoded values). Size-capped: a template or URI of at
 * most DMCP__MAX_URI bytes, at most 16 variables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

#define MAX_TEMPLATE_VARS 16

json_t *dmcp__uri_template_vars(const char *tmpl)
{
    if (tmpl == NULL || strlen(tmpl) > DMCP__MAX_URI) {
        return NULL;
    }
    json_t *vars = json_array();
    if (vars == NULL) {
        return NULL;
    }
    const char *p = tmpl;
    bool prev_var = false;
    while (*p != '\0') {
        if (*p == '}') {
            goto bad;
        }
        if (*p != '{') {
            p++;
            prev_var = false;
            continue;
        }
        /* Adjacent expressions ("{a}{b}") cannot be split unambiguously: refused. */
        if (prev_var) {
            goto bad;
        }
        const char *start = ++p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '_') {
            p++;
        }
        /* Level 1 only: no operators (+#./;?&), modifiers (:n, *) or lists. */
        if (*p != '}' || p == start || p - start > 64) {
            goto bad;
        }
        char name[65];
        memcpy(name, start, (size_t)(p - start));
        name[p - start] = '\0';
        size_t i;
        json_t *v;
        json_array_foreach(vars, i, v)
        {
            if (strcmp(json_string_value(v), name) == 0) {
                goto bad; /* a variable used twice would need both matches to agree */
            }
        }
        if (json_array_size(vars) >= MAX_TEMPLATE_VARS) {
            goto bad;
        }
        json_array_append_new(vars, json_string(name));
        p++;
        prev_var = true;
    }
    return vars;
bad:
    json_decref(vars);
    return NULL;
}

static int hexval(char c)
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

/* Percent-decodes [s, s+n) into a JSON string; NULL on a bad escape, NUL or bad UTF-8. */
static json_t *decode_value(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[k++] = s[i];
            continue;
        }
        if (n - i < 3) {
            free(out);
            return NULL;
        }
        int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
        if (a < 0 || b < 0 || (a == 0 && b == 0)) {
            free(out);
            return NULL;
        }
        out[k++] = (char)(a * 16 + b);
        i += 2;
    }
    json_t *v = json_stringn(out, k); /* NULL for invalid UTF-8 */
    free(out);
    return v;
}

json_t *dmcp__uri_template_match(const char *tmpl, const char *uri)
{
    json_t *vars = json_object();
    if (vars == NULL) {
        return NULL;
    }
    const char *t = tmpl, *u = uri;
    while (*t != '\0') {
        if (*t != '{') {
            if (*u != *t) {
                goto nomatch;
            }
            t++;
            u++;
            continue;
        }
        const char *close = strchr(t, '}');
        if (close == NULL) {
            goto nomatch;
        }
        char name[65];
        size_t nl = (size_t)(close - t - 1);
        if (nl == 0 || nl >= sizeof(name)) {
            goto nomatch;
        }
        memcpy(name, t + 1, nl);
        name[nl] = '\0';
        t = close + 1;
        /* The value runs to the next literal character of the template (or the end) and never
         * spans '/', '?' or '#' (simple expansion percent-encodes them). */
        char stop = *t;
        const char *start = u;
        while (*u != '\0' && *u != '/' && *u != '?' && *u != '#' && (stop == '\0' || *u != stop)) {
            u++;
        }
        if (u == start) {
            goto nomatch;
        }
        json_t *v = decode_value(start, (size_t)(u - start));
        if (v == NULL) {
            goto nomatch;
        }
        json_object_set_new(vars, name, v);
    }
    if (*u != '\0') {
        goto nomatch;
    }
    return vars;
nomatch:
    json_decref(vars);
    return NULL;
}
