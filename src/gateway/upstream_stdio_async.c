/*
 * The stdio exchange without a waiting thread (.request_async; upstream_stdio_xchg.c has the
 * blocking one). The request goes to the child under a wire id as before; no thread sleeps on
 * it. Its outcome comes through its callbacks, exactly once, from whoever claims it first:
 *   - the child's reader thread, with its response (gw_stdio_on_line);
 *   - the child's end or the session's close (gw_stdio_wake_all, then gw_stdio_async_fail);
 *   - the timer thread, when its time is up or the client cancelled it.
 * A claim is an atomic flag; the claimer unlinks the request under s->mu and completes it
 * outside the lock. Notifications for it are handed to its callback by the reader under s->mu,
 * so no completion can run meanwhile. The request counts as active on its session until it is
 * completed, so the session (and its child) outlive it.
 *
 * The timer is one thread per process, started with the first such request; it looks every
 * 50 ms while requests are out and sleeps otherwise.
 */
#include "gateway/upstream_stdio_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMER_TICK_MS 50

static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tcv = PTHREAD_COND_INITIALIZER;
static pending *timed; /* requests out, under tmu (tnext/tprev) */
static bool timer_started;

static void timer_unlink_locked(pending *p)
{
    if (p->tprev)
        p->tprev->tnext = p->tnext;
    else if (timed == p)
        timed = p->tnext;
    if (p->tnext)
        p->tnext->tprev = p->tprev;
    p->tnext = p->tprev = NULL;
}

static void timer_remove(pending *p)
{
    pthread_mutex_lock(&tmu);
    timer_unlink_locked(p);
    pthread_mutex_unlock(&tmu);
}

static void *timer_main(void *arg);

static bool timer_add(pending *p)
{
    pthread_mutex_lock(&tmu);
    if (!timer_started) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        timer_started = pthread_create(&t, &at, timer_main, NULL) == 0;
        pthread_attr_destroy(&at);
        if (!timer_started) {
            pthread_mutex_unlock(&tmu);
            return false;
        }
    }
    p->tprev = NULL;
    p->tnext = timed;
    if (timed)
        timed->tprev = p;
    bool was_empty = timed == NULL;
    timed = p;
    if (was_empty)
        pthread_cond_signal(&tcv);
    pthread_mutex_unlock(&tmu);
    return true;
}

bool gw_stdio_async_claim(dmcp_gw_usession *s, pending *p)
{
    bool expected = false;
    if (!atomic_compare_exchange_strong(&p->claimed, &expected, true))
        return false;
    if (p->linked)
        gw_stdio_unlink_locked(s, p);
    return true;
}

void gw_stdio_async_done(dmcp_gw_usession *s, pending *p, dmcp_status st, json_t *response,
                         const char *why)
{
    timer_remove(p);
    dmcp_error err;
    memset(&err, 0, sizeof err);
    if (st == DMCP_OK) {
        json_object_set(response, "id", json_object_get(p->orig_ref, "id"));
    } else {
        gw_stdio_err(&err, st, "%s", why ? why : "stdio upstream: the request failed");
    }
    p->a.done(p->a.ud, st, response, st == DMCP_OK ? NULL : &err);
    if (st == DMCP_E_TIMEOUT || st == DMCP_E_CANCELLED)
        gw_stdio_send_cancel(s, p->wire_id, st == DMCP_E_TIMEOUT ? "timed out" : "cancelled",
                             false); /* the timer thread must not wait on one child */
    dmcp__child_busy(s->child, -1);
    gw_stdio_pending_unref(p); /* the list's reference, which the claim passed on */
    gw_stdio_active_end(s);    /* last: a close may be waiting to free s */
}

void gw_stdio_async_fail(dmcp_gw_usession *s, pending *list)
{
    if (!list)
        return;
    char why[160];
    pthread_mutex_lock(&s->mu);
    bool dead = s->dead;
    if (dead) {
        char d[96];
        gw_stdio_describe_end(s, d, sizeof d);
        snprintf(why, sizeof why, "stdio upstream: the child %s during the request", d);
    } else {
        snprintf(why, sizeof why, "stdio upstream: the session is closing");
    }
    pthread_mutex_unlock(&s->mu);
    for (pending *p = list, *n; p; p = n) {
        n = p->next;
        gw_stdio_async_done(s, p, dead ? DMCP_E_UNREACHABLE : DMCP_E_CANCELLED, NULL, why);
    }
}

