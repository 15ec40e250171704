/* The sandbox's HTTP server (libmicrohttpd): body collection, routing, responses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "sandbox.h"

typedef struct reqctx {
    char *buf;
    size_t len;
    bool too_big;
} reqctx;

static void index_page(sbx *s, sbx_resp *r)
{
    char wk[512];
    snprintf(wk, sizeof(wk), "%s/.well-known/openid-configuration", s->issuer);
    sbx_resp_json(r, 200,
                  json_pack("{s:s,s:s,s:s,s:s}", "sandbox",
                            "descope-mcp sandbox: a development tool, not for production",
                            "issuer", s->issuer, "well_known_url", wk, "docs",
                            "docs/sandbox.md"));
}

static void route(sbx *s, sbx_req *q, sbx_resp *r)
{
    const char *p = q->path;
    bool get = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
    bool post = strcmp(q->method, "POST") == 0;
    char agentic[256];
    char buf[512];
    snprintf(agentic, sizeof(agentic), "/v1/apps/agentic/%s/%s", s->pid, s->sid);

    /* Discovery: Descope's own form, then the RFC 8414 §3.1 / OIDC path-inserted forms. */
    snprintf(buf, sizeof(buf), "%s/.well-known/openid-configuration", agentic);
    bool disc = strcmp(p, buf) == 0;
    snprintf(buf, sizeof(buf), "/.well-known/oauth-authorization-server%s", agentic);
    disc = disc || strcmp(p, buf) == 0;
    snprintf(buf, sizeof(buf), "/.well-known/openid-configuration%s", agentic);
    disc = disc || strcmp(p, buf) == 0;
    if (disc) {
        if (get) {
            sbx_discovery(s, q, r);
        } else {
            sbx_resp_oauth_error(r, 405, "invalid_request", "method not allowed");
        }
        return;
    }
    char jwks1[160];
    char jwks2[160];
    snprintf(jwks1, sizeof(jwks1), "/%s/.well-known/jwks.json", s->pid);
    snprintf(jwks2, sizeof(jwks2), "/v2/keys/%s", s->pid);
    if (strcmp(p, jwks1) == 0 || strcmp(p, jwks2) == 0) {
        if (get) {
            sbx_jwks_endpoint(s, q, r);
        } else {
            sbx_resp_oauth_error(r, 405, "invalid_request", "method not allowed");
        }
        return;
    }
    snprintf(buf, sizeof(buf), "/v1/mgmt/mcp/client/%s/%s/register", s->pid, s->sid);
    if (strcmp(p, buf) == 0 && post) {
        sbx_register(s, q, r);
        return;
    }
    if (strcmp(p, "/oauth2/v1/apps/token") == 0 && post) {
        sbx_token_endpoint(s, q, r);
        return;
    }
    if (strcmp(p, "/oauth2/v1/apps/authorize") == 0 && get) {
        sbx_authorize(s, q, r);
        return;
    }
    if (strcmp(p, "/oauth2/v1/apps/authorize") == 0 && post) {
        sbx_authorize_approve(s, q, r);
        return;
    }
    if (strcmp(p, "/sandbox/token") == 0 && post) {
        sbx_dev_token(s, q, r);
        return;
    }
    if (strcmp(p, "/sandbox/connect") == 0 && (get || post)) {
        sbx_connect_page(s, q, r);
        return;
    }
    if (post && strcmp(p, "/v1/mgmt/outbound/app/user/token") == 0) {
        sbx_outbound_fetch(s, q, r, false, false);
        return;
    }
    if (post && strcmp(p, "/v1/mgmt/outbound/app/user/token/latest") == 0) {
        sbx_outbound_fetch(s, q, r, false, true);
        return;
    }
    if (post && strcmp(p, "/v1/mgmt/outbound/app/tenant/token") == 0) {
        sbx_outbound_fetch(s, q, r, true, false);
        return;
    }
    if (post && strcmp(p, "/v1/mgmt/outbound/app/tenant/token/latest") == 0) {
        sbx_outbound_fetch(s, q, r, true, true);
        return;
    }
    if (post && strcmp(p, "/v1/mgmt/outbound/app/connect") == 0) {
        sbx_outbound_connect(s, q, r);
        return;
    }
    if (get && strcmp(p, "/v1/mgmt/outbound/apps-with-user-token") == 0) {
        sbx_outbound_list(s, q, r);
        return;
    }
    if (get && strcmp(p, "/calendar/v3/calendars/primary/events") == 0) {
        sbx_calendar_events(s, q, r);
        return;
    }
    if (get && strcmp(p, "/") == 0) {
        index_page(s, r);
        return;
    }
    sbx_resp_descope_error(r, 404, "E000404", "Not found", "No such sandbox endpoint");
}

