/*
 * dmcp/auth.h - validate OAuth access tokens (JWT) issued by Descope or any OpenID provider,
 * check scopes, and build the WWW-Authenticate challenges of RFC 6750 / RFC 9728.
 *
 * The auth core knows nothing of HTTP servers or MCP. Typical use:
 *
 *   dmcp_validator_config *cfg;
 *   dmcp_validator_config_new(&cfg);
 *   dmcp_validator_config_set_well_known_url(cfg,
 *       "https://api.descope.com/v1/apps/agentic/P2abc/MS35x/.well-known/openid-configuration");
 *   dmcp_validator_config_set_mcp_server_url(cfg, "https://mcp.example.com/mcp");
 *   dmcp_validator *v;
 *   if (dmcp_validator_new(cfg, &v, &err) != DMCP_OK) { ... }
 *   dmcp_validator_config_free(cfg);          // the validator keeps its own copy
 *
 *   dmcp_token *tok;
 *   if (dmcp_validator_validate(v, bearer, strlen(bearer), &tok, &err) == DMCP_OK) {
 *       printf("user %s\n", dmcp_token_user_id(tok));
 *       dmcp_token_free(tok);
 *   }
 *   dmcp_validator_free(v);
 */
#ifndef DMCP_AUTH_H
#define DMCP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dmcp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Validator configuration                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct dmcp_validator_config dmcp_validator_config;

/*
 * A scope-hierarchy hook (MCP 2026-07-28 Authorization §11.1.2): return true when the granted
 * scope `granted` satisfies the required scope `required` (e.g. "calendar" implies
 * "calendar.read"). Exact equality is always a match and need not be reported by the hook.
 * Thread-safety: called concurrently from every thread that validates; must be pure.
 */
typedef bool (*dmcp_scope_implies_fn)(const char *granted, const char *required, void *userdata);

/* Which scopes a 403 insufficient_scope challenge names (mcp-resource-server.md §4). */
typedef enum dmcp_challenge_scope {
    DMCP_CHALLENGE_SCOPE_COMBINED = 0, /* token scopes + required, sorted (descope-mcp, 11-25) */
    DMCP_CHALLENGE_SCOPE_REQUIRED = 1  /* only the scopes the operation needs (2026-07-28) */
} dmcp_challenge_scope;

/* Ownership: new, release with dmcp_validator_config_free(). */
DMCP_API dmcp_status dmcp_validator_config_new(dmcp_validator_config **out);
/* NULL is a no-op. */
DMCP_API void dmcp_validator_config_free(dmcp_validator_config *cfg);

/*
 * Setters. Every string is copied; NULL resets the option to its default. They validate what
 * they can at once (DMCP_E_INVALID_ARG / DMCP_E_CONFIG); the rest is checked by
 * dmcp_validator_new(). Thread-safety: a config is not shared; set it up on one thread.
 */

/*
 * The discovery URL or issuer. Accepts Descope's three shapes
 *   https://H/v1/apps/agentic/<P>/<M>/.well-known/openid-configuration
 *   https://H/v1/apps/<P>/.well-known/openid-configuration
 *   https://H/<P>/.well-known/openid-configuration
 * and any OpenID issuer (with or without the /.well-known/openid-configuration suffix).
 * https only, except loopback hosts (127.0.0.0/8, ::1, localhost).
 */
DMCP_API dmcp_status dmcp_validator_config_set_well_known_url(dmcp_validator_config *cfg,
                                                              const char *url);

/* The canonical MCP server URL: the audience a token must carry (RFC 8707). */
DMCP_API dmcp_status dmcp_validator_config_set_mcp_server_url(dmcp_validator_config *cfg,
                                                              const char *url);

/* One more accepted audience (repeatable). */
DMCP_API dmcp_status dmcp_validator_config_add_audience(dmcp_validator_config *cfg,
                                                        const char *audience);

/*
 * Switch the audience check off (default: on). Without an audience, dmcp_validator_new() fails
 * for a generic issuer unless this was called; with a Descope URL the project id is accepted.
 */
DMCP_API dmcp_status dmcp_validator_config_disable_audience_check(dmcp_validator_config *cfg);

