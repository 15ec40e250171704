/*
 * Streamable HTTP transport, end to end over loopback with libcurl: sessions, headers,
 * DNS-rebinding checks, content negotiation, limits, SSE, batches, bad input, and the
 * authorizer hooks (refusals, principal binding, per-tool scopes, public routes, CORS).
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "mcp_test.h"

static dmcp_server *srv_auth; /* stateful, mock authorizer */
static dmcp_server *srv_open; /* stateless, no authorizer, explicit origin allowlist */
static unsigned port_auth, port_open;
static atomic_int scope_mode; /* 0: HTTP 403, 1: isError result */
static atomic_int authn_calls;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Mock authorizer                                                                          */
/* ---------------------------------------------------------------------------------------- */

#define RM "http://127.0.0.1/.well-known/oauth-protected-resource/mcp"

static dmcp_http_response *refuse(unsigned status, const char *challenge, const char *body)
{
    dmcp_http_response *r;
    assert_int_equal(dmcp_http_response_new(status, &r), DMCP_OK);
    if (challenge != NULL) {
        assert_int_equal(dmcp_http_response_add_header(r, "WWW-Authenticate", challenge), DMCP_OK);
    }
    if (body != NULL) {
        assert_int_equal(dmcp_http_response_set_body(r, "application/json", body, strlen(body)),
                         DMCP_OK);
    }
    return r;
}

static dmcp_status mock_authenticate(void *ud, const dmcp_http_request *req,
                                     dmcp_principal **principal, dmcp_http_response **refusal)
{
    (void)ud;
    atomic_fetch_add(&authn_calls, 1);
    size_t n = dmcp_http_request_header_count(req, "Authorization");
    if (n > 1 || dmcp_http_request_has_query_param(req, "access_token")) {
        *refusal = refuse(400,
                          "Bearer error=\"invalid_request\", error_description=\"Malformed "
                          "Authorization header\", resource_metadata=\"" RM "\"",
                          NULL);
        return DMCP_E_MALFORMED_REQUEST;
    }
    if (n == 0) {
        *refusal = refuse(401, "Bearer scope=\"tools.call\", resource_metadata=\"" RM "\"", NULL);
        return DMCP_E_INVALID_TOKEN;
    }
    const char *h = dmcp_http_request_header(req, "authorization", 0);
    static const struct {
        const char *header, *binding, *user, *scope;
    } users[] = {
        {"Bearer alice", "iss|alice|c1", "alice", "tools.call"},
        {"Bearer alice-refreshed", "iss|alice|c1", "alice", "tools.call"},
        {"Bearer bob", "iss|bob|c1", "bob", "tools.call"},
        {"Bearer admin", "iss|admin|c1", "admin", "admin.write"},
        /* A caller who identifies nobody: a principal without a binding key. */
        {"Bearer nobody", NULL, NULL, "tools.call"},
    };
    if (strcmp(h, "Bearer anon") == 0) {
        return DMCP_OK; /* admitted without a principal */
    }
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        if (strcmp(h, users[i].header) == 0) {
            dmcp_principal *p;
            if (dmcp_principal_new(users[i].binding, &p) != DMCP_OK) {
                return DMCP_E_INTERNAL; /* 500; not an assert on a server thread */
            }
            dmcp_principal_set_user_id(p, users[i].user);
            dmcp_principal_set_client_id(p, "c1");
            dmcp_principal_add_scope(p, users[i].scope);
            dmcp_principal_set_access_token(p, h + 7, strlen(h + 7));
            *principal = p;
            return DMCP_OK;
        }
    }
    if (strcmp(h, "Bearer broken") == 0) {
        return DMCP_E_INTERNAL; /* no refusal: the runtime must answer 500 */
    }
    *refusal = refuse(401,
                      "Bearer error=\"invalid_token\", error_description=\"Invalid token\", "
                      "scope=\"tools.call\", resource_metadata=\"" RM "\"",
                      "{\"error\":\"invalid_token\",\"error_description\":\"Invalid token\"}");
    return DMCP_E_INVALID_TOKEN;
}

static dmcp_status mock_authorize_tool(void *ud, const dmcp_principal *p, const char *tool,
                                       const char *const *scopes, size_t n,
                                       dmcp_http_response **refusal, char **tool_error)
{
    (void)ud;
    (void)tool;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        ok = ok && dmcp_principal_has_scope(p, scopes[i]);
    }
    if (ok) {
        return DMCP_OK;
    }
    if (atomic_load(&scope_mode) == 0) {
        *refusal = refuse(403,
                          "Bearer error=\"insufficient_scope\", error_description=\"Token "
                          "missing required scopes: admin.write\", scope=\"admin.write "
                          "tools.call\", resource_metadata=\"" RM "\"",
                          "{\"error\":\"insufficient_scope\"}");
    } else {
        *tool_error = strdup("{\"error\":\"insufficient_scope\",\"scope\":\"admin.write\"}");
    }
    return DMCP_E_INSUFFICIENT_SCOPE;
}

