/*
 * dmcp/server.h - the MCP server runtime: JSON-RPC 2.0, lifecycle, tools, Streamable HTTP
 * (libmicrohttpd) and stdio transports.
 *
 * The runtime knows nothing of tokens, JWTs or Descope. Authentication and authorization reach
 * it only through a dmcp_authorizer (dmcp/authorizer.h, included here): a set of callbacks that see each HTTP request to
 * the MCP endpoint and answer either a dmcp_principal or a complete HTTP refusal.
 *
 * A minimal server:
 *
 *   static dmcp_status echo(dmcp_call *call, const json_t *args, dmcp_result *res, void *ud)
 *   {
 *       return dmcp_result_add_text(res, json_string_value(json_object_get(args, "text")));
 *   }
 *
 *   dmcp_server *srv;
 *   dmcp_server_new("echo", "1.0.0", &srv);
 *   dmcp_tool *t;
 *   dmcp_tool_new("echo", echo, NULL, &t);
 *   dmcp_tool_set_input_schema_json(t, "{\"type\":\"object\",\"properties\":{\"text\":"
 *                                      "{\"type\":\"string\"}},\"required\":[\"text\"]}");
 *   dmcp_server_add_tool(srv, t);                 // the server now owns t
 *   dmcp_server_set_listen(srv, "127.0.0.1", 8080);
 *   dmcp_server_run(srv, NULL);                   // until SIGINT/SIGTERM
 *   dmcp_server_free(srv);
 *
 * Threading: handlers run on the HTTP server's worker threads (several at once) or on the
 * runtime's own worker threads for streamed responses; they must be thread-safe. Everything
 * configured on a server must be configured before it starts (DMCP_E_STATE afterwards).
 */
#ifndef DMCP_SERVER_H
#define DMCP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dmcp/common.h"
#include "dmcp/authorizer.h" /* dmcp_principal, dmcp_authorizer, the HTTP views */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmcp_server dmcp_server;
typedef struct dmcp_tool dmcp_tool;
typedef struct dmcp_call dmcp_call;
typedef struct dmcp_result dmcp_result;
typedef struct dmcp_resource dmcp_resource;
typedef struct dmcp_resource_template dmcp_resource_template;
typedef struct dmcp_contents dmcp_contents;
typedef struct dmcp_prompt dmcp_prompt;
typedef struct dmcp_prompt_result dmcp_prompt_result;
typedef struct dmcp_completion dmcp_completion;

/* Protocol revisions the runtime speaks, oldest first. The newest is offered by default. */
#define DMCP_PROTOCOL_2025_03_26 "2025-03-26"
#define DMCP_PROTOCOL_2025_06_18 "2025-06-18"
#define DMCP_PROTOCOL_2025_11_25 "2025-11-25"
#define DMCP_PROTOCOL_LATEST DMCP_PROTOCOL_2025_11_25
/*
 * The stateless revision. Served on the same endpoint as the session-based ones: a request
 * whose params._meta carries "io.modelcontextprotocol/protocolVersion" is served under its
 * rules (no session, per-request client capabilities, input-required results instead of
 * server->client requests); an initialize opens a 2025 session as before.
 */
#define DMCP_PROTOCOL_2026_07_28 "2026-07-28"

/* JSON-RPC 2.0 error codes (JSON-RPC §5.1). */
#define DMCP_JSONRPC_PARSE_ERROR (-32700)
#define DMCP_JSONRPC_INVALID_REQUEST (-32600)
#define DMCP_JSONRPC_METHOD_NOT_FOUND (-32601)
#define DMCP_JSONRPC_INVALID_PARAMS (-32602)
#define DMCP_JSONRPC_INTERNAL_ERROR (-32603)
/* MCP: resources/read of an unknown resource (Server › Resources §7, up to 2025-11-25). */
#define DMCP_JSONRPC_RESOURCE_NOT_FOUND (-32002)

/* Log levels of notifications/message, in RFC 5424 order (least to most severe). */
typedef enum dmcp_log_level {
    DMCP_LOG_DEBUG = 0,
    DMCP_LOG_INFO,
    DMCP_LOG_NOTICE,
    DMCP_LOG_WARNING,
    DMCP_LOG_ERROR,
    DMCP_LOG_CRITICAL,
    DMCP_LOG_ALERT,
    DMCP_LOG_EMERGENCY
} dmcp_log_level;

/* ------------------------------------------------------------------------------------------ */
/* Tool results                                                                               */
/* ------------------------------------------------------------------------------------------ */

/*
 * A tool result under construction, owned by the runtime and handed to the handler. Strings
 * are copied. Binary data (image, audio, blob) is given already base64-encoded.
 * Ownership: the result is borrowed by the handler until it returns.
 * Thread-safety: use it only from the handler's thread.
 */
DMCP_API dmcp_status dmcp_result_add_text(dmcp_result *r, const char *text);
DMCP_API dmcp_status dmcp_result_add_image(dmcp_result *r, const char *base64_data,
                                           const char *mime_type);
DMCP_API dmcp_status dmcp_result_add_audio(dmcp_result *r, const char *base64_data,
                                           const char *mime_type);
/* name is required; mime_type and description may be NULL. */
DMCP_API dmcp_status dmcp_result_add_resource_link(dmcp_result *r, const char *uri,
                                                   const char *name, const char *mime_type,
                                                   const char *description);
/* An embedded resource with text contents; mime_type may be NULL. */
DMCP_API dmcp_status dmcp_result_add_embedded_text(dmcp_result *r, const char *uri,
                                                   const char *mime_type, const char *text);
