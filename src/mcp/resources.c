/*
 * Resources (MCP 2025-11-25 Server › Resources): static resources, RFC 6570 level-1 resource
 * templates (uri_template.c), resources/list, resources/templates/list, resources/read,
 * subscriptions. The registry and pagination shared with prompts are in registry.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

#define MAX_SUBSCRIPTIONS 1000 /* per session */

struct dmcp_resource {
    char *uri, *name, *title, *description, *mime_type;
    char *text, *blob; /* fixed contents (one of them), or a reader */
    dmcp_resource_read_fn reader;
    void *userdata;
};

typedef struct var_completion {
    char *name;
    dmcp_complete_fn fn;
    void *userdata;
} var_completion;

struct dmcp_resource_template {
    char *uri_template, *name, *title, *description, *mime_type;
    dmcp_resource_read_fn reader;
    void *userdata;
    json_t *vars; /* array of variable names */
    var_completion *completions;
    size_t n_completions;
};

struct dmcp_contents {
    json_t *items;
    const dmcp_principal *principal;
    long ttl_ms; /* -1: the server's default */
    bool public_scope;
};

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                            */
/* ---------------------------------------------------------------------------------------- */

/* Copies a UTF-8 string (NULL allowed when !required). */
static dmcp_status set_text(char **dst, const char *v, bool required)
{
    if (v == NULL) {
        if (required) {
            return DMCP_E_INVALID_ARG;
        }
        free(*dst);
        *dst = NULL;
        return DMCP_OK;
    }
    json_t *probe = json_string(v); /* rejects invalid UTF-8: it has to go into JSON */
    if (probe == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    json_decref(probe);
    char *c = dmcp__strdup(v);
    if (c == NULL) {
        return DMCP_E_NOMEM;
    }
    free(*dst);
    *dst = c;
    return DMCP_OK;
}

/* A URI (or template) we are willing to register: bounded, a scheme, no spaces/controls. */
static bool uri_ok(const char *u)
{
    size_t n = u != NULL ? strlen(u) : 0;
    if (n == 0 || n > DMCP__MAX_URI) {
        return false;
    }
    const char *colon = strchr(u, ':');
    if (colon == NULL || colon == u) {
        return false; /* RFC 3986 §3: scheme ":" ... */
    }
    for (const char *p = u; p < colon; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (p != u && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok) {
            return false;
        }
    }
    for (const char *p = u; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7F) {
            return false;
        }
    }
    return true;
}

