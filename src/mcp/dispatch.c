/* Method dispatch: one table from method name to handler; notifications. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"
#include "metrics.h"

typedef json_t *(*method_fn)(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                             const char **message, json_t **data);

static json_t *m_initialize(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                            const char **message, json_t **data)
{
    (void)data;
    (void)id;
    if (ctx->stateless) {
        /* Stateless mode: answer the handshake but keep nothing (a throwaway session). */
        dmcp__session *tmp = dmcp__session_new_local();
        if (tmp == NULL) {
            *code = DMCP_JSONRPC_INTERNAL_ERROR;
            *message = "Out of memory";
            return NULL;
        }
        json_t *r = dmcp__lifecycle_initialize(ctx->srv, tmp, params, code, message);
        dmcp__session_unref(tmp);
        return r;
    }
    return dmcp__lifecycle_initialize(ctx->srv, ctx->sess, params, code, message);
}

static json_t *m_ping(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                      const char **message, json_t **data)
{
    (void)data;
    (void)ctx;
    (void)id;
    (void)params;
    (void)code;
    (void)message;
    return json_object();
}

static json_t *m_tools_list(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                            const char **message, json_t **data)
{
    (void)data;
    (void)id;
    return dmcp__tools_list(ctx->srv, params, code, message);
}

static json_t *m_set_level(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                           const char **message, json_t **data)
{
    (void)data;
    (void)id;
    const json_t *lv = json_object_get(params, "level");
    int level = json_is_string(lv) ? dmcp__log_level_parse(json_string_value(lv)) : -1;
    if (level < 0) {
        *code = DMCP_JSONRPC_INVALID_PARAMS;
        *message = "Invalid log level";
        return NULL;
    }
    atomic_store(&ctx->sess->log_level, level);
    atomic_store(&ctx->sess->store_dirty, true);
    return json_object();
}

static const json_t *progress_token(const json_t *params)
{
    const json_t *meta = json_object_get(params, "_meta");
    const json_t *tok = json_object_get(meta, "progressToken");
    return (json_is_string(tok) || json_is_integer(tok)) ? tok : NULL;
}

static json_t *m_tools_call(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                            const char **message, json_t **data)
{
    (void)data;
    const json_t *name = json_object_get(params, "name");
    const json_t *args = json_object_get(params, "arguments");
    if (!json_is_string(name)) {
        *code = DMCP_JSONRPC_INVALID_PARAMS;
        *message = "Missing tool name";
        return NULL;
    }
    const dmcp_tool *tool = dmcp__tool_find(ctx->srv, json_string_value(name));
    if (tool == NULL) {
        /* Tools §6: an unknown tool is a protocol error, not an isError result. The name is
         * echoed only when it could be a valid one (bounded, plain ASCII). */
        static _Thread_local char buf[96];
        const char *n = json_string_value(name);
        bool plain = json_string_length(name) <= DMCP__TOOL_NAME_MAX;
        for (const char *c = n; plain && *c != '\0'; c++) {
            plain = (unsigned char)*c > 0x20 && (unsigned char)*c < 0x7F;
        }
        snprintf(buf, sizeof(buf), plain ? "Unknown tool: %s" : "Unknown tool", n);
        *code = DMCP_JSONRPC_INVALID_PARAMS;
        *message = buf;
        return NULL;
    }
    dmcp_call call;
    memset(&call, 0, sizeof(call));
    call.srv = ctx->srv;
    call.sess = ctx->sess;
    call.principal = ctx->principal;
    call.id = id;
    call.tool_name = tool->name;
    call.version = ctx->version;
    call.progress_token = (json_t *)progress_token(params);
    call.sink = ctx->sink;
    call.stateless = ctx->stateless;
    atomic_init(&call.cancelled, false);
    bool tracked = dmcp__session_track(ctx->sess, id, &call.cancelled) == DMCP_OK;
    json_t *res = dmcp__tool_run(tool, args, &call);
    if (tracked) {
        dmcp__session_untrack(ctx->sess, id, &call.cancelled);
    }
    if (res == NULL) {
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Out of memory";
    }
    dmcp__metrics_tool_call(
        dmcp__metrics_tool_id(tool->name),
        res != NULL && !json_is_true(json_object_get(res, "isError")) ? DMCP__M_OK : DMCP__M_ERROR);
    return res;
}

