/* The token validator: configuration to a running validator, and the validation pipeline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth_internal.h"
#include "auth/validator_int.h"
#include "metrics.h"
#include "url.h"

static int64_t default_clock(void *ud)
{
    (void)ud;
    return (int64_t)time(NULL);
}

static dmcp_status nomem(dmcp_error *err)
{
    return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
}

/* Reads a static JWKS file (capped). */
static dmcp_status read_jwks_file(const char *path, dmcp__buf *b, dmcp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "cannot open the JWKS file");
    }
    dmcp_status st = DMCP_OK;
    char chunk[4096];
    for (;;) {
        size_t n = fread(chunk, 1, sizeof(chunk), f);
        if (n > 0) {
            st = dmcp__buf_append(b, chunk, n);
            if (st != DMCP_OK) {
                st = dmcp__fail(err, st == DMCP_E_TOO_LARGE ? DMCP_E_CONFIG : st, DMCP_REASON_NONE,
                                "JWKS file too large");
                break;
            }
        }
        if (n < sizeof(chunk)) {
            if (ferror(f)) {
                st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "cannot read the JWKS file");
            }
            break;
        }
    }
    fclose(f);
    return st;
}

static dmcp_status load_static(const dmcp_validator_config *cfg, dmcp__jwks **out, dmcp_error *err)
{
    dmcp__buf b;
    dmcp__buf_init(&b, DMCP_MAX_JWKS_BYTES);
    dmcp_status st = DMCP_OK;
    const char *json = cfg->jwks_json;
    size_t len = json != NULL ? strlen(json) : 0;
    if (cfg->jwks_file != NULL) {
        st = read_jwks_file(cfg->jwks_file, &b, err);
        if (st != DMCP_OK) {
            goto out;
        }
        json = b.data != NULL ? b.data : "";
        len = b.len;
    }
    st = dmcp__jwks_parse(json, len, out, NULL, err);
    if (st != DMCP_OK) {
        st = dmcp__fail(err, st == DMCP_E_NOMEM ? st : DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "the static key set is not a usable JWKS");
        goto out;
    }
    if ((*out)->n == 0) {
        dmcp__jwks_free(*out);
        *out = NULL;
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "the static key set has no usable key");
    }
out:
    dmcp__buf_free(&b);
    return st;
}

/*
 * Fetches the discovery document (OpenID Connect Discovery 1.0 §4). Returns DMCP_OK with
 * *jwks_uri set; DMCP_E_CONFIG when the document names another issuer or a bad jwks_uri
 * (fatal); any other status when it could not be fetched or read (the caller may fall back).
 */
static dmcp_status discover(dmcp_validator *v, const dmcp__wellknown *wk,
                            const dmcp__http_opts *http, char **jwks_uri, dmcp_error *err)
{
    dmcp__http_response resp;
    dmcp__http_opts opts = *http;
    opts.max_bytes = DMCP_MAX_METADATA_BYTES;
    static const char *const headers[] = {"Accept: application/json", NULL};
    *jwks_uri = NULL;
    dmcp_status st =
        dmcp__http_request(&opts, "GET", wk->discovery_url, headers, NULL, 0, &resp, err);
    if (st != DMCP_OK) {
        return st;
    }
    json_t *doc = NULL;
    if (resp.status != 200) {
        st = dmcp__fail(err, DMCP_E_UPSTREAM, DMCP_REASON_NONE, "discovery: HTTP %ld", resp.status);
        goto out;
    }
    doc = json_loadb(resp.body.data != NULL ? resp.body.data : "", resp.body.len,
                     JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        st = dmcp__fail(err, DMCP_E_PROTOCOL, DMCP_REASON_NONE,
                        "discovery: the document is not a JSON object");
        goto out;
    }
    /* §4.3: the issuer in the document MUST equal the URL's issuer, exactly. */
    const char *iss = json_string_value(json_object_get(doc, "issuer"));
    if (iss == NULL || strcmp(iss, wk->issuer) != 0) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "discovery: the document's issuer does not match the URL");
        goto out;
    }
    const char *ju = json_string_value(json_object_get(doc, "jwks_uri"));
    if (ju == NULL || strlen(ju) > DMCP_MAX_URL_BYTES ||
        dmcp__url_check(ju, true, NULL, NULL) != DMCP_OK) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "discovery: missing or unacceptable jwks_uri");
        goto out;
    }
    *jwks_uri = dmcp__strdup(ju);
    if (*jwks_uri == NULL) {
        st = nomem(err);
        goto out;
    }
    json_t *scopes = json_object_get(doc, "scopes_supported");
    if (json_is_array(scopes)) {
        v->scopes_supported = json_incref(scopes);
    }