static dmcp_status mock_route(void *ud, const dmcp_http_request *req, dmcp_http_response **out)
{
    (void)ud;
    const char *path = dmcp_http_request_path(req);
    if (strcmp(path, "/.well-known/oauth-protected-resource") != 0 &&
        strcmp(path, "/.well-known/oauth-protected-resource/mcp") != 0) {
        return DMCP_E_NOT_FOUND;
    }
    const char *m = dmcp_http_request_method(req);
    dmcp_http_response *r;
    if (strcmp(m, "GET") == 0) {
        const char *doc = "{\"resource\":\"http://127.0.0.1/mcp\"}";
        assert_int_equal(dmcp_http_response_new(200, &r), DMCP_OK);
        dmcp_http_response_set_body(r, "application/json", doc, strlen(doc));
        dmcp_http_response_add_header(r, "Access-Control-Allow-Origin", "*");
    } else if (strcmp(m, "OPTIONS") == 0) {
        assert_int_equal(dmcp_http_response_new(204, &r), DMCP_OK);
        dmcp_http_response_add_header(r, "Access-Control-Allow-Origin", "*");
        dmcp_http_response_add_header(r, "Access-Control-Allow-Methods", "GET, OPTIONS");
    } else {
        assert_int_equal(dmcp_http_response_new(405, &r), DMCP_OK);
        dmcp_http_response_add_header(r, "Allow", "GET, OPTIONS");
    }
    *out = r;
    return DMCP_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Tools                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static dmcp_status t_echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)ud;
    return dmcp_result_add_text(res, json_string_value(json_object_get(args, "text")));
}

static dmcp_status t_whoami(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    const dmcp_principal *p = dmcp_call_principal(call);
    const char *u = dmcp_principal_user_id(p);
    return dmcp_result_add_text(res, u != NULL ? u : "(nobody)");
}

static dmcp_status t_progress(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    for (int i = 0; i <= 2; i++) {
        dmcp_call_progress(call, i * 50.0, 100, NULL);
        sleep_ms(20);
    }
    dmcp_call_log(call, DMCP_LOG_INFO, "test", "working");
    return dmcp_result_add_text(res, "progress done");
}

static dmcp_status t_log(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    dmcp_call_log(call, DMCP_LOG_INFO, NULL, "first");
    dmcp_call_log(call, DMCP_LOG_INFO, NULL, "second");
    return dmcp_result_add_text(res, "logged");
}

static atomic_int slow_started;

static dmcp_status t_slow(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    atomic_fetch_add(&slow_started, 1);
    sleep_ms(400);
    return dmcp_result_add_text(res, "slow done");
}

static void add_tool(dmcp_server *s, const char *name, dmcp_tool_fn fn, const char *schema,
                     const char *scope)
{
    dmcp_tool *t;
    assert_int_equal(dmcp_tool_new(name, fn, NULL, &t), DMCP_OK);
    if (schema != NULL) {
        assert_int_equal(dmcp_tool_set_input_schema_json(t, schema), DMCP_OK);
    }
    if (scope != NULL) {
        assert_int_equal(dmcp_tool_add_required_scope(t, scope), DMCP_OK);
    }
    assert_int_equal(dmcp_server_add_tool(s, t), DMCP_OK);
}

#define TEXT_SCHEMA                                                                                \
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]" \
    "}"

static void add_tools(dmcp_server *s)
{
    add_tool(s, "echo", t_echo, TEXT_SCHEMA, NULL);
    add_tool(s, "whoami", t_whoami, NULL, NULL);
    add_tool(s, "progress", t_progress, NULL, NULL);
    add_tool(s, "log", t_log, NULL, NULL);
    add_tool(s, "slow", t_slow, NULL, NULL);
    add_tool(s, "admin_echo", t_echo, TEXT_SCHEMA, "admin.write");
}

static int setup(void **state)
{
    (void)state;
    dmcp_error err;
    assert_int_equal(dmcp_server_new("http-test", "1", &srv_auth), DMCP_OK);
    add_tools(srv_auth);
    dmcp_authorizer *az;
    assert_int_equal(dmcp_authorizer_new(NULL, NULL, &az), DMCP_OK);
    dmcp_authorizer_set_authenticate(az, mock_authenticate);
    dmcp_authorizer_set_authorize_tool(az, mock_authorize_tool);
    dmcp_authorizer_set_route(az, mock_route);
    assert_int_equal(dmcp_server_set_authorizer(srv_auth, az), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(srv_auth, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_heartbeat(srv_auth, 1), DMCP_OK);
    assert_int_equal(dmcp_server_set_threads(srv_auth, 4), DMCP_OK);
    assert_int_equal(dmcp_server_start(srv_auth, &err), DMCP_OK);
    port_auth = dmcp_server_port(srv_auth);
    assert_true(port_auth > 0);
    assert_int_equal(dmcp_server_set_stateless(srv_auth, true), DMCP_E_STATE);

    assert_int_equal(dmcp_server_new("open", "1", &srv_open), DMCP_OK);
    add_tools(srv_open);
    assert_int_equal(dmcp_server_set_listen_string(srv_open, "127.0.0.1:0"), DMCP_OK);
    assert_int_equal(dmcp_server_set_stateless(srv_open, true), DMCP_OK);
    assert_int_equal(dmcp_server_add_allowed_origin(srv_open, "https://App.Example.com"), DMCP_OK);
    assert_int_equal(dmcp_server_set_threads(srv_open, 1), DMCP_OK);
    assert_int_equal(dmcp_server_start(srv_open, &err), DMCP_OK);
    port_open = dmcp_server_port(srv_open);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_server_free(srv_auth);
    dmcp_server_free(srv_open);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* libcurl client                                                                           */
/* ---------------------------------------------------------------------------------------- */

typedef struct resp {
    long status;
    char body[1 << 16];
    size_t len;
    char hdrs[16384];
    size_t hlen;
    long connects;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = sz * n;
    size_t room = sizeof(r->body) - 1 - r->len;
    size_t take = len < room ? len : room;
    memcpy(r->body + r->len, p, take);
    r->len += take;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = sz * n;
    size_t room = sizeof(r->hdrs) - 1 - r->hlen;
    size_t take = len < room ? len : room;
    memcpy(r->hdrs + r->hlen, p, take);
    r->hlen += take;
    r->hdrs[r->hlen] = '\0';
    return len;
}

typedef struct reqopts {
    const char *method; /* default POST */
    const char *path;   /* default /mcp */
    const char *token;  /* "alice" -> Authorization: Bearer alice; NULL: none */
    const char *session;
    const char *version;  /* MCP-Protocol-Version */
    const char *accept;   /* default both */
    const char *ctype;    /* default application/json */
    const char *extra[4]; /* raw header lines */
    const char *body;
    size_t body_len; /* 0: strlen(body) */
    long timeout_ms; /* default 5000 */
    CURL *reuse;     /* keep-alive tests */
} reqopts;

static void do_req(unsigned port, const reqopts *o, resp *r)
{
    memset(r, 0, sizeof(*r));
    CURL *c = o->reuse != NULL ? o->reuse : curl_easy_init();
    assert_non_null(c);
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, o->path ? o->path : "/mcp");
    curl_easy_setopt(c, CURLOPT_URL, url);
    const char *method = o->method ? o->method : "POST";
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) {
        const char *b = o->body ? o->body : "";
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, b);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(o->body_len ? o->body_len : strlen(b)));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    struct curl_slist *h = NULL;
    char line[512];
    if (o->token != NULL) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", o->token);
        h = curl_slist_append(h, line);
    }
    if (o->session != NULL) {
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", o->session);
        h = curl_slist_append(h, line);
    }
    if (o->version != NULL) {
        snprintf(line, sizeof(line), "MCP-Protocol-Version: %s", o->version);
        h = curl_slist_append(h, line);
    }
    snprintf(line, sizeof(line), "Accept: %s",
             o->accept ? o->accept : "application/json, text/event-stream");
    h = curl_slist_append(h, line);
    snprintf(line, sizeof(line), "Content-Type: %s", o->ctype ? o->ctype : "application/json");
    h = curl_slist_append(h, line);
    for (size_t i = 0; i < 4 && o->extra[i] != NULL; i++) {
        h = curl_slist_append(h, o->extra[i]);
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms ? o->timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->connects);
    curl_slist_free_all(h);
    if (o->reuse == NULL) {
        curl_easy_cleanup(c);
    }
}

