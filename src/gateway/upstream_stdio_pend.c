/*
 * What the stdio upstream's two exchanges share (upstream_stdio_xchg.c blocks on a request,
 * upstream_stdio_async.c answers it through callbacks): errors and words for a child's end,
 * a request's reference and its place on the session's list, the active count that close and
 * respawn wait on, and the lines written to the child.
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
void gw_stdio_pending_unref(pending *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1) {
        json_decref(p->orig_ref);
        sem_destroy(&p->sem);
        free(p);
    }
}

json_int_t gw_stdio_link_locked(dmcp_gw_usession *s, pending *p)
{
    p->wire_id = s->next_id++;
    p->next = s->pend;
    p->linked = true;
    s->pend = p;
    s->npend++;
    atomic_fetch_add(&s->active, 1);
    return p->wire_id;
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

/* ---- writing ---- */

static dmcp_status send_msg(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err, bool wait)
{
    char *line = json_dumps(msg, JSON_COMPACT);
    if (!line) {
        gw_stdio_err(err, DMCP_E_NOMEM, "stdio upstream: cannot serialise the message");
        return DMCP_E_NOMEM;
    }
    dmcp_status st = wait ? dmcp__child_send(s->child, line, strlen(line))
                          : dmcp__child_send_nowait(s->child, line, strlen(line));
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

dmcp_status gw_stdio_send(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err)
{
    return send_msg(s, msg, err, true);
}

void gw_stdio_answer_child(dmcp_gw_usession *s, const json_t *req, dmcp_status st, json_t *result,
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

void gw_stdio_refuse(dmcp_gw_usession *s, const json_t *req, int code, const char *message)
{
    json_t *error = json_pack("{s:i,s:s}", "code", code, "message", message);
    gw_stdio_answer_child(s, req, DMCP_E_STATE, NULL, error);
    json_decref(error);
}
long long gw_stdio_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

void gw_stdio_send_cancel(dmcp_gw_usession *s, json_int_t wire_id, const char *reason, bool wait)
{
    json_t *n =
        json_pack("{s:s,s:s,s:{s:I,s:s}}", "jsonrpc", "2.0", "method", "notifications/cancelled",
                  "params", "requestId", (json_int_t)wire_id, "reason", reason);
    if (!n)
        return;
    dmcp_status ignored = send_msg(s, n, NULL, wait);
    (void)ignored;
    json_decref(n);
}
