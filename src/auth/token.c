/* The validated token: immutable, reference-counted, read from any thread. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/validator_int.h"
#include "jsoncompact.h"

static const char *mstr(const dmcp__jl_member *m)
{
    return m != NULL ? m->str.s : NULL;
}

/* Splits a space-separated scope string (RFC 6749 §3.3) into the token's own copy. */
static dmcp_status split_scope(dmcp_token *t, const dmcp__jl_str *s, dmcp_error *err)
{
    size_t n = 0;
    bool in = false;
    for (size_t i = 0; i < s->len; i++) {
        bool sp = s->s[i] == ' ';
        if (!sp && !in) {
            n++;
        }
        in = !sp;
    }
    if (n > DMCP_MAX_SCOPES) {
        return dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM, "too many scopes");
    }
    if (n == 0) {
        return DMCP_OK;
    }
    t->scope_buf = malloc(s->len + 1);
    t->scopes = malloc(n * sizeof(*t->scopes));
    if (t->scope_buf == NULL || t->scopes == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    memcpy(t->scope_buf, s->s, s->len + 1);
    in = false;
    for (size_t i = 0; i < s->len; i++) {
        if (t->scope_buf[i] == ' ') {
            t->scope_buf[i] = '\0';
            in = false;
        } else if (!in) {
            t->scopes[t->n_scopes++] = &t->scope_buf[i];
            in = true;
        }
    }
    return DMCP_OK;
}

dmcp_status dmcp__token_build(const char *raw, size_t raw_len, const unsigned char *payload,
                              size_t payload_len, dmcp__jl_doc *doc, const dmcp__claims *c,
                              dmcp_token **out, dmcp_error *err)
{
    *out = NULL;
    /* One allocation for the struct, the raw token and the payload. */
    dmcp_token *t = malloc(sizeof(*t) + raw_len + 1 + payload_len);
    if (t == NULL) {
        dmcp__jl_free(doc);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    memset(t, 0, sizeof(*t));
    atomic_init(&t->refs, 1);
    atomic_init(&t->claims, NULL);
    t->raw = (char *)(t + 1);
    memcpy(t->raw, raw, raw_len);
    t->raw[raw_len] = '\0';
    t->raw_len = raw_len;
    t->payload = (unsigned char *)t->raw + raw_len + 1;
    memcpy(t->payload, payload, payload_len);
    t->payload_len = payload_len;
    t->doc = *doc;
    memset(doc, 0, sizeof(*doc));

    t->sub = mstr(c->sub);
    t->user_id = c->dsub != NULL ? mstr(c->dsub) : t->sub;
    t->iss = mstr(c->iss);
    t->client_id = c->azp != NULL ? mstr(c->azp) : mstr(c->client_id);
    t->tenant = mstr(c->tenant);
    t->exp = c->exp;
    t->reject_at = c->reject_at;
    t->valid_from = c->valid_from;

    dmcp_status st = DMCP_OK;
    if (c->scope != NULL) {
        st = split_scope(t, &c->scope->str, err);
    } else if (c->scopes != NULL) {
        size_t n = 0;
        for (size_t i = 0; i < c->scopes->n_items; i++) {
            n += t->doc.strs[c->scopes->first_str + i].len > 0;
        }
        if (n > DMCP_MAX_SCOPES) {
            st = dmcp__fail(err, DMCP_E_INVALID_TOKEN, DMCP_REASON_CLAIM, "too many scopes");
        } else if (n > 0) {
            t->scopes = malloc(n * sizeof(*t->scopes));
            if (t->scopes == NULL) {
                st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
            } else {
                for (size_t i = 0; i < c->scopes->n_items; i++) {
                    const dmcp__jl_str *s = &t->doc.strs[c->scopes->first_str + i];
                    if (s->len > 0) {
                        t->scopes[t->n_scopes++] = s->s;
                    }
                }
            }
        }
    }
    if (st != DMCP_OK) {
        dmcp_token_free(t);
        return st;
    }
    *out = t;
    return DMCP_OK;
}

dmcp_token *dmcp_token_ref(dmcp_token *t)
{
    if (t != NULL) {
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    }
    return t;
}

void dmcp_token_free(dmcp_token *t)
{
    if (t == NULL) {
        return;
    }
    /* Release on the decrement, acquire before freeing: every other holder's reads happen
     * before the memory goes away. */
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    json_t *claims = atomic_load_explicit(&t->claims, memory_order_acquire);
    json_decref(claims);
    free(t->scopes);
    free(t->scope_buf);
    dmcp__jl_free(&t->doc);
    OPENSSL_cleanse(t->raw, t->raw_len);
    free(t);
}

const json_t *dmcp_token_claims(const dmcp_token *ct)
{
    if (ct == NULL) {
        return NULL;
    }
    /* The cached json_t is the one mutable part of a token: built once, published with a
     * compare-and-swap; a thread that loses the race drops its copy. */
    dmcp_token *t = (dmcp_token *)(uintptr_t)ct;
    json_t *j = atomic_load_explicit(&t->claims, memory_order_acquire);
    if (j != NULL) {
        return j;
    }
    /* The payload is one the validator already accepted with this grammar, so failing here
     * means out of memory, and then NULL. Not json_loadb(): when one of its buffer
     * reallocations fails it drops the byte and carries on, returning a claims object with
     * a string silently shortened (seen under allocation-failure injection, jansson 2.14). */
    json_t *fresh = NULL;
    if (dmcp__jl_load(t->payload, t->payload_len, &fresh) != DMCP__JL_OK ||
        !json_is_object(fresh)) {
        json_decref(fresh);
        return NULL;
    }
    json_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&t->claims, &expected, fresh, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        json_decref(fresh);
        return expected;
    }
    return fresh;
}

