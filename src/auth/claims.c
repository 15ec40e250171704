/* JWT claim rules (RFC 7519 §4.1, RFC 9068 §4, descope-wire-protocol.md §4). */
#include <math.h>
#include <string.h>

#include "auth/validator_int.h"

static dmcp_status claim_fail(dmcp_error *err, dmcp_reason reason, const char *msg)
{
    return dmcp__fail(err, DMCP_E_INVALID_TOKEN, reason, "%s", msg);
}

static bool str_eq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    return alen == blen && memcmp(a, b, alen) == 0;
}

static bool has_prefix(const char *s, size_t len, const char *pre, size_t plen)
{
    return len >= plen && memcmp(s, pre, plen) == 0;
}

/* One non-empty path segment: no '/', at least one byte. */
static bool one_segment(const char *s, size_t len)
{
    return len > 0 && memchr(s, '/', len) == NULL;
}

bool dmcp__issuer_accepted(const dmcp__issuer_rules *r, const char *iss, size_t len)
{
    /* Exact byte comparison everywhere: no case folding, no trailing-slash normalisation
     * (wire protocol §4.1). */
    if (r->primary != NULL && str_eq(iss, len, r->primary)) {
        return true;
    }
    for (size_t i = 0; i < r->n_extra; i++) {
        if (str_eq(iss, len, r->extra[i])) {
            return true;
        }
    }
    if (r->origin == NULL || r->project_id == NULL) {
        return false;
    }
    size_t olen = strlen(r->origin), plen = strlen(r->project_id);
    if (r->legacy && str_eq(iss, len, r->project_id)) {
        return true; /* legacy "<pid>" */
    }
    if (!has_prefix(iss, len, r->origin, olen)) {
        return false;
    }
    const char *p = iss + olen;
    size_t n = len - olen;
    /* legacy "<origin>/<pid>" */
    if (r->legacy && n == plen + 1 && p[0] == '/' && memcmp(p + 1, r->project_id, plen) == 0) {
        return true;
    }
    static const char agentic[] = "/v1/apps/agentic/";
    static const char apps[] = "/v1/apps/";
    if (has_prefix(p, n, agentic, sizeof(agentic) - 1)) {
        /* form 1: /v1/apps/agentic/<pid>/<serverId> */
        p += sizeof(agentic) - 1;
        n -= sizeof(agentic) - 1;
        return n > plen + 1 && memcmp(p, r->project_id, plen) == 0 && p[plen] == '/' &&
               one_segment(p + plen + 1, n - plen - 1);
    }
    if (has_prefix(p, n, apps, sizeof(apps) - 1)) {
        p += sizeof(apps) - 1;
        n -= sizeof(apps) - 1;
        if (n < plen || memcmp(p, r->project_id, plen) != 0) {
            return false;
        }
        if (n == plen) {
            return true; /* form 2: /v1/apps/<pid> */
        }
        /* form 3: /v1/apps/<pid>/<tenantId> */
        return p[plen] == '/' && one_segment(p + plen + 1, n - plen - 1);
    }
    return false;
}

static bool is_number(const dmcp__jl_member *m)
{
    return m->type == DMCP__JL_INT || m->type == DMCP__JL_REAL;
}

/* ceil() of a NumericDate, saturated to int64. */
static int64_t ceil_sat(const dmcp__jl_member *m)
{
    if (m->type == DMCP__JL_INT) {
        return m->i;
    }
    double c = ceil(m->d);
    if (c >= 9.2e18) {
        return INT64_MAX;
    }
    if (c <= -9.2e18) {
        return INT64_MIN;
    }
    return (int64_t)c;
}

static int64_t floor_sat(const dmcp__jl_member *m)
{
    if (m->type == DMCP__JL_INT) {
        return m->i;
    }
    double f = floor(m->d);
    if (f >= 9.2e18) {
        return INT64_MAX;
    }
    if (f <= -9.2e18) {
        return INT64_MIN;
    }
    return (int64_t)f;
}

static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }
    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }
    return a + b;
}

/* A claim that, when present, must be a string. */
static bool opt_string(const dmcp__jl_doc *doc, const char *name, const dmcp__jl_member **out)
{
    const dmcp__jl_member *m = dmcp__jl_get(doc, name);
    *out = NULL;
    if (m == NULL || m->type == DMCP__JL_NULL) {
        return true;
    }
    if (m->type != DMCP__JL_STRING) {
        return false;
    }
    *out = m;
    return true;
}

static bool aud_matches(const dmcp__claims_policy *pol, const char *s, size_t len)
{
    for (size_t i = 0; i < pol->n_audiences; i++) {
        if (str_eq(s, len, pol->audiences[i])) {
            return true;
        }
    }
    return false;
}

