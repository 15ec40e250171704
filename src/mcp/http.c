/*
 * Streamable HTTP transport on libmicrohttpd (MCP 2025-11-25 Transports §2).
 *
 * Order of checks for every request (mcp-resource-server.md §3, mcp-transport.md §4):
 *   framing (RFC 9112 §6: one Content-Length, or Transfer-Encoding: chunked alone; else
 *   400/501 and close) -> body size by Content-Length -> Host (DNS rebinding) -> non-endpoint
 *   paths go to the authorizer's route callback (PRM) or 404 -> Origin -> CORS preflight
 *   (never authenticated) -> method -> authenticate -> (POST) Accept/Content-Type/
 *   MCP-Protocol-Version -> server-wide body budget -> [body] -> session lookup and
 *   principal binding -> JSON-RPC parsing -> tools/call scope check -> dispatch.
 * Everything before [body] is decided by the headers: for a request that carries a body it
 * runs when the headers end, and a refusal is answered without reading the body and closes
 * the connection (an unauthenticated client cannot make the server hold its bytes).
 * The Origin allowlist guards the MCP endpoint only: Protected Resource Metadata is public,
 * read-only and served with "Access-Control-Allow-Origin: *" (resource-server §5 rows 1-2),
 * so browser clients of any origin must be able to read it; the route callback owns its CORS.
 *
 * libmicrohttpd runs an internal polling thread with a thread pool and epoll. Requests are
 * answered only on the call where *upload_data_size == 0 (answering earlier costs keep-alive
 * in 0.9.75). Live SSE streams (a progress token or a streaming tool) run the handler on a
 * worker thread and park the connection with MHD_suspend_connection() in the content reader
 * while there is nothing to send; producers resume it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "mcp/mcp_internal.h"

/* Per-connection MHD pool: headers incl. a 16 KiB bearer token fit. MHD zeroes the pool between
 * keep-alive requests, so a larger pool costs a memset of its size on every request. */
#define CONN_MEMORY_LIMIT (48 * 1024)
#define MAX_TLS_FILE (1024 * 1024)
#define HTTP_CONTENT_TOO_LARGE 413
#define HTTP_TOO_MANY_REQUESTS 429
#define MAX_STREAM_WORKERS 256 /* beyond this, streamed calls run inline (buffered SSE) */
/* Resumability (Transports §2.4): what a POST stream keeps for a Last-Event-ID replay. */
#define LOG_EVENTS 64
#define LOG_BYTES (1024 * 1024)
#define PARKED_SECONDS 300 /* a detached stream waits this long for its client */
#define MAX_PARKED 1024    /* detached streams kept server-wide */

typedef struct sse_event {
    unsigned long seq;
    char *text; /* the complete event, "id: ...\ndata: ...\n\n" */
    size_t len;
} sse_event;

struct dmcp__stream {
    pthread_mutex_t mu;
    dmcp__buf out;
    size_t off;
    bool done;      /* producer finished: end after draining */
    bool closed;    /* libmicrohttpd released the response (finished or client gone) */
    bool suspended; /* connection parked in the content reader */
    struct MHD_Connection *conn;
    atomic_int refs;
    time_t last_write;
    dmcp__session *sess; /* for GET streams: the owning session (reference) */
    unsigned long stream_no;
    unsigned long seq;
    struct dmcp__http *http;
    struct dmcp__stream *next; /* http->streams or http->parked list */
    /* Resumable POST streams (sessions only): */
    dmcp__session *owner;        /* reference; NULL = not resumable */
    dmcp__session *counted_sess; /* reference: counted in its streams (released at the end) */
    char *counted_key;           /* principal binding key counted in h->plimits, or NULL */
    bool primed;                 /* an event with an id was sent (the client can resume) */
    bool end_http;               /* the server ended the HTTP response early (SEP-1699 polling) */
    bool owner_lost;             /* cannot be resumed any more (never park it again) */
    bool detached;               /* no connection: events only go to the log */
    time_t detached_at;
    sse_event log[LOG_EVENTS]; /* ring of the last events */
    size_t log_start, log_count, log_bytes;
};

typedef struct dmcp__http {
    dmcp_server *srv;
    struct MHD_Daemon *d;
    unsigned port;
    bool loopback;
    char *cert_pem, *key_pem;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int active;      /* requests being handled + worker threads */
    atomic_size_t buffered; /* request body bytes reserved by requests in progress */
    atomic_bool draining;   /* a stop is waiting for active to reach 0 */
    int workers;            /* live-stream worker threads */
    dmcp__stream *streams;  /* open streams (each holds a reference for the list) */
    dmcp__stream *parked;   /* detached resumable streams (a reference each) */
    size_t n_parked;
    unsigned long stream_counter;
    pthread_t housekeeper;
    bool hk_started;
    bool hk_stop;
    dmcp__conns *conns;     /* connection phases and deadlines (http_conn.c) */
    dmcp__plimits *plimits; /* per-principal rate and streams (limits.c) */
} dmcp__http;

struct dmcp_http_request {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    bool tls;
};

/*
 * One request's state across libmicrohttpd's calls. A request that carries a body is checked
 * on the first call, when its headers are complete (Host, path, Origin, method, framing,
 * credentials, POST headers): a refusal is answered there, before a byte of the body is
 * read, and the connection is closed. Only a request that passed takes body bytes, and those
 * are counted against the server-wide buffer budget.
 */
typedef struct req_state {
    dmcp__buf body;
    bool too_large;
    bool over_budget;          /* the server-wide buffer budget ran out during the body */
    bool answered;             /* a response was queued at the headers: the rest is discarded */
    bool checked;              /* the header checks passed; principal and origin are set */
    dmcp_principal *principal; /* the authenticated caller (NULL without an authorizer) */
    const char *origin;        /* the Origin header (MHD keeps it for the request) */
    size_t reserved;           /* bytes of h->buffered this request holds */
} req_state;

/* ---------------------------------------------------------------------------------------- */
/* Request view for the authorizer                                                          */
/* ---------------------------------------------------------------------------------------- */

typedef struct hdr_iter {
    const char *name;
    size_t want, seen;
    const char *found;
} hdr_iter;

static enum MHD_Result hdr_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    (void)kind;
    hdr_iter *it = cls;
    if (key != NULL && dmcp__ascii_casecmp(key, it->name) == 0) {
        if (it->seen == it->want) {
            it->found = value != NULL ? value : "";
        }
        it->seen++;
    }
    return MHD_YES;
}

const char *dmcp_http_request_method(const dmcp_http_request *req)
{
    return req != NULL ? req->method : NULL;
}

const char *dmcp_http_request_path(const dmcp_http_request *req)
{
    return req != NULL ? req->path : NULL;
}

size_t dmcp_http_request_header_count(const dmcp_http_request *req, const char *name)
{
    if (req == NULL || name == NULL) {
        return 0;
    }
    hdr_iter it = {name, (size_t)-1, 0, NULL};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, hdr_cb, &it);
    return it.seen;
}

const char *dmcp_http_request_header(const dmcp_http_request *req, const char *name, size_t index)
{
    if (req == NULL || name == NULL) {
        return NULL;
    }
    hdr_iter it = {name, index, 0, NULL};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, hdr_cb, &it);
    return it.found;
}

bool dmcp_http_request_has_query_param(const dmcp_http_request *req, const char *name)
{
    if (req == NULL || name == NULL) {
        return false;
    }
    hdr_iter it = {name, (size_t)-1, 0, NULL};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, hdr_cb, &it);
    return it.seen > 0;
}

bool dmcp_http_request_is_tls(const dmcp_http_request *req)
{
    return req != NULL && req->tls;
}

/* ---------------------------------------------------------------------------------------- */
/* Responses                                                                                */
/* ---------------------------------------------------------------------------------------- */

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* CORS on every endpoint response to an allowed browser origin (resource-server §5 row 13). */
static void add_cors(struct MHD_Response *r, const char *origin)
{
    if (origin == NULL) {
        return;
    }
    MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(r, "Vary", "Origin");
    MHD_add_response_header(r, "Access-Control-Expose-Headers",
                            "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version");
}

