/*
 * The 2026-07-28 path's security checks, each hit from outside over loopback (raw bytes, a
 * mock authorizer with principals alice and bob):
 *  - requestState: tampered (answers rewritten, MAC kept), expired (validly sealed with the
 *    server key but past its expiry), replayed by another principal, replayed on another
 *    tool: each refused with -32602 and never reaches the tool;
 *  - MCP-Protocol-Version absent or different from the _meta version: 400 / -32020;
 *  - Mcp-Method and Mcp-Name absent or mismatched: 400 / -32020;
 *  - an unsupported version: 400 / -32022 with data{supported, requested};
 *  - _meta without its required keys: 400 / -32602;
 *  - GET and DELETE under 2026-07-28: 405;
 * and subscriptions/listen (acknowledged first, tagged, only what was asked for, counted
 * against the stream limit), input-required results from a prompt.
 */
#include <stdlib.h>

#include "mcp_test.h"
#include "raw_http.h"

static const unsigned char KEY[32] = "0123456789abcdef0123456789abcdef";

static dmcp_status authenticate(void *ud, const dmcp_http_request *req, dmcp_principal **out,
                                dmcp_http_response **refusal)
{
    (void)ud;
    static const char *const users[] = {"alice", "bob"};
    const char *h = dmcp_http_request_header(req, "Authorization", 0);
    for (size_t i = 0; h != NULL && i < sizeof(users) / sizeof(users[0]); i++) {
        if (strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, users[i]) == 0) {
            char key[64];
            snprintf(key, sizeof(key), "iss|%s", users[i]);
            assert_int_equal(dmcp_principal_new(key, out), DMCP_OK);
            return DMCP_OK;
        }
    }
    assert_int_equal(dmcp_http_response_new(401, refusal), DMCP_OK);
    return DMCP_E_INVALID_TOKEN;
}

static int g_authorize_calls;

/* Only alice holds "admin": everyone else gets the 403 step-up. */
static dmcp_status authorize_tool(void *ud, const dmcp_principal *principal, const char *tool_name,
                                  const char *const *required, size_t n_required,
                                  dmcp_http_response **refusal, char **tool_error)
{
    (void)ud;
    (void)tool_name;
    (void)tool_error;
    g_authorize_calls++;
    assert_int_equal(n_required, 1);
    assert_string_equal(required[0], "admin");
    if (strcmp(dmcp_principal_binding_key(principal), "iss|alice") == 0) {
        return DMCP_OK;
    }
    assert_int_equal(dmcp_http_response_new(403, refusal), DMCP_OK);
    assert_int_equal(
        dmcp_http_response_add_header(*refusal, "WWW-Authenticate",
                                      "Bearer error=\"insufficient_scope\", scope=\"admin\""),
        DMCP_OK);
    return DMCP_E_INSUFFICIENT_SCOPE;
}

static dmcp_status t_admin(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    (void)ud;
    return dmcp_result_add_text(res, "admin done");
}

static int g_tool_runs_with_answer; /* runs that got an answer (a refused state must not) */

/* Asks for one value (key "k") and echoes it. */
static dmcp_status t_ask(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    json_t *schema =
        json_pack("{s:s,s:{s:{s:s}}}", "type", "object", "properties", "v", "type", "string");
    json_t *ans = NULL;
    dmcp_call_set_input_key(call, "k");
    dmcp_status st = dmcp_call_elicit(call, "value?", schema, 1000, &ans);
    json_decref(schema);
    if (st != DMCP_OK) {
        return st;
    }
    g_tool_runs_with_answer++;
    char text[128];
    snprintf(text, sizeof(text), "got %s",
             json_string_value(json_object_get(json_object_get(ans, "content"), "v")));
    json_decref(ans);
    return dmcp_result_add_text(res, text);
}

static dmcp_status p_ask(const json_t *args, dmcp_prompt_result *r, void *ud)
{
    (void)args;
    (void)ud;
    dmcp_call *call = dmcp_prompt_result_call(r);
    json_t *schema =
        json_pack("{s:s,s:{s:{s:s}}}", "type", "object", "properties", "v", "type", "string");
    json_t *ans = NULL;
    dmcp_call_set_input_key(call, "ctx");
    dmcp_status st = dmcp_call_elicit(call, "context?", schema, 1000, &ans);
    json_decref(schema);
    if (st == DMCP_E_INPUT_REQUIRED) {
        return st;
    }
    char text[128];
    snprintf(text, sizeof(text), "context %s",
             st == DMCP_OK
                 ? json_string_value(json_object_get(json_object_get(ans, "content"), "v"))
                 : "none");
    json_decref(ans);
    return dmcp_prompt_result_add_text(r, DMCP_ROLE_USER, text);
}

