/*
 * calendar-server: the seed's example in C. An MCP server protected by Descope (or any OpenID
 * provider) whose one tool reads the caller's Google Calendar with the caller's own Google
 * token, stored in Descope as an outbound-app connection.
 *
 *   calendar-server [--listen HOST:PORT] --well-known-url URL --mcp-server-url URL
 *                   [--descope-api-base URL] [--calendar-api-base URL]
 *
 * Environment fallbacks: DESCOPE_MCP_WELL_KNOWN_URL, MCP_SERVER_URL, DESCOPE_BASE_URL.
 *
 * The flow of one get_calendar_events call:
 *   1. the glue (dmcp/protect.h) has validated the caller's MCP access token and checked that
 *      it carries calendar.read (403 insufficient_scope otherwise);
 *   2. the tool exchanges that token, and only with Descope, for the caller's "google-calendar"
 *      connection token (dmcp/descope.h; Descope enforces its policies, and the token needs
 *      outbound.token.fetch);
 *   3. the tool calls the Calendar API with the connection token. The MCP access token is never
 *      sent there (MCP 2025-11-25 Authorization, "token passthrough" is forbidden).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include <dmcp/auth.h>
#include <dmcp/common.h>
#include <dmcp/descope.h>
#include <dmcp/protect.h>
#include <dmcp/server.h>
#include <dmcp/store.h>

#define APP_ID "google-calendar"
#define GOOGLE_SCOPE "https://www.googleapis.com/auth/calendar.readonly"
#define TOOL_SCOPE "calendar.read"
#define FETCH_SCOPE "outbound.token.fetch"
#define CALENDAR_MAX_REPLY (4u * 1024u * 1024u) /* generous for 250 events */

typedef struct app {
    dmcp_descope_client *descope; /* shared by all calls (thread-safe once configured) */
    const char *calendar_base;    /* no trailing slash */
} app;

/* ------------------------------------------------------------------------------------------ */
/* The Calendar API call (libcurl: https only except loopback, no redirects, capped, timed)   */
/* ------------------------------------------------------------------------------------------ */

typedef struct reply {
    char *data;
    size_t len;
    bool too_large;
} reply;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    reply *r = ud;
    size_t n = size * nmemb;
    if (r->len + n > CALENDAR_MAX_REPLY) {
        r->too_large = true;
        return 0; /* aborts the transfer */
    }
    char *grown = realloc(r->data, r->len + n + 1);
    if (!grown) {
        return 0;
    }
    memcpy(grown + r->len, ptr, n);
    r->len += n;
    grown[r->len] = '\0';
    r->data = grown;
    return n;
}

/* The Calendar API base must be https, or http on a loopback host (tests, the sandbox). */
static bool calendar_base_ok(const char *base)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *query = NULL;
    bool ok = false;
    if (!u || curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
        goto out; /* a base URL with a query string cannot take our path */
    }
    bool loopback = strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
                    strcmp(host, "[::1]") == 0;
    ok = strcmp(scheme, "https") == 0 || (strcmp(scheme, "http") == 0 && loopback);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(query);
    curl_url_cleanup(u);
    return ok;
}

/*
 * GET <base>/calendar/v3/calendars/primary/events with the connection token. Returns the HTTP
 * status (0 when no reply) and the body in *out; *why names a transport failure.
 */
static long calendar_get(const app *a, const char *connection_token, long max_results, reply *out,
                         const char **why)
{
    char now[32], url[2048];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm); /* RFC 3339, UTC */
    /* ':' needs no escaping in a query (RFC 3986 §3.4); the other parameters are fixed. */
    int n = snprintf(url, sizeof url,
                     "%s/calendar/v3/calendars/primary/events?timeMin=%s&maxResults=%ld"
                     "&orderBy=startTime&singleEvents=true",
                     a->calendar_base, now, max_results);
    if (n < 0 || (size_t)n >= sizeof url) {
        *why = "the calendar API URL is too long";
        return 0;
    }

    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char *auth = NULL;
    long status = 0;
    size_t alen = strlen("Authorization: Bearer ") + strlen(connection_token) + 1;
    auth = malloc(alen);
    if (!h || !auth) {
        *why = "out of memory";
        goto out;
    }
    snprintf(auth, alen, "Authorization: Bearer %s", connection_token);
    hdrs = curl_slist_append(hdrs, auth);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect would carry the token away */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        *why = "the calendar API timed out";
    } else if (out->too_large) {
        *why = "the calendar API reply is too large";
    } else if (rc != CURLE_OK) {
        *why = "the calendar API is unreachable";
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    }
out:
    if (auth) {
        memset(auth, 0, alen); /* held the connection token */
        free(auth);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return status;
}

