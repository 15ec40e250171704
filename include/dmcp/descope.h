/*
 * dmcp/descope.h - Descope "Connections" (outbound apps): fetch a user's or a tenant's
 * third-party OAuth token (Google Calendar, ...) stored in Descope, list the apps a user has
 * connected, and get the URL that starts a connection (descope-wire-protocol.md §5).
 *
 * The MCP access token goes only to the Descope API, as "Bearer <projectId>:<accessToken>";
 * third-party APIs get the connection token this module returns, never the MCP token
 * (mcp-resource-server.md §7, no token passthrough).
 *
 * Typical use inside an MCP tool (the caller's validated bearer token in `bearer`):
 *
 *   dmcp_descope_client *dc;                       // once, at start-up
 *   dmcp_descope_client_new(well_known_url, &dc, &err);
 *
 *   const char *scopes[] = {"https://www.googleapis.com/auth/calendar.readonly", NULL};
 *   char *gtoken = NULL;
 *   dmcp_status st = dmcp_descope_user_access_token(dc, bearer, "google-calendar", user_id,
 *                                                   scopes, &gtoken, &err);
 *   if (st == DMCP_OK) { ...call the API with gtoken...; dmcp_descope_secret_free(gtoken); }
 *
 * The API base URL is, in order: dmcp_descope_client_set_api_base(), the environment variable
 * DESCOPE_BASE_URL read at dmcp_descope_client_new(), the well-known URL's origin. No host is
 * built in.
 */
#ifndef DMCP_DESCOPE_H
#define DMCP_DESCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dmcp/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* The client                                                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef struct dmcp_descope_client dmcp_descope_client;

/*
 * Creates a client from a Descope well-known (discovery) URL or issuer in one of the shapes
 *   https://H/v1/apps/agentic/<P>/<M>/.well-known/openid-configuration
 *   https://H/v1/apps/<P>/.well-known/openid-configuration
 *   https://H/<P>/.well-known/openid-configuration
 * The project id <P> is derived from the path, never guessed: any other URL is DMCP_E_CONFIG
 * (wire protocol §1.2, §7.1). No request is made here.
 * Defaults: access-token credentials, timeouts 3000 ms connect / 10000 ms total, the system CA
 * store, retries after 100, 5000, 5000 ms, a cache of 1024 entries with a 60 s margin.
 * Ownership: *out is new, release with dmcp_descope_client_free().
 * Thread-safety: configure the client (the setters below) on one thread before sharing it;
 * after that every fetch function may be called from any number of threads at once.
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_descope_client_new(const char *well_known_url,
                                                              dmcp_descope_client **out,
                                                              dmcp_error *err);

/* Wipes the management key and the cached tokens. NULL is a no-op. No call may be running. */
DMCP_API void dmcp_descope_client_free(dmcp_descope_client *c);

/* The project id derived from the well-known URL. Ownership: borrowed, until client free. */
DMCP_API const char *dmcp_descope_client_project_id(const dmcp_descope_client *c);

/* The API base URL in use (no trailing slash). Ownership: borrowed, until the next setter. */
DMCP_API const char *dmcp_descope_client_api_base(const dmcp_descope_client *c);

/*
 * Overrides the API base URL (https, or http on a loopback host; no query, no fragment). A
 * trailing "/" is dropped. NULL goes back to DESCOPE_BASE_URL / the origin.
 * Thread-safety: not while requests run.
 */
DMCP_API dmcp_status dmcp_descope_client_set_api_base(dmcp_descope_client *c, const char *url);

/*
 * Switches the client to management-key credentials ("Bearer <projectId>:<key>"), which bypass
 * Descope's policies (wire protocol §5.1): then every call passes NULL as access_token. NULL
 * goes back to access-token credentials. The key must be printable ASCII without spaces.
 * Ownership: the key is copied; the copy is wiped when replaced or at free.
 * Thread-safety: not while requests run.
 */
DMCP_API dmcp_status dmcp_descope_client_set_management_key(dmcp_descope_client *c,
                                                            const char *key);

/* HTTP timeouts in milliseconds (> 0). Thread-safety: not while requests run. */
DMCP_API dmcp_status dmcp_descope_client_set_timeouts(dmcp_descope_client *c, long connect_ms,
                                                      long total_ms);

/* A CA bundle (PEM file) instead of the system store; NULL resets. Not while requests run. */
DMCP_API dmcp_status dmcp_descope_client_set_ca_file(dmcp_descope_client *c, const char *path);

/*
 * Retry policy for the transient statuses 503, 520, 521, 522, 524 and 530 (wire protocol
 * §5.4): at most n_delays retries (0..8), the i-th after delays_ms[i] milliseconds
 * (each <= 60000). n_delays 0 disables retries. Default {100, 5000, 5000}.
 * Thread-safety: not while requests run.
 */
DMCP_API dmcp_status dmcp_descope_client_set_retry_policy(dmcp_descope_client *c,
                                                          const unsigned *delays_ms,
                                                          size_t n_delays);

