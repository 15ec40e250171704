/*
 * token-arg: the Python seed's own pattern in C. A stdio MCP server whose tools take the
 * access token as an argument and validate it with the core API (dmcp_validator_validate,
 * dmcp_validator_require_scopes).
 *
 *   DESCOPE_MCP_WELL_KNOWN_URL=... MCP_SERVER_URL=... token-arg      (serves stdio)
 *
 * Tools: whoami {access_token} -> {user_id, scopes, client_id};
 *        admin_echo {access_token, text} -> text, when the token has admin.write.
 *
 * Why this is NOT the way over HTTP: MCP Authorization (2025-11-25 §9.1) says the client
 * sends the token in the Authorization header of every HTTP request, and the server validates
 * it before doing anything else. A token inside tool arguments travels in the JSON-RPC body:
 * it lands in transcripts, logs and the model's context, is checked only by the tools that
 * remember to, and skips the 401/403 challenges clients use to find the authorization server
 * and to step up scopes. Over HTTP, use dmcp/protect.h (see examples/echo-server). This
 * pattern exists for stdio, where the HTTP authorization flow does not apply (Authorization
 * §1.2: credentials come from the environment), and for compatibility with tools written
 * against the seed that take the token as an argument.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dmcp/dmcp.h>

/* Validates args.access_token; on failure fills the result with the reason and returns NULL. */
static dmcp_token *validate(dmcp_validator *v, const json_t *args, dmcp_result *res)
{
    const char *token = json_string_value(json_object_get(args, "access_token"));
    dmcp_token *tok = NULL;
    dmcp_error err;
    if (dmcp_validator_validate(v, token, strlen(token), &tok, &err) != DMCP_OK) {
        /* The reason only: never the token (MCP Authorization §11.2). */
        dmcp_result_add_text(res, err.status == DMCP_E_INVALID_TOKEN
                                      ? dmcp_reason_description(err.reason)
                                      : dmcp_strerror(err.status));
        dmcp_result_set_error(res, true);
        return NULL;
    }
    return tok;
}

static dmcp_status whoami(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    dmcp_token *tok = validate(ud, args, res);
    if (tok == NULL) {
        return DMCP_OK; /* the result already says why */
    }
    size_t n = 0;
    const char *const *scopes = dmcp_token_scopes(tok, &n);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list, json_string(scopes[i]));
    }
    dmcp_status st = dmcp_result_set_structured(
        res, json_pack("{s:s?, s:o, s:s?}", "user_id", dmcp_token_user_id(tok), "scopes", list,
                       "client_id", dmcp_token_client_id(tok)));
    dmcp_token_free(tok);
    return st;
}

static dmcp_status admin_echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    dmcp_token *tok = validate(ud, args, res);
    if (tok == NULL) {
        return DMCP_OK;
    }
    /* The seed's require_scopes(): the error text is InsufficientScopeError.to_json(). */
    static const char *const need[] = {"admin.write"};
    dmcp_scope_error *e = NULL;
    dmcp_status st = dmcp_validator_require_scopes(ud, tok, need, 1, &e);
    if (st == DMCP_E_INSUFFICIENT_SCOPE) {
        char *json = dmcp_scope_error_to_json(e);
        st = dmcp_result_add_text(res, json);
        dmcp_result_set_error(res, true);
        dmcp_free(json);
    } else if (st == DMCP_OK) {
        st = dmcp_result_add_text(res, json_string_value(json_object_get(args, "text")));
    }
    dmcp_scope_error_free(e);
    dmcp_token_free(tok);
    return st;
}

static dmcp_status add(dmcp_server *srv, const char *name, dmcp_tool_fn fn, dmcp_validator *v,
                       const char *schema)
{
    dmcp_tool *t = NULL;
    dmcp_status st = dmcp_tool_new(name, fn, v, &t);
    if (st == DMCP_OK) {
        st = dmcp_tool_set_input_schema_json(t, schema);
    }
    if (st != DMCP_OK) {
        dmcp_tool_free(t);
        return st;
    }
    return dmcp_server_add_tool(srv, t);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        bool help = argc == 2 && strcmp(argv[1], "--help") == 0;
        fprintf(help ? stdout : stderr,
                "usage: token-arg   (no arguments; MCP over stdio)\n"
                "The seed's pattern: each tool takes the access token as its 'token' argument.\n"
                "environment: DESCOPE_MCP_WELL_KNOWN_URL, MCP_SERVER_URL (both required)\n");
        return help ? 0 : 2;
    }
    const char *well_known = getenv("DESCOPE_MCP_WELL_KNOWN_URL");
    const char *server_url = getenv("MCP_SERVER_URL");
    if (well_known == NULL || server_url == NULL) {
        fprintf(stderr, "token-arg: set DESCOPE_MCP_WELL_KNOWN_URL and MCP_SERVER_URL\n");
        return 2;
    }
    dmcp_validator_config *cfg = NULL;
    dmcp_validator *v = NULL;
    dmcp_server *srv = NULL;
    dmcp_error err = {0};
    dmcp_status st = dmcp_validator_config_new(&cfg);
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_well_known_url(cfg, well_known);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_mcp_server_url(cfg, server_url);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_new(cfg, &v, &err);
    }
    dmcp_validator_config_free(cfg);
    if (st == DMCP_OK) {
        st = dmcp_server_new("token-arg", "0.1.0", &srv);
    }
    if (st == DMCP_OK) {
        st = add(srv, "whoami", whoami, v,
                 "{\"type\":\"object\",\"properties\":{\"access_token\":{\"type\":\"string\"}},"
                 "\"required\":[\"access_token\"]}");
    }
    if (st == DMCP_OK) {
        st = add(srv, "admin_echo", admin_echo, v,
                 "{\"type\":\"object\",\"properties\":{\"access_token\":{\"type\":\"string\"},"
                 "\"text\":{\"type\":\"string\"}},\"required\":[\"access_token\",\"text\"]}");
    }
    if (st == DMCP_OK) {
        st = dmcp_server_run_stdio(srv, STDIN_FILENO, STDOUT_FILENO, &err);
    }
    if (st != DMCP_OK) {
        fprintf(stderr, "token-arg: %s\n", err.message[0] ? err.message : dmcp_strerror(st));
    }
    dmcp_server_free(srv);
    dmcp_validator_free(v);
    return st == DMCP_OK ? 0 : 1;
}