/* Google gives {"dateTime":...} for timed events and {"date":...} for all-day ones. */
static json_t *when(const json_t *v)
{
    const char *s = json_string_value(json_object_get(v, "dateTime"));
    if (!s) {
        s = json_string_value(json_object_get(v, "date"));
    }
    return s ? json_string(s) : json_null();
}

/* Copies the fields a client needs from Google's event resources: {"events":[...]}. */
static json_t *events_from(const json_t *items, size_t *count)
{
    json_t *events = json_array();
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        if (!json_is_object(it)) {
            continue;
        }
        json_t *e = json_object();
        static const char *const keep[] = {"id", "summary", "status", "location", "htmlLink"};
        for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
            const json_t *s = json_object_get(it, keep[k]);
            if (json_is_string(s)) {
                json_object_set_new(e, keep[k], json_string(json_string_value(s)));
            }
        }
        json_object_set_new(e, "start", when(json_object_get(it, "start")));
        json_object_set_new(e, "end", when(json_object_get(it, "end")));
        json_array_append_new(events, e);
    }
    *count = json_array_size(events);
    return json_pack("{s:o}", "events", events);
}

/* ------------------------------------------------------------------------------------------ */
/* The tool                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* A tool execution error (isError) with a message for the user. */
__attribute__((format(printf, 2, 3))) static dmcp_status tool_error(dmcp_result *res,
                                                                    const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    dmcp_result_set_error(res, true);
    return dmcp_result_add_text(res, text);
}

/* Turns a failed connection-token fetch into a message for the user (no secrets inside). */
static dmcp_status connection_error(dmcp_result *res, dmcp_status st, const dmcp_error *err,
                                    const char *connect_url)
{
    switch (st) {
    case DMCP_E_NOT_CONNECTED:
        if (connect_url) {
            return tool_error(res,
                              "Your Google Calendar is not connected yet. Connect it here, then "
                              "try again: %s",
                              connect_url);
        }
        return tool_error(res, "Your Google Calendar is not connected yet. Connect the "
                               "\"" APP_ID "\" app in your Descope account, then try again.");
    case DMCP_E_POLICY_DENIED:
        return tool_error(res,
                          "Descope refused to hand out your Google Calendar token (policy "
                          "denied%s%s). The token needs the " FETCH_SCOPE " scope.",
                          err->description[0] ? ": " : "", err->description);
    case DMCP_E_RATE_LIMITED:
        if (err->retry_after > 0) {
            return tool_error(res, "Descope is rate limiting token requests; retry in %ld s.",
                              err->retry_after);
        }
        return tool_error(res, "Descope is rate limiting token requests; retry later.");
    case DMCP_E_UNREACHABLE:
    case DMCP_E_TIMEOUT:
        return tool_error(res,
                          "Descope could not be reached to get your Google Calendar token "
                          "(%s); try again later.",
                          dmcp_strerror(st));
    default:
        return tool_error(res, "Could not get your Google Calendar token: %s%s%s",
                          err->message[0] ? err->message : dmcp_strerror(st),
                          err->code[0] ? " " : "", err->code);
    }
}

