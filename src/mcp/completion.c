/* completion/complete (MCP 2025-11-25 Server › Utilities › Completion). */
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

#define MAX_VALUES 100 /* Completion §"Completion results": at most 100 items */
#define MAX_COMPLETE_INPUT (4 * 1024)

struct dmcp_completion {
    json_t *values;
    size_t total; /* values offered, including those beyond the cap */
    size_t declared_total;
    bool has_more;
};

dmcp_status dmcp_completion_add_value(dmcp_completion *out, const char *value)
{
    if (out == NULL || value == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    out->total++;
    if (json_array_size(out->values) >= MAX_VALUES) {
        out->has_more = true;
        return DMCP_OK;
    }
    json_t *v = json_string(value);
    if (v == NULL) {
        out->total--;
        return DMCP_E_INVALID_ARG;
    }
    return json_array_append_new(out->values, v) == 0 ? DMCP_OK : DMCP_E_NOMEM;
}

void dmcp_completion_set_total(dmcp_completion *out, size_t total)
{
    if (out != NULL) {
        out->declared_total = total;
    }
}

void dmcp_completion_set_has_more(dmcp_completion *out, bool has_more)
{
    if (out != NULL) {
        out->has_more = has_more;
    }
}

json_t *dmcp__complete(const dmcp_server *srv, const json_t *params, int *code,
                       const char **message)
{
    const json_t *ref = json_object_get(params, "ref");
    const json_t *arg = json_object_get(params, "argument");
    const char *type = json_string_value(json_object_get(ref, "type"));
    const json_t *aname = json_object_get(arg, "name");
    const json_t *avalue = json_object_get(arg, "value");
    const json_t *context = json_object_get(json_object_get(params, "context"), "arguments");
    *code = DMCP_JSONRPC_INVALID_PARAMS;
    if (type == NULL || !json_is_string(aname) || !json_is_string(avalue) ||
        json_string_length(avalue) > MAX_COMPLETE_INPUT ||
        (context != NULL && !json_is_object(context))) {
        *message = "Invalid params: ref and argument{name,value} are required";
        return NULL;
    }
    dmcp_complete_fn fn = NULL;
    void *ud = NULL;
    bool known = false, found;
    if (strcmp(type, "ref/prompt") == 0) {
        found = dmcp__prompt_completer(srv, json_string_value(json_object_get(ref, "name")),
                                       json_string_value(aname), &known, &fn, &ud);
    } else if (strcmp(type, "ref/resource") == 0) {
        found = dmcp__template_completer(srv, json_string_value(json_object_get(ref, "uri")),
                                         json_string_value(aname), &known, &fn, &ud);
    } else {
        *message = "Invalid params: unknown ref type";
        return NULL;
    }
    if (!found) {
        *message = "Invalid params: unknown prompt or resource template";
        return NULL;
    }
    if (!known) {
        *message = "Invalid params: unknown argument";
        return NULL;
    }
    dmcp_completion c = {json_array(), 0, 0, false};
    if (c.values == NULL) {
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Out of memory";
        return NULL;
    }
    /* An argument without a completer has no suggestions: an empty, valid answer. */
    if (fn != NULL &&
        fn(json_string_value(aname), json_string_value(avalue), context, &c, ud) != DMCP_OK) {
        json_decref(c.values);
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Completion failed";
        return NULL;
    }
    size_t total = c.declared_total > c.total ? c.declared_total : c.total;
    bool more = c.has_more || total > json_array_size(c.values);
    return json_pack("{s:{s:o,s:I,s:b}}", "completion", "values", c.values, "total",
                     (json_int_t)total, "hasMore", more);
}
