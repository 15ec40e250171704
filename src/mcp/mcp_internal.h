/*
 * Internals of the MCP runtime (src/mcp). Layers, bottom up:
 *   jsonrpc.c   bytes -> checked JSON-RPC message; response/error builders
 *   schema.c    the JSON Schema subset tool arguments are checked against
 *   context.c   principal, result, call context, HTTP response/authorizer objects
 *   tools.c     tool registry, tools/list, tools/call
 *   lifecycle.c the "era adapter" for the 2025 session-based revisions (handshake, version,
 *               gating); the stateless 2026-07-28 revision is meant to sit beside it
 *   dispatch.c  method table: message -> handler, notifications
 *   session.c   session table (CSPRNG ids, principal binding, in-flight requests)
 *   http*.c, sse.c  Streamable HTTP on libmicrohttpd (its files: http_internal.h)
 *   stdio.c     stdio transport
 *   server.c    the dmcp_server object, configuration, run loop
 */
#ifndef DMCP_MCP_INTERNAL_H
#define DMCP_MCP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "dmcp/forward.h"
#include "internal.h"

#define DMCP__TOOL_NAME_MAX 64
#define DMCP__SESSION_ID_BYTES 24 /* 192 bits from getrandom(2), hex encoded */
#define DMCP__SESSION_ID_LEN (2 * DMCP__SESSION_ID_BYTES)
#define DMCP__MAX_INFLIGHT 256 /* concurrent requests tracked per session */

/* ---- jsonrpc.c ---- */

typedef enum dmcp__msg_kind {
    DMCP__MSG_INVALID = 0,
    DMCP__MSG_REQUEST,
    DMCP__MSG_NOTIFICATION,
    DMCP__MSG_RESPONSE
} dmcp__msg_kind;

/*
 * Parses one HTTP body / stdio line. Enforces: size <= max, no NUL byte, nesting depth <=
 * DMCP_MAX_JSON_DEPTH, valid UTF-8 and JSON (jansson, duplicate keys rejected). Returns the
 * value (object or array) or NULL; on NULL *code is -32700 (parse) or -32600 (shape).
 */
json_t *dmcp__jsonrpc_parse(const char *data, size_t len, size_t max, int *code);
/* Classifies one message; on INVALID, *id is the id to answer with (borrowed, may be NULL). */
dmcp__msg_kind dmcp__jsonrpc_classify(const json_t *msg, const json_t **id);
/* {"jsonrpc":"2.0","id":id,"result":result}. Takes result. id borrowed (NULL -> null). */
json_t *dmcp__jsonrpc_result(const json_t *id, json_t *result);
/* {"jsonrpc":"2.0","id":id,"error":{code,message[,data]}}. Takes data. */
json_t *dmcp__jsonrpc_error(const json_t *id, int code, const char *message, json_t *data);
/* {"jsonrpc":"2.0","method":m,"params":p}. Takes params. */
json_t *dmcp__jsonrpc_notification(const char *method, json_t *params);
/* Compact serialisation (one line, no NUL). Caller frees with free(). */
char *dmcp__json_dump(const json_t *v, size_t *len);

/* ---- schema.c ---- */

/*
 * Checks value against the schema subset. Returns true when valid; otherwise writes a short
 * description naming the failing path to msg.
 */
bool dmcp__schema_check(const json_t *schema, const json_t *value, char *msg, size_t msg_len);
/* True when schema is an acceptable tool schema (object with "type":"object"). */
bool dmcp__schema_is_object_schema(const json_t *schema);

/* ---- session.c ---- */

typedef struct dmcp__stream dmcp__stream;
typedef struct dmcp__session dmcp__session;

/*
 * What the MCP layers (outbound.c) may ask of the transport that owns a session: a small
 * interface the transport provides, so the layers below never call into a transport's files
 * (no circle between outbound.c and the HTTP transport).
 */
typedef struct dmcp__transport {
    /* An unsolicited message on the session's standalone stream (takes msg); DMCP_E_STATE
     * when the client has no such stream open. */
    dmcp_status (*send_unsolicited)(dmcp__session *sess, json_t *msg);
    /* The session was ended elsewhere (another instance's DELETE): close what the transport
     * holds open for it (the GET stream). May be NULL. */
    void (*end)(dmcp__session *sess);
} dmcp__transport;

typedef struct dmcp__inflight {
    json_t *id; /* the request id (own reference); NULL = free slot */
    atomic_bool *cancelled;
} dmcp__inflight;

/*
 * Session state shared by every transport: an HTTP session, the single implicit stdio
 * session, or a transient one per stateless request.
 */
