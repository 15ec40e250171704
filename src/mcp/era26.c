/*
 * The era adapter's rules for the stateless revision 2026-07-28 (mcp-transport.md §6),
 * transport-neutral: which requests belong to it, the per-request _meta and header checks,
 * server/discover, resultType and caching hints on results, and input-required results
 * (MRTR) with their HMAC-sealed requestState. The HTTP side is http_era26.c; the 2025
 * session-based rules stay in lifecycle.c and http_era25.c. Neither era calls the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp/mcp_internal.h"

#define META_PREFIX "io.modelcontextprotocol/"
#define STATE_TTL_SECONDS 600
#define MAX_STATE_LEN (256 * 1024)
#define MAX_INPUT_REQUESTS 32

/* ---------------------------------------------------------------------------------------- */
/* Base64 (standard for header values, URL-safe without padding for requestState)           */
/* ---------------------------------------------------------------------------------------- */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const unsigned char *in, size_t len, bool url)
{
    const char *al = url ? b64_url : b64_std;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len) {
            v |= (unsigned)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= in[i + 2];
        }
        out[o++] = al[(v >> 18) & 63];
        out[o++] = al[(v >> 12) & 63];
        if (i + 1 < len) {
            out[o++] = al[(v >> 6) & 63];
        } else if (!url) {
            out[o++] = '=';
        }
        if (i + 2 < len) {
            out[o++] = al[v & 63];
        } else if (!url) {
            out[o++] = '=';
        }
    }
    out[o] = '\0';
    return out;
}

static int b64_val(char c, bool url)
{
    const char *al = url ? b64_url : b64_std;
    const char *p = c != '\0' ? strchr(al, c) : NULL;
    return p != NULL ? (int)(p - al) : -1;
}

/* Strict decoding: standard needs padding to a multiple of 4; URL-safe takes none. Unused
 * trailing bits must be zero. NUL-terminated output; NULL when invalid. */
static unsigned char *b64_decode(const char *in, size_t len, bool url, size_t *out_len)
{
    size_t pad = 0;
    if (!url) {
        if (len % 4 != 0) {
            return NULL;
        }
        while (pad < 2 && len > pad && in[len - 1 - pad] == '=') {
            pad++;
        }
    } else if (len % 4 == 1) {
        return NULL;
    }
    size_t n = len - pad;
    unsigned char *out = malloc(n * 3 / 4 + 3);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(in[i], url);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((acc >> bits) & 0xFF);
        }
    }
    if ((acc & ((1u << bits) - 1)) != 0) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

char *dmcp__era26_header_value(const char *raw, bool *invalid)
{
    *invalid = false;
    if (raw == NULL) {
        return NULL;
    }
    /* Trimmed (optional whitespace around a field value, RFC 9110 §5.5). */
    while (*raw == ' ' || *raw == '\t') {
        raw++;
    }
    size_t len = strlen(raw);
    while (len > 0 && (raw[len - 1] == ' ' || raw[len - 1] == '\t')) {
        len--;
    }
    const size_t pre = sizeof("=?base64?") - 1;
    if (len >= pre + 2 && strncmp(raw, "=?base64?", pre) == 0 && raw[len - 2] == '?' &&
        raw[len - 1] == '=') {
        size_t n = 0;
        unsigned char *d = b64_decode(raw + pre, len - pre - 2, false, &n);
        if (d == NULL || memchr(d, '\0', n) != NULL) {
            free(d);
            *invalid = true;
            return NULL;
        }
        return (char *)d;
    }
    return dmcp__strndup(raw, len);
}

/* ---------------------------------------------------------------------------------------- */
/* Which requests, and the checks before dispatch                                           */
/* ---------------------------------------------------------------------------------------- */

static const json_t *meta_of(const json_t *msg)
{
    return json_object_get(json_object_get(msg, "params"), "_meta");
}

bool dmcp__era26_applies(const char *header_version, const json_t *body)
{
    if (header_version != NULL && strcmp(header_version, DMCP_PROTOCOL_2026_07_28) == 0) {
        return true;
    }
    return json_is_object(body) &&
           json_object_get(meta_of(body), META_PREFIX "protocolVersion") != NULL;
}

