/*
 * mcp-echo-server: a small MCP server with three tools, served over Streamable HTTP (default)
 * or stdio.
 *
 *   mcp-echo-server [--listen HOST:PORT] [--stateless] [--stdio]
 *                   [--well-known-url URL] [--mcp-server-url URL] [--require-scope SCOPE]...
 *
 * Tools: echo {text} -> text; whoami {} -> {user_id, scopes, client_id} of the caller;
 * admin_echo {text} -> text, requires the scope admin.write.
 *
 * Auth flags (and DESCOPE_MCP_WELL_KNOWN_URL / MCP_SERVER_URL) are accepted but not yet
 * applied: the authorizer joining the token validator to the runtime comes separately.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <dmcp/common.h>
#include <dmcp/server.h>

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
    const dmcp_principal *p = dmcp_call_principal(call);
    json_t *scopes = json_array();
    for (size_t i = 0; i < dmcp_principal_scope_count(p); i++) {
        json_array_append_new(scopes, json_string(dmcp_principal_scope(p, i)));
    }
    const char *uid = dmcp_principal_user_id(p), *cid = dmcp_principal_client_id(p);
    return dmcp_result_set_structured(
        res, json_pack("{s:o, s:o, s:o}", "user_id", uid ? json_string(uid) : json_null(), "scopes",
                       scopes, "client_id", cid ? json_string(cid) : json_null()));
}

static const char *const TEXT_SCHEMA =
    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
    "\"required\":[\"text\"],\"additionalProperties\":false}";

static int add(dmcp_server *srv, const char *name, const char *desc, dmcp_tool_fn fn,
               const char *schema, const char *scope)
{
    dmcp_tool *t;
    if (dmcp_tool_new(name, fn, NULL, &t) != DMCP_OK) {
        return -1;
    }
    dmcp_tool_set_description(t, desc);
    if ((schema && dmcp_tool_set_input_schema_json(t, schema) != DMCP_OK) ||
        (scope && dmcp_tool_add_required_scope(t, scope) != DMCP_OK)) {
        dmcp_tool_free(t);
        return -1;
    }
    return dmcp_server_add_tool(srv, t) == DMCP_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"stateless", no_argument, NULL, 's'},
                                         {"stdio", no_argument, NULL, 'i'},
                                         {"well-known-url", required_argument, NULL, 'w'},
                                         {"mcp-server-url", required_argument, NULL, 'm'},
                                         {"require-scope", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    const char *listen = "127.0.0.1:8080", *well_known = getenv("DESCOPE_MCP_WELL_KNOWN_URL");
    const char *server_url = getenv("MCP_SERVER_URL");
    int stateless = 0, use_stdio = 0, nscopes = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 's':
            stateless = 1;
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
            nscopes++;
            break;
        default:
            fprintf(stderr,
                    "usage: %s [--listen HOST:PORT] [--stateless] [--stdio] "
                    "[--well-known-url URL] [--mcp-server-url URL] "
                    "[--require-scope SCOPE]...\n",
                    argv[0]);
            return 2;
        }
    }
    if (well_known || server_url || nscopes > 0) {
        fprintf(stderr, "mcp-echo-server: note: auth options are accepted but not applied yet "
                        "(no authorizer in this build); serving without auth\n");
    }
    dmcp_server *srv;
    dmcp_error err = {0};
    if (dmcp_server_new("mcp-echo-server", "0.1.0", &srv) != DMCP_OK ||
        add(srv, "echo", "Echoes the text back", echo, TEXT_SCHEMA, NULL) != 0 ||
        add(srv, "whoami", "Who is calling", whoami, NULL, NULL) != 0 ||
        add(srv, "admin_echo", "Echoes the text back (needs admin.write)", echo, TEXT_SCHEMA,
            "admin.write") != 0) {
        fprintf(stderr, "mcp-echo-server: setup failed\n");
        return 1;
    }
    dmcp_status st;
    if (use_stdio) {
        st = dmcp_server_run_stdio(srv, STDIN_FILENO, STDOUT_FILENO, &err);
    } else if (dmcp_server_set_listen_string(srv, listen) != DMCP_OK ||
               dmcp_server_set_stateless(srv, stateless) != DMCP_OK) {
        fprintf(stderr, "mcp-echo-server: bad --listen %s\n", listen);
        st = DMCP_E_INVALID_ARG;
    } else {
        fprintf(stderr, "mcp-echo-server: serving http://%s/mcp%s\n", listen,
                stateless ? " (stateless)" : "");
        st = dmcp_server_run(srv, &err);
    }
    if (st != DMCP_OK) {
        fprintf(stderr, "mcp-echo-server: %s\n", err.message[0] ? err.message : dmcp_strerror(st));
    }
    dmcp_server_free(srv);
    return st == DMCP_OK ? 0 : 1;
}
