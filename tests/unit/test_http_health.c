/*
 * Health endpoints and the readiness the glue reports: /healthz while the process serves,
 * /readyz while tokens can be validated (signing keys loaded and not past the stale limit),
 * both answered before Host and credentials; dmcp_validator_health() itself.
 */
#include <stdlib.h>

#include "dmcp/auth.h"
#include "dmcp/protect.h"
#include "mcp_test.h"
#include "mint.h"
#include "raw_http.h"

#define ISS "http://127.0.0.1:1/iss"

static dmcp_validator *static_validator(void)
{
    dmcp_mint_key *k = dmcp_mint_key_new("ES256");
    assert_non_null(k);
    char *jwk = dmcp_mint_key_jwk(k, "k1", "ES256");
    const char *one[] = {jwk};
    char *jwks = dmcp_mint_jwks(one, 1);
    dmcp_validator_config *cfg;
    dmcp_validator *v = NULL;
    dmcp_error err;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(cfg, "http://127.0.0.1/mcp"),
                     DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_OK);
    dmcp_validator_config_free(cfg);
    free(jwks);
    free(jwk);
    dmcp_mint_key_free(k);
    return v;
}

/* A validator whose JWKS URL answers nothing (a closed loopback port). */
static dmcp_validator *dead_validator(void)
{
    dmcp_validator_config *cfg;
    dmcp_validator *v = NULL;
    dmcp_error err;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_mcp_server_url(cfg, "http://127.0.0.1/mcp"),
                     DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_url(cfg, "http://127.0.0.1:1/jwks"), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_http_timeouts(cfg, 500, 500), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_OK);
    dmcp_validator_config_free(cfg);
    return v;
}

static void test_validator_health(void **state)
{
    (void)state;
    dmcp_validator_health_info hi;
    dmcp_validator *v = static_validator();
    dmcp_validator_health(v, &hi);
    assert_true(hi.keys_loaded && hi.keys_fresh && hi.keys_usable);
    assert_int_equal(hi.keys, 1);
    assert_int_equal(hi.key_age_seconds, 0);
    dmcp_validator_free(v);
    v = dead_validator();
    dmcp_validator_health(v, &hi);
    assert_false(hi.keys_loaded);
    assert_false(hi.keys_usable);
    assert_true(hi.last_fetch_failed);
    assert_int_equal(hi.keys, 0);
    dmcp_validator_free(v);
    dmcp_validator_health(NULL, &hi);
    assert_false(hi.keys_usable);
}

/* A server protected by the glue over validator v; health endpoints as given. */
static dmcp_server *serve(dmcp_validator *v, bool health, unsigned *port)
{
    dmcp_server *s;
    dmcp_error err;
    assert_int_equal(dmcp_server_new("health", "1", &s), DMCP_OK);
    dmcp_authorizer *az;
    assert_int_equal(dmcp_protect_authorizer_new(v, NULL, &az, &err), DMCP_OK);
    assert_int_equal(dmcp_server_set_authorizer(s, az), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_set_health_endpoints(s, health), DMCP_OK);
    assert_int_equal(dmcp_server_start(s, &err), DMCP_OK);
    *port = dmcp_server_port(s);
    return s;
}

static void get(unsigned port, const char *path, const char *host, exchange *x)
{
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path,
             host);
    raw_to(port, req, x, 3000);
}

static void test_endpoints(void **state)
{
    (void)state;
    unsigned port;
    exchange x;
    dmcp_validator *ok = static_validator();
    dmcp_server *s = serve(ok, true, &port);
    get(port, "/healthz", "127.0.0.1", &x);
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "{\"status\":\"ok\"}"));
    get(port, "/readyz", "127.0.0.1", &x);
    assert_int_equal(status_of(&x), 200);
    assert_non_null(strstr(x.data, "{\"status\":\"ready\"}"));
    /* A probe sends whatever Host it likes and no credentials. */
    get(port, "/healthz", "10.1.2.3:8080", &x);
    assert_int_equal(status_of(&x), 200);
    get(port, "/mcp", "10.1.2.3:8080", &x); /* the endpoint itself still checks Host */
    assert_int_equal(status_of(&x), 403);
    raw_to(port, "POST /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", &x, 3000);
    assert_int_equal(status_of(&x), 405);
    dmcp_server_free(s);
    dmcp_validator_free(ok);

    /* Keys that never loaded: alive, not ready, and it says why. */
    dmcp_validator *dead = dead_validator();
    s = serve(dead, true, &port);
    get(port, "/healthz", "127.0.0.1", &x);
    assert_int_equal(status_of(&x), 200);
    get(port, "/readyz", "127.0.0.1", &x);
    assert_int_equal(status_of(&x), 503);
    assert_true(has_header(&x, "Retry-After: 5"));
    assert_non_null(strstr(x.data, "signing keys not loaded"));
    dmcp_server_free(s);

    /* Switched off: the paths are nobody's. */
    s = serve(dead, false, &port);
    get(port, "/healthz", "127.0.0.1", &x);
    assert_int_equal(status_of(&x), 404);
    dmcp_server_free(s);
    dmcp_validator_free(dead);
}

