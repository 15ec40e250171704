/*
 * The glue (dmcp/protect.h) under 2026-07-28, over raw loopback bytes: real tokens from the
 * test minter, a static-JWKS validator with the "required" challenge strategy and a scope
 * hierarchy hook.
 *  - the per-tool 403 step-up is answered from the Mcp-Name header, before the body is sent;
 *  - its challenge names every scope the tool needs, the granted ones too (R14), and never
 *    offline_access (R15);
 *  - a broader granted scope satisfies a narrower required one at header time (R13), and the
 *    server then waits for the body and runs the tool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#include "dmcp/dmcp.h"
#include "dmcp/protect.h"
#include "dmcp/server.h"
#include "mint.h"
#include "raw_http.h"

#define ISS "https://issuer.example.com"
#define RES "https://mcp.example.com/mcp"
#define RM "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

static dmcp_mint_key *key;
static char *jwks;
static dmcp_validator *v;
static dmcp_server *srv;
static unsigned port;
static int runs;

static char *mint(const char *sub, const char *scope)
{
    char p[1024];
    long long now = (long long)time(NULL);
    snprintf(p, sizeof(p),
             "{\"iss\":\"" ISS "\",\"aud\":\"" RES "\",\"sub\":\"%s\",\"azp\":\"c1\","
             "\"scope\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
             sub, scope, now - 5, now + 600);
    char *t = dmcp_mint_sign_simple(key, "ES256", "k1", p);
    assert_non_null(t);
    return t;
}

static dmcp_status t_cal(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    runs++;
    return dmcp_result_add_text(res, "calendar written");
}

/* "calendar" implies "calendar.<anything>" (2026-07-28 Authorization §11.1.2). */
static bool implies_prefix(const char *granted, const char *required, void *ud)
{
    (void)ud;
    size_t n = strlen(granted);
    return strncmp(granted, required, n) == 0 && required[n] == '.';
}

static int setup(void **state)
{
    (void)state;
    key = dmcp_mint_key_new("ES256");
    char *jwk = dmcp_mint_key_jwk(key, "k1", "ES256");
    jwks = dmcp_mint_jwks((const char *const *)&jwk, 1);
    free(jwk);
    dmcp_validator_config *cfg;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(cfg, RES), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_challenge_scope(cfg, DMCP_CHALLENGE_SCOPE_REQUIRED),
                     DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_scope_implies(cfg, implies_prefix, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, NULL), DMCP_OK);
    dmcp_validator_config_free(cfg);

    dmcp_protect_options *o;
    dmcp_authorizer *a;
    dmcp_error err;
    assert_int_equal(dmcp_protect_options_new(&o), DMCP_OK);
    assert_int_equal(dmcp_protect_options_add_required_scope(o, "tools.call"), DMCP_OK);
    assert_int_equal(dmcp_server_new("protect26", "1", &srv), DMCP_OK);
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new("cal_write", t_cal, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_tool_add_required_scope(t, "calendar.read"), DMCP_OK);
    assert_int_equal(dmcp_tool_add_required_scope(t, "calendar.write"), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(srv, t), DMCP_OK);
    assert_int_equal(dmcp_protect_authorizer_new(v, o, &a, &err), DMCP_OK);
    dmcp_protect_options_free(o);
    assert_int_equal(dmcp_server_set_authorizer(srv, a), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(srv, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_start(srv, &err), DMCP_OK);
    port = dmcp_server_port(srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_server_free(srv);
    dmcp_validator_free(v);
    dmcp_mint_key_free(key);
    free(jwks);
    return 0;
}

#define BODY                                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"_meta\":{"              \
    "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                                  \
    "\"io.modelcontextprotocol/clientCapabilities\":{}},\"name\":\"cal_write\",\"arguments\":{}}}"

/* The 2026 headers of a tools/call of cal_write with token; the body is not sent yet. */
static int send_head(const char *token)
{
    int fd = dial_from(port, NULL);
    assert_true(fd >= 0);
    char req[4096];
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
             "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
             "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: cal_write\r\n"
             "Content-Length: %zu\r\n\r\n",
             token, strlen(BODY));
    send_all(fd, req, strlen(req));
    return fd;
}

static void test_step_up_before_body_names_every_scope(void **state)
{
    (void)state;
    /* Holds one of the two scopes the tool needs, and offline_access. */
    char *tok = mint("ann", "tools.call calendar.read offline_access");
    int fd = send_head(tok);
    exchange x;
    read_answer(fd, &x, 1500);
    close(fd);
    if (status_of(&x) != 403) {
        fail_msg("no 403 from the headers: %.300s", x.data);
    }
    /* R14: both scopes, the granted calendar.read included; R15: no offline_access. */
    if (!has_header(&x, "WWW-Authenticate: Bearer error=\"insufficient_scope\", "
                        "error_description=\"Token missing required scopes: calendar.write\", "
                        "scope=\"calendar.read calendar.write\", resource_metadata=\"" RM "\"")) {
        fail_msg("challenge: %.600s", x.data);
    }
    assert_null(strstr(x.data, "offline_access\","));
    assert_int_equal(runs, 0);
    free(tok);
}

static void test_hierarchy_at_header_time(void **state)
{
    (void)state;
    /* R13: "calendar" covers calendar.read and calendar.write. */
    char *tok = mint("bea", "tools.call calendar");
    int fd = send_head(tok);
    exchange x;
    read_answer(fd, &x, 400);
    assert_int_equal(x.len, 0); /* allowed: the server waits for the body */
    send_all(fd, BODY, strlen(BODY));
    read_answer(fd, &x, 2000);
    close(fd);
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "calendar written"));
    assert_int_equal(runs, 1);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_up_before_body_names_every_scope),
        cmocka_unit_test(test_hierarchy_at_header_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
