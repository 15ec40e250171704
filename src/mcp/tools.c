/* Tool definitions, registry, tools/list and tools/call (MCP 2025-11-25 Server › Tools). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"
#include "metrics.h"

/* Tools §5.1.1 allows 1-128 characters; 64 from [A-Za-z0-9_.-] satisfies every client. */
static bool name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > DMCP__TOOL_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

dmcp_status dmcp_tool_new(const char *name, dmcp_tool_fn handler, void *userdata, dmcp_tool **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = NULL;
    if (!name_ok(name) || handler == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_tool *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return DMCP_E_NOMEM;
    }
    t->name = dmcp__strdup(name);
    t->input_schema = json_pack("{s:s, s:b}", "type", "object", "additionalProperties", 0);
    if (t->name == NULL || t->input_schema == NULL) {
        dmcp_tool_free(t);
        return DMCP_E_NOMEM;
    }
    t->handler = handler;
    t->userdata = userdata;
    *out = t;
    return DMCP_OK;
}

void dmcp_tool_free(dmcp_tool *t)
{
    if (t == NULL) {
        return;
    }
    free(t->name);
    free(t->title);
    free(t->description);
    json_decref(t->input_schema);
    json_decref(t->output_schema);
    json_decref(t->annotations);
    for (size_t i = 0; i < t->n_scopes; i++) {
        free(t->scopes[i]);
    }
    free(t->scopes);
    free(t);
}