/* Value of a response header (case-insensitive name), copied into a static buffer. */
static const char *hdr(const resp *r, const char *name)
{
    static char val[1024];
    const char *p = r->hdrs;
    size_t n = strlen(name);
    while (p != NULL && *p != '\0') {
        if (dmcp__ascii_ncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ') {
                v++;
            }
            size_t l = strcspn(v, "\r\n");
            if (l >= sizeof(val)) {
                l = sizeof(val) - 1;
            }
            memcpy(val, v, l);
            val[l] = '\0';
            return val;
        }
        p = strchr(p, '\n');
        if (p != NULL) {
            p++;
        }
    }
    return NULL;
}

static json_t *body_json(const resp *r)
{
    json_t *v = json_loadb(r->body, r->len, 0, NULL);
    assert_non_null(v);
    return v;
}

static int body_error_code(const resp *r)
{
    json_t *v = body_json(r);
    int code = mt_error_code(v);
    json_decref(v);
    return code;
}

#define INIT_BODY(v)                                                                               \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"     \
    "\"" v "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"

/* Initializes a session for token; returns its id (static buffer per slot). */
static const char *open_session(const char *token, const char *version, char *out)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
             "{\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\","
             "\"version\":\"1\"}}}",
             version);
    resp r;
    reqopts o = {.token = token, .body = body};
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 200);
    const char *sid = hdr(&r, "Mcp-Session-Id");
    assert_non_null(sid);
    strcpy(out, sid);
    reqopts n = {.token = token,
                 .session = out,
                 .version = version,
                 .body = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"};
    do_req(port_auth, &n, &r);
    assert_int_equal(r.status, 202);
    return out;
}

static void post(const char *token, const char *sid, const char *body, resp *r)
{
    reqopts o = {.token = token, .session = sid, .body = body};
    do_req(port_auth, &o, r);
}

#define PING "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}"
#define CALL(name, args)                                                                           \
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"" name         \
    "\",\"arguments\":" args "}}"

/* ---------------------------------------------------------------------------------------- */
/* Tests                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void test_initialize_and_sessions(void **state)
{
    (void)state;
    resp r;
    reqopts o = {.token = "alice", .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "Content-Type"), "application/json");
    const char *sid = hdr(&r, "Mcp-Session-Id");
    assert_non_null(sid);
    assert_int_equal(strlen(sid), DMCP__SESSION_ID_LEN);
    json_t *v = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(mt_result(v), "protocolVersion")),
                        "2025-11-25");
    json_decref(v);
    char s[128];
    strcpy(s, sid);

    /* Missing session: 400; unknown: 404; good: 200. */
    post("alice", NULL, PING, &r);
    assert_int_equal(r.status, 400);
    post("alice", "0123456789abcdef0123456789abcdef0123456789abcdef", PING, &r);
    assert_int_equal(r.status, 404);
    post("alice", "not a session", PING, &r);
    assert_int_equal(r.status, 404);
    post("alice", s, PING, &r);
    assert_int_equal(r.status, 200);
    /* A refreshed token of the same principal keeps the session (binding, not token). */
    post("alice-refreshed", s, CALL("whoami", "{}"), &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"alice\""));
    /* Another principal: 404, as if the session did not exist (SBP §2.4.4). */
    post("bob", s, PING, &r);
    assert_int_equal(r.status, 404);
    /* DELETE by another principal fails, by the owner ends it; then 404. */
    reqopts d = {.method = "DELETE", .token = "bob", .session = s};
    do_req(port_auth, &d, &r);
    assert_int_equal(r.status, 404);
    d.token = "alice";
    do_req(port_auth, &d, &r);
    assert_int_equal(r.status, 200);
    post("alice", s, PING, &r);
    assert_int_equal(r.status, 404);
    do_req(port_auth, &d, &r);
    assert_int_equal(r.status, 404);
    reqopts nos = {.method = "DELETE", .token = "alice"};
    do_req(port_auth, &nos, &r);
    assert_int_equal(r.status, 400);
    /* A failed initialize creates no session. */
    o.body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}";
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 200);
    assert_null(hdr(&r, "Mcp-Session-Id"));
    assert_int_equal(body_error_code(&r), DMCP_JSONRPC_INVALID_PARAMS);
}

