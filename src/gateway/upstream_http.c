/*
 * A Streamable HTTP upstream (MCP 2025-11-25 Transports §2) reached with libcurl: one POST per
 * message, JSON or SSE answers read as they arrive, the upstream's Mcp-Session-Id kept here
 * (never shown to the client nor taken from it), a GET stream per session for unsolicited
 * messages, DELETE on close. Keep-alive: easy handles (and their connections) are pooled.
 * Caps: every message and SSE event is bounded (max_message_bytes); every transfer is timed.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "gateway/sse_parse.h"
#include "gateway/upstream.h"

#include "gateway/upstream_http_fast.h"
#include "gateway/upstream_http_int.h"


static dmcp_status post_message(usess *s, const json_t *msg, dmcp_error *err);

static bool is_response(const json_t *m)
{
    return json_object_get(m, "method") == NULL &&
           (json_object_get(m, "result") != NULL || json_object_get(m, "error") != NULL);
}

static bool same_id(const json_t *a, const json_t *b)
{
    return a != NULL && b != NULL && json_equal(a, b);
}

/* A server->client request on a request's stream: relay through the sink, answer upstream. */
static void relay_request(xfer *x, const json_t *m)
{
    json_t *result = NULL, *error = NULL;
    dmcp_status st = DMCP_E_STATE;
    if (x->sink != NULL && x->sink->request != NULL) {
        st = x->sink->request(x->sink->ud, m, &result, &error);
    }
    json_t *ans;
    if (st == DMCP_OK && json_is_object(result)) {
        ans = json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", json_object_get(m, "id"),
                        "result", result);
        json_decref(error);
    } else {
        json_decref(result);
        if (!json_is_object(error)) {
            json_decref(error);
            error = json_pack("{s:i,s:s}", "code", -32603, "message",
                              "The gateway could not relay this request to the client");
        }
        ans = json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", json_object_get(m, "id"), "error",
                        error);
    }
    if (ans != NULL) {
        (void)post_message(x->s, ans, NULL);
        json_decref(ans);
    }
}

/* One JSON-RPC message from the upstream. */
static bool on_message(xfer *x, json_t *m)
{
    if (!json_is_object(m)) {
        x->bad_event = true;
        return false;
    }
    if (x->get) {
        if (x->s->on_message != NULL) {
            x->s->on_message(x->s->on_message_ud, m);
        }
        return true;
    }
    if (is_response(m)) {
        if (same_id(json_object_get(m, "id"), x->want_id) && x->response == NULL) {
            x->response = json_incref(m);
        }
        return true; /* a stray response is dropped */
    }
    if (!json_is_string(json_object_get(m, "method"))) {
        x->bad_event = true;
        return false;
    }
    if (json_object_get(m, "id") != NULL) {
        relay_request(x, m);
    } else if (x->sink != NULL && x->sink->notification != NULL) {
        x->sink->notification(x->sink->ud, m);
    }
    return true;
}

static bool on_event(void *ud, const gw_sse_event *ev)
{
    xfer *x = ud;
    if (ev->id[0] != '\0' && x->get) {
        snprintf(x->s->last_event_id, sizeof(x->s->last_event_id), "%s", ev->id);
    }
    if (ev->event[0] != '\0' && strcmp(ev->event, "message") != 0) {
        return true; /* other event types are not MCP messages */
    }
    if (ev->data_len == 0) {
        return true; /* priming event */
    }
    json_t *m = json_loadb(ev->data, ev->data_len, JSON_REJECT_DUPLICATES, NULL);
    if (m == NULL) {
        x->bad_event = true;
        return false;
    }
    bool ok = on_message(x, m);
    json_decref(m);
    return ok;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    static const char name[] = "mcp-session-id:";
    if (len > sizeof(name) && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
        const char *v = buf + sizeof(name) - 1;
        size_t vl = len - (sizeof(name) - 1);
        while (vl > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) {
            vl--;
        }
        bool visible = vl > 0 && vl < sizeof(x->sid);
        for (size_t i = 0; visible && i < vl; i++) {
            visible = v[i] >= 0x21 && v[i] <= 0x7E; /* Transports §2.5.1 */
        }
        if (visible) {
            memcpy(x->sid, v, vl);
            x->sid[vl] = '\0';
        }
    }
    return len;
}

