/*
 * Prints nanoseconds per operation for the metrics hot path and the access log:
 *   inc        one counter increment (dmcp__metrics_limit_refusal), one thread
 *   inc x2     the same counter from 2 threads at once (cache-line contention, worst case)
 *   observe    one histogram observation (dmcp__metrics_http_duration)
 *   method_id  JSON-RPC method name to label id ("tools/call")
 *   tool_id    registered tool name to label id (20 tools registered)
 *   log line   dmcp__accesslog_format of a full entry (no write)
 * Best of 5 rounds, to damp noise on a shared machine.
 * Usage: bench_metrics [iterations per round, default 5000000]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "accesslog.h"
#include "metrics.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long g_iters = 5000000;
static volatile unsigned g_sink;

static void run_inc(void)
{
    for (long i = 0; i < g_iters; i++) {
        dmcp__metrics_limit_refusal(DMCP__M_LIMIT_RATE);
    }
}

static void run_observe(void)
{
    for (long i = 0; i < g_iters; i++) {
        dmcp__metrics_http_duration(DMCP__M_METHOD_TOOLS_CALL, (uint64_t)(i & 0xfffff) * 97u);
    }
}

static void run_method(void)
{
    unsigned s = 0;
    for (long i = 0; i < g_iters; i++) {
        s += (unsigned)dmcp__metrics_method_id("tools/call");
    }
    g_sink = s;
}

static void run_tool(void)
{
    unsigned s = 0;
    for (long i = 0; i < g_iters; i++) {
        s += dmcp__metrics_tool_id("tool-17");
    }
    g_sink = s;
}

static void run_log(void)
{
    dmcp__access_entry e = dmcp__access_entry_init();
    e.user_id = "U2abcdefghijklmnopqrstuvwxyz";
    e.method = DMCP__M_METHOD_TOOLS_CALL;
    e.tool = 3;
    e.status = 200;
    e.latency_ns = 123456;
    char line[DMCP__LOG_LINE_MAX];
    unsigned s = 0;
    for (long i = 0; i < g_iters / 20; i++) {
        e.request_id = dmcp__request_id_next();
        s += (unsigned)dmcp__accesslog_format(&e, line, sizeof(line));
    }
    g_sink = s;
}

static void *thread_inc(void *arg)
{
    (void)arg;
    run_inc();
    return NULL;
}

static void run_inc2(void)
{
    pthread_t t;
    pthread_create(&t, NULL, thread_inc, NULL);
    run_inc();
    pthread_join(t, NULL);
}

static double best_ns(void (*fn)(void), long ops)
{
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        fn();
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    return best * 1e9 / (double)ops;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        g_iters = atol(argv[1]);
        if (g_iters < 20) {
            fprintf(stderr, "usage: bench_metrics [iterations >= 20]\n");
            return 2;
        }
    }
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof(name), "tool-%d", i);
        dmcp__metrics_tool_register(name);
    }
    printf("inc        %6.1f ns\n", best_ns(run_inc, g_iters));
    printf("inc x2     %6.1f ns (per increment per thread, 2 threads on one counter)\n",
           best_ns(run_inc2, g_iters));
    printf("observe    %6.1f ns\n", best_ns(run_observe, g_iters));
    printf("method_id  %6.1f ns\n", best_ns(run_method, g_iters));
    printf("tool_id    %6.1f ns\n", best_ns(run_tool, g_iters));
    printf("log line   %6.1f ns (format only)\n", best_ns(run_log, g_iters / 20));
    return 0;
}
