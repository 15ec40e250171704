/* Internals of the HTTP upstream shared by upstream_http.c and upstream_http_util.c. */
#ifndef DMCP_GATEWAY_UPSTREAM_HTTP_INT_H
#define DMCP_GATEWAY_UPSTREAM_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "gateway/sse_parse.h"
#include "gateway/upstream.h"

#define POOL_MAX 64
#define SID_MAX 256
/* GET-stream relays (one thread each) per upstream; sessions past it get no unsolicited
 * messages (a curl multi loop on one thread would lift this). */
#define GET_STREAMS_MAX 256

typedef struct http_up {
    dmcp_gw_upstream base;
    char *url;
    unsigned connect_ms, request_ms;
    size_t max_msg;
    unsigned max_sessions;
    char **static_hdrs; /* "Name: value" */
    size_t n_static;
    pthread_mutex_t pool_mu;
    CURL *pool[POOL_MAX];
    struct gw_fast *fast; /* POSTs to an http:// upstream (upstream_http_fast.c), or NULL */
    bool pool_post[POOL_MAX]; /* set up for a POST already (common options in place) */
    size_t npool;
    atomic_uint sessions;
    atomic_uint get_streams;
} http_up;

typedef struct usess {
    http_up *up;
    char sid[SID_MAX]; /* "" when the upstream gave none */
    char version[32];
    char **hdrs; /* "Name: value" of the session */
    size_t n_hdrs;
    size_t (*fresh)(void *ud, dmcp_gw_header *out, size_t max); /* per exchange, or NULL */
    void *fresh_ud;
    void (*fresh_free)(void *ud);
    dmcp_gw_message_fn on_message;
    void *on_message_ud;
    pthread_t get_thread;
    bool get_started;
    atomic_bool closing;
    char last_event_id[256];
} usess;

/* One HTTP exchange with the upstream (either client fills it). */
typedef struct xfer {
    usess *s;
    const dmcp_gw_sink *sink;
    const json_t *want_id; /* the request's id, or NULL */
    bool get;              /* the session's GET stream: everything goes to on_message */
    long status;
    bool decided, is_sse, is_json;
    gw_sse sse;
    char *body;
    size_t len;
    bool too_large, bad_event, cancelled;
    json_t *response;
    char sid[SID_MAX];
    size_t max;
} xfer;

/* The outcome of a transfer as .request reports it: DMCP_OK when a final response arrived
 * (whatever happened after it), else what the transport said (DMCP_OK, DMCP_E_TIMEOUT,
 * DMCP_E_PROTOCOL, DMCP_E_CANCELLED, or another status for "unreachable"), with err filled. */
dmcp_status gw_http_outcome(const xfer *x, dmcp_status transport, const char *detail,
                            dmcp_error *err);

/* Fills err (NULL-safe) with a status, an HTTP status and a message (no secrets). */
__attribute__((format(printf, 4, 5))) void gw_http_fail(dmcp_error *err, dmcp_status st, int http,
                                                        const char *fmt, ...);
/* True for a header value without CR or LF (and not NULL). */
bool gw_http_header_ok(const char *s);
/* Header lines "Name: value" (malloc'd, wiped when freed); NULL lines refuse the set. */
char **gw_http_copy_lines(const dmcp_gw_header *h, size_t n, bool *ok);
void gw_http_free_lines(char **l, size_t n);
/* The session's fresh headers for one exchange, as "Name: value" lines (gw_http_free_lines);
 * *n 0 and NULL when none or when one is not acceptable. */
char **gw_http_fresh_lines(const usess *s, size_t *n);
/* The handle pool: *ready when a POST handle keeps its common options. */
CURL *gw_http_take(http_up *up, bool post, bool *ready);
void gw_http_give(http_up *up, CURL *h, bool reusable, bool post);

#endif
