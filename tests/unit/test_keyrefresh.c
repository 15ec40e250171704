/*
 * Key fetches stay off the request path (issue 13 part 2), and the verified-token cache follows
 * the key set (issue 13 part 3), against the local JWKS server of jwks_srv.h:
 *  - with the JWKS answering in 4 s, concurrent unknown-kid and valid tokens all answer at once;
 *  - tokens whose claims do not check out never trigger a fetch, whatever their kid;
 *  - a valid-claims unknown kid triggers exactly one background fetch, and the key serves the
 *    next request once it landed;
 *  - the TTL-due refresh runs before expiry, in the background, and regardless of a cooldown
 *    just spent by an unknown kid;
 *  - a cached token is refused once its key is withdrawn, and past the stale limit.
 */
#include "../validator/jwks_srv.h"

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Validates once and returns the status; *ms receives the wall time the call took. */
static dmcp_status timed(dmcp_validator *v, const char *tok, double *ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dmcp_token *t = NULL;
    dmcp_status st = dmcp_validator_validate(v, tok, strlen(tok), &t, NULL);
    *ms = ms_since(&t0);
    dmcp_token_free(t);
    return st;
}

#define N_EACH 16
#define ROUNDS 4
#define FAST_MS 500.0

typedef struct worker {
    dmcp_validator *v;
    const char *tok;
    const char *then; /* NULL, or a valid token queued behind tok on the same thread */
    pthread_barrier_t *bar;
    dmcp_status st[ROUNDS];
    double ms[ROUNDS];
    dmcp_status then_st[ROUNDS];
    double then_ms[ROUNDS]; /* from the round's start: the queued request's response time */
} worker;

/* One libmicrohttpd pool thread, roughly: it serves its connections one after another, so a
 * request queued behind a stalled one is stalled too. */
static void *worker_main(void *p)
{
    worker *w = p;
    pthread_barrier_wait(w->bar);
    for (int r = 0; r < ROUNDS; r++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        w->st[r] = timed(w->v, w->tok, &w->ms[r]);
        if (w->then != NULL) {
            double unused;
            w->then_st[r] = timed(w->v, w->then, &unused);
            w->then_ms[r] = ms_since(&t0);
        }
    }
    return NULL;
}

/*
 * The JWKS answers in 4 s. The keys have just reached their expiry (a refresh is due) and the
 * cooldown has passed: 16 threads send unknown-kid tokens with valid claims (each followed by a
 * valid token on the same thread) while 16 send valid tokens. Every call, valid or not, returns
 * well under a second; the valid ones are accepted from the current keys, the unknown kids
 * refused, and one fetch serves them all.
 */
static void test_slow_jwks_never_stalls(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    dmcp_validator *v = make_full(60, 86400, 5000, 0);
    assert_int_equal(atomic_load(&S.jwks_hits), 1);
    S.delay_ms = 4000;
    NOWV = VT_NOW + 3600; /* the default TTL has run out: stale keys, refresh due */
    char *valid = token(K1, "k1");
    char *unknown[N_EACH];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2 * N_EACH);
    pthread_t th[2 * N_EACH];
    worker w[2 * N_EACH];
    for (int i = 0; i < N_EACH; i++) {
        char kid[32];
        snprintf(kid, sizeof(kid), "rotated-%d", i);
        unknown[i] = token(K2, kid);
        w[i] = (worker){.v = v, .tok = unknown[i], .then = valid, .bar = &bar};
        w[N_EACH + i] = (worker){.v = v, .tok = valid, .bar = &bar};
    }
    for (int i = 0; i < 2 * N_EACH; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    double worst_valid = 0, worst_unknown = 0;
    for (int i = 0; i < 2 * N_EACH; i++) {
        pthread_join(th[i], NULL);
        for (int r = 0; r < ROUNDS; r++) {
            bool is_valid = i >= N_EACH;
            assert_int_equal(w[i].st[r], is_valid ? DMCP_OK : DMCP_E_INVALID_TOKEN);
            double *worst = is_valid ? &worst_valid : &worst_unknown;
            if (w[i].ms[r] > *worst) {
                *worst = w[i].ms[r];
            }
            if (!is_valid) {
                assert_int_equal(w[i].then_st[r], DMCP_OK);
            }
            if (!is_valid && w[i].then_ms[r] > worst_valid) {
                worst_valid = w[i].then_ms[r]; /* the valid request queued behind it */
            }
        }
    }
    printf("# slowest valid %.1f ms, slowest unknown kid %.1f ms (JWKS answers in 4000 ms)\n",
           worst_valid, worst_unknown);
    assert_true(worst_valid < FAST_MS);
    assert_true(worst_unknown < FAST_MS);
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 2); /* one fetch for everyone */
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < N_EACH; i++) {
        free(unknown[i]);
    }
    free(valid);
    dmcp_validator_free(v);
}