static dmcp_server *start(unsigned *port, double streams_per_principal)
{
    dmcp_server *s;
    dmcp_error err;
    assert_int_equal(dmcp_server_new("era26", "1", &s), DMCP_OK);
    static const char *const names[] = {"ask", "ask2"};
    for (size_t i = 0; i < 2; i++) {
        dmcp_tool *t;
        assert_int_equal(dmcp_tool_new(names[i], t_ask, NULL, &t), DMCP_OK);
        assert_int_equal(dmcp_server_add_tool(s, t), DMCP_OK);
    }
    dmcp_tool *adm;
    assert_int_equal(dmcp_tool_new("admin", t_admin, NULL, &adm), DMCP_OK);
    assert_int_equal(dmcp_tool_add_required_scope(adm, "admin"), DMCP_OK);
    assert_int_equal(dmcp_server_add_tool(s, adm), DMCP_OK);
    static const char *const uris[] = {"test://watched", "test://other"};
    for (size_t i = 0; i < 2; i++) {
        dmcp_resource *r;
        assert_int_equal(dmcp_resource_new(uris[i], uris[i] + 7, &r), DMCP_OK);
        assert_int_equal(dmcp_resource_set_text(r, "x"), DMCP_OK);
        assert_int_equal(dmcp_server_add_resource(s, r), DMCP_OK);
    }
    dmcp_prompt *p;
    assert_int_equal(dmcp_prompt_new("askp", p_ask, NULL, &p), DMCP_OK);
    assert_int_equal(dmcp_server_add_prompt(s, p), DMCP_OK);
    dmcp_authorizer *az;
    assert_int_equal(dmcp_authorizer_new(NULL, NULL, &az), DMCP_OK);
    dmcp_authorizer_set_authenticate(az, authenticate);
    dmcp_authorizer_set_authorize_tool(az, authorize_tool);
    assert_int_equal(dmcp_server_set_authorizer(s, az), DMCP_OK);
    assert_int_equal(dmcp_server_set_state_key(s, KEY, sizeof(KEY)), DMCP_OK);
    assert_int_equal(dmcp_server_set_list_changed(s, DMCP_LIST_TOOLS | DMCP_LIST_PROMPTS), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_threads(s, 4), DMCP_OK);
    if (streams_per_principal > 0) {
        assert_int_equal(
            dmcp_server_set_limit(s, DMCP_LIMIT_MAX_STREAMS_PER_PRINCIPAL, streams_per_principal),
            DMCP_OK);
    }
    assert_int_equal(dmcp_server_start(s, &err), DMCP_OK);
    *port = dmcp_server_port(s);
    return s;
}

#define META_CAPS(caps)                                                                            \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                       \
    "\"io.modelcontextprotocol/clientCapabilities\":" caps "}"
#define META META_CAPS("{\"elicitation\":{}}")

