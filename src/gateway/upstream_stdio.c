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
 *     queues;
 *   - the child ending: requests in flight fail with DMCP_E_UNREACHABLE (idle reaping cannot
 *     hit a request in flight). After a crash any later request gets DMCP_E_NOT_FOUND, so the
 *     gateway opens a fresh session (a fresh child) and retries, as for an HTTP upstream that
 *     forgot a session; after idle reaping the next request respawns the child in the same
 *     session (initialized with the same parameters), so idleness never becomes an error.
 */
#include "gateway/child.h"
#include "gateway/upstream.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define STDIO_DEFAULT_INIT_MS 30000u /* a node server starting on a loaded machine */

typedef struct stdio_up {
    dmcp_gw_upstream base;
    char **argv;
    dmcp_gw_upstream_options o;
    dmcp__childpool *pool;
} stdio_up;

typedef struct qitem {
    json_t *msg;
    struct qitem *next;
} qitem;

typedef struct pending {
    json_int_t wire_id;
    const json_t *orig_id; /* the caller's id (borrowed from its msg, alive while it waits) */
    const json_t *progress_token; /* likewise */
    bool can_ask;                 /* its sink relays server->client requests */
    qitem *qhead, *qtail;         /* messages for this request, delivered on its thread */
    json_t *response;
    pthread_cond_t cv; /* signalled for this request only: no herd of waiters per line */
    struct pending *next;
} pending;

struct dmcp_gw_usession {
    stdio_up *up;
    dmcp__child *child;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    json_int_t next_id;
    pending *pend;
    unsigned npend;
    unsigned active; /* requests inside .request */
    bool dead, closing;
    dmcp__child_end why;
    int status;
    dmcp_gw_message_fn on_message;
    void *on_message_ud;
    json_t *init_params;        /* what the child was initialized with (for a respawn) */
    unsigned init_ms;           /* initialize timeout */
    unsigned gen;               /* children this session has had, minus one */
    pthread_mutex_t respawn_mu; /* one respawn at a time */
};

