/* Pure HTTP header checks: Host and Origin (DNS rebinding), Accept, Content-Type. */
#include "mcp_test.h"

static void test_host_default_loopback(void **state)
{
    (void)state;
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("t", "1", &srv), DMCP_OK);
    static const char *const ok[] = {"localhost", "localhost:8080",  "LOCALHOST:1",
                                     "127.0.0.1", "127.0.0.1:65535", "[::1]",
                                     "[::1]:80",  "localhost:"};
    static const char *const bad[] = {"evil.example.com",
                                      "localhost.evil.com",
                                      "127.0.0.1.evil.com",
                                      "127.0.0.2",
                                      "[::2]:80",
                                      "[::1",
                                      "127.0.0.1:80:80",
                                      "localhost:8o",
                                      "",
                                      "[::1]x",
                                      "::1",
                                      "user@localhost",
                                      "localhost/x"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!dmcp__http_host_allowed(srv, true, ok[i])) {
            fail_msg("refused Host %s", ok[i]);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (dmcp__http_host_allowed(srv, true, bad[i])) {
            fail_msg("accepted Host %s", bad[i]);
        }
    }
    assert_false(dmcp__http_host_allowed(srv, true, NULL));
    /* Public bind without an allowlist: not checked. */
    assert_true(dmcp__http_host_allowed(srv, false, "anything.example"));
    dmcp_server_free(srv);
}

static void test_host_allowlist(void **state)
{
    (void)state;
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("t", "1", &srv), DMCP_OK);
    assert_int_equal(dmcp_server_add_allowed_host(srv, "MCP.example.com"), DMCP_OK);
    assert_int_equal(dmcp_server_add_allowed_host(srv, "other.example:8443"), DMCP_OK);
    for (int lb = 0; lb <= 1; lb++) {
        assert_true(dmcp__http_host_allowed(srv, lb, "mcp.example.com"));
        assert_true(dmcp__http_host_allowed(srv, lb, "mcp.EXAMPLE.com:443"));
        assert_true(dmcp__http_host_allowed(srv, lb, "other.example:8443"));
        assert_false(dmcp__http_host_allowed(srv, lb, "other.example:8444"));
        assert_false(dmcp__http_host_allowed(srv, lb, "other.example"));
        assert_false(dmcp__http_host_allowed(srv, lb, "localhost")); /* list replaces default */
        assert_false(dmcp__http_host_allowed(srv, lb, "evil.mcp.example.com"));
    }
    dmcp_server_free(srv);
}

static void test_origin(void **state)
{
    (void)state;
    dmcp_server *srv;
    assert_int_equal(dmcp_server_new("t", "1", &srv), DMCP_OK);
    static const char *const ok[] = {"http://localhost", "http://localhost:3000",
                                     "https://127.0.0.1:8443", "http://[::1]:5173",
                                     "HTTP://LOCALHOST:1"};
    static const char *const bad[] = {"null",
                                      "https://evil.example",
                                      "file://localhost",
                                      "http://localhost.evil.com",
                                      "http://localhost:3000/x",
                                      "http://user@localhost",
                                      "localhost",
                                      "http://",
                                      "https://127.0.0.1.nip.io",
                                      ""};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!dmcp__http_origin_allowed(srv, true, ok[i])) {
            fail_msg("refused Origin %s", ok[i]);
        }
        /* On a public bind with no list, every browser origin is refused. */
        assert_false(dmcp__http_origin_allowed(srv, false, ok[i]));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (dmcp__http_origin_allowed(srv, true, bad[i])) {
            fail_msg("accepted Origin %s", bad[i]);
        }
    }
    assert_false(dmcp__http_origin_allowed(srv, true, NULL));
    assert_int_equal(dmcp_server_add_allowed_origin(srv, "https://App.example.com"), DMCP_OK);
    assert_true(dmcp__http_origin_allowed(srv, false, "https://app.example.com"));
    assert_false(dmcp__http_origin_allowed(srv, true, "http://localhost:3000"));
    assert_false(dmcp__http_origin_allowed(srv, false, "https://app.example.com:444"));
    dmcp_server_free(srv);
}

static void test_accept_and_content_type(void **state)
{
    (void)state;
    assert_true(dmcp__http_accepts("application/json, text/event-stream", "application/json"));
    assert_true(dmcp__http_accepts("application/json, text/event-stream", "text/event-stream"));
    assert_true(
        dmcp__http_accepts("text/event-stream;q=0.9,application/json;q=1", "application/json"));
    assert_true(dmcp__http_accepts("*/*", "text/event-stream"));
    assert_true(dmcp__http_accepts("text/*", "text/event-stream"));
    assert_true(dmcp__http_accepts("APPLICATION/JSON", "application/json"));
    assert_false(dmcp__http_accepts("application/json", "text/event-stream"));
    assert_false(dmcp__http_accepts("application/jsonx", "application/json"));
    assert_false(dmcp__http_accepts("application/*x", "application/json"));
    assert_false(dmcp__http_accepts("", "application/json"));
    assert_false(dmcp__http_accepts(NULL, "application/json"));
    assert_false(dmcp__http_accepts("application/json", "nojson"));
    assert_true(dmcp__http_content_type_json("application/json"));
    assert_true(dmcp__http_content_type_json("Application/JSON; charset=utf-8"));
    assert_false(dmcp__http_content_type_json("application/json-seq"));
    assert_false(dmcp__http_content_type_json("text/plain"));
    assert_false(dmcp__http_content_type_json(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_default_loopback),
        cmocka_unit_test(test_host_allowlist),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_accept_and_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
