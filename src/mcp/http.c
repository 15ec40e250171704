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

#include "mcp/http_internal.h"
/* ---------------------------------------------------------------------------------------- */
/* Access handler                                                                           */
/* ---------------------------------------------------------------------------------------- */

/* The POST checks that need only the headers (Transports §2.1, §2.7). Returns false after
 * queueing a refusal (*ret). */
static bool post_head_checks(struct MHD_Connection *c, const char *origin, enum MHD_Result *ret)
{
    /* Transports §2.1: the client MUST accept both application/json and text/event-stream. */
    const char *accept = dmcp__http_header(c, MHD_HTTP_HEADER_ACCEPT);
    if (!dmcp__http_accepts(accept, "application/json") ||
        !dmcp__http_accepts(accept, "text/event-stream")) {
        *ret = dmcp__http_send_error(c, MHD_HTTP_NOT_ACCEPTABLE, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Not Acceptable: Accept must list application/json and "
                                     "text/event-stream",
                                     origin);
        return false;
    }
    if (!dmcp__http_content_type_json(dmcp__http_header(c, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        *ret = dmcp__http_send_error(
            c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, DMCP_JSONRPC_INVALID_REQUEST,
            "Unsupported Media Type: Content-Type must be application/json", origin);
        return false;
    }
    /* 2026-07-28 clients always send Mcp-Method: their version (even an unknown one, which
     * the 2026 rules answer with -32022) is judged with the body. */
    const char *v = dmcp__http_header(c, "MCP-Protocol-Version");
    if (v != NULL &&
        (strcmp(v, DMCP_PROTOCOL_2026_07_28) == 0 || dmcp__http_header(c, "Mcp-Method") != NULL)) {
        return true;
    }
    return dmcp__http_check_version(c, origin, ret, NULL);
}

/* A dmcp_server_add_static document: GET/HEAD 200, anything else 405. */
static enum MHD_Result send_static(struct MHD_Connection *c, const char *method, size_t i,
                                   const dmcp_server *srv)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return dmcp__http_send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "GET, HEAD");
    }
    dmcp_http_response *hr = NULL;
    if (dmcp_http_response_new(MHD_HTTP_OK, &hr) != DMCP_OK ||
        dmcp_http_response_set_body(hr, srv->statics[i].content_type, srv->statics[i].body,
                                    strlen(srv->statics[i].body)) != DMCP_OK ||
        dmcp_http_response_add_header(hr, "Cache-Control", "public, max-age=300") != DMCP_OK) {
        dmcp_http_response_free(hr);
        return MHD_NO;
    }
    return dmcp__http_send_custom(c, hr, NULL);
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
        *ret = dmcp__http_send_health(h, c, method, url[1] == 'r');
        return false;
    }
    /* 1. Host (Transports §2.0.1: DNS rebinding; 403 like an invalid Origin). */
    if (!dmcp__http_host_allowed(srv, h->loopback, dmcp__http_header(c, MHD_HTTP_HEADER_HOST))) {
        *ret = dmcp__http_send_error(c, MHD_HTTP_FORBIDDEN, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Forbidden: invalid Host header", NULL);
        return false;
    }
    /* 2. Other paths: public documents (dmcp_server_add_static), the authorizer's public
     * routes (PRM), else 404. */
    if (strcmp(url, srv->endpoint) != 0) {
        const dmcp_authorizer *az = srv->authorizer;
        dmcp_http_response *hr = NULL;
        for (size_t i = 0; i < srv->n_statics; i++) {
            if (strcmp(url, srv->statics[i].path) == 0) {
                *ret = send_static(c, method, i, srv);
                return false;
            }
        }
        if (az != NULL && az->route != NULL && az->route(az->userdata, &view, &hr) == DMCP_OK &&
            hr != NULL) {
            *ret = dmcp__http_send_custom(c, hr, NULL);
            return false;
        }
        dmcp_http_response_free(hr);
        *ret = dmcp__http_send_empty(c, MHD_HTTP_NOT_FOUND, NULL, NULL);
        return false;
    }
    /* 3. Origin, when present (11-25 Transports §2.0.1: 403 for an invalid Origin). */
    const char *origin = dmcp__http_header(c, "Origin");
    if (origin != NULL && !dmcp__http_origin_allowed(srv, h->loopback, origin)) {
        *ret = dmcp__http_send_error(c, MHD_HTTP_FORBIDDEN, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Forbidden: invalid Origin header", NULL);
        return false;
    }
    /* 4. CORS preflight: never authenticated (resource-server §5 row 12). */
    if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0) {
        struct MHD_Response *r = dmcp__http_buffer(NULL, 0, NULL);
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
        *ret = dmcp__http_queue(c, MHD_HTTP_NO_CONTENT, r);
        return false;
    }
    /* 5. Method. */
    bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (!is_post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_DELETE) != 0) {
        *ret = dmcp__http_send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, origin,
                                     "GET, POST, DELETE, OPTIONS");
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
                *ret = dmcp__http_send_custom(c, refusal, origin);
                return false;
            }
            struct MHD_Response *r =
                dmcp__http_buffer(dmcp__strdup("{\"error\":\"server_error\"}"),
                                  strlen("{\"error\":\"server_error\"}"), "application/json");
            if (r == NULL) {
                *ret = MHD_NO;
                return false;
            }
            dmcp__http_cors(r, origin);
            *ret = dmcp__http_queue(c, MHD_HTTP_INTERNAL_SERVER_ERROR, r);
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
            dmcp__obs_limit(DMCP__M_LIMIT_RATE);
            *ret = dmcp__http_send_json(
                c, HTTP_TOO_MANY_REQUESTS,
                dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR, "Too many requests", NULL),
                origin, "Retry-After", after);
            return false;
        }
    }
    /* 8. The POST headers (Accept, Content-Type, MCP-Protocol-Version); under 2026-07-28 the
     * per-tool scopes of the tool Mcp-Name names (9), both before a byte of the body. */
    if (is_post &&
        (!post_head_checks(c, origin, ret) || !dmcp__http_tool_precheck26(h, c, p, origin, ret))) {
        dmcp_principal_unref(p);
        return false;
    }
    rs->principal = p;
    rs->origin = origin;
    return true;
}