static dmcp_status get_calendar_events(dmcp_call *call, const json_t *args, dmcp_result *res,
                                       void *userdata)
{
    const app *a = userdata;
    const dmcp_principal *who = dmcp_call_principal(call);
    const char *user_id = dmcp_principal_user_id(who);
    const char *access_token = dmcp_principal_access_token(who, NULL);
    const json_t *mr = json_object_get(args, "max_results");
    long max_results = mr ? (long)json_integer_value(mr) : 5; /* the schema bounds it 1..250 */
    if (!user_id || !access_token) {
        return tool_error(res, "This tool needs a signed-in user (no access token).");
    }

    /* 1. The caller's Google token from Descope, authorised by the caller's MCP token. */
    const char *const scopes[] = {GOOGLE_SCOPE, NULL};
    dmcp_connection_options *opts = NULL;
    dmcp_connection_token *conn = NULL;
    dmcp_error err = {0};
    reply body = {0};
    json_t *doc = NULL;
    dmcp_status st = dmcp_connection_options_new(&opts);
    if (st == DMCP_OK) {
        /* Cache per principal (issuer + user id + client); ask for the connect URL on 404. */
        st = dmcp_connection_options_set_principal(opts, dmcp_principal_binding_key(who));
    }
    if (st == DMCP_OK) {
        st = dmcp_connection_options_set_fetch_connect_url(opts, true, NULL);
    }
    if (st == DMCP_OK) {
        st = dmcp_descope_user_token(a->descope, access_token, APP_ID, user_id, scopes, opts, &conn,
                                     &err);
    }
    if (st != DMCP_OK) {
        st = connection_error(res, st, &err, dmcp_connection_token_connect_url(conn));
        goto out;
    }

    /* 2. The Calendar API, with the connection token only. */
    const char *why = NULL;
    long http = calendar_get(a, dmcp_connection_token_access_token(conn), max_results, &body, &why);
    if (http == 0) {
        st = tool_error(res, "Could not read your calendar: %s.", why ? why : "no reply");
        goto out;
    }
    if (http == 401 || http == 403) {
        st = tool_error(res,
                        "Google Calendar refused the connection token (HTTP %ld); reconnect "
                        "the \"" APP_ID "\" app and try again.",
                        http);
        goto out;
    }
    doc = body.data ? json_loadb(body.data, body.len, 0, NULL) : NULL;
    const json_t *items = json_object_get(doc, "items");
    if (http != 200 || (items && !json_is_array(items)) || !json_is_object(doc)) {
        st = tool_error(res, "Google Calendar answered HTTP %ld with an unexpected reply.", http);
        goto out;
    }

    /* 3. The result: structured events, and the same as readable text (one block). */
    size_t count = 0;
    json_t *structured = events_from(items, &count);
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    if (!f) {
        json_decref(structured);
        st = DMCP_E_NOMEM;
        goto out;
    }
    if (count == 0) {
        fputs("No upcoming events.", f);
    } else {
        fprintf(f, "%zu upcoming event%s:", count, count == 1 ? "" : "s");
    }
    const json_t *e;
    size_t i;
    json_array_foreach(json_object_get(structured, "events"), i, e)
    {
        const char *summary = json_string_value(json_object_get(e, "summary"));
        const char *start = json_string_value(json_object_get(e, "start"));
        fprintf(f, "\n- %s  %s", start ? start : "?", summary ? summary : "(no title)");
    }
    fclose(f);
    st = dmcp_result_add_text(res, text);
    free(text);
    if (st == DMCP_OK) {
        st = dmcp_result_set_structured(res, structured);
    } else {
        json_decref(structured);
    }
out:
    json_decref(doc);
    free(body.data);
    dmcp_connection_token_free(conn); /* wipes the connection token */
    dmcp_connection_options_free(opts);
    return st;
}

static const char *const INPUT_SCHEMA =
    "{\"type\":\"object\",\"properties\":{\"max_results\":{\"type\":\"integer\","
    "\"minimum\":1,\"maximum\":250,\"default\":5,"
    "\"description\":\"How many upcoming events to return\"}},"
    "\"additionalProperties\":false}";

static dmcp_status add_tool(dmcp_server *srv, app *a)
{
    dmcp_tool *t = NULL;
    dmcp_status st = dmcp_tool_new("get_calendar_events", get_calendar_events, a, &t);
    if (st != DMCP_OK) {
        return st;
    }
    json_t *annotations = json_pack("{s:b, s:b}", "readOnlyHint", 1, "openWorldHint", 1);
    st = dmcp_tool_set_description(t, "Lists your upcoming Google Calendar events");
    if (st == DMCP_OK) {
        st = dmcp_tool_set_input_schema_json(t, INPUT_SCHEMA);
    }
    if (st == DMCP_OK) {
        st = dmcp_tool_set_annotations(t, annotations);
    }
    if (st == DMCP_OK) {
        st = dmcp_tool_add_required_scope(t, TOOL_SCOPE);
    }
    json_decref(annotations);
    if (st != DMCP_OK) {
        dmcp_tool_free(t);
        return st;
    }
    return dmcp_server_add_tool(srv, t);
}

