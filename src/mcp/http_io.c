/* HTTP responses of the MCP endpoint and the pure header checks (Host, Origin, Accept,
 * Content-Type). */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "mcp/http_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* Responses                                                                                */
/* ---------------------------------------------------------------------------------------- */

const char *dmcp__http_header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* CORS on every endpoint response to an allowed browser origin (resource-server §5 row 13). */
void dmcp__http_cors(struct MHD_Response *r, const char *origin)
{
    if (origin == NULL) {
        return;
    }
    MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(r, "Vary", "Origin");
    MHD_add_response_header(r, "Access-Control-Expose-Headers",
                            "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version");
}

/*
 * Set while a request is answered on the call that carries its headers, before its body was
 * read: that response closes the connection, so nothing after the headers is ever taken for
 * another request (RFC 9112 §6.3, §9.6). Per thread: libmicrohttpd calls the access handler
 * of one connection on one thread at a time.
 */
_Thread_local bool dmcp__http_close_after;

/* The request this thread is handling (http_obs.c says what it is for). The responders note
 * the status they queue in it, so they need nothing of the observation code. */
_Thread_local dmcp__reqobs *dmcp__obs_current;

void dmcp__obs_status(unsigned status)
{
    if (dmcp__obs_current != NULL) {
        dmcp__obs_current->status = status;
    }
}

enum MHD_Result dmcp__http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    if (r == NULL) {
        return MHD_NO;
    }
    if (dmcp__http_close_after) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES) {
        dmcp__obs_status(status);
    }
    return ret;
}

struct MHD_Response *dmcp__http_buffer(char *data, size_t len, const char *ctype)
{
    struct MHD_Response *r;
    if (data == NULL) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (r == NULL) {
            free(data);
        }
    }
    if (r != NULL && ctype != NULL) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    }
    return r;
}

/* Sends a JSON value (takes it). extra_name/extra_value: one more header, may be NULL. */
enum MHD_Result dmcp__http_send_json(struct MHD_Connection *c, unsigned status, json_t *v,
                                     const char *origin, const char *extra_name,
                                     const char *extra_value)
{
    size_t len = 0;
    char *s = v != NULL ? dmcp__json_dump(v, &len) : NULL;
    json_decref(v);
    if (s == NULL) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    struct MHD_Response *r = dmcp__http_buffer(s, len, s != NULL ? "application/json" : NULL);
    if (r == NULL) {
        return MHD_NO;
    }
    dmcp__http_cors(r, origin);
    if (extra_name != NULL) {
        MHD_add_response_header(r, extra_name, extra_value);
    }
    return dmcp__http_queue(c, status, r);
}

/* A transport-level error: HTTP status plus a JSON-RPC error body without id. */
enum MHD_Result dmcp__http_send_error(struct MHD_Connection *c, unsigned status, int code,
                                      const char *message, const char *origin)
{
    return dmcp__http_send_json(c, status, dmcp__jsonrpc_error(NULL, code, message, NULL), origin,
                                NULL, NULL);
}

enum MHD_Result dmcp__http_send_empty(struct MHD_Connection *c, unsigned status, const char *origin,
                                      const char *allow)
{
    struct MHD_Response *r = dmcp__http_buffer(NULL, 0, NULL);
    if (r == NULL) {
        return MHD_NO;
    }
    dmcp__http_cors(r, origin);
    if (allow != NULL) {
        MHD_add_response_header(r, "Allow", allow);
    }
    return dmcp__http_queue(c, status, r);
}

