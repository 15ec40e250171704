/*
 * descope-mcp gateway: Descope auth, per-tool scopes and connection tokens in front of any MCP
 * server (docs/gateway.md). This file only turns flags (and --config FILE) into the gateway's
 * JSON configuration; everything else is libdmcp_gateway (include/dmcp/gateway.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmcp/gateway.h>
#include <dmcp/server.h>

#include "cli.h"

#define MAX_CONFIG_BYTES (1024 * 1024)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: descope-mcp gateway [--config FILE] [--listen HOST:PORT]\n"
            "         --well-known-url URL --mcp-server-url URL\n"
            "         (--upstream http(s)://HOST/PATH ... | --upstream-stdio -- CMD ARGS...)\n"
            "         [--tool-scope GLOB=SCOPE[,SCOPE...]]... [--filter-list]\n"
            "         [--tool-scope-mode http-403|tool-error] [--require-scope SCOPE]...\n"
            "         [--connection APP=HEADER]... [--descope-api-base URL]\n"
            "         [--request-timeout MS] [--connect-timeout MS] [--endpoint PATH]\n"
            "         [--no-stream] [--upstream-log] [--store URL [--store-prefix P]]\n"
            "         [--check] [operational options]\n\n"
            "Puts Descope (OAuth) auth, per-tool scopes, identity headers and connection tokens\n"
            "in front of an MCP server reached over Streamable HTTP or stdio. The caller's token\n"
            "is never sent upstream.\n\n"
            "  --config FILE          JSON configuration (docs/gateway.md); flags override it\n"
            "  --listen HOST:PORT     address to serve (default 127.0.0.1:8080)\n"
            "  --well-known-url URL   the issuer's OpenID configuration\n"
            "  --mcp-server-url URL   the gateway's public MCP URL (token audience)\n"
            "  --upstream URL         a Streamable HTTP upstream; repeat for several (their\n"
            "                         names become upstream, upstream1, ... and prefixes\n"
            "                         NAME__)\n"
            "  --upstream-stdio -- CMD ARGS...  a stdio upstream (the rest of the line)\n"
            "  --tool-scope G=S,...   scopes a tools/call of a tool matching glob G needs\n"
            "  --filter-list          hide from tools/list what the caller may not call\n"
            "  --tool-scope-mode M    http-403 (step-up, default) or tool-error\n"
            "  --require-scope SCOPE  a scope every request needs\n"
            "  --connection APP=HDR   send the caller's Descope connection token for APP\n"
            "                         upstream in header HDR\n"
            "  --descope-api-base URL Descope API base (default: from the well-known URL)\n"
            "  --request-timeout MS   upstream request timeout (default 60000; 504 after)\n"
            "  --connect-timeout MS   upstream connect timeout (default 5000)\n"
            "  --endpoint PATH        the MCP endpoint path (default /mcp)\n"
            "  --no-stream            answer forwarded requests as JSON unless they carry a\n"
            "                         progress token (server requests then need one)\n"
            "  --upstream-log         one JSON line per upstream call on stderr (user, upstream,\n"
            "                         method, tool, upstream status, ms; never a token)\n"
            "  --store URL            share sessions with other replicas: memory: or\n"
            "                         redis://[:PASSWORD@]HOST:PORT[/DB] (env DMCP_STORE_URL);\n"
            "                         any replica behind a balancer then serves any session\n"
            "  --store-prefix P       key prefix in the store (default dmcp:)\n"
            "  --check                check the configuration and exit\n\n"
            "Exit codes: 0 stopped cleanly, 1 failed while serving, 2 usage or configuration,\n"
            "4 the issuer could not be reached at start.\n\n");
    char *ops = dmcp_server_options_help();
    if (ops != NULL) {
        fputs(ops, f);
    }
    dmcp_free(ops);
}

static json_t *obj(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(parent, key, o);
    }
    return o;
}

static json_t *arr(json_t *parent, const char *key)
{
    json_t *a = json_object_get(parent, key);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(parent, key, a);
    }
    return a;
}

static json_t *load_config(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "descope-mcp gateway: cannot open %s\n", path);
        return NULL;
    }
    char *buf = malloc(MAX_CONFIG_BYTES + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX_CONFIG_BYTES + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n > MAX_CONFIG_BYTES) {
        fprintf(stderr, "descope-mcp gateway: %s is larger than 1 MiB\n", path);
        free(buf);
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!json_is_object(doc)) {
        fprintf(stderr, "descope-mcp gateway: %s: %s (line %d)\n", path,
                doc == NULL ? je.text : "not a JSON object", je.line);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* "GLOB=S1,S2" -> {match, scopes} */