static void decide(xfer *x, CURL *h)
{
    x->decided = true;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    if (ct != NULL && strncasecmp(ct, "text/event-stream", 17) == 0) {
        x->is_sse = true;
        gw_sse_init(&x->sse, x->max);
    } else {
        x->is_json = ct != NULL && strncasecmp(ct, "application/json", 16) == 0;
    }
}

typedef struct wctx {
    xfer *x;
    CURL *h;
} wctx;

/* Body bytes of the response, from either client: SSE events as they complete, else kept. */
static bool body_bytes(void *ud, const char *buf, size_t len)
{
    xfer *x = ud;
    if (x->is_sse && x->status == 200) {
        return gw_sse_feed(&x->sse, buf, len, on_event, x);
    }
    if (x->len + len > x->max) {
        x->too_large = true;
        return false;
    }
    char *g = realloc(x->body, x->len + len + 1);
    if (g == NULL) {
        return false;
    }
    memcpy(g + x->len, buf, len);
    x->len += len;
    g[x->len] = '\0';
    x->body = g;
    return true;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    wctx *w = ud;
    size_t len = size * n;
    if (!w->x->decided) {
        decide(w->x, w->h);
    }
    return body_bytes(w->x, buf, len) ? len : 0;
}

static bool is_cancelled(void *ud)
{
    xfer *x = ud;
    if (atomic_load(&x->s->closing) ||
        (x->sink != NULL && x->sink->is_cancelled != NULL && x->sink->is_cancelled(x->sink->ud))) {
        x->cancelled = true;
        return true;
    }
    return false;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return is_cancelled(ud) ? 1 : 0;
}

/* The fast client's head: what decide() reads from libcurl. */
static bool fast_head(void *ud, const gw_h1 *p)
{
    xfer *x = ud;
    x->decided = true;
    x->status = p->status;
    if (strncasecmp(p->ctype, "text/event-stream", 17) == 0) {
        x->is_sse = true;
        gw_sse_init(&x->sse, x->max);
    } else {
        x->is_json = strncasecmp(p->ctype, "application/json", 16) == 0;
    }
    if (p->sid[0] != '\0') {
        snprintf(x->sid, sizeof(x->sid), "%s", p->sid);
    }
    return true;
}

/* A POST through the fast client (upstream_http_fast.c). */
static dmcp_status perform_fast(usess *s, const char *body, char **extra, size_t n_extra,
                                unsigned timeout_ms, xfer *x, dmcp_error *err)
{
    http_up *up = s->up;
    size_t n_fresh = 0;
    char **fresh = gw_http_fresh_lines(s, &n_fresh);
    size_t n = 0, cap = 2 + up->n_static + s->n_hdrs + n_extra + n_fresh;
    const char **lines = malloc(cap * sizeof(*lines));
    char sidh[SID_MAX + 32], verh[64];
    if (lines == NULL) {
        gw_http_free_lines(fresh, n_fresh);
        gw_http_fail(err, DMCP_E_NOMEM, 0, "out of memory");
        return DMCP_E_NOMEM;
    }
    if (s->sid[0] != '\0') {
        snprintf(sidh, sizeof(sidh), "Mcp-Session-Id: %s", s->sid);
        lines[n++] = sidh;
    }
    if (s->version[0] != '\0') {
        snprintf(verh, sizeof(verh), "MCP-Protocol-Version: %s", s->version);
        lines[n++] = verh;
    }
    for (size_t i = 0; i < up->n_static; i++) {
        lines[n++] = up->static_hdrs[i];
    }
    for (size_t i = 0; i < s->n_hdrs; i++) {
        lines[n++] = s->hdrs[i];
    }
    for (size_t i = 0; i < n_extra; i++) {
        lines[n++] = extra[i];
    }
    for (size_t i = 0; i < n_fresh; i++) {
        lines[n++] = fresh[i];
    }
    gw_fast_req r = {lines, n, body, strlen(body), up->connect_ms, timeout_ms, is_cancelled,
                     {fast_head, body_bytes, x}};
    const char *why = NULL;
    dmcp_status st = gw_fast_post(up->fast, &r, &why);
    free(lines);
    gw_http_free_lines(fresh, n_fresh);
    return gw_http_outcome(x, st, why, err);
}

