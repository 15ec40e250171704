/* Prompts (MCP 2025-11-25 Server › Prompts): registry, prompts/list, prompts/get. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

#define MAX_PROMPT_ARGS 64
#define MAX_ARG_VALUE (64 * 1024)
#define MAX_MESSAGES 1000

typedef struct prompt_arg {
    char *name, *description;
    bool required;
    dmcp_complete_fn complete;
    void *complete_ud;
} prompt_arg;

struct dmcp_prompt {
    char *name, *title, *description;
    prompt_arg *args;
    size_t n_args;
    dmcp_prompt_fn handler;
    void *userdata;
};

struct dmcp_prompt_result {
    json_t *messages;
    char *description;
    const dmcp_principal *principal;
    dmcp_call *call; /* the request, or NULL */
};

static bool name_ok(const char *n)
{
    size_t len = n != NULL ? strlen(n) : 0;
    if (len == 0 || len > DMCP__TOOL_NAME_MAX) {
        return false;
    }
    for (const char *p = n; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

static dmcp_status set_text(char **dst, const char *v)
{
    char *c = NULL;
    if (v != NULL) {
        json_t *probe = json_string(v);
        if (probe == NULL) {
            return DMCP_E_INVALID_ARG;
        }
        json_decref(probe);
        c = dmcp__strdup(v);
        if (c == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    free(*dst);
    *dst = c;
    return DMCP_OK;
}

dmcp_status dmcp_prompt_new(const char *name, dmcp_prompt_fn handler, void *userdata,
                            dmcp_prompt **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = NULL;
    if (!name_ok(name) || handler == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_prompt *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return DMCP_E_NOMEM;
    }
    p->name = dmcp__strdup(name);
    if (p->name == NULL) {
        free(p);
        return DMCP_E_NOMEM;
    }
    p->handler = handler;
    p->userdata = userdata;
    *out = p;
    return DMCP_OK;
}

void dmcp_prompt_free(dmcp_prompt *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n_args; i++) {
        free(p->args[i].name);
        free(p->args[i].description);
    }
    free(p->args);
    free(p->name);
    free(p->title);
    free(p->description);
    free(p);
}

dmcp_status dmcp_prompt_set_title(dmcp_prompt *p, const char *title)
{
    return p == NULL ? DMCP_E_INVALID_ARG : set_text(&p->title, title);
}

dmcp_status dmcp_prompt_set_description(dmcp_prompt *p, const char *description)
{
    return p == NULL ? DMCP_E_INVALID_ARG : set_text(&p->description, description);
}

static prompt_arg *find_arg(const dmcp_prompt *p, const char *name)
{
    for (size_t i = 0; name != NULL && i < p->n_args; i++) {
        if (strcmp(p->args[i].name, name) == 0) {
            return &p->args[i];
        }
    }
    return NULL;
}

dmcp_status dmcp_prompt_add_argument(dmcp_prompt *p, const char *name, const char *description,
                                     bool required)
{
    if (p == NULL || !name_ok(name) || find_arg(p, name) != NULL || p->n_args >= MAX_PROMPT_ARGS) {
        return DMCP_E_INVALID_ARG;
    }
    prompt_arg *na = realloc(p->args, (p->n_args + 1) * sizeof(*na));
    if (na == NULL) {
        return DMCP_E_NOMEM;
    }
    p->args = na;
    prompt_arg a = {NULL, NULL, required, NULL, NULL};
    if (set_text(&a.name, name) != DMCP_OK || set_text(&a.description, description) != DMCP_OK) {
        free(a.name);
        free(a.description);
        return DMCP_E_INVALID_ARG;
    }
    na[p->n_args++] = a;
    return DMCP_OK;
}

dmcp_status dmcp_prompt_set_completion(dmcp_prompt *p, const char *argument, dmcp_complete_fn fn,
                                       void *userdata)
{
    prompt_arg *a = p != NULL ? find_arg(p, argument) : NULL;
    if (a == NULL || fn == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    a->complete = fn;
    a->complete_ud = userdata;
    return DMCP_OK;
}

dmcp_status dmcp_server_add_prompt(dmcp_server *srv, dmcp_prompt *prompt)
{
    if (srv == NULL || prompt == NULL) {
        dmcp_prompt_free(prompt);
        return DMCP_E_INVALID_ARG;
    }
    if (atomic_load(&srv->started)) {
        dmcp_prompt_free(prompt);
        return DMCP_E_STATE;
    }
    bool completes = false;
    for (size_t i = 0; i < prompt->n_args; i++) {
        completes = completes || prompt->args[i].complete != NULL;
    }
    dmcp_status st = dmcp__reg_add(&srv->prompts, prompt->name, prompt);
    if (st != DMCP_OK) {
        dmcp_prompt_free(prompt);
        return st;
    }
    srv->has_completions = srv->has_completions || completes;
    return DMCP_OK;
}

void dmcp__prompts_free(dmcp_server *srv)
{
    for (size_t i = 0; i < srv->prompts.count; i++) {
        dmcp_prompt_free(srv->prompts.items[i]);
    }
    dmcp__reg_free(&srv->prompts);
}

bool dmcp__prompt_completer(const dmcp_server *srv, const char *prompt, const char *arg,
                            bool *known, dmcp_complete_fn *fn, void **ud)
{
    const dmcp_prompt *p = dmcp__reg_find(&srv->prompts, prompt);
    *known = false;
    if (p == NULL) {
        return false;
    }
    const prompt_arg *a = find_arg(p, arg);
    *known = a != NULL;
    if (a != NULL && a->complete != NULL) {
        *fn = a->complete;
        *ud = a->complete_ud;
    }
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Prompt results                                                                           */
/* ---------------------------------------------------------------------------------------- */

dmcp_status dmcp_prompt_result_set_description(dmcp_prompt_result *r, const char *description)
{
    return r == NULL ? DMCP_E_INVALID_ARG : set_text(&r->description, description);
}

const dmcp_principal *dmcp_prompt_result_principal(const dmcp_prompt_result *r)
{
    return r != NULL ? r->principal : NULL;
}

dmcp_call *dmcp_prompt_result_call(dmcp_prompt_result *r)
{
    return r != NULL ? r->call : NULL;
}

dmcp_status dmcp_prompt_result_add_content(dmcp_prompt_result *r, dmcp_role role, json_t *block)
{
    if (r == NULL || (role != DMCP_ROLE_USER && role != DMCP_ROLE_ASSISTANT) ||
        !json_is_object(block) || !json_is_string(json_object_get(block, "type")) ||
        json_array_size(r->messages) >= MAX_MESSAGES) {
        json_decref(block);
        return DMCP_E_INVALID_ARG;
    }
    json_t *m = json_pack("{s:s,s:o}", "role", role == DMCP_ROLE_USER ? "user" : "assistant",
                          "content", block);
    if (m == NULL) {
        return DMCP_E_NOMEM;
    }
    return json_array_append_new(r->messages, m) == 0 ? DMCP_OK : DMCP_E_NOMEM;
}

/*
 * The content builders of tool results (context.c) produce exactly the content blocks a
 * prompt message carries (Server › Prompts §"Data types"); reuse them on a scratch result.
 */
static dmcp_status via_result(dmcp_prompt_result *r, dmcp_role role, dmcp_status st,
                              dmcp_result *tmp)
{
    if (st == DMCP_OK) {
        json_t *b = json_incref(json_array_get(tmp->content, 0));
        st = dmcp_prompt_result_add_content(r, role, b);
    }
    dmcp__result_clear(tmp);
    return st;
}

dmcp_status dmcp_prompt_result_add_text(dmcp_prompt_result *r, dmcp_role role, const char *text)
{
    dmcp_result tmp;
    dmcp__result_init(&tmp);
    return via_result(r, role, dmcp_result_add_text(&tmp, text), &tmp);
}

dmcp_status dmcp_prompt_result_add_image(dmcp_prompt_result *r, dmcp_role role,
                                         const char *base64_data, const char *mime_type)
{
    dmcp_result tmp;
    dmcp__result_init(&tmp);
    return via_result(r, role, dmcp_result_add_image(&tmp, base64_data, mime_type), &tmp);
}

dmcp_status dmcp_prompt_result_add_audio(dmcp_prompt_result *r, dmcp_role role,
                                         const char *base64_data, const char *mime_type)
{
    dmcp_result tmp;
    dmcp__result_init(&tmp);
    return via_result(r, role, dmcp_result_add_audio(&tmp, base64_data, mime_type), &tmp);
}

dmcp_status dmcp_prompt_result_add_embedded_text(dmcp_prompt_result *r, dmcp_role role,
                                                 const char *uri, const char *mime_type,
                                                 const char *text)
{
    dmcp_result tmp;
    dmcp__result_init(&tmp);
    return via_result(r, role, dmcp_result_add_embedded_text(&tmp, uri, mime_type, text), &tmp);
}

dmcp_status dmcp_prompt_result_add_embedded_blob(dmcp_prompt_result *r, dmcp_role role,
                                                 const char *uri, const char *mime_type,
                                                 const char *base64_blob)
{
    dmcp_result tmp;
    dmcp__result_init(&tmp);
    return via_result(r, role, dmcp_result_add_embedded_blob(&tmp, uri, mime_type, base64_blob),
                      &tmp);
}

dmcp_status dmcp_prompt_result_add_resource_link(dmcp_prompt_result *r, dmcp_role role,
                                                 const char *uri, const char *name,
                                                 const char *mime_type, const char *description)
{
    dmcp_result tmp;
    dmcp__result_init(&tmp);
    return via_result(r, role,
                      dmcp_result_add_resource_link(&tmp, uri, name, mime_type, description), &tmp);
}

/* ---------------------------------------------------------------------------------------- */
/* Methods                                                                                  */
/* ---------------------------------------------------------------------------------------- */

json_t *dmcp__prompts_list(const dmcp_server *srv, const json_t *params, int *code,
                           const char **message)
{
    size_t off, end;
    if (!dmcp__page(params, 'p', srv->prompts.count, srv->page_size, &off, &end, code, message)) {
        return NULL;
    }
    json_t *arr = json_array(), *res = json_object();
    if (arr == NULL || res == NULL) {
        json_decref(arr);
        json_decref(res);
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Out of memory";
        return NULL;
    }
    for (size_t i = off; i < end; i++) {
        const dmcp_prompt *p = srv->prompts.items[i];
        json_t *o = json_pack("{s:s}", "name", p->name);
        if (p->title != NULL) {
            json_object_set_new(o, "title", json_string(p->title));
        }
        json_object_set_new(o, "description", json_string(p->description ? p->description : ""));
        if (p->n_args > 0) {
            json_t *args = json_array();
            for (size_t k = 0; k < p->n_args; k++) {
                json_t *a = json_pack("{s:s,s:b}", "name", p->args[k].name, "required",
                                      p->args[k].required);
                if (p->args[k].description != NULL) {
                    json_object_set_new(a, "description", json_string(p->args[k].description));
                }
                json_array_append_new(args, a);
            }
            json_object_set_new(o, "arguments", args);
        }
        json_array_append_new(arr, o);
    }
    json_object_set_new(res, "prompts", arr);
    dmcp__set_next_cursor(res, 'p', end, srv->prompts.count);
    return res;
}

json_t *dmcp__prompts_get(const dmcp_server *srv, const dmcp_principal *principal,
                          const json_t *params, dmcp_call *call, int *code, const char **message)
{
    static _Thread_local char buf[160];
    const json_t *name = json_object_get(params, "name");
    const json_t *args = json_object_get(params, "arguments");
    *code = DMCP_JSONRPC_INVALID_PARAMS;
    if (!json_is_string(name)) {
        *message = "Missing prompt name";
        return NULL;
    }
    const dmcp_prompt *p = dmcp__reg_find(&srv->prompts, json_string_value(name));
    if (p == NULL) {
        /* Server › Prompts §"Error handling": an invalid prompt name is -32602. The name is
         * echoed only when it could be a valid one. */
        bool plain = name_ok(json_string_value(name));
        snprintf(buf, sizeof(buf), plain ? "Unknown prompt: %s" : "Unknown prompt",
                 json_string_value(name));
        *message = buf;
        return NULL;
    }
    if (args != NULL && !json_is_null(args) && !json_is_object(args)) {
        *message = "Invalid params: arguments must be an object";
        return NULL;
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)args, key, val)
    {
        if (find_arg(p, key) == NULL) {
            bool plain = name_ok(key);
            snprintf(buf, sizeof(buf), plain ? "Unknown argument: %s" : "Unknown argument", key);
            *message = buf;
            return NULL;
        }
        if (!json_is_string(val) || json_string_length(val) > MAX_ARG_VALUE) {
            snprintf(buf, sizeof(buf), "Argument %s must be a string", key);
            *message = buf;
            return NULL;
        }
    }
    for (size_t i = 0; i < p->n_args; i++) {
        if (p->args[i].required && json_object_get(args, p->args[i].name) == NULL) {
            /* Prompts §"Error handling": missing required arguments are -32602. */
            snprintf(buf, sizeof(buf), "Missing required argument: %s", p->args[i].name);
            *message = buf;
            return NULL;
        }
    }
    json_t *empty = json_is_object(args) ? NULL : json_object();
    dmcp_prompt_result r = {json_array(), NULL, principal, call};
    dmcp_status st = r.messages != NULL ? p->handler(empty != NULL ? empty : args, &r, p->userdata)
                                        : DMCP_E_NOMEM;
    json_decref(empty);
    json_t *res = NULL;
    if (st == DMCP_OK) {
        res = json_object();
    }
    if (res == NULL) {
        json_decref(r.messages);
        free(r.description);
        *code = DMCP_JSONRPC_INTERNAL_ERROR;
        *message = "Internal error rendering the prompt";
        return NULL;
    }
    if (r.description != NULL) {
        json_object_set_new(res, "description", json_string(r.description));
    }
    json_object_set_new(res, "messages", r.messages);
    free(r.description);
    return res;
}