struct dmcp__session {
    char id[DMCP__SESSION_ID_LEN + 1];
    char *binding;           /* principal binding key at creation, or NULL */
    char version[16];        /* negotiated protocol version */
    atomic_bool initialized; /* initialize answered; version is final once this is set */
    bool client_ready;       /* notifications/initialized received */
    atomic_int log_level;    /* minimum dmcp_log_level for notifications/message */
    json_t *client_caps;     /* client capabilities from initialize */
    json_t *client_info;
    pthread_mutex_t mu; /* guards everything below and the flags above */
    dmcp__inflight inflight[DMCP__MAX_INFLIGHT];
    dmcp__stream *get_stream; /* standalone GET stream, or NULL */
    atomic_int refs;
    bool ended;
    bool counted;        /* counted in the table's sessions of its binding */
    atomic_int requests; /* HTTP requests of this session being served */
    atomic_int streams;  /* live SSE responses of this session */
    time_t last_used;
    uint64_t next_event;           /* event id counter (per session) */
    json_t *subs;                  /* resources/subscribe: uri -> true (capped) */
    struct dmcp__sink *out;        /* stdio: where unsolicited messages go (else the GET stream) */
    struct dmcp__pending *pending; /* server->client requests awaiting an answer */
    size_t n_pending;
    json_int_t next_out_id; /* ids of server->client requests */
    bool no_answers;        /* the client can no longer answer (stdio EOF, session ended) */
    const dmcp__transport *transport; /* the owning transport's interface, or NULL */
    struct dmcp__mrtr *mrtr;          /* 2026-07-28 request (transient session; owned), or NULL */
    /* A 2026-07-28 subscriptions/listen stream (transient session): the listen request's id,
     * tagged on every notification, and the DMCP_LIST_* it opted in to. NULL: not a listener. */
    json_t *listen_id;
    unsigned listen_lists;
    /* Told the id when the session is freed (forwarder's session_end), or NULL. With a shared
     * store (end_if_deleted) only a session DELETEd here has ended for good; any other local
     * copy that goes away (evicted, idle here, server stop) is only released (on_release): the
     * session lives on in the store for the other instances. */
    void (*on_end)(void *ud, const char *id);
    void (*on_release)(void *ud, const char *id);
    void *on_end_ud;
    bool end_if_deleted;
    atomic_bool deleted_here;
    /* Shared store (session_store.c): the record was read at store_epoch; stale when another
     * instance changed or ended it; dirty when this instance changed it (to be written). */
    json_t *attrs; /* capped JSON object kept with the record (gateway use), or NULL */
    atomic_uint store_epoch;
    atomic_bool store_stale;
    atomic_bool store_dirty;
    atomic_llong store_touched; /* when the record's idle TTL was last refreshed (unix s) */
    struct dmcp__session *next; /* hash chain */
};

typedef struct dmcp__session_table dmcp__session_table;

/* max sessions in all; at most max_per_binding (0: no cap) per principal binding key. */
dmcp_status dmcp__sessions_new(size_t max, size_t max_per_binding, dmcp__session_table **out);
void dmcp__sessions_free(dmcp__session_table *t);
/* A fresh, unregistered session (transient / stdio). Ownership: one reference. */
dmcp__session *dmcp__session_new_local(void);
/* Creates and registers a session with a CSPRNG id. Ownership: one reference for the caller.
 * A binding at its cap first ends its least recently used idle session; DMCP_E_RATE_LIMITED
 * when all of them are busy, DMCP_E_TOO_LARGE when the table is full. */
dmcp_status dmcp__sessions_create(dmcp__session_table *t, const char *binding, dmcp__session **out);
/*
 * Looks up a live session; NULL when unknown or ended. Ownership: new reference.
 * The id is compared in constant time with respect to its contents.
 */
dmcp__session *dmcp__sessions_find(dmcp__session_table *t, const char *id);
/* Every session created from now on reports its end (its last reference) to fn; with
 * end_if_deleted (a shared store), only when dmcp__session_mark_deleted was called, and to
 * release (may be NULL) otherwise. */
void dmcp__sessions_set_on_end(dmcp__session_table *t, void (*fn)(void *, const char *),
                               void (*release)(void *, const char *), void *ud,
                               bool end_if_deleted);
/* The session was DELETEd on this instance: its end is for good (see on_end). */
void dmcp__session_mark_deleted(dmcp__session *s);
/* Every session created or adopted from now on belongs to this transport (NULL: none). */
void dmcp__sessions_set_transport(dmcp__session_table *t, const dmcp__transport *tr);
/* Registers a session under a known id (one read from the shared store), or returns the live
 * one already registered under it. Ownership: one reference. Limits as dmcp__sessions_create. */
dmcp_status dmcp__sessions_adopt(dmcp__session_table *t, const char *id, const char *binding,
                                 dmcp__session **out);
/* Ends and unregisters a session (later lookups fail). */
void dmcp__sessions_end(dmcp__session_table *t, dmcp__session *s);
/* Ends sessions idle for longer than idle seconds. */
void dmcp__sessions_expire(dmcp__session_table *t, time_t now, unsigned idle);
size_t dmcp__sessions_count(dmcp__session_table *t);
void dmcp__session_ref(dmcp__session *s);
void dmcp__session_unref(dmcp__session *s);
/* In-flight request tracking for notifications/cancelled. */
dmcp_status dmcp__session_track(dmcp__session *s, const json_t *id, atomic_bool *flag);
void dmcp__session_untrack(dmcp__session *s, const json_t *id, atomic_bool *flag);
bool dmcp__session_cancel(dmcp__session *s, const json_t *id);
/* Cancels every in-flight request (server shutdown). */
void dmcp__session_cancel_all(dmcp__session *s);
/* Fills buf (len >= 2*n+1) with a hex CSPRNG string; DMCP_E_INTERNAL if getrandom fails. */
dmcp_status dmcp__random_hex(char *buf, size_t nbytes);