/* Sends an authorizer's response (takes it). */
enum MHD_Result dmcp__http_send_custom(struct MHD_Connection *c, dmcp_http_response *hr,
                                       const char *origin)
{
    char *body = NULL;
    if (hr->body != NULL) {
        body = malloc(hr->body_len + 1);
        if (body == NULL) {
            dmcp_http_response_free(hr);
            return MHD_NO;
        }
        memcpy(body, hr->body, hr->body_len);
    }
    struct MHD_Response *r = dmcp__http_buffer(body, hr->body_len, hr->content_type);
    if (r == NULL) {
        dmcp_http_response_free(hr);
        return MHD_NO;
    }
    for (size_t i = 0; i < hr->nheaders; i++) {
        MHD_add_response_header(r, hr->names[i], hr->values[i]);
    }
    dmcp__http_cors(r, origin);
    unsigned status = hr->status;
    dmcp_http_response_free(hr);
    return dmcp__http_queue(c, status, r);
}

/*
 * Counts requests in flight without touching the shared mutex: the condition variable is only
 * signalled when a stop is draining and the count reaches zero. (Signalling on every request
 * woke the housekeeper and serialised all workers on h->mu: ~20% of the CPU under load.)
 */
void dmcp__http_active_add(dmcp__http *h, int d)
{
    int now = atomic_fetch_add(&h->active, d) + d;
    if (now == 0 && atomic_load(&h->draining)) {
        pthread_mutex_lock(&h->mu);
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
    }
}

/* Collects notifications of a synchronous request (sent as SSE before the response). */
dmcp_status dmcp__collect_sink_send(dmcp__sink *sink, json_t *msg)
{
    json_t *arr = sink->ud;
    if (json_array_size(arr) >= 10000) {
        json_decref(msg);
        return DMCP_E_TOO_LARGE;
    }
    return json_array_append_new(arr, msg) == 0 ? DMCP_OK : DMCP_E_NOMEM;
}

unsigned dmcp__era26_http_status(int code)
{
    switch (code) {
    case DMCP_JSONRPC_METHOD_NOT_FOUND:
        return MHD_HTTP_NOT_FOUND;
    case DMCP__JSONRPC_HEADER_MISMATCH:
    case DMCP__JSONRPC_MISSING_CAPABILITY:
    case DMCP__JSONRPC_UNSUPPORTED_VERSION:
        return MHD_HTTP_BAD_REQUEST;
    default:
        return MHD_HTTP_OK;
    }
}

enum MHD_Result dmcp__http_send_answer26(struct MHD_Connection *c, json_t *answer, json_t *notes,
                                         const char *origin)
{
    const json_t *err = json_object_get(answer, "error");
    if (err != NULL && json_array_size(notes) == 0) {
        json_decref(notes);
        unsigned status =
            dmcp__era26_http_status((int)json_integer_value(json_object_get(err, "code")));
        return dmcp__http_send_json(c, status, answer, origin, NULL, NULL);
    }
    return dmcp__http_send_answer(c, answer, notes, NULL, origin, NULL);
}

/* Answers a synchronous result: JSON, or SSE when notifications were produced. */
enum MHD_Result dmcp__http_send_answer(struct MHD_Connection *c, json_t *answer, json_t *notes,
                                       const char *version, const char *origin,
                                       const char *session_id)
{
    if (answer == NULL) {
        json_decref(notes);
        /* Transports §2.1: notifications and responses only -> 202 Accepted, no body. */
        return dmcp__http_send_empty(c, MHD_HTTP_ACCEPTED, origin, NULL);
    }
    if (json_array_size(notes) == 0) {
        json_decref(notes);
        return dmcp__http_send_json(c, MHD_HTTP_OK, answer, origin,
                                    session_id != NULL ? "Mcp-Session-Id" : NULL, session_id);
    }
    /* Notifications came first: answer as one SSE body (events in order, response last). */
    dmcp__buf b;
    dmcp__buf_init(&b, DMCP_MAX_BODY_BYTES * 4);
    json_array_append_new(notes, answer);
    size_t i;
    json_t *m;
    unsigned long seq = 0;
    dmcp_status rc = DMCP_OK;
    if (version != NULL && strcmp(version, DMCP_PROTOCOL_2025_11_25) >= 0) {
        rc = dmcp__buf_appends(&b, "id: 0-0\ndata: \n\n");
    }
    json_array_foreach(notes, i, m)
    {
        char *s = dmcp__json_dump(m, NULL);
        if (s == NULL || rc != DMCP_OK) {
            free(s);
            rc = DMCP_E_NOMEM;
            break;
        }
        rc = dmcp__buf_printf(&b, "id: 0-%lu\ndata: %s\n\n", ++seq, s);
        free(s);
    }
    json_decref(notes);
    if (rc != DMCP_OK) {
        dmcp__buf_free(&b);
        return dmcp__http_send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, DMCP_JSONRPC_INTERNAL_ERROR,
                                     "Response too large", origin);
    }
    size_t len = 0;
    char *data = dmcp__buf_take(&b, &len);
    struct MHD_Response *r = dmcp__http_buffer(data, len, "text/event-stream");
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    dmcp__http_cors(r, origin);
    if (session_id != NULL) {
        MHD_add_response_header(r, "Mcp-Session-Id", session_id);
    }
    return dmcp__http_queue(c, MHD_HTTP_OK, r);
}

