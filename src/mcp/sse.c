/*
 * SSE streams (Transports §2.1-§2.4): stream objects fed by producers and drained by
 * libmicrohttpd, which parks the connection with MHD_suspend_connection() in the content
 * reader while there is nothing to send; producers resume it. Resumable POST streams keep a
 * log for a Last-Event-ID replay; live-stream calls run their handler on a worker thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "mcp/http_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* SSE streams                                                                              */
/* ---------------------------------------------------------------------------------------- */

void dmcp__stream_unref(dmcp__stream *st)
{
    if (st == NULL || atomic_fetch_sub(&st->refs, 1) != 1) {
        return;
    }
    dmcp__buf_free(&st->out);
    if (st->sess != NULL) {
        dmcp__session_unref(st->sess);
    }
    if (st->owner != NULL) {
        dmcp__session_unref(st->owner);
    }
    free(st->counted_key);
    for (size_t i = 0; i < st->log_count; i++) {
        free(st->log[(st->log_start + i) % LOG_EVENTS].text);
    }
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Keeps a copy of an event for replay, dropping the oldest beyond the caps. Holds st->mu. */
static void stream_log_locked(dmcp__stream *st, const char *text, size_t len)
{
    if (st->owner == NULL || len > LOG_BYTES) {
        return;
    }
    while (st->log_count > 0 && (st->log_count == LOG_EVENTS || st->log_bytes + len > LOG_BYTES)) {
        sse_event *old = &st->log[st->log_start];
        st->log_bytes -= old->len;
        free(old->text);
        old->text = NULL;
        st->log_start = (st->log_start + 1) % LOG_EVENTS;
        st->log_count--;
    }
    char *copy = malloc(len);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, text, len);
    sse_event *e = &st->log[(st->log_start + st->log_count) % LOG_EVENTS];
    *e = (sse_event){st->seq, copy, len};
    st->log_count++;
    st->log_bytes += len;
}

/* Appends bytes and wakes the parked connection. Caller holds st->mu. */
dmcp_status dmcp__stream_push_locked(dmcp__stream *st, const char *data, size_t len)
{
    if (st->detached) {
        return DMCP_OK; /* kept in the log for the client's Last-Event-ID (Transports §2.4) */
    }
    if (st->closed || st->done) {
        return DMCP_E_STATE; /* client gone: dropped (a disconnect is not a cancellation) */
    }
    dmcp_status rc = dmcp__buf_append(&st->out, data, len);
    if (rc != DMCP_OK) {
        return rc;
    }
    st->last_write = time(NULL);
    if (st->suspended) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
    return DMCP_OK;
}

/* Logs one event of a resumable stream in the shared store and publishes it, so a GET +
 * Last-Event-ID on another instance can replay and follow it (sse_shared.c). */
static void share_event(dmcp__stream *st, unsigned long seq, bool final, const char *text,
                        size_t len)
{
    dmcp__session *owner = st->owner; /* set before the first event; held until unref */
    if (owner == NULL) {
        return;
    }
    dmcp_status rc = dmcp__sstore_stream_event(st->http->srv, owner->id, st->stream_no, seq, final,
                                               text, len);
    if (rc != DMCP_OK) {
        fprintf(stderr, "dmcp store: an event of stream %lu was not logged (%s); it cannot be "
                        "resumed on another instance\n",
                st->stream_no, dmcp_strerror(rc));
    }
}