out:
    json_decref(doc);
    dmcp__http_response_free(&resp);
    return st;
}

static dmcp_status copy_into(char **slot, const char *s, dmcp_error *err)
{
    if (s == NULL) {
        *slot = NULL;
        return DMCP_OK;
    }
    *slot = dmcp__strdup(s);
    return *slot != NULL ? DMCP_OK : nomem(err);
}

dmcp_status dmcp_validator_new(const dmcp_validator_config *cfg, dmcp_validator **out,
                               dmcp_error *err)
{
    dmcp_error_clear(err);
    if (cfg == NULL || out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "missing argument");
    }
    *out = NULL;
    dmcp_status st = dmcp__ensure_init();
    if (st != DMCP_OK) {
        return dmcp__fail(err, st, DMCP_REASON_NONE, "initialisation failed");
    }
    st = dmcp__jose_init();
    if (st != DMCP_OK) {
        return dmcp__fail(err, st, DMCP_REASON_NONE, "initialisation failed");
    }
    dmcp_validator *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        return nomem(err);
    }
    dmcp__wellknown wk;
    memset(&wk, 0, sizeof(wk));
    dmcp__keysource_opts ko;
    memset(&ko, 0, sizeof(ko));
    char *jwks_uri = NULL;
    bool have_wk = false;
    bool is_static = cfg->jwks_json != NULL || cfg->jwks_file != NULL;

    if (cfg->jwks_json != NULL && cfg->jwks_file != NULL) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "set either a JWKS document or a JWKS file, not both");
        goto fail;
    }
    if (is_static && cfg->jwks_url != NULL) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "set either a static key set or a JWKS URL, not both");
        goto fail;
    }

    /* Issuer, origin and project id (wire protocol §1.2). */
    if (cfg->well_known_url != NULL) {
        st = dmcp__wellknown_parse(cfg->well_known_url, false, &wk, err);
        if (st != DMCP_OK) {
            st = dmcp__fail(err, st == DMCP_E_NOMEM ? st : DMCP_E_CONFIG, DMCP_REASON_NONE,
                            "the well-known URL is not acceptable");
            goto fail;
        }
        have_wk = true;
        if (cfg->issuer != NULL && strcmp(cfg->issuer, wk.issuer) != 0) {
            st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                            "the issuer differs from the well-known URL's issuer");
            goto fail;
        }
    } else if (cfg->issuer != NULL) {
        /* An issuer given directly: if it is a URL of a Descope shape, the Descope issuer
         * forms of that project are accepted too; any other string is matched exactly. */
        if (dmcp__wellknown_parse(cfg->issuer, false, &wk, NULL) == DMCP_OK) {
            have_wk = true;
        }
    } else {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "an issuer or a well-known URL is required");
        goto fail;
    }
    st = copy_into(&v->issuer, cfg->issuer != NULL ? cfg->issuer : wk.issuer, err);
    if (st == DMCP_OK && have_wk) {
        st = copy_into(&v->origin, wk.origin, err);
        if (st == DMCP_OK && wk.shape != DMCP__WK_GENERIC) {
            st = copy_into(&v->project_id, wk.project_id, err);
        }
    }
    if (st == DMCP_OK) {
        st = copy_into(&v->resource, cfg->mcp_server_url, err);
    }
    if (st != DMCP_OK) {
        goto fail;
    }

    ko.http.connect_timeout_ms = cfg->connect_ms;
    ko.http.total_timeout_ms = cfg->total_ms;
    ko.http.ca_file = cfg->ca_file;
    ko.default_ttl = cfg->default_ttl;
    ko.min_ttl = cfg->min_ttl;
    ko.max_ttl = cfg->max_ttl;
    ko.cooldown = cfg->cooldown;
    ko.stale_limit = cfg->stale_limit;
    ko.clock = cfg->clock != NULL ? cfg->clock : default_clock;
    ko.clock_ud = cfg->clock_ud;

    /* Key source: static set, explicit JWKS URL, or discovery. */
    if (is_static) {
        st = load_static(cfg, &ko.static_jwks, err);
        if (st != DMCP_OK) {
            goto fail;
        }
    } else if (cfg->well_known_url != NULL) {
        st = discover(v, &wk, &ko.http, &jwks_uri, err);
        if (st == DMCP_E_CONFIG || st == DMCP_E_NOMEM) {
            goto fail;
        }
        if (cfg->jwks_url != NULL) {
            st = copy_into(&v->jwks_url, cfg->jwks_url, err);
        } else if (st == DMCP_OK) {
            v->jwks_url = jwks_uri;
            jwks_uri = NULL;
        } else if (v->project_id != NULL) {
            /* wire protocol §2: Descope's key set lives at {origin}/{pid}/.well-known/... */
            size_t n = strlen(v->origin) + strlen(v->project_id) + 32;
            v->jwks_url = malloc(n);
            if (v->jwks_url == NULL) {
                st = nomem(err);
                goto fail;
            }
            snprintf(v->jwks_url, n, "%s/%s/.well-known/jwks.json", v->origin, v->project_id);
            st = DMCP_OK;
        } else {
            st = dmcp__fail(err, DMCP_E_KEY_SOURCE_UNAVAILABLE, DMCP_REASON_NONE,
                            "discovery failed and no JWKS URL is configured");
            goto fail;
        }
        if (st != DMCP_OK) {
            goto fail;
        }
    } else if (cfg->jwks_url != NULL) {
        st = copy_into(&v->jwks_url, cfg->jwks_url, err);
        if (st != DMCP_OK) {
            goto fail;
        }
    } else {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "a key source is required (well-known URL, JWKS URL or key set)");
        goto fail;
    }
    ko.jwks_url = v->jwks_url;

    /* Issuer rules (wire protocol §4.1). */
    for (size_t i = 0; i < cfg->n_issuers; i++) {
        st = copy_into(&v->extra_issuers[i], cfg->issuers[i], err);
        if (st != DMCP_OK) {
            goto fail;
        }
        v->n_extra_issuers++;
    }
    v->issuer_rules.primary = v->issuer;
    v->issuer_rules.extra = v->extra_issuers;
    v->issuer_rules.n_extra = v->n_extra_issuers;
    v->issuer_rules.origin = v->project_id != NULL ? v->origin : NULL;
    v->issuer_rules.project_id = v->project_id;
    v->issuer_rules.legacy = cfg->accept_legacy_issuer;

    /* Audiences: the MCP server URL and extras; with none, Descope's project id; a generic
     * issuer without any audience is refused unless the check was switched off. */
    if (cfg->mcp_server_url != NULL) {
        st = copy_into(&v->audiences[v->n_audiences], cfg->mcp_server_url, err);
        if (st != DMCP_OK) {
            goto fail;
        }
        v->n_audiences++;
    }
    for (size_t i = 0; i < cfg->n_audiences; i++) {
        st = copy_into(&v->audiences[v->n_audiences], cfg->audiences[i], err);
        if (st != DMCP_OK) {
            goto fail;
        }
        v->n_audiences++;
    }
    bool check_aud = !cfg->audience_check_disabled;
    if (check_aud && v->n_audiences == 0) {
        if (v->project_id == NULL) {
            st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                            "no audience configured for a generic issuer (set the MCP server "
                            "URL or disable the audience check)");
            goto fail;
        }
        st = copy_into(&v->audiences[v->n_audiences], v->project_id, err);
        if (st != DMCP_OK) {
            goto fail;
        }
        v->n_audiences++;
    }
    v->claims_policy.leeway = cfg->leeway;
    v->claims_policy.issuers = &v->issuer_rules;
    v->claims_policy.check_audience = check_aud;
    v->claims_policy.audiences = v->audiences;
    v->claims_policy.n_audiences = v->n_audiences;

    v->alg_mask = cfg->alg_mask;
    v->require_at_jwt = cfg->require_at_jwt;
    v->max_token_bytes = cfg->max_token_bytes;
    v->clock = cfg->clock != NULL ? cfg->clock : default_clock;
    v->clock_ud = cfg->clock_ud;
    v->implies = cfg->implies;
    v->implies_ud = cfg->implies_ud;
    v->challenge_scope = cfg->challenge_scope;

    bool cache_nomem = false;
    v->cache = dmcp__tcache_new(cfg->token_cache_size, &cache_nomem);
    if (cache_nomem) {
        st = nomem(err);
        goto fail;
    }
    st = dmcp__keysource_new(&ko, &v->keys, err);
    if (st != DMCP_OK) {
        goto fail;
    }
    /* Keys now; failing to reach the source is not fatal (validation reports
     * KEY_SOURCE_UNAVAILABLE until keys arrive). */
    (void)dmcp__keysource_prime(v->keys, v->clock(v->clock_ud), NULL);

    dmcp__wellknown_free(&wk);
    *out = v;
    dmcp_error_clear(err);
    return DMCP_OK;