dmcp_status dmcp__claims_check(const dmcp__claims_policy *pol, const dmcp__jl_doc *doc, int64_t now,
                               dmcp__claims *out, dmcp_error *err)
{
    memset(out, 0, sizeof(*out));
    int64_t leeway = (int64_t)pol->leeway;

    /* exp: required NumericDate (RFC 7519 §4.1.4, RFC 9068 §2.2). Refused when
     * exp <= now - leeway; with an integer clock this is now >= ceil(exp) + leeway. */
    const dmcp__jl_member *exp = dmcp__jl_get(doc, "exp");
    if (exp == NULL) {
        return claim_fail(err, DMCP_REASON_CLAIM, "exp claim missing");
    }
    if (!is_number(exp)) {
        return claim_fail(err, DMCP_REASON_CLAIM, "exp claim is not a number");
    }
    out->exp = floor_sat(exp);
    out->reject_at = add_sat(ceil_sat(exp), leeway);
    if (now >= out->reject_at) {
        return claim_fail(err, DMCP_REASON_EXPIRED, "token expired");
    }

    /* nbf and iat: refused when > now + leeway, i.e. now < ceil(v) - leeway. */
    out->valid_from = INT64_MIN;
    const dmcp__jl_member *nbf = dmcp__jl_get(doc, "nbf");
    if (nbf != NULL) {
        if (!is_number(nbf)) {
            return claim_fail(err, DMCP_REASON_CLAIM, "nbf claim is not a number");
        }
        int64_t from = add_sat(ceil_sat(nbf), -leeway);
        if (now < from) {
            return claim_fail(err, DMCP_REASON_NOT_YET_VALID, "token not yet valid");
        }
        out->valid_from = from;
    }
    const dmcp__jl_member *iat = dmcp__jl_get(doc, "iat");
    if (iat != NULL) {
        if (!is_number(iat)) {
            return claim_fail(err, DMCP_REASON_CLAIM, "iat claim is not a number");
        }
        int64_t from = add_sat(ceil_sat(iat), -leeway);
        if (now < from) {
            return claim_fail(err, DMCP_REASON_NOT_YET_VALID, "token issued in the future");
        }
        if (from > out->valid_from) {
            out->valid_from = from;
        }
    }

    /* iss (RFC 9068 §4: MUST match exactly). */
    const dmcp__jl_member *iss = dmcp__jl_get(doc, "iss");
    if (iss == NULL || iss->type != DMCP__JL_STRING) {
        return claim_fail(err, DMCP_REASON_CLAIM, "iss claim missing or not a string");
    }
    if (!dmcp__issuer_accepted(pol->issuers, iss->str.s, iss->str.len)) {
        return claim_fail(err, DMCP_REASON_ISSUER, "issuer not accepted");
    }
    out->iss = iss;

    /* aud (RFC 7519 §4.1.3, RFC 8707, MCP Authorization: audience binding). */
    const dmcp__jl_member *aud = dmcp__jl_get(doc, "aud");
    if (aud != NULL && aud->type != DMCP__JL_STRING &&
        !(aud->type == DMCP__JL_ARRAY && aud->all_strings)) {
        return claim_fail(err, DMCP_REASON_CLAIM, "aud claim is not a string or string array");
    }
    if (pol->check_audience) {
        bool ok = false;
        if (aud == NULL) {
            return claim_fail(err, DMCP_REASON_AUDIENCE, "aud claim missing");
        }
        if (aud->type == DMCP__JL_STRING) {
            ok = aud_matches(pol, aud->str.s, aud->str.len);
        } else {
            for (size_t i = 0; i < aud->n_items && !ok; i++) {
                const dmcp__jl_str *s = &doc->strs[aud->first_str + i];
                ok = aud_matches(pol, s->s, s->len);
            }
        }
        if (!ok) {
            return claim_fail(err, DMCP_REASON_AUDIENCE, "audience not accepted");
        }
    }

    /* Identity claims: when present they must be strings; a non-string dsub must not
     * silently fall back to sub. */
    if (!opt_string(doc, "sub", &out->sub) || !opt_string(doc, "dsub", &out->dsub) ||
        !opt_string(doc, "azp", &out->azp) || !opt_string(doc, "client_id", &out->client_id) ||
        !opt_string(doc, "scope", &out->scope)) {
        return claim_fail(err, DMCP_REASON_CLAIM, "identity or scope claim is not a string");
    }
    /* Tenant: Descope's dct (current tenant) first, then tenantId, then tenant; non-string
     * values of these are ignored (Descope's "tenants" object is a different claim). */
    static const char *const tenant_claims[] = {"dct", "tenantId", "tenant"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(tenant_claims) && out->tenant == NULL; i++) {
        const dmcp__jl_member *t = dmcp__jl_get(doc, tenant_claims[i]);
        if (t != NULL && t->type == DMCP__JL_STRING) {
            out->tenant = t;
        }
    }
    if (out->scope == NULL) {
        static const char *const arrays[] = {"scopes", "scp"};
        for (size_t i = 0; i < DMCP__ARRAY_LEN(arrays) && out->scopes == NULL && out->scope == NULL;
             i++) {
            const dmcp__jl_member *a = dmcp__jl_get(doc, arrays[i]);
            if (a == NULL || a->type == DMCP__JL_NULL) {
                continue;
            }
            if (a->type == DMCP__JL_STRING) {
                out->scope = a; /* some providers (Entra ID) send scp as a spaced string */
                break;
            }
            if (a->type != DMCP__JL_ARRAY || !a->all_strings) {
                return claim_fail(err, DMCP_REASON_CLAIM, "scopes claim is not a string array");
            }
            /* RFC 6749 §3.3: a scope token has no space; an element with one is not a
             * scope and would corrupt the space-joined challenge scope list. */
            for (size_t k = 0; k < a->n_items; k++) {
                const dmcp__jl_str *s = &doc->strs[a->first_str + k];
                if (memchr(s->s, ' ', s->len) != NULL) {
                    return claim_fail(err, DMCP_REASON_CLAIM, "scope element contains a space");
                }
            }
            out->scopes = a;
        }
    }
    return DMCP_OK;
}
