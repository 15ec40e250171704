/*
 * The principal of a verified token (mcp-resource-server.md §3 step 5, §6) and a small cache
 * of them.
 *
 * Why a cache: building a principal costs a JSON binding key, a copy of every claim string and
 * of the raw token (wiped on free) -- about a third of the glue's CPU per request once the
 * validator's verified-token cache makes validation itself cheap (bench/http/run.sh, issue 3).
 * The validator answers a repeated token with the same dmcp_token object, so the object's
 * address identifies "this exact verified token" as long as someone holds a reference to it:
 * each cached principal holds one (its principal_data), so the address cannot be reused by
 * another token while the entry exists. A hit additionally compares the raw token bytes, so
 * a principal is never shared between two different tokens even if a validator without a
 * cache handed out recycled addresses. The token is still validated on every request before
 * the cache is consulted (R4: expiry, signature keys), and scopes are still checked.
 *
 * Bounded: PCACHE_SLOTS entries, direct-mapped (a new token replaces the slot's old one).
 * Thread-safety: one mutex per slot, held only for a pointer compare and a reference count
 * increment; principals are immutable once shared.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "glue/glue_internal.h"
#include "internal.h"

#include "dmcp/protect.h"

#define PCACHE_SLOTS 64 /* a power of two; worst case 64 principals + 64 tokens alive */

/* Principal data: tagged so dmcp_protect_principal_token() never misreads foreign data. */
static const char PRINCIPAL_TAG[] = "dmcp-protect";

typedef struct principal_data {
    const char *tag;
    dmcp_token *token;
} principal_data;

static void principal_data_free(void *d)
{
    principal_data *pd = d;
    if (pd != NULL) {
        dmcp_token_free(pd->token);
        free(pd);
    }
}

const dmcp_token *dmcp_protect_principal_token(const dmcp_principal *p)
{
    const principal_data *pd = dmcp_principal_data(p);
    return pd != NULL && pd->tag == PRINCIPAL_TAG ? pd->token : NULL;
}

/* A claim that names someone: present and not empty. */
static const char *named(const char *s)
{
    return s != NULL && *s != '\0' ? s : NULL;
}

/*
 * Session binding key (§6): issuer, user id and client id as a JSON array, an unambiguous
 * encoding whatever the claims hold (a "\n"-joined string would let a subject containing
 * "\n" collide). The user id is the one handlers see (dsub when present, else sub), so two
 * users sharing a sub never share a session. Never the token: a refreshed token keeps its
 * session.
 *
 * A token naming neither a user nor a client identifies nobody: every such token would bind
 * to the same key, so it gets none (*key NULL) and the runtime opens no session for it.
 * Returns false only when out of memory.
 */
static bool binding_key(const dmcp_token *t, char **key)
{
    *key = NULL;
    const char *user = named(dmcp_token_user_id(t)), *client = named(dmcp_token_client_id(t));
    if (user == NULL && client == NULL) {
        return true;
    }
    json_t *a = json_pack("[s?s?s?]", dmcp_token_issuer(t), user, client);
    *key = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return *key != NULL;
}

static dmcp_status make_principal(const dmcp_token *t, const char *raw, size_t raw_len,
                                  dmcp_principal **out)
{
    char *key = NULL;
    dmcp_principal *pr = NULL;
    dmcp_status st = binding_key(t, &key) ? dmcp_principal_new(key, &pr) : DMCP_E_NOMEM;
    free(key);
    if (st == DMCP_OK && dmcp_token_user_id(t) != NULL) {
        st = dmcp_principal_set_user_id(pr, dmcp_token_user_id(t));
    }
    if (st == DMCP_OK && dmcp_token_client_id(t) != NULL) {
        st = dmcp_principal_set_client_id(pr, dmcp_token_client_id(t));
    }
    size_t n = 0;
    const char *const *scopes = dmcp_token_scopes(t, &n);
    for (size_t i = 0; st == DMCP_OK && i < n; i++) {
        st = dmcp_principal_add_scope(pr, scopes[i]);
    }
    if (st == DMCP_OK) {
        /* The token's claims are immutable; the principal only holds a reference. They are
         * built on first use from a payload the validator already parsed, so NULL means out
         * of memory: fail the request rather than hand handlers a principal without claims. */
        json_t *claims = (json_t *)dmcp_token_claims(t);
        st = claims != NULL ? dmcp_principal_set_claims(pr, claims) : DMCP_E_NOMEM;
    }
    if (st == DMCP_OK) {
        st = dmcp_principal_set_access_token(pr, raw, raw_len);
    }
    principal_data *pd = NULL;
    if (st == DMCP_OK) {
        pd = malloc(sizeof(*pd));
        st = pd != NULL ? DMCP_OK : DMCP_E_NOMEM;
    }
    if (st != DMCP_OK) {
        dmcp_principal_unref(pr);
        return st;
    }
    pd->tag = PRINCIPAL_TAG;
    pd->token = dmcp_token_ref((dmcp_token *)t);
    dmcp_principal_set_data(pr, pd, principal_data_free);
    *out = pr;
    return DMCP_OK;
}