fail:
    dmcp__jwks_free(ko.static_jwks);
    free(jwks_uri);
    dmcp__wellknown_free(&wk);
    dmcp_validator_free(v);
    return st;
}

void dmcp_validator_free(dmcp_validator *v)
{
    if (v == NULL) {
        return;
    }
    dmcp__tcache_free(v->cache);
    dmcp__keysource_free(v->keys);
    free(v->issuer);
    free(v->origin);
    free(v->project_id);
    free(v->resource);
    free(v->jwks_url);
    json_decref(v->scopes_supported);
    for (size_t i = 0; i < v->n_extra_issuers; i++) {
        free(v->extra_issuers[i]);
    }
    for (size_t i = 0; i < v->n_audiences; i++) {
        free(v->audiences[i]);
    }
    free(v);
}

/*
 * May this token, whose kid the current keys lack, ask for a refetch? Only when its claims
 * already check out: iss, aud, exp and nbf are readable without the signature, so forged
 * garbage (another issuer, another audience, expired) cannot spend the refetch cooldown. The
 * payload is parsed here before the signature verified, with the same strict, bounded parser;
 * nothing read here is ever trusted or returned: the token is refused either way.
 */
static bool may_refetch(const dmcp_validator *v, const dmcp__jws_parts *parts, int64_t now)
{
    dmcp__jl_doc doc;
    memset(&doc, 0, sizeof(doc));
    if (dmcp__jl_parse(parts->payload, parts->payload_len, &doc) != DMCP__JL_OK) {
        dmcp__jl_free(&doc);
        return false;
    }
    dmcp__claims c;
    bool ok = dmcp__claims_check(&v->claims_policy, &doc, now, &c, NULL) == DMCP_OK;
    dmcp__jl_free(&doc);
    return ok;
}

