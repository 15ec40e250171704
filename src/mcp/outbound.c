/*
 * Server-to-client messages: requests from a handler (sampling/createMessage,
 * elicitation/create, roots/list, ping) correlated with the client's answers, and unsolicited
 * notifications (list_changed, resources/updated) on a session's standalone stream.
 *
 * MCP 2025-11-25 Transports §2.2/§2.3: a request related to a client request goes on that
 * request's stream; the client answers with a new POST (answered 202). Lifecycle §2 (timeouts):
 * every request has a timeout, after which the sender SHOULD send notifications/cancelled.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp/mcp_internal.h"

#define DEFAULT_TIMEOUT_MS 60000u
#define MAX_TIMEOUT_MS 600000u
#define MAX_PENDING 256 /* per session */
#define POLL_MS 100     /* how often a waiting handler looks at its cancellation flag */

typedef struct dmcp__pending {
    json_int_t id;
    json_t *response; /* the client's message once it arrived */
    bool done;
    pthread_cond_t cv; /* waits on sess->mu */
    struct dmcp__pending *next;
} dmcp__pending;

static void deadline_in(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The client capability a server->client method needs (Lifecycle §1.2), or NULL for none. */
static bool method_capability(const char *method, const char **cap)
{
    if (strcmp(method, "sampling/createMessage") == 0) {
        *cap = "sampling";
    } else if (strcmp(method, "elicitation/create") == 0) {
        *cap = "elicitation";
    } else if (strcmp(method, "roots/list") == 0) {
        *cap = "roots";
    } else if (strcmp(method, "ping") == 0) {
        *cap = NULL;
    } else {
        return false;
    }
    return true;
}

static void unlink_pending(dmcp__session *sess, dmcp__pending *p)
{
    dmcp__pending **pp = &sess->pending;
    while (*pp != NULL && *pp != p) {
        pp = &(*pp)->next;
    }
    if (*pp != NULL) {
        *pp = p->next;
        sess->n_pending--;
    }
}

dmcp_status dmcp_call_request(dmcp_call *call, const char *method, const json_t *params,
                              unsigned timeout_ms, json_t **result)
{
    const char *cap = NULL;
    if (result != NULL) {
        *result = NULL;
    }
    if (call == NULL || method == NULL || result == NULL || !method_capability(method, &cap) ||
        (params != NULL && !json_is_object(params))) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp__session *sess = call->sess;
    if (sess != NULL && sess->mrtr != NULL) {
        /* 2026-07-28: no server->client requests; input-required results instead. */
        return dmcp__mrtr_request(call, method, cap, params, result);
    }
    char input_key[sizeof(call->input_key)]; /* set for this request only */
    memcpy(input_key, call->input_key, sizeof(input_key));
    call->input_key[0] = '\0';
    /* Only a live stream (or stdio) delivers the request while the handler waits; a buffered
     * answer would hold it back until the handler returned, i.e. until the timeout. */
    if (sess == NULL || call->stateless || call->sink == NULL || !call->sink->live) {
        return DMCP_E_STATE;
    }
    if (timeout_ms == 0) {
        timeout_ms = DEFAULT_TIMEOUT_MS;
    }
    if (timeout_ms > MAX_TIMEOUT_MS) {
        timeout_ms = MAX_TIMEOUT_MS;
    }
    dmcp__pending *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return DMCP_E_NOMEM;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);

    pthread_mutex_lock(&sess->mu);
    /* Lifecycle §1.2: use only what the client declared in initialize. */
    bool capable = cap == NULL || json_is_object(json_object_get(sess->client_caps, cap));
    bool room = sess->n_pending < MAX_PENDING;
    if (capable && room) {
        p->id = dmcp__sstore_out_id(call->srv, sess);
        p->next = sess->pending;
        sess->pending = p;
        sess->n_pending++;
    }
    pthread_mutex_unlock(&sess->mu);
    if (!capable || !room) {
        pthread_cond_destroy(&p->cv);
        free(p);
        return !capable ? DMCP_E_STATE : DMCP_E_RATE_LIMITED;
    }

    json_t *msg = json_pack("{s:s,s:I,s:s}", "jsonrpc", "2.0", "id", p->id, "method", method);
    if (msg != NULL && (params != NULL || input_key[0] != '\0')) {
        json_t *pc = params != NULL ? json_deep_copy(params) : json_object();
        if (pc != NULL && input_key[0] != '\0') {
            /* dmcp_call_set_input_key: the key a 2026 gateway in front names this request. */
            json_t *meta = json_object_get(pc, "_meta");
            if (!json_is_object(meta)) {
                meta = json_object();
                json_object_set_new(pc, "_meta", meta);
            }
            json_object_set_new(meta, DMCP_INPUT_KEY_META, json_string(input_key));
        }
        json_object_set_new(msg, "params", pc);
    }
    dmcp_status st = msg != NULL ? call->sink->send(call->sink, msg) : DMCP_E_NOMEM;

    pthread_mutex_lock(&sess->mu);
    if (st == DMCP_OK) {
        struct timespec deadline, slice, now;
        deadline_in(&deadline, timeout_ms);
        while (!p->done) {
            if (dmcp_call_is_cancelled(call) || sess->no_answers) {
                st = DMCP_E_CANCELLED;
                break;
            }
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (!before(&now, &deadline)) {
                st = DMCP_E_TIMEOUT;
                break;
            }
            deadline_in(&slice, POLL_MS);
            pthread_cond_timedwait(&p->cv, &sess->mu,
                                   before(&slice, &deadline) ? &slice : &deadline);
        }
    }
    unlink_pending(sess, p);
    json_t *response = p->response;
    pthread_mutex_unlock(&sess->mu);
    pthread_cond_destroy(&p->cv);
    json_int_t id = p->id;
    free(p);

    if (st == DMCP_E_TIMEOUT || st == DMCP_E_CANCELLED) {
        /* Basic › Utilities › Cancellation: tell the client we no longer wait. */
        json_t *n = dmcp__jsonrpc_notification(
            "notifications/cancelled",
            json_pack("{s:I,s:s}", "requestId", id, "reason",
                      st == DMCP_E_TIMEOUT ? "Request timed out" : "Request cancelled"));
        if (n != NULL) {
            call->sink->send(call->sink, n);
        }
    }
    if (st != DMCP_OK) {
        json_decref(response);
        return st;
    }
    const json_t *res = json_object_get(response, "result");
    const json_t *err = json_object_get(response, "error");
    if (json_is_object(res)) {
        *result = json_incref((json_t *)res);
    } else {
        *result = json_is_object(err) ? json_incref((json_t *)err) : NULL;
        st = DMCP_E_PROTOCOL;
    }
    json_decref(response);
    return st;
}

