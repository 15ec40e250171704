/* The verified-token cache: hit, miss, bound and eviction, expiry with a moved clock,
 * disabled cache, digest comparison. */
#include <stdatomic.h>
#include <string.h>

#include "../validator/vtest.h"

static dmcp_token *mk(int64_t reject_at, int64_t valid_from)
{
    /* A minimal token: enough for the cache (refs and window). */
    dmcp__jl_doc d;
    const char *j = "{\"sub\":\"x\"}";
    assert_int_equal(dmcp__jl_parse((const unsigned char *)j, strlen(j), &d), DMCP__JL_OK);
    dmcp__claims c;
    memset(&c, 0, sizeof(c));
    c.reject_at = reject_at;
    c.valid_from = valid_from;
    dmcp_token *t = NULL;
    assert_int_equal(
        dmcp__token_build("a.b.c", 5, (const unsigned char *)j, strlen(j), &d, &c, &t, NULL),
        DMCP_OK);
    return t;
}

static size_t refs(dmcp_token *t)
{
    return atomic_load(&t->refs);
}

static void digest_of(const char *s, unsigned char d[DMCP__DIGEST_LEN])
{
    assert_int_equal(dmcp__tcache_digest(s, strlen(s), d), DMCP_OK);
}

static void test_hit_miss_window(void **state)
{
    (void)state;
    uint64_t gen = 0;
    bool nomem;
    dmcp__tcache *c = dmcp__tcache_new(100, &nomem);
    assert_non_null(c);
    unsigned char d1[32], d2[32];
    digest_of("token-1", d1);
    digest_of("token-2", d2);
    assert_memory_not_equal(d1, d2, 32);
    dmcp_token *t = mk(1000, 500);
    dmcp__tcache_put(c, d1, t, 7);
    assert_int_equal(refs(t), 2);
    assert_null(dmcp__tcache_get(c, d2, 600, &gen)); /* miss */
    dmcp_token *h = dmcp__tcache_get(c, d1, 600, &gen);
    assert_ptr_equal(h, t);
    assert_int_equal(gen, 7); /* the key set generation recorded with the entry */
    assert_int_equal(refs(t), 3);
    dmcp_token_free(h);
    /* Window: served for valid_from <= now < reject_at only. */
    assert_null(dmcp__tcache_get(c, d1, 1000, &gen));
    assert_null(dmcp__tcache_get(c, d1, 5000, &gen));
    assert_null(dmcp__tcache_get(c, d1, 499, &gen)); /* clock moved back before nbf - leeway */
    h = dmcp__tcache_get(c, d1, 999, &gen);
    assert_ptr_equal(h, t);
    dmcp_token_free(h);
    h = dmcp__tcache_get(c, d1, 500, &gen);
    assert_ptr_equal(h, t);
    dmcp_token_free(h);
    /* A digest differing in its last byte only is a miss (full-digest compare). */
    unsigned char d3[32];
    memcpy(d3, d1, 32);
    d3[31] ^= 1;
    assert_null(dmcp__tcache_get(c, d3, 600, &gen));
    /* Re-putting the same digest replaces the entry. */
    dmcp_token *t2 = mk(2000, 0);
    dmcp__tcache_put(c, d1, t2, 9);
    assert_int_equal(refs(t), 1);
    assert_int_equal(dmcp__tcache_count(c), 1);
    h = dmcp__tcache_get(c, d1, 1500, &gen);
    assert_ptr_equal(h, t2);
    assert_int_equal(gen, 9);
    dmcp_token_free(h);
    dmcp_token_free(t);
    dmcp_token_free(t2);
    dmcp__tcache_free(c);
}

static void test_bound_and_eviction(void **state)
{
    (void)state;
    uint64_t gen = 0;
    bool nomem;
    /* 32 entries: 2 per shard. */
    dmcp__tcache *c = dmcp__tcache_new(32, &nomem);
    dmcp_token *toks[200];
    unsigned char ds[200][32];
    for (int i = 0; i < 200; i++) {
        char s[32];
        snprintf(s, sizeof(s), "tok-%d", i);
        digest_of(s, ds[i]);
        toks[i] = mk(1000, 0);
        dmcp__tcache_put(c, ds[i], toks[i], 7);
        assert_true(dmcp__tcache_count(c) <= 32);
    }
    assert_int_equal(dmcp__tcache_count(c), 32);
    /* Everything evicted dropped its reference; the survivors are the newest per shard. */
    size_t live = 0;
    for (int i = 0; i < 200; i++) {
        dmcp_token *h = dmcp__tcache_get(c, ds[i], 10, &gen);
        if (h != NULL) {
            live++;
            assert_int_equal(refs(toks[i]), 3);
            dmcp_token_free(h);
        } else {
            assert_int_equal(refs(toks[i]), 1);
        }
    }
    assert_int_equal(live, 32);
    /* The most recent insert is always present. */
    dmcp_token *h = dmcp__tcache_get(c, ds[199], 10, &gen);
    assert_ptr_equal(h, toks[199]);
    dmcp_token_free(h);
    dmcp__tcache_free(c);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(refs(toks[i]), 1); /* freeing the cache dropped every reference */
        dmcp_token_free(toks[i]);
    }
}

static void test_disabled(void **state)
{
    (void)state;
    uint64_t gen = 0;
    bool nomem = true;
    assert_null(dmcp__tcache_new(0, &nomem));
    assert_false(nomem);
    unsigned char d[32] = {0};
    assert_null(dmcp__tcache_get(NULL, d, 0, &gen));
    dmcp__tcache_put(NULL, d, NULL, 7);
    dmcp__tcache_free(NULL);

    /* Through the validator: with the cache off, the same token gives distinct objects. */
    char *jwks;
    dmcp_mint_key *k = vt_key("ES256", "k1", "ES256", &jwks);
    int64_t now = VT_NOW;
    dmcp_validator_config *cfg = vt_config(jwks, &now);
    assert_int_equal(dmcp_validator_config_set_token_cache_size(cfg, 0), DMCP_OK);
    dmcp_validator *v = vt_validator(cfg);
    char *p = vt_claims("");
    char *tok = dmcp_mint_sign_simple(k, "ES256", "k1", p);
    dmcp_token *a = NULL, *b = NULL;
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &a, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &b, NULL), DMCP_OK);
    assert_ptr_not_equal(a, b);
    dmcp_token_free(a);
    dmcp_token_free(b);
    dmcp_validator_free(v);

    /* With the cache on: expiry with a moved clock (exp = now + 600, leeway 5). */
    cfg = vt_config(jwks, &now);
    v = vt_validator(cfg);
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &a, NULL), DMCP_OK);
    now = VT_NOW + 604;
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &b, NULL), DMCP_OK);
    assert_ptr_equal(a, b);
    dmcp_token_free(b);
    now = VT_NOW + 605;
    VT_REJECT(v, tok, DMCP_REASON_EXPIRED);
    /* Clock moved back before iat - leeway (iat = now - 10): refused, not served. */
    now = VT_NOW - 16;
    VT_REJECT(v, tok, DMCP_REASON_NOT_YET_VALID);
    now = VT_NOW;
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &b, NULL), DMCP_OK);
    assert_ptr_equal(a, b);
    dmcp_token_free(a);
    dmcp_token_free(b);
    dmcp_validator_free(v);
    free(tok);
    free(p);
    free(jwks);
    dmcp_mint_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss_window),
        cmocka_unit_test(test_bound_and_eviction),
        cmocka_unit_test(test_disabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
