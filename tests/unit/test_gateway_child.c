/* The gateway's stdio child supervisor (src/gateway/child.c) against real processes: /bin/sh
 * one-liners for each misbehaviour, and mcp-echo-server --stdio for a real MCP round trip. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gateway/child.h"
#include "testutil.h"

#define WAIT_MS 20000 /* generous: a loaded 2-core machine */

typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char lines[16][4096];
    size_t nlines;
    char err[16][DMCP_CHILD_STDERR_LINE + 1];
    size_t nerr;
    bool exited;
    dmcp__child_end why;
    int status;
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void on_line(void *ud, const char *line, size_t len)
{
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    assert_int_equal(strlen(line), len);
    if (r->nlines < 16)
        snprintf(r->lines[r->nlines++], sizeof r->lines[0], "%s", line);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_exit_cb(void *ud, dmcp__child_end why, int status)
{
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    assert_false(r->exited); /* once */
    r->exited = true;
    r->why = why;
    r->status = status;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_stderr(void *ud, const char *line)
{
    rec *r = ud;
    pthread_mutex_lock(&r->mu);
    if (r->nerr < 16)
        snprintf(r->err[r->nerr++], sizeof r->err[0], "%s", line);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until *counter >= n (or the flag when counter is NULL). */
static bool wait_for(rec *r, const size_t *counter, size_t n, const bool *flag)
{
    long long end = mono_ms() + WAIT_MS;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (counter ? *counter >= n : *flag)
            break;
        if (mono_ms() >= end) {
            pthread_mutex_unlock(&r->mu);
            return false;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return true;
}

static dmcp__child_opts opts_sh(rec *r, const char *script, const char **argv)
{
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = script;
    argv[3] = NULL;
    dmcp__child_opts o = {.argv = argv,
                          .on_line = on_line,
                          .on_exit = on_exit_cb,
                          .on_stderr = on_stderr,
                          .ud = r,
                          .grace_ms = 300};
    return o;
}

static bool pid_gone(pid_t pid)
{
    if (kill(pid, 0) != 0)
        return errno == ESRCH;
    /* Reparented to a PID 1 that does not reap: a zombie is gone too. */
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

static void test_lines_round_trip(void **state)
{
    (void)state;
    rec r;
    rec_init(&r);
    const char *argv[4];
    dmcp__child_opts o = opts_sh(&r, "exec cat", argv);
    dmcp__child *c = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_OK);
    assert_true(dmcp__child_alive(c));
    assert_int_equal(dmcp__child_send(c, "{\"a\":1}", 7), DMCP_OK);
    assert_int_equal(dmcp__child_send(c, "{\"b\":2}", 7), DMCP_OK);
    assert_true(wait_for(&r, &r.nlines, 2, NULL));
    assert_string_equal(r.lines[0], "{\"a\":1}");
    assert_string_equal(r.lines[1], "{\"b\":2}");
    /* A message is one line: an embedded newline would frame two messages. */
    assert_int_equal(dmcp__child_send(c, "{\"a\":\n1}", 8), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp__child_send(c, "{\"a\":\r1}", 8), DMCP_E_INVALID_ARG);
    assert_true(dmcp__child_alive(c));
    dmcp__child_close(c);
    /* cat ends on stdin EOF: the close was orderly. */
    assert_true(r.exited);
    assert_int_equal(r.why, DMCP_CHILD_CLOSED);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
}

static void test_spawn_errors(void **state)
{
    (void)state;
    rec r;
    rec_init(&r);
    dmcp__child *c = (dmcp__child *)1;
    const char *none[] = {"/nonexistent/dmcp-no-such-program", NULL};
    dmcp__child_opts o = {.argv = none, .on_line = on_line, .ud = &r};
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_E_IO);
    assert_null(c);
    const char *empty[] = {NULL};
    o.argv = empty;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_E_INVALID_ARG);
    o.argv = none;
    o.on_line = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_E_INVALID_ARG);
}

/* The child sees stdin, stdout, stderr and nothing else of ours (ls's own directory fd is 3). */
static void test_no_descriptor_leak(void **state)
{
    (void)state;
    rec r;
    rec_init(&r);
    int canary = fcntl(2, F_DUPFD, 50); /* an fd of ours without CLOEXEC */
    assert_true(canary >= 50);
    const char *argv[4];
    dmcp__child_opts o = opts_sh(&r, "exec ls /proc/self/fd", argv);
    dmcp__child *c = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_OK);
    assert_true(wait_for(&r, NULL, 0, &r.exited));
    assert_int_equal(r.nlines, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(atoi(r.lines[i]), (int)i);
    dmcp__child_close(c);
    close(canary);
}

static void test_stderr_logged_and_redacted(void **state)
{
    (void)state;
    rec r;
    rec_init(&r);
    const char *argv[4];
    dmcp__child_opts o =
        opts_sh(&r,
                "echo 'starting up' >&2; "
                "echo 'got Authorization: Bearer abc.def-ghi_jkl for you' >&2; "
                "echo 'jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlX2J5dGVz end' >&2; "
                "printf 'bell\\007here\\n' >&2; "
                "head -c 5000 /dev/zero | tr '\\0' x >&2; echo >&2; echo ready; exec cat",
                argv);
    dmcp__child *c = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_OK);
    assert_true(wait_for(&r, &r.nerr, 5, NULL));
    assert_string_equal(r.err[0], "starting up");
    assert_string_equal(r.err[1], "got Authorization: Bearer [redacted] for you");
    assert_string_equal(r.err[2], "jwt [redacted] end");
    assert_string_equal(r.err[3], "bell?here");
    assert_int_equal(strlen(r.err[4]), DMCP_CHILD_STDERR_LINE); /* cut, not split */
    for (size_t i = 0; i < r.nerr; i++) {
        assert_null(strstr(r.err[i], "abc.def"));
        assert_null(strstr(r.err[i], "eyJ"));
    }
    dmcp__child_close(c);
}