/* True for a GET/DELETE the client sends under 2026-07-28 (no sessions, no GET stream). */
static bool is_2026(struct MHD_Connection *c)
{
    const char *v = dmcp__http_header(c, "MCP-Protocol-Version");
    return v != NULL && strcmp(v, DMCP_PROTOCOL_2026_07_28) == 0;
}

/* The era adapter's door: the body (or, without one, the version header) picks the rules. */
static enum MHD_Result handle(dmcp__http *h, struct MHD_Connection *c, const char *method,
                              req_state *rs)
{
    const char *origin = rs->origin;
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
        if (is_2026(c)) {
            return dmcp__http_send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, origin, "POST, OPTIONS");
        }
        if (strcmp(method, MHD_HTTP_METHOD_GET) == 0) {
            return dmcp__http_get(h, c, rs->principal, origin);
        }
        return dmcp__http_delete(h, c, rs->principal, origin);
    }
    if (rs->too_large) {
        dmcp__obs_limit(DMCP__M_LIMIT_BODY_SIZE);
        return dmcp__http_send_error(c, HTTP_CONTENT_TOO_LARGE, DMCP_JSONRPC_INVALID_REQUEST,
                                     "Request body too large", origin);
    }
    if (rs->over_budget) {
        dmcp__obs_limit(DMCP__M_LIMIT_BUFFERED_BYTES);
        return dmcp__http_send_json(
            c, MHD_HTTP_SERVICE_UNAVAILABLE,
            dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INTERNAL_ERROR,
                                "Server busy: too many request bytes in flight", NULL),
            origin, "Retry-After", "1");
    }
    int code = 0;
    json_t *body = dmcp__jsonrpc_parse(rs->body.data, rs->body.len, h->srv->max_body, &code);
    dmcp__obs_message(body);
    if (body == NULL) {
        return dmcp__http_send_error(
            c, MHD_HTTP_BAD_REQUEST, code,
            code == DMCP_JSONRPC_PARSE_ERROR ? "Parse error" : "Invalid Request", origin);
    }
    if (dmcp__era26_applies(dmcp__http_header(c, "MCP-Protocol-Version"), body)) {
        return dmcp__http_post26(h, c, body, rs->principal, origin, &rs->later);
    }
    return dmcp__http_post(h, c, body, rs->principal, origin, &rs->later);
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
        const union MHD_ConnectionInfo *ai =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        *socket_context = ci != NULL ? dmcp__conn_open(h->conns, ci->connect_fd,
                                                       ai != NULL ? ai->client_addr : NULL)
                                     : NULL;
        dmcp__metrics_gauge_add(DMCP__M_CONNECTIONS_OPEN, 1);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        dmcp__metrics_gauge_add(DMCP__M_CONNECTIONS_OPEN, -1);
        /* libmicrohttpd notifies before it closes the socket (http_conn.c). */
        dmcp__conn_close(h->conns, *socket_context);
        *socket_context = NULL;
    }
}

