/*
 * The key source against a local discovery + JWKS server (jwks_srv.h): discovery rules, TTL
 * and max-age clamping with a moved clock, rotation, the unknown-kid flood, single flight,
 * stale-if-error and its hard limit, nothing cached while the source is down. Every request is
 * counted by the server. Refreshes run on the key source's refresher thread: settle() waits
 * for it before counting. (Off-request-path timing: test_keyrefresh.c.)
 */
#include "../validator/jwks_srv.h"

static dmcp_status check(dmcp_validator *v, const char *tok, dmcp_reason *why)
{
    return vt_check(v, tok, why);
}

static void test_discovery(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    dmcp_validator *v = make(60, 86400);
    assert_int_equal(atomic_load(&S.disc_hits), 1);
    assert_int_equal(atomic_load(&S.jwks_hits), 1);
    assert_string_equal(dmcp_validator_issuer(v), S.issuer);
    const json_t *sc = dmcp_validator_scopes_supported(v);
    assert_int_equal(json_array_size(sc), 2);
    char *t = token(K1, "k1");
    VT_ACCEPT(v, t);
    VT_ACCEPT(v, t);
    assert_int_equal(atomic_load(&S.jwks_hits), 1); /* cached keys */
    free(t);
    dmcp_validator_free(v);

    /* The document names another issuer: configuration error. */
    snprintf(S.issuer, sizeof(S.issuer), "http://127.0.0.1:%u/t1/", S.port);
    dmcp_validator_config *cfg = srv_config();
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/t1/.well-known/openid-configuration", S.port);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_well_known_url(cfg, url), DMCP_OK);
    dmcp_error err;
    v = NULL;
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_E_CONFIG);
    assert_null(v);

    /* A generic issuer whose discovery is unreachable and no JWKS URL: no key source. */
    S.disc_404 = 1;
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_E_KEY_SOURCE_UNAVAILABLE);
    dmcp_validator_config_free(cfg);
}

static void test_descope_fallback(void **state)
{
    (void)state;
    /* Discovery fails for a Descope-shaped URL: keys come from {origin}/{pid}/.well-known/. */
    S.disc_404 = 1;
    NOWV = VT_NOW;
    snprintf(S.issuer, sizeof(S.issuer), "http://127.0.0.1:%u/v1/apps/P2abc", S.port);
    dmcp_validator_config *cfg = srv_config();
    char url[320];
    snprintf(url, sizeof(url), "%s/.well-known/openid-configuration", S.issuer);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(cfg, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_well_known_url(cfg, url), DMCP_OK);
    dmcp_validator *v = vt_validator(cfg);
    assert_string_equal(dmcp_validator_project_id(v), "P2abc");
    assert_int_equal(atomic_load(&S.jwks_hits), 1);
    char p[512];
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"P2abc\",\"exp\":%lld}", S.issuer,
             (long long)(VT_NOW + 60));
    char *t = dmcp_mint_sign_simple(K1, "ES256", "k1", p);
    VT_ACCEPT(v, t);
    free(t);
    dmcp_validator_free(v);
}

static void test_ttl_and_clamping(void **state)
{
    (void)state;
    struct {
        const char *cc;
        int64_t ttl;
    } cases[] = {{"max-age=600", 600},
                 {"public, max-age=10", 300},
                 {"max-age=999999", 86400},
                 {NULL, 3600},
                 {"no-store", 3600}};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(cases); i++) {
        atomic_store(&S.jwks_hits, 0);
        srv_set(JWKS1, cases[i].cc, MODE_OK);
        NOWV = VT_NOW;
        dmcp_validator *v = make(60, 86400);
        assert_int_equal(atomic_load(&S.jwks_hits), 1);
        char *t = token(K1, "k1");
        int64_t refresh = cases[i].ttl * 80 / 100; /* refreshed before expiry */
        NOWV = VT_NOW + refresh - 1;
        VT_ACCEPT(v, t);
        settle(v);
        assert_int_equal(atomic_load(&S.jwks_hits), 1); /* still fresh */
        NOWV = VT_NOW + refresh;
        VT_ACCEPT(v, t);
        settle(v);
        assert_int_equal(atomic_load(&S.jwks_hits), 2); /* due: refetched once, in background */
        VT_ACCEPT(v, t);
        settle(v);
        assert_int_equal(atomic_load(&S.jwks_hits), 2);
        free(t);
        dmcp_validator_free(v);
    }
}

