/*
 * Forwarded requests answered later (dmcp_forwarder.start). A tools/call or prompts/get for
 * an upstream that can answer through callbacks (stdio), on an upstream session already open,
 * is written to the upstream at once and answered from the upstream's reader thread: the HTTP
 * worker goes on with other connections instead of sleeping until the child answers.
 * Everything else (first use of a session, lists, connection tokens, HTTP upstreams, a
 * child that is not reading its input), and the client's notifications, runs the blocking
 * path (route.c) on the gateway's own workers, never on an HTTP worker: a child that takes
 * seconds to start, or an upstream that hangs, holds one of these and nothing else. With every worker busy and GW_WORKER_QUEUE requests queued, a request is not taken
 * and the runtime runs it on its HTTP worker (backpressure instead of an unbounded queue).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmcp/forward.h>

#include "gateway/gw_internal.h"

#define GW_WORKERS_MAX 32
#define GW_WORKER_QUEUE 1024

/* ---- the blocking path, on the gateway's workers ---- */

typedef struct job {
    dmcp_call *call; /* a forwarded request, or NULL: a client notification */
    const char *method;
    const json_t *params;
    char *sid;   /* the notification's session */
    json_t *msg; /* the notification (a reference) */
    struct job *next;
} job;

struct gw_workers {
    dmcp_gateway *gw;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    size_t queued, idle, n;
    bool stop;
    pthread_t t[GW_WORKERS_MAX];
};

static void run_job(dmcp_gateway *gw, job *j)
{
    if (j->call != NULL) {
        json_t *result = NULL, *error = NULL;
        dmcp_status st = gw_forward(gw, j->call, j->method, j->params, &result, &error);
        (void)dmcp_call_answer(j->call, st, result, error);
    } else {
        gw_client_notification(gw, j->sid, j->msg);
    }
    free(j->sid);
    json_decref(j->msg);
    free(j);
}

static void *worker_main(void *arg)
{
    gw_workers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stop) {
            w->idle++;
            pthread_cond_wait(&w->cv, &w->mu);
            w->idle--;
        }
        job *j = w->head;
        if (j == NULL) {
            break; /* stopping, nothing left */
        }
        w->head = j->next;
        if (w->head == NULL) {
            w->tail = NULL;
        }
        w->queued--;
        pthread_mutex_unlock(&w->mu);
        run_job(w->gw, j);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

gw_workers *gw_workers_new(dmcp_gateway *gw)
{
    gw_workers *w = calloc(1, sizeof(*w));
    if (w != NULL) {
        w->gw = gw;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
    }
    return w;
}

/* Queues a job for a worker (one more is started when none is idle). false: not taken (the
 * job is freed). */
static bool workers_queue(gw_workers *w, job *j)
{
    pthread_mutex_lock(&w->mu);
    if (w->stop || w->queued >= GW_WORKER_QUEUE) {
        pthread_mutex_unlock(&w->mu);
        free(j->sid);
        json_decref(j->msg);
        free(j);
        return false;
    }
    if (w->idle <= w->queued && w->n < GW_WORKERS_MAX &&
        pthread_create(&w->t[w->n], NULL, worker_main, w) == 0) {
        w->n++;
    }
    if (w->n == 0) { /* no thread could be started */
        pthread_mutex_unlock(&w->mu);
        free(j->sid);
        json_decref(j->msg);
        free(j);
        return false;
    }
    if (w->tail != NULL) {
        w->tail->next = j;
    } else {
        w->head = j;
    }
    w->tail = j;
    w->queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return true;
}

static bool workers_submit(gw_workers *w, dmcp_call *call, const char *method,
                           const json_t *params)
{
    job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return false;
    }
    *j = (job){call, method, params, NULL, NULL, NULL};
    return workers_queue(w, j);
}