static void *timer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&tmu);
    for (;;) {
        while (!timed)
            pthread_cond_wait(&tcv, &tmu);
        long long now = gw_stdio_mono_ms();
        pending *due = NULL;
        for (pending *p = timed, *n; p; p = n) {
            n = p->tnext;
            bool cancelled = p->a.is_cancelled && p->a.is_cancelled(p->a.ud);
            bool expected = false;
            if ((cancelled || now >= p->deadline_ms) &&
                atomic_compare_exchange_strong(&p->claimed, &expected, true)) {
                timer_unlink_locked(p);
                p->tnext = due; /* off the timer's list: the link is free */
                due = p;
                p->timed_out = !cancelled;
            }
        }
        pthread_mutex_unlock(&tmu);
        for (pending *p = due, *n; p; p = n) {
            n = p->tnext;
            p->tnext = NULL;
            dmcp_gw_usession *s = p->s;
            pthread_mutex_lock(&s->mu);
            if (p->linked)
                gw_stdio_unlink_locked(s, p);
            pthread_mutex_unlock(&s->mu);
            char why[96];
            if (p->timed_out)
                snprintf(why, sizeof why, "stdio upstream: no answer within %u ms", p->timeout_ms);
            else
                snprintf(why, sizeof why, "stdio upstream: the request was cancelled");
            gw_stdio_async_done(s, p, p->timed_out ? DMCP_E_TIMEOUT : DMCP_E_CANCELLED, NULL, why);
        }
        struct timespec ts = {0, TIMER_TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&tmu);
    }
    return NULL;
}

dmcp_status gw_stdio_exchange_async(dmcp_gw_usession *s, const json_t *msg,
                                    const dmcp_gw_async *a)
{
    json_t *orig_id = json_object_get(msg, "id");
    if (!s || !a || !a->done || !json_is_object(msg) || !orig_id ||
        !json_is_string(json_object_get(msg, "method")))
        return DMCP_E_INVALID_ARG;
    pending *pe = calloc(1, sizeof *pe);
    if (!pe || sem_init(&pe->sem, 0, 0) != 0) {
        free(pe);
        return DMCP_E_NOMEM;
    }
    pe->is_async = true;
    pe->a = *a;
    pe->s = s;
    pe->orig_ref = json_incref((json_t *)msg); /* the reader reads the id and token from it */
    pe->orig_id = orig_id;
    pe->progress_token =
        json_object_get(json_object_get(json_object_get(msg, "params"), "_meta"), "progressToken");
    pe->timeout_ms = a->timeout_ms ? a->timeout_ms : s->up->o.request_timeout_ms;
    if (!pe->timeout_ms)
        pe->timeout_ms = 60000u;
    atomic_init(&pe->done, false);
    atomic_init(&pe->claimed, false);
    atomic_init(&pe->refs, 2); /* the list's, and ours until the line is written */
    pthread_mutex_lock(&s->mu);
    if (s->dead || s->closing) { /* the blocking path respawns or reports it */
        pthread_mutex_unlock(&s->mu);
        json_decref(pe->orig_ref);
        sem_destroy(&pe->sem);
        free(pe);
        return DMCP_E_STATE;
    }
    json_int_t wire_id = gw_stdio_link_locked(s, pe);
    dmcp__child_busy(s->child, +1);
    pthread_mutex_unlock(&s->mu);
    pe->deadline_ms = gw_stdio_mono_ms() + pe->timeout_ms;
    /* Written only if that cannot block (the caller's thread serves other clients): a child
     * that does not read its input, or another write in progress, and it is not taken. */
    dmcp_status st = timer_add(pe) ? DMCP_OK : DMCP_E_NOMEM;
    json_t *wire = st == DMCP_OK ? json_copy((json_t *)msg) : NULL; /* shallow: id replaced */
    char *line = NULL;
    if (wire) {
        json_object_set_new(wire, "id", json_integer(wire_id));
        line = json_dumps(wire, JSON_COMPACT);
        json_decref(wire);
    }
    st = line ? dmcp__child_send_nowait(s->child, line, strlen(line)) : DMCP_E_NOMEM;
    free(line);
    bool taken = true;
    if (st != DMCP_OK) { /* not out, unless the child's end got to it first */
        pthread_mutex_lock(&s->mu);
        bool mine = gw_stdio_async_claim(s, pe);
        pthread_mutex_unlock(&s->mu);
        if (mine && st != DMCP_E_IO && st != DMCP_E_TIMEOUT) {
            /* Nothing was written: undone, for the blocking path to serve. */
            timer_remove(pe);
            dmcp__child_busy(s->child, -1);
            gw_stdio_pending_unref(pe); /* the list's */
            gw_stdio_active_end(s);
            taken = false;
        } else if (mine) { /* the write failed: the child is being stopped */
            gw_stdio_async_done(s, pe, DMCP_E_UNREACHABLE, NULL,
                                "stdio upstream: the child is not accepting input");
        }
    }
    gw_stdio_pending_unref(pe); /* ours */
    return taken ? DMCP_OK : DMCP_E_STATE;
}
