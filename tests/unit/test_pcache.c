/* The glue's principal cache (src/glue/principal.c): reuse for the same verified token, never
 * across tokens or principals, bounded, a refreshed token keeps its binding key, an expired
 * token never reaches it, concurrent use. Tokens come from a real validator (static JWKS). */
#include <pthread.h>
#include <string.h>

#include "../validator/vtest.h"
#include "dmcp/protect.h"
#include "dmcp/server.h"
#include "glue/glue_internal.h"

static int64_t now = VT_NOW;
static dmcp_mint_key *key;
static dmcp_validator *v;

static int setup(void **state)
{
    (void)state;
    char *jwks = NULL;
    key = vt_key("ES256", "k1", "ES256", &jwks);
    v = vt_validator(vt_config(jwks, &now));
    free(jwks);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_validator_free(v);
    dmcp_mint_key_free(key);
    return 0;
}

/* A token for sub with a distinguishing jti (two tokens of one user differ by it). */
static char *tok(const char *sub, int jti, long long exp_in)
{
    char p[512];
    snprintf(p, sizeof(p),
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"client_id\":\"c1\",\"jti\":\"j%d\","
             "\"scope\":\"read write\",\"iat\":%lld,\"exp\":%lld}",
             VT_ISS, VT_AUD, sub, jti, (long long)(now - 5), (long long)(now + exp_in));
    char *t = dmcp_mint_sign_simple(key, "ES256", "k1", p);
    assert_non_null(t);
    return t;
}

/* A token with the standard claims plus `ids` (identity members, may be ""), jti distinct. */
static char *tok_ids(const char *ids, int jti)
{
    char p[1024];
    snprintf(p, sizeof(p),
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"jti\":\"i%d\",\"scope\":\"read\","
             "\"iat\":%lld,\"exp\":%lld%s%s}",
             VT_ISS, VT_AUD, jti, (long long)(now - 5), (long long)(now + 600), *ids ? "," : "",
             ids);
    char *t = dmcp_mint_sign_simple(key, "ES256", "k1", p);
    assert_non_null(t);
    return t;
}

static dmcp_token *validate(const char *raw)
{
    dmcp_token *t = NULL;
    assert_int_equal(dmcp_validator_validate(v, raw, strlen(raw), &t, NULL), DMCP_OK);
    return t;
}

/* Validates raw and asks the cache, as authenticate() does. */
static dmcp_principal *principal_of(dmcp__pcache *c, const char *raw)
{
    dmcp_token *t = validate(raw);
    dmcp_principal *p = NULL;
    assert_int_equal(dmcp__pcache_principal(c, t, raw, strlen(raw), &p), DMCP_OK);
    dmcp_token_free(t);
    assert_non_null(p);
    return p;
}

static void assert_is_of(const dmcp_principal *p, const char *raw, const char *sub)
{
    size_t n = 0;
    const char *mine = dmcp_principal_access_token(p, &n);
    assert_int_equal(n, strlen(raw));
    assert_memory_equal(mine, raw, n);
    assert_non_null(strstr(dmcp_principal_binding_key(p), sub));
    const dmcp_token *t = dmcp_protect_principal_token(p);
    assert_non_null(t);
    assert_string_equal(dmcp_token_subject(t), sub);
    assert_int_equal(dmcp_principal_scope_count(p), 2);
    assert_true(dmcp_principal_has_scope(p, "write"));
    assert_string_equal(dmcp_principal_client_id(p), "c1");
}

static void test_reuse_same_token(void **state)
{
    (void)state;
    dmcp__pcache *c = dmcp__pcache_new();
    assert_non_null(c);
    char *a = tok("alice", 1, 600);
    dmcp_principal *p1 = principal_of(c, a);
    dmcp_principal *p2 = principal_of(c, a);
    assert_ptr_equal(p1, p2); /* the validator's cache gave the same token: one principal */
    assert_is_of(p2, a, "alice");
    assert_int_equal(dmcp__pcache_count(c), 1);
    dmcp_principal_unref(p1);
    dmcp_principal_unref(p2);
    /* The cache's own reference keeps it alive and valid. */
    dmcp_principal *p3 = principal_of(c, a);
    assert_is_of(p3, a, "alice");
    dmcp_principal_unref(p3);
    dmcp__pcache_free(c);
    free(a);
}

