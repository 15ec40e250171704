/*
 * The plain-HTTP upstream's fast exchange: one POST on a pooled keep-alive TCP connection,
 * written with one sendmsg and read with recv as bytes arrive, the response parsed by
 * h1_resp.c. libcurl does the same in about twice the CPU (its easy interface adds four polls
 * and a connection check per request: docs/gateway-reference.md, "Tests and benchmark");
 * https:// upstreams, GET streams and DELETE stay on libcurl. DMCP_GW_HTTP_CLIENT=curl in the
 * environment turns this path off (for comparisons).
 */
#ifndef DMCP_GATEWAY_UPSTREAM_HTTP_FAST_H
#define DMCP_GATEWAY_UPSTREAM_HTTP_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include "dmcp/common.h"
#include "gateway/h1_resp.h"

typedef struct gw_fast gw_fast;

/* For an http:// URL (parsed with libcurl's URL API); NULL for https://, a URL it cannot
 * take, or when DMCP_GW_HTTP_CLIENT=curl. */
gw_fast *gw_fast_new(const char *url, unsigned pool_max);
/* Closes the pooled connections. NULL is a no-op. */
void gw_fast_free(gw_fast *f);

typedef struct gw_fast_req {
    const char *const *lines; /* "Name: value" header lines, after Host/Accept/Content-Type */
    size_t n_lines;
    const char *body;
    size_t body_len;
    unsigned connect_ms, timeout_ms; /* timeout 0: none */
    bool (*cancelled)(void *ud);     /* polled every 100 ms while waiting */
    gw_h1_cb cb;                     /* head and body bytes; cb.ud is also cancelled's */
} gw_fast_req;

/*
 * Sends the POST and reads its response to the end. DMCP_OK: complete (the callbacks saw it);
 * DMCP_E_UNREACHABLE (cannot connect or send, or the connection died first), DMCP_E_TIMEOUT,
 * DMCP_E_CANCELLED, DMCP_E_PROTOCOL (a response h1_resp refused, or a callback stopped it;
 * *why says which). A kept-alive connection found dead before any response byte is retried
 * once on a new one (as libcurl does). Thread-safety: any thread; one request per connection.
 */
dmcp_status gw_fast_post(gw_fast *f, const gw_fast_req *r, const char **why);

#endif