/* ---- sinks: where server->client notifications of a request go ---- */

typedef struct dmcp__sink {
    /* Delivers one message. Ownership: takes msg. Thread-safety: may be called from the
     * handler's thread while the transport reads. */
    dmcp_status (*send)(struct dmcp__sink *sink, json_t *msg);
    void *ud;
    bool live; /* messages reach the client while the handler runs (not buffered) */
    /* Ends the transport's response early, keeping the stream resumable (NULL: cannot). */
    dmcp_status (*close)(struct dmcp__sink *sink, unsigned retry_ms);
} dmcp__sink;

/* ---- generic registry (resources, templates, prompts) ---- */

typedef struct dmcp__reg {
    void **items;
    size_t count, cap;
    json_t *index; /* key -> integer index */
} dmcp__reg;

/* Adds item under key; DMCP_E_INVALID_ARG for a duplicate key. Does not free item. */
dmcp_status dmcp__reg_add(dmcp__reg *reg, const char *key, void *item);
void *dmcp__reg_find(const dmcp__reg *reg, const char *key);
/* Frees the arrays; items are freed by the caller first. */
void dmcp__reg_free(dmcp__reg *reg);
/*
 * Pagination (Basic › Utilities › Pagination): the cursor is "<prefix><offset>", opaque to
 * clients. Computes the page [off, end); false with code and message set on a bad cursor.
 */
bool dmcp__page(const json_t *params, char prefix, size_t count, size_t page_size, size_t *off,
                size_t *end, int *code, const char **message);
/* Sets nextCursor in res when end < count. */
void dmcp__set_next_cursor(json_t *res, char prefix, size_t end, size_t count);

/* ---- server object (server.c) ---- */

typedef struct dmcp__toolreg {
    dmcp_tool **tools;
    size_t count, cap;
    json_t *index; /* name -> integer index */
} dmcp__toolreg;

struct dmcp_server {
    char *name, *version, *title, *instructions;
    dmcp__toolreg tools;
    dmcp__reg resources, templates, prompts;
    unsigned list_changed; /* DMCP_LIST_* declared */
    bool has_completions;  /* some prompt argument or template variable completes */
    pthread_mutex_t stdio_mu;
    dmcp__session *stdio_sess; /* the stdio session while dmcp_server_run_stdio runs */
    pthread_mutex_t listen_mu;
    dmcp__session **listeners; /* open subscriptions/listen streams (a reference each) */
    size_t n_listeners, cap_listeners;
    dmcp_authorizer *authorizer;
    unsigned page_size;
    /* HTTP configuration */
    char *listen_host;
    unsigned listen_port;
    char *endpoint;
    bool stateless;
    bool get_stream;
    char **allowed_hosts;
    size_t n_allowed_hosts;
    char **allowed_origins;
    size_t n_allowed_origins;
    unsigned heartbeat;
    unsigned threads;
    unsigned max_sessions, idle_seconds;
    size_t max_body;
    size_t max_buffered;           /* request body bytes buffered at once, server-wide */
    double lim[DMCP_LIMIT__COUNT]; /* the other limits (dmcp_server_set_limit) */
    bool health;                   /* /healthz and /readyz on the listen address */
    struct {
        char *path, *content_type, *body;
    } statics[DMCP_MAX_STATIC_DOCS]; /* dmcp_server_add_static */
    size_t n_statics;
    char *metrics_host;            /* the opt-in metrics listener, or NULL */
    unsigned metrics_port;
    char *access_log_path;              /* "-" = stderr; NULL = no access log */
    int access_log_level;               /* a dmcp__accesslog_level */
    struct dmcp__accesslog *access_log; /* open while the server runs */
    unsigned shutdown_timeout;
    atomic_int fwd_later; /* calls taken by dmcp_forwarder.start not yet freed (http_defer.c) */
    char *tls_cert, *tls_key;
    /* 2026-07-28 */
    unsigned char state_key[1024]; /* requestState HMAC key (dmcp_server_set_state_key) */
    size_t state_key_len;
    json_int_t cache_ttl_ms; /* caching hints (dmcp_server_set_cache_hint) */
    int cache_public;        /* -1: public without an authorizer, private with one */
    /* runtime state */
    atomic_bool started;
    atomic_bool stopping;
    atomic_uint bound_port; /* readable from any thread (dmcp_server_port) */
    atomic_uint bound_metrics_port;
    struct dmcp__http *http;
    dmcp__session_table *sessions;
    /* forwarding (forward.c) */
    dmcp_forwarder fwd; /* fwd.request NULL: none; fwd.capabilities is fwd_caps */
    json_t *fwd_caps;
    /* shared state (issue 10): borrowed; NULL = in-process (session_store.c) */
    struct dmcp_store *store;
    bool state_key_set;      /* dmcp_server_set_state_key called: never replaced by the store's */
    atomic_uint store_epoch; /* bumped when the store's subscription was (re)made */
    json_int_t store_tag;    /* this instance's random tag in server->client request ids */
    /* The HTTP transport's handler of stream events other instances publish (sse_shared.c). */
    void (*store_event)(dmcp_server *srv, const char *msg, size_t len);
    /* What other instances' messages deliver here (set by server.c, so session_store.c names
     * no function of the layers above it): */
    struct {
        /* a server-wide notification, to this instance's streams (dmcp__notify_local) */
        void (*notify)(dmcp_server *srv, const char *method, const char *uri);
        /* a client's answer to a server->client request (dmcp__session_deliver_response) */
        bool (*answer)(dmcp__session *sess, const json_t *msg);
        /* the session ended: no more answers (dmcp__session_wake_pending) */
        void (*wake)(dmcp__session *sess);
        /* a message for the session's standalone stream (dmcp__session_send_unsolicited) */
        dmcp_status (*unsolicited)(dmcp__session *sess, json_t *msg);
    } store_up;
    bool store_listening;
};

