/* The metrics registry: counters move as recorded, exact sums under 8 writer threads,
 * histogram bucket boundaries, bounded labels ("other"), label escaping and the exposition
 * text (HELP/TYPE per family, exact sample lines). promtool runs in test_metrics_promtool. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "dmcp/metrics.h"
#include "dmcp/version.h"
#include "metrics.h"

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(dmcp_metrics_render(&text, &len), DMCP_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* The line that starts with `series` followed by a space, or NULL. */
static const char *find_line(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return p;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return NULL;
}

/* The integer value of a series; fails the test when the series is absent. */
static uint64_t value(const char *text, const char *series)
{
    const char *line = find_line(text, series);
    if (line == NULL) {
        fail_msg("series not rendered: %s", series);
    }
    return strtoull(line + strlen(series) + 1, NULL, 10);
}

static uint64_t value_now(const char *series)
{
    char *text = render();
    uint64_t v = value(text, series);
    free(text);
    return v;
}

static int reset(void **state)
{
    (void)state;
    dmcp__metrics_reset();
    return 0;
}

static void test_counters_move(void **state)
{
    (void)state;
    dmcp__metrics_http_request(DMCP__M_METHOD_TOOLS_CALL, 200);
    dmcp__metrics_http_request(DMCP__M_METHOD_TOOLS_CALL, 200);
    dmcp__metrics_http_request(DMCP__M_METHOD_TOOLS_CALL, 401);
    dmcp__metrics_http_request(DMCP__M_METHOD_INITIALIZE, 418); /* not in the list: class */
    dmcp__metrics_http_request(DMCP__M_METHOD_STREAM, 302);
    dmcp__metrics_http_request(DMCP__M_METHOD_NONE, 999);  /* out of range: "other" */
    dmcp__metrics_http_request((dmcp__m_method)1000, 200); /* bad id: counted as "other" */
    dmcp__metrics_token_validation_status(DMCP_OK, DMCP_REASON_SIGNATURE);
    dmcp__metrics_token_validation_status(DMCP_E_INVALID_TOKEN, DMCP_REASON_EXPIRED);
    dmcp__metrics_token_validation_status(DMCP_E_INVALID_TOKEN, DMCP_REASON_EXPIRED);
    dmcp__metrics_token_validation_status(DMCP_E_KEY_SOURCE_UNAVAILABLE, DMCP_REASON_SIGNATURE);
    dmcp__metrics_token_validation(DMCP__M_REFUSED, (dmcp_reason)99);
    dmcp__metrics_token_cache(true);
    dmcp__metrics_token_cache(true);
    dmcp__metrics_token_cache(false);
    dmcp__metrics_jwks_fetch(DMCP__M_OK);
    dmcp__metrics_jwks_fetch(DMCP__M_ERROR);
    dmcp__metrics_jwks_fetch(DMCP__M_ERROR);
    dmcp__metrics_connection_token(dmcp__metrics_conn_outcome(DMCP_OK));
    dmcp__metrics_connection_token(dmcp__metrics_conn_outcome(DMCP_E_NOT_CONNECTED));
    dmcp__metrics_connection_token(dmcp__metrics_conn_outcome(DMCP_E_POLICY_DENIED));
    dmcp__metrics_connection_token(dmcp__metrics_conn_outcome(DMCP_E_RATE_LIMITED));
    dmcp__metrics_connection_token(dmcp__metrics_conn_outcome(DMCP_E_UNREACHABLE));
    dmcp__metrics_limit_refusal(DMCP__M_LIMIT_RATE);
    dmcp__metrics_limit_refusal(DMCP__M_LIMIT_RATE);
    dmcp__metrics_limit_refusal(DMCP__M_LIMIT_PER_IP_CONNECTIONS);
    dmcp__metrics_limit_refusal(DMCP__M_LIMIT_NONE); /* ignored */
    dmcp__metrics_gauge_add(DMCP__M_SESSIONS_OPEN, 1);
    dmcp__metrics_gauge_add(DMCP__M_SESSIONS_OPEN, 1);
    dmcp__metrics_gauge_add(DMCP__M_SESSIONS_OPEN, -1);
    dmcp__metrics_gauge_set(DMCP__M_CONNECTIONS_OPEN, 7);
    dmcp__metrics_gauge_add(DMCP__M_SSE_STREAMS_OPEN, -2);

    char *t = render();
    assert_int_equal(value(t, "dmcp_http_requests_total{method=\"tools/call\",status=\"200\"}"), 2);
    assert_int_equal(value(t, "dmcp_http_requests_total{method=\"tools/call\",status=\"401\"}"), 1);
    assert_int_equal(value(t, "dmcp_http_requests_total{method=\"initialize\",status=\"4xx\"}"), 1);
    assert_int_equal(value(t, "dmcp_http_requests_total{method=\"stream\",status=\"3xx\"}"), 1);
    assert_int_equal(value(t, "dmcp_http_requests_total{method=\"none\",status=\"other\"}"), 1);
    assert_int_equal(value(t, "dmcp_http_requests_total{method=\"other\",status=\"200\"}"), 1);
    /* series that never occurred are not rendered for this 2-label family */
    assert_null(find_line(t, "dmcp_http_requests_total{method=\"ping\",status=\"200\"}"));
    assert_int_equal(value(t, "dmcp_token_validations_total{outcome=\"ok\",reason=\"none\"}"), 1);
    assert_int_equal(
        value(t, "dmcp_token_validations_total{outcome=\"refused\",reason=\"expired\"}"), 2);
    assert_int_equal(
        value(t, "dmcp_token_validations_total{outcome=\"refused\",reason=\"signature\"}"), 0);
    assert_int_equal(value(t, "dmcp_token_validations_total{outcome=\"error\",reason=\"none\"}"),
                     1);
    assert_int_equal(value(t, "dmcp_token_validations_total{outcome=\"refused\",reason=\"other\"}"),
                     1);
    assert_null(find_line(t, "dmcp_token_validations_total{outcome=\"ok\",reason=\"expired\"}"));
    assert_int_equal(value(t, "dmcp_token_cache_hits_total"), 2);
    assert_int_equal(value(t, "dmcp_token_cache_misses_total"), 1);
    assert_int_equal(value(t, "dmcp_jwks_fetches_total{outcome=\"ok\"}"), 1);
    assert_int_equal(value(t, "dmcp_jwks_fetches_total{outcome=\"error\"}"), 2);
    assert_int_equal(value(t, "dmcp_jwks_fetches_total{outcome=\"refused\"}"), 0);
    static const char *const conn[] = {"ok", "not_connected", "denied", "rate_limited", "error"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(conn); i++) {
        char s[128];
        snprintf(s, sizeof(s), "dmcp_connection_token_requests_total{outcome=\"%s\"}", conn[i]);
        assert_int_equal(value(t, s), 1);
    }
    assert_int_equal(value(t, "dmcp_limit_refusals_total{limit=\"rate\"}"), 2);
    assert_int_equal(value(t, "dmcp_limit_refusals_total{limit=\"per_ip_connections\"}"), 1);
    assert_int_equal(value(t, "dmcp_limit_refusals_total{limit=\"buffered_bytes\"}"), 0);
    assert_int_equal(value(t, "dmcp_sessions_open"), 1);
    assert_int_equal(value(t, "dmcp_connections_open"), 7);
    const char *sse = find_line(t, "dmcp_sse_streams_open");
    assert_non_null(sse);
    assert_int_equal(strtoll(sse + strlen("dmcp_sse_streams_open") + 1, NULL, 10), -2);
    free(t);

    dmcp__metrics_reset();
    assert_int_equal(value_now("dmcp_token_cache_hits_total"), 0);
    assert_int_equal(value_now("dmcp_limit_refusals_total{limit=\"rate\"}"), 0);
}

