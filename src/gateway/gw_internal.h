/* Internals of the gateway (src/gateway): the parsed configuration, the session map. */
#ifndef DMCP_GATEWAY_INTERNAL_H
#define DMCP_GATEWAY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "dmcp/gateway.h"
#include "dmcp/server.h"
#include "dmcp/auth.h"
#include "dmcp/descope.h"
#include "dmcp/signer.h"
#include "dmcp/store.h"
#include "gateway/upstream.h"

#define GW_MAX_UPSTREAMS 32
#define GW_MAX_RULES 256
#define GW_MAX_CONNECTIONS 16
#define GW_MAX_CONFIG_BYTES (1024 * 1024)

typedef struct gw_rule {
    char *glob;
    char **scopes;
    size_t n;
} gw_rule;

typedef struct gw_conn {
    char *app;
    char *header;
    char *upstream; /* NULL: every upstream */
    char **scopes;  /* NULL-terminated, or NULL */
    size_t n;
} gw_conn;

typedef struct gw_upcfg {
    char *name;
    char *prefix; /* "" for none */
    char *url;    /* or NULL */
    char **command; /* NULL-terminated, or NULL */
    dmcp_gw_header *headers;
    size_t n_headers;
    unsigned max_children; /* stdio: 0 = upstream default (256) */
    unsigned idle_seconds; /* stdio: 0 = upstream default (600) */
} gw_upcfg;

typedef struct gw_config {
    char *listen;
    char *endpoint;
    char *well_known_url;
    char *mcp_server_url;
    char *descope_api_base;
    char *store_url, *store_prefix; /* sessions shared by replicas (dmcp/store.h), or NULL */
    char **required_scopes;
    size_t n_required;
    bool tool_error_mode; /* rules answered as tool errors instead of 403 */
    gw_upcfg ups[GW_MAX_UPSTREAMS];
    size_t n_ups;
    gw_rule rules[GW_MAX_RULES];
    size_t n_rules;
    bool filter_list;
    char *id_user, *id_client, *id_tenant, *id_scopes; /* header names; NULL = not sent */
    /* The signed assertion (NULL as_header: none): header name ("Authorization" carries it
     * as "Bearer <jwt>"), PEM file (NULL: a key generated at start), lifetime, JWKS path. */
    char *as_header, *as_key_file, *as_jwks_path;
    unsigned as_ttl;
    gw_conn conns[GW_MAX_CONNECTIONS];
    size_t n_conns;
    unsigned connect_timeout_ms, request_timeout_ms;
    bool stream;
    bool upstream_log; /* one JSON line per upstream call on stderr */
    json_t *server_options; /* [[name, value]...] for dmcp_server_set_option */
} gw_config;

/* Parses and checks a configuration (schema in docs/gateway.md). DMCP_E_CONFIG with err. */
dmcp_status gw_config_parse(const json_t *doc, gw_config **out, dmcp_error *err);
void gw_config_free(gw_config *c);
/* Required scopes of a tool name: the first rule whose glob matches (0: none). */
size_t gw_config_tool_scopes(const gw_config *c, const char *tool, const char *const **scopes);

/* ---- session map (sessmap.c): client session id -> its upstream sessions ---- */

typedef struct gw_csess {
    char id[128];
    atomic_int refs;
    pthread_mutex_t mu;
    dmcp_gw_usession *us[GW_MAX_UPSTREAMS]; /* opened lazily */
    json_int_t next_id;
    struct gw_msgctx *mctx[GW_MAX_UPSTREAMS]; /* on_message context of us[i] */
    dmcp_gw_usession *retired[GW_MAX_UPSTREAMS]; /* replaced after a 404 (may still be in use) */
    bool ended;
    bool release_only; /* closing lets go of the upstream sessions without ending them */
    struct gw_csess *next;
} gw_csess;

/*
 * Where the mapping lives. In-process now (one table per gateway process); a shared store
 * (issue 10's session attrs) would implement the same calls, keeping the upstream session ids
 * so any replica can continue: the seam for replicas without affinity.
 */
typedef struct gw_sessmap gw_sessmap;
gw_sessmap *gw_sessmap_new(void);
void gw_sessmap_free(gw_sessmap *m);
/* The entry of a client session (created when absent); a new reference. NULL when out of
 * memory. */
