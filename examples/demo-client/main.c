/*
 * demo-client: the narrated client of scripts/demo.sh. It speaks plain HTTP + JSON-RPC to an
 * MCP server protected by OAuth (the calendar server) and shows, step by step, what an MCP
 * client sees:
 *
 *   1. no token: 401, then discovery of the Protected Resource Metadata (RFC 9728) and, from
 *      it, of the authorization server;
 *   2. a token without calendar.read: 403 insufficient_scope (the step-up challenge);
 *   3. a proper token: the user's calendar events, read through the Descope connection token;
 *   4. a user who has not connected Google Calendar: a clear tool error with the connect URL.
 *
 *   demo-client --mcp-url URL --dev-token-endpoint URL [--dev-client-id ID]
 *               [--user ID] [--unconnected-user ID]
 *
 * Tokens come from the sandbox's development token endpoint (descope-mcp sandbox); the dev
 * client's secret is read from the environment variable DEMO_DEV_CLIENT_SECRET, never argv.
 * Exit 0 when all four steps behaved as expected, 1 otherwise. Colours only on a terminal.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#define MAX_REPLY (1024u * 1024u)

static bool color;

static const char *c_(const char *code)
{
    return color ? code : "";
}
#define BOLD c_("\033[1m")
#define DIM c_("\033[2m")
#define GREEN c_("\033[32m")
#define RED c_("\033[31m")
#define CYAN c_("\033[36m")
#define RESET c_("\033[0m")

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP                                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct http_reply {
    long status;
    char *body;
    size_t len;
    char www_authenticate[2048];
    char session_id[256];
    char content_type[128];
} http_reply;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    http_reply *r = ud;
    size_t k = size * n;
    if (r->len + k > MAX_REPLY) {
        return 0;
    }
    char *g = realloc(r->body, r->len + k + 1);
    if (!g) {
        return 0;
    }
    memcpy(g + r->len, p, k);
    r->len += k;
    g[r->len] = '\0';
    r->body = g;
    return k;
}

/* Keeps the value of a header we care about (trimmed). */
static void keep_header(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
        return;
    }
    const char *v = line + nl + 1;
    size_t vl = len - nl - 1;
    while (vl > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) {
        vl--;
    }
    if (vl >= cap) {
        vl = cap - 1;
    }
    memcpy(dst, v, vl);
    dst[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    http_reply *r = ud;
    size_t k = size * n;
    keep_header(p, k, "WWW-Authenticate", r->www_authenticate, sizeof r->www_authenticate);
    keep_header(p, k, "Mcp-Session-Id", r->session_id, sizeof r->session_id);
    keep_header(p, k, "Content-Type", r->content_type, sizeof r->content_type);
    return k;
}

/* One request. body NULL = GET. Returns false when there was no HTTP reply at all. */
static bool http(const char *method, const char *url, struct curl_slist *hdrs, const char *body,
                 const char *userpwd, http_reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *h = curl_easy_init();
    if (!h) {
        return false;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    if (userpwd) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    }
    curl_easy_cleanup(h);
    return rc == CURLE_OK;
}

static void reply_free(http_reply *r)
{
    free(r->body);
    r->body = NULL;
}

static json_t *get_json(const char *url)
{
    http_reply r;
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    json_t *doc = NULL;
    if (http("GET", url, h, NULL, NULL, &r) && r.status == 200 && r.body) {
        doc = json_loads(r.body, 0, NULL);
    }
    curl_slist_free_all(h);
    reply_free(&r);
    return doc;
}