const char *dmcp_token_user_id(const dmcp_token *t)
{
    return t != NULL ? t->user_id : NULL;
}

const char *dmcp_token_subject(const dmcp_token *t)
{
    return t != NULL ? t->sub : NULL;
}

const char *dmcp_token_issuer(const dmcp_token *t)
{
    return t != NULL ? t->iss : NULL;
}

const char *dmcp_token_client_id(const dmcp_token *t)
{
    return t != NULL ? t->client_id : NULL;
}

const char *dmcp_token_tenant(const dmcp_token *t)
{
    return t != NULL ? t->tenant : NULL;
}

int64_t dmcp_token_expiry(const dmcp_token *t)
{
    return t != NULL ? t->exp : 0;
}

const char *const *dmcp_token_scopes(const dmcp_token *t, size_t *count)
{
    if (t == NULL) {
        if (count != NULL) {
            *count = 0;
        }
        return NULL;
    }
    if (count != NULL) {
        *count = t->n_scopes;
    }
    return (const char *const *)t->scopes;
}

bool dmcp_token_has_scope(const dmcp_token *t, const char *scope)
{
    if (t == NULL || scope == NULL) {
        return false;
    }
    for (size_t i = 0; i < t->n_scopes; i++) {
        if (strcmp(t->scopes[i], scope) == 0) {
            return true;
        }
    }
    return false;
}

const char *dmcp_token_raw(const dmcp_token *t, size_t *len)
{
    if (t == NULL) {
        if (len != NULL) {
            *len = 0;
        }
        return NULL;
    }
    if (len != NULL) {
        *len = t->raw_len;
    }
    return t->raw;
}

char *dmcp_token_claims_json(const dmcp_token *t, size_t *len)
{
    if (len != NULL) {
        *len = 0;
    }
    if (t == NULL) {
        return NULL;
    }
    dmcp__buf b;
    dmcp__buf_init(&b, 4 * t->payload_len + 4096);
    if (dmcp__json_compact(t->payload, t->payload_len, &b)) {
        if (b.len == 0) {
            dmcp__buf_free(&b);
            return NULL;
        }
        return dmcp__buf_take(&b, len);
    }
    dmcp__buf_free(&b);
    /* What the one-pass writer leaves to jansson (or out of memory): the object's own dump. */
    const json_t *claims = dmcp_token_claims(t);
    char *s = claims != NULL ? json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s != NULL && len != NULL) {
        *len = strlen(s);
    }
    return s;
}
