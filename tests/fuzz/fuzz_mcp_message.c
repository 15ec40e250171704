/*
 * Fuzz target for the MCP message path: bytes -> JSON-RPC parsing and checks -> lifecycle ->
 * dispatch -> tools (schema validation, handlers, results). The first byte selects the
 * protocol version of the session and whether it starts initialized, so both the handshake
 * gate and post-handshake dispatch are reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

static dmcp_status t_echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)ud;
    dmcp_call_progress(call, 1, 2, "half");
    dmcp_call_log(call, DMCP_LOG_INFO, "fuzz", "echo");
    const char *t = json_string_value(json_object_get(args, "text"));
    return dmcp_result_add_text(res, t != NULL ? t : "");
}

static dmcp_status t_struct(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)call;
    (void)ud;
    json_t *copy = json_deep_copy(args);
    if (json_is_object(copy)) {
        return dmcp_result_set_structured(res, copy);
    }
    json_decref(copy);
    return DMCP_E_INVALID_ARG;
}

static dmcp_status sink_drop(dmcp__sink *sink, json_t *msg)
{
    (void)sink;
    char *s = dmcp__json_dump(msg, NULL); /* exercise serialisation too */
    free(s);
    json_decref(msg);
    return DMCP_OK;
}

static dmcp_server *server(void)
{
    static dmcp_server *srv;
    if (srv != NULL) {
        return srv;
    }
    dmcp_server_new("fuzz", "1", &srv);
    dmcp_server_set_page_size(srv, 1);
    dmcp_tool *t;
    dmcp_tool_new("echo", t_echo, NULL, &t);
    dmcp_tool_set_input_schema_json(
        t, "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\",\"maxLength\":"
           "64},\"n\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9},\"tags\":{\"type\":"
           "\"array\",\"items\":{\"enum\":[\"a\",\"b\"]},\"maxItems\":3}},\"required\":[\"text\"],"
           "\"additionalProperties\":false}");
    dmcp_server_add_tool(srv, t);
    dmcp_tool_new("struct", t_struct, NULL, &t);
    dmcp_tool_set_input_schema_json(t, "{\"type\":\"object\"}");
    dmcp_tool_set_output_schema_json(
        t,
        "{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"number\"}},\"required\":[\"k\"]}");
    dmcp_server_add_tool(srv, t);
    return srv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    static const char *const versions[] = {DMCP_PROTOCOL_2025_03_26, DMCP_PROTOCOL_2025_06_18,
                                           DMCP_PROTOCOL_2025_11_25};
    uint8_t mode = data[0];
    data++;
    size--;
    dmcp__session *sess = dmcp__session_new_local();
    if (sess == NULL) {
        return 0;
    }
    const char *version = versions[mode % 3];
    if (mode & 4) {
        sess->initialized = true;
        snprintf(sess->version, sizeof(sess->version), "%s", version);
    }
    dmcp__sink sink = {sink_drop, NULL};
    dmcp__rpc_ctx ctx = {server(), sess, NULL, version, (mode & 8) != 0, false, &sink};
    int code = 0;
    json_t *body = dmcp__jsonrpc_parse((const char *)data, size, DMCP_MAX_BODY_BYTES, &code);
    if (body != NULL) {
        if (!json_is_array(body) || dmcp__version_allows_batch(version)) {
            json_t *ans = dmcp__process(&ctx, body);
            char *s = ans != NULL ? dmcp__json_dump(ans, NULL) : NULL;
            free(s);
            json_decref(ans);
        }
        json_decref(body);
    }
    dmcp__session_unref(sess);
    return 0;
}
