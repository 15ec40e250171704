/*
 * Forwarding: one client request -> the upstream(s) behind the gateway. Names are prefixed
 * per upstream when there are several (calendar__list_events); lists are merged; identity
 * headers and connection tokens are added; the caller's token never leaves the gateway.
 * Failures come back to the client as JSON-RPC errors whose data.status is the HTTP status a
 * plain proxy would have answered (502 unreachable/garbage, 504 timeout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmcp/descope.h>
#include <dmcp/server.h>

#include "gateway/gw_internal.h"

#define MAX_PAGES 50
#define ERR_TIMEOUT (-32001)

/* ---- errors ---- */

static json_t *rpc_error(int code, const char *message, int http, const char *upstream)
{
    json_t *data = json_object();
    if (http > 0) {
        json_object_set_new(data, "status", json_integer(http));
    }
    if (upstream != NULL) {
        json_object_set_new(data, "upstream", json_string(upstream));
    }
    return json_pack("{s:i,s:s,s:o}", "code", code, "message", message, "data", data);
}

static json_t *status_error(dmcp_status st, const dmcp_error *err, const char *upstream)
{
    char msg[300];
    switch (st) {
    case DMCP_E_TIMEOUT:
        snprintf(msg, sizeof(msg), "Upstream %s timed out", upstream);
        return rpc_error(ERR_TIMEOUT, msg, 504, upstream);
    case DMCP_E_UNREACHABLE:
        snprintf(msg, sizeof(msg), "Upstream %s is unavailable", upstream);
        return rpc_error(DMCP_JSONRPC_INTERNAL_ERROR, msg, 502, upstream);
    case DMCP_E_PROTOCOL:
        snprintf(msg, sizeof(msg), "Upstream %s sent an invalid answer", upstream);
        return rpc_error(DMCP_JSONRPC_INTERNAL_ERROR, msg, 502, upstream);
    case DMCP_E_UPSTREAM:
        snprintf(msg, sizeof(msg), "Upstream %s answered HTTP %d", upstream,
                 err != NULL ? err->http_status : 0);
        return rpc_error(DMCP_JSONRPC_INTERNAL_ERROR, msg, 502, upstream);
    case DMCP_E_CANCELLED:
        return rpc_error(-32800, "Request cancelled", 0, upstream);
    case DMCP_E_RATE_LIMITED:
        snprintf(msg, sizeof(msg), "Upstream %s has no room for another session", upstream);
        return rpc_error(DMCP_JSONRPC_INTERNAL_ERROR, msg, 503, upstream);
    default:
        snprintf(msg, sizeof(msg), "Gateway error: %s", dmcp_strerror(st));
        return rpc_error(DMCP_JSONRPC_INTERNAL_ERROR, msg, 0, upstream);
    }
}

/* ---- the request's sink: upstream stream -> client stream ---- */

typedef struct sinkctx {
    dmcp_call *call;
    dmcp_gateway *gw;
    const char *own_token; /* a progress token the gateway added itself, or NULL */
} sinkctx;

static void sink_note(void *ud, const json_t *msg)
{
    const sinkctx *k = ud;
    if (k->own_token != NULL) {
        const json_t *t =
            json_object_get(json_object_get(msg, "params"), "progressToken");
        if (json_is_string(t) && strcmp(json_string_value(t), k->own_token) == 0) {
            return; /* progress for the gateway's own token: the client never asked for it */
        }
    }
    const json_t *params = json_object_get(msg, "params");
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (method != NULL && strcmp(method, "notifications/message") == 0) {
        /* Through the runtime's log path, so the client's level (logging/setLevel; under
         * 2026-07-28 the request's logLevel, none = nothing) filters it. */
        static const char *const levels[] = {"debug", "info",     "notice", "warning",
                                             "error", "critical", "alert",  "emergency"};
        const char *lv = json_string_value(json_object_get(params, "level"));
        for (size_t i = 0; lv != NULL && i < sizeof(levels) / sizeof(levels[0]); i++) {
            if (strcmp(lv, levels[i]) == 0) {
                (void)dmcp_call_log_json(k->call, (dmcp_log_level)i,
                                         json_string_value(json_object_get(params, "logger")),
                                         json_object_get(params, "data"));
                return;
            }
        }
        return; /* not a valid log message */
    }
    (void)dmcp_call_notify(k->call, msg);
}

