/*
 * Internals shared by the Streamable HTTP transport's files (src/mcp), one-way calls only:
 *   http.c       libmicrohttpd daemon, the access handler (framing, Host, Origin, preflight,
 *                method, authentication, rate, POST headers), housekeeping, start/stop
 *   http_io.c    responses (JSON, errors, authorizer responses, CORS) and the pure header checks
 *   sse.c        SSE stream objects, resumable POST streams, live-stream workers
 *   http_era25.c the 2025 session-based revisions over HTTP: sessions, POST/GET/DELETE
 *   http_era26.c the stateless 2026-07-28 revision over HTTP (rules in era26.c)
 * http.c calls the era files; the era files call sse.c and http_io.c; nothing calls back up.
 * The MCP layers below (dispatch, outbound) reach a session's transport only through
 * dmcp__transport (mcp_internal.h).
 */
#ifndef DMCP_MCP_HTTP_INTERNAL_H
#define DMCP_MCP_HTTP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "accesslog.h"
#include "mcp/mcp_internal.h"
#include "metrics.h"

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
    /* A stream of another instance followed here (sse_shared.c): its events arrive through
     * the shared store. */
    bool follower;
    char fsid[DMCP__SESSION_ID_LEN + 1];
    unsigned long fseq;              /* last event sequence delivered */
    struct dmcp__stream *fnext;      /* h->followers */
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
    dmcp__stream *followers; /* streams of other instances followed here (a reference each) */
    size_t n_parked;
    unsigned long stream_counter;
    pthread_t housekeeper;
    bool hk_started;
    bool hk_stop;
    dmcp__conns *conns;           /* connection phases and deadlines (http_conn.c) */
    dmcp__plimits *plimits;       /* per-principal rate and streams (limits.c) */
    struct MHD_Daemon *metrics_d; /* the opt-in metrics listener (http_obs.c) */
    unsigned metrics_port;
    pthread_mutex_t defer_mu;         /* guards deferred */
    struct dmcp__deferred *deferred;  /* calls a forwarder answers later (http_defer.c) */
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
/* One request as operators see it (http_obs.c). */
typedef struct dmcp__reqobs {
    uint64_t id;
    uint64_t t0_ns;
    unsigned status; /* HTTP status queued; 0 = none yet */
    dmcp__m_method method;
    unsigned tool;       /* a metrics tool id, or DMCP__LOG_NO_TOOL */
    dmcp__m_limit limit; /* the limit that refused it, or DMCP__M_LIMIT_NONE */
    bool streamed;       /* answered as a live SSE stream (no latency recorded) */
} dmcp__reqobs;

typedef struct req_state {
    dmcp__reqobs obs;
    dmcp__buf body;
    bool too_large;
    bool over_budget;          /* the server-wide buffer budget ran out during the body */
    bool answered;             /* a response was queued at the headers: the rest is discarded */
    bool checked;              /* the header checks passed; principal and origin are set */
    dmcp_principal *principal; /* the authenticated caller (NULL without an authorizer) */
    const char *origin;        /* the Origin header (MHD keeps it for the request) */
    size_t reserved;           /* bytes of h->buffered this request holds */
    struct dmcp__deferred *later; /* parked until a forwarder answers (http_defer.c) */
} req_state;

/*
 * A live SSE response counted against the stream limits of its session and its principal.
 * Taken before the stream opens; the stream holds it and gives it back when its response is
 * released (a resumed stream takes a new one).
 */
typedef struct dmcp__stream_ticket {
    dmcp__session *sess; /* reference, or NULL: not counted per session */
    char *key;           /* binding key, or NULL: not counted per principal */
} dmcp__stream_ticket;

/* ---- http_io.c ---- */

/*
 * Set while a request is answered on the call that carries its headers (http.c): that
 * response closes the connection. Per thread.
 */
extern _Thread_local bool dmcp__http_close_after;
const char *dmcp__http_header(struct MHD_Connection *c, const char *name);
void dmcp__http_cors(struct MHD_Response *r, const char *origin);
/* Queues r (and destroys our reference); r NULL -> MHD_NO. */
enum MHD_Result dmcp__http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r);
/* A response over data (taken; NULL: empty body). */
struct MHD_Response *dmcp__http_buffer(char *data, size_t len, const char *ctype);
/* Sends a JSON value (takes it). extra_name/extra_value: one more header, may be NULL. */
enum MHD_Result dmcp__http_send_json(struct MHD_Connection *c, unsigned status, json_t *v,
                                     const char *origin, const char *extra_name,
                                     const char *extra_value);
/* A transport-level error: HTTP status plus a JSON-RPC error body without id. */
enum MHD_Result dmcp__http_send_error(struct MHD_Connection *c, unsigned status, int code,
                                      const char *message, const char *origin);
enum MHD_Result dmcp__http_send_empty(struct MHD_Connection *c, unsigned status, const char *origin,
                                      const char *allow);
/* Sends an authorizer's response (takes it). */
enum MHD_Result dmcp__http_send_custom(struct MHD_Connection *c, dmcp_http_response *hr,
                                       const char *origin);
