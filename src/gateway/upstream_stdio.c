/*
 * The stdio upstream (upstream.h): one child per upstream session, started and supervised by
 * child.c.
 *
 *   - open: a child from the pool (cap -> DMCP_E_RATE_LIMITED), then initialize with the
 *     client's params and notifications/initialized;
 *   - ids: every request goes to the child under an id this session chooses (1, 2, ...); the
 *     response gets the caller's id back. The child's own request ids (sampling, elicitation,
 *     roots) pass through untouched and come back through .respond or the sink's answer;
 *   - what the child sends that is not a response: notifications/progress goes to the request
 *     whose progressToken it names; a server->client request to the oldest request still
 *     waiting whose sink relays requests (any of them reaches the same client and can carry
 *     the answer back); another
 *     notification to the only request in flight if there is exactly one (stdio has no
 *     per-request stream); else everything goes to the session's on_message;
 *   - everything for a request is delivered on that request's thread: the reader thread only
 *     queues. The response is handed over without the session lock on the waiting side: the
 *     reader unlinks the request, marks it done and posts its semaphore after unlocking (the
 *     request is reference-counted, so a waiter that already left costs nothing), so a woken
 *     request never fights the reader for the lock (futex traffic was most of the gateway's
 *     system calls under load);
 *   - the child ending: requests in flight fail with DMCP_E_UNREACHABLE (idle reaping cannot
 *     hit a request in flight). After a crash any later request gets DMCP_E_NOT_FOUND, so the
 *     gateway opens a fresh session (a fresh child) and retries, as for an HTTP upstream that
 *     forgot a session; after idle reaping the next request respawns the child in the same
 *     session (initialized with the same parameters), so idleness never becomes an error.
 */
#include "gateway/upstream_stdio_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STDIO_DEFAULT_INIT_MS 30000u /* a node server starting on a loaded machine */

/* ---- initialize, and the respawn of an idle-reaped child ---- */

/* initialize with s->init_params, then notifications/initialized. *resp: the response. */
static dmcp_status initialize(dmcp_gw_usession *s, json_t **resp, dmcp_error *err)
{
    *resp = NULL;
    json_t *init = json_pack("{s:s,s:i,s:s,s:O}", "jsonrpc", "2.0", "id", 0, "method", "initialize",
                             "params", s->init_params);
    dmcp_status st = init ? gw_stdio_exchange(s, init, NULL, s->init_ms, NULL, resp, err) : DMCP_E_NOMEM;
    json_decref(init);
    if (st == DMCP_E_NOT_FOUND || st == DMCP_E_UNREACHABLE) {
        char d[96];
        gw_stdio_describe_end(s, d, sizeof d);
        gw_stdio_err(err, DMCP_E_UNREACHABLE, "stdio upstream: the child %s before initialize", d);
        st = DMCP_E_UNREACHABLE;
    }
    if (st == DMCP_OK && !json_is_object(json_object_get(*resp, "result"))) {
        const char *m =
            json_string_value(json_object_get(json_object_get(*resp, "error"), "message"));
        gw_stdio_err(err, DMCP_E_PROTOCOL, "stdio upstream: initialize failed: %.160s",
                m ? m : "no result");
        st = DMCP_E_PROTOCOL;
    }
    if (st == DMCP_OK) {
        json_t *n = json_pack("{s:s,s:s}", "jsonrpc", "2.0", "method", "notifications/initialized");
        st = n ? gw_stdio_send(s, n, err) : DMCP_E_NOMEM;
        json_decref(n);
    }
    if (st != DMCP_OK) {
        json_decref(*resp);
        *resp = NULL;
    }
    return st;
}

static dmcp_status spawn_child(dmcp_gw_usession *s, dmcp__child **out, dmcp_error *err)
{
    stdio_up *up = s->up;
    dmcp__child_opts co = {.argv = (const char *const *)up->argv,
                           .max_line = up->o.max_message_bytes,
                           .on_line = gw_stdio_on_line,
                           .on_exit = gw_stdio_on_exit,
                           .ud = s};
    dmcp_status st = dmcp__childpool_spawn(up->pool, &co, out);
    if (st == DMCP_E_RATE_LIMITED) {
        gw_stdio_err(err, st, "stdio upstream: %u children are running, the configured cap",
                up->o.max_sessions);
        if (err)
            err->retry_after = 5;
    } else if (st != DMCP_OK) {
        gw_stdio_err(err, DMCP_E_UNREACHABLE, "stdio upstream: cannot start '%s' (%s)", up->argv[0],
                dmcp_status_name(st));
        st = DMCP_E_UNREACHABLE;
    }
    return st;
}