dmcp_status dmcp_call_close_stream(dmcp_call *call, unsigned retry_ms)
{
    if (call == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    if (call->stateless || call->sink == NULL || call->sink->close == NULL) {
        return DMCP_E_STATE;
    }
    return call->sink->close(call->sink, retry_ms);
}

dmcp_status dmcp_call_sample(dmcp_call *call, const json_t *params, unsigned timeout_ms,
                             json_t **result)
{
    if (!json_is_object(params) || !json_is_array(json_object_get(params, "messages"))) {
        if (result != NULL) {
            *result = NULL;
        }
        return DMCP_E_INVALID_ARG;
    }
    return dmcp_call_request(call, "sampling/createMessage", params, timeout_ms, result);
}

dmcp_status dmcp_call_elicit(dmcp_call *call, const char *message, const json_t *requested_schema,
                             unsigned timeout_ms, json_t **result)
{
    if (result != NULL) {
        *result = NULL;
    }
    if (message == NULL || !dmcp__schema_is_object_schema(requested_schema)) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *params =
        json_pack("{s:s,s:O}", "message", message, "requestedSchema", (json_t *)requested_schema);
    if (params == NULL) {
        return DMCP_E_INVALID_ARG; /* also invalid UTF-8 in message */
    }
    dmcp_status st = dmcp_call_request(call, "elicitation/create", params, timeout_ms, result);
    json_decref(params);
    return st;
}

bool dmcp__session_deliver_response(dmcp__session *sess, const json_t *msg)
{
    const json_t *id = json_object_get(msg, "id");
    if (sess == NULL || !json_is_integer(id)) {
        return true; /* we only ever send integer ids: nobody waits for it anywhere */
    }
    bool found = false;
    pthread_mutex_lock(&sess->mu);
    for (dmcp__pending *p = sess->pending; p != NULL; p = p->next) {
        if (p->id == json_integer_value(id) && !p->done) {
            p->response = json_deep_copy(msg);
            p->done = p->response != NULL;
            pthread_cond_signal(&p->cv);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&sess->mu);
    return found;
}

void dmcp__session_wake_pending(dmcp__session *sess)
{
    pthread_mutex_lock(&sess->mu);
    sess->no_answers = true;
    for (dmcp__pending *p = sess->pending; p != NULL; p = p->next) {
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&sess->mu);
}

/* ---------------------------------------------------------------------------------------- */
/* Unsolicited notifications                                                                */
/* ---------------------------------------------------------------------------------------- */

dmcp_status dmcp__session_send_unsolicited(dmcp__session *sess, json_t *msg)
{
    pthread_mutex_lock(&sess->mu);
    dmcp__sink *out = sess->out;
    bool ready = sess->client_ready;
    if (out != NULL && ready) {
        /* stdio: the writer serialises lines under its own lock. */
        dmcp_status st = out->send(out, msg);
        pthread_mutex_unlock(&sess->mu);
        return st;
    }
    pthread_mutex_unlock(&sess->mu);
    if (!ready) {
        json_decref(msg); /* Lifecycle §1.1: nothing but pings and logs before initialized */
        return DMCP_OK;
    }
    if (sess->transport == NULL || sess->transport->send_unsolicited == NULL) {
        json_decref(msg);
        return DMCP_E_STATE;
    }
    return sess->transport->send_unsolicited(sess, msg);
}

typedef struct notify_ctx {
    const char *method;
    const char *uri; /* resources/updated: only subscribers */
} notify_ctx;

static void notify_one(dmcp__session *sess, void *ud)
{
    const notify_ctx *n = ud;
    if (n->uri != NULL) {
        pthread_mutex_lock(&sess->mu);
        bool subscribed = json_object_get(sess->subs, n->uri) != NULL;
        pthread_mutex_unlock(&sess->mu);
        if (!subscribed) {
            return;
        }
    }
    json_t *params = n->uri != NULL ? json_pack("{s:s}", "uri", n->uri) : NULL;
    json_t *msg = dmcp__jsonrpc_notification(n->method, params);
    if (msg != NULL) {
        dmcp__session_send_unsolicited(sess, msg);
    }
}

/* Whether a listener has ended: over HTTP its stream (sse.c clears get_stream when it is
 * released), over stdio its sink (stdio.c clears out when the listen is cancelled). */
static bool listener_gone(dmcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    bool gone = s->get_stream == NULL && s->out == NULL;
    pthread_mutex_unlock(&s->mu);
    return gone;
}

/* Drops listeners whose stream ended (listen_mu held); returns how many. */
static size_t prune_listeners_locked(dmcp_server *srv)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < srv->n_listeners; i++) {
        dmcp__session *s = srv->listeners[i];
        if (listener_gone(s)) {
            dmcp__session_unref(s); /* the list's reference */
            dropped++;
        } else {
            srv->listeners[kept++] = s;
        }
    }
    srv->n_listeners = kept;
    return dropped;
}