/* Features answer -32601 when nothing of theirs is registered (Lifecycle §1.2: the capability
 * was not declared). */
static bool has_resources(const dmcp_server *srv, int *code, const char **message)
{
    if (srv->resources.count == 0 && srv->templates.count == 0) {
        *code = DMCP_JSONRPC_METHOD_NOT_FOUND;
        *message = "Method not found";
        return false;
    }
    return true;
}

static json_t *m_resources_list(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params,
                                int *code, const char **message, json_t **data)
{
    (void)id;
    (void)data;
    return has_resources(ctx->srv, code, message)
               ? dmcp__resources_list(ctx->srv, params, code, message)
               : NULL;
}

static json_t *m_templates_list(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params,
                                int *code, const char **message, json_t **data)
{
    (void)id;
    (void)data;
    return has_resources(ctx->srv, code, message)
               ? dmcp__templates_list(ctx->srv, params, code, message)
               : NULL;
}

static json_t *m_resources_read(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params,
                                int *code, const char **message, json_t **data)
{
    (void)id;
    return has_resources(ctx->srv, code, message)
               ? dmcp__resources_read(ctx->srv, ctx->principal, params, code, message, data)
               : NULL;
}

static json_t *m_subscribe(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                           const char **message, json_t **data)
{
    (void)id;
    return has_resources(ctx->srv, code, message)
               ? dmcp__resources_subscribe(ctx->srv, ctx->sess, params, true, code, message, data)
               : NULL;
}

static json_t *m_unsubscribe(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                             const char **message, json_t **data)
{
    (void)id;
    return has_resources(ctx->srv, code, message)
               ? dmcp__resources_subscribe(ctx->srv, ctx->sess, params, false, code, message, data)
               : NULL;
}

static json_t *m_prompts_list(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                              const char **message, json_t **data)
{
    (void)id;
    (void)data;
    if (ctx->srv->prompts.count == 0) {
        *code = DMCP_JSONRPC_METHOD_NOT_FOUND;
        *message = "Method not found";
        return NULL;
    }
    return dmcp__prompts_list(ctx->srv, params, code, message);
}

static json_t *m_prompts_get(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                             const char **message, json_t **data)
{
    (void)data;
    if (ctx->srv->prompts.count == 0) {
        *code = DMCP_JSONRPC_METHOD_NOT_FOUND;
        *message = "Method not found";
        return NULL;
    }
    /* The request as a call, so a prompt can ask for input (2026: an input-required result). */
    dmcp_call call;
    memset(&call, 0, sizeof(call));
    call.srv = ctx->srv;
    call.sess = ctx->sess;
    call.principal = ctx->principal;
    call.id = id;
    call.version = ctx->version;
    call.sink = ctx->sink;
    call.stateless = ctx->stateless;
    atomic_init(&call.cancelled, false);
    return dmcp__prompts_get(ctx->srv, ctx->principal, params, &call, code, message);
}

static json_t *m_complete(dmcp__rpc_ctx *ctx, const json_t *id, const json_t *params, int *code,
                          const char **message, json_t **data)
{
    (void)id;
    (void)data;
    if (!ctx->srv->has_completions) {
        *code = DMCP_JSONRPC_METHOD_NOT_FOUND;
        *message = "Method not found";
        return NULL;
    }
    return dmcp__complete(ctx->srv, params, code, message);
}

static const struct {
    const char *name;
    method_fn fn;
} methods[] = {
    {"initialize", m_initialize},
    {"ping", m_ping},
    {"tools/list", m_tools_list},
    {"tools/call", m_tools_call},
    {"logging/setLevel", m_set_level},
    {"resources/list", m_resources_list},
    {"resources/templates/list", m_templates_list},
    {"resources/read", m_resources_read},
    {"resources/subscribe", m_subscribe},
    {"resources/unsubscribe", m_unsubscribe},
    {"prompts/list", m_prompts_list},
    {"prompts/get", m_prompts_get},
    {"completion/complete", m_complete},
};

static method_fn find_method(const char *method)
{
    for (size_t i = 0; i < DMCP__ARRAY_LEN(methods); i++) {
        if (strcmp(methods[i].name, method) == 0) {
            return methods[i].fn;
        }
    }
    return NULL;
}

