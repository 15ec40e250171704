/*
 * The stdio transport's calls read together (stdio_pool.h): the calls of one chunk of input
 * run one after the other on the thread that read them, and what they write leaves in one
 * write(2); a call among them that runs long is taken over from, so the calls read after it
 * are not held up. Output is a SOCK_SEQPACKET socket here, so every write(2) of the server
 * arrives as one packet and the test can count them.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mcp_test.h"

static pthread_t reader_thread;

static dmcp_status t_where(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    return dmcp_result_add_text(res, pthread_equal(pthread_self(), reader_thread) ? "reader"
                                                                                  : "other");
}

static dmcp_status t_wait(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    for (int i = 0; i < 300 && !dmcp_call_is_cancelled(call); i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return dmcp_result_add_text(res, dmcp_call_is_cancelled(call) ? "cancelled" : "timeout");
}

typedef struct harness {
    dmcp_server *srv;
    int in[2];  /* pipe: the test writes [1], the server reads [0] */
    int out[2]; /* seqpacket pair: the server writes [1], the test reads [0] */
    pthread_t th;
    dmcp_status rc;
} harness;

static void *run(void *p)
{
    harness *h = p;
    h->rc = dmcp_server_run_stdio(h->srv, h->in[0], h->out[1], NULL);
    return NULL;
}

static void write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(write(fd, s, n), (ssize_t)n);
}

/* One write(2) of the server, as text (NUL-terminated); NULL after timeout_ms. */
static char *packet(harness *h, int timeout_ms)
{
    static char buf[1 << 16];
    struct pollfd p = {h->out[0], POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) {
        return NULL;
    }
    ssize_t n = recv(h->out[0], buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    return buf;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p++) {
        n++;
    }
    return n;
}

static void start(harness *h)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(dmcp_server_new("stdio", "1", &h->srv), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("where", t_where, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(h->srv, t), DMCP_OK);
    assert_int_equal(dmcp_tool_new("wait", t_wait, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(h->srv, t), DMCP_OK);
    assert_int_equal(pipe(h->in), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, h->out), 0);
    assert_int_equal(pthread_create(&h->th, NULL, run, h), 0);
    reader_thread = h->th;
    write_all(h->in[1], "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
                        "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}\n");
    assert_non_null(packet(h, 10000));
    write_all(h->in[1], "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
}

static void finish(harness *h)
{
    close(h->in[1]); /* EOF */
    pthread_join(h->th, NULL);
    assert_int_equal(h->rc, DMCP_OK);
    close(h->in[0]);
    close(h->out[0]);
    close(h->out[1]);
    dmcp_server_free(h->srv);
}

#define WHERE(id) "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":\"where\"}}\n"

/* Five calls in one write: all five on the reading thread, answered in one write. */
static void test_calls_of_a_chunk_run_on_the_reader(void **state)
{
    (void)state;
    harness h;
    start(&h);
    write_all(h.in[1], WHERE(1) WHERE(2) WHERE(3) WHERE(4) WHERE(5));
    char *p = packet(&h, 10000);
    assert_non_null(p);
    assert_int_equal(count(p, "\"text\":\"reader\""), 5);
    assert_int_equal(count(p, "\n"), 5);
    for (int id = 1; id <= 5; id++) { /* in the order read */
        char want[16];
        snprintf(want, sizeof(want), "\"id\":%d", id);
        assert_non_null(strstr(p, want));
        if (id > 1) {
            char prev[16];
            snprintf(prev, sizeof(prev), "\"id\":%d", id - 1);
            assert_true(strstr(p, prev) < strstr(p, want));
        }
    }
    finish(&h);
}

/* A call that runs long among them: the calls read after it are answered without waiting for
 * it (on other threads), then its cancellation ends it. */
static void test_long_call_in_a_chunk(void **state)
{
    (void)state;
    harness h;
    start(&h);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    write_all(h.in[1], "{\"jsonrpc\":\"2.0\",\"id\":\"w\",\"method\":\"tools/call\",\"params\":"
                       "{\"name\":\"wait\"}}\n" WHERE(7) WHERE(8));
    int seen = 0;
    while (seen < 2) {
        char *p = packet(&h, 2500);
        assert_non_null(p); /* within 2.5 s: the wait call holds them up no longer */
        assert_null(strstr(p, "\"id\":\"w\""));
        seen += count(p, "\"text\":\"other\"");
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2500);
    write_all(h.in[1], "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                       "{\"requestId\":\"w\"}}\n");
    char *p = packet(&h, 10000);
    assert_non_null(p);
    assert_non_null(strstr(p, "\"id\":\"w\""));
    assert_non_null(strstr(p, "cancelled"));
    finish(&h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_of_a_chunk_run_on_the_reader),
        cmocka_unit_test(test_long_call_in_a_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
