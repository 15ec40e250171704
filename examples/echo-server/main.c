/*
 * mcp-echo-server: a complete protected MCP server in C. Streamable HTTP at /mcp with OAuth
 * access tokens checked on every request (or stdio, without auth, with --stdio).
 *
 *   mcp-echo-server --well-known-url URL [--mcp-server-url URL] [--listen HOST:PORT]
 *                   [--require-scope SCOPE]... [--allow-origin ORIGIN]... [--stateless]
 *   mcp-echo-server --stdio
 *
 * Browser Origins: on a loopback --listen the default admits http(s)://localhost,
 * 127.0.0.1 and [::1] on any port, i.e. any page served from this machine (docs/server.md,
 * "Browser origins"). --allow-origin (repeatable, "scheme://host[:port]") admits exactly the
 * origins listed instead.
 *
 * Environment fallbacks: DESCOPE_MCP_WELL_KNOWN_URL, MCP_SERVER_URL. The MCP server URL is
 * the audience tokens must carry and the resource the metadata advertises (default
 * http://HOST:PORT/mcp from --listen).
 *
 * Tools: echo {text} -> text; whoami {} -> {user_id, scopes, client_id} of the caller;
 * admin_echo {text} -> text, requires the scope admin.write; ask_name {} -> asks the client
 * for a name (elicitation: a server->client request under 2025, an input-required result
 * under 2026-07-28; the handler is written once) and greets it; bump {} -> increments the
 * counter behind the resource echo://counter and notifies its subscribers
 * (resources/subscribe under 2025, subscriptions/listen under 2026-07-28);
 * count {n, interval_ms, close_every} -> "counted N": a streamed tool that sends N numbered
 * progress and log notifications ("event K/N from pid P"), one every interval_ms, and, when
 * close_every > 0, ends its SSE response every close_every events (SSE polling, 2025-11-25)
 * so the client resumes with GET + Last-Event-ID: the scale-out tests use it to move a live
 * stream between instances (docs/scaling.md).
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dmcp/dmcp.h>
#include <dmcp/protect.h>

static dmcp_status echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)ud;
    return dmcp_result_add_text(res, json_string_value(json_object_get(args, "text")));
}

static dmcp_status whoami(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    const dmcp_principal *p = dmcp_call_principal(call); /* NULL on stdio */
    json_t *scopes = json_array();
    for (size_t i = 0; i < dmcp_principal_scope_count(p); i++) {
        json_array_append_new(scopes, json_string(dmcp_principal_scope(p, i)));
    }
    return dmcp_result_set_structured(res, json_pack("{s:s?, s:o, s:s?}", "user_id",
                                                     dmcp_principal_user_id(p), "scopes", scopes,
                                                     "client_id", dmcp_principal_client_id(p)));
}

/* ask_name: one elicitation, then a greeting (or what the user did instead). */
static dmcp_status ask_name(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)args;
    (void)ud;
    json_t *schema = json_pack("{s:s, s:{s:{s:s, s:s}}, s:[s]}", "type", "object", "properties",
                               "name", "type", "string", "title", "Your name", "required", "name");
    json_t *answer = NULL;
    dmcp_status st = dmcp_call_elicit(call, "What is your name?", schema, 60000, &answer);
    json_decref(schema);
    if (st != DMCP_OK) { /* DMCP_E_INPUT_REQUIRED under 2026: the runtime asks and re-runs us */
        json_decref(answer);
        return st;
    }
    const char *action = json_string_value(json_object_get(answer, "action"));
    const char *name = json_string_value(json_object_get(json_object_get(answer, "content"), "name"));
    char text[200];
    if (action != NULL && strcmp(action, "accept") == 0 && name != NULL) {
        snprintf(text, sizeof(text), "Hello, %.150s!", name);
    } else {
        snprintf(text, sizeof(text), "No name given (%.20s)", action != NULL ? action : "?");
    }
    json_decref(answer);
    return dmcp_result_add_text(res, text);
}

/* The counter behind echo://counter, bumped by the bump tool. */
#define COUNTER_URI "echo://counter"
static atomic_ulong counter;

