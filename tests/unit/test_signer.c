/*
 * dmcp/signer.h: JWTs signed with our own key verify with our own validator fed the signer's
 * JWKS (ES256 generated, ES256 and RS256 from PEM); a changed byte does not; kid is the RFC 7638
 * thumbprint computed here independently; the same PEM gives the same kid in two signers; each
 * refused key (RSA < 2048, P-384, Ed25519, encrypted, garbage, oversize, missing file) is
 * refused with a message free of key material; bad arguments; signing from several threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "testutil.h"

#include "auth/jose.h"
#include "dmcp/auth.h"
#include "dmcp/signer.h"

#define ISS "https://gateway.example/mcp"
#define AUD "http://upstream.example/mcp"

static char *pem_of(EVP_PKEY *k, bool encrypted)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    int ok = encrypted ? PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_128_cbc(), "pw", 2, NULL, NULL)
                       : PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
    assert_int_equal(ok, 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(bio);
    EVP_PKEY_free(k);
    return out;
}

static dmcp_validator *validator_for(const dmcp_signer *s, const char *alg)
{
    char *jwks = dmcp_signer_jwks_json(s);
    assert_non_null(jwks);
    dmcp_validator_config *cfg = NULL;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_jwks_json(cfg, jwks), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_issuer(cfg, ISS), DMCP_OK);
    assert_int_equal(dmcp_validator_config_add_audience(cfg, AUD), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_algorithms(cfg, alg), DMCP_OK);
    dmcp_validator *v = NULL;
    dmcp_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmcp_validator_new(cfg, &v, &err), DMCP_OK);
    dmcp_validator_config_free(cfg);
    free(jwks);
    return v;
}

static char *sign_for(const dmcp_signer *s, const char *sub)
{
    json_int_t now = (json_int_t)time(NULL);
    json_t *claims = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "iss", ISS, "aud", AUD, "sub", sub,
                               "scope", "tools.call calendar.read", "iat", now, "exp", now + 60,
                               "jti", "j-1");
    char *jwt = NULL;
    assert_int_equal(dmcp_signer_sign(s, claims, "JWT", &jwt), DMCP_OK);
    json_decref(claims);
    return jwt;
}

static void expect_valid(dmcp_validator *v, const char *jwt, const char *sub)
{
    dmcp_token *t = NULL;
    dmcp_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmcp_validator_validate(v, jwt, strlen(jwt), &t, &err), DMCP_OK);
    assert_string_equal(dmcp_token_subject(t), sub);
    assert_true(dmcp_token_has_scope(t, "calendar.read"));
    dmcp_token_free(t);
}

static void expect_invalid(dmcp_validator *v, const char *jwt)
{
    dmcp_token *t = NULL;
    dmcp_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmcp_validator_validate(v, jwt, strlen(jwt), &t, &err), DMCP_E_INVALID_TOKEN);
    assert_null(t);
}

/* RFC 7638 §3: SHA-256 over the required members, sorted, no whitespace. */
static void check_kid(const dmcp_signer *s)
{
    char *jwks = dmcp_signer_jwks_json(s);
    json_t *doc = json_loads(jwks, 0, NULL);
    free(jwks);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "keys")), 1);
    json_t *k = json_array_get(json_object_get(doc, "keys"), 0);
    const char *kty = json_string_value(json_object_get(k, "kty"));
    json_t *req = strcmp(kty, "EC") == 0
                      ? json_pack("{s:O,s:O,s:O,s:O}", "crv", json_object_get(k, "crv"), "kty",
                                  json_object_get(k, "kty"), "x", json_object_get(k, "x"), "y",
                                  json_object_get(k, "y"))
                      : json_pack("{s:O,s:O,s:O}", "e", json_object_get(k, "e"), "kty",
                                  json_object_get(k, "kty"), "n", json_object_get(k, "n"));
    char *canon = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char md[32];
    unsigned int mdlen = 0;
    assert_int_equal(EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL), 1);
    char want[64];
    dmcp__b64url_encode(md, mdlen, want);
    assert_string_equal(dmcp_signer_kid(s), want);
    assert_string_equal(json_string_value(json_object_get(k, "kid")), want);
    assert_string_equal(json_string_value(json_object_get(k, "alg")), dmcp_signer_alg(s));
    assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
    /* never a private member */
    const char *priv[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
    for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
        assert_null(json_object_get(k, priv[i]));
    }
    free(canon);
    json_decref(req);
    json_decref(doc);
}

