/* The stdio upstream's asynchronous requests (.request_async, upstream_stdio_async.c) against
 * the scripted stdio server (tests/support/fake_stdio_mcp.py) run as a real child: the
 * outcome comes once through done (response, time-out, cancellation, crash, close), progress
 * comes through notification first, and the child's own requests are refused. */
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

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("DMCP_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/tests/support/fake_stdio_mcp.py", src ? src : ".");
    return access(script, R_OK) == 0 && system("python3 -c '' 2>/dev/null") == 0 ? 0 : -1;
}

static dmcp_gw_upstream *new_up(void)
{
    static const char *argv[3];
    argv[0] = "python3";
    argv[1] = script;
    dmcp_gw_upstream_options o = {.request_timeout_ms = 30000};
    dmcp_gw_upstream *up = NULL;
    dmcp_error err;
    assert_int_equal(dmcp__gw_stdio_upstream_new(argv, &o, &up, &err), DMCP_OK);
    return up;
}

static dmcp_gw_usession *open_s(dmcp_gw_upstream *up)
{
    json_t *ip = json_pack("{s:s,s:{},s:{s:s,s:s}}", "protocolVersion", "2025-11-25",
                           "capabilities", "clientInfo", "name", "t", "version", "1");
    dmcp_gw_open_params op = {.initialize_params = ip, .client_session_id = "cs"};
    dmcp_gw_usession *s = NULL;
    dmcp_error err;
    assert_int_equal(up->ops->open(up, &op, &s, NULL, &err), DMCP_OK);
    json_decref(ip);
    return s;
}

static json_t *call_msg(json_int_t id, const char *tool, json_t *args, const char *token)
{
    json_t *params = json_pack("{s:s,s:o}", "name", tool, "arguments", args ? args : json_object());
    if (token)
        json_object_set_new(params, "_meta", json_pack("{s:s}", "progressToken", token));
    return json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", id, "method", "tools/call",
                     "params", params);
}

/* One request's outcome, filled by the callbacks (any thread). */
typedef struct outcome {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int dones;
    dmcp_status st;
    json_t *resp;
    char why[256];
    int notes;
    bool notes_before_done;
    bool cancel; /* what is_cancelled answers */
} outcome;

static void o_init(outcome *o)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->notes_before_done = true;
}

static void o_free(outcome *o)
{
    json_decref(o->resp);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
}

static void on_note(void *ud, const json_t *msg)
{
    outcome *o = ud;
    (void)msg;
    pthread_mutex_lock(&o->mu);
    o->notes++;
    o->notes_before_done = o->notes_before_done && o->dones == 0;
    pthread_mutex_unlock(&o->mu);
}

static bool on_cancelled(void *ud)
{
    outcome *o = ud;
    pthread_mutex_lock(&o->mu);
    bool c = o->cancel;
    pthread_mutex_unlock(&o->mu);
    return c;
}

static void on_done(void *ud, dmcp_status st, json_t *resp, const dmcp_error *err)
{
    outcome *o = ud;
    pthread_mutex_lock(&o->mu);
    o->dones++;
    o->st = st;
    json_decref(o->resp);
    o->resp = resp;
    snprintf(o->why, sizeof o->why, "%s", err ? err->message : "");
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

static dmcp_status send_async(dmcp_gw_upstream *up, dmcp_gw_usession *s, json_t *msg, outcome *o,
                              unsigned timeout_ms)
{
    dmcp_gw_async a = {o, timeout_ms, on_note, on_cancelled, on_done};
    dmcp_status st = up->ops->request_async(s, msg, &a);
    json_decref(msg);
    return st;
}

/* Waits for done (at most ms); returns how many times it ran. */
static int wait_done(outcome *o, long ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&o->mu);
    while (o->dones == 0 && pthread_cond_timedwait(&o->cv, &o->mu, &dl) == 0) {
    }
    int n = o->dones;
    pthread_mutex_unlock(&o->mu);
    return n;
}

static const char *text_of(const json_t *resp)
{
    json_t *c0 = json_array_get(json_object_get(json_object_get(resp, "result"), "content"), 0);
    return json_string_value(json_object_get(c0, "text"));
}