/* A quoted auth-param of a challenge (RFC 9110 §11.2), e.g. resource_metadata="...". */
static bool challenge_param(const char *challenge, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = challenge; (p = strstr(p, name)) != NULL; p += nl) {
        bool at_start = p == challenge || p[-1] == ' ' || p[-1] == ',';
        if (!at_start || strncmp(p + nl, "=\"", 2) != 0) {
            continue;
        }
        const char *v = p + nl + 2, *end = strchr(v, '"');
        if (!end || (size_t)(end - v) >= cap) {
            return false;
        }
        memcpy(out, v, (size_t)(end - v));
        out[end - v] = '\0';
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------------------------------ */
/* MCP over Streamable HTTP, just enough for the demo                                          */
/* ------------------------------------------------------------------------------------------ */

typedef struct mcp {
    const char *url;
    char bearer[8192 + 32];
    char session[256];
} mcp;

/* The JSON-RPC reply in a body that is JSON or an SSE stream (its first data: with an id). */
static json_t *rpc_reply(const http_reply *r)
{
    if (!r->body) {
        return NULL;
    }
    if (strncasecmp(r->content_type, "text/event-stream", 17) != 0) {
        return json_loads(r->body, 0, NULL);
    }
    const char *line = r->body;
    while (*line) {
        size_t n = strcspn(line, "\n");
        if (strncmp(line, "data:", 5) == 0) {
            json_t *m = json_loadb(line + 5, n - 5, 0, NULL);
            if (json_object_get(m, "id")) {
                return m;
            }
            json_decref(m);
        }
        line += n + (line[n] == '\n');
    }
    return NULL;
}

static bool mcp_post(mcp *m, const char *body, http_reply *r)
{
    char sid[300];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json, text/event-stream");
    h = curl_slist_append(h, "MCP-Protocol-Version: 2025-11-25");
    if (m->bearer[0]) {
        h = curl_slist_append(h, m->bearer);
    }
    if (m->session[0]) {
        snprintf(sid, sizeof sid, "Mcp-Session-Id: %s", m->session);
        h = curl_slist_append(h, sid);
    }
    bool ok = http("POST", m->url, h, body, NULL, r);
    curl_slist_free_all(h);
    return ok;
}

static const char *const INIT =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"demo-client\",\"version\":"
    "\"1.0\"}}}";

/* initialize + notifications/initialized. Returns the HTTP status of initialize. */
static long mcp_open(mcp *m, const char *token, http_reply *first)
{
    m->bearer[0] = '\0';
    if (token) {
        snprintf(m->bearer, sizeof m->bearer, "Authorization: Bearer %s", token);
    }
    m->session[0] = '\0';
    if (!mcp_post(m, INIT, first)) {
        return 0;
    }
    if (first->status == 200) {
        snprintf(m->session, sizeof m->session, "%s", first->session_id);
        http_reply r;
        mcp_post(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r);
        reply_free(&r);
    }
    return first->status;
}

static void mcp_close(mcp *m)
{
    if (!m->session[0]) {
        return;
    }
    char sid[300];
    snprintf(sid, sizeof sid, "Mcp-Session-Id: %s", m->session);
    struct curl_slist *h = curl_slist_append(NULL, sid);
    h = curl_slist_append(h, m->bearer);
    http_reply r;
    http("DELETE", m->url, h, NULL, NULL, &r);
    reply_free(&r);
    curl_slist_free_all(h);
    m->session[0] = '\0';
    memset(m->bearer, 0, sizeof m->bearer); /* held the token */
}

static long call_tool(mcp *m, const char *name, const char *args_json, http_reply *r)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
             "\"arguments\":%s}}",
             name, args_json);
    return mcp_post(m, body, r) ? r->status : 0;
}

/* Prints the text blocks of a tool result, indented. */
static void print_text(const json_t *result, const char *colour)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(result, "content"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "text"));
        while (t && *t) {
            int n = (int)strcspn(t, "\n");
            say("      %s%.*s%s", colour, n, t, RESET);
            t += n + (t[n] == '\n');
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Tokens from the sandbox's development endpoint                                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct cfg {
    const char *mcp_url, *dev_token_endpoint, *dev_client_id, *user, *unconnected;
    const char *secret;
} cfg;

