/*
 * The gateway's configuration document (docs/gateway.md "Configuration"): parsed strictly
 * (unknown keys, wrong types, oversized values are errors), bounded in every dimension.
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw_internal.h"

#define MAX_STR 4096
#define MAX_SCOPES 64
#define MAX_HEADERS 32
#define MAX_ARGV 256

__attribute__((format(printf, 2, 3))) static dmcp_status bad(dmcp_error *err, const char *fmt,
                                                              ...)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        err->status = DMCP_E_CONFIG;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return DMCP_E_CONFIG;
}

static bool only_keys(const json_t *o, const char *const *keys, const char **unknown)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool known = false;
        for (size_t i = 0; keys[i] != NULL && !known; i++) {
            known = strcmp(keys[i], k) == 0;
        }
        if (!known) {
            *unknown = k;
            return false;
        }
    }
    return true;
}

/* A printable string without CR/LF of 1..MAX_STR bytes (copied to *out), or absent. */
static bool str_of(const json_t *o, const char *key, char **out, bool *present)
{
    const json_t *v = json_object_get(o, key);
    *present = v != NULL && !json_is_null(v);
    if (!*present) {
        return true;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > MAX_STR) {
        return false;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || strpbrk(s, "\r\n") != NULL) {
        return false; /* embedded NUL, or a header-breaking character */
    }
    free(*out);
    *out = strdup(s);
    return *out != NULL;
}

static bool is_token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool header_name_ok(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 128) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!is_token_char(*s)) {
            return false;
        }
    }
    return true;
}

/* An array of 0..max strings (RFC 6749 scope tokens when scopes is set). */
static bool str_array(const json_t *v, size_t max, bool scopes, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(v) || json_array_size(v) > max) {
        return false;
    }
    char **a = calloc(json_array_size(v) + 1, sizeof(*a));
    if (a == NULL) {
        return false;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        bool ok = s != NULL && *s != '\0' && strlen(s) == json_string_length(e) &&
                  strlen(s) <= MAX_STR && strpbrk(s, "\r\n") == NULL;
        for (const char *c = s; ok && scopes && *c != '\0'; c++) {
            ok = *c == 0x21 || (*c >= 0x23 && *c <= 0x5B) || (*c >= 0x5D && *c <= 0x7E);
        }
        if (!ok || (a[i] = strdup(s)) == NULL) {
            for (size_t k = 0; k < i; k++) {
                free(a[k]);
            }
            free(a);
            return false;
        }
    }
    *out = a;
    *n = json_array_size(v);
    return true;
}

static void free_strs(char **a, size_t n)
{
    for (size_t i = 0; a != NULL && i < n; i++) {
        free(a[i]);
    }
    free(a);
}

static bool name_ok(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 32) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_')) {
            return false;
        }
    }
    return true;
}