static void test_protocol_version_header(void **state)
{
    (void)state;
    char s[128];
    open_session("alice", "2025-06-18", s);
    resp r;
    reqopts o = {.token = "alice", .session = s, .version = "2025-06-18", .body = PING};
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 200);
    o.version = "1999-01-01";
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 400);
    o.version = NULL; /* missing: the session's version */
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 200);
    /* Also on GET and DELETE. */
    reqopts g = {.method = "GET",
                 .token = "alice",
                 .session = s,
                 .version = "bogus",
                 .accept = "text/event-stream"};
    do_req(port_auth, &g, &r);
    assert_int_equal(r.status, 400);
    /* Initialize with an unsupported header version. */
    reqopts i = {.token = "alice", .version = "bogus", .body = INIT_BODY("2025-06-18")};
    do_req(port_auth, &i, &r);
    assert_int_equal(r.status, 400);
}

static void test_origin_and_host(void **state)
{
    (void)state;
    resp r;
    atomic_store(&authn_calls, 0);
    /* Bad Origin/Host are refused before authentication (no token sent: still 403). */
    reqopts o = {.extra = {"Origin: https://evil.example"}, .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 403);
    reqopts h = {.extra = {"Host: evil.example.com"}, .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &h, &r);
    assert_int_equal(r.status, 403);
    reqopts h2 = {.extra = {"Host: 127.0.0.1.evil.com:80"}, .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &h2, &r);
    assert_int_equal(r.status, 403);
    reqopts nul = {.extra = {"Origin: null"}, .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &nul, &r);
    assert_int_equal(r.status, 403);
    assert_int_equal(atomic_load(&authn_calls), 0);
    /* Loopback names with any port are fine; allowed origins get CORS headers. */
    reqopts ok = {.token = "alice",
                  .extra = {"Host: localhost:9999", "Origin: http://localhost:3000"},
                  .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &ok, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), "http://localhost:3000");
    assert_string_equal(hdr(&r, "Vary"), "Origin");
    const char *exp = hdr(&r, "Access-Control-Expose-Headers");
    assert_non_null(strstr(exp, "WWW-Authenticate"));
    assert_non_null(strstr(exp, "Mcp-Session-Id"));
    assert_null(hdr(&r, "Access-Control-Allow-Credentials"));
    reqopts v6 = {.token = "alice",
                  .extra = {"Host: [::1]:80", "Origin: http://[::1]:5"},
                  .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &v6, &r);
    assert_int_equal(r.status, 200);
    /* Explicit allowlist on the other server (case-insensitive). */
    reqopts a = {.extra = {"Origin: https://app.example.com"},
                 .body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}"};
    do_req(port_open, &a, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), "https://app.example.com");
    a.extra[0] = "Origin: http://localhost:3000"; /* not in the explicit list */
    do_req(port_open, &a, &r);
    assert_int_equal(r.status, 403);
}

static void test_content_negotiation_and_limits(void **state)
{
    (void)state;
    resp r;
    reqopts o = {.token = "alice", .accept = "application/json", .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 406);
    o.accept = "text/html";
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 406);
    o.accept = "*/*";
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 200);
    o.accept = NULL;
    o.ctype = "text/plain";
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 415);
    o.ctype = "application/json; charset=utf-8";
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 200);
    /* Over 4 MiB: 413 (Content-Length known up front). */
    size_t big = DMCP_MAX_BODY_BYTES + 10;
    char *b = malloc(big + 1);
    memset(b, ' ', big);
    b[big] = '\0';
    o.ctype = NULL;
    o.body = b;
    o.timeout_ms = 60000; /* 4 MiB through a loaded loopback: not a timing test */
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 413);
    /* Chunked upload over the cap: also 413. */
    reqopts ch = {.token = "alice",
                  .body = b,
                  .timeout_ms = 60000,
                  .extra = {"Transfer-Encoding: chunked"}};
    do_req(port_auth, &ch, &r);
    assert_int_equal(r.status, 413);
    free(b);
    /* Wrong methods on the endpoint. */
    reqopts put = {.method = "PUT", .token = "alice"};
    do_req(port_auth, &put, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(hdr(&r, "Allow"));
    reqopts nf = {.method = "GET", .path = "/other"};
    do_req(port_auth, &nf, &r);
    assert_int_equal(r.status, 404);
}