/* An embedded resource with binary contents (base64). */
DMCP_API dmcp_status dmcp_result_add_embedded_blob(dmcp_result *r, const char *uri,
                                                   const char *mime_type, const char *base64_blob);
/* Any content block. Ownership: takes block (even on failure). */
DMCP_API dmcp_status dmcp_result_add_content(dmcp_result *r, json_t *block);
/*
 * Sets structuredContent (must be an object). When the tool has an output schema the value
 * is validated against it after the handler returns; a mismatch turns the result into an
 * isError result. Without text content, a text block holding the serialised JSON is added
 * (MCP 2025-06-18 Tools §5.2: SHOULD also return it as text). Ownership: takes value.
 */
DMCP_API dmcp_status dmcp_result_set_structured(dmcp_result *r, json_t *value);
/* Marks the result as a tool execution error (isError:true). */
DMCP_API void dmcp_result_set_error(dmcp_result *r, bool is_error);

/* ------------------------------------------------------------------------------------------ */
/* Handler context                                                                            */
/* ------------------------------------------------------------------------------------------ */

/*
 * Context of one tools/call, valid until the handler returns. Thread-safety: use it only
 * from the handler's thread (the cancellation flag may be polled there at any time).
 */

/* The JSON-RPC id of the request (string or integer, as received). Ownership: borrowed. */
DMCP_API const json_t *dmcp_call_request_id(const dmcp_call *call);
DMCP_API const char *dmcp_call_tool_name(const dmcp_call *call);
/* The negotiated protocol version. */
DMCP_API const char *dmcp_call_protocol_version(const dmcp_call *call);
/* The session id, or NULL (stdio, stateless). */
DMCP_API const char *dmcp_call_session_id(const dmcp_call *call);
/* True once the client sent notifications/cancelled for this request (or the server stops). */
DMCP_API bool dmcp_call_is_cancelled(const dmcp_call *call);
/* The caller (NULL on stdio or without an authorizer). Ownership: borrowed. */
DMCP_API const dmcp_principal *dmcp_call_principal(const dmcp_call *call);

/*
 * Sends notifications/progress for this request, when the client gave a progress token in
 * params._meta.progressToken (otherwise DMCP_OK and nothing is sent). progress must increase
 * from call to call (DMCP_E_INVALID_ARG otherwise). total < 0 means unknown; message may be
 * NULL.
 */
DMCP_API dmcp_status dmcp_call_progress(dmcp_call *call, double progress, double total,
                                        const char *message);
/*
 * Sends notifications/message when level is at or above the session's logging level
 * (logging/setLevel; default: everything). logger may be NULL. Ownership of data: borrowed.
 */
DMCP_API dmcp_status dmcp_call_log(dmcp_call *call, dmcp_log_level level, const char *logger,
                                   const char *message);
DMCP_API dmcp_status dmcp_call_log_json(dmcp_call *call, dmcp_log_level level, const char *logger,
                                        const json_t *data);

/*
 * Server-to-client requests (MCP 2025-11-25 Client › Sampling, Client › Elicitation): sends
 * the request to the client on this call's own stream and blocks the handler's thread until
 * the client's answer arrives (as a separate POST on HTTP, a line on stdio), the timeout
 * passes, or the call is cancelled. The request id is generated by the runtime.
 *
 * Only possible when the request's stream is live while the handler runs: on HTTP that is a
 * tool marked dmcp_tool_set_streaming(t, true) or a request that carries a progress token;
 * on stdio always. Not possible in stateless mode (no session to answer to).
 *
 * timeout_ms: 0 means the default (60 s); larger values are capped at 10 minutes.
 * Returns:
 *   DMCP_OK            *result is the client's result object (new reference).
 *   DMCP_E_STATE       the client did not declare the capability (sampling, elicitation,
 *                      roots), or there is no live stream / no session to send it on.
 *   DMCP_E_TIMEOUT     no answer in time (the runtime sends notifications/cancelled).
 *   DMCP_E_CANCELLED   the call was cancelled or the server is stopping (likewise).
 *   DMCP_E_PROTOCOL    the client answered with a JSON-RPC error; *result is that error
 *                      object {code,message,data?} (new reference).
 *   DMCP_E_RATE_LIMITED too many requests awaiting an answer in this session (256).
 * Ownership: params borrowed (copied); *result (may be NULL on error) is the caller's.
 * Thread-safety: only from the handler's thread, one request at a time per call.
 */
DMCP_API dmcp_status dmcp_call_request(dmcp_call *call, const char *method, const json_t *params,
                                       unsigned timeout_ms, json_t **result);
/*
 * Under 2026-07-28 there are no server->client requests: dmcp_call_request() (and sample,
 * elicit) answers from the client's inputResponses when the client already gave that answer
 * (DMCP_OK, *result set), and otherwise records the request and returns DMCP_E_INPUT_REQUIRED
 * at once. The handler should then return (any result): the runtime answers
 * {resultType:"input_required", inputRequests, requestState} with every request recorded in
 * that run, and runs the handler again, from the start, when the client retries with its
 * answers. A handler written for the 2025 revisions works unchanged, provided it makes the
 * same requests in the same order on every run. A request for a capability the client did
 * not declare returns DMCP_E_STATE (if the handler then records nothing, the client gets
 * -32021 naming the capability). Earlier answers travel in the HMAC-sealed requestState
 * (dmcp_server_set_state_key()).
 * Each request is keyed "<n>" (its order in the run) unless named here first: key names the
 * next request made on this call (1-64 of [A-Za-z0-9_.-]); copied. In 2025 mode the key goes
 * with that request as params._meta[DMCP_INPUT_KEY_META], a hint a 2026 gateway in front of
 * this server (descope-mcp gateway) uses to name its input request the same; clients ignore it.
 */