gw_csess *gw_sessmap_get(gw_sessmap *m, const char *id);
/* Unlinks the entry; returns it (the map's reference) or NULL. */
gw_csess *gw_sessmap_take(gw_sessmap *m, const char *id);
/* Unlinks every entry, one by one (shutdown). */
gw_csess *gw_sessmap_take_any(gw_sessmap *m);
/* A transient entry (session-less requests), not in the map. */
gw_csess *gw_csess_new(const char *id);
void gw_csess_ref(gw_csess *c);
/* Drops a reference; at zero, the caller-provided closer ends its upstream sessions. */
void gw_csess_unref(gw_csess *c, void (*closer)(void *, gw_csess *), void *ud);

/* ---- the gateway object (gateway.c: set-up; route.c: forwarding) ---- */

struct dmcp_gateway {
    gw_config *cfg;
    dmcp_validator_config *vcfg;
    dmcp_validator *validator;
    dmcp_descope_client *descope;
    dmcp_signer *signer; /* the upstream assertion's key, or NULL */
    dmcp_server *srv;
    dmcp_gw_upstream *ups[GW_MAX_UPSTREAMS];
    size_t n_ups;
    json_t *caps; /* merged upstream capabilities */
    json_t *instructions; /* single upstream's instructions, or NULL */
    gw_sessmap *map;
    dmcp_store *store; /* owned; NULL: sessions in this process only */
    pthread_t closer;
    bool closer_started;
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    char **q;
    size_t qn, qcap;
    bool qstop;
    /* Draining (SIGTERM / dmcp_gateway_stop): forwarded requests keep going, ignoring the
     * runtime's stop-time cancellation, until this CLOCK_MONOTONIC ms deadline (0: not
     * draining), set a second before the server's shutdown timeout. */
    _Atomic long long drain_deadline_ms;
    unsigned shutdown_s;
    struct gw_workers *workers; /* the blocking path of requests taken by start (or NULL) */
};

/* CLOCK_MONOTONIC in milliseconds. */
static inline long long gw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Unsolicited upstream messages for a client session. */
/* relay.c: server->client requests an upstream sends outside any call, relayed to the
 * client's standalone stream (2025 sessions). Bounded: GW_RELAY_MAX awaiting an answer per
 * upstream session (each holds the upstream's id, at most GW_RELAY_MAX_ID bytes), each for at
 * most the upstream request timeout (timeouts.request_ms); past that the upstream is answered
 * with an error. */
#define GW_RELAY_MAX 16
#define GW_RELAY_MAX_ID 128
#define GW_CAP_SAMPLING 1u
#define GW_CAP_ELICITATION 2u
#define GW_CAP_ROOTS 4u

typedef struct gw_relay {
    long long seq;      /* 0: free */
    json_t *orig_id;    /* the upstream's id */
    long long deadline; /* gw_now_ms() */
} gw_relay;

typedef struct gw_msgctx {
    struct dmcp_gateway *gw;
    char sid[128];
    size_t up;
    _Atomic(dmcp_gw_usession *) us;
    unsigned caps; /* GW_CAP_*: what the client declared (set before the session opens) */
    long long relay_ttl_ms;
    pthread_mutex_t mu;
    long long relay_seq;
    gw_relay relay[GW_RELAY_MAX];
} gw_msgctx;

/* An upstream's request outside a call: relayed, or answered with an error at once. */
void gw_relay_request(gw_msgctx *m, const json_t *msg);
/* A client's response (string id): true when it answered a relayed request (sent upstream). */
bool gw_relay_response(gw_msgctx *const *mctx, size_t n, const json_t *msg);
/* Answers what is still waiting with an error and frees it (the session closes). */
void gw_relay_drop(gw_msgctx *m);
unsigned gw_caps_bits(const json_t *caps);

