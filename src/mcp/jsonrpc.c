/* JSON-RPC 2.0 framing (JSON-RPC 2.0 §4-6; MCP 2025-11-25 Basic §1). */
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

/*
 * Nesting depth and NUL check before jansson sees the bytes: jansson's own depth limit is
 * 2048 (compile time), far above the 64 we allow, and a pre-scan refuses deep input without
 * building a tree for it. Strings are skipped so brackets inside them do not count.
 */
static bool scan_ok(const char *data, size_t len)
{
    size_t depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\0') {
            return false;
        }
        if (in_str) {
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            depth++;
            if (depth > DMCP_MAX_JSON_DEPTH) {
                return false;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

json_t *dmcp__jsonrpc_parse(const char *data, size_t len, size_t max, int *code)
{
    *code = DMCP_JSONRPC_PARSE_ERROR;
    if (data == NULL || len == 0 || len > max || !scan_ok(data, len)) {
        return NULL;
    }
    json_error_t jerr;
    /* Duplicate keys are refused: {"method":"a","method":"b"} must not mean either. */
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        return NULL;
    }
    if (!json_is_object(v) && !json_is_array(v)) {
        *code = DMCP_JSONRPC_INVALID_REQUEST;
        json_decref(v);
        return NULL;
    }
    return v;
}

static bool id_ok(const json_t *id)
{
    /* MCP Basic §1.1: string or integer, never null (JSON-RPC also allows null/fractions). */
    return json_is_string(id) || json_is_integer(id);
}

dmcp__msg_kind dmcp__jsonrpc_classify(const json_t *msg, const json_t **id)
{
    *id = NULL;
    if (!json_is_object(msg)) {
        return DMCP__MSG_INVALID;
    }
    const json_t *jv = json_object_get(msg, "jsonrpc");
    const json_t *idv = json_object_get(msg, "id");
    if (idv != NULL && id_ok(idv)) {
        *id = idv;
    }
    if (!json_is_string(jv) || strcmp(json_string_value(jv), "2.0") != 0) {
        return DMCP__MSG_INVALID;
    }
    const json_t *method = json_object_get(msg, "method");
    const json_t *result = json_object_get(msg, "result");
    const json_t *error = json_object_get(msg, "error");
    if (method != NULL) {
        if (!json_is_string(method) || json_string_length(method) == 0 || result != NULL ||
            error != NULL) {
            return DMCP__MSG_INVALID;
        }
        const json_t *params = json_object_get(msg, "params");
        /* JSON-RPC §4.2: params is structured; MCP uses objects only. */
        if (params != NULL && !json_is_object(params)) {
            return DMCP__MSG_INVALID;
        }
        if (idv == NULL) {
            return DMCP__MSG_NOTIFICATION;
        }
        return id_ok(idv) ? DMCP__MSG_REQUEST : DMCP__MSG_INVALID;
    }
    /* A response: exactly one of result / error, and an id (null only with an error). */
    if ((result == NULL) == (error == NULL) || idv == NULL) {
        return DMCP__MSG_INVALID;
    }
    if (!id_ok(idv) && !(json_is_null(idv) && error != NULL)) {
        return DMCP__MSG_INVALID;
    }
    if (error != NULL &&
        (!json_is_object(error) || !json_is_integer(json_object_get(error, "code")))) {
        return DMCP__MSG_INVALID;
    }
    return DMCP__MSG_RESPONSE;
}

static json_t *envelope(const json_t *id)
{
    json_t *o = json_object();
    if (o == NULL) {
        return NULL;
    }
    json_t *idc = id != NULL ? json_deep_copy(id) : json_null();
    if (json_object_set_new(o, "jsonrpc", json_string("2.0")) != 0 ||
        json_object_set_new(o, "id", idc) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dmcp__jsonrpc_result(const json_t *id, json_t *result)
{
    json_t *o = envelope(id);
    if (o == NULL || result == NULL || json_object_set_new(o, "result", result) != 0) {
        if (o == NULL) {
            json_decref(result);
        }
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dmcp__jsonrpc_error(const json_t *id, int code, const char *message, json_t *data)
{
    json_t *o = envelope(id);
    json_t *e = json_object();
    if (o == NULL || e == NULL) {
        json_decref(o);
        json_decref(e);
        json_decref(data);
        return NULL;
    }
    json_object_set_new(e, "code", json_integer(code));
    json_object_set_new(e, "message", json_string(message != NULL ? message : "error"));
    if (data != NULL) {
        json_object_set_new(e, "data", data);
    }
    if (json_object_set_new(o, "error", e) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *dmcp__jsonrpc_notification(const char *method, json_t *params)
{
    json_t *o = json_object();
    if (o == NULL) {
        json_decref(params);
        return NULL;
    }
    json_object_set_new(o, "jsonrpc", json_string("2.0"));
    json_object_set_new(o, "method", json_string(method));
    if (params != NULL) {
        json_object_set_new(o, "params", params);
    }
    return o;
}

char *dmcp__json_dump(const json_t *v, size_t *len)
{
    /* JSON_COMPACT never emits a newline, so the output is one SSE data line / stdio line. */
    char *s = json_dumps(v, JSON_COMPACT);
    if (s != NULL && len != NULL) {
        *len = strlen(s);
    }
    return s;
}