static const char *const methods26[] = {
    "server/discover",     "tools/list",           "tools/call",  "resources/list",
    "resources/read",      "prompts/list",         "prompts/get", "resources/templates/list",
    "completion/complete", "subscriptions/listen",
};

bool dmcp__era26_method_known(const char *method)
{
    for (size_t i = 0; method != NULL && i < DMCP__ARRAY_LEN(methods26); i++) {
        if (strcmp(methods26[i], method) == 0) {
            return true;
        }
    }
    return false;
}

/* The name Mcp-Name must carry for a method, or NULL when it carries none. */
static const char *name_of(const char *method, const json_t *params)
{
    if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0) {
        return json_string_value(json_object_get(params, "name"));
    }
    if (strcmp(method, "resources/read") == 0) {
        return json_string_value(json_object_get(params, "uri"));
    }
    return NULL;
}

static bool name_required(const char *method)
{
    return strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
           strcmp(method, "resources/read") == 0;
}

static bool header_equals(const char *raw, const char *want)
{
    bool invalid = false;
    char *v = dmcp__era26_header_value(raw, &invalid);
    bool eq = v != NULL && want != NULL && strcmp(v, want) == 0;
    free(v);
    return eq;
}

int dmcp__era26_check(const json_t *msg, const dmcp__era26_headers *h, unsigned *http,
                      const char **message, json_t **data)
{
    *data = NULL;
    *http = 400;
    const char *method = json_string_value(json_object_get(msg, "method"));
    const json_t *params = json_object_get(msg, "params");
    const json_t *meta = meta_of(msg);
    const json_t *pv = json_object_get(meta, META_PREFIX "protocolVersion");
    const json_t *caps = json_object_get(meta, META_PREFIX "clientCapabilities");
    if (!json_is_object(meta) || !json_is_string(pv) || !json_is_object(caps)) {
        *message = "Invalid params: _meta must carry io.modelcontextprotocol/protocolVersion "
                   "and io.modelcontextprotocol/clientCapabilities";
        return DMCP_JSONRPC_INVALID_PARAMS;
    }
    const char *requested = json_string_value(pv);
    if (h != NULL && (h->version == NULL || strcmp(h->version, requested) != 0)) {
        *message = "Header mismatch: MCP-Protocol-Version must equal the _meta protocolVersion";
        return DMCP__JSONRPC_HEADER_MISMATCH;
    }
    if (strcmp(requested, DMCP_PROTOCOL_2026_07_28) != 0) {
        *message = "Unsupported protocol version";
        *data =
            json_pack("{s:[s],s:s}", "supported", DMCP_PROTOCOL_2026_07_28, "requested", requested);
        return DMCP__JSONRPC_UNSUPPORTED_VERSION;
    }
    if (h != NULL && (h->method == NULL || !header_equals(h->method, method))) {
        *message = "Header mismatch: Mcp-Method must equal the request's method";
        return DMCP__JSONRPC_HEADER_MISMATCH;
    }
    if (h != NULL && name_required(method)) {
        const char *name = name_of(method, params);
        if (h->name == NULL || name == NULL || !header_equals(h->name, name)) {
            *message = "Header mismatch: Mcp-Name must equal the request's name or uri";
            return DMCP__JSONRPC_HEADER_MISMATCH;
        }
    }
    if (!dmcp__era26_method_known(method)) {
        *http = 404;
        *message = "Method not found";
        return DMCP_JSONRPC_METHOD_NOT_FOUND;
    }
    const json_t *lv = json_object_get(meta, META_PREFIX "logLevel");
    if (lv != NULL && dmcp__log_level_parse(json_string_value(lv)) < 0) {
        *message = "Invalid params: unknown io.modelcontextprotocol/logLevel";
        return DMCP_JSONRPC_INVALID_PARAMS;
    }
    *http = 200;
    return 0;
}

