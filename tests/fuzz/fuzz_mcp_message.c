/*
 * Fuzz target for the MCP message path: bytes -> JSON-RPC parsing and checks -> lifecycle ->
 * dispatch -> tools (schema validation, handlers, results), resources (templates, read,
 * subscriptions), prompts (argument checks), completion, and client responses to
 * server->client requests. The first byte selects the protocol version of the session,
 * whether it starts initialized, stateless mode, and whether the sink is live (a tool then
 * sends sampling/createMessage and waits 1 ms), so every path is reached. Bit 32 takes the
 * 2026-07-28 path a header-less transport (stdio) takes: the _meta checks, then a transient
 * request or listen session from era26_session.c and dispatch.
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

static dmcp_status t_sample(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
{
    (void)ud;
    json_t *out = NULL;
    json_t *p = json_pack("{s:[],s:O}", "messages", "args", (json_t *)args);
    dmcp_status st = dmcp_call_sample(call, p, 1, &out);
    json_decref(p);
    json_decref(out);
    return dmcp_result_add_text(res, dmcp_status_name(st));
}

static dmcp_status r_read(dmcp_contents *out, const char *uri, const json_t *vars, void *ud)
{
    (void)ud;
    const char *id = json_string_value(json_object_get(vars, "id"));
    if (id != NULL && strcmp(id, "none") == 0) {
        return DMCP_E_NOT_FOUND;
    }
    return dmcp_contents_add_text(out, uri, "text/plain", id != NULL ? id : "static");
}

static dmcp_status p_get(const json_t *args, dmcp_prompt_result *r, void *ud)
{
    (void)ud;
    const char *a = json_string_value(json_object_get(args, "a"));
    return dmcp_prompt_result_add_text(r, DMCP_ROLE_USER, a != NULL ? a : "");
}

static dmcp_status c_any(const char *arg, const char *value, const json_t *ctx,
                         dmcp_completion *out, void *ud)
{
    (void)arg;
    (void)ctx;
    (void)ud;
    return dmcp_completion_add_value(out, value);
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
    dmcp_tool_new("sample", t_sample, NULL, &t);
    dmcp_tool_set_input_schema_json(t, "{\"type\":\"object\"}");
    dmcp_server_add_tool(srv, t);
    dmcp_resource *r;
    dmcp_resource_new("test://static", "s", &r);
    dmcp_resource_set_text(r, "static");
    dmcp_server_add_resource(srv, r);
    dmcp_resource_new("test://bin", "b", &r);
    dmcp_resource_set_blob(r, "AAEC");
    dmcp_server_add_resource(srv, r);
    dmcp_resource_template *rt;
    dmcp_resource_template_new("test://t/{id}/x{n}", "t", r_read, NULL, &rt);
    dmcp_resource_template_set_completion(rt, "id", c_any, NULL);
    dmcp_server_add_resource_template(srv, rt);
    dmcp_prompt *p;
    dmcp_prompt_new("p", p_get, NULL, &p);
    dmcp_prompt_add_argument(p, "a", "arg a", true);
    dmcp_prompt_add_argument(p, "b", NULL, false);
    dmcp_prompt_set_completion(p, "a", c_any, NULL);
    dmcp_server_add_prompt(srv, p);
    return srv;
}

/* The 2026-07-28 path without headers, as stdio.c serves it. */
static void era26(dmcp__sink *sink, const json_t *body)
{
    const json_t *id = NULL;
    if (dmcp__jsonrpc_classify(body, &id) != DMCP__MSG_REQUEST) {
        return;
    }
    unsigned http = 0;
    const char *message = NULL;
    json_t *data = NULL;
    if (dmcp__era26_check(body, NULL, &http, &message, &data) != 0) {
        json_decref(data);
        return;
    }
    const char *method = json_string_value(json_object_get(body, "method"));
    int code = 0;
    if (strcmp(method, "subscriptions/listen") == 0) {
        json_t *ack = NULL;
        dmcp__session *l = dmcp__era26_listen_session(server(), body, NULL, &ack, &code, &message);
        json_decref(ack);
        dmcp__session_unref(l);
        return;
    }
    dmcp__session *s = dmcp__era26_request_session(NULL, body);
    if (s != NULL) {
        dmcp__rpc_ctx ctx = {server(), s, NULL, DMCP_PROTOCOL_2026_07_28, true, false, sink};
        json_t *ans = dmcp__dispatch_request(&ctx, body);
        char *out = ans != NULL ? dmcp__json_dump(ans, NULL) : NULL;
        free(out);
        json_decref(ans);
        dmcp__session_unref(s);
    }
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
    dmcp__sink sink = {sink_drop, NULL, (mode & 16) != 0, NULL};
    dmcp__rpc_ctx ctx = {server(), sess, NULL, version, (mode & 8) != 0, false, &sink};
    int code = 0;
    json_t *body = dmcp__jsonrpc_parse((const char *)data, size, DMCP_MAX_BODY_BYTES, &code);
    if (body != NULL && (mode & 32) && json_is_object(body) && dmcp__era26_applies(NULL, body)) {
        era26(&sink, body);
    } else if (body != NULL) {
        if (!json_is_array(body) || dmcp__version_allows_batch(version)) {
            json_t *ans = dmcp__process(&ctx, body);
            char *s = ans != NULL ? dmcp__json_dump(ans, NULL) : NULL;
            free(s);
            json_decref(ans);
        }
    }
    json_decref(body);
    dmcp__session_unref(sess);
    return 0;
}