static json_t *answer26(const dmcp__rpc_ctx *ctx, const json_t *id, const char *method,
                        json_t *res, int code, const char *message, json_t *data);

/*
 * A request under 2026-07-28 (the transport checked its _meta and headers): the shared
 * registries through the same handlers, input-required results around tools/call, and
 * resultType plus caching hints on every result.
 */
static json_t *dispatch26(dmcp__rpc_ctx *ctx, dmcp__mrtr *mrtr, const json_t *id,
                          const char *method, const json_t *params)
{
    int code = DMCP_JSONRPC_INTERNAL_ERROR;
    const char *message = "Internal error";
    json_t *data = NULL;
    json_t *res = NULL;
    method_fn fn = dmcp__era26_method_known(method) ? find_method(method) : NULL;
    bool fwd = fn != NULL && dmcp__forward_handles(ctx->srv, method);
    bool mrtr_method = strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0;
    if (strcmp(method, "server/discover") == 0) {
        res = dmcp__era26_discover(ctx->srv);
    } else if (fn == NULL) {
        code = DMCP_JSONRPC_METHOD_NOT_FOUND;
        message = "Method not found";
    } else if (mrtr_method && (code = dmcp__mrtr_begin(ctx->srv, mrtr, params, &message)) != 0) {
        res = NULL;
    } else {
        code = DMCP_JSONRPC_INTERNAL_ERROR;
        res = fwd ? dmcp__forward_request(ctx, id, method, params, &code, &message, &data)
                  : fn(ctx, id, params, &code, &message, &data);
        return dmcp__dispatch26_end(ctx, mrtr, id, method, res, code, message, data);
    }
    return answer26(ctx, id, method, res, code, message, data);
}

json_t *dmcp__dispatch26_end(dmcp__rpc_ctx *ctx, dmcp__mrtr *mrtr, const json_t *id,
                             const char *method, json_t *res, int code, const char *message,
                             json_t *data)
{
    if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0) {
        /* Also on failure: a prompt that asked returns no result. */
        res = dmcp__mrtr_finish(ctx->srv, mrtr, res, &code, &message, &data);
    }
    return answer26(ctx, id, method, res, code, message, data);
}

/* The 2026-07-28 answer: the era's error codes, resultType and caching hints. Takes res and
 * data. */
static json_t *answer26(const dmcp__rpc_ctx *ctx, const json_t *id, const char *method,
                        json_t *res, int code, const char *message, json_t *data)
{
    if (res == NULL) {
        if (code == DMCP_JSONRPC_RESOURCE_NOT_FOUND) {
            code = DMCP_JSONRPC_INVALID_PARAMS; /* 2026-07-28: -32602 with data.uri */
        }
        return dmcp__jsonrpc_error(id, code, message, data);
    }
    json_decref(data);
    dmcp__era26_decorate(ctx->srv, method, res);
    return dmcp__jsonrpc_result(id, res);
}

json_t *dmcp__dispatch_request(dmcp__rpc_ctx *ctx, const json_t *msg)
{
    const json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    const json_t *params = json_object_get(msg, "params");
    json_t *empty = NULL;
    if (params == NULL) {
        empty = json_object();
        params = empty;
    }
    const char *message = NULL;
    int code = dmcp__lifecycle_gate(ctx->sess, method, ctx->stateless, &message);
    json_t *out = NULL;
    if (code != 0) {
        out = dmcp__jsonrpc_error(id, code, message, NULL);
        goto out;
    }
    if (!ctx->authorized && strcmp(method, "tools/call") == 0) {
        /* The transport did not pre-check (e.g. a path without HTTP refusals): do it here,
         * answering any refusal as a tool error so scopes are never skipped. */
        dmcp_http_response *refusal = NULL;
        json_t *answer = NULL;
        dmcp_status st = dmcp__authorize_call(ctx, msg, &refusal, &answer);
        if (st != DMCP_OK) {
            if (answer == NULL) {
                answer = dmcp__jsonrpc_result(
                    id, dmcp__tool_error_result("Insufficient scope for this tool"));
            }
            dmcp_http_response_free(refusal);
            out = answer;
            goto out;
        }
    }
    dmcp__mrtr *mrtr = ctx->sess != NULL ? ctx->sess->mrtr : NULL;
    if (mrtr != NULL) {
        out = dispatch26(ctx, mrtr, id, method, params);
        goto out;
    }
    if (dmcp__forward_handles(ctx->srv, method)) {
        code = DMCP_JSONRPC_INTERNAL_ERROR;
        message = "Internal error";
        json_t *data = NULL;
        json_t *res = dmcp__forward_request(ctx, id, method, params, &code, &message, &data);
        out = res != NULL ? dmcp__jsonrpc_result(id, res)
                          : dmcp__jsonrpc_error(id, code, message, data);
        goto out;
    }
    for (size_t i = 0; i < DMCP__ARRAY_LEN(methods); i++) {
        if (strcmp(methods[i].name, method) == 0) {
            code = DMCP_JSONRPC_INTERNAL_ERROR;
            message = "Internal error";
            json_t *data = NULL;
            json_t *res = methods[i].fn(ctx, id, params, &code, &message, &data);
            if (res != NULL) {
                json_decref(data);
                out = dmcp__jsonrpc_result(id, res);
            } else {
                out = dmcp__jsonrpc_error(id, code, message, data);
            }
            goto out;
        }
    }
    out = dmcp__jsonrpc_error(id, DMCP_JSONRPC_METHOD_NOT_FOUND, "Method not found", NULL);
out:
    json_decref(empty);
    return out;
}