/*
 * One HTTP exchange with the upstream. method "POST" (body = msg), "GET" (stream), "DELETE".
 * Returns a status as .request does; *x holds what came back.
 */
static dmcp_status perform(usess *s, const char *method, const json_t *msg, char **extra,
                           size_t n_extra, unsigned timeout_ms, xfer *x, dmcp_error *err)
{
    http_up *up = s->up;
    bool post = strcmp(method, "POST") == 0, ready = false;
    if (post && up->fast != NULL && msg != NULL) {
        char *text = json_dumps(msg, JSON_COMPACT);
        if (text == NULL) {
            gw_http_fail(err, DMCP_E_NOMEM, 0, "out of memory");
            return DMCP_E_NOMEM;
        }
        dmcp_status st = perform_fast(s, text, extra, n_extra, timeout_ms, x, err);
        free(text);
        return st;
    }
    CURL *h = gw_http_take(up, post, &ready);
    if (h == NULL) {
        gw_http_fail(err, DMCP_E_NOMEM, 0, "out of memory");
        return DMCP_E_NOMEM;
    }
    char *body = NULL;
    struct curl_slist *hl = NULL;
    char sidh[SID_MAX + 32], verh[64], leh[300];
    bool ok = true;
    if (msg != NULL) {
        body = json_dumps(msg, JSON_COMPACT);
        ok = body != NULL;
    }
    hl = curl_slist_append(hl, "Expect:");
    if (strcmp(method, "GET") == 0) {
        hl = curl_slist_append(hl, "Accept: text/event-stream");
        if (s->last_event_id[0] != '\0') {
            snprintf(leh, sizeof(leh), "Last-Event-ID: %s", s->last_event_id);
            hl = curl_slist_append(hl, leh);
        }
    } else if (strcmp(method, "POST") == 0) {
        hl = curl_slist_append(hl, "Accept: application/json, text/event-stream");
        hl = curl_slist_append(hl, "Content-Type: application/json");
    }
    if (s->sid[0] != '\0') {
        snprintf(sidh, sizeof(sidh), "Mcp-Session-Id: %s", s->sid);
        hl = curl_slist_append(hl, sidh);
    }
    if (s->version[0] != '\0') {
        snprintf(verh, sizeof(verh), "MCP-Protocol-Version: %s", s->version);
        hl = curl_slist_append(hl, verh);
    }
    for (size_t i = 0; i < up->n_static; i++) {
        hl = curl_slist_append(hl, up->static_hdrs[i]);
    }
    for (size_t i = 0; i < s->n_hdrs; i++) {
        hl = curl_slist_append(hl, s->hdrs[i]);
    }
    for (size_t i = 0; i < n_extra; i++) {
        hl = curl_slist_append(hl, extra[i]);
    }
    size_t n_fresh = 0;
    char **fresh = gw_http_fresh_lines(s, &n_fresh);
    for (size_t i = 0; i < n_fresh; i++) {
        hl = curl_slist_append(hl, fresh[i]); /* copied: the lines can go now */
    }
    gw_http_free_lines(fresh, n_fresh);
    if (!ok || hl == NULL) {
        free(body);
        curl_slist_free_all(hl);
        gw_http_give(up, h, true, post && ready);
        gw_http_fail(err, DMCP_E_NOMEM, 0, "out of memory");
        return DMCP_E_NOMEM;
    }
    wctx w = {x, h};
    if (!ready) {
        curl_easy_setopt(h, CURLOPT_URL, up->url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)up->connect_ms);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms); /* 0: none */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(method, "DELETE") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    CURLcode rc = curl_easy_perform(h);
    if (!x->decided) {
        decide(x, h);
    }
    curl_slist_free_all(hl);
    free(body);
    dmcp_status st = gw_http_outcome(x,
                             rc == CURLE_OK                    ? DMCP_OK
                             : rc == CURLE_OPERATION_TIMEDOUT ? DMCP_E_TIMEOUT
                                                               : DMCP_E_UNREACHABLE,
                             curl_easy_strerror(rc), err);
    gw_http_give(up, h, rc == CURLE_OK, post);
    return st;
}

