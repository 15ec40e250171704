/* Principal, tool result, handler context, HTTP response and authorizer objects. */
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Principal                                                                                */
/* ---------------------------------------------------------------------------------------- */

struct dmcp_principal {
    atomic_int refs;
    char *binding;
    char *user_id;
    char *client_id;
    char **scopes;
    size_t n_scopes;
    json_t *claims;
    char *token;
    size_t token_len;
    void *data;
    void (*data_free)(void *);
};

dmcp_status dmcp_principal_new(const char *binding_key, dmcp_principal **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = NULL;
    /* NULL: a caller who identifies nobody (stateless calls only); "" is a mistake. */
    if (binding_key != NULL && *binding_key == '\0') {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_principal *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return DMCP_E_NOMEM;
    }
    if (binding_key != NULL) {
        p->binding = dmcp__strdup(binding_key);
        if (p->binding == NULL) {
            free(p);
            return DMCP_E_NOMEM;
        }
    }
    atomic_init(&p->refs, 1);
    *out = p;
    return DMCP_OK;
}

dmcp_principal *dmcp_principal_ref(dmcp_principal *p)
{
    if (p != NULL) {
        atomic_fetch_add(&p->refs, 1);
    }
    return p;
}

void dmcp_principal_unref(dmcp_principal *p)
{
    if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1) {
        return;
    }
    if (p->data_free != NULL) {
        p->data_free(p->data);
    }
    for (size_t i = 0; i < p->n_scopes; i++) {
        free(p->scopes[i]);
    }
    free(p->scopes);
    json_decref(p->claims);
    if (p->token != NULL) {
        dmcp__free_secret(p->token, p->token_len);
    }
    free(p->binding);
    free(p->user_id);
    free(p->client_id);
    free(p);
}