static dmcp_status read_counter(dmcp_contents *out, const char *uri, const json_t *variables,
                                 void *ud)
{
    (void)variables;
    (void)ud;
    char text[32];
    snprintf(text, sizeof(text), "%lu", atomic_load(&counter));
    return dmcp_contents_add_text(out, uri, "text/plain", text);
}

static dmcp_status bump(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)args;
    dmcp_server *srv = ud;
    char text[32];
    snprintf(text, sizeof(text), "%lu", atomic_fetch_add(&counter, 1) + 1);
    dmcp_status st = dmcp_server_notify_resource_updated(srv, COUNTER_URI);
    return st == DMCP_OK ? dmcp_result_add_text(res, text) : st;
}

static dmcp_status add_counter(dmcp_server *srv)
{
    dmcp_resource *r = NULL;
    dmcp_status st = dmcp_resource_new(COUNTER_URI, "counter", &r);
    if (st == DMCP_OK) {
        st = dmcp_resource_set_description(r, "A number the bump tool increments (subscribable)");
    }
    if (st == DMCP_OK) {
        st = dmcp_resource_set_mime_type(r, "text/plain");
    }
    if (st == DMCP_OK) {
        st = dmcp_resource_set_reader(r, read_counter, NULL);
    }
    if (st != DMCP_OK) {
        dmcp_resource_free(r);
        return st;
    }
    return dmcp_server_add_resource(srv, r); /* the server takes r */
}
static dmcp_status count(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)ud;
    json_int_t n = json_integer_value(json_object_get(args, "n"));
    json_int_t interval = json_integer_value(json_object_get(args, "interval_ms"));
    json_int_t close_every = json_integer_value(json_object_get(args, "close_every"));
    char msg[96];
    for (json_int_t k = 1; k <= n; k++) {
        if (dmcp_call_is_cancelled(call)) {
            return DMCP_E_CANCELLED;
        }
        snprintf(msg, sizeof(msg), "event %lld/%lld from pid %ld", (long long)k, (long long)n,
                 (long)getpid());
        dmcp_status st = dmcp_call_progress(call, (double)k, (double)n, msg);
        if (st == DMCP_OK) {
            st = dmcp_call_log(call, DMCP_LOG_INFO, "count", msg);
        }
        if (st != DMCP_OK) {
            return st;
        }
        if (interval > 0) {
            struct timespec ts = {(time_t)(interval / 1000), (long)(interval % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (close_every > 0 && k % close_every == 0 && k < n) {
            (void)dmcp_call_close_stream(call, 50); /* the client comes back with GET */
        }
    }
    snprintf(msg, sizeof(msg), "counted %lld", (long long)n);
    return dmcp_result_add_text(res, msg);
}

static const char *const COUNT_SCHEMA =
    "{\"type\":\"object\",\"properties\":{"
    "\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000},"
    "\"interval_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":5000},"
    "\"close_every\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000}},"
    "\"required\":[\"n\"],\"additionalProperties\":false}";

static const char *const TEXT_SCHEMA =
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
    "\"required\":[\"text\"],\"additionalProperties\":false}";

static dmcp_status add(dmcp_server *srv, const char *name, const char *desc, dmcp_tool_fn fn,
                       const char *schema, const char *scope)
{
    dmcp_tool *t = NULL;
    dmcp_status st = dmcp_tool_new(name, fn, srv, &t);
    if (st == DMCP_OK && fn == ask_name) {
        dmcp_tool_set_streaming(t, true); /* 2025: its elicitation travels on the POST's stream */
    }
    if (st == DMCP_OK) {
        st = dmcp_tool_set_description(t, desc);
    }
    if (st == DMCP_OK && schema != NULL) {
        st = dmcp_tool_set_input_schema_json(t, schema);
    }
    if (st == DMCP_OK && scope != NULL) {
        st = dmcp_tool_add_required_scope(t, scope); /* checked before the handler runs */
    }
    if (st != DMCP_OK) {
        dmcp_tool_free(t);
        return st;
    }
    return dmcp_server_add_tool(srv, t); /* the server takes t */
}

/* count is always streamed: its notifications reach the client while it runs. */
static dmcp_status add_count(dmcp_server *srv)
{
    dmcp_tool *t = NULL;
    dmcp_status st = dmcp_tool_new("count", count, NULL, &t);
    if (st == DMCP_OK) {
        st = dmcp_tool_set_description(t, "Sends N numbered progress and log events, slowly");
    }
    if (st == DMCP_OK) {
        st = dmcp_tool_set_input_schema_json(t, COUNT_SCHEMA);
    }
    if (st != DMCP_OK) {
        dmcp_tool_free(t);
        return st;
    }
    dmcp_tool_set_streaming(t, true);
    return dmcp_server_add_tool(srv, t); /* the server takes t */
}

/* Auth over HTTP: a validator for the issuer and the audience, and the authorizer on top. */
static dmcp_status protect(dmcp_server *srv, const char *well_known, const char *url, char **scopes,
                           int nscopes, dmcp_validator **v, dmcp_error *err)
{
    char *resource = NULL; /* the canonical URL: PRM resource and token audience alike */
    dmcp_validator_config *cfg = NULL;
    dmcp_protect_options *o = NULL;
    dmcp_authorizer *a = NULL;
    dmcp_status st = dmcp_protect_canonical_resource(url, &resource, err);
    if (st == DMCP_OK) {
        st = dmcp_validator_config_new(&cfg);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_well_known_url(cfg, well_known);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_mcp_server_url(cfg, resource);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_new(cfg, v, err); /* fetches the discovery document and keys */
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_options_new(&o);
    }
    for (int i = 0; i < nscopes && st == DMCP_OK; i++) {
        st = dmcp_protect_options_add_required_scope(o, scopes[i]);
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_authorizer_new(*v, o, &a, err);
    }
    if (st == DMCP_OK) {
        st = dmcp_server_set_authorizer(srv, a); /* the server takes a */
    }
    dmcp_protect_options_free(o);
    dmcp_validator_config_free(cfg);
    dmcp_free(resource);
    return st;
}

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

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"stateless", no_argument, NULL, 's'},
                                         {"stdio", no_argument, NULL, 'i'},
                                         {"well-known-url", required_argument, NULL, 'w'},
                                         {"mcp-server-url", required_argument, NULL, 'm'},
                                         {"require-scope", required_argument, NULL, 'r'},
                                         {"allow-origin", required_argument, NULL, 'o'},
                                         {"limit", required_argument, NULL, 'L'},
                                         {"metrics-listen", required_argument, NULL, 'M'},
                                         {"access-log", required_argument, NULL, 'A'},
                                         {"log-level", required_argument, NULL, 'V'},
                                         {"store", required_argument, NULL, 'S'},
                                         {"store-prefix", required_argument, NULL, 'P'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    ops_flags lf = {.n = 0};
    const char *listen = "127.0.0.1:8080", *well_known = getenv("DESCOPE_MCP_WELL_KNOWN_URL");
    const char *server_url = getenv("MCP_SERVER_URL");
    char *scopes[64];
    const char *origins[64];
    const char *store_url = NULL, *store_prefix = NULL;
    int stateless = 0, use_stdio = 0, nscopes = 0, norigins = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 's':
            stateless = 1;
            break;
        case 'S':
            store_url = optarg;
            break;
        case 'P':
            store_prefix = optarg;
            break;
        case 'i':
            use_stdio = 1;
            break;
        case 'w':
            well_known = optarg;
            break;
        case 'm':
            server_url = optarg;
            break;
        case 'r':
            if (nscopes < 64) {
                scopes[nscopes++] = optarg;
                break;
            }
            goto usage;
        case 'o':
            if (norigins < 64) {
                origins[norigins++] = optarg;
                break;
            }
            goto usage;
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
        default:
        usage:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: %s [--listen HOST:PORT] [--well-known-url URL] "
                    "[--mcp-server-url URL] [--require-scope SCOPE]... "
                    "[--allow-origin ORIGIN]... [--limit NAME=VALUE]... [--metrics-listen "
                    "HOST:PORT] [--access-log PATH|-] [--log-level LEVEL] [--stateless]\n"
                    "       [--store memory:|redis://[:PASSWORD@]HOST:PORT[/DB]] "
                    "[--store-prefix PREFIX]   (env DMCP_STORE_URL)\n"
                    "       %s --stdio\n",
                    argv[0], argv[0]);
            if (c == 'h') {
                print_ops_help(stdout);
                return 0;
            }
            return 2;
        }
    }
    if (!use_stdio && (well_known == NULL || *well_known == '\0')) {
        fprintf(stderr, "mcp-echo-server: auth is always on over HTTP: give --well-known-url "
                        "(or DESCOPE_MCP_WELL_KNOWN_URL), or serve --stdio\n");
        return 2;
    }
    dmcp_store *store = NULL;
    if (open_store("mcp-echo-server", store_url, store_prefix, &store) != 0) {
        return 2;
    }
    char default_url[300];
    snprintf(default_url, sizeof(default_url), "http://%s/mcp", listen);

    dmcp_server *srv = NULL;
    dmcp_validator *v = NULL;
    dmcp_error err = {0};
    bool usage_error = false; /* a bad operational flag: exit 2 like any usage error */
    dmcp_status st = dmcp_server_new("mcp-echo-server", "0.1.0", &srv);
    if (st == DMCP_OK) {
        st = add(srv, "echo", "Echoes the text back", echo, TEXT_SCHEMA, NULL);
    }
    if (st == DMCP_OK) {
        st = add(srv, "whoami", "Who is calling", whoami, NULL, NULL);
    }
    if (st == DMCP_OK) {
        st = add(srv, "admin_echo", "Echoes the text back (needs admin.write)", echo, TEXT_SCHEMA,
                 "admin.write");
    }
    if (st == DMCP_OK) {
        st = add(srv, "ask_name", "Asks for your name (elicitation) and greets you", ask_name, NULL,
                 NULL);
    }
    if (st == DMCP_OK) {
        st = add(srv, "bump", "Increments " COUNTER_URI " and notifies its subscribers", bump,
                 NULL, NULL);
    }
    if (st == DMCP_OK) {
        st = add_counter(srv);
    }
    if (st == DMCP_OK) {
        st = add_count(srv);
    }
    if (st == DMCP_OK && use_stdio) {
        st = dmcp_server_run_stdio(srv, STDIN_FILENO, STDOUT_FILENO, &err); /* no auth */
    } else {
        if (st == DMCP_OK) {
            st = dmcp_server_set_listen_string(srv, listen);
        }
        if (st == DMCP_OK) {
            st = apply_ops(srv, &lf, &err);
            usage_error = st != DMCP_OK;
        }
        if (st == DMCP_OK) {
            st = dmcp_server_set_stateless(srv, stateless);
        }
        if (st == DMCP_OK) {
            st = dmcp_server_set_store(srv, store);
        }
        for (int i = 0; st == DMCP_OK && i < norigins; i++) {
            st = dmcp_server_add_allowed_origin(srv, origins[i]);
            if (st != DMCP_OK) {
                snprintf(err.message, sizeof(err.message), "--allow-origin %s: %s", origins[i],
                         dmcp_strerror(st));
            }
        }
        if (st == DMCP_OK) {
            st = protect(srv, well_known, server_url != NULL ? server_url : default_url, scopes,
                         nscopes, &v, &err);
        }
        if (st == DMCP_OK) {
            fprintf(stderr, "mcp-echo-server: serving http://%s/mcp%s\n", listen,
                    stateless ? " (stateless)" : "");
            st = dmcp_server_run(srv, &err); /* until SIGINT / SIGTERM */
        }
    }
    if (st != DMCP_OK) {
        fprintf(stderr, "mcp-echo-server: %s\n", err.message[0] ? err.message : dmcp_strerror(st));
    }
    dmcp_server_free(srv); /* before the validator, which the authorizer borrows */
    dmcp_validator_free(v);
    dmcp_store_free(store); /* after the server that borrowed it */
    return st == DMCP_OK ? 0 : (usage_error ? 2 : 1);
}