void dmcp__dispatch_notification(dmcp__rpc_ctx *ctx, const json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (method == NULL) {
        /* A response to a server->client request (sampling, elicitation, ...). The runtime
         * only sends integer ids; a string id answers a request a forwarder sent itself
         * (dmcp_server_send_to_session), so it goes to the forwarder. */
        if (json_is_string(json_object_get(msg, "id"))) {
            dmcp__forward_notification(ctx, msg);
        } else if (!dmcp__session_deliver_response(ctx->sess, msg)) {
            dmcp__sstore_forward_response(ctx->srv, ctx->sess, msg);
        }
        return;
    }
    const json_t *params = json_object_get(msg, "params");
    if (strcmp(method, "notifications/initialized") == 0) {
        pthread_mutex_lock(&ctx->sess->mu);
        ctx->sess->client_ready = true;
        pthread_mutex_unlock(&ctx->sess->mu);
        atomic_store(&ctx->sess->store_dirty, true);
    } else if (strcmp(method, "notifications/cancelled") == 0) {
        /* Basic › Utilities › Cancellation: flag the running request; unknown ids and
         * late arrivals are ignored. */
        const json_t *rid = json_object_get(params, "requestId");
        if (json_is_string(rid) || json_is_integer(rid)) {
            dmcp__session_cancel(ctx->sess, rid);
        }
    } else {
        /* Others (roots/list_changed, progress from the client, ...) go to a forwarder, if
         * any; otherwise they are ignored. */
        dmcp__forward_notification(ctx, msg);
    }
}

dmcp_status dmcp__authorize_call(dmcp__rpc_ctx *ctx, const json_t *msg,
                                 dmcp_http_response **refusal, json_t **result)
{
    *refusal = NULL;
    *result = NULL;
    const char *method = json_string_value(json_object_get(msg, "method"));
    const dmcp_authorizer *az = ctx->srv->authorizer;
    if (method == NULL || strcmp(method, "tools/call") != 0 || az == NULL ||
        az->authorize_tool == NULL) {
        return DMCP_OK;
    }
    const json_t *params = json_object_get(msg, "params");
    const char *tool_name = json_string_value(json_object_get(params, "name"));
    const char *const *scopes = NULL;
    size_t n_scopes = 0;
    if (dmcp__forward_handles(ctx->srv, "tools/call")) {
        n_scopes = dmcp__forward_tool_scopes(ctx->srv, tool_name, &scopes);
    } else {
        const dmcp_tool *tool = dmcp__tool_find(ctx->srv, tool_name);
        if (tool != NULL) {
            tool_name = tool->name;
            scopes = (const char *const *)tool->scopes;
            n_scopes = tool->n_scopes;
        }
    }
    if (n_scopes == 0) {
        return DMCP_OK; /* unknown tools get -32602 from dispatch; no scopes, nothing to do */
    }
    char *tool_error = NULL;
    dmcp_status st = az->authorize_tool(az->userdata, ctx->principal, tool_name, scopes, n_scopes,
                                        refusal, &tool_error);
    const json_t *id = json_object_get(msg, "id");
    if (st == DMCP_OK) {
        dmcp_http_response_free(*refusal);
        *refusal = NULL;
        free(tool_error);
        return DMCP_OK;
    }
    if (st == DMCP_E_INSUFFICIENT_SCOPE && *refusal != NULL) {
        free(tool_error);
        return st;
    }
    dmcp_http_response_free(*refusal);
    *refusal = NULL;
    if (st == DMCP_E_INSUFFICIENT_SCOPE) {
        *result = dmcp__jsonrpc_result(
            id, dmcp__tool_error_result(tool_error != NULL ? tool_error : "Insufficient scope"));
        free(tool_error);
        return st;
    }
    free(tool_error);
    *result = dmcp__jsonrpc_error(id, DMCP_JSONRPC_INTERNAL_ERROR, "Authorization failed", NULL);
    return st == DMCP_OK ? DMCP_E_INTERNAL : st;
}