/*
 * The session's child was stopped for idleness (not a crash): a fresh one, initialized with
 * the same parameters, takes its place in the same session, so an idle client session never
 * turns into an error. gen: the generation the caller saw dead (another thread may have
 * replaced it already).
 */
static dmcp_status respawn(dmcp_gw_usession *s, unsigned gen, dmcp_error *err)
{
    pthread_mutex_lock(&s->respawn_mu);
    pthread_mutex_lock(&s->mu);
    if (s->gen != gen || !s->dead || s->closing) {
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_unlock(&s->respawn_mu);
        return DMCP_OK;
    }
    gw_stdio_drain_locked(s); /* requests that were on the old child are ending */
    dmcp__child *old = s->child;
    s->child = NULL;
    pthread_mutex_unlock(&s->mu);
    dmcp__childpool_release(s->up->pool, old); /* reaped already; joins its reader */
    dmcp__child *c = NULL;
    dmcp_status st = spawn_child(s, &c, err);
    pthread_mutex_lock(&s->mu);
    s->child = c; /* NULL on failure: sends fail, the next request tries again */
    if (st == DMCP_OK) {
        s->dead = false;
        s->why = DMCP_CHILD_EXITED;
        s->status = 0;
        s->gen++;
    }
    pthread_mutex_unlock(&s->mu);
    if (st == DMCP_OK) {
        json_t *resp = NULL;
        st = initialize(s, &resp, err);
        json_decref(resp);
    }
    pthread_mutex_unlock(&s->respawn_mu);
    return st;
}

/* ---- ops ---- */

static dmcp_status stdio_request(dmcp_gw_usession *s, const json_t *msg,
                                 const dmcp_gw_request_params *p, json_t **response,
                                 dmcp_error *err)
{
    if (!response)
        return DMCP_E_INVALID_ARG;
    *response = NULL;
    if (!s || !msg)
        return DMCP_E_INVALID_ARG;
    unsigned t = p && p->timeout_ms ? p->timeout_ms : s->up->o.request_timeout_ms;
    unsigned gen = 0;
    dmcp_status st = gw_stdio_exchange(s, msg, p, t, &gen, response, err);
    if (st == DMCP_E_STATE) { /* the child was stopped for idleness: a fresh one, then again */
        st = respawn(s, gen, err);
        if (st == DMCP_OK)
            st = gw_stdio_exchange(s, msg, p, t, NULL, response, err);
    }
    return st;
}

static dmcp_status stdio_notify(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err)
{
    if (!s || !json_is_object(msg))
        return DMCP_E_INVALID_ARG;
    const char *m = json_string_value(json_object_get(msg, "method"));
    if (m && strcmp(m, "notifications/cancelled") == 0) {
        /* Names the caller's request id: the child knows it by its wire id. */
        json_t *params = json_object_get(msg, "params");
        json_t *rid = json_object_get(params, "requestId");
        json_int_t wire = -1;
        pthread_mutex_lock(&s->mu);
        for (pending *p = s->pend; p && rid; p = p->next)
            if (json_equal((json_t *)p->orig_id, rid))
                wire = p->wire_id;
        pthread_mutex_unlock(&s->mu);
        if (wire < 0)
            return DMCP_OK; /* nothing in flight by that id: nothing to cancel */
        json_t *c = json_deep_copy(msg);
        if (!c)
            return DMCP_E_NOMEM;
        json_object_set_new(json_object_get(c, "params"), "requestId", json_integer(wire));
        dmcp_status st = gw_stdio_send(s, c, err);
        json_decref(c);
        return st;
    }
    return gw_stdio_send(s, msg, err);
}

static dmcp_status stdio_respond(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err)
{
    if (!s || !json_is_object(msg) || !json_object_get(msg, "id"))
        return DMCP_E_INVALID_ARG;
    return gw_stdio_send(s, msg, err);
}

