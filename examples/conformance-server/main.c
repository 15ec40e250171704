/*
 * conformance-server: the fixtures of the MCP conformance suite's server scenarios
 * (@modelcontextprotocol/conformance, see docs/interop.md), written with the public API the
 * way an application would use it.
 *
 *   conformance-server [--listen HOST:PORT] [--well-known-url URL [--mcp-server-url URL]]
 *
 * With --well-known-url the MCP endpoint is protected with OAuth access tokens (dmcp/protect.h):
 * a token for --mcp-server-url (default http://HOST:PORT/mcp) from that issuer is required.
 *
 * Tools, resources, prompts and completions are exactly those the scenarios name
 * (mcp-transport reference §7.2). Capabilities: tools{listChanged}, resources{subscribe,
 * listChanged}, prompts{listChanged}, logging, completions.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dmcp/auth.h>
#include <dmcp/common.h>
#include <dmcp/protect.h>
#include <dmcp/server.h>
#include <dmcp/store.h>

#include "tools2026.h"

/* A 1x1 PNG and an 8-sample 8 kHz mono WAV. */
static const char PNG[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/"
    "pLvAAAAAElFTkSuQmCC";
static const char WAV[] =
    "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==";

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- tools ------------------------------------------------------------------------------ */

static dmcp_status simple_text(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)c, (void)a, (void)ud;
    return dmcp_result_add_text(r, "This is a simple text response for testing.");
}

static dmcp_status image_content(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)c, (void)a, (void)ud;
    return dmcp_result_add_image(r, PNG, "image/png");
}

static dmcp_status audio_content(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)c, (void)a, (void)ud;
    return dmcp_result_add_audio(r, WAV, "audio/wav");
}

static dmcp_status embedded_resource(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)c, (void)a, (void)ud;
    return dmcp_result_add_embedded_text(r, "test://embedded-resource", "text/plain",
                                         "This is an embedded resource content.");
}

static dmcp_status multiple_content(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)c, (void)a, (void)ud;
    dmcp_status st = dmcp_result_add_text(r, "Multiple content types test:");
    if (st == DMCP_OK) {
        st = dmcp_result_add_image(r, PNG, "image/png");
    }
    if (st == DMCP_OK) {
        st = dmcp_result_add_embedded_text(r, "test://mixed-content-resource", "application/json",
                                           "{\"test\":\"data\",\"value\":123}");
    }
    return st;
}

static dmcp_status with_logging(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    dmcp_call_log(c, DMCP_LOG_INFO, NULL, "Tool execution started");
    sleep_ms(50);
    dmcp_call_log(c, DMCP_LOG_INFO, NULL, "Tool processing data");
    sleep_ms(50);
    dmcp_call_log(c, DMCP_LOG_INFO, NULL, "Tool execution completed");
    return dmcp_result_add_text(r, "Tool with logging executed successfully");
}

static dmcp_status with_progress(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    dmcp_call_progress(c, 0, 100, NULL);
    sleep_ms(50);
    dmcp_call_progress(c, 50, 100, NULL);
    sleep_ms(50);
    dmcp_call_progress(c, 100, 100, NULL);
    return dmcp_result_add_text(r, "Tool with progress executed successfully");
}

static dmcp_status error_handling(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)c, (void)a, (void)ud;
    dmcp_result_add_text(r, "This tool intentionally returns an error for testing");
    dmcp_result_set_error(r, true);
    return DMCP_OK;
}

/* A failed server->client request becomes a tool execution error naming why. */
static dmcp_status request_failed(dmcp_result *r, const char *what, dmcp_status st)
{
    char text[200];
    snprintf(text, sizeof(text), "%s failed: %s%s", what, dmcp_strerror(st),
             st == DMCP_E_STATE ? " (the client did not declare the capability)" : "");
    dmcp_result_add_text(r, text);
    dmcp_result_set_error(r, true);
    return DMCP_OK;
}