/*
 * Accept policy: the connection caps, checked here (rather than by libmicrohttpd's own
 * options, which refuse silently) so every refusal is counted. libmicrohttpd's limits stay
 * as backstops just above ours.
 */
static enum MHD_Result accept_cb(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    dmcp__http *h = cls;
    (void)addrlen;
    const double *lim = h->srv->lim;
    dmcp__conn_verdict v =
        dmcp__conns_admit(h->conns, addr, (size_t)lim[DMCP_LIMIT_MAX_CONNECTIONS],
                          (size_t)lim[DMCP_LIMIT_MAX_CONNECTIONS_PER_IP]);
    if (v == DMCP__CONN_ADMIT) {
        return MHD_YES;
    }
    dmcp__metrics_limit_refusal(v == DMCP__CONN_TOO_MANY ? DMCP__M_LIMIT_CONNECTIONS
                                                         : DMCP__M_LIMIT_PER_IP_CONNECTIONS);
    return MHD_NO;
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
    dmcp__http_close_after = true;
    rs->answered = true; /* unless every check below passes */
    if (fr == DMCP__FRAMING_UNSUPPORTED) {
        ret = dmcp__http_send_error(c, MHD_HTTP_NOT_IMPLEMENTED, DMCP_JSONRPC_INVALID_REQUEST,
                                    "Not Implemented: unsupported Transfer-Encoding", NULL);
    } else if (fr != DMCP__FRAMING_OK) {
        ret = dmcp__http_send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                                    "Bad Request: conflicting or invalid message framing", NULL);
    } else if (len > h->srv->max_body) {
        /* Refuse before reading megabytes. */
        dmcp__obs_limit(DMCP__M_LIMIT_BODY_SIZE);
        ret = dmcp__http_send_error(c, HTTP_CONTENT_TOO_LARGE, DMCP_JSONRPC_INVALID_REQUEST,
                                    "Request body too large", NULL);
    } else if (len == 0 && !chunked) {
        rs->answered = false; /* no body: checked on the final call */
        dmcp__conn_set_phase(h->conns, conn_of(c), DMCP__CONN_BUSY);
    } else {
        dmcp__http_active_add(h, 1);
        if (precheck(h, c, url, method, rs, &ret)) {
            if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
                ret = dmcp__http_send_error(c, MHD_HTTP_BAD_REQUEST, DMCP_JSONRPC_INVALID_REQUEST,
                                            "Bad Request: this method takes no body", rs->origin);
            } else if (!budget_take(h, rs, (size_t)len)) {
                dmcp__obs_limit(DMCP__M_LIMIT_BUFFERED_BYTES);
                ret = dmcp__http_send_json(
                    c, MHD_HTTP_SERVICE_UNAVAILABLE,
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
        dmcp__http_active_add(h, -1);
    }
    dmcp__http_close_after = false;
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
        dmcp__obs_start(&rs->obs, h->srv->access_log != NULL);
        dmcp__obs_current = &rs->obs;
        enum MHD_Result r = on_headers(h, c, url, method, rs);
        dmcp__obs_current = NULL;
        return r;
    }
    if (rs->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rs->later != NULL) { /* resumed with a forwarder's answer */
        dmcp__deferred *d = rs->later;
        rs->later = NULL;
        dmcp__obs_current = &rs->obs;
        enum MHD_Result r = dmcp__defer_finish(h, c, d);
        dmcp__obs_current = NULL;
        return r;
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
    dmcp__http_active_add(h, 1);
    dmcp__conn_set_phase(h->conns, conn_of(c), DMCP__CONN_BUSY);
    /* Draining for a stop: answer, then close (no next request on this connection). */
    dmcp__http_close_after = atomic_load(&h->draining);
    dmcp__obs_current = &rs->obs;
    enum MHD_Result ret = MHD_YES;
    if (rs->checked || precheck(h, c, url, method, rs, &ret)) {
        rs->checked = true;
        ret = handle(h, c, method, rs);
    }
    dmcp__obs_current = NULL;
    dmcp__http_close_after = false;
    dmcp__http_active_add(h, -1);
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
        if (rs->later != NULL) {
            dmcp__defer_abandon(rs->later);
            rs->later = NULL;
        }
        dmcp__obs_done(h, &rs->obs, rs->principal, c);
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
                dmcp__stream_push_locked(st, ": ping\n\n", 8);
            }
            pthread_mutex_unlock(&st->mu);
        }
        pthread_mutex_unlock(&h->mu);
        dmcp__sessions_expire(h->srv->sessions, now, h->srv->idle_seconds);
        dmcp__streams_expire_parked(h, now, false);
        const double *lim = h->srv->lim;
        dmcp__conn_deadlines dl = {lim[DMCP_LIMIT_IDLE_TIMEOUT], lim[DMCP_LIMIT_HEADER_TIMEOUT],
                                   lim[DMCP_LIMIT_BODY_TIMEOUT]};
        double mono = dmcp__mono_now();
        size_t ended[DMCP__CONN_PHASES] = {0};
        dmcp__conns_sweep(h->conns, &dl, mono, ended);
        static const dmcp__m_limit why[] = {
            DMCP__M_LIMIT_IDLE_TIMEOUT, DMCP__M_LIMIT_HEADER_TIMEOUT, DMCP__M_LIMIT_BODY_TIMEOUT};
        for (size_t i = 0; i < 3; i++) {
            for (size_t k = 0; k < ended[i]; k++) {
                dmcp__metrics_limit_refusal(why[i]);
            }
        }
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
    pthread_mutex_destroy(&h->defer_mu);
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
    pthread_mutex_init(&h->defer_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->loopback = dmcp__host_is_loopback(srv->listen_host) || strcmp(srv->listen_host, "::1") == 0;

    struct addrinfo *ai = NULL;
    if (!dmcp__http_resolve(srv->listen_host, srv->listen_port, &ai)) {
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
    /* A backstop: accept_cb counts and refuses first (per address too). */
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                        (intptr_t)lim[DMCP_LIMIT_MAX_CONNECTIONS] + 64, NULL};

    if (srv->threads > 1) {
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, srv->threads, NULL};
    }
    if (h->cert_pem != NULL) {
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert_pem};
        opts[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->key_pem};
    }
    opts[k++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->d = MHD_start_daemon(flags, 0, accept_cb, h, access_cb, h, MHD_OPTION_NOTIFY_COMPLETED,
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
    dmcp_status ost = DMCP_OK;
    if (srv->access_log_path != NULL) {
        ost = dmcp__accesslog_open(srv->access_log_path,
                                   (dmcp__accesslog_level)srv->access_log_level, &srv->access_log);
        if (ost != DMCP_OK) {
            dmcp__fail(err, ost, DMCP_REASON_NONE, "cannot open the access log %s",
                       srv->access_log_path);
        }
    }
    if (ost == DMCP_OK) {
        ost = dmcp__http_metrics_start(h, err);
    }
    if (ost != DMCP_OK) {
        MHD_stop_daemon(h->d);
        dmcp__accesslog_close(srv->access_log);
        srv->access_log = NULL;
        http_free(h);
        return ost;
    }
    atomic_store(&srv->bound_metrics_port, h->metrics_port);
    if (pthread_create(&h->housekeeper, NULL, housekeeper, h) == 0) {
        h->hk_started = true;
    }
    srv->http = h;
    srv->store_event = dmcp__sse_on_store_event;
    dmcp__sessions_set_transport(srv->sessions, &dmcp__http_session_transport);
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
        dmcp__stream_finish(st);
    }
    pthread_mutex_unlock(&h->mu);
    if (h->hk_started) {
        pthread_join(h->housekeeper, NULL);
    }
    dmcp__streams_expire_parked(h, 0, true);
    dmcp__sse_followers_clear(h);
    wait_until(h, no_streams_pred, 2);
    /* Anything still parked (a client that stopped reading) must be resumed before stop. */
    pthread_mutex_lock(&h->mu);
    for (dmcp__stream *st = h->streams; st != NULL; st = st->next) {
        dmcp__stream_finish(st);
    }
    pthread_mutex_unlock(&h->mu);
    dmcp__defer_stop_all(h);
    MHD_stop_daemon(h->d);
    if (lfd != MHD_INVALID_SOCKET) {
        close(lfd);
    }
    wait_until(h, idle_pred, srv->shutdown_timeout);
    dmcp__http_metrics_stop(h);
    atomic_store(&srv->bound_metrics_port, 0);
    dmcp__accesslog_close(srv->access_log);
    srv->access_log = NULL;
    /* Streams whose responses MHD never released (should not happen) are leaked, not freed
     * under a live connection. */
    srv->store_event = NULL;
    dmcp__sessions_set_transport(srv->sessions, NULL);
    srv->http = NULL;
    if (h->streams == NULL && atomic_load(&h->active) == 0) {
        http_free(h);
    }
}