/*
 * Connection-token cache: at most max_entries tokens (0 disables it; at most 1000000), each
 * served until margin_s seconds before its accessTokenExpiry. Tokens without a known expiry are
 * never cached. Only calls that name a cache principal (dmcp_connection_options_set_principal)
 * use it; entries are keyed by principal, credential mode, app, user or tenant, tenant,
 * scopes and withRefreshToken, and in access-token mode also by a SHA-256 of the access
 * token, so a cached token is only ever returned to the same caller with the same credential
 * that Descope authorised. Changing it empties the cache.
 * Thread-safety: not while requests run.
 */
DMCP_API dmcp_status dmcp_descope_client_set_cache(dmcp_descope_client *c, size_t max_entries,
                                                   unsigned margin_s);

/* A clock for the cache (seconds since the epoch); NULL restores time(NULL). For tests. */
typedef int64_t (*dmcp_descope_clock_fn)(void *userdata);
DMCP_API dmcp_status dmcp_descope_client_set_clock(dmcp_descope_client *c,
                                                   dmcp_descope_clock_fn fn, void *userdata);

/* Cache counters since creation. Thread-safety: safe. */
DMCP_API void dmcp_descope_client_cache_stats(const dmcp_descope_client *c, uint64_t *hits,
                                              uint64_t *misses);

/* ------------------------------------------------------------------------------------------ */
/* Per-call options                                                                           */
/* ------------------------------------------------------------------------------------------ */

typedef struct dmcp_connection_options dmcp_connection_options;

/* Ownership: new, release with dmcp_connection_options_free(). NULL-safe free. */
DMCP_API dmcp_status dmcp_connection_options_new(dmcp_connection_options **out);
DMCP_API void dmcp_connection_options_free(dmcp_connection_options *o);

/*
 * Setters; strings are copied, NULL resets. An options object may be shared by concurrent
 * calls once set up, but not changed while one runs.
 *   tenant_id          user tokens only: the tenant the user's connection belongs to
 *                      (sent as "tenantId" only when set). Tenant tokens take it as argument.
 *   with_refresh_token options.withRefreshToken (default false)
 *   force_refresh      options.forceRefresh (default false); also skips the cache read
 *   principal          cache key of the caller (e.g. issuer + " " + user id); NULL: no cache
 *   fetch_connect_url  on DMCP_E_NOT_CONNECTED, also POST .../connect (with this call's
 *                      scopes and redirect_url, which may be NULL) and hand back the URL
 */
DMCP_API dmcp_status dmcp_connection_options_set_tenant_id(dmcp_connection_options *o,
                                                           const char *tenant_id);
DMCP_API dmcp_status dmcp_connection_options_set_with_refresh_token(dmcp_connection_options *o,
                                                                    bool on);
DMCP_API dmcp_status dmcp_connection_options_set_force_refresh(dmcp_connection_options *o,
                                                               bool on);
DMCP_API dmcp_status dmcp_connection_options_set_principal(dmcp_connection_options *o,
                                                           const char *principal);
DMCP_API dmcp_status dmcp_connection_options_set_fetch_connect_url(dmcp_connection_options *o,
                                                                   bool on,
                                                                   const char *redirect_url);

/* ------------------------------------------------------------------------------------------ */
/* Connection tokens                                                                          */
/* ------------------------------------------------------------------------------------------ */

typedef struct dmcp_connection_token dmcp_connection_token;

/*
 * Fetches a user's token for an app (wire protocol §5.2):
 *   scopes non-empty:  POST /v1/mgmt/outbound/app/user/token        {appId,userId,scopes,options}
 *   scopes NULL/empty: POST /v1/mgmt/outbound/app/user/token/latest {appId,userId,options}
 * access_token is the caller's MCP access token (access-token mode; required) or NULL
 * (management-key mode; required NULL). scopes is NULL-terminated (at most DMCP_MAX_SCOPES).
 * opts may be NULL.
 * Returns DMCP_OK, DMCP_E_NOT_CONNECTED (404), DMCP_E_POLICY_DENIED (401/403),
 * DMCP_E_RATE_LIMITED (429; err->retry_after), DMCP_E_UPSTREAM (other non-2xx, or a 2xx without
 * token.accessToken; err->http_status, err->code, err->description, err->upstream_message),
 * DMCP_E_UNREACHABLE, DMCP_E_TIMEOUT, DMCP_E_TOO_LARGE, DMCP_E_INVALID_ARG, DMCP_E_NOMEM.
 * No error text ever contains the access token, the management key or a returned token.
 * Ownership: *out is new, release with dmcp_connection_token_free(). *out is NULL on failure,
 * except DMCP_E_NOT_CONNECTED with fetch_connect_url, where *out may hold only
 * dmcp_connection_token_connect_url() (its access token is NULL).
 * Thread-safety: safe on a shared client.
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_descope_user_token(
    dmcp_descope_client *c, const char *access_token, const char *app_id, const char *user_id,
    const char *const *scopes, const dmcp_connection_options *opts, dmcp_connection_token **out,
    dmcp_error *err);

/*
 * Fetches a tenant's token for an app: POST /v1/mgmt/outbound/app/tenant/token (with scopes)
 * or .../tenant/token/latest (without); body {appId,tenantId[,scopes],options}. The options'
 * tenant_id is ignored. Otherwise as dmcp_descope_user_token().
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_descope_tenant_token(
    dmcp_descope_client *c, const char *access_token, const char *app_id, const char *tenant_id,
    const char *const *scopes, const dmcp_connection_options *opts, dmcp_connection_token **out,
    dmcp_error *err);

/*
 * One call for the common case: the user's access token string for an app, default options
 * (what the Python SDK's get_connection_token() returns).
 * Ownership: *out is new, release with dmcp_descope_secret_free(). Thread-safety: safe.
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_descope_user_access_token(
    dmcp_descope_client *c, const char *access_token, const char *app_id, const char *user_id,
    const char *const *scopes, char **out, dmcp_error *err);

/* Wipes (OPENSSL_cleanse) and frees a string that held a secret. NULL is a no-op. */
DMCP_API void dmcp_descope_secret_free(char *secret);

