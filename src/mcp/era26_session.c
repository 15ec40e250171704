/*
 * Transient sessions of the stateless revision 2026-07-28, the same for every transport
 * (Streamable HTTP in http_era26.c, stdio in stdio.c): one per request, carrying the
 * request's _meta (capabilities, client info, log level) and its input-required state; and
 * one per subscriptions/listen, carrying the filter and the subscription id, registered as a
 * listener so dmcp_server_notify_* reach it. The transport only says how bytes leave.
 */
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

dmcp__session *dmcp__era26_request_session(const dmcp_principal *p, const json_t *body)
{
    const json_t *params = json_object_get(body, "params");
    const char *method = json_string_value(json_object_get(body, "method"));
    const char *name = json_string_value(json_object_get(params, "name"));
    if (method != NULL && strcmp(method, "resources/read") == 0) {
        name = json_string_value(json_object_get(params, "uri"));
    }
    dmcp__session *sess = dmcp__session_new_local();
    dmcp__mrtr *m =
        method != NULL ? dmcp__mrtr_new(dmcp_principal_binding_key(p), method, name) : NULL;
    if (sess == NULL || m == NULL) {
        dmcp__session_unref(sess);
        dmcp__mrtr_free(m);
        return NULL;
    }
    sess->mrtr = m; /* the session owns it */
    dmcp__era26_prepare_session(sess, body);
    return sess;
}

dmcp__session *dmcp__era26_listen_session(const dmcp_server *srv, const json_t *body,
                                          const dmcp__transport *transport, json_t **ack,
                                          int *code, const char **message)
{
    *ack = NULL;
    dmcp__session *sess = dmcp__session_new_local();
    if (sess == NULL) {
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Out of memory";
        return NULL;
    }
    dmcp__era26_prepare_session(sess, body);
    json_t *filter =
        dmcp__era26_listen_filter(srv, sess, json_object_get(body, "params"), code, message);
    if (filter == NULL) {
        dmcp__session_unref(sess);
        return NULL;
    }
    sess->listen_id = json_incref(json_object_get(body, "id"));
    sess->transport = transport;
    *ack = dmcp__era26_listen_ack(sess, filter);
    if (*ack == NULL) {
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Out of memory";
        dmcp__session_unref(sess);
        return NULL;
    }
    return sess;
}