dmcp_status dmcp__listeners_add(dmcp_server *srv, dmcp__session *sess)
{
    pthread_mutex_lock(&srv->listen_mu);
    prune_listeners_locked(srv);
    if (srv->n_listeners == srv->cap_listeners) {
        size_t cap = srv->cap_listeners != 0 ? srv->cap_listeners * 2 : 8;
        dmcp__session **l = realloc(srv->listeners, cap * sizeof(*l));
        if (l == NULL) {
            pthread_mutex_unlock(&srv->listen_mu);
            return DMCP_E_NOMEM;
        }
        srv->listeners = l;
        srv->cap_listeners = cap;
    }
    dmcp__session_ref(sess);
    srv->listeners[srv->n_listeners++] = sess;
    pthread_mutex_unlock(&srv->listen_mu);
    return DMCP_OK;
}

void dmcp__listeners_clear(dmcp_server *srv)
{
    pthread_mutex_lock(&srv->listen_mu);
    for (size_t i = 0; i < srv->n_listeners; i++) {
        dmcp__session_unref(srv->listeners[i]);
    }
    srv->n_listeners = 0;
    pthread_mutex_unlock(&srv->listen_mu);
}

static void notify_listeners(dmcp_server *srv, const notify_ctx *n)
{
    pthread_mutex_lock(&srv->listen_mu);
    prune_listeners_locked(srv);
    size_t count = srv->n_listeners;
    dmcp__session **snap = count > 0 ? malloc(count * sizeof(*snap)) : NULL;
    if (snap == NULL) {
        count = 0;
    }
    for (size_t i = 0; i < count; i++) {
        snap[i] = srv->listeners[i];
        dmcp__session_ref(snap[i]);
    }
    pthread_mutex_unlock(&srv->listen_mu);
    for (size_t i = 0; i < count; i++) {
        notify_one(snap[i], (void *)n);
        dmcp__session_unref(snap[i]);
    }
    free(snap);
}

