/*
 * The stateless revision 2026-07-28 over Streamable HTTP (mcp-transport.md §6): every POST
 * stands alone. Its _meta and headers are checked (era26.c), it runs on a transient session
 * that carries the request's client capabilities and its input-required state, and it is
 * answered as JSON, as one SSE body (notifications first), or as a live SSE stream (progress,
 * streaming tools). No session id, no GET stream, no DELETE, no resumption.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "mcp/http_internal.h"

/* HTTP status of a JSON-RPC error under 2026-07-28. */
static enum MHD_Result send_rpc_error(struct MHD_Connection *c, unsigned status, const json_t *id,
                                      int code, const char *message, json_t *data,
                                      const char *origin)
{
    return dmcp__http_send_json(c, status, dmcp__jsonrpc_error(id, code, message, data), origin,
                                NULL, NULL);
}

/* A listen session's transport: only the notification types it opted in to, tagged with its
 * subscription id, as events on its stream. */
static dmcp_status send_on_listen_stream(dmcp__session *sess, json_t *msg)
{
    if (!dmcp__era26_listen_tag(sess, msg)) {
        json_decref(msg);
        return DMCP_OK;
    }
    return dmcp__stream_send_session(sess, msg);
}

static const dmcp__transport listen_transport = {send_on_listen_stream, NULL};

/*
 * subscriptions/listen: a long-lived SSE response on this POST. The acknowledgement is its
 * first event; list_changed and resources/updated follow as the application announces them
 * (outbound.c reaches the stream through the listener registry). It ends when the client
 * closes it or the server stops. Counted against the stream limits like any live stream.
 */
static enum MHD_Result listen26(dmcp__http *h, struct MHD_Connection *c, json_t *body,
                                const dmcp_principal *p, const char *origin)
{
    const json_t *id = json_object_get(body, "id");
    int code = 0;
    const char *message = NULL;
    json_t *ack = NULL;
    dmcp__session *sess =
        dmcp__era26_listen_session(h->srv, body, &listen_transport, &ack, &code, &message);
    if (sess == NULL) {
        return code == DMCP_JSONRPC_INTERNAL_ERROR
                   ? dmcp__http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, code, message,
                                           origin)
                   : send_rpc_error(c, MHD_HTTP_BAD_REQUEST, id, code, message, NULL, origin);
    }
    dmcp__obs_kind(DMCP__M_METHOD_STREAM, true);
    dmcp__stream_ticket t;
    if (!dmcp__ticket_take(h, NULL, p, &t)) {
        json_decref(ack);
        dmcp__session_unref(sess);
        return dmcp__http_send_json(
            c, HTTP_TOO_MANY_REQUESTS,
            dmcp__jsonrpc_error(id, DMCP_JSONRPC_INTERNAL_ERROR, "Too many open streams", NULL),
            origin, "Retry-After", "1");
    }
    dmcp__stream *st = NULL;
    struct MHD_Response *r = dmcp__stream_open(h, c, NULL, &st); /* no priming: no resume */
    if (r == NULL) {
        json_decref(ack);
        dmcp__ticket_return(h, &t);
        dmcp__session_unref(sess);
        return dmcp__http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                                     "Out of memory", origin);
    }
    dmcp__stream_hold(st, &t);
    dmcp__http_cors(r, origin);
    dmcp__stream_event(st, ack); /* first, before the stream is reachable by notifications */
    dmcp__session_ref(sess);
    st->sess = sess; /* a reference: released with the stream */
    pthread_mutex_lock(&sess->mu);
    sess->get_stream = st; /* the caller's stream reference moves to the session */
    pthread_mutex_unlock(&sess->mu);
    if (dmcp__listeners_add(h->srv, sess) != DMCP_OK) {
        dmcp__stream_finish(st); /* cannot deliver anything: end after the acknowledgement */
    }
    dmcp__session_unref(sess);
    return dmcp__http_queue(c, MHD_HTTP_OK, r);
}

bool dmcp__http_tool_precheck26(dmcp__http *h, struct MHD_Connection *c, const dmcp_principal *p,
                                const char *origin, enum MHD_Result *ret)
{
    const dmcp_authorizer *az = h->srv->authorizer;
    const char *v = dmcp__http_header(c, "MCP-Protocol-Version");
    const char *raw_method = dmcp__http_header(c, "Mcp-Method");
    const char *raw_name = dmcp__http_header(c, "Mcp-Name");
    if (az == NULL || az->authorize_tool == NULL || v == NULL ||
        strcmp(v, DMCP_PROTOCOL_2026_07_28) != 0 || raw_method == NULL || raw_name == NULL) {
        return true;
    }
    bool invalid = false;
    char *method = dmcp__era26_header_value(raw_method, &invalid);
    char *name = dmcp__era26_header_value(raw_name, &invalid);
    bool call = method != NULL && name != NULL && strcmp(method, "tools/call") == 0;
    free(method);
    const char *const *scopes = NULL;
    size_t n_scopes = 0;
    if (call && dmcp__forward_handles(h->srv, "tools/call")) {
        /* A forwarded tool: its scopes come from the forwarder. */
        n_scopes = dmcp__forward_tool_scopes(h->srv, name, &scopes);
    } else if (call) {
        const dmcp_tool *tool = dmcp__tool_find(h->srv, name);
        if (tool != NULL) {
            scopes = (const char *const *)tool->scopes;
            n_scopes = tool->n_scopes;
        }
    }
    if (n_scopes == 0) {
        free(name);
        return true; /* nothing to decide from the headers; the body path decides */
    }
    dmcp_http_response *refusal = NULL;
    char *tool_error = NULL;
    dmcp_status st =
        az->authorize_tool(az->userdata, p, name, scopes, n_scopes, &refusal, &tool_error);
    free(tool_error); /* an isError answer needs the request id: the body path gives it */
    if (st != DMCP_E_INSUFFICIENT_SCOPE || refusal == NULL) {
        dmcp_http_response_free(refusal);
        free(name);
        return true;
    }
    unsigned tid = dmcp__metrics_tool_id(name);
    free(name);
    dmcp__obs_kind(DMCP__M_METHOD_TOOLS_CALL, false);
    if (dmcp__obs_current != NULL) {
        dmcp__obs_current->tool = tid;
    }
    dmcp__metrics_tool_call(tid, DMCP__M_REFUSED);
    *ret = dmcp__http_send_custom(c, refusal, origin);
    return false;
}

