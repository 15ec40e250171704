/*
 * The README's "a complete protected server in C", compiled in CI (-Werror) so the text
 * cannot drift from the API. examples/echo-server is the same server with flags and tests.
 */
/* README:begin server */
#include <stdio.h>
#include <stdlib.h>
#include <dmcp/dmcp.h>

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
    const dmcp_principal *p = dmcp_call_principal(call); /* validated by the authorizer */
    json_t *scopes = json_array();
    for (size_t i = 0; i < dmcp_principal_scope_count(p); i++) {
        json_array_append_new(scopes, json_string(dmcp_principal_scope(p, i)));
    }
    return dmcp_result_set_structured(res, json_pack("{s:s?, s:o, s:s?}", "user_id",
                                                     dmcp_principal_user_id(p), "scopes", scopes,
                                                     "client_id", dmcp_principal_client_id(p)));
}

int main(void)
{
    const char *resource = "http://127.0.0.1:8080/mcp"; /* what clients connect to */
    dmcp_error err = {0};

    /* 1. The token validator: issuer discovery, JWKS, audience = this server. */
    dmcp_validator_config *cfg;
    dmcp_validator *v;
    dmcp_validator_config_new(&cfg);
    dmcp_validator_config_set_well_known_url(cfg, getenv("DESCOPE_MCP_WELL_KNOWN_URL"));
    dmcp_validator_config_set_mcp_server_url(cfg, resource);
    dmcp_status st = dmcp_validator_new(cfg, &v, &err);
    dmcp_validator_config_free(cfg);
    if (st != DMCP_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }

    /* 2. The MCP server and its tools; admin_echo needs the admin.write scope. */
    dmcp_server *srv;
    dmcp_tool *t;
    const char *text = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
                       "\"required\":[\"text\"]}";
    dmcp_server_new("echo", "1.0.0", &srv);
    dmcp_tool_new("echo", echo, NULL, &t);
    dmcp_tool_set_input_schema_json(t, text);
    dmcp_server_add_tool(srv, t);
    dmcp_tool_new("whoami", whoami, NULL, &t);
    dmcp_server_add_tool(srv, t);
    dmcp_tool_new("admin_echo", echo, NULL, &t);
    dmcp_tool_set_input_schema_json(t, text);
    dmcp_tool_add_required_scope(t, "admin.write"); /* 403 step-up without it */
    dmcp_server_add_tool(srv, t);

    /* 3. Auth on: Protected Resource Metadata, 401/403 challenges, sessions bound to users. */
    dmcp_authorizer *a;
    st = dmcp_protect_authorizer_new(v, NULL, &a, &err);
    if (st == DMCP_OK) {
        dmcp_server_set_authorizer(srv, a);
        dmcp_server_set_listen(srv, "127.0.0.1", 8080);
        st = dmcp_server_run(srv, &err); /* until SIGINT / SIGTERM */
    }
    if (st != DMCP_OK) {
        fprintf(stderr, "%s\n", err.message);
    }
    dmcp_server_free(srv);
    dmcp_validator_free(v);
    return st == DMCP_OK ? 0 : 1;
}
/* README:end server */