static dmcp_status sink_request(void *ud, const json_t *msg, json_t **result, json_t **error)
{
    dmcp_call *call = ((sinkctx *)ud)->call;
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *params = json_object_get(msg, "params");
    json_t *empty = params == NULL ? json_object() : NULL;
    json_t *res = NULL;
    dmcp_status st = dmcp_call_request(call, method, params != NULL ? params : empty, 0, &res);
    json_decref(empty);
    if (st == DMCP_OK) {
        *result = res;
    } else if (st == DMCP_E_PROTOCOL && json_is_object(res)) {
        *error = res;
    } else {
        json_decref(res);
        *error = json_pack("{s:i,s:s}", "code", DMCP_JSONRPC_INTERNAL_ERROR, "message",
                           st == DMCP_E_STATE ? "The client cannot answer this request here"
                                              : dmcp_strerror(st));
    }
    return st;
}

static bool sink_cancelled(void *ud)
{
    const sinkctx *k = ud;
    long long drain = atomic_load(&k->gw->drain_deadline_ms);
    if (drain > 0) {
        /* Draining: the runtime cancels every call when it stops; the gateway lets the
         * upstream finish instead, until just before the shutdown timeout. */
        return gw_now_ms() >= drain;
    }
    return dmcp_call_is_cancelled(k->call);
}

/* ---- unsolicited upstream messages -> the client's standalone stream ---- */

static void on_unsolicited(void *ud, const json_t *msg)
{
    gw_msgctx *m = ud;
    if (json_object_get(msg, "id") != NULL) {
        /* A server->client request outside any call: nothing on our side can carry the
         * client's answer back, so the upstream is told at once instead of waiting. */
        dmcp_gw_usession *us = atomic_load(&m->us);
        json_t *ans = json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id",
                                json_object_get(msg, "id"), "error", "code", -32601, "message",
                                "The gateway relays server requests only within a client request");
        if (us != NULL && ans != NULL) {
            (void)m->gw->ups[m->up]->ops->respond(us, ans, NULL);
        }
        json_decref(ans);
        return;
    }
    json_t *copy = json_deep_copy(msg);
    if (copy != NULL) {
        (void)dmcp_server_send_to_session(m->gw->srv, m->sid, copy);
    }
}

/* ---- upstream sessions ---- */

static json_t *init_params(dmcp_call *call)
{
    const json_t *caps = dmcp_call_client_capabilities(call);
    const json_t *info = dmcp_call_client_info(call);
    return json_pack("{s:s,s:O,s:O}", "protocolVersion", "2025-11-25", "capabilities",
                     caps != NULL ? caps : json_object(), "clientInfo",
                     info != NULL ? info
                                  : json_pack("{s:s,s:s}", "name", "descope-mcp-gateway", "version",
                                              "1"));
}