static void test_crash_detected(void **state)
{
    (void)state;
    rec r;
    rec_init(&r);
    const char *argv[4];
    dmcp__child_opts o = opts_sh(&r, "read x; echo 'dying' >&2; exit 3", argv);
    dmcp__child *c = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_OK);
    assert_int_equal(dmcp__child_send(c, "{}", 2), DMCP_OK);
    assert_true(wait_for(&r, NULL, 0, &r.exited));
    assert_int_equal(r.why, DMCP_CHILD_EXITED);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3);
    assert_false(dmcp__child_alive(c));
    /* Its last words were logged. */
    assert_true(r.nerr >= 1);
    assert_string_equal(r.err[r.nerr - 1], "dying");
    /* Writing to it now is refused, never a SIGPIPE. */
    assert_int_equal(dmcp__child_send(c, "{}", 2), DMCP_E_STATE);
    dmcp__child_close(c);
}

/* A child that ignores stdin EOF and SIGTERM is killed after the two graces. */
static void test_close_escalates_to_sigkill(void **state)
{
    (void)state;
    rec r;
    rec_init(&r);
    const char *argv[4];
    dmcp__child_opts o = opts_sh(&r, "trap '' TERM; echo up; while :; do sleep 1; done", argv);
    dmcp__child *c = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_OK);
    assert_true(wait_for(&r, &r.nlines, 1, NULL));
    pid_t pid = dmcp__child_pid(c);
    long long t0 = mono_ms();
    dmcp__child_close(c);
    long long took = mono_ms() - t0;
    assert_true(r.exited);
    assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
    assert_true(took >= 500);  /* it waited the graces ... */
    assert_true(took < 10000); /* ... and no longer */
    assert_true(pid_gone(pid));
}

/* SIGTERM goes to the child's group: a grandchild (sleep) dies with it. */
static void test_close_kills_group(void **state)
{
    (void)state;
    rec r;
    rec_init(&r);
    const char *argv[4];
    dmcp__child_opts o = opts_sh(&r, "sleep 300 & echo $!; wait", argv);
    dmcp__child *c = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_OK);
    assert_true(wait_for(&r, &r.nlines, 1, NULL));
    pid_t grandchild = (pid_t)atol(r.lines[0]);
    assert_true(grandchild > 1);
    assert_false(pid_gone(grandchild));
    dmcp__child_close(c);
    assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGTERM);
    long long end = mono_ms() + WAIT_MS;
    while (!pid_gone(grandchild) && mono_ms() < end)
        sleep_ms(10);
    assert_true(pid_gone(grandchild));
}

