/*
 * dmcp/authorizer.h - the seam between the MCP runtime and whatever authenticates its callers:
 * the principal (who is calling), read-only views of an HTTP request and a response to build,
 * and the authorizer (the callbacks the runtime calls for each request to the MCP endpoint and
 * for other paths). dmcp/server.h includes it; dmcp/protect.h builds an authorizer from the
 * token validator (the glue). Split out of server.h, whose API it has always been part of.
 */
#ifndef DMCP_AUTHORIZER_H
#define DMCP_AUTHORIZER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "dmcp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmcp_principal dmcp_principal;
typedef struct dmcp_authorizer dmcp_authorizer;
typedef struct dmcp_http_request dmcp_http_request;
typedef struct dmcp_http_response dmcp_http_response;

/* ------------------------------------------------------------------------------------------ */
/* Principal: who is calling (built by the authorizer, read by handlers)                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * A principal is an immutable, reference-counted description of the authenticated caller.
 * The authorizer creates one per request; the runtime binds sessions to its binding key and
 * hands it to tool handlers. Set everything before returning it from the authorizer: once
 * the runtime has it, it is read-only and may be read from several threads.
 *
 * binding_key identifies the principal for session binding (mcp-resource-server.md §6): the
 * glue uses issuer + user id + client id, never the token, so a refreshed token keeps its
 * session and another principal's session answers 404. The key is copied; "" is refused
 * (DMCP_E_INVALID_ARG).
 *
 * binding_key may be NULL for a caller that identifies nobody (e.g. a token with neither a
 * subject nor a client id). Such a principal may make calls that need no session (stateless
 * mode), but can never open or use one: over HTTP with an authorizer, its initialize answers
 * 403 and any Mcp-Session-Id it presents answers 404.
 *
 * Ownership: *out is new (one reference), release with dmcp_principal_unref().
 * Thread-safety: any thread; the new principal is the caller's until returned.
 */
DMCP_API dmcp_status dmcp_principal_new(const char *binding_key, dmcp_principal **out);
/* Adds a reference; returns p. Thread-safety: atomic, any thread. */
DMCP_API dmcp_principal *dmcp_principal_ref(dmcp_principal *p);
/* Drops a reference; the last one frees (wiping the access token). NULL is a no-op. */
DMCP_API void dmcp_principal_unref(dmcp_principal *p);

/* Setters (copy their arguments). Thread-safety: only before the principal is shared. */
DMCP_API dmcp_status dmcp_principal_set_user_id(dmcp_principal *p, const char *user_id);
DMCP_API dmcp_status dmcp_principal_set_client_id(dmcp_principal *p, const char *client_id);
DMCP_API dmcp_status dmcp_principal_add_scope(dmcp_principal *p, const char *scope);
/* Ownership: claims is borrowed; the principal keeps its own reference (json_incref). */
DMCP_API dmcp_status dmcp_principal_set_claims(dmcp_principal *p, json_t *claims);
/* The raw access token; copied, wiped when the principal is freed. */
DMCP_API dmcp_status dmcp_principal_set_access_token(dmcp_principal *p, const char *token,
                                                     size_t len);
/*
 * Attaches opaque data for the authorizer (e.g. its validated token object); free_fn (may be
 * NULL) runs when the principal is freed. Replaces (and frees) earlier data.
 */
DMCP_API void dmcp_principal_set_data(dmcp_principal *p, void *data, void (*free_fn)(void *));

/*
 * Accessors. All NULL-safe (a NULL principal, as on stdio or without an authorizer, gives
 * NULL / 0 / false). Ownership: borrowed, valid while the caller holds the principal (inside a
 * handler: until the handler returns).
 */
/* The binding key given to dmcp_principal_new(); NULL when it was NULL. */
DMCP_API const char *dmcp_principal_binding_key(const dmcp_principal *p);
DMCP_API const char *dmcp_principal_user_id(const dmcp_principal *p);
DMCP_API const char *dmcp_principal_client_id(const dmcp_principal *p);
DMCP_API size_t dmcp_principal_scope_count(const dmcp_principal *p);
DMCP_API const char *dmcp_principal_scope(const dmcp_principal *p, size_t index);
DMCP_API bool dmcp_principal_has_scope(const dmcp_principal *p, const char *scope);
DMCP_API const json_t *dmcp_principal_claims(const dmcp_principal *p);
DMCP_API void *dmcp_principal_data(const dmcp_principal *p);
/*
 * The raw access token, for ONE legitimate use only: exchanging it for a connection token
 * with the issuer (Descope Connections). NEVER pass it upstream to any other API (MCP
 * 2025-11-25 Authorization §11.8, token passthrough is forbidden) and never log it.
 */
DMCP_API const char *dmcp_principal_access_token(const dmcp_principal *p, size_t *len);

/* ------------------------------------------------------------------------------------------ */
/* HTTP views for the authorizer                                                              */
/* ------------------------------------------------------------------------------------------ */

/*
 * A read-only view of an incoming HTTP request, valid only during the authorizer callback
 * that received it. Header names are matched case-insensitively.
 */
