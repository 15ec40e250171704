/*
 * The fixtures the 2026-07-28 scenarios of the conformance suite (0.2.0-alpha.12) call. Each
 * is an ordinary tool: it asks for sampling, elicitation or roots with the same calls a
 * 2025 tool uses (dmcp_call_elicit, dmcp_call_sample, dmcp_call_request). Under 2025 they
 * block for the answer; under 2026-07-28 they return DMCP_E_INPUT_REQUIRED and the runtime
 * answers an input-required result, then runs the tool again with the client's answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <dmcp/dmcp.h>
#include "tools2026.h"

static dmcp_server *g_srv;

/* A status that is not an answer: return it so the runtime can ask (or report) it. */
static dmcp_status give_up(dmcp_result *r, const char *what, dmcp_status st)
{
    char text[200];
    snprintf(text, sizeof(text), "%s: %s", what, dmcp_strerror(st));
    dmcp_result_add_text(r, text);
    dmcp_result_set_error(r, true);
    return DMCP_OK;
}

static dmcp_status elicit_keyed(dmcp_call *c, const char *key, const char *message,
                                const char *schema_json, json_t **res)
{
    json_t *schema = json_loads(schema_json, 0, NULL);
    dmcp_call_set_input_key(c, key);
    dmcp_status st = dmcp_call_elicit(c, message, schema, 30000, res);
    json_decref(schema);
    return st;
}

static dmcp_status sample_keyed(dmcp_call *c, const char *key, const char *prompt, int max,
                                json_t **res)
{
    json_t *p = json_pack("{s:[{s:s,s:{s:s,s:s}}],s:i}", "messages", "role", "user", "content",
                          "type", "text", "text", prompt, "maxTokens", max);
    dmcp_call_set_input_key(c, key);
    dmcp_status st = dmcp_call_sample(c, p, 30000, res);
    json_decref(p);
    return st;
}

static dmcp_status roots_keyed(dmcp_call *c, const char *key, json_t **res)
{
    json_t *p = json_object();
    dmcp_call_set_input_key(c, key);
    dmcp_status st = dmcp_call_request(c, "roots/list", p, 30000, res);
    json_decref(p);
    return st;
}

static const char *content_str(const json_t *res, const char *field)
{
    const char *s = json_string_value(json_object_get(json_object_get(res, "content"), field));
    return s != NULL ? s : "";
}

static dmcp_status add_textf(dmcp_result *r, const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *t = malloc(n);
    if (t == NULL) {
        return DMCP_E_NOMEM;
    }
    snprintf(t, n, "%s%s%s", a, b, c);
    dmcp_status st = dmcp_result_add_text(r, t);
    free(t);
    return st;
}

#define NAME_SCHEMA                                                                                \
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]" \
    "}"

static dmcp_status ir_elicitation(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    json_t *res = NULL;
    dmcp_status st = elicit_keyed(c, "user_name", "What is your name?", NAME_SCHEMA, &res);
    if (st != DMCP_OK) {
        json_decref(res);
        return give_up(r, "Elicitation", st);
    }
    st = add_textf(r, "Hello, ", content_str(res, "name"), "!");
    json_decref(res);
    return st;
}

static dmcp_status ir_sampling(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    json_t *res = NULL;
    dmcp_status st =
        sample_keyed(c, "capital_question", "What is the capital of France?", 100, &res);
    if (st != DMCP_OK) {
        json_decref(res);
        return give_up(r, "Sampling", st);
    }
    st = add_textf(r, "LLM response: ", content_str(res, "text"), "");
    json_decref(res);
    return st;
}

static dmcp_status ir_roots(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    json_t *res = NULL;
    dmcp_status st = roots_keyed(c, "client_roots", &res);
    if (st != DMCP_OK) {
        json_decref(res);
        return give_up(r, "roots/list", st);
    }
    char *roots = json_dumps(json_object_get(res, "roots"), JSON_COMPACT);
    st = add_textf(r, "Client roots: ", roots != NULL ? roots : "[]", "");
    free(roots);
    json_decref(res);
    return st;
}