static void test_rotation_and_cooldown(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    dmcp_validator *v = make(60, 86400);
    char *t1 = token(K1, "k1"), *t2 = token(K2, "k2");
    VT_ACCEPT(v, t1);
    srv_set(JWKS12, NULL, MODE_OK); /* the provider adds k2 */
    NOWV = VT_NOW + 59;
    VT_REJECT(v, t2, DMCP_REASON_UNKNOWN_KEY); /* within the cooldown: no refetch */
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 1);
    NOWV = VT_NOW + 60;
    VT_REJECT(v, t2, DMCP_REASON_UNKNOWN_KEY); /* refused now; the refetch runs in background */
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 2);
    VT_ACCEPT(v, t2);              /* picked up without a restart */
    srv_set(JWKS2, NULL, MODE_OK); /* k1 retired */
    VT_ACCEPT(v, t1);              /* until the next refresh */
    NOWV = VT_NOW + 60 + 2880;     /* 80% of the 3600 s TTL */
    VT_ACCEPT(v, t1);              /* served while the refresh runs */
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 3);
    VT_REJECT(v, t1, DMCP_REASON_UNKNOWN_KEY);
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 3);
    free(t1);
    free(t2);
    dmcp_validator_free(v);
}

static void test_unknown_kid_flood(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    dmcp_validator *v = make(60, 86400);
    assert_int_equal(atomic_load(&S.jwks_hits), 1);
    NOWV = VT_NOW + 100; /* past the cooldown: one refetch allowed */
    for (int i = 0; i < 1000; i++) {
        char kid[32];
        snprintf(kid, sizeof(kid), "attacker-%d", i);
        char *t = token(K2, kid);
        VT_REJECT(v, t, DMCP_REASON_UNKNOWN_KEY);
        free(t);
        if (i % 100 == 99) {
            NOWV += 5; /* 50 s pass during the flood: still inside one cooldown */
        }
    }
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 2);
    NOWV = VT_NOW + 160;
    char *t = token(K2, "attacker-x");
    VT_REJECT(v, t, DMCP_REASON_UNKNOWN_KEY);
    VT_REJECT(v, t, DMCP_REASON_UNKNOWN_KEY);
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 3); /* one more per cooldown */
    free(t);
    dmcp_validator_free(v);
}

typedef struct fl_arg {
    dmcp_validator *v;
    const char *tok;
    pthread_barrier_t *bar;
    dmcp_status st;
} fl_arg;

static void *fl_main(void *p)
{
    fl_arg *a = p;
    pthread_barrier_wait(a->bar);
    dmcp_token *t = NULL;
    a->st = dmcp_validator_validate(a->v, a->tok, strlen(a->tok), &t, NULL);
    dmcp_token_free(t);
    return NULL;
}

static void test_single_flight(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    dmcp_validator *v = make(60, 86400);
    srv_set(JWKS12, NULL, MODE_OK);
    S.delay_ms = 250; /* the refetch is slow: every thread arrives while it is asked or runs */
    NOWV = VT_NOW + 61;
    char *t2 = token(K2, "k2");
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 8);
    pthread_t th[8];
    fl_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (fl_arg){v, t2, &bar, DMCP_E_INTERNAL};
        assert_int_equal(pthread_create(&th[i], NULL, fl_main, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].st, DMCP_E_INVALID_TOKEN); /* nobody waited for the fetch */
    }
    settle(v);
    assert_int_equal(atomic_load(&S.jwks_hits), 2); /* exactly one refetch */
    VT_ACCEPT(v, t2);                               /* the key is there for the next request */
    pthread_barrier_destroy(&bar);
    free(t2);
    dmcp_validator_free(v);
}