/*
 * The issuer, when not derived from the well-known URL (e.g. with a static key set). With a
 * well-known URL the discovery document's issuer must equal the derived one.
 */
DMCP_API dmcp_status dmcp_validator_config_set_issuer(dmcp_validator_config *cfg,
                                                      const char *issuer);

/* One more accepted issuer, matched exactly (repeatable). */
DMCP_API dmcp_status dmcp_validator_config_add_issuer(dmcp_validator_config *cfg,
                                                      const char *issuer);

/* Accept Descope's legacy issuer forms "<pid>" and "<origin>/<pid>" (default: off). */
DMCP_API dmcp_status dmcp_validator_config_set_accept_legacy_issuer(dmcp_validator_config *cfg,
                                                                    bool accept);

/* Fetch keys from this JWKS URL instead of the discovery document's jwks_uri. */
DMCP_API dmcp_status dmcp_validator_config_set_jwks_url(dmcp_validator_config *cfg,
                                                        const char *url);

/* Use a static key set instead of fetching: a JWKS JSON document or a file holding one. */
DMCP_API dmcp_status dmcp_validator_config_set_jwks_json(dmcp_validator_config *cfg,
                                                         const char *jwks_json);
DMCP_API dmcp_status dmcp_validator_config_set_jwks_file(dmcp_validator_config *cfg,
                                                         const char *path);

/* Clock leeway for exp/nbf/iat, 0..300 seconds (default 5). */
DMCP_API dmcp_status dmcp_validator_config_set_leeway(dmcp_validator_config *cfg,
                                                      unsigned seconds);

/*
 * The algorithm allowlist, a space-separated list of JWS alg names (default
 * "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"). "none" and "HS*" are refused
 * with DMCP_E_CONFIG: they can never be enabled.
 */
DMCP_API dmcp_status dmcp_validator_config_set_algorithms(dmcp_validator_config *cfg,
                                                          const char *algs);

/* Require the header typ "at+jwt" (RFC 9068). Default: typ absent, "JWT" or "at+jwt". */
DMCP_API dmcp_status dmcp_validator_config_set_require_at_jwt(dmcp_validator_config *cfg,
                                                              bool require);

/* Largest accepted token in bytes (default DMCP_MAX_TOKEN_BYTES, at most ..._LIMIT). */
DMCP_API dmcp_status dmcp_validator_config_set_max_token_bytes(dmcp_validator_config *cfg,
                                                               size_t bytes);

/* HTTP timeouts for discovery and JWKS (defaults: connect 3000 ms, total 5000 ms). */
DMCP_API dmcp_status dmcp_validator_config_set_http_timeouts(dmcp_validator_config *cfg,
                                                             long connect_ms, long total_ms);

/* A CA bundle (PEM file) for HTTPS, instead of the system store. */
DMCP_API dmcp_status dmcp_validator_config_set_ca_file(dmcp_validator_config *cfg,
                                                       const char *path);

/*
 * Key cache policy. default_ttl is used when the JWKS reply has no Cache-Control max-age;
 * max-age is clamped to [min_ttl, max_ttl] (defaults 3600, 300, 86400 s). cooldown limits
 * refetches triggered by unknown kids (default 60 s). stale_limit is how long cached keys keep
 * serving while the key source fails (default 86400 s).
 */
DMCP_API dmcp_status dmcp_validator_config_set_key_cache(dmcp_validator_config *cfg,
                                                         unsigned default_ttl, unsigned min_ttl,
                                                         unsigned max_ttl, unsigned cooldown,
                                                         unsigned stale_limit);

/* Entries in the verified-token cache (default 10000; 0 disables the cache). */
DMCP_API dmcp_status dmcp_validator_config_set_token_cache_size(dmcp_validator_config *cfg,
                                                                size_t entries);

/* The scope-hierarchy hook (default: exact matching). */
DMCP_API dmcp_status dmcp_validator_config_set_scope_implies(dmcp_validator_config *cfg,
                                                             dmcp_scope_implies_fn fn,
                                                             void *userdata);

