/*
 * The counters and the access log move as they should for a scripted mix of good, refused and
 * rate-limited requests, read from outside: /metrics on the server's own metrics listener
 * (checked by promtool when it is installed; required with DMCP_REQUIRE_PROMTOOL) and the
 * access-log file, whose lines must parse and must never hold a token.
 */
#include <stdlib.h>
#include <unistd.h>

#include "mcp_test.h"
#include "raw_http.h"

#define SECRET "s3cr3t-T0KEN-MATERIAL"

static dmcp_status authenticate(void *ud, const dmcp_http_request *req, dmcp_principal **out,
                                dmcp_http_response **refusal)
{
    (void)ud;
    const char *h = dmcp_http_request_header(req, "Authorization", 0);
    static const char *const users[] = {"alice", "bob"};
    for (size_t i = 0; h != NULL && i < 2; i++) {
        char want[96];
        snprintf(want, sizeof(want), "Bearer %s.%s", users[i], SECRET);
        if (strcmp(h, want) == 0) {
            char key[32];
            snprintf(key, sizeof(key), "iss|%s", users[i]);
            assert_int_equal(dmcp_principal_new(key, out), DMCP_OK);
            dmcp_principal_set_user_id(*out, users[i]);
            dmcp_principal_set_access_token(*out, h + 7, strlen(h + 7));
            return DMCP_OK;
        }
    }
    assert_int_equal(dmcp_http_response_new(401, refusal), DMCP_OK);
    return DMCP_E_INVALID_TOKEN;
}

static dmcp_status t_echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    return dmcp_result_add_text(res, "echoed");
}

