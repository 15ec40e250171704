/*
 * The 2025 session-based revisions over Streamable HTTP (2025-03-26, 2025-06-18, 2025-11-25):
 * session creation on initialize, session lookup and principal binding, batches, POST answers
 * (JSON or buffered SSE), the standalone GET stream and DELETE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "mcp/http_internal.h"

static dmcp_status send_on_get_stream(dmcp__session *sess, json_t *msg);
static void close_get_stream(dmcp__session *sess);
const dmcp__transport dmcp__http_session_transport = {send_on_get_stream, close_get_stream};

static bool binding_matches(const dmcp__session *s, const dmcp_principal *p)
{
    if (p == NULL) {
        return s->binding == NULL; /* no authenticate callback, or it admitted no principal */
    }
    /* A principal without a binding key identifies nobody: it matches no session at all,
     * not even one opened without a principal. */
    const char *key = dmcp_principal_binding_key(p);
    return key != NULL && s->binding != NULL && strcmp(s->binding, key) == 0;
}

/* The shared store is down: 503, try again shortly (the store logged the outage). */
static enum MHD_Result store_unavailable(struct MHD_Connection *c, const char *origin)
{
    return dmcp__http_send_json(
        c, MHD_HTTP_SERVICE_UNAVAILABLE,
        dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                            "Service Unavailable: the session store is unreachable", NULL),
        origin, "Retry-After", "1");
}

/*
 * Finds the request's session: 400 when the header is missing, 404 when unknown, ended or
 * bound to another principal (SBP §2.4.4: 404 does not reveal that the session exists).
 * Returns NULL after queueing the error (*ret set).
 */
