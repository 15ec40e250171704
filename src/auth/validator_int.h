/*
 * Internal layout and seams of the token validator (config, key source, header policy,
 * claims, token, verified-token cache). Never installed; tests include it.
 */
#ifndef DMCP_VALIDATOR_INT_H
#define DMCP_VALIDATOR_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jose.h"
#include "jsonlite.h"
#include "dmcp/auth.h"
#include "http.h"
#include "internal.h"

#define DMCP__DEFAULT_LEEWAY 5u
#define DMCP__MAX_LEEWAY 300u
#define DMCP__DEFAULT_TTL 3600u
#define DMCP__DEFAULT_MIN_TTL 300u
#define DMCP__DEFAULT_MAX_TTL 86400u
#define DMCP__DEFAULT_COOLDOWN 60u
#define DMCP__DEFAULT_STALE 86400u
#define DMCP__DEFAULT_TOKEN_CACHE 10000u
#define DMCP__MAX_TOKEN_CACHE (1u << 22)
#define DMCP__MAX_LIST 64 /* extra audiences / issuers */

/* ---- configuration ---- */

struct dmcp_validator_config {
    char *well_known_url;
    char *mcp_server_url;
    char *issuer;
    char *jwks_url;
    char *jwks_json;
    char *jwks_file;
    char *ca_file;
    char *audiences[DMCP__MAX_LIST];
    size_t n_audiences;
    char *issuers[DMCP__MAX_LIST];
    size_t n_issuers;
    bool audience_check_disabled;
    bool accept_legacy_issuer;
    bool require_at_jwt;
    unsigned leeway;
    uint32_t alg_mask;
    size_t max_token_bytes;
    long connect_ms;
    long total_ms;
    unsigned default_ttl, min_ttl, max_ttl, cooldown, stale_limit;
    size_t token_cache_size;
    dmcp_scope_implies_fn implies;
    void *implies_ud;
    dmcp_challenge_scope challenge_scope;
    dmcp_clock_fn clock;
    void *clock_ud;
};

/* Parses a space-separated alg list into a mask (none / HS* / unknown: DMCP_E_CONFIG). */
dmcp_status dmcp__parse_alg_list(const char *algs, uint32_t *mask, dmcp_error *err);

/* ---- JWS header policy (header.c) ---- */

typedef struct dmcp__jws_header {
    dmcp__alg alg;
    const char *kid; /* NULL when absent; points into the doc */
    size_t kid_len;
} dmcp__jws_header;

/*
 * Parses the decoded header and applies the policy: a JSON object without duplicates; alg a
 * string in alg_mask; typ absent / "JWT" / "at+jwt" (or only "at+jwt" when require_at_jwt;
 * see header.c for the case and "application/" rules); crit, zip, b64 refused; kid a string
 * when present; jku, x5u, jwk, x5c ignored. On DMCP_OK, release *doc with dmcp__jl_free().
 */
dmcp_status dmcp__header_check(const unsigned char *hdr, size_t len, uint32_t alg_mask,
                               bool require_at_jwt, dmcp__jl_doc *doc, dmcp__jws_header *out,
                               dmcp_error *err);

/*
 * The layered JWS check (no claims): split, header policy, key selection in ks, signature.
 * Used by the validator's pieces and by the Wycheproof test. On DMCP_OK, *parts must be
 * released with dmcp__jws_parts_clear().
 */
dmcp_status dmcp__jws_verify_compact(const char *token, size_t len, const dmcp__jwks *ks,
                                     uint32_t alg_mask, bool require_at_jwt, dmcp__jws_parts *parts,
                                     dmcp_error *err);

/* ---- claims (claims.c) ---- */

typedef struct dmcp__issuer_rules {
    const char *primary; /* configured / derived issuer */
    char *const *extra;  /* extra accepted issuers */
    size_t n_extra;
    const char *origin;     /* Descope: scheme://host[:port], else NULL */
    const char *project_id; /* Descope: the project id, else NULL */
    bool legacy;            /* accept "<pid>" and "<origin>/<pid>" */
} dmcp__issuer_rules;