/* Collects notifications of a synchronous request (sink ud: a JSON array). */
dmcp_status dmcp__collect_sink_send(dmcp__sink *sink, json_t *msg);
/* Answers a synchronous result (takes answer and notes): 202 when answer is NULL, JSON, or
 * one SSE body when notifications came first. session_id: Mcp-Session-Id to add, or NULL. */
enum MHD_Result dmcp__http_send_answer(struct MHD_Connection *c, json_t *answer, json_t *notes,
                                       const char *version, const char *origin,
                                       const char *session_id);
/* 2026-07-28: the HTTP status of a JSON-RPC error answered alone (404 for an unknown method,
 * 400 for header and version errors, else 200). */
unsigned dmcp__era26_http_status(int code);
/* A 2026-07-28 answer: an error alone with dmcp__era26_http_status, else as
 * dmcp__http_send_answer. Takes answer and notes. */
enum MHD_Result dmcp__http_send_answer26(struct MHD_Connection *c, json_t *answer, json_t *notes,
                                         const char *origin);
/* Requests in flight (+1/-1); wakes a draining stop at zero. */
void dmcp__http_active_add(dmcp__http *h, int d);
/* Resolves a listen address (HOST, PORT) for bind(); *ai is new (freeaddrinfo), NULL when it
 * does not resolve (false). */
struct addrinfo;
bool dmcp__http_resolve(const char *host, unsigned port, struct addrinfo **ai);

/* ---- sse.c ---- */

void dmcp__stream_unref(dmcp__stream *st);
dmcp_status dmcp__stream_push_locked(dmcp__stream *st, const char *data, size_t len);
/* One JSON-RPC message as an SSE event (takes msg). */
dmcp_status dmcp__stream_event(dmcp__stream *st, json_t *msg);
/* An event (takes msg) on the stream the session holds open (sess->get_stream: the 2025 GET
 * stream or a 2026 listen stream); DMCP_E_STATE, msg dropped, when none is open. */
dmcp_status dmcp__stream_send_session(dmcp__session *sess, json_t *msg);
/* The producer is done: the response ends after draining. */
void dmcp__stream_finish(dmcp__stream *st);
/* http_era25.c: the transport of HTTP sessions (their GET stream); given to the session
 * table by dmcp__http_start so sessions adopted from a shared store have it too. */
extern const dmcp__transport dmcp__http_session_transport;
bool dmcp__ticket_take(dmcp__http *h, dmcp__session *sess, const dmcp_principal *p,
                       dmcp__stream_ticket *t);
void dmcp__ticket_return(dmcp__http *h, dmcp__stream_ticket *t);
void dmcp__stream_hold(dmcp__stream *st, dmcp__stream_ticket *t);
bool dmcp__stream_peer_gone(dmcp__stream *st);
void dmcp__streams_expire_parked(dmcp__http *h, time_t now, bool all);
/* A new stream and its response (3 references: caller, list, response). */
struct MHD_Response *dmcp__stream_open(dmcp__http *h, struct MHD_Connection *c, const char *version,
                                       dmcp__stream **out);
/* Answers a request as a live SSE stream, its handler on a worker thread. */
enum MHD_Result dmcp__stream_start_call(dmcp__http *h, struct MHD_Connection *c, dmcp__rpc_ctx *ctx,
                                        const json_t *msg, const char *origin,
                                        dmcp__stream_ticket *ticket);
/* GET with Last-Event-ID: replays and re-attaches a detached stream of sess. */
/* sse.c internals shared with sse_shared.c */
ssize_t dmcp__stream_reader(void *cls, uint64_t pos, char *buf, size_t max);
void dmcp__stream_released(void *cls);

/* ---- sse_shared.c: resumable streams across instances (shared store) ---- */

/* GET + Last-Event-ID for a stream of another instance: replays its log from the store, then
 * follows it live. Takes the ticket. */
enum MHD_Result dmcp__stream_resume_shared(dmcp__http *h, struct MHD_Connection *c,
                                           dmcp__session *sess, unsigned long stream_no,
                                           unsigned long seq, const char *origin,
                                           dmcp__stream_ticket *t);
/* An event published by another instance ("e ..." on the store channel). */
void dmcp__sse_on_store_event(dmcp_server *srv, const char *msg, size_t len);
/* The server stops: every follower ends. */
void dmcp__sse_followers_clear(dmcp__http *h);
/* sse.c: a follower leaves the server's list (its response was released). */
void dmcp__stream_unlist_follower(dmcp__http *h, dmcp__stream *st);

/* GET + Last-Event-ID "<stream>-<seq>" for a stream of this instance (sse.c). Takes the
 * ticket. */
enum MHD_Result dmcp__stream_resume(dmcp__http *h, struct MHD_Connection *c, dmcp__session *sess,
                                    unsigned long stream_no, unsigned long seq, const char *origin,
                                    dmcp__stream_ticket *t);

/* ---- http_era25.c ---- */

