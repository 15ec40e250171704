/*
 * A local discovery + JWKS server for the key source tests (libmicrohttpd on 127.0.0.1, an
 * ephemeral port, in the test process), plus their common fixtures: keys k1 and k2, a movable
 * clock that the key refresher thread may read (atomic), and a validator over discovery.
 * Every request is counted by the server. Static, header-only: include once per test program.
 */
#ifndef DMCP_JWKS_SRV_H
#define DMCP_JWKS_SRV_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "vtest.h"

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

/* The test clock: written by the test, read by validating threads and the refresher. */
static _Atomic int64_t NOWV;

static int64_t srv_clock(void *ud)
{
    return atomic_load((_Atomic int64_t *)ud);
}

/* vt_config with no key set and the atomic test clock. */
static dmcp_validator_config *srv_config(void)
{
    int64_t unused = VT_NOW;
    dmcp_validator_config *cfg = vt_config(NULL, &unused);
    assert_int_equal(dmcp_validator_config_set_clock(cfg, srv_clock, &NOWV), DMCP_OK);
    return cfg;
}

/* A validator over discovery at /t1 (issuer http://127.0.0.1:port/t1) with the given key cache
 * policy, HTTP total timeout and token cache size. */
static dmcp_validator *make_full(unsigned cooldown, unsigned stale, long total_ms, size_t cache)
{
    dmcp_validator_config *cfg = srv_config();
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/t1/.well-known/openid-configuration", S.port);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_well_known_url(cfg, url), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_token_cache_size(cfg, cache), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_http_timeouts(cfg, 300, total_ms), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_key_cache(cfg, 3600, 300, 86400, cooldown, stale),
                     DMCP_OK);
    return vt_validator(cfg);
}

/* Cache off, 400 ms HTTP timeout. */
static dmcp_validator *make(unsigned cooldown, unsigned stale)
{
    return make_full(cooldown, stale, 400, 0);
}

/* A token from S.issuer for VT_AUD, valid for ten days from VT_NOW; `claims` replaces the
 * payload when not NULL. */
static char *token_with(dmcp_mint_key *k, const char *kid, const char *claims)
{
    char p[512];
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u\",\"exp\":%lld}", S.issuer,
             VT_AUD, (long long)(VT_NOW + 10 * 86400));
    char *t = dmcp_mint_sign_simple(k, "ES256", kid, claims != NULL ? claims : p);
    assert_non_null(t);
    return t;
}

static char *token(dmcp_mint_key *k, const char *kid)
{
    return token_with(k, kid, NULL);
}

/* Waits until no key fetch is pending or running (the background refresher settled). */
static void settle(dmcp_validator *v)
{
    assert_true(dmcp__keysource_wait_idle(v->keys, 10000));
}

#endif
