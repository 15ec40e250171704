/*
 * The stdio upstream's exchange with its child (see upstream_stdio.c for the whole): requests
 * under wire ids, the reader thread's routing of what the child writes, delivery on the
 * request's own thread, the response handed over without the session lock.
 */
#include "gateway/upstream_stdio_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* Under s->mu: every request waiting, and close; the asynchronous ones are taken off. */
pending *gw_stdio_wake_all(dmcp_gw_usession *s)
{
    pending *taken = NULL;
    for (pending *p = s->pend, *n; p; p = n) {
        n = p->next;
        if (!p->is_async) {
            sem_post(&p->sem);
        } else if (gw_stdio_async_claim(s, p)) {
            p->next = taken;
            taken = p;
        }
    }
    pthread_cond_broadcast(&s->cv);
    return taken;
}

/* ---- reader side (child thread) ---- */

static pending *find_wire(dmcp_gw_usession *s, json_int_t id)
{
    for (pending *p = s->pend; p; p = p->next)
        if (p->wire_id == id)
            return p;
    return NULL;
}


static void enqueue(pending *p, json_t *msg)
{
    qitem *q = malloc(sizeof *q);
    if (!q) {
        json_decref(msg);
        return;
    }
    q->msg = msg;
    q->next = NULL;
    if (p->qtail)
        p->qtail->next = q;
    else
        p->qhead = q;
    p->qtail = q;
}

static void log_drop(dmcp_gw_usession *s, const char *why)
{
    fprintf(stderr, "gateway: stdio upstream child %ld: dropped a line: %s\n",
            (long)dmcp__child_pid(s->child), why);
}

void gw_stdio_on_line(void *ud, const char *line, size_t len)
{
    dmcp_gw_usession *s = ud;
    json_error_t je;
    json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!msg || !json_is_object(msg)) {
        json_decref(msg);
        log_drop(s, "not a JSON-RPC object");
        return;
    }
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    pthread_mutex_lock(&s->mu);
    if (!method) { /* a response */
        pending *p = json_is_integer(id) ? find_wire(s, json_integer_value(id)) : NULL;
        if (!p || p->response ||
            !(json_object_get(msg, "result") || json_object_get(msg, "error"))) {
            pthread_mutex_unlock(&s->mu);
            json_decref(msg);
            log_drop(s, "a response to no request in flight");
            return;
        }
        if (p->is_async) {
            bool mine = gw_stdio_async_claim(s, p);
            pthread_mutex_unlock(&s->mu);
            if (mine)
                gw_stdio_async_done(s, p, DMCP_OK, msg, NULL);
            else
                json_decref(msg); /* timed out or cancelled just now */
            return;
        }
        p->response = msg;
        gw_stdio_unlink_locked(s, p); /* nothing more reaches it: its queue is the waiter's now */
        atomic_store(&p->done, true);
        pthread_mutex_unlock(&s->mu);
        sem_post(&p->sem);
        gw_stdio_pending_unref(p); /* the list's reference */
        return;
    }
    if (!json_is_string(method)) {
        pthread_mutex_unlock(&s->mu);
        json_decref(msg);
        log_drop(s, "method is not a string");
        return;
    }
    pending *to = NULL;
    if (strcmp(json_string_value(method), "notifications/progress") == 0) {
        json_t *tok = json_object_get(json_object_get(msg, "params"), "progressToken");
        for (pending *p = s->pend; p && tok; p = p->next)
            if (p->progress_token && !p->response && json_equal(p->progress_token, tok))
                to = p;
    } else if (json_object_get(msg, "id") != NULL) {
        /* A server->client request: every request in flight belongs to the same client, so
         * any of them can carry it to the client and its answer back; the oldest one still
         * waiting whose sink relays requests does (the standalone stream cannot carry an
         * answer back). */
        pending *any = NULL;
        for (pending *p = s->pend; p; p = p->next) {
            if (p->response)
                continue;
            any = p;
            if (p->can_ask)
                to = p;
        }
        if (!to)
            to = any; /* it answers the child with an error at once */
    } else if (s->npend == 1 && !s->pend->response) {
        to = s->pend; /* a log message: with the only request in flight, else standalone */
    }
    if (to && to->is_async) {
        /* No thread of its own: a notification goes to its callback here, under the lock
         * (which keeps it from being completed meanwhile); a request is refused. */
        bool is_request = json_object_get(msg, "id") != NULL;
        if (!is_request && to->a.notification)
            to->a.notification(to->a.ud, msg);
        pthread_mutex_unlock(&s->mu);
        if (is_request) /* as the blocking path's answer when the client has no stream */
            gw_stdio_refuse(s, msg, -32603, "The client cannot answer this request here");
        json_decref(msg);
        return;
    }
    if (to) {
        enqueue(to, msg);
        sem_post(&to->sem);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    dmcp_gw_message_fn fn = s->on_message;
    void *fud = s->on_message_ud;
    pthread_mutex_unlock(&s->mu);
    if (fn)
        fn(fud, msg);
    json_decref(msg);
}

