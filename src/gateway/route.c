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
#include <time.h>

#include <dmcp/forward.h>

#include "gateway/gw_internal.h"

#define MAX_PAGES 50
#define GW_MAX_LIST_ITEMS 10000 /* items in one merged list */
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

json_t *gw_status_error(dmcp_status st, const dmcp_error *err, const char *upstream)
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

void gw_sink_note(void *ud, const json_t *msg)
{
    const gw_sinkctx *k = ud;
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
    dmcp_call *call = ((gw_sinkctx *)ud)->call;
    const char *method = json_string_value(json_object_get(msg, "method"));
    const json_t *params = json_object_get(msg, "params");
    const json_t *key = json_object_get(json_object_get(params, "_meta"), DMCP_INPUT_KEY_META);
    json_t *p = NULL;
    if (json_is_string(key)) {
        /* An upstream on this runtime named its request (dmcp_call_set_input_key): the
         * 2026 client sees the same key; an invalid key is ignored (ordinal key). */
        (void)dmcp_call_set_input_key(call, json_string_value(key));
        p = json_deep_copy(params);
        json_t *meta = json_object_get(p, "_meta");
        json_object_del(meta, DMCP_INPUT_KEY_META);
        if (json_object_size(meta) == 0) {
            json_object_del(p, "_meta");
        }
    } else {
        p = params != NULL ? json_incref((json_t *)params) : json_object();
    }
    json_t *res = NULL;
    dmcp_status st = p != NULL ? dmcp_call_request(call, method, p, 0, &res) : DMCP_E_NOMEM;
    json_decref(p);
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

bool gw_sink_cancelled(void *ud)
{
    const gw_sinkctx *k = ud;
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
        gw_relay_request(m, msg); /* a server->client request outside any call: relay.c */
        return;
    }
    json_t *copy = json_deep_copy(msg);
    if (copy != NULL) {
        (void)dmcp_server_send_to_session(m->gw->srv, m->sid, copy);
    }
}

/* ---- upstream sessions ---- */

/*
 * The upstream's initialize. A 2025 client's capabilities pass as they are. For a 2026-07-28
 * client the upstream session is declared able to answer sampling, elicitation and roots
 * whatever this request's client declared: the gateway answers those requests itself (an
 * input-required result, or -32021 naming a capability the client lacks), so an upstream
 * that needs one asks instead of failing on its own and hiding what was missing.
 */
static json_t *init_params(dmcp_call *call)
{
    const json_t *ccaps = dmcp_call_client_capabilities(call);
    const json_t *info = dmcp_call_client_info(call);
    json_t *caps = ccaps != NULL ? json_deep_copy(ccaps) : json_object();
    if (caps != NULL && dmcp_call_is_stateless_revision(call)) {
        static const char *const asks[] = {"sampling", "elicitation", "roots"};
        for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
            if (json_object_get(caps, asks[i]) == NULL) {
                json_object_set_new(caps, asks[i], json_object());
            }
        }
    }
    return json_pack("{s:s,s:o,s:O}", "protocolVersion", "2025-11-25", "capabilities",
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
        pthread_mutex_init(&c->mctx[i]->mu, NULL);
        c->mctx[i]->relay_ttl_ms = gw->cfg->request_timeout_ms;
        snprintf(c->mctx[i]->sid, sizeof(c->mctx[i]->sid), "%s", c->id);
    }
    c->mctx[i]->caps = gw_caps_bits(dmcp_call_client_capabilities(call));
    json_t *ip = init_params(call);
    /* Sessions shared through a store: the upstream session another replica opened for this
     * client session (never after a 404: that one is gone). */
    char key[DMCP_SESSION_ATTR_KEY_MAX + 1];
    snprintf(key, sizeof(key), "gw.%.60s", up->name != NULL ? up->name : "");
    json_t *resume = reopen ? NULL : dmcp_call_session_attr(call, key);
    dmcp_gw_open_params p = {ip, c->id[0] != '\0' ? c->id : NULL, NULL, 0,
                             gw->cfg->request_timeout_ms,
                             c->id[0] != '\0' ? on_unsolicited : NULL, c->mctx[i], resume,
                             NULL, NULL, NULL};
    /* The signed assertion goes with every exchange of the session (initialize, requests,
     * the GET stream, the DELETE), made afresh each time: it expires, the session need not. */
    void *fresh = gw_assertion_fresh_new(gw, i, dmcp_call_principal(call));
    if (fresh != NULL) {
        p.fresh_headers = gw_assertion_fresh;
        p.fresh_ud = fresh;
        p.fresh_free = gw_assertion_fresh_free;
    }
    dmcp_status st = up->ops->open(up, &p, &c->us[i], NULL, err);
    json_decref(ip);
    if (st == DMCP_OK) {
        atomic_store(&c->mctx[i]->us, c->us[i]);
        *us = c->us[i];
        json_t *state = up->ops->session_state != NULL ? up->ops->session_state(c->us[i]) : NULL;
        if (state != NULL && !json_equal(state, resume)) {
            /* Kept with the client session (shared: in its store record) for the others. */
            dmcp_status a = dmcp_call_set_session_attr(call, key, state);
            if (a != DMCP_OK && a != DMCP_E_STATE) {
                fprintf(stderr, "descope-mcp gateway: the upstream session of %s could not be "
                                "shared (%s); another replica would open a new one\n",
                        up->name != NULL ? up->name : "?", dmcp_strerror(a));
            }
        } else {
            json_decref(state);
        }
    }
    json_decref(resume);
    pthread_mutex_unlock(&c->mu);
    return st;
}