/* Key selection (wire protocol §3). An unknown kid never waits for a fetch: it may use a set
 * installed since our snapshot, and may ask the refresher for one (see may_refetch). On
 * DMCP_OK, *set holds the key's snapshot (release it after verifying). */
static dmcp_status select_key(dmcp_validator *v, const dmcp__jws_header *h,
                              const dmcp__jws_parts *parts, int64_t now, dmcp__keyset **set,
                              const dmcp__jwk **key, dmcp_error *err)
{
    *key = NULL;
    dmcp_status st = dmcp__keysource_acquire(v->keys, now, set, err);
    if (st != DMCP_OK) {
        return st;
    }
    dmcp_reason why = DMCP_REASON_UNKNOWN_KEY;
    *key = dmcp__jwks_select((*set)->jwks, h->kid, h->kid_len, h->alg, &why);
    if (*key == NULL && why == DMCP_REASON_UNKNOWN_KEY) {
        dmcp__keyset *newer = NULL;
        dmcp__keysource_unknown_kid(v->keys, now, *set, may_refetch(v, parts, now), &newer);
        if (newer != NULL) {
            dmcp__keyset_release(*set);
            *set = newer;
            *key = dmcp__jwks_select(newer->jwks, h->kid, h->kid_len, h->alg, &why);
        }
    }
    if (*key == NULL) {
        dmcp__keyset_release(*set);
        *set = NULL;
        return dmcp__fail(err, DMCP_E_INVALID_TOKEN, why,
                          why == DMCP_REASON_ALGORITHM ? "algorithm does not match the key"
                                                       : "no key for this token");
    }
    return DMCP_OK;
}