/* server.c: DMCP_OK while srv may still be configured (not NULL, not started). */
dmcp_status dmcp__server_check_cfg(const dmcp_server *srv);

/* ---- session_store.c: 2025-era sessions in a shared store ---- */

/* Starts/stops the invalidation listener and shares the state key (no-ops without a shared
 * store). */
dmcp_status dmcp__sstore_start(dmcp_server *srv);
void dmcp__sstore_stop(dmcp_server *srv);
/* True when srv has a shared store. */
bool dmcp__sstore_on(const dmcp_server *srv);
/*
 * Finds a session: the local table, validated against the store when shared (a miss, a stale
 * or an old-epoch entry reads the record; the idle TTL is refreshed at most every few
 * seconds). NULL with *st = DMCP_E_NOT_FOUND (unknown/ended) or DMCP_E_UNREACHABLE (store
 * down). Ownership: new reference.
 */
dmcp__session *dmcp__sstore_find(dmcp_server *srv, const char *id, dmcp_status *st);
/* Writes the session's record (after initialize, or when dirty) and tells the other instances
 * to re-read it. */
dmcp_status dmcp__sstore_save(dmcp_server *srv, dmcp__session *sess, bool announce);
/* Writes the record when the session is dirty (no-op without a shared store). */
dmcp_status dmcp__sstore_flush(dmcp_server *srv, dmcp__session *sess);
/* DELETE: removes the record and tells every instance to drop its copy. */
dmcp_status dmcp__sstore_end(dmcp_server *srv, dmcp__session *sess);
/* A client's answer to a server->client request that no handler of this instance waits for:
 * published for the instance whose handler does (no-op without a shared store). */
void dmcp__sstore_forward_response(dmcp_server *srv, dmcp__session *sess, const json_t *msg);
/* The id of a new server->client request: unique across instances with a shared store. */
json_int_t dmcp__sstore_out_id(dmcp_server *srv, dmcp__session *sess);
/* Publishes an event of a resumable stream and logs it under ev:<session>:<stream>. */
dmcp_status dmcp__sstore_stream_event(dmcp_server *srv, const char *sid, unsigned long stream_no,
                                      unsigned long seq, bool final, const char *text, size_t len);
/* The logged events of a stream ("<seq> <final> <event>" each), oldest first. */
dmcp_status dmcp__sstore_stream_log(dmcp_server *srv, const char *sid, unsigned long stream_no,
                                    char ***items, size_t **lens, size_t *n);
/* A message for a session's standalone stream that this instance cannot deliver (no stream
 * here): published for the instance holding the stream (takes msg). DMCP_OK when published;
 * delivery is best effort (no instance may hold one). DMCP_E_STATE without a shared store. */
dmcp_status dmcp__sstore_send_unsolicited(dmcp_server *srv, const char *sid, json_t *msg);
/* Publishes a server-wide notification (list_changed, resources/updated) for the other
 * instances, which deliver it to the streams they hold (no-op without a shared store). */
void dmcp__sstore_broadcast_notify(dmcp_server *srv, const char *method, const char *uri);
/* outbound.c: delivers a server-wide notification to this instance's streams only. */
void dmcp__notify_local(dmcp_server *srv, const char *method, const char *uri);
/* The store can be used (for /readyz); true without a shared store. */
bool dmcp__sstore_ready(dmcp_server *srv);

/* ---- context.c ---- */

struct dmcp_call {
    dmcp_server *srv;
    dmcp__session *sess; /* may be transient */
    const dmcp_principal *principal;
    const json_t *id;
    const char *tool_name;
    const char *version;
    json_t *progress_token; /* borrowed from the request, or NULL */
    double last_progress;
    bool sent_progress;
    atomic_bool cancelled;
    bool stateless;
    dmcp__sink *sink;
    char input_key[72]; /* 2025: dmcp_call_set_input_key's key for the next request's _meta */
    struct dmcp__deferred *later; /* a call taken by dmcp_forwarder.start (http_defer.c) */
};