/* The upstream session i of c, opened on first use. *us borrowed (c holds it). */
static dmcp_status usess_get(dmcp_gateway *gw, gw_csess *c, size_t i, dmcp_call *call,
                             bool reopen, dmcp_gw_usession **us, dmcp_error *err)
{
    dmcp_gw_upstream *up = gw->ups[i];
    pthread_mutex_lock(&c->mu);
    if (reopen && c->us[i] != NULL && c->us[i] == *us) {
        if (c->retired[i] != NULL) {
            pthread_mutex_unlock(&c->mu);
            return DMCP_E_NOT_FOUND; /* lost twice: give up rather than juggle more */
        }
        /* Other requests may still use it: closed with the client session. */
        c->retired[i] = c->us[i];
        c->us[i] = NULL;
        atomic_store(&c->mctx[i]->us, NULL);
    }
    if (c->us[i] != NULL) {
        *us = c->us[i];
        pthread_mutex_unlock(&c->mu);
        return DMCP_OK;
    }
    if (c->mctx[i] == NULL) {
        c->mctx[i] = calloc(1, sizeof(gw_msgctx));
        if (c->mctx[i] == NULL) {
            pthread_mutex_unlock(&c->mu);
            return DMCP_E_NOMEM;
        }
        c->mctx[i]->gw = gw;
        c->mctx[i]->up = i;
        snprintf(c->mctx[i]->sid, sizeof(c->mctx[i]->sid), "%s", c->id);
    }
    json_t *ip = init_params(call);
    dmcp_gw_open_params p = {ip, c->id[0] != '\0' ? c->id : NULL, NULL, 0,
                             gw->cfg->request_timeout_ms,
                             c->id[0] != '\0' ? on_unsolicited : NULL, c->mctx[i]};
    dmcp_status st = up->ops->open(up, &p, &c->us[i], NULL, err);
    json_decref(ip);
    if (st == DMCP_OK) {
        atomic_store(&c->mctx[i]->us, c->us[i]);
        *us = c->us[i];
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

void gw_close_csess(void *ud, gw_csess *c)
{
    dmcp_gateway *gw = ud;
    for (size_t i = 0; i < gw->n_ups; i++) {
        if (c->us[i] != NULL) {
            gw->ups[i]->ops->close(c->us[i]);
            c->us[i] = NULL;
        }
        if (c->retired[i] != NULL) {
            gw->ups[i]->ops->close(c->retired[i]);
            c->retired[i] = NULL;
        }
        free(c->mctx[i]);
        c->mctx[i] = NULL;
    }
}

/* ---- headers for the upstream: identity and connection tokens ---- */

typedef struct hdrs {
    dmcp_gw_header h[DMCP_GW_MAX_HEADERS];
    char *owned[DMCP_GW_MAX_HEADERS];
    size_t n;
} hdrs;

static void hdr_add(hdrs *h, const char *name, const char *value, bool owned)
{
    if (name == NULL || value == NULL || h->n >= DMCP_GW_MAX_HEADERS) {
        if (owned) {
            free((char *)value);
        }
        return;
    }
    h->h[h->n].name = name;
    h->h[h->n].value = value;
    h->owned[h->n] = owned ? (char *)value : NULL;
    h->n++;
}

static void hdrs_free(hdrs *h)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->owned[i] != NULL) {
            memset(h->owned[i], 0, strlen(h->owned[i]));
            free(h->owned[i]);
        }
    }
}

static const char *tenant_of(const dmcp_principal *p)
{
    const json_t *claims = dmcp_principal_claims(p);
    const char *t = json_string_value(json_object_get(claims, "dct"));
    if (t == NULL) {
        const json_t *tenants = json_object_get(claims, "tenants");
        if (json_is_object(tenants) && json_object_size(tenants) == 1) {
            void *it = json_object_iter((json_t *)tenants);
            t = json_object_iter_key(it);
        }
    }
    return t;
}

static void identity_headers(const gw_config *cfg, const dmcp_principal *p, hdrs *h)
{
    if (p == NULL) {
        return;
    }
    hdr_add(h, cfg->id_user, dmcp_principal_user_id(p), false);
    hdr_add(h, cfg->id_client, dmcp_principal_client_id(p), false);
    hdr_add(h, cfg->id_tenant, tenant_of(p), false);
    if (cfg->id_scopes != NULL) {
        size_t n = dmcp_principal_scope_count(p), len = 1;
        for (size_t i = 0; i < n; i++) {
            len += strlen(dmcp_principal_scope(p, i)) + 1;
        }
        char *s = calloc(1, len);
        for (size_t i = 0; s != NULL && i < n; i++) {
            if (i > 0) {
                strcat(s, " ");
            }
            strcat(s, dmcp_principal_scope(p, i));
        }
        hdr_add(h, cfg->id_scopes, s, true);
    }
}

/*
 * Connection tokens of the apps configured for upstream i. On a failure, *tool_error is the
 * text for the user (as calendar-server words it) and DMCP_E_* is returned.
 */
