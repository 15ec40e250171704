/*
 * Who a session belongs to (mcp-resource-server.md §6), end to end: real servers on
 * 127.0.0.1:0 with the protect authorizer over a static-JWKS validator, tokens from the test
 * minter, libcurl as the client.
 *   - A session is bound to the user id the handlers see (dsub before sub), so two users who
 *     share a sub never share a session.
 *   - A token that names neither a user nor a client identifies nobody: it cannot open a
 *     session (403) nor use one (404); on a stateless server, where nothing is bound, its
 *     calls are served.
 *   - A client-credentials token (client id only) is a principal of its own.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#include "dmcp/dmcp.h"
#include "dmcp/protect.h"
#include "dmcp/server.h"
#include "internal.h"
#include "mint.h"

#define ISS "https://issuer.example.com"
#define RES "https://mcp.example.com/mcp"

static dmcp_mint_key *key;
static dmcp_validator *v_full, *v_stateless;
static dmcp_server *s_full, *s_stateless;
static unsigned p_full, p_stateless;
static int jti;

/* A token with the standard claims plus `ids` (identity members, may be ""). */
static char *mint(const char *ids)
{
    char p[1024];
    long long now = (long long)time(NULL);
    snprintf(p, sizeof(p),
             "{\"iss\":\"" ISS "\",\"aud\":\"" RES "\",\"scope\":\"tools.call\",\"jti\":\"j%d\","
             "\"iat\":%lld,\"exp\":%lld%s%s}",
             ++jti, now - 5, now + 600, *ids ? "," : "", ids);
    char *t = dmcp_mint_sign_simple(key, "ES256", "k1", p);
    assert_non_null(t);
    return t;
}

/* What the handler sees of the caller. */
static dmcp_status t_me(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    const dmcp_principal *p = dmcp_call_principal(call);
    json_t *o = json_pack("{s:s?, s:s?, s:b}", "binding", dmcp_principal_binding_key(p), "user",
                          dmcp_principal_user_id(p), "claims", dmcp_principal_claims(p) != NULL);
    return dmcp_result_set_structured(res, o);
}

static dmcp_server *start(dmcp_validator **v, bool stateless, unsigned *port)
{
    char *jwk = dmcp_mint_key_jwk(key, "k1", "ES256");
    char *jwks = dmcp_mint_jwks((const char *const *)&jwk, 1);
    free(jwk);
    dmcp_validator_config *cfg;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(cfg, RES), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, v, NULL), DMCP_OK);
    dmcp_validator_config_free(cfg);
    free(jwks);

    dmcp_server *s;
    dmcp_tool *t;
    dmcp_authorizer *a;
    dmcp_protect_options *o;
    dmcp_error err;
    assert_int_equal(dmcp_server_new("identity-test", "1", &s), DMCP_OK);
    assert_int_equal(dmcp_tool_new("me", t_me, NULL, &t), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(s, t), DMCP_OK);
    assert_int_equal(dmcp_protect_options_new(&o), DMCP_OK);
    assert_int_equal(dmcp_protect_authorizer_new(*v, o, &a, &err), DMCP_OK);
    dmcp_protect_options_free(o);
    assert_int_equal(dmcp_server_set_authorizer(s, a), DMCP_OK);
    assert_int_equal(dmcp_server_set_stateless(s, stateless), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_threads(s, 1), DMCP_OK);
    assert_int_equal(dmcp_server_start(s, &err), DMCP_OK);
    *port = dmcp_server_port(s);
    assert_true(*port > 0);
    return s;
}

static int setup(void **state)
{
    (void)state;
    key = dmcp_mint_key_new("ES256");
    s_full = start(&v_full, false, &p_full);
    s_stateless = start(&v_stateless, true, &p_stateless);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_server_free(s_full);
    dmcp_server_free(s_stateless);
    dmcp_validator_free(v_full);
    dmcp_validator_free(v_stateless);
    dmcp_mint_key_free(key);
    return 0;
}

/* ---- a small libcurl client ---- */

typedef struct resp {
    long status;
    char body[8192];
    size_t len;
    char sid[128]; /* Mcp-Session-Id, "" when absent */
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t take = sz * n < sizeof(r->body) - 1 - r->len ? sz * n : sizeof(r->body) - 1 - r->len;
    memcpy(r->body + r->len, p, take);
    r->len += take;
    r->body[r->len] = '\0';
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    static const char name[] = "mcp-session-id:";
    size_t len = sz * n;
    if (len > sizeof(name) && dmcp__ascii_ncasecmp(p, name, sizeof(name) - 1) == 0) {
        const char *val = p + sizeof(name) - 1;
        val += strspn(val, " ");
        size_t l = strcspn(val, "\r\n");
        l = l < sizeof(r->sid) - 1 ? l : sizeof(r->sid) - 1;
        memcpy(r->sid, val, l);
        r->sid[l] = '\0';
    }
    return len;
}

#define INIT                                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"     \
    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"
#define INITIALIZED "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"
#define PING "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}"
#define CALL_ME                                                                                    \
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"me\","         \
    "\"arguments\":{}}}"

static void post(unsigned port, const char *token, const char *sid, const char *body, resp *r)
{
    memset(r, 0, sizeof(*r));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[64], line[4096];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    struct curl_slist *h = NULL;
    snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
    h = curl_slist_append(h, line);
    if (sid != NULL) {
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", sid);
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "Accept: application/json, text/event-stream");
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "MCP-Protocol-Version: 2025-11-25");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

