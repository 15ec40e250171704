/* End to end with a static key set: tokens minted for all ten algorithms, the result
 * accessors, and the validator-level configuration rules. */
#include <pthread.h>

#include "../validator/vtest.h"

static const char *const ALGS[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                   "PS512", "ES256", "ES384", "ES512", "EdDSA"};

static void test_all_algs(void **state)
{
    (void)state;
    for (size_t i = 0; i < DMCP__ARRAY_LEN(ALGS); i++) {
        const char *alg = ALGS[i];
        char *jwks;
        dmcp_mint_key *k = vt_key(alg, "k1", alg, &jwks);
        int64_t now = VT_NOW;
        dmcp_validator *v = vt_validator(vt_config(jwks, &now));
        char *claims = vt_claims("\"azp\":\"client-9\",\"dct\":\"T1\"");
        char *tok = dmcp_mint_sign_simple(k, alg, "k1", claims);
        assert_non_null(tok);

        dmcp_token *t = NULL;
        dmcp_error err;
        assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &t, &err), DMCP_OK);
        assert_string_equal(dmcp_token_user_id(t), "user-1");
        assert_string_equal(dmcp_token_subject(t), "user-1");
        assert_string_equal(dmcp_token_issuer(t), VT_ISS);
        assert_string_equal(dmcp_token_client_id(t), "client-9");
        assert_string_equal(dmcp_token_tenant(t), "T1");
        assert_int_equal(dmcp_token_expiry(t), VT_NOW + 600);
        size_t n = 0;
        const char *const *sc = dmcp_token_scopes(t, &n);
        assert_int_equal(n, 2);
        assert_string_equal(sc[0], "read");
        assert_string_equal(sc[1], "write");
        assert_true(dmcp_token_has_scope(t, "write"));
        assert_false(dmcp_token_has_scope(t, "admin"));
        size_t rl = 0;
        assert_string_equal(dmcp_token_raw(t, &rl), tok);
        assert_int_equal(rl, strlen(tok));
        const json_t *cl = dmcp_token_claims(t);
        assert_non_null(cl);
        assert_string_equal(json_string_value(json_object_get(cl, "sub")), "user-1");
        assert_ptr_equal(dmcp_token_claims(t), cl); /* built once */
        dmcp_token_free(t);

        /* A changed payload byte breaks the signature. */
        char *dot = strchr(tok, '.');
        dot[3] = dot[3] == 'A' ? 'B' : 'A';
        VT_REJECT(v, tok, DMCP_REASON_SIGNATURE);

        free(tok);
        free(claims);
        free(jwks);
        dmcp_mint_key_free(k);
        dmcp_validator_free(v);
    }
}

static void test_identity_rules(void **state)
{
    (void)state;
    char *jwks;
    dmcp_mint_key *k = vt_key("ES256", "k1", "ES256", &jwks);
    int64_t now = VT_NOW;
    dmcp_validator *v = vt_validator(vt_config(jwks, &now));

    /* dsub wins over sub; client_id when no azp; tenantId when no dct; scopes array. */
    char *claims = vt_claims("\"dsub\":\"descope-user\",\"client_id\":\"c2\","
                             "\"tenantId\":\"T2\"");
    /* vt_claims has a scope string; build one without it for the array case below. */
    char *tok = dmcp_mint_sign_simple(k, "ES256", "k1", claims);
    dmcp_token *t = NULL;
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &t, NULL), DMCP_OK);
    assert_string_equal(dmcp_token_user_id(t), "descope-user");
    assert_string_equal(dmcp_token_subject(t), "user-1");
    assert_string_equal(dmcp_token_client_id(t), "c2");
    assert_string_equal(dmcp_token_tenant(t), "T2");
    char *uid = NULL;
    assert_int_equal(dmcp_validator_validate_user_id(v, tok, strlen(tok), &uid, NULL), DMCP_OK);
    assert_string_equal(uid, "descope-user");
    dmcp_free(uid);
    dmcp_token_free(t);
    free(tok);
    free(claims);

    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"iss\":\"%s\",\"aud\":[\"x\",\"%s\"],\"sub\":\"u\",\"exp\":%lld,"
             "\"scp\":[\"a\",\"\",\"b\"]}",
             VT_ISS, VT_AUD, (long long)(VT_NOW + 60));
    tok = dmcp_mint_sign_simple(k, "ES256", "k1", buf);
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &t, NULL), DMCP_OK);
    size_t n;
    const char *const *sc = dmcp_token_scopes(t, &n);
    assert_int_equal(n, 2);
    assert_string_equal(sc[0], "a");
    assert_string_equal(sc[1], "b");
    assert_null(dmcp_token_tenant(t));
    assert_null(dmcp_token_client_id(t));
    dmcp_token_free(t);
    free(tok);

    /* A spaced scope string with empty pieces. */
    snprintf(buf, sizeof(buf),
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"scope\":\"  a   b \"}", VT_ISS, VT_AUD,
             (long long)(VT_NOW + 60));
    tok = dmcp_mint_sign_simple(k, "ES256", "k1", buf);
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &t, NULL), DMCP_OK);
    sc = dmcp_token_scopes(t, &n);
    assert_int_equal(n, 2);
    assert_string_equal(sc[0], "a");
    assert_string_equal(sc[1], "b");
    assert_null(dmcp_token_user_id(t));
    dmcp_token_free(t);
    /* No sub: validate_user_id refuses. */
    char *u2 = NULL;
    dmcp_error err;
    assert_int_equal(dmcp_validator_validate_user_id(v, tok, strlen(tok), &u2, &err),
                     DMCP_E_INVALID_TOKEN);
    assert_null(u2);
    free(tok);

    /* Over DMCP_MAX_SCOPES scopes is refused. */
    char *big = malloc(8192);
    size_t off = (size_t)snprintf(big, 8192,
                                  "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,"
                                  "\"scope\":\"",
                                  VT_ISS, VT_AUD, (long long)(VT_NOW + 60));
    for (int i = 0; i <= DMCP_MAX_SCOPES; i++) {
        off += (size_t)snprintf(big + off, 8192 - off, "s%d ", i);
    }
    snprintf(big + off, 8192 - off, "\"}");
    tok = dmcp_mint_sign_simple(k, "ES256", "k1", big);
    VT_REJECT(v, tok, DMCP_REASON_CLAIM);
    free(tok);
    free(big);

    free(jwks);
    dmcp_mint_key_free(k);
    dmcp_validator_free(v);
}