static dmcp_status connection_headers(dmcp_gateway *gw, size_t i, const dmcp_principal *p,
                                      hdrs *h, char *tool_error, size_t te_len)
{
    const gw_config *cfg = gw->cfg;
    for (size_t k = 0; k < cfg->n_conns; k++) {
        const gw_conn *cn = &cfg->conns[k];
        if (cn->upstream != NULL && strcmp(cn->upstream, cfg->ups[i].name) != 0) {
            continue;
        }
        const char *user = dmcp_principal_user_id(p);
        const char *tok = dmcp_principal_access_token(p, NULL);
        if (gw->descope == NULL || user == NULL || tok == NULL) {
            snprintf(tool_error, te_len, "This tool needs a signed-in user to use the \"%s\" app.",
                     cn->app);
            return DMCP_E_NOT_CONNECTED;
        }
        dmcp_connection_options *o = NULL;
        dmcp_connection_token *ct = NULL;
        dmcp_error err = {0};
        dmcp_status st = dmcp_connection_options_new(&o);
        if (st == DMCP_OK) {
            st = dmcp_connection_options_set_principal(o, dmcp_principal_binding_key(p));
        }
        if (st == DMCP_OK) {
            st = dmcp_connection_options_set_fetch_connect_url(o, true, NULL);
        }
        if (st == DMCP_OK) {
            st = dmcp_descope_user_token(gw->descope, tok, cn->app, user,
                                         (const char *const *)cn->scopes, o, &ct, &err);
        }
        const char *url = dmcp_connection_token_connect_url(ct);
        if (st == DMCP_E_NOT_CONNECTED) {
            if (url != NULL) {
                snprintf(tool_error, te_len,
                         "Your \"%s\" account is not connected yet. Connect it here, then try "
                         "again: %s",
                         cn->app, url);
            } else {
                snprintf(tool_error, te_len,
                         "Your \"%s\" account is not connected yet. Connect the app in your "
                         "Descope account, then try again.",
                         cn->app);
            }
        } else if (st == DMCP_E_POLICY_DENIED) {
            snprintf(tool_error, te_len,
                     "Descope refused to hand out your \"%s\" token (policy denied). The token "
                     "needs the outbound.token.fetch scope.",
                     cn->app);
        } else if (st != DMCP_OK) {
            snprintf(tool_error, te_len, "Could not get your \"%s\" token: %s", cn->app,
                     err.message[0] != '\0' ? err.message : dmcp_strerror(st));
        } else {
            const char *at = dmcp_connection_token_access_token(ct);
            hdr_add(h, cn->header, at != NULL ? strdup(at) : NULL, true);
        }
        dmcp_connection_token_free(ct);
        dmcp_connection_options_free(o);
        if (st != DMCP_OK) {
            return st;
        }
    }
    return DMCP_OK;
}

/* ---- one request to one upstream ---- */

/*
 * The params as the upstream session (a 2025 session of its own) should see them: the
 * 2026-07-28 per-request fields (_meta keys under io.modelcontextprotocol/, inputResponses,
 * requestState) belong to the gateway's side and are dropped. A new reference.
 */
static json_t *upstream_params(const json_t *params)
{
    json_t *meta = json_object_get(params, "_meta");
    bool has26 = json_object_get(params, "inputResponses") != NULL ||
                 json_object_get(params, "requestState") != NULL;
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        has26 = has26 || strncmp(k, "io.modelcontextprotocol/", 24) == 0;
    }
    if (!has26) {
        return json_incref((json_t *)params);
    }
    json_t *p = json_deep_copy(params);
    json_object_del(p, "inputResponses");
    json_object_del(p, "requestState");
    json_t *m = json_object_get(p, "_meta");
    void *tmp;
    json_object_foreach_safe(m, tmp, k, v)
    {
        if (strncmp(k, "io.modelcontextprotocol/", 24) == 0) {
            json_object_del(m, k);
        }
    }
    if (m != NULL && json_object_size(m) == 0) {
        json_object_del(p, "_meta");
    }
    return p;
}

/*
 * Sends method(params) to upstream i for client session c. DMCP_OK: *result (new ref) is the
 * upstream's result. Otherwise *error is a JSON-RPC error object (the upstream's, or ours).
 */