static void test_method_ids(void **state)
{
    (void)state;
    assert_int_equal(dmcp__metrics_method_id("tools/call"), DMCP__M_METHOD_TOOLS_CALL);
    assert_int_equal(dmcp__metrics_method_id("notifications/roots/list_changed"),
                     DMCP__M_METHOD_ROOTS_LIST_CHANGED);
    assert_int_equal(dmcp__metrics_method_id(NULL), DMCP__M_METHOD_NONE);
    /* pseudo methods are the server's to choose: a client naming one is "other" */
    assert_int_equal(dmcp__metrics_method_id("stream"), DMCP__M_METHOD_OTHER);
    assert_int_equal(dmcp__metrics_method_id("none"), DMCP__M_METHOD_OTHER);
    assert_int_equal(dmcp__metrics_method_id("tools/call "), DMCP__M_METHOD_OTHER);
    assert_int_equal(dmcp__metrics_method_id("eyJhbGciOiJSUzI1NiJ9.e30.sig"), DMCP__M_METHOD_OTHER);
    for (unsigned m = 0; m < DMCP__M_METHOD_COUNT; m++) {
        assert_non_null(dmcp__metrics_method_name((dmcp__m_method)m));
    }
    assert_string_equal(dmcp__metrics_method_name((dmcp__m_method)999), "other");
    assert_string_equal(dmcp__metrics_limit_name(DMCP__M_LIMIT_SESSIONS_PER_PRINCIPAL),
                        "sessions_per_principal");
    assert_string_equal(dmcp__metrics_limit_name(DMCP__M_LIMIT_NONE), "none");
    assert_string_equal(dmcp__metrics_reason_name(DMCP_REASON_NOT_YET_VALID), "not_yet_valid");
    assert_string_equal(dmcp__metrics_reason_name(DMCP_REASON_AUDIENCE), "audience");
    assert_string_equal(dmcp__metrics_reason_name((dmcp_reason)-1), "other");
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    const char *b = "dmcp_http_request_duration_seconds_bucket{method=\"ping\",le=";
    char s[160];
#define BUCKET(le) (snprintf(s, sizeof(s), "%s\"%s\"}", b, le), value(t, s))
    dmcp__metrics_http_duration(DMCP__M_METHOD_PING, 10000); /* exactly 10 us: first bucket */
    char *t = render();
    assert_int_equal(BUCKET("1e-05"), 1);
    free(t);
    dmcp__metrics_http_duration(DMCP__M_METHOD_PING, 10001);       /* just above: the next */
    dmcp__metrics_http_duration(DMCP__M_METHOD_PING, 0);           /* zero: first */
    dmcp__metrics_http_duration(DMCP__M_METHOD_PING, 1000000);     /* 1 ms */
    dmcp__metrics_http_duration(DMCP__M_METHOD_PING, 10000000000); /* exactly 10 s: last */
    dmcp__metrics_http_duration(DMCP__M_METHOD_PING, 10000000001); /* above: +Inf only */
    t = render();
    assert_int_equal(BUCKET("1e-05"), 2);
    assert_int_equal(BUCKET("2.5e-05"), 3);
    assert_int_equal(BUCKET("0.0005"), 3);
    assert_int_equal(BUCKET("0.001"), 4);
    assert_int_equal(BUCKET("5"), 4);
    assert_int_equal(BUCKET("10"), 5);
    assert_int_equal(BUCKET("+Inf"), 6);
    assert_int_equal(value(t, "dmcp_http_request_duration_seconds_count{method=\"ping\"}"), 6);
    /* the sum is exact: 10000+10001+0+1000000+10000000000+10000000001 ns */
    const char *sum = find_line(t, "dmcp_http_request_duration_seconds_sum{method=\"ping\"}");
    assert_non_null(sum);
    assert_memory_equal(strchr(sum, ' '), " 20.001020002\n", 14);
    /* only methods that were observed have a histogram */
    assert_null(strstr(t, "_bucket{method=\"initialize\""));
    /* 19 finite buckets + Inf, in increasing order */
    size_t n = 0;
    for (const char *p = strstr(t, b); p != NULL; p = strstr(p + 1, b)) {
        n++;
    }
    assert_int_equal(n, DMCP__M_BUCKETS + 1);
    free(t);
#undef BUCKET
}