static dmcp_status parse_upstream(gw_config *c, const json_t *u, size_t idx, dmcp_error *err)
{
    static const char *const keys[] = {"name",    "prefix",       "url",
                                       "command", "headers",      "max_children",
                                       "idle_seconds", NULL};
    const char *unk = NULL;
    if (!json_is_object(u)) {
        return bad(err, "upstreams[%zu] must be an object", idx);
    }
    if (!only_keys(u, keys, &unk)) {
        return bad(err, "upstreams[%zu]: unknown key \"%.64s\"", idx, unk);
    }
    gw_upcfg *up = &c->ups[idx];
    bool p_name, p_prefix, p_url;
    if (!str_of(u, "name", &up->name, &p_name) || (p_name && !name_ok(up->name))) {
        return bad(err, "upstreams[%zu].name must be 1-32 of [A-Za-z0-9_-]", idx);
    }
    if (!p_name) {
        char def[32];
        snprintf(def, sizeof(def), idx == 0 ? "upstream" : "upstream%zu", idx);
        up->name = strdup(def);
    }
    if (!str_of(u, "prefix", &up->prefix, &p_prefix) || (p_prefix && strlen(up->prefix) > 32)) {
        return bad(err, "upstreams[%zu].prefix must be a string of at most 32 bytes", idx);
    }
    if (!str_of(u, "url", &up->url, &p_url)) {
        return bad(err, "upstreams[%zu].url must be a URL string", idx);
    }
    const json_t *cmd = json_object_get(u, "command");
    if (cmd != NULL) {
        size_t n;
        if (!str_array(cmd, MAX_ARGV, false, &up->command, &n) || n == 0) {
            return bad(err, "upstreams[%zu].command must be a non-empty array of strings", idx);
        }
    }
    if ((up->url != NULL) == (up->command != NULL)) {
        return bad(err, "upstreams[%zu] needs exactly one of url and command", idx);
    }
    static const char *const nkeys[] = {"max_children", "idle_seconds"};
    unsigned *nslots[] = {&up->max_children, &up->idle_seconds};
    static const json_int_t nmax[] = {100000, 86400};
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(u, nkeys[i]);
        if (v == NULL) {
            continue;
        }
        if (up->command == NULL) {
            return bad(err, "upstreams[%zu].%s applies to stdio (command) upstreams only", idx,
                       nkeys[i]);
        }
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > nmax[i]) {
            return bad(err, "upstreams[%zu].%s must be an integer 1..%d", idx, nkeys[i],
                       (int)nmax[i]);
        }
        *nslots[i] = (unsigned)json_integer_value(v);
    }
    if (up->url != NULL && strncmp(up->url, "http://", 7) != 0 &&
        strncmp(up->url, "https://", 8) != 0) {
        return bad(err, "upstreams[%zu].url must be http(s)://HOST/PATH", idx);
    }
    const json_t *h = json_object_get(u, "headers");
    if (h != NULL) {
        if (!json_is_object(h) || json_object_size(h) > MAX_HEADERS) {
            return bad(err, "upstreams[%zu].headers must be an object of at most %d strings", idx,
                       MAX_HEADERS);
        }
        up->headers = calloc(json_object_size(h) + 1, sizeof(*up->headers));
        if (up->headers == NULL) {
            return bad(err, "out of memory");
        }
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)h, k, v)
        {
            const char *s = json_string_value(v);
            if (!header_name_ok(k) || s == NULL || strlen(s) != json_string_length(v) ||
                strlen(s) > MAX_STR || strpbrk(s, "\r\n") != NULL) {
                return bad(err, "upstreams[%zu].headers: \"%.64s\" is not a valid header", idx, k);
            }
            up->headers[up->n_headers].name = strdup(k);
            up->headers[up->n_headers].value = strdup(s);
            up->n_headers++;
        }
    }
    return DMCP_OK;
}

static dmcp_status parse_auth(gw_config *c, const json_t *a, dmcp_error *err)
{
    static const char *const keys[] = {"well_known_url", "mcp_server_url", "required_scopes",
                                       "tool_scope_mode", "descope_api_base", NULL};
    const char *unk = NULL;
    if (!json_is_object(a)) {
        return bad(err, "auth must be an object");
    }
    if (!only_keys(a, keys, &unk)) {
        return bad(err, "auth: unknown key \"%.64s\"", unk);
    }
    bool p;
    char *mode = NULL;
    if (!str_of(a, "well_known_url", &c->well_known_url, &p) ||
        !str_of(a, "mcp_server_url", &c->mcp_server_url, &p) ||
        !str_of(a, "descope_api_base", &c->descope_api_base, &p)) {
        return bad(err, "auth: URLs must be strings");
    }
    if (!str_of(a, "tool_scope_mode", &mode, &p)) {
        return bad(err, "auth.tool_scope_mode must be \"http-403\" or \"tool-error\"");
    }
    if (mode != NULL) {
        bool ok = strcmp(mode, "http-403") == 0 || strcmp(mode, "tool-error") == 0;
        c->tool_error_mode = strcmp(mode, "tool-error") == 0;
        free(mode);
        if (!ok) {
            return bad(err, "auth.tool_scope_mode must be \"http-403\" or \"tool-error\"");
        }
    }
    const json_t *rs = json_object_get(a, "required_scopes");
    if (rs != NULL && !str_array(rs, MAX_SCOPES, true, &c->required_scopes, &c->n_required)) {
        return bad(err, "auth.required_scopes must be an array of scope tokens");
    }
    return DMCP_OK;
}

