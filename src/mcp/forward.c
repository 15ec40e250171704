/*
 * Forwarding: method families served by an application callback instead of the registries
 * (a gateway in front of another MCP server). The runtime does not know what is behind the
 * callback; it gives it a call context like a tool handler's and answers with what it returns.
 */
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"
#include "metrics.h"

static const struct {
    const char *method;
    unsigned family;
} families[] = {
    {"tools/list", DMCP_FORWARD_TOOLS},
    {"tools/call", DMCP_FORWARD_TOOLS},
    {"prompts/list", DMCP_FORWARD_PROMPTS},
    {"prompts/get", DMCP_FORWARD_PROMPTS},
    {"resources/list", DMCP_FORWARD_RESOURCES},
    {"resources/templates/list", DMCP_FORWARD_RESOURCES},
    {"resources/read", DMCP_FORWARD_RESOURCES},
    {"resources/subscribe", DMCP_FORWARD_RESOURCES},
    {"resources/unsubscribe", DMCP_FORWARD_RESOURCES},
    {"completion/complete", DMCP_FORWARD_COMPLETION},
    {"logging/setLevel", DMCP_FORWARD_LOGGING},
};

dmcp_status dmcp_server_set_forwarder(dmcp_server *srv, const dmcp_forwarder *fwd)
{
    if (srv == NULL || fwd == NULL || fwd->request == NULL ||
        (fwd->capabilities != NULL && !json_is_object(fwd->capabilities))) {
        return DMCP_E_INVALID_ARG;
    }
    if (atomic_load(&srv->started)) {
        return DMCP_E_STATE;
    }
    json_t *caps = fwd->capabilities != NULL ? json_deep_copy(fwd->capabilities) : NULL;
    if (fwd->capabilities != NULL && caps == NULL) {
        return DMCP_E_NOMEM;
    }
    json_decref(srv->fwd_caps);
    srv->fwd = *fwd;
    srv->fwd_caps = caps;
    srv->fwd.capabilities = caps;
    return DMCP_OK;
}

void dmcp__forward_free(dmcp_server *srv)
{
    json_decref(srv->fwd_caps);
    srv->fwd_caps = NULL;
    memset(&srv->fwd, 0, sizeof(srv->fwd));
}

bool dmcp__forward_handles(const dmcp_server *srv, const char *method)
{
    if (srv->fwd.request == NULL || method == NULL) {
        return false;
    }
    for (size_t i = 0; i < DMCP__ARRAY_LEN(families); i++) {
        if (strcmp(families[i].method, method) == 0) {
            return (srv->fwd.methods & families[i].family) != 0;
        }
    }
    return false;
}

size_t dmcp__forward_tool_scopes(const dmcp_server *srv, const char *tool,
                                 const char *const **scopes)
{
    *scopes = NULL;
    if (tool == NULL || srv->fwd.tool_scopes == NULL ||
        !dmcp__forward_handles(srv, "tools/call")) {
        return 0;
    }
    size_t n = srv->fwd.tool_scopes(srv->fwd.userdata, tool, scopes);
    return *scopes != NULL ? n : 0;
}

static const json_t *progress_token_of(const json_t *params)
{
    const json_t *tok = json_object_get(json_object_get(params, "_meta"), "progressToken");
    return (json_is_string(tok) || json_is_integer(tok)) ? tok : NULL;
}

void dmcp__forward_call_init(dmcp_call *call, const dmcp__rpc_ctx *ctx, const json_t *id,
                             const char *method, const json_t *params)
{
    memset(call, 0, sizeof(*call));
    call->srv = ctx->srv;
    call->sess = ctx->sess;
    call->principal = ctx->principal;
    call->id = id;
    call->version = ctx->version;
    call->progress_token = (json_t *)progress_token_of(params);
    call->sink = ctx->sink;
    call->stateless = ctx->stateless;
    if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0) {
        call->tool_name = json_string_value(json_object_get(params, "name"));
    }
    atomic_init(&call->cancelled, false);
}