#define DMCP_INPUT_KEY_META "com.descope.mcp/inputKey"
DMCP_API dmcp_status dmcp_call_set_input_key(dmcp_call *call, const char *key);
/* True when the call is served under 2026-07-28 (input-required results instead of requests). */
DMCP_API bool dmcp_call_is_stateless_revision(const dmcp_call *call);
/*
 * SSE polling (MCP 2025-11-25 Transports §2.1, SEP-1699): ends this call's HTTP response now
 * with "retry: <retry_ms>"; the handler keeps running and what it sends afterwards (including
 * its result) waits for the client to resume the stream with GET + Last-Event-ID (the last 64
 * events / 1 MiB are kept, for 5 minutes). DMCP_E_STATE when the stream cannot be resumed:
 * stdio, stateless mode, a buffered (non-streaming) call, or no event id sent yet (the
 * priming event of 2025-11-25 counts; otherwise send a notification first).
 * Thread-safety: only from the handler's thread.
 */
DMCP_API dmcp_status dmcp_call_close_stream(dmcp_call *call, unsigned retry_ms);
/* sampling/createMessage with the given params ({messages, maxTokens, ...}). */
DMCP_API dmcp_status dmcp_call_sample(dmcp_call *call, const json_t *params, unsigned timeout_ms,
                                      json_t **result);
/*
 * elicitation/create {message, requestedSchema} (form mode). requested_schema is a flat object
 * schema of primitive properties (Client › Elicitation §"Requested schema"); *result is
 * {action: accept|decline|cancel, content?}.
 */
DMCP_API dmcp_status dmcp_call_elicit(dmcp_call *call, const char *message,
                                      const json_t *requested_schema, unsigned timeout_ms,
                                      json_t **result);

/*
 * For forwarded requests (dmcp_server_set_forwarder) and any handler: sends one notification
 * (a complete JSON-RPC notification object {jsonrpc,method,params}) on this call's stream, as
 * progress and log messages go (live when the stream is, else with the response). It is sent
 * as given: no progress-token or log-level filtering. Ownership: msg borrowed (copied).
 * DMCP_E_INVALID_ARG when msg is not a notification object.
 * Thread-safety: only from the handler's thread.
 */
DMCP_API dmcp_status dmcp_call_notify(dmcp_call *call, const json_t *msg);
/*
 * The client's initialize data of this call's session: capabilities and clientInfo (objects),
 * or NULL (not given, stdio before initialize). Under 2026-07-28 the per-request capabilities.
 * Ownership: borrowed, valid until the handler returns.
 */
DMCP_API const json_t *dmcp_call_client_capabilities(const dmcp_call *call);
DMCP_API const json_t *dmcp_call_client_info(const dmcp_call *call);

/* ------------------------------------------------------------------------------------------ */
/* Tools                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * A tool handler. arguments is always an object (already checked against the input schema).
 * Return DMCP_OK after filling result. Any other status makes an isError result; if the
 * handler added no content, a text block naming the failure is added.
 * Thread-safety: called concurrently from several threads.
 */
typedef dmcp_status (*dmcp_tool_fn)(dmcp_call *call, const json_t *arguments, dmcp_result *result,
                                    void *userdata);

/*
 * A tool definition. name: 1-64 characters of [A-Za-z0-9_.-] (DMCP_E_INVALID_ARG otherwise).
 * Ownership: *out is new; dmcp_server_add_tool() takes it, otherwise dmcp_tool_free().
 * Thread-safety: set a tool up on one thread before adding it; it is read-only afterwards.
 * Setters copy their arguments.
 */
DMCP_API dmcp_status dmcp_tool_new(const char *name, dmcp_tool_fn handler, void *userdata,
                                   dmcp_tool **out);
DMCP_API void dmcp_tool_free(dmcp_tool *t);
DMCP_API dmcp_status dmcp_tool_set_title(dmcp_tool *t, const char *title);
DMCP_API dmcp_status dmcp_tool_set_description(dmcp_tool *t, const char *description);
/*
 * The input JSON Schema: an object schema ({"type":"object",...}). Default:
 * {"type":"object","additionalProperties":false}. Emitted verbatim by tools/list; arguments
 * are checked against the subset type (incl. integer), properties, required, enum, const,
 * items, additionalProperties, minimum/maximum, exclusiveMinimum/Maximum, minLength/maxLength,
 * minItems/maxItems; other keywords pass through unchecked.
 * Ownership: schema is borrowed (the tool keeps a deep copy).
 */
DMCP_API dmcp_status dmcp_tool_set_input_schema(dmcp_tool *t, const json_t *schema);
DMCP_API dmcp_status dmcp_tool_set_input_schema_json(dmcp_tool *t, const char *schema_json);
/* Output schema (object schema); results must then carry conforming structuredContent. */
DMCP_API dmcp_status dmcp_tool_set_output_schema(dmcp_tool *t, const json_t *schema);
DMCP_API dmcp_status dmcp_tool_set_output_schema_json(dmcp_tool *t, const char *schema_json);
/* Annotations object (readOnlyHint, destructiveHint, ...), emitted verbatim. Borrowed. */
DMCP_API dmcp_status dmcp_tool_set_annotations(dmcp_tool *t, const json_t *annotations);
/*
 * A scope the caller must hold (repeatable). The runtime does not check scopes itself: it
 * asks the authorizer's authorize_tool callback before dispatch. Without an authorizer (stdio,
 * auth off) the tool is callable by anyone.
 */