/* The headers a 2026 client sends for method (and name, or NULL). */
static void std_headers(char *out, size_t n, const char *method, const char *name)
{
    int k = snprintf(out, n, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: %s\r\n", method);
    if (name != NULL) {
        snprintf(out + k, n - (size_t)k, "Mcp-Name: %s\r\n", name);
    }
}

/* A POST of body as user with the given extra header lines; x receives the answer. */
static void post(unsigned port, const char *user, const char *headers, const char *body,
                 exchange *x)
{
    char req[16384];
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
             "%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             user, headers, strlen(body), body);
    raw_to(port, req, x, 3000);
}

/* The JSON body of a plain JSON answer (new reference), or NULL. */
static json_t *body_of(const exchange *x)
{
    const char *b = strstr(x->data, "\r\n\r\n");
    return b != NULL ? json_loads(b + 4, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

static json_int_t error_code(const json_t *j)
{
    return json_integer_value(json_object_get(json_object_get(j, "error"), "code"));
}

/* tools/call name as user with extra params (a JSON fragment starting with ',' or ""). */
static json_t *call_tool(unsigned port, const char *user, const char *name, const char *extra,
                         int *status)
{
    char h[256], body[12288];
    std_headers(h, sizeof(h), "tools/call", name);
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{" META
             ",\"name\":\"%s\",\"arguments\":{}%s}}",
             name, extra);
    exchange x;
    post(port, user, h, body, &x);
    *status = status_of(&x);
    return body_of(&x);
}

/* Round one of "ask" as alice: the requestState it hands out (malloc'd). */
static char *first_round(unsigned port, const char *tool)
{
    int st = 0;
    json_t *j = call_tool(port, "alice", tool, "", &st);
    assert_int_equal(st, 200);
    json_t *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "input_required");
    assert_non_null(json_object_get(json_object_get(res, "inputRequests"), "k"));
    const char *rs = json_string_value(json_object_get(res, "requestState"));
    assert_non_null(rs);
    char *out = strdup(rs);
    json_decref(j);
    return out;
}

/* ---- base64url (test side: to rewrite and to forge states) ---- */

static const char B64U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64u_enc(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = B64U[(v >> 18) & 63];
        out[o++] = B64U[(v >> 12) & 63];
        if (i + 1 < len) {
            out[o++] = B64U[(v >> 6) & 63];
        }
        if (i + 2 < len) {
            out[o++] = B64U[v & 63];
        }
    }
    out[o] = '\0';
    return out;
}

static char *b64u_dec(const char *in, size_t len)
{
    char *out = calloc(len, 1);
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        acc = acc << 6 | (unsigned)(strchr(B64U, in[i]) - B64U);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    return out;
}

/* payload (JSON text) sealed with mac_of: "<b64u(payload)>.<b64u(HMAC(key, b64u part))>". */
static char *seal_with(const char *payload, const char *mac_of_state)
{
    char *p = b64u_enc((const unsigned char *)payload, strlen(payload));
    const char *dot = strchr(mac_of_state, '.');
    char *out = malloc(strlen(p) + 64 + 2);
    if (dot != NULL) { /* keep another state's MAC */
        sprintf(out, "%s%s", p, dot);
    } else {
        unsigned char mac[32];
        assert_int_equal(dmcp__hmac_sha256(KEY, sizeof(KEY), p, strlen(p), mac), DMCP_OK);
        char *m = b64u_enc(mac, sizeof(mac));
        sprintf(out, "%s.%s", p, m);
        free(m);
    }
    free(p);
    return out;
}

/* The state's payload as JSON (new reference). */
static json_t *payload_of(const char *state)
{
    const char *dot = strchr(state, '.');
    char *js = b64u_dec(state, (size_t)(dot - state));
    json_t *j = json_loads(js, 0, NULL);
    free(js);
    assert_non_null(j);
    return j;
}

#define ANSWER "{\"k\":{\"action\":\"accept\",\"content\":{\"v\":\"EVIL\"}}}"

/* Round two with state (and no inputResponses: what it claims is all the tool can get). */
static void expect_refused(unsigned port, const char *user, const char *tool, const char *state)
{
    char extra[8192];
    snprintf(extra, sizeof(extra), ",\"requestState\":\"%s\"", state);
    int before = g_tool_runs_with_answer, st = 0;
    json_t *j = call_tool(port, user, tool, extra, &st);
    if (error_code(j) != DMCP_JSONRPC_INVALID_PARAMS) {
        char *s = json_dumps(j, 0);
        fail_msg("state accepted (%s as %s): %s", tool, user, s);
    }
    assert_int_equal(g_tool_runs_with_answer, before);
    json_decref(j);
}

static void test_state_genuine_round_trip(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(&port, 0);
    char *rs = first_round(port, "ask");
    char extra[8192];
    snprintf(extra, sizeof(extra), ",\"requestState\":\"%s\",\"inputResponses\":" ANSWER, rs);
    int st = 0;
    json_t *j = call_tool(port, "alice", "ask", extra, &st);
    json_t *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "complete");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(res, "content"), 0), "text")),
                        "got EVIL");
    json_decref(j);
    free(rs);
    dmcp_server_free(s);
}

static void test_state_tampered(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(&port, 0);
    char *rs = first_round(port, "ask");
    json_t *p = payload_of(rs);
    json_object_set_new(p, "a", json_loads(ANSWER, 0, NULL)); /* smuggle an answer in */
    char *js = json_dumps(p, JSON_COMPACT);
    char *forged = seal_with(js, rs); /* the original MAC over other bytes */
    expect_refused(port, "alice", "ask", forged);
    /* The same rewrite sealed with the server's key is accepted: only the MAC refused it. */
    char *sealed = seal_with(js, "");
    int st = 0;
    char extra[8192];
    snprintf(extra, sizeof(extra), ",\"requestState\":\"%s\"", sealed);
    json_t *j = call_tool(port, "alice", "ask", extra, &st);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "result"), "resultType")), "complete");
    json_decref(j);
    free(sealed);
    free(forged);
    free(js);
    json_decref(p);
    free(rs);
    dmcp_server_free(s);
}

