/* `promtool check metrics` (Prometheus' own parser and linter) accepts the rendered registry
 * with every family populated, including escaped tool names and histograms. Skipped (77) when
 * promtool is not installed, unless DMCP_REQUIRE_PROMTOOL is set: then absence fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "dmcp/metrics.h"
#include "metrics.h"

static char g_promtool[4096];

static bool find_promtool(void)
{
    const char *path = getenv("PATH");
    while (path != NULL && *path != '\0') {
        const char *end = strchr(path, ':');
        size_t n = end != NULL ? (size_t)(end - path) : strlen(path);
        if (n > 0 && n < sizeof(g_promtool) - 10) {
            snprintf(g_promtool, sizeof(g_promtool), "%.*s/promtool", (int)n, path);
            if (access(g_promtool, X_OK) == 0) {
                return true;
            }
        }
        path = end != NULL ? end + 1 : NULL;
    }
    return false;
}

/* Runs promtool check metrics on `text`; returns its exit status. */
static int promtool_check(const char *text)
{
    char file[] = "/tmp/dmcp-metrics-XXXXXX";
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[sizeof(g_promtool) + 64];
    /* both paths are ours: PATH entries and a mkstemp name (no quote inside) */
    assert_null(strchr(g_promtool, '\''));
    snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s'", g_promtool, file);
    int rc = system(cmd);
    unlink(file);
    assert_true(WIFEXITED(rc));
    return WEXITSTATUS(rc);
}

static void populate(void)
{
    dmcp__metrics_reset();
    unsigned echo = dmcp__metrics_tool_register("echo");
    unsigned odd = dmcp__metrics_tool_register("we\"ird\\");
    for (unsigned m = 0; m < DMCP__M_METHOD_COUNT; m++) {
        static const unsigned codes[] = {200, 202, 401, 403, 404, 418, 429, 503, 302, 101, 0};
        for (size_t i = 0; i < DMCP__ARRAY_LEN(codes); i++) {
            dmcp__metrics_http_request((dmcp__m_method)m, codes[i]);
        }
        dmcp__metrics_http_duration((dmcp__m_method)m, 1000u * m * m * m * m);
    }
    dmcp__metrics_http_duration(DMCP__M_METHOD_STREAM, 20000000000u);
    for (unsigned o = 0; o < DMCP__M_OUTCOME_COUNT; o++) {
        dmcp__metrics_tool_call(echo, (dmcp__m_outcome)o);
        dmcp__metrics_tool_call(odd, (dmcp__m_outcome)o);
        dmcp__metrics_tool_call(DMCP__M_TOOL_OTHER, (dmcp__m_outcome)o);
        dmcp__metrics_jwks_fetch((dmcp__m_outcome)o);
        for (int r = 0; r <= 13; r++) {
            dmcp__metrics_token_validation((dmcp__m_outcome)o, (dmcp_reason)r);
        }
    }
    dmcp__metrics_token_cache(true);
    dmcp__metrics_token_cache(false);
    dmcp__metrics_jwks_loaded(4);
    for (unsigned c = 0; c < DMCP__M_CONN_OUTCOME_COUNT; c++) {
        dmcp__metrics_connection_token((dmcp__m_conn_outcome)c);
    }
    for (unsigned l = 0; l < DMCP__M_LIMIT_COUNT; l++) {
        dmcp__metrics_limit_refusal((dmcp__m_limit)l);
    }
    dmcp__metrics_gauge_add(DMCP__M_SESSIONS_OPEN, 3);
    dmcp__metrics_gauge_add(DMCP__M_SSE_STREAMS_OPEN, 2);
    dmcp__metrics_gauge_add(DMCP__M_CONNECTIONS_OPEN, 5);
}

static void test_promtool_accepts(void **state)
{
    (void)state;
    populate();
    char *text = NULL;
    assert_int_equal(dmcp_metrics_render(&text, NULL), DMCP_OK);
    assert_int_equal(promtool_check(text), 0);
    free(text);

    /* a fresh registry (families declared, few samples) is valid too */
    dmcp__metrics_reset();
    assert_int_equal(dmcp_metrics_render(&text, NULL), DMCP_OK);
    assert_int_equal(promtool_check(text), 0);
    free(text);
}

/* The harness can fail: promtool refuses what our renderer must never produce. */
static void test_promtool_refuses_bad_text(void **state)
{
    (void)state;
    assert_int_not_equal(promtool_check("# HELP x_seconds a\n# TYPE x_seconds counter\n"
                                        "x_seconds 1\n"),
                         0); /* counter without _total */
    assert_int_not_equal(promtool_check("dmcp_tool_calls_total{tool=\"a\"b\"} 1\n"), 0);
}

int main(void)
{
    if (!find_promtool()) {
        if (getenv("DMCP_REQUIRE_PROMTOOL") != NULL) {
            fprintf(stderr, "promtool not found in PATH and DMCP_REQUIRE_PROMTOOL is set\n");
            return 1;
        }
        fprintf(stderr, "promtool not installed (Debian: prometheus); skipping\n");
        return DMCP_TEST_SKIP;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promtool_accepts),
        cmocka_unit_test(test_promtool_refuses_bad_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