void dmcp__era26_prepare_session(dmcp__session *sess, const json_t *msg)
{
    const json_t *meta = meta_of(msg);
    snprintf(sess->version, sizeof(sess->version), "%s", DMCP_PROTOCOL_2026_07_28);
    json_decref(sess->client_caps);
    sess->client_caps = json_incref(json_object_get(meta, META_PREFIX "clientCapabilities"));
    json_decref(sess->client_info);
    sess->client_info = json_incref(json_object_get(meta, META_PREFIX "clientInfo"));
    const json_t *lv = json_object_get(meta, META_PREFIX "logLevel");
    /* No logLevel: no notifications/message at all (one above the highest level). */
    atomic_store(&sess->log_level, lv != NULL ? dmcp__log_level_parse(json_string_value(lv))
                                              : DMCP_LOG_EMERGENCY + 1);
    atomic_store(&sess->initialized, true);
    sess->client_ready = true;
}

/* ---------------------------------------------------------------------------------------- */
/* Results                                                                                  */
/* ---------------------------------------------------------------------------------------- */

json_t *dmcp__era26_discover(const dmcp_server *srv)
{
    json_t *res = json_pack("{s:o}", "capabilities", dmcp__server_capabilities(srv));
    if (res == NULL) {
        return NULL;
    }
    json_object_set_new(res, "supportedVersions", json_pack("[s]", DMCP_PROTOCOL_2026_07_28));
    json_t *info = json_pack("{s:s,s:s}", "name", srv->name, "version", srv->version);
    if (info != NULL && srv->title != NULL) {
        json_object_set_new(info, "title", json_string(srv->title));
    }
    json_object_set_new(res, "_meta", json_pack("{s:o}", META_PREFIX "serverInfo", info));
    if (srv->instructions != NULL) {
        json_object_set_new(res, "instructions", json_string(srv->instructions));
    }
    return res;
}

static bool cacheable(const char *method)
{
    return strcmp(method, "server/discover") == 0 || strcmp(method, "tools/list") == 0 ||
           strcmp(method, "prompts/list") == 0 || strcmp(method, "resources/list") == 0 ||
           strcmp(method, "resources/templates/list") == 0 || strcmp(method, "resources/read") == 0;
}

void dmcp__era26_decorate(const dmcp_server *srv, const char *method, json_t *result)
{
    if (!json_is_object(result)) {
        return;
    }
    if (json_object_get(result, "resultType") == NULL) {
        json_object_set_new(result, "resultType", json_string("complete"));
    }
    if (method != NULL && cacheable(method) && json_object_get(result, "ttlMs") == NULL) {
        bool pub = srv->cache_public >= 0 ? srv->cache_public != 0 : srv->authorizer == NULL;
        json_object_set_new(result, "ttlMs", json_integer(srv->cache_ttl_ms));
        json_object_set_new(result, "cacheScope", json_string(pub ? "public" : "private"));
    }
}

/* ---------------------------------------------------------------------------------------- */
/* subscriptions/listen                                                                     */
/* ---------------------------------------------------------------------------------------- */

#define MAX_LISTEN_URIS 256

static const struct {
    const char *field;
    unsigned list;
    const char *method;
} listen_lists[] = {
    {"toolsListChanged", DMCP_LIST_TOOLS, "notifications/tools/list_changed"},
    {"promptsListChanged", DMCP_LIST_PROMPTS, "notifications/prompts/list_changed"},
    {"resourcesListChanged", DMCP_LIST_RESOURCES, "notifications/resources/list_changed"},
};