static void xfer_free(xfer *x)
{
    if (x->is_sse) {
        gw_sse_free(&x->sse);
    }
    free(x->body);
    json_decref(x->response);
}

/* A POST of a notification or response: 202 expected. */
static dmcp_status post_message(usess *s, const json_t *msg, dmcp_error *err)
{
    xfer x;
    memset(&x, 0, sizeof(x));
    x.s = s;
    x.max = s->up->max_msg;
    dmcp_status st = perform(s, "POST", msg, NULL, 0, s->up->request_ms, &x, err);
    if (st == DMCP_OK && (x.status < 200 || x.status >= 300)) {
        st = x.status == 404 ? DMCP_E_NOT_FOUND : DMCP_E_UPSTREAM;
        gw_http_fail(err, st, (int)x.status, "the upstream refused the message");
    }
    xfer_free(&x);
    return st;
}

/* The final response of a POSTed request, from x (JSON body or SSE). */
static dmcp_status finish_request(xfer *x, const json_t *id, json_t **response, dmcp_error *err)
{
    if (x->response != NULL) {
        *response = x->response;
        x->response = NULL;
        return DMCP_OK;
    }
    if (x->status == 404) {
        gw_http_fail(err, DMCP_E_NOT_FOUND, 404, "the upstream does not know the session");
        return DMCP_E_NOT_FOUND;
    }
    json_t *m = NULL;
    if (x->body != NULL && (x->is_json || x->status >= 400)) {
        m = json_loadb(x->body, x->len, JSON_REJECT_DUPLICATES, NULL);
    }
    if (json_is_object(m) && is_response(m) && same_id(json_object_get(m, "id"), id)) {
        *response = m;
        return DMCP_OK; /* also a JSON-RPC error sent with a 4xx status */
    }
    json_decref(m);
    if (x->status >= 400 || x->status < 200) {
        char code[16];
        snprintf(code, sizeof(code), "%ld", x->status);
        gw_http_fail(err, DMCP_E_UPSTREAM, (int)x->status, "the upstream answered HTTP %s", code);
        return DMCP_E_UPSTREAM;
    }
    gw_http_fail(err, DMCP_E_PROTOCOL, (int)x->status,
         "the upstream answered without a response to the request");
    return DMCP_E_PROTOCOL;
}

static dmcp_status h_request(dmcp_gw_usession *gs, const json_t *msg,
                             const dmcp_gw_request_params *p, json_t **response, dmcp_error *err)
{
    usess *s = (usess *)gs;
    *response = NULL;
    bool ok;
    char **extra = gw_http_copy_lines(p != NULL ? p->headers : NULL, p != NULL ? p->header_count : 0, &ok);
    size_t n_extra = p != NULL ? p->header_count : 0;
    if (!ok) {
        gw_http_fail(err, DMCP_E_INVALID_ARG, 0, "an upstream header is not acceptable");
        return DMCP_E_INVALID_ARG;
    }
    xfer x;
    memset(&x, 0, sizeof(x));
    x.s = s;
    x.sink = p != NULL ? p->sink : NULL;
    x.want_id = json_object_get(msg, "id");
    x.max = s->up->max_msg;
    unsigned t = p != NULL && p->timeout_ms > 0 ? p->timeout_ms : s->up->request_ms;
    dmcp_status st = perform(s, "POST", msg, extra, n_extra, t, &x, err);
    if (st == DMCP_OK) {
        st = finish_request(&x, x.want_id, response, err);
    } else if (st == DMCP_E_CANCELLED || st == DMCP_E_TIMEOUT) {
        /* Cancellation §: tell the upstream to stop (best effort). */
        json_t *n = json_pack("{s:s,s:s,s:{s:O,s:s}}", "jsonrpc", "2.0", "method",
                              "notifications/cancelled", "params", "requestId", x.want_id,
                              "reason", st == DMCP_E_TIMEOUT ? "timeout" : "cancelled");
        if (n != NULL) {
            (void)post_message(s, n, NULL);
            json_decref(n);
        }
    }
    xfer_free(&x);
    gw_http_free_lines(extra, n_extra);
    return st;
}

