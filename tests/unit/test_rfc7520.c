/*
 * RFC 7520 (JOSE cookbook) §4.1 RS256, §4.2 PS384, §4.3 ES512 and the RFC 8037 §A.4 Ed25519
 * example, through split + import of the public key + verify. §4.4 (HS256) is unrepresentable
 * and refused. Tampered payloads fail. Exit 77 when the vectors are absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "auth/jose.h"

static const char *g_dir;

static json_t *load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/jose-cookbook/%s", g_dir, name);
    json_t *j = json_load_file(path, 0, NULL);
    if (j == NULL) {
        fail_msg("cannot load %s", path);
    }
    return j;
}

/* The published key minus its private members: what a JWKS would carry. */
static json_t *public_part(const json_t *key)
{
    json_t *k = json_deep_copy(key);
    static const char *priv[] = {"d", "p", "q", "dp", "dq", "qi"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(priv); i++) {
        json_object_del(k, priv[i]);
    }
    return k;
}

static void check_example(const char *file, const char *want_alg)
{
    json_t *doc = load(file);
    const json_t *key = json_object_get(json_object_get(doc, "input"), "key");
    const char *payload = json_string_value(json_object_get(json_object_get(doc, "input"), "payload"));
    const char *compact = json_string_value(json_object_get(json_object_get(doc, "output"), "compact"));
    assert_non_null(key);
    assert_non_null(payload);
    assert_non_null(compact);

    /* As published (with the private key members) the JWK is refused. */
    dmcp__jwk k;
    assert_int_equal(dmcp__jwk_import(key, &k, NULL), DMCP_E_INVALID_ARG);
    json_t *pub = public_part(key);
    assert_int_equal(dmcp__jwk_import(pub, &k, NULL), DMCP_OK);
    json_decref(pub);

    dmcp__jws_parts p;
    assert_int_equal(dmcp__jws_split(compact, strlen(compact), &p, NULL), DMCP_OK);
    json_t *h = json_loadb((const char *)p.header, p.header_len, 0, NULL);
    const char *alg_s = json_string_value(json_object_get(h, "alg"));
    assert_non_null(alg_s);
    assert_string_equal(alg_s, want_alg);
    dmcp__alg alg = dmcp__alg_from_name(alg_s, strlen(alg_s));
    assert_int_not_equal(alg, DMCP__ALG_UNKNOWN);
    assert_int_equal(p.payload_len, strlen(payload));
    assert_memory_equal(p.payload, payload, p.payload_len);
    assert_int_equal(dmcp__sig_verify(&k, alg, (const unsigned char *)p.signing_input,
                                      p.signing_input_len, p.sig, p.sig_len), DMCP_OK);
    /* Selection through a one-key set by the header's kid (when present). */
    const json_t *kid = json_object_get(h, "kid");
    dmcp__jwks set = {&k, 1};
    assert_ptr_equal(dmcp__jwks_select(&set, json_string_value(kid),
                                       kid ? json_string_length(kid) : 0, alg, NULL), &k);
    json_decref(h);
    dmcp__jws_parts_clear(&p);

    /* Tampered payload: one character of the payload segment changed (stays canonical). */
    char *t = strdup(compact);
    assert_non_null(t);
    char *d1 = strchr(t, '.');
    d1[2] = d1[2] == 'X' ? 'Y' : 'X';
    assert_int_equal(dmcp__jws_split(t, strlen(t), &p, NULL), DMCP_OK);
    assert_int_equal(dmcp__sig_verify(&k, alg, (const unsigned char *)p.signing_input,
                                      p.signing_input_len, p.sig, p.sig_len),
                     DMCP_E_INVALID_TOKEN);
    dmcp__jws_parts_clear(&p);
    free(t);
    dmcp__jwk_clear(&k);
    json_decref(doc);
}

static void test_4_1_rs256(void **state)
{
    (void)state;
    check_example("jws_4_1.rsa_v15_signature.json", "RS256");
}

static void test_4_2_ps384(void **state)
{
    (void)state;
    check_example("jws_4_2.rsa-pss_signature.json", "PS384");
}

static void test_4_3_es512(void **state)
{
    (void)state;
    check_example("jws_4_3.ecdsa_signature.json", "ES512");
}

static void test_rfc8037_ed25519(void **state)
{
    (void)state;
    check_example("curve25519_jws.json", "EdDSA");
}

static void test_4_4_hmac_refused(void **state)
{
    (void)state;
    json_t *doc = load("jws_4_4.hmac-sha2_integrity_protection.json");
    const json_t *key = json_object_get(json_object_get(doc, "input"), "key");
    const char *compact = json_string_value(json_object_get(json_object_get(doc, "output"), "compact"));
    dmcp__jwk k;
    /* The symmetric key cannot be imported, with or without its secret. */
    assert_int_equal(dmcp__jwk_import(key, &k, NULL), DMCP_E_INVALID_ARG);
    json_t *no_k = json_deep_copy(key);
    json_object_del(no_k, "k");
    assert_int_equal(dmcp__jwk_import(no_k, &k, NULL), DMCP_E_INVALID_ARG);
    json_decref(no_k);
    /* The token splits, but its alg is not one we can represent. */
    dmcp__jws_parts p;
    assert_int_equal(dmcp__jws_split(compact, strlen(compact), &p, NULL), DMCP_OK);
    json_t *h = json_loadb((const char *)p.header, p.header_len, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    assert_string_equal(alg, "HS256");
    assert_int_equal(dmcp__alg_from_name(alg, strlen(alg)), DMCP__ALG_UNKNOWN);
    dmcp_reason why;
    dmcp__jwks empty = {NULL, 0};
    assert_null(dmcp__jwks_select(&empty, NULL, 0, DMCP__ALG_UNKNOWN, &why));
    assert_int_equal(why, DMCP_REASON_ALGORITHM);
    json_decref(h);
    dmcp__jws_parts_clear(&p);
    json_decref(doc);
}

int main(void)
{
    g_dir = dmcp_test_vectors_dir();
    char probe[1024];
    if (g_dir == NULL) {
        return DMCP_TEST_SKIP;
    }
    snprintf(probe, sizeof(probe), "%s/jose-cookbook/jws_4_1.rsa_v15_signature.json", g_dir);
    FILE *f = fopen(probe, "rb");
    if (f == NULL) {
        return DMCP_TEST_SKIP;
    }
    fclose(f);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_4_1_rs256),
        cmocka_unit_test(test_4_2_ps384),
        cmocka_unit_test(test_4_3_es512),
        cmocka_unit_test(test_rfc8037_ed25519),
        cmocka_unit_test(test_4_4_hmac_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