static void test_never_across_tokens(void **state)
{
    (void)state;
    dmcp__pcache *c = dmcp__pcache_new();
    char *a = tok("alice", 2, 600), *a2 = tok("alice", 3, 600), *b = tok("bob", 4, 600);
    dmcp_principal *pa = principal_of(c, a);
    dmcp_principal *pb = principal_of(c, b);
    assert_ptr_not_equal(pa, pb);
    assert_is_of(pa, a, "alice");
    assert_is_of(pb, b, "bob");
    assert_string_not_equal(dmcp_principal_binding_key(pa), dmcp_principal_binding_key(pb));
    /* A refreshed token of the same user: its own principal (its own raw token), the same
     * binding key, so its session carries on (mcp-resource-server.md §6). */
    dmcp_principal *pa2 = principal_of(c, a2);
    assert_ptr_not_equal(pa, pa2);
    assert_is_of(pa2, a2, "alice");
    assert_string_equal(dmcp_principal_binding_key(pa), dmcp_principal_binding_key(pa2));
    /* Interleaving does not mix them up. */
    dmcp_principal *again = principal_of(c, b);
    assert_ptr_equal(again, pb);
    dmcp_principal_unref(again);
    again = principal_of(c, a);
    assert_is_of(again, a, "alice");
    dmcp_principal_unref(again);
    dmcp_principal_unref(pa);
    dmcp_principal_unref(pa2);
    dmcp_principal_unref(pb);
    dmcp__pcache_free(c);
    free(a);
    free(a2);
    free(b);
}

/* The same token object presented with other bytes (a validator without a cache could recycle
 * an address) is a miss: the cached principal is never handed to another token. */
static void test_same_object_other_bytes(void **state)
{
    (void)state;
    dmcp__pcache *c = dmcp__pcache_new();
    char *a = tok("alice", 5, 600), *b = tok("bob", 6, 600);
    dmcp_token *ta = validate(a);
    dmcp_principal *p1 = NULL, *p2 = NULL;
    assert_int_equal(dmcp__pcache_principal(c, ta, a, strlen(a), &p1), DMCP_OK);
    assert_int_equal(dmcp__pcache_principal(c, ta, b, strlen(b), &p2), DMCP_OK);
    assert_ptr_not_equal(p1, p2);
    size_t n = 0;
    const char *raw2 = dmcp_principal_access_token(p2, &n);
    assert_int_equal(n, strlen(b));
    assert_memory_equal(raw2, b, n);
    /* Same length, last byte differs: still a miss. */
    char *a_mod = strdup(a);
    a_mod[strlen(a_mod) - 1] ^= 1;
    dmcp_principal *p3 = NULL;
    assert_int_equal(dmcp__pcache_principal(c, ta, a_mod, strlen(a_mod), &p3), DMCP_OK);
    assert_ptr_not_equal(p3, p1);
    assert_ptr_not_equal(p3, p2);
    dmcp_principal_unref(p1);
    dmcp_principal_unref(p2);
    dmcp_principal_unref(p3);
    dmcp_token_free(ta);
    dmcp__pcache_free(c);
    free(a);
    free(a_mod);
    free(b);
}

static void test_bounded(void **state)
{
    (void)state;
    dmcp__pcache *c = dmcp__pcache_new();
    for (int i = 0; i < 300; i++) {
        char *t = tok("carol", 100 + i, 600);
        dmcp_principal *p = principal_of(c, t);
        assert_is_of(p, t, "carol");
        dmcp_principal_unref(p);
        free(t);
        assert_true(dmcp__pcache_count(c) <= 64);
    }
    assert_true(dmcp__pcache_count(c) > 1);
    dmcp__pcache_free(c);
}

/* Expiry is the validator's, before the cache: a cached principal never outlives its token. */
static void test_expired_refused(void **state)
{
    (void)state;
    dmcp__pcache *c = dmcp__pcache_new();
    char *a = tok("dave", 7, 60);
    dmcp_principal *p = principal_of(c, a);
    dmcp_principal_unref(p);
    assert_int_equal(dmcp__pcache_count(c), 1);
    int64_t saved = now;
    now += 3600;
    VT_REJECT(v, a, DMCP_REASON_EXPIRED);
    now = saved;
    dmcp__pcache_free(c);
    free(a);
}