static void test_generated_es256(void **state)
{
    (void)state;
    dmcp_signer *s = NULL;
    assert_int_equal(dmcp_signer_new(NULL, &s, NULL), DMCP_OK);
    assert_string_equal(dmcp_signer_alg(s), "ES256");
    check_kid(s);
    dmcp_validator *v = validator_for(s, "ES256");
    char *jwt = sign_for(s, "U-alice");
    expect_valid(v, jwt, "U-alice");

    /* the header is exactly alg/typ/kid, and the signature is raw r||s (64 bytes) */
    dmcp__jws_parts parts;
    dmcp_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmcp__jws_split(jwt, strlen(jwt), &parts, &err), DMCP_OK);
    assert_int_equal(parts.sig_len, 64);
    json_t *h = json_loadb((const char *)parts.header, parts.header_len, 0, NULL);
    assert_int_equal(json_object_size(h), 3);
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), dmcp_signer_kid(s));
    json_decref(h);
    dmcp__jws_parts_clear(&parts);

    /* one changed character of the payload, then of the signature */
    char *dot = strchr(jwt, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    expect_invalid(v, jwt);
    free(jwt);
    jwt = sign_for(s, "U-alice");
    size_t n = strlen(jwt);
    jwt[n - 5] = jwt[n - 5] == 'A' ? 'B' : 'A';
    expect_invalid(v, jwt);
    free(jwt);

    /* another generated key: its tokens do not verify with the first key's JWKS */
    dmcp_signer *other = NULL;
    assert_int_equal(dmcp_signer_new(NULL, &other, NULL), DMCP_OK);
    assert_string_not_equal(dmcp_signer_kid(other), dmcp_signer_kid(s));
    jwt = sign_for(other, "U-alice");
    expect_invalid(v, jwt);
    free(jwt);
    dmcp_signer_free(other);
    dmcp_validator_free(v);
    dmcp_signer_free(s);
}

static void pem_roundtrip(EVP_PKEY *k, const char *alg)
{
    char *pem = pem_of(k, false);
    dmcp_signer *a = NULL, *b = NULL;
    assert_int_equal(dmcp_signer_new(pem, &a, NULL), DMCP_OK);
    assert_int_equal(dmcp_signer_new(pem, &b, NULL), DMCP_OK);
    assert_string_equal(dmcp_signer_alg(a), alg);
    assert_string_equal(dmcp_signer_kid(a), dmcp_signer_kid(b)); /* replicas agree */
    check_kid(a);
    dmcp_validator *v = validator_for(b, alg); /* a's tokens, b's JWKS */
    char *jwt = sign_for(a, "U-bob");
    expect_valid(v, jwt, "U-bob");
    free(jwt);

    /* from a file, too */
    char path[] = "/tmp/dmcp-signer-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
    close(fd);
    dmcp_signer *c = NULL;
    assert_int_equal(dmcp_signer_new_file(path, &c, NULL), DMCP_OK);
    assert_string_equal(dmcp_signer_kid(c), dmcp_signer_kid(a));
    unlink(path);
    dmcp_signer_free(c);
    dmcp_validator_free(v);
    dmcp_signer_free(a);
    dmcp_signer_free(b);
    free(pem);
}

static void test_pem_es256(void **state)
{
    (void)state;
    pem_roundtrip(EVP_EC_gen("P-256"), "ES256");
}

static void test_pem_rs256(void **state)
{
    (void)state;
    pem_roundtrip(EVP_RSA_gen(2048), "RS256");
}

static void expect_refused(const char *pem, dmcp_status want, const char *needle)
{
    dmcp_signer *s = (dmcp_signer *)1;
    dmcp_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmcp_signer_new(pem, &s, &err), want);
    assert_null(s);
    assert_non_null(strstr(err.message, needle));
    assert_null(strstr(err.message, "PRIVATE"));
    assert_null(strstr(err.message, "MII"));
}