static void test_state_expired(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(&port, 0);
    char *rs = first_round(port, "ask");
    json_t *p = payload_of(rs);
    json_object_set_new(p, "a", json_loads(ANSWER, 0, NULL));
    json_object_set_new(p, "e", json_integer((json_int_t)time(NULL) - 5));
    char *js = json_dumps(p, JSON_COMPACT);
    char *expired = seal_with(js, ""); /* a genuine MAC: only the expiry is wrong */
    expect_refused(port, "alice", "ask", expired);
    free(expired);
    free(js);
    json_decref(p);
    free(rs);
    dmcp_server_free(s);
}

static void test_state_other_principal_and_tool(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(&port, 0);
    char *rs = first_round(port, "ask");
    json_t *p = payload_of(rs);
    json_object_set_new(p, "a", json_loads(ANSWER, 0, NULL));
    char *js = json_dumps(p, JSON_COMPACT);
    char *full = seal_with(js, "");              /* alice's state for "ask", carrying an answer */
    expect_refused(port, "bob", "ask", full);    /* another principal */
    expect_refused(port, "alice", "ask2", full); /* another tool */
    free(full);
    free(js);
    json_decref(p);
    free(rs);
    dmcp_server_free(s);
}

/* A tools/call of "ask" with these headers (NULL: the standard ones) and _meta. */
static json_t *call_with(unsigned port, const char *headers, const char *meta, int *status)
{
    char h[512], body[4096];
    if (headers == NULL) {
        std_headers(h, sizeof(h), "tools/call", "ask");
        headers = h;
    }
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{%s%s"
             "\"name\":\"ask\",\"arguments\":{}}}",
             meta, meta[0] != '\0' ? "," : "");
    exchange x;
    post(port, "alice", headers, body, &x);
    *status = status_of(&x);
    return body_of(&x);
}

static void expect_error(unsigned port, const char *headers, const char *meta, int http,
                         json_int_t code, const char *what)
{
    int st = 0;
    json_t *j = call_with(port, headers, meta, &st);
    if (st != http || error_code(j) != code) {
        char *s = json_dumps(j, 0);
        fail_msg("%s: HTTP %d, %s (want %d / %lld)", what, st, s, http, (long long)code);
    }
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 9);
    json_decref(j);
}

static void test_headers(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(&port, 0);
    int st = 0;
    json_t *ok = call_with(port, NULL, META, &st); /* the standard request is served */
    assert_int_equal(st, 200);
    assert_non_null(json_object_get(ok, "result"));
    json_decref(ok);
    const json_int_t HM = DMCP__JSONRPC_HEADER_MISMATCH;
    expect_error(port,
                 "MCP-Protocol-Version: 2025-11-25\r\nMcp-Method: tools/call\r\nMcp-Name: ask\r\n",
                 META, 400, HM, "version header differs from _meta");
    expect_error(port, "Mcp-Method: tools/call\r\nMcp-Name: ask\r\n", META, 400, HM,
                 "no version header");
    expect_error(port, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Name: ask\r\n", META, 400, HM,
                 "no Mcp-Method");
    expect_error(port,
                 "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\nMcp-Name: ask\r\n",
                 META, 400, HM, "Mcp-Method mismatched");
    expect_error(port, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n", META, 400,
                 HM, "no Mcp-Name");
    expect_error(port,
                 "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: ask2\r\n",
                 META, 400, HM, "Mcp-Name mismatched");
    /* _meta without its required keys (the header says 2026). */
    expect_error(port, NULL, "", 400, DMCP_JSONRPC_INVALID_PARAMS, "no _meta");
    expect_error(port, NULL,
                 "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}", 400,
                 DMCP_JSONRPC_INVALID_PARAMS, "no clientCapabilities");
    expect_error(port, NULL, "\"_meta\":{\"io.modelcontextprotocol/clientCapabilities\":{}}", 400,
                 DMCP_JSONRPC_INVALID_PARAMS, "no protocolVersion");
    /* An unsupported version, consistent in header and _meta. */
    st = 0;
    json_t *j = call_with(
        port, "MCP-Protocol-Version: 2099-01-01\r\nMcp-Method: tools/call\r\nMcp-Name: ask\r\n",
        "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2099-01-01\","
        "\"io.modelcontextprotocol/clientCapabilities\":{}}",
        &st);
    assert_int_equal(st, 400);
    assert_int_equal(error_code(j), DMCP__JSONRPC_UNSUPPORTED_VERSION);
    json_t *data = json_object_get(json_object_get(j, "error"), "data");
    assert_string_equal(json_string_value(json_object_get(data, "requested")), "2099-01-01");
    assert_string_equal(json_string_value(json_array_get(json_object_get(data, "supported"), 0)),
                        "2026-07-28");
    json_decref(j);
    dmcp_server_free(s);
}