/*
 * Set while a request is answered on the call that carries its headers, before its body was
 * read: that response closes the connection, so nothing after the headers is ever taken for
 * another request (RFC 9112 §6.3, §9.6). Per thread: libmicrohttpd calls the access handler
 * of one connection on one thread at a time.
 */
static _Thread_local bool tl_close_after;

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    if (r == NULL) {
        return MHD_NO;
    }
    if (tl_close_after) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Response *buffer_response(char *data, size_t len, const char *ctype)
{
    struct MHD_Response *r;
    if (data == NULL) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (r == NULL) {
            free(data);
        }
    }
    if (r != NULL && ctype != NULL) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    }
    return r;
}

/* Sends a JSON value (takes it). extra_name/extra_value: one more header, may be NULL. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *v,
                                 const char *origin, const char *extra_name,
                                 const char *extra_value)
{
    size_t len = 0;
    char *s = v != NULL ? dmcp__json_dump(v, &len) : NULL;
    json_decref(v);
    if (s == NULL) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    struct MHD_Response *r = buffer_response(s, len, s != NULL ? "application/json" : NULL);
    if (r == NULL) {
        return MHD_NO;
    }
    add_cors(r, origin);
    if (extra_name != NULL) {
        MHD_add_response_header(r, extra_name, extra_value);
    }
    return queue(c, status, r);
}

/* A transport-level error: HTTP status plus a JSON-RPC error body without id. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, int code,
                                  const char *message, const char *origin)
{
    return send_json(c, status, dmcp__jsonrpc_error(NULL, code, message, NULL), origin, NULL, NULL);
}

static enum MHD_Result send_empty(struct MHD_Connection *c, unsigned status, const char *origin,
                                  const char *allow)
{
    struct MHD_Response *r = buffer_response(NULL, 0, NULL);
    if (r == NULL) {
        return MHD_NO;
    }
    add_cors(r, origin);
    if (allow != NULL) {
        MHD_add_response_header(r, "Allow", allow);
    }
    return queue(c, status, r);
}

/* Sends an authorizer's response (takes it). */
static enum MHD_Result send_custom(struct MHD_Connection *c, dmcp_http_response *hr,
                                   const char *origin)
{
    char *body = NULL;
    if (hr->body != NULL) {
        body = malloc(hr->body_len + 1);
        if (body == NULL) {
            dmcp_http_response_free(hr);
            return MHD_NO;
        }
        memcpy(body, hr->body, hr->body_len);
    }
    struct MHD_Response *r = buffer_response(body, hr->body_len, hr->content_type);
    if (r == NULL) {
        dmcp_http_response_free(hr);
        return MHD_NO;
    }
    for (size_t i = 0; i < hr->nheaders; i++) {
        MHD_add_response_header(r, hr->names[i], hr->values[i]);
    }
    add_cors(r, origin);
    unsigned status = hr->status;
    dmcp_http_response_free(hr);
    return queue(c, status, r);
}

/* ---------------------------------------------------------------------------------------- */
/* SSE streams                                                                              */
/* ---------------------------------------------------------------------------------------- */

static void stream_unref(dmcp__stream *st)
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
static dmcp_status stream_push_locked(dmcp__stream *st, const char *data, size_t len)
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

/* Writes one event: "id: <stream>-<seq>\ndata: <json>\n\n" (WHATWG SSE). Takes msg. */
static dmcp_status stream_event(dmcp__stream *st, json_t *msg)
{
    size_t len = 0;
    char *s = msg != NULL ? dmcp__json_dump(msg, &len) : NULL;
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
        rc = stream_push_locked(st, ev.data, ev.len);
    }
    if (rc == DMCP_OK) {
        st->seq++;
        st->primed = true;
        stream_log_locked(st, ev.data, ev.len);
    }
    pthread_mutex_unlock(&st->mu);
    dmcp__buf_free(&ev);
    free(s);
    return rc;
}

static void stream_finish(dmcp__stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->done = true;
    if (st->suspended && st->conn != NULL) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
    pthread_mutex_unlock(&st->mu);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
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

/*
 * A live SSE response counted against the stream limits of its session and its principal.
 * Taken before the stream opens; the stream holds it and gives it back when its response is
 * released (a resumed stream takes a new one).
 */
typedef struct stream_ticket {
    dmcp__session *sess; /* reference, or NULL: not counted per session */
    char *key;           /* binding key, or NULL: not counted per principal */
} stream_ticket;

static bool ticket_take(dmcp__http *h, dmcp__session *sess, const dmcp_principal *p,
                        stream_ticket *t)
{
    const dmcp_server *srv = h->srv;
    unsigned per_sess = (unsigned)srv->lim[DMCP_LIMIT_MAX_STREAMS_PER_SESSION];
    unsigned per_principal = (unsigned)srv->lim[DMCP_LIMIT_MAX_STREAMS_PER_PRINCIPAL];
    const char *key = dmcp_principal_binding_key(p);
    *t = (stream_ticket){NULL, NULL};
    if (sess != NULL && per_sess > 0) {
        if (atomic_fetch_add(&sess->streams, 1) >= (int)per_sess) {
            atomic_fetch_sub(&sess->streams, 1);
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
            return false;
        }
    }
    return true;
}

static void ticket_return(dmcp__http *h, stream_ticket *t)
{
    if (t->sess != NULL) {
        atomic_fetch_sub(&t->sess->streams, 1);
        dmcp__session_unref(t->sess);
    }
    if (t->key != NULL) {
        dmcp__plimits_stream_close(h->plimits, t->key);
        free(t->key);
    }
    *t = (stream_ticket){NULL, NULL};
}

/* Gives the stream's ticket back; once per response. */
static void stream_uncount(dmcp__stream *st)
{
    pthread_mutex_lock(&st->mu);
    stream_ticket t = {st->counted_sess, st->counted_key};
    st->counted_sess = NULL;
    st->counted_key = NULL;
    pthread_mutex_unlock(&st->mu);
    ticket_return(st->http, &t);
}

/* The stream takes the ticket. */
static void stream_hold(dmcp__stream *st, stream_ticket *t)
{
    pthread_mutex_lock(&st->mu);
    st->counted_sess = t->sess;
    st->counted_key = t->key;
    pthread_mutex_unlock(&st->mu);
    *t = (stream_ticket){NULL, NULL};
}

/*
 * True when the client of a parked stream has closed its connection. Only a suspended
 * connection is looked at: libmicrohttpd leaves it alone (and open) until it is resumed, so
 * its socket is valid while st->mu is held.
 */
static bool stream_peer_gone(dmcp__stream *st)
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

static void stream_released(void *cls)
{
    dmcp__stream *st = cls;
    dmcp__http *h = st->http;
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
            stream_unref(st); /* the session's reference */
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
        stream_unref(st); /* the list's reference */
    }
    stream_unref(st); /* the response's reference */
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
static void expire_parked(dmcp__http *h, time_t now, bool all)
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
        stream_unref(st);
    }
}

/*
 * Creates a stream and its response. The stream starts with 3 references: the caller, the
 * server's list, and the MHD response (dropped in stream_released).
 */
static struct MHD_Response *stream_open(dmcp__http *h, struct MHD_Connection *c,
                                        const char *version, dmcp__stream **out)
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
    pthread_mutex_unlock(&h->mu);
    /* 11-25 Transports §2.1 (SEP-1699): a priming event with an id and empty data first. */
    if (version != NULL && strcmp(version, DMCP_PROTOCOL_2025_11_25) >= 0) {
        char prime[64];
        int n = snprintf(prime, sizeof(prime), "id: %lu-0\ndata: \n\n", st->stream_no);
        dmcp__buf_append(&st->out, prime, (size_t)n);
        st->primed = true;
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               stream_reader, st, stream_released);
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
    return stream_event(sink->ud, msg);
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
        rc = stream_push_locked(st, retry, (size_t)n);
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