static dmcp_status parse_rules(gw_config *c, const json_t *r, dmcp_error *err)
{
    if (!json_is_array(r) || json_array_size(r) > GW_MAX_RULES) {
        return bad(err, "tools must be an array of at most %d rules", GW_MAX_RULES);
    }
    size_t i;
    const json_t *e;
    json_array_foreach(r, i, e)
    {
        static const char *const keys[] = {"match", "scopes", NULL};
        const char *unk = NULL;
        bool p;
        if (!json_is_object(e) || !only_keys(e, keys, &unk)) {
            return bad(err, "tools[%zu] must be {match, scopes}", i);
        }
        gw_rule *ru = &c->rules[c->n_rules++];
        if (!str_of(e, "match", &ru->glob, &p) || !p || strlen(ru->glob) > 256) {
            return bad(err, "tools[%zu].match must be a glob of at most 256 bytes", i);
        }
        if (!str_array(json_object_get(e, "scopes"), MAX_SCOPES, true, &ru->scopes, &ru->n)) {
            return bad(err, "tools[%zu].scopes must be an array of scope tokens", i);
        }
    }
    return DMCP_OK;
}

static dmcp_status parse_identity(gw_config *c, const json_t *o, dmcp_error *err)
{
    static const char *const keys[] = {"user", "client", "tenant", "scopes", NULL};
    const char *unk = NULL;
    if (!json_is_object(o) || !only_keys(o, keys, &unk)) {
        return bad(err, "identity_headers must be {user, client, tenant, scopes}");
    }
    char **slots[] = {&c->id_user, &c->id_client, &c->id_tenant, &c->id_scopes};
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = json_object_get(o, keys[i]);
        if (v == NULL) {
            continue;
        }
        free(*slots[i]);
        *slots[i] = NULL;
        if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
            continue; /* not sent */
        }
        const char *s = json_string_value(v);
        if (!header_name_ok(s) || strcasecmp(s, "authorization") == 0) {
            return bad(err, "identity_headers.%s must be a header name (not Authorization)",
                       keys[i]);
        }
        *slots[i] = strdup(s);
    }
    return DMCP_OK;
}

static dmcp_status parse_assertion(gw_config *c, const json_t *o, dmcp_error *err)
{
    static const char *const keys[] = {"header", "key_file", "ttl_seconds", "jwks_path", NULL};
    const char *unk = NULL;
    bool p;
    if (!json_is_object(o) || !only_keys(o, keys, &unk)) {
        return bad(err, "assertion must be {header?, key_file?, ttl_seconds?, jwks_path?}");
    }
    if (!str_of(o, "header", &c->as_header, &p) || !str_of(o, "key_file", &c->as_key_file, &p) ||
        !str_of(o, "jwks_path", &c->as_jwks_path, &p)) {
        return bad(err, "assertion.header, key_file and jwks_path must be strings");
    }
    if (c->as_header == NULL) {
        c->as_header = strdup("X-MCP-Assertion");
    }
    if (c->as_jwks_path == NULL) {
        c->as_jwks_path = strdup("/.well-known/jwks.json");
    }
    if (c->as_header == NULL || c->as_jwks_path == NULL) {
        return bad(err, "out of memory");
    }
    if (!header_name_ok(c->as_header)) {
        return bad(err, "assertion.header must be a header name");
    }
    if (c->as_key_file != NULL && c->as_key_file[0] == '\0') {
        return bad(err, "assertion.key_file must be a path (or absent for a generated key)");
    }
    const char *jp = c->as_jwks_path;
    if (jp[0] != '/' || strlen(jp) > 256 || strpbrk(jp, "?#") != NULL ||
        strncmp(jp, "/.well-known/oauth-protected-resource",
                strlen("/.well-known/oauth-protected-resource")) == 0 ||
        strcmp(jp, "/healthz") == 0 || strcmp(jp, "/readyz") == 0 ||
        strcmp(jp, c->endpoint != NULL ? c->endpoint : "/mcp") == 0) {
        return bad(err, "assertion.jwks_path must be a path of its own (not the MCP endpoint, "
                        "the protected resource metadata or a health probe)");
    }
    c->as_ttl = 60;
    const json_t *v = json_object_get(o, "ttl_seconds");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 3600) {
            return bad(err, "assertion.ttl_seconds must be 1..3600");
        }
        c->as_ttl = (unsigned)json_integer_value(v);
    }
    const char *ids[] = {c->id_user, c->id_client, c->id_tenant, c->id_scopes};
    for (size_t i = 0; i < 4; i++) {
        if (ids[i] != NULL && strcasecmp(ids[i], c->as_header) == 0) {
            return bad(err, "assertion.header %s is also an identity header", c->as_header);
        }
    }
    for (size_t i = 0; i < c->n_conns; i++) {
        if (strcasecmp(c->conns[i].header, c->as_header) == 0) {
            return bad(err, "assertion.header %s is also a connection-token header", c->as_header);
        }
    }
    /* The caller's token never goes upstream; neither may a static header claim the slot. */
    for (size_t i = 0; i < c->n_ups; i++) {
        for (size_t k = 0; k < c->ups[i].n_headers; k++) {
            if (strcasecmp(c->ups[i].headers[k].name, c->as_header) == 0) {
                return bad(err, "upstream %s sets the header %s that assertion.header names",
                           c->ups[i].name, c->as_header);
            }
        }
    }
    return DMCP_OK;
}