/* ---------------------------------------------------------------------------------------- */
/* Host / Origin (Transports §2.0.1, DNS rebinding)                                         */
/* ---------------------------------------------------------------------------------------- */

static void lower_copy(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap) {
        n = cap - 1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = src[i];
        dst[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    dst[n] = '\0';
}

/* Splits "host[:port]" / "[v6][:port]" into a lowercase host (brackets kept). */
static bool split_host(const char *hp, char *host, size_t cap)
{
    size_t n = strlen(hp);
    if (n == 0 || n >= cap) {
        return false;
    }
    size_t hl = n;
    if (hp[0] == '[') {
        const char *rb = strchr(hp, ']');
        if (rb == NULL || (rb[1] != '\0' && rb[1] != ':')) {
            return false;
        }
        hl = (size_t)(rb - hp) + 1;
    } else {
        const char *colon = strchr(hp, ':');
        if (colon != NULL) {
            if (strchr(colon + 1, ':') != NULL) {
                return false;
            }
            hl = (size_t)(colon - hp);
        }
    }
    const char *port = hp + hl;
    if (*port == ':') {
        for (const char *p = port + 1; *p != '\0'; p++) {
            if (*p < '0' || *p > '9') {
                return false;
            }
        }
    }
    lower_copy(host, cap, hp, hl);
    return hl > 0;
}

static bool is_loopback_name(const char *host)
{
    return strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
           strcmp(host, "[::1]") == 0;
}

bool dmcp__http_host_allowed(const dmcp_server *srv, bool loopback, const char *hv)
{
    if (srv->n_allowed_hosts == 0 && !loopback) {
        return true; /* public bind without an allowlist: the proxy/deployer decides */
    }
    char host[300], full[300];
    if (hv == NULL || !split_host(hv, host, sizeof(host))) {
        return false;
    }
    lower_copy(full, sizeof(full), hv, strlen(hv));
    if (srv->n_allowed_hosts == 0) {
        return is_loopback_name(host);
    }
    for (size_t i = 0; i < srv->n_allowed_hosts; i++) {
        if (strcmp(srv->allowed_hosts[i], host) == 0 || strcmp(srv->allowed_hosts[i], full) == 0) {
            return true;
        }
    }
    return false;
}

bool dmcp__http_origin_allowed(const dmcp_server *srv, bool loopback, const char *origin)
{
    char lo[300];
    size_t n = origin != NULL ? strlen(origin) : 0;
    if (n == 0 || n >= sizeof(lo)) {
        return false;
    }
    lower_copy(lo, sizeof(lo), origin, n);
    for (size_t i = 0; i < srv->n_allowed_origins; i++) {
        if (strcmp(srv->allowed_origins[i], "*") == 0 || strcmp(srv->allowed_origins[i], lo) == 0) {
            return true;
        }
    }
    if (srv->n_allowed_origins > 0 || !loopback) {
        return false;
    }
    const char *rest = NULL;
    if (strncmp(lo, "http://", 7) == 0) {
        rest = lo + 7;
    } else if (strncmp(lo, "https://", 8) == 0) {
        rest = lo + 8;
    } else {
        return false; /* includes "null" */
    }
    char host[300];
    return split_host(rest, host, sizeof(host)) && is_loopback_name(host);
}

/* ---------------------------------------------------------------------------------------- */
/* Content negotiation                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* True when the Accept header lists the type, its major type with a star, or any type. */
bool dmcp__http_accepts(const char *accept, const char *type)
{
    if (accept == NULL || type == NULL || strchr(type, '/') == NULL) {
        return false;
    }
    size_t major_len = (size_t)(strchr(type, '/') - type);
    const char *p = accept;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        const char *start = p;
        while (*p != '\0' && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') {
            p++;
        }
        size_t len = (size_t)(p - start);
        if (len > 0) {
            if ((len == strlen(type) && dmcp__ascii_ncasecmp(start, type, len) == 0) ||
                (len == 3 && strncmp(start, "*/*", 3) == 0) ||
                (len == major_len + 2 && dmcp__ascii_ncasecmp(start, type, major_len) == 0 &&
                 strncmp(start + major_len, "/*", 2) == 0)) {
                return true;
            }
        }
        while (*p != '\0' && *p != ',') {
            p++;
        }
    }
    return false;
}