/* Writes one event: "id: <stream>-<seq>\ndata: <json>\n\n" (WHATWG SSE). Takes msg. */
dmcp_status dmcp__stream_event(dmcp__stream *st, json_t *msg)
{
    size_t len = 0;
    char *s = msg != NULL ? dmcp__json_dump(msg, &len) : NULL;
    /* The response ends the stream (a request or notification has a method). */
    bool final = json_object_get(msg, "method") == NULL && json_object_get(msg, "id") != NULL;
    json_decref(msg);
    if (s == NULL) {
        return DMCP_E_NOMEM;
    }
    pthread_mutex_lock(&st->mu);
    dmcp__buf ev;
    dmcp__buf_init(&ev, DMCP_MAX_BODY_BYTES * 4);
    dmcp_status rc = dmcp__buf_printf(&ev, "id: %lu-%lu\ndata: ", st->stream_no, st->seq + 1);
    if (rc == DMCP_OK) {
        rc = dmcp__buf_append(&ev, s, len);
    }
    if (rc == DMCP_OK) {
        rc = dmcp__buf_append(&ev, "\n\n", 2);
    }
    if (rc == DMCP_OK) {
        rc = dmcp__stream_push_locked(st, ev.data, ev.len);
    }
    if (rc == DMCP_OK) {
        st->seq++;
        st->primed = true;
        stream_log_locked(st, ev.data, ev.len);
    }
    unsigned long seq = st->seq;
    bool share = rc == DMCP_OK && st->owner != NULL && dmcp__sstore_on(st->http->srv);
    pthread_mutex_unlock(&st->mu);
    if (share) {
        /* After the local push, in the producer's order (one handler thread per stream). */
        share_event(st, seq, final, ev.data, ev.len);
    }
    dmcp__buf_free(&ev);
    free(s);
    return rc;
}

void dmcp__stream_finish(dmcp__stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->done = true;
    if (st->suspended && st->conn != NULL) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
    pthread_mutex_unlock(&st->mu);
}

