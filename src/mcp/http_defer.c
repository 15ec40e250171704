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
#include <time.h>

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
    bool era26;           /* a 2026-07-28 request: answered through dmcp__dispatch26_end */
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
    dmcp_server *srv = d->call.srv;
    json_decref(d->result);
    json_decref(d->error);
    json_decref(d->notes);
    json_decref(d->body);
    dmcp__session_unref(d->call.sess);
    dmcp_principal_unref(d->principal);
    pthread_mutex_destroy(&d->mu);
    free(d);
    atomic_fetch_sub(&srv->fwd_later, 1); /* last: dmcp_server_free waits for it */
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

/* Offers the request to dmcp_forwarder.start: the call when it was taken, else NULL
 * (nothing changed). */
static dmcp__deferred *offer(dmcp__http *h, struct MHD_Connection *c, const dmcp__rpc_ctx *ctx,
                             json_t *body, json_t *notes, const char *origin, const char *method,
                             bool era26)
{
    dmcp__deferred *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->era26 = era26;
    const json_t *id = json_object_get(body, "id");
    const json_t *params = json_object_get(body, "params");
    json_t *empty = NULL;
    if (params == NULL) { /* forwarders see {} as with request() */
        empty = json_object();
        if (empty == NULL || json_object_set_new(body, "params", empty) != 0) {
            free(d);
            return NULL;
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
        return NULL;
    }
    return d;
}

/* A call taken: the body, the notes and the session (with its request count) are its own now;
 * answered already, or the connection is parked. */
static enum MHD_Result park(dmcp__http *h, struct MHD_Connection *c, dmcp__deferred *d,
                            dmcp__deferred **later)
{
    atomic_fetch_add(&d->call.srv->fwd_later, 1);
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
        return dmcp__defer_finish(h, c, d);
    }
    /* Parked under d->mu: the answer cannot resume it before it is suspended. */
    MHD_suspend_connection(c);
    d->suspended = true;
    pthread_mutex_unlock(&d->mu);
    *later = d;
    return MHD_YES;
}

bool dmcp__defer_try(dmcp__http *h, struct MHD_Connection *c, const dmcp__rpc_ctx *ctx,
                     json_t *body, json_t *notes, const char *origin, dmcp__deferred **later,
                     enum MHD_Result *ret)
{
    const char *method = json_string_value(json_object_get(body, "method"));
    dmcp__deferred *d =
        eligible(ctx, body, method) ? offer(h, c, ctx, body, notes, origin, method, false) : NULL;
    if (d == NULL) {
        return false;
    }
    *ret = park(h, c, d, later);
    return true;
}

static bool is_mrtr_method(const char *method)
{
    return strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0;
}

bool dmcp__defer_try26(dmcp__http *h, struct MHD_Connection *c, const dmcp__rpc_ctx *ctx,
                       json_t *body, json_t *notes, const char *origin, dmcp__deferred **later,
                       json_t **answer, enum MHD_Result *ret)
{
    const char *method = json_string_value(json_object_get(body, "method"));
    dmcp__mrtr *mrtr = ctx->sess != NULL ? ctx->sess->mrtr : NULL;
    if (ctx->srv->fwd.start == NULL || method == NULL || mrtr == NULL ||
        !dmcp__era26_method_known(method) || !dmcp__forward_handles(ctx->srv, method)) {
        return false;
    }
    const json_t *id = json_object_get(body, "id");
    const json_t *params = json_object_get(body, "params");
    const char *message = NULL;
    int code = is_mrtr_method(method) ? dmcp__mrtr_begin(ctx->srv, mrtr, params, &message) : 0;
    if (code != 0) { /* a request state refused: answered as dispatch would */
        *answer = dmcp__jsonrpc_error(id, code, message, NULL);
        return false;
    }
    dmcp__deferred *d = offer(h, c, ctx, body, notes, origin, method, true);
    if (d != NULL) {
        *ret = park(h, c, d, later);
        return true;
    }
    /* Declined (begun already, so not through dispatch again): request() on this thread. */
    dmcp__rpc_ctx mine = *ctx;
    json_t *data = NULL;
    code = DMCP_JSONRPC_INTERNAL_ERROR;
    message = "Internal error";
    json_t *res = dmcp__forward_request(&mine, id, method, json_object_get(body, "params"), &code,
                                        &message, &data);
    *answer = dmcp__dispatch26_end(&mine, mrtr, id, method, res, code, message, data);
    return false;
}

enum MHD_Result dmcp__defer_finish(dmcp__http *h, struct MHD_Connection *c, dmcp__deferred *d)
{
    (void)h;
    pthread_mutex_lock(&d->mu);
    dmcp_status st = d->st;
    json_t *result = d->result, *error = d->error, *notes = d->notes;
    d->result = d->error = d->notes = NULL;
    pthread_mutex_unlock(&d->mu);
    enum MHD_Result r;
    if (d->era26) {
        char buf[256];
        int code = DMCP_JSONRPC_INTERNAL_ERROR;
        const char *message = NULL;
        json_t *data = NULL;
        json_t *res =
            dmcp__forward_result(st, result, error, buf, sizeof(buf), &code, &message, &data);
        const char *method = json_string_value(json_object_get(d->body, "method"));
        dmcp__rpc_ctx ctx = {d->call.srv, d->call.sess, d->principal, d->version, true, true,
                             &d->sink};
        json_t *answer = dmcp__dispatch26_end(&ctx, d->call.sess->mrtr, d->call.id, method, res,
                                              code, message, data);
        r = dmcp__http_send_answer26(c, answer, notes, d->origin);
    } else {
        json_t *answer = dmcp__forward_response(d->call.id, st, result, error);
        r = dmcp__http_send_answer(c, answer, notes, d->version, d->origin, NULL);
    }
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
    /* libmicrohttpd must not stop with a connection still suspended (it aborts): wait until
     * the workers have answered them all (each leaves the list then), 2 s at most. */
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&h->defer_mu);
        bool empty = h->deferred == NULL;
        pthread_mutex_unlock(&h->defer_mu);
        if (empty) {
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
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