bool dmcp__http_content_type_json(const char *ct)
{
    if (ct == NULL) {
        return false;
    }
    while (*ct == ' ') {
        ct++;
    }
    size_t n = strlen("application/json");
    if (dmcp__ascii_ncasecmp(ct, "application/json", n) != 0) {
        return false;
    }
    char next = ct[n];
    return next == '\0' || next == ';' || next == ' ';
}

bool dmcp__http_resolve(const char *host, unsigned port, struct addrinfo **ai)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    *ai = NULL;
    if (getaddrinfo(host, portstr, &hints, ai) != 0 || *ai == NULL) {
        if (*ai != NULL) {
            freeaddrinfo(*ai);
            *ai = NULL;
        }
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Request view for the authorizer                                                          */
/* ---------------------------------------------------------------------------------------- */

typedef struct hdr_iter {
    const char *name;
    size_t want, seen;
    const char *found;
} hdr_iter;

static enum MHD_Result hdr_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    (void)kind;
    hdr_iter *it = cls;
    if (key != NULL && dmcp__ascii_casecmp(key, it->name) == 0) {
        if (it->seen == it->want) {
            it->found = value != NULL ? value : "";
        }
        it->seen++;
    }
    return MHD_YES;
}

const char *dmcp_http_request_method(const dmcp_http_request *req)
{
    return req != NULL ? req->method : NULL;
}

const char *dmcp_http_request_path(const dmcp_http_request *req)
{
    return req != NULL ? req->path : NULL;
}

size_t dmcp_http_request_header_count(const dmcp_http_request *req, const char *name)
{
    if (req == NULL || name == NULL) {
        return 0;
    }
    hdr_iter it = {name, (size_t)-1, 0, NULL};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, hdr_cb, &it);
    return it.seen;
}

const char *dmcp_http_request_header(const dmcp_http_request *req, const char *name, size_t index)
{
    if (req == NULL || name == NULL) {
        return NULL;
    }
    hdr_iter it = {name, index, 0, NULL};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, hdr_cb, &it);
    return it.found;
}

bool dmcp_http_request_has_query_param(const dmcp_http_request *req, const char *name)
{
    if (req == NULL || name == NULL) {
        return false;
    }
    hdr_iter it = {name, (size_t)-1, 0, NULL};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, hdr_cb, &it);
    return it.seen > 0;
}

bool dmcp_http_request_is_tls(const dmcp_http_request *req)
{
    return req != NULL && req->tls;
}