static void notify_all(dmcp_server *srv, const notify_ctx *n)
{
    dmcp__sessions_foreach(srv->sessions, notify_one, (void *)n);
    notify_listeners(srv, n);
    pthread_mutex_lock(&srv->stdio_mu);
    dmcp__session *s = srv->stdio_sess;
    if (s != NULL) {
        dmcp__session_ref(s);
    }
    pthread_mutex_unlock(&srv->stdio_mu);
    if (s != NULL) {
        notify_one(s, (void *)n);
        dmcp__session_unref(s);
    }
}

dmcp_status dmcp_server_notify_list_changed(dmcp_server *srv, unsigned list)
{
    const char *method;
    if (srv == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    switch (list) {
    case DMCP_LIST_TOOLS:
        method = "notifications/tools/list_changed";
        break;
    case DMCP_LIST_RESOURCES:
        method = "notifications/resources/list_changed";
        break;
    case DMCP_LIST_PROMPTS:
        method = "notifications/prompts/list_changed";
        break;
    default:
        return DMCP_E_INVALID_ARG;
    }
    if ((srv->list_changed & list) == 0) {
        return DMCP_E_STATE; /* not declared: the client was told it never changes */
    }
    notify_ctx n = {method, NULL};
    notify_all(srv, &n);
    dmcp__sstore_broadcast_notify(srv, method, NULL); /* the streams other instances hold */
    return DMCP_OK;
}

dmcp_status dmcp_server_notify_resource_updated(dmcp_server *srv, const char *uri)
{
    if (srv == NULL || uri == NULL || *uri == '\0') {
        return DMCP_E_INVALID_ARG;
    }
    json_t *probe = json_string(uri);
    if (probe == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    json_decref(probe);
    notify_ctx n = {"notifications/resources/updated", uri};
    notify_all(srv, &n);
    dmcp__sstore_broadcast_notify(srv, n.method, uri);
    return DMCP_OK;
}

void dmcp__notify_local(dmcp_server *srv, const char *method, const char *uri)
{
    notify_ctx n = {method, uri};
    notify_all(srv, &n);
}