static void test_response_and_progress(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up();
    dmcp_gw_usession *s = open_s(up);
    outcome o;
    o_init(&o);
    assert_int_equal(send_async(up, s, call_msg(41, "progress", NULL, "tok-1"), &o, 0), DMCP_OK);
    assert_int_equal(wait_done(&o, 10000), 1);
    assert_int_equal(o.st, DMCP_OK);
    assert_int_equal(json_integer_value(json_object_get(o.resp, "id")), 41); /* the caller's */
    assert_string_equal(text_of(o.resp), "done");
    assert_int_equal(o.notes, 3);
    assert_true(o.notes_before_done);
    o_free(&o);
    up->ops->close(s);
    dmcp_gw_upstream_free(up);
}

/* Many at once on one child: each gets its own answer, exactly once. */
static void test_many_in_flight(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up();
    dmcp_gw_usession *s = open_s(up);
    enum { N = 64 };
    outcome *o = calloc(N, sizeof *o);
    for (int i = 0; i < N; i++) {
        o_init(&o[i]);
        assert_int_equal(send_async(up, s, call_msg(1000 + i, "whoami", NULL, NULL), &o[i], 0),
                         DMCP_OK);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(wait_done(&o[i], 10000), 1);
        assert_int_equal(o[i].st, DMCP_OK);
        assert_int_equal(json_integer_value(json_object_get(o[i].resp, "id")), 1000 + i);
        o_free(&o[i]);
    }
    free(o);
    up->ops->close(s);
    dmcp_gw_upstream_free(up);
}

/* Which wire ids the child was told were cancelled (asked with a blocking request). */
static size_t cancelled_count(dmcp_gw_upstream *up, dmcp_gw_usession *s)
{
    dmcp_gw_request_params rp = {0};
    json_t *resp = NULL;
    dmcp_error err;
    json_t *m = call_msg(7, "cancelled", NULL, NULL);
    assert_int_equal(up->ops->request(s, m, &rp, &resp, &err), DMCP_OK);
    json_decref(m);
    size_t n = json_array_size(json_object_get(json_object_get(resp, "result"), "ids"));
    json_decref(resp);
    return n;
}

