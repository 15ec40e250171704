/*
 * The key source against a local discovery + JWKS server (libmicrohttpd on 127.0.0.1, an
 * ephemeral port, in this process): discovery rules, TTL and max-age clamping with a moved
 * clock, rotation, the unknown-kid flood, single flight, stale-if-error and its hard limit,
 * nothing cached while the source is down. Every request is counted by the server.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../validator/vtest.h"

enum { MODE_OK = 0, MODE_500, MODE_GARBAGE, MODE_SLOW, MODE_HTML };

typedef struct srv {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t mu;
    char jwks[8192];
    char ctype[64];
    char cache_control[64];
    char issuer[256];
    int mode;
    int disc_404;
    int delay_ms;
    atomic_int jwks_hits;
    atomic_int disc_hits;
} srv;

static srv S;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body,
                             const char *ctype, const char *cc)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (ctype != NULL && *ctype) {
        MHD_add_response_header(r, "Content-Type", ctype);
    }
    if (cc != NULL && *cc) {
        MHD_add_response_header(r, "Cache-Control", cc);
    }
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    char body[8192], ctype[64], cc[64];
    size_t ul = strlen(url);
    const char *wk = "/.well-known/openid-configuration";
    if (ul >= strlen(wk) && strcmp(url + ul - strlen(wk), wk) == 0) {
        atomic_fetch_add(&S.disc_hits, 1);
        pthread_mutex_lock(&S.mu);
        int d404 = S.disc_404;
        snprintf(body, sizeof(body),
                 "{\"issuer\":\"%s\",\"jwks_uri\":\"http://127.0.0.1:%u/jwks\","
                 "\"scopes_supported\":[\"mcp:read\",\"outbound.token.fetch\"]}",
                 S.issuer, S.port);
        pthread_mutex_unlock(&S.mu);
        if (d404) {
            return reply(c, 404, "not found", "text/plain", NULL);
        }
        return reply(c, 200, body, "application/json", NULL);
    }
    if (strcmp(url, "/jwks") == 0 || strcmp(url, "/P2abc/.well-known/jwks.json") == 0) {
        atomic_fetch_add(&S.jwks_hits, 1);
        pthread_mutex_lock(&S.mu);
        int mode = S.mode, delay = S.delay_ms;
        snprintf(body, sizeof(body), "%s", S.jwks);
        snprintf(ctype, sizeof(ctype), "%s", S.ctype);
        snprintf(cc, sizeof(cc), "%s", S.cache_control);
        pthread_mutex_unlock(&S.mu);
        if (mode == MODE_SLOW) {
            delay = 800;
        }
        if (delay > 0) {
            struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        switch (mode) {
        case MODE_500:
            return reply(c, 500, "oops", "text/plain", NULL);
        case MODE_GARBAGE:
            return reply(c, 200, "{\"keys\":[{\"kty\":", "application/json", cc);
        case MODE_HTML:
            return reply(c, 200, body, "text/html", cc);
        default:
            return reply(c, 200, body, ctype, cc);
        }
    }
    return reply(c, 404, "not found", "text/plain", NULL);
}

static void srv_start(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    S.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                           NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                           MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)5, MHD_OPTION_END);
    assert_non_null(S.d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(S.d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    S.port = info->port;
    assert_true(S.port != 0);
}

static void srv_stop(void)
{
    if (S.d != NULL) {
        MHD_stop_daemon(S.d);
        S.d = NULL;
    }
}

static void srv_set(const char *jwks, const char *cc, int mode)
{
    pthread_mutex_lock(&S.mu);
    if (jwks != NULL) {
        snprintf(S.jwks, sizeof(S.jwks), "%s", jwks);
    }
    snprintf(S.cache_control, sizeof(S.cache_control), "%s", cc != NULL ? cc : "");
    S.mode = mode;
    pthread_mutex_unlock(&S.mu);
}

static dmcp_mint_key *K1, *K2;
static char *JWKS1, *JWKS2, *JWKS12;

static int setup(void **state)
{
    (void)state;
    pthread_mutex_init(&S.mu, NULL);
    K1 = vt_key("ES256", "k1", "ES256", &JWKS1);
    K2 = vt_key("ES256", "k2", "ES256", &JWKS2);
    char *j1 = dmcp_mint_key_jwk(K1, "k1", "ES256"), *j2 = dmcp_mint_key_jwk(K2, "k2", "ES256");
    const char *both[2] = {j1, j2};
    JWKS12 = dmcp_mint_jwks(both, 2);
    free(j1);
    free(j2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_mint_key_free(K1);
    dmcp_mint_key_free(K2);
    free(JWKS1);
    free(JWKS2);
    free(JWKS12);
    pthread_mutex_destroy(&S.mu);
    return 0;
}

/* Per test: a fresh server serving k1 with application/json and no Cache-Control. */
static int each_setup(void **state)
{
    (void)state;
    atomic_store(&S.jwks_hits, 0);
    atomic_store(&S.disc_hits, 0);
    S.disc_404 = 0;
    S.delay_ms = 0;
    snprintf(S.ctype, sizeof(S.ctype), "application/json");
    srv_set(JWKS1, NULL, MODE_OK);
    srv_start();
    snprintf(S.issuer, sizeof(S.issuer), "http://127.0.0.1:%u/t1", S.port);
    return 0;
}