/* The code, message and data of a forwarder's error object (-32603 without them). message is
 * copied to buf since the caller drops error. */
static void error_fields(const json_t *error, char *buf, size_t n, int *code, const char **message,
                         json_t **data)
{
    const json_t *c = json_object_get(error, "code");
    const char *m = json_string_value(json_object_get(error, "message"));
    *code = json_is_integer(c) ? (int)json_integer_value(c) : DMCP_JSONRPC_INTERNAL_ERROR;
    size_t len = m != NULL ? strnlen(m, n - 1) : 0;
    if (m != NULL) {
        memcpy(buf, m, len);
    }
    buf[len] = '\0';
    *message = m != NULL ? buf : "Internal error";
    json_t *d = json_object_get(error, "data");
    if (d != NULL) {
        *data = json_incref(d);
    }
}

json_t *dmcp__forward_request(dmcp__rpc_ctx *ctx, const json_t *id, const char *method,
                              const json_t *params, int *code, const char **message,
                              json_t **data)
{
    dmcp_server *srv = ctx->srv;
    if (strcmp(method, "logging/setLevel") == 0 && ctx->sess != NULL) {
        /* Applied here too, so the runtime's own log filtering follows the client's wish. */
        int level = dmcp__log_level_parse(json_string_value(json_object_get(params, "level")));
        if (level >= 0) {
            atomic_store(&ctx->sess->log_level, level);
        }
    }
    dmcp_call call;
    dmcp__forward_call_init(&call, ctx, id, method, params);
    bool tracked = ctx->sess != NULL && dmcp__session_track(ctx->sess, id, &call.cancelled) == DMCP_OK;
    json_t *result = NULL, *error = NULL;
    dmcp_status st = srv->fwd.request(srv->fwd.userdata, &call, method, params, &result, &error);
    if (tracked) {
        dmcp__session_untrack(ctx->sess, id, &call.cancelled);
    }
    if (st == DMCP_OK && json_is_object(result)) {
        json_decref(error);
        return result;
    }
    json_decref(result);
    /* The caller borrows *message after we drop error: thread-local storage. */
    static _Thread_local char msgbuf[256];
    error_fields(error, msgbuf, sizeof(msgbuf), code, message, data);
    json_decref(error);
    return NULL;
}

json_t *dmcp__forward_result(dmcp_status st, json_t *result, json_t *error, char *buf, size_t n,
                             int *code, const char **message, json_t **data)
{
    if (st == DMCP_OK && json_is_object(result)) {
        json_decref(error);
        return result;
    }
    json_decref(result);
    error_fields(error, buf, n, code, message, data);
    json_decref(error);
    return NULL;
}

json_t *dmcp__forward_response(const json_t *id, dmcp_status st, json_t *result, json_t *error)
{
    char buf[256];
    int code = DMCP_JSONRPC_INTERNAL_ERROR;
    const char *message = NULL;
    json_t *data = NULL;
    json_t *res = dmcp__forward_result(st, result, error, buf, sizeof(buf), &code, &message, &data);
    return res != NULL ? dmcp__jsonrpc_result(id, res) : dmcp__jsonrpc_error(id, code, message, data);
}

void dmcp__forward_notification(dmcp__rpc_ctx *ctx, const json_t *msg)
{
    const dmcp_server *srv = ctx->srv;
    if (srv->fwd.request == NULL || srv->fwd.notification == NULL) {
        return;
    }
    const char *sid = ctx->sess != NULL && ctx->sess->id[0] != '\0' && !ctx->stateless
                          ? ctx->sess->id
                          : NULL;
    srv->fwd.notification(srv->fwd.userdata, sid, msg);
}

