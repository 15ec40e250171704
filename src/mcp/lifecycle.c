/*
 * The "era adapter" for the session-based revisions 2025-03-26, 2025-06-18 and 2025-11-25
 * (MCP Lifecycle §1): version negotiation, the initialize handshake, which requests may run
 * before it, and per-revision framing rules (batching). The stateless 2026-07-28 revision
 * (no handshake, per-request _meta, server/discover) is meant to be a second adapter beside
 * this one, chosen per request from the MCP-Protocol-Version header; the dispatcher and the
 * registries below it do not change.
 */
#include <string.h>

#include "mcp/mcp_internal.h"

static const char *const supported[] = {DMCP_PROTOCOL_2025_03_26, DMCP_PROTOCOL_2025_06_18,
                                        DMCP_PROTOCOL_2025_11_25};

bool dmcp__version_supported(const char *v)
{
    for (size_t i = 0; v != NULL && i < DMCP__ARRAY_LEN(supported); i++) {
        if (strcmp(v, supported[i]) == 0) {
            return true;
        }
    }
    return false;
}

const char *dmcp__version_negotiate(const char *requested)
{
    /* Lifecycle §1.1.1: echo a supported version, otherwise answer with our newest. */
    for (size_t i = 0; requested != NULL && i < DMCP__ARRAY_LEN(supported); i++) {
        if (strcmp(requested, supported[i]) == 0) {
            return supported[i];
        }
    }
    return DMCP_PROTOCOL_LATEST;
}

bool dmcp__version_allows_batch(const char *v)
{
    /* 2025-06-18 changelog: JSON-RPC batching removed; 2025-03-26 servers MUST accept it. */
    return v != NULL && strcmp(v, DMCP_PROTOCOL_2025_03_26) == 0;
}

json_t *dmcp__server_capabilities(const dmcp_server *srv)
{
    json_t *caps = json_object();
    if (caps == NULL) {
        return NULL;
    }
    /* Lifecycle §1.2: declare only what is implemented and registered. */
    if (srv->tools.count > 0) {
        json_object_set_new(
            caps, "tools",
            json_pack("{s:b}", "listChanged", (srv->list_changed & DMCP_LIST_TOOLS) != 0));
    }
    if (srv->resources.count > 0 || srv->templates.count > 0) {
        /* Subscriptions are the runtime's (dmcp_server_notify_resource_updated). */
        json_object_set_new(caps, "resources",
                            json_pack("{s:b,s:b}", "subscribe", 1, "listChanged",
                                      (srv->list_changed & DMCP_LIST_RESOURCES) != 0));
    }
    if (srv->prompts.count > 0) {
        json_object_set_new(
            caps, "prompts",
            json_pack("{s:b}", "listChanged", (srv->list_changed & DMCP_LIST_PROMPTS) != 0));
    }
    if (srv->has_completions) {
        json_object_set_new(caps, "completions", json_object());
    }
    json_object_set_new(caps, "logging", json_object());
    if (srv->fwd_caps !=
        NULL) { /* a forwarder's upstream capabilities (dmcp_server_set_forwarder) */
        json_object_update(caps, srv->fwd_caps);
    }
    return caps;
}

json_t *dmcp__lifecycle_initialize(dmcp_server *srv, dmcp__session *sess, const json_t *params,
                                   int *code, const char **message)
{
    const json_t *pv = json_object_get(params, "protocolVersion");
    const json_t *caps = json_object_get(params, "capabilities");
    const json_t *info = json_object_get(params, "clientInfo");
    if (!json_is_string(pv) || (caps != NULL && !json_is_object(caps)) ||
        (info != NULL && !json_is_object(info))) {
        *code = DMCP_JSONRPC_INVALID_PARAMS;
        *message = "Invalid initialize params";
        return NULL;
    }
    const char *version = dmcp__version_negotiate(json_string_value(pv));
    pthread_mutex_lock(&sess->mu);
    if (atomic_load(&sess->initialized)) {
        pthread_mutex_unlock(&sess->mu);
        *code = DMCP_JSONRPC_INVALID_REQUEST;
        *message = "Session already initialized";
        return NULL;
    }
    snprintf(sess->version, sizeof(sess->version), "%s", version);
    atomic_store(&sess->initialized, true); /* publishes version to lock-free readers */
    json_decref(sess->client_caps);
    json_decref(sess->client_info);
    sess->client_caps = caps != NULL ? json_deep_copy(caps) : json_object();
    sess->client_info = info != NULL ? json_deep_copy(info) : NULL;
    pthread_mutex_unlock(&sess->mu);

    json_t *si = json_object();
    json_t *res = json_object();
    if (si == NULL || res == NULL) {
        json_decref(si);
        json_decref(res);
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Out of memory";
        return NULL;
    }
    json_object_set_new(si, "name", json_string(srv->name));
    json_object_set_new(si, "version", json_string(srv->version));
    if (srv->title != NULL && strcmp(version, DMCP_PROTOCOL_2025_03_26) != 0) {
        json_object_set_new(si, "title", json_string(srv->title)); /* 06-18+ BaseMetadata */
    }
    json_object_set_new(res, "protocolVersion", json_string(version));
    json_object_set_new(res, "capabilities", dmcp__server_capabilities(srv));
    json_object_set_new(res, "serverInfo", si);
    if (srv->instructions != NULL) {
        json_object_set_new(res, "instructions", json_string(srv->instructions));
    }
    return res;
}

int dmcp__lifecycle_gate(const dmcp__session *sess, const char *method, bool stateless,
                         const char **message)
{
    if (stateless) {
        return 0; /* every request stands alone: no handshake state to check */
    }
    if (strcmp(method, "initialize") == 0 || strcmp(method, "ping") == 0) {
        return 0;
    }
    /* Lifecycle §1.1: initialize MUST be the first interaction; only ping may precede it. */
    if (!atomic_load(&sess->initialized)) {
        *message = "Server not initialized";
        return DMCP_JSONRPC_INVALID_REQUEST;
    }
    return 0;
}