/*
 * Token accessors. Strings are borrowed until dmcp_connection_token_free() and are NULL when
 * Descope did not send the field (or sent it with another type). Thread-safety: a token is
 * immutable; any number of threads may read it.
 */
DMCP_API const char *dmcp_connection_token_access_token(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_type(const dmcp_connection_token *t);
/* accessTokenExpiry in seconds since the epoch, 0 when absent or not understood. */
DMCP_API int64_t dmcp_connection_token_expiry(const dmcp_connection_token *t);
/* The granted scopes. Ownership: array and strings borrowed; *count may be NULL. */
DMCP_API const char *const *dmcp_connection_token_scopes(const dmcp_connection_token *t,
                                                         size_t *count);
DMCP_API bool dmcp_connection_token_has_refresh_token(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_refresh_token(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_id(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_app_id(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_user_id(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_token_sub(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_tenant_id(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_granted_by(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_external_identifier(const dmcp_connection_token *t);
/* lastRefreshTime parsed like the expiry (0 when absent); lastRefreshError as sent. */
DMCP_API int64_t dmcp_connection_token_last_refresh_time(const dmcp_connection_token *t);
DMCP_API const char *dmcp_connection_token_last_refresh_error(const dmcp_connection_token *t);
/* The connect URL fetched after DMCP_E_NOT_CONNECTED (fetch_connect_url), else NULL. */
DMCP_API const char *dmcp_connection_token_connect_url(const dmcp_connection_token *t);
/*
 * The reply's "token" object exactly as received (NULL for a connect-URL-only result).
 * Ownership: borrowed until dmcp_connection_token_free(); do not keep a reference past it, as
 * its strings are wiped then.
 */
DMCP_API const json_t *dmcp_connection_token_json(const dmcp_connection_token *t);

/* Takes another reference (tokens are reference-counted). Returns t. Thread-safety: safe. */
DMCP_API dmcp_connection_token *dmcp_connection_token_ref(dmcp_connection_token *t);
/* Drops a reference; the last one wipes the secrets and frees. NULL is a no-op. */
DMCP_API void dmcp_connection_token_free(dmcp_connection_token *t);

/*
 * Parses an accessTokenExpiry value (wire protocol §5.3): a JSON number is epoch seconds, or
 * milliseconds when > 1e12; a string of digits likewise; any other string RFC 3339
 * ("2026-01-02T03:04:05Z", "...05.123+02:00"); anything else, or out of range, gives 0.
 * Thread-safety: safe.
 */
DMCP_API int64_t dmcp_connection_parse_expiry(const json_t *value);

/* ------------------------------------------------------------------------------------------ */
/* Connect URL and connected apps                                                             */
/* ------------------------------------------------------------------------------------------ */

/*
 * Gets the URL that lets the user connect an app: POST /v1/mgmt/outbound/app/connect with
 * {appId[,tenantId],options:{[redirectUrl][,scopes]}} -> {"url":...}. tenant_id, redirect_url
 * and scopes may be NULL. Errors as for dmcp_descope_user_token().
 * Ownership: *url_out is new, release with dmcp_free(). Thread-safety: safe.
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_descope_connect_url(
    dmcp_descope_client *c, const char *access_token, const char *app_id, const char *tenant_id,
    const char *redirect_url, const char *const *scopes, char **url_out, dmcp_error *err);

/*
 * Lists the apps a user has a token for: GET /v1/mgmt/outbound/apps-with-user-token
 * ?userId=<u>[&tenantId=<t>] -> {"appIds":[...]}. tenant_id may be NULL.
 * Ownership: *app_ids is a new NULL-terminated array, release with dmcp_descope_strv_free();
 * *count (may be NULL) receives its length. Thread-safety: safe.
 */
DMCP_API DMCP_WARN_UNUSED dmcp_status dmcp_descope_connected_apps(
    dmcp_descope_client *c, const char *access_token, const char *user_id, const char *tenant_id,
    char ***app_ids, size_t *count, dmcp_error *err);

/* Frees a NULL-terminated string array returned by this module. NULL is a no-op. */
DMCP_API void dmcp_descope_strv_free(char **v);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_DESCOPE_H */