struct dmcp_result {
    json_t *content;    /* array */
    json_t *structured; /* or NULL */
    bool is_error;
};

void dmcp__result_init(dmcp_result *r);
void dmcp__result_clear(dmcp_result *r);
/* Builds the CallToolResult object, consuming the result's contents. */
json_t *dmcp__result_to_json(dmcp_result *r);
/* RFC 5424 level name ("info") to dmcp_log_level, or -1. */
int dmcp__log_level_parse(const char *name);
/* {content:[{type:text,text}],isError:true} */
json_t *dmcp__tool_error_result(const char *text);

struct dmcp_http_response {
    unsigned status;
    char **names, **values;
    size_t nheaders;
    char *content_type;
    char *body;
    size_t body_len;
};

struct dmcp_authorizer {
    void *userdata;
    void (*free_userdata)(void *);
    dmcp_route_fn route;
    dmcp_authenticate_fn authenticate;
    dmcp_authorize_tool_fn authorize_tool;
    dmcp_ready_fn ready;
};

/* ---- tools.c ---- */

struct dmcp_tool {
    char *name, *title, *description;
    json_t *input_schema, *output_schema, *annotations;
    char **scopes;
    size_t n_scopes;
    bool streaming;
    dmcp_tool_fn handler;
    void *userdata;
};

void dmcp__toolreg_free(dmcp__toolreg *reg);
const dmcp_tool *dmcp__tool_find(const dmcp_server *srv, const char *name);
/* tools/list result (params may be NULL); on error returns NULL and sets *code, *message. */
json_t *dmcp__tools_list(const dmcp_server *srv, const json_t *params, int *code,
                         const char **message);
/* Runs a tool (arguments checked first); returns the CallToolResult. */
json_t *dmcp__tool_run(const dmcp_tool *tool, const json_t *arguments, dmcp_call *call);

/* ---- resources.c, prompts.c, completion.c ---- */

/* uri_template.c: the longest URI or URI template accepted, in bytes. */
#define DMCP__MAX_URI 2048

void dmcp__resources_free(dmcp_server *srv);
void dmcp__prompts_free(dmcp_server *srv);
/* Method handlers; NULL result with code and message set (and data, which the caller takes). */
json_t *dmcp__resources_list(const dmcp_server *srv, const json_t *params, int *code,
                             const char **message);
json_t *dmcp__templates_list(const dmcp_server *srv, const json_t *params, int *code,
                             const char **message);
json_t *dmcp__resources_read(const dmcp_server *srv, const dmcp_principal *principal,
                             const json_t *params, int *code, const char **message, json_t **data);
json_t *dmcp__resources_subscribe(const dmcp_server *srv, dmcp__session *sess, const json_t *params,
                                  bool subscribe, int *code, const char **message, json_t **data);
json_t *dmcp__prompts_list(const dmcp_server *srv, const json_t *params, int *code,
                           const char **message);
/* call: the request (a prompt may ask through it), or NULL. NULL result with *code: an error
 * (the handler's DMCP_E_INPUT_REQUIRED included: the era adapter turns that into its answer). */
json_t *dmcp__prompts_get(const dmcp_server *srv, const dmcp_principal *principal,
                          const json_t *params, dmcp_call *call, int *code, const char **message);
json_t *dmcp__complete(const dmcp_server *srv, const json_t *params, int *code,
                       const char **message);
/* Completion lookups used by completion.c. */
bool dmcp__prompt_completer(const dmcp_server *srv, const char *prompt, const char *arg,
                            bool *known, dmcp_complete_fn *fn, void **ud);
bool dmcp__template_completer(const dmcp_server *srv, const char *uri_template, const char *var,
                              bool *known, dmcp_complete_fn *fn, void **ud);
/* Parses an RFC 6570 level-1 template; returns the variable names (array) or NULL. */
json_t *dmcp__uri_template_vars(const char *tmpl);
/* Matches uri against a level-1 template; returns the variables object or NULL. */
json_t *dmcp__uri_template_match(const char *tmpl, const char *uri);

/* ---- outbound.c: server->client messages ---- */

/* A client's JSON-RPC response to a server->client request (ignored when nothing awaits it). */
/* Hands a client's answer to the waiting server->client request; false when none waits here. */
bool dmcp__session_deliver_response(dmcp__session *sess, const json_t *msg);
/* No answer can arrive any more (stdio EOF, session ended): wakes and fails every waiting
 * server->client request. */
void dmcp__session_wake_pending(dmcp__session *sess);
/* Sends an unsolicited message on the session's standalone stream. Takes msg. */
dmcp_status dmcp__session_send_unsolicited(dmcp__session *sess, json_t *msg);
/* Calls fn on every live, initialized session (HTTP table). */
void dmcp__sessions_foreach(dmcp__session_table *t, void (*fn)(dmcp__session *, void *), void *ud);
/*
 * Registers a 2026-07-28 listen session (takes a reference) so list_changed and
 * resources/updated reach it. Listeners whose stream has ended (get_stream NULL) are dropped
 * here and on every notification.
 */