static dmcp_status parse_connections(gw_config *c, const json_t *a, dmcp_error *err)
{
    if (!json_is_array(a) || json_array_size(a) > GW_MAX_CONNECTIONS) {
        return bad(err, "connections must be an array of at most %d entries", GW_MAX_CONNECTIONS);
    }
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    {
        static const char *const keys[] = {"app", "header", "scopes", "upstream", NULL};
        const char *unk = NULL;
        bool p1, p2, p3;
        if (!json_is_object(e) || !only_keys(e, keys, &unk)) {
            return bad(err, "connections[%zu] must be {app, header, scopes?, upstream?}", i);
        }
        gw_conn *k = &c->conns[c->n_conns++];
        if (!str_of(e, "app", &k->app, &p1) || !p1 || !str_of(e, "header", &k->header, &p2) ||
            !p2 || !header_name_ok(k->header) || strcasecmp(k->header, "authorization") == 0 ||
            !str_of(e, "upstream", &k->upstream, &p3)) {
            return bad(err, "connections[%zu] needs app and a header name (not Authorization)", i);
        }
        const json_t *s = json_object_get(e, "scopes");
        if (s != NULL && !str_array(s, MAX_SCOPES, false, &k->scopes, &k->n)) {
            return bad(err, "connections[%zu].scopes must be an array of strings", i);
        }
    }
    return DMCP_OK;
}

static dmcp_status parse_timeouts(gw_config *c, const json_t *t, dmcp_error *err)
{
    static const char *const keys[] = {"connect_ms", "request_ms", NULL};
    const char *unk = NULL;
    if (!json_is_object(t) || !only_keys(t, keys, &unk)) {
        return bad(err, "timeouts must be {connect_ms, request_ms}");
    }
    unsigned *slots[] = {&c->connect_timeout_ms, &c->request_timeout_ms};
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(t, keys[i]);
        if (v == NULL) {
            continue;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > 3600 * 1000) {
            return bad(err, "timeouts.%s must be 1..3600000", keys[i]);
        }
        *slots[i] = (unsigned)json_integer_value(v);
    }
    return DMCP_OK;
}

static dmcp_status add_option(gw_config *c, const char *name, const char *value)
{
    json_t *pair = json_pack("[s,s]", name, value);
    if (pair == NULL || json_array_append_new(c->server_options, pair) != 0) {
        return DMCP_E_NOMEM;
    }
    return DMCP_OK;
}