/* Collects notifications of a synchronous request (sent as SSE before the response). */
static dmcp_status collect_sink_send(dmcp__sink *sink, json_t *msg)
{
    json_t *arr = sink->ud;
    if (json_array_size(arr) >= 10000) {
        json_decref(msg);
        return DMCP_E_TOO_LARGE;
    }
    return json_array_append_new(arr, msg) == 0 ? DMCP_OK : DMCP_E_NOMEM;
}

/*
 * Counts requests in flight without touching the shared mutex: the condition variable is only
 * signalled when a stop is draining and the count reaches zero. (Signalling on every request
 * woke the housekeeper and serialised all workers on h->mu: ~20% of the CPU under load.)
 */
static void active_add(dmcp__http *h, int d)
{
    int now = atomic_fetch_add(&h->active, d) + d;
    if (now == 0 && atomic_load(&h->draining)) {
        pthread_mutex_lock(&h->mu);
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Host / Origin (Transports §2.0.1, DNS rebinding)                                         */
/* ---------------------------------------------------------------------------------------- */

static void lower_copy(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap) {
        n = cap - 1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = src[i];
        dst[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    dst[n] = '\0';
}

/* Splits "host[:port]" / "[v6][:port]" into a lowercase host (brackets kept). */
static bool split_host(const char *hp, char *host, size_t cap)
{
    size_t n = strlen(hp);
    if (n == 0 || n >= cap) {
        return false;
    }
    size_t hl = n;
    if (hp[0] == '[') {
        const char *rb = strchr(hp, ']');
        if (rb == NULL || (rb[1] != '\0' && rb[1] != ':')) {
            return false;
        }
        hl = (size_t)(rb - hp) + 1;
    } else {
        const char *colon = strchr(hp, ':');
        if (colon != NULL) {
            if (strchr(colon + 1, ':') != NULL) {
                return false;
            }
            hl = (size_t)(colon - hp);
        }
    }
    const char *port = hp + hl;
    if (*port == ':') {
        for (const char *p = port + 1; *p != '\0'; p++) {
            if (*p < '0' || *p > '9') {
                return false;
            }
        }
    }
    lower_copy(host, cap, hp, hl);
    return hl > 0;
}

static bool is_loopback_name(const char *host)
{
    return strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
           strcmp(host, "[::1]") == 0;
}

bool dmcp__http_host_allowed(const dmcp_server *srv, bool loopback, const char *hv)
{
    if (srv->n_allowed_hosts == 0 && !loopback) {
        return true; /* public bind without an allowlist: the proxy/deployer decides */
    }
    char host[300], full[300];
    if (hv == NULL || !split_host(hv, host, sizeof(host))) {
        return false;
    }
    lower_copy(full, sizeof(full), hv, strlen(hv));
    if (srv->n_allowed_hosts == 0) {
        return is_loopback_name(host);
    }
    for (size_t i = 0; i < srv->n_allowed_hosts; i++) {
        if (strcmp(srv->allowed_hosts[i], host) == 0 || strcmp(srv->allowed_hosts[i], full) == 0) {
            return true;
        }
    }
    return false;
}

bool dmcp__http_origin_allowed(const dmcp_server *srv, bool loopback, const char *origin)
{
    char lo[300];
    size_t n = origin != NULL ? strlen(origin) : 0;
    if (n == 0 || n >= sizeof(lo)) {
        return false;
    }
    lower_copy(lo, sizeof(lo), origin, n);
    for (size_t i = 0; i < srv->n_allowed_origins; i++) {
        if (strcmp(srv->allowed_origins[i], "*") == 0 || strcmp(srv->allowed_origins[i], lo) == 0) {
            return true;
        }
    }
    if (srv->n_allowed_origins > 0 || !loopback) {
        return false;
    }
    const char *rest = NULL;
    if (strncmp(lo, "http://", 7) == 0) {
        rest = lo + 7;
    } else if (strncmp(lo, "https://", 8) == 0) {
        rest = lo + 8;
    } else {
        return false; /* includes "null" */
    }
    char host[300];
    return split_host(rest, host, sizeof(host)) && is_loopback_name(host);
}

/* ---------------------------------------------------------------------------------------- */
/* Content negotiation                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* True when the Accept header lists the type, its major type with a star, or any type. */
bool dmcp__http_accepts(const char *accept, const char *type)
{
    if (accept == NULL || type == NULL || strchr(type, '/') == NULL) {
        return false;
    }
    size_t major_len = (size_t)(strchr(type, '/') - type);
    const char *p = accept;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        const char *start = p;
        while (*p != '\0' && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') {
            p++;
        }
        size_t len = (size_t)(p - start);
        if (len > 0) {
            if ((len == strlen(type) && dmcp__ascii_ncasecmp(start, type, len) == 0) ||
                (len == 3 && strncmp(start, "*/*", 3) == 0) ||
                (len == major_len + 2 && dmcp__ascii_ncasecmp(start, type, major_len) == 0 &&
                 strncmp(start + major_len, "/*", 2) == 0)) {
                return true;
            }
        }
        while (*p != '\0' && *p != ',') {
            p++;
        }
    }
    return false;
}

bool dmcp__http_content_type_json(const char *ct)
{
    if (ct == NULL) {
        return false;
    }
    while (*ct == ' ') {
        ct++;
    }
    size_t n = strlen("application/json");
    if (dmcp__ascii_ncasecmp(ct, "application/json", n) != 0) {
        return false;
    }
    char next = ct[n];
    return next == '\0' || next == ';' || next == ' ';
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
        stream_event(j->st, resp);
    }
    /* Transports §2.1: the server closes the POST's stream after sending the response. */
    stream_finish(j->st);
    stream_unref(j->st);
    json_decref(j->msg);
    dmcp_principal_unref(j->principal);
    atomic_fetch_sub(&j->sess->requests, 1);
    dmcp__session_unref(j->sess);
    dmcp__http *h = j->h;
    free(j);
    pthread_mutex_lock(&h->mu);
    h->workers--;
    pthread_mutex_unlock(&h->mu);
    active_add(h, -1);
    return NULL;
}

static enum MHD_Result start_stream(dmcp__http *h, struct MHD_Connection *c, dmcp__rpc_ctx *ctx,
                                    const json_t *msg, const char *origin, stream_ticket *ticket)
{
    dmcp__stream *st = NULL;
    struct MHD_Response *r = stream_open(h, c, ctx->version, &st);
    if (r != NULL) {
        stream_hold(st, ticket);
    } else {
        ticket_return(h, ticket);
    }
    job *j = calloc(1, sizeof(*j));
    if (r == NULL || j == NULL) {
        free(j);
        if (r != NULL) {
            stream_finish(st);
            stream_unref(st);
            MHD_destroy_response(r); /* runs stream_released */
        }
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                          "Out of memory", origin);
    }
    add_cors(r, origin);
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
    active_add(h, 1);
    pthread_mutex_lock(&h->mu);
    h->workers++;
    pthread_mutex_unlock(&h->mu);
    pthread_t t;
    if (pthread_create(&t, &attr, stream_worker, j) != 0) {
        /* No thread: run it here; the buffered events are sent when we return. */
        stream_worker(j);
    }
    pthread_attr_destroy(&attr);
    return queue(c, MHD_HTTP_OK, r);
}