dmcp_status dmcp__listeners_add(dmcp_server *srv, dmcp__session *sess);
/* Drops every listener (server stop / free). */
void dmcp__listeners_clear(dmcp_server *srv);

/* ---- lifecycle.c (era adapter: 2025 session-based revisions) ---- */

bool dmcp__version_supported(const char *v);
/* Negotiated version for a requested one (MCP Lifecycle §1.1.1). */
const char *dmcp__version_negotiate(const char *requested);
/* Whether JSON-RPC batches are allowed in this revision (2025-03-26 only). */
bool dmcp__version_allows_batch(const char *v);
/* initialize: records client data in sess and returns the InitializeResult. */
json_t *dmcp__lifecycle_initialize(dmcp_server *srv, dmcp__session *sess, const json_t *params,
                                   int *code, const char **message);
/*
 * Gate for requests (MCP Lifecycle §1): before initialize only ping (and initialize) pass.
 * Returns 0 to proceed or a JSON-RPC error code with *message.
 */
int dmcp__lifecycle_gate(const dmcp__session *sess, const char *method, bool stateless,
                         const char **message);

/* Capabilities object of the server (initialize, server/discover). */
json_t *dmcp__server_capabilities(const dmcp_server *srv);

/* ---- era26.c (era adapter: the stateless 2026-07-28 revision) ---- */

#define DMCP__JSONRPC_HEADER_MISMATCH (-32020)
#define DMCP__JSONRPC_MISSING_CAPABILITY (-32021)
#define DMCP__JSONRPC_UNSUPPORTED_VERSION (-32022)

/* The request headers the 2026 rules look at (raw values; NULL when absent). */
typedef struct dmcp__era26_headers {
    const char *version; /* MCP-Protocol-Version */
    const char *method;  /* Mcp-Method */
    const char *name;    /* Mcp-Name */
} dmcp__era26_headers;

/* Input-required results of one 2026 request (hung on its transient session). */
typedef struct dmcp__mrtr {
    char *binding; /* principal binding key, or NULL */
    char *method;
    char *name;       /* tool/prompt name or uri, or NULL */
    json_t *answers;  /* key -> the client's answer (requestState + inputResponses) */
    json_t *requests; /* key -> {method, params}: asked in this run */
    json_t *missing;  /* capability -> {}: needed but not declared */
    json_t *used;     /* keys this run asked (answered or not), or NULL */
    unsigned seq;
    char next_key[65];
} dmcp__mrtr;

/* True when a POST is served under 2026-07-28 (its header or its _meta says so). */
bool dmcp__era26_applies(const char *header_version, const json_t *body);
bool dmcp__era26_method_known(const char *method);
/* A header value trimmed and, in the =?base64?...?= form, decoded. NULL with *invalid set
 * for bad base64; NULL for raw NULL. Caller frees. */
char *dmcp__era26_header_value(const char *raw, bool *invalid);
/* The checks before dispatch (§6): 0, or a JSON-RPC code with *http, *message, *data.
 * h NULL: a transport without headers (stdio), where only the _meta rules apply. */
int dmcp__era26_check(const json_t *msg, const dmcp__era26_headers *h, unsigned *http,
                      const char **message, json_t **data);
/* Fills a transient session from the request's _meta (caps, info, log level). */
void dmcp__era26_prepare_session(dmcp__session *sess, const json_t *msg);
/*
 * subscriptions/listen: reads params.notifications into sess (listen_lists, subs for
 * resourceSubscriptions) and returns the filter the server honours, for the acknowledgement
 * (new reference). NULL with code and message set when the params are invalid.
 */
json_t *dmcp__era26_listen_filter(const dmcp_server *srv, dmcp__session *sess, const json_t *params,
                                  int *code, const char **message);
/* ---- era26_session.c (transient 2026 sessions, shared by the transports) ---- */

/* A transient session for one 2026 request: _meta applied, input-required state attached
 * (bound to p's binding key, the method and its name/uri). NULL: out of memory. */
dmcp__session *dmcp__era26_request_session(const dmcp_principal *p, const json_t *body);
/* A transient session for a subscriptions/listen request: filter read, subscription id and
 * transport (may be NULL) set, *ack the acknowledgement to send first (new reference). NULL
 * with *code and *message when the params are invalid or memory ran out. The caller
 * registers it with dmcp__listeners_add() once its stream or sink is in place. */
dmcp__session *dmcp__era26_listen_session(const dmcp_server *srv, const json_t *body,
                                          const dmcp__transport *transport, json_t **ack,
                                          int *code, const char **message);
/* The acknowledgement, first on a listen stream; listen_id is set on sess. Takes filter. */
json_t *dmcp__era26_listen_ack(const dmcp__session *sess, json_t *filter);
/* Whether a notification passes a listener's filter; tags it with the subscription id. */
bool dmcp__era26_listen_tag(const dmcp__session *sess, json_t *msg);
json_t *dmcp__era26_discover(const dmcp_server *srv);
/* resultType and the caching hints on a result of method (in place). */
void dmcp__era26_decorate(const dmcp_server *srv, const char *method, json_t *result);
/* Reads requestState (verified) and inputResponses: 0, or a JSON-RPC code and *message. */
int dmcp__mrtr_begin(const dmcp_server *srv, dmcp__mrtr *m, const json_t *params,
                     const char **message);