static dmcp_status sampling(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)ud;
    const char *prompt = json_string_value(json_object_get(a, "prompt"));
    json_t *params = json_pack("{s:[{s:s,s:{s:s,s:s}}],s:i}", "messages", "role", "user", "content",
                               "type", "text", "text", prompt, "maxTokens", 100);
    json_t *res = NULL;
    dmcp_status st = dmcp_call_sample(c, params, 30000, &res);
    json_decref(params);
    if (st != DMCP_OK) {
        json_decref(res);
        return request_failed(r, "Sampling", st);
    }
    const char *reply = json_string_value(json_object_get(json_object_get(res, "content"), "text"));
    char *text = NULL;
    size_t n = strlen(reply != NULL ? reply : "") + 32;
    text = malloc(n);
    if (text != NULL) {
        snprintf(text, n, "LLM response: %s", reply != NULL ? reply : "");
        st = dmcp_result_add_text(r, text);
    } else {
        st = DMCP_E_NOMEM;
    }
    free(text);
    json_decref(res);
    return st;
}

/* "<prefix>action=<a>, content=<json>" from an elicitation result. */
static dmcp_status elicit_and_report(dmcp_call *c, dmcp_result *r, const char *message,
                                     const char *schema_json, const char *prefix)
{
    json_t *schema = json_loads(schema_json, 0, NULL);
    json_t *res = NULL;
    dmcp_status st = dmcp_call_elicit(c, message, schema, 30000, &res);
    json_decref(schema);
    if (st != DMCP_OK) {
        json_decref(res);
        return request_failed(r, "Elicitation", st);
    }
    const char *action = json_string_value(json_object_get(res, "action"));
    const json_t *content = json_object_get(res, "content");
    char *cj = content != NULL ? json_dumps(content, JSON_COMPACT) : NULL;
    size_t n = strlen(prefix) + (cj != NULL ? strlen(cj) : 4) + 64;
    char *text = malloc(n);
    if (text != NULL) {
        snprintf(text, n, "%saction=%s, content=%s", prefix, action != NULL ? action : "?",
                 cj != NULL ? cj : "null");
        st = dmcp_result_add_text(r, text);
    } else {
        st = DMCP_E_NOMEM;
    }
    free(text);
    free(cj);
    json_decref(res);
    return st;
}

static dmcp_status elicitation(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)ud;
    return elicit_and_report(
        c, r, json_string_value(json_object_get(a, "message")),
        "{\"type\":\"object\",\"properties\":{"
        "\"username\":{\"type\":\"string\",\"description\":\"User's response\"},"
        "\"email\":{\"type\":\"string\",\"description\":\"User's email address\"}},"
        "\"required\":[\"username\",\"email\"]}",
        "User response: ");
}

static dmcp_status elicitation_defaults(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    /* SEP-1034: a default for every primitive type. */
    return elicit_and_report(
        c, r, "Please review and update the form fields with defaults",
        "{\"type\":\"object\",\"properties\":{"
        "\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John Doe\"},"
        "\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
        "\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
        "\"status\":{\"type\":\"string\",\"description\":\"User status\","
        "\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
        "\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\","
        "\"default\":true}}}",
        "Elicitation completed: ");
}

static dmcp_status elicitation_enums(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    /* SEP-1330: untitled/titled single select, legacy enumNames, untitled/titled multi. */
    return elicit_and_report(
        c, r, "Please select options from the enum fields",
        "{\"type\":\"object\",\"properties\":{"
        "\"untitledSingle\":{\"type\":\"string\",\"description\":\"Select one option\","
        "\"enum\":[\"option1\",\"option2\",\"option3\"]},"
        "\"titledSingle\":{\"type\":\"string\",\"description\":\"Select one option with titles\","
        "\"oneOf\":[{\"const\":\"value1\",\"title\":\"First Option\"},"
        "{\"const\":\"value2\",\"title\":\"Second Option\"},"
        "{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
        "\"legacyEnum\":{\"type\":\"string\",\"description\":\"Select one option (legacy)\","
        "\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
        "\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
        "\"untitledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options\","
        "\"minItems\":1,\"maxItems\":3,"
        "\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
        "\"titledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options with "
        "titles\",\"minItems\":1,\"maxItems\":3,"
        "\"items\":{\"anyOf\":[{\"const\":\"value1\",\"title\":\"First Choice\"},"
        "{\"const\":\"value2\",\"title\":\"Second Choice\"},"
        "{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},"
        "\"required\":[]}",
        "Elicitation completed: ");
}