/* Opens and initializes a session on the stateful server; its id goes to out (128 bytes). */
static void open_session(const char *token, char *out)
{
    resp r;
    post(p_full, token, NULL, INIT, &r);
    assert_int_equal(r.status, 200);
    assert_true(r.sid[0] != '\0');
    snprintf(out, 128, "%s", r.sid);
    post(p_full, token, out, INITIALIZED, &r);
    assert_int_equal(r.status, 202);
}

/* The tool's structuredContent member `name` from a tools/call answer, as a string. */
static void me_field(const resp *r, const char *name, char *out, size_t cap)
{
    json_t *v = json_loadb(r->body, r->len, 0, NULL);
    assert_non_null(v);
    const json_t *f =
        json_object_get(json_object_get(json_object_get(v, "result"), "structuredContent"), name);
    assert_non_null(f);
    char *s = json_dumps(f, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(out, cap, "%s", s);
    free(s);
    json_decref(v);
}

/* ---- tests ---- */

/* Two users sharing a sub but not a dsub: two principals, two sessions. */
static void test_dsub_separates_sessions(void **state)
{
    (void)state;
    char *u1 = mint("\"sub\":\"sam\",\"dsub\":\"u1\",\"azp\":\"c1\"");
    char *u1_again = mint("\"sub\":\"sam\",\"dsub\":\"u1\",\"azp\":\"c1\"");
    char *u2 = mint("\"sub\":\"sam\",\"dsub\":\"u2\",\"azp\":\"c1\"");
    char sid[128], field[256];
    open_session(u1, sid);
    resp r;
    post(p_full, u2, sid, PING, &r);
    assert_int_equal(r.status, 404);
    post(p_full, u2, sid, CALL_ME, &r);
    assert_int_equal(r.status, 404);
    /* Another token of the same user keeps the session; the handler sees who it is. */
    post(p_full, u1_again, sid, CALL_ME, &r);
    assert_int_equal(r.status, 200);
    me_field(&r, "user", field, sizeof(field));
    assert_string_equal(field, "\"u1\"");
    me_field(&r, "binding", field, sizeof(field));
    assert_string_equal(field, "\"[\\\"" ISS "\\\",\\\"u1\\\",\\\"c1\\\"]\"");
    /* And the other user's own session is theirs alone. */
    char sid2[128];
    open_session(u2, sid2);
    post(p_full, u1, sid2, PING, &r);
    assert_int_equal(r.status, 404);
    post(p_full, u2, sid2, PING, &r);
    assert_int_equal(r.status, 200);
    free(u1);
    free(u1_again);
    free(u2);
}

/* Neither a user nor a client: no session can be bound to it. */
static void test_nobody_gets_no_session(void **state)
{
    (void)state;
    const char *const nobody[] = {"", "\"sub\":\"\",\"azp\":\"\"",
                                  "\"scope2\":\"x\",\"client_id\":\"\",\"dsub\":\"\""};
    for (size_t i = 0; i < sizeof(nobody) / sizeof(nobody[0]); i++) {
        char *t = mint(nobody[i]);
        resp r;
        post(p_full, t, NULL, INIT, &r);
        assert_int_equal(r.status, 403);
        assert_string_equal(r.sid, "");
        assert_non_null(strstr(r.body, "identifies no subject"));
        assert_non_null(strstr(r.body, "\"code\":-32600"));
        free(t);
    }
    /* Nor can it use a session someone else opened. */
    char *who = mint("\"sub\":\"sam\",\"azp\":\"c1\"");
    char *t = mint("");
    char sid[128];
    open_session(who, sid);
    resp r;
    post(p_full, t, sid, PING, &r);
    assert_int_equal(r.status, 404);
    free(who);
    free(t);
}

/* Stateless: nothing is bound, so a token naming nobody is served like any other. */
static void test_nobody_stateless_served(void **state)
{
    (void)state;
    char *t = mint("");
    resp r;
    post(p_stateless, t, NULL, CALL_ME, &r);
    assert_int_equal(r.status, 200);
    char field[64];
    me_field(&r, "binding", field, sizeof(field));
    assert_string_equal(field, "null");
    me_field(&r, "claims", field, sizeof(field));
    assert_string_equal(field, "true");
    free(t);
}

/* A client-credentials token is the client's: its own session, closed to everyone else. */
static void test_client_only_token(void **state)
{
    (void)state;
    char *svc = mint("\"azp\":\"svc\"");
    char *svc_again = mint("\"client_id\":\"svc\"");
    char *other = mint("\"azp\":\"svc2\"");
    char *user_of_svc = mint("\"sub\":\"sam\",\"azp\":\"svc\"");
    char sid[128];
    open_session(svc, sid);
    resp r;
    post(p_full, svc_again, sid, PING, &r);
    assert_int_equal(r.status, 200);
    post(p_full, other, sid, PING, &r);
    assert_int_equal(r.status, 404);
    post(p_full, user_of_svc, sid, PING, &r);
    assert_int_equal(r.status, 404);
    free(svc);
    free(svc_again);
    free(other);
    free(user_of_svc);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsub_separates_sessions),
        cmocka_unit_test(test_nobody_gets_no_session),
        cmocka_unit_test(test_nobody_stateless_served),
        cmocka_unit_test(test_client_only_token),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