static dmcp_status up_call(dmcp_gateway *gw, gw_csess *c, size_t i, dmcp_call *call,
                           const char *method, const json_t *params, bool tool_call,
                           json_t **result, json_t **error)
{
    const char *uname = gw->cfg->ups[i].name;
    hdrs h;
    memset(&h, 0, sizeof(h));
    identity_headers(gw->cfg, dmcp_call_principal(call), &h);
    if (tool_call && gw->cfg->n_conns > 0) {
        char te[1024];
        if (connection_headers(gw, i, dmcp_call_principal(call), &h, te, sizeof(te)) != DMCP_OK) {
            hdrs_free(&h);
            *result = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", te,
                                "isError", 1);
            return DMCP_OK;
        }
    }
    /* A 2026-07-28 client asks without a session: the upstream (a 2025 session) can only
     * send its server->client requests on a live stream, which some servers open only for a
     * request with a progress token. The gateway adds one of its own and drops its progress. */
    char own[48] = "";
    json_t *fwd_params = json_incref((json_t *)params);
    if (dmcp_call_is_stateless_revision(call) &&
        (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0) &&
        json_object_get(json_object_get(params, "_meta"), "progressToken") == NULL) {
        pthread_mutex_lock(&c->mu);
        snprintf(own, sizeof(own), "gw-%" JSON_INTEGER_FORMAT, c->next_id);
        pthread_mutex_unlock(&c->mu);
        json_decref(fwd_params);
        fwd_params = json_deep_copy(params);
        json_t *meta = json_object_get(fwd_params, "_meta");
        if (!json_is_object(meta)) {
            meta = json_object();
            json_object_set_new(fwd_params, "_meta", meta);
        }
        json_object_set_new(meta, "progressToken", json_string(own));
    }
    params = fwd_params;
    sinkctx k = {call, gw, own[0] != '\0' ? own : NULL};
    dmcp_gw_sink sink = {&k, sink_note, sink_request, sink_cancelled};
    dmcp_gw_request_params rp = {h.h, h.n, gw->cfg->request_timeout_ms, &sink};
    dmcp_error err = {0};
    dmcp_gw_usession *us = NULL;
    dmcp_status st = DMCP_OK;
    json_t *resp = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        st = usess_get(gw, c, i, call, attempt > 0, &us, &err);
        if (st != DMCP_OK) {
            break;
        }
        pthread_mutex_lock(&c->mu);
        json_int_t id = c->next_id++;
        pthread_mutex_unlock(&c->mu);
        json_t *msg = json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                                "params", upstream_params(params));
        st = msg != NULL ? gw->ups[i]->ops->request(us, msg, &rp, &resp, &err) : DMCP_E_NOMEM;
        json_decref(msg);
        if (st != DMCP_E_NOT_FOUND) {
            break; /* on 404 the upstream lost the session: open a new one, once */
        }
    }
    hdrs_free(&h);
    json_decref(fwd_params);
    if (st != DMCP_OK) {
        fprintf(stderr, "descope-mcp gateway: upstream %s: %s (%s)\n", uname, method,
                err.message[0] != '\0' ? err.message : dmcp_strerror(st));
        *error = status_error(st, &err, uname);
        return st;
    }
    const json_t *r = json_object_get(resp, "result");
    const json_t *e = json_object_get(resp, "error");
    if (json_is_object(r)) {
        *result = json_incref((json_t *)r);
        json_decref(resp);
        return DMCP_OK;
    }
    if (json_is_object(e) && json_is_integer(json_object_get(e, "code")) &&
        json_is_string(json_object_get(e, "message"))) {
        *error = json_incref((json_t *)e);
    } else {
        *error = status_error(DMCP_E_PROTOCOL, NULL, uname);
    }
    json_decref(resp);
    return DMCP_E_UPSTREAM;
}

/* ---- names and routing ---- */

/* The upstream a prefixed name belongs to, and the name without the prefix. */
static bool route_name(const dmcp_gateway *gw, const char *name, size_t *up, const char **bare)
{
    if (name == NULL) {
        return false;
    }
    for (size_t i = 0; i < gw->n_ups; i++) {
        const char *pre = gw->cfg->ups[i].prefix;
        size_t n = strlen(pre);
        if (strncmp(name, pre, n) == 0 && (n == 0 || name[n] != '\0')) {
            *up = i;
            *bare = name + n;
            return true;
        }
    }
    return false;
}

static bool may_call(const dmcp_gateway *gw, const dmcp_principal *p, const char *tool)
{
    const char *const *scopes = NULL;
    size_t n = gw_config_tool_scopes(gw->cfg, tool, &scopes);
    for (size_t i = 0; i < n; i++) {
        if (!dmcp_principal_has_scope(p, scopes[i])) {
            return false;
        }
    }
    return true;
}