dmcp_status dmcp_server_send_to_session(dmcp_server *srv, const char *session_id, json_t *msg)
{
    if (srv == NULL || session_id == NULL || !json_is_object(msg)) {
        json_decref(msg);
        return DMCP_E_INVALID_ARG;
    }
    if (srv->sessions == NULL) {
        json_decref(msg);
        return DMCP_E_STATE;
    }
    dmcp_status st = DMCP_OK;
    dmcp__session *s = dmcp__sstore_find(srv, session_id, &st); /* any instance's, when shared */
    if (s == NULL) {
        json_decref(msg);
        return st;
    }
    json_incref(msg);
    st = dmcp__session_send_unsolicited(s, msg);
    if (st == DMCP_E_STATE && dmcp__sstore_on(srv)) {
        /* No stream here: the instance holding the client's GET stream delivers it. */
        st = dmcp__sstore_send_unsolicited(srv, s->id, msg);
    } else {
        json_decref(msg);
    }
    dmcp__session_unref(s);
    return st;
}

dmcp_status dmcp_call_notify(dmcp_call *call, const json_t *msg)
{
    if (call == NULL || !json_is_object(msg) || !json_is_string(json_object_get(msg, "method")) ||
        json_object_get(msg, "id") != NULL) {
        return DMCP_E_INVALID_ARG;
    }
    if (call->sink == NULL || call->sink->send == NULL) {
        return DMCP_OK;
    }
    json_t *copy = json_deep_copy(msg);
    if (copy == NULL) {
        return DMCP_E_NOMEM;
    }
    return call->sink->send(call->sink, copy);
}

const json_t *dmcp_call_client_capabilities(const dmcp_call *call)
{
    return call != NULL && call->sess != NULL ? call->sess->client_caps : NULL;
}

const json_t *dmcp_call_client_info(const dmcp_call *call)
{
    return call != NULL && call->sess != NULL ? call->sess->client_info : NULL;
}

/* ---- session attributes (a forwarder's state, shared through the store's record) ---- */

static bool attr_session(const dmcp_call *call)
{
    return call != NULL && call->sess != NULL && call->sess->id[0] != '\0' &&
           call->sess->mrtr == NULL && call->sess->listen_id == NULL;
}

json_t *dmcp_call_session_attr(const dmcp_call *call, const char *key)
{
    if (!attr_session(call) || key == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&call->sess->mu);
    json_t *v = json_object_get(call->sess->attrs, key);
    json_t *copy = v != NULL ? json_deep_copy(v) : NULL;
    pthread_mutex_unlock(&call->sess->mu);
    return copy;
}

dmcp_status dmcp_call_set_session_attr(dmcp_call *call, const char *key, json_t *value)
{
    if (key == NULL || key[0] == '\0' || strlen(key) > DMCP_SESSION_ATTR_KEY_MAX) {
        json_decref(value);
        return DMCP_E_INVALID_ARG;
    }
    if (!attr_session(call)) {
        json_decref(value);
        return DMCP_E_STATE;
    }
    dmcp__session *sess = call->sess;
    pthread_mutex_lock(&sess->mu);
    json_t *next = sess->attrs != NULL ? json_deep_copy(sess->attrs) : json_object();
    if (next == NULL || (value != NULL ? json_object_set(next, key, value)
                                       : (json_object_del(next, key), 0)) != 0) {
        pthread_mutex_unlock(&sess->mu);
        json_decref(next);
        json_decref(value);
        return DMCP_E_NOMEM;
    }
    json_decref(value);
    size_t len = 0;
    char *dump = dmcp__json_dump(next, &len);
    if (dump == NULL || len > DMCP_SESSION_ATTRS_MAX) {
        pthread_mutex_unlock(&sess->mu);
        free(dump);
        json_decref(next);
        return dump == NULL ? DMCP_E_NOMEM : DMCP_E_TOO_LARGE;
    }
    free(dump);
    json_decref(sess->attrs);
    sess->attrs = next;
    pthread_mutex_unlock(&sess->mu);
    if (!dmcp__sstore_on(call->srv)) {
        return DMCP_OK;
    }
    atomic_store(&sess->store_dirty, true);
    return dmcp__sstore_flush(call->srv, sess);
}