void gw_close_csess(void *ud, gw_csess *c)
{
    dmcp_gateway *gw = ud;
    for (size_t i = 0; i < gw->n_ups; i++) {
        if (c->mctx[i] != NULL) {
            gw_relay_drop(c->mctx[i]); /* answers the upstream while it is still open */
        }
        if (c->us[i] != NULL) {
            const dmcp_gw_upstream_ops *ops = gw->ups[i]->ops;
            /* Released here only (another replica serves the session on): no upstream end. */
            (c->release_only && ops->detach != NULL ? ops->detach : ops->close)(c->us[i]);
            c->us[i] = NULL;
        }
        if (c->retired[i] != NULL) {
            gw->ups[i]->ops->close(c->retired[i]);
            c->retired[i] = NULL;
        }
        if (c->mctx[i] != NULL) {
            pthread_mutex_destroy(&c->mctx[i]->mu);
        }
        free(c->mctx[i]);
        c->mctx[i] = NULL;
    }
}

/* ---- one request to one upstream ---- */

/*
 * The params as the upstream session (a 2025 session of its own) should see them: the
 * 2026-07-28 per-request fields (_meta keys under io.modelcontextprotocol/, inputResponses,
 * requestState) belong to the gateway's side and are dropped. A new reference.
 */
json_t *gw_upstream_params(const json_t *params)
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

/* One JSON line per upstream call (upstream_log): who, what, which upstream, how it went,
 * how long. Never a token: only the user id, the method and the tool/prompt name. */
void gw_upstream_log_line(const dmcp_gateway *gw, size_t i, dmcp_call *call,
                              const char *method, const json_t *params, dmcp_status st,
                              const json_t *resp, long long ms)
{
    const char *outcome = st != DMCP_OK                              ? dmcp_status_name(st)
                          : json_object_get(resp, "error") != NULL ? "jsonrpc_error"
                                                                   : "ok";
    const char *user = dmcp_principal_user_id(dmcp_call_principal(call));
    json_t *line = json_pack("{s:I,s:s,s:s,s:s?,s:s?,s:s,s:I}", "time", (json_int_t)time(NULL),
                             "upstream", gw->cfg->ups[i].name, "method", method, "name",
                             json_string_value(json_object_get(params, "name")), "user", user,
                             "upstream_status", outcome, "ms", (json_int_t)ms);
    char *text = line != NULL ? json_dumps(line, JSON_COMPACT) : NULL;
    if (text != NULL) {
        fprintf(stderr, "%s\n", text);
    }
    free(text);
    json_decref(line);
}

/*
 * Sends method(params) to upstream i for client session c. DMCP_OK: *result (new ref) is the
 * upstream's result. Otherwise *error is a JSON-RPC error object (the upstream's, or ours).
 */