static dmcp_status reconnection(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)a, (void)ud;
    /* SEP-1699: the client must hold an event id to resume; the 2025-11-25 priming event is
     * one, a notification is one for older protocol versions. */
    dmcp_call_log(c, DMCP_LOG_INFO, NULL, "Reconnection test: closing the stream");
    dmcp_status st = dmcp_call_close_stream(c, 500);
    if (st != DMCP_OK) {
        return request_failed(r, "Closing the stream", st);
    }
    /* The result is produced after the response ended: it reaches the client only through
     * GET + Last-Event-ID. */
    sleep_ms(300);
    return dmcp_result_add_text(r, "Reconnection test completed: result delivered after the "
                                   "stream was resumed");
}

static dmcp_status schema_2020_12(dmcp_call *c, const json_t *a, dmcp_result *r, void *ud)
{
    (void)c, (void)ud;
    char *s = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    dmcp_status st = dmcp_result_add_text(r, s != NULL ? s : "{}");
    free(s);
    return st;
}

static const char *const SCHEMA_2020_12 =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
    "\"$defs\":{\"address\":{\"type\":\"object\",\"properties\":{"
    "\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"address\":{\"$ref\":\"#/$defs/address\"}},"
    "\"additionalProperties\":false}";

typedef struct tool_def {
    const char *name, *description;
    dmcp_tool_fn fn;
    const char *schema; /* NULL: no arguments */
    bool streaming;     /* notifications or server->client requests while it runs */
} tool_def;

static const tool_def TOOLS[] = {
    {"test_simple_text", "Tests simple text content response", simple_text, NULL, false},
    {"test_image_content", "Tests image content response", image_content, NULL, false},
    {"test_audio_content", "Tests audio content response", audio_content, NULL, false},
    {"test_embedded_resource", "Tests embedded resource content response", embedded_resource, NULL,
     false},
    {"test_multiple_content_types", "Tests response with multiple content types", multiple_content,
     NULL, false},
    {"test_tool_with_logging", "Tests tool that emits log messages during execution", with_logging,
     NULL, true},
    {"test_tool_with_progress", "Tests tool that reports progress notifications", with_progress,
     NULL, true},
    {"test_error_handling", "Tests error response handling", error_handling, NULL, false},
    {"test_sampling", "Tests server-initiated sampling (LLM completion request)", sampling,
     "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
     "\"description\":\"The prompt to send to the LLM\"}},\"required\":[\"prompt\"]}",
     true},
    {"test_elicitation", "Tests server-initiated elicitation (user input request)", elicitation,
     "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
     "\"description\":\"The message to show the user\"}},\"required\":[\"message\"]}",
     true},
    {"test_elicitation_sep1034_defaults", "Tests elicitation with default values per SEP-1034",
     elicitation_defaults, NULL, true},
    {"test_elicitation_sep1330_enums",
     "Tests elicitation with enum schema improvements "
     "(SEP-1330)",
     elicitation_enums, NULL, true},
    {"json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features", schema_2020_12, NULL,
     false},
    {"test_reconnection",
     "Tests SSE polling: closes the stream mid-call, then delivers the "
     "result on the resumed stream (SEP-1699)",
     reconnection, NULL, true},
};