/* tools/list, prompts/list, resources/list, resources/templates/list: every upstream, every
 * page, names prefixed; one page back. */
static dmcp_status list_merged(dmcp_gateway *gw, gw_csess *c, dmcp_call *call, const char *method,
                               const char *key, const json_t *params, json_t **result,
                               json_t **error)
{
    (void)params; /* the merged list is one page: the client's cursor (ours) is not needed */
    json_t *all = json_array();
    bool prefix_names = strcmp(key, "tools") == 0 || strcmp(key, "prompts") == 0;
    bool tools = strcmp(key, "tools") == 0;
    size_t ok = 0;
    json_t *last_error = NULL;
    for (size_t i = 0; i < gw->n_ups; i++) {
        json_t *cursor = NULL;
        for (int page = 0; page < MAX_PAGES; page++) {
            json_t *p = cursor != NULL ? json_pack("{s:o}", "cursor", cursor) : json_object();
            cursor = NULL;
            json_t *r = NULL, *e = NULL;
            dmcp_status st = up_call(gw, c, i, call, method, p, false, &r, &e);
            json_decref(p);
            if (st != DMCP_OK) {
                json_decref(last_error);
                last_error = e;
                break;
            }
            ok += page == 0;
            size_t k;
            json_t *item;
            json_array_foreach(json_object_get(r, key), k, item)
            {
                const char *name = json_string_value(json_object_get(item, "name"));
                if (!json_is_object(item) || (prefix_names && name == NULL)) {
                    continue;
                }
                json_t *copy = json_deep_copy(item);
                if (prefix_names && gw->cfg->ups[i].prefix[0] != '\0') {
                    char full[256];
                    snprintf(full, sizeof(full), "%s%s", gw->cfg->ups[i].prefix, name);
                    json_object_set_new(copy, "name", json_string(full));
                }
                const char *pn = json_string_value(json_object_get(copy, "name"));
                if (tools && gw->cfg->filter_list &&
                    !may_call(gw, dmcp_call_principal(call), pn)) {
                    json_decref(copy);
                    continue;
                }
                json_array_append_new(all, copy);
            }
            const json_t *next = json_object_get(r, "nextCursor");
            if (json_is_string(next)) {
                cursor = json_incref((json_t *)next);
            }
            json_decref(r);
            if (cursor == NULL) {
                break;
            }
        }
        json_decref(cursor);
    }
    if (ok == 0 && last_error != NULL) {
        json_decref(all);
        *error = last_error;
        return DMCP_E_UPSTREAM;
    }
    json_decref(last_error); /* several upstreams: the others' items are still worth a list */
    *result = json_pack("{s:o}", key, all);
    return DMCP_OK;
}

/* A request naming a tool or prompt: to its upstream, without the prefix. */
static dmcp_status by_name(dmcp_gateway *gw, gw_csess *c, dmcp_call *call, const char *method,
                           const json_t *params, json_t **result, json_t **error)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    size_t up = 0;
    const char *bare = NULL;
    if (!route_name(gw, name, &up, &bare)) {
        *error = json_pack("{s:i,s:s}", "code", DMCP_JSONRPC_INVALID_PARAMS, "message",
                           strcmp(method, "tools/call") == 0 ? "Unknown tool" : "Unknown prompt");
        return DMCP_E_NOT_FOUND;
    }
    json_t *p;
    if (bare == name) {
        p = json_incref((json_t *)params); /* no prefix: forwarded as it came */
    } else {
        p = json_deep_copy(params);
        json_object_set_new(p, "name", json_string(bare));
    }
    dmcp_status st =
        up_call(gw, c, up, call, method, p, strcmp(method, "tools/call") == 0, result, error);
    json_decref(p);
    return st;
}

/* resources/read, subscribe, unsubscribe, completion of a resource template: the first
 * upstream that knows it. */
static dmcp_status first_that_knows(dmcp_gateway *gw, gw_csess *c, dmcp_call *call,
                                    const char *method, const json_t *params, json_t **result,
                                    json_t **error)
{
    dmcp_status st = DMCP_E_NOT_FOUND;
    for (size_t i = 0; i < gw->n_ups; i++) {
        json_decref(*error);
        *error = NULL;
        st = up_call(gw, c, i, call, method, params, false, result, error);
        if (st == DMCP_OK) {
            return st;
        }
        json_int_t code = json_integer_value(json_object_get(*error, "code"));
        if (code != DMCP_JSONRPC_RESOURCE_NOT_FOUND && code != DMCP_JSONRPC_INVALID_PARAMS &&
            code != DMCP_JSONRPC_METHOD_NOT_FOUND) {
            return st;
        }
    }
    return st;
}