static void test_oversize_line_stops_child(void **state)
{
    (void)state;
    rec r;
    rec_init(&r);
    const char *argv[4];
    dmcp__child_opts o = opts_sh(
        &r, "echo '{\"small\":1}'; head -c 3000 /dev/zero | tr '\\0' a; echo; exec cat", argv);
    o.max_line = 1000;
    dmcp__child *c = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_OK);
    assert_true(wait_for(&r, NULL, 0, &r.exited));
    assert_int_equal(r.why, DMCP_CHILD_OVERSIZE);
    assert_int_equal(r.nlines, 1); /* the small line came through, the big one never did */
    assert_string_equal(r.lines[0], "{\"small\":1}");
    char big[1200];
    memset(big, 'b', sizeof big);
    assert_int_equal(dmcp__child_send(c, big, sizeof big), DMCP_E_TOO_LARGE);
    dmcp__child_close(c);
}

/* A child that stops reading: the write times out instead of blocking the gateway. */
static void test_write_timeout(void **state)
{
    (void)state;
    rec r;
    rec_init(&r);
    const char *argv[4];
    dmcp__child_opts o = opts_sh(&r, "exec sleep 300", argv);
    o.write_timeout_ms = 300;
    dmcp__child *c = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_OK);
    static char chunk[60000];
    memset(chunk, 'x', sizeof chunk);
    dmcp_status st = DMCP_OK;
    for (int i = 0; i < 64 && st == DMCP_OK; i++)
        st = dmcp__child_send(c, chunk, sizeof chunk);
    assert_int_equal(st, DMCP_E_TIMEOUT);
    assert_true(wait_for(&r, NULL, 0, &r.exited));
    assert_int_equal(r.why, DMCP_CHILD_WRITE_FAIL);
    dmcp__child_close(c);
}

static void test_pool_cap(void **state)
{
    (void)state;
    rec r[3];
    const char *argv[3][4];
    dmcp__childpool *p = dmcp__childpool_new(2, 0);
    assert_non_null(p);
    dmcp__child *c[3] = {0};
    for (int i = 0; i < 3; i++)
        rec_init(&r[i]);
    dmcp__child_opts o0 = opts_sh(&r[0], "exec cat", argv[0]);
    dmcp__child_opts o1 = opts_sh(&r[1], "exec cat", argv[1]);
    dmcp__child_opts o2 = opts_sh(&r[2], "exec cat", argv[2]);
    assert_int_equal(dmcp__childpool_spawn(p, &o0, &c[0]), DMCP_OK);
    assert_int_equal(dmcp__childpool_spawn(p, &o1, &c[1]), DMCP_OK);
    assert_int_equal(dmcp__childpool_spawn(p, &o2, &c[2]), DMCP_E_RATE_LIMITED);
    assert_null(c[2]);
    assert_int_equal(dmcp__childpool_count(p), 2);
    dmcp__childpool_release(p, c[0]);
    assert_int_equal(dmcp__childpool_count(p), 1);
    assert_int_equal(dmcp__childpool_spawn(p, &o2, &c[2]), DMCP_OK);
    /* A program that cannot start gives its slot back. */
    const char *none[] = {"/nonexistent/dmcp-no-such-program", NULL};
    dmcp__child_opts bad = {.argv = none, .on_line = on_line, .ud = &r[0]};
    dmcp__childpool_release(p, c[1]);
    assert_int_equal(dmcp__childpool_spawn(p, &bad, &c[0]), DMCP_E_IO);
    assert_int_equal(dmcp__childpool_count(p), 1);
    dmcp__childpool_free(p); /* closes c[2] */
    assert_true(r[2].exited);
}

