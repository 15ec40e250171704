/* Internals of the stdio upstream shared by upstream_stdio.c (sessions: open, initialize,
 * respawn, close) and upstream_stdio_xchg.c (the exchange of messages with the child). */
#ifndef DMCP_GATEWAY_UPSTREAM_STDIO_INT_H
#define DMCP_GATEWAY_UPSTREAM_STDIO_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "gateway/child.h"
#include "gateway/upstream.h"

typedef struct stdio_up {
    dmcp_gw_upstream base;
    char **argv;
    dmcp_gw_upstream_options o;
    dmcp__childpool *pool;
} stdio_up;

typedef struct qitem {
    json_t *msg;
    struct qitem *next;
} qitem;

typedef struct pending {
    json_int_t wire_id;
    const json_t *orig_id; /* the caller's id (borrowed from its msg; read only while linked) */
    const json_t *progress_token; /* likewise */
    bool can_ask;                 /* its sink relays server->client requests */
    bool linked;                  /* under s->mu: on s->pend (the reader may touch it) */
    atomic_bool done; /* the reader set response and unlinked it: the rest is the waiter's */
    atomic_int refs;  /* the waiter's, and the list's while linked or being handed over */
    qitem *qhead, *qtail; /* messages for this request, delivered on its thread */
    json_t *response;
    sem_t sem; /* posted for this request only: no herd of waiters per line */
    struct pending *next;
    /* A request answered through callbacks (.request_async), no thread waiting on it. */
    bool is_async;
    dmcp_gw_async a;
    json_t *orig_ref;      /* a reference to the request (orig_id, progress_token from it) */
    atomic_bool claimed;   /* whoever sets it (reader, timer, child's end) completes it */
    long long deadline_ms; /* CLOCK_MONOTONIC */
    unsigned timeout_ms;
    bool timed_out;        /* the timer's verdict: time (else a cancellation) */
    struct dmcp_gw_usession *s;
    struct pending *tnext, *tprev; /* the timer's list (upstream_stdio_async.c) */
} pending;

struct dmcp_gw_usession {
    stdio_up *up;
    dmcp__child *child;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* the last active request ended (close and respawn wait for it) */
    json_int_t next_id;
    pending *pend;
    unsigned npend;
    atomic_uint active;   /* requests inside .request */
    atomic_uint draining; /* close or respawn waiting for active to reach 0 */
    bool dead, closing;
    dmcp__child_end why;
    int status;
    dmcp_gw_message_fn on_message;
    void *on_message_ud;
    json_t *init_params;        /* what the child was initialized with (for a respawn) */
    unsigned init_ms;           /* initialize timeout */
    unsigned gen;               /* children this session has had, minus one */
    pthread_mutex_t respawn_mu; /* one respawn at a time */
};

/* Fills err (NULL-safe) with a status and a message. */
void gw_stdio_err(dmcp_error *err, dmcp_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* How the session's child ended, in words (for errors and the log). */
void gw_stdio_describe_end(const dmcp_gw_usession *s, char *buf, size_t n);
/* Under s->mu: wakes every request waiting, and close. Asynchronous requests are claimed
 * and unlinked instead, and returned as a list (->next) for gw_stdio_async_fail once the
 * lock is released. */
pending *gw_stdio_wake_all(dmcp_gw_usession *s);
/* Under s->mu: waits until no request is inside .request (close, respawn). */
void gw_stdio_drain_locked(dmcp_gw_usession *s);
/* The child's callbacks (child.h): a line of its stdout; its end. ud: the session. */
void gw_stdio_on_line(void *ud, const char *line, size_t len);
void gw_stdio_on_exit(void *ud, dmcp__child_end why, int status);
/* One message to the child, as a line. */
dmcp_status gw_stdio_send(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err);
/* The exchange: msg sent under a wire id, what arrives for it delivered to p's sink on this
 * thread, the response returned with the caller's id. idle_gen non-NULL: when the child was
 * stopped for idleness, DMCP_E_STATE and *idle_gen = its generation, nothing sent (the
 * caller respawns it and asks again). */
dmcp_status gw_stdio_exchange(dmcp_gw_usession *s, const json_t *msg,
                              const dmcp_gw_request_params *p, unsigned timeout_ms,
                              unsigned *idle_gen, json_t **response, dmcp_error *err);

/* ---- upstream_stdio_pend.c: shared by the exchange and its asynchronous form ---- */
long long gw_stdio_mono_ms(void);
void gw_stdio_pending_unref(pending *p);
/* Under s->mu: p on the session's list under the next wire id (returned), counted active. */
json_int_t gw_stdio_link_locked(dmcp_gw_usession *s, pending *p);
/* Under s->mu: off the list; the list's reference passes to the caller. */
void gw_stdio_unlink_locked(dmcp_gw_usession *s, pending *p);
/* A request leaves .request: close or a respawn may be waiting for the last one. */
void gw_stdio_active_end(dmcp_gw_usession *s);
/* notifications/cancelled for wire_id; wait false: only if it can be written at once. */
void gw_stdio_send_cancel(dmcp_gw_usession *s, json_int_t wire_id, const char *reason, bool wait);
/* Answers the child's request req (under its id) with result, or error (NULL: -32603). */
void gw_stdio_answer_child(dmcp_gw_usession *s, const json_t *req, dmcp_status st, json_t *result,
                           json_t *error);
/* Answers the child's request req with a JSON-RPC error (no live stream can carry it). */
void gw_stdio_refuse(dmcp_gw_usession *s, const json_t *req, int code, const char *message);

/* ---- upstream_stdio_async.c ---- */
dmcp_status gw_stdio_exchange_async(dmcp_gw_usession *s, const json_t *msg,
                                    const dmcp_gw_async *a);
/* The reader's side, under s->mu, for an asynchronous p: its response arrived (true: claimed
 * and unlinked, complete it with gw_stdio_async_done after unlocking; false: someone else
 * completes it, drop the response). */
bool gw_stdio_async_claim(dmcp_gw_usession *s, pending *p);
/* Completes a claimed, unlinked asynchronous request. Not under s->mu. */
void gw_stdio_async_done(dmcp_gw_usession *s, pending *p, dmcp_status st, json_t *response,
                         const char *why);
/* Fails every request of a list from gw_stdio_wake_all. Not under s->mu. */
void gw_stdio_async_fail(dmcp_gw_usession *s, pending *list);
#endif
