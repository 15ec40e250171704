/* The gateway's stdio upstream (src/gateway/upstream_stdio.c) through its upstream.h vtable,
 * against a scripted stdio server (tests/support/fake_stdio_mcp.py) run as a real child. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/upstream.h"
#include "testutil.h"

static char script[1024];

static const char *const *fake_argv(void)
{
    static const char *argv[3];
    argv[0] = "python3";
    argv[1] = script;
    argv[2] = NULL;
    return argv;
}

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("DMCP_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/tests/support/fake_stdio_mcp.py", src ? src : ".");
    return access(script, R_OK) == 0 && system("python3 -c '' 2>/dev/null") == 0 ? 0 : -1;
}

static dmcp_gw_upstream *g_up; /* the upstream of the test running (sessions are opaque) */

static dmcp_gw_upstream *new_up(unsigned max, unsigned idle_s)
{
    dmcp_gw_upstream_options o = {
        .max_sessions = max, .idle_seconds = idle_s, .request_timeout_ms = 30000};
    dmcp_gw_upstream *up = NULL;
    dmcp_error err;
    assert_int_equal(dmcp__gw_stdio_upstream_new(fake_argv(), &o, &up, &err), DMCP_OK);
    g_up = up;
    return up;
}

static json_t *client_init(void)
{
    return json_pack("{s:s,s:{s:{},s:{}},s:{s:s,s:s}}", "protocolVersion", "2025-11-25",
                     "capabilities", "sampling", "elicitation", "clientInfo", "name", "t",
                     "version", "1");
}

static dmcp_gw_usession *open_s(dmcp_gw_upstream *up, dmcp_gw_message_fn fn, void *ud)
{
    json_t *ip = client_init();
    dmcp_gw_open_params op = {
        .initialize_params = ip, .client_session_id = "cs", .on_message = fn, .on_message_ud = ud};
    dmcp_gw_usession *s = NULL;
    json_t *init = NULL;
    dmcp_error err;
    dmcp_status st = up->ops->open(up, &op, &s, &init, &err);
    if (st != DMCP_OK)
        fprintf(stderr, "open: %s\n", err.message);
    assert_int_equal(st, DMCP_OK);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(init, "serverInfo"), "name")), "fake");
    json_decref(init);
    json_decref(ip);
    return s;
}

static json_t *call_msg(json_t *id, const char *tool, json_t *args, json_t *token)
{
    json_t *params = json_pack("{s:s,s:o}", "name", tool, "arguments", args ? args : json_object());
    if (token)
        json_object_set_new(params, "_meta", json_pack("{s:o}", "progressToken", token));
    return json_pack("{s:s,s:o,s:s,s:o}", "jsonrpc", "2.0", "id", id, "method", "tools/call",
                     "params", params);
}

static dmcp_status call(dmcp_gw_usession *s, json_t *msg, const dmcp_gw_sink *sink,
                        unsigned timeout_ms, json_t **resp, dmcp_error *err)
{
    dmcp_gw_request_params rp = {.sink = sink, .timeout_ms = timeout_ms};
    dmcp_status st = g_up->ops->request(s, msg, &rp, resp, err);
    json_decref(msg);
    return st;
}

#define OPS(up) ((up)->ops)

static json_t *result_of(json_t *resp)
{
    return json_object_get(resp, "result");
}