static void test_notifications_202(void **state)
{
    (void)state;
    char s[128];
    open_session("alice", "2025-11-25", s);
    resp r;
    post("alice", s,
         "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
         "\"params\":{\"requestId\":99}}",
         &r);
    assert_int_equal(r.status, 202);
    assert_int_equal(r.len, 0);
    post("alice", s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", &r);
    assert_int_equal(r.status, 202);
}

static void test_tools_and_sse(void **state)
{
    (void)state;
    char s[128];
    open_session("alice", "2025-11-25", s);
    resp r;
    post("alice", s, CALL("echo", "{\"text\":\"hi\"}"), &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"text\":\"hi\""));
    post("alice", s, CALL("nope", "{}"), &r);
    assert_int_equal(body_error_code(&r), DMCP_JSONRPC_INVALID_PARAMS);
    post("alice", s, CALL("echo", "{\"text\":1}"), &r);
    assert_non_null(strstr(r.body, "\"isError\":true"));

    /* Progress token: a live SSE stream with progress, log, then the response. */
    post("alice", s,
         "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"progress\",\"arguments\":{},\"_meta\":{\"progressToken\":\"tok-1\"}}}",
         &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "Content-Type"), "text/event-stream");
    assert_string_equal(hdr(&r, "Cache-Control"), "no-cache");
    const char *p0 = strstr(r.body, "\"progress\":0");
    const char *p1 = strstr(r.body, "\"progress\":50");
    const char *p2 = strstr(r.body, "\"progress\":100");
    const char *lg = strstr(r.body, "notifications/message");
    const char *res = strstr(r.body, "progress done");
    assert_non_null(p0);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_non_null(lg);
    assert_non_null(res);
    assert_true(p0 < p1 && p1 < p2 && p2 < lg && lg < res);
    assert_non_null(strstr(r.body, "\"progressToken\":\"tok-1\""));
    /* 11-25: priming event first, every event has an id. */
    assert_int_equal(strncmp(r.body, "id: ", 4), 0);
    assert_non_null(strstr(r.body, "\ndata: \n\n"));

    /* Logs without a progress token: the response switches to SSE (buffered). */
    post("alice", s, CALL("log", "{}"), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "Content-Type"), "text/event-stream");
    const char *f = strstr(r.body, "first"), *sec = strstr(r.body, "second"),
               *fin = strstr(r.body, "logged");
    assert_true(f != NULL && sec != NULL && fin != NULL && f < sec && sec < fin);
    /* After logging/setLevel error, info logs are filtered: plain JSON again. */
    post("alice", s,
         "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"logging/setLevel\","
         "\"params\":{\"level\":\"error\"}}",
         &r);
    assert_int_equal(r.status, 200);
    post("alice", s, CALL("log", "{}"), &r);
    assert_string_equal(hdr(&r, "Content-Type"), "application/json");
}

static void test_batches(void **state)
{
    (void)state;
    const char *batch = "[" PING ",{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"ping\"}]";
    char s[128];
    resp r;
    open_session("alice", "2025-06-18", s);
    post("alice", s, batch, &r);
    assert_int_equal(r.status, 400);
    assert_int_equal(body_error_code(&r), DMCP_JSONRPC_INVALID_REQUEST);
    open_session("alice", "2025-11-25", s);
    post("alice", s, batch, &r);
    assert_int_equal(r.status, 400);
    open_session("alice", "2025-03-26", s);
    post("alice", s, batch, &r);
    assert_int_equal(r.status, 200);
    json_t *v = body_json(&r);
    assert_true(json_is_array(v));
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    post("alice", s, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]", &r);
    assert_int_equal(r.status, 202);
    /* Per-tool scopes also hold inside a batch. */
    atomic_store(&scope_mode, 0);
    post("alice", s, "[" CALL("admin_echo", "{\"text\":\"x\"}") "]", &r);
    assert_int_equal(r.status, 403);
}

static void test_bad_input_keeps_serving(void **state)
{
    (void)state;
    char s[128];
    open_session("alice", "2025-11-25", s);
    resp r;
    static const struct {
        const char *body;
        size_t len;
        long status;
        int code;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",", 0, 400, DMCP_JSONRPC_PARSE_ERROR},
        {"not json", 0, 400, DMCP_JSONRPC_PARSE_ERROR},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x", 0, 400, -32700},
        {"\"just a string\"", 0, 400, DMCP_JSONRPC_INVALID_REQUEST},
        {"{\"id\":1,\"method\":\"ping\"}", 0, 400, DMCP_JSONRPC_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", 0, 400,
         DMCP_JSONRPC_INVALID_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\xff\"}", 0, 400, DMCP_JSONRPC_PARSE_ERROR},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":\"\\u0000\"}}", 0,
         400, DMCP_JSONRPC_PARSE_ERROR},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"unknown/method\"}", 0, 200,
         DMCP_JSONRPC_METHOD_NOT_FOUND},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":[]}", 0, 400,
         DMCP_JSONRPC_INVALID_REQUEST},
#define WITH_NUL "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\0"
        {WITH_NUL, sizeof(WITH_NUL) - 1, 400, DMCP_JSONRPC_PARSE_ERROR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reqopts o = {
            .token = "alice", .session = s, .body = cases[i].body, .body_len = cases[i].len};
        do_req(port_auth, &o, &r);
        if (r.status != cases[i].status || body_error_code(&r) != cases[i].code) {
            fail_msg("case %zu: status %ld body %s", i, r.status, r.body);
        }
        post("alice", s, PING, &r);
        assert_int_equal(r.status, 200);
    }
    /* Deep nesting. */
    char deep[400];
    size_t d = 100;
    strcpy(deep, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":");
    size_t off = strlen(deep);
    for (size_t i = 0; i < d; i++) {
        deep[off++] = '[';
    }
    for (size_t i = 0; i < d; i++) {
        deep[off++] = ']';
    }
    strcpy(deep + off, "}}");
    post("alice", s, deep, &r);
    assert_int_equal(r.status, 400);
    assert_int_equal(body_error_code(&r), DMCP_JSONRPC_PARSE_ERROR);
    post("alice", s, PING, &r);
    assert_int_equal(r.status, 200);
}