static dmcp__session *lookup_session(dmcp__http *h, struct MHD_Connection *c,
                                     const dmcp_principal *p, const char *origin,
                                     enum MHD_Result *ret)
{
    const char *sid = dmcp__http_header(c, "Mcp-Session-Id");
    if (sid == NULL) {
        *ret = dmcp__http_send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Bad Request: Mcp-Session-Id header is required", origin);
        return NULL;
    }
    dmcp_status st = DMCP_OK;
    dmcp__session *s = dmcp__sstore_find(h->srv, sid, &st);
    if (s == NULL && st == DMCP_E_UNREACHABLE) {
        *ret = store_unavailable(c, origin);
        return NULL;
    }
    if (s != NULL && !binding_matches(s, p)) {
        dmcp__session_unref(s);
        s = NULL;
    }
    if (s == NULL) {
        *ret = dmcp__http_send_error(c, MHD_HTTP_NOT_FOUND, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Session not found", origin);
    }
    return s;
}

/* MCP-Protocol-Version (Transports §2.7): unsupported -> 400. Returns false after queueing.
 * *value (may be NULL) receives the header, supported or absent (NULL). */
bool dmcp__http_check_version(struct MHD_Connection *c, const char *origin, enum MHD_Result *ret,
                              const char **value)
{
    const char *v = dmcp__http_header(c, "MCP-Protocol-Version");
    if (value != NULL) {
        *value = v;
    }
    if (v != NULL && !dmcp__version_supported(v)) {
        *ret = dmcp__http_send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Bad Request: Unsupported protocol version", origin);
        return false;
    }
    return true;
}

static bool is_initialize(const json_t *body)
{
    const json_t *id = NULL;
    /* The method first: most requests are not initialize and skip the full classification. */
    const char *m = json_string_value(json_object_get(body, "method"));
    return m != NULL && strcmp(m, "initialize") == 0 &&
           dmcp__jsonrpc_classify(body, &id) == DMCP__MSG_REQUEST;
}

enum MHD_Result dmcp__http_post(dmcp__http *h, struct MHD_Connection *c, json_t *body,
                                const dmcp_principal *p, const char *origin,
                                dmcp__deferred **later)
{
    dmcp_server *srv = h->srv;
    enum MHD_Result ret = MHD_NO;
    /* Supported or absent, unless it was let through for the 2026 rules (a request with
     * Mcp-Method) and the body turned out not to be one. */
    const char *hv = dmcp__http_header(c, "MCP-Protocol-Version");
    if (hv != NULL && !dmcp__version_supported(hv)) {
        json_decref(body);
        return dmcp__http_send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Bad Request: Unsupported protocol version", origin);
    }
    bool init = is_initialize(body);
    dmcp__session *sess = NULL;
    const char *new_sid = NULL;
    if (srv->stateless) {
        sess = dmcp__session_new_local();
        if (sess != NULL) {
            snprintf(sess->version, sizeof(sess->version), "%s",
                     hv != NULL ? hv : DMCP_PROTOCOL_2025_03_26);
            atomic_store(&sess->initialized, true);
        }
    } else if (init) {
        if (p != NULL && dmcp_principal_binding_key(p) == NULL) {
            /* Nobody to bind the session to: it would be shared by every such caller. */
            json_decref(body);
            return dmcp__http_send_error(
                c, MHD_HTTP_FORBIDDEN, DMCP_JSONRPC_INVALID_REQUEST,
                "Forbidden: the access token identifies no subject; a session "
                "cannot be bound to it",
                origin);
        }
        dmcp_status st = dmcp__sessions_create(srv->sessions, dmcp_principal_binding_key(p), &sess);
        if (st == DMCP_E_RATE_LIMITED || st == DMCP_E_TOO_LARGE) {
            json_decref(body);
            bool mine = st == DMCP_E_RATE_LIMITED; /* this principal's share, or the table */
            dmcp__obs_limit(mine ? DMCP__M_LIMIT_SESSIONS_PER_PRINCIPAL : DMCP__M_LIMIT_SESSIONS);
            return dmcp__http_send_json(
                c, mine ? HTTP_TOO_MANY_REQUESTS : MHD_HTTP_SERVICE_UNAVAILABLE,
                dmcp__jsonrpc_error(
                    NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                    mine ? "Too many sessions for this principal" : "Too many sessions", NULL),
                origin, "Retry-After", mine ? "1" : "30");
        }
        if (sess != NULL) { /* its transport is ours (dmcp__sessions_set_transport, http.c) */
            new_sid = sess->id;
        }
    } else {
        sess = lookup_session(h, c, p, origin, &ret);
        if (sess == NULL) {
            json_decref(body);
            return ret;
        }
    }
    if (sess == NULL) {
        json_decref(body);
        return dmcp__http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                                     "Out of memory", origin);
    }
    /* Requests of one session served at once (a stream worker counts its own). */
    unsigned max_inflight = (unsigned)srv->lim[DMCP_LIMIT_MAX_INFLIGHT_PER_SESSION];
    if (atomic_fetch_add(&sess->requests, 1) >= (int)max_inflight && max_inflight > 0 &&
        !srv->stateless) {
        atomic_fetch_sub(&sess->requests, 1);
        json_decref(body);
        dmcp__session_unref(sess);
        dmcp__obs_limit(DMCP__M_LIMIT_INFLIGHT_PER_SESSION);
        return dmcp__http_send_json(
            c, HTTP_TOO_MANY_REQUESTS,
            dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                                "Too many requests in flight for this session", NULL),
            origin, "Retry-After", "1");
    }
    /* Missing header: the session's version, or 2025-03-26 without one (Transports §2.7). */
    char version[16];
    const char *vsrc =
        hv != NULL ? hv
                   : (atomic_load(&sess->initialized) ? sess->version : DMCP_PROTOCOL_2025_03_26);
    /* A truncating copy as snprintf("%s") would make, without its format machinery. */
    size_t vlen = strnlen(vsrc, sizeof(version) - 1);
    memcpy(version, vsrc, vlen);
    version[vlen] = '\0';
    json_t *notes = json_array();
    dmcp__sink sink = {dmcp__collect_sink_send, notes, false, NULL};
    dmcp__rpc_ctx ctx = {srv, sess, p, version, srv->stateless, false, &sink};

    if (json_is_array(body) && !dmcp__version_allows_batch(version)) {
        /* 2025-06-18 removed batching: one message per POST (Transports §2.1 item 3). */
        ret = dmcp__http_send_error(
            c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
            "Invalid Request: batches are not supported in this protocol version", origin);
        goto out;
    }
    const json_t *id = NULL;
    if (json_is_object(body) && dmcp__jsonrpc_classify(body, &id) == DMCP__MSG_INVALID) {
        ret = dmcp__http_send_json(
            c, MHD_HTTP_BAD_REQUEST,
            dmcp__jsonrpc_error(id, DMCP_JSONRPC_INVALID_REQUEST, "Invalid Request", NULL), origin,
            NULL, NULL);
        goto out;
    }
    /* Per-tool scopes, answered before dispatch (resource-server §3 step 6). */
    size_t n = json_is_array(body) ? json_array_size(body) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_is_array(body) ? json_array_get(body, i) : body;
        dmcp_http_response *refusal = NULL;
        json_t *answer = NULL;
        if (!json_is_object(m) || json_object_get(m, "id") == NULL) {
            continue;
        }
        if (dmcp__lifecycle_gate(sess, "tools/call", ctx.stateless, &(const char *){NULL}) != 0) {
            continue; /* dispatch answers "not initialized" */
        }
        dmcp_status st = dmcp__authorize_call(&ctx, m, &refusal, &answer);
        if (st != DMCP_OK) {
            const char *tn =
                json_string_value(json_object_get(json_object_get(m, "params"), "name"));
            dmcp__metrics_tool_call(tn != NULL ? dmcp__metrics_tool_id(tn) : DMCP__M_TOOL_OTHER,
                                    DMCP__M_REFUSED);
        }
        if (st != DMCP_OK && refusal != NULL) {
            json_decref(answer);
            ret = dmcp__http_send_custom(c, refusal, origin);
            goto out;
        }
        if (st != DMCP_OK && json_is_object(body)) {
            ret = dmcp__http_send_answer(c, answer, notes, version, origin, NULL);
            notes = NULL;
            goto out;
        }
        json_decref(answer);
    }
    /* A batch is re-checked item by item in dispatch (refusals become isError results). */
    ctx.authorized = json_is_object(body);

    if (json_is_object(body) && id != NULL && dmcp__wants_stream(srv, sess, body) &&
        dmcp__lifecycle_gate(sess, "tools/call", ctx.stateless, &(const char *){NULL}) == 0) {
        /* The server-wide lock only for calls that would stream, not on every POST. */
        pthread_mutex_lock(&h->mu);
        bool worker_room = h->workers < MAX_STREAM_WORKERS;
        pthread_mutex_unlock(&h->mu);
        /* Past a stream limit the call is still answered, buffered instead of live. */
        dmcp__stream_ticket t;
        if (worker_room && dmcp__ticket_take(h, srv->stateless ? NULL : sess, p, &t)) {
            ret = dmcp__stream_start_call(h, c, &ctx, body, origin, &t);
            dmcp__obs_kind(DMCP__M_METHOD_TOOLS_CALL, true);
            goto out;
        }
    }
    if (!init && id != NULL && dmcp__defer_try(h, c, &ctx, body, notes, origin, later, &ret)) {
        return ret; /* body, notes and sess are the deferred call's now */
    }
    json_t *answer = dmcp__process(&ctx, body);
    if (init && new_sid != NULL) {
        /* Transports §2.5: the id goes only on a successful initialize response. */
        if (answer == NULL || json_object_get(answer, "result") == NULL) {
            dmcp__sessions_end(srv->sessions, sess);
            new_sid = NULL;
        } else if (dmcp__sstore_save(srv, sess, false) != DMCP_OK) {
            /* Not shared, it would break on the next instance: no session at all. */
            dmcp__sessions_end(srv->sessions, sess);
            json_decref(answer);
            ret = store_unavailable(c, origin);
            goto out;
        }
    } else if (!srv->stateless && dmcp__sstore_on(srv)) {
        (void)dmcp__sstore_flush(srv, sess); /* setLevel, subscribe, initialized */
    }
    ret = dmcp__http_send_answer(c, answer, notes, version, origin, new_sid);
    notes = NULL;