/* Answers a synchronous result: JSON, or SSE when notifications were produced. */
static enum MHD_Result send_answer(dmcp__http *h, struct MHD_Connection *c, json_t *answer,
                                   json_t *notes, const char *version, const char *origin,
                                   const char *session_id)
{
    (void)h;
    if (answer == NULL) {
        json_decref(notes);
        /* Transports §2.1: notifications and responses only -> 202 Accepted, no body. */
        return send_empty(c, MHD_HTTP_ACCEPTED, origin, NULL);
    }
    if (json_array_size(notes) == 0) {
        json_decref(notes);
        return send_json(c, MHD_HTTP_OK, answer, origin,
                         session_id != NULL ? "Mcp-Session-Id" : NULL, session_id);
    }
    /* Notifications came first: answer as one SSE body (events in order, response last). */
    dmcp__buf b;
    dmcp__buf_init(&b, DMCP_MAX_BODY_BYTES * 4);
    json_array_append_new(notes, answer);
    size_t i;
    json_t *m;
    unsigned long seq = 0;
    dmcp_status rc = DMCP_OK;
    if (version != NULL && strcmp(version, DMCP_PROTOCOL_2025_11_25) >= 0) {
        rc = dmcp__buf_appends(&b, "id: 0-0\ndata: \n\n");
    }
    json_array_foreach(notes, i, m)
    {
        char *s = dmcp__json_dump(m, NULL);
        if (s == NULL || rc != DMCP_OK) {
            free(s);
            rc = DMCP_E_NOMEM;
            break;
        }
        rc = dmcp__buf_printf(&b, "id: 0-%lu\ndata: %s\n\n", ++seq, s);
        free(s);
    }
    json_decref(notes);
    if (rc != DMCP_OK) {
        dmcp__buf_free(&b);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                          "Response too large", origin);
    }
    size_t len = 0;
    char *data = dmcp__buf_take(&b, &len);
    struct MHD_Response *r = buffer_response(data, len, "text/event-stream");
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    add_cors(r, origin);
    if (session_id != NULL) {
        MHD_add_response_header(r, "Mcp-Session-Id", session_id);
    }
    return queue(c, MHD_HTTP_OK, r);
}

static bool binding_matches(const dmcp__session *s, const dmcp_principal *p)
{
    if (p == NULL) {
        return s->binding == NULL; /* no authenticate callback, or it admitted no principal */
    }
    /* A principal without a binding key identifies nobody: it matches no session at all,
     * not even one opened without a principal. */
    const char *key = dmcp_principal_binding_key(p);
    return key != NULL && s->binding != NULL && strcmp(s->binding, key) == 0;
}

/*
 * Finds the request's session: 400 when the header is missing, 404 when unknown, ended or
 * bound to another principal (SBP §2.4.4: 404 does not reveal that the session exists).
 * Returns NULL after queueing the error (*ret set).
 */
static dmcp__session *lookup_session(dmcp__http *h, struct MHD_Connection *c,
                                     const dmcp_principal *p, const char *origin,
                                     enum MHD_Result *ret)
{
    const char *sid = header(c, "Mcp-Session-Id");
    if (sid == NULL) {
        *ret = send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                          "Bad Request: Mcp-Session-Id header is required", origin);
        return NULL;
    }
    dmcp__session *s = dmcp__sessions_find(h->srv->sessions, sid);
    if (s != NULL && !binding_matches(s, p)) {
        dmcp__session_unref(s);
        s = NULL;
    }
    if (s == NULL) {
        *ret = send_error(c, MHD_HTTP_NOT_FOUND, DMCP_JSONRPC_INVALID_REQUEST, "Session not found",
                          origin);
    }
    return s;
}

/* MCP-Protocol-Version (Transports §2.7): unsupported -> 400. Returns false after queueing.
 * *value (may be NULL) receives the header, supported or absent (NULL). */
static bool check_version_header(struct MHD_Connection *c, const char *origin, enum MHD_Result *ret,
                                 const char **value)
{
    const char *v = header(c, "MCP-Protocol-Version");
    if (value != NULL) {
        *value = v;
    }
    if (v != NULL && !dmcp__version_supported(v)) {
        *ret = send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                          "Bad Request: Unsupported protocol version", origin);
        return false;
    }
    return true;
}

static bool is_initialize(const json_t *body)
{
    const json_t *id = NULL;
    /* The method first: most requests are not initialize and skip the full classification. */
    const char *m = json_string_value(json_object_get(body, "method"));
    return m != NULL && strcmp(m, "initialize") == 0 &&
           dmcp__jsonrpc_classify(body, &id) == DMCP__MSG_REQUEST;
}

static enum MHD_Result handle_post(dmcp__http *h, struct MHD_Connection *c, req_state *rs,
                                   const dmcp_principal *p, const char *origin)
{
    dmcp_server *srv = h->srv;
    enum MHD_Result ret = MHD_NO;
    if (rs->too_large) {
        return send_error(c, HTTP_CONTENT_TOO_LARGE, DMCP_JSONRPC_INVALID_REQUEST,
                          "Request body too large", origin);
    }
    if (rs->over_budget) {
        return send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                         dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                                             "Server busy: too many request bytes in flight", NULL),
                         origin, "Retry-After", "1");
    }
    /* Supported or absent: post_head_checks() refused anything else. */
    const char *hv = header(c, "MCP-Protocol-Version");
    int code = 0;
    json_t *body = dmcp__jsonrpc_parse(rs->body.data, rs->body.len, srv->max_body, &code);
    if (body == NULL) {
        return send_error(c, MHD_HTTP_BAD_REQUEST, code,
                          code == DMCP_JSONRPC_PARSE_ERROR ? "Parse error" : "Invalid Request",
                          origin);
    }
    bool init = is_initialize(body);
    dmcp__session *sess = NULL;
    const char *new_sid = NULL;
    if (srv->stateless) {
        sess = dmcp__session_new_local();
        if (sess != NULL) {
            snprintf(sess->version, sizeof(sess->version), "%s",
                     hv != NULL ? hv : DMCP_PROTOCOL_2025_03_26);
            atomic_store(&sess->initialized, true);
        }
    } else if (init) {
        if (p != NULL && dmcp_principal_binding_key(p) == NULL) {
            /* Nobody to bind the session to: it would be shared by every such caller. */
            json_decref(body);
            return send_error(c, MHD_HTTP_FORBIDDEN, DMCP_JSONRPC_INVALID_REQUEST,
                              "Forbidden: the access token identifies no subject; a session "
                              "cannot be bound to it",
                              origin);
        }
        dmcp_status st = dmcp__sessions_create(srv->sessions, dmcp_principal_binding_key(p), &sess);
        if (st == DMCP_E_RATE_LIMITED || st == DMCP_E_TOO_LARGE) {
            json_decref(body);
            bool mine = st == DMCP_E_RATE_LIMITED; /* this principal's share, or the table */
            return send_json(c, mine ? HTTP_TOO_MANY_REQUESTS : MHD_HTTP_SERVICE_UNAVAILABLE,
                             dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                                                 mine ? "Too many sessions for this principal"
                                                      : "Too many sessions",
                                                 NULL),
                             origin, "Retry-After", mine ? "1" : "30");
        }
        if (sess != NULL) {
            new_sid = sess->id;
        }
    } else {
        sess = lookup_session(h, c, p, origin, &ret);
        if (sess == NULL) {
            json_decref(body);
            return ret;
        }
    }
    if (sess == NULL) {
        json_decref(body);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                          "Out of memory", origin);
    }
    /* Requests of one session served at once (a stream worker counts its own). */
    unsigned max_inflight = (unsigned)srv->lim[DMCP_LIMIT_MAX_INFLIGHT_PER_SESSION];
    if (atomic_fetch_add(&sess->requests, 1) >= (int)max_inflight && max_inflight > 0 &&
        !srv->stateless) {
        atomic_fetch_sub(&sess->requests, 1);
        json_decref(body);
        dmcp__session_unref(sess);
        return send_json(c, HTTP_TOO_MANY_REQUESTS,
                         dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                                             "Too many requests in flight for this session", NULL),
                         origin, "Retry-After", "1");
    }
    /* Missing header: the session's version, or 2025-03-26 without one (Transports §2.7). */
    char version[16];
    const char *vsrc =
        hv != NULL ? hv
                   : (atomic_load(&sess->initialized) ? sess->version : DMCP_PROTOCOL_2025_03_26);
    /* A truncating copy as snprintf("%s") would make, without its format machinery. */
    size_t vlen = strnlen(vsrc, sizeof(version) - 1);
    memcpy(version, vsrc, vlen);
    version[vlen] = '\0';
    json_t *notes = json_array();
    dmcp__sink sink = {collect_sink_send, notes, false, NULL};
    dmcp__rpc_ctx ctx = {srv, sess, p, version, srv->stateless, false, &sink};

    if (json_is_array(body) && !dmcp__version_allows_batch(version)) {
        /* 2025-06-18 removed batching: one message per POST (Transports §2.1 item 3). */
        ret = send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                         "Invalid Request: batches are not supported in this protocol version",
                         origin);
        goto out;
    }
    const json_t *id = NULL;
    if (json_is_object(body) && dmcp__jsonrpc_classify(body, &id) == DMCP__MSG_INVALID) {
        ret = send_json(
            c, MHD_HTTP_BAD_REQUEST,
            dmcp__jsonrpc_error(id, DMCP_JSONRPC_INVALID_REQUEST, "Invalid Request", NULL), origin,
            NULL, NULL);
        goto out;
    }
    /* Per-tool scopes, answered before dispatch (resource-server §3 step 6). */
    size_t n = json_is_array(body) ? json_array_size(body) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_is_array(body) ? json_array_get(body, i) : body;
        dmcp_http_response *refusal = NULL;
        json_t *answer = NULL;
        if (!json_is_object(m) || json_object_get(m, "id") == NULL) {
            continue;
        }
        if (dmcp__lifecycle_gate(sess, "tools/call", ctx.stateless, &(const char *){NULL}) != 0) {
            continue; /* dispatch answers "not initialized" */
        }
        dmcp_status st = dmcp__authorize_call(&ctx, m, &refusal, &answer);
        if (st != DMCP_OK && refusal != NULL) {
            json_decref(answer);
            ret = send_custom(c, refusal, origin);
            goto out;
        }
        if (st != DMCP_OK && json_is_object(body)) {
            ret = send_answer(h, c, answer, notes, version, origin, NULL);
            notes = NULL;
            goto out;
        }
        json_decref(answer);
    }
    /* A batch is re-checked item by item in dispatch (refusals become isError results). */
    ctx.authorized = json_is_object(body);

    if (json_is_object(body) && id != NULL && dmcp__wants_stream(srv, body) &&
        dmcp__lifecycle_gate(sess, "tools/call", ctx.stateless, &(const char *){NULL}) == 0) {
        /* The server-wide lock only for calls that would stream, not on every POST. */
        pthread_mutex_lock(&h->mu);
        bool worker_room = h->workers < MAX_STREAM_WORKERS;
        pthread_mutex_unlock(&h->mu);
        /* Past a stream limit the call is still answered, buffered instead of live. */
        stream_ticket t;
        if (worker_room && ticket_take(h, srv->stateless ? NULL : sess, p, &t)) {
            ret = start_stream(h, c, &ctx, body, origin, &t);
            goto out;
        }
    }
    json_t *answer = dmcp__process(&ctx, body);
    if (init && new_sid != NULL) {
        /* Transports §2.5: the id goes only on a successful initialize response. */
        if (answer == NULL || json_object_get(answer, "result") == NULL) {
            dmcp__sessions_end(srv->sessions, sess);
            new_sid = NULL;
        }
    }
    ret = send_answer(h, c, answer, notes, version, origin, new_sid);
    notes = NULL;
