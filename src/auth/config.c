/* Validator configuration: setters that copy and check their input. */
#include <stdlib.h>
#include <string.h>

#include "auth/validator_int.h"
#include "url.h"

#define DEFAULT_ALGS "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"

static void cfg_defaults(dmcp_validator_config *c)
{
    memset(c, 0, sizeof(*c));
    c->leeway = DMCP__DEFAULT_LEEWAY;
    c->alg_mask = DMCP__ALG_ALL_MASK;
    c->max_token_bytes = DMCP_MAX_TOKEN_BYTES;
    c->connect_ms = 3000;
    c->total_ms = 5000;
    c->default_ttl = DMCP__DEFAULT_TTL;
    c->min_ttl = DMCP__DEFAULT_MIN_TTL;
    c->max_ttl = DMCP__DEFAULT_MAX_TTL;
    c->cooldown = DMCP__DEFAULT_COOLDOWN;
    c->stale_limit = DMCP__DEFAULT_STALE;
    c->token_cache_size = DMCP__DEFAULT_TOKEN_CACHE;
    c->challenge_scope = DMCP_CHALLENGE_SCOPE_COMBINED;
}

dmcp_status dmcp_validator_config_new(dmcp_validator_config **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = NULL;
    dmcp_status st = dmcp__ensure_init();
    if (st != DMCP_OK) {
        return st;
    }
    dmcp_validator_config *c = malloc(sizeof(*c));
    if (c == NULL) {
        return DMCP_E_NOMEM;
    }
    cfg_defaults(c);
    *out = c;
    return DMCP_OK;
}

void dmcp_validator_config_free(dmcp_validator_config *c)
{
    if (c == NULL) {
        return;
    }
    free(c->well_known_url);
    free(c->mcp_server_url);
    free(c->issuer);
    free(c->jwks_url);
    dmcp__free_secret_str(c->jwks_json);
    free(c->jwks_file);
    free(c->ca_file);
    for (size_t i = 0; i < c->n_audiences; i++) {
        free(c->audiences[i]);
    }
    for (size_t i = 0; i < c->n_issuers; i++) {
        free(c->issuers[i]);
    }
    free(c);
}

/* Replaces *slot by a copy of s (NULL resets). */
static dmcp_status set_str(char **slot, const char *s, size_t max)
{
    if (s != NULL && strlen(s) > max) {
        return DMCP_E_INVALID_ARG;
    }
    char *copy = NULL;
    if (s != NULL) {
        copy = dmcp__strdup(s);
        if (copy == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    free(*slot);
    *slot = copy;
    return DMCP_OK;
}

static dmcp_status set_url(char **slot, const char *url, bool allow_query)
{
    if (url != NULL && dmcp__url_check(url, allow_query, NULL, NULL) != DMCP_OK) {
        return DMCP_E_CONFIG;
    }
    return set_str(slot, url, DMCP_MAX_URL_BYTES);
}

dmcp_status dmcp_validator_config_set_well_known_url(dmcp_validator_config *c, const char *url)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    if (url != NULL) {
        dmcp__wellknown wk;
        if (dmcp__wellknown_parse(url, false, &wk, NULL) != DMCP_OK) {
            return DMCP_E_CONFIG;
        }
        dmcp__wellknown_free(&wk);
    }
    return set_str(&c->well_known_url, url, DMCP_MAX_URL_BYTES);
}

dmcp_status dmcp_validator_config_set_mcp_server_url(dmcp_validator_config *c, const char *url)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    return set_url(&c->mcp_server_url, url, true);
}

static dmcp_status add_to(char **list, size_t *n, const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > DMCP_MAX_URL_BYTES) {
        return DMCP_E_INVALID_ARG;
    }
    if (*n >= DMCP__MAX_LIST) {
        return DMCP_E_CONFIG;
    }
    char *copy = dmcp__strdup(s);
    if (copy == NULL) {
        return DMCP_E_NOMEM;
    }
    list[(*n)++] = copy;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_add_audience(dmcp_validator_config *c, const char *aud)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    return add_to(c->audiences, &c->n_audiences, aud);
}

dmcp_status dmcp_validator_config_disable_audience_check(dmcp_validator_config *c)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    c->audience_check_disabled = true;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_issuer(dmcp_validator_config *c, const char *issuer)
{
    if (c == NULL || (issuer != NULL && *issuer == '\0')) {
        return DMCP_E_INVALID_ARG;
    }
    return set_str(&c->issuer, issuer, DMCP_MAX_URL_BYTES);
}

dmcp_status dmcp_validator_config_add_issuer(dmcp_validator_config *c, const char *issuer)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    return add_to(c->issuers, &c->n_issuers, issuer);
}

dmcp_status dmcp_validator_config_set_accept_legacy_issuer(dmcp_validator_config *c, bool accept)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    c->accept_legacy_issuer = accept;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_jwks_url(dmcp_validator_config *c, const char *url)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    return set_url(&c->jwks_url, url, true);
}

dmcp_status dmcp_validator_config_set_jwks_json(dmcp_validator_config *c, const char *json)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    if (json != NULL && strlen(json) > DMCP_MAX_JWKS_BYTES) {
        return DMCP_E_TOO_LARGE;
    }
    return set_str(&c->jwks_json, json, DMCP_MAX_JWKS_BYTES);
}