static void test_cache_hit_same_token(void **state)
{
    (void)state;
    char *jwks;
    dmcp_mint_key *k = vt_key("EdDSA", "k1", "EdDSA", &jwks);
    int64_t now = VT_NOW;
    dmcp_validator *v = vt_validator(vt_config(jwks, &now));
    char *claims = vt_claims("");
    char *tok = dmcp_mint_sign_simple(k, "EdDSA", "k1", claims);
    dmcp_token *a = NULL, *b = NULL;
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &a, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &b, NULL), DMCP_OK);
    assert_ptr_equal(a, b); /* the same immutable token, one more reference */
    assert_ptr_equal(dmcp_token_ref(a), a);
    dmcp_token_free(a);
    dmcp_token_free(a);
    assert_string_equal(dmcp_token_user_id(b), "user-1");
    dmcp_token_free(b);
    /* Past exp + leeway the cached entry is not served: fresh validation refuses it. */
    now = VT_NOW + 600 + 5;
    VT_REJECT(v, tok, DMCP_REASON_EXPIRED);
    free(tok);
    free(claims);
    free(jwks);
    dmcp_mint_key_free(k);
    dmcp_validator_free(v);
}

static void test_config_rules(void **state)
{
    (void)state;
    char *jwks;
    dmcp_mint_key *k = vt_key("ES256", "k1", NULL, &jwks);
    dmcp_validator_config *cfg;
    dmcp_validator *v = NULL;
    dmcp_error err;
    int64_t now = VT_NOW;

    /* Generic issuer, no audience: refused unless the check is switched off. */
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, VT_ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_E_CONFIG);
    assert_null(v);
    assert_int_equal(dmcp_validator_config_disable_audience_check(cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_clock(cfg, vt_clock, &now), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_OK);
    assert_string_equal(dmcp_validator_issuer(v), VT_ISS);
    assert_null(dmcp_validator_project_id(v));
    assert_null(dmcp_validator_resource(v));
    /* With the check off, a token without aud passes. */
    char buf[256];
    snprintf(buf, sizeof(buf), "{\"iss\":\"%s\",\"exp\":%lld}", VT_ISS, (long long)(VT_NOW + 60));
    char *tok = dmcp_mint_sign_simple(k, "ES256", "k1", buf);
    VT_ACCEPT(v, tok);
    free(tok);
    dmcp_validator_free(v);
    v = NULL;
    dmcp_validator_config_free(cfg);

    /* No issuer at all, or no key source: configuration errors. */
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    assert_int_equal(dmcp_validator_config_disable_audience_check(cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_E_CONFIG);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, VT_ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_E_CONFIG);
    /* A key set without a usable key, and garbage. */
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, "{\"keys\":[]}"), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_E_CONFIG);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, "not json"), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_E_CONFIG);
    assert_int_equal(dmcp_validator_config_set_jwks_file(cfg, "/nonexistent/jwks.json"), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_E_CONFIG); /* both set */
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, NULL), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_E_CONFIG); /* missing file */
    assert_null(v);
    dmcp_validator_config_free(cfg);

    /* A Descope issuer with no audience accepts the project id as audience and the
     * Descope issuer forms of the project. */
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(
        dmcp_validator_config_set_issuer(cfg, "https://api.descope.com/v1/apps/agentic/P2abc/MS9"),
        DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_clock(cfg, vt_clock, &now), DMCP_OK);
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_OK);
    dmcp_validator_config_free(cfg);
    assert_string_equal(dmcp_validator_project_id(v), "P2abc");
    assert_string_equal(dmcp_validator_origin(v), "https://api.descope.com");
    snprintf(buf, sizeof(buf),
             "{\"iss\":\"https://api.descope.com/v1/apps/P2abc\",\"aud\":[\"P2abc\"],"
             "\"sub\":\"u\",\"exp\":%lld}",
             (long long)(VT_NOW + 60));
    tok = dmcp_mint_sign_simple(k, "ES256", "k1", buf);
    VT_ACCEPT(v, tok);
    free(tok);
    snprintf(buf, sizeof(buf),
             "{\"iss\":\"https://api.descope.com/v1/apps/P2abc\",\"aud\":\"Pother\","
             "\"sub\":\"u\",\"exp\":%lld}",
             (long long)(VT_NOW + 60));
    tok = dmcp_mint_sign_simple(k, "ES256", "k1", buf);
    VT_REJECT(v, tok, DMCP_REASON_AUDIENCE);
    free(tok);
    dmcp_validator_free(v);

    free(jwks);
    dmcp_mint_key_free(k);
}