static void test_tool_labels_bounded(void **state)
{
    (void)state;
    assert_int_equal(dmcp__metrics_tool_register("echo"), 0);
    assert_int_equal(dmcp__metrics_tool_register("add"), 1);
    assert_int_equal(dmcp__metrics_tool_register("echo"), 0); /* idempotent */
    assert_int_equal(dmcp__metrics_tool_id("add"), 1);
    assert_int_equal(dmcp__metrics_tool_id("ad"), DMCP__M_TOOL_OTHER);
    assert_int_equal(dmcp__metrics_tool_id(NULL), DMCP__M_TOOL_OTHER);
    /* names that would be unsafe or unbounded as label values are never registered */
    char longname[DMCP__M_TOOL_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(dmcp__metrics_tool_register(longname), DMCP__M_TOOL_OTHER);
    longname[DMCP__M_TOOL_NAME_MAX] = '\0'; /* exactly the maximum is fine */
    assert_int_equal(dmcp__metrics_tool_register(longname), 2);
    assert_int_equal(dmcp__metrics_tool_register(""), DMCP__M_TOOL_OTHER);
    assert_int_equal(dmcp__metrics_tool_register("a b"), DMCP__M_TOOL_OTHER);
    assert_int_equal(dmcp__metrics_tool_register("a\nb"), DMCP__M_TOOL_OTHER);
    assert_int_equal(dmcp__metrics_tool_register("caf\xc3\xa9"), DMCP__M_TOOL_OTHER);
    assert_int_equal(dmcp__metrics_tool_register(NULL), DMCP__M_TOOL_OTHER);
    assert_int_equal(dmcp__metrics_tool_register("q\"b\\s"), 3); /* printable: escaped */

    /* fill the table: the rest map to "other" */
    for (unsigned i = 4; i < DMCP__M_TOOLS_MAX + 20; i++) {
        char name[32];
        snprintf(name, sizeof(name), "tool-%u", i);
        unsigned id = dmcp__metrics_tool_register(name);
        assert_int_equal(id, i < DMCP__M_TOOLS_MAX ? i : DMCP__M_TOOL_OTHER);
        assert_int_equal(dmcp__metrics_tool_id(name), id);
    }
    dmcp__metrics_tool_call(dmcp__metrics_tool_id("echo"), DMCP__M_OK);
    dmcp__metrics_tool_call(dmcp__metrics_tool_id("echo"), DMCP__M_ERROR);
    dmcp__metrics_tool_call(dmcp__metrics_tool_id("unknown"), DMCP__M_REFUSED);
    dmcp__metrics_tool_call(dmcp__metrics_tool_id("tool-270"), DMCP__M_OK);
    dmcp__metrics_tool_call(99999, DMCP__M_OK);     /* bad id: other */
    dmcp__metrics_tool_call(0, (dmcp__m_outcome)7); /* bad outcome: ignored */
    dmcp__metrics_tool_call(dmcp__metrics_tool_id("q\"b\\s"), DMCP__M_OK);

    char *t = render();
    assert_int_equal(value(t, "dmcp_tool_calls_total{tool=\"echo\",outcome=\"ok\"}"), 1);
    assert_int_equal(value(t, "dmcp_tool_calls_total{tool=\"echo\",outcome=\"error\"}"), 1);
    assert_int_equal(value(t, "dmcp_tool_calls_total{tool=\"echo\",outcome=\"refused\"}"), 0);
    assert_int_equal(value(t, "dmcp_tool_calls_total{tool=\"other\",outcome=\"refused\"}"), 1);
    assert_int_equal(value(t, "dmcp_tool_calls_total{tool=\"other\",outcome=\"ok\"}"), 2);
    assert_int_equal(value(t, "dmcp_tool_calls_total{tool=\"q\\\"b\\\\s\",outcome=\"ok\"}"), 1);
    assert_non_null(find_line(t, "dmcp_tool_calls_total{tool=\"tool-255\",outcome=\"ok\"}"));
    assert_null(strstr(t, "tool-256"));
    assert_null(strstr(t, "tool=\"unknown\""));
    /* 256 registered + other, 3 outcomes each */
    size_t n = 0;
    for (const char *p = strstr(t, "\ndmcp_tool_calls_total{"); p != NULL;
         p = strstr(p + 1, "\ndmcp_tool_calls_total{")) {
        n++;
    }
    assert_int_equal(n, (DMCP__M_TOOLS_MAX + 1) * 3);
    free(t);
    assert_string_equal(dmcp__metrics_tool_name(DMCP__M_TOOL_OTHER), "other");
    assert_string_equal(dmcp__metrics_tool_name(1), "add");
}

enum { THREADS = 8, PER_THREAD = 200000 };

static void *hammer(void *arg)
{
    unsigned tool = *(const unsigned *)arg;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        dmcp__metrics_http_request(DMCP__M_METHOD_TOOLS_CALL, 200);
        dmcp__metrics_tool_call(tool, DMCP__M_OK);
        dmcp__metrics_http_duration(DMCP__M_METHOD_TOOLS_CALL, 3);
        dmcp__metrics_gauge_add(DMCP__M_SESSIONS_OPEN, (i & 1) ? -1 : 1);
    }
    return NULL;
}