static dmcp_status parse_ops(gw_config *c, const json_t *doc, dmcp_error *err)
{
    const json_t *lim = json_object_get(doc, "limits");
    if (lim != NULL) {
        if (!json_is_object(lim) || json_object_size(lim) > 64) {
            return bad(err, "limits must be an object NAME: number");
        }
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)lim, k, v)
        {
            char buf[160];
            if (!json_is_number(v) || json_number_value(v) < 0 || strlen(k) > 64) {
                return bad(err, "limits.%.64s must be a non-negative number", k);
            }
            snprintf(buf, sizeof(buf), "%s=%.17g", k, json_number_value(v));
            if (add_option(c, "limit", buf) != DMCP_OK) {
                return bad(err, "out of memory");
            }
        }
    }
    static const char *const ops[][2] = {{"access_log", "access-log"},
                                         {"log_level", "log-level"},
                                         {"metrics_listen", "metrics-listen"}};
    for (size_t i = 0; i < 3; i++) {
        const json_t *v = json_object_get(doc, ops[i][0]);
        if (v == NULL) {
            continue;
        }
        if (!json_is_string(v) || json_string_length(v) > MAX_STR) {
            return bad(err, "%s must be a string", ops[i][0]);
        }
        if (add_option(c, ops[i][1], json_string_value(v)) != DMCP_OK) {
            return bad(err, "out of memory");
        }
    }
    return DMCP_OK;
}

dmcp_status gw_config_parse(const json_t *doc, gw_config **out, dmcp_error *err)
{
    static const char *const keys[] = {
        "listen",   "endpoint",       "auth",  "upstreams", "tools",      "filter_list",
        "identity_headers", "assertion", "connections", "timeouts", "limits", "stream",
        "access_log", "log_level", "metrics_listen", "upstream_log", "store", "store_prefix",
        NULL};
    *out = NULL;
    const char *unk = NULL;
    if (!json_is_object(doc)) {
        return bad(err, "the configuration must be a JSON object");
    }
    if (!only_keys(doc, keys, &unk)) {
        return bad(err, "unknown configuration key \"%.64s\"", unk);
    }
    gw_config *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->server_options = json_array()) == NULL) {
        free(c);
        return bad(err, "out of memory");
    }
    c->stream = true;
    c->id_user = strdup("X-MCP-User-Id");
    c->id_client = strdup("X-MCP-Client-Id");
    c->id_tenant = strdup("X-MCP-Tenant-Id");
    c->id_scopes = strdup("X-MCP-Scopes");
    dmcp_status st = DMCP_OK;
    bool p;
    if (!str_of(doc, "listen", &c->listen, &p) || !str_of(doc, "endpoint", &c->endpoint, &p)) {
        st = bad(err, "listen and endpoint must be strings");
    }
    if (st == DMCP_OK && (!str_of(doc, "store", &c->store_url, &p) ||
                          !str_of(doc, "store_prefix", &c->store_prefix, &p))) {
        st = bad(err, "store and store_prefix must be strings");
    }
    const json_t *v;
    if (st == DMCP_OK && (v = json_object_get(doc, "auth")) != NULL) {
        st = parse_auth(c, v, err);
    }
    const json_t *ups = json_object_get(doc, "upstreams");
    if (st == DMCP_OK && (!json_is_array(ups) || json_array_size(ups) == 0 ||
                          json_array_size(ups) > GW_MAX_UPSTREAMS)) {
        st = bad(err, "upstreams must be an array of 1..%d upstreams", GW_MAX_UPSTREAMS);
    }
    for (size_t i = 0; st == DMCP_OK && i < json_array_size(ups); i++) {
        c->n_ups = i + 1;
        st = parse_upstream(c, json_array_get(ups, i), i, err);
    }
    /* Prefixes: none for a single upstream unless given; name + "__" otherwise; unique. */
    for (size_t i = 0; st == DMCP_OK && i < c->n_ups; i++) {
        gw_upcfg *u = &c->ups[i];
        if (u->prefix == NULL) {
            char pre[40];
            snprintf(pre, sizeof(pre), "%s__", u->name);
            u->prefix = strdup(c->n_ups == 1 ? "" : pre);
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(c->ups[k].name, u->name) == 0 ||
                (c->n_ups > 1 && (strncmp(c->ups[k].prefix, u->prefix, strlen(u->prefix)) == 0 ||
                                  strncmp(u->prefix, c->ups[k].prefix,
                                          strlen(c->ups[k].prefix)) == 0))) {
                st = bad(err, "upstreams %zu and %zu have the same name or overlapping prefixes",
                         k, i);
            }
        }
    }
    if (st == DMCP_OK && (v = json_object_get(doc, "tools")) != NULL) {
        st = parse_rules(c, v, err);
    }
    if (st == DMCP_OK && (v = json_object_get(doc, "filter_list")) != NULL) {
        if (!json_is_boolean(v)) {
            st = bad(err, "filter_list must be true or false");
        }
        c->filter_list = json_is_true(v);
    }
    if (st == DMCP_OK && (v = json_object_get(doc, "stream")) != NULL) {
        if (!json_is_boolean(v)) {
            st = bad(err, "stream must be true or false");
        }
        c->stream = json_is_true(v);
    }
    if (st == DMCP_OK && (v = json_object_get(doc, "upstream_log")) != NULL) {
        if (!json_is_boolean(v)) {
            st = bad(err, "upstream_log must be true or false");
        }
        c->upstream_log = json_is_true(v);
    }
    if (st == DMCP_OK && (v = json_object_get(doc, "identity_headers")) != NULL) {
        st = parse_identity(c, v, err);
    }
    if (st == DMCP_OK && (v = json_object_get(doc, "connections")) != NULL) {
        st = parse_connections(c, v, err);
    }
    if (st == DMCP_OK && (v = json_object_get(doc, "assertion")) != NULL) {
        st = parse_assertion(c, v, err); /* after upstreams: it checks their static headers */
    }
    for (size_t i = 0; st == DMCP_OK && i < c->n_conns; i++) {
        bool found = c->conns[i].upstream == NULL;
        for (size_t k = 0; !found && k < c->n_ups; k++) {
            found = strcmp(c->ups[k].name, c->conns[i].upstream) == 0;
        }
        if (!found) {
            st = bad(err, "connections[%zu].upstream names no upstream", i);
        }
    }
    if (st == DMCP_OK && (v = json_object_get(doc, "timeouts")) != NULL) {
        st = parse_timeouts(c, v, err);
    }
    if (st == DMCP_OK) {
        st = parse_ops(c, doc, err);
    }
    if (st == DMCP_OK && (c->well_known_url == NULL || c->mcp_server_url == NULL)) {
        st = bad(err, "auth.well_known_url and auth.mcp_server_url are required");
    }
    if (st != DMCP_OK) {
        gw_config_free(c);
        return st;
    }
    *out = c;
    return DMCP_OK;
}