static void test_timeout_and_cancel(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up();
    dmcp_gw_usession *s = open_s(up);
    outcome o;
    o_init(&o);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(
        send_async(up, s, call_msg(1, "slow", json_pack("{s:i}", "ms", 20000), NULL), &o, 300),
        DMCP_OK);
    assert_int_equal(wait_done(&o, 5000), 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(o.st, DMCP_E_TIMEOUT);
    assert_null(o.resp);
    assert_non_null(strstr(o.why, "300 ms"));
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 290 && ms < 3000);
    o_free(&o);
    /* The client's cancellation, polled: done at once, and the child is told. */
    o_init(&o);
    assert_int_equal(
        send_async(up, s, call_msg(2, "slow", json_pack("{s:i}", "ms", 20000), NULL), &o, 0),
        DMCP_OK);
    assert_int_equal(wait_done(&o, 200), 0); /* still out */
    pthread_mutex_lock(&o.mu);
    o.cancel = true;
    pthread_mutex_unlock(&o.mu);
    assert_int_equal(wait_done(&o, 3000), 1);
    assert_int_equal(o.st, DMCP_E_CANCELLED);
    o_free(&o);
    size_t told = 0;
    for (int i = 0; i < 100 && (told = cancelled_count(up, s)) < 2; i++) {
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(told, 2); /* both, under the ids the child knows */
    up->ops->close(s);
    dmcp_gw_upstream_free(up);
}

/* The child asks the client (sampling): there is no stream to carry it, so it is refused and
 * the child's answer says so. */
static void test_child_request_refused(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up();
    dmcp_gw_usession *s = open_s(up);
    outcome o;
    o_init(&o);
    assert_int_equal(send_async(up, s, call_msg(3, "sample", NULL, NULL), &o, 0), DMCP_OK);
    assert_int_equal(wait_done(&o, 10000), 1);
    assert_int_equal(o.st, DMCP_OK);
    assert_non_null(strstr(text_of(o.resp), "-32603"));
    assert_non_null(strstr(text_of(o.resp), "cannot answer this request here"));
    o_free(&o);
    up->ops->close(s);
    dmcp_gw_upstream_free(up);
}

/* The child dies mid-call; the session closes with a call out. */
static void test_crash_and_close(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up();
    dmcp_gw_usession *s = open_s(up);
    outcome slow, crash;
    o_init(&slow);
    o_init(&crash);
    assert_int_equal(
        send_async(up, s, call_msg(4, "slow", json_pack("{s:i}", "ms", 20000), NULL), &slow, 0),
        DMCP_OK);
    assert_int_equal(send_async(up, s, call_msg(5, "crash", NULL, NULL), &crash, 0), DMCP_OK);
    assert_int_equal(wait_done(&crash, 10000), 1);
    assert_int_equal(wait_done(&slow, 10000), 1);
    assert_int_equal(crash.st, DMCP_E_UNREACHABLE);
    assert_int_equal(slow.st, DMCP_E_UNREACHABLE);
    assert_non_null(strstr(crash.why, "exited with status 7"));
    o_free(&slow);
    o_free(&crash);
    /* A dead child is not written to: not taken (the blocking path reports or respawns). */
    o_init(&slow);
    assert_int_not_equal(send_async(up, s, call_msg(6, "whoami", NULL, NULL), &slow, 0), DMCP_OK);
    assert_int_equal(slow.dones, 0);
    o_free(&slow);
    up->ops->close(s);
    /* Closing a session with a call out ends the call before close returns. */
    s = open_s(up);
    o_init(&slow);
    assert_int_equal(
        send_async(up, s, call_msg(8, "slow", json_pack("{s:i}", "ms", 20000), NULL), &slow, 0),
        DMCP_OK);
    up->ops->close(s);
    assert_int_equal(slow.dones, 1);
    assert_int_equal(slow.st, DMCP_E_CANCELLED);
    o_free(&slow);
    dmcp_gw_upstream_free(up);
}

/* A child that stops reading its input: once its pipe is full a request is not taken (the
 * caller's thread must not wait on it); nothing blocks. */
static void test_child_not_reading(void **state)
{
    (void)state;
    dmcp_gw_upstream *up = new_up();
    dmcp_gw_usession *s = open_s(up);
    outcome deaf;
    o_init(&deaf);
    assert_int_equal(
        send_async(up, s, call_msg(9, "deaf", json_pack("{s:i}", "ms", 3000), NULL), &deaf, 0),
        DMCP_OK);
    struct timespec ts = {0, 200000000L};
    nanosleep(&ts, NULL); /* it reads that one, then sleeps */
    char *big = malloc(16385); /* over PIPE_BUF: written only when the pipe has room */
    memset(big, 'x', 16384);
    big[16384] = '\0';
    char small[3001]; /* under PIPE_BUF: written whole or not at all */
    memset(small, 'y', 3000);
    small[3000] = '\0';
    enum { MAX = 200 };
    outcome *o = calloc(MAX, sizeof *o);
    int taken = 0, refused = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < MAX && refused == 0; i++) {
        o_init(&o[i]);
        dmcp_status st = send_async(
            up, s, call_msg(100 + i, "whoami", json_pack("{s:s}", "pad", small), NULL), &o[i], 0);
        if (st == DMCP_OK)
            taken++;
        else
            refused++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_int_equal(refused, 1);
    assert_true(taken >= 1 && taken < MAX - 1);
    assert_true(ms < 1000); /* no write waited for the child */
    assert_int_equal(o[taken].dones, 0); /* the one not taken never completes */
    outcome o_big;
    o_init(&o_big);
    assert_int_not_equal(
        send_async(up, s, call_msg(99, "whoami", json_pack("{s:s}", "pad", big), NULL), &o_big, 0),
        DMCP_OK);
    assert_int_equal(o_big.dones, 0);
    o_free(&o_big);
    /* The child reads again: every taken request is answered. */
    assert_int_equal(wait_done(&deaf, 10000), 1);
    for (int i = 0; i < taken; i++) {
        assert_int_equal(wait_done(&o[i], 10000), 1);
        assert_int_equal(o[i].st, DMCP_OK);
    }
    for (int i = 0; i <= taken; i++)
        o_free(&o[i]);
    o_free(&deaf);
    free(o);
    free(big);
    up->ops->close(s);
    dmcp_gw_upstream_free(up);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_response_and_progress),
        cmocka_unit_test(test_many_in_flight),
        cmocka_unit_test(test_timeout_and_cancel),
        cmocka_unit_test(test_child_request_refused),
        cmocka_unit_test(test_crash_and_close),
        cmocka_unit_test(test_child_not_reading),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