out:
    json_decref(notes);
    json_decref(body);
    atomic_fetch_sub(&sess->requests, 1);
    dmcp__session_unref(sess);
    return ret;
}

/* GET with Last-Event-ID "<stream>-<seq>" (Transports §2.4): a stream this instance made is
 * resumed here (sse.c); with a shared store, one another instance made is replayed from the
 * store's log and followed live (sse_shared.c). Takes the ticket. */
static enum MHD_Result resume(dmcp__http *h, struct MHD_Connection *c, dmcp__session *sess,
                              const char *lei, const char *origin, dmcp__stream_ticket *t)
{
    unsigned long stream_no = 0, seq = 0;
    char tail = '\0';
    if (strlen(lei) > 48 || sscanf(lei, "%lu-%lu%c", &stream_no, &seq, &tail) != 2) {
        dmcp__ticket_return(h, t);
        return dmcp__http_send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Bad Request: malformed Last-Event-ID", origin);
    }
    /* With a shared store a stream number carries its instance's tag in its high bits (sse.c). */
    if (dmcp__sstore_on(h->srv) && (json_int_t)(stream_no >> 24) != h->srv->store_tag) {
        return dmcp__stream_resume_shared(h, c, sess, stream_no, seq, origin, t);
    }
    return dmcp__stream_resume(h, c, sess, stream_no, seq, origin, t);
}