DMCP_API dmcp_status dmcp_tool_add_required_scope(dmcp_tool *t, const char *scope);
/*
 * Always answer calls of this tool as an SSE stream and run the handler on a worker thread,
 * so progress and log notifications reach the client while it runs (default: only when the
 * request carries a progress token).
 */
DMCP_API void dmcp_tool_set_streaming(dmcp_tool *t, bool streaming);

/* ------------------------------------------------------------------------------------------ */
/* Completion (MCP 2025-11-25 Server › Utilities › Completion)                                */
/* ------------------------------------------------------------------------------------------ */

/*
 * Suggestions for one prompt argument or resource-template variable. argument is its name,
 * value what the user typed so far; context (may be NULL) is the object of arguments already
 * resolved (params.context.arguments). Add values with dmcp_completion_add_value; return
 * DMCP_OK (anything else answers -32603).
 * Thread-safety: called concurrently from several threads.
 */
typedef dmcp_status (*dmcp_complete_fn)(const char *argument, const char *value,
                                        const json_t *context, dmcp_completion *out,
                                        void *userdata);
/*
 * Adds a suggestion (copied). At most 100 values are sent (the spec's cap); further values are
 * counted into total and set hasMore. Ownership: out is borrowed during the callback.
 */
DMCP_API dmcp_status dmcp_completion_add_value(dmcp_completion *out, const char *value);
/* The total number of matches when larger than the values sent (optional). */
DMCP_API void dmcp_completion_set_total(dmcp_completion *out, size_t total);
DMCP_API void dmcp_completion_set_has_more(dmcp_completion *out, bool has_more);

/* ------------------------------------------------------------------------------------------ */
/* Resources (MCP 2025-11-25 Server › Resources)                                              */
/* ------------------------------------------------------------------------------------------ */

/*
 * Contents of a resources/read answer under construction, handed to read callbacks. Strings
 * are copied; blobs are given base64-encoded. Ownership: borrowed during the callback.
 */
DMCP_API dmcp_status dmcp_contents_add_text(dmcp_contents *c, const char *uri,
                                            const char *mime_type, const char *text);
DMCP_API dmcp_status dmcp_contents_add_blob(dmcp_contents *c, const char *uri,
                                            const char *mime_type, const char *base64_blob);
/* The caller (NULL on stdio or without an authorizer). Ownership: borrowed. */
DMCP_API const dmcp_principal *dmcp_contents_principal(const dmcp_contents *c);
/* 2026-07-28 caching hint for this answer (overrides dmcp_server_set_cache_hint()). */
DMCP_API dmcp_status dmcp_contents_set_cache_hint(dmcp_contents *c, unsigned ttl_ms,
                                                  bool public_scope);

/*
 * Reads a resource. uri is the requested URI; variables is NULL for a static resource, or for
 * a template the object of its variables (percent-decoded strings). Add one or more contents.
 * Return DMCP_E_NOT_FOUND to answer -32002 "Resource not found" (e.g. an id that does not
 * exist); any other failure answers -32603.
 * Thread-safety: called concurrently from several threads.
 */
typedef dmcp_status (*dmcp_resource_read_fn)(dmcp_contents *out, const char *uri,
                                             const json_t *variables, void *userdata);

/*
 * A static resource with a fixed URI (absolute, at most 2048 bytes, no whitespace or control
 * characters) and a name. Its contents are a fixed text or blob (setters) or come from a read
 * callback. Ownership: *out is new; dmcp_server_add_resource() takes it, otherwise
 * dmcp_resource_free(). Thread-safety: set up on one thread; read-only once added.
 */
DMCP_API dmcp_status dmcp_resource_new(const char *uri, const char *name, dmcp_resource **out);
DMCP_API void dmcp_resource_free(dmcp_resource *r);
DMCP_API dmcp_status dmcp_resource_set_title(dmcp_resource *r, const char *title);
DMCP_API dmcp_status dmcp_resource_set_description(dmcp_resource *r, const char *description);
DMCP_API dmcp_status dmcp_resource_set_mime_type(dmcp_resource *r, const char *mime_type);
/* Fixed contents: text, or a base64 blob (validated). Replaces earlier contents/reader. */
DMCP_API dmcp_status dmcp_resource_set_text(dmcp_resource *r, const char *text);
DMCP_API dmcp_status dmcp_resource_set_blob(dmcp_resource *r, const char *base64_blob);
DMCP_API dmcp_status dmcp_resource_set_reader(dmcp_resource *r, dmcp_resource_read_fn fn,
                                              void *userdata);

/*
 * A resource template: an RFC 6570 level-1 URI template (literal text and simple {var}
 * expressions; var of [A-Za-z0-9_]; no operators, no adjacent variables), listed by
 * resources/templates/list and matched by resources/read. A variable matches a non-empty run
 * of characters without '/', '?' or '#'. Static resources are matched first.
 * Ownership/thread-safety as dmcp_resource.
 */
DMCP_API dmcp_status dmcp_resource_template_new(const char *uri_template, const char *name,
                                                dmcp_resource_read_fn fn, void *userdata,
                                                dmcp_resource_template **out);