void gw_stdio_on_exit(void *ud, dmcp__child_end why, int status)
{
    dmcp_gw_usession *s = ud;
    pthread_mutex_lock(&s->mu);
    s->dead = true;
    s->why = why;
    s->status = status;
    pending *lost = gw_stdio_wake_all(s);
    pthread_mutex_unlock(&s->mu);
    gw_stdio_async_fail(s, lost);
    if (why == DMCP_CHILD_EXITED) {
        char d[96];
        gw_stdio_describe_end(s, d, sizeof d);
        fprintf(stderr, "gateway: stdio upstream child %ld %s\n", (long)dmcp__child_pid(s->child),
                d);
    }
}


static void deliver(dmcp_gw_usession *s, const dmcp_gw_request_params *p, json_t *msg)
{
    const dmcp_gw_sink *k = p ? p->sink : NULL;
    bool is_request = json_object_get(msg, "id") != NULL;
    if (!is_request) {
        if (k && k->notification)
            k->notification(k->ud, msg);
        return;
    }
    json_t *result = NULL, *error = NULL;
    dmcp_status st = DMCP_E_STATE;
    if (k && k->request) {
        st = k->request(k->ud, msg, &result, &error);
    } else {
        gw_stdio_refuse(s, msg, -32601, "the client cannot answer requests here");
        return;
    }
    gw_stdio_answer_child(s, msg, st, result, error);
    json_decref(result);
    json_decref(error);
}


/* The queue and response of a request no longer linked (only its waiter sees them). */
static void drop_pending_data(pending *p)
{
    for (qitem *q = p->qhead; q;) {
        qitem *n = q->next;
        json_decref(q->msg);
        free(q);
        q = n;
    }
    p->qhead = p->qtail = NULL;
    json_decref(p->response);
    p->response = NULL;
}


/* Waits for pe's semaphore until the deadline, at most 100 ms (is_cancelled is polled). */
static void wait_post(pending *pe, long long left_ms)
{
    if (left_ms > 100)
        left_ms = 100;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)left_ms * 1000000L;
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (sem_timedwait(&pe->sem, &ts) != 0 && errno == EINTR) {
    }
}

