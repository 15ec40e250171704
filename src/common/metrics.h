/*
 * metrics - the process-wide Prometheus registry (issue 12). A FIXED set of families with
 * bounded labels: every label value comes from an enum below, or, for tool names, from a set
 * registered up front (anything else is counted under "other"). Nothing here can grow with
 * traffic, so no user id, session id or client-chosen string ever becomes a label.
 *
 * Hot path: one relaxed atomic add per counter (an observation is two); no lock, no
 * allocation. Rendering (Prometheus text format 0.0.4) reads the atomics without stopping
 * writers, so a scrape is a near-instant snapshot, never a consistent cut across families.
 * Every function here is safe to call from any thread, except dmcp__metrics_reset().
 *
 * Names: docs/operations.md has the table of families, labels and meanings.
 */
#ifndef DMCP_METRICS_H
#define DMCP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* The `method` label: the MCP JSON-RPC methods a client sends, plus HTTP-level pseudo methods. */
#define DMCP__M_METHODS(X)                                                                         \
    X(INITIALIZE, "initialize")                                                                    \
    X(INITIALIZED, "notifications/initialized")                                                    \
    X(PING, "ping")                                                                                \
    X(TOOLS_LIST, "tools/list")                                                                    \
    X(TOOLS_CALL, "tools/call")                                                                    \
    X(RESOURCES_LIST, "resources/list")                                                            \
    X(RESOURCES_TEMPLATES_LIST, "resources/templates/list")                                        \
    X(RESOURCES_READ, "resources/read")                                                            \
    X(RESOURCES_SUBSCRIBE, "resources/subscribe")                                                  \
    X(RESOURCES_UNSUBSCRIBE, "resources/unsubscribe")                                              \
    X(PROMPTS_LIST, "prompts/list")                                                                \
    X(PROMPTS_GET, "prompts/get")                                                                  \
    X(COMPLETION_COMPLETE, "completion/complete")                                                  \
    X(LOGGING_SET_LEVEL, "logging/setLevel")                                                       \
    X(CANCELLED, "notifications/cancelled")                                                        \
    X(PROGRESS, "notifications/progress")                                                          \
    X(ROOTS_LIST_CHANGED, "notifications/roots/list_changed")                                      \
    X(RESPONSE, "response")             /* a POSTed JSON-RPC response (sampling, roots...) */      \
    X(BATCH, "batch")                   /* a POSTed JSON array */                                  \
    X(STREAM, "stream")                 /* GET: the server-to-client SSE stream */                 \
    X(SESSION_DELETE, "session_delete") /* DELETE: the client ends its session */                  \
    X(NONE, "none")                     /* refused before the method was known */                  \
    X(OTHER, "other")                   /* any other method name */

typedef enum dmcp__m_method {
#define DMCP__M_ENUM(id, name) DMCP__M_METHOD_##id,
    DMCP__M_METHODS(DMCP__M_ENUM)
#undef DMCP__M_ENUM
        DMCP__M_METHOD_COUNT
} dmcp__m_method;

/* Outcome of a tool call, a token validation or a JWKS fetch. */
typedef enum dmcp__m_outcome {
    DMCP__M_OK = 0,
    DMCP__M_REFUSED, /* tool: refused (auth, scope, limit, unknown tool); token: invalid;
                        JWKS: the source answered but the document was refused */
    DMCP__M_ERROR,   /* tool: the handler failed; token: could not be judged (no keys,
                        no memory); JWKS: unreachable or timed out */
    DMCP__M_OUTCOME_COUNT
} dmcp__m_outcome;

/* Outcome of a connection-token (outbound) request. */
typedef enum dmcp__m_conn_outcome {
    DMCP__M_CONN_OK = 0,
    DMCP__M_CONN_NOT_CONNECTED, /* DMCP_E_NOT_CONNECTED */
    DMCP__M_CONN_DENIED,        /* DMCP_E_POLICY_DENIED */
    DMCP__M_CONN_RATE_LIMITED,  /* DMCP_E_RATE_LIMITED */
    DMCP__M_CONN_ERROR,         /* anything else */
    DMCP__M_CONN_OUTCOME_COUNT
} dmcp__m_conn_outcome;

/* The `limit` label: which configured limit refused a request or connection. */
#define DMCP__M_LIMITS(X)                                                                          \
    X(CONNECTIONS, "connections")                                                                  \
    X(PER_IP_CONNECTIONS, "per_ip_connections")                                                    \
    X(HEADER_TIMEOUT, "header_timeout")                                                            \
    X(BODY_TIMEOUT, "body_timeout")                                                                \
    X(IDLE_TIMEOUT, "idle_timeout")                                                                \
    X(SESSIONS, "sessions")                                                                        \
    X(SESSIONS_PER_PRINCIPAL, "sessions_per_principal")                                            \
    X(STREAMS_PER_SESSION, "streams_per_session")                                                  \
    X(STREAMS_PER_PRINCIPAL, "streams_per_principal")                                              \
    X(INFLIGHT_PER_SESSION, "inflight_per_session")                                                \
    X(RATE, "rate")                                                                                \
    X(BODY_SIZE, "body_size")                                                                      \
    X(BUFFERED_BYTES, "buffered_bytes")