static int each_teardown(void **state)
{
    (void)state;
    srv_stop();
    return 0;
}

static int64_t NOWV;

/* A validator over discovery at /t1 (issuer http://127.0.0.1:port/t1), cache off. */
static dmcp_validator *make(unsigned cooldown, unsigned stale)
{
    dmcp_validator_config *cfg = vt_config(NULL, &NOWV);
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/t1/.well-known/openid-configuration", S.port);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_well_known_url(cfg, url), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_token_cache_size(cfg, 0), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_http_timeouts(cfg, 300, 400), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_key_cache(cfg, 3600, 300, 86400, cooldown, stale),
                     DMCP_OK);
    return vt_validator(cfg);
}

static char *token(dmcp_mint_key *k, const char *kid)
{
    char p[512];
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u\",\"exp\":%lld}", S.issuer,
             VT_AUD, (long long)(VT_NOW + 10 * 86400));
    return dmcp_mint_sign_simple(k, "ES256", kid, p);
}

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
    dmcp_validator_config *cfg = vt_config(NULL, &NOWV);
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
    dmcp_validator_config *cfg = vt_config(NULL, &NOWV);
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
        NOWV = VT_NOW + cases[i].ttl - 1;
        VT_ACCEPT(v, t);
        assert_int_equal(atomic_load(&S.jwks_hits), 1); /* still fresh */
        NOWV = VT_NOW + cases[i].ttl;
        VT_ACCEPT(v, t);
        assert_int_equal(atomic_load(&S.jwks_hits), 2); /* expired: refetched once */
        VT_ACCEPT(v, t);
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
    assert_int_equal(atomic_load(&S.jwks_hits), 1);
    NOWV = VT_NOW + 60;
    VT_ACCEPT(v, t2); /* picked up without a restart */
    assert_int_equal(atomic_load(&S.jwks_hits), 2);
    srv_set(JWKS2, NULL, MODE_OK); /* k1 retired */
    VT_ACCEPT(v, t1);              /* until the next refresh */
    NOWV = VT_NOW + 60 + 3600;
    VT_REJECT(v, t1, DMCP_REASON_UNKNOWN_KEY);
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
    assert_int_equal(atomic_load(&S.jwks_hits), 2);
    NOWV = VT_NOW + 160;
    char *t = token(K2, "attacker-x");
    VT_REJECT(v, t, DMCP_REASON_UNKNOWN_KEY);
    VT_REJECT(v, t, DMCP_REASON_UNKNOWN_KEY);
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
    S.delay_ms = 250; /* the refetch is slow: every thread arrives while it runs */
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
        assert_int_equal(args[i].st, DMCP_OK); /* waiters got the new key */
    }
    assert_int_equal(atomic_load(&S.jwks_hits), 2); /* exactly one refetch */
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
        assert_int_equal(atomic_load(&S.jwks_hits), before + 1);
        VT_ACCEPT(v, t);
        assert_int_equal(atomic_load(&S.jwks_hits), before + 1); /* failure backoff */
        at += 60;
    }
    /* The source goes away entirely. */
    srv_stop();
    NOWV = VT_NOW + 300 + 999;
    VT_ACCEPT(v, t);
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
    dmcp_validator_config *cfg = vt_config(NULL, &NOWV);
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