static void test_pool_reaps_idle_not_busy(void **state)
{
    (void)state;
    rec idle, busy;
    rec_init(&idle);
    rec_init(&busy);
    const char *a1[4], *a2[4];
    dmcp__childpool *p = dmcp__childpool_new(0, 300);
    assert_non_null(p);
    dmcp__child_opts o1 = opts_sh(&idle, "exec cat", a1);
    dmcp__child_opts o2 = opts_sh(&busy, "exec cat", a2);
    dmcp__child *ci = NULL, *cb = NULL;
    assert_int_equal(dmcp__childpool_spawn(p, &o1, &ci), DMCP_OK);
    assert_int_equal(dmcp__childpool_spawn(p, &o2, &cb), DMCP_OK);
    dmcp__child_busy(cb, +1); /* a request in flight */
    assert_true(wait_for(&idle, NULL, 0, &idle.exited));
    assert_int_equal(idle.why, DMCP_CHILD_IDLE);
    assert_false(dmcp__child_alive(ci));
    /* Several reaper rounds later the busy one is still there. */
    sleep_ms(1000);
    assert_false(busy.exited);
    assert_true(dmcp__child_alive(cb));
    dmcp__child_busy(cb, -1);
    assert_true(wait_for(&busy, NULL, 0, &busy.exited));
    assert_int_equal(busy.why, DMCP_CHILD_IDLE);
    dmcp__childpool_release(p, ci);
    dmcp__childpool_release(p, cb);
    assert_int_equal(dmcp__childpool_count(p), 0);
    dmcp__childpool_free(p);
}

/* A real stdio MCP server: initialize and tools/list answered line by line. */
static void test_mcp_echo_server(void **state)
{
    (void)state;
    const char *bin = getenv("DMCP_BIN_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/mcp-echo-server", bin ? bin : "bin");
    if (access(path, X_OK) != 0)
        skip();
    rec r;
    rec_init(&r);
    const char *argv[] = {path, "--stdio", NULL};
    dmcp__child_opts o = {
        .argv = argv, .on_line = on_line, .on_exit = on_exit_cb, .on_stderr = on_stderr, .ud = &r};
    dmcp__child *c = NULL;
    assert_int_equal(dmcp__child_spawn(&o, &c), DMCP_OK);
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                       "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                       "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
    assert_int_equal(dmcp__child_send(c, init, strlen(init)), DMCP_OK);
    const char *inited = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    assert_int_equal(dmcp__child_send(c, inited, strlen(inited)), DMCP_OK);
    const char *list = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";
    assert_int_equal(dmcp__child_send(c, list, strlen(list)), DMCP_OK);
    assert_true(wait_for(&r, &r.nlines, 2, NULL));
    assert_non_null(strstr(r.lines[0], "\"id\":1"));
    assert_non_null(strstr(r.lines[0], "\"protocolVersion\""));
    assert_non_null(strstr(r.lines[1], "\"id\":2"));
    assert_non_null(strstr(r.lines[1], "\"echo\""));
    dmcp__child_close(c);
    assert_int_equal(r.why, DMCP_CHILD_CLOSED);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
}

static void test_sanitize(void **state)
{
    (void)state;
    char out[64];
    dmcp__child_sanitize("plain text", 10, out, sizeof out);
    assert_string_equal(out, "plain text");
    dmcp__child_sanitize("bearer xyz", 10, out, sizeof out);
    assert_string_equal(out, "bearer [redacted]");
    dmcp__child_sanitize("a\tb\x1b[31m", 8, out, sizeof out);
    assert_string_equal(out, "a?b?[31m");
    /* eyJ... without two dots is not a JWS: left alone (no false positives on words). */
    dmcp__child_sanitize("eyJustAWord", 11, out, sizeof out);
    assert_string_equal(out, "eyJustAWord");
    char tiny[4];
    dmcp__child_sanitize("abcdef", 6, tiny, sizeof tiny);
    assert_string_equal(tiny, "abc");
}

int main(void)
{
    signal(SIGPIPE, SIG_DFL); /* a write to a dead child must not need SIG_IGN */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_round_trip),
        cmocka_unit_test(test_spawn_errors),
        cmocka_unit_test(test_no_descriptor_leak),
        cmocka_unit_test(test_stderr_logged_and_redacted),
        cmocka_unit_test(test_crash_detected),
        cmocka_unit_test(test_close_escalates_to_sigkill),
        cmocka_unit_test(test_close_kills_group),
        cmocka_unit_test(test_oversize_line_stops_child),
        cmocka_unit_test(test_write_timeout),
        cmocka_unit_test(test_pool_cap),
        cmocka_unit_test(test_pool_reaps_idle_not_busy),
        cmocka_unit_test(test_mcp_echo_server),
        cmocka_unit_test(test_sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