static void test_get_delete_405(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(&port, 0);
    static const char *const methods[] = {"GET", "DELETE"};
    for (size_t i = 0; i < 2; i++) {
        char req[512];
        snprintf(req, sizeof(req),
                 "%s /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer alice\r\n"
                 "Accept: text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
                 "Connection: close\r\n\r\n",
                 methods[i]);
        exchange x;
        raw_to(port, req, &x, 2000);
        if (status_of(&x) != 405) {
            fail_msg("%s under 2026-07-28: HTTP %d", methods[i], status_of(&x));
        }
    }
    dmcp_server_free(s);
}

/* Opens a listen stream as user with this notifications filter; returns its socket. */
static int open_listen(unsigned port, const char *user, const char *filter, int id, exchange *x)
{
    int fd = dial_from(port, NULL);
    assert_true(fd >= 0);
    char body[1024], req[2048];
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"subscriptions/listen\",\"params\":{" META
             ",\"notifications\":%s}}",
             id, filter);
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
             "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: subscriptions/listen\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             user, strlen(body), body);
    send_all(fd, req, strlen(req));
    read_answer(fd, x, 300);
    return fd;
}

static void test_listen(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(&port, 2);
    exchange a, b, c;
    int fa = open_listen(port, "alice", "{\"toolsListChanged\":true}", 41, &a);
    int fb = open_listen(port, "alice",
                         "{\"promptsListChanged\":true,\"resourcesListChanged\":true,"
                         "\"resourceSubscriptions\":[\"test://watched\"]}",
                         42, &b);
    assert_int_equal(status_of(&a), 200);
    assert_true(has_header(&a, "text/event-stream"));
    /* Acknowledged first, tagged with the listen request's id, with what is honoured. */
    const char *ack = strstr(a.data, "data: ");
    assert_non_null(ack);
    assert_true(
        strncmp(ack + 6,
                "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\"",
                68) == 0);
    assert_non_null(strstr(a.data, "\"io.modelcontextprotocol/subscriptionId\":41"));
    /* resources were not declared as changing: not honoured. */
    assert_null(strstr(b.data, "resourcesListChanged"));
    assert_non_null(strstr(b.data, "\"promptsListChanged\":true"));
    assert_non_null(strstr(b.data, "\"resourceSubscriptions\":[\"test://watched\"]"));
    /* A third stream for alice is over her limit of 2. */
    int fc = open_listen(port, "alice", "{\"toolsListChanged\":true}", 43, &c);
    assert_int_equal(status_of(&c), 429);
    close(fc);
    assert_int_equal(dmcp_server_notify_list_changed(s, DMCP_LIST_TOOLS), DMCP_OK);
    read_answer(fa, &a, 300);
    read_answer(fb, &b, 300);
    assert_non_null(strstr(a.data, "notifications/tools/list_changed"));
    assert_non_null(strstr(a.data, "\"io.modelcontextprotocol/subscriptionId\":41"));
    assert_null(strstr(b.data, "notifications/tools/list_changed")); /* not asked for */
    assert_int_equal(dmcp_server_notify_list_changed(s, DMCP_LIST_PROMPTS), DMCP_OK);
    read_answer(fa, &a, 300);
    read_answer(fb, &b, 300);
    assert_null(strstr(a.data, "prompts/list_changed"));
    assert_non_null(strstr(b.data, "notifications/prompts/list_changed"));
    assert_non_null(strstr(b.data, "\"io.modelcontextprotocol/subscriptionId\":42"));
    /* resources/updated: only to the stream subscribed to that uri. */
    assert_int_equal(dmcp_server_notify_resource_updated(s, "test://other"), DMCP_OK);
    assert_int_equal(dmcp_server_notify_resource_updated(s, "test://watched"), DMCP_OK);
    read_answer(fa, &a, 300);
    read_answer(fb, &b, 300);
    assert_null(strstr(a.data, "resources/updated"));
    assert_null(strstr(b.data, "test://other\""));
    assert_non_null(strstr(b.data,
                           "{\"uri\":\"test://watched\",\"_meta\":{\"io.modelcontextprotocol/"
                           "subscriptionId\":42}}"));
    close(fa);
    close(fb);
    dmcp_server_free(s);
}