/* Which scopes the 403 challenge names (default DMCP_CHALLENGE_SCOPE_COMBINED). */
DMCP_API dmcp_status dmcp_validator_config_set_challenge_scope(dmcp_validator_config *cfg,
                                                               dmcp_challenge_scope strategy);

/*
 * A clock, for tests and for replaying: returns the current time in seconds since the epoch.
 * Default: time(NULL). Called concurrently from validating threads and from the validator's
 * key refresher thread: it must be thread-safe.
 */
typedef int64_t (*dmcp_clock_fn)(void *userdata);
DMCP_API dmcp_status dmcp_validator_config_set_clock(dmcp_validator_config *cfg,
                                                     dmcp_clock_fn fn, void *userdata);

/* ------------------------------------------------------------------------------------------ */
/* The validator                                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct dmcp_validator dmcp_validator;
typedef struct dmcp_token dmcp_token;

/*
 * Creates a validator from a configuration. With a well-known URL the discovery document is
 * fetched now (its issuer must match); keys are fetched now too, and a failure to reach the key
 * source is not fatal (DMCP_OK is returned and validation reports
 * DMCP_E_KEY_SOURCE_UNAVAILABLE until keys arrive) unless the configuration itself is wrong.
 * Ownership: cfg is borrowed (copied); *out is new, release with dmcp_validator_free().
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_validator_new(const dmcp_validator_config *cfg,
                                                         dmcp_validator **out, dmcp_error *err);

/* NULL is a no-op. No validation may be running on another thread. Stops and joins the
 * validator's key refresher thread, waiting at most for the key fetch it is running (bounded by
 * the HTTP timeout). */
DMCP_API void dmcp_validator_free(dmcp_validator *v);

/*
 * Validates a compact JWS access token: size, structure, header policy, key selection,
 * signature, then exp/nbf/iat, iss and aud.
 * Returns DMCP_OK with *out set, DMCP_E_INVALID_TOKEN (err->reason says why),
 * DMCP_E_KEY_SOURCE_UNAVAILABLE (no usable keys and the source cannot be reached),
 * DMCP_E_INVALID_ARG or DMCP_E_NOMEM.
 * Ownership: token is borrowed for the call; *out is new, release with dmcp_token_free().
 * Thread-safety: safe to call concurrently on one validator; the hot path takes no
 * exclusive lock.
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_validator_validate(dmcp_validator *v,
                                                              const char *token, size_t len,
                                                              dmcp_token **out, dmcp_error *err);

/*
 * The seed's validate_token_and_get_user_id(): validates and copies the user id.
 * Ownership: *user_id is new, release with dmcp_free().
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_validator_validate_user_id(dmcp_validator *v,
                                                                      const char *token,
                                                                      size_t len,
                                                                      char **user_id,
                                                                      dmcp_error *err);

/* The accepted primary issuer. Ownership: borrowed, valid until dmcp_validator_free(). */
DMCP_API const char *dmcp_validator_issuer(const dmcp_validator *v);

/* The Descope project id derived from the URL, or NULL for a generic issuer. Borrowed. */
DMCP_API const char *dmcp_validator_project_id(const dmcp_validator *v);

/* The configured MCP server URL (canonical resource), or NULL. Borrowed. */
DMCP_API const char *dmcp_validator_resource(const dmcp_validator *v);

/* scopes_supported from the discovery document as a JSON array, or NULL. Borrowed. */
DMCP_API const json_t *dmcp_validator_scopes_supported(const dmcp_validator *v);

/* The discovery URL / issuer origin ("https://api.descope.com"), or NULL. Borrowed. */
DMCP_API const char *dmcp_validator_origin(const dmcp_validator *v);

/* What the validator's key source holds now (readiness probes, metrics). */
typedef struct dmcp_validator_health_info {
    bool keys_loaded;       /* a key set was loaded at least once */
    bool keys_fresh;        /* within its lifetime (the JWKS max-age, clamped) */
    bool keys_usable;       /* fresh, or expired but within the stale limit: tokens validate */
    bool last_fetch_failed; /* the latest fetch attempt failed */
    size_t keys;            /* keys in the current set */
    int64_t key_age_seconds; /* since the current set was fetched (0 for a static set) */
    unsigned fetches;        /* fetch attempts so far */
} dmcp_validator_health_info;
/* Fills *out. Never waits for a fetch. Thread-safety: any thread, any time. */
DMCP_API void dmcp_validator_health(dmcp_validator *v, dmcp_validator_health_info *out);