/* POST /sandbox/token {"sub","scopes","aud"}. Returns a new string (free it) or NULL. */
static char *dev_token(const cfg *c, const char *sub, const char *scopes_csv)
{
    json_t *scopes = json_array();
    char buf[256];
    snprintf(buf, sizeof buf, "%s", scopes_csv);
    for (char *save = NULL, *s = strtok_r(buf, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
        json_array_append_new(scopes, json_string(s));
    }
    json_t *req = json_pack("{s:s, s:o, s:s, s:i}", "sub", sub, "scopes", scopes, "aud", c->mcp_url,
                            "ttl", 600);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char userpwd[512];
    snprintf(userpwd, sizeof userpwd, "%s:%s", c->dev_client_id, c->secret);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    http_reply r;
    char *token = NULL;
    if (body && http("POST", c->dev_token_endpoint, h, body, userpwd, &r) && r.status == 200) {
        json_t *doc = json_loads(r.body ? r.body : "", 0, NULL);
        const char *t = json_string_value(json_object_get(doc, "access_token"));
        token = t ? strdup(t) : NULL;
        json_decref(doc);
    }
    memset(userpwd, 0, sizeof userpwd);
    reply_free(&r);
    curl_slist_free_all(h);
    free(body);
    return token;
}

static void token_free(char *t)
{
    if (t) {
        memset(t, 0, strlen(t));
        free(t);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The four steps                                                                              */
/* ------------------------------------------------------------------------------------------ */

static bool result_line(int step, bool ok, const char *what)
{
    say("  %s%s step %d/4%s %s", ok ? GREEN : RED, ok ? "ok" : "FAILED", step, RESET, what);
    return ok;
}

static bool step1_discovery(const cfg *c)
{
    say("\n%s1. No token%s %s(the client knows only the server URL)%s", BOLD, RESET, DIM, RESET);
    mcp m = {.url = c->mcp_url};
    http_reply r;
    long st = mcp_open(&m, NULL, &r);
    say("   POST %s  ->  HTTP %ld", c->mcp_url, st);
    say("   WWW-Authenticate: %s%s%s", CYAN, r.www_authenticate, RESET);
    char prm_url[1024] = "";
    bool ok = st == 401 &&
              challenge_param(r.www_authenticate, "resource_metadata", prm_url, sizeof prm_url);
    reply_free(&r);
    json_t *prm = ok ? get_json(prm_url) : NULL;
    const char *as =
        json_string_value(json_array_get(json_object_get(prm, "authorization_servers"), 0));
    if (prm) {
        char *scopes = json_dumps(json_object_get(prm, "scopes_supported"), JSON_COMPACT);
        say("   Protected Resource Metadata (%s):", prm_url);
        say("     resource              %s", json_string_value(json_object_get(prm, "resource")));
        say("     authorization_servers %s", as ? as : "(none)");
        say("     scopes_supported      %s", scopes ? scopes : "(none)");
        free(scopes);
    }
    json_t *meta = NULL;
    if (as) {
        /* OpenID Connect Discovery §4: the issuer + "/.well-known/openid-configuration", which
         * Descope (and the sandbox) serve; MCP clients also try RFC 8414's form. */
        char url[1200];
        snprintf(url, sizeof url, "%s/.well-known/openid-configuration", as);
        meta = get_json(url);
        const char *te = json_string_value(json_object_get(meta, "token_endpoint"));
        const char *ae = json_string_value(json_object_get(meta, "authorization_endpoint"));
        say("   Authorization server metadata (%s):", url);
        say("     authorization_endpoint %s", ae ? ae : "(none)");
        say("     token_endpoint         %s", te ? te : "(none)");
    }
    ok = ok && as && json_string_value(json_object_get(meta, "token_endpoint"));
    json_decref(prm);
    json_decref(meta);
    return result_line(1, ok, "401 without a token; PRM and authorization server discovered");
}

static bool step2_insufficient_scope(const cfg *c)
{
    say("\n%s2. A token for %s without calendar.read%s %s(scopes: outbound.token.fetch)%s", BOLD,
        c->user, RESET, DIM, RESET);
    char *tok = dev_token(c, c->user, "outbound.token.fetch");
    mcp m = {.url = c->mcp_url};
    http_reply r = {0}, call = {0};
    bool ok = tok && mcp_open(&m, tok, &r) == 200;
    say("   initialize -> HTTP %ld (the token is valid: the session opens)", r.status);
    long st = ok ? call_tool(&m, "get_calendar_events", "{}", &call) : 0;
    say("   tools/call get_calendar_events  ->  HTTP %ld", st);
    say("   WWW-Authenticate: %s%s%s", CYAN, call.www_authenticate, RESET);
    char err[64] = "";
    ok = ok && st == 403 && challenge_param(call.www_authenticate, "error", err, sizeof err) &&
         strcmp(err, "insufficient_scope") == 0;
    mcp_close(&m);
    reply_free(&r);
    reply_free(&call);
    token_free(tok);
    return result_line(2, ok, "403 insufficient_scope: the client should ask for calendar.read");
}

/* Calls the tool as `user` with a proper token; returns the JSON-RPC result or NULL. */
static json_t *call_as(const cfg *c, const char *user, long *http_status)
{
    char *tok = dev_token(c, user, "calendar.read outbound.token.fetch");
    mcp m = {.url = c->mcp_url};
    http_reply r = {0}, call = {0};
    json_t *result = NULL;
    *http_status = 0;
    if (tok && mcp_open(&m, tok, &r) == 200) {
        *http_status = call_tool(&m, "get_calendar_events", "{\"max_results\":5}", &call);
        json_t *msg = rpc_reply(&call);
        result = json_incref(json_object_get(msg, "result"));
        json_decref(msg);
    }
    mcp_close(&m);
    reply_free(&r);
    reply_free(&call);
    token_free(tok);
    return result;
}

static bool step3_events(const cfg *c)
{
    say("\n%s3. A token for %s with calendar.read + outbound.token.fetch%s", BOLD, c->user, RESET);
    say("   %s(the server exchanges it with Descope for the user's Google token, then calls the "
        "calendar with that token only)%s",
        DIM, RESET);
    long st;
    json_t *res = call_as(c, c->user, &st);
    const json_t *events = json_object_get(json_object_get(res, "structuredContent"), "events");
    say("   tools/call get_calendar_events {max_results:5}  ->  HTTP %ld", st);
    print_text(res, "");
    bool ok = st == 200 && res && !json_is_true(json_object_get(res, "isError")) &&
              json_array_size(events) > 0;
    json_decref(res);
    return result_line(3, ok, "calendar events listed through the connection token");
}

static bool step4_not_connected(const cfg *c)
{
    say("\n%s4. %s has not connected Google Calendar%s", BOLD, c->unconnected, RESET);
    long st;
    json_t *res = call_as(c, c->unconnected, &st);
    say("   tools/call get_calendar_events  ->  HTTP %ld, isError %s", st,
        json_is_true(json_object_get(res, "isError")) ? "true" : "false");
    print_text(res, CYAN);
    const char *text = json_string_value(
        json_object_get(json_array_get(json_object_get(res, "content"), 0), "text"));
    bool ok = st == 200 && json_is_true(json_object_get(res, "isError")) && text &&
              strstr(text, "not connected") && strstr(text, "http");
    json_decref(res);
    return result_line(4, ok, "a clear tool error with the connect URL");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"mcp-url", required_argument, NULL, 'm'},
                                             {"dev-token-endpoint", required_argument, NULL, 't'},
                                             {"dev-client-id", required_argument, NULL, 'i'},
                                             {"user", required_argument, NULL, 'u'},
                                             {"unconnected-user", required_argument, NULL, 'b'},
                                             {NULL, 0, NULL, 0}};
    cfg c = {.dev_client_id = "sandbox-dev", .user = "U2alice", .unconnected = "U2bob"};
    int o;
    while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (o) {
        case 'm':
            c.mcp_url = optarg;
            break;
        case 't':
            c.dev_token_endpoint = optarg;
            break;
        case 'i':
            c.dev_client_id = optarg;
            break;
        case 'u':
            c.user = optarg;
            break;
        case 'b':
            c.unconnected = optarg;
            break;
        default:
            c.mcp_url = NULL;
            break;
        }
    }
    c.secret = getenv("DEMO_DEV_CLIENT_SECRET");
    if (!c.mcp_url || !c.dev_token_endpoint || !c.secret || optind != argc) {
        fprintf(stderr,
                "usage: DEMO_DEV_CLIENT_SECRET=... %s --mcp-url URL "
                "--dev-token-endpoint URL [--dev-client-id ID] [--user ID] "
                "[--unconnected-user ID]\n",
                argv[0]);
        return 2;
    }
    color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int passed = 0;
    passed += step1_discovery(&c);
    passed += step2_insufficient_scope(&c);
    passed += step3_events(&c);
    passed += step4_not_connected(&c);
    curl_global_cleanup();
    say("\n%s%d/4 steps behaved as expected%s", passed == 4 ? GREEN : RED, passed, RESET);
    return passed == 4 ? 0 : 1;
}
