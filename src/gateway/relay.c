/*
 * Server->client requests an upstream sends outside any client call (roots/list right after
 * initialized, sampling from a background job, ...), on its GET stream or stdio output.
 *
 * 2025 client sessions: the request goes to the client's standalone stream (its GET stream;
 * stdio output) under an id of the gateway's own ("dmcp-gw.<upstream>.<n>", a string, so it
 * never meets the runtime's integer ids); the client's response comes back through the
 * forwarder's notification hook and is sent to the upstream under the upstream's id.
 * Refused at once, with a JSON-RPC error to the upstream: a method the client did not declare
 * (-32601), no standalone stream open (-32603), GW_RELAY_MAX already waiting (-32603).
 * Unanswered requests are answered -32001 after the upstream request timeout (checked at
 * every relay event and when the session closes). 2026-07-28 has no standalone stream: session-less
 * upstream sessions get no message hook, and their transport answers such requests -32601.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmcp/forward.h>

#include "gateway/gw_internal.h"

#define PREFIX "dmcp-gw."

unsigned gw_caps_bits(const json_t *caps)
{
    unsigned b = 0;
    b |= json_is_object(json_object_get(caps, "sampling")) ? GW_CAP_SAMPLING : 0u;
    b |= json_is_object(json_object_get(caps, "elicitation")) ? GW_CAP_ELICITATION : 0u;
    b |= json_is_object(json_object_get(caps, "roots")) ? GW_CAP_ROOTS : 0u;
    return b;
}

static unsigned method_cap(const char *method)
{
    if (method == NULL) {
        return 0;
    }
    if (strcmp(method, "sampling/createMessage") == 0) {
        return GW_CAP_SAMPLING;
    }
    if (strcmp(method, "elicitation/create") == 0) {
        return GW_CAP_ELICITATION;
    }
    if (strcmp(method, "roots/list") == 0) {
        return GW_CAP_ROOTS;
    }
    return 0; /* ping and anything else: not relayed */
}

/* Sends {id, error} (or {id, result}) to the upstream. Takes nothing. */
static void answer_upstream(gw_msgctx *m, const json_t *id, const json_t *result, int code,
                            const char *message)
{
    dmcp_gw_usession *us = atomic_load(&m->us);
    if (us == NULL) {
        return;
    }
    json_t *ans = result != NULL
                      ? json_pack("{s:s,s:O,s:O}", "jsonrpc", "2.0", "id", id, "result", result)
                      : json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id, "error",
                                  "code", code, "message", message);
    if (ans != NULL) {
        (void)m->gw->ups[m->up]->ops->respond(us, ans, NULL);
    }
    json_decref(ans);
}

/* Takes the expired entries out (m->mu held); returns their ids (a new array) or NULL. */
static json_t *take_expired(gw_msgctx *m, long long now, bool all)
{
    json_t *out = NULL;
    for (size_t i = 0; i < GW_RELAY_MAX; i++) {
        gw_relay *r = &m->relay[i];
        if (r->seq != 0 && (all || now >= r->deadline)) {
            if (out == NULL) {
                out = json_array();
            }
            json_array_append_new(out, r->orig_id);
            r->orig_id = NULL;
            r->seq = 0;
        }
    }
    return out;
}

static void answer_expired(gw_msgctx *m, json_t *ids, const char *why)
{
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        answer_upstream(m, id, NULL, -32001, why);
    }
    json_decref(ids);
}

static void sweep(gw_msgctx *m)
{
    pthread_mutex_lock(&m->mu);
    json_t *ids = take_expired(m, gw_now_ms(), false);
    pthread_mutex_unlock(&m->mu);
    answer_expired(m, ids, "The client did not answer in time");
}