static void test_open_ids_and_capabilities(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    json_t *resp = NULL;
    dmcp_error err;
    dmcp_gw_request_params rp = {0};
    json_t *m = call_msg(json_string("client-id-7"), "whoami", NULL, NULL);
    assert_int_equal(OPS(up)->request(s, m, &rp, &resp, &err), DMCP_OK);
    json_decref(m);
    /* The caller's id comes back; the child saw an id of the gateway's choosing. */
    assert_string_equal(json_string_value(json_object_get(resp, "id")), "client-id-7");
    json_t *r = result_of(resp);
    assert_true(json_is_integer(json_object_get(r, "wireId")));
    /* The child was initialized with the client's capabilities. */
    json_t *caps = json_object_get(json_object_get(r, "init"), "capabilities");
    assert_non_null(json_object_get(caps, "sampling"));
    assert_non_null(json_object_get(caps, "elicitation"));
    json_decref(resp);
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

typedef struct sinkrec {
    int notes;
    double progress[8];
    int requests;
    char method[64];
    bool order_ok;
} sinkrec;

static void sink_note(void *ud, const json_t *msg)
{
    sinkrec *r = ud;
    json_t *p = json_object_get(msg, "params");
    assert_string_equal(json_string_value(json_object_get(p, "progressToken")), "tok-1");
    if (r->notes < 8)
        r->progress[r->notes] = json_number_value(json_object_get(p, "progress"));
    r->notes++;
}

static dmcp_status sink_req(void *ud, const json_t *msg, json_t **result, json_t **error)
{
    sinkrec *r = ud;
    (void)error;
    r->requests++;
    snprintf(r->method, sizeof r->method, "%s", json_string_value(json_object_get(msg, "method")));
    *result = json_pack("{s:s,s:{s:s,s:s},s:s}", "role", "assistant", "content", "type", "text",
                        "text", "hi from the client", "model", "m");
    return DMCP_OK;
}

static void test_progress_delivered_before_response(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    sinkrec rec = {0};
    dmcp_gw_sink sink = {.ud = &rec, .notification = sink_note, .request = sink_req};
    json_t *resp = NULL;
    dmcp_error err;
    assert_int_equal(call(s, call_msg(json_integer(5), "progress", NULL, json_string("tok-1")),
                          &sink, 0, &resp, &err),
                     DMCP_OK);
    assert_int_equal(rec.notes, 3); /* all three, on this thread, before the response */
    assert_true(rec.progress[0] == 1 && rec.progress[1] == 2 && rec.progress[2] == 3);
    assert_int_equal(json_integer_value(json_object_get(resp, "id")), 5);
    json_decref(resp);
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

static void test_sampling_round_trip(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    sinkrec rec = {0};
    dmcp_gw_sink sink = {.ud = &rec, .notification = sink_note, .request = sink_req};
    json_t *resp = NULL;
    dmcp_error err;
    assert_int_equal(
        call(s, call_msg(json_integer(9), "sample", NULL, NULL), &sink, 0, &resp, &err), DMCP_OK);
    assert_int_equal(rec.requests, 1);
    assert_string_equal(rec.method, "sampling/createMessage");
    json_t *c0 = json_array_get(json_object_get(result_of(resp), "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")),
                        "client said: hi from the client");
    json_decref(resp);
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

typedef struct slowarg {
    dmcp_gw_usession *s;
    dmcp_status st;
} slowarg;

static void *slow2_main(void *arg)
{
    slowarg *a = arg;
    json_t *resp = NULL;
    dmcp_error err;
    a->st = call(a->s, call_msg(json_integer(500), "slow", json_pack("{s:i}", "ms", 3000), NULL),
                 NULL, 0, &resp, &err);
    json_decref(resp);
    return NULL;
}

static void wait_running(dmcp_gw_usession *s);

/* With two requests in flight, the child's sampling request still reaches the client (through
 * one of them) and its answer the child: the standalone stream could not carry it back. */
static void test_sampling_with_two_in_flight(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    slowarg a = {.s = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, slow2_main, &a), 0);
    wait_running(s);
    sinkrec rec = {0};
    dmcp_gw_sink sink = {.ud = &rec, .notification = sink_note, .request = sink_req};
    json_t *resp = NULL;
    dmcp_error err;
    assert_int_equal(
        call(s, call_msg(json_integer(9), "sample", NULL, NULL), &sink, 0, &resp, &err), DMCP_OK);
    json_t *c0 = json_array_get(json_object_get(result_of(resp), "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")),
                        "client said: hi from the client");
    json_decref(resp);
    pthread_join(th, NULL);
    assert_int_equal(a.st, DMCP_OK);
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

typedef struct conc {
    dmcp_gw_usession *s;
    int id;
    dmcp_status st;
    json_int_t got;
} conc;

static void *conc_main(void *arg)
{
    conc *c = arg;
    json_t *resp = NULL;
    dmcp_error err;
    c->st = call(c->s,
                 call_msg(json_integer(c->id), "slow", json_pack("{s:i}", "ms", 300 - c->id), NULL),
                 NULL, 0, &resp, &err);
    c->got = json_integer_value(json_object_get(resp, "id"));
    json_decref(resp);
    return NULL;
}

static void test_concurrent_requests_one_session(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    conc c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (conc){.s = s, .id = 100 + i * 50};
        assert_int_equal(pthread_create(&th[i], NULL, conc_main, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].st, DMCP_OK);
        assert_int_equal(c[i].got, c[i].id); /* each got its own answer back */
    }
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

/* A reparented child that a PID 1 without a reaper leaves as a zombie is gone too. */
static bool zombie(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == 'Z';
}

static json_int_t pid_of(dmcp_gw_usession *s)
{
    json_t *resp = NULL;
    dmcp_error err;
    assert_int_equal(call(s, call_msg(json_integer(1), "whoami", NULL, NULL), NULL, 0, &resp, &err),
                     DMCP_OK);
    json_int_t pid = json_integer_value(json_object_get(result_of(resp), "pid"));
    json_decref(resp);
    return pid;
}

static void test_crash_mid_call(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s1 = open_s(up, NULL, NULL);
    dmcp_gw_usession *s2 = open_s(up, NULL, NULL);
    json_int_t pid1 = pid_of(s1), pid2 = pid_of(s2);
    json_t *resp = NULL;
    dmcp_error err;
    assert_int_equal(call(s1, call_msg(json_integer(2), "crash", NULL, NULL), NULL, 0, &resp, &err),
                     DMCP_E_UNREACHABLE);
    assert_null(resp);
    assert_non_null(strstr(err.message, "exited with status 7"));
    /* Later requests on that session: the gateway reopens (a fresh child) and retries. */
    assert_int_equal(
        call(s1, call_msg(json_integer(3), "whoami", NULL, NULL), NULL, 0, &resp, &err),
        DMCP_E_NOT_FOUND);
    OPS(up)->close(s1);
    dmcp_gw_usession *s3 = open_s(up, NULL, NULL);
    json_int_t pid3 = pid_of(s3);
    assert_true(pid3 != pid1 && pid3 > 0);
    /* The other session never noticed. */
    assert_int_equal(pid_of(s2), pid2);
    OPS(up)->close(s2);
    OPS(up)->close(s3);
    dmcp_gw_upstream_free(up);
}

static void test_children_cap(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(1, 0);
    dmcp_gw_usession *s1 = open_s(up, NULL, NULL);
    json_t *ip = client_init();
    dmcp_gw_open_params op = {.initialize_params = ip};
    dmcp_gw_usession *s2 = NULL;
    dmcp_error err;
    assert_int_equal(OPS(up)->open(up, &op, &s2, NULL, &err), DMCP_E_RATE_LIMITED);
    assert_null(s2);
    assert_non_null(strstr(err.message, "cap"));
    OPS(up)->close(s1);
    assert_int_equal(OPS(up)->open(up, &op, &s2, NULL, &err), DMCP_OK);
    OPS(up)->close(s2);
    json_decref(ip);
    dmcp_gw_upstream_free(up);
}

static void test_timeout_cancels_upstream(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    json_t *resp = NULL;
    dmcp_error err;
    assert_int_equal(call(s,
                          call_msg(json_string("c"), "slow", json_pack("{s:i}", "ms", 20000), NULL),
                          NULL, 300, &resp, &err),
                     DMCP_E_TIMEOUT);
    /* The child was told, under the id it knows. */
    json_int_t wire = -1;
    for (int i = 0; i < 200 && wire < 0; i++) {
        assert_int_equal(
            call(s, call_msg(json_integer(4), "cancelled", NULL, NULL), NULL, 0, &resp, &err),
            DMCP_OK);
        json_t *ids = json_object_get(result_of(resp), "ids");
        if (json_array_size(ids) == 1)
            wire = json_integer_value(json_array_get(ids, 0));
        json_decref(resp);
        if (wire < 0) {
            struct timespec ts = {0, 20000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(wire > 0);
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

typedef struct slowcall {
    dmcp_gw_usession *s;
    json_t *id;
    unsigned timeout_ms;
    const dmcp_gw_sink *sink;
    dmcp_status st;
    long long took_ms;
} slowcall;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *slow_main(void *arg)
{
    slowcall *c = arg;
    json_t *resp = NULL;
    dmcp_error err;
    long long t0 = mono_ms();
    c->st = call(c->s, call_msg(c->id, "slow", json_pack("{s:i}", "ms", 60000), NULL), c->sink,
                 c->timeout_ms, &resp, &err);
    c->took_ms = mono_ms() - t0;
    json_decref(resp);
    return NULL;
}

/* Polls the child's record of notifications/cancelled until it has n entries. */
static json_t *cancelled_ids(dmcp_gw_usession *s, size_t n)
{
    for (int i = 0; i < 500; i++) {
        json_t *resp = NULL;
        dmcp_error err;
        assert_int_equal(
            call(s, call_msg(json_integer(4), "cancelled", NULL, NULL), NULL, 0, &resp, &err),
            DMCP_OK);
        json_t *ids = json_incref(json_object_get(result_of(resp), "ids"));
        json_decref(resp);
        if (json_array_size(ids) >= n)
            return ids;
        json_decref(ids);
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("the child never saw %zu cancellations", n);
    return NULL;
}

/* Waits until the child runs a slow call. */
static void wait_running(dmcp_gw_usession *s)
{
    for (int i = 0; i < 1000; i++) {
        json_t *resp = NULL;
        dmcp_error err;
        assert_int_equal(
            call(s, call_msg(json_integer(4), "cancelled", NULL, NULL), NULL, 0, &resp, &err),
            DMCP_OK);
        json_int_t n = json_integer_value(json_object_get(result_of(resp), "running"));
        json_decref(resp);
        if (n > 0)
            return;
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("the slow call never started");
}

/* The client's notifications/cancelled names its own id: the child gets the wire id. */
static void test_client_cancel_maps_id(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    dmcp_error err;
    /* Nothing in flight under that id: nothing sent, no error. */
    json_t *n = json_pack("{s:s,s:s,s:{s:s}}", "jsonrpc", "2.0", "method",
                          "notifications/cancelled", "params", "requestId", "abc");
    assert_int_equal(OPS(up)->notify(s, n, &err), DMCP_OK);
    json_t *none = cancelled_ids(s, 0);
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);
    slowcall c = {.s = s, .id = json_string("abc"), .timeout_ms = 60000};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, slow_main, &c), 0);
    wait_running(s); /* the slow request is in flight */
    assert_int_equal(OPS(up)->notify(s, n, &err), DMCP_OK);
    json_t *ids = cancelled_ids(s, 1);
    assert_true(json_is_integer(json_array_get(ids, 0))); /* the wire id, not "abc" */
    json_decref(ids);
    json_decref(n);
    /* The request still ends (the session closing fails it). */
    OPS(up)->close(s);
    pthread_join(th, NULL);
    assert_int_equal(c.st, DMCP_E_CANCELLED);
    dmcp_gw_upstream_free(up);
}

static bool cancel_flag;
static bool is_cancelled(void *ud)
{
    (void)ud;
    return __atomic_load_n(&cancel_flag, __ATOMIC_SEQ_CST);
}

/* sink->is_cancelled turning true ends the request and tells the child. */
static void test_sink_cancel(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    dmcp_gw_sink sink = {.is_cancelled = is_cancelled};
    slowcall c = {.s = s, .id = json_integer(77), .timeout_ms = 60000, .sink = &sink};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, slow_main, &c), 0);
    struct timespec ts = {0, 300000000L};
    nanosleep(&ts, NULL);
    __atomic_store_n(&cancel_flag, true, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    assert_int_equal(c.st, DMCP_E_CANCELLED);
    assert_true(c.took_ms < 30000);
    json_t *ids = cancelled_ids(s, 1);
    assert_true(json_is_integer(json_array_get(ids, 0)));
    json_decref(ids);
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

static bool slow_is_cancelled(void *ud)
{
    (void)ud;
    struct timespec ts = {0, 10000000L}; /* the answer arrives while the lock is released */
    nanosleep(&ts, NULL);
    return false;
}

/* An answer that arrives while is_cancelled runs is seen at once, not after the 100 ms poll
 * period (a lost wakeup made every such request take over 100 ms). */
static void test_no_lost_wakeup(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    dmcp_gw_sink sink = {.is_cancelled = slow_is_cancelled};
    long long t0 = mono_ms();
    for (int i = 0; i < 20; i++) {
        json_t *resp = NULL;
        dmcp_error err;
        assert_int_equal(
            call(s, call_msg(json_integer(i), "whoami", NULL, NULL), &sink, 0, &resp, &err),
            DMCP_OK);
        json_decref(resp);
    }
    long long took = mono_ms() - t0;
    assert_true(took < 1500); /* ~20 x 10 ms; with a lost wakeup 20 x 100 ms at least */
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

static void test_garbage_line_skipped(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    json_t *resp = NULL;
    dmcp_error err;
    assert_int_equal(
        call(s, call_msg(json_integer(8), "garbage", NULL, NULL), NULL, 0, &resp, &err), DMCP_OK);
    json_t *c0 = json_array_get(json_object_get(result_of(resp), "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "after garbage");
    json_decref(resp);
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

typedef struct msgrec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    char method[64];
} msgrec;

static void on_msg(void *ud, const json_t *msg)
{
    msgrec *r = ud;
    pthread_mutex_lock(&r->mu);
    r->n++;
    snprintf(r->method, sizeof r->method, "%s", json_string_value(json_object_get(msg, "method")));
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void test_message_outside_requests(void **state)
{
    (void)state;
    msgrec r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, ""};
    dmcp_gw_upstream *up = new_up(0, 0);
    dmcp_gw_usession *s = open_s(up, on_msg, &r);
    json_t *resp = NULL;
    dmcp_error err;
    assert_int_equal(call(s, call_msg(json_integer(8), "later", NULL, NULL), NULL, 0, &resp, &err),
                     DMCP_OK);
    json_decref(resp);
    pthread_mutex_lock(&r.mu);
    for (int i = 0; i < 400 && r.n == 0; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&r.cv, &r.mu, &ts);
        if (i > 30)
            break;
    }
    assert_int_equal(r.n, 1);
    assert_string_equal(r.method, "notifications/message");
    pthread_mutex_unlock(&r.mu);
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

/* An idle child is stopped, and the session's next request gets a fresh one (initialized with
 * the same parameters) in the same session, as many times as it happens. */
static void test_idle_child_reaped(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up(0, 1);
    dmcp_gw_usession *s = open_s(up, NULL, NULL);
    json_int_t pid = pid_of(s);
    for (int round = 0; round < 2; round++) {
        /* No traffic for 3 s (any request would count as activity): over the 1 s limit plus
         * the reaper's 250 ms period, with room for a loaded machine. */
        struct timespec ts = {3, 0};
        nanosleep(&ts, NULL);
        assert_false(kill((pid_t)pid, 0) == 0 && !zombie((pid_t)pid)); /* it was stopped */
        json_t *resp = NULL;
        dmcp_error err;
        assert_int_equal(
            call(s, call_msg(json_integer(1), "whoami", NULL, NULL), NULL, 0, &resp, &err),
            DMCP_OK);
        json_t *r = result_of(resp);
        json_int_t now = json_integer_value(json_object_get(r, "pid"));
        assert_true(now > 0 && now != pid); /* a fresh child ... */
        json_t *caps = json_object_get(json_object_get(r, "init"), "capabilities");
        assert_non_null(json_object_get(caps, "sampling")); /* ... initialized as the first */
        json_decref(resp);
        pid = now;
    }
    OPS(up)->close(s);
    dmcp_gw_upstream_free(up);
}

static void test_bad_command(void **state)
{
    (void)state;
    const char *argv[] = {"/nonexistent/dmcp-no-such-server", NULL};
    dmcp_gw_upstream *up = NULL;
    dmcp_error err;
    assert_int_equal(dmcp__gw_stdio_upstream_new(argv, NULL, &up, &err), DMCP_OK);
    json_t *ip = client_init();
    dmcp_gw_open_params op = {.initialize_params = ip};
    dmcp_gw_usession *s = NULL;
    assert_int_equal(OPS(up)->open(up, &op, &s, NULL, &err), DMCP_E_UNREACHABLE);
    assert_null(s);
    json_decref(ip);
    dmcp_gw_upstream_free(up);
    const char *none[] = {NULL};
    assert_int_equal(dmcp__gw_stdio_upstream_new(none, NULL, &up, &err), DMCP_E_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_ids_and_capabilities),
        cmocka_unit_test(test_progress_delivered_before_response),
        cmocka_unit_test(test_sampling_round_trip),
        cmocka_unit_test(test_concurrent_requests_one_session),
        cmocka_unit_test(test_sampling_with_two_in_flight),
        cmocka_unit_test(test_crash_mid_call),
        cmocka_unit_test(test_children_cap),
        cmocka_unit_test(test_timeout_cancels_upstream),
        cmocka_unit_test(test_client_cancel_maps_id),
        cmocka_unit_test(test_sink_cancel),
        cmocka_unit_test(test_no_lost_wakeup),
        cmocka_unit_test(test_garbage_line_skipped),
        cmocka_unit_test(test_message_outside_requests),
        cmocka_unit_test(test_idle_child_reaped),
        cmocka_unit_test(test_bad_command),
    };
    if (setup(NULL) != 0) {
        printf("SKIP: python3 or tests/support/fake_stdio_mcp.py missing\n");
        return DMCP_TEST_SKIP;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