enum MHD_Result dmcp__http_get(dmcp__http *h, struct MHD_Connection *c, const dmcp_principal *p,
                               const char *origin)
{
    enum MHD_Result ret = MHD_NO;
    if (h->srv->stateless || !h->srv->get_stream) {
        return dmcp__http_send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, origin,
                                     h->srv->stateless ? "POST, OPTIONS" : "POST, DELETE, OPTIONS");
    }
    if (!dmcp__http_accepts(dmcp__http_header(c, MHD_HTTP_HEADER_ACCEPT), "text/event-stream")) {
        return dmcp__http_send_error(c, MHD_HTTP_NOT_ACCEPTABLE, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Not Acceptable: Accept must list text/event-stream", origin);
    }
    if (!dmcp__http_check_version(c, origin, &ret, NULL)) {
        return ret;
    }
    dmcp__session *sess = lookup_session(h, c, p, origin, &ret);
    if (sess == NULL) {
        return ret;
    }
    const char *lei = dmcp__http_header(c, "Last-Event-ID");
    dmcp__obs_kind(DMCP__M_METHOD_STREAM, true);
    dmcp__stream_ticket t;
    if (!dmcp__ticket_take(h, sess, p, &t)) {
        dmcp__session_unref(sess);
        return dmcp__http_send_json(
            c, HTTP_TOO_MANY_REQUESTS,
            dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR, "Too many open streams", NULL),
            origin, "Retry-After", "1");
    }
    if (lei != NULL) {
        ret = resume(h, c, sess, lei, origin, &t);
        dmcp__session_unref(sess);
        return ret;
    }
    pthread_mutex_lock(&sess->mu);
    dmcp__stream *old = sess->get_stream;
    if (old != NULL) {
        atomic_fetch_add(&old->refs, 1);
    }
    pthread_mutex_unlock(&sess->mu);
    if (old != NULL) {
        /* A client that dropped its stream and asks again must not wait for the next
         * heartbeat to find the old one dead: look at its socket now. */
        bool gone = dmcp__stream_peer_gone(old);
        if (gone) {
            pthread_mutex_lock(&sess->mu);
            bool held = sess->get_stream == old;
            if (held) {
                sess->get_stream = NULL;
            }
            pthread_mutex_unlock(&sess->mu);
            dmcp__stream_finish(old);
            if (held) {
                dmcp__stream_unref(old); /* the session's reference */
            }
        }
        dmcp__stream_unref(old);
        if (!gone) {
            dmcp__ticket_return(h, &t);
            dmcp__session_unref(sess);
            /* Transports §2.2: one standalone stream per session (409 as the TS SDK). */
            return dmcp__http_send_error(c, MHD_HTTP_CONFLICT, DMCP_JSONRPC_INVALID_REQUEST,
                                         "Conflict: only one GET stream per session", origin);
        }
    }
    const char *hv = dmcp__http_header(c, "MCP-Protocol-Version");
    dmcp__stream *st = NULL;
    struct MHD_Response *r = dmcp__stream_open(h, c, hv != NULL ? hv : sess->version, &st);
    if (r == NULL) {
        dmcp__ticket_return(h, &t);
        dmcp__session_unref(sess);
        return dmcp__http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                                     "Out of memory", origin);
    }
    dmcp__stream_hold(st, &t);
    dmcp__http_cors(r, origin);
    st->sess = sess; /* our session reference moves to the stream */
    pthread_mutex_lock(&sess->mu);
    if (sess->get_stream == NULL) {
        sess->get_stream = st; /* the caller's stream reference moves to the session */
        st = NULL;
    }
    pthread_mutex_unlock(&sess->mu);
    if (st != NULL) {
        /* Lost a race with a concurrent GET. */
        dmcp__stream_finish(st);
        dmcp__stream_unref(st);
        MHD_destroy_response(r);
        return dmcp__http_send_error(c, MHD_HTTP_CONFLICT, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Conflict: only one GET stream per session", origin);
    }
    return dmcp__http_queue(c, MHD_HTTP_OK, r);
}