/* dmcp_server_add_static: public documents (the gateway's JWKS) beside the endpoint. */
static void test_static_documents(void **state)
{
    (void)state;
    dmcp_server *s;
    dmcp_error err;
    exchange x;
    assert_int_equal(dmcp_server_new("static", "1", &s), DMCP_OK);
    /* refused: relative path, the endpoint itself, a query, CR/LF in the type, too big */
    assert_int_equal(dmcp_server_add_static(s, "keys", "application/json", "{}"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_add_static(s, "/mcp", "application/json", "{}"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_add_static(s, "/k?x=1", "application/json", "{}"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_add_static(s, "/k", "text/plain\r\nX: y", "{}"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_server_add_static(NULL, "/k", "application/json", "{}"), DMCP_E_INVALID_ARG);
    char *big = malloc(DMCP_MAX_STATIC_BYTES + 2);
    memset(big, 'x', DMCP_MAX_STATIC_BYTES + 1);
    big[DMCP_MAX_STATIC_BYTES + 1] = '\0';
    assert_int_equal(dmcp_server_add_static(s, "/big", "text/plain", big), DMCP_E_TOO_LARGE);
    free(big);
    /* a path given twice replaces the document; the cap counts distinct paths */
    assert_int_equal(dmcp_server_add_static(s, "/keys", "application/json", "{\"old\":1}"), DMCP_OK);
    assert_int_equal(dmcp_server_add_static(s, "/keys", "application/json", "{\"keys\":[]}"), DMCP_OK);
    char path[32];
    for (int i = 1; i < DMCP_MAX_STATIC_DOCS; i++) {
        snprintf(path, sizeof(path), "/doc%d", i);
        assert_int_equal(dmcp_server_add_static(s, path, "text/plain", "d"), DMCP_OK);
    }
    assert_int_equal(dmcp_server_add_static(s, "/one-too-many", "text/plain", "d"), DMCP_E_TOO_LARGE);
    dmcp_validator *v = static_validator();
    dmcp_authorizer *az;
    assert_int_equal(dmcp_protect_authorizer_new(v, NULL, &az, &err), DMCP_OK);
    assert_int_equal(dmcp_server_set_authorizer(s, az), DMCP_OK);
    assert_int_equal(dmcp_server_set_listen(s, "127.0.0.1", 0), DMCP_OK);
    assert_int_equal(dmcp_server_start(s, &err), DMCP_OK);
    unsigned port = dmcp_server_port(s);
    assert_int_equal(dmcp_server_add_static(s, "/late", "text/plain", "d"), DMCP_E_STATE);

    get(port, "/keys", "127.0.0.1", &x); /* no credentials needed */
    assert_int_equal(status_of(&x), 200);
    assert_true(has_header(&x, "Content-Type: application/json"));
    assert_true(has_header(&x, "Cache-Control: public, max-age=300"));
    assert_non_null(strstr(x.data, "\r\n\r\n{\"keys\":[]}"));
    raw_to(port, "HEAD /keys HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &x, 3000);
    assert_int_equal(status_of(&x), 200);
    assert_null(strstr(x.data, "{\"keys\""));
    raw_to(port, "POST /keys HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", &x, 3000);
    assert_int_equal(status_of(&x), 405);
    assert_true(has_header(&x, "Allow: GET, HEAD"));
    get(port, "/keys", "10.1.2.3", &x); /* after the Host check, unlike the health probes */
    assert_int_equal(status_of(&x), 403);
    get(port, "/keys/x", "127.0.0.1", &x); /* exact paths only */
    assert_int_equal(status_of(&x), 404);
    get(port, "/doc3", "127.0.0.1", &x);
    assert_int_equal(status_of(&x), 200);
    get(port, "/mcp", "127.0.0.1", &x); /* the endpoint still authenticates */
    assert_int_equal(status_of(&x), 401);
    dmcp_server_free(s);
    dmcp_validator_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validator_health),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_static_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