out:
    json_decref(notes);
    json_decref(body);
    atomic_fetch_sub(&sess->requests, 1);
    dmcp__session_unref(sess);
    return ret;
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
static enum MHD_Result resume_stream(dmcp__http *h, struct MHD_Connection *c, dmcp__session *sess,
                                     const char *lei, const char *origin, stream_ticket *t)
{
    unsigned long stream_no = 0, seq = 0;
    char tail = '\0';
    if (strlen(lei) > 48 || sscanf(lei, "%lu-%lu%c", &stream_no, &seq, &tail) != 2) {
        ticket_return(h, t);
        return send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                          "Bad Request: malformed Last-Event-ID", origin);
    }
    dmcp__stream *st = unpark(h, sess, stream_no);
    if (st == NULL) {
        ticket_return(h, t);
        return send_error(c, MHD_HTTP_NOT_FOUND, DMCP_JSONRPC_INVALID_REQUEST,
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
        ticket_return(h, t);
        return send_error(c, MHD_HTTP_CONFLICT, DMCP_JSONRPC_INVALID_REQUEST,
                          "Last-Event-ID is outside the replay window", origin);
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               stream_reader, st, stream_released);
    bool ok = r != NULL;
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
        stream_unref(st); /* the parked reference: out of memory, the stream is lost */
        ticket_return(h, t);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                          "Out of memory", origin);
    }
    stream_hold(st, t);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    add_cors(r, origin);
    pthread_mutex_lock(&h->mu);
    st->next = h->streams; /* the parked reference becomes the list's */
    h->streams = st;
    pthread_mutex_unlock(&h->mu);
    return queue(c, MHD_HTTP_OK, r);
}

static enum MHD_Result handle_get(dmcp__http *h, struct MHD_Connection *c, const dmcp_principal *p,
                                  const char *origin)
{
    enum MHD_Result ret = MHD_NO;
    if (h->srv->stateless || !h->srv->get_stream) {
        return send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, origin,
                          h->srv->stateless ? "POST, OPTIONS" : "POST, DELETE, OPTIONS");
    }
    if (!dmcp__http_accepts(header(c, MHD_HTTP_HEADER_ACCEPT), "text/event-stream")) {
        return send_error(c, MHD_HTTP_NOT_ACCEPTABLE, DMCP_JSONRPC_INVALID_REQUEST,
                          "Not Acceptable: Accept must list text/event-stream", origin);
    }
    if (!check_version_header(c, origin, &ret, NULL)) {
        return ret;
    }
    dmcp__session *sess = lookup_session(h, c, p, origin, &ret);
    if (sess == NULL) {
        return ret;
    }
    const char *lei = header(c, "Last-Event-ID");
    stream_ticket t;
    if (!ticket_take(h, sess, p, &t)) {
        dmcp__session_unref(sess);
        return send_json(
            c, HTTP_TOO_MANY_REQUESTS,
            dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR, "Too many open streams", NULL),
            origin, "Retry-After", "1");
    }
    if (lei != NULL) {
        ret = resume_stream(h, c, sess, lei, origin, &t);
        dmcp__session_unref(sess);
        return ret;
    }
    pthread_mutex_lock(&sess->mu);
    dmcp__stream *old = sess->get_stream;
    if (old != NULL) {
        atomic_fetch_add(&old->refs, 1);
    }
    pthread_mutex_unlock(&sess->mu);
    if (old != NULL) {
        /* A client that dropped its stream and asks again must not wait for the next
         * heartbeat to find the old one dead: look at its socket now. */
        bool gone = stream_peer_gone(old);
        if (gone) {
            pthread_mutex_lock(&sess->mu);
            bool held = sess->get_stream == old;
            if (held) {
                sess->get_stream = NULL;
            }
            pthread_mutex_unlock(&sess->mu);
            stream_finish(old);
            if (held) {
                stream_unref(old); /* the session's reference */
            }
        }
        stream_unref(old);
        if (!gone) {
            ticket_return(h, &t);
            dmcp__session_unref(sess);
            /* Transports §2.2: one standalone stream per session (409 as the TS SDK). */
            return send_error(c, MHD_HTTP_CONFLICT, DMCP_JSONRPC_INVALID_REQUEST,
                              "Conflict: only one GET stream per session", origin);
        }
    }
    const char *hv = header(c, "MCP-Protocol-Version");
    dmcp__stream *st = NULL;
    struct MHD_Response *r = stream_open(h, c, hv != NULL ? hv : sess->version, &st);
    if (r == NULL) {
        ticket_return(h, &t);
        dmcp__session_unref(sess);
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                          "Out of memory", origin);
    }
    stream_hold(st, &t);
    add_cors(r, origin);
    st->sess = sess; /* our session reference moves to the stream */
    pthread_mutex_lock(&sess->mu);
    if (sess->get_stream == NULL) {
        sess->get_stream = st; /* the caller's stream reference moves to the session */
        st = NULL;
    }
    pthread_mutex_unlock(&sess->mu);
    if (st != NULL) {
        /* Lost a race with a concurrent GET. */
        stream_finish(st);
        stream_unref(st);
        MHD_destroy_response(r);
        return send_error(c, MHD_HTTP_CONFLICT, DMCP_JSONRPC_INVALID_REQUEST,
                          "Conflict: only one GET stream per session", origin);
    }
    return queue(c, MHD_HTTP_OK, r);
}