static void set_err(dmcp_error *err, dmcp_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(dmcp_error *err, dmcp_status st, const char *fmt, ...)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static void describe_end(const dmcp_gw_usession *s, char *buf, size_t n)
{
    switch (s->why) {
    case DMCP_CHILD_IDLE:
        snprintf(buf, n, "was stopped after being idle");
        return;
    case DMCP_CHILD_OVERSIZE:
        snprintf(buf, n, "wrote a message over the size cap and was stopped");
        return;
    case DMCP_CHILD_WRITE_FAIL:
        snprintf(buf, n, "stopped reading its input and was stopped");
        return;
    case DMCP_CHILD_CLOSED:
        snprintf(buf, n, "was closed");
        return;
    default:
        break;
    }
    if (WIFEXITED(s->status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(s->status));
    else if (WIFSIGNALED(s->status))
        snprintf(buf, n, "was killed by signal %d", WTERMSIG(s->status));
    else
        snprintf(buf, n, "ended");
}

/* Under s->mu: every request waiting, and close. */
static void wake_all(dmcp_gw_usession *s)
{
    for (pending *p = s->pend; p; p = p->next)
        pthread_cond_signal(&p->cv);
    pthread_cond_broadcast(&s->cv);
}

/* ---- reader side (child thread) ---- */

static pending *find_wire(dmcp_gw_usession *s, json_int_t id)
{
    for (pending *p = s->pend; p; p = p->next)
        if (p->wire_id == id)
            return p;
    return NULL;
}

static void enqueue(pending *p, json_t *msg)
{
    qitem *q = malloc(sizeof *q);
    if (!q) {
        json_decref(msg);
        return;
    }
    q->msg = msg;
    q->next = NULL;
    if (p->qtail)
        p->qtail->next = q;
    else
        p->qhead = q;
    p->qtail = q;
}

static void log_drop(dmcp_gw_usession *s, const char *why)
{
    fprintf(stderr, "gateway: stdio upstream child %ld: dropped a line: %s\n",
            (long)dmcp__child_pid(s->child), why);
}

static void on_line(void *ud, const char *line, size_t len)
{
    dmcp_gw_usession *s = ud;
    json_error_t je;
    json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!msg || !json_is_object(msg)) {
        json_decref(msg);
        log_drop(s, "not a JSON-RPC object");
        return;
    }
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    pthread_mutex_lock(&s->mu);
    if (!method) { /* a response */
        pending *p = json_is_integer(id) ? find_wire(s, json_integer_value(id)) : NULL;
        if (!p || p->response ||
            !(json_object_get(msg, "result") || json_object_get(msg, "error"))) {
            pthread_mutex_unlock(&s->mu);
            json_decref(msg);
            log_drop(s, "a response to no request in flight");
            return;
        }
        p->response = msg;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (!json_is_string(method)) {
        pthread_mutex_unlock(&s->mu);
        json_decref(msg);
        log_drop(s, "method is not a string");
        return;
    }
    pending *to = NULL;
    if (strcmp(json_string_value(method), "notifications/progress") == 0) {
        json_t *tok = json_object_get(json_object_get(msg, "params"), "progressToken");
        for (pending *p = s->pend; p && tok; p = p->next)
            if (p->progress_token && !p->response && json_equal(p->progress_token, tok))
                to = p;
    } else if (json_object_get(msg, "id") != NULL) {
        /* A server->client request: every request in flight belongs to the same client, so
         * any of them can carry it to the client and its answer back; the oldest one still
         * waiting whose sink relays requests does (the standalone stream cannot carry an
         * answer back). */
        pending *any = NULL;
        for (pending *p = s->pend; p; p = p->next) {
            if (p->response)
                continue;
            any = p;
            if (p->can_ask)
                to = p;
        }
        if (!to)
            to = any; /* it answers the child with an error at once */
    } else if (s->npend == 1 && !s->pend->response) {
        to = s->pend; /* a log message: with the only request in flight, else standalone */
    }
    if (to) {
        enqueue(to, msg);
        pthread_cond_signal(&to->cv);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    dmcp_gw_message_fn fn = s->on_message;
    void *fud = s->on_message_ud;
    pthread_mutex_unlock(&s->mu);
    if (fn)
        fn(fud, msg);
    json_decref(msg);
}

static void on_exit_cb(void *ud, dmcp__child_end why, int status)
{
    dmcp_gw_usession *s = ud;
    pthread_mutex_lock(&s->mu);
    s->dead = true;
    s->why = why;
    s->status = status;
    wake_all(s);
    pthread_mutex_unlock(&s->mu);
    if (why == DMCP_CHILD_EXITED) {
        char d[96];
        describe_end(s, d, sizeof d);
        fprintf(stderr, "gateway: stdio upstream child %ld %s\n", (long)dmcp__child_pid(s->child),
                d);
    }
}

/* ---- writing ---- */

static dmcp_status send_json(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err)
{
    char *line = json_dumps(msg, JSON_COMPACT);
    if (!line) {
        set_err(err, DMCP_E_NOMEM, "stdio upstream: cannot serialise the message");
        return DMCP_E_NOMEM;
    }
    dmcp_status st = dmcp__child_send(s->child, line, strlen(line));
    free(line);
    if (st == DMCP_E_TOO_LARGE) {
        set_err(err, st, "stdio upstream: the message is over the size cap");
    } else if (st != DMCP_OK) {
        set_err(err, DMCP_E_UNREACHABLE, "stdio upstream: the child is not accepting input (%s)",
                dmcp_status_name(st));
        st = DMCP_E_UNREACHABLE;
    }
    return st;
}

/* Answers the child's request `req` (its id) with result or error. */
static void answer_child(dmcp_gw_usession *s, const json_t *req, dmcp_status st, json_t *result,
                         json_t *error)
{
    json_t *ans = json_pack("{s:s,s:O}", "jsonrpc", "2.0", "id", json_object_get(req, "id"));
    if (!ans)
        return;
    if (st == DMCP_OK && result) {
        json_object_set(ans, "result", result);
    } else if (error && json_is_object(error)) {
        json_object_set(ans, "error", error);
    } else {
        json_object_set_new(
            ans, "error",
            json_pack("{s:i,s:s}", "code", -32603, "message", "the client did not answer"));
    }
    dmcp_status ignored = send_json(s, ans, NULL);
    (void)ignored;
    json_decref(ans);
}

static void deliver(dmcp_gw_usession *s, const dmcp_gw_request_params *p, json_t *msg)
{
    const dmcp_gw_sink *k = p ? p->sink : NULL;
    bool is_request = json_object_get(msg, "id") != NULL;
    if (!is_request) {
        if (k && k->notification)
            k->notification(k->ud, msg);
        return;
    }
    json_t *result = NULL, *error = NULL;
    dmcp_status st = DMCP_E_STATE;
    if (k && k->request) {
        st = k->request(k->ud, msg, &result, &error);
    } else {
        error = json_pack("{s:i,s:s}", "code", -32601, "message",
                          "the client cannot answer requests here");
    }
    answer_child(s, msg, st, result, error);
    json_decref(result);
    json_decref(error);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void unlink_pending(dmcp_gw_usession *s, pending *p)
{
    for (pending **pp = &s->pend; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            s->npend--;
            break;
        }
    for (qitem *q = p->qhead; q;) {
        qitem *n = q->next;
        json_decref(q->msg);
        free(q);
        q = n;
    }
    json_decref(p->response);
}

static void send_cancel(dmcp_gw_usession *s, json_int_t wire_id, const char *reason)
{
    json_t *n =
        json_pack("{s:s,s:s,s:{s:I,s:s}}", "jsonrpc", "2.0", "method", "notifications/cancelled",
                  "params", "requestId", (json_int_t)wire_id, "reason", reason);
    if (!n)
        return;
    dmcp_status ignored = send_json(s, n, NULL);
    (void)ignored;
    json_decref(n);
}

/* The exchange: send under a wire id, deliver what arrives for it, return the response with
 * the caller's id. */
static dmcp_status do_request(dmcp_gw_usession *s, const json_t *msg,
                              const dmcp_gw_request_params *p, unsigned timeout_ms,
                              json_t **response, dmcp_error *err)
{
    *response = NULL;
    json_t *orig_id = json_object_get(msg, "id");
    if (!json_is_object(msg) || !orig_id || !json_is_string(json_object_get(msg, "method"))) {
        set_err(err, DMCP_E_INVALID_ARG, "stdio upstream: not a JSON-RPC request");
        return DMCP_E_INVALID_ARG;
    }
    pending pe;
    memset(&pe, 0, sizeof pe);
    pthread_cond_init(&pe.cv, NULL);
    pe.orig_id = orig_id;
    pe.can_ask = p && p->sink && p->sink->request;
    pe.progress_token =
        json_object_get(json_object_get(json_object_get(msg, "params"), "_meta"), "progressToken");
    pthread_mutex_lock(&s->mu);
    if (s->dead || s->closing) {
        char d[96];
        describe_end(s, d, sizeof d);
        pthread_mutex_unlock(&s->mu);
        set_err(err, DMCP_E_NOT_FOUND, "stdio upstream: the session's child %s", d);
        pthread_cond_destroy(&pe.cv);
        return DMCP_E_NOT_FOUND;
    }
    pe.wire_id = s->next_id++;
    pe.next = s->pend;
    s->pend = &pe;
    s->npend++;
    s->active++;
    pthread_mutex_unlock(&s->mu);

    json_t *wire = json_copy((json_t *)msg); /* shallow: params shared, id replaced */
    dmcp_status st = wire ? DMCP_OK : DMCP_E_NOMEM;
    if (wire) {
        json_object_set_new(wire, "id", json_integer(pe.wire_id));
        dmcp__child_busy(s->child, +1);
        st = send_json(s, wire, err);
        json_decref(wire);
    } else {
        set_err(err, st, "stdio upstream: out of memory");
    }
    long long deadline = mono_ms() + (timeout_ms ? timeout_ms : 60000u);
    pthread_mutex_lock(&s->mu);
    while (st == DMCP_OK) {
        while (pe.qhead) { /* in arrival order, on this thread, before the response */
            qitem *q = pe.qhead;
            pe.qhead = q->next;
            if (!pe.qhead)
                pe.qtail = NULL;
            pthread_mutex_unlock(&s->mu);
            deliver(s, p, q->msg);
            json_decref(q->msg);
            free(q);
            pthread_mutex_lock(&s->mu);
        }
        if (pe.response)
            break;
        if (s->dead) {
            char d[96];
            describe_end(s, d, sizeof d);
            set_err(err, DMCP_E_UNREACHABLE, "stdio upstream: the child %s during the request", d);
            st = DMCP_E_UNREACHABLE;
            break;
        }
        if (s->closing) {
            set_err(err, DMCP_E_CANCELLED, "stdio upstream: the session is closing");
            st = DMCP_E_CANCELLED;
            break;
        }
        if (p && p->sink && p->sink->is_cancelled) {
            pthread_mutex_unlock(&s->mu);
            bool cancelled = p->sink->is_cancelled(p->sink->ud);
            pthread_mutex_lock(&s->mu);
            if (cancelled) {
                set_err(err, DMCP_E_CANCELLED, "stdio upstream: the request was cancelled");
                st = DMCP_E_CANCELLED;
                break;
            }
            /* The lock was released for the call: what arrived meanwhile must be seen before
             * waiting, or its signal is lost and the request sleeps a whole period. */
            if (pe.qhead || pe.response || s->dead || s->closing)
                continue;
        }
        long long left = deadline - mono_ms();
        if (left <= 0) {
            set_err(err, DMCP_E_TIMEOUT, "stdio upstream: no answer within %u ms",
                    timeout_ms ? timeout_ms : 60000u);
            st = DMCP_E_TIMEOUT;
            break;
        }
        if (left > 100)
            left = 100; /* polls is_cancelled */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)left * 1000000L;
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&pe.cv, &s->mu, &ts);
    }
    if (st == DMCP_OK) {
        *response = pe.response;
        pe.response = NULL;
        json_object_set(*response, "id", orig_id);
    }
    unlink_pending(s, &pe);
    s->active--;
    pthread_cond_broadcast(&s->cv); /* close may be waiting */
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&pe.cv);
    if (st == DMCP_E_TIMEOUT || st == DMCP_E_CANCELLED)
        send_cancel(s, pe.wire_id, st == DMCP_E_TIMEOUT ? "timed out" : "cancelled");
    dmcp__child_busy(s->child, -1);
    return st;
}

/* ---- initialize, and the respawn of an idle-reaped child ---- */

/* initialize with s->init_params, then notifications/initialized. *resp: the response. */
static dmcp_status initialize(dmcp_gw_usession *s, json_t **resp, dmcp_error *err)
{
    *resp = NULL;
    json_t *init = json_pack("{s:s,s:i,s:s,s:O}", "jsonrpc", "2.0", "id", 0, "method", "initialize",
                             "params", s->init_params);
    dmcp_status st = init ? do_request(s, init, NULL, s->init_ms, resp, err) : DMCP_E_NOMEM;
    json_decref(init);
    if (st == DMCP_E_NOT_FOUND || st == DMCP_E_UNREACHABLE) {
        char d[96];
        describe_end(s, d, sizeof d);
        set_err(err, DMCP_E_UNREACHABLE, "stdio upstream: the child %s before initialize", d);
        st = DMCP_E_UNREACHABLE;
    }
    if (st == DMCP_OK && !json_is_object(json_object_get(*resp, "result"))) {
        const char *m =
            json_string_value(json_object_get(json_object_get(*resp, "error"), "message"));
        set_err(err, DMCP_E_PROTOCOL, "stdio upstream: initialize failed: %.160s",
                m ? m : "no result");
        st = DMCP_E_PROTOCOL;
    }
    if (st == DMCP_OK) {
        json_t *n = json_pack("{s:s,s:s}", "jsonrpc", "2.0", "method", "notifications/initialized");
        st = n ? send_json(s, n, err) : DMCP_E_NOMEM;
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
                           .on_line = on_line,
                           .on_exit = on_exit_cb,
                           .ud = s};
    dmcp_status st = dmcp__childpool_spawn(up->pool, &co, out);
    if (st == DMCP_E_RATE_LIMITED) {
        set_err(err, st, "stdio upstream: %u children are running, the configured cap",
                up->o.max_sessions);
        if (err)
            err->retry_after = 5;
    } else if (st != DMCP_OK) {
        set_err(err, DMCP_E_UNREACHABLE, "stdio upstream: cannot start '%s' (%s)", up->argv[0],
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
    while (s->active > 0) /* requests that were on the old child are ending */
        pthread_cond_wait(&s->cv, &s->mu);
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
    pthread_mutex_lock(&s->mu);
    bool idle_dead = s->dead && s->why == DMCP_CHILD_IDLE && !s->closing;
    unsigned gen = s->gen;
    pthread_mutex_unlock(&s->mu);
    if (idle_dead) {
        dmcp_status st = respawn(s, gen, err);
        if (st != DMCP_OK)
            return st;
    }
    return do_request(s, msg, p, t, response, err);
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
        dmcp_status st = send_json(s, c, err);
        json_decref(c);
        return st;
    }
    return send_json(s, msg, err);
}

static dmcp_status stdio_respond(dmcp_gw_usession *s, const json_t *msg, dmcp_error *err)
{
    if (!s || !json_is_object(msg) || !json_object_get(msg, "id"))
        return DMCP_E_INVALID_ARG;
    return send_json(s, msg, err);
}

static void stdio_close(dmcp_gw_usession *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    wake_all(s);
    while (s->active > 0)
        pthread_cond_wait(&s->cv, &s->mu);
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
        set_err(err, DMCP_E_CONFIG, "stdio upstream: no command");
        return DMCP_E_CONFIG;
    }
    size_t argc = 0;
    while (argv[argc])
        if (++argc > DMCP_CHILD_MAX_ARGS) {
            set_err(err, DMCP_E_CONFIG, "stdio upstream: more than %d arguments",
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
