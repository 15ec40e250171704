/*
 * src/gateway/upstream.h - what the gateway needs from an upstream MCP server, whatever its
 * transport (Streamable HTTP in upstream_http.c, stdio in upstream_stdio.c).
 *
 * The gateway core (gateway.c) is an ordinary dmcp_server with a forwarder (dmcp_server.h,
 * dmcp_server_set_forwarder): every client session that reaches a method the gateway forwards
 * gets, lazily, one upstream session per upstream (dmcp_gw_upstream_ops.open). Each forwarded
 * JSON-RPC request is then sent with .request on the client request's worker thread, which
 * blocks until the final response; what the upstream sends meanwhile on that request's stream
 * (notifications, server->client requests) is delivered AS IT ARRIVES to the request's sink,
 * ON THAT SAME THREAD. Messages the upstream sends outside any request (the HTTP GET stream, or
 * a stdio line that answers nothing in flight) go to the session's on_message callback, from
 * the upstream's own thread.
 *
 * Room: src/gateway uses public headers of the library (include/dmcp/) plus libcurl/POSIX only.
 *
 * Interface stability: this header is shared with the stdio upstream (branch gwstdio). Any
 * change is committed on its own with a message that says so.
 */
#ifndef DMCP_GATEWAY_UPSTREAM_H
#define DMCP_GATEWAY_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dmcp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Caps on everything read from an upstream (also enforced by every implementation). */
#define DMCP_GW_MAX_MESSAGE_BYTES (4u * 1024u * 1024u) /* one JSON-RPC message / SSE event */
#define DMCP_GW_MAX_HEADERS 32                         /* extra headers per upstream request */

typedef struct dmcp_gw_upstream dmcp_gw_upstream; /* one configured upstream */
typedef struct dmcp_gw_usession dmcp_gw_usession; /* one upstream session (per client session) */

/* An extra HTTP header for the upstream (identity, assertion, connection token). Borrowed. */
typedef struct dmcp_gw_header {
    const char *name;
    const char *value;
} dmcp_gw_header;

/*
 * Where a request's in-flight messages go. All callbacks are called on the thread that called
 * .request, in arrival order, before .request returns; never after. Messages are borrowed
 * (valid during the callback only).
 */
typedef struct dmcp_gw_sink {
    void *ud;
    /* A notification on the request's stream (progress, message, list_changed, ...). */
    void (*notification)(void *ud, const json_t *msg);
    /*
     * A server->client request on the request's stream (sampling/createMessage,
     * elicitation/create, roots/list, ...). msg is the whole JSON-RPC request (its id is the
     * upstream's). The sink relays it to the client and blocks until the answer; it returns
     * either DMCP_OK with *result (new ref) or any other status with *error (new ref, a JSON-RPC
     * error object {code,message,data?}; NULL makes the implementation send -32603). The
     * implementation then sends the answer back upstream under the upstream's id (for HTTP a
     * POST in the same upstream session, for stdio a line), and keeps reading.
     */
    dmcp_status (*request)(void *ud, const json_t *msg, json_t **result, json_t **error);
    /* Optional: true once the client cancelled the request or the gateway stops. Polled. */
    bool (*is_cancelled)(void *ud);
} dmcp_gw_sink;

/*
 * Messages the upstream sends outside any request (HTTP GET stream; unmatched stdio lines):
 * notifications, and server->client requests, which the gateway answers with .respond.
 * Called from the upstream's own thread (never from inside .request), possibly concurrently
 * with requests of the same session. msg borrowed.
 */
typedef void (*dmcp_gw_message_fn)(void *ud, const json_t *msg);