DMCP_API void dmcp_resource_template_free(dmcp_resource_template *t);
DMCP_API dmcp_status dmcp_resource_template_set_title(dmcp_resource_template *t, const char *title);
DMCP_API dmcp_status dmcp_resource_template_set_description(dmcp_resource_template *t,
                                                            const char *description);
DMCP_API dmcp_status dmcp_resource_template_set_mime_type(dmcp_resource_template *t,
                                                          const char *mime_type);
/* Completion of one of the template's variables (DMCP_E_INVALID_ARG for an unknown one). */
DMCP_API dmcp_status dmcp_resource_template_set_completion(dmcp_resource_template *t,
                                                           const char *variable,
                                                           dmcp_complete_fn fn, void *userdata);

/* ------------------------------------------------------------------------------------------ */
/* Prompts (MCP 2025-11-25 Server › Prompts)                                                  */
/* ------------------------------------------------------------------------------------------ */

typedef enum dmcp_role { DMCP_ROLE_USER = 0, DMCP_ROLE_ASSISTANT = 1 } dmcp_role;

/*
 * A prompts/get answer under construction. Strings are copied; binary data base64-encoded.
 * Ownership: borrowed during the handler. Thread-safety: the handler's thread only.
 */
DMCP_API dmcp_status dmcp_prompt_result_set_description(dmcp_prompt_result *r,
                                                        const char *description);
DMCP_API dmcp_status dmcp_prompt_result_add_text(dmcp_prompt_result *r, dmcp_role role,
                                                 const char *text);
DMCP_API dmcp_status dmcp_prompt_result_add_image(dmcp_prompt_result *r, dmcp_role role,
                                                  const char *base64_data, const char *mime_type);
DMCP_API dmcp_status dmcp_prompt_result_add_audio(dmcp_prompt_result *r, dmcp_role role,
                                                  const char *base64_data, const char *mime_type);
DMCP_API dmcp_status dmcp_prompt_result_add_embedded_text(dmcp_prompt_result *r, dmcp_role role,
                                                          const char *uri, const char *mime_type,
                                                          const char *text);
DMCP_API dmcp_status dmcp_prompt_result_add_embedded_blob(dmcp_prompt_result *r, dmcp_role role,
                                                          const char *uri, const char *mime_type,
                                                          const char *base64_blob);
DMCP_API dmcp_status dmcp_prompt_result_add_resource_link(dmcp_prompt_result *r, dmcp_role role,
                                                          const char *uri, const char *name,
                                                          const char *mime_type,
                                                          const char *description);
/* Any content block (object with "type"). Ownership: takes block (even on failure). */
DMCP_API dmcp_status dmcp_prompt_result_add_content(dmcp_prompt_result *r, dmcp_role role,
                                                    json_t *block);
/* The caller (NULL on stdio or without an authorizer). Ownership: borrowed. */
DMCP_API const dmcp_principal *dmcp_prompt_result_principal(const dmcp_prompt_result *r);
/*
 * The prompts/get request as a call, so a prompt can ask the client for input the way a tool
 * does (dmcp_call_elicit, dmcp_call_sample, dmcp_call_request, dmcp_call_set_input_key).
 * Under 2026-07-28 the first ask returns DMCP_E_INPUT_REQUIRED: return that status from the
 * handler, and the runtime answers an input-required result and renders the prompt again with
 * the client's answers. Under the 2025 revisions prompts/get is answered in one response, so
 * an ask returns DMCP_E_STATE (no live stream to carry it): render without the input then.
 * NULL when the handler is run outside a request. Ownership: borrowed, valid during the
 * handler. Thread-safety: only from the handler's thread.
 */
DMCP_API dmcp_call *dmcp_prompt_result_call(dmcp_prompt_result *r);

/*
 * Renders a prompt. arguments is an object of string values, already checked: every required
 * argument is present and no undeclared one is (otherwise -32602 before the handler runs).
 * Return DMCP_OK after adding messages; DMCP_E_INPUT_REQUIRED after an ask through
 * dmcp_prompt_result_call() that returned it; anything else answers -32603.
 * Thread-safety: called concurrently from several threads.
 */
typedef dmcp_status (*dmcp_prompt_fn)(const json_t *arguments, dmcp_prompt_result *result,
                                      void *userdata);

/*
 * A prompt. name as tool names (1-64 of [A-Za-z0-9_.-]). Ownership: *out is new;
 * dmcp_server_add_prompt() takes it, otherwise dmcp_prompt_free(). Setters copy.
 * Thread-safety: set up on one thread; read-only once added.
 */
DMCP_API dmcp_status dmcp_prompt_new(const char *name, dmcp_prompt_fn handler, void *userdata,
                                     dmcp_prompt **out);
DMCP_API void dmcp_prompt_free(dmcp_prompt *p);
DMCP_API dmcp_status dmcp_prompt_set_title(dmcp_prompt *p, const char *title);
DMCP_API dmcp_status dmcp_prompt_set_description(dmcp_prompt *p, const char *description);
/* Declares an argument (description may be NULL); duplicates are DMCP_E_INVALID_ARG. */
DMCP_API dmcp_status dmcp_prompt_add_argument(dmcp_prompt *p, const char *name,
                                              const char *description, bool required);
/* Completion of a declared argument (DMCP_E_INVALID_ARG for an undeclared one). */
DMCP_API dmcp_status dmcp_prompt_set_completion(dmcp_prompt *p, const char *argument,
                                                dmcp_complete_fn fn, void *userdata);