dmcp_status dmcp__http_send_get(dmcp__session *sess, json_t *msg)
{
    pthread_mutex_lock(&sess->mu);
    dmcp__stream *st = sess->get_stream;
    if (st != NULL) {
        atomic_fetch_add(&st->refs, 1);
    }
    pthread_mutex_unlock(&sess->mu);
    if (st == NULL) {
        json_decref(msg); /* no standalone stream open: the client misses it (Transports §2.2) */
        return DMCP_E_STATE;
    }
    dmcp_status rc = stream_event(st, msg);
    stream_unref(st);
    return rc;
}

static void end_session(dmcp__http *h, dmcp__session *sess)
{
    dmcp__sessions_end(h->srv->sessions, sess);
    dmcp__session_wake_pending(sess);
    pthread_mutex_lock(&sess->mu);
    dmcp__stream *gs = sess->get_stream;
    pthread_mutex_unlock(&sess->mu);
    if (gs != NULL) {
        stream_finish(gs);
    }
}

static enum MHD_Result handle_delete(dmcp__http *h, struct MHD_Connection *c,
                                     const dmcp_principal *p, const char *origin)
{
    enum MHD_Result ret = MHD_NO;
    if (h->srv->stateless) {
        return send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, origin, "POST, OPTIONS");
    }
    if (!check_version_header(c, origin, &ret, NULL)) {
        return ret;
    }
    dmcp__session *sess = lookup_session(h, c, p, origin, &ret);
    if (sess == NULL) {
        return ret;
    }
    /* Transports §2.5: after DELETE the session id answers 404. */
    end_session(h, sess);
    dmcp__session_unref(sess);
    return send_empty(c, MHD_HTTP_OK, origin, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Access handler                                                                           */
/* ---------------------------------------------------------------------------------------- */

/* GET (or HEAD) /healthz: the process serves. /readyz: the authorizer is ready too. */
static enum MHD_Result send_health(dmcp__http *h, struct MHD_Connection *c, const char *method,
                                   bool readiness)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "GET, HEAD");
    }
    char reason[128] = "";
    const dmcp_authorizer *az = h->srv->authorizer;
    bool ok = !readiness || !atomic_load(&h->draining); /* alive while it still answers */
    if (!ok) {
        snprintf(reason, sizeof(reason), "stopping");
    } else if (readiness && az != NULL && az->ready != NULL) {
        ok = az->ready(az->userdata, reason, sizeof(reason));
    }
    json_t *doc = ok ? json_pack("{s:s}", "status", readiness ? "ready" : "ok")
                     : json_pack("{s:s, s:s}", "status", "unavailable", "reason", reason);
    return send_json(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, doc, NULL,
                     ok ? MHD_HTTP_HEADER_CACHE_CONTROL : "Retry-After", ok ? "no-store" : "5");
}

/* The POST checks that need only the headers (Transports §2.1, §2.7). Returns false after
 * queueing a refusal (*ret). */
static bool post_head_checks(struct MHD_Connection *c, const char *origin, enum MHD_Result *ret)
{
    /* Transports §2.1: the client MUST accept both application/json and text/event-stream. */
    const char *accept = header(c, MHD_HTTP_HEADER_ACCEPT);
    if (!dmcp__http_accepts(accept, "application/json") ||
        !dmcp__http_accepts(accept, "text/event-stream")) {
        *ret = send_error(c, MHD_HTTP_NOT_ACCEPTABLE, DMCP_JSONRPC_INVALID_REQUEST,
                          "Not Acceptable: Accept must list application/json and "
                          "text/event-stream",
                          origin);
        return false;
    }
    if (!dmcp__http_content_type_json(header(c, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        *ret = send_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, DMCP_JSONRPC_INVALID_REQUEST,
                          "Unsupported Media Type: Content-Type must be application/json", origin);
        return false;
    }
    return check_version_header(c, origin, ret, NULL);
}

/*
 * Everything the headers decide, in order: Host, public routes, Origin, preflight, method,
 * authentication, the POST headers. Returns true when the request may go on (rs->principal
 * and rs->origin set); false after queueing the answer (*ret).
 */
static bool precheck(dmcp__http *h, struct MHD_Connection *c, const char *url, const char *method,
                     req_state *rs, enum MHD_Result *ret)
{
    dmcp_server *srv = h->srv;
    dmcp_http_request view = {c, method, url, srv->tls_cert != NULL};
    /* 0. Health probes: before Host and credentials (a probe knows neither), nothing else. */
    if (srv->health && (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0) &&
        strcmp(url, srv->endpoint) != 0) {
        *ret = send_health(h, c, method, url[1] == 'r');
        return false;
    }
    /* 1. Host (Transports §2.0.1: DNS rebinding; 403 like an invalid Origin). */
    if (!dmcp__http_host_allowed(srv, h->loopback, header(c, MHD_HTTP_HEADER_HOST))) {
        *ret = send_error(c, MHD_HTTP_FORBIDDEN, DMCP_JSONRPC_INVALID_REQUEST,
                          "Forbidden: invalid Host header", NULL);
        return false;
    }
    /* 2. Other paths: the authorizer's public routes (PRM), else 404. */
    if (strcmp(url, srv->endpoint) != 0) {
        const dmcp_authorizer *az = srv->authorizer;
        dmcp_http_response *hr = NULL;
        if (az != NULL && az->route != NULL && az->route(az->userdata, &view, &hr) == DMCP_OK &&
            hr != NULL) {
            *ret = send_custom(c, hr, NULL);
            return false;
        }
        dmcp_http_response_free(hr);
        *ret = send_empty(c, MHD_HTTP_NOT_FOUND, NULL, NULL);
        return false;
    }
    /* 3. Origin, when present (11-25 Transports §2.0.1: 403 for an invalid Origin). */
    const char *origin = header(c, "Origin");
    if (origin != NULL && !dmcp__http_origin_allowed(srv, h->loopback, origin)) {
        *ret = send_error(c, MHD_HTTP_FORBIDDEN, DMCP_JSONRPC_INVALID_REQUEST,
                          "Forbidden: invalid Origin header", NULL);
        return false;
    }
    /* 4. CORS preflight: never authenticated (resource-server §5 row 12). */
    if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0) {
        struct MHD_Response *r = buffer_response(NULL, 0, NULL);
        if (r == NULL) {
            *ret = MHD_NO;
            return false;
        }
        if (origin != NULL) {
            MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
            MHD_add_response_header(r, "Vary", "Origin");
        }
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, Accept, Mcp-Protocol-Version, "
                                "Mcp-Session-Id, Last-Event-ID, Mcp-Method, Mcp-Name");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
        *ret = queue(c, MHD_HTTP_NO_CONTENT, r);
        return false;
    }
    /* 5. Method. */
    bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (!is_post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_DELETE) != 0) {
        *ret = send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, origin, "GET, POST, DELETE, OPTIONS");
        return false;
    }
    /* 6. Authentication (before any session or JSON-RPC work; resource-server §3). */
    dmcp_principal *p = NULL;
    const dmcp_authorizer *az = srv->authorizer;
    if (az != NULL && az->authenticate != NULL) {
        dmcp_http_response *refusal = NULL;
        dmcp_status st = az->authenticate(az->userdata, &view, &p, &refusal);
        if (st != DMCP_OK) {
            dmcp_principal_unref(p);
            if (refusal != NULL) {
                *ret = send_custom(c, refusal, origin);
                return false;
            }
            struct MHD_Response *r =
                buffer_response(dmcp__strdup("{\"error\":\"server_error\"}"),
                                strlen("{\"error\":\"server_error\"}"), "application/json");
            if (r == NULL) {
                *ret = MHD_NO;
                return false;
            }
            add_cors(r, origin);
            *ret = queue(c, MHD_HTTP_INTERNAL_SERVER_ERROR, r);
            return false;
        }
        dmcp_http_response_free(refusal);
    }
    /* 7. The principal's request rate (a token bucket; 429 with the wait). */
    double rate = srv->lim[DMCP_LIMIT_RATE];
    if (rate > 0) {
        double wait = dmcp__plimits_take(h->plimits, dmcp_principal_binding_key(p), rate,
                                         dmcp__rate_burst(srv), dmcp__mono_now());
        if (wait > 0) {
            char after[24];
            snprintf(after, sizeof(after), "%.0f", wait < 1 ? 1 : wait + 0.999);
            dmcp_principal_unref(p);
            *ret = send_json(
                c, HTTP_TOO_MANY_REQUESTS,
                dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR, "Too many requests", NULL),
                origin, "Retry-After", after);
            return false;
        }
    }
    /* 8. The POST headers (Accept, Content-Type, MCP-Protocol-Version). */
    if (is_post && !post_head_checks(c, origin, ret)) {
        dmcp_principal_unref(p);
        return false;
    }
    rs->principal = p;
    rs->origin = origin;
    return true;
}