/* Exact issuer match against the rules of wire protocol §4.1. */
bool dmcp__issuer_accepted(const dmcp__issuer_rules *r, const char *iss, size_t len);

typedef struct dmcp__claims_policy {
    unsigned leeway;
    const dmcp__issuer_rules *issuers;
    bool check_audience;
    char *const *audiences;
    size_t n_audiences;
} dmcp__claims_policy;

/* What the claim checks extracted; pointers into the doc. */
typedef struct dmcp__claims {
    int64_t exp;        /* exp as integer seconds (a fractional exp is rounded down) */
    int64_t reject_at;  /* the token is refused when now >= reject_at (exp + leeway) */
    int64_t valid_from; /* the token is refused when now < valid_from (nbf / iat - leeway) */
    const dmcp__jl_member *iss, *sub, *dsub, *azp, *client_id, *tenant, *scope, *scopes;
} dmcp__claims;

/*
 * The claim rules (RFC 7519 §4.1, RFC 9068 §4, wire protocol §4): exp required, exp/nbf/iat
 * numbers, leeway, iss, aud; sub/dsub/azp/client_id/scope strings when present.
 * Failures: DMCP_E_INVALID_TOKEN with reason EXPIRED, NOT_YET_VALID, CLAIM, ISSUER, AUDIENCE.
 */
dmcp_status dmcp__claims_check(const dmcp__claims_policy *pol, const dmcp__jl_doc *doc, int64_t now,
                               dmcp__claims *out, dmcp_error *err);

/* ---- the token (token.c) ---- */

struct dmcp_token {
    atomic_size_t refs;
    char *raw; /* NUL-terminated copy, wiped on free */
    size_t raw_len;
    unsigned char *payload; /* decoded payload JSON (for dmcp_token_claims) */
    size_t payload_len;
    dmcp__jl_doc doc; /* owns the decoded strings below */
    const char *user_id, *sub, *iss, *client_id, *tenant;
    int64_t exp, reject_at, valid_from;
    const char **scopes;
    size_t n_scopes;
    char *scope_buf;
    _Atomic(json_t *) claims; /* built lazily with jansson */
};

/* Builds a token. Takes *doc (emptied, also on failure). Returns DMCP_OK, DMCP_E_NOMEM or
 * DMCP_E_INVALID_TOKEN (reason CLAIM: too many scopes). */
dmcp_status dmcp__token_build(const char *raw, size_t raw_len, const unsigned char *payload,
                              size_t payload_len, dmcp__jl_doc *doc, const dmcp__claims *c,
                              dmcp_token **out, dmcp_error *err);

/* ---- verified-token cache (tokencache.c) ---- */

typedef struct dmcp__tcache dmcp__tcache;

#define DMCP__DIGEST_LEN 32

/* NULL when entries == 0 (disabled) or out of memory (*nomem set). */
dmcp__tcache *dmcp__tcache_new(size_t entries, bool *nomem);
void dmcp__tcache_free(dmcp__tcache *c);
/* SHA-256 of the token bytes. */
dmcp_status dmcp__tcache_digest(const char *token, size_t len, unsigned char out[DMCP__DIGEST_LEN]);
/* A new reference to the cached token when present and still valid at `now`, else NULL. On a
 * hit *gen receives the generation of the key set that verified it. */
dmcp_token *dmcp__tcache_get(dmcp__tcache *c, const unsigned char digest[DMCP__DIGEST_LEN],
                             int64_t now, uint64_t *gen);
/* Remembers t, verified by key set generation gen (takes a new reference of its own). */
void dmcp__tcache_put(dmcp__tcache *c, const unsigned char digest[DMCP__DIGEST_LEN], dmcp_token *t,
                      uint64_t gen);
/* Number of live entries (for tests). */
size_t dmcp__tcache_count(dmcp__tcache *c);

/* ---- key source (keysource.c) ---- */

typedef struct dmcp__keyset {
    atomic_size_t refs;
    dmcp__jwks *jwks;
    int64_t fetched_at;
    int64_t refresh_at; /* the refresher fetches from here on; INT64_MAX for a static set */
    int64_t expires_at; /* INT64_MAX for a static key set */
    uint64_t gen;       /* unique per snapshot: a changed gen means a new fetch landed */
} dmcp__keyset;