void gw_client_notification_later(void *ud, const char *sid, const json_t *msg)
{
    dmcp_gateway *gw = ud;
    job *j = sid != NULL ? calloc(1, sizeof(*j)) : NULL;
    if (j != NULL) {
        *j = (job){NULL, NULL, NULL, strdup(sid), json_deep_copy(msg), NULL};
    }
    if (j == NULL || j->sid == NULL || j->msg == NULL) {
        if (j != NULL) {
            free(j->sid);
            json_decref(j->msg);
            free(j);
        }
        gw_client_notification(gw, sid, msg); /* out of memory: here, as before */
        return;
    }
    if (!workers_queue(gw->workers, j)) {
        gw_client_notification(gw, sid, msg); /* the queue is full: here (backpressure) */
    }
}

void gw_workers_free(gw_workers *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stop = true; /* what is queued still runs (the server cancelled those calls) */
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->n; i++) {
        pthread_join(w->t[i], NULL);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

/* ---- the fast path: an open stdio session ---- */

typedef struct actx {
    gw_sinkctx k; /* first: the sink callbacks take it */
    size_t up;
    char method[16];
    json_t *params; /* as sent upstream (bare name) */
    long long t0;
} actx;

static void a_done(void *ud, dmcp_status st, json_t *resp, const dmcp_error *err)
{
    actx *x = ud;
    dmcp_gateway *gw = x->k.gw;
    dmcp_call *call = x->k.call;
    if (gw->cfg->upstream_log) {
        gw_upstream_log_line(gw, x->up, call, x->method, x->params, st, resp,
                             gw_now_ms() - x->t0);
    }
    json_t *result = NULL, *error = NULL;
    st = gw_upstream_outcome(gw, x->up, x->method, st, resp, err, &result, &error);
    json_decref(x->params);
    free(x);
    (void)dmcp_call_answer(call, st, result, error); /* the call is gone after this */
}

dmcp_status gw_forward_start(void *ud, dmcp_call *call, const char *method, const json_t *params)
{
    dmcp_gateway *gw = ud;
    bool tool_call = strcmp(method, "tools/call") == 0;
    const char *sid = dmcp_call_session_id(call);
    /* Connection tokens are fetched on the blocking path. */
    const char *name = json_string_value(json_object_get(params, "name"));
    size_t up = 0;
    const char *bare = NULL;
    gw_csess *c = NULL;
    if ((!tool_call && strcmp(method, "prompts/get") != 0) || sid == NULL ||
        dmcp_call_is_stateless_revision(call) || (tool_call && gw->cfg->n_conns > 0) ||
        !gw_route_name(gw, name, &up, &bare) || gw->ups[up]->ops->request_async == NULL ||
        (c = gw_sessmap_get(gw->map, sid)) == NULL) {
        return workers_submit(gw->workers, call, method, params) ? DMCP_OK : DMCP_E_STATE;
    }
    pthread_mutex_lock(&c->mu);
    dmcp_gw_usession *us = c->us[up]; /* kept open by c's reference meanwhile */
    json_int_t id = c->next_id++;
    pthread_mutex_unlock(&c->mu);
    actx *x = us != NULL ? calloc(1, sizeof(*x)) : NULL;
    json_t *p = NULL;
    if (x != NULL) {
        p = bare == name ? json_incref((json_t *)params) : json_deep_copy(params);
        if (p != NULL && bare != name) {
            json_object_set_new(p, "name", json_string(bare));
        }
    }
    json_t *msg = p != NULL ? json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", id, "method",
                                        method, "params", gw_upstream_params(p))
                            : NULL;
    dmcp_status st = DMCP_E_STATE;
    if (msg != NULL) {
        x->k = (gw_sinkctx){call, gw, NULL};
        x->up = up;
        snprintf(x->method, sizeof(x->method), "%s", method);
        x->params = p;
        x->t0 = gw->cfg->upstream_log ? gw_now_ms() : 0;
        dmcp_gw_async a = {x, gw->cfg->request_timeout_ms, gw_sink_note, gw_sink_cancelled,
                           a_done};
        st = gw->ups[up]->ops->request_async(us, msg, &a);
    }
    json_decref(msg);
    gw_csess_unref(c, gw_close_csess, gw);
    if (st != DMCP_OK) { /* nothing went out (e.g. the child must be started first) */
        json_decref(p);
        free(x);
        return workers_submit(gw->workers, call, method, params) ? DMCP_OK : DMCP_E_STATE;
    }
    return DMCP_OK;
}