dmcp_status dmcp_validator_config_set_jwks_file(dmcp_validator_config *c, const char *path)
{
    if (c == NULL || (path != NULL && *path == '\0')) {
        return DMCP_E_INVALID_ARG;
    }
    return set_str(&c->jwks_file, path, 4096);
}

dmcp_status dmcp_validator_config_set_leeway(dmcp_validator_config *c, unsigned seconds)
{
    if (c == NULL || seconds > DMCP__MAX_LEEWAY) {
        return DMCP_E_INVALID_ARG;
    }
    c->leeway = seconds;
    return DMCP_OK;
}

dmcp_status dmcp__parse_alg_list(const char *algs, uint32_t *mask, dmcp_error *err)
{
    uint32_t m = 0;
    const char *p = algs;
    while (*p != '\0') {
        while (*p == ' ') {
            p++;
        }
        const char *s = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
        size_t n = (size_t)(p - s);
        if (n == 0) {
            continue;
        }
        /* RFC 8725 §3.1/§3.2: "none" and the HMAC family can never be enabled, in any
         * spelling, so a configuration naming them is an error rather than ignored. */
        if ((n == 4 && dmcp__ascii_ncasecmp(s, "none", 4) == 0) ||
            dmcp__ascii_ncasecmp(s, "HS", 2) == 0) {
            return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                              "algorithm %.*s can never be enabled", (int)(n > 16 ? 16 : n), s);
        }
        dmcp__alg a = dmcp__alg_from_name(s, n);
        if (a == DMCP__ALG_UNKNOWN) {
            return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "unknown algorithm %.*s",
                              (int)(n > 16 ? 16 : n), s);
        }
        m |= DMCP__ALG_BIT(a);
    }
    if (m == 0) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "empty algorithm list");
    }
    *mask = m;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_algorithms(dmcp_validator_config *c, const char *algs)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    if (algs == NULL) {
        algs = DEFAULT_ALGS;
    }
    if (strlen(algs) > 1024) {
        return DMCP_E_INVALID_ARG;
    }
    uint32_t m;
    dmcp_status st = dmcp__parse_alg_list(algs, &m, NULL);
    if (st != DMCP_OK) {
        return st;
    }
    c->alg_mask = m;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_require_at_jwt(dmcp_validator_config *c, bool require)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    c->require_at_jwt = require;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_max_token_bytes(dmcp_validator_config *c, size_t bytes)
{
    /* The smallest possible compact JWS ("e30.e30.x") has 9 bytes; a cap below that would
     * refuse everything and is surely a mistake. */
    if (c == NULL || bytes < 16 || bytes > DMCP_MAX_TOKEN_BYTES_LIMIT) {
        return DMCP_E_INVALID_ARG;
    }
    c->max_token_bytes = bytes;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_http_timeouts(dmcp_validator_config *c, long connect_ms,
                                                    long total_ms)
{
    if (c == NULL || connect_ms <= 0 || total_ms <= 0 || connect_ms > 600000 || total_ms > 600000 ||
        connect_ms > total_ms) {
        return DMCP_E_INVALID_ARG;
    }
    c->connect_ms = connect_ms;
    c->total_ms = total_ms;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_ca_file(dmcp_validator_config *c, const char *path)
{
    if (c == NULL || (path != NULL && *path == '\0')) {
        return DMCP_E_INVALID_ARG;
    }
    return set_str(&c->ca_file, path, 4096);
}

dmcp_status dmcp_validator_config_set_key_cache(dmcp_validator_config *c, unsigned default_ttl,
                                                unsigned min_ttl, unsigned max_ttl,
                                                unsigned cooldown, unsigned stale_limit)
{
    /* A zero cooldown would let every unknown kid trigger a fetch (the amplification the
     * cooldown exists to prevent); a week bounds every interval. */
    const unsigned week = 7u * 86400u;
    if (c == NULL || min_ttl == 0 || min_ttl > max_ttl || default_ttl == 0 || max_ttl > week ||
        default_ttl > week || cooldown == 0 || cooldown > week || stale_limit > week) {
        return DMCP_E_INVALID_ARG;
    }
    c->default_ttl = default_ttl;
    c->min_ttl = min_ttl;
    c->max_ttl = max_ttl;
    c->cooldown = cooldown;
    c->stale_limit = stale_limit;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_token_cache_size(dmcp_validator_config *c, size_t entries)
{
    if (c == NULL || entries > DMCP__MAX_TOKEN_CACHE) {
        return DMCP_E_INVALID_ARG;
    }
    c->token_cache_size = entries;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_scope_implies(dmcp_validator_config *c,
                                                    dmcp_scope_implies_fn fn, void *userdata)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    c->implies = fn;
    c->implies_ud = fn != NULL ? userdata : NULL;
    return DMCP_OK;
}

dmcp_status dmcp_validator_config_set_challenge_scope(dmcp_validator_config *c,
                                                      dmcp_challenge_scope strategy)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    switch (strategy) {
    case DMCP_CHALLENGE_SCOPE_COMBINED:
    case DMCP_CHALLENGE_SCOPE_REQUIRED:
        c->challenge_scope = strategy;
        return DMCP_OK;
    default:
        return DMCP_E_INVALID_ARG;
    }
}

dmcp_status dmcp_validator_config_set_clock(dmcp_validator_config *c, dmcp_clock_fn fn,
                                            void *userdata)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    c->clock = fn;
    c->clock_ud = fn != NULL ? userdata : NULL;
    return DMCP_OK;
}