/* ------------------------------------------------------------------------------------------ */
/* A validated token                                                                          */
/* ------------------------------------------------------------------------------------------ */

/*
 * A dmcp_token is immutable and reference-counted; every accessor returns borrowed data that
 * lives as long as the token. Thread-safety: a token may be read from any number of threads.
 */

/* Adds a reference. Ownership: the caller must call dmcp_token_free() once more. */
DMCP_API dmcp_token *dmcp_token_ref(dmcp_token *t);
/* Drops a reference. NULL is a no-op. */
DMCP_API void dmcp_token_free(dmcp_token *t);

/* All claims of the payload as a JSON object, built on first use; NULL only when out of
 * memory. Borrowed: do not modify. */
DMCP_API const json_t *dmcp_token_claims(const dmcp_token *t);
/* The same claims as compact JSON text, keys in their order: the bytes
 * json_dumps(dmcp_token_claims(t), JSON_COMPACT | JSON_PRESERVE_ORDER) gives, written in one
 * pass from the signed payload without building the object (which is only built when the pass
 * leaves a case to jansson). *len (may be NULL) gets the length. NULL when out of memory.
 * Ownership: new, release with dmcp_free(). Thread-safety: any thread. */
DMCP_API char *dmcp_token_claims_json(const dmcp_token *t, size_t *len);
/* dsub if present, else sub; NULL if neither. */
DMCP_API const char *dmcp_token_user_id(const dmcp_token *t);
DMCP_API const char *dmcp_token_subject(const dmcp_token *t);
DMCP_API const char *dmcp_token_issuer(const dmcp_token *t);
/* azp if present, else client_id; NULL if neither. */
DMCP_API const char *dmcp_token_client_id(const dmcp_token *t);
/* The tenant (tenantId / dct claim when present), or NULL. */
DMCP_API const char *dmcp_token_tenant(const dmcp_token *t);
/* exp as seconds since the epoch. */
DMCP_API int64_t dmcp_token_expiry(const dmcp_token *t);
/*
 * The scopes: split from `scope` on spaces, else the `scopes` or `scp` array. *count receives
 * the number. Borrowed array of borrowed strings.
 */
DMCP_API const char *const *dmcp_token_scopes(const dmcp_token *t, size_t *count);
DMCP_API bool dmcp_token_has_scope(const dmcp_token *t, const char *scope);
/*
 * The raw access token, for its one legitimate use: the Descope connection-token exchange.
 * Never log it and never pass it to another API. Borrowed.
 */
DMCP_API const char *dmcp_token_raw(const dmcp_token *t, size_t *len);

/* ------------------------------------------------------------------------------------------ */
/* Scopes and the insufficient-scope error                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct dmcp_scope_error dmcp_scope_error;

/*
 * The seed's InsufficientScopeError(required, token, description). description may be NULL
 * (the default text is used) or "" (kept as is). Every string must be UTF-8. Returns
 * DMCP_E_TOO_LARGE above DMCP_MAX_SCOPES scopes per list, DMCP_MAX_SCOPE_LEN bytes per scope
 * or DMCP_MAX_HEADER_BYTES of description; DMCP_E_INVALID_ARG for NULL entries or ill-formed
 * UTF-8. Ownership: arrays and strings are copied; *out is new, release with
 * dmcp_scope_error_free(). Thread-safety: an error is immutable; read it from any thread.
 */
DMCP_API dmcp_status dmcp_scope_error_new(const char *const *required, size_t n_required,
                                          const char *const *token_scopes, size_t n_token,
                                          const char *description, dmcp_scope_error **out);
DMCP_API void dmcp_scope_error_free(dmcp_scope_error *e);