static int add_tools(dmcp_server *srv)
{
    for (size_t i = 0; i < sizeof(TOOLS) / sizeof(TOOLS[0]); i++) {
        const tool_def *d = &TOOLS[i];
        dmcp_tool *t;
        if (dmcp_tool_new(d->name, d->fn, NULL, &t) != DMCP_OK) {
            return -1;
        }
        const char *schema = d->schema;
        if (d->fn == schema_2020_12) {
            schema = SCHEMA_2020_12;
        }
        dmcp_tool_set_streaming(t, d->streaming);
        if (dmcp_tool_set_description(t, d->description) != DMCP_OK ||
            (schema != NULL && dmcp_tool_set_input_schema_json(t, schema) != DMCP_OK) ||
            dmcp_server_add_tool(srv, t) != DMCP_OK) {
            fprintf(stderr, "cannot add tool %s\n", d->name);
            return -1;
        }
    }
    return 0;
}

/* ---- resources -------------------------------------------------------------------------- */

static dmcp_status read_template(dmcp_contents *out, const char *uri, const json_t *vars, void *ud)
{
    (void)ud;
    const char *id = json_string_value(json_object_get(vars, "id"));
    json_t *doc =
        json_pack("{s:s,s:b,s:s+}", "id", id, "templateTest", 1, "data", "Data for ID: ", id);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (text == NULL) {
        return DMCP_E_NOMEM;
    }
    dmcp_status st = dmcp_contents_add_text(out, uri, "application/json", text);
    free(text);
    return st;
}

static dmcp_status complete_id(const char *arg, const char *value, const json_t *ctx,
                               dmcp_completion *out, void *ud)
{
    (void)arg, (void)ctx, (void)ud;
    static const char *const ids[] = {"1", "2", "3", "123", "456"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        if (strncmp(ids[i], value, strlen(value)) == 0) {
            dmcp_completion_add_value(out, ids[i]);
        }
    }
    return DMCP_OK;
}

static int add_resource(dmcp_server *srv, const char *uri, const char *name, const char *desc,
                        const char *mime, const char *text, const char *blob)
{
    dmcp_resource *r;
    if (dmcp_resource_new(uri, name, &r) != DMCP_OK) {
        return -1;
    }
    dmcp_status st = dmcp_resource_set_description(r, desc);
    if (st == DMCP_OK) {
        st = dmcp_resource_set_mime_type(r, mime);
    }
    if (st == DMCP_OK) {
        st = text != NULL ? dmcp_resource_set_text(r, text) : dmcp_resource_set_blob(r, blob);
    }
    if (st != DMCP_OK) {
        dmcp_resource_free(r);
        return -1;
    }
    return dmcp_server_add_resource(srv, r) == DMCP_OK ? 0 : -1;
}

static int add_resources(dmcp_server *srv)
{
    if (add_resource(srv, "test://static-text", "Static Text Resource",
                     "A static text resource for testing", "text/plain",
                     "This is the content of the static text resource.", NULL) != 0 ||
        add_resource(srv, "test://static-binary", "Static Binary Resource",
                     "A static binary resource (image) for testing", "image/png", NULL, PNG) != 0 ||
        add_resource(srv, "test://watched-resource", "Watched Resource",
                     "A resource that can be subscribed to for updates", "text/plain",
                     "Watched resource content", NULL) != 0) {
        return -1;
    }
    dmcp_resource_template *t;
    if (dmcp_resource_template_new("test://template/{id}/data", "Resource Template", read_template,
                                   NULL, &t) != DMCP_OK) {
        return -1;
    }
    if (dmcp_resource_template_set_description(t, "A resource template with parameter "
                                                  "substitution") != DMCP_OK ||
        dmcp_resource_template_set_mime_type(t, "application/json") != DMCP_OK ||
        dmcp_resource_template_set_completion(t, "id", complete_id, NULL) != DMCP_OK) {
        dmcp_resource_template_free(t);
        return -1;
    }
    return dmcp_server_add_resource_template(srv, t) == DMCP_OK ? 0 : -1;
}

/* ---- prompts ---------------------------------------------------------------------------- */