static dmcp_status h_notify(dmcp_gw_usession *gs, const json_t *msg, dmcp_error *err)
{
    return post_message((usess *)gs, msg, err);
}

static dmcp_status h_respond(dmcp_gw_usession *gs, const json_t *msg, dmcp_error *err)
{
    return post_message((usess *)gs, msg, err);
}

/* The GET stream: unsolicited messages, reconnecting (with Last-Event-ID) until close. */
static void *get_loop(void *arg)
{
    usess *s = arg;
    unsigned backoff_ms = 200;
    while (!atomic_load(&s->closing)) {
        xfer x;
        memset(&x, 0, sizeof(x));
        x.s = s;
        x.get = true;
        x.max = s->up->max_msg;
        dmcp_status st = perform(s, "GET", NULL, NULL, 0, 0, &x, NULL);
        long status = x.status;
        xfer_free(&x);
        if (atomic_load(&s->closing) || status == 405 || status == 404 ||
            (st == DMCP_OK && status >= 400 && status < 500)) {
            break; /* no GET stream offered, or the session is gone */
        }
        if (st == DMCP_OK && status == 200) {
            backoff_ms = 200; /* a stream that ended normally: reconnect at once */
        }
        for (unsigned waited = 0; waited < backoff_ms && !atomic_load(&s->closing); waited += 50) {
            nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
        }
        backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
    }
    return NULL;
}

static void usess_free(usess *s)
{
    gw_http_free_lines(s->hdrs, s->n_hdrs);
    if (s->fresh_free != NULL) {
        s->fresh_free(s->fresh_ud);
    }
    atomic_fetch_sub(&s->up->sessions, 1);
    free(s);
}

/* The relay of the upstream's GET stream (server-initiated messages), when wanted. */
static void start_get(usess *s)
{
    if (s->on_message != NULL && s->sid[0] != '\0') {
        if (atomic_fetch_add(&s->up->get_streams, 1) < GET_STREAMS_MAX &&
            pthread_create(&s->get_thread, NULL, get_loop, s) == 0) {
            s->get_started = true;
        } else {
            atomic_fetch_sub(&s->up->get_streams, 1);
        }
    }
}