/* ------------------------------------------------------------------------------------------ */
/* Server                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * Ownership: *out is new, release with dmcp_server_free() (which stops a running server).
 * name/version go into serverInfo.
 */
DMCP_API dmcp_status dmcp_server_new(const char *name, const char *version, dmcp_server **out);
DMCP_API void dmcp_server_free(dmcp_server *srv);

/*
 * Setters: only before the server starts (DMCP_E_STATE afterwards). Strings are copied.
 * Thread-safety: configure from one thread.
 */
DMCP_API dmcp_status dmcp_server_set_title(dmcp_server *srv, const char *title);
DMCP_API dmcp_status dmcp_server_set_instructions(dmcp_server *srv, const char *instructions);
/* Ownership: takes tool (even on failure). A duplicate name is DMCP_E_INVALID_ARG. */
DMCP_API dmcp_status dmcp_server_add_tool(dmcp_server *srv, dmcp_tool *tool);
/* Ownership: takes authorizer (even on failure); replaces an earlier one. */
DMCP_API dmcp_status dmcp_server_set_authorizer(dmcp_server *srv, dmcp_authorizer *authorizer);
/* Ownership: takes resource (even on failure). A duplicate URI is DMCP_E_INVALID_ARG. */
DMCP_API dmcp_status dmcp_server_add_resource(dmcp_server *srv, dmcp_resource *resource);
/* Ownership: takes template (even on failure). A duplicate template is DMCP_E_INVALID_ARG. */
DMCP_API dmcp_status dmcp_server_add_resource_template(dmcp_server *srv,
                                                       dmcp_resource_template *tmpl);
/* Ownership: takes prompt (even on failure). A duplicate name is DMCP_E_INVALID_ARG. */
DMCP_API dmcp_status dmcp_server_add_prompt(dmcp_server *srv, dmcp_prompt *prompt);

/* Which lists can change while the server runs (for dmcp_server_set_list_changed). */
#define DMCP_LIST_TOOLS 1u
#define DMCP_LIST_RESOURCES 2u
#define DMCP_LIST_PROMPTS 4u
/*
 * Declares listChanged:true for these lists in the capabilities (default none). The
 * application then calls dmcp_server_notify_list_changed() whenever what a list returns
 * changes (e.g. a handler's visibility rules).
 */
DMCP_API dmcp_status dmcp_server_set_list_changed(dmcp_server *srv, unsigned lists);

/*
 * 2026-07-28 requestState key (HMAC-SHA256), 16..1024 bytes, copied. Default: 32 random bytes
 * per process, so a multi-round call must come back to the same process; set the same key on
 * every instance to let any of them continue it. A state is bound to the principal's binding
 * key, the method and tool/prompt name, and expires after 10 minutes.
 * Thread-safety: before dmcp_server_run*().
 */
DMCP_API dmcp_status dmcp_server_set_state_key(dmcp_server *srv, const void *key, size_t len);
/*
 * 2026-07-28 caching hints on the list results and resources/read (ttlMs, cacheScope).
 * Default ttl_ms 0, and "private" when an authorizer is set (answers may depend on the
 * principal), else "public". A resource read handler may override both with
 * dmcp_contents_set_cache_hint().
 */
DMCP_API dmcp_status dmcp_server_set_cache_hint(dmcp_server *srv, unsigned ttl_ms,
                                                bool public_scope);

/* tools/list page size, 1..1000 (default 100). */
DMCP_API dmcp_status dmcp_server_set_page_size(dmcp_server *srv, unsigned page_size);

/* HTTP: listen address (default 127.0.0.1), port (default 8080; 0 = ephemeral). */
DMCP_API dmcp_status dmcp_server_set_listen(dmcp_server *srv, const char *host, unsigned port);
/* "HOST:PORT" or "[V6]:PORT" (as the example's --listen). */
DMCP_API dmcp_status dmcp_server_set_listen_string(dmcp_server *srv, const char *host_port);
/* The MCP endpoint path (default "/mcp"). */
DMCP_API dmcp_status dmcp_server_set_endpoint(dmcp_server *srv, const char *path);
/* Stateless mode: no sessions, every POST stands alone, GET and DELETE answer 405. */
DMCP_API dmcp_status dmcp_server_set_stateless(dmcp_server *srv, bool stateless);
/* Allow the standalone GET SSE stream (default: true). When false GET answers 405. */
DMCP_API dmcp_status dmcp_server_set_get_stream(dmcp_server *srv, bool enabled);
/*
 * DNS-rebinding protection (MCP 2025-11-25 Transports §2.0.1). Allowed Host values ("host" or
 * "host:port"; a bare host allows any port) and allowed Origins ("scheme://host[:port]").
 * With none configured: on a loopback listen address, Host must be localhost, 127.0.0.1 or
 * [::1] (any port) and Origin, when present, must be http(s) on one of those hosts; on other
 * addresses Host is not checked and every Origin is refused. Requests without Origin (non-
 * browser clients) are always allowed. "*" in the origin list allows every origin.
 * The loopback default admits a page served from any local port (a development default,
 * docs/server.md "Browser origins"); once one origin is added, only the listed ones pass.
 */