static void test_authorizer(void **state)
{
    (void)state;
    resp r;
    /* No token: the authorizer's 401 passes through untouched, with CORS exposure. */
    reqopts o = {.body = INIT_BODY("2025-11-25"), .extra = {"Origin: http://localhost:1"}};
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(hdr(&r, "WWW-Authenticate"),
                        "Bearer scope=\"tools.call\", resource_metadata=\"" RM "\"");
    assert_int_equal(r.len, 0);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), "http://localhost:1");
    assert_non_null(strstr(hdr(&r, "Access-Control-Expose-Headers"), "WWW-Authenticate"));
    reqopts bad = {.token = "garbage", .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &bad, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(hdr(&r, "WWW-Authenticate"), "invalid_token"));
    assert_string_equal(hdr(&r, "Content-Type"), "application/json");
    assert_non_null(strstr(r.body, "invalid_token"));
    /* The authorizer sees duplicate headers and query tokens. */
    reqopts two = {
        .token = "alice", .extra = {"Authorization: Bearer bob"}, .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &two, &r);
    assert_int_equal(r.status, 400);
    reqopts q = {.token = "alice", .path = "/mcp?access_token=x", .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &q, &r);
    assert_int_equal(r.status, 400);
    /* An authorizer failure without a refusal: 500, never a pass. */
    reqopts br = {.token = "broken", .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &br, &r);
    assert_int_equal(r.status, 500);
    /* GET and DELETE are authenticated too. */
    reqopts g = {.method = "GET", .accept = "text/event-stream"};
    do_req(port_auth, &g, &r);
    assert_int_equal(r.status, 401);

    /* Per-tool scopes: 403 step-up before dispatch, or an isError result. */
    char s[128];
    open_session("alice", "2025-11-25", s);
    atomic_store(&scope_mode, 0);
    post("alice", s, CALL("admin_echo", "{\"text\":\"x\"}"), &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(hdr(&r, "WWW-Authenticate"), "insufficient_scope"));
    atomic_store(&scope_mode, 1);
    post("alice", s, CALL("admin_echo", "{\"text\":\"x\"}"), &r);
    assert_int_equal(r.status, 200);
    json_t *v = body_json(&r);
    assert_true(mt_is_error(v));
    assert_string_equal(mt_text(v), "{\"error\":\"insufficient_scope\",\"scope\":\"admin.write\"}");
    json_decref(v);
    atomic_store(&scope_mode, 0);
    char a[128];
    open_session("admin", "2025-11-25", a);
    post("admin", a, CALL("admin_echo", "{\"text\":\"granted\"}"), &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "granted"));
    /* Unknown tools are not the authorizer's business: -32602. */
    post("alice", s, CALL("missing", "{}"), &r);
    assert_int_equal(body_error_code(&r), DMCP_JSONRPC_INVALID_PARAMS);
}

/* A principal without a binding key can neither open a session nor use anyone's. */
static void test_keyless_principal(void **state)
{
    (void)state;
    resp r;
    reqopts init = {.token = "nobody", .body = INIT_BODY("2025-11-25")};
    do_req(port_auth, &init, &r);
    assert_int_equal(r.status, 403);
    assert_null(hdr(&r, "Mcp-Session-Id"));
    assert_int_equal(body_error_code(&r), DMCP_JSONRPC_INVALID_REQUEST);
    assert_non_null(strstr(r.body, "identifies no subject"));
    /* Not even a session opened without any principal (both have no key). */
    char anon[128], alice[128];
    open_session("anon", "2025-11-25", anon);
    post("nobody", anon, PING, &r);
    assert_int_equal(r.status, 404);
    post("anon", anon, PING, &r);
    assert_int_equal(r.status, 200);
    open_session("alice", "2025-11-25", alice);
    post("nobody", alice, PING, &r);
    assert_int_equal(r.status, 404);
    reqopts del = {.method = "DELETE", .token = "nobody", .session = anon};
    do_req(port_auth, &del, &r);
    assert_int_equal(r.status, 404);
    post("anon", anon, PING, &r);
    assert_int_equal(r.status, 200); /* the DELETE did not end it */
}

static void test_public_routes_and_preflight(void **state)
{
    (void)state;
    resp r;
    atomic_store(&authn_calls, 0);
    reqopts g = {.method = "GET", .path = "/.well-known/oauth-protected-resource/mcp"};
    do_req(port_auth, &g, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"resource\""));
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), "*");
    g.path = "/.well-known/oauth-protected-resource";
    do_req(port_auth, &g, &r);
    assert_int_equal(r.status, 200);
    reqopts opt = {.method = "OPTIONS",
                   .path = "/.well-known/oauth-protected-resource/mcp",
                   .extra = {"Origin: https://anywhere.example"}};
    do_req(port_auth, &opt, &r);
    assert_int_equal(r.status, 204);
    reqopts p = {.path = "/.well-known/oauth-protected-resource", .body = "{}"};
    do_req(port_auth, &p, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(hdr(&r, "Allow"), "GET, OPTIONS");
    /* CORS preflight on the endpoint: no authentication. */
    reqopts pf = {
        .method = "OPTIONS",
        .extra = {"Origin: http://localhost:8000", "Access-Control-Request-Method: POST"}};
    do_req(port_auth, &pf, &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(hdr(&r, "Access-Control-Allow-Origin"), "http://localhost:8000");
    assert_string_equal(hdr(&r, "Vary"), "Origin");
    assert_string_equal(hdr(&r, "Access-Control-Allow-Methods"), "GET, POST, DELETE, OPTIONS");
    assert_non_null(strstr(hdr(&r, "Access-Control-Allow-Headers"), "Authorization"));
    assert_non_null(strstr(hdr(&r, "Access-Control-Allow-Headers"), "Mcp-Session-Id"));
    assert_string_equal(hdr(&r, "Access-Control-Max-Age"), "600");
    assert_int_equal(atomic_load(&authn_calls), 0);
    /* A preflight from a disallowed origin is still refused. */
    pf.extra[0] = "Origin: https://evil.example";
    do_req(port_auth, &pf, &r);
    assert_int_equal(r.status, 403);
}

static void test_stateless(void **state)
{
    (void)state;
    resp r;
    reqopts o = {.body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}"};
    do_req(port_open, &o, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"echo\""));
    o.body = INIT_BODY("2025-06-18");
    do_req(port_open, &o, &r);
    assert_int_equal(r.status, 200);
    assert_null(hdr(&r, "Mcp-Session-Id"));
    o.body = CALL("whoami", "{}");
    do_req(port_open, &o, &r);
    assert_non_null(strstr(r.body, "(nobody)"));
    /* Scoped tools are callable without an authorizer (documented). */
    o.body = CALL("admin_echo", "{\"text\":\"open\"}");
    do_req(port_open, &o, &r);
    assert_non_null(strstr(r.body, "open"));
    /* Batches: no header -> 2025-03-26 -> accepted; 06-18 -> 400. */
    o.body = "[" PING "]";
    do_req(port_open, &o, &r);
    assert_int_equal(r.status, 200);
    o.version = "2025-06-18";
    do_req(port_open, &o, &r);
    assert_int_equal(r.status, 400);
    reqopts g = {.method = "GET", .accept = "text/event-stream"};
    do_req(port_open, &g, &r);
    assert_int_equal(r.status, 405);
    g.method = "DELETE";
    do_req(port_open, &g, &r);
    assert_int_equal(r.status, 405);
}