static enum MHD_Result add(struct MHD_Response *resp, const char *k, const char *v)
{
    return v != NULL ? MHD_add_response_header(resp, k, v) : MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    (void)version;
    sbx *s = cls;
    reqctx *ctx = *con_cls;
    if (ctx == NULL) {
        ctx = calloc(1, sizeof(*ctx));
        if (ctx == NULL) {
            return MHD_NO;
        }
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        if (ctx->too_big || ctx->len + n > SBX_MAX_BODY) {
            ctx->too_big = true;
        } else {
            char *nb = realloc(ctx->buf, ctx->len + n + 1);
            if (nb == NULL) {
                ctx->too_big = true;
            } else {
                ctx->buf = nb;
                memcpy(ctx->buf + ctx->len, upload_data, n);
                ctx->len += n;
                ctx->buf[ctx->len] = '\0';
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    sbx_resp r = {0};
    r.cors = true;
    sbx_req q = {method, url, ctx->buf != NULL ? ctx->buf : "", ctx->len, conn};
    if (ctx->too_big) {
        sbx_resp_oauth_error(&r, 413, "invalid_request", "request body too large");
    } else if (strcmp(method, "OPTIONS") == 0) {
        /* CORS preflight: browser-based clients (MCP Inspector) call discovery, DCR, token. */
        r.status = 204;
    } else {
        route(s, &q, &r);
    }
    if (r.status == 0) {
        r.status = 500;
    }
    const char *body = r.body != NULL ? r.body : "";
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                                r.body != NULL
                                                                    ? MHD_RESPMEM_MUST_FREE
                                                                    : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(r.body);
        free(r.location);
        free(r.www_authenticate);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_YES;
    if (r.body != NULL) {
        ok = add(resp, "Content-Type", r.ctype != NULL ? r.ctype : "application/json");
    }
    ok = ok && add(resp, "Cache-Control", r.cache_control != NULL ? r.cache_control : "no-store");
    ok = ok && add(resp, "X-Content-Type-Options", "nosniff");
    ok = ok && add(resp, "Location", r.location);
    ok = ok && add(resp, "WWW-Authenticate", r.www_authenticate);
    if (r.ctype != NULL && strncmp(r.ctype, "text/html", 9) == 0) {
        ok = ok && add(resp, "Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    }
    if (r.cors) {
        ok = ok && add(resp, "Access-Control-Allow-Origin", "*");
        ok = ok && add(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        ok = ok && add(resp, "Access-Control-Allow-Headers",
                       "Authorization, Content-Type, MCP-Protocol-Version");
        ok = ok && add(resp, "Access-Control-Expose-Headers", "WWW-Authenticate");
    }
    if (ok) {
        ok = MHD_queue_response(conn, r.status, resp);
    }
    MHD_destroy_response(resp);
    free(r.location);
    free(r.www_authenticate);
    return ok;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    reqctx *ctx = *con_cls;
    if (ctx != NULL) {
        free(ctx->buf);
        free(ctx);
        *con_cls = NULL;
    }
}

int sbx_listen(const char *host, unsigned port_in, unsigned *port, bool *v6)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port_in);
        len = sizeof(*a4);
        *v6 = false;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port_in);
        len = sizeof(*a6);
        *v6 = true;
    } else {
        return -1;
    }
    /* Bound here rather than by MHD so that the port (for :0) is known, and the issuer URL
       built, before the first request can arrive. */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
    return fd;
}

void *sbx_server_start(sbx *s, int fd, bool v6)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (v6) {
        flags |= MHD_USE_IPv6;
    }
    /* One internal thread: handlers never run concurrently (see sandbox.h). */
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, s, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
}

void sbx_server_stop(void *daemon)
{
    if (daemon != NULL) {
        MHD_stop_daemon(daemon);
    }
}