static dmcp_status simple_prompt(const json_t *a, dmcp_prompt_result *r, void *ud)
{
    (void)a, (void)ud;
    return dmcp_prompt_result_add_text(r, DMCP_ROLE_USER, "This is a simple prompt for testing.");
}

static dmcp_status args_prompt(const json_t *a, dmcp_prompt_result *r, void *ud)
{
    (void)ud;
    const char *a1 = json_string_value(json_object_get(a, "arg1"));
    const char *a2 = json_string_value(json_object_get(a, "arg2"));
    size_t n = strlen(a1) + strlen(a2) + 64;
    char *text = malloc(n);
    if (text == NULL) {
        return DMCP_E_NOMEM;
    }
    snprintf(text, n, "Prompt with arguments: arg1='%s', arg2='%s'", a1, a2);
    dmcp_status st = dmcp_prompt_result_add_text(r, DMCP_ROLE_USER, text);
    free(text);
    return st;
}

static dmcp_status resource_prompt(const json_t *a, dmcp_prompt_result *r, void *ud)
{
    (void)ud;
    const char *uri = json_string_value(json_object_get(a, "resourceUri"));
    dmcp_status st = dmcp_prompt_result_add_embedded_text(r, DMCP_ROLE_USER, uri, "text/plain",
                                                          "Embedded resource content for testing.");
    if (st == DMCP_OK) {
        st = dmcp_prompt_result_add_text(r, DMCP_ROLE_USER,
                                         "Please process the embedded resource above.");
    }
    return st;
}

static dmcp_status image_prompt(const json_t *a, dmcp_prompt_result *r, void *ud)
{
    (void)a, (void)ud;
    dmcp_status st = dmcp_prompt_result_add_image(r, DMCP_ROLE_USER, PNG, "image/png");
    if (st == DMCP_OK) {
        st = dmcp_prompt_result_add_text(r, DMCP_ROLE_USER, "Please analyze the image above.");
    }
    return st;
}

static dmcp_status complete_arg(const char *arg, const char *value, const json_t *ctx,
                                dmcp_completion *out, void *ud)
{
    (void)arg, (void)ctx, (void)ud;
    static const char *const words[] = {"paris", "park", "party", "test", "testing", "tested"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strncmp(words[i], value, strlen(value)) == 0) {
            dmcp_completion_add_value(out, words[i]);
        }
    }
    return DMCP_OK;
}

static int add_prompt(dmcp_server *srv, const char *name, const char *desc, dmcp_prompt_fn fn,
                      const char *const *args, const char *const *arg_desc)
{
    dmcp_prompt *p;
    if (dmcp_prompt_new(name, fn, NULL, &p) != DMCP_OK) {
        return -1;
    }
    dmcp_status st = dmcp_prompt_set_description(p, desc);
    for (size_t i = 0; st == DMCP_OK && args != NULL && args[i] != NULL; i++) {
        st = dmcp_prompt_add_argument(p, args[i], arg_desc[i], true);
        if (st == DMCP_OK && fn == args_prompt) {
            st = dmcp_prompt_set_completion(p, args[i], complete_arg, NULL);
        }
    }
    if (st != DMCP_OK) {
        dmcp_prompt_free(p);
        return -1;
    }
    return dmcp_server_add_prompt(srv, p) == DMCP_OK ? 0 : -1;
}

static int add_prompts(dmcp_server *srv)
{
    static const char *const args2[] = {"arg1", "arg2", NULL};
    static const char *const args2_desc[] = {"First test argument", "Second test argument"};
    static const char *const res_args[] = {"resourceUri", NULL};
    static const char *const res_desc[] = {"URI of the resource to embed"};
    return add_prompt(srv, "test_simple_prompt", "A simple prompt without arguments", simple_prompt,
                      NULL, NULL) != 0 ||
                   add_prompt(srv, "test_prompt_with_arguments", "A prompt with required arguments",
                              args_prompt, args2, args2_desc) != 0 ||
                   add_prompt(srv, "test_prompt_with_embedded_resource",
                              "A prompt that includes an embedded resource", resource_prompt,
                              res_args, res_desc) != 0 ||
                   add_prompt(srv, "test_prompt_with_image", "A prompt that includes image content",
                              image_prompt, NULL, NULL) != 0
               ? -1
               : 0;
}