static enum MHD_Result handle(dmcp__http *h, struct MHD_Connection *c, const char *method,
                              req_state *rs)
{
    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
        return handle_post(h, c, rs, rs->principal, rs->origin);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0) {
        return handle_get(h, c, rs->principal, rs->origin);
    }
    return handle_delete(h, c, rs->principal, rs->origin);
}

/* Reserves n bytes of the server-wide body budget; false when it would be exceeded. */
static bool budget_take(dmcp__http *h, req_state *rs, size_t n)
{
    size_t cap = h->srv->max_buffered;
    size_t cur = atomic_load(&h->buffered);
    do {
        if (n > cap || cur > cap - n) {
            return false;
        }
    } while (!atomic_compare_exchange_weak(&h->buffered, &cur, cur + n));
    rs->reserved += n;
    return true;
}

/* The tracked connection of c (NULL when untracked). */
static dmcp__conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    dmcp__http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci != NULL ? dmcp__conn_open(h->conns, ci->connect_fd) : NULL;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* libmicrohttpd notifies before it closes the socket (http_conn.c). */
        dmcp__conn_close(h->conns, *socket_context);
        *socket_context = NULL;
    }
}

/* The request line is in: the headers' deadline starts. */
static void *request_line_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
    dmcp__http *h = cls;
    (void)uri;
    dmcp__conn_set_phase(h->conns, conn_of(c), DMCP__CONN_HEAD);
    return NULL;
}

#define MAX_FRAMING_FIELDS 8

/* Collects every value of one header field (at most MAX_FRAMING_FIELDS + 1 are counted). */
typedef struct field_values {
    const char *name;
    const char *v[MAX_FRAMING_FIELDS];
    size_t n;
} field_values;

static enum MHD_Result field_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    field_values *fv = cls;
    if (key != NULL && dmcp__ascii_casecmp(key, fv->name) == 0) {
        if (fv->n < MAX_FRAMING_FIELDS) {
            fv->v[fv->n] = value != NULL ? value : "";
        }
        fv->n++;
    }
    return MHD_YES;
}

/*
 * The first call of a request: its headers are complete, its body not yet read. Judges the
 * framing (RFC 9112 §6.1, §6.3), and for a request with a body every other header check too,
 * so a refusal never reads the body and the connection is closed after it. A request without
 * a body is checked on its final call instead, keeping the connection alive after a refusal.
 */
static enum MHD_Result on_headers(dmcp__http *h, struct MHD_Connection *c, const char *url,
                                  const char *method, req_state *rs)
{
    field_values cl = {MHD_HTTP_HEADER_CONTENT_LENGTH, {NULL}, 0};
    field_values te = {MHD_HTTP_HEADER_TRANSFER_ENCODING, {NULL}, 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, field_cb, &cl);
    MHD_get_connection_values(c, MHD_HEADER_KIND, field_cb, &te);
    uint64_t len = 0;
    bool chunked = false;
    dmcp__framing fr = DMCP__FRAMING_BAD;
    if (cl.n <= MAX_FRAMING_FIELDS && te.n <= MAX_FRAMING_FIELDS) {
        fr = dmcp__http_framing(cl.v, cl.n, te.v, te.n, &len, &chunked);
    }
    enum MHD_Result ret = MHD_YES;
    tl_close_after = true;
    rs->answered = true; /* unless every check below passes */
    if (fr == DMCP__FRAMING_UNSUPPORTED) {
        ret = send_error(c, MHD_HTTP_NOT_IMPLEMENTED, DMCP_JSONRPC_INVALID_REQUEST,
                         "Not Implemented: unsupported Transfer-Encoding", NULL);
    } else if (fr != DMCP__FRAMING_OK) {
        ret = send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                         "Bad Request: conflicting or invalid message framing", NULL);
    } else if (len > h->srv->max_body) {
        /* Refuse before reading megabytes. */
        ret = send_error(c, HTTP_CONTENT_TOO_LARGE, DMCP_JSONRPC_INVALID_REQUEST,
                         "Request body too large", NULL);
    } else if (len == 0 && !chunked) {
        rs->answered = false; /* no body: checked on the final call */
        dmcp__conn_set_phase(h->conns, conn_of(c), DMCP__CONN_BUSY);
    } else {
        active_add(h, 1);
        if (precheck(h, c, url, method, rs, &ret)) {
            if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
                ret = send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                                 "Bad Request: this method takes no body", rs->origin);
            } else if (!budget_take(h, rs, (size_t)len)) {
                ret = send_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                                                    "Server busy: too many request bytes in "
                                                    "flight",
                                                    NULL),
                                rs->origin, "Retry-After", "1");
            } else {
                rs->checked = true;
                rs->answered = false;
                dmcp__conn_set_phase(h->conns, conn_of(c), DMCP__CONN_BODY);
            }
        }
        active_add(h, -1);
    }
    tl_close_after = false;
    return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    dmcp__http *h = cls;
    req_state *rs = *con_cls;
    if (rs == NULL) {
        rs = calloc(1, sizeof(*rs));
        if (rs == NULL) {
            return MHD_NO;
        }
        dmcp__buf_init(&rs->body, h->srv->max_body);
        *con_cls = rs;
        return on_headers(h, c, url, method, rs);
    }
    if (rs->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!rs->checked || rs->too_large || rs->over_budget) {
            return MHD_YES; /* discarded (a chunked body may exceed what was reserved) */
        }
        size_t need = rs->body.len + n;
        if (need > rs->reserved && !budget_take(h, rs, need - rs->reserved)) {
            rs->over_budget = true;
        } else if (dmcp__buf_append(&rs->body, upload_data, n) != DMCP_OK) {
            rs->too_large = true;
        }
        if (rs->too_large || rs->over_budget) {
            dmcp__buf_free(&rs->body);
            dmcp__buf_init(&rs->body, h->srv->max_body);
        }
        return MHD_YES;
    }
    active_add(h, 1);
    dmcp__conn_set_phase(h->conns, conn_of(c), DMCP__CONN_BUSY);
    /* Draining for a stop: answer, then close (no next request on this connection). */
    tl_close_after = atomic_load(&h->draining);
    enum MHD_Result ret = MHD_YES;
    if (rs->checked || precheck(h, c, url, method, rs, &ret)) {
        rs->checked = true;
        ret = handle(h, c, method, rs);
    }
    tl_close_after = false;
    active_add(h, -1);
    return ret;
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    dmcp__http *h = cls;
    (void)toe;
    dmcp__conn_set_phase(h->conns, conn_of(c), DMCP__CONN_IDLE);
    req_state *rs = *con_cls;
    if (rs != NULL) {
        atomic_fetch_sub(&h->buffered, rs->reserved);
        dmcp_principal_unref(rs->principal);
        dmcp__buf_free(&rs->body);
        free(rs);
        *con_cls = NULL;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Housekeeping: heartbeats and idle sessions                                               */
/* ---------------------------------------------------------------------------------------- */

static void *housekeeper(void *arg)
{
    dmcp__http *h = arg;
    pthread_mutex_lock(&h->mu);
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next);
    while (!h->hk_stop) {
        next.tv_sec += 1;
        /* h->cv is shared: wake-ups for other reasons must not run the sweep early. */
        while (!h->hk_stop && pthread_cond_timedwait(&h->cv, &h->mu, &next) == 0) {
        }
        if (h->hk_stop) {
            break;
        }
        time_t now = time(NULL);
        unsigned hb = h->srv->heartbeat;
        for (dmcp__stream *st = h->streams; st != NULL && hb > 0; st = st->next) {
            pthread_mutex_lock(&st->mu);
            /* deps §5: a parked stream only notices a gone client on its next write. */
            if (!st->done && now - st->last_write >= (time_t)hb) {
                stream_push_locked(st, ": ping\n\n", 8);
            }
            pthread_mutex_unlock(&st->mu);
        }
        pthread_mutex_unlock(&h->mu);
        dmcp__sessions_expire(h->srv->sessions, now, h->srv->idle_seconds);
        expire_parked(h, now, false);
        const double *lim = h->srv->lim;
        dmcp__conn_deadlines dl = {lim[DMCP_LIMIT_IDLE_TIMEOUT], lim[DMCP_LIMIT_HEADER_TIMEOUT],
                                   lim[DMCP_LIMIT_BODY_TIMEOUT]};
        double mono = dmcp__mono_now();
        dmcp__conns_sweep(h->conns, &dl, mono, NULL);
        if (now % 10 == 0) {
            dmcp__plimits_sweep(h->plimits, lim[DMCP_LIMIT_RATE], dmcp__rate_burst(h->srv), mono);
        }
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Start / stop                                                                             */
/* ---------------------------------------------------------------------------------------- */

static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    dmcp__buf b;
    dmcp__buf_init(&b, MAX_TLS_FILE);
    char chunk[4096];
    size_t n;
    bool ok = true;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (dmcp__buf_append(&b, chunk, n) != DMCP_OK) {
            ok = false;
            break;
        }
    }
    fclose(f);
    if (!ok || b.len == 0) {
        dmcp__buf_free_secret(&b);
        return NULL;
    }
    return dmcp__buf_take(&b, NULL);
}