static dmcp_status up_call(dmcp_gateway *gw, gw_csess *c, size_t i, dmcp_call *call,
                           const char *method, const json_t *params, bool tool_call,
                           json_t **result, json_t **error)
{
    gw_hdrs h;
    memset(&h, 0, sizeof(h));
    gw_identity_headers(gw->cfg, dmcp_call_principal(call), &h);
    if (tool_call && gw->cfg->n_conns > 0) {
        char te[1024];
        if (gw_connection_headers(gw, i, dmcp_call_principal(call), &h, te, sizeof(te)) != DMCP_OK) {
            gw_hdrs_free(&h);
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
    gw_sinkctx k = {call, gw, own[0] != '\0' ? own : NULL};
    dmcp_gw_sink sink = {&k, gw_sink_note, sink_request, gw_sink_cancelled};
    dmcp_gw_request_params rp = {h.h, h.n, gw->cfg->request_timeout_ms, &sink};
    dmcp_error err = {0};
    dmcp_gw_usession *us = NULL;
    dmcp_status st = DMCP_OK;
    json_t *resp = NULL;
    long long t0 = gw->cfg->upstream_log ? gw_now_ms() : 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        st = usess_get(gw, c, i, call, attempt > 0, &us, &err);
        if (st != DMCP_OK) {
            break;
        }
        pthread_mutex_lock(&c->mu);
        json_int_t id = c->next_id++;
        pthread_mutex_unlock(&c->mu);
        json_t *msg = json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                                "params", gw_upstream_params(params));
        st = msg != NULL ? gw->ups[i]->ops->request(us, msg, &rp, &resp, &err) : DMCP_E_NOMEM;
        json_decref(msg);
        if (st != DMCP_E_NOT_FOUND) {
            break; /* on 404 the upstream lost the session: open a new one, once */
        }
    }
    gw_hdrs_free(&h);
    json_decref(fwd_params);
    if (gw->cfg->upstream_log) {
        gw_upstream_log_line(gw, i, call, method, params, st, resp, gw_now_ms() - t0);
    }
    return gw_upstream_outcome(gw, i, method, st, resp, &err, result, error);
}

dmcp_status gw_upstream_outcome(const dmcp_gateway *gw, size_t i, const char *method,
                                dmcp_status st, json_t *resp, const dmcp_error *err,
                                json_t **result, json_t **error)
{
    const char *uname = gw->cfg->ups[i].name;
    if (st != DMCP_OK) {
        fprintf(stderr, "descope-mcp gateway: upstream %s: %s (%s)\n", uname, method,
                err != NULL && err->message[0] != '\0' ? err->message : dmcp_strerror(st));
        *error = gw_status_error(st, err, uname);
        json_decref(resp);
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
        *error = gw_status_error(DMCP_E_PROTOCOL, NULL, uname);
    }
    json_decref(resp);
    return DMCP_E_UPSTREAM;
}

/* ---- names and routing ---- */

/* The upstream a prefixed name belongs to, and the name without the prefix. */
bool gw_route_name(const dmcp_gateway *gw, const char *name, size_t *up, const char **bare)
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
                if (json_array_size(all) >= GW_MAX_LIST_ITEMS) {
                    break; /* a bound on what one merged list can hold */
                }
                json_t *copy = json_deep_copy(item);
                if (prefix_names && gw->cfg->ups[i].prefix[0] != '\0') {
                    char full[256];
                    int n = snprintf(full, sizeof(full), "%s%s", gw->cfg->ups[i].prefix, name);
                    if (n < 0 || (size_t)n >= sizeof(full)) {
                        json_decref(copy); /* could not be routed back: not listed */
                        continue;
                    }
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
    if (!gw_route_name(gw, name, &up, &bare)) {
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
        if (!gw_route_name(gw, json_string_value(json_object_get(ref, "name")), &up, &bare)) {
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
    if (json_object_get(msg, "method") == NULL) {
        /* The client's answer to a request relayed from an upstream (relay.c). */
        gw_msgctx *mctx[GW_MAX_UPSTREAMS];
        pthread_mutex_lock(&c->mu);
        memcpy(mctx, c->mctx, sizeof(mctx));
        pthread_mutex_unlock(&c->mu);
        (void)gw_relay_response(mctx, gw->n_ups, msg);
        gw_csess_unref(c, gw_close_csess, gw);
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