/* Required scopes the token lacks, in the order required, without duplicates. Borrowed. */
DMCP_API const char *const *dmcp_scope_error_missing(const dmcp_scope_error *e, size_t *count);
DMCP_API const char *const *dmcp_scope_error_token_scopes(const dmcp_scope_error *e,
                                                          size_t *count);
DMCP_API const char *const *dmcp_scope_error_required(const dmcp_scope_error *e, size_t *count);
/* token ∪ required, de-duplicated, sorted by code point. Borrowed. */
DMCP_API const char *const *dmcp_scope_error_combined(const dmcp_scope_error *e, size_t *count);
/* The combined scopes joined by spaces: the `scope` field. Borrowed. */
DMCP_API const char *dmcp_scope_error_scope(const dmcp_scope_error *e);
/* The error_description. Borrowed. */
DMCP_API const char *dmcp_scope_error_description(const dmcp_scope_error *e);
/*
 * The JSON body, byte-for-byte what descope-mcp's to_json() gives (2-space indent, lowercase
 * \u escapes, no trailing newline). Ownership: new, release with dmcp_free().
 */
DMCP_API char *dmcp_scope_error_to_json(const dmcp_scope_error *e);

/*
 * The seed's require_scopes(): DMCP_OK when every required scope is granted (exactly, or
 * through `implies` when non-NULL), else DMCP_E_INSUFFICIENT_SCOPE with *out (if out is
 * non-NULL) set to a new error. Ownership: *out new, release with dmcp_scope_error_free().
 */
DMCP_API dmcp_status dmcp_require_scopes(const char *const *token_scopes, size_t n_token,
                                         const char *const *required, size_t n_required,
                                         dmcp_scope_implies_fn implies, void *userdata,
                                         dmcp_scope_error **out);

/* As dmcp_require_scopes(), with the token's scopes and the validator's hierarchy hook. */
DMCP_API dmcp_status dmcp_validator_require_scopes(const dmcp_validator *v,
                                                   const dmcp_token *t,
                                                   const char *const *required,
                                                   size_t n_required, dmcp_scope_error **out);

/* ------------------------------------------------------------------------------------------ */
/* WWW-Authenticate challenges (RFC 6750 §3, RFC 9728 §5.1)                                   */
/* ------------------------------------------------------------------------------------------ */

/*
 * Each returns the header value (without "WWW-Authenticate: "), e.g.
 *   Bearer error="invalid_token", error_description="Token expired", scope="a b",
 *          resource_metadata="https://h/.well-known/oauth-protected-resource/mcp"
 * Pairs come in the fixed order error, error_description, scope, resource_metadata; NULL or
 * empty arguments are left out. error_description is reduced to the characters RFC 6750
 * allows by replacement ('"' -> '\'', '\\' -> '/', control characters -> SP, each non-ASCII
 * character -> '?') and cut at 256 bytes. A scope that is not RFC 6749 §3.3 scope tokens
 * separated by single spaces, a resource_metadata that is not an http(s) URL (https unless
 * loopback) free of '"', '\\' and spaces, or an error code outside RFC 6749 A.7 gives NULL.
 * Ownership: new, release with dmcp_free(). NULL on bad input or out of memory.
 * Thread-safety: pure functions.
 */

/* 401 for a request without credentials: no error code (RFC 6750 §3.1). */
DMCP_API char *dmcp_challenge_no_token(const char *scope, const char *resource_metadata);

/* 401 invalid_token. description NULL gives "Invalid token". */
DMCP_API char *dmcp_challenge_invalid_token(const char *description, const char *scope,
                                            const char *resource_metadata);

/* 403 insufficient_scope. */
DMCP_API char *dmcp_challenge_insufficient_scope(const char *description, const char *scope,
                                                 const char *resource_metadata);

/* 400 invalid_request. */
DMCP_API char *dmcp_challenge_invalid_request(const char *description,
                                              const char *resource_metadata);

/* The generic builder behind the four above. Every argument may be NULL. */
DMCP_API char *dmcp_challenge_build(const char *error, const char *description,
                                    const char *scope, const char *resource_metadata);

/* The error_description text for a refusal reason ("Token expired", "Invalid token", ...). */
DMCP_API const char *dmcp_reason_description(dmcp_reason reason);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_AUTH_H */