/* Whether the client of sess could answer a server->client request (it declared sampling,
 * elicitation or roots). Without a session (tests), assume it could. */
static bool client_can_answer(const dmcp__session *sess)
{
    if (sess == NULL) {
        return true;
    }
    if (sess->mrtr != NULL) {
        return false; /* 2026-07-28: input-required results, never requests on a stream */
    }
    const json_t *caps = sess->client_caps;
    return json_object_get(caps, "sampling") != NULL ||
           json_object_get(caps, "elicitation") != NULL || json_object_get(caps, "roots") != NULL;
}

bool dmcp__wants_stream(const dmcp_server *srv, const dmcp__session *sess, const json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    const json_t *params = json_object_get(msg, "params");
    if (method != NULL && dmcp__forward_handles(srv, method)) {
        return progress_token(params) != NULL || (srv->fwd.stream && client_can_answer(sess));
    }
    if (method != NULL && strcmp(method, "prompts/get") == 0) {
        /* A prompt can ask the client too (dmcp_prompt_result_call): with a progress token
         * its answer is a live stream, so such a request reaches the client. */
        return progress_token(params) != NULL;
    }
    if (method == NULL || strcmp(method, "tools/call") != 0) {
        return false;
    }
    if (progress_token(params) != NULL) {
        return true;
    }
    const dmcp_tool *tool =
        dmcp__tool_find(srv, json_string_value(json_object_get(params, "name")));
    return tool != NULL && tool->streaming;
}

static json_t *process_one(dmcp__rpc_ctx *ctx, const json_t *msg)
{
    const json_t *id = NULL;
    switch (dmcp__jsonrpc_classify(msg, &id)) {
    case DMCP__MSG_REQUEST:
        return dmcp__dispatch_request(ctx, msg);
    case DMCP__MSG_NOTIFICATION:
    case DMCP__MSG_RESPONSE:
        dmcp__dispatch_notification(ctx, msg);
        return NULL;
    case DMCP__MSG_INVALID:
    default:
        return dmcp__jsonrpc_error(id, DMCP_JSONRPC_INVALID_REQUEST, "Invalid Request", NULL);
    }
}

json_t *dmcp__process(dmcp__rpc_ctx *ctx, const json_t *body)
{
    if (json_is_object(body)) {
        return process_one(ctx, body);
    }
    if (!json_is_array(body) || json_array_size(body) == 0) {
        /* JSON-RPC §6: an empty array is an invalid request answered with one error. */
        return dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INVALID_REQUEST, "Invalid Request", NULL);
    }
    json_t *answers = json_array();
    if (answers == NULL) {
        return NULL;
    }
    size_t i;
    const json_t *m;
    json_array_foreach(body, i, m)
    {
        /* 2025-03-26 Lifecycle: initialize MUST NOT be part of a batch. */
        const char *method = json_string_value(json_object_get(m, "method"));
        json_t *a;
        if (method != NULL && strcmp(method, "initialize") == 0) {
            const json_t *id = NULL;
            dmcp__jsonrpc_classify(m, &id);
            a = dmcp__jsonrpc_error(id, DMCP_JSONRPC_INVALID_REQUEST,
                                    "initialize must not be batched", NULL);
        } else {
            a = process_one(ctx, m);
        }
        if (a != NULL) {
            json_array_append_new(answers, a);
        }
    }
    if (json_array_size(answers) == 0) {
        json_decref(answers);
        return NULL;
    }
    return answers;
}
