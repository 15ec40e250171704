/*
 * dmcp/protect.h - the glue: protect an MCP server (dmcp/server.h) with OAuth access tokens
 * checked by a validator (dmcp/auth.h), the way the MCP Authorization specification asks:
 *
 *   - RFC 9728 Protected Resource Metadata at /.well-known/oauth-protected-resource and at the
 *     path-inserted location (/.well-known/oauth-protected-resource/<endpoint path>), with CORS;
 *   - the bearer token from the Authorization header only (never the query string or body);
 *   - 401 with a challenge carrying resource_metadata and scope (no error code) when the token
 *     is missing, 401 invalid_token when it is invalid, 400 invalid_request when the header is
 *     malformed, 503 when the key source is down, 403 insufficient_scope when the server-wide
 *     scopes are missing;
 *   - per-tool scopes: 403 insufficient_scope step-up before dispatch, or an isError tool
 *     result carrying the insufficient-scope JSON;
 *   - a principal bound to issuer + user id (dsub, else sub) + client id, so sessions survive
 *     token refresh and are refused to anyone else; a token naming neither a user nor a
 *     client is refused a session (403 on initialize).
 *
 *   dmcp_protect_options *o;
 *   dmcp_protect_options_new(&o);
 *   dmcp_protect_options_add_required_scope(o, "tools.call");
 *   dmcp_authorizer *a;
 *   dmcp_protect_authorizer_new(validator, o, &a, &err);   // validator must outlive the server
 *   dmcp_protect_options_free(o);
 *   dmcp_server_set_authorizer(srv, a);                     // the server takes a
 */
#ifndef DMCP_PROTECT_H
#define DMCP_PROTECT_H

#include <stdbool.h>

#include "dmcp/auth.h"
#include "dmcp/common.h"
#include "dmcp/server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmcp_protect_options dmcp_protect_options;

/* How a tools/call lacking the tool's scopes is answered. */
typedef enum dmcp_tool_scope_mode {
    /* HTTP 403 with the insufficient_scope challenge, before dispatch (MCP step-up). */
    DMCP_TOOL_SCOPE_HTTP_403 = 0,
    /* A tool result {isError:true} whose text is the insufficient-scope JSON (descope-mcp's
     * InsufficientScopeError.to_json()), for clients that do not do step-up. */
    DMCP_TOOL_SCOPE_TOOL_ERROR = 1
} dmcp_tool_scope_mode;

/* Ownership: new, release with dmcp_protect_options_free(). NULL-safe free. */
DMCP_API dmcp_status dmcp_protect_options_new(dmcp_protect_options **out);
DMCP_API void dmcp_protect_options_free(dmcp_protect_options *o);

/*
 * The canonical MCP server URL (the PRM "resource" and the audience), e.g.
 * "https://mcp.example.com/mcp". Default: the validator's dmcp_validator_resource().
 * Canonicalised by dmcp_protect_authorizer_new() (see dmcp_protect_canonical_resource()); when
 * the validator has an MCP server URL it must be exactly that canonical string.
 */
DMCP_API dmcp_status dmcp_protect_options_set_resource(dmcp_protect_options *o,
                                                       const char *url);
/*
 * A scope every request needs (repeatable): 403 insufficient_scope when missing (after the
 * token was found valid). These are also the scope= of 401 challenges; without any, the 401
 * names the PRM scopes_supported. DMCP_E_INVALID_ARG for anything but an RFC 6749 §3.3 token.
 */
DMCP_API dmcp_status dmcp_protect_options_add_required_scope(dmcp_protect_options *o,
                                                             const char *scope);
/*
 * A scope listed in the PRM scopes_supported (repeatable). Default when none is added: the
 * authorization server's scopes_supported, plus the required scopes. offline_access is never
 * listed (MCP 2026-07-28 Authorization §10).
 */
DMCP_API dmcp_status dmcp_protect_options_add_supported_scope(dmcp_protect_options *o,
                                                              const char *scope);
/* The PRM resource_name (optional). */
DMCP_API dmcp_status dmcp_protect_options_set_resource_name(dmcp_protect_options *o,
                                                            const char *name);
/* Default DMCP_TOOL_SCOPE_HTTP_403. */
DMCP_API dmcp_status dmcp_protect_options_set_tool_scope_mode(dmcp_protect_options *o,
                                                              dmcp_tool_scope_mode mode);
/*
 * Compatibility (off by default): add error="invalid_token" to the challenge when no token was
 * sent, as some other SDKs do (RFC 6750 §3.1 says no error code).
 */
DMCP_API dmcp_status dmcp_protect_options_set_missing_token_error(dmcp_protect_options *o,
                                                                  bool enabled);

/*
 * Creates the authorizer. opts may be NULL (defaults). DMCP_E_CONFIG (with err->message) when
 * the resource is missing or not acceptable, differs from the validator's MCP server URL, or
 * the validator has no issuer. The 403 scope= strategy is the validator's
 * (dmcp_validator_config_set_challenge_scope()), its scope-hierarchy hook applies to every
 * scope check.
 * Ownership: validator is borrowed and must outlive the authorizer; opts is copied; *out is
 * new (dmcp_server_set_authorizer() takes it).
 * Thread-safety: the authorizer's callbacks are called concurrently by the server; they only
 * read what was computed here.
 */
DMCP_API dmcp_status dmcp_protect_authorizer_new(dmcp_validator *validator,
                                                 const dmcp_protect_options *opts,
                                                 dmcp_authorizer **out, dmcp_error *err);

/*
 * The validated token behind a principal built by this authorizer (for
 * dmcp_validator_require_scopes() in a handler, the seed's own pattern). NULL for principals
 * from elsewhere (stdio). Ownership: borrowed, valid as long as the principal.
 */
DMCP_API const dmcp_token *dmcp_protect_principal_token(const dmcp_principal *p);

/*
 * The canonical form of an MCP server URL (mcp-resource-server.md §2.3; RFC 8707 §2): absolute,
 * https (http only on a loopback host), no userinfo, query or fragment; scheme and host
 * lower-cased, the default port dropped, the path kept byte for byte (no slash added, none
 * removed: "https://h" stays "https://h", "https://h/mcp/" keeps its slash). Use it for the
 * validator's dmcp_validator_config_set_mcp_server_url() too: tokens carry this string as aud.
 * Ownership: *out is new, release with dmcp_free(). Thread-safety: pure.
 */
DMCP_API dmcp_status dmcp_protect_canonical_resource(const char *url, char **out,
                                                     dmcp_error *err);

/*
 * The PRM URL for a resource: path-inserted form (RFC 9728 §3.1), e.g.
 * "https://h/.well-known/oauth-protected-resource/mcp" for "https://h/mcp", and
 * "https://h/.well-known/oauth-protected-resource" for "https://h" or "https://h/".
 * resource is canonicalised first. Ownership: new, release with dmcp_free(); NULL when
 * resource is not acceptable (see dmcp_protect_canonical_resource()) or out of memory.
 */
DMCP_API char *dmcp_protect_metadata_url(const char *resource);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_PROTECT_H */