typedef struct get_arg {
    const char *sid;
    resp r;
} get_arg;

static void *long_get(void *p)
{
    get_arg *g = p;
    reqopts o = {.method = "GET",
                 .token = "alice",
                 .session = g->sid,
                 .accept = "text/event-stream",
                 .timeout_ms = 2500};
    do_req(port_auth, &o, &g->r);
    return NULL;
}

static void test_get_stream(void **state)
{
    (void)state;
    char s[128];
    open_session("alice", "2025-11-25", s);
    static get_arg g;
    memset(&g, 0, sizeof(g));
    g.sid = s;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, long_get, &g), 0);
    sleep_ms(300);
    resp r;
    reqopts second = {.method = "GET",
                      .token = "alice",
                      .session = s,
                      .accept = "text/event-stream",
                      .timeout_ms = 1000};
    do_req(port_auth, &second, &r);
    assert_int_equal(r.status, 409);
    reqopts na = {.method = "GET", .token = "alice", .session = s, .accept = "application/json"};
    do_req(port_auth, &na, &r);
    assert_int_equal(r.status, 406);
    /* DELETE ends the session and its stream. */
    sleep_ms(2300); /* heartbeat period 1 s, swept once a second: at least one ": ping" */
    reqopts d = {.method = "DELETE", .token = "alice", .session = s};
    do_req(port_auth, &d, &r);
    assert_int_equal(r.status, 200);
    pthread_join(t, NULL);
    assert_int_equal(g.r.status, 200);
    assert_non_null(strstr(g.r.hdrs, "text/event-stream"));
    assert_non_null(strstr(g.r.body, ": ping\n\n"));
}

static void test_keep_alive(void **state)
{
    (void)state;
    char s[128];
    open_session("alice", "2025-11-25", s);
    CURL *c = curl_easy_init();
    resp r;
    reqopts o = {.token = "alice", .session = s, .body = PING, .reuse = c};
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 1);
    o.body = CALL("echo", "{\"text\":\"again\"}");
    do_req(port_auth, &o, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 0); /* reused */
    assert_null(hdr(&r, "Connection"));
    curl_easy_cleanup(c);
}

typedef struct slow_arg {
    unsigned port;
    const char *session;
    const char *body;
    const char *method;
    resp r;
} slow_arg;

static void *slow_call(void *p)
{
    slow_arg *a = p;
    reqopts o = {.body = a->body,
                 .session = a->session,
                 .method = a->method,
                 .accept = a->method != NULL ? "text/event-stream" : NULL,
                 .timeout_ms = 8000};
    do_req(a->port, &o, &a->r);
    return NULL;
}

static char *open_plain_session(unsigned port, char *out)
{
    resp r;
    reqopts o = {.body = INIT_BODY("2025-11-25")};
    do_req(port, &o, &r);
    assert_int_equal(r.status, 200);
    strcpy(out, hdr(&r, "Mcp-Session-Id"));
    return out;
}

#define SLOW_STREAMED                                                                              \
    "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\","       \
    "\"arguments\":{},\"_meta\":{\"progressToken\":1}}}"

/* Stop while a JSON call, a streamed call and a GET stream are open: the calls finish, the
 * GET stream is ended, stop returns, and new connections are refused. */