ssize_t dmcp__stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    dmcp__stream *st = cls;
    pthread_mutex_lock(&st->mu);
    if (st->off < st->out.len) {
        size_t n = st->out.len - st->off;
        if (n > max) {
            n = max;
        }
        memcpy(buf, st->out.data + st->off, n);
        st->off += n;
        if (st->off == st->out.len) {
            st->out.len = 0;
            st->off = 0;
        }
        pthread_mutex_unlock(&st->mu);
        return (ssize_t)n;
    }
    if (st->done || st->end_http) {
        pthread_mutex_unlock(&st->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    /* Nothing to send: park the connection until a producer resumes it (MHD docs: returning
     * 0 without suspending would busy-loop). */
    st->suspended = true;
    MHD_suspend_connection(st->conn);
    pthread_mutex_unlock(&st->mu);
    return 0;
}

bool dmcp__ticket_take(dmcp__http *h, dmcp__session *sess, const dmcp_principal *p,
                       dmcp__stream_ticket *t)
{
    const dmcp_server *srv = h->srv;
    unsigned per_sess = (unsigned)srv->lim[DMCP_LIMIT_MAX_STREAMS_PER_SESSION];
    unsigned per_principal = (unsigned)srv->lim[DMCP_LIMIT_MAX_STREAMS_PER_PRINCIPAL];
    const char *key = dmcp_principal_binding_key(p);
    *t = (dmcp__stream_ticket){NULL, NULL};
    if (sess != NULL && per_sess > 0) {
        if (atomic_fetch_add(&sess->streams, 1) >= (int)per_sess) {
            atomic_fetch_sub(&sess->streams, 1);
            dmcp__obs_limit(DMCP__M_LIMIT_STREAMS_PER_SESSION);
            return false;
        }
        dmcp__session_ref(sess);
        t->sess = sess;
    }
    if (key != NULL && per_principal > 0) {
        t->key = dmcp__strdup(key);
        if (t->key == NULL ||
            !dmcp__plimits_stream_open(h->plimits, key, per_principal, 1, dmcp__mono_now())) {
            free(t->key);
            t->key = NULL;
            if (t->sess != NULL) {
                atomic_fetch_sub(&t->sess->streams, 1);
                dmcp__session_unref(t->sess);
                t->sess = NULL;
            }
            dmcp__obs_limit(DMCP__M_LIMIT_STREAMS_PER_PRINCIPAL);
            return false;
        }
    }
    return true;
}

void dmcp__ticket_return(dmcp__http *h, dmcp__stream_ticket *t)
{
    if (t->sess != NULL) {
        atomic_fetch_sub(&t->sess->streams, 1);
        dmcp__session_unref(t->sess);
    }
    if (t->key != NULL) {
        dmcp__plimits_stream_close(h->plimits, t->key);
        free(t->key);
    }
    *t = (dmcp__stream_ticket){NULL, NULL};
}

/* Gives the stream's ticket back; once per response. */
static void stream_uncount(dmcp__stream *st)
{
    pthread_mutex_lock(&st->mu);
    dmcp__stream_ticket t = {st->counted_sess, st->counted_key};
    st->counted_sess = NULL;
    st->counted_key = NULL;
    pthread_mutex_unlock(&st->mu);
    dmcp__ticket_return(st->http, &t);
}

/* The stream takes the ticket. */
void dmcp__stream_hold(dmcp__stream *st, dmcp__stream_ticket *t)
{
    pthread_mutex_lock(&st->mu);
    st->counted_sess = t->sess;
    st->counted_key = t->key;
    pthread_mutex_unlock(&st->mu);
    *t = (dmcp__stream_ticket){NULL, NULL};
}

/*
 * True when the client of a parked stream has closed its connection. Only a suspended
 * connection is looked at: libmicrohttpd leaves it alone (and open) until it is resumed, so
 * its socket is valid while st->mu is held.
 */
bool dmcp__stream_peer_gone(dmcp__stream *st)
{
    bool gone = false;
    pthread_mutex_lock(&st->mu);
    if (st->suspended && st->conn != NULL && !st->detached) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci != NULL) {
            char b;
            ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
            gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return gone;
}

/* Takes a follower (sse_shared.c) off the server's list, dropping the list's reference. */
void dmcp__stream_unlist_follower(dmcp__http *h, dmcp__stream *st)
{
    pthread_mutex_lock(&h->mu);
    dmcp__stream **pp = &h->followers;
    while (*pp != NULL && *pp != st) {
        pp = &(*pp)->fnext;
    }
    bool listed = *pp != NULL;
    if (listed) {
        *pp = st->fnext;
        st->fnext = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    if (listed) {
        dmcp__stream_unref(st); /* the followers list's reference */
    }
}

void dmcp__stream_released(void *cls)
{
    dmcp__stream *st = cls;
    dmcp__http *h = st->http;
    if (st->follower) {
        dmcp__stream_unlist_follower(h, st);
    }
    dmcp__metrics_gauge_add(DMCP__M_SSE_STREAMS_OPEN, -1); /* +1 where its response was made */
    stream_uncount(st);
    pthread_mutex_lock(&st->mu);
    /* A resumable stream whose client left (or which the server ended early) before all its
     * messages were sent waits, detached, for a GET with Last-Event-ID (Transports §2.4). */
    bool park = st->owner != NULL && st->primed && !st->owner_lost && (!st->done || st->end_http) &&
                !atomic_load(&h->srv->stopping);
    st->suspended = false;
    st->conn = NULL;
    st->out.len = 0;
    st->off = 0;
    if (park) {
        st->detached = true;
        st->end_http = false;
        st->detached_at = time(NULL);
    } else {
        st->closed = true;
    }
    dmcp__session *sess = st->sess;
    pthread_mutex_unlock(&st->mu);
    if (sess != NULL) {
        pthread_mutex_lock(&sess->mu);
        bool mine = sess->get_stream == st;
        if (mine) {
            sess->get_stream = NULL;
        }
        pthread_mutex_unlock(&sess->mu);
        if (mine) {
            dmcp__stream_unref(st); /* the session's reference */
        }
    }
    pthread_mutex_lock(&h->mu);
    dmcp__stream **pp = &h->streams;
    while (*pp != NULL && *pp != st) {
        pp = &(*pp)->next;
    }
    bool listed = *pp != NULL;
    if (listed) {
        *pp = st->next;
    }
    if (listed && park && h->n_parked < MAX_PARKED) {
        st->next = h->parked; /* the list's reference moves to the parked list */
        h->parked = st;
        h->n_parked++;
        listed = false;
    }
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (listed) {
        dmcp__stream_unref(st); /* the list's reference */
    }
    dmcp__stream_unref(st); /* the response's reference */
}

/* Takes the parked stream stream_no of sess off the parked list (its reference moves to the
 * caller), or NULL. */
static dmcp__stream *unpark(dmcp__http *h, const dmcp__session *sess, unsigned long stream_no)
{
    pthread_mutex_lock(&h->mu);
    dmcp__stream **pp = &h->parked;
    while (*pp != NULL && !((*pp)->stream_no == stream_no && (*pp)->owner == sess)) {
        pp = &(*pp)->next;
    }
    dmcp__stream *st = *pp;
    if (st != NULL) {
        *pp = st->next;
        st->next = NULL;
        h->n_parked--;
    }
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* Drops parked streams that waited too long, or all of them (stop). */
void dmcp__streams_expire_parked(dmcp__http *h, time_t now, bool all)
{
    for (;;) {
        pthread_mutex_lock(&h->mu);
        dmcp__stream **pp = &h->parked;
        while (*pp != NULL && !all && now - (*pp)->detached_at <= PARKED_SECONDS) {
            pp = &(*pp)->next;
        }
        dmcp__stream *st = *pp;
        if (st != NULL) {
            *pp = st->next;
            h->n_parked--;
        }
        pthread_mutex_unlock(&h->mu);
        if (st == NULL) {
            return;
        }
        dmcp__stream_unref(st);
    }
}

/*
 * Creates a stream and its response. The stream starts with 3 references: the caller, the
 * server's list, and the MHD response (dropped in stream_released).
 */
struct MHD_Response *dmcp__stream_open(dmcp__http *h, struct MHD_Connection *c, const char *version,
                                       dmcp__stream **out)
{
    *out = NULL;
    dmcp__stream *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    pthread_mutex_init(&st->mu, NULL);
    dmcp__buf_init(&st->out, DMCP_MAX_BODY_BYTES * 4);
    st->conn = c;
    st->http = h;
    st->last_write = time(NULL);
    atomic_init(&st->refs, 3);
    pthread_mutex_lock(&h->mu);
    st->stream_no = ++h->stream_counter;
    if (dmcp__sstore_on(h->srv)) {
        /* unique across instances: this instance's tag above a 24-bit counter */
        st->stream_no = (unsigned long)h->srv->store_tag << 24 | (st->stream_no & 0xffffff);
    }
    pthread_mutex_unlock(&h->mu);
    /* 11-25 Transports §2.1 (SEP-1699): a priming event with an id and empty data first. */
    if (version != NULL && strcmp(version, DMCP_PROTOCOL_2025_11_25) >= 0) {
        char prime[64];
        int n = snprintf(prime, sizeof(prime), "id: %lu-0\ndata: \n\n", st->stream_no);
        dmcp__buf_append(&st->out, prime, (size_t)n);
        st->primed = true;
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               dmcp__stream_reader, st, dmcp__stream_released);
    if (r != NULL) {
        dmcp__metrics_gauge_add(DMCP__M_SSE_STREAMS_OPEN, 1);
    }
    if (r == NULL) {
        dmcp__buf_free(&st->out);
        pthread_mutex_destroy(&st->mu);
        free(st);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    pthread_mutex_lock(&h->mu);
    st->next = h->streams;
    h->streams = st;
    pthread_mutex_unlock(&h->mu);
    *out = st;
    return r;
}

static dmcp_status stream_sink_send(dmcp__sink *sink, json_t *msg)
{
    return dmcp__stream_event(sink->ud, msg);
}

/*
 * SEP-1699 polling: ends the HTTP response now with a retry hint; the stream goes on detached
 * and the client resumes it with GET + Last-Event-ID. Only once the client holds an event id.
 */
static dmcp_status stream_sink_close(dmcp__sink *sink, unsigned retry_ms)
{
    dmcp__stream *st = sink->ud;
    pthread_mutex_lock(&st->mu);
    dmcp_status rc = DMCP_E_STATE;
    if (st->owner != NULL && st->primed && !st->done && !st->end_http && !st->detached &&
        !st->closed) {
        char retry[48];
        int n = snprintf(retry, sizeof(retry), "retry: %u\n\n", retry_ms);
        rc = dmcp__stream_push_locked(st, retry, (size_t)n);
        if (rc == DMCP_OK) {
            st->end_http = true;
            if (st->suspended && st->conn != NULL) {
                st->suspended = false;
                MHD_resume_connection(st->conn);
            }
        }
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* POST                                                                                     */
/* ---------------------------------------------------------------------------------------- */

typedef struct job {
    dmcp__http *h;
    dmcp__session *sess;
    dmcp_principal *principal;
    json_t *msg;
    dmcp__stream *st;
    char version[16];
    bool stateless;
} job;

static void *stream_worker(void *arg)
{
    job *j = arg;
    dmcp__sink sink = {stream_sink_send, j->st, true, stream_sink_close};
    dmcp__rpc_ctx ctx = {j->h->srv, j->sess, j->principal, j->version, j->stateless, true, &sink};
    json_t *resp = dmcp__dispatch_request(&ctx, j->msg);
    if (resp != NULL) {
        dmcp__stream_event(j->st, resp);
    }
    /* Transports §2.1: the server closes the POST's stream after sending the response. */
    dmcp__stream_finish(j->st);
    dmcp__stream_unref(j->st);
    json_decref(j->msg);
    dmcp_principal_unref(j->principal);
    atomic_fetch_sub(&j->sess->requests, 1);
    dmcp__session_unref(j->sess);
    dmcp__http *h = j->h;
    free(j);
    pthread_mutex_lock(&h->mu);
    h->workers--;
    pthread_mutex_unlock(&h->mu);
    dmcp__http_active_add(h, -1);
    return NULL;
}

enum MHD_Result dmcp__stream_start_call(dmcp__http *h, struct MHD_Connection *c, dmcp__rpc_ctx *ctx,
                                        const json_t *msg, const char *origin,
                                        dmcp__stream_ticket *ticket)
{
    dmcp__stream *st = NULL;
    struct MHD_Response *r = dmcp__stream_open(h, c, ctx->version, &st);
    if (r != NULL) {
        dmcp__stream_hold(st, ticket);
    } else {
        dmcp__ticket_return(h, ticket);
    }
    job *j = calloc(1, sizeof(*j));
    if (r == NULL || j == NULL) {
        free(j);
        if (r != NULL) {
            dmcp__stream_finish(st);
            dmcp__stream_unref(st);
            MHD_destroy_response(r); /* runs stream_released */
        }
        return dmcp__http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                                     "Out of memory", origin);
    }
    dmcp__http_cors(r, origin);
    j->h = h;
    j->sess = ctx->sess;
    dmcp__session_ref(ctx->sess);
    atomic_fetch_add(&ctx->sess->requests, 1); /* in flight until the worker ends */
    j->principal = dmcp_principal_ref((dmcp_principal *)ctx->principal);
    j->msg = json_incref((json_t *)msg);
    j->st = st; /* the caller's reference moves to the job */
    if (!ctx->stateless) {
        pthread_mutex_lock(&st->mu);
        dmcp__session_ref(ctx->sess);
        st->owner = ctx->sess; /* resumable: a Last-Event-ID GET of this session may resume it */
        pthread_mutex_unlock(&st->mu);
    }
    snprintf(j->version, sizeof(j->version), "%s", ctx->version);
    j->stateless = ctx->stateless;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    dmcp__http_active_add(h, 1);
    pthread_mutex_lock(&h->mu);
    h->workers++;
    pthread_mutex_unlock(&h->mu);
    pthread_t t;
    if (pthread_create(&t, &attr, stream_worker, j) != 0) {
        /* No thread: run it here; the buffered events are sent when we return. */
        stream_worker(j);
    }
    pthread_attr_destroy(&attr);
    return dmcp__http_queue(c, MHD_HTTP_OK, r);
}

/* ---------------------------------------------------------------------------------------- */
/* GET (standalone stream) and DELETE                                                       */
/* ---------------------------------------------------------------------------------------- */

/*
 * GET with Last-Event-ID "<stream>-<seq>" (Transports §2.4): replays the events of that stream
 * after seq, then continues it live until its response. Only a stream of this session that
 * is waiting detached can be resumed; anything else is 404 (and a seq older than what the log
 * still holds is 409: messages would be lost silently).
 */
enum MHD_Result dmcp__stream_resume(dmcp__http *h, struct MHD_Connection *c, dmcp__session *sess,
                                    unsigned long stream_no, unsigned long seq, const char *origin,
                                    dmcp__stream_ticket *t)
{
    dmcp__stream *st = unpark(h, sess, stream_no);
    if (st == NULL) {
        dmcp__ticket_return(h, t);
        return dmcp__http_send_error(c, MHD_HTTP_NOT_FOUND, DMCP_JSONRPC_INVALID_REQUEST,
                                     "No stream to resume for this Last-Event-ID", origin);
    }
    /* Replay and re-attach in one critical section, so an event the handler sends meanwhile is
     * either in the replay or pushed live, never lost between the two. */
    pthread_mutex_lock(&st->mu);
    unsigned long oldest = st->log_count > 0 ? st->log[st->log_start].seq : st->seq + 1;
    if (seq + 1 < oldest || seq > st->seq) {
        pthread_mutex_unlock(&st->mu);
        /* Not an id we can continue from faithfully; the stream stays parked for a good one. */
        pthread_mutex_lock(&h->mu);
        st->next = h->parked;
        h->parked = st;
        h->n_parked++;
        pthread_mutex_unlock(&h->mu);
        dmcp__ticket_return(h, t);
        return dmcp__http_send_error(c, MHD_HTTP_CONFLICT, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Last-Event-ID is outside the replay window", origin);
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               dmcp__stream_reader, st, dmcp__stream_released);
    bool ok = r != NULL;
    if (ok) {
        dmcp__metrics_gauge_add(DMCP__M_SSE_STREAMS_OPEN, 1);
    }
    /* A priming event restating the position first: a client whose resumed stream drops
     * before the next event then still holds an id to resume from (the TS SDK 1.x resumes
     * with the last id seen on that very stream, and without one it would open a plain GET
     * that never replays the call's events). */
    char prime[80];
    int pn = snprintf(prime, sizeof(prime), "id: %lu-%lu\ndata: \n\n", stream_no, seq);
    if (ok && dmcp__buf_append(&st->out, prime, (size_t)pn) != DMCP_OK) {
        ok = false;
    }
    for (size_t i = 0; ok && i < st->log_count; i++) {
        const sse_event *e = &st->log[(st->log_start + i) % LOG_EVENTS];
        if (e->seq > seq && dmcp__buf_append(&st->out, e->text, e->len) != DMCP_OK) {
            ok = false;
        }
    }
    if (ok) {
        st->conn = c;
        st->detached = false;
        st->last_write = time(NULL);
        atomic_fetch_add(&st->refs, 1); /* the new response's reference */
    } else {
        st->out.len = 0;
    }
    pthread_mutex_unlock(&st->mu);
    if (!ok) {
        if (r != NULL) {
            /* Destroying an unqueued response runs stream_released: give it its reference
             * and the state it expects (a closed, unlisted stream). */
            pthread_mutex_lock(&st->mu);
            st->owner_lost = true;
            atomic_fetch_add(&st->refs, 1);
            pthread_mutex_unlock(&st->mu);
            MHD_destroy_response(r);
        }
        dmcp__stream_unref(st); /* the parked reference: out of memory, the stream is lost */
        dmcp__ticket_return(h, t);
        return dmcp__http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                                     "Out of memory", origin);
    }
    dmcp__stream_hold(st, t);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    dmcp__http_cors(r, origin);
    pthread_mutex_lock(&h->mu);
    st->next = h->streams; /* the parked reference becomes the list's */
    h->streams = st;
    pthread_mutex_unlock(&h->mu);
    return dmcp__http_queue(c, MHD_HTTP_OK, r);
}

dmcp_status dmcp__stream_send_session(dmcp__session *sess, json_t *msg)
{
    pthread_mutex_lock(&sess->mu);
    dmcp__stream *st = sess->get_stream;
    if (st != NULL) {
        atomic_fetch_add(&st->refs, 1);
    }
    pthread_mutex_unlock(&sess->mu);
    if (st == NULL) {
        json_decref(msg);
        return DMCP_E_STATE;
    }
    dmcp_status rc = dmcp__stream_event(st, msg);
    dmcp__stream_unref(st);
    return rc;
}