/*
 * A verified-token cache hit is served only while the key set that verified it is still the
 * current, usable one: the entry records the set's generation, and a hit must match the current
 * generation (and acquire refuses, as for any token, once the keys pass the stale limit). After
 * a refresh the token is verified again in full against the new set, so a withdrawn (or
 * replaced) key stops being accepted at the first refresh that drops it. Returns true with *out
 * set on a hit; false to validate in full, or with *st set when no keys are usable.
 */
static bool cache_hit(dmcp_validator *v, const unsigned char *digest, int64_t now, dmcp_token **out,
                      dmcp_status *st, dmcp_error *err)
{
    uint64_t gen = 0;
    dmcp_token *hit = dmcp__tcache_get(v->cache, digest, now, &gen);
    if (hit == NULL) {
        return false;
    }
    dmcp__keyset *cur = NULL;
    *st = dmcp__keysource_acquire(v->keys, now, &cur, err);
    bool same = *st == DMCP_OK && cur->gen == gen;
    dmcp__keyset_release(cur);
    if (!same) {
        dmcp_token_free(hit);
        return false;
    }
    *out = hit;
    return true;
}

static dmcp_status validate(dmcp_validator *v, const char *token, size_t len, dmcp_token **out,
                            dmcp_error *err);

dmcp_status dmcp_validator_validate(dmcp_validator *v, const char *token, size_t len,
                                    dmcp_token **out, dmcp_error *err)
{
    dmcp_error local;
    dmcp_error *e = err != NULL ? err : &local;
    dmcp_status st = validate(v, token, len, out, e);
    dmcp__metrics_token_validation_status(st, st == DMCP_OK ? DMCP_REASON_NONE : e->reason);
    return st;
}

static dmcp_status validate(dmcp_validator *v, const char *token, size_t len, dmcp_token **out,
                            dmcp_error *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (v == NULL || token == NULL || out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "missing argument");
    }
    /* The size cap comes before any other work (RFC 8725 §3.x: bound the parser). */
    if (len > v->max_token_bytes) {
        return dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_TOO_LARGE,
                          "token larger than %zu bytes", v->max_token_bytes);
    }
    int64_t now = v->clock(v->clock_ud);
    unsigned char digest[DMCP__DIGEST_LEN];
    bool cacheable = false;
    if (v->cache != NULL && dmcp__tcache_digest(token, len, digest) == DMCP_OK) {
        cacheable = true;
        dmcp_status cst = DMCP_OK;
        bool hit = cache_hit(v, digest, now, out, &cst, err);
        dmcp__metrics_token_cache(hit);
        if (hit) {
            dmcp_error_clear(err);
            return DMCP_OK;
        }
        if (cst != DMCP_OK) {
            return cst; /* no usable keys: the same answer as for an uncached token */
        }
    }

    dmcp__jws_parts parts;
    dmcp_status st = dmcp__jws_split(token, len, &parts, err);
    if (st != DMCP_OK) {
        return st;
    }
    dmcp__jl_doc hdoc, pdoc;
    memset(&pdoc, 0, sizeof(pdoc));
    dmcp__jws_header h;
    dmcp__keyset *set = NULL;
    const dmcp__jwk *key = NULL;
    dmcp__claims c;
    dmcp_token *t = NULL;

    st = dmcp__header_check(parts.header, parts.header_len, v->alg_mask, v->require_at_jwt, &hdoc,
                            &h, err);
    if (st != DMCP_OK) {
        goto out_parts;
    }
    st = select_key(v, &h, &parts, now, &set, &key, err);
    dmcp__jl_free(&hdoc); /* kid no longer needed */
    if (st != DMCP_OK) {
        goto out_parts;
    }
    st = dmcp__sig_verify(key, h.alg, (const unsigned char *)parts.signing_input,
                          parts.signing_input_len, parts.sig, parts.sig_len);
    uint64_t gen = set->gen;
    dmcp__keyset_release(set);
    if (st != DMCP_OK) {
        st = dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_SIGNATURE,
                        "signature did not verify");
        goto out_parts;
    }
    /* Only authenticated bytes reach the claims parser. */
    dmcp__jl_error je = dmcp__jl_parse(parts.payload, parts.payload_len, &pdoc);
    if (je == DMCP__JL_ENOMEM) {
        st = nomem(err);
        goto out_parts;
    }
    if (je != DMCP__JL_OK) {
        st = dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_MALFORMED,
                        je == DMCP__JL_EDUP ? "duplicate claim in the payload"
                                            : "the payload is not a JSON object");
        goto out_parts;
    }
    st = dmcp__claims_check(&v->claims_policy, &pdoc, now, &c, err);
    if (st != DMCP_OK) {
        dmcp__jl_free(&pdoc);
        goto out_parts;
    }
    st = dmcp__token_build(token, len, parts.payload, parts.payload_len, &pdoc, &c, &t, err);
    if (st != DMCP_OK) {
        goto out_parts;
    }
    if (cacheable) {
        dmcp__tcache_put(v->cache, digest, t, gen);
    }
    *out = t;
    dmcp_error_clear(err);