/* NULL cache: a fresh principal each time (the uncached path). */
static void test_null_cache(void **state)
{
    (void)state;
    char *a = tok("erin", 8, 600);
    dmcp_principal *p1 = principal_of(NULL, a), *p2 = principal_of(NULL, a);
    assert_ptr_not_equal(p1, p2);
    assert_is_of(p1, a, "erin");
    dmcp_principal_unref(p1);
    dmcp_principal_unref(p2);
    free(a);
}

/* The binding key of a token's principal (a copy), or NULL when it has none. */
static char *key_of(const char *ids, int jti)
{
    char *raw = tok_ids(ids, jti);
    dmcp_principal *p = principal_of(NULL, raw);
    const char *k = dmcp_principal_binding_key(p);
    char *copy = k != NULL ? strdup(k) : NULL;
    dmcp_principal_unref(p);
    free(raw);
    return copy;
}

/* The key is [iss, user id, client id] with the user id the handlers see (dsub before sub). */
static void test_binding_key_is_the_user_id(void **state)
{
    (void)state;
    char *a = key_of("\"sub\":\"sam\",\"dsub\":\"u1\",\"azp\":\"c1\"", 1);
    char *b = key_of("\"sub\":\"sam\",\"dsub\":\"u2\",\"azp\":\"c1\"", 2);
    char *a2 = key_of("\"sub\":\"sam\",\"dsub\":\"u1\",\"azp\":\"c1\"", 3);
    char *plain = key_of("\"sub\":\"sam\",\"client_id\":\"c1\"", 4);
    assert_string_equal(a, "[\"" VT_ISS "\",\"u1\",\"c1\"]");
    assert_string_equal(b, "[\"" VT_ISS "\",\"u2\",\"c1\"]");
    assert_string_equal(a2, a); /* another token of the same user keeps the key */
    assert_string_equal(plain, "[\"" VT_ISS "\",\"sam\",\"c1\"]");
    free(a);
    free(b);
    free(a2);
    free(plain);
}

/* A client-credentials token names a client; a token naming nobody gets no key at all. */
static void test_binding_key_identifies_someone(void **state)
{
    (void)state;
    char *client = key_of("\"azp\":\"svc\"", 10);
    char *client2 = key_of("\"client_id\":\"svc\"", 11);
    char *user = key_of("\"sub\":\"sam\"", 12);
    assert_string_equal(client, "[\"" VT_ISS "\",null,\"svc\"]");
    assert_string_equal(client2, client);
    assert_string_equal(user, "[\"" VT_ISS "\",\"sam\",null]");
    free(client);
    free(client2);
    free(user);
    /* Nobody: no claims, or only empty ones (an empty string names no one). */
    assert_null(key_of("", 13));
    assert_null(key_of("\"sub\":\"\",\"azp\":\"\"", 14));
    assert_null(key_of("\"sub\":\"\",\"dsub\":\"\",\"client_id\":\"\"", 15));
    /* An empty dsub is the user id handlers see: it does not fall back to sub. */
    char *empty_dsub = key_of("\"sub\":\"sam\",\"dsub\":\"\",\"azp\":\"c1\"", 16);
    assert_string_equal(empty_dsub, "[\"" VT_ISS "\",null,\"c1\"]");
    free(empty_dsub);
    /* The keyless principal is still a principal: its token, scopes and claims are there. */
    char *raw = tok_ids("", 17);
    dmcp_principal *p = principal_of(NULL, raw);
    assert_null(dmcp_principal_binding_key(p));
    assert_non_null(dmcp_protect_principal_token(p));
    assert_true(dmcp_principal_has_scope(p, "read"));
    assert_non_null(dmcp_principal_claims(p));
    dmcp_principal_unref(p);
    free(raw);
}

/* jansson allocator that fails the fail_at-th allocation after arming (counting from 0). */
static long alloc_count, fail_at = -1;

static void *failing_malloc(size_t n)
{
    return fail_at >= 0 && alloc_count++ == fail_at ? NULL : malloc(n);
}