/* One validator shared by 4 threads: every validation of distinct and repeated tokens
 * succeeds (TSan/ASan builds check the races). */
typedef struct th_arg {
    dmcp_validator *v;
    char **toks;
    size_t n;
    int ok;
} th_arg;

static void *th_main(void *p)
{
    th_arg *a = p;
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < a->n; i++) {
            dmcp_token *t = NULL;
            if (dmcp_validator_validate(a->v, a->toks[i], strlen(a->toks[i]), &t, NULL) ==
                DMCP_OK) {
                a->ok++;
                (void)dmcp_token_claims(t);
            }
            dmcp_token_free(t);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    char *jwks;
    dmcp_mint_key *k = vt_key("ES256", "k1", "ES256", &jwks);
    int64_t now = VT_NOW;
    dmcp_validator_config *cfg = vt_config(jwks, &now);
    assert_int_equal(dmcp_validator_config_set_token_cache_size(cfg, 16), DMCP_OK);
    dmcp_validator *v = vt_validator(cfg);
    char *toks[40];
    for (size_t i = 0; i < 40; i++) {
        char extra[64];
        snprintf(extra, sizeof(extra), "\"jti\":\"%zu\"", i);
        char *c = vt_claims(extra);
        toks[i] = dmcp_mint_sign_simple(k, "ES256", "k1", c);
        free(c);
    }
    pthread_t th[4];
    th_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (th_arg){v, toks, 40, 0};
        assert_int_equal(pthread_create(&th[i], NULL, th_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 20 * 40);
    }
    for (size_t i = 0; i < 40; i++) {
        free(toks[i]);
    }
    free(jwks);
    dmcp_mint_key_free(k);
    dmcp_validator_free(v);
}

/* RFC 7515 Appendix A.3 (ES256): an external token and key, end to end. Its payload has CRLFs
 * between members and a custom claim; exp is 1300819380. */
static void test_rfc7515_a3(void **state)
{
    (void)state;
    const char *jwks = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                       "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                       "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";
    const char *tok =
        "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
        "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djx"
        "La8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    int64_t now = 1300819380 - 100;
    dmcp_validator_config *cfg = NULL;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, "joe"), DMCP_OK);
    assert_int_equal(dmcp_validator_config_disable_audience_check(cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_clock(cfg, vt_clock, &now), DMCP_OK);
    dmcp_validator *v = vt_validator(cfg);
    dmcp_token *t = NULL;
    assert_int_equal(dmcp_validator_validate(v, tok, strlen(tok), &t, NULL), DMCP_OK);
    assert_string_equal(dmcp_token_issuer(t), "joe");
    assert_int_equal(dmcp_token_expiry(t), 1300819380);
    assert_true(json_is_true(json_object_get(dmcp_token_claims(t), "http://example.com/is_root")));
    dmcp_token_free(t);
    now = 1300819380 + 5;
    VT_REJECT(v, tok, DMCP_REASON_EXPIRED);
    dmcp_validator_free(v);
}

static void test_bad_args(void **state)
{
    (void)state;
    dmcp_token *t = (dmcp_token *)(uintptr_t)1;
    assert_int_equal(dmcp_validator_validate(NULL, "a", 1, &t, NULL), DMCP_E_INVALID_ARG);
    assert_null(t);
    assert_int_equal(dmcp_validator_new(NULL, NULL, NULL), DMCP_E_INVALID_ARG);
    dmcp_validator_free(NULL);
    dmcp_token_free(NULL);
    assert_null(dmcp_token_ref(NULL));
    assert_null(dmcp_token_claims(NULL));
    assert_null(dmcp_token_user_id(NULL));
    size_t n = 9;
    assert_null(dmcp_token_scopes(NULL, &n));
    assert_int_equal(n, 0);
    assert_null(dmcp_validator_issuer(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_algs),
        cmocka_unit_test(test_identity_rules),
        cmocka_unit_test(test_cache_hit_same_token),
        cmocka_unit_test(test_config_rules),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_rfc7515_a3),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