out_parts:
    dmcp__jws_parts_clear(&parts);
    return st;
}

dmcp_status dmcp_validator_validate_user_id(dmcp_validator *v, const char *token, size_t len,
                                            char **user_id, dmcp_error *err)
{
    if (user_id != NULL) {
        *user_id = NULL;
    }
    if (user_id == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "missing argument");
    }
    dmcp_token *t = NULL;
    dmcp_status st = dmcp_validator_validate(v, token, len, &t, err);
    if (st != DMCP_OK) {
        return st;
    }
    const char *uid = dmcp_token_user_id(t);
    if (uid == NULL) {
        st = dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM,
                        "the token names no user (no dsub or sub)");
    } else {
        *user_id = dmcp__strdup(uid);
        if (*user_id == NULL) {
            st = nomem(err);
        }
    }
    dmcp_token_free(t);
    return st;
}

const char *dmcp_validator_issuer(const dmcp_validator *v)
{
    return v != NULL ? v->issuer : NULL;
}

const char *dmcp_validator_project_id(const dmcp_validator *v)
{
    return v != NULL ? v->project_id : NULL;
}

const char *dmcp_validator_resource(const dmcp_validator *v)
{
    return v != NULL ? v->resource : NULL;
}

const json_t *dmcp_validator_scopes_supported(const dmcp_validator *v)
{
    return v != NULL ? v->scopes_supported : NULL;
}

const char *dmcp_validator_origin(const dmcp_validator *v)
{
    return v != NULL ? v->origin : NULL;
}

void dmcp__validator_implies(const dmcp_validator *v, dmcp_scope_implies_fn *fn, void **userdata)
{
    *fn = v != NULL ? v->implies : NULL;
    *userdata = v != NULL ? v->implies_ud : NULL;
}

dmcp_challenge_scope dmcp__validator_challenge_scope(const dmcp_validator *v)
{
    return v != NULL ? v->challenge_scope : DMCP_CHALLENGE_SCOPE_COMBINED;
}

void dmcp_validator_health(dmcp_validator *v, dmcp_validator_health_info *out)
{
    if (out == NULL) {
        return;
    }
    memset(out, 0, sizeof(*out));
    if (v == NULL || v->keys == NULL) {
        return;
    }
    dmcp__key_status ks;
    dmcp__keysource_status(v->keys, v->clock(v->clock_ud), &ks);
    out->keys_loaded = ks.loaded;
    out->keys_fresh = ks.fresh;
    out->keys_usable = ks.usable;
    out->last_fetch_failed = ks.last_fetch_failed;
    out->keys = ks.keys;
    out->key_age_seconds = ks.age;
    out->fetches = ks.fetches;
}