json_t *dmcp__era26_listen_filter(const dmcp_server *srv, dmcp__session *sess, const json_t *params,
                                  int *code, const char **message)
{
    *code = DMCP_JSONRPC_INVALID_PARAMS;
    const json_t *want = json_object_get(params, "notifications");
    if (!json_is_object(want)) {
        *message = "Invalid params: subscriptions/listen needs a notifications object";
        return NULL;
    }
    json_t *honoured = json_object();
    if (honoured == NULL) {
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Out of memory";
        return NULL;
    }
    sess->listen_lists = 0;
    for (size_t i = 0; i < DMCP__ARRAY_LEN(listen_lists); i++) {
        const json_t *v = json_object_get(want, listen_lists[i].field);
        if (v != NULL && !json_is_boolean(v)) {
            json_decref(honoured);
            *message = "Invalid params: a list-changed filter must be a boolean";
            return NULL;
        }
        /* Only what the server declared it sends (a list it said never changes: omitted). */
        if (json_is_true(v) && (srv->list_changed & listen_lists[i].list) != 0) {
            sess->listen_lists |= listen_lists[i].list;
            json_object_set_new(honoured, listen_lists[i].field, json_true());
        }
    }
    const json_t *uris = json_object_get(want, "resourceSubscriptions");
    if (uris != NULL) {
        if (!json_is_array(uris) || json_array_size(uris) > MAX_LISTEN_URIS) {
            json_decref(honoured);
            *message = "Invalid params: resourceSubscriptions must be an array of at most 256 "
                       "uris";
            return NULL;
        }
        bool offered = srv->resources.count > 0 || srv->templates.count > 0;
        json_t *subs = json_object(), *list = json_array();
        size_t i;
        const json_t *u;
        json_array_foreach(uris, i, u)
        {
            if (!json_is_string(u) || json_string_length(u) == 0) {
                json_decref(subs);
                json_decref(list);
                json_decref(honoured);
                *message = "Invalid params: resourceSubscriptions must hold uri strings";
                return NULL;
            }
            if (offered && subs != NULL && list != NULL &&
                json_object_get(subs, json_string_value(u)) == NULL) {
                json_object_set_new(subs, json_string_value(u), json_true());
                json_array_append(list, (json_t *)u);
            }
        }
        if (offered && subs != NULL && list != NULL) {
            json_decref(sess->subs);
            sess->subs = subs;
            json_object_set_new(honoured, "resourceSubscriptions", list);
        } else {
            json_decref(subs);
            json_decref(list);
        }
    }
    *code = 0;
    return honoured;
}

json_t *dmcp__era26_listen_ack(const dmcp__session *sess, json_t *filter)
{
    return dmcp__jsonrpc_notification("notifications/subscriptions/acknowledged",
                                      json_pack("{s:o,s:{s:O}}", "notifications", filter, "_meta",
                                                META_PREFIX "subscriptionId", sess->listen_id));
}