static void test_refused_keys(void **state)
{
    (void)state;
    char *p;
    p = pem_of(EVP_RSA_gen(1024), false);
    expect_refused(p, DMCP_E_CONFIG, "2048 to 8192");
    free(p);
    p = pem_of(EVP_EC_gen("P-384"), false);
    expect_refused(p, DMCP_E_CONFIG, "P-256");
    free(p);
    p = pem_of(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), false);
    expect_refused(p, DMCP_E_CONFIG, "only EC P-256");
    free(p);
    p = pem_of(EVP_EC_gen("P-256"), true); /* encrypted: refused, never prompts */
    expect_refused(p, DMCP_E_CONFIG, "unencrypted PEM");
    free(p);
    expect_refused("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
                   DMCP_E_CONFIG, "unencrypted PEM");
    expect_refused("", DMCP_E_CONFIG, "unencrypted PEM");
    char *big = malloc(DMCP_MAX_SIGNER_PEM_BYTES + 2);
    memset(big, 'A', DMCP_MAX_SIGNER_PEM_BYTES + 1);
    big[DMCP_MAX_SIGNER_PEM_BYTES + 1] = '\0';
    expect_refused(big, DMCP_E_TOO_LARGE, "larger than");
    free(big);

    dmcp_signer *s = NULL;
    dmcp_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmcp_signer_new_file("/nonexistent/key.pem", &s, &err), DMCP_E_IO);
    assert_null(s);
    assert_int_equal(dmcp_signer_new(NULL, NULL, NULL), DMCP_E_INVALID_ARG);
}

static void test_sign_args(void **state)
{
    (void)state;
    dmcp_signer *s = NULL;
    assert_int_equal(dmcp_signer_new(NULL, &s, NULL), DMCP_OK);
    char *jwt = (char *)1;
    json_t *arr = json_array();
    assert_int_equal(dmcp_signer_sign(s, arr, "JWT", &jwt), DMCP_E_INVALID_ARG);
    assert_null(jwt);
    json_t *obj = json_pack("{s:s}", "sub", "x");
    assert_int_equal(dmcp_signer_sign(s, obj, "a\"b", &jwt), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_signer_sign(NULL, obj, "JWT", &jwt), DMCP_E_INVALID_ARG);
    /* typ NULL: no typ member */
    assert_int_equal(dmcp_signer_sign(s, obj, NULL, &jwt), DMCP_OK);
    dmcp__jws_parts parts;
    dmcp_error err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(dmcp__jws_split(jwt, strlen(jwt), &parts, &err), DMCP_OK);
    json_t *h = json_loadb((const char *)parts.header, parts.header_len, 0, NULL);
    assert_null(json_object_get(h, "typ"));
    json_decref(h);
    dmcp__jws_parts_clear(&parts);
    free(jwt);
    /* claims over the cap */
    char *pad = malloc(DMCP_MAX_SIGNER_CLAIMS_BYTES + 1);
    memset(pad, 'x', DMCP_MAX_SIGNER_CLAIMS_BYTES);
    pad[DMCP_MAX_SIGNER_CLAIMS_BYTES] = '\0';
    json_object_set_new(obj, "pad", json_string(pad));
    assert_int_equal(dmcp_signer_sign(s, obj, "JWT", &jwt), DMCP_E_TOO_LARGE);
    assert_null(jwt);
    free(pad);
    json_decref(obj);
    json_decref(arr);
    dmcp_signer_free(s);
    dmcp_signer_free(NULL);
}

typedef struct worker {
    const dmcp_signer *s;
    dmcp_validator *v;
    int ok;
} worker;

static void *sign_many(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 200; i++) {
        json_t *c = json_pack("{s:s,s:s,s:s,s:I}", "iss", ISS, "aud", AUD, "sub", "U-t", "exp",
                              (json_int_t)time(NULL) + 60);
        char *jwt = NULL;
        dmcp_token *t = NULL;
        if (dmcp_signer_sign(w->s, c, "JWT", &jwt) == DMCP_OK &&
            dmcp_validator_validate(w->v, jwt, strlen(jwt), &t, NULL) == DMCP_OK) {
            w->ok++;
        }
        dmcp_token_free(t);
        free(jwt);
        json_decref(c);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    dmcp_signer *s = NULL;
    assert_int_equal(dmcp_signer_new(NULL, &s, NULL), DMCP_OK);
    dmcp_validator *v = validator_for(s, "ES256");
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){s, v, 0};
        assert_int_equal(pthread_create(&th[i], NULL, sign_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 200);
    }
    dmcp_validator_free(v);
    dmcp_signer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_es256), cmocka_unit_test(test_pem_es256),
        cmocka_unit_test(test_pem_rs256),       cmocka_unit_test(test_refused_keys),
        cmocka_unit_test(test_sign_args),       cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