static void test_concurrent_exact(void **state)
{
    (void)state;
    unsigned tool = dmcp__metrics_tool_register("busy");
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &tool), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    char *t = render();
    uint64_t want = (uint64_t)THREADS * PER_THREAD;
    assert_int_equal(value(t, "dmcp_http_requests_total{method=\"tools/call\",status=\"200\"}"),
                     want);
    assert_int_equal(value(t, "dmcp_tool_calls_total{tool=\"busy\",outcome=\"ok\"}"), want);
    assert_int_equal(value(t, "dmcp_http_request_duration_seconds_count{method=\"tools/call\"}"),
                     want);
    char sum[64];
    snprintf(sum, sizeof(sum), " 0.%09" PRIu64 "\n", want * 3);
    assert_non_null(strstr(t, sum));
    assert_int_equal(value(t, "dmcp_sessions_open"), 0);
    free(t);
}

static void test_jwks_gauges(void **state)
{
    (void)state;
    char *t = render();
    /* never loaded: the family is declared but has no sample (an age of 0 would lie) */
    assert_non_null(strstr(t, "# TYPE dmcp_jwks_key_age_seconds gauge\n"));
    assert_null(find_line(t, "dmcp_jwks_key_age_seconds"));
    assert_int_equal(value(t, "dmcp_jwks_keys"), 0);
    free(t);
    dmcp__metrics_jwks_loaded(3);
    t = render();
    assert_int_equal(value(t, "dmcp_jwks_keys"), 3);
    const char *age = find_line(t, "dmcp_jwks_key_age_seconds");
    assert_non_null(age);
    assert_memory_equal(age + strlen("dmcp_jwks_key_age_seconds"), " 0.", 3);
    free(t);
}