/* Parameters of .open. Everything borrowed for the duration of the call. */
typedef struct dmcp_gw_open_params {
    /*
     * The client's initialize params {protocolVersion, capabilities, clientInfo}, to be sent
     * upstream as they are (the gateway may have adjusted protocolVersion). NULL: a gateway
     * probe or a session-less (2026-07-28) client; the implementation sends its own default.
     */
    const json_t *initialize_params;
    /* The client session id on the gateway (for logs and mapping only; never sent upstream). */
    const char *client_session_id;
    /* Extra headers for every request of this session (identity etc.; HTTP only). */
    const dmcp_gw_header *headers;
    size_t header_count;
    unsigned timeout_ms;           /* for the initialize exchange; 0 = the upstream's default */
    dmcp_gw_message_fn on_message; /* may be NULL: such messages are dropped */
    void *on_message_ud;
    /* What .session_state returned for this client session on some replica (a gateway
     * sharing sessions through a store): continue that upstream session instead of opening a
     * new one, without initialize. NULL: open a new one. An implementation that cannot resume
     * opens a new one. */
    const json_t *resume;
    /*
     * Headers made afresh for every HTTP exchange of the session (POSTs, the GET stream, the
     * DELETE): e.g. a short-lived signed assertion, which a header fixed at open would outlive.
     * Fills at most max headers whose values it allocates (the caller frees them with free());
     * returns how many. fresh_free(fresh_ud) runs when the session is freed (also when open
     * fails). All NULL: none. HTTP only.
     */
    size_t (*fresh_headers)(void *ud, dmcp_gw_header *out, size_t max);
    void *fresh_ud;
    void (*fresh_free)(void *ud);
} dmcp_gw_open_params;

/* Parameters of one .request. Borrowed for the duration of the call. */
typedef struct dmcp_gw_request_params {
    const dmcp_gw_header *headers; /* per-request headers (connection tokens, assertion) */
    size_t header_count;
    unsigned timeout_ms;      /* whole exchange incl. streaming; 0 = the upstream's default */
    const dmcp_gw_sink *sink; /* may be NULL: in-flight messages are dropped, requests refused */
} dmcp_gw_request_params;

/*
 * A request whose outcome comes later (.request_async). Callbacks run on the upstream's own
 * threads and must not block; ud stays the caller's until done has run.
 */
typedef struct dmcp_gw_async {
    void *ud;
    unsigned timeout_ms; /* 0 = the upstream's default */
    /* A notification for the request (progress, a log message), before done. msg borrowed. */
    void (*notification)(void *ud, const json_t *msg);
    /* Polled every few tens of milliseconds until done: true once the client cancelled. */
    bool (*is_cancelled)(void *ud);
    /* The outcome, exactly once: the statuses of .request; response (taken) is the
     * upstream's response with the caller's id when st is DMCP_OK, else NULL and err says
     * why. */
    void (*done)(void *ud, dmcp_status st, json_t *response, const dmcp_error *err);
} dmcp_gw_async;