/* The session transport's send_unsolicited: an event on the session's GET stream (a client
 * without one open misses it, Transports §2.2). */
static dmcp_status send_on_get_stream(dmcp__session *sess, json_t *msg)
{
    return dmcp__stream_send_session(sess, msg);
}

static void close_get_stream(dmcp__session *sess)
{
    pthread_mutex_lock(&sess->mu);
    dmcp__stream *gs = sess->get_stream;
    if (gs != NULL) {
        atomic_fetch_add(&gs->refs, 1);
    }
    pthread_mutex_unlock(&sess->mu);
    if (gs != NULL) {
        dmcp__stream_finish(gs);
        dmcp__stream_unref(gs);
    }
}

static void end_session(dmcp__http *h, dmcp__session *sess)
{
    dmcp__sessions_end(h->srv->sessions, sess);
    dmcp__session_wake_pending(sess);
    close_get_stream(sess);
}

enum MHD_Result dmcp__http_delete(dmcp__http *h, struct MHD_Connection *c, const dmcp_principal *p,
                                  const char *origin)
{
    enum MHD_Result ret = MHD_NO;
    dmcp__obs_kind(DMCP__M_METHOD_SESSION_DELETE, false);
    if (h->srv->stateless) {
        return dmcp__http_send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, origin, "POST, OPTIONS");
    }
    if (!dmcp__http_check_version(c, origin, &ret, NULL)) {
        return ret;
    }
    dmcp__session *sess = lookup_session(h, c, p, origin, &ret);
    if (sess == NULL) {
        return ret;
    }
    /* Transports §2.5: after DELETE the session id answers 404 (on every instance). */
    if (dmcp__sstore_end(h->srv, sess) != DMCP_OK) {
        dmcp__session_unref(sess);
        return store_unavailable(c, origin);
    }
    dmcp__session_mark_deleted(sess);
    end_session(h, sess);
    dmcp__session_unref(sess);
    return dmcp__http_send_empty(c, MHD_HTTP_OK, origin, NULL);
}