static dmcp_status complete(dmcp_gateway *gw, gw_csess *c, dmcp_call *call, const json_t *params,
                            json_t **result, json_t **error)
{
    const json_t *ref = json_object_get(params, "ref");
    const char *type = json_string_value(json_object_get(ref, "type"));
    if (type != NULL && strcmp(type, "ref/prompt") == 0) {
        size_t up = 0;
        const char *bare = NULL;
        if (!route_name(gw, json_string_value(json_object_get(ref, "name")), &up, &bare)) {
            *error = json_pack("{s:i,s:s}", "code", DMCP_JSONRPC_INVALID_PARAMS, "message",
                               "Unknown prompt");
            return DMCP_E_NOT_FOUND;
        }
        json_t *p = json_deep_copy(params);
        json_object_set_new(json_object_get(p, "ref"), "name", json_string(bare));
        dmcp_status st = up_call(gw, c, up, call, "completion/complete", p, false, result, error);
        json_decref(p);
        return st;
    }
    return first_that_knows(gw, c, call, "completion/complete", params, result, error);
}

dmcp_status gw_forward(void *ud, dmcp_call *call, const char *method, const json_t *params,
                       json_t **result, json_t **error)
{
    dmcp_gateway *gw = ud;
    const char *sid = dmcp_call_session_id(call);
    /* Session-less requests (2026-07-28, stateless) get upstream sessions of their own. */
    gw_csess *c = sid != NULL ? gw_sessmap_get(gw->map, sid) : gw_csess_new(NULL);
    if (c == NULL) {
        *error = rpc_error(DMCP_JSONRPC_INTERNAL_ERROR, "Out of memory", 0, NULL);
        return DMCP_E_NOMEM;
    }
    dmcp_status st;
    if (strcmp(method, "tools/list") == 0) {
        st = list_merged(gw, c, call, method, "tools", params, result, error);
    } else if (strcmp(method, "prompts/list") == 0) {
        st = list_merged(gw, c, call, method, "prompts", params, result, error);
    } else if (strcmp(method, "resources/list") == 0) {
        st = list_merged(gw, c, call, method, "resources", params, result, error);
    } else if (strcmp(method, "resources/templates/list") == 0) {
        st = list_merged(gw, c, call, method, "resourceTemplates", params, result, error);
    } else if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0) {
        st = by_name(gw, c, call, method, params, result, error);
    } else if (strcmp(method, "completion/complete") == 0) {
        st = complete(gw, c, call, params, result, error);
    } else if (strcmp(method, "logging/setLevel") == 0) {
        for (size_t i = 0; i < gw->n_ups; i++) {
            json_t *r = NULL, *e = NULL;
            (void)up_call(gw, c, i, call, method, params, false, &r, &e);
            json_decref(r);
            json_decref(e);
        }
        *result = json_object();
        st = DMCP_OK;
    } else {
        st = first_that_knows(gw, c, call, method, params, result, error);
    }
    gw_csess_unref(c, gw_close_csess, gw);
    return st;
}

void gw_client_notification(void *ud, const char *sid, const json_t *msg)
{
    dmcp_gateway *gw = ud;
    if (sid == NULL) {
        return;
    }
    gw_csess *c = gw_sessmap_get(gw->map, sid);
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < gw->n_ups; i++) {
        pthread_mutex_lock(&c->mu);
        dmcp_gw_usession *us = c->us[i];
        pthread_mutex_unlock(&c->mu);
        if (us != NULL) {
            (void)gw->ups[i]->ops->notify(us, msg, NULL);
        }
    }
    gw_csess_unref(c, gw_close_csess, gw);
}

size_t gw_tool_scopes(void *ud, const char *tool, const char *const **scopes)
{
    const dmcp_gateway *gw = ud;
    return gw_config_tool_scopes(gw->cfg, tool, scopes);
}