static json_t *tool_rule(const char *arg)
{
    const char *eq = strrchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0') {
        return NULL;
    }
    json_t *scopes = json_array();
    char *copy = strdup(eq + 1);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        json_array_append_new(scopes, json_string(t));
    }
    free(copy);
    json_t *r = json_pack("{s:s%,s:o}", "match", arg, (size_t)(eq - arg), "scopes", scopes);
    return r;
}

int cli_gateway(int argc, char **argv)
{
    enum {
        O_CONFIG = 1000, O_LISTEN, O_WK, O_URL, O_UP, O_STDIO, O_RULE, O_FILTER, O_MODE, O_REQ,
        O_CONN, O_API, O_RT, O_CT, O_EP, O_NOSTREAM, O_CHECK, O_LIMIT, O_METRICS, O_ALOG, O_LLEVEL,
        O_UPLOG, O_STORE, O_STORE_PREFIX, O_HELP
    };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"listen", required_argument, NULL, O_LISTEN},
        {"well-known-url", required_argument, NULL, O_WK},
        {"mcp-server-url", required_argument, NULL, O_URL},
        {"upstream", required_argument, NULL, O_UP},
        {"upstream-stdio", no_argument, NULL, O_STDIO},
        {"tool-scope", required_argument, NULL, O_RULE},
        {"filter-list", no_argument, NULL, O_FILTER},
        {"tool-scope-mode", required_argument, NULL, O_MODE},
        {"require-scope", required_argument, NULL, O_REQ},
        {"connection", required_argument, NULL, O_CONN},
        {"descope-api-base", required_argument, NULL, O_API},
        {"request-timeout", required_argument, NULL, O_RT},
        {"connect-timeout", required_argument, NULL, O_CT},
        {"endpoint", required_argument, NULL, O_EP},
        {"no-stream", no_argument, NULL, O_NOSTREAM},
        {"check", no_argument, NULL, O_CHECK},
        {"limit", required_argument, NULL, O_LIMIT},
        {"metrics-listen", required_argument, NULL, O_METRICS},
        {"store", required_argument, NULL, O_STORE},
        {"store-prefix", required_argument, NULL, O_STORE_PREFIX},
        {"access-log", required_argument, NULL, O_ALOG},
        {"log-level", required_argument, NULL, O_LLEVEL},
        {"upstream-log", no_argument, NULL, O_UPLOG},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0}};
    json_t *flags = json_object(); /* what the flags say, merged over the file */
    json_t *ups = json_array();
    json_t *limits = json_object();
    const char *config_path = NULL;
    bool stdio = false, check = false;
    int rc = CLI_EXIT_USAGE, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG:
            config_path = optarg;
            break;
        case O_LISTEN:
            json_object_set_new(flags, "listen", json_string(optarg));
            break;
        case O_WK:
            json_object_set_new(obj(flags, "auth"), "well_known_url", json_string(optarg));
            break;
        case O_URL:
            json_object_set_new(obj(flags, "auth"), "mcp_server_url", json_string(optarg));
            break;
        case O_API:
            json_object_set_new(obj(flags, "auth"), "descope_api_base", json_string(optarg));
            break;
        case O_MODE:
            json_object_set_new(obj(flags, "auth"), "tool_scope_mode", json_string(optarg));
            break;
        case O_REQ:
            json_array_append_new(arr(obj(flags, "auth"), "required_scopes"), json_string(optarg));
            break;
        case O_UP: {
            char name[32];
            snprintf(name, sizeof(name), json_array_size(ups) == 0 ? "upstream" : "upstream%zu",
                     json_array_size(ups));
            json_array_append_new(ups, json_pack("{s:s,s:s}", "name", name, "url", optarg));
            break;
        }
        case O_STDIO:
            stdio = true;
            break;
        case O_RULE: {
            json_t *r = tool_rule(optarg);
            if (r == NULL) {
                fprintf(stderr, "descope-mcp gateway: --tool-scope wants GLOB=SCOPE[,SCOPE]\n");
                goto out;
            }
            json_array_append_new(arr(flags, "tools"), r);
            break;
        }
        case O_FILTER:
            json_object_set_new(flags, "filter_list", json_true());
            break;
        case O_CONN: {
            const char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg || eq[1] == '\0') {
                fprintf(stderr, "descope-mcp gateway: --connection wants APP=HEADER\n");
                goto out;
            }
            json_array_append_new(arr(flags, "connections"),
                                  json_pack("{s:s%,s:s}", "app", optarg, (size_t)(eq - optarg),
                                            "header", eq + 1));
            break;
        }
        case O_RT:
        case O_CT: {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < 1 || v > 3600000) {
                fprintf(stderr, "descope-mcp gateway: timeouts are 1..3600000 ms\n");
                goto out;
            }
            json_object_set_new(obj(flags, "timeouts"), c == O_RT ? "request_ms" : "connect_ms",
                                json_integer(v));
            break;
        }
        case O_EP:
            json_object_set_new(flags, "endpoint", json_string(optarg));
            break;
        case O_NOSTREAM:
            json_object_set_new(flags, "stream", json_false());
            break;
        case O_CHECK:
            check = true;
            break;
        case O_LIMIT: {
            const char *eq = strchr(optarg, '=');
            char *end = NULL;
            double v = eq != NULL ? strtod(eq + 1, &end) : -1;
            if (eq == NULL || end == eq + 1 || *end != '\0' || v < 0) {
                fprintf(stderr, "descope-mcp gateway: --limit wants NAME=VALUE\n");
                goto out;
            }
            char name[96];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - optarg < 95 ? eq - optarg : 95),
                     optarg);
            json_object_set_new(limits, name, json_real(v));
            break;
        }
        case O_METRICS:
            json_object_set_new(flags, "metrics_listen", json_string(optarg));
            break;
        case O_STORE:
            json_object_set_new(flags, "store", json_string(optarg));
            break;
        case O_STORE_PREFIX:
            json_object_set_new(flags, "store_prefix", json_string(optarg));
            break;
        case O_ALOG:
            json_object_set_new(flags, "access_log", json_string(optarg));
            break;
        case O_LLEVEL:
            json_object_set_new(flags, "log_level", json_string(optarg));
            break;
        case O_UPLOG:
            json_object_set_new(flags, "upstream_log", json_true());
            break;
        case O_HELP:
            usage(stdout);
            rc = CLI_EXIT_OK;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (stdio) {
        /* everything after the options ("--" ends them) is the command */
        if (optind >= argc) {
            fprintf(stderr, "descope-mcp gateway: --upstream-stdio needs -- CMD ARGS...\n");
            goto out;
        }
        json_t *cmd = json_array();
        for (int i = optind; i < argc; i++) {
            json_array_append_new(cmd, json_string(argv[i]));
        }
        json_array_append_new(ups, json_pack("{s:s,s:o}", "name", "stdio", "command", cmd));
    } else if (optind != argc) {
        fprintf(stderr, "descope-mcp gateway: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        goto out;
    }
    json_t *doc = config_path != NULL ? load_config(config_path) : json_object();
    if (doc == NULL) {
        goto out;
    }
    /* Flags win over the file, key by key (auth and timeouts field by field). */
    const char *k;
    json_t *v;
    json_object_foreach(flags, k, v)
    {
        if ((strcmp(k, "auth") == 0 || strcmp(k, "timeouts") == 0) &&
            json_is_object(json_object_get(doc, k))) {
            json_object_update(json_object_get(doc, k), v);
        } else {
            json_object_set(doc, k, v);
        }
    }
    if (json_array_size(ups) > 0) {
        json_object_set(doc, "upstreams", ups);
    }
    const char *env_store = getenv("DMCP_STORE_URL");
    if (json_object_get(doc, "store") == NULL && env_store != NULL && env_store[0] != '\0') {
        json_object_set_new(doc, "store", json_string(env_store));
    }
    if (json_object_size(limits) > 0) {
        json_object_update(obj(doc, "limits"), limits);
    }
    dmcp_error err = {0};
    if (dmcp_gateway_config_check(doc, &err) != DMCP_OK) {
        fprintf(stderr, "descope-mcp gateway: %s\n", err.message);
        json_decref(doc);
        goto out;
    }
    if (check) {
        printf("configuration OK\n");
        json_decref(doc);
        rc = CLI_EXIT_OK;
        goto out;
    }
    dmcp_gateway *gw = NULL;
    dmcp_status st = dmcp_gateway_new(doc, &gw, &err);
    json_decref(doc);
    if (st != DMCP_OK) {
        fprintf(stderr, "descope-mcp gateway: %s\n",
                err.message[0] != '\0' ? err.message : dmcp_strerror(st));
        rc = st == DMCP_E_KEY_SOURCE_UNAVAILABLE || st == DMCP_E_UNREACHABLE ||
                     st == DMCP_E_TIMEOUT
                 ? CLI_EXIT_UNREACHABLE
                 : CLI_EXIT_USAGE;
        goto out;
    }
    st = dmcp_gateway_run(gw, &err);
    if (st != DMCP_OK) {
        fprintf(stderr, "descope-mcp gateway: %s\n",
                err.message[0] != '\0' ? err.message : dmcp_strerror(st));
    }
    dmcp_gateway_free(gw);
    rc = st == DMCP_OK ? CLI_EXIT_OK : CLI_EXIT_INVALID;
out:
    json_decref(flags);
    json_decref(ups);
    json_decref(limits);
    return rc;
}
