/*
 * The glue: an authorizer (dmcp/server.h) built from a validator (dmcp/auth.h), answering the
 * way the MCP Authorization specification asks (mcp-resource-server.md, normative here):
 *
 *   route         RFC 9728 Protected Resource Metadata at the root and path-inserted URLs;
 *   authenticate  Authorization header -> 401 / 400 / 503 / 403 or a principal;
 *   authorize_tool per-tool scopes -> 403 step-up or an isError result.
 *
 * Everything derived from the configuration (canonical resource, PRM URL and document, the
 * constant challenges) is computed once at creation; the callbacks only read it, so they run
 * concurrently; the one mutable part, the principal cache (principal.c), locks per slot. Uses the
 * public runtime and auth APIs, curl_url() for URLs, and the validator's challenge-scope strategy
 * (auth_internal.h); nothing of the runtime's inside.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth_internal.h"
#include "glue/glue_internal.h"
#include "internal.h"
#include "url.h"

#include "dmcp/protect.h"

/* R15 (2026-07-28 Authorization §10): never in a challenge nor in scopes_supported. */
#define OFFLINE_ACCESS "offline_access"

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef struct scope_list {
    char **v;
    size_t n;
} scope_list;

struct dmcp_protect_options {
    char *resource;
    char *resource_name;
    scope_list required;
    scope_list supported;
    dmcp_tool_scope_mode mode;
    bool missing_token_error;
};

static void scope_list_free(scope_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static bool scope_list_has(const scope_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
static bool scope_token_valid(const char *s)
{
    size_t len = strnlen(s, DMCP_MAX_SCOPE_LEN + 1);
    if (len == 0 || len > DMCP_MAX_SCOPE_LEN) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E) {
            return false;
        }
    }
    return true;
}

/* Appends a copy of s unless already present. */
static dmcp_status scope_list_add(scope_list *l, const char *s)
{
    if (scope_list_has(l, s)) {
        return DMCP_OK;
    }
    if (l->n >= DMCP_MAX_SCOPES) {
        return DMCP_E_TOO_LARGE;
    }
    char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
    if (nv == NULL) {
        return DMCP_E_NOMEM;
    }
    l->v = nv;
    nv[l->n] = dmcp__strdup(s);
    if (nv[l->n] == NULL) {
        return DMCP_E_NOMEM;
    }
    l->n++;
    return DMCP_OK;
}

static dmcp_status scope_list_copy(scope_list *dst, const scope_list *src)
{
    for (size_t i = 0; i < src->n; i++) {
        dmcp_status st = scope_list_add(dst, src->v[i]);
        if (st != DMCP_OK) {
            return st;
        }
    }
    return DMCP_OK;
}

dmcp_status dmcp_protect_options_new(dmcp_protect_options **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? DMCP_OK : DMCP_E_NOMEM;
}

void dmcp_protect_options_free(dmcp_protect_options *o)
{
    if (o == NULL) {
        return;
    }
    free(o->resource);
    free(o->resource_name);
    scope_list_free(&o->required);
    scope_list_free(&o->supported);
    free(o);
}