static void http_free(dmcp__http *h)
{
    if (h == NULL) {
        return;
    }
    dmcp__free_secret_str(h->key_pem);
    free(h->cert_pem);
    dmcp__conns_free(h->conns);
    dmcp__plimits_free(h->plimits);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

dmcp_status dmcp__http_start(dmcp_server *srv, dmcp_error *err)
{
    dmcp__http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    h->srv = srv;
    h->conns = dmcp__conns_new();
    h->plimits = dmcp__plimits_new();
    if (h->conns == NULL || h->plimits == NULL) {
        dmcp__conns_free(h->conns);
        dmcp__plimits_free(h->plimits);
        free(h);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->loopback = dmcp__host_is_loopback(srv->listen_host) || strcmp(srv->listen_host, "::1") == 0;

    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", srv->listen_port);
    if (getaddrinfo(srv->listen_host, portstr, &hints, &ai) != 0 || ai == NULL) {
        http_free(h);
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "cannot resolve listen address");
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    if (srv->tls_cert != NULL) {
        h->cert_pem = read_small_file(srv->tls_cert);
        h->key_pem = read_small_file(srv->tls_key);
        if (h->cert_pem == NULL || h->key_pem == NULL) {
            freeaddrinfo(ai);
            http_free(h);
            return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                              "cannot read TLS certificate or key file");
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem opts[12];
    size_t k = 0;
    const double *lim = srv->lim;
    /* libmicrohttpd's own timeout counts silence only; the phase deadlines (http_conn.c) do
     * the rest. It stays as a backstop for a response its client stopped reading. */
    double silence = 60;
    for (int i = DMCP_LIMIT_IDLE_TIMEOUT; i <= DMCP_LIMIT_BODY_TIMEOUT; i++) {
        silence = lim[i] > silence ? lim[i] : silence;
    }
    if (srv->heartbeat * 2.0 > silence) {
        silence = srv->heartbeat * 2.0;
    }
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr};
    opts[k++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY_LIMIT, NULL};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)silence, NULL};
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                        (intptr_t)lim[DMCP_LIMIT_MAX_CONNECTIONS], NULL};
    if (lim[DMCP_LIMIT_MAX_CONNECTIONS_PER_IP] > 0) {
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                            (intptr_t)lim[DMCP_LIMIT_MAX_CONNECTIONS_PER_IP], NULL};
    }

    if (srv->threads > 1) {
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, srv->threads, NULL};
    }
    if (h->cert_pem != NULL) {
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert_pem};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->key_pem};
    }
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, h, MHD_OPTION_NOTIFY_COMPLETED,
                            completed_cb, h, MHD_OPTION_NOTIFY_CONNECTION, notify_connection, h,
                            MHD_OPTION_URI_LOG_CALLBACK, request_line_cb, h, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (h->d == NULL) {
        http_free(h);
        return dmcp__fail(err, DMCP_E_IO, DMCP_REASON_NONE, "cannot start the HTTP server on %s:%u",
                          srv->listen_host, srv->listen_port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di != NULL ? di->port : 0;
    if (pthread_create(&h->housekeeper, NULL, housekeeper, h) == 0) {
        h->hk_started = true;
    }
    srv->http = h;
    return DMCP_OK;
}

unsigned dmcp__http_port(const dmcp_server *srv)
{
    return srv->http != NULL ? srv->http->port : 0;
}

static bool wait_until(dmcp__http *h, bool (*pred)(dmcp__http *), unsigned seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&h->mu);
    bool ok = pred(h);
    while (!ok) {
        if (pthread_cond_timedwait(&h->cv, &h->mu, &deadline) != 0) {
            ok = pred(h);
            break;
        }
        ok = pred(h);
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

static bool idle_pred(dmcp__http *h)
{
    return atomic_load(&h->active) == 0;
}

/* Nothing being handled, and no request still arriving (its client gets an answer). */
static bool drained_pred(dmcp__http *h)
{
    return atomic_load(&h->active) == 0 && dmcp__conns_receiving(h->conns) == 0;
}

static bool no_streams_pred(dmcp__http *h)
{
    return h->streams == NULL;
}

void dmcp__http_stop(dmcp_server *srv)
{
    dmcp__http *h = srv->http;
    if (h == NULL) {
        return;
    }
    /* deps §5 shutdown order: quiesce -> let work finish -> end streams -> resume -> stop. */
    MHD_socket lfd = MHD_quiesce_daemon(h->d);
    atomic_store(&h->draining, true);
    /* Polled: a request's headers arriving signal nothing. */
    double drain_end = dmcp__mono_now() + srv->shutdown_timeout;
    while (!drained_pred(h) && dmcp__mono_now() < drain_end) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&h->mu);
    h->hk_stop = true;
    pthread_cond_broadcast(&h->cv);
    for (dmcp__stream *st = h->streams; st != NULL; st = st->next) {
        stream_finish(st);
    }
    pthread_mutex_unlock(&h->mu);
    if (h->hk_started) {
        pthread_join(h->housekeeper, NULL);
    }
    expire_parked(h, 0, true);
    wait_until(h, no_streams_pred, 2);
    /* Anything still parked (a client that stopped reading) must be resumed before stop. */
    pthread_mutex_lock(&h->mu);
    for (dmcp__stream *st = h->streams; st != NULL; st = st->next) {
        stream_finish(st);
    }
    pthread_mutex_unlock(&h->mu);
    MHD_stop_daemon(h->d);
    if (lfd != MHD_INVALID_SOCKET) {
        close(lfd);
    }
    wait_until(h, idle_pred, srv->shutdown_timeout);
    /* Streams whose responses MHD never released (should not happen) are leaked, not freed
     * under a live connection. */
    srv->http = NULL;
    if (h->streams == NULL && atomic_load(&h->active) == 0) {
        http_free(h);
    }
}