static dmcp_status h_open(dmcp_gw_upstream *gup, const dmcp_gw_open_params *p,
                          dmcp_gw_usession **out, json_t **init_result, dmcp_error *err)
{
    http_up *up = (http_up *)gup;
    *out = NULL;
    if (init_result != NULL) {
        *init_result = NULL;
    }
    if (atomic_fetch_add(&up->sessions, 1) >= up->max_sessions) {
        atomic_fetch_sub(&up->sessions, 1);
        if (p->fresh_free != NULL) {
            p->fresh_free(p->fresh_ud);
        }
        gw_http_fail(err, DMCP_E_RATE_LIMITED, 0, "too many upstream sessions");
        return DMCP_E_RATE_LIMITED;
    }
    usess *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        atomic_fetch_sub(&up->sessions, 1);
        if (p->fresh_free != NULL) {
            p->fresh_free(p->fresh_ud);
        }
        gw_http_fail(err, DMCP_E_NOMEM, 0, "out of memory");
        return DMCP_E_NOMEM;
    }
    s->up = up;
    s->fresh = p->fresh_headers;
    s->fresh_ud = p->fresh_ud;
    s->fresh_free = p->fresh_free; /* from here on usess_free runs it */
    bool ok;
    s->hdrs = gw_http_copy_lines(p->headers, p->header_count, &ok);
    s->n_hdrs = ok ? p->header_count : 0;
    s->on_message = p->on_message;
    s->on_message_ud = p->on_message_ud;
    atomic_init(&s->closing, false);
    if (!ok) {
        usess_free(s);
        gw_http_fail(err, DMCP_E_INVALID_ARG, 0, "an upstream header is not acceptable");
        return DMCP_E_INVALID_ARG;
    }
    const char *rsid = json_string_value(json_object_get(p->resume, "sid"));
    const char *rver = json_string_value(json_object_get(p->resume, "version"));
    if (rsid != NULL && rver != NULL && strlen(rsid) < sizeof(s->sid) &&
        strlen(rver) < sizeof(s->version) && gw_http_header_ok(rsid) && gw_http_header_ok(rver)) {
        /* Another replica opened it (sessions shared through a store): continue it. If the
         * upstream has forgotten it, the first request gets 404 and the caller reopens. */
        snprintf(s->sid, sizeof(s->sid), "%s", rsid);
        snprintf(s->version, sizeof(s->version), "%s", rver);
        start_get(s);
        *out = (dmcp_gw_usession *)s;
        return DMCP_OK;
    }
    json_t *params = p->initialize_params != NULL ? json_deep_copy(p->initialize_params)
                                                  : json_pack("{s:s,s:{},s:{s:s,s:s}}",
                                                              "protocolVersion", "2025-11-25",
                                                              "capabilities", "clientInfo", "name",
                                                              "descope-mcp-gateway", "version", "1");
    json_t *init = json_pack("{s:s,s:i,s:s,s:o}", "jsonrpc", "2.0", "id", 0, "method",
                             "initialize", "params", params);
    xfer x;
    memset(&x, 0, sizeof(x));
    x.s = s;
    x.want_id = json_object_get(init, "id");
    x.max = up->max_msg;
    unsigned t = p->timeout_ms > 0 ? p->timeout_ms : up->request_ms;
    json_t *resp = NULL;
    dmcp_status st = init != NULL ? perform(s, "POST", init, NULL, 0, t, &x, err) : DMCP_E_NOMEM;
    if (st == DMCP_OK) {
        st = finish_request(&x, x.want_id, &resp, err);
    }
    json_decref(init);
    const json_t *result = json_object_get(resp, "result");
    if (st == DMCP_OK && !json_is_object(result)) {
        st = DMCP_E_PROTOCOL;
        const char *m = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
        gw_http_fail(err, st, 0, "the upstream refused initialize: %.200s", m != NULL ? m : "no result");
    }
    if (st == DMCP_OK) {
        memcpy(s->sid, x.sid, sizeof(s->sid));
        const char *v = json_string_value(json_object_get(result, "protocolVersion"));
        if (v != NULL && strlen(v) < sizeof(s->version) && gw_http_header_ok(v)) {
            snprintf(s->version, sizeof(s->version), "%s", v);
        }
    }
    xfer_free(&x);
    if (st == DMCP_OK) {
        json_t *n = json_pack("{s:s,s:s}", "jsonrpc", "2.0", "method", "notifications/initialized");
        st = n != NULL ? post_message(s, n, err) : DMCP_E_NOMEM;
        json_decref(n);
    }
    if (st != DMCP_OK) {
        json_decref(resp);
        usess_free(s);
        return st;
    }
    if (init_result != NULL) {
        *init_result = json_incref((json_t *)result);
    }
    json_decref(resp);
    start_get(s);
    *out = (dmcp_gw_usession *)s;
    return DMCP_OK;
}