typedef struct pslot {
    pthread_mutex_t mu;
    const dmcp_token *token;   /* the key: compared by address only, never dereferenced */
    dmcp_principal *principal; /* one reference; its data holds a reference to token */
} pslot;

struct dmcp__pcache {
    pslot slots[PCACHE_SLOTS];
};

dmcp__pcache *dmcp__pcache_new(void)
{
    dmcp__pcache *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < PCACHE_SLOTS; i++) {
        pthread_mutex_init(&c->slots[i].mu, NULL);
    }
    return c;
}

void dmcp__pcache_free(dmcp__pcache *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < PCACHE_SLOTS; i++) {
        dmcp_principal_unref(c->slots[i].principal);
        pthread_mutex_destroy(&c->slots[i].mu);
    }
    free(c);
}

size_t dmcp__pcache_count(dmcp__pcache *c)
{
    size_t n = 0;
    for (size_t i = 0; c != NULL && i < PCACHE_SLOTS; i++) {
        pthread_mutex_lock(&c->slots[i].mu);
        n += c->slots[i].principal != NULL;
        pthread_mutex_unlock(&c->slots[i].mu);
    }
    return n;
}

static pslot *slot_of(dmcp__pcache *c, const dmcp_token *t)
{
    /* Fibonacci hashing of the address: allocations are aligned, the low bits say little. */
    uint64_t h = (uint64_t)(uintptr_t)t * UINT64_C(0x9E3779B97F4A7C15);
    return &c->slots[(h >> 58) & (PCACHE_SLOTS - 1)];
}

dmcp_status dmcp__pcache_principal(dmcp__pcache *c, const dmcp_token *t, const char *raw,
                                   size_t raw_len, dmcp_principal **out)
{
    *out = NULL;
    if (c == NULL) {
        return make_principal(t, raw, raw_len, out);
    }
    pslot *s = slot_of(c, t);
    dmcp_principal *hit = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->token == t && s->principal != NULL) {
        hit = dmcp_principal_ref(s->principal);
    }
    pthread_mutex_unlock(&s->mu);
    if (hit != NULL) {
        /* Same token object; the same bytes too, or it is not this caller's principal.
         * Plain memcmp, not CRYPTO_memcmp: both sides are tokens that the validator already
         * mapped to this one verified token (equal SHA-256), so timing reveals nothing the
         * caller does not hold; a byte-wise constant-time compare of ~1 KiB cost 5k
         * instructions per request (callgrind). */
        size_t n = 0;
        const char *mine = dmcp_principal_access_token(hit, &n);
        if (mine != NULL && n == raw_len && memcmp(mine, raw, n) == 0) {
            *out = hit;
            return DMCP_OK;
        }
        dmcp_principal_unref(hit);
    }
    dmcp_principal *fresh = NULL;
    dmcp_status st = make_principal(t, raw, raw_len, &fresh);
    if (st != DMCP_OK) {
        return st;
    }
    pthread_mutex_lock(&s->mu);
    dmcp_principal *old = s->principal;
    s->principal = dmcp_principal_ref(fresh);
    s->token = t;
    pthread_mutex_unlock(&s->mu);
    dmcp_principal_unref(old); /* outside the lock: may wipe a token and free claims */
    *out = fresh;
    return DMCP_OK;
}
