/*
 * The glue (dmcp/protect.h) end to end, in process: real servers on 127.0.0.1:0 with the
 * protect authorizer over static-JWKS validators, tokens from the test minter, libcurl as the
 * client. Every applicable row of mcp-resource-server.md §5 is checked byte for byte on the
 * headers that row names; then PRM, session binding, per-tool scopes in both modes, the
 * scope-hierarchy hook, canonical resources, the Authorization parser and creation errors.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "dmcp/dmcp.h"
#include "dmcp/protect.h"
#include "dmcp/server.h"
#include "glue/glue_internal.h"
#include "internal.h"
#include "mint.h"

#define ISS "https://issuer.example.com"
#define RES "https://mcp.example.com/mcp"
#define RM "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
#define ORIGIN "http://localhost:3000"

/* Server A: §5 as written (required tools.call, combined strategy, HTTP 403 step-up).
 * Server B: tool-error mode, "required" strategy, a scope-hierarchy hook.
 * Server C: keys unreachable, compatibility flag for the missing-token error. */
static dmcp_mint_key *key, *evil;
static char *jwks;
static dmcp_validator *va, *vb, *vc;
static dmcp_server *sa, *sb, *sc;
static unsigned pa, pb, pc;

/* ---------------------------------------------------------------------------------------- */
/* Tokens                                                                                   */
/* ---------------------------------------------------------------------------------------- */

typedef struct claims {
    const char *iss, *aud, *sub, *azp, *scope;
    long long exp_in; /* seconds from now; 0 means 600 */
    const char *kid;  /* default "k1" */
    const dmcp_mint_key *key;
} claims;

static char *mint(claims c)
{
    char p[1024];
    long long now = (long long)time(NULL);
    snprintf(p, sizeof(p),
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"azp\":\"%s\",\"scope\":\"%s\","
             "\"iat\":%lld,\"exp\":%lld}",
             c.iss ? c.iss : ISS, c.aud ? c.aud : RES, c.sub ? c.sub : "alice",
             c.azp ? c.azp : "c1", c.scope ? c.scope : "tools.call", now - 5,
             now + (c.exp_in != 0 ? c.exp_in : 600));
    char *t = dmcp_mint_sign_simple(c.key ? c.key : key, "ES256", c.kid ? c.kid : "k1", p);
    assert_non_null(t);
    return t;
}

/* ---------------------------------------------------------------------------------------- */
/* Servers                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static dmcp_status t_echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    return dmcp_result_add_text(res, "ok");
}

/* What the handler sees of the caller: binding key, the token behind the principal. */
static dmcp_status t_me(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    const dmcp_principal *p = dmcp_call_principal(call);
    const dmcp_token *t = dmcp_protect_principal_token(p);
    size_t raw_len = 0, pr_len = 0;
    const char *raw = dmcp_token_raw(t, &raw_len);
    const char *pr = dmcp_principal_access_token(p, &pr_len);
    json_t *o = json_pack(
        "{s:s?, s:s?, s:s?, s:b, s:s?}", "binding", dmcp_principal_binding_key(p), "subject",
        dmcp_token_subject(t), "user", dmcp_principal_user_id(p), "raw_matches",
        raw != NULL && pr != NULL && raw_len == pr_len && memcmp(raw, pr, raw_len) == 0,
        "access_token", pr);
    return dmcp_result_set_structured(res, o);
}

static void add_tool(dmcp_server *s, const char *name, dmcp_tool_fn fn, const char *scope)
{
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new(name, fn, NULL, &t), DMCP_OK);
    if (scope != NULL) {
        assert_int_equal(dmcp_tool_add_required_scope(t, scope), DMCP_OK);
    }
    assert_int_equal(dmcp_server_add_tool(s, t), DMCP_OK);
}

/* "calendar" implies "calendar.<anything>" (MCP 2026-07-28 Authorization §11.1.2). */
static bool implies_prefix(const char *granted, const char *required, void *ud)
{
    (void)ud;
    size_t n = strlen(granted);
    return strncmp(granted, required, n) == 0 && required[n] == '.';
}

static dmcp_validator *make_validator(const char *jwks_url, dmcp_challenge_scope strategy,
                                      bool hook)
{
    dmcp_validator_config *cfg;
    dmcp_validator *v = NULL;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(cfg, RES), DMCP_OK);
    if (jwks_url != NULL) {
        assert_int_equal(dmcp_validator_config_set_jwks_url(cfg, jwks_url), DMCP_OK);
        assert_int_equal(dmcp_validator_config_set_http_timeouts(cfg, 500, 1000), DMCP_OK);
    } else {
        assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    }
    assert_int_equal(dmcp_validator_config_set_challenge_scope(cfg, strategy), DMCP_OK);
    if (hook) {
        assert_int_equal(dmcp_validator_config_set_scope_implies(cfg, implies_prefix, NULL),
                         DMCP_OK);
    }
    assert_int_equal(dmcp_validator_new(cfg, &v, NULL), DMCP_OK);
    dmcp_validator_config_free(cfg);
    return v;
}

static dmcp_server *start(dmcp_validator *v, dmcp_protect_options *o, unsigned *port)
{
    dmcp_server *s;
    dmcp_authorizer *a;
    dmcp_error err;
    assert_int_equal(dmcp_server_new("protect-test", "1", &s), DMCP_OK);
    add_tool(s, "echo", t_echo, NULL);
    add_tool(s, "me", t_me, NULL);
    add_tool(s, "calendar", t_echo, "calendar.read");
    assert_int_equal(dmcp_protect_authorizer_new(v, o, &a, &err), DMCP_OK);
    dmcp_protect_options_free(o);
    assert_int_equal(dmcp_server_set_authorizer(s, a), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_threads(s, 2), DMCP_OK);
    assert_int_equal(dmcp_server_start(s, &err), DMCP_OK);
    *port = dmcp_server_port(s);
    assert_true(*port > 0);
    return s;
}