dmcp__mrtr *dmcp__mrtr_new(const char *binding, const char *method, const char *name);
void dmcp__mrtr_free(dmcp__mrtr *m);
/* A handler's result (taken; NULL: the handler failed, code and message say how) -> the
 * answer: itself, an input-required result when it asked, or NULL with an error (-32021 when
 * it gave up for want of an undeclared capability). */
json_t *dmcp__mrtr_finish(const dmcp_server *srv, dmcp__mrtr *m, json_t *result, int *code,
                          const char **message, json_t **data);
/* dmcp_call_request under 2026-07-28 (cap: the client capability needed, or NULL). */
dmcp_status dmcp__mrtr_request(dmcp_call *call, const char *method, const char *cap,
                               const json_t *params, json_t **result);

/* ---- dispatch.c ---- */

/* Everything a message needs to be processed. */
typedef struct dmcp__rpc_ctx {
    dmcp_server *srv;
    dmcp__session *sess;
    const dmcp_principal *principal;
    const char *version; /* effective protocol version */
    bool stateless;
    bool authorized;  /* the transport already ran dmcp__authorize_call() */
    dmcp__sink *sink; /* notifications for the request's stream; may be NULL */
} dmcp__rpc_ctx;

/* Answers one request (classified DMCP__MSG_REQUEST). Never NULL unless out of memory. */
json_t *dmcp__dispatch_request(dmcp__rpc_ctx *ctx, const json_t *msg);
/* Handles a notification or a response from the client (no answer). */
void dmcp__dispatch_notification(dmcp__rpc_ctx *ctx, const json_t *msg);
/*
 * Pre-dispatch authorization of a tools/call (mcp-resource-server.md §3 step 6). Returns
 * DMCP_OK to proceed; DMCP_E_INSUFFICIENT_SCOPE with *refusal (HTTP) or *result (a JSON-RPC
 * response with an isError tool result) set; other errors: *result is a JSON-RPC error.
 */
dmcp_status dmcp__authorize_call(dmcp__rpc_ctx *ctx, const json_t *msg,
                                 dmcp_http_response **refusal, json_t **result);
/* True when the request should be answered as a live SSE stream (progress token, streaming
 * tool; a forwarded request also when the forwarder streams and the session's client could
 * answer server->client requests). sess may be NULL. */
bool dmcp__wants_stream(const dmcp_server *srv, const dmcp__session *sess, const json_t *msg);
/* Processes a parsed body (object or array) completely and synchronously: returns the
 * answer (object, array, or NULL when nothing is to be answered). */
json_t *dmcp__process(dmcp__rpc_ctx *ctx, const json_t *body);

/* ---- forward.c ---- */

/* True when the forwarder serves this method. */
bool dmcp__forward_handles(const dmcp_server *srv, const char *method);
/* Serves a forwarded request (method known to be forwarded); result or error as method
 * handlers do. */
json_t *dmcp__forward_request(dmcp__rpc_ctx *ctx, const json_t *id, const char *method,
                              const json_t *params, int *code, const char **message,
                              json_t **data);
/* The scopes a forwarded tool requires (0: none). */
size_t dmcp__forward_tool_scopes(const dmcp_server *srv, const char *tool,
                                 const char *const **scopes);
/* A client notification for the forwarder. */
void dmcp__forward_notification(dmcp__rpc_ctx *ctx, const json_t *msg);
/* A forwarder's answer as result (an object, returned) or NULL and the error's code, message
 * (copied to buf) and data. Takes result and error. */
json_t *dmcp__forward_result(dmcp_status st, json_t *result, json_t *error, char *buf, size_t n,
                             int *code, const char **message, json_t **data);
/* 2026-07-28, after a forwarded or handled request of a request session: input-required
 * results (tools/call, prompts/get; begun with dmcp__mrtr_begin), the era's error codes,
 * resultType and caching hints. Takes res and data; the answer to id. */
json_t *dmcp__dispatch26_end(dmcp__rpc_ctx *ctx, dmcp__mrtr *mrtr, const json_t *id,
                             const char *method, json_t *res, int code, const char *message,
                             json_t *data);
/* The call context a forwarder sees for request id (method, params) under ctx. */
void dmcp__forward_call_init(dmcp_call *call, const dmcp__rpc_ctx *ctx, const json_t *id,
                             const char *method, const json_t *params);
/* A forwarder's answer as a JSON-RPC response to id: result (an object) when st is DMCP_OK,
 * else error's code, message and data (-32603 without them). Takes result and error. */
json_t *dmcp__forward_response(const json_t *id, dmcp_status st, json_t *result, json_t *error);
/* Releases the forwarder's state (server free). */
void dmcp__forward_free(dmcp_server *srv);

/* ---- http.c / stdio.c ---- */