static void test_stale_if_error(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    srv_set(JWKS1, "max-age=300", MODE_OK);
    dmcp_validator *v = make(60, 1000);
    char *t = token(K1, "k1");
    VT_ACCEPT(v, t);
    int modes[] = {MODE_GARBAGE, MODE_500, MODE_HTML, MODE_SLOW};
    int64_t at = VT_NOW + 300; /* expired from here on */
    for (size_t i = 0; i < DMCP__ARRAY_LEN(modes); i++) {
        srv_set(NULL, "max-age=300", modes[i]);
        int before = atomic_load(&S.jwks_hits);
        NOWV = at;
        VT_ACCEPT(v, t); /* the fetch fails; cached keys keep serving */
        settle(v);
        assert_int_equal(atomic_load(&S.jwks_hits), before + 1);
        VT_ACCEPT(v, t);
        settle(v);
        assert_int_equal(atomic_load(&S.jwks_hits), before + 1); /* failure backoff */
        at += 60;
    }
    /* The source goes away entirely. */
    srv_stop();
    NOWV = VT_NOW + 300 + 999;
    VT_ACCEPT(v, t);
    settle(v);
    /* The hard limit: expires_at + stale_limit. */
    NOWV = VT_NOW + 300 + 1000;
    dmcp_reason why;
    assert_int_equal(check(v, t, &why), DMCP_E_KEY_SOURCE_UNAVAILABLE);
    free(t);
    dmcp_validator_free(v);
}

static void test_nothing_cached(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    srv_set(NULL, NULL, MODE_500);
    dmcp_validator *v = make(60, 86400); /* creation succeeds although keys are missing */
    char *t = token(K1, "k1");
    dmcp_reason why;
    assert_int_equal(check(v, t, &why), DMCP_E_KEY_SOURCE_UNAVAILABLE);
    int hits = atomic_load(&S.jwks_hits);
    assert_int_equal(check(v, t, &why), DMCP_E_KEY_SOURCE_UNAVAILABLE);
    assert_int_equal(atomic_load(&S.jwks_hits), hits); /* retry backoff */
    /* The source recovers: keys arrive after the short retry interval. */
    srv_set(JWKS1, NULL, MODE_OK);
    NOWV = VT_NOW + 5;
    VT_ACCEPT(v, t);
    free(t);
    dmcp_validator_free(v);

    /* Nothing listening at all. */
    srv_stop();
    dmcp_validator_config *cfg = srv_config();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/jwks", S.port);
    assert_int_equal(dmcp_validator_config_set_jwks_url(cfg, url), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, S.issuer), DMCP_OK);
    v = vt_validator(cfg);
    t = token(K1, "k1");
    assert_int_equal(check(v, t, &why), DMCP_E_KEY_SOURCE_UNAVAILABLE);
    free(t);
    dmcp_validator_free(v);
}

static void test_content_types(void **state)
{
    (void)state;
    NOWV = VT_NOW;
    snprintf(S.ctype, sizeof(S.ctype), "application/jwk-set+json; charset=utf-8");
    dmcp_validator *v = make(60, 86400);
    char *t = token(K1, "k1");
    VT_ACCEPT(v, t);
    dmcp_validator_free(v);
    snprintf(S.ctype, sizeof(S.ctype), "text/plain");
    v = make(60, 86400);
    dmcp_reason why;
    assert_int_equal(check(v, t, &why), DMCP_E_KEY_SOURCE_UNAVAILABLE);
    free(t);
    dmcp_validator_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_discovery, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_descope_fallback, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_ttl_and_clamping, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_rotation_and_cooldown, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_kid_flood, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_single_flight, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_stale_if_error, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_nothing_cached, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_content_types, each_setup, each_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