/* A loopback port nobody listens on (bound, then closed). */
static unsigned closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int setup(void **state)
{
    (void)state;
    key = dmcp_mint_key_new("ES256");
    evil = dmcp_mint_key_new("ES256");
    char *jwk = dmcp_mint_key_jwk(key, "k1", "ES256");
    jwks = dmcp_mint_jwks((const char *const *)&jwk, 1);
    free(jwk);
    assert_non_null(jwks);

    dmcp_protect_options *o;
    va = make_validator(NULL, DMCP_CHALLENGE_SCOPE_COMBINED, false);
    assert_int_equal(dmcp_protect_options_new(&o), DMCP_OK);
    assert_int_equal(dmcp_protect_options_add_required_scope(o, "tools.call"), DMCP_OK);
    assert_int_equal(dmcp_protect_options_add_supported_scope(o, "tools.call"), DMCP_OK);
    assert_int_equal(dmcp_protect_options_add_supported_scope(o, "offline_access"), DMCP_OK);
    assert_int_equal(dmcp_protect_options_add_supported_scope(o, "calendar.read"), DMCP_OK);
    assert_int_equal(dmcp_protect_options_set_resource_name(o, "Calendar MCP"), DMCP_OK);
    sa = start(va, o, &pa);

    vb = make_validator(NULL, DMCP_CHALLENGE_SCOPE_REQUIRED, true);
    assert_int_equal(dmcp_protect_options_new(&o), DMCP_OK);
    assert_int_equal(dmcp_protect_options_add_required_scope(o, "tools.call"), DMCP_OK);
    assert_int_equal(dmcp_protect_options_set_tool_scope_mode(o, DMCP_TOOL_SCOPE_TOOL_ERROR),
                     DMCP_OK);
    sb = start(vb, o, &pb);

    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/jwks", closed_port());
    vc = make_validator(url, DMCP_CHALLENGE_SCOPE_COMBINED, false);
    assert_int_equal(dmcp_protect_options_new(&o), DMCP_OK);
    assert_int_equal(dmcp_protect_options_set_missing_token_error(o, true), DMCP_OK);
    sc = start(vc, o, &pc);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_server_free(sa);
    dmcp_server_free(sb);
    dmcp_server_free(sc);
    dmcp_validator_free(va);
    dmcp_validator_free(vb);
    dmcp_validator_free(vc);
    dmcp_mint_key_free(key);
    dmcp_mint_key_free(evil);
    free(jwks);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* libcurl client                                                                           */
/* ---------------------------------------------------------------------------------------- */

typedef struct resp {
    long status;
    char body[1 << 15];
    size_t len;
    char hdrs[8192];
    size_t hlen;
} resp;

static size_t append(char *dst, size_t cap, size_t *len, const char *p, size_t n)
{
    size_t take = n < cap - 1 - *len ? n : cap - 1 - *len;
    memcpy(dst + *len, p, take);
    *len += take;
    dst[*len] = '\0';
    return n;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    return append(r->body, sizeof(r->body), &r->len, p, sz * n);
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    return append(r->hdrs, sizeof(r->hdrs), &r->hlen, p, sz * n);
}

typedef struct req {
    const char *method; /* default POST */
    const char *path;   /* default /mcp */
    const char *token;  /* Authorization: Bearer <token> */
    const char *session;
    const char *body; /* default: initialize */
    const char *extra[4];
} req;

#define INIT                                                                                       \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"     \
    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"
#define CALL(name)                                                                                 \
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"" name         \
    "\",\"arguments\":{}}}"
#define PING "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}"

static void send_req(unsigned port, const req *q, resp *r)
{
    memset(r, 0, sizeof(*r));
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[256], line[20000];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, q->path ? q->path : "/mcp");
    curl_easy_setopt(c, CURLOPT_URL, url);
    const char *method = q->method ? q->method : "POST";
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? q->body : INIT);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    struct curl_slist *h = NULL;
    if (q->token != NULL) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", q->token);
        h = curl_slist_append(h, line);
    }
    if (q->session != NULL) {
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", q->session);
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "Accept: application/json, text/event-stream");
    h = curl_slist_append(h, "Content-Type: application/json");
    for (size_t i = 0; i < 4 && q->extra[i] != NULL; i++) {
        h = curl_slist_append(h, q->extra[i]);
    }
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