void gw_config_free(gw_config *c)
{
    if (c == NULL) {
        return;
    }
    free(c->listen);
    free(c->endpoint);
    free(c->well_known_url);
    free(c->mcp_server_url);
    free(c->descope_api_base);
    free(c->store_url);
    free(c->store_prefix);
    free(c->as_header);
    free(c->as_key_file);
    free(c->as_jwks_path);
    free_strs(c->required_scopes, c->n_required);
    for (size_t i = 0; i < c->n_ups; i++) {
        gw_upcfg *u = &c->ups[i];
        free(u->name);
        free(u->prefix);
        free(u->url);
        for (size_t k = 0; u->command != NULL && u->command[k] != NULL; k++) {
            free(u->command[k]);
        }
        free(u->command);
        for (size_t k = 0; k < u->n_headers; k++) {
            free((char *)u->headers[k].name);
            free((char *)u->headers[k].value);
        }
        free(u->headers);
    }
    for (size_t i = 0; i < c->n_rules; i++) {
        free(c->rules[i].glob);
        free_strs(c->rules[i].scopes, c->rules[i].n);
    }
    for (size_t i = 0; i < c->n_conns; i++) {
        free(c->conns[i].app);
        free(c->conns[i].header);
        free(c->conns[i].upstream);
        free_strs(c->conns[i].scopes, c->conns[i].n);
    }
    free(c->id_user);
    free(c->id_client);
    free(c->id_tenant);
    free(c->id_scopes);
    json_decref(c->server_options);
    free(c);
}

size_t gw_config_tool_scopes(const gw_config *c, const char *tool, const char *const **scopes)
{
    *scopes = NULL;
    for (size_t i = 0; tool != NULL && i < c->n_rules; i++) {
        if (fnmatch(c->rules[i].glob, tool, 0) == 0) {
            *scopes = (const char *const *)c->rules[i].scopes;
            return c->rules[i].n;
        }
    }
    return 0;
}