DMCP_API const char *dmcp_http_request_method(const dmcp_http_request *req);
/* The path, without the query string. */
DMCP_API const char *dmcp_http_request_path(const dmcp_http_request *req);
/* How many times the header occurs (e.g. 2 for two Authorization headers). */
DMCP_API size_t dmcp_http_request_header_count(const dmcp_http_request *req, const char *name);
/* The index-th occurrence (0-based) of a header, or NULL. */
DMCP_API const char *dmcp_http_request_header(const dmcp_http_request *req, const char *name,
                                              size_t index);
/* True when the query string carries the parameter (with or without a value). */
DMCP_API bool dmcp_http_request_has_query_param(const dmcp_http_request *req, const char *name);
/* True when the request arrived over TLS. */
DMCP_API bool dmcp_http_request_is_tls(const dmcp_http_request *req);

/*
 * A complete HTTP response the authorizer hands to the runtime (a refusal, or a route it
 * serves). The runtime adds CORS headers on the MCP endpoint; everything else is as given.
 * Ownership: *out is new; it is released by the runtime when returned from a callback,
 * otherwise with dmcp_http_response_free().
 */
DMCP_API dmcp_status dmcp_http_response_new(unsigned status, dmcp_http_response **out);
DMCP_API void dmcp_http_response_free(dmcp_http_response *resp);
/* Adds a header; refuses names/values with CR, LF or NUL (DMCP_E_INVALID_ARG). Copies. */
DMCP_API dmcp_status dmcp_http_response_add_header(dmcp_http_response *resp, const char *name,
                                                   const char *value);
/* Sets the body (copied) and its Content-Type. */
DMCP_API dmcp_status dmcp_http_response_set_body(dmcp_http_response *resp, const char *content_type,
                                                 const void *body, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* Authorizer                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * Serves an extra, unauthenticated route (e.g. RFC 9728 Protected Resource Metadata at
 * /.well-known/oauth-protected-resource[/<endpoint path>], with its own CORS, GET/OPTIONS and
 * 405 handling). Called for every request whose path is not the MCP endpoint, after the Host
 * check and before anything else. Return DMCP_OK with *response set to serve it, or
 * DMCP_E_NOT_FOUND to let the runtime answer 404.
 */
typedef dmcp_status (*dmcp_route_fn)(void *userdata, const dmcp_http_request *req,
                                     dmcp_http_response **response);

/*
 * Authenticates a request to the MCP endpoint (POST/GET/DELETE), after the Origin/Host checks
 * and the CORS preflight, before any session lookup or JSON-RPC parsing.
 *   - DMCP_OK: *principal is the caller (new reference, the runtime releases it).
 *   - anything else: *refusal is the complete answer (e.g. 401 with WWW-Authenticate, 400,
 *     403, 503). If no refusal is given the runtime answers 500.
 */
typedef dmcp_status (*dmcp_authenticate_fn)(void *userdata, const dmcp_http_request *req,
                                            dmcp_principal **principal,
                                            dmcp_http_response **refusal);

/*
 * Checks a tools/call of a tool that declares required scopes, before dispatch.
 *   - DMCP_OK: allowed.
 *   - DMCP_E_INSUFFICIENT_SCOPE with *refusal: answered as that HTTP response (the spec's
 *     step-up, e.g. 403 insufficient_scope) instead of a JSON-RPC response.
 *   - DMCP_E_INSUFFICIENT_SCOPE with *tool_error (malloc'd text, freed by the runtime with
 *     free()): answered as a tool result {isError:true, content:[{type:text,text}]}.
 *   - anything else: JSON-RPC internal error.
 * principal may be NULL (stdio, or an authenticate callback that returned none).
 */
typedef dmcp_status (*dmcp_authorize_tool_fn)(void *userdata, const dmcp_principal *principal,
                                              const char *tool_name,
                                              const char *const *required_scopes,
                                              size_t scope_count, dmcp_http_response **refusal,
                                              char **tool_error);

/*
 * Readiness (GET /readyz): true when the authorizer can serve requests now (e.g. its signing
 * keys are loaded and not past their stale limit); false with a short reason (no secrets)
 * copied into reason[reason_len]. Must be cheap and never block on I/O.
 */
typedef bool (*dmcp_ready_fn)(void *userdata, char *reason, size_t reason_len);

/*
 * Ownership: *out is new; dmcp_server_set_authorizer() takes it. free_userdata (may be NULL)
 * runs when the authorizer is freed.
 * Thread-safety: every callback is called concurrently from the server's threads.
 */
DMCP_API dmcp_status dmcp_authorizer_new(void *userdata, void (*free_userdata)(void *),
                                         dmcp_authorizer **out);
DMCP_API void dmcp_authorizer_free(dmcp_authorizer *a);
DMCP_API void dmcp_authorizer_set_route(dmcp_authorizer *a, dmcp_route_fn fn);
DMCP_API void dmcp_authorizer_set_authenticate(dmcp_authorizer *a, dmcp_authenticate_fn fn);
DMCP_API void dmcp_authorizer_set_authorize_tool(dmcp_authorizer *a, dmcp_authorize_tool_fn fn);
DMCP_API void dmcp_authorizer_set_ready(dmcp_authorizer *a, dmcp_ready_fn fn);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_AUTHORIZER_H */