/* RFC 4648 §4 base64 with padding (what MCP blobs carry). */
static bool base64_ok(const char *s)
{
    size_t n = strlen(s);
    if (n % 4 != 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '+' || c == '/';
        bool pad = c == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '=');
        if (!alpha && !pad) {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Public objects                                                                           */
/* ---------------------------------------------------------------------------------------- */

dmcp_status dmcp_resource_new(const char *uri, const char *name, dmcp_resource **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = NULL;
    if (!uri_ok(uri) || name == NULL || *name == '\0') {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_resource *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return DMCP_E_NOMEM;
    }
    dmcp_status st = set_text(&r->uri, uri, true);
    if (st == DMCP_OK) {
        st = set_text(&r->name, name, true);
    }
    if (st != DMCP_OK) {
        dmcp_resource_free(r);
        return st;
    }
    *out = r;
    return DMCP_OK;
}

void dmcp_resource_free(dmcp_resource *r)
{
    if (r == NULL) {
        return;
    }
    free(r->uri);
    free(r->name);
    free(r->title);
    free(r->description);
    free(r->mime_type);
    free(r->text);
    free(r->blob);
    free(r);
}

dmcp_status dmcp_resource_set_title(dmcp_resource *r, const char *title)
{
    return r == NULL ? DMCP_E_INVALID_ARG : set_text(&r->title, title, false);
}

dmcp_status dmcp_resource_set_description(dmcp_resource *r, const char *description)
{
    return r == NULL ? DMCP_E_INVALID_ARG : set_text(&r->description, description, false);
}

dmcp_status dmcp_resource_set_mime_type(dmcp_resource *r, const char *mime_type)
{
    return r == NULL ? DMCP_E_INVALID_ARG : set_text(&r->mime_type, mime_type, false);
}

dmcp_status dmcp_resource_set_text(dmcp_resource *r, const char *text)
{
    if (r == NULL || text == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_status st = set_text(&r->text, text, true);
    if (st == DMCP_OK) {
        free(r->blob);
        r->blob = NULL;
        r->reader = NULL;
    }
    return st;
}

dmcp_status dmcp_resource_set_blob(dmcp_resource *r, const char *base64_blob)
{
    if (r == NULL || base64_blob == NULL || !base64_ok(base64_blob)) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_status st = set_text(&r->blob, base64_blob, true);
    if (st == DMCP_OK) {
        free(r->text);
        r->text = NULL;
        r->reader = NULL;
    }
    return st;
}

dmcp_status dmcp_resource_set_reader(dmcp_resource *r, dmcp_resource_read_fn fn, void *userdata)
{
    if (r == NULL || fn == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    free(r->text);
    free(r->blob);
    r->text = NULL;
    r->blob = NULL;
    r->reader = fn;
    r->userdata = userdata;
    return DMCP_OK;
}

dmcp_status dmcp_resource_template_new(const char *uri_template, const char *name,
                                       dmcp_resource_read_fn fn, void *userdata,
                                       dmcp_resource_template **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = NULL;
    if (!uri_ok(uri_template) || name == NULL || *name == '\0' || fn == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *vars = dmcp__uri_template_vars(uri_template);
    if (vars == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_resource_template *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        json_decref(vars);
        return DMCP_E_NOMEM;
    }
    t->vars = vars;
    t->reader = fn;
    t->userdata = userdata;
    dmcp_status st = set_text(&t->uri_template, uri_template, true);
    if (st == DMCP_OK) {
        st = set_text(&t->name, name, true);
    }
    if (st != DMCP_OK) {
        dmcp_resource_template_free(t);
        return st;
    }
    *out = t;
    return DMCP_OK;
}

void dmcp_resource_template_free(dmcp_resource_template *t)
{
    if (t == NULL) {
        return;
    }
    free(t->uri_template);
    free(t->name);
    free(t->title);
    free(t->description);
    free(t->mime_type);
    json_decref(t->vars);
    for (size_t i = 0; i < t->n_completions; i++) {
        free(t->completions[i].name);
    }
    free(t->completions);
    free(t);
}

dmcp_status dmcp_resource_template_set_title(dmcp_resource_template *t, const char *title)
{
    return t == NULL ? DMCP_E_INVALID_ARG : set_text(&t->title, title, false);
}

dmcp_status dmcp_resource_template_set_description(dmcp_resource_template *t,
                                                   const char *description)
{
    return t == NULL ? DMCP_E_INVALID_ARG : set_text(&t->description, description, false);
}

dmcp_status dmcp_resource_template_set_mime_type(dmcp_resource_template *t, const char *mime_type)
{
    return t == NULL ? DMCP_E_INVALID_ARG : set_text(&t->mime_type, mime_type, false);
}

static bool has_var(const json_t *vars, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(vars, i, v)
    {
        if (strcmp(json_string_value(v), name) == 0) {
            return true;
        }
    }
    return false;
}

dmcp_status dmcp_resource_template_set_completion(dmcp_resource_template *t, const char *variable,
                                                  dmcp_complete_fn fn, void *userdata)
{
    if (t == NULL || variable == NULL || fn == NULL || !has_var(t->vars, variable)) {
        return DMCP_E_INVALID_ARG;
    }
    for (size_t i = 0; i < t->n_completions; i++) {
        if (strcmp(t->completions[i].name, variable) == 0) {
            t->completions[i].fn = fn;
            t->completions[i].userdata = userdata;
            return DMCP_OK;
        }
    }
    var_completion *nc = realloc(t->completions, (t->n_completions + 1) * sizeof(*nc));
    if (nc == NULL) {
        return DMCP_E_NOMEM;
    }
    t->completions = nc;
    char *name = dmcp__strdup(variable);
    if (name == NULL) {
        return DMCP_E_NOMEM;
    }
    nc[t->n_completions++] = (var_completion){name, fn, userdata};
    return DMCP_OK;
}

dmcp_status dmcp_server_add_resource(dmcp_server *srv, dmcp_resource *resource)
{
    if (srv == NULL || resource == NULL) {
        dmcp_resource_free(resource);
        return DMCP_E_INVALID_ARG;
    }
    if (atomic_load(&srv->started)) {
        dmcp_resource_free(resource);
        return DMCP_E_STATE;
    }
    if (resource->text == NULL && resource->blob == NULL && resource->reader == NULL) {
        dmcp_resource_free(resource); /* nothing to read: a configuration mistake */
        return DMCP_E_INVALID_ARG;
    }
    dmcp_status st = dmcp__reg_add(&srv->resources, resource->uri, resource);
    if (st != DMCP_OK) {
        dmcp_resource_free(resource);
    }
    return st;
}

dmcp_status dmcp_server_add_resource_template(dmcp_server *srv, dmcp_resource_template *tmpl)
{
    if (srv == NULL || tmpl == NULL) {
        dmcp_resource_template_free(tmpl);
        return DMCP_E_INVALID_ARG;
    }
    if (atomic_load(&srv->started)) {
        dmcp_resource_template_free(tmpl);
        return DMCP_E_STATE;
    }
    bool completes = tmpl->n_completions > 0;
    dmcp_status st = dmcp__reg_add(&srv->templates, tmpl->uri_template, tmpl);
    if (st != DMCP_OK) {
        dmcp_resource_template_free(tmpl);
        return st;
    }
    srv->has_completions = srv->has_completions || completes;
    return DMCP_OK;
}

void dmcp__resources_free(dmcp_server *srv)
{
    for (size_t i = 0; i < srv->resources.count; i++) {
        dmcp_resource_free(srv->resources.items[i]);
    }
    for (size_t i = 0; i < srv->templates.count; i++) {
        dmcp_resource_template_free(srv->templates.items[i]);
    }
    dmcp__reg_free(&srv->resources);
    dmcp__reg_free(&srv->templates);
}

bool dmcp__template_completer(const dmcp_server *srv, const char *uri_template, const char *var,
                              bool *known, dmcp_complete_fn *fn, void **ud)
{
    const dmcp_resource_template *t = dmcp__reg_find(&srv->templates, uri_template);
    *known = false;
    if (t == NULL) {
        return false;
    }
    *known = has_var(t->vars, var);
    for (size_t i = 0; *known && i < t->n_completions; i++) {
        if (strcmp(t->completions[i].name, var) == 0) {
            *fn = t->completions[i].fn;
            *ud = t->completions[i].userdata;
            return true;
        }
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Contents                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static dmcp_status add_contents(dmcp_contents *c, const char *uri, const char *mime,
                                const char *key, const char *value)
{
    if (c == NULL || uri == NULL || value == NULL || json_array_size(c->items) >= 1000) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *o = json_object();
    json_t *ju = json_string(uri), *jv = json_string(value);
    json_t *jm = mime != NULL ? json_string(mime) : NULL;
    if (o == NULL || ju == NULL || jv == NULL || (mime != NULL && jm == NULL)) {
        json_decref(o);
        json_decref(ju);
        json_decref(jv);
        json_decref(jm);
        return DMCP_E_INVALID_ARG; /* also invalid UTF-8 */
    }
    json_object_set_new(o, "uri", ju);
    if (jm != NULL) {
        json_object_set_new(o, "mimeType", jm);
    }
    json_object_set_new(o, key, jv);
    return json_array_append_new(c->items, o) == 0 ? DMCP_OK : DMCP_E_NOMEM;
}

dmcp_status dmcp_contents_add_text(dmcp_contents *c, const char *uri, const char *mime_type,
                                   const char *text)
{
    return add_contents(c, uri, mime_type, "text", text);
}

dmcp_status dmcp_contents_add_blob(dmcp_contents *c, const char *uri, const char *mime_type,
                                   const char *base64_blob)
{
    if (base64_blob == NULL || !base64_ok(base64_blob)) {
        return DMCP_E_INVALID_ARG;
    }
    return add_contents(c, uri, mime_type, "blob", base64_blob);
}

dmcp_status dmcp_contents_set_cache_hint(dmcp_contents *c, unsigned ttl_ms, bool public_scope)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    c->ttl_ms = (long)ttl_ms;
    c->public_scope = public_scope;
    return DMCP_OK;
}

const dmcp_principal *dmcp_contents_principal(const dmcp_contents *c)
{
    return c != NULL ? c->principal : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Methods                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static void set_opt(json_t *o, const char *k, const char *v)
{
    if (v != NULL) {
        json_object_set_new(o, k, json_string(v));
    }
}

static json_t *oom(int *code, const char **message)
{
    *code = DMCP_JSONRPC_INTERNAL_ERROR;
    *message = "Out of memory";
    return NULL;
}

json_t *dmcp__resources_list(const dmcp_server *srv, const json_t *params, int *code,
                             const char **message)
{
    size_t off, end;
    if (!dmcp__page(params, 'r', srv->resources.count, srv->page_size, &off, &end, code, message)) {
        return NULL;
    }
    json_t *arr = json_array(), *res = json_object();
    if (arr == NULL || res == NULL) {
        json_decref(arr);
        json_decref(res);
        return oom(code, message);
    }
    for (size_t i = off; i < end; i++) {
        const dmcp_resource *r = srv->resources.items[i];
        json_t *o = json_pack("{s:s,s:s}", "uri", r->uri, "name", r->name);
        set_opt(o, "title", r->title);
        set_opt(o, "description", r->description);
        set_opt(o, "mimeType", r->mime_type);
        json_array_append_new(arr, o);
    }
    json_object_set_new(res, "resources", arr);
    dmcp__set_next_cursor(res, 'r', end, srv->resources.count);
    return res;
}

json_t *dmcp__templates_list(const dmcp_server *srv, const json_t *params, int *code,
                             const char **message)
{
    size_t off, end;
    if (!dmcp__page(params, 'u', srv->templates.count, srv->page_size, &off, &end, code, message)) {
        return NULL;
    }
    json_t *arr = json_array(), *res = json_object();
    if (arr == NULL || res == NULL) {
        json_decref(arr);
        json_decref(res);
        return oom(code, message);
    }
    for (size_t i = off; i < end; i++) {
        const dmcp_resource_template *t = srv->templates.items[i];
        json_t *o = json_pack("{s:s,s:s}", "uriTemplate", t->uri_template, "name", t->name);
        set_opt(o, "title", t->title);
        set_opt(o, "description", t->description);
        set_opt(o, "mimeType", t->mime_type);
        json_array_append_new(arr, o);
    }
    json_object_set_new(res, "resourceTemplates", arr);
    dmcp__set_next_cursor(res, 'u', end, srv->templates.count);
    return res;
}

/* The uri param: a string of bounded size, else -32602. */
static const char *uri_param(const json_t *params, int *code, const char **message)
{
    const json_t *u = json_object_get(params, "uri");
    if (!json_is_string(u) || json_string_length(u) == 0 || json_string_length(u) > DMCP__MAX_URI) {
        *code = DMCP_JSONRPC_INVALID_PARAMS;
        *message = "Invalid params: uri must be a string";
        return NULL;
    }
    return json_string_value(u);
}

static json_t *not_found(const char *uri, int *code, const char **message, json_t **data)
{
    /* Server › Resources §"Error handling": -32002 with data.uri (through 2025-11-25). */
    *code = DMCP_JSONRPC_RESOURCE_NOT_FOUND;
    *message = "Resource not found";
    *data = json_pack("{s:s}", "uri", uri);
    return NULL;
}

/* Finds what serves uri: a static resource, else the first matching template. */
static bool resolve(const dmcp_server *srv, const char *uri, const dmcp_resource **res,
                    const dmcp_resource_template **tmpl, json_t **vars)
{
    *res = dmcp__reg_find(&srv->resources, uri);
    *tmpl = NULL;
    *vars = NULL;
    if (*res != NULL) {
        return true;
    }
    for (size_t i = 0; i < srv->templates.count; i++) {
        const dmcp_resource_template *t = srv->templates.items[i];
        json_t *v = dmcp__uri_template_match(t->uri_template, uri);
        if (v != NULL) {
            *tmpl = t;
            *vars = v;
            return true;
        }
    }
    return false;
}

json_t *dmcp__resources_read(const dmcp_server *srv, const dmcp_principal *principal,
                             const json_t *params, int *code, const char **message, json_t **data)
{
    const char *uri = uri_param(params, code, message);
    if (uri == NULL) {
        return NULL;
    }
    const dmcp_resource *r;
    const dmcp_resource_template *t;
    json_t *vars;
    if (!resolve(srv, uri, &r, &t, &vars)) {
        return not_found(uri, code, message, data);
    }
    dmcp_contents c = {json_array(), principal, -1, false};
    if (c.items == NULL) {
        json_decref(vars);
        return oom(code, message);
    }
    dmcp_status st;
    if (r != NULL && r->text != NULL) {
        st = dmcp_contents_add_text(&c, r->uri, r->mime_type, r->text);
    } else if (r != NULL && r->blob != NULL) {
        st = dmcp_contents_add_blob(&c, r->uri, r->mime_type, r->blob);
    } else if (r != NULL) {
        st = r->reader(&c, uri, NULL, r->userdata);
    } else {
        st = t->reader(&c, uri, vars, t->userdata);
    }
    json_decref(vars);
    if (st == DMCP_E_NOT_FOUND) {
        json_decref(c.items);
        return not_found(uri, code, message, data);
    }
    if (st != DMCP_OK || json_array_size(c.items) == 0) {
        json_decref(c.items);
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Internal error reading the resource";
        return NULL;
    }
    json_t *res = json_object();
    if (res == NULL) {
        json_decref(c.items);
        return oom(code, message);
    }
    json_object_set_new(res, "contents", c.items);
    if (c.ttl_ms >= 0) {
        json_object_set_new(res, "ttlMs", json_integer(c.ttl_ms));
        json_object_set_new(res, "cacheScope", json_string(c.public_scope ? "public" : "private"));
    }
    return res;
}

json_t *dmcp__resources_subscribe(const dmcp_server *srv, dmcp__session *sess, const json_t *params,
                                  bool subscribe, int *code, const char **message, json_t **data)
{
    const char *uri = uri_param(params, code, message);
    if (uri == NULL) {
        return NULL;
    }
    if (subscribe) {
        const dmcp_resource *r;
        const dmcp_resource_template *t;
        json_t *vars;
        if (!resolve(srv, uri, &r, &t, &vars)) {
            return not_found(uri, code, message, data);
        }
        json_decref(vars);
    }
    pthread_mutex_lock(&sess->mu);
    bool ok = true;
    if (subscribe) {
        if (sess->subs == NULL) {
            sess->subs = json_object();
        }
        ok = sess->subs != NULL && (json_object_get(sess->subs, uri) != NULL ||
                                    (json_object_size(sess->subs) < MAX_SUBSCRIPTIONS &&
                                     json_object_set_new(sess->subs, uri, json_true()) == 0));
    } else if (sess->subs != NULL) {
        json_object_del(sess->subs, uri); /* unknown: nothing to undo, still {} */
    }
    pthread_mutex_unlock(&sess->mu);
    atomic_store(&sess->store_dirty, true);
    if (!ok) {
        *code = DMCP_JSONRPC_INVALID_PARAMS;
        *message = "Too many subscriptions";
        return NULL;
    }
    return json_object();
}