bool dmcp__era26_listen_tag(const dmcp__session *sess, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (method == NULL || sess->listen_id == NULL) {
        return false;
    }
    bool wanted = strcmp(method, "notifications/resources/updated") == 0; /* subs decided */
    for (size_t i = 0; !wanted && i < DMCP__ARRAY_LEN(listen_lists); i++) {
        wanted = strcmp(method, listen_lists[i].method) == 0 &&
                 (sess->listen_lists & listen_lists[i].list) != 0;
    }
    if (!wanted) {
        return false; /* the client did not opt in to this type: never sent */
    }
    json_t *params = json_object_get(msg, "params");
    if (params == NULL) {
        params = json_object();
        if (params == NULL || json_object_set_new(msg, "params", params) != 0) {
            return false;
        }
    }
    json_t *meta = json_object_get(params, "_meta");
    if (meta == NULL) {
        meta = json_object();
        if (meta == NULL || json_object_set_new(params, "_meta", meta) != 0) {
            return false;
        }
    }
    return json_object_set(meta, META_PREFIX "subscriptionId", sess->listen_id) == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Input-required results and the sealed requestState                                      */
/* ---------------------------------------------------------------------------------------- */

/* What a state is bound to: the principal, the method and its tool/prompt name or uri. */
static json_t *binding_of(const dmcp__mrtr *m)
{
    return json_pack("{s:s,s:s,s:s}", "b", m->binding != NULL ? m->binding : "", "m", m->method,
                     "n", m->name != NULL ? m->name : "");
}

static char *seal(const dmcp_server *srv, const dmcp__mrtr *m, json_t *answers)
{
    json_t *st = binding_of(m);
    if (st == NULL) {
        return NULL;
    }
    json_object_set_new(st, "e", json_integer((json_int_t)time(NULL) + STATE_TTL_SECONDS));
    json_object_set(st, "a", answers);
    size_t len = 0;
    char *payload = dmcp__json_dump(st, &len);
    json_decref(st);
    if (payload == NULL) {
        return NULL;
    }
    unsigned char mac[32];
    char *p64 = b64_encode((const unsigned char *)payload, len, true);
    free(payload);
    if (p64 == NULL ||
        dmcp__hmac_sha256(srv->state_key, srv->state_key_len, p64, strlen(p64), mac) != DMCP_OK) {
        free(p64);
        return NULL;
    }
    char *m64 = b64_encode(mac, sizeof(mac), true);
    char *out = NULL;
    if (m64 != NULL && (out = malloc(strlen(p64) + strlen(m64) + 2)) != NULL) {
        sprintf(out, "%s.%s", p64, m64);
    }
    free(p64);
    free(m64);
    return out;
}

/* Verifies a requestState; returns its answers (new reference) or NULL (tampered, expired,
 * bound to another principal or request). */
static json_t *unseal(const dmcp_server *srv, const dmcp__mrtr *m, const char *state)
{
    size_t len = strlen(state);
    const char *dot = memchr(state, '.', len);
    if (len > MAX_STATE_LEN || dot == NULL) {
        return NULL;
    }
    size_t plen = (size_t)(dot - state), mlen = 0, jlen = 0;
    unsigned char want[32];
    unsigned char *mac = b64_decode(dot + 1, len - plen - 1, true, &mlen);
    bool ok = mac != NULL && mlen == sizeof(want) &&
              dmcp__hmac_sha256(srv->state_key, srv->state_key_len, state, plen, want) == DMCP_OK &&
              dmcp__mac_equal(mac, want, sizeof(want));
    free(mac);
    if (!ok) {
        return NULL;
    }
    unsigned char *js = b64_decode(state, plen, true, &jlen);
    json_t *st =
        js != NULL ? json_loadb((const char *)js, jlen, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(js);
    json_t *bind = binding_of(m);
    const char *k;
    json_t *v;
    json_object_foreach(bind, k, v)
    {
        if (!json_equal(json_object_get(st, k), v)) {
            ok = false;
        }
    }
    json_decref(bind);
    const json_t *exp = json_object_get(st, "e");
    json_t *answers = json_object_get(st, "a");
    if (!ok || !json_is_integer(exp) || json_integer_value(exp) < (json_int_t)time(NULL) ||
        !json_is_object(answers)) {
        json_decref(st);
        return NULL;
    }
    json_incref(answers);
    json_decref(st);
    return answers;
}

dmcp__mrtr *dmcp__mrtr_new(const char *binding, const char *method, const char *name)
{
    dmcp__mrtr *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    m->binding = binding != NULL ? dmcp__strdup(binding) : NULL;
    m->method = dmcp__strdup(method);
    m->name = name != NULL ? dmcp__strdup(name) : NULL;
    if (m->method == NULL || (binding != NULL && m->binding == NULL) ||
        (name != NULL && m->name == NULL)) {
        dmcp__mrtr_free(m);
        return NULL;
    }
    return m;
}

int dmcp__mrtr_begin(const dmcp_server *srv, dmcp__mrtr *m, const json_t *params,
                     const char **message)
{
    m->answers = json_object();
    m->requests = json_object();
    m->missing = json_object();
    if (m->answers == NULL || m->requests == NULL || m->missing == NULL) {
        *message = "Out of memory";
        return DMCP_JSONRPC_INTERNAL_ERROR;
    }
    const json_t *rs = json_object_get(params, "requestState");
    if (rs != NULL) {
        json_t *prev = json_is_string(rs) ? unseal(srv, m, json_string_value(rs)) : NULL;
        if (prev == NULL) {
            *message = "Invalid params: requestState failed its integrity check or expired";
            return DMCP_JSONRPC_INVALID_PARAMS;
        }
        json_object_update(m->answers, prev);
        json_decref(prev);
    }
    const json_t *ir = json_object_get(params, "inputResponses");
    if (ir != NULL && !json_is_object(ir)) {
        *message = "Invalid params: inputResponses must be an object";
        return DMCP_JSONRPC_INVALID_PARAMS;
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)ir, k, v)
    {
        if (!json_is_object(v)) {
            *message = "Invalid params: every inputResponses value must be an object";
            return DMCP_JSONRPC_INVALID_PARAMS;
        }
        json_object_set(m->answers, k, (json_t *)v);
    }
    return 0;
}

void dmcp__mrtr_free(dmcp__mrtr *m)
{
    if (m == NULL) {
        return;
    }
    json_decref(m->answers);
    json_decref(m->requests);
    json_decref(m->missing);
    json_decref(m->used);
    free(m->binding);
    free(m->method);
    free(m->name);
    free(m);
}

json_t *dmcp__mrtr_finish(const dmcp_server *srv, dmcp__mrtr *m, json_t *result, int *code,
                          const char **message, json_t **data)
{
    if (json_object_size(m->requests) == 0) {
        bool failed = result == NULL ||
                      (json_is_object(result) && json_is_true(json_object_get(result, "isError")));
        if (json_object_size(m->missing) > 0 && failed) {
            /* The handler needed a capability the client did not declare, and gave up. */
            json_decref(result);
            *code = DMCP__JSONRPC_MISSING_CAPABILITY;
            *message = "Missing required client capability";
            json_decref(*data);
            *data = json_pack("{s:O}", "requiredCapabilities", m->missing);
            return NULL;
        }
        return result;
    }
    json_decref(result);
    /* Only the answers this run used travel on; answers to keys it never asked are dropped. */
    json_t *keep = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(m->answers, k, v)
    {
        if (m->used != NULL && json_object_get(m->used, k) != NULL) {
            json_object_set(keep, k, v);
        }
    }
    char *state = keep != NULL ? seal(srv, m, keep) : NULL;
    json_decref(keep);
    if (state == NULL) {
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Internal error";
        return NULL;
    }
    json_t *out = json_pack("{s:s,s:O,s:s}", "resultType", "input_required", "inputRequests",
                            m->requests, "requestState", state);
    free(state);
    return out;
}

/* A key the client can echo: 1-64 of [A-Za-z0-9_.-]. */
static bool key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 64) {
        return false;
    }
    for (const char *c = key; *c != '\0'; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

dmcp_status dmcp_call_set_input_key(dmcp_call *call, const char *key)
{
    if (call == NULL || key == NULL || !key_ok(key)) {
        return DMCP_E_INVALID_ARG;
    }
    if (call->sess == NULL || call->sess->mrtr == NULL) {
        /* 2025: the key travels as a hint in the next request's _meta, so a gateway in front
         * of this server can name its own 2026 input request after it. */
        snprintf(call->input_key, sizeof(call->input_key), "%s", key);
        return DMCP_OK;
    }
    snprintf(call->sess->mrtr->next_key, sizeof(call->sess->mrtr->next_key), "%s", key);
    return DMCP_OK;
}

bool dmcp_call_is_stateless_revision(const dmcp_call *call)
{
    return call != NULL && call->sess != NULL && call->sess->mrtr != NULL;
}

dmcp_status dmcp__mrtr_request(dmcp_call *call, const char *method, const char *cap,
                               const json_t *params, json_t **result)
{
    dmcp__mrtr *m = call->sess->mrtr;
    char key[72];
    if (m->next_key[0] != '\0') {
        snprintf(key, sizeof(key), "%s", m->next_key);
        m->next_key[0] = '\0';
    } else {
        snprintf(key, sizeof(key), "%u", m->seq);
    }
    m->seq++;
    if (cap != NULL && !json_is_object(json_object_get(call->sess->client_caps, cap))) {
        json_object_set_new(m->missing, cap, json_object());
        return DMCP_E_STATE;
    }
    if (m->used == NULL) {
        m->used = json_object();
    }
    json_object_set_new(m->used, key, json_true());
    const json_t *ans = json_object_get(m->answers, key);
    if (ans != NULL) {
        /* An elicitation or sampling answer is the result itself; a JSON-RPC error object
         * ({code,message}) is the client's refusal. */
        if (json_is_integer(json_object_get(ans, "code")) &&
            json_is_string(json_object_get(ans, "message"))) {
            *result = json_incref((json_t *)ans);
            return DMCP_E_PROTOCOL;
        }
        *result = json_incref((json_t *)ans);
        return DMCP_OK;
    }
    if (json_object_size(m->requests) >= MAX_INPUT_REQUESTS) {
        return DMCP_E_RATE_LIMITED;
    }
    json_t *req = json_pack("{s:s,s:o}", "method", method, "params",
                            params != NULL ? json_deep_copy(params) : json_object());
    if (req == NULL || json_object_set_new(m->requests, key, req) != 0) {
        return DMCP_E_NOMEM;
    }
    return DMCP_E_INPUT_REQUIRED;
}