/* {"sid": upstream session id, "version": negotiated version}: enough to continue. */
static json_t *h_state(dmcp_gw_usession *gs)
{
    usess *s = (usess *)gs;
    if (s == NULL || s->sid[0] == '\0') {
        return NULL;
    }
    return json_pack("{s:s,s:s}", "sid", s->sid, "version", s->version);
}

static void h_end(usess *s, bool delete_upstream);

static void h_close(dmcp_gw_usession *gs)
{
    h_end((usess *)gs, true);
}

static void h_detach(dmcp_gw_usession *gs)
{
    h_end((usess *)gs, false);
}

static void h_end(usess *s, bool delete_upstream)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->closing, true);
    if (s->get_started) {
        pthread_join(s->get_thread, NULL);
        atomic_fetch_sub(&s->up->get_streams, 1);
    }
    if (s->sid[0] != '\0' && delete_upstream) {
        /* Transports §2.5: a client that no longer needs the session SHOULD DELETE it. */
        atomic_store(&s->closing, false);
        xfer x;
        memset(&x, 0, sizeof(x));
        x.s = s;
        x.max = s->up->max_msg;
        (void)perform(s, "DELETE", NULL, NULL, 0, 2000, &x, NULL);
        xfer_free(&x);
    }
    usess_free(s);
}

static void h_free(dmcp_gw_upstream *gup)
{
    http_up *up = (http_up *)gup;
    if (up == NULL) {
        return;
    }
    for (size_t i = 0; i < up->npool; i++) {
        curl_easy_cleanup(up->pool[i]);
    }
    gw_fast_free(up->fast);
    pthread_mutex_destroy(&up->pool_mu);
    gw_http_free_lines(up->static_hdrs, up->n_static);
    free(up->url);
    free(up->base.name);
    free(up->base.prefix);
    free(up);
}

static const dmcp_gw_upstream_ops http_ops = {
    .kind = "http",
    .open = h_open,
    .request = h_request,
    .notify = h_notify,
    .respond = h_respond,
    .close = h_close,
    .session_state = h_state,
    .detach = h_detach,
    .free = h_free,
};

dmcp_status dmcp__gw_http_upstream_new(const char *url, const dmcp_gw_upstream_options *o,
                                       dmcp_gw_upstream **out, dmcp_error *err)
{
    *out = NULL;
    if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strlen(url) > 2048 || !gw_http_header_ok(url)) {
        gw_http_fail(err, DMCP_E_CONFIG, 0, "an upstream URL must be http(s)://HOST/PATH");
        return DMCP_E_CONFIG;
    }
    http_up *up = calloc(1, sizeof(*up));
    if (up == NULL || (up->url = strdup(url)) == NULL) {
        free(up);
        gw_http_fail(err, DMCP_E_NOMEM, 0, "out of memory");
        return DMCP_E_NOMEM;
    }
    up->base.ops = &http_ops;
    pthread_mutex_init(&up->pool_mu, NULL);
    up->connect_ms = o != NULL && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    up->request_ms = o != NULL && o->request_timeout_ms > 0 ? o->request_timeout_ms : 60000;
    up->max_msg = o != NULL && o->max_message_bytes > 0 ? o->max_message_bytes
                                                         : DMCP_GW_MAX_MESSAGE_BYTES;
    up->max_sessions = o != NULL && o->max_sessions > 0 ? o->max_sessions : 10000;
    atomic_init(&up->sessions, 0);
    atomic_init(&up->get_streams, 0);
    bool ok = true;
    if (o != NULL && o->static_header_count > 0) {
        up->static_hdrs = gw_http_copy_lines(o->static_headers, o->static_header_count, &ok);
        up->n_static = ok ? o->static_header_count : 0;
    }
    if (!ok) {
        h_free(&up->base);
        gw_http_fail(err, DMCP_E_CONFIG, 0, "an upstream header is not acceptable");
        return DMCP_E_CONFIG;
    }
    up->fast = gw_fast_new(url, POOL_MAX);
    *out = &up->base;
    return DMCP_OK;
}