static dmcp_status ir_confirm(dmcp_call *c, dmcp_result *r, const char *ok_text)
{
    json_t *res = NULL;
    dmcp_status st = elicit_keyed(c, "confirm", "Please confirm",
                                  "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":"
                                  "\"boolean\"}},\"required\":[\"ok\"]}",
                                  &res);
    if (st != DMCP_OK) {
        json_decref(res);
        return give_up(r, "Elicitation", st);
    }
    json_decref(res);
    return dmcp_result_add_text(r, ok_text);
}

static dmcp_status ir_request_state(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    /* The runtime verified the requestState's HMAC before this run saw the answer. */
    return ir_confirm(c, r, "Confirmed: state-ok");
}

static dmcp_status ir_tampered(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    return ir_confirm(c, r, "Confirmed");
}

static dmcp_status ir_multiple(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    json_t *e = NULL, *s = NULL, *ro = NULL;
    /* All three asked in one run: each unanswered one is recorded, the run goes on. */
    dmcp_status st1 = elicit_keyed(c, "user_name", "What is your name?", NAME_SCHEMA, &e);
    dmcp_status st2 = sample_keyed(c, "greeting", "Generate a greeting", 50, &s);
    dmcp_status st3 = roots_keyed(c, "client_roots", &ro);
    dmcp_status st = st1 != DMCP_OK ? st1 : st2 != DMCP_OK ? st2 : st3;
    if (st == DMCP_OK) {
        st = add_textf(r, "Hello ", content_str(e, "name"), ", all inputs received");
    } else {
        give_up(r, "Inputs", st);
        st = DMCP_OK;
    }
    json_decref(e);
    json_decref(s);
    json_decref(ro);
    return st;
}

static dmcp_status ir_multi_round(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    json_t *n = NULL, *col = NULL;
    dmcp_status st = elicit_keyed(c, "step1", "Step 1: What is your name?", NAME_SCHEMA, &n);
    if (st == DMCP_OK) {
        st = elicit_keyed(c, "step2", "Step 2: What is your favorite color?",
                          "{\"type\":\"object\",\"properties\":{\"color\":{\"type\":\"string\"}"
                          "},\"required\":[\"color\"]}",
                          &col);
    }
    if (st == DMCP_OK) {
        char text[300];
        snprintf(text, sizeof(text), "%s likes %s", content_str(n, "name"),
                 content_str(col, "color"));
        st = dmcp_result_add_text(r, text);
    } else {
        st = give_up(r, "Inputs", st);
    }
    json_decref(n);
    json_decref(col);
    return st;
}

static dmcp_status ir_capabilities(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    json_t *e = NULL, *s = NULL;
    /* An undeclared capability answers DMCP_E_STATE and is never asked for. */
    dmcp_status st1 = elicit_keyed(c, "user_name", "What is your name?", NAME_SCHEMA, &e);
    dmcp_status st2 = sample_keyed(c, "greeting", "Generate a greeting", 50, &s);
    json_decref(e);
    json_decref(s);
    if (st1 == DMCP_E_INPUT_REQUIRED || st2 == DMCP_E_INPUT_REQUIRED) {
        return give_up(r, "Inputs", DMCP_E_INPUT_REQUIRED);
    }
    return dmcp_result_add_text(r, st1 == DMCP_OK || st2 == DMCP_OK ? "Got what the client offers"
                                                                    : "The client offers nothing");
}

static dmcp_status missing_capability(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    json_t *res = NULL;
    dmcp_status st = sample_keyed(c, "needs_sampling", "Say hi", 20, &res);
    json_decref(res);
    /* Without the sampling capability the tool gives up; the runtime answers -32021. */
    return st == DMCP_OK ? dmcp_result_add_text(r, "sampled") : give_up(r, "Sampling", st);
}