static dmcp_status replace_str(char **dst, const char *src)
{
    char *c = NULL;
    if (src != NULL) {
        c = dmcp__strdup(src);
        if (c == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    free(*dst);
    *dst = c;
    return DMCP_OK;
}

dmcp_status dmcp_principal_set_user_id(dmcp_principal *p, const char *user_id)
{
    return p == NULL ? DMCP_E_INVALID_ARG : replace_str(&p->user_id, user_id);
}

dmcp_status dmcp_principal_set_client_id(dmcp_principal *p, const char *client_id)
{
    return p == NULL ? DMCP_E_INVALID_ARG : replace_str(&p->client_id, client_id);
}

dmcp_status dmcp_principal_add_scope(dmcp_principal *p, const char *scope)
{
    if (p == NULL || scope == NULL || *scope == '\0' || p->n_scopes >= DMCP_MAX_SCOPES) {
        return DMCP_E_INVALID_ARG;
    }
    char **ns = realloc(p->scopes, (p->n_scopes + 1) * sizeof(*ns));
    if (ns == NULL) {
        return DMCP_E_NOMEM;
    }
    p->scopes = ns;
    ns[p->n_scopes] = dmcp__strdup(scope);
    if (ns[p->n_scopes] == NULL) {
        return DMCP_E_NOMEM;
    }
    p->n_scopes++;
    return DMCP_OK;
}

dmcp_status dmcp_principal_set_claims(dmcp_principal *p, json_t *claims)
{
    if (p == NULL || (claims != NULL && !json_is_object(claims))) {
        return DMCP_E_INVALID_ARG;
    }
    json_decref(p->claims);
    p->claims = json_incref(claims);
    return DMCP_OK;
}

dmcp_status dmcp_principal_set_access_token(dmcp_principal *p, const char *token, size_t len)
{
    if (p == NULL || token == NULL || len == 0 || len > DMCP_MAX_TOKEN_BYTES_LIMIT) {
        return DMCP_E_INVALID_ARG;
    }
    char *c = dmcp__strndup(token, len);
    if (c == NULL) {
        return DMCP_E_NOMEM;
    }
    if (p->token != NULL) {
        dmcp__free_secret(p->token, p->token_len);
    }
    p->token = c;
    p->token_len = len;
    return DMCP_OK;
}

void dmcp_principal_set_data(dmcp_principal *p, void *data, void (*free_fn)(void *))
{
    if (p == NULL) {
        return;
    }
    if (p->data_free != NULL) {
        p->data_free(p->data);
    }
    p->data = data;
    p->data_free = free_fn;
}

const char *dmcp_principal_binding_key(const dmcp_principal *p)
{
    return p != NULL ? p->binding : NULL;
}

const char *dmcp_principal_user_id(const dmcp_principal *p)
{
    return p != NULL ? p->user_id : NULL;
}

const char *dmcp_principal_client_id(const dmcp_principal *p)
{
    return p != NULL ? p->client_id : NULL;
}

size_t dmcp_principal_scope_count(const dmcp_principal *p)
{
    return p != NULL ? p->n_scopes : 0;
}

const char *dmcp_principal_scope(const dmcp_principal *p, size_t index)
{
    return (p != NULL && index < p->n_scopes) ? p->scopes[index] : NULL;
}

bool dmcp_principal_has_scope(const dmcp_principal *p, const char *scope)
{
    if (p == NULL || scope == NULL) {
        return false;
    }
    for (size_t i = 0; i < p->n_scopes; i++) {
        if (strcmp(p->scopes[i], scope) == 0) {
            return true;
        }
    }
    return false;
}

const json_t *dmcp_principal_claims(const dmcp_principal *p)
{
    return p != NULL ? p->claims : NULL;
}

void *dmcp_principal_data(const dmcp_principal *p)
{
    return p != NULL ? p->data : NULL;
}

const char *dmcp_principal_access_token(const dmcp_principal *p, size_t *len)
{
    if (len != NULL) {
        *len = (p != NULL && p->token != NULL) ? p->token_len : 0;
    }
    return p != NULL ? p->token : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* HTTP response (authorizer refusals and routes)                                           */
/* ---------------------------------------------------------------------------------------- */

static bool header_text_ok(const char *s, bool is_name)
{
    if (s == NULL || (is_name && *s == '\0')) {
        return false;
    }
    for (const char *c = s; *c != '\0'; c++) {
        unsigned char u = (unsigned char)*c;
        /* RFC 9110 §5.5: no CR/LF/NUL in field values (header injection); names are tokens. */
        if (u == '\r' || u == '\n' || (is_name && (u <= 0x20 || u == ':' || u >= 0x7F))) {
            return false;
        }
    }
    return true;
}

dmcp_status dmcp_http_response_new(unsigned status, dmcp_http_response **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = NULL;
    if (status < 100 || status > 599) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_http_response *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return DMCP_E_NOMEM;
    }
    r->status = status;
    *out = r;
    return DMCP_OK;
}

void dmcp_http_response_free(dmcp_http_response *resp)
{
    if (resp == NULL) {
        return;
    }
    for (size_t i = 0; i < resp->nheaders; i++) {
        free(resp->names[i]);
        free(resp->values[i]);
    }
    free(resp->names);
    free(resp->values);
    free(resp->content_type);
    free(resp->body);
    free(resp);
}

dmcp_status dmcp_http_response_add_header(dmcp_http_response *resp, const char *name,
                                          const char *value)
{
    if (resp == NULL || !header_text_ok(name, true) || !header_text_ok(value, false) ||
        resp->nheaders >= 64 || strlen(value) > DMCP_MAX_HEADER_BYTES) {
        return DMCP_E_INVALID_ARG;
    }
    char **nn = realloc(resp->names, (resp->nheaders + 1) * sizeof(*nn));
    if (nn == NULL) {
        return DMCP_E_NOMEM;
    }
    resp->names = nn;
    char **nv = realloc(resp->values, (resp->nheaders + 1) * sizeof(*nv));
    if (nv == NULL) {
        return DMCP_E_NOMEM;
    }
    resp->values = nv;
    char *n = dmcp__strdup(name), *v = dmcp__strdup(value);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return DMCP_E_NOMEM;
    }
    nn[resp->nheaders] = n;
    nv[resp->nheaders] = v;
    resp->nheaders++;
    return DMCP_OK;
}

dmcp_status dmcp_http_response_set_body(dmcp_http_response *resp, const char *content_type,
                                        const void *body, size_t len)
{
    if (resp == NULL || (body == NULL && len > 0) || len > DMCP_MAX_BODY_BYTES ||
        (content_type != NULL && !header_text_ok(content_type, false))) {
        return DMCP_E_INVALID_ARG;
    }
    char *ct = content_type != NULL ? dmcp__strdup(content_type) : NULL;
    char *b = malloc(len + 1);
    if ((content_type != NULL && ct == NULL) || b == NULL) {
        free(ct);
        free(b);
        return DMCP_E_NOMEM;
    }
    if (len > 0) {
        memcpy(b, body, len);
    }
    b[len] = '\0';
    free(resp->content_type);
    free(resp->body);
    resp->content_type = ct;
    resp->body = b;
    resp->body_len = len;
    return DMCP_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Authorizer                                                                               */
/* ---------------------------------------------------------------------------------------- */

dmcp_status dmcp_authorizer_new(void *userdata, void (*free_userdata)(void *),
                                dmcp_authorizer **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        return DMCP_E_NOMEM;
    }
    (*out)->userdata = userdata;
    (*out)->free_userdata = free_userdata;
    return DMCP_OK;
}

void dmcp_authorizer_free(dmcp_authorizer *a)
{
    if (a == NULL) {
        return;
    }
    if (a->free_userdata != NULL) {
        a->free_userdata(a->userdata);
    }
    free(a);
}

void dmcp_authorizer_set_route(dmcp_authorizer *a, dmcp_route_fn fn)
{
    if (a != NULL) {
        a->route = fn;
    }
}

void dmcp_authorizer_set_ready(dmcp_authorizer *a, dmcp_ready_fn fn)
{
    if (a != NULL) {
        a->ready = fn;
    }
}

void dmcp_authorizer_set_authenticate(dmcp_authorizer *a, dmcp_authenticate_fn fn)
{
    if (a != NULL) {
        a->authenticate = fn;
    }
}

void dmcp_authorizer_set_authorize_tool(dmcp_authorizer *a, dmcp_authorize_tool_fn fn)
{
    if (a != NULL) {
        a->authorize_tool = fn;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Tool results (MCP 2025-11-25 Server › Tools §4-5)                                         */
/* ---------------------------------------------------------------------------------------- */

void dmcp__result_init(dmcp_result *r)
{
    r->content = json_array();
    r->structured = NULL;
    r->is_error = false;
}

void dmcp__result_clear(dmcp_result *r)
{
    json_decref(r->content);
    json_decref(r->structured);
    r->content = NULL;
    r->structured = NULL;
}

dmcp_status dmcp_result_add_content(dmcp_result *r, json_t *block)
{
    if (r == NULL || !json_is_object(block) || !json_is_string(json_object_get(block, "type"))) {
        json_decref(block);
        return DMCP_E_INVALID_ARG;
    }
    if (r->content == NULL || json_array_append_new(r->content, block) != 0) {
        return DMCP_E_NOMEM;
    }
    return DMCP_OK;
}

static json_t *block(const char *type)
{
    json_t *b = json_object();
    if (b != NULL) {
        json_object_set_new(b, "type", json_string(type));
    }
    return b;
}

/* Sets a string member; false on NULL (required) or out of memory. */
static bool set_str(json_t *o, const char *k, const char *v)
{
    json_t *s = json_string(v);
    return s != NULL && json_object_set_new(o, k, s) == 0;
}

dmcp_status dmcp_result_add_text(dmcp_result *r, const char *text)
{
    if (r == NULL || text == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *b = block("text");
    if (b == NULL || !set_str(b, "text", text)) {
        json_decref(b);
        return DMCP_E_INVALID_ARG; /* also invalid UTF-8 */
    }
    return dmcp_result_add_content(r, b);
}

static dmcp_status add_media(dmcp_result *r, const char *type, const char *data, const char *mime)
{
    if (r == NULL || data == NULL || mime == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *b = block(type);
    if (b == NULL || !set_str(b, "data", data) || !set_str(b, "mimeType", mime)) {
        json_decref(b);
        return DMCP_E_INVALID_ARG;
    }
    return dmcp_result_add_content(r, b);
}

dmcp_status dmcp_result_add_image(dmcp_result *r, const char *base64_data, const char *mime_type)
{
    return add_media(r, "image", base64_data, mime_type);
}

dmcp_status dmcp_result_add_audio(dmcp_result *r, const char *base64_data, const char *mime_type)
{
    return add_media(r, "audio", base64_data, mime_type);
}

dmcp_status dmcp_result_add_resource_link(dmcp_result *r, const char *uri, const char *name,
                                          const char *mime_type, const char *description)
{
    if (r == NULL || uri == NULL || name == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *b = block("resource_link");
    if (b == NULL || !set_str(b, "uri", uri) || !set_str(b, "name", name) ||
        (mime_type != NULL && !set_str(b, "mimeType", mime_type)) ||
        (description != NULL && !set_str(b, "description", description))) {
        json_decref(b);
        return DMCP_E_INVALID_ARG;
    }
    return dmcp_result_add_content(r, b);
}

static dmcp_status add_embedded(dmcp_result *r, const char *uri, const char *mime, const char *key,
                                const char *value)
{
    if (r == NULL || uri == NULL || value == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *res = json_object();
    json_t *b = block("resource");
    if (res == NULL || b == NULL || !set_str(res, "uri", uri) ||
        (mime != NULL && !set_str(res, "mimeType", mime)) || !set_str(res, key, value) ||
        json_object_set(b, "resource", res) != 0) {
        json_decref(res);
        json_decref(b);
        return DMCP_E_INVALID_ARG;
    }
    json_decref(res);
    return dmcp_result_add_content(r, b);
}

dmcp_status dmcp_result_add_embedded_text(dmcp_result *r, const char *uri, const char *mime_type,
                                          const char *text)
{
    return add_embedded(r, uri, mime_type, "text", text);
}

dmcp_status dmcp_result_add_embedded_blob(dmcp_result *r, const char *uri, const char *mime_type,
                                          const char *base64_blob)
{
    return add_embedded(r, uri, mime_type, "blob", base64_blob);
}

dmcp_status dmcp_result_set_structured(dmcp_result *r, json_t *value)
{
    if (r == NULL || !json_is_object(value)) {
        json_decref(value);
        return DMCP_E_INVALID_ARG;
    }
    json_decref(r->structured);
    r->structured = value;
    return DMCP_OK;
}

void dmcp_result_set_error(dmcp_result *r, bool is_error)
{
    if (r != NULL) {
        r->is_error = is_error;
    }
}

json_t *dmcp__result_to_json(dmcp_result *r)
{
    json_t *o = json_object();
    if (o == NULL || r->content == NULL) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "content", r->content);
    r->content = NULL;
    if (r->structured != NULL) {
        json_object_set_new(o, "structuredContent", r->structured);
        r->structured = NULL;
    }
    if (r->is_error) {
        json_object_set_new(o, "isError", json_true());
    }
    return o;
}

json_t *dmcp__tool_error_result(const char *text)
{
    dmcp_result r;
    dmcp__result_init(&r);
    if (dmcp_result_add_text(&r, text) != DMCP_OK) {
        dmcp_result_add_text(&r, "tool error");
    }
    r.is_error = true;
    json_t *o = dmcp__result_to_json(&r);
    dmcp__result_clear(&r);
    return o;
}

/* ---------------------------------------------------------------------------------------- */
/* Handler context (MCP 2025-11-25 Basic › Utilities: progress, cancellation; logging)      */
/* ---------------------------------------------------------------------------------------- */

const json_t *dmcp_call_request_id(const dmcp_call *call)
{
    return call != NULL ? call->id : NULL;
}

const char *dmcp_call_tool_name(const dmcp_call *call)
{
    return call != NULL ? call->tool_name : NULL;
}

const char *dmcp_call_protocol_version(const dmcp_call *call)
{
    return call != NULL ? call->version : NULL;
}

const char *dmcp_call_session_id(const dmcp_call *call)
{
    if (call == NULL || call->sess == NULL || call->sess->id[0] == '\0') {
        return NULL;
    }
    return call->sess->id;
}

bool dmcp_call_is_cancelled(const dmcp_call *call)
{
    if (call == NULL) {
        return false;
    }
    return atomic_load(&((dmcp_call *)call)->cancelled) ||
           (call->srv != NULL && atomic_load(&call->srv->stopping));
}

const dmcp_principal *dmcp_call_principal(const dmcp_call *call)
{
    return call != NULL ? call->principal : NULL;
}

static dmcp_status send_note(dmcp_call *call, const char *method, json_t *params)
{
    json_t *n = dmcp__jsonrpc_notification(method, params);
    if (n == NULL) {
        return DMCP_E_NOMEM;
    }
    if (call->sink == NULL || call->sink->send == NULL) {
        json_decref(n);
        return DMCP_OK; /* nowhere to deliver (e.g. fuzzing); not an error for the tool */
    }
    return call->sink->send(call->sink, n);
}

dmcp_status dmcp_call_progress(dmcp_call *call, double progress, double total, const char *message)
{
    if (call == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    /* Basic › Utilities › Progress: the value MUST increase with each notification. Checked
     * even when nothing is sent, so a handler bug does not depend on the client. */
    if (call->sent_progress && !(progress > call->last_progress)) {
        return DMCP_E_INVALID_ARG;
    }
    call->last_progress = progress;
    call->sent_progress = true;
    if (call->progress_token == NULL) {
        return DMCP_OK;
    }
    json_t *p = json_object();
    if (p == NULL) {
        return DMCP_E_NOMEM;
    }
    json_object_set_new(p, "progressToken", json_deep_copy(call->progress_token));
    json_object_set_new(p, "progress", json_real(progress));
    if (total >= 0) {
        json_object_set_new(p, "total", json_real(total));
    }
    if (message != NULL) {
        json_object_set_new(p, "message", json_string(message));
    }
    return send_note(call, "notifications/progress", p);
}

static const char *const level_names[] = {"debug", "info",     "notice", "warning",
                                          "error", "critical", "alert",  "emergency"};

dmcp_status dmcp_call_log_json(dmcp_call *call, dmcp_log_level level, const char *logger,
                               const json_t *data)
{
    if (call == NULL || data == NULL || (int)level < 0 ||
        (size_t)level >= DMCP__ARRAY_LEN(level_names)) {
        return DMCP_E_INVALID_ARG;
    }
    if (call->sess != NULL && (int)level < atomic_load(&call->sess->log_level)) {
        return DMCP_OK; /* below the level the client asked for (logging/setLevel) */
    }
    json_t *p = json_object();
    if (p == NULL) {
        return DMCP_E_NOMEM;
    }
    json_object_set_new(p, "level", json_string(level_names[level]));
    if (logger != NULL) {
        json_object_set_new(p, "logger", json_string(logger));
    }
    json_object_set_new(p, "data", json_deep_copy(data));
    return send_note(call, "notifications/message", p);
}

dmcp_status dmcp_call_log(dmcp_call *call, dmcp_log_level level, const char *logger,
                          const char *message)
{
    if (message == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *s = json_string(message);
    if (s == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_status st = dmcp_call_log_json(call, level, logger, s);
    json_decref(s);
    return st;
}

int dmcp__log_level_parse(const char *name)
{
    for (size_t i = 0; name != NULL && i < DMCP__ARRAY_LEN(level_names); i++) {
        if (strcmp(level_names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}