/* ---- auth ------------------------------------------------------------------------------- */

/* A validator for the issuer and this server's canonical URL, and the authorizer on top. */
static dmcp_status protect(dmcp_server *srv, const char *well_known, const char *url,
                           dmcp_validator **v, dmcp_error *err)
{
    char *resource = NULL; /* the canonical URL: PRM resource and token audience alike */
    dmcp_validator_config *cfg = NULL;
    dmcp_protect_options *o = NULL;
    dmcp_authorizer *a = NULL;
    dmcp_status st = dmcp_protect_canonical_resource(url, &resource, err);
    if (st == DMCP_OK) {
        st = dmcp_validator_config_new(&cfg);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_well_known_url(cfg, well_known);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_config_set_mcp_server_url(cfg, resource);
    }
    if (st == DMCP_OK) {
        st = dmcp_validator_new(cfg, v, err); /* fetches the discovery document and keys */
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_options_new(&o);
    }
    if (st == DMCP_OK) {
        st = dmcp_protect_authorizer_new(*v, o, &a, err);
    }
    if (st == DMCP_OK) {
        st = dmcp_server_set_authorizer(srv, a); /* the server takes a */
    }
    dmcp_protect_options_free(o);
    dmcp_validator_config_free(cfg);
    dmcp_free(resource);
    return st;
}

/* ---- main ------------------------------------------------------------------------------- */

/* The operational flags (--limit, --metrics-listen, --access-log, --log-level): kept as they
 * come, applied by the library once the server exists (dmcp_server_set_option). */
typedef struct ops_flags {
    const char *name[64];
    const char *value[64];
    int n;
} ops_flags;

static int ops_flag(ops_flags *f, const char *name, const char *value)
{
    if (f->n >= 64) {
        fprintf(stderr, "too many operational flags\n");
        return -1;
    }
    f->name[f->n] = name;
    f->value[f->n++] = value;
    return 0;
}

static dmcp_status apply_ops(dmcp_server *srv, const ops_flags *f, dmcp_error *err)
{
    dmcp_status st = DMCP_OK;
    for (int i = 0; st == DMCP_OK && i < f->n; i++) {
        st = dmcp_server_set_option(srv, f->name[i], f->value[i], err);
    }
    return st;
}

static void print_ops_help(FILE *out)
{
    char *help = dmcp_server_options_help();
    if (help != NULL) {
        fputs(help, out);
    }
    dmcp_free(help);
}


/* --store URL (or DMCP_STORE_URL) and --store-prefix P (issue 10, docs/scaling.md): the state
 * store shared by every instance behind a balancer. A bad URL or prefix: usage error (2). */