void gw_relay_request(gw_msgctx *m, const json_t *msg)
{
    sweep(m);
    const json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    unsigned cap = method_cap(method);
    if (cap == 0 || (m->caps & cap) == 0) {
        answer_upstream(m, id, NULL, DMCP_JSONRPC_METHOD_NOT_FOUND,
                        cap == 0 ? "Method not found"
                                 : "The client did not declare this capability");
        return;
    }
    size_t idlen = json_is_string(id) ? json_string_length(id) : 0;
    if (!(json_is_integer(id) || (json_is_string(id) && idlen <= GW_RELAY_MAX_ID))) {
        return; /* not an id we can hold: nothing sensible to answer to */
    }
    pthread_mutex_lock(&m->mu);
    gw_relay *slot = NULL;
    for (size_t i = 0; i < GW_RELAY_MAX && slot == NULL; i++) {
        slot = m->relay[i].seq == 0 ? &m->relay[i] : NULL;
    }
    long long seq = 0;
    if (slot != NULL) {
        seq = ++m->relay_seq;
        slot->seq = seq;
        slot->orig_id = json_incref((json_t *)id);
        slot->deadline = gw_now_ms() + m->relay_ttl_ms;
    }
    pthread_mutex_unlock(&m->mu);
    if (slot == NULL) {
        answer_upstream(m, id, NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                        "Too many requests awaiting the client");
        return;
    }
    char gid[64];
    snprintf(gid, sizeof(gid), PREFIX "%zu.%lld", m->up, seq);
    json_t *copy = json_deep_copy(msg);
    dmcp_status st = DMCP_E_NOMEM;
    if (copy != NULL) {
        json_object_set_new(copy, "id", json_string(gid));
        st = dmcp_server_send_to_session(m->gw->srv, m->sid, copy);
    }
    if (st != DMCP_OK) {
        json_t *orig = NULL;
        pthread_mutex_lock(&m->mu);
        if (slot->seq == seq) {
            orig = slot->orig_id;
            slot->orig_id = NULL;
            slot->seq = 0;
        }
        pthread_mutex_unlock(&m->mu);
        if (orig != NULL) {
            answer_upstream(m, orig, NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                            st == DMCP_E_STATE
                                ? "The client has no stream open for server requests"
                                : "The client cannot be reached");
        }
        json_decref(orig);
    }
}

bool gw_relay_response(gw_msgctx *const *mctx, size_t n, const json_t *msg)
{
    const char *gid = json_string_value(json_object_get(msg, "id"));
    size_t up = 0;
    long long seq = 0;
    char tail = 0;
    if (gid == NULL || strncmp(gid, PREFIX, strlen(PREFIX)) != 0 ||
        sscanf(gid + strlen(PREFIX), "%zu.%lld%c", &up, &seq, &tail) != 2 || up >= n ||
        mctx[up] == NULL || seq <= 0) {
        return false;
    }
    gw_msgctx *m = mctx[up];
    sweep(m);
    json_t *orig = NULL;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < GW_RELAY_MAX; i++) {
        if (m->relay[i].seq == seq) {
            orig = m->relay[i].orig_id;
            m->relay[i].orig_id = NULL;
            m->relay[i].seq = 0;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (orig == NULL) {
        return true; /* ours, but late or answered already: dropped */
    }
    const json_t *result = json_object_get(msg, "result");
    const json_t *error = json_object_get(msg, "error");
    if (json_is_object(result)) {
        answer_upstream(m, orig, result, 0, NULL);
    } else {
        const json_t *c = json_object_get(error, "code");
        const char *text = json_string_value(json_object_get(error, "message"));
        answer_upstream(m, orig, NULL,
                        json_is_integer(c) ? (int)json_integer_value(c)
                                           : DMCP_JSONRPC_INTERNAL_ERROR,
                        text != NULL ? text : "The client answered with an error");
    }
    json_decref(orig);
    return true;
}

void gw_relay_drop(gw_msgctx *m)
{
    pthread_mutex_lock(&m->mu);
    json_t *ids = take_expired(m, 0, true);
    pthread_mutex_unlock(&m->mu);
    answer_expired(m, ids, "The client session ended");
}