static void test_prompt_input_required(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(&port, 0);
    char h[256], body[8192];
    std_headers(h, sizeof(h), "prompts/get", "askp");
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"prompts/get\",\"params\":{" META
             ",\"name\":\"askp\"}}");
    exchange x;
    post(port, "alice", h, body, &x);
    json_t *j = body_of(&x);
    json_t *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "input_required");
    assert_non_null(json_object_get(json_object_get(res, "inputRequests"), "ctx"));
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"prompts/get\",\"params\":{" META
             ",\"name\":\"askp\",\"requestState\":\"%s\",\"inputResponses\":{\"ctx\":"
             "{\"action\":\"accept\",\"content\":{\"v\":\"blue\"}}}}}",
             json_string_value(json_object_get(res, "requestState")));
    json_decref(j);
    post(port, "alice", h, body, &x);
    j = body_of(&x);
    res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "complete");
    assert_non_null(strstr(x.data, "context blue"));
    json_decref(j);
    dmcp_server_free(s);
}

/* The headers of a 2026 tools/call of "admin" as user, announcing a body it does not send. */
static int send_head_only(unsigned port, const char *user, const char *name)
{
    int fd = dial_from(port, NULL);
    assert_true(fd >= 0);
    char req[1024];
    snprintf(req, sizeof(req),
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
             "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: %s\r\n"
             "Content-Length: 4000\r\n\r\n",
             user, name);
    send_all(fd, req, strlen(req));
    return fd;
}

static void test_tool_403_before_body(void **state)
{
    (void)state;
    unsigned port;
    dmcp_server *s = start(&port, 0);
    /* bob: refused from the headers alone, while the body is still owed. */
    g_authorize_calls = 0;
    exchange x;
    int fd = send_head_only(port, "bob", "admin");
    read_answer(fd, &x, 1500);
    close(fd);
    if (status_of(&x) != 403) {
        fail_msg("no 403 before the body: %.200s", x.data);
    }
    assert_true(has_header(&x, "insufficient_scope"));
    assert_int_equal(g_authorize_calls, 1);
    /* The same name base64-encoded (=?base64?...?=) is the same tool. */
    fd = send_head_only(port, "bob", "=?base64?YWRtaW4=?=");
    read_answer(fd, &x, 1500);
    close(fd);
    assert_int_equal(status_of(&x), 403);
    /* alice holds the scope: the server waits for her body, then runs the tool. */
    fd = send_head_only(port, "alice", "admin");
    read_answer(fd, &x, 400);
    assert_int_equal(x.len, 0);
    close(fd);
    int st = 0;
    json_t *j = call_tool(port, "alice", "admin", "", &st);
    assert_int_equal(st, 200);
    assert_non_null(strstr(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(j, "result"), "content"), 0), "text")),
        "admin done"));
    json_decref(j);
    /* bob cannot slip past by naming a harmless tool in Mcp-Name: the body must match. */
    char h[256], body[2048];
    std_headers(h, sizeof(h), "tools/call", "ask");
    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{" META
             ",\"name\":\"admin\",\"arguments\":{}}}");
    post(port, "bob", h, body, &x);
    assert_int_equal(status_of(&x), 400);
    assert_null(strstr(x.data, "admin done"));
    /* ...and a full request (headers and body together) is refused as well. */
    j = call_tool(port, "bob", "admin", "", &st);
    assert_int_equal(st, 403);
    json_decref(j);
    dmcp_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_genuine_round_trip),
        cmocka_unit_test(test_state_tampered),
        cmocka_unit_test(test_state_expired),
        cmocka_unit_test(test_state_other_principal_and_tool),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_get_delete_405),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_prompt_input_required),
        cmocka_unit_test(test_tool_403_before_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