/*
 * Out of memory while building the principal (its binding key or the claims object jansson
 * builds on first use) fails it: never a principal without claims. Every jansson allocation
 * on the way is made to fail in turn, each time with a fresh token (claims not built yet).
 */
static void test_claims_out_of_memory(void **state)
{
    (void)state;
    dmcp__pcache *c = dmcp__pcache_new();
    long failures = 0;
    bool done = false;
    for (long k = 0; k < 1000 && !done; k++) {
        char *raw =
            tok_ids("\"sub\":\"sam\",\"azp\":\"c1\",\"x\":{\"y\":[1,2,\"z\"]}", (int)(1000 + k));
        dmcp_token *t = validate(raw);
        dmcp_principal *p = (dmcp_principal *)1;
        alloc_count = 0;
        fail_at = k;
        json_set_alloc_funcs(failing_malloc, free);
        dmcp_status st = dmcp__pcache_principal(k % 2 ? c : NULL, t, raw, strlen(raw), &p);
        json_set_alloc_funcs(malloc, free);
        fail_at = -1;
        done = alloc_count <= k; /* no allocation was refused: past the last one */
        if (st == DMCP_OK) {
            assert_true(done); /* never a refused allocation that went unnoticed */
            const json_t *cl = dmcp_principal_claims(p);
            assert_non_null(cl);
            assert_ptr_equal(cl, dmcp_token_claims(t));
            /* Whole, too: no string shortened by a lost reallocation. */
            assert_string_equal(json_string_value(json_object_get(cl, "iss")), VT_ISS);
            assert_string_equal(json_string_value(json_object_get(cl, "aud")), VT_AUD);
            assert_string_equal(json_string_value(json_object_get(cl, "sub")), "sam");
            assert_string_equal(json_string_value(json_array_get(
                                    json_object_get(json_object_get(cl, "x"), "y"), 2)),
                                "z");
            dmcp_principal_unref(p);
        } else {
            assert_false(done);
            assert_int_equal(st, DMCP_E_NOMEM);
            assert_null(p);
            failures++;
        }
        dmcp_token_free(t);
        free(raw);
    }
    assert_true(done);
    /* The binding key's allocations and the claims object's: the sweep reached both. */
    assert_true(failures > 4);
    dmcp__pcache_free(c);
}

typedef struct race {
    dmcp__pcache *c;
    char *toks[4];
    const char *subs[4];
    int seed;
} race;

static void *racer(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 2000; i++) {
        int k = (i * 7 + r->seed) % 4;
        dmcp_principal *p = principal_of(r->c, r->toks[k]);
        size_t n = 0;
        const char *raw = dmcp_principal_access_token(p, &n);
        if (n != strlen(r->toks[k]) || memcmp(raw, r->toks[k], n) != 0 ||
            strcmp(dmcp_token_subject(dmcp_protect_principal_token(p)), r->subs[k]) != 0) {
            dmcp_principal_unref(p);
            return (void *)1;
        }
        dmcp_principal_unref(p);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    dmcp__pcache *c = dmcp__pcache_new();
    race r[4];
    const char *subs[4] = {"u0", "u1", "u2", "u3"};
    char *toks[4];
    for (int k = 0; k < 4; k++) {
        toks[k] = tok(subs[k], 200 + k, 600);
    }
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        r[i].c = c;
        r[i].seed = i;
        memcpy(r[i].toks, toks, sizeof(toks));
        memcpy(r[i].subs, subs, sizeof(subs));
        assert_int_equal(pthread_create(&th[i], NULL, racer, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *res = NULL;
        pthread_join(th[i], &res);
        assert_null(res);
    }
    /* Usually 4; more when the validator built two objects for one token in a race. */
    assert_true(dmcp__pcache_count(c) >= 1 && dmcp__pcache_count(c) <= 64);
    dmcp__pcache_free(c);
    for (int k = 0; k < 4; k++) {
        free(toks[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_same_token),
        cmocka_unit_test(test_never_across_tokens),
        cmocka_unit_test(test_same_object_other_bytes),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_expired_refused),
        cmocka_unit_test(test_null_cache),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_binding_key_is_the_user_id),
        cmocka_unit_test(test_binding_key_identifies_someone),
        cmocka_unit_test(test_claims_out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