static void stdio_close(dmcp_gw_usession *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    pending *lost = gw_stdio_wake_all(s);
    if (lost) { /* failed without the lock (their callbacks may take others) */
        pthread_mutex_unlock(&s->mu);
        gw_stdio_async_fail(s, lost);
        pthread_mutex_lock(&s->mu);
    }
    gw_stdio_drain_locked(s);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->respawn_mu); /* a respawn in progress finishes first */
    pthread_mutex_unlock(&s->respawn_mu);
    dmcp__childpool_release(s->up->pool, s->child); /* joins its reader: no callback after */
    json_decref(s->init_params);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->respawn_mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static dmcp_status stdio_open(dmcp_gw_upstream *upb, const dmcp_gw_open_params *p,
                              dmcp_gw_usession **out, json_t **init_result, dmcp_error *err)
{
    if (!out)
        return DMCP_E_INVALID_ARG;
    *out = NULL;
    if (init_result)
        *init_result = NULL;
    if (!upb || !p)
        return DMCP_E_INVALID_ARG;
    stdio_up *up = (stdio_up *)upb;
    dmcp_gw_usession *s = calloc(1, sizeof *s);
    if (!s)
        return DMCP_E_NOMEM;
    s->up = up;
    atomic_init(&s->active, 0);
    atomic_init(&s->draining, 0);
    s->next_id = 1;
    s->on_message = p->on_message;
    s->on_message_ud = p->on_message_ud;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->respawn_mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->init_ms = p->timeout_ms ? p->timeout_ms : STDIO_DEFAULT_INIT_MS;
    s->init_params =
        p->initialize_params
            ? json_deep_copy(p->initialize_params)
            : json_pack("{s:s,s:{},s:{s:s,s:s}}", "protocolVersion", "2025-11-25", "capabilities",
                        "clientInfo", "name", "descope-mcp-gateway", "version", "1");
    dmcp_status st = s->init_params ? spawn_child(s, &s->child, err) : DMCP_E_NOMEM;
    if (st != DMCP_OK) {
        json_decref(s->init_params);
        pthread_mutex_destroy(&s->mu);
        pthread_mutex_destroy(&s->respawn_mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return st;
    }
    json_t *resp = NULL;
    st = initialize(s, &resp, err);
    if (st != DMCP_OK) {
        stdio_close(s);
        return st;
    }
    if (init_result)
        *init_result = json_incref(json_object_get(resp, "result"));
    json_decref(resp);
    *out = s;
    return DMCP_OK;
}

static void stdio_free(dmcp_gw_upstream *upb)
{
    if (!upb)
        return;
    stdio_up *up = (stdio_up *)upb;
    dmcp__childpool_free(up->pool);
    for (char **a = up->argv; a && *a; a++)
        free(*a);
    free(up->argv);
    free(up->base.name);
    free(up->base.prefix);
    free(up);
}

static const dmcp_gw_upstream_ops stdio_ops = {
    .kind = "stdio",
    .open = stdio_open,
    .request = stdio_request,
    .request_async = gw_stdio_exchange_async,
    .notify = stdio_notify,
    .respond = stdio_respond,
    .close = stdio_close,
    .free = stdio_free,
};

dmcp_status dmcp__gw_stdio_upstream_new(const char *const *argv, const dmcp_gw_upstream_options *o,
                                        dmcp_gw_upstream **out, dmcp_error *err)
{
    if (!out)
        return DMCP_E_INVALID_ARG;
    *out = NULL;
    if (!argv || !argv[0] || !argv[0][0]) {
        gw_stdio_err(err, DMCP_E_CONFIG, "stdio upstream: no command");
        return DMCP_E_CONFIG;
    }
    size_t argc = 0;
    while (argv[argc])
        if (++argc > DMCP_CHILD_MAX_ARGS) {
            gw_stdio_err(err, DMCP_E_CONFIG, "stdio upstream: more than %d arguments",
                    DMCP_CHILD_MAX_ARGS);
            return DMCP_E_CONFIG;
        }
    stdio_up *up = calloc(1, sizeof *up);
    if (!up)
        return DMCP_E_NOMEM;
    up->base.ops = &stdio_ops;
    if (o)
        up->o = *o;
    up->o.static_headers = NULL; /* HTTP only; not kept */
    up->o.static_header_count = 0;
    if (!up->o.request_timeout_ms)
        up->o.request_timeout_ms = 60000;
    if (!up->o.max_message_bytes)
        up->o.max_message_bytes = DMCP_GW_MAX_MESSAGE_BYTES;
    if (!up->o.max_sessions)
        up->o.max_sessions = 256;
    if (!up->o.idle_seconds)
        up->o.idle_seconds = 600;
    up->argv = calloc(argc + 1, sizeof *up->argv);
    up->pool = dmcp__childpool_new(up->o.max_sessions, up->o.idle_seconds * 1000u);
    bool ok = up->argv && up->pool;
    for (size_t i = 0; ok && i < argc; i++)
        ok = (up->argv[i] = strdup(argv[i])) != NULL;
    if (!ok) {
        stdio_free(&up->base);
        return DMCP_E_NOMEM;
    }
    *out = &up->base;
    return DMCP_OK;
}