dmcp_status dmcp__http_start(dmcp_server *srv, dmcp_error *err);
/* Header checks (pure; exposed for tests and fuzzing). loopback: the listen address is one. */
bool dmcp__http_host_allowed(const dmcp_server *srv, bool loopback, const char *host_header);
bool dmcp__http_origin_allowed(const dmcp_server *srv, bool loopback, const char *origin);
/* True when an Accept value lists type, its major type with a star, or any type. */
bool dmcp__http_accepts(const char *accept, const char *type);
/* True for "application/json" with optional parameters (case-insensitive). */
bool dmcp__http_content_type_json(const char *content_type);
void dmcp__http_stop(dmcp_server *srv);
unsigned dmcp__http_port(const dmcp_server *srv);

/* ---- http_framing.c ---- */

typedef enum dmcp__framing {
    DMCP__FRAMING_OK,          /* *length bytes (0: none), or *chunked */
    DMCP__FRAMING_BAD,         /* 400 and close: conflicting or invalid framing */
    DMCP__FRAMING_UNSUPPORTED, /* 501 and close: a transfer coding other than "chunked" */
} dmcp__framing;
/* Judges a request's framing from all its Content-Length values (cl, ncl) and all its
 * Transfer-Encoding values (te, nte), each a header field as received (RFC 9112 §6). Pure. */
dmcp__framing dmcp__http_framing(const char *const *cl, size_t ncl, const char *const *te,
                                 size_t nte, uint64_t *length, bool *chunked);

/* ---- http_conn.c: connection phases and their deadlines ---- */

typedef enum dmcp__conn_phase {
    DMCP__CONN_IDLE, /* accepted or between requests: waiting for a request line */
    DMCP__CONN_HEAD, /* request line received, headers arriving */
    DMCP__CONN_BODY, /* headers complete, body arriving */
    DMCP__CONN_BUSY, /* being answered (handler, response, SSE stream): no deadline */
    DMCP__CONN_PHASES
} dmcp__conn_phase;
typedef struct dmcp__conn dmcp__conn;
typedef struct dmcp__conns dmcp__conns;
typedef struct dmcp__conn_deadlines {
    double idle, header, body; /* seconds; 0 = none */
} dmcp__conn_deadlines;
double dmcp__mono_now(void);
dmcp__conns *dmcp__conns_new(void);
void dmcp__conns_free(dmcp__conns *tr);
/* Tracks a connection (fd: its socket, addr: its client); NULL when out of memory (then
 * untracked and uncounted). */
struct sockaddr;
dmcp__conn *dmcp__conn_open(dmcp__conns *tr, int fd, const struct sockaddr *addr);
typedef enum dmcp__conn_verdict {
    DMCP__CONN_ADMIT,
    DMCP__CONN_TOO_MANY,           /* max_total open already */
    DMCP__CONN_TOO_MANY_FROM_ADDR, /* max_per_addr open from this client address */
} dmcp__conn_verdict;
/* May a new connection from addr be accepted? (0 = no cap.) An admitted connection is held
 * against the caps until it opens (dmcp__conn_open), so concurrent accepts cannot pass them; an
 * admission whose connection never opens is released by the sweep after 10 s. */
dmcp__conn_verdict dmcp__conns_admit(dmcp__conns *tr, const struct sockaddr *addr,
                                     size_t max_total, size_t max_per_addr);
/* Stops tracking; must run before the socket is closed. c may be NULL. */
void dmcp__conn_close(dmcp__conns *tr, dmcp__conn *c);
void dmcp__conn_set_phase(dmcp__conns *tr, dmcp__conn *c, dmcp__conn_phase phase);
/* Shuts down the sockets of connections past their phase's deadline; counts them by phase
 * into ended (may be NULL). Returns how many. */
size_t dmcp__conns_sweep(dmcp__conns *tr, const dmcp__conn_deadlines *dl, double now,
                         size_t ended[DMCP__CONN_PHASES]);
/* Connections whose request is still arriving (HEAD or BODY). */
size_t dmcp__conns_receiving(dmcp__conns *tr);
size_t dmcp__conns_count(dmcp__conns *tr);

/* ---- limits.c: per-principal request rate and SSE streams ---- */

/* The bucket size in force: rate-burst, or 2 x rate (at least 1) when it is 0. */
double dmcp__rate_burst(const dmcp_server *srv);

typedef struct dmcp__plimits dmcp__plimits;
dmcp__plimits *dmcp__plimits_new(void);
void dmcp__plimits_free(dmcp__plimits *pl);
/* Takes one request from key's bucket (rate per second, burst capacity); returns 0 when
 * allowed, else the seconds until a token is there. rate <= 0 or key NULL: always 0. */
double dmcp__plimits_take(dmcp__plimits *pl, const char *key, double rate, double burst,
                          double now);
/* Counts one more open stream of key; false (nothing counted) at max. max 0 / key NULL: true. */
bool dmcp__plimits_stream_open(dmcp__plimits *pl, const char *key, unsigned max, double burst,
                               double now);
void dmcp__plimits_stream_close(dmcp__plimits *pl, const char *key);
/* Drops entries with no stream and a full bucket. */
void dmcp__plimits_sweep(dmcp__plimits *pl, double rate, double burst, double now);

#endif /* DMCP_MCP_INTERNAL_H */
