/*
 * The stdio upstream's exchange with its child (see upstream_stdio.c for the whole): requests
 * under wire ids, the reader thread's routing of what the child writes, delivery on the
 * request's own thread, the response handed over without the session lock.
 */
#include "gateway/upstream_stdio_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

void gw_stdio_err(dmcp_error *err, dmcp_status st, const char *fmt, ...)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

void gw_stdio_describe_end(const dmcp_gw_usession *s, char *buf, size_t n)
{
    switch (s->why) {
    case DMCP_CHILD_IDLE:
        snprintf(buf, n, "was stopped after being idle");
        return;
    case DMCP_CHILD_OVERSIZE:
        snprintf(buf, n, "wrote a message over the size cap and was stopped");
        return;
    case DMCP_CHILD_WRITE_FAIL:
        snprintf(buf, n, "stopped reading its input and was stopped");
        return;
    case DMCP_CHILD_CLOSED:
        snprintf(buf, n, "was closed");
        return;
    default:
        break;
    }
    if (WIFEXITED(s->status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(s->status));
    else if (WIFSIGNALED(s->status))
        snprintf(buf, n, "was killed by signal %d", WTERMSIG(s->status));
    else
        snprintf(buf, n, "ended");
}

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

void gw_stdio_pending_unref(pending *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1) {
        json_decref(p->orig_ref);
        sem_destroy(&p->sem);
        free(p);
    }
}

/* Under s->mu: off the list; the list's reference passes to the caller. */
void gw_stdio_unlink_locked(dmcp_gw_usession *s, pending *p)
{
    for (pending **pp = &s->pend; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            s->npend--;
            break;
        }
    p->linked = false;
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
        if (is_request)
            gw_stdio_refuse(s, msg);
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

/* ---- writing ---- */

dmcp_status gw_stdio_send(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err)
{
    char *line = json_dumps(msg, JSON_COMPACT);
    if (!line) {
        gw_stdio_err(err, DMCP_E_NOMEM, "stdio upstream: cannot serialise the message");
        return DMCP_E_NOMEM;
    }
    dmcp_status st = dmcp__child_send(s->child, line, strlen(line));
    free(line);
    if (st == DMCP_E_TOO_LARGE) {
        gw_stdio_err(err, st, "stdio upstream: the message is over the size cap");
    } else if (st != DMCP_OK) {
        gw_stdio_err(err, DMCP_E_UNREACHABLE, "stdio upstream: the child is not accepting input (%s)",
                dmcp_status_name(st));
        st = DMCP_E_UNREACHABLE;
    }
    return st;
}

/* Answers the child's request `req` (its id) with result or error. */
static void answer_child(dmcp_gw_usession *s, const json_t *req, dmcp_status st, json_t *result,
                         json_t *error)
{
    json_t *ans = json_pack("{s:s,s:O}", "jsonrpc", "2.0", "id", json_object_get(req, "id"));
    if (!ans)
        return;
    if (st == DMCP_OK && result) {
        json_object_set(ans, "result", result);
    } else if (error && json_is_object(error)) {
        json_object_set(ans, "error", error);
    } else {
        json_object_set_new(
            ans, "error",
            json_pack("{s:i,s:s}", "code", -32603, "message", "the client did not answer"));
    }
    dmcp_status ignored = gw_stdio_send(s, ans, NULL);
    (void)ignored;
    json_decref(ans);
}

void gw_stdio_refuse(dmcp_gw_usession *s, const json_t *req)
{
    json_t *error =
        json_pack("{s:i,s:s}", "code", -32601, "message", "the client cannot answer requests here");
    answer_child(s, req, DMCP_E_STATE, NULL, error);
    json_decref(error);
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
        gw_stdio_refuse(s, msg);
        return;
    }
    answer_child(s, msg, st, result, error);
    json_decref(result);
    json_decref(error);
}

long long gw_stdio_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* A request leaves .request: close or a respawn may be waiting for the last one. */
void gw_stdio_active_end(dmcp_gw_usession *s)
{
    if (atomic_fetch_sub(&s->active, 1) == 1 && atomic_load(&s->draining) > 0) {
        pthread_mutex_lock(&s->mu);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

/* Under s->mu: waits until no request is inside .request (close, respawn). */
void gw_stdio_drain_locked(dmcp_gw_usession *s)
{
    atomic_fetch_add(&s->draining, 1);
    while (atomic_load(&s->active) > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    atomic_fetch_sub(&s->draining, 1);
}

void gw_stdio_send_cancel(dmcp_gw_usession *s, json_int_t wire_id, const char *reason)
{
    json_t *n =
        json_pack("{s:s,s:s,s:{s:I,s:s}}", "jsonrpc", "2.0", "method", "notifications/cancelled",
                  "params", "requestId", (json_int_t)wire_id, "reason", reason);
    if (!n)
        return;
    dmcp_status ignored = gw_stdio_send(s, n, NULL);
    (void)ignored;
    json_decref(n);
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
    json_int_t wire_id = pe->wire_id = s->next_id++;
    pe->next = s->pend;
    pe->linked = true;
    s->pend = pe;
    s->npend++;
    atomic_fetch_add(&s->active, 1);
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
        gw_stdio_send_cancel(s, wire_id, st == DMCP_E_TIMEOUT ? "timed out" : "cancelled");
    if (busy)
        dmcp__child_busy(s->child, -1);
    return st;
}