static dmcp_status set_text(char **dst, const char *src)
{
    char *c = NULL;
    if (src != NULL) {
        json_t *probe = json_string(src); /* refuses invalid UTF-8 up front */
        if (probe == NULL) {
            return DMCP_E_INVALID_ARG;
        }
        json_decref(probe);
        c = dmcp__strdup(src);
        if (c == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    free(*dst);
    *dst = c;
    return DMCP_OK;
}

dmcp_status dmcp_tool_set_title(dmcp_tool *t, const char *title)
{
    return t == NULL ? DMCP_E_INVALID_ARG : set_text(&t->title, title);
}

dmcp_status dmcp_tool_set_description(dmcp_tool *t, const char *description)
{
    return t == NULL ? DMCP_E_INVALID_ARG : set_text(&t->description, description);
}

static dmcp_status set_schema(json_t **dst, const json_t *schema)
{
    /* Tools §3: inputSchema/outputSchema are JSON Schema objects of type "object". */
    if (!dmcp__schema_is_object_schema(schema)) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *c = json_deep_copy(schema);
    if (c == NULL) {
        return DMCP_E_NOMEM;
    }
    json_decref(*dst);
    *dst = c;
    return DMCP_OK;
}

static dmcp_status set_schema_json(json_t **dst, const char *text)
{
    if (text == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_status st = set_schema(dst, v);
    json_decref(v);
    return st;
}

dmcp_status dmcp_tool_set_input_schema(dmcp_tool *t, const json_t *schema)
{
    return t == NULL ? DMCP_E_INVALID_ARG : set_schema(&t->input_schema, schema);
}

dmcp_status dmcp_tool_set_input_schema_json(dmcp_tool *t, const char *schema_json)
{
    return t == NULL ? DMCP_E_INVALID_ARG : set_schema_json(&t->input_schema, schema_json);
}

dmcp_status dmcp_tool_set_output_schema(dmcp_tool *t, const json_t *schema)
{
    return t == NULL ? DMCP_E_INVALID_ARG : set_schema(&t->output_schema, schema);
}

dmcp_status dmcp_tool_set_output_schema_json(dmcp_tool *t, const char *schema_json)
{
    return t == NULL ? DMCP_E_INVALID_ARG : set_schema_json(&t->output_schema, schema_json);
}

dmcp_status dmcp_tool_set_annotations(dmcp_tool *t, const json_t *annotations)
{
    if (t == NULL || !json_is_object(annotations)) {
        return DMCP_E_INVALID_ARG;
    }
    json_t *c = json_deep_copy(annotations);
    if (c == NULL) {
        return DMCP_E_NOMEM;
    }
    json_decref(t->annotations);
    t->annotations = c;
    return DMCP_OK;
}

dmcp_status dmcp_tool_add_required_scope(dmcp_tool *t, const char *scope)
{
    if (t == NULL || scope == NULL || *scope == '\0' || strlen(scope) > DMCP_MAX_SCOPE_LEN ||
        t->n_scopes >= DMCP_MAX_SCOPES) {
        return DMCP_E_INVALID_ARG;
    }
    /* RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. */
    for (const char *c = scope; *c != '\0'; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x21 || u == 0x22 || u == 0x5C || u > 0x7E) {
            return DMCP_E_INVALID_ARG;
        }
    }
    char **ns = realloc(t->scopes, (t->n_scopes + 1) * sizeof(*ns));
    if (ns == NULL) {
        return DMCP_E_NOMEM;
    }
    t->scopes = ns;
    ns[t->n_scopes] = dmcp__strdup(scope);
    if (ns[t->n_scopes] == NULL) {
        return DMCP_E_NOMEM;
    }
    t->n_scopes++;
    return DMCP_OK;
}

void dmcp_tool_set_streaming(dmcp_tool *t, bool streaming)
{
    if (t != NULL) {
        t->streaming = streaming;
    }
}

/* ---- registry ---- */

void dmcp__toolreg_free(dmcp__toolreg *reg)
{
    for (size_t i = 0; i < reg->count; i++) {
        dmcp_tool_free(reg->tools[i]);
    }
    free(reg->tools);
    json_decref(reg->index);
    memset(reg, 0, sizeof(*reg));
}

dmcp_status dmcp_server_add_tool(dmcp_server *srv, dmcp_tool *tool)
{
    if (srv == NULL || tool == NULL) {
        dmcp_tool_free(tool);
        return DMCP_E_INVALID_ARG;
    }
    if (atomic_load(&srv->started)) {
        dmcp_tool_free(tool);
        return DMCP_E_STATE;
    }
    dmcp__toolreg *reg = &srv->tools;
    if (reg->index == NULL) {
        reg->index = json_object();
        if (reg->index == NULL) {
            dmcp_tool_free(tool);
            return DMCP_E_NOMEM;
        }
    }
    if (json_object_get(reg->index, tool->name) != NULL) {
        dmcp_tool_free(tool);
        return DMCP_E_INVALID_ARG;
    }
    (void)dmcp__metrics_tool_register(tool->name); /* a label of its own (past the cap: other) */
    if (reg->count == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 8;
        dmcp_tool **nt = realloc(reg->tools, cap * sizeof(*nt));
        if (nt == NULL) {
            dmcp_tool_free(tool);
            return DMCP_E_NOMEM;
        }
        reg->tools = nt;
        reg->cap = cap;
    }
    if (json_object_set_new(reg->index, tool->name, json_integer((json_int_t)reg->count)) != 0) {
        dmcp_tool_free(tool);
        return DMCP_E_NOMEM;
    }
    reg->tools[reg->count++] = tool;
    return DMCP_OK;
}

const dmcp_tool *dmcp__tool_find(const dmcp_server *srv, const char *name)
{
    if (srv == NULL || name == NULL || srv->tools.index == NULL) {
        return NULL;
    }
    const json_t *i = json_object_get(srv->tools.index, name);
    if (!json_is_integer(i)) {
        return NULL;
    }
    return srv->tools.tools[json_integer_value(i)];
}

static json_t *tool_json(const dmcp_tool *t)
{
    json_t *o = json_object();
    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "name", json_string(t->name));
    if (t->title != NULL) {
        json_object_set_new(o, "title", json_string(t->title));
    }
    /* 11-25 lists description as expected; an empty one is better than none for clients. */
    json_object_set_new(o, "description", json_string(t->description ? t->description : ""));
    json_object_set(o, "inputSchema", t->input_schema);
    if (t->output_schema != NULL) {
        json_object_set(o, "outputSchema", t->output_schema);
    }
    if (t->annotations != NULL) {
        json_object_set(o, "annotations", t->annotations);
    }
    return o;
}

/*
 * Cursor: "t" + decimal offset. Opaque to clients (Basic › Utilities › Pagination: clients
 * MUST NOT parse it); an unknown or malformed cursor is -32602.
 */
static bool parse_cursor(const char *c, size_t *off)
{
    if (c == NULL || c[0] != 't' || c[1] == '\0' || strlen(c) > 12) {
        return false;
    }
    size_t v = 0;
    for (const char *p = c + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (size_t)(*p - '0');
    }
    *off = v;
    return true;
}

json_t *dmcp__tools_list(const dmcp_server *srv, const json_t *params, int *code,
                         const char **message)
{
    size_t off = 0;
    const json_t *cursor = params != NULL ? json_object_get(params, "cursor") : NULL;
    if (cursor != NULL && !json_is_null(cursor)) {
        if (!json_is_string(cursor) || !parse_cursor(json_string_value(cursor), &off) ||
            off > srv->tools.count || (off == srv->tools.count && off != 0)) {
            *code = DMCP_JSONRPC_INVALID_PARAMS;
            *message = "Invalid cursor";
            return NULL;
        }
    }
    json_t *arr = json_array();
    json_t *res = json_object();
    if (arr == NULL || res == NULL) {
        json_decref(arr);
        json_decref(res);
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Out of memory";
        return NULL;
    }
    size_t end = off + srv->page_size;
    if (end > srv->tools.count) {
        end = srv->tools.count;
    }
    for (size_t i = off; i < end; i++) {
        json_array_append_new(arr, tool_json(srv->tools.tools[i]));
    }
    json_object_set_new(res, "tools", arr);
    if (end < srv->tools.count) {
        char c[32];
        snprintf(c, sizeof(c), "t%zu", end);
        json_object_set_new(res, "nextCursor", json_string(c));
    }
    return res;
}

json_t *dmcp__tool_run(const dmcp_tool *tool, const json_t *arguments, dmcp_call *call)
{
    char msg[512];
    json_t *empty = NULL;
    if (arguments == NULL || json_is_null(arguments)) {
        empty = json_object();
        arguments = empty;
    }
    /* Tools §6 (11-25, SEP-1303): input validation failures are tool execution errors. */
    if (!json_is_object(arguments)) {
        json_decref(empty);
        return dmcp__tool_error_result("Invalid arguments: arguments must be an object");
    }
    if (!dmcp__schema_check(tool->input_schema, arguments, msg, sizeof(msg))) {
        char text[600];
        snprintf(text, sizeof(text), "Invalid arguments: %s", msg);
        json_decref(empty);
        return dmcp__tool_error_result(text);
    }
    dmcp_result r;
    dmcp__result_init(&r);
    dmcp_status st = tool->handler(call, arguments, &r, tool->userdata);
    json_decref(empty);
    if (st != DMCP_OK) {
        r.is_error = true;
        if (r.content != NULL && json_array_size(r.content) == 0) {
            char text[160];
            snprintf(text, sizeof(text), "Tool failed: %s", dmcp_strerror(st));
            dmcp_result_add_text(&r, text);
        }
    }
    /* Tools §5.2: with an output schema, a successful result MUST carry conforming
     * structuredContent. */
    if (!r.is_error && tool->output_schema != NULL) {
        if (r.structured == NULL) {
            dmcp__result_clear(&r);
            return dmcp__tool_error_result("Tool produced no structured content");
        }
        if (!dmcp__schema_check(tool->output_schema, r.structured, msg, sizeof(msg))) {
            dmcp__result_clear(&r);
            return dmcp__tool_error_result("Tool output does not match its output schema");
        }
    }
    /* Tools §5.2: structured content SHOULD also be returned as serialised text. */
    if (r.structured != NULL && r.content != NULL && json_array_size(r.content) == 0) {
        char *s = dmcp__json_dump(r.structured, NULL);
        if (s != NULL) {
            dmcp_result_add_text(&r, s);
            free(s);
        }
    }
    json_t *out = dmcp__result_to_json(&r);
    dmcp__result_clear(&r);
    return out;
}