static int open_store(const char *prog, const char *url, const char *prefix, dmcp_store **out)
{
    dmcp_error e = {0};
    if (dmcp_store_open_flags(url, prefix, out, &e) != DMCP_OK) {
        fprintf(stderr, "%s: %s\n", prog, e.message);
        return 2;
    }
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: conformance-server [--listen HOST:PORT] "
                 "[--well-known-url URL [--mcp-server-url URL]] [--limit NAME=VALUE]... "
                 "[--metrics-listen HOST:PORT] [--access-log PATH|-] [--log-level LEVEL]\n"
                 "       [--store memory:|redis://[:PASSWORD@]HOST:PORT[/DB]] "
                 "[--store-prefix PREFIX]   (env DMCP_STORE_URL)\n"
                 "       conformance-server --stdio   (stdin/stdout, no auth; e.g. behind "
                 "descope-mcp gateway --upstream-stdio)\n");
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:3000";
    const char *well_known = NULL, *server_url = NULL;
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"well-known-url", required_argument, NULL, 'w'},
                                         {"mcp-server-url", required_argument, NULL, 'u'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"limit", required_argument, NULL, 'L'},
                                         {"metrics-listen", required_argument, NULL, 'M'},
                                         {"access-log", required_argument, NULL, 'A'},
                                         {"log-level", required_argument, NULL, 'V'},
                                         {"stdio", no_argument, NULL, 's'},
                                         {"store", required_argument, NULL, 'S'},
                                         {"store-prefix", required_argument, NULL, 'P'},
                                         {NULL, 0, NULL, 0}};
    ops_flags lf = {.n = 0};
    const char *store_url = NULL, *store_prefix = NULL;
    int c, use_stdio = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'w':
            well_known = optarg;
            break;
        case 'u':
            server_url = optarg;
            break;
        case 'S':
            store_url = optarg;
            break;
        case 'P':
            store_prefix = optarg;
            break;
        case 'L':
        case 'M':
        case 'A':
        case 'V':
            if (ops_flag(&lf,
                         c == 'L'   ? "limit"
                         : c == 'M' ? "metrics-listen"
                         : c == 'A' ? "access-log"
                                    : "log-level",
                         optarg) != 0) {
                return 2;
            }
            break;
        case 's':
            use_stdio = 1;
            break;
        case 'h':
            usage(stdout);
            print_ops_help(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (use_stdio && well_known != NULL) {
        fprintf(stderr, "conformance-server: --stdio has no auth (no --well-known-url)\n");
        return 2;
    }
    if (server_url != NULL && well_known == NULL) {
        fprintf(stderr, "conformance-server: --mcp-server-url needs --well-known-url\n");
        return 2;
    }
    dmcp_store *store = NULL;
    if (open_store("conformance-server", store_url, store_prefix, &store) != 0) {
        return 2;
    }
    dmcp_server *srv;
    if (dmcp_server_new("dmcp-conformance-server", "1.0.0", &srv) != DMCP_OK) {
        dmcp_store_free(store);
        return 1;
    }
    dmcp_validator *v = NULL;
    dmcp_error err = {0};
    int rc = 1;
    if (dmcp_server_set_listen_string(srv, listen) != DMCP_OK) {
        fprintf(stderr, "conformance-server: bad --listen %s\n", listen);
        rc = 2;
        goto out;
    }
    if (dmcp_server_set_store(srv, store) != DMCP_OK) {
        goto out;
    }
    if (apply_ops(srv, &lf, &err) != DMCP_OK) {
        fprintf(stderr, "conformance-server: %s\n", err.message);
        rc = 2;
        goto out;
    }
    if (add_tools(srv) != 0 || add_tools_2026(srv) != 0 || add_resources(srv) != 0 ||
        add_prompts(srv) != 0 ||
        dmcp_server_set_list_changed(srv, DMCP_LIST_TOOLS | DMCP_LIST_RESOURCES |
                                              DMCP_LIST_PROMPTS) != DMCP_OK) {
        fprintf(stderr, "conformance-server: setup failed\n");
        goto out;
    }
    if (well_known != NULL) {
        char default_url[300];
        snprintf(default_url, sizeof(default_url), "http://%s/mcp", listen);
        dmcp_status pst =
            protect(srv, well_known, server_url != NULL ? server_url : default_url, &v, &err);
        if (pst != DMCP_OK) {
            fprintf(stderr, "conformance-server: auth: %s\n",
                    err.message[0] ? err.message : dmcp_strerror(pst));
            goto out;
        }
    }
    dmcp_status st =
        use_stdio ? dmcp_server_run_stdio(srv, 0, 1, &err) : dmcp_server_run(srv, &err);
    if (st != DMCP_OK) {
        fprintf(stderr, "conformance-server: %s\n", err.message);
        goto out;
    }
    rc = 0;
out:
    dmcp_server_free(srv); /* before the validator, which the authorizer borrows */
    dmcp_validator_free(v);
    dmcp_store_free(store); /* after the server that borrowed it */
    return rc;
}
