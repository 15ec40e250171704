/*
 * What the HTTP transport tells operators: per-request metrics and the access log, the health
 * endpoints, and the opt-in metrics listener (its own address, never the public port unless
 * the deployer points it there).
 *
 * A request's observation (dmcp__reqobs) lives in its req_state. While the access handler
 * runs, dmcp__obs_current points at it (per thread: libmicrohttpd calls a connection's handler
 * on one thread at a time), so the responders and the era code can note the status, method,
 * tool and refusing limit without every function passing it along. It is written out once, in
 * the request's completion callback.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "mcp/http_internal.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dmcp__obs_start(dmcp__reqobs *o, bool with_id)
{
    o->id = with_id ? dmcp__request_id_next() : 0;
    o->t0_ns = mono_ns();
    o->method = DMCP__M_METHOD_NONE;
    o->tool = DMCP__LOG_NO_TOOL;
    o->limit = DMCP__M_LIMIT_NONE;
}

void dmcp__obs_limit(dmcp__m_limit limit)
{
    dmcp__metrics_limit_refusal(limit);
    if (dmcp__obs_current != NULL && dmcp__obs_current->limit == DMCP__M_LIMIT_NONE) {
        dmcp__obs_current->limit = limit;
    }
}

void dmcp__obs_message(const json_t *body)
{
    dmcp__reqobs *o = dmcp__obs_current;
    if (o == NULL) {
        return;
    }
    if (json_is_array(body)) {
        o->method = DMCP__M_METHOD_BATCH;
        return;
    }
    const char *m = json_string_value(json_object_get(body, "method"));
    if (m == NULL) {
        o->method =
            json_object_get(body, "id") != NULL ? DMCP__M_METHOD_RESPONSE : DMCP__M_METHOD_OTHER;
        return;
    }
    o->method = dmcp__metrics_method_id(m);
    if (o->method == DMCP__M_METHOD_TOOLS_CALL) {
        const char *name =
            json_string_value(json_object_get(json_object_get(body, "params"), "name"));
        o->tool = name != NULL ? dmcp__metrics_tool_id(name) : DMCP__LOG_NO_TOOL;
    }
}

void dmcp__obs_kind(dmcp__m_method method, bool streamed)
{
    if (dmcp__obs_current != NULL) {
        dmcp__obs_current->method = method;
        dmcp__obs_current->streamed = streamed;
    }
}

void dmcp__obs_done(dmcp__http *h, dmcp__reqobs *o, const dmcp_principal *p,
                    struct MHD_Connection *c)
{
    if (o->status == 0) {
        return; /* nothing was answered (the client left first) */
    }
    uint64_t ns = mono_ns() - o->t0_ns;
    dmcp__metrics_http_request(o->method, o->status);
    if (!o->streamed) {
        /* A stream's lifetime is its client's business, not a latency. */
        dmcp__metrics_http_duration(o->method, ns);
    }
    dmcp__accesslog *log = h->srv->access_log;
    if (log == NULL) {
        return;
    }
    dmcp__access_entry e = dmcp__access_entry_init();
    e.request_id = o->id;
    e.user_id = dmcp_principal_user_id(p);
    e.method = o->method;
    e.tool = o->tool;
    e.status = o->status;
    e.latency_ns = ns;
    e.limit = o->limit;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    e.remote = ci != NULL ? ci->client_addr : NULL;
    (void)dmcp__accesslog_write(log, &e); /* filters by level; a failed write stops nothing */
}

/* ---------------------------------------------------------------------------------------- */
/* Health and metrics                                                                       */
/* ---------------------------------------------------------------------------------------- */

enum MHD_Result dmcp__http_send_health(dmcp__http *h, struct MHD_Connection *c, const char *method,
                                       bool readiness)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return dmcp__http_send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "GET, HEAD");
    }
    char reason[128] = "";
    const dmcp_authorizer *az = h->srv->authorizer;
    bool ok = !readiness || !atomic_load(&h->draining); /* alive while it still answers */
    if (!ok) {
        snprintf(reason, sizeof(reason), "stopping");
    } else if (readiness && !dmcp__sstore_ready(h->srv)) {
        ok = false; /* the shared store is down: session requests would get 503 */
        snprintf(reason, sizeof(reason), "session store unreachable");
    } else if (readiness && az != NULL && az->ready != NULL) {
        ok = az->ready(az->userdata, reason, sizeof(reason));
    }
    json_t *doc = ok ? json_pack("{s:s}", "status", readiness ? "ready" : "ok")
                     : json_pack("{s:s, s:s}", "status", "unavailable", "reason", reason);
    return dmcp__http_send_json(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, doc, NULL,
                                ok ? MHD_HTTP_HEADER_CACHE_CONTROL : "Retry-After",
                                ok ? "no-store" : "5");
}

static enum MHD_Result metrics_cb(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    dmcp__http *h = cls;
    if (*con_cls == NULL) {
        *con_cls = h; /* answered on the second call (after any body, which is ignored) */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0) {
        return dmcp__http_send_health(h, c, method, url[1] == 'r');
    }
    if (strcmp(url, "/metrics") != 0) {
        return dmcp__http_send_empty(c, MHD_HTTP_NOT_FOUND, NULL, NULL);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return dmcp__http_send_empty(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "GET, HEAD");
    }
    dmcp__buf b;
    dmcp__buf_init(&b, 16 * 1024 * 1024);
    if (dmcp__metrics_render(&b) != DMCP_OK) {
        dmcp__buf_free(&b);
        return dmcp__http_send_empty(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    size_t len = 0;
    char *text = dmcp__buf_take(&b, &len);
    struct MHD_Response *r =
        dmcp__http_buffer(text, len, "text/plain; version=0.0.4; charset=utf-8");
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return dmcp__http_queue(c, MHD_HTTP_OK, r);
}

dmcp_status dmcp__http_metrics_start(dmcp__http *h, dmcp_error *err)
{
    const dmcp_server *srv = h->srv;
    if (srv->metrics_host == NULL) {
        return DMCP_OK;
    }
    struct addrinfo *ai = NULL;
    if (!dmcp__http_resolve(srv->metrics_host, srv->metrics_port, &ai)) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                          "cannot resolve the metrics listen address");
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    h->metrics_d =
        MHD_start_daemon(flags, 0, NULL, NULL, metrics_cb, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_CONNECTION_LIMIT, 64, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16,
                         MHD_OPTION_CONNECTION_TIMEOUT, 10, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (h->metrics_d == NULL) {
        return dmcp__fail(err, DMCP_E_IO, DMCP_REASON_NONE,
                          "cannot start the metrics listener on %s:%u", srv->metrics_host,
                          srv->metrics_port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->metrics_d, MHD_DAEMON_INFO_BIND_PORT);
    h->metrics_port = di != NULL ? di->port : 0;
    return DMCP_OK;
}

void dmcp__http_metrics_stop(dmcp__http *h)
{
    if (h->metrics_d != NULL) {
        MHD_stop_daemon(h->metrics_d);
        h->metrics_d = NULL;
    }
}