/* The value of one sample line ("name{labels} value"), or -1 when absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return -1;
}

static char *scrape(unsigned mport)
{
    exchange x;
    raw_to(mport, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &x,
           3000);
    assert_int_equal(status_of(&x), 200);
    assert_true(has_header(&x, "text/plain; version=0.0.4"));
    const char *body = strstr(x.data, "\r\n\r\n");
    assert_non_null(body);
    return strdup(body + 4);
}

#define ACCEPT "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"

static void post(unsigned port, const char *user, const char *sid, const char *body, exchange *x)
{
    char req[4096], auth[128] = "", sess[160] = "";
    if (user != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s.%s\r\n", user, SECRET);
    }
    if (sid != NULL) {
        snprintf(sess, sizeof(sess), "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: 2025-11-25\r\n",
                 sid);
    }
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s" ACCEPT
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             auth, sess, strlen(body), body);
    raw_to(port, req, x, 3000);
}

static void test_counters_and_log(void **state)
{
    (void)state;
    char logpath[] = "/tmp/dmcp-access-XXXXXX";
    int lfd = mkstemp(logpath);
    assert_true(lfd >= 0);
    close(lfd);
    dmcp_server *s;
    dmcp_error err;
    assert_int_equal(dmcp_server_new("metrics", "1", &s), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("echo", t_echo, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(s, t), DMCP_OK);
    dmcp_authorizer *az;
    assert_int_equal(dmcp_authorizer_new(NULL, NULL, &az), DMCP_OK);
    dmcp_authorizer_set_authenticate(az, authenticate);
    assert_int_equal(dmcp_server_set_authorizer(s, az), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_limit(s, DMCP_LIMIT_RATE, 0.5), DMCP_OK);
    assert_int_equal(dmcp_server_set_limit(s, DMCP_LIMIT_RATE_BURST, 5), DMCP_OK);
    assert_int_equal(dmcp_server_set_metrics_listen(s, "127.0.0.1:0"), DMCP_OK);
    assert_int_equal(dmcp_server_set_access_log(s, logpath, "nonsense"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_set_access_log(s, logpath, "debug"), DMCP_OK);
    assert_int_equal(dmcp_server_start(s, &err), DMCP_OK);
    unsigned port = dmcp_server_port(s), mport = dmcp_server_metrics_port(s);
    assert_true(mport > 0 && mport != port);

    char *before = scrape(mport);
    /* The mix: alice opens a session and calls a tool (3 good requests); two requests without
     * a token (401); bob sends 7 requests against a burst of 5 (5 pass the rate check and
     * are answered 400 without a session id, 2 are refused 429). */
    exchange x;
    post(port, "alice", NULL,
         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
         "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
         &x);
    assert_int_equal(status_of(&x), 200);
    char sid[128] = "";
    sscanf(strstr(x.data, "Mcp-Session-Id: ") + 16, "%127[0-9a-f]", sid);
    post(port, "alice", sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &x);
    assert_int_equal(status_of(&x), 202);
    post(port, "alice", sid,
         "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
         "\"arguments\":{}}}",
         &x);
    assert_int_equal(status_of(&x), 200);
    for (int i = 0; i < 2; i++) {
        post(port, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}", &x);
        assert_int_equal(status_of(&x), 401);
    }
    int limited = 0;
    for (int i = 0; i < 7; i++) {
        post(port, "bob", NULL, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}", &x);
        limited += status_of(&x) == 429;
    }
    assert_int_equal(limited, 2);
    dmcp_server_stop(s); /* every completion has run and the log is closed */
    /* Stopped: the listener is gone with the server. */
    exchange gone;
    raw_to(mport, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &gone, 500);
    assert_int_equal(status_of(&gone), 0);
    dmcp_server_free(s);

    /* Counters are process-wide: compare with the scrape before the mix. */
    dmcp_server *s2;
    assert_int_equal(dmcp_server_new("metrics2", "1", &s2), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(s2, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_metrics_listen(s2, "127.0.0.1:0"), DMCP_OK);
    assert_int_equal(dmcp_server_start(s2, &err), DMCP_OK);
    char *after = scrape(dmcp_server_metrics_port(s2));
    dmcp_server_free(s2);
    static const struct {
        const char *series;
        double delta;
    } want[] = {
        {"dmcp_http_requests_total{method=\"initialize\",status=\"200\"}", 1},
        {"dmcp_http_requests_total{method=\"notifications/initialized\",status=\"202\"}", 1},
        {"dmcp_http_requests_total{method=\"tools/call\",status=\"200\"}", 1},
        {"dmcp_http_requests_total{method=\"none\",status=\"401\"}", 2},
        {"dmcp_http_requests_total{method=\"none\",status=\"429\"}", 2},
        {"dmcp_http_requests_total{method=\"ping\",status=\"400\"}", 5},
        {"dmcp_tool_calls_total{tool=\"echo\",outcome=\"ok\"}", 1},
        {"dmcp_limit_refusals_total{limit=\"rate\"}", 2},
        {"dmcp_sessions_open", 0}, /* the session ended with its server */
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        double b = sample(before, want[i].series), a = sample(after, want[i].series);
        double d = a - (b < 0 ? 0 : b);
        if (d != want[i].delta) {
            printf("# %s: before %g after %g, want +%g\n", want[i].series, b, a, want[i].delta);
        }
        assert_true(d == want[i].delta);
    }

    /* The access log: one JSON line per answered request, who and why, never a token. */
    size_t len = 0;
    char *log = dmcp_test_read_file(logpath, &len);
    assert_non_null(log);
    assert_null(strstr(log, SECRET));
    int lines = 0, alice = 0, rate = 0;
    for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        lines++;
        const char *user = json_string_value(json_object_get(j, "user_id"));
        alice += user != NULL && strcmp(user, "alice") == 0;
        const char *reason = json_string_value(json_object_get(j, "reason"));
        rate += reason != NULL && strcmp(reason, "limit:rate") == 0;
        assert_non_null(json_object_get(j, "request_id"));
        json_decref(j);
    }
    assert_int_equal(lines, 12);
    assert_int_equal(alice, 3);
    assert_int_equal(rate, 2);
    free(log);
    unlink(logpath);

    /* promtool's verdict on what was served. */
    const char *require = getenv("DMCP_REQUIRE_PROMTOOL");
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        assert_true(require == NULL || *require == '\0'); /* required but missing: fail */
        printf("# promtool not installed: exposition not checked by it\n");
    } else {
        char path[] = "/tmp/dmcp-metrics-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_true(write(fd, after, strlen(after)) == (ssize_t)strlen(after));
        close(fd);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
        assert_int_equal(system(cmd), 0);
        unlink(path);
    }
    free(before);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_counters_and_log)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