DMCP_API dmcp_status dmcp_server_add_allowed_host(dmcp_server *srv, const char *host);
DMCP_API dmcp_status dmcp_server_add_allowed_origin(dmcp_server *srv, const char *origin);
/* SSE heartbeat period in seconds (default 15; 0 disables). */
DMCP_API dmcp_status dmcp_server_set_heartbeat(dmcp_server *srv, unsigned seconds);
/* HTTP worker threads (default 4, 1..64). */
DMCP_API dmcp_status dmcp_server_set_threads(dmcp_server *srv, unsigned threads);
/* Session limits: at most max sessions (default 10000), ended after idle seconds (default
 * 3600, 0 = never). */
DMCP_API dmcp_status dmcp_server_set_session_limits(dmcp_server *srv, unsigned max_sessions,
                                                    unsigned idle_seconds);
/*
 * Limits of the HTTP transport, each with a safe default (the table in docs/server.md). A
 * request past a limit is answered with a clear status (429 or 503 with Retry-After, 413), a
 * connection past a connection limit or deadline is closed; the server never stops for one.
 * Names (dmcp_limit_name) are the example servers' --limit NAME=VALUE flags.
 */
typedef enum dmcp_limit {
    DMCP_LIMIT_MAX_CONNECTIONS,            /* "max-connections": open connections (2048) */
    DMCP_LIMIT_MAX_CONNECTIONS_PER_IP,     /* "max-connections-per-ip": per client address
                                              (256; 0 = none; raise it behind a proxy) */
    DMCP_LIMIT_IDLE_TIMEOUT,               /* "idle-timeout": s a connection waits for its
                                              next request line (30) */
    DMCP_LIMIT_HEADER_TIMEOUT,             /* "header-timeout": s from the request line to the
                                              end of the headers, however they trickle (20) */
    DMCP_LIMIT_BODY_TIMEOUT,               /* "body-timeout": s for the whole body (60) */
    DMCP_LIMIT_MAX_BODY,                   /* "max-body": bytes of one body (4 MiB; 413) */
    DMCP_LIMIT_MAX_BUFFERED,               /* "max-buffered": body bytes held at once,
                                              server-wide (128 MiB; 503) */
    DMCP_LIMIT_MAX_SESSIONS,               /* "max-sessions": sessions (10000; 503) */
    DMCP_LIMIT_MAX_SESSIONS_PER_PRINCIPAL, /* "max-sessions-per-principal": at the cap the
                                              principal's least recently used idle session
                                              ends; 429 when all are busy (64; 0 = none) */
    DMCP_LIMIT_SESSION_IDLE,               /* "session-idle": s before an idle session ends
                                              (3600; 0 = never) */
    DMCP_LIMIT_MAX_STREAMS_PER_SESSION,    /* "max-streams-per-session": live SSE responses
                                              (16; 0 = none) */
    DMCP_LIMIT_MAX_STREAMS_PER_PRINCIPAL,  /* "max-streams-per-principal" (64; 0 = none) */
    DMCP_LIMIT_MAX_INFLIGHT_PER_SESSION,   /* "max-inflight-per-session": requests being
                                              served (64; 429; 0 = none) */
    DMCP_LIMIT_RATE,                       /* "rate": requests per second per principal, a
                                              token bucket (0 = none; 429) */
    DMCP_LIMIT_RATE_BURST,                 /* "rate-burst": bucket size (0 = 2 x rate) */
    DMCP_LIMIT__COUNT
} dmcp_limit;
/* Sets a limit (DMCP_E_INVALID_ARG out of range; DMCP_E_STATE once started). */
DMCP_API dmcp_status dmcp_server_set_limit(dmcp_server *srv, dmcp_limit limit, double value);
/* The limit's value (its default until set); NaN for an unknown limit. Thread-safety: any. */
DMCP_API double dmcp_server_limit(const dmcp_server *srv, dmcp_limit limit);
/* "max-connections-per-ip" etc.; NULL for an unknown limit. Ownership: static. */
DMCP_API const char *dmcp_limit_name(dmcp_limit limit);
/* One line on what the limit bounds (for --help); NULL for an unknown limit. Static. */
DMCP_API const char *dmcp_limit_description(dmcp_limit limit);
/* Parses "NAME=VALUE" (a --limit flag): DMCP_E_INVALID_ARG for an unknown name or a value that
 * is not a non-negative number. Thread-safety: reentrant. */
DMCP_API dmcp_status dmcp_limit_parse(const char *name_eq_value, dmcp_limit *limit, double *value);
/*
 * Health endpoints on the server's listen address, answered before Host, Origin and
 * authentication, for load balancers and orchestrators (default on): GET /healthz is 200 while
 * the process serves; GET /readyz is 200 when the authorizer is ready (dmcp_ready_fn), else 503
 * with Retry-After and the reason. Both are tiny JSON documents that reveal nothing else.
 */
DMCP_API dmcp_status dmcp_server_set_health_endpoints(dmcp_server *srv, bool enabled);
/*
 * A public document served at `path` on the listen address (e.g. a JWKS): GET and HEAD get
 * 200 with `body` and `content_type` (Cache-Control: max-age=300), other methods 405. Served
 * after the Host check and before the authorizer's routes and authentication. path must start
 * with '/', differ from the endpoint; at most DMCP_MAX_STATIC_DOCS documents of at most
 * DMCP_MAX_STATIC_BYTES each; a path given twice replaces the document. Strings are copied.
 * Before dmcp_server_start only (DMCP_E_STATE after).
 */
#define DMCP_MAX_STATIC_DOCS 8
#define DMCP_MAX_STATIC_BYTES (64 * 1024)
DMCP_API dmcp_status dmcp_server_add_static(dmcp_server *srv, const char *path,
                                            const char *content_type, const char *body);