/* ------------------------------------------------------------------------------------------ */
/* Set-up                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* The operational flags (--limit, --metrics-listen, --access-log, --log-level): kept as they
 * come, applied by the library once the server exists (dmcp_server_set_option). */
typedef struct ops_flags {
    const char *name[64];
    const char *value[64];
    int n;
} ops_flags;

static int ops_flag(ops_flags *f, const char *name, const char *value)
{
    if (f->n >= 64) {
        fprintf(stderr, "too many operational flags\n");
        return -1;
    }
    f->name[f->n] = name;
    f->value[f->n++] = value;
    return 0;
}

static dmcp_status apply_ops(dmcp_server *srv, const ops_flags *f, dmcp_error *err)
{
    dmcp_status st = DMCP_OK;
    for (int i = 0; st == DMCP_OK && i < f->n; i++) {
        st = dmcp_server_set_option(srv, f->name[i], f->value[i], err);
    }
    return st;
}

static void print_ops_help(FILE *out)
{
    char *help = dmcp_server_options_help();
    if (help != NULL) {
        fputs(help, out);
    }
    dmcp_free(help);
}


/* --store URL (or DMCP_STORE_URL) and --store-prefix P (issue 10, docs/scaling.md): the state
 * store shared by every instance behind a balancer. A bad URL or prefix: usage error (2). */
static int open_store(const char *prog, const char *url, const char *prefix, dmcp_store **out)
{
    dmcp_error e = {0};
    if (dmcp_store_open_flags(url, prefix, out, &e) != DMCP_OK) {
        fprintf(stderr, "%s: %s\n", prog, e.message);
        return 2;
    }
    return 0;
}