/* The index-th value of a response header (case-insensitive), or NULL. Static buffer. */
static const char *hdr_n(const resp *r, const char *name, int index)
{
    static char val[2048];
    size_t n = strlen(name);
    for (const char *p = r->hdrs; p != NULL && *p != '\0';) {
        if (dmcp__ascii_ncasecmp(p, name, n) == 0 && p[n] == ':' && index-- == 0) {
            const char *v = p + n + 1;
            v += strspn(v, " ");
            size_t l = strcspn(v, "\r\n");
            l = l < sizeof(val) - 1 ? l : sizeof(val) - 1;
            memcpy(val, v, l);
            val[l] = '\0';
            return val;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return NULL;
}

static const char *hdr(const resp *r, const char *name)
{
    return hdr_n(r, name, 0);
}

/* Exactly one header of that name, with exactly that value. */
#define ASSERT_HDR(r, name, value)                                                                 \
    do {                                                                                           \
        assert_non_null(hdr((r), (name)));                                                         \
        assert_string_equal(hdr((r), (name)), (value));                                            \
        assert_null(hdr_n((r), (name), 1));                                                        \
    } while (0)

static void post_a(const char *token, const char *session, const char *body, resp *r)
{
    req q = {.token = token, .session = session, .body = body};
    send_req(pa, &q, r);
}

static const char *open_session(unsigned port, const char *token, char *out)
{
    req q = {.token = token};
    resp r;
    send_req(port, &q, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(hdr(&r, "Mcp-Session-Id"));
    snprintf(out, 128, "%s", hdr(&r, "Mcp-Session-Id"));
    req n = {.token = token,
             .session = out,
             .body = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"};
    send_req(port, &n, &r);
    assert_int_equal(r.status, 202);
    return out;
}

static json_t *result_of(const resp *r)
{
    json_t *v = json_loadb(r->body, r->len, 0, NULL);
    assert_non_null(v);
    return v;
}

/* ---------------------------------------------------------------------------------------- */
/* §5 rows 1-2: Protected Resource Metadata                                                 */
/* ---------------------------------------------------------------------------------------- */

static const char PRM_A[] =
    "{\"resource\":\"" RES "\",\"authorization_servers\":[\"" ISS "\"],"
    "\"scopes_supported\":[\"tools.call\",\"calendar.read\"],"
    "\"bearer_methods_supported\":[\"header\"],\"resource_name\":\"Calendar MCP\"}";

static void test_prm(void **state)
{
    (void)state;
    resp r;
    const char *paths[] = {"/.well-known/oauth-protected-resource/mcp",
                           "/.well-known/oauth-protected-resource"};
    for (size_t i = 0; i < 2; i++) {
        /* Row 1: the same document at both locations, never authenticated. */
        req get = {.method = "GET", .path = paths[i]};
        send_req(pa, &get, &r);
        assert_int_equal(r.status, 200);
        ASSERT_HDR(&r, "Content-Type", "application/json");
        ASSERT_HDR(&r, "Access-Control-Allow-Origin", "*");
        ASSERT_HDR(&r, "Cache-Control", "public, max-age=3600");
        assert_null(hdr(&r, "WWW-Authenticate"));
        assert_string_equal(r.body, PRM_A); /* offline_access left out (R15) */

        /* Row 2: CORS preflight. */
        req opt = {.method = "OPTIONS", .path = paths[i], .extra = {"Origin: " ORIGIN}};
        send_req(pa, &opt, &r);
        assert_int_equal(r.status, 204);
        ASSERT_HDR(&r, "Access-Control-Allow-Origin", "*");
        ASSERT_HDR(&r, "Access-Control-Allow-Methods", "GET, OPTIONS");
        assert_non_null(hdr(&r, "Access-Control-Allow-Headers"));

        /* Any other method: 405 with Allow. */
        req post = {.method = "POST", .path = paths[i], .body = "{}"};
        send_req(pa, &post, &r);
        assert_int_equal(r.status, 405);
        ASSERT_HDR(&r, "Allow", "GET, OPTIONS");
    }
    /* Other paths stay 404 (the route answers DMCP_E_NOT_FOUND). */
    const char *other[] = {"/.well-known/oauth-protected-resource/mcp/",
                           "/.well-known/oauth-protected-resource/other",
                           "/.well-known/oauth-protected-resourcex", "/"};
    for (size_t i = 0; i < 4; i++) {
        req get = {.method = "GET", .path = other[i]};
        send_req(pa, &get, &r);
        assert_int_equal(r.status, 404);
    }
    /* Server C: no scopes configured and none from an AS: scopes_supported is left out. */
    req get = {.method = "GET", .path = "/.well-known/oauth-protected-resource/mcp"};
    send_req(pc, &get, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"resource\":\"" RES "\",\"authorization_servers\":[\"" ISS
                                "\"],\"bearer_methods_supported\":[\"header\"]}");
}

/* ---------------------------------------------------------------------------------------- */
/* §5 rows 3-8: authentication                                                              */
/* ---------------------------------------------------------------------------------------- */

static void test_no_token_rows_3_4(void **state)
{
    (void)state;
    resp r;
    const char *no_token = "Bearer scope=\"tools.call\", resource_metadata=\"" RM "\"";
    req none = {0};
    send_req(pa, &none, &r);
    assert_int_equal(r.status, 401);
    ASSERT_HDR(&r, "WWW-Authenticate", no_token);
    assert_int_equal(r.len, 0); /* no body when the token is missing (§4) */

    const char *schemes[] = {"Authorization: Basic YWxpY2U6c2VjcmV0", "Authorization: Negotiate",
                             "Authorization: DPoP abc.def.ghi"};
    for (size_t i = 0; i < 3; i++) {
        req q = {.extra = {schemes[i]}};
        send_req(pa, &q, &r);
        assert_int_equal(r.status, 401);
        ASSERT_HDR(&r, "WWW-Authenticate", no_token);
        assert_int_equal(r.len, 0);
    }

    /* Compatibility flag (server C): error="invalid_token"; no scopes anywhere: no scope=. */
    send_req(pc, &none, &r);
    assert_int_equal(r.status, 401);
    ASSERT_HDR(&r, "WWW-Authenticate",
               "Bearer error=\"invalid_token\", resource_metadata=\"" RM "\"");
}

static void test_malformed_row_5(void **state)
{
    (void)state;
    char *good = mint((claims){0});
    char two_a[4096], two_b[4096];
    snprintf(two_a, sizeof(two_a), "Authorization: Bearer %s", good);
    snprintf(two_b, sizeof(two_b), "Authorization: Bearer %s", good);
    const char *expect = "Bearer error=\"invalid_request\", error_description=\"Malformed "
                         "Authorization header\", resource_metadata=\"" RM "\"";
    const char *body =
        "{\"error\":\"invalid_request\",\"error_description\":\"Malformed Authorization header\"}";
    struct {
        const char *path;
        const char *h1, *h2;
    } cases[] = {
        {NULL, "Authorization: Bearer", NULL},
        {NULL, "Authorization: Bearer a b", NULL},
        {NULL, "Authorization: Bearer  abc", NULL},
        {NULL, "Authorization: Bearer abc=def", NULL},
        {NULL, "Authorization: Bearer \"abc\"", NULL},
        {NULL, "Authorization: Bearer\tabc", NULL},
        {NULL, two_a, two_b}, /* two headers, even both valid */
        {"/mcp?access_token=x", NULL, NULL},
        {"/mcp?access_token", two_a, NULL}, /* a query token with a valid header too */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        req q = {.path = cases[i].path, .extra = {cases[i].h1, cases[i].h2}};
        resp r;
        send_req(pa, &q, &r);
        assert_int_equal(r.status, 400);
        ASSERT_HDR(&r, "WWW-Authenticate", expect);
        ASSERT_HDR(&r, "Content-Type", "application/json");
        assert_string_equal(r.body, body);
    }
    free(good);
}

static void expect_invalid(const char *token, const char *description)
{
    char expect[512], body[256];
    snprintf(expect, sizeof(expect),
             "Bearer error=\"invalid_token\", error_description=\"%s\", scope=\"tools.call\", "
             "resource_metadata=\"" RM "\"",
             description);
    snprintf(body, sizeof(body), "{\"error\":\"invalid_token\",\"error_description\":\"%s\"}",
             description);
    resp r;
    post_a(token, NULL, INIT, &r);
    assert_int_equal(r.status, 401);
    ASSERT_HDR(&r, "WWW-Authenticate", expect);
    ASSERT_HDR(&r, "Content-Type", "application/json");
    assert_string_equal(r.body, body);
    /* R11: the answer never echoes the token. */
    if (strlen(token) > 8) {
        assert_null(strstr(r.hdrs, token));
        assert_null(strstr(r.body, token));
    }
}

static void test_invalid_rows_6_7_8(void **state)
{
    (void)state;
    /* Row 6: bad signature (right kid, wrong key), unknown kid, alg not allowed, bad encoding. */
    char *bad_sig = mint((claims){.key = evil});
    char *bad_kid = mint((claims){.kid = "k2"});
    char *good = mint((claims){0});
    char *dot = strchr(good, '.');
    char *none_alg = NULL;
    {
        const char *hj = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
        char *h = dmcp_mint_b64url(hj, strlen(hj));
        size_t len = strlen(h) + strlen(dot) + 1;
        none_alg = malloc(len);
        snprintf(none_alg, len, "%s%.*s.", h, (int)(strchr(dot + 1, '.') - dot), dot);
        free(h);
    }
    expect_invalid(bad_sig, "Invalid token");
    expect_invalid(bad_kid, "Invalid token");
    expect_invalid(none_alg, "Invalid token");
    expect_invalid("abc.def.ghi", "Invalid token");
    expect_invalid("not-a-jwt", "Invalid token");
    /* Row 7. */
    char *expired = mint((claims){.exp_in = -3600});
    expect_invalid(expired, "Token expired");
    /* Row 8: wrong iss, or aud not naming this resource (a trusted issuer is not enough). */
    char *wrong_iss = mint((claims){.iss = "https://evil.example.com"});
    char *wrong_aud = mint((claims){.aud = "https://mcp.example.com/other"});
    char *slash_aud = mint((claims){.aud = RES "/"}); /* exact string comparison */
    expect_invalid(wrong_iss, "Token not issued for this resource");
    expect_invalid(wrong_aud, "Token not issued for this resource");
    expect_invalid(slash_aud, "Token not issued for this resource");
    /* The scheme is case-insensitive (RFC 9110 §11.1): a valid token still works so. */
    char line[4096];
    snprintf(line, sizeof(line), "Authorization: bEaReR %s", good);
    req q = {.extra = {line}};
    resp r;
    send_req(pa, &q, &r);
    assert_int_equal(r.status, 200);
    free(bad_sig);
    free(bad_kid);
    free(good);
    free(none_alg);
    free(expired);
    free(wrong_iss);
    free(wrong_aud);
    free(slash_aud);
}

/* ---------------------------------------------------------------------------------------- */
/* §5 row 9 and the server-wide scopes                                                      */
/* ---------------------------------------------------------------------------------------- */

static char *scope_json(const char *const *req_s, size_t nr, const char *const *tok_s, size_t nt)
{
    dmcp_scope_error *e = NULL;
    assert_int_equal(dmcp_scope_error_new(req_s, nr, tok_s, nt, NULL, &e), DMCP_OK);
    char *j = dmcp_scope_error_to_json(e);
    dmcp_scope_error_free(e);
    return j;
}

static void test_insufficient_scope_row_9(void **state)
{
    (void)state;
    char *tok = mint((claims){0}); /* scope "tools.call" */
    char sid[128];
    open_session(pa, tok, sid);
    resp r;
    post_a(tok, sid, CALL("calendar"), &r);
    assert_int_equal(r.status, 403);
    ASSERT_HDR(&r, "WWW-Authenticate",
               "Bearer error=\"insufficient_scope\", error_description=\"Token missing required "
               "scopes: calendar.read\", scope=\"calendar.read tools.call\", "
               "resource_metadata=\"" RM "\"");
    ASSERT_HDR(&r, "Content-Type", "application/json");
    const char *need[] = {"calendar.read"}, *have[] = {"tools.call"};
    char *j = scope_json(need, 1, have, 1);
    assert_string_equal(r.body, j);
    dmcp_free(j);
    /* The session keeps serving; a tool without scopes works. */
    post_a(tok, sid, CALL("echo"), &r);
    assert_int_equal(r.status, 200);

    /* offline_access is never named in a challenge (R15), even from the token's scopes. */
    char *off = mint((claims){.scope = "tools.call offline_access", .sub = "olga"});
    open_session(pa, off, sid);
    post_a(off, sid, CALL("calendar"), &r);
    assert_int_equal(r.status, 403);
    ASSERT_HDR(&r, "WWW-Authenticate",
               "Bearer error=\"insufficient_scope\", error_description=\"Token missing required "
               "scopes: calendar.read\", scope=\"calendar.read tools.call\", "
               "resource_metadata=\"" RM "\"");

    /* With calendar.read the call goes through. */
    char *cal = mint((claims){.scope = "tools.call calendar.read", .sub = "carl"});
    open_session(pa, cal, sid);
    post_a(cal, sid, CALL("calendar"), &r);
    assert_int_equal(r.status, 200);
    json_t *v = result_of(&r);
    assert_false(json_is_true(json_object_get(json_object_get(v, "result"), "isError")));
    json_decref(v);
    free(tok);
    free(off);
    free(cal);
}

static void test_server_wide_scopes(void **state)
{
    (void)state;
    /* A valid token lacking the server-wide tools.call: 403, combined strategy on server A. */
    char *tok = mint((claims){.scope = "calendar.read"});
    resp r;
    post_a(tok, NULL, INIT, &r);
    assert_int_equal(r.status, 403);
    ASSERT_HDR(&r, "WWW-Authenticate",
               "Bearer error=\"insufficient_scope\", error_description=\"Token missing required "
               "scopes: tools.call\", scope=\"calendar.read tools.call\", "
               "resource_metadata=\"" RM "\"");
    const char *need[] = {"tools.call"}, *have[] = {"calendar.read"};
    char *j = scope_json(need, 1, have, 1);
    assert_string_equal(r.body, j);
    dmcp_free(j);
    /* Validity before scope: the same, expired, is 401 (vercel/mcp-handler#181). */
    char *expired = mint((claims){.scope = "calendar.read", .exp_in = -3600});
    expect_invalid(expired, "Token expired");
    /* Server B ("required" strategy): only what the operation needs. */
    req q = {.token = tok};
    send_req(pb, &q, &r);
    assert_int_equal(r.status, 403);
    ASSERT_HDR(&r, "WWW-Authenticate",
               "Bearer error=\"insufficient_scope\", error_description=\"Token missing required "
               "scopes: tools.call\", scope=\"tools.call\", resource_metadata=\"" RM "\"");
    free(tok);
    free(expired);
}

/* ---------------------------------------------------------------------------------------- */
/* §5 row 11: key source down                                                               */
/* ---------------------------------------------------------------------------------------- */

static void test_key_source_down_row_11(void **state)
{
    (void)state;
    char *tok = mint((claims){0});
    req q = {.token = tok};
    resp r;
    send_req(pc, &q, &r);
    assert_int_equal(r.status, 503);
    ASSERT_HDR(&r, "Retry-After", "30");
    ASSERT_HDR(&r, "Content-Type", "application/json");
    assert_null(hdr(&r, "WWW-Authenticate")); /* the token is not blamed */
    assert_string_equal(r.body, "{\"error\":\"server_error\"}");
    free(tok);
}

/* ---------------------------------------------------------------------------------------- */
/* §5 rows 12-13: CORS on the endpoint                                                      */
/* ---------------------------------------------------------------------------------------- */

static void test_cors_rows_12_13(void **state)
{
    (void)state;
    resp r;
    req pre = {.method = "OPTIONS",
               .extra = {"Origin: " ORIGIN, "Access-Control-Request-Method: POST"}};
    send_req(pa, &pre, &r);
    assert_int_equal(r.status, 204); /* no token needed */
    ASSERT_HDR(&r, "Access-Control-Allow-Origin", ORIGIN);
    ASSERT_HDR(&r, "Vary", "Origin");
    ASSERT_HDR(&r, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    ASSERT_HDR(&r, "Access-Control-Allow-Headers",
               "Authorization, Content-Type, Accept, Mcp-Protocol-Version, Mcp-Session-Id, "
               "Last-Event-ID, Mcp-Method, Mcp-Name");
    ASSERT_HDR(&r, "Access-Control-Max-Age", "600");
    assert_null(hdr(&r, "WWW-Authenticate"));

    /* Row 13: refusals carry CORS too, so a browser client can read the challenge. */
    req q = {.extra = {"Origin: " ORIGIN}};
    send_req(pa, &q, &r);
    assert_int_equal(r.status, 401);
    ASSERT_HDR(&r, "Access-Control-Allow-Origin", ORIGIN);
    ASSERT_HDR(&r, "Access-Control-Expose-Headers",
               "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version");
    assert_null(hdr(&r, "Access-Control-Allow-Credentials"));
    char *tok = mint((claims){0});
    req ok = {.token = tok, .extra = {"Origin: " ORIGIN}};
    send_req(pa, &ok, &r);
    assert_int_equal(r.status, 200);
    ASSERT_HDR(&r, "Access-Control-Allow-Origin", ORIGIN);
    ASSERT_HDR(&r, "Access-Control-Expose-Headers",
               "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version");
    assert_null(hdr(&r, "Access-Control-Allow-Credentials"));
    free(tok);
}

/* ---------------------------------------------------------------------------------------- */
/* §6 session binding, the principal                                                        */
/* ---------------------------------------------------------------------------------------- */

static void test_session_binding(void **state)
{
    (void)state;
    char *tok = mint((claims){.sub = "sam", .exp_in = 600});
    char *refreshed = mint((claims){.sub = "sam", .exp_in = 900}); /* a new token string */
    char *other_user = mint((claims){.sub = "eve"});
    char *other_client = mint((claims){.sub = "sam", .azp = "c2"});
    assert_string_not_equal(tok, refreshed);
    char sid[128];
    open_session(pa, tok, sid);
    resp r;
    post_a(refreshed, sid, CALL("me"), &r);
    assert_int_equal(r.status, 200);
    json_t *v = result_of(&r);
    const json_t *out = json_object_get(json_object_get(v, "result"), "structuredContent");
    /* Bound to (iss, sub, azp), never the token; the handler sees the validated token. */
    assert_string_equal(json_string_value(json_object_get(out, "binding")),
                        "[\"" ISS "\",\"sam\",\"c1\"]");
    assert_string_equal(json_string_value(json_object_get(out, "subject")), "sam");
    assert_string_equal(json_string_value(json_object_get(out, "user")), "sam");
    assert_true(json_is_true(json_object_get(out, "raw_matches")));
    assert_string_equal(json_string_value(json_object_get(out, "access_token")), refreshed);
    json_decref(v);

    /* Another principal presenting the session id: 404, as if it did not exist. */
    post_a(other_user, sid, PING, &r);
    assert_int_equal(r.status, 404);
    post_a(other_client, sid, PING, &r);
    assert_int_equal(r.status, 404);
    /* The owner still can. */
    post_a(tok, sid, PING, &r);
    assert_int_equal(r.status, 200);
    /* The session id alone never authenticates. */
    post_a(NULL, sid, PING, &r);
    assert_int_equal(r.status, 401);
    free(tok);
    free(refreshed);
    free(other_user);
    free(other_client);
}

/* A binding key encoding that cannot be confused by claims holding the separator. */
static void test_binding_unambiguous(void **state)
{
    (void)state;
    char *a = mint((claims){.sub = "a\\nb", .azp = "c"});
    char *b = mint((claims){.sub = "a", .azp = "b\\nc"});
    char sid[128];
    open_session(pa, a, sid);
    resp r;
    post_a(b, sid, PING, &r);
    assert_int_equal(r.status, 404);
    free(a);
    free(b);
}

/* ---------------------------------------------------------------------------------------- */
/* Tool-error mode and the scope hierarchy (server B)                                       */
/* ---------------------------------------------------------------------------------------- */

static void test_tool_error_mode_and_hierarchy(void **state)
{
    (void)state;
    char *tok = mint((claims){.scope = "tools.call"});
    char sid[128];
    open_session(pb, tok, sid);
    req q = {.token = tok, .session = sid, .body = CALL("calendar")};
    resp r;
    send_req(pb, &q, &r);
    assert_int_equal(r.status, 200); /* no HTTP step-up in this mode */
    assert_null(hdr(&r, "WWW-Authenticate"));
    json_t *v = result_of(&r);
    const json_t *res = json_object_get(v, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    const char *text = json_string_value(
        json_object_get(json_array_get(json_object_get(res, "content"), 0), "text"));
    const char *need[] = {"calendar.read"}, *have[] = {"tools.call"};
    char *j = scope_json(need, 1, have, 1);
    assert_string_equal(text, j); /* the seed's InsufficientScopeError.to_json() exactly */
    dmcp_free(j);
    json_decref(v);

    /* R13: "calendar" implies "calendar.read" through the validator's hook. */
    char *broad = mint((claims){.scope = "tools.call calendar", .sub = "bea"});
    open_session(pb, broad, sid);
    req q2 = {.token = broad, .session = sid, .body = CALL("calendar")};
    send_req(pb, &q2, &r);
    assert_int_equal(r.status, 200);
    v = result_of(&r);
    assert_false(json_is_true(json_object_get(json_object_get(v, "result"), "isError")));
    json_decref(v);
    /* Server A has no hook: the same token is refused there. */
    open_session(pa, broad, sid);
    post_a(broad, sid, CALL("calendar"), &r);
    assert_int_equal(r.status, 403);
    free(tok);
    free(broad);
}

/* ---------------------------------------------------------------------------------------- */
/* Canonical resource and PRM URLs (§2.3, RFC 9728 §3.1)                                    */
/* ---------------------------------------------------------------------------------------- */

static void test_canonical_resource(void **state)
{
    (void)state;
    static const struct {
        const char *in, *canon, *prm;
    } ok[] = {
        {"HTTPS://MCP.Example.com:443/mcp", "https://mcp.example.com/mcp",
         "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"},
        {"https://mcp.example.com:8443/mcp", "https://mcp.example.com:8443/mcp",
         "https://mcp.example.com:8443/.well-known/oauth-protected-resource/mcp"},
        {"https://h/mcp/", "https://h/mcp/", "https://h/.well-known/oauth-protected-resource/mcp/"},
        {"https://h", "https://h", "https://h/.well-known/oauth-protected-resource"},
        {"https://h/", "https://h/", "https://h/.well-known/oauth-protected-resource"},
        {"https://h/public/MCP", "https://h/public/MCP",
         "https://h/.well-known/oauth-protected-resource/public/MCP"},
        {"https://h/a/../b", "https://h/a/../b",
         "https://h/.well-known/oauth-protected-resource/a/../b"},
        {"https://h/%7Euser", "https://h/%7Euser",
         "https://h/.well-known/oauth-protected-resource/%7Euser"},
        {"http://127.0.0.1:80/mcp", "http://127.0.0.1/mcp",
         "http://127.0.0.1/.well-known/oauth-protected-resource/mcp"},
        {"HTTP://LOCALHOST:8080/mcp", "http://localhost:8080/mcp",
         "http://localhost:8080/.well-known/oauth-protected-resource/mcp"},
        {"http://[::1]:3000/mcp", "http://[::1]:3000/mcp",
         "http://[::1]:3000/.well-known/oauth-protected-resource/mcp"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *c = NULL;
        dmcp_error err;
        assert_int_equal(dmcp_protect_canonical_resource(ok[i].in, &c, &err), DMCP_OK);
        assert_string_equal(c, ok[i].canon);
        dmcp_free(c);
        char *m = dmcp_protect_metadata_url(ok[i].in);
        assert_non_null(m);
        assert_string_equal(m, ok[i].prm);
        dmcp_free(m);
    }
    static const char *const bad[] = {
        "http://mcp.example.com/mcp", /* http off loopback */
        "https://h/mcp?x=1",
        "https://h/mcp#frag",
        "https://user@h/mcp",
        "https://h/a b",
        "https://h/\"x",
        "https://h/\xc3\xa9",
        "https:/h/mcp",           /* curl takes it; the path would be lost */
        "https://%E4h/mcp",       /* a host that decodes to non-ASCII */
        "https://127%36/mcp",     /* percent-encoded host, renormalised by curl */
        "https:///%36/mcp",       /* extra slash: curl would take "6" as the host */
        "https://2130706433/mcp", /* numeric IPv4 that curl rewrites */
        "mcp.example.com/mcp",
        "ftp://h/mcp",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *c = (char *)"untouched";
        dmcp_error err;
        assert_int_equal(dmcp_protect_canonical_resource(bad[i], &c, &err), DMCP_E_CONFIG);
        assert_null(c);
        assert_true(err.message[0] != '\0');
        assert_null(dmcp_protect_metadata_url(bad[i]));
    }
    char *c;
    assert_int_equal(dmcp_protect_canonical_resource(NULL, &c, NULL), DMCP_E_CONFIG);
    assert_int_equal(dmcp_protect_canonical_resource("https://h", NULL, NULL), DMCP_E_INVALID_ARG);
}

/* ---------------------------------------------------------------------------------------- */
/* The Authorization parser                                                                 */
/* ---------------------------------------------------------------------------------------- */

static dmcp__bearer parse(const char *v, const char **tok, size_t *len)
{
    return dmcp__bearer_parse(v, strlen(v), tok, len);
}

static void test_bearer_parse(void **state)
{
    (void)state;
    const char *tok;
    size_t len;
    assert_int_equal(parse("Bearer abc.DEF-_~+/9==", &tok, &len), DMCP__BEARER_OK);
    assert_int_equal(len, strlen("abc.DEF-_~+/9=="));
    assert_memory_equal(tok, "abc.DEF-_~+/9==", len);
    assert_int_equal(parse("bearer x", &tok, &len), DMCP__BEARER_OK);
    assert_int_equal(parse("BEARER x", &tok, &len), DMCP__BEARER_OK);
    static const char *const other[] = {"Basic",       "Basic abc", "Digest a=b, c=d",
                                        "Bearerx abc", "Bear er a", "DPoP x.y.z"};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        assert_int_equal(parse(other[i], &tok, &len), DMCP__BEARER_OTHER_SCHEME);
        assert_null(tok);
    }
    static const char *const bad[] = {
        "",          "Bearer",       "Bearer ",    "Bearer  a",  "Bearer a b",   "Bearer a ",
        "Bearer\ta", "Bearer =",     "Bearer a=b", "Bearer a,b", "Bearer \"a\"", " Bearer a",
        "Bearer:a",  "Bearer a\r\n", "(Basic) x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &tok, &len), DMCP__BEARER_MALFORMED);
        assert_null(tok);
    }
    /* Length is honoured: no read past len, a cut value parses as what it is. */
    assert_int_equal(dmcp__bearer_parse("Bearer abc def", 10, &tok, &len), DMCP__BEARER_OK);
    assert_int_equal(len, 3);
    /* The parser bound (the validator applies its own, smaller cap). */
    size_t n = 7 + DMCP_MAX_TOKEN_BYTES_LIMIT + 1;
    char *big = malloc(n + 1);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', n - 7);
    big[n] = '\0';
    assert_int_equal(dmcp__bearer_parse(big, n, &tok, &len), DMCP__BEARER_TOO_LARGE);
    assert_int_equal(dmcp__bearer_parse(big, n - 1, &tok, &len), DMCP__BEARER_OK);
    free(big);
}

/* The parser's character tables against the grammar, for every byte value. */
static bool ref_alnum(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static void test_bearer_charsets(void **state)
{
    (void)state;
    const char *tok;
    size_t len;
    for (int c = 0; c < 256; c++) {
        /* RFC 6750 §2.1 b64token body character: "Bearer a<c>b". */
        bool b64 = ref_alnum(c) || (c != 0 && strchr("-._~+/", c) != NULL);
        char v[16] = "Bearer a?b";
        v[8] = (char)c;
        assert_int_equal(dmcp__bearer_parse(v, 10, &tok, &len),
                         b64 ? DMCP__BEARER_OK : DMCP__BEARER_MALFORMED);
        /* RFC 9110 §5.6.2 tchar in the scheme: "X<c>Y abc" is another scheme or malformed. */
        bool tchar = ref_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
        char w[16] = "X?Y abc";
        w[1] = (char)c;
        dmcp__bearer want = tchar || c == ' ' ? DMCP__BEARER_OTHER_SCHEME : DMCP__BEARER_MALFORMED;
        assert_int_equal(dmcp__bearer_parse(w, 7, &tok, &len), want);
    }
    /* Long tokens (the parser checks 8 bytes per step): one bad byte at any position, in any
     * lane of a step or in the tail, makes the header malformed. */
    static const char bad_bytes[] = {',', ' ', '=', '\x80', '\0', '"'};
    char v[7 + 45];
    memcpy(v, "Bearer ", 7);
    for (size_t n = 1; n <= 45; n++) {
        memset(v + 7, 'A', n);
        assert_int_equal(dmcp__bearer_parse(v, 7 + n, &tok, &len), DMCP__BEARER_OK);
        assert_int_equal(len, n);
        for (size_t k = 0; k + 1 < n; k++) { /* not the last byte: a final "=" is padding */
            for (size_t b = 0; b < sizeof(bad_bytes); b++) {
                v[7 + k] = bad_bytes[b];
                assert_int_equal(dmcp__bearer_parse(v, 7 + n, &tok, &len),
                                 DMCP__BEARER_MALFORMED);
                v[7 + k] = 'A';
            }
        }
    }
}

/* An over-long token over HTTP: 401 invalid_token, not a crash nor a 400. */
static void test_oversized_token(void **state)
{
    (void)state;
    size_t n = DMCP_MAX_TOKEN_BYTES + 1;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    expect_invalid(big, "Invalid token");
    free(big);
}

/* ---------------------------------------------------------------------------------------- */
/* Creation                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static void test_creation(void **state)
{
    (void)state;
    dmcp_authorizer *a = NULL;
    dmcp_protect_options *o = NULL;
    dmcp_error err;
    /* NULL options: the validator's resource. */
    assert_int_equal(dmcp_protect_authorizer_new(va, NULL, &a, &err), DMCP_OK);
    dmcp_authorizer_free(a);
    assert_int_equal(dmcp_protect_authorizer_new(NULL, NULL, &a, &err), DMCP_E_INVALID_ARG);

    /* A resource the validator would not accept as audience: refused at once. */
    assert_int_equal(dmcp_protect_options_new(&o), DMCP_OK);
    assert_int_equal(dmcp_protect_options_set_resource(o, "https://mcp.example.com/other"),
                     DMCP_OK);
    assert_int_equal(dmcp_protect_authorizer_new(va, o, &a, &err), DMCP_E_CONFIG);
    assert_null(a);
    assert_non_null(strstr(err.message, "https://mcp.example.com/other"));
    /* The same resource written differently canonicalises to the validator's: accepted. */
    assert_int_equal(dmcp_protect_options_set_resource(o, "HTTPS://mcp.EXAMPLE.com:443/mcp"),
                     DMCP_OK);
    assert_int_equal(dmcp_protect_authorizer_new(va, o, &a, &err), DMCP_OK);
    dmcp_authorizer_free(a);
    assert_int_equal(dmcp_protect_options_set_resource(o, "https://mcp.example.com/mcp?q"),
                     DMCP_OK);
    assert_int_equal(dmcp_protect_authorizer_new(va, o, &a, &err), DMCP_E_CONFIG);

    /* Scope options take RFC 6749 §3.3 tokens only. */
    assert_int_equal(dmcp_protect_options_add_required_scope(o, "a b"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_protect_options_add_required_scope(o, "a\"b"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_protect_options_add_required_scope(o, ""), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_protect_options_add_supported_scope(o, "x\\y"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_protect_options_set_tool_scope_mode(o, (dmcp_tool_scope_mode)7),
                     DMCP_E_INVALID_ARG);
    /* A resource name that is not UTF-8 cannot go into the PRM. */
    assert_int_equal(dmcp_protect_options_set_resource(o, NULL), DMCP_OK);
    assert_int_equal(dmcp_protect_options_set_resource_name(o, "bad \xff name"), DMCP_OK);
    assert_int_equal(dmcp_protect_authorizer_new(va, o, &a, &err), DMCP_E_CONFIG);
    dmcp_protect_options_free(o);
    dmcp_protect_options_free(NULL);

    /* A validator without an MCP server URL needs the option. */
    dmcp_validator_config *cfg;
    dmcp_validator *v;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    assert_int_equal(dmcp_validator_config_disable_audience_check(cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, NULL), DMCP_OK);
    dmcp_validator_config_free(cfg);
    assert_int_equal(dmcp_protect_authorizer_new(v, NULL, &a, &err), DMCP_E_CONFIG);
    assert_int_equal(dmcp_protect_options_new(&o), DMCP_OK);
    assert_int_equal(dmcp_protect_options_set_resource(o, "https://h/mcp"), DMCP_OK);
    assert_int_equal(dmcp_protect_authorizer_new(v, o, &a, &err), DMCP_OK);
    dmcp_authorizer_free(a);
    dmcp_protect_options_free(o);
    dmcp_validator_free(v);

    /* dmcp_protect_principal_token() never misreads another authorizer's principal data. */
    dmcp_principal *p;
    assert_int_equal(dmcp_principal_new("k", &p), DMCP_OK);
    assert_null(dmcp_protect_principal_token(p));
    /* Same layout and tag text as the glue's own data, but not its tag object. */
    static const char *foreign[2] = {"dmcp-protect", "not a dmcp_token"};
    dmcp_principal_set_data(p, (void *)foreign, NULL);
    assert_null(dmcp_protect_principal_token(p));
    dmcp_principal_unref(p);
    assert_null(dmcp_protect_principal_token(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prm),
        cmocka_unit_test(test_no_token_rows_3_4),
        cmocka_unit_test(test_malformed_row_5),
        cmocka_unit_test(test_invalid_rows_6_7_8),
        cmocka_unit_test(test_insufficient_scope_row_9),
        cmocka_unit_test(test_server_wide_scopes),
        cmocka_unit_test(test_key_source_down_row_11),
        cmocka_unit_test(test_cors_rows_12_13),
        cmocka_unit_test(test_session_binding),
        cmocka_unit_test(test_binding_unambiguous),
        cmocka_unit_test(test_tool_error_mode_and_hierarchy),
        cmocka_unit_test(test_canonical_resource),
        cmocka_unit_test(test_bearer_parse),
        cmocka_unit_test(test_bearer_charsets),
        cmocka_unit_test(test_oversized_token),
        cmocka_unit_test(test_creation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