static dmcp_status replace_str(char **slot, const char *s, size_t max)
{
    char *copy = NULL;
    if (s != NULL) {
        if (strnlen(s, max + 1) > max) {
            return DMCP_E_INVALID_ARG;
        }
        copy = dmcp__strdup(s);
        if (copy == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    free(*slot);
    *slot = copy;
    return DMCP_OK;
}

dmcp_status dmcp_protect_options_set_resource(dmcp_protect_options *o, const char *url)
{
    if (o == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    /* Checked (and canonicalised) by dmcp_protect_authorizer_new(), which reports why. */
    return replace_str(&o->resource, url, DMCP_MAX_URL_BYTES);
}

static dmcp_status add_scope_option(dmcp_protect_options *o, scope_list *l, const char *scope)
{
    if (o == NULL || scope == NULL || !scope_token_valid(scope)) {
        return DMCP_E_INVALID_ARG;
    }
    return scope_list_add(l, scope);
}

dmcp_status dmcp_protect_options_add_required_scope(dmcp_protect_options *o, const char *scope)
{
    return add_scope_option(o, o != NULL ? &o->required : NULL, scope);
}

dmcp_status dmcp_protect_options_add_supported_scope(dmcp_protect_options *o, const char *scope)
{
    return add_scope_option(o, o != NULL ? &o->supported : NULL, scope);
}

dmcp_status dmcp_protect_options_set_resource_name(dmcp_protect_options *o, const char *name)
{
    if (o == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    /* UTF-8 is checked when the PRM document is built (jansson refuses anything else). */
    return replace_str(&o->resource_name, name, 256);
}

dmcp_status dmcp_protect_options_set_tool_scope_mode(dmcp_protect_options *o,
                                                     dmcp_tool_scope_mode mode)
{
    if (o == NULL || (mode != DMCP_TOOL_SCOPE_HTTP_403 && mode != DMCP_TOOL_SCOPE_TOOL_ERROR)) {
        return DMCP_E_INVALID_ARG;
    }
    o->mode = mode;
    return DMCP_OK;
}

dmcp_status dmcp_protect_options_set_missing_token_error(dmcp_protect_options *o, bool enabled)
{
    if (o == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    o->missing_token_error = enabled;
    return DMCP_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* The authorizer                                                                           */
/* ---------------------------------------------------------------------------------------- */

typedef struct protect {
    dmcp_validator *v;  /* borrowed */
    char *resource;     /* canonical */
    char *metadata_url; /* path-inserted PRM URL: every challenge's resource_metadata */
    char *prm_path;     /* the path-inserted PRM path, as the HTTP server sees it */
    char *prm_json;     /* the PRM document */
    size_t prm_len;
    scope_list required;       /* server-wide */
    char *baseline;            /* scope= of 401 challenges, or NULL */
    char *no_token_challenge;  /* §5 rows 3-4 */
    char *malformed_challenge; /* §5 row 5 */
    dmcp_tool_scope_mode mode;
    dmcp_challenge_scope strategy;
    dmcp__pcache *principals; /* principal per verified token (principal.c) */
} protect;

static void protect_free(void *ud)
{
    protect *p = ud;
    if (p == NULL) {
        return;
    }
    free(p->resource);
    free(p->metadata_url);
    free(p->prm_path);
    free(p->prm_json);
    scope_list_free(&p->required);
    free(p->baseline);
    dmcp_free(p->no_token_challenge);
    dmcp_free(p->malformed_challenge);
    dmcp__pcache_free(p->principals);
    free(p);
}

/* Joins scopes with single spaces, without duplicates and without offline_access (R15).
 * NULL when nothing is left or out of memory. */
static char *join_scopes(const char *const *v, size_t n)
{
    dmcp__buf b;
    dmcp__buf_init(&b, DMCP_MAX_HEADER_BYTES);
    for (size_t i = 0; i < n; i++) {
        bool dup = strcmp(v[i], OFFLINE_ACCESS) == 0;
        for (size_t j = 0; j < i && !dup; j++) {
            dup = strcmp(v[i], v[j]) == 0;
        }
        if (dup) {
            continue;
        }
        if ((b.len > 0 && dmcp__buf_appends(&b, " ") != DMCP_OK) ||
            dmcp__buf_appends(&b, v[i]) != DMCP_OK) {
            dmcp__buf_free(&b);
            return NULL;
        }
    }
    return dmcp__buf_take(&b, NULL);
}

/*
 * scopes_supported (§2.1): the configured list, else the authorization server's plus the
 * required scopes; offline_access never (R15) and only valid scope tokens.
 */
static dmcp_status supported_scopes(const dmcp_validator *v, const dmcp_protect_options *o,
                                    scope_list *out)
{
    dmcp_status st = DMCP_OK;
    if (o->supported.n > 0) {
        st = scope_list_copy(out, &o->supported);
    } else {
        const json_t *as = dmcp_validator_scopes_supported(v);
        for (size_t i = 0; st == DMCP_OK && i < json_array_size(as); i++) {
            const char *s = json_string_value(json_array_get(as, i));
            if (s != NULL && scope_token_valid(s)) {
                st = scope_list_add(out, s);
            }
        }
        if (st == DMCP_OK) {
            st = scope_list_copy(out, &o->required);
        }
    }
    for (size_t i = 0; st == DMCP_OK && i < out->n; i++) {
        if (strcmp(out->v[i], OFFLINE_ACCESS) == 0) {
            free(out->v[i]);
            memmove(&out->v[i], &out->v[i + 1], (out->n - i - 1) * sizeof(out->v[0]));
            out->n--;
            break;
        }
    }
    return st;
}

/* The PRM document (RFC 9728 §2), fields in the order of mcp-resource-server.md §2.1. */
static dmcp_status build_prm(protect *p, const dmcp_protect_options *o, const scope_list *sup,
                             dmcp_error *err)
{
    json_t *doc = json_object();
    json_t *scopes = json_array();
    int bad = doc == NULL || scopes == NULL;
    bad = bad || json_object_set_new(doc, "resource", json_string(p->resource)) != 0;
    bad = bad || json_object_set_new(doc, "authorization_servers",
                                     json_pack("[s]", dmcp_validator_issuer(p->v))) != 0;
    for (size_t i = 0; !bad && i < sup->n; i++) {
        bad = json_array_append_new(scopes, json_string(sup->v[i])) != 0;
    }
    if (!bad && sup->n > 0) {
        bad = json_object_set(doc, "scopes_supported", scopes) != 0;
    }
    bad = bad || json_object_set_new(doc, "bearer_methods_supported", json_pack("[s]", "header"));
    if (!bad && o->resource_name != NULL) {
        json_t *name = json_string(o->resource_name);
        if (name == NULL) {
            json_decref(scopes);
            json_decref(doc);
            return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                              "resource name is not valid UTF-8");
        }
        bad = json_object_set_new(doc, "resource_name", name) != 0;
    }
    json_decref(scopes);
    if (!bad) {
        p->prm_json = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        p->prm_len = p->prm_json != NULL ? strlen(p->prm_json) : 0;
    }
    json_decref(doc);
    return p->prm_json != NULL ? DMCP_OK : dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
}

/* ---- HTTP answers ---- */

static dmcp_http_response *respond(unsigned status, const char *challenge, const char *ctype,
                                   const char *body)
{
    dmcp_http_response *r = NULL;
    if (dmcp_http_response_new(status, &r) != DMCP_OK) {
        return NULL;
    }
    if ((challenge != NULL &&
         dmcp_http_response_add_header(r, "WWW-Authenticate", challenge) != DMCP_OK) ||
        (body != NULL && dmcp_http_response_set_body(r, ctype, body, strlen(body)) != DMCP_OK)) {
        dmcp_http_response_free(r);
        return NULL;
    }
    return r;
}

/* {"error":code,"error_description":description} (§4 Body). */
static char *error_body(const char *code, const char *description)
{
    json_t *o = json_pack("{s:s, s:s}", "error", code, "error_description", description);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

static const char SERVER_ERROR_BODY[] = "{\"error\":\"server_error\"}";

/* 500 / 503 without blaming the token (§5 row 11). */
static dmcp_status refuse_server(unsigned status, dmcp_status st, dmcp_http_response **refusal)
{
    *refusal = respond(status, NULL, "application/json", SERVER_ERROR_BODY);
    if (*refusal != NULL && status == 503 &&
        dmcp_http_response_add_header(*refusal, "Retry-After", "30") != DMCP_OK) {
        dmcp_http_response_free(*refusal);
        *refusal = NULL;
    }
    return st;
}

/*
 * 403 insufficient_scope (§4-5 row 9): scope= per the validator's strategy (combined: token
 * scopes + required, sorted; required: only what this operation needs), body = the seed's
 * insufficient-scope JSON. When a token scope cannot appear in a header (the builder refuses
 * it) the required scopes alone are named, then none: the 403 itself must never be lost.
 */
static dmcp_http_response *insufficient_scope(const protect *p, const dmcp_scope_error *se)
{
    size_t n = 0;
    const char *const *list = p->strategy == DMCP_CHALLENGE_SCOPE_REQUIRED
                                  ? dmcp_scope_error_required(se, &n)
                                  : dmcp_scope_error_combined(se, &n);
    char *scope = join_scopes(list, n);
    const char *desc = dmcp_scope_error_description(se);
    char *ch = dmcp_challenge_insufficient_scope(desc, scope, p->metadata_url);
    if (ch == NULL && p->strategy != DMCP_CHALLENGE_SCOPE_REQUIRED) {
        free(scope);
        list = dmcp_scope_error_required(se, &n);
        scope = join_scopes(list, n);
        ch = dmcp_challenge_insufficient_scope(desc, scope, p->metadata_url);
    }
    if (ch == NULL) {
        ch = dmcp_challenge_insufficient_scope(desc, NULL, p->metadata_url);
    }
    free(scope);
    char *body = dmcp_scope_error_to_json(se);
    dmcp_http_response *r =
        ch != NULL && body != NULL ? respond(403, ch, "application/json", body) : NULL;
    dmcp_free(ch);
    dmcp_free(body);
    return r;
}

/* ---- route: Protected Resource Metadata (§2.2) ---- */

static dmcp_status route(void *ud, const dmcp_http_request *req, dmcp_http_response **out)
{
    const protect *p = ud;
    const char *path = dmcp_http_request_path(req);
    const char *method = dmcp_http_request_method(req);
    if (path == NULL || method == NULL ||
        (strcmp(path, DMCP__PRM_SUFFIX) != 0 && strcmp(path, p->prm_path) != 0)) {
        return DMCP_E_NOT_FOUND;
    }
    dmcp_http_response *r = NULL;
    dmcp_status st;
    if (strcmp(method, "GET") == 0) {
        st = dmcp_http_response_new(200, &r);
        if (st == DMCP_OK) {
            st = dmcp_http_response_set_body(r, "application/json", p->prm_json, p->prm_len);
        }
        if (st == DMCP_OK) {
            st = dmcp_http_response_add_header(r, "Cache-Control", "public, max-age=3600");
        }
    } else if (strcmp(method, "OPTIONS") == 0) {
        /* CORS preflight: public metadata, readable from any origin, no credentials. */
        st = dmcp_http_response_new(204, &r);
        if (st == DMCP_OK) {
            st = dmcp_http_response_add_header(r, "Access-Control-Allow-Methods", "GET, OPTIONS");
        }
        if (st == DMCP_OK) {
            st = dmcp_http_response_add_header(r, "Access-Control-Allow-Headers",
                                               "Accept, Mcp-Protocol-Version");
        }
        if (st == DMCP_OK) {
            st = dmcp_http_response_add_header(r, "Access-Control-Max-Age", "600");
        }
    } else {
        st = dmcp_http_response_new(405, &r);
        if (st == DMCP_OK) {
            st = dmcp_http_response_add_header(r, "Allow", "GET, OPTIONS");
        }
    }
    if (st == DMCP_OK) {
        st = dmcp_http_response_add_header(r, "Access-Control-Allow-Origin", "*");
    }
    if (st != DMCP_OK) {
        dmcp_http_response_free(r);
        return st;
    }
    *out = r;
    return DMCP_OK;
}

/* ---- authenticate (§3 steps 2-4) ---- */

static dmcp_status refuse_invalid_token(const protect *p, dmcp_reason reason,
                                        dmcp_http_response **refusal)
{
    const char *desc = dmcp_reason_description(reason);
    char *ch = dmcp_challenge_invalid_token(desc, p->baseline, p->metadata_url);
    char *body = error_body("invalid_token", desc);
    *refusal = ch != NULL && body != NULL ? respond(401, ch, "application/json", body) : NULL;
    dmcp_free(ch);
    free(body);
    return DMCP_E_INVALID_TOKEN;
}

static dmcp_status authenticate(void *ud, const dmcp_http_request *req, dmcp_principal **principal,
                                dmcp_http_response **refusal)
{
    const protect *p = ud;
    *principal = NULL;
    *refusal = NULL;
    /* R8: the token only from the Authorization header. A query-string token, or more than
     * one header, is a malformed request (RFC 6750 §2, §3.1; §5 row 5). */
    size_t count = dmcp_http_request_header_count(req, "Authorization");
    const char *value = count == 1 ? dmcp_http_request_header(req, "Authorization", 0) : NULL;
    dmcp__bearer kind = DMCP__BEARER_OTHER_SCHEME;
    const char *tok = NULL;
    size_t tok_len = 0;
    if (dmcp_http_request_has_query_param(req, "access_token") || count > 1) {
        kind = DMCP__BEARER_MALFORMED;
    } else if (value != NULL) {
        size_t len = strnlen(value, DMCP_MAX_TOKEN_BYTES_LIMIT + 64);
        kind = dmcp__bearer_parse(value, len, &tok, &tok_len);
    }
    switch (kind) {
    case DMCP__BEARER_OK:
        break;
    case DMCP__BEARER_OTHER_SCHEME:
        /* No Bearer credential: 401 without an error code (RFC 6750 §3.1; §5 rows 3-4). */
        *refusal = respond(401, p->no_token_challenge, NULL, NULL);
        return DMCP_E_INVALID_TOKEN;
    case DMCP__BEARER_TOO_LARGE:
        return refuse_invalid_token(p, DMCP_REASON_TOO_LARGE, refusal);
    case DMCP__BEARER_MALFORMED:
    default: {
        char *body = error_body("invalid_request", "Malformed Authorization header");
        *refusal =
            body != NULL ? respond(400, p->malformed_challenge, "application/json", body) : NULL;
        free(body);
        return DMCP_E_MALFORMED_REQUEST;
    }
    }

    /* R4: validate on every request (the validator's cache keeps this cheap). */
    dmcp_token *t = NULL;
    dmcp_error err;
    dmcp_status st = dmcp_validator_validate(p->v, tok, tok_len, &t, &err);
    switch (st) {
    case DMCP_OK:
        break;
    case DMCP_E_INVALID_TOKEN:
        return refuse_invalid_token(p, err.reason, refusal);
    case DMCP_E_KEY_SOURCE_UNAVAILABLE:
        return refuse_server(503, st, refusal);
    default:
        return refuse_server(500, st, refusal);
    }

    /* Validity first, then scope (§3 step 4): an invalid token never reaches this. */
    dmcp_scope_error *se = NULL;
    st = dmcp_validator_require_scopes(p->v, t, (const char *const *)p->required.v, p->required.n,
                                       &se);
    if (st == DMCP_E_INSUFFICIENT_SCOPE) {
        *refusal = insufficient_scope(p, se);
    } else if (st == DMCP_OK) {
        st = dmcp__pcache_principal(p->principals, t, tok, tok_len, principal);
    }
    dmcp_scope_error_free(se);
    dmcp_token_free(t);
    if (st != DMCP_OK && st != DMCP_E_INSUFFICIENT_SCOPE) {
        return refuse_server(500, st, refusal);
    }
    return st;
}

/* ---- authorize_tool (§3 step 6) ---- */

static dmcp_status authorize_tool(void *ud, const dmcp_principal *principal, const char *tool_name,
                                  const char *const *required, size_t n_required,
                                  dmcp_http_response **refusal, char **tool_error)
{
    const protect *p = ud;
    (void)tool_name;
    *refusal = NULL;
    *tool_error = NULL;
    dmcp_scope_error *se = NULL;
    dmcp_status st;
    const dmcp_token *t = dmcp_protect_principal_token(principal);
    if (t != NULL) {
        /* The validator's hierarchy hook applies (R13). */
        st = dmcp_validator_require_scopes(p->v, t, required, n_required, &se);
    } else {
        /* A principal from elsewhere (or none): its scopes, same hook; none means refused. */
        const char *mine[DMCP_MAX_SCOPES];
        size_t n = dmcp_principal_scope_count(principal);
        n = n < DMCP_MAX_SCOPES ? n : DMCP_MAX_SCOPES;
        for (size_t i = 0; i < n; i++) {
            mine[i] = dmcp_principal_scope(principal, i);
        }
        dmcp_scope_implies_fn fn = NULL;
        void *fn_ud = NULL;
        dmcp__validator_implies(p->v, &fn, &fn_ud);
        st = dmcp_require_scopes(mine, n, required, n_required, fn, fn_ud, &se);
    }
    if (st == DMCP_E_INSUFFICIENT_SCOPE) {
        if (p->mode == DMCP_TOOL_SCOPE_TOOL_ERROR) {
            char *json = dmcp_scope_error_to_json(se);
            *tool_error = json != NULL ? strdup(json) : NULL; /* the runtime free()s it */
            dmcp_free(json);
        } else {
            *refusal = insufficient_scope(p, se);
        }
        if (*tool_error == NULL && *refusal == NULL) {
            st = DMCP_E_NOMEM;
        }
    }
    dmcp_scope_error_free(se);
    return st;
}

/* ---- creation ---- */

static dmcp_status setup(protect *p, const dmcp_protect_options *o, dmcp_error *err)
{
    /* One canonical string for resource, PRM URLs and audience (§2.3). */
    const char *want = o->resource != NULL ? o->resource : dmcp_validator_resource(p->v);
    if (want == NULL) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                          "no MCP server URL: set it on the validator or the options");
    }
    dmcp__canon c;
    dmcp_status st = dmcp__canonicalize(want, &c, err);
    if (st != DMCP_OK) {
        return st;
    }
    const char *aud = dmcp_validator_resource(p->v);
    if (aud != NULL && strcmp(aud, c.url) != 0) {
        /* Clients ask the authorization server for a token for the PRM resource; a validator
         * expecting any other string would refuse every one of them. */
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "the validator's MCP server URL must be the canonical resource %s", c.url);
        dmcp__canon_free(&c);
        return st;
    }
    p->metadata_url = dmcp__metadata_url(&c);
    size_t plen = strlen(c.path_decoded);
    p->prm_path = malloc(sizeof(DMCP__PRM_SUFFIX) + plen);
    if (p->prm_path != NULL) {
        memcpy(p->prm_path, DMCP__PRM_SUFFIX, sizeof(DMCP__PRM_SUFFIX) - 1);
        memcpy(p->prm_path + sizeof(DMCP__PRM_SUFFIX) - 1, c.path_decoded, plen + 1);
        if (strcmp(c.path_decoded, "/") == 0) {
            p->prm_path[sizeof(DMCP__PRM_SUFFIX) - 1] = '\0';
        }
    }
    p->resource = c.url;
    c.url = NULL;
    dmcp__canon_free(&c);
    if (p->metadata_url == NULL || p->prm_path == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    if (dmcp_validator_issuer(p->v) == NULL) {
        /* MCP 2025-11-25 Authorization §4.1: authorization_servers MUST have an entry. */
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "the validator has no issuer");
    }

    scope_list sup = {NULL, 0};
    st = scope_list_copy(&p->required, &o->required);
    if (st == DMCP_OK) {
        st = supported_scopes(p->v, o, &sup);
    }
    if (st != DMCP_OK) {
        scope_list_free(&sup);
        return dmcp__fail(err, st, DMCP_REASON_NONE, "cannot copy the scopes");
    }
    st = build_prm(p, o, &sup, err);
    if (st == DMCP_OK) {
        /* 401 scope= (R3): the server-wide scopes, else what the PRM lists (the same scopes a
         * 2025-11-25 client would ask for without one, Authorization §3.3 scope selection). */
        const scope_list *base = p->required.n > 0 ? &p->required : &sup;
        if (base->n > 0) {
            p->baseline = join_scopes((const char *const *)base->v, base->n);
            st = p->baseline != NULL ? DMCP_OK : DMCP_E_NOMEM;
        }
    }
    scope_list_free(&sup);
    if (st != DMCP_OK) {
        return st == DMCP_E_NOMEM ? dmcp__fail(err, st, DMCP_REASON_NONE, NULL) : st;
    }
    p->no_token_challenge =
        o->missing_token_error
            ? dmcp_challenge_build("invalid_token", NULL, p->baseline, p->metadata_url)
            : dmcp_challenge_no_token(p->baseline, p->metadata_url);
    p->malformed_challenge =
        dmcp_challenge_invalid_request("Malformed Authorization header", p->metadata_url);
    if (p->no_token_challenge == NULL || p->malformed_challenge == NULL) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                          "cannot build the challenges (scope or URL not allowed in a header)");
    }
    p->mode = o->mode;
    p->strategy = dmcp__validator_challenge_scope(p->v);
    p->principals = dmcp__pcache_new();
    if (p->principals == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    return DMCP_OK;
}

/* Ready while tokens can be validated: keys loaded and within their lifetime or stale limit. */
static bool ready(void *ud, char *reason, size_t reason_len)
{
    const protect *p = ud;
    dmcp_validator_health_info hi;
    dmcp_validator_health(p->v, &hi);
    if (!hi.keys_usable) {
        snprintf(reason, reason_len, "%s",
                 hi.keys_loaded ? "signing keys are past their stale limit"
                                : "signing keys not loaded yet");
    }
    return hi.keys_usable;
}

dmcp_status dmcp_protect_authorizer_new(dmcp_validator *validator, const dmcp_protect_options *opts,
                                        dmcp_authorizer **out, dmcp_error *err)
{
    static const dmcp_protect_options defaults = {0};
    if (out == NULL || validator == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "validator or out is NULL");
    }
    *out = NULL;
    protect *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    p->v = validator;
    dmcp_status st = setup(p, opts != NULL ? opts : &defaults, err);
    dmcp_authorizer *a = NULL;
    if (st == DMCP_OK) {
        st = dmcp_authorizer_new(p, protect_free, &a);
        if (st != DMCP_OK) {
            dmcp__fail(err, st, DMCP_REASON_NONE, NULL);
        }
    }
    if (st != DMCP_OK) {
        protect_free(p);
        return st;
    }
    dmcp_authorizer_set_route(a, route);
    dmcp_authorizer_set_authenticate(a, authenticate);
    dmcp_authorizer_set_authorize_tool(a, authorize_tool);
    dmcp_authorizer_set_ready(a, ready);
    *out = a;
    dmcp_error_clear(err);
    return DMCP_OK;
}