static dmcp_status logging_tool(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    dmcp_call_log(c, DMCP_LOG_INFO, NULL, "logging tool ran");
    return dmcp_result_add_text(r, "logged (only when the client asked for a level)");
}

static dmcp_status trigger_tools(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)c, (void)a, (void)ud;
    dmcp_server_notify_list_changed(g_srv, DMCP_LIST_TOOLS);
    return dmcp_result_add_text(r, "tools list changed");
}

static dmcp_status trigger_prompts(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)c, (void)a, (void)ud;
    dmcp_server_notify_list_changed(g_srv, DMCP_LIST_PROMPTS);
    return dmcp_result_add_text(r, "prompts list changed");
}

static const struct {
    const char *name;
    dmcp_tool_fn fn;
    bool streaming;
} TOOLS26[] = {
    {"test_input_required_result_elicitation", ir_elicitation, false},
    {"test_input_required_result_sampling", ir_sampling, false},
    {"test_input_required_result_list_roots", ir_roots, false},
    {"test_input_required_result_request_state", ir_request_state, false},
    {"test_input_required_result_multiple_inputs", ir_multiple, false},
    {"test_input_required_result_multi_round", ir_multi_round, false},
    {"test_input_required_result_tampered_state", ir_tampered, false},
    {"test_input_required_result_capabilities", ir_capabilities, false},
    {"test_missing_capability", missing_capability, false},
    {"test_streaming_elicitation", ir_elicitation, true},
    {"test_logging_tool", logging_tool, false},
    {"test_trigger_tool_change", trigger_tools, false},
    {"test_trigger_prompt_change", trigger_prompts, false},
};

/* A prompt that asks for input the way the tools above do, through its request's call. */
static dmcp_status ir_prompt(const json_t *a, dmcp_prompt_result *r, void *ud)
{
    (void)a;
    (void)ud;
    json_t *res = NULL;
    dmcp_status st = elicit_keyed(dmcp_prompt_result_call(r), "user_context",
                                  "What context should the prompt use?",
                                  "{\"type\":\"object\",\"properties\":{\"context\":"
                                  "{\"type\":\"string\"}},\"required\":[\"context\"]}",
                                  &res);
    if (st == DMCP_E_INPUT_REQUIRED) {
        return st;
    }
    const char *context = st == DMCP_OK ? content_str(res, "context") : "";
    char text[300];
    snprintf(text, sizeof(text), "Use this context: %s",
             context[0] != '\0' ? context : "(none given)");
    json_decref(res);
    return dmcp_prompt_result_add_text(r, DMCP_ROLE_USER, text);
}

int add_tools_2026(dmcp_server *srv)
{
    dmcp_prompt *p;
    if (dmcp_prompt_new("test_input_required_result_prompt", ir_prompt, NULL, &p) != DMCP_OK ||
        dmcp_prompt_set_description(p, "2026-07-28 conformance fixture: asks for input") !=
            DMCP_OK ||
        dmcp_server_add_prompt(srv, p) != DMCP_OK) {
        fprintf(stderr, "cannot add prompt test_input_required_result_prompt\n");
        return -1;
    }
    g_srv = srv;
    for (size_t i = 0; i < sizeof(TOOLS26) / sizeof(TOOLS26[0]); i++) {
        dmcp_tool *t;
        if (dmcp_tool_new(TOOLS26[i].name, TOOLS26[i].fn, NULL, &t) != DMCP_OK) {
            return -1;
        }
        dmcp_tool_set_streaming(t, TOOLS26[i].streaming);
        if (dmcp_tool_set_description(t, "2026-07-28 conformance fixture") != DMCP_OK ||
            dmcp_server_add_tool(srv, t) != DMCP_OK) {
            fprintf(stderr, "cannot add tool %s\n", TOOLS26[i].name);
            return -1;
        }
    }
    return 0;
}