static void usage(FILE *out, const char *argv0)
{
    fprintf(out,
            "usage: %s [--listen HOST:PORT] --well-known-url URL --mcp-server-url URL\n"
            "          [--descope-api-base URL] [--calendar-api-base URL] [--limit NAME=VALUE]... "
            "[--metrics-listen HOST:PORT] [--access-log PATH|-] [--log-level LEVEL]\n"
            "          [--store memory:|redis://[:PASSWORD@]HOST:PORT[/DB]] [--store-prefix PREFIX]\n"
            "environment: DESCOPE_MCP_WELL_KNOWN_URL, MCP_SERVER_URL, DESCOPE_BASE_URL, DMCP_STORE_URL\n",
            argv0);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"listen", required_argument, NULL, 'l'},
                                             {"well-known-url", required_argument, NULL, 'w'},
                                             {"mcp-server-url", required_argument, NULL, 'm'},
                                             {"descope-api-base", required_argument, NULL, 'd'},
                                             {"calendar-api-base", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"limit", required_argument, NULL, 'L'},
                                             {"metrics-listen", required_argument, NULL, 'M'},
                                             {"access-log", required_argument, NULL, 'A'},
                                             {"log-level", required_argument, NULL, 'V'},
                                             {"store", required_argument, NULL, 'S'},
                                             {"store-prefix", required_argument, NULL, 'P'},
                                             {NULL, 0, NULL, 0}};
    ops_flags lf = {.n = 0};
    const char *listen = "127.0.0.1:8787";
    const char *well_known = getenv("DESCOPE_MCP_WELL_KNOWN_URL");
    const char *server_url = getenv("MCP_SERVER_URL");
    const char *api_base = NULL; /* dmcp_descope_client_new() reads DESCOPE_BASE_URL itself */
    const char *calendar_base = "https://www.googleapis.com";
    const char *store_url = NULL, *store_prefix = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'w':
            well_known = optarg;
            break;
        case 'm':
            server_url = optarg;
            break;
        case 'd':
            api_base = optarg;
            break;
        case 'c':
            calendar_base = optarg;
            break;
        case 'S':
            store_url = optarg;
            break;
        case 'P':
            store_prefix = optarg;
            break;
        case 'L':
        case 'M':
        case 'A':
        case 'V':
            if (ops_flag(&lf,
                         c == 'L'   ? "limit"
                         : c == 'M' ? "metrics-listen"
                         : c == 'A' ? "access-log"
                                    : "log-level",
                         optarg) != 0) {
                return 2;
            }
            break;
        case 'h':
            usage(stdout, argv[0]);
            print_ops_help(stdout);
            return 0;
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (optind != argc || !well_known || !*well_known || !server_url || !*server_url) {
        fprintf(stderr, "calendar-server: --well-known-url and --mcp-server-url are required\n");
        usage(stderr, argv[0]);
        return 2;
    }
    char base[1024];
    size_t blen = strlen(calendar_base);
    while (blen > 0 && calendar_base[blen - 1] == '/') {
        blen--;
    }
    if (blen == 0 || blen >= sizeof base || !calendar_base_ok(calendar_base)) {
        fprintf(stderr, "calendar-server: --calendar-api-base must be https (or http on "
                        "loopback) without a query\n");
        return 2;
    }
    memcpy(base, calendar_base, blen);
    base[blen] = '\0';
    dmcp_store *store = NULL;
    if (open_store("calendar-server", store_url, store_prefix, &store) != 0) {
        return 2;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 1;
    dmcp_error err = {0};
    dmcp_validator_config *cfg = NULL;
    dmcp_validator *validator = NULL;
    dmcp_protect_options *popts = NULL;
    dmcp_authorizer *authz = NULL;
    dmcp_server *srv = NULL;
    app a = {.descope = NULL, .calendar_base = base};

    /* Who may call: tokens from this issuer, for this server (audience), checked by the glue. */
    dmcp_status st = dmcp_validator_config_new(&cfg);
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_well_known_url(cfg, well_known);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_mcp_server_url(cfg, server_url);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_new(cfg, &validator, &err);
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_options_new(&popts);
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_options_set_resource(popts, server_url);
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_options_add_supported_scope(popts, TOOL_SCOPE);
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_options_add_supported_scope(popts, FETCH_SCOPE);
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_options_set_resource_name(popts, "Calendar (descope-mcp example)");
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_authorizer_new(validator, popts, &authz, &err);
    }
    /* Where the Google token comes from: Descope's outbound-app API for this project. */
    if (st == DMCP_OK) {
        st = dmcp_descope_client_new(well_known, &a.descope, &err);
    }
    if (st == DMCP_OK && api_base) {
        st = dmcp_descope_client_set_api_base(a.descope, api_base);
    }
    if (st == DMCP_OK) {
        st = dmcp_server_new("calendar-server", "0.1.0", &srv);
    }
    if (st == DMCP_OK) {
        st = dmcp_server_set_authorizer(srv, authz);
        authz = NULL; /* the server owns it now, even on failure */
    }
    if (st == DMCP_OK) {
        st = add_tool(srv, &a);
    }
    if (st == DMCP_OK) {
        st = dmcp_server_set_store(srv, store);
    }
    if (st == DMCP_OK) {
        st = dmcp_server_set_listen_string(srv, listen);
    }
    if (st == DMCP_OK) {
        st = apply_ops(srv, &lf, &err);
    }
    if (st != DMCP_OK) {
        fprintf(stderr, "calendar-server: set-up failed: %s\n",
                err.message[0] ? err.message : dmcp_strerror(st));
        rc = 2;
        goto out;
    }
    fprintf(stderr, "calendar-server: serving %s (listening on %s), issuer %s, Descope API %s\n",
            server_url, listen, dmcp_validator_issuer(validator),
            dmcp_descope_client_api_base(a.descope));
    st = dmcp_server_run(srv, &err);
    if (st != DMCP_OK) {
        fprintf(stderr, "calendar-server: %s\n", err.message[0] ? err.message : dmcp_strerror(st));
        goto out;
    }
    rc = 0;
out:
    dmcp_server_free(srv); /* before the validator it borrows */
    dmcp_authorizer_free(authz);
    dmcp_protect_options_free(popts);
    dmcp_validator_free(validator);
    dmcp_validator_config_free(cfg);
    dmcp_descope_client_free(a.descope);
    dmcp_store_free(store); /* after the server that borrowed it */
    curl_global_cleanup();
    return rc;
}