/*
 * Operations (docs/operations.md lists the metric families and the log format).
 * dmcp_server_set_metrics_listen: serve GET /metrics (Prometheus text 0.0.4), /healthz and
 * /readyz on their own "HOST:PORT" (port 0 = ephemeral, read it back with
 * dmcp_server_metrics_port); NULL = off, the default. Never on the public port unless you give
 * the same address, and nothing there is authenticated: bind it to a private interface.
 * dmcp_server_set_access_log: one JSON line per request (time, request id, user id, method,
 * tool, status, latency, refusal reason, remote address; never a token, key or secret) to
 * path ("-" = stderr; NULL = none, the default) at level "error", "warn", "info" (default)
 * or "debug"; a refused request logs at warn, a failed one at error.
 */
DMCP_API dmcp_status dmcp_server_set_metrics_listen(dmcp_server *srv, const char *host_port);
DMCP_API unsigned dmcp_server_metrics_port(const dmcp_server *srv);
DMCP_API dmcp_status dmcp_server_set_access_log(dmcp_server *srv, const char *path,
                                                const char *level);
/*
 * The operational command-line options every server built on the SDK can offer, handled in one
 * place: "limit" (NAME=VALUE, repeatable), "metrics-listen" (HOST:PORT), "access-log" (PATH,
 * or - for stderr) and "log-level" (error, warn, info or debug; alone it logs to stderr).
 * dmcp_server_set_option applies one, before the server starts; a bad option or value is
 * DMCP_E_INVALID_ARG with a message in err naming both. dmcp_server_options_help returns their
 * usage lines with the defaults, for --help (NULL when out of memory).
 * Ownership: the help text is new, release with dmcp_free(). Thread-safety: as the setters.
 */
DMCP_API dmcp_status dmcp_server_set_option(dmcp_server *srv, const char *option,
                                            const char *value, dmcp_error *err);
DMCP_API char *dmcp_server_options_help(void);
/* Request body cap (default and maximum DMCP_MAX_BODY_BYTES; 413 above). */
DMCP_API dmcp_status dmcp_server_set_max_body(dmcp_server *srv, size_t bytes);
/* Request body bytes held at once by all requests together (default
 * DMCP_DEFAULT_MAX_BUFFERED_BYTES, at least 64). A request is checked (Host, Origin, method,
 * credentials, headers) before any of its body is read, then reserves its Content-Length here
 * (a chunked body as it arrives); past the budget it gets 503 with Retry-After. */
DMCP_API dmcp_status dmcp_server_set_max_buffered(dmcp_server *srv, size_t bytes);
/* How long a graceful stop waits for in-flight requests (default 10 s). */
DMCP_API dmcp_status dmcp_server_set_shutdown_timeout(dmcp_server *srv, unsigned seconds);
/* Serve HTTPS with this PEM certificate (chain) and key (MHD with GnuTLS). */
DMCP_API dmcp_status dmcp_server_set_tls_files(dmcp_server *srv, const char *cert_file,
                                               const char *key_file);

/*
 * Starts the HTTP transport and returns at once (the server runs on its own threads).
 * Thread-safety: start/stop from one controlling thread.
 */
DMCP_API dmcp_status dmcp_server_start(dmcp_server *srv, dmcp_error *err);
/* The bound port (useful with port 0), or 0 when not running. Thread-safety: any thread. */
DMCP_API unsigned dmcp_server_port(const dmcp_server *srv);
/*
 * Graceful stop: stop accepting, let in-flight requests finish (up to the shutdown timeout;
 * handlers see dmcp_call_is_cancelled() turn true), end open streams, then stop. Idempotent.
 * A handler still running after the timeout keeps using the server: do not free the server
 * (or its tools' userdata) until such handlers have returned.
 */
DMCP_API void dmcp_server_stop(dmcp_server *srv);
/*
 * Starts the HTTP transport and blocks until SIGINT or SIGTERM, then stops gracefully.
 * Blocks both signals in the calling thread (and the threads it starts) and restores the
 * mask before returning. Call it from the main thread before creating other threads.
 */
DMCP_API dmcp_status dmcp_server_run(dmcp_server *srv, dmcp_error *err);
/*
 * Sends notifications/{tools,resources,prompts}/list_changed (one DMCP_LIST_* value) to every
 * initialized session, on its standalone stream (HTTP GET stream; stdio output). Sessions
 * without an open stream miss it (MCP Transports §2.2: the server MAY send only there).
 * DMCP_E_STATE when that list was not declared with dmcp_server_set_list_changed().
 * Thread-safety: any thread, while the server runs (a no-op when it does not).
 */
DMCP_API dmcp_status dmcp_server_notify_list_changed(dmcp_server *srv, unsigned list);
/*
 * Sends notifications/resources/updated {uri} to every session that subscribed to uri
 * (resources/subscribe), on its standalone stream. Thread-safety: any thread.
 */
DMCP_API dmcp_status dmcp_server_notify_resource_updated(dmcp_server *srv, const char *uri);

/*
 * Serves the stdio transport (MCP Transports §1): newline-delimited JSON-RPC messages on
 * in_fd, answers on out_fd (nothing else is ever written there). Returns at end of input or
 * when SIGTERM/SIGINT arrives (blocked and waited for like dmcp_server_run). No authorizer is
 * consulted; the principal is NULL.
 */
DMCP_API dmcp_status dmcp_server_run_stdio(dmcp_server *srv, int in_fd, int out_fd,
                                           dmcp_error *err);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_SERVER_H */