/* Unknown-kid tokens whose claims fail (checked without the signature) never fetch. */
static void test_garbage_never_fetches(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    dmcp_validator *v = make(60, 86400);
    srv_set(JWKS12, NULL, MODE_OK);
    NOWV = VT_NOW + 100; /* past the cooldown: a refetch would be allowed */
    long long exp = (long long)(VT_NOW + 86400);
    char bad[6][512];
    snprintf(bad[0], sizeof(bad[0]),
             "{\"iss\":\"https://evil.example\",\"aud\":\"%s\",\"exp\":%lld}", VT_AUD, exp);
    snprintf(bad[1], sizeof(bad[1]),
             "{\"iss\":\"%s\",\"aud\":\"https://other.example\",\"exp\":%lld}", S.issuer, exp);
    snprintf(bad[2], sizeof(bad[2]), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld}", S.issuer,
             VT_AUD, (long long)(VT_NOW - 1000));
    snprintf(bad[3], sizeof(bad[3]), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"nbf\":%lld}",
             S.issuer, VT_AUD, exp, (long long)(VT_NOW + 5000));
    snprintf(bad[4], sizeof(bad[4]), "{\"iss\":\"%s\",\"aud\":\"%s\"}", S.issuer, VT_AUD);
    snprintf(bad[5], sizeof(bad[5]), "not json");
    for (size_t i = 0; i < DMCP__ARRAY_LEN(bad); i++) {
        for (int k = 0; k < 3; k++) {
            char kid[32];
            snprintf(kid, sizeof(kid), "junk-%zu-%d", i, k);
            char *t = token_with(K2, kid, bad[i]);
            VT_REJECT(v, t, DMCP_REASON_UNKNOWN_KEY);
            free(t);
        }
    }
    settle(v);
    struct timespec pause = {0, 100 * 1000000L};
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&S.jwks_hits), 1);
    /* The same key (k2) under its real kid: also garbage, also no fetch. */
    char *t = token_with(K2, "k2", bad[0]);
    VT_REJECT(v, t, DMCP_REASON_UNKNOWN_KEY);
    free(t);
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 1);
    /* The cooldown is intact: a token whose claims check out still gets its refetch. */
    t = token(K2, "k2");
    VT_REJECT(v, t, DMCP_REASON_UNKNOWN_KEY);
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 2);
    VT_ACCEPT(v, t);
    free(t);
    dmcp_validator_free(v);
}

/* A valid-claims unknown kid: refused at once, exactly one background fetch, then accepted. */
static void test_unknown_kid_background(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    dmcp_validator *v = make_full(60, 86400, 5000, 0);
    srv_set(JWKS12, NULL, MODE_OK); /* the provider rotates k2 in */
    S.delay_ms = 1000;
    NOWV = VT_NOW + 100;
    char *t2 = token(K2, "k2");
    double ms = 0;
    for (int i = 0; i < 5; i++) {
        dmcp_reason why = DMCP_REASON_NONE;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(vt_check(v, t2, &why), DMCP_E_INVALID_TOKEN);
        ms = ms_since(&t0);
        assert_int_equal(why, DMCP_REASON_UNKNOWN_KEY);
        assert_true(ms < FAST_MS); /* refused now, not after the 1 s fetch */
    }
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 2); /* exactly one fetch for the five */
    VT_ACCEPT(v, t2);                               /* the next request after it landed */
    assert_int_equal(atomic_load(&S.jwks_hits), 2);
    free(t2);
    dmcp_validator_free(v);
}