static void test_graceful_stop(void **state)
{
    (void)state;
    dmcp_server *s;
    dmcp_error err;
    assert_int_equal(dmcp_server_new("stop", "1", &s), DMCP_OK);
    add_tools(s);
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_start(s, &err), DMCP_OK);
    unsigned port = dmcp_server_port(s);
    char sid[128];
    open_plain_session(port, sid);
    static slow_arg a[3];
    memset(a, 0, sizeof(a));
    a[0] = (slow_arg){port, sid, CALL("slow", "{}"), NULL, {0}};
    a[1] = (slow_arg){port, sid, SLOW_STREAMED, NULL, {0}};
    a[2] = (slow_arg){port, sid, NULL, "GET", {0}};
    pthread_t t[3];
    atomic_store(&slow_started, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, slow_call, &a[i]), 0);
    }
    /* Wait until both calls run and the GET stream is attached (bounded). */
    bool ready = false;
    for (int i = 0; i < 300 && !ready; i++) {
        sleep_ms(10);
        dmcp__session *sess = dmcp__sessions_find(s->sessions, sid);
        assert_non_null(sess);
        pthread_mutex_lock(&sess->mu);
        ready = sess->get_stream != NULL && atomic_load(&slow_started) == 2;
        pthread_mutex_unlock(&sess->mu);
        dmcp__session_unref(sess);
    }
    assert_true(ready);
    time_t before = time(NULL);
    dmcp_server_stop(s); /* must let the in-flight calls finish */
    assert_true(time(NULL) - before < 5);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].r.status, 200);
    }
    assert_non_null(strstr(a[0].r.body, "slow done"));
    assert_non_null(strstr(a[1].r.body, "slow done"));
    assert_string_equal(hdr(&a[1].r, "Content-Type"), "text/event-stream");
    assert_int_equal(dmcp_server_port(s), 0);
    resp r;
    reqopts o = {.body = PING, .timeout_ms = 1000};
    do_req(port, &o, &r);
    assert_int_equal(r.status, 0);
    dmcp_server_free(s);
}

typedef struct run_arg {
    dmcp_server *srv;
    dmcp_status rc;
} run_arg;

static void *run_thread(void *p)
{
    run_arg *a = p;
    a->rc = dmcp_server_run(a->srv, NULL);
    return NULL;
}

/* dmcp_server_run serves until SIGTERM, then returns DMCP_OK. */
static void test_run_until_sigterm(void **state)
{
    (void)state;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old); /* the test process must not die */
    static run_arg a;
    assert_int_equal(dmcp_server_new("run", "1", &a.srv), DMCP_OK);
    add_tools(a.srv);
    assert_int_equal(dmcp_server_set_listen(a.srv, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_stateless(a.srv, true), DMCP_OK);
    a.rc = DMCP_E_INTERNAL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_thread, &a), 0);
    unsigned port = 0;
    for (int i = 0; i < 200 && port == 0; i++) {
        sleep_ms(10);
        port = dmcp_server_port(a.srv);
    }
    assert_true(port > 0);
    resp r;
    reqopts o = {.body = PING};
    do_req(port, &o, &r);
    assert_int_equal(r.status, 200);
    pthread_kill(t, SIGTERM);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, DMCP_OK);
    assert_int_equal(dmcp_server_port(a.srv), 0);
    dmcp_server_free(a.srv);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Writes a self-signed P-256 certificate for IP 127.0.0.1 and its key to temp files. */
static void make_cert(char *cert_path, char *key_path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(k);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1,
                               0);
    X509_set_issuer_name(x, n);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    strcpy(cert_path, "/tmp/dmcp-test-cert-XXXXXX");
    strcpy(key_path, "/tmp/dmcp-test-key-XXXXXX");
    int cf = mkstemp(cert_path), kf = mkstemp(key_path);
    assert_true(cf >= 0 && kf >= 0);
    FILE *c = fdopen(cf, "w"), *kk = fdopen(kf, "w");
    assert_true(PEM_write_X509(c, x) == 1);
    assert_true(PEM_write_PrivateKey(kk, k, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(c);
    fclose(kk);
    X509_free(x);
    EVP_PKEY_free(k);
}

/* Native HTTPS (libmicrohttpd + GnuTLS), verified by libcurl against the certificate. */
static void test_tls(void **state)
{
    (void)state;
    char cert[64], key[64];
    make_cert(cert, key);
    dmcp_server *s;
    dmcp_error err;
    assert_int_equal(dmcp_server_new("tls", "1", &s), DMCP_OK);
    add_tools(s);
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_stateless(s, true), DMCP_OK);
    assert_int_equal(dmcp_server_set_tls_files(s, cert, key), DMCP_OK);
    assert_int_equal(dmcp_server_start(s, &err), DMCP_OK);
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/mcp", dmcp_server_port(s));
    CURL *c = curl_easy_init();
    resp r;
    memset(&r, 0, sizeof(r));
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json, text/event-stream");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, CALL("echo", "{\"text\":\"over tls\"}"));
    curl_easy_setopt(c, CURLOPT_CAINFO, cert);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    CURLcode cc = curl_easy_perform(c);
    assert_int_equal(cc, CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "over tls"));
    /* Plain HTTP to the TLS port does not get an MCP answer. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", dmcp_server_port(s));
    memset(&r, 0, sizeof(r));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_perform(c);
    assert_null(strstr(r.body, "over tls"));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    dmcp_server_free(s);
    /* A missing key file is a configuration error at start. */
    assert_int_equal(dmcp_server_new("tls", "1", &s), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_tls_files(s, cert, "/nonexistent/key.pem"), DMCP_OK);
    assert_int_equal(dmcp_server_start(s, &err), DMCP_E_CONFIG);
    dmcp_server_free(s);
    unlink(cert);
    unlink(key);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initialize_and_sessions),
        cmocka_unit_test(test_protocol_version_header),
        cmocka_unit_test(test_origin_and_host),
        cmocka_unit_test(test_content_negotiation_and_limits),
        cmocka_unit_test(test_notifications_202),
        cmocka_unit_test(test_tools_and_sse),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_bad_input_keeps_serving),
        cmocka_unit_test(test_authorizer),
        cmocka_unit_test(test_keyless_principal),
        cmocka_unit_test(test_public_routes_and_preflight),
        cmocka_unit_test(test_stateless),
        cmocka_unit_test(test_get_stream),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_run_until_sigterm),
        cmocka_unit_test(test_tls),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