/* upstream_headers.c: identity and connection-token headers for an upstream request */
typedef struct gw_hdrs {
    dmcp_gw_header h[DMCP_GW_MAX_HEADERS];
    char *owned[DMCP_GW_MAX_HEADERS]; /* values to wipe and free, or NULL */
    size_t n;
} gw_hdrs;
void gw_identity_headers(const gw_config *cfg, const dmcp_principal *p, gw_hdrs *h);
/* Connection tokens of the apps configured for upstream i; on failure *tool_error is the text
 * for the user (as calendar-server words it). */
dmcp_status gw_connection_headers(dmcp_gateway *gw, size_t i, const dmcp_principal *p,
                                  gw_hdrs *h, char *tool_error, size_t te_len);
void gw_hdrs_free(gw_hdrs *h);
/* The signed assertion (config "assertion"): the signer and its JWKS route, at set-up; the
 * header for upstream i, made for every HTTP exchange (HTTP upstreams only). */
dmcp_status gw_assertion_setup(dmcp_gateway *gw, dmcp_error *err);
/* The upstream session's fresh-headers provider (dmcp_gw_open_params.fresh_*): a new one for
 * upstream i and principal p, or NULL when no assertion is configured (or p is NULL). */
void *gw_assertion_fresh_new(dmcp_gateway *gw, size_t i, const dmcp_principal *p);
size_t gw_assertion_fresh(void *ud, dmcp_gw_header *out, size_t max);
void gw_assertion_fresh_free(void *ud);

/* route.c */
/* A forwarded request's sink context: notifications from the upstream to the client. */
typedef struct gw_sinkctx {
    dmcp_call *call;
    dmcp_gateway *gw;
    const char *own_token; /* a progress token the gateway added itself, or NULL */
} gw_sinkctx;
/* ud: a gw_sinkctx. A notification of the upstream for the call (logs through the runtime's
 * level filter; progress of the gateway's own token dropped). */
void gw_sink_note(void *ud, const json_t *msg);
/* ud: a gw_sinkctx. The client cancelled the call (while draining: the drain ran out). */
bool gw_sink_cancelled(void *ud);
/* A JSON-RPC error object for a failed upstream exchange (data.status: the HTTP status a
 * plain proxy would answer). */
json_t *gw_status_error(dmcp_status st, const dmcp_error *err, const char *upstream);
/* params without the 2026-07-28 per-request fields (a new reference). */
json_t *gw_upstream_params(const json_t *params);
/* The upstream log line of one exchange (config upstream_log). */
void gw_upstream_log_line(const dmcp_gateway *gw, size_t i, dmcp_call *call, const char *method,
                          const json_t *params, dmcp_status st, const json_t *resp, long long ms);
/* The outcome of one exchange with upstream i as the forwarder's answer: DMCP_OK and
 * *result, or a status and *error (the upstream's JSON-RPC error, or one of ours for a
 * failure, which is also logged). Takes resp. */
dmcp_status gw_upstream_outcome(const dmcp_gateway *gw, size_t i, const char *method,
                                dmcp_status st, json_t *resp, const dmcp_error *err,
                                json_t **result, json_t **error);
/* The upstream a (prefixed) tool or prompt name belongs to, and the name without prefix. */
bool gw_route_name(const dmcp_gateway *gw, const char *name, size_t *up, const char **bare);
dmcp_status gw_forward(void *ud, dmcp_call *call, const char *method,
                       const json_t *params, json_t **result, json_t **error);
void gw_client_notification(void *ud, const char *session_id, const json_t *msg);
size_t gw_tool_scopes(void *ud, const char *tool, const char *const **scopes);
/* Closes a client session's upstream sessions (gw_csess_unref's closer). */
void gw_close_csess(void *ud, gw_csess *c);
/* route_async.c: dmcp_forwarder.start (requests answered later), and the workers that run
 * the blocking path for it (started on demand, at most 32). gw_workers_free runs what is
 * queued and joins them: after the server stopped, before it is freed. */
typedef struct gw_workers gw_workers;
gw_workers *gw_workers_new(dmcp_gateway *gw);
void gw_workers_free(gw_workers *w);
/* dmcp_forwarder.notification with workers: gw_client_notification on a worker. */
void gw_client_notification_later(void *ud, const char *session_id, const json_t *msg);
dmcp_status gw_forward_start(void *ud, dmcp_call *call, const char *method,
                             const json_t *params);

#endif