typedef struct dmcp_gw_upstream_ops {
    const char *kind; /* "http", "stdio" */
    /*
     * Opens an upstream session: initialize (sending initialize_params) + notifications/
     * initialized. On DMCP_OK *out is the session and *init_result (if init_result != NULL)
     * the upstream's initialize result {protocolVersion, capabilities, serverInfo,
     * instructions?} (new ref). Failure statuses: DMCP_E_UNREACHABLE (cannot connect / child
     * did not start), DMCP_E_TIMEOUT, DMCP_E_PROTOCOL (garbage / JSON-RPC error),
     * DMCP_E_RATE_LIMITED (session/children cap), with err->message filled (no secrets).
     * Thread-safety: any thread, concurrently.
     */
    dmcp_status (*open)(dmcp_gw_upstream *up, const dmcp_gw_open_params *p, dmcp_gw_usession **out,
                        json_t **init_result, dmcp_error *err);
    /*
     * Sends one JSON-RPC request (msg borrowed; its id is the gateway's own, unique within the
     * session; the implementation may rewrite it on the wire but must answer with it) and
     * blocks until the final response. On DMCP_OK *response is the upstream's response object
     * {jsonrpc,id,result} or {jsonrpc,id,error} (new ref; a JSON-RPC error from upstream is
     * still DMCP_OK). Otherwise *response stays NULL and err says why:
     *   DMCP_E_UNREACHABLE  connection refused/reset, child died (-> HTTP 502 style)
     *   DMCP_E_TIMEOUT      no final response within timeout_ms (-> 504 / -32001)
     *   DMCP_E_PROTOCOL     malformed / oversized answer, wrong content type
     *   DMCP_E_NOT_FOUND    the upstream forgot the session (HTTP 404): reopen and retry once
     *   DMCP_E_CANCELLED    sink->is_cancelled turned true (notifications/cancelled was sent)
     *   DMCP_E_UPSTREAM     another HTTP error status (err->http_status set)
     * Thread-safety: concurrent requests on one session are allowed.
     */
    dmcp_status (*request)(dmcp_gw_usession *s, const json_t *msg, const dmcp_gw_request_params *p,
                           json_t **response, dmcp_error *err);
    /*
     * Optional: sends msg as .request does and returns at once; it never blocks (a message it
     * cannot write at once is not taken). DMCP_OK: it is out and a->done will run exactly
     * once (possibly before this returns). Anything else: nothing was sent and done never
     * runs (the caller uses .request: e.g. a child that must be started first, or one that
     * does not read its input).
     * A server->client request the upstream sends for it is refused (there is no live stream
     * to carry it). Thread-safety: as .request.
     */
    dmcp_status (*request_async)(dmcp_gw_usession *s, const json_t *msg, const dmcp_gw_async *a);
    /* Forwards a client notification (e.g. notifications/cancelled with the gateway's request
     * id, roots/list_changed). Best effort; any thread. */
    dmcp_status (*notify)(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err);
    /* Answers a server->client request received through on_message. msg is a complete
     * JSON-RPC response {jsonrpc,id,result|error} with the upstream's id. Any thread. */
    dmcp_status (*respond)(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err);
    /* Ends the session (HTTP: DELETE; stdio: stop/reap the child). Waits for requests still
     * running on it to return (they fail with DMCP_E_CANCELLED). s is invalid afterwards. */
    void (*close)(dmcp_gw_usession *s);
    /* Optional: what another replica needs to continue this session (.open's resume), as a
     * small JSON object (new ref), or NULL when it cannot be continued elsewhere. */
    json_t *(*session_state)(dmcp_gw_usession *s);
    /* Optional: lets go of the session here without ending it upstream (another replica may
     * continue it); NULL means .close. s is invalid afterwards. */
    void (*detach)(dmcp_gw_usession *s);
    /* Frees the upstream after all its sessions were closed. */
    void (*free)(dmcp_gw_upstream *up);
} dmcp_gw_upstream_ops;

/* Every implementation's upstream begins with this. */
struct dmcp_gw_upstream {
    const dmcp_gw_upstream_ops *ops;
    char *name;   /* config name ("calendar"); set (malloc'd) by the gateway after _new */
    char *prefix; /* "calendar__", or NULL = no prefix (single upstream); malloc'd likewise */
    /* .free must free(name) and free(prefix) too. */
};

/* --- constructors --------------------------------------------------------------------- */

/* Options common to every upstream kind. */
typedef struct dmcp_gw_upstream_options {
    unsigned connect_timeout_ms;          /* 0 = 5000 */
    unsigned request_timeout_ms;          /* default per request; 0 = 60000 */
    size_t max_message_bytes;             /* 0 = DMCP_GW_MAX_MESSAGE_BYTES */
    const dmcp_gw_header *static_headers; /* from the config, on every upstream request (HTTP) */
    size_t static_header_count;
    unsigned max_sessions; /* HTTP: upstream sessions; stdio: children (0 = 256) */
    unsigned idle_seconds; /* stdio: reap a child idle this long (0 = 600) */
} dmcp_gw_upstream_options;

/* A Streamable HTTP upstream at url (http or https). Copies everything. (upstream_http.c) */
dmcp_status dmcp__gw_http_upstream_new(const char *url, const dmcp_gw_upstream_options *o,
                                       dmcp_gw_upstream **out, dmcp_error *err);
/* A stdio upstream: argv[0] found on PATH, argv NULL-terminated, one child per session.
 * Copies everything. (upstream_stdio.c, branch gwstdio) */
dmcp_status dmcp__gw_stdio_upstream_new(const char *const *argv, const dmcp_gw_upstream_options *o,
                                        dmcp_gw_upstream **out, dmcp_error *err);

/* Convenience wrappers (NULL-safe for close/free). */
static inline void dmcp_gw_upstream_free(dmcp_gw_upstream *up)
{
    if (up)
        up->ops->free(up);
}

#ifdef __cplusplus
}
#endif

#endif /* DMCP_GATEWAY_UPSTREAM_H */