dmcp_status gw_stdio_exchange(dmcp_gw_usession *s, const json_t *msg,
                              const dmcp_gw_request_params *p, unsigned timeout_ms,
                              unsigned *idle_gen, json_t **response, dmcp_error *err)
{
    *response = NULL;
    json_t *orig_id = json_object_get(msg, "id");
    if (!json_is_object(msg) || !orig_id || !json_is_string(json_object_get(msg, "method"))) {
        gw_stdio_err(err, DMCP_E_INVALID_ARG, "stdio upstream: not a JSON-RPC request");
        return DMCP_E_INVALID_ARG;
    }
    pending *pe = calloc(1, sizeof *pe);
    if (!pe || sem_init(&pe->sem, 0, 0) != 0) {
        free(pe);
        gw_stdio_err(err, DMCP_E_NOMEM, "stdio upstream: out of memory");
        return DMCP_E_NOMEM;
    }
    atomic_init(&pe->done, false);
    atomic_init(&pe->refs, 2); /* the waiter's and the list's */
    pe->orig_id = orig_id;
    pe->can_ask = p && p->sink && p->sink->request;
    pe->progress_token =
        json_object_get(json_object_get(json_object_get(msg, "params"), "_meta"), "progressToken");
    pthread_mutex_lock(&s->mu);
    if (idle_gen && s->dead && s->why == DMCP_CHILD_IDLE && !s->closing) {
        *idle_gen = s->gen; /* the caller respawns, then asks again */
        pthread_mutex_unlock(&s->mu);
        sem_destroy(&pe->sem);
        free(pe);
        return DMCP_E_STATE;
    }
    if (s->dead || s->closing) {
        char d[96];
        gw_stdio_describe_end(s, d, sizeof d);
        pthread_mutex_unlock(&s->mu);
        gw_stdio_err(err, DMCP_E_NOT_FOUND, "stdio upstream: the session's child %s", d);
        sem_destroy(&pe->sem);
        free(pe);
        return DMCP_E_NOT_FOUND;
    }
    json_int_t wire_id = gw_stdio_link_locked(s, pe);
    pthread_mutex_unlock(&s->mu);

    json_t *wire = json_copy((json_t *)msg); /* shallow: params shared, id replaced */
    dmcp_status st = wire ? DMCP_OK : DMCP_E_NOMEM;
    bool busy = wire != NULL; /* counted busy while it is out (no idle reaping) */
    if (wire) {
        json_object_set_new(wire, "id", json_integer(wire_id));
        dmcp__child_busy(s->child, +1);
        st = gw_stdio_send(s, wire, err);
        json_decref(wire);
    } else {
        gw_stdio_err(err, st, "stdio upstream: out of memory");
    }
    long long deadline = gw_stdio_mono_ms() + (timeout_ms ? timeout_ms : 60000u);
    bool locked = false;
    while (st == DMCP_OK) {
        if (atomic_load(&pe->done)) { /* handed over: queue and response are ours alone */
            if (locked) {
                pthread_mutex_unlock(&s->mu);
                locked = false;
            }
            for (qitem *q; (q = pe->qhead) != NULL;) { /* in arrival order, before it */
                pe->qhead = q->next;
                deliver(s, p, q->msg);
                json_decref(q->msg);
                free(q);
            }
            pe->qtail = NULL;
            break;
        }
        if (!locked) {
            pthread_mutex_lock(&s->mu);
            locked = true;
            continue; /* done may have been set meanwhile */
        }
        if (pe->qhead) { /* in arrival order, on this thread, before the response */
            qitem *q = pe->qhead;
            pe->qhead = q->next;
            if (!pe->qhead)
                pe->qtail = NULL;
            pthread_mutex_unlock(&s->mu);
            locked = false;
            deliver(s, p, q->msg);
            json_decref(q->msg);
            free(q);
            continue;
        }
        if (s->dead) {
            char d[96];
            gw_stdio_describe_end(s, d, sizeof d);
            gw_stdio_err(err, DMCP_E_UNREACHABLE, "stdio upstream: the child %s during the request", d);
            st = DMCP_E_UNREACHABLE;
            break;
        }
        if (s->closing) {
            gw_stdio_err(err, DMCP_E_CANCELLED, "stdio upstream: the session is closing");
            st = DMCP_E_CANCELLED;
            break;
        }
        if (p && p->sink && p->sink->is_cancelled) {
            pthread_mutex_unlock(&s->mu);
            locked = false;
            if (p->sink->is_cancelled(p->sink->ud)) {
                gw_stdio_err(err, DMCP_E_CANCELLED, "stdio upstream: the request was cancelled");
                st = DMCP_E_CANCELLED;
                break;
            }
        }
        long long left = deadline - gw_stdio_mono_ms();
        if (left <= 0) {
            gw_stdio_err(err, DMCP_E_TIMEOUT, "stdio upstream: no answer within %u ms",
                    timeout_ms ? timeout_ms : 60000u);
            st = DMCP_E_TIMEOUT;
            break;
        }
        if (locked) {
            pthread_mutex_unlock(&s->mu);
            locked = false;
        }
        /* Whatever arrives from here on posts the semaphore: no signal is lost. */
        wait_post(pe, left);
    }
    if (!atomic_load(&pe->done)) { /* no response handed over: off the list, under the lock */
        if (!locked) {
            pthread_mutex_lock(&s->mu);
            locked = true;
        }
        if (pe->linked) {
            gw_stdio_unlink_locked(s, pe);
            atomic_fetch_sub(&pe->refs, 1); /* the list's; the waiter's keeps it */
        }
    }
    if (locked)
        pthread_mutex_unlock(&s->mu);
    if (st == DMCP_OK) {
        *response = pe->response;
        pe->response = NULL;
        json_object_set(*response, "id", orig_id);
    }
    drop_pending_data(pe); /* unlinked: no one else touches it */
    gw_stdio_pending_unref(pe);
    gw_stdio_active_end(s);
    if (st == DMCP_E_TIMEOUT || st == DMCP_E_CANCELLED)
        gw_stdio_send_cancel(s, wire_id, st == DMCP_E_TIMEOUT ? "timed out" : "cancelled", true);
    if (busy)
        dmcp__child_busy(s->child, -1);
    return st;
}