/* Every family once, HELP then TYPE, in this order; sample lines belong to the family above. */
static void test_exposition_shape(void **state)
{
    (void)state;
    static const char *const fam[][2] = {
        {"dmcp_http_requests_total", "counter"},
        {"dmcp_http_request_duration_seconds", "histogram"},
        {"dmcp_tool_calls_total", "counter"},
        {"dmcp_token_validations_total", "counter"},
        {"dmcp_token_cache_hits_total", "counter"},
        {"dmcp_token_cache_misses_total", "counter"},
        {"dmcp_jwks_fetches_total", "counter"},
        {"dmcp_jwks_key_age_seconds", "gauge"},
        {"dmcp_jwks_keys", "gauge"},
        {"dmcp_sessions_open", "gauge"},
        {"dmcp_sse_streams_open", "gauge"},
        {"dmcp_connections_open", "gauge"},
        {"dmcp_connection_token_requests_total", "counter"},
        {"dmcp_limit_refusals_total", "counter"},
        {"dmcp_build_info", "gauge"},
        {"process_start_time_seconds", "gauge"},
    };
    dmcp__metrics_http_request(DMCP__M_METHOD_PING, 200);
    dmcp__metrics_http_duration(DMCP__M_METHOD_PING, 5);
    char *t = render();
    assert_int_equal(t[strlen(t) - 1], '\n');
    size_t f = 0;
    const char *cur = NULL;
    for (char *line = strtok(t, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# HELP ", 7) == 0) {
            assert_true(f < DMCP__ARRAY_LEN(fam));
            cur = fam[f][0];
            assert_memory_equal(line + 7, cur, strlen(cur));
            assert_int_equal(line[7 + strlen(cur)], ' ');
            line = strtok(NULL, "\n");
            char want[128];
            snprintf(want, sizeof(want), "# TYPE %s %s", cur, fam[f][1]);
            assert_string_equal(line, want);
            f++;
            continue;
        }
        assert_non_null(cur);
        assert_int_not_equal(line[0], '#');
        assert_memory_equal(line, cur, strlen(cur)); /* e.g. ..._bucket under the histogram */
        const char *sp = strrchr(line, ' ');
        assert_non_null(sp);
        char *end = NULL;
        strtod(sp + 1, &end);
        assert_true(end != sp + 1 && *end == '\0');
    }
    assert_int_equal(f, DMCP__ARRAY_LEN(fam));
    free(t);
    t = render();
    assert_non_null(strstr(t, "\ndmcp_build_info{version=\"" DMCP_VERSION_STRING "\"} 1\n"));
    uint64_t start = value(t, "process_start_time_seconds");
    assert_true(start > 1700000000u); /* set at load time, not left at zero */
    free(t);
    assert_int_equal(dmcp_metrics_render(NULL, NULL), DMCP_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_counters_move, reset),
        cmocka_unit_test_setup(test_method_ids, reset),
        cmocka_unit_test_setup(test_histogram_buckets, reset),
        cmocka_unit_test_setup(test_tool_labels_bounded, reset),
        cmocka_unit_test_setup(test_concurrent_exact, reset),
        cmocka_unit_test_setup(test_jwks_gauges, reset),
        cmocka_unit_test_setup(test_exposition_shape, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
