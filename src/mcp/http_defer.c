/*
 * Forwarded requests answered later (dmcp_forwarder.start). The HTTP worker hands the request
 * to the forwarder and parks the connection (MHD_suspend_connection) instead of waiting on
 * it; dmcp_call_answer, on whatever thread the answer comes from, stores the answer and
 * resumes the connection; libmicrohttpd then calls the access handler again on a worker,
 * which sends the answer (dmcp__defer_finish). A worker thus serves many connections, each
 * woken once per batch of events instead of once per request.
 *
 * Lifetime: the deferred call has two owners, the runtime (until the client was answered or
 * the connection went away) and the forwarder (until dmcp_call_answer). The request body,
 * the session and the principal are kept until both are done, so a forwarder may read its
 * call to the end. A stop answers what is still outstanding itself before libmicrohttpd
 * stops (dmcp__defer_stop_all); a forwarder answering after that is dropped quietly.
 */
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "mcp/http_internal.h"

struct dmcp__deferred {
    dmcp_call call;
    pthread_mutex_t mu;
    int refs;             /* under mu: the runtime's and the forwarder's */
    bool suspended;       /* under mu: parked; the answer resumes it */
    bool answered;        /* under mu: dmcp_call_answer ran */
    bool given_up;        /* under mu: the server answered for it (a stop) */
    bool runtime_done;    /* the runtime's side was released (worker only) */
    bool tracked;         /* registered for notifications/cancelled */
    dmcp__http *h;
    struct MHD_Connection *c;
    json_t *body;          /* the request; id, method and params are borrowed from it */
    json_t *notes;         /* notifications before the answer */
    dmcp__sink sink;
    char version[16];
    const char *origin;    /* borrowed from the request's state (it outlives us) */
    dmcp_principal *principal;
    dmcp_status st;
    json_t *result, *error;
    struct dmcp__deferred *prev, *next; /* h->deferred, under h->defer_mu */
};

static void deferred_free(dmcp__deferred *d)
{
    atomic_fetch_sub(&d->call.srv->fwd_later, 1);
    json_decref(d->result);
    json_decref(d->error);
    json_decref(d->notes);
    json_decref(d->body);
    dmcp__session_unref(d->call.sess);
    dmcp_principal_unref(d->principal);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

static void deferred_unref(dmcp__deferred *d)
{
    pthread_mutex_lock(&d->mu);
    bool last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (last) {
        deferred_free(d);
    }
}

/* Notifications of a deferred call (dmcp_call_notify, progress): kept for the answer, on any
 * thread, until it is answered. */
static dmcp_status defer_sink_send(dmcp__sink *sink, json_t *msg)
{
    dmcp__deferred *d = sink->ud;
    pthread_mutex_lock(&d->mu);
    dmcp_status st = DMCP_E_STATE;
    if (!d->answered && !d->given_up) {
        st = dmcp__collect_sink_send(&(dmcp__sink){NULL, d->notes, false, NULL}, msg);
        msg = NULL;
    }
    pthread_mutex_unlock(&d->mu);
    json_decref(msg);
    return st;
}

/* Whether the request may be offered to dmcp_forwarder.start (see forward.h). */
static bool eligible(const dmcp__rpc_ctx *ctx, const json_t *body, const char *method)
{
    const dmcp__session *sess = ctx->sess;
    return ctx->srv->fwd.start != NULL && json_is_object(body) && method != NULL &&
           sess != NULL && !ctx->stateless && sess->id[0] != '\0' && sess->mrtr == NULL &&
           strcmp(method, "logging/setLevel") != 0 && dmcp__forward_handles(ctx->srv, method) &&
           dmcp__lifecycle_gate((dmcp__session *)sess, method, false, &(const char *){NULL}) == 0;
}

/* The runtime's side ends: the client was answered or its connection is gone. Worker only. */
static void runtime_release(dmcp__deferred *d)
{
    if (d->runtime_done) {
        return;
    }
    d->runtime_done = true;
    dmcp__http *h = d->h;
    if (d->tracked) {
        dmcp__session_untrack(d->call.sess, d->call.id, &d->call.cancelled);
    }
    atomic_fetch_sub(&d->call.sess->requests, 1);
    pthread_mutex_lock(&h->defer_mu);
    if (d->prev != NULL) {
        d->prev->next = d->next;
    } else {
        h->deferred = d->next;
    }
    if (d->next != NULL) {
        d->next->prev = d->prev;
    }
    pthread_mutex_unlock(&h->defer_mu);
    dmcp__http_active_add(h, -1);
    deferred_unref(d);
}

bool dmcp__defer_try(dmcp__http *h, struct MHD_Connection *c, const dmcp__rpc_ctx *ctx,
                     json_t *body, json_t *notes, const char *origin, dmcp__deferred **later,
                     enum MHD_Result *ret)
{
    const char *method = json_string_value(json_object_get(body, "method"));
    if (!eligible(ctx, body, method)) {
        return false;
    }
    dmcp__deferred *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return false;
    }
    const json_t *id = json_object_get(body, "id");
    const json_t *params = json_object_get(body, "params");
    json_t *empty = NULL;
    if (params == NULL) { /* forwarders see {} as with request() */
        empty = json_object();
        if (empty == NULL || json_object_set_new(body, "params", empty) != 0) {
            free(d);
            return false;
        }
        params = empty;
    }
    pthread_mutex_init(&d->mu, NULL);
    d->refs = 2;
    d->h = h;
    d->c = c;
    d->body = body;
    d->notes = notes;
    d->origin = origin;
    d->principal = ctx->principal != NULL ? dmcp_principal_ref((dmcp_principal *)ctx->principal)
                                          : NULL;
    size_t vlen = strnlen(ctx->version, sizeof(d->version) - 1);
    memcpy(d->version, ctx->version, vlen);
    d->version[vlen] = '\0';
    d->sink = (dmcp__sink){defer_sink_send, d, false, NULL};
    dmcp__rpc_ctx mine = *ctx;
    mine.version = d->version;
    mine.principal = d->principal;
    mine.sink = &d->sink;
    dmcp__forward_call_init(&d->call, &mine, id, method, params);
    d->call.later = d;
    d->tracked = dmcp__session_track(ctx->sess, id, &d->call.cancelled) == DMCP_OK;
    dmcp_server *srv = ctx->srv;
    dmcp_status st = srv->fwd.start(srv->fwd.userdata, &d->call, method, params);
    if (st != DMCP_OK) { /* not taken: the caller serves it; what it owns is its own again */
        if (d->tracked) {
            dmcp__session_untrack(ctx->sess, id, &d->call.cancelled);
        }
        dmcp_principal_unref(d->principal);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return false;
    }
    /* Taken: the body, the notes and the session (with its request count) are ours now. */
    atomic_fetch_add(&srv->fwd_later, 1);
    dmcp__http_active_add(h, 1);
    pthread_mutex_lock(&h->defer_mu);
    d->next = h->deferred;
    if (d->next != NULL) {
        d->next->prev = d;
    }
    h->deferred = d;
    pthread_mutex_unlock(&h->defer_mu);
    pthread_mutex_lock(&d->mu);
    if (d->answered) { /* answered on this thread already: no need to park */
        pthread_mutex_unlock(&d->mu);
        *ret = dmcp__defer_finish(h, c, d);
        return true;
    }
    /* Parked under d->mu: the answer cannot resume it before it is suspended. */
    MHD_suspend_connection(c);
    d->suspended = true;
    pthread_mutex_unlock(&d->mu);
    *later = d;
    *ret = MHD_YES;
    return true;
}

