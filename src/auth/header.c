/* JWS protected-header policy (RFC 7515 §4, RFC 8725 §3) and the layered JWS check. */
#include <string.h>

#include "auth/validator_int.h"

static dmcp_status hdr_fail(dmcp_error *err, dmcp_reason reason, const char *msg)
{
    return dmcp__fail(err, DMCP_E_INVALID_TOKEN, reason, "%s", msg);
}

/*
 * typ (RFC 7515 §4.1.9): media type names are case-insensitive and "application/" may be
 * omitted, so "JWT", "jwt", "application/jwt" are the same type. We therefore compare
 * case-insensitively and accept the "application/" prefix; RFC 9068 §2.1 names "at+jwt".
 */
static bool typ_is(const dmcp__jl_str *typ, const char *want)
{
    const char *s = typ->s;
    size_t n = typ->len;
    if (n > 12 && dmcp__ascii_ncasecmp(s, "application/", 12) == 0) {
        s += 12;
        n -= 12;
    }
    return n == strlen(want) && dmcp__ascii_ncasecmp(s, want, n) == 0;
}

dmcp_status dmcp__header_check(const unsigned char *hdr, size_t len, uint32_t alg_mask,
                               bool require_at_jwt, dmcp__jl_doc *doc, dmcp__jws_header *out,
                               dmcp_error *err)
{
    dmcp__jl_error je = dmcp__jl_parse(hdr, len, doc);
    if (je == DMCP__JL_ENOMEM) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    if (je != DMCP__JL_OK) {
        return hdr_fail(err, DMCP_REASON_MALFORMED,
                        je == DMCP__JL_EDUP ? "duplicate member in the JWS header"
                                            : "the JWS header is not a JSON object");
    }
    dmcp_status st = DMCP_OK;
    memset(out, 0, sizeof(*out));

    const dmcp__jl_member *alg = dmcp__jl_get(doc, "alg");
    if (alg == NULL || alg->type != DMCP__JL_STRING) {
        st = hdr_fail(err, DMCP_REASON_ALGORITHM, "the JWS header has no alg");
        goto out;
    }
    /* Exact, case-sensitive names (RFC 7515 §4.1.1): "none", "None", "HS256" all map to
     * UNKNOWN here and can never be in the mask. */
    out->alg = dmcp__alg_from_name(alg->str.s, alg->str.len);
    if (out->alg == DMCP__ALG_UNKNOWN || (alg_mask & DMCP__ALG_BIT(out->alg)) == 0) {
        st = hdr_fail(err, DMCP_REASON_ALGORITHM, "algorithm not allowed");
        goto out;
    }
    /* RFC 7515 §4.1.11: we understand no extension, so any crit is a reason to refuse. */
    if (dmcp__jl_get(doc, "crit") != NULL) {
        st = hdr_fail(err, DMCP_REASON_HEADER, "crit header parameter not supported");
        goto out;
    }
    /* RFC 7797: b64 changes what is signed; refused whatever its value. */
    if (dmcp__jl_get(doc, "b64") != NULL) {
        st = hdr_fail(err, DMCP_REASON_HEADER, "b64 header parameter not supported");
        goto out;
    }
    /* zip is a JWE parameter (RFC 7516 §4.1.3); compressed payloads are refused. */
    if (dmcp__jl_get(doc, "zip") != NULL) {
        st = hdr_fail(err, DMCP_REASON_HEADER, "zip header parameter not supported");
        goto out;
    }
    const dmcp__jl_member *typ = dmcp__jl_get(doc, "typ");
    if (typ != NULL) {
        if (typ->type != DMCP__JL_STRING) {
            st = hdr_fail(err, DMCP_REASON_HEADER, "typ is not a string");
            goto out;
        }
        bool at = typ_is(&typ->str, "at+jwt");
        if (!at && (require_at_jwt || !typ_is(&typ->str, "JWT"))) {
            st = hdr_fail(err, DMCP_REASON_HEADER, "token type not accepted");
            goto out;
        }
    } else if (require_at_jwt) {
        st = hdr_fail(err, DMCP_REASON_HEADER, "token type at+jwt required");
        goto out;
    }
    /* Nested JWTs (RFC 7519 §5.2 cty "JWT") are not access tokens we understand. */
    const dmcp__jl_member *cty = dmcp__jl_get(doc, "cty");
    if (cty != NULL && (cty->type != DMCP__JL_STRING || typ_is(&cty->str, "JWT"))) {
        st = hdr_fail(err, DMCP_REASON_HEADER, "nested JWT not supported");
        goto out;
    }
    const dmcp__jl_member *kid = dmcp__jl_get(doc, "kid");
    if (kid != NULL) {
        if (kid->type != DMCP__JL_STRING) {
            st = hdr_fail(err, DMCP_REASON_HEADER, "kid is not a string");
            goto out;
        }
        out->kid = kid->str.s;
        out->kid_len = kid->str.len;
    }
    /* jku, x5u, jwk, x5c (RFC 7515 §4.1.2-6) are deliberately never read: keys come only
     * from the configured key source (RFC 8725 §3.10). */
out:
    if (st != DMCP_OK) {
        dmcp__jl_free(doc);
    }
    return st;
}

dmcp_status dmcp__jws_verify_compact(const char *token, size_t len, const dmcp__jwks *ks,
                                     uint32_t alg_mask, bool require_at_jwt, dmcp__jws_parts *parts,
                                     dmcp_error *err)
{
    dmcp_status st = dmcp__jws_split(token, len, parts, err);
    if (st != DMCP_OK) {
        return st;
    }
    dmcp__jl_doc hdoc;
    dmcp__jws_header h;
    st = dmcp__header_check(parts->header, parts->header_len, alg_mask, require_at_jwt, &hdoc, &h,
                            err);
    if (st != DMCP_OK) {
        dmcp__jws_parts_clear(parts);
        return st;
    }
    dmcp_reason why = DMCP_REASON_UNKNOWN_KEY;
    const dmcp__jwk *key = dmcp__jwks_select(ks, h.kid, h.kid_len, h.alg, &why);
    if (key == NULL) {
        st = dmcp__fail(err, DMCP_E_INVALID_TOKEN, why, "no key for this token");
    } else if (dmcp__sig_verify(key, h.alg, (const unsigned char *)parts->signing_input,
                                parts->signing_input_len, parts->sig, parts->sig_len) != DMCP_OK) {
        st = dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_SIGNATURE,
                        "signature did not verify");
    }
    dmcp__jl_free(&hdoc);
    if (st != DMCP_OK) {
        dmcp__jws_parts_clear(parts);
    }
    return st;
}