typedef struct dmcp__keysource dmcp__keysource;

typedef struct dmcp__keysource_opts {
    const char *jwks_url;    /* fetched source, or NULL with a static set */
    dmcp__jwks *static_jwks; /* taken */
    dmcp__http_opts http;
    unsigned default_ttl, min_ttl, max_ttl, cooldown, stale_limit;
    dmcp_clock_fn clock; /* required with jwks_url; also called from the refresher thread */
    void *clock_ud;
} dmcp__keysource_opts;

dmcp_status dmcp__keysource_new(dmcp__keysource_opts *opts, dmcp__keysource **out, dmcp_error *err);
/* Stops and joins the refresher thread (waiting at most for the fetch it is running). No other
 * call may be running. */
void dmcp__keysource_free(dmcp__keysource *ks);

/* Tries a fetch now (used once by dmcp_validator_new). */
dmcp_status dmcp__keysource_prime(dmcp__keysource *ks, int64_t now, dmcp_error *err);

/*
 * A usable key set at `now`: fresh, or expired but within the stale limit. From a snapshot's
 * refresh time on, asks the background refresher for a fetch and returns the current keys at
 * once. Only when nothing is usable (before the first load, or past the stale limit) does the
 * caller fetch (or wait for the fetch in flight), bounded by the HTTP timeout.
 * DMCP_E_KEY_SOURCE_UNAVAILABLE when there is no usable set. Thread-safe.
 * Ownership: *out new, release with dmcp__keyset_release().
 */
dmcp_status dmcp__keysource_acquire(dmcp__keysource *ks, int64_t now, dmcp__keyset **out,
                                    dmcp_error *err);

/*
 * A token named a kid that `seen` lacks. Never waits. Returns in *out a usable set newer than
 * `seen` when one was installed meanwhile, else NULL; then, when may_refetch (the caller
 * checked the token's claims), asks the refresher for a fetch at most once per cooldown, so the
 * key can arrive for a later request. Thread-safe. Ownership: *out new.
 */
void dmcp__keysource_unknown_kid(dmcp__keysource *ks, int64_t now, const dmcp__keyset *seen,
                                 bool may_refetch, dmcp__keyset **out);

/* For tests: fetch attempts completed so far, and a wait (real time, at most timeout_ms) until
 * no fetch is pending or running (true when idle). */
unsigned dmcp__keysource_fetches(dmcp__keysource *ks);
bool dmcp__keysource_wait_idle(dmcp__keysource *ks, long timeout_ms);

void dmcp__keyset_release(dmcp__keyset *s);

typedef struct dmcp__key_status {
    bool loaded, fresh, usable, last_fetch_failed;
    size_t keys;
    int64_t age; /* seconds since the current set was fetched (0: static) */
    unsigned fetches;
} dmcp__key_status;
/* What the key source holds at `now` (health, metrics). Thread-safe, never waits for a fetch. */
void dmcp__keysource_status(dmcp__keysource *ks, int64_t now, dmcp__key_status *out);

/* ---- the validator ---- */

struct dmcp_validator {
    char *issuer;
    char *origin;
    char *project_id;
    char *resource;
    char *jwks_url;
    json_t *scopes_supported;
    char *extra_issuers[DMCP__MAX_LIST];
    size_t n_extra_issuers;
    char *audiences[DMCP__MAX_LIST + 1];
    size_t n_audiences;
    dmcp__issuer_rules issuer_rules;
    dmcp__claims_policy claims_policy;
    uint32_t alg_mask;
    bool require_at_jwt;
    size_t max_token_bytes;
    dmcp_clock_fn clock;
    void *clock_ud;
    dmcp_scope_implies_fn implies;
    void *implies_ud;
    dmcp_challenge_scope challenge_scope;
    dmcp__keysource *keys;
    dmcp__tcache *cache;
};

#endif /* DMCP_VALIDATOR_INT_H */