/*
 * max-age=300: the keys are refreshed at 80% (240 s), in the background, before they expire;
 * the request that notices is not held. The refresh due by max-age also ignores the unknown-kid
 * cooldown, so spending the cooldown cannot delay a rotation the source announced.
 */
static void test_refresh_before_expiry(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    srv_set(JWKS1, "max-age=300", MODE_OK);
    dmcp_validator *v = make_full(600, 86400, 5000, 0); /* a cooldown longer than the TTL */
    char *t1 = token(K1, "k1"), *t2 = token(K2, "k2");
    /* An unknown kid with valid claims spends the cooldown at +700 (the first moment it may:
     * the initial fetch counts); that fetch lands, still with only k1. */
    NOWV = VT_NOW + 700;
    char *x = token(K2, "not-yet");
    VT_REJECT(v, x, DMCP_REASON_UNKNOWN_KEY);
    free(x);
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 2);
    /* The provider rotates k2 in, and answers slowly from now on. */
    srv_set(JWKS12, "max-age=300", MODE_OK);
    S.delay_ms = 2000;
    NOWV = VT_NOW + 700 + 239;
    VT_REJECT(v, t2, DMCP_REASON_UNKNOWN_KEY); /* inside the cooldown: no refetch */
    VT_ACCEPT(v, t1);
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 2);
    NOWV = VT_NOW + 700 + 240; /* 80% of the set's 300 s; still inside the 600 s cooldown */
    double ms = 0;
    assert_int_equal(timed(v, t1, &ms), DMCP_OK);
    assert_true(ms < FAST_MS); /* not held for the 2 s fetch */
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 3);
    VT_ACCEPT(v, t2); /* the rotated key, before the old set even expired */
    assert_int_equal(atomic_load(&S.jwks_hits), 3);
    free(t1);
    free(t2);
    dmcp_validator_free(v);
}

/* A cached token is refused once a refresh withdraws its key; one whose key stays is kept. */
static void test_cache_follows_withdrawal(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    srv_set(JWKS12, NULL, MODE_OK);
    dmcp_validator *v = make_full(60, 86400, 400, 100);
    char *t1 = token(K1, "k1"), *t2 = token(K2, "k2");
    VT_ACCEPT(v, t1);
    VT_ACCEPT(v, t2);
    assert_int_equal(dmcp__tcache_count(v->cache), 2);
    srv_set(JWKS2, NULL, MODE_OK); /* k1 withdrawn */
    /* The keys expire; an uncached token's validation starts the refresh. */
    NOWV = VT_NOW + 3600;
    char *other = token(K2, "k2-other-kid");
    (void)vt_check(v, other, NULL);
    free(other);
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 2);
    VT_REJECT(v, t1, DMCP_REASON_UNKNOWN_KEY); /* cached, but its key is gone */
    VT_ACCEPT(v, t2);                          /* verified again against the new set */
    VT_ACCEPT(v, t2);
    free(t1);
    free(t2);
    dmcp_validator_free(v);
}

/* Past the stale limit a cached token gets the same 503 as an uncached one. */
static void test_cache_past_stale_limit(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    srv_set(JWKS1, "max-age=300", MODE_OK);
    dmcp_validator *v = make_full(60, 1000, 400, 100);
    char *t = token(K1, "k1");
    VT_ACCEPT(v, t);
    srv_set(NULL, "max-age=300", MODE_500);
    NOWV = VT_NOW + 300 + 999; /* stale, still within the limit */
    VT_ACCEPT(v, t);
    settle(v);
    NOWV = VT_NOW + 300 + 1000; /* the hard limit */
    char claims[512];
    snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u2\",\"exp\":%lld}",
             S.issuer, VT_AUD, (long long)(VT_NOW + 10 * 86400));
    char *fresh = token_with(K1, "k1", claims); /* never validated: not in the cache */
    assert_int_equal(vt_check(v, fresh, NULL), DMCP_E_KEY_SOURCE_UNAVAILABLE);
    assert_int_equal(vt_check(v, t, NULL), DMCP_E_KEY_SOURCE_UNAVAILABLE);
    free(fresh);
    free(t);
    dmcp_validator_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slow_jwks_never_stalls, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_never_fetches, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_kid_background, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_before_expiry, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_cache_follows_withdrawal, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_cache_past_stale_limit, each_setup, each_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