enum MHD_Result dmcp__defer_finish(dmcp__http *h, struct MHD_Connection *c, dmcp__deferred *d)
{
    (void)h;
    pthread_mutex_lock(&d->mu);
    dmcp_status st = d->st;
    json_t *result = d->result, *error = d->error, *notes = d->notes;
    d->result = d->error = d->notes = NULL;
    pthread_mutex_unlock(&d->mu);
    json_t *answer = dmcp__forward_response(d->call.id, st, result, error);
    enum MHD_Result r = dmcp__http_send_answer(c, answer, notes, d->version, d->origin, NULL);
    runtime_release(d);
    return r;
}

void dmcp__defer_abandon(dmcp__deferred *d)
{
    runtime_release(d);
}

void dmcp__defer_stop_all(dmcp__http *h)
{
    pthread_mutex_lock(&h->defer_mu);
    for (dmcp__deferred *d = h->deferred; d != NULL; d = d->next) {
        pthread_mutex_lock(&d->mu);
        if (!d->answered && !d->given_up) {
            d->given_up = true;
            d->st = DMCP_E_CANCELLED;
            d->error = json_pack("{s:i,s:s}", "code", DMCP_JSONRPC_INTERNAL_ERROR, "message",
                                 "Server stopping");
            if (d->suspended) {
                d->suspended = false;
                MHD_resume_connection(d->c);
            }
        }
        pthread_mutex_unlock(&d->mu);
    }
    pthread_mutex_unlock(&h->defer_mu);
}

dmcp_status dmcp_call_answer(dmcp_call *call, dmcp_status status, json_t *result, json_t *error)
{
    dmcp__deferred *d = call != NULL ? call->later : NULL;
    if (d == NULL) {
        json_decref(result);
        json_decref(error);
        return DMCP_E_STATE;
    }
    pthread_mutex_lock(&d->mu);
    if (d->answered) {
        pthread_mutex_unlock(&d->mu);
        json_decref(result);
        json_decref(error);
        return DMCP_E_STATE;
    }
    d->answered = true;
    if (d->given_up) {
        json_decref(result);
        json_decref(error);
    } else {
        d->st = status;
        d->result = result;
        d->error = error;
        if (d->suspended) {
            d->suspended = false;
            MHD_resume_connection(d->c);
        }
    }
    bool last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (last) {
        deferred_free(d);
    }
    return DMCP_OK;
}