enum MHD_Result dmcp__http_post26(dmcp__http *h, struct MHD_Connection *c, json_t *body,
                                  const dmcp_principal *p, const char *origin,
                                  dmcp__deferred **later)
{
    dmcp_server *srv = h->srv;
    enum MHD_Result ret = MHD_NO;
    const json_t *id = NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        return dmcp__http_send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Invalid Request: no batches in 2026-07-28", origin);
    }
    dmcp__msg_kind kind = dmcp__jsonrpc_classify(body, &id);
    if (kind == DMCP__MSG_INVALID) {
        ret = send_rpc_error(c, MHD_HTTP_BAD_REQUEST, id, DMCP_JSONRPC_INVALID_REQUEST,
                             "Invalid Request", NULL, origin);
        json_decref(body);
        return ret;
    }
    if (kind != DMCP__MSG_REQUEST) {
        /* Notifications and responses have nothing to attach to without a session. */
        json_decref(body);
        return dmcp__http_send_empty(c, MHD_HTTP_ACCEPTED, origin, NULL);
    }
    dmcp__era26_headers hd = {dmcp__http_header(c, "MCP-Protocol-Version"),
                              dmcp__http_header(c, "Mcp-Method"), dmcp__http_header(c, "Mcp-Name")};
    unsigned http = 0;
    const char *message = NULL;
    json_t *data = NULL;
    int code = dmcp__era26_check(body, &hd, &http, &message, &data);
    if (code != 0) {
        ret = send_rpc_error(c, http, id, code, message, data, origin);
        json_decref(body);
        return ret;
    }
    const char *method = json_string_value(json_object_get(body, "method"));
    if (strcmp(method, "subscriptions/listen") == 0) {
        ret = listen26(h, c, body, p, origin);
        json_decref(body);
        return ret;
    }
    dmcp__session *sess = dmcp__era26_request_session(p, body);
    if (sess == NULL) {
        json_decref(body);
        return dmcp__http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                                     "Out of memory", origin);
    }
    const char *name = sess->mrtr->name; /* the tool/prompt name or resource uri */
    atomic_fetch_add(&sess->requests, 1);
    json_t *notes = json_array();
    dmcp__sink sink = {dmcp__collect_sink_send, notes, false, NULL};
    dmcp__rpc_ctx ctx = {srv, sess, p, DMCP_PROTOCOL_2026_07_28, true, false, &sink};

    /* Per-tool scopes, answered before dispatch (resource-server §3 step 6). */
    dmcp_http_response *refusal = NULL;
    json_t *answer = NULL;
    dmcp_status st = dmcp__authorize_call(&ctx, body, &refusal, &answer);
    if (st != DMCP_OK) {
        dmcp__metrics_tool_call(name != NULL ? dmcp__metrics_tool_id(name) : DMCP__M_TOOL_OTHER,
                                DMCP__M_REFUSED);
        if (refusal != NULL) {
            json_decref(answer);
            ret = dmcp__http_send_custom(c, refusal, origin);
        } else {
            ret = dmcp__http_send_answer(c, answer, notes, NULL, origin, NULL);
            notes = NULL;
        }
        goto out;
    }
    ctx.authorized = true;
    if (dmcp__wants_stream(srv, sess, body)) {
        pthread_mutex_lock(&h->mu);
        bool worker_room = h->workers < MAX_STREAM_WORKERS;
        pthread_mutex_unlock(&h->mu);
        dmcp__stream_ticket t;
        if (worker_room && dmcp__ticket_take(h, NULL, p, &t)) {
            ret = dmcp__stream_start_call(h, c, &ctx, body, origin, &t);
            dmcp__obs_kind(DMCP__M_METHOD_TOOLS_CALL, true);
            goto out;
        }
    }
    if (dmcp__defer_try26(h, c, &ctx, body, notes, origin, later, &answer, &ret)) {
        return ret; /* body, notes and sess are the deferred call's now */
    }
    if (answer == NULL) { /* not already served by dmcp__defer_try26 */
        answer = dmcp__dispatch_request(&ctx, body);
    }
    ret = dmcp__http_send_answer26(c, answer, notes, origin);
    notes = NULL;
out:
    json_decref(notes);
    json_decref(body);
    atomic_fetch_sub(&sess->requests, 1);
    dmcp__session_unref(sess);
    return ret;
}