/* MCP-Protocol-Version (Transports §2.7): unsupported -> 400. Returns false after queueing.
 * *value (may be NULL) receives the header, supported or absent (NULL). */
bool dmcp__http_check_version(struct MHD_Connection *c, const char *origin, enum MHD_Result *ret,
                              const char **value);
/* A parsed POST body (taken) under the 2025 rules. A request a forwarder takes to answer
 * later parks the connection and sets *later (dmcp__defer_finish answers it on resume). */
enum MHD_Result dmcp__http_post(dmcp__http *h, struct MHD_Connection *c, json_t *body,
                                const dmcp_principal *p, const char *origin,
                                struct dmcp__deferred **later);

/* ---- http_defer.c: forwarded requests answered later (dmcp_forwarder.start) ---- */

typedef struct dmcp__deferred dmcp__deferred;
/* Offers a 2025-era request to dmcp_forwarder.start. true: taken, *ret is the handler's
 * return, and body, notes and ctx->sess (with its request count) belong to the call; either
 * answered already, or the connection is parked and *later set. false: nothing changed
 * (the caller serves the request). */
bool dmcp__defer_try(dmcp__http *h, struct MHD_Connection *c, const dmcp__rpc_ctx *ctx,
                     json_t *body, json_t *notes, const char *origin, dmcp__deferred **later,
                     enum MHD_Result *ret);
/* As dmcp__defer_try for a 2026-07-28 request (ctx->sess is its request session): its input
 * responses and requestState are begun first. false with *answer set: served here instead
 * (start declined, or the request state was refused); the caller sends *answer and keeps
 * what it owns. */
bool dmcp__defer_try26(dmcp__http *h, struct MHD_Connection *c, const dmcp__rpc_ctx *ctx,
                       json_t *body, json_t *notes, const char *origin, dmcp__deferred **later,
                       json_t **answer, enum MHD_Result *ret);
/* Sends the answer of d (resumed, or answered at once) and releases the runtime's side. */
enum MHD_Result dmcp__defer_finish(dmcp__http *h, struct MHD_Connection *c, dmcp__deferred *d);
/* The connection of d ended before its answer was sent (a stop). */
void dmcp__defer_abandon(dmcp__deferred *d);
/* Before libmicrohttpd stops: every call still waiting is answered "Server stopping" and its
 * connection resumed; returns once they were sent (2 s at most). */
void dmcp__defer_stop_all(dmcp__http *h);
enum MHD_Result dmcp__http_get(dmcp__http *h, struct MHD_Connection *c, const dmcp_principal *p,
                               const char *origin);
enum MHD_Result dmcp__http_delete(dmcp__http *h, struct MHD_Connection *c, const dmcp_principal *p,
                                  const char *origin);

/* ---- http_obs.c: metrics, access log, health ---- */

/* The observation of the request this thread is handling, or NULL. */
extern _Thread_local dmcp__reqobs *dmcp__obs_current;
/* with_id: an access log is written (request ids cost a little). */
void dmcp__obs_start(dmcp__reqobs *o, bool with_id);
void dmcp__obs_status(unsigned status);
/* A limit refused (or, for a stream cap, reshaped) the current request: counts it. */
void dmcp__obs_limit(dmcp__m_limit limit);
/* The parsed JSON-RPC body: its method (and tool) for the metrics and the log. */
void dmcp__obs_message(const json_t *body);
/* A GET stream, a DELETE...: the request's kind, and whether it streams. */
void dmcp__obs_kind(dmcp__m_method method, bool streamed);
/* Counts the finished request and writes its access-log line. */
void dmcp__obs_done(dmcp__http *h, dmcp__reqobs *o, const dmcp_principal *p,
                    struct MHD_Connection *c);
enum MHD_Result dmcp__http_send_health(dmcp__http *h, struct MHD_Connection *c, const char *method,
                                       bool readiness);
dmcp_status dmcp__http_metrics_start(dmcp__http *h, dmcp_error *err);
void dmcp__http_metrics_stop(dmcp__http *h);

/* ---- http_era26.c ---- */

/*
 * At header time, a 2026-07-28 tools/call (MCP-Protocol-Version, Mcp-Method) of the tool its
 * Mcp-Name names: when that tool requires scopes and the authorizer answers the call with an
 * HTTP refusal (the 403 step-up), that refusal is queued before the body is read (false,
 * *ret set). Otherwise true: the body path checks the call again against the body (whose
 * name must equal Mcp-Name), so a lying header can only get a request refused, never let in.
 */
bool dmcp__http_tool_precheck26(dmcp__http *h, struct MHD_Connection *c, const dmcp_principal *p,
                                const char *origin, enum MHD_Result *ret);
/* A parsed POST body (taken) under the 2026-07-28 rules. */
enum MHD_Result dmcp__http_post26(dmcp__http *h, struct MHD_Connection *c, json_t *body,
                                  const dmcp_principal *p, const char *origin,
                                  struct dmcp__deferred **later);

#endif /* DMCP_MCP_HTTP_INTERNAL_H */