typedef enum dmcp__m_limit {
#define DMCP__M_ENUM(id, name) DMCP__M_LIMIT_##id,
    DMCP__M_LIMITS(DMCP__M_ENUM)
#undef DMCP__M_ENUM
        DMCP__M_LIMIT_COUNT,
    DMCP__M_LIMIT_NONE = DMCP__M_LIMIT_COUNT /* "no limit involved" (access log only) */
} dmcp__m_limit;

typedef enum dmcp__m_gauge {
    DMCP__M_SESSIONS_OPEN = 0,
    DMCP__M_SSE_STREAMS_OPEN,
    DMCP__M_CONNECTIONS_OPEN,
    DMCP__M_JWKS_KEYS,
    DMCP__M_GAUGE_COUNT
} dmcp__m_gauge;

/* Registered tool names (each 1..DMCP__M_TOOL_NAME_MAX printable ASCII bytes). */
#define DMCP__M_TOOLS_MAX 256
#define DMCP__M_TOOL_NAME_MAX 128
#define DMCP__M_TOOL_OTHER DMCP__M_TOOLS_MAX /* the id every unregistered name maps to */

/* Latency buckets (upper bounds, inclusive), 10 us .. 10 s; +Inf is implicit. */
#define DMCP__M_BUCKETS 19

/* ---- label helpers (pure functions) ---- */

/* The label text of a method ("tools/call"); never NULL. */
const char *dmcp__metrics_method_name(dmcp__m_method m);
/* The method id for a JSON-RPC method name; NULL gives NONE, an unknown name OTHER. */
dmcp__m_method dmcp__metrics_method_id(const char *name);
/* The label text of a limit ("rate"); NONE and out of range give "none". */
const char *dmcp__metrics_limit_name(dmcp__m_limit l);
/* The label text of a token refusal reason ("expired"); unknown values give "other". */
const char *dmcp__metrics_reason_name(dmcp_reason r);
/* Maps a dmcp_connections_* status to its outcome label. */
dmcp__m_conn_outcome dmcp__metrics_conn_outcome(dmcp_status st);

/* ---- tool names ---- */

/*
 * Registers a tool name as an allowed `tool` label value and returns its id (the same id when
 * it is already registered). Returns DMCP__M_TOOL_OTHER when the table is full or the name is
 * empty, too long or not printable ASCII. Call it when a tool is added to a server, and keep
 * the id for the hot path. Thread-safety: safe (takes a mutex); never on a hot path.
 */
unsigned dmcp__metrics_tool_register(const char *name);
/* The id of a registered name, else DMCP__M_TOOL_OTHER. Lock-free; NULL gives OTHER. */
unsigned dmcp__metrics_tool_id(const char *name);
/* The label text of an id ("other" for DMCP__M_TOOL_OTHER or an unused id). Borrowed,
 * valid until dmcp__metrics_reset(). */
const char *dmcp__metrics_tool_name(unsigned id);

/* ---- recording (hot path; lock-free) ---- */

/* dmcp_http_requests_total{method,status}: one HTTP request answered with `http_status`. */
void dmcp__metrics_http_request(dmcp__m_method m, unsigned http_status);
/* dmcp_http_request_duration_seconds{method}: its latency (monotonic ns). */
void dmcp__metrics_http_duration(dmcp__m_method m, uint64_t ns);
/* dmcp_tool_calls_total{tool,outcome}; `tool` is an id from dmcp__metrics_tool_register/_id. */
void dmcp__metrics_tool_call(unsigned tool, dmcp__m_outcome o);
/* dmcp_token_validations_total{outcome,reason}. */
void dmcp__metrics_token_validation(dmcp__m_outcome o, dmcp_reason r);
/* The same from a dmcp_validator_validate() result: DMCP_OK is ok, DMCP_E_INVALID_TOKEN is
 * refused with err->reason, anything else error (reason "none"). */
void dmcp__metrics_token_validation_status(dmcp_status st, dmcp_reason r);
/* dmcp_token_cache_hits_total / dmcp_token_cache_misses_total. */
void dmcp__metrics_token_cache(bool hit);
/* dmcp_jwks_fetches_total{outcome}. */
void dmcp__metrics_jwks_fetch(dmcp__m_outcome o);
/* A key set was installed: sets dmcp_jwks_keys and restarts dmcp_jwks_key_age_seconds at 0.
 * Process-wide: with several validators the last installed key set wins. */
void dmcp__metrics_jwks_loaded(size_t nkeys);
/* dmcp_connection_token_requests_total{outcome}. */
void dmcp__metrics_connection_token(dmcp__m_conn_outcome o);
/* dmcp_limit_refusals_total{limit}. NONE and out-of-range values are ignored. */
void dmcp__metrics_limit_refusal(dmcp__m_limit l);
/* Gauges: add a delta (+1 on open, -1 on close) or set a value. */
void dmcp__metrics_gauge_add(dmcp__m_gauge g, int64_t delta);
void dmcp__metrics_gauge_set(dmcp__m_gauge g, int64_t value);

/* ---- exposition ---- */

/*
 * Appends the whole registry in the Prometheus text exposition format 0.0.4 to `out` (serve
 * it as "text/plain; version=0.0.4; charset=utf-8"). Returns DMCP_OK, or the buffer's error
 * (DMCP_E_TOO_LARGE past its cap, DMCP_E_NOMEM); on error `out` holds a partial text.
 */
dmcp_status dmcp__metrics_render(dmcp__buf *out);

/* Tests only: zeroes everything and forgets registered tools. Not safe while other threads
 * record or render. */
void dmcp__metrics_reset(void);

#endif /* DMCP_METRICS_H */
