/*
 * The adversarial suite: every attack on a JWT validator we know of (RFC 8725 §2), each
 * asserting DMCP_E_INVALID_TOKEN and the precise reason.
 */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../validator/vtest.h"

typedef struct fx {
    dmcp_mint_key *rsa;  /* kid "r1", JWK alg RS256 */
    dmcp_mint_key *ec;   /* kid "e1", JWK alg ES256 */
    dmcp_mint_key *ec2;  /* kid "e2", JWK without alg */
    dmcp_mint_key *evil; /* attacker's key, not in the set */
    char *rsa_jwk;
    char *jwks;
    int64_t now;
    dmcp_validator *v;
} fx;

static fx F;

static int setup(void **state)
{
    (void)state;
    F.rsa = dmcp_mint_key_new("RS256");
    F.ec = dmcp_mint_key_new("ES256");
    F.ec2 = dmcp_mint_key_new("ES256");
    F.evil = dmcp_mint_key_new("ES256");
    F.rsa_jwk = dmcp_mint_key_jwk(F.rsa, "r1", "RS256");
    char *e1 = dmcp_mint_key_jwk(F.ec, "e1", "ES256");
    char *e2 = dmcp_mint_key_jwk(F.ec2, "e2", NULL);
    const char *all[3] = {F.rsa_jwk, e1, e2};
    F.jwks = dmcp_mint_jwks(all, 3);
    free(e1);
    free(e2);
    F.now = VT_NOW;
    F.v = vt_validator(vt_config(F.jwks, &F.now));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dmcp_validator_free(F.v);
    dmcp_mint_key_free(F.rsa);
    dmcp_mint_key_free(F.ec);
    dmcp_mint_key_free(F.ec2);
    dmcp_mint_key_free(F.evil);
    free(F.rsa_jwk);
    free(F.jwks);
    return 0;
}

static char *b64(const char *s)
{
    return dmcp_mint_b64url(s, strlen(s));
}

/* "<b64 h>.<b64 p>.<sig b64 text>" with a literal signature segment. */
static char *assemble(const char *h, const char *p, const char *sig_b64)
{
    char *hb = b64(h), *pb = b64(p);
    size_t n = strlen(hb) + strlen(pb) + strlen(sig_b64) + 3;
    char *t = malloc(n);
    snprintf(t, n, "%s.%s.%s", hb, pb, sig_b64);
    free(hb);
    free(pb);
    return t;
}

static void reject_signed(dmcp_mint_key *k, const char *alg, const char *h, const char *p,
                          dmcp_reason why)
{
    char *t = dmcp_mint_sign(k, alg, h, p);
    assert_non_null(t);
    VT_REJECT(F.v, t, why);
    free(t);
}

static void test_baseline_accepts(void **state)
{
    (void)state;
    char *p = vt_claims("");
    char *t = dmcp_mint_sign(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", p);
    VT_ACCEPT(F.v, t);
    free(t);
    t = dmcp_mint_sign(F.rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"at+jwt\"}", p);
    VT_ACCEPT(F.v, t);
    free(t);
    /* typ is case-insensitive and may carry "application/" (RFC 7515 §4.1.9). */
    t = dmcp_mint_sign(F.ec, "ES256",
                       "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"application/AT+JWT\"}", p);
    VT_ACCEPT(F.v, t);
    free(t);
    free(p);
}

static void test_alg_none(void **state)
{
    (void)state;
    char *p = vt_claims("");
    const char *names[] = {"none", "None", "NONE", "nOnE"};
    for (size_t i = 0; i < 4; i++) {
        char h[96];
        snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"e1\"}", names[i]);
        char *t = assemble(h, p, ""); /* unsecured JWS: empty signature */
        VT_REJECT(F.v, t, DMCP_REASON_ALGORITHM);
        free(t);
        t = assemble(h, p, "AAAA");
        VT_REJECT(F.v, t, DMCP_REASON_ALGORITHM);
        free(t);
    }
    /* alg missing, not a string, or unknown. */
    char *t = assemble("{\"kid\":\"e1\"}", p, "AAAA");
    VT_REJECT(F.v, t, DMCP_REASON_ALGORITHM);
    free(t);
    t = assemble("{\"alg\":256,\"kid\":\"e1\"}", p, "AAAA");
    VT_REJECT(F.v, t, DMCP_REASON_ALGORITHM);
    free(t);
    t = assemble("{\"alg\":\"es256\",\"kid\":\"e1\"}", p, "AAAA");
    VT_REJECT(F.v, t, DMCP_REASON_ALGORITHM);
    free(t);
    free(p);
}

static char *hs256_token(const char *h, const char *p, const void *key, size_t key_len)
{
    char *hb = b64(h), *pb = b64(p);
    char si[4096];
    snprintf(si, sizeof(si), "%s.%s", hb, pb);
    unsigned char mac[64];
    size_t mlen = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len,
                              (const unsigned char *)si, strlen(si), mac, sizeof(mac), &mlen));
    char *sb = dmcp_mint_b64url(mac, mlen);
    char *t = malloc(strlen(si) + strlen(sb) + 2);
    sprintf(t, "%s.%s", si, sb);
    free(hb);
    free(pb);
    free(sb);
    return t;
}

static void test_hs256_with_rsa_public_key(void **state)
{
    (void)state;
    /* The classic key-confusion attack: HMAC keyed with the verifier's public key. */
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, dmcp_mint_key_pkey(F.rsa)), 1);
    char *pem = NULL;
    long pem_len = BIO_get_mem_data(bio, &pem);
    char *p = vt_claims("");
    const char *h = "{\"alg\":\"HS256\",\"kid\":\"r1\"}";
    char *t = hs256_token(h, p, pem, (size_t)pem_len);
    VT_REJECT(F.v, t, DMCP_REASON_ALGORITHM);
    free(t);
    t = hs256_token(h, p, F.rsa_jwk, strlen(F.rsa_jwk));
    VT_REJECT(F.v, t, DMCP_REASON_ALGORITHM);
    free(t);
    t = hs256_token("{\"alg\":\"HS256\"}", p, pem, (size_t)pem_len);
    VT_REJECT(F.v, t, DMCP_REASON_ALGORITHM);
    free(t);
    BIO_free(bio);
    free(p);

    /* HS* and none can never be configured. */
    dmcp_validator_config *cfg;
    assert_int_equal(dmcp_validator_config_new(&cfg), DMCP_OK);
    assert_int_equal(dmcp_validator_config_set_algorithms(cfg, "RS256 HS256"), DMCP_E_CONFIG);
    assert_int_equal(dmcp_validator_config_set_algorithms(cfg, "none"), DMCP_E_CONFIG);
    assert_int_equal(dmcp_validator_config_set_algorithms(cfg, "NoNe ES256"), DMCP_E_CONFIG);
    assert_int_equal(dmcp_validator_config_set_algorithms(cfg, "hs512"), DMCP_E_CONFIG);
    dmcp_validator_config_free(cfg);
}

static void test_key_binding(void **state)
{
    (void)state;
    char *p = vt_claims("");
    /* Signed by e1's key but naming e2: the e2 key does not verify it. */
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e2\"}", p, DMCP_REASON_SIGNATURE);
    /* Unknown kid (static set: no refetch). */
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"nope\"}", p,
                  DMCP_REASON_UNKNOWN_KEY);
    /* No kid and two ES256-capable keys: ambiguous. */
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\"}", p, DMCP_REASON_UNKNOWN_KEY);
    /* No kid and exactly one RS256 key: accepted. */
    char *t = dmcp_mint_sign(F.rsa, "RS256", "{\"alg\":\"RS256\"}", p);
    VT_ACCEPT(F.v, t);
    free(t);
    /* The JWK says RS256; a PS256 token with the same key is refused (alg binding). */
    reject_signed(F.rsa, "PS256", "{\"alg\":\"PS256\",\"kid\":\"r1\"}", p, DMCP_REASON_ALGORITHM);
    /* An EC key for an RSA alg. */
    reject_signed(F.rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"e1\"}", p, DMCP_REASON_ALGORITHM);
    /* kid not a string. */
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":1}", p, DMCP_REASON_HEADER);
    free(p);
}

static void test_header_parameters(void **state)
{
    (void)state;
    char *p = vt_claims("");
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"crit\":[\"exp\"],\"exp\":1}",
                  p, DMCP_REASON_HEADER);
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"crit\":[]}", p,
                  DMCP_REASON_HEADER);
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"zip\":\"DEF\"}", p,
                  DMCP_REASON_HEADER);
    reject_signed(F.ec, "ES256",
                  "{\"alg\":\"ES256\",\"kid\":\"e1\",\"b64\":false,\"crit\":[\"b64\"]}", p,
                  DMCP_REASON_HEADER);
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"b64\":true}", p,
                  DMCP_REASON_HEADER);
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"JOSE\"}", p,
                  DMCP_REASON_HEADER);
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":7}", p,
                  DMCP_REASON_HEADER);
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"cty\":\"JWT\"}", p,
                  DMCP_REASON_HEADER);
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"alg\":\"ES256\"}", p,
                  DMCP_REASON_MALFORMED);

    /* jku / x5u / jwk / x5c pointing at the attacker are never used: the attacker's own
     * signature fails against our key... */
    char *evil_jwk = dmcp_mint_key_jwk(F.evil, "e1", "ES256");
    char h[2048];
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"kid\":\"e1\",\"jwk\":%s}", evil_jwk);
    reject_signed(F.evil, "ES256", h, p, DMCP_REASON_SIGNATURE);
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"jwk\":%s}", evil_jwk);
    reject_signed(F.evil, "ES256", h, p, DMCP_REASON_UNKNOWN_KEY);
    reject_signed(F.evil, "ES256",
                  "{\"alg\":\"ES256\",\"kid\":\"e1\",\"jku\":\"https://127.0.0.1:1/jwks\"}", p,
                  DMCP_REASON_SIGNATURE);
    reject_signed(F.evil, "ES256",
                  "{\"alg\":\"ES256\",\"kid\":\"e1\",\"x5u\":\"https://127.0.0.1:1/cert\"}", p,
                  DMCP_REASON_SIGNATURE);
    reject_signed(F.evil, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"x5c\":[\"MIIB\"]}", p,
                  DMCP_REASON_SIGNATURE);
    /* ...and with our key they are simply ignored. */
    char *t = dmcp_mint_sign(
        F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"jku\":\"https://127.0.0.1:1/x\"}", p);
    VT_ACCEPT(F.v, t);
    free(t);
    free(evil_jwk);
    free(p);
}

static char *with_sig(const char *p, const unsigned char *sig, size_t n)
{
    char *sb = dmcp_mint_b64url(sig, n);
    char *t = assemble("{\"alg\":\"ES256\",\"kid\":\"e1\"}", p, sb);
    free(sb);
    return t;
}

static void test_signature_forms(void **state)
{
    (void)state;
    char *p = vt_claims("");
    /* Stripped signature: two dots, nothing after. */
    char *t = assemble("{\"alg\":\"ES256\",\"kid\":\"e1\"}", p, "");
    VT_REJECT(F.v, t, DMCP_REASON_SIGNATURE);
    free(t);
    t = assemble("{\"alg\":\"RS256\",\"kid\":\"r1\"}", p, "");
    VT_REJECT(F.v, t, DMCP_REASON_SIGNATURE);
    free(t);

    /* DER-encoded ECDSA (valid DER signature over the right input) is not a JWS signature. */
    char *hb = b64("{\"alg\":\"ES256\",\"kid\":\"e1\"}"), *pb = b64(p);
    char si[4096];
    snprintf(si, sizeof(si), "%s.%s", hb, pb);
    size_t dlen = 0;
    unsigned char *der =
        dmcp_mint_sign_raw(F.ec, "ES256", si, strlen(si), DMCP_MINT_SIG_DER, &dlen);
    assert_non_null(der);
    t = with_sig(p, der, dlen);
    VT_REJECT(F.v, t, DMCP_REASON_SIGNATURE);
    free(t);
    free(der);

    /* The right r||s, then truncated, extended, zeroed. */
    size_t jlen = 0;
    unsigned char *js =
        dmcp_mint_sign_raw(F.ec, "ES256", si, strlen(si), DMCP_MINT_SIG_JOSE, &jlen);
    assert_int_equal(jlen, 64);
    t = with_sig(p, js, jlen);
    VT_ACCEPT(F.v, t);
    free(t);
    t = with_sig(p, js, 63);
    VT_REJECT(F.v, t, DMCP_REASON_SIGNATURE);
    free(t);
    unsigned char longer[65];
    memcpy(longer, js, 64);
    longer[64] = 0;
    t = with_sig(p, longer, 65);
    VT_REJECT(F.v, t, DMCP_REASON_SIGNATURE);
    free(t);
    unsigned char zero[64] = {0};
    t = with_sig(p, zero, 64);
    VT_REJECT(F.v, t, DMCP_REASON_SIGNATURE);
    free(t);
    free(js);

    /* RSA signature one byte short and one byte long. */
    char *rhb = b64("{\"alg\":\"RS256\",\"kid\":\"r1\"}");
    char rsi[4096];
    snprintf(rsi, sizeof(rsi), "%s.%s", rhb, pb);
    size_t rlen = 0;
    unsigned char *rs =
        dmcp_mint_sign_raw(F.rsa, "RS256", rsi, strlen(rsi), DMCP_MINT_SIG_JOSE, &rlen);
    assert_int_equal(rlen, 256);
    unsigned char rbuf[257];
    memcpy(rbuf, rs, 256);
    rbuf[256] = 0;
    for (size_t n = 255; n <= 257; n++) {
        char *sb = dmcp_mint_b64url(rbuf, n);
        char *rt = malloc(strlen(rsi) + strlen(sb) + 2);
        sprintf(rt, "%s.%s", rsi, sb);
        if (n == 256) {
            VT_ACCEPT(F.v, rt);
        } else {
            VT_REJECT(F.v, rt, DMCP_REASON_SIGNATURE);
        }
        free(rt);
        free(sb);
    }
    free(rs);
    free(rhb);
    free(hb);
    free(pb);
    free(p);
}

static void test_base64url_violations(void **state)
{
    (void)state;
    char *p = vt_claims("");
    char *good = dmcp_mint_sign(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", p);
    VT_ACCEPT(F.v, good);
    char *d1 = strchr(good, '.');
    char *d2 = strchr(d1 + 1, '.');
    size_t seg_start[3] = {0, (size_t)(d1 - good) + 1, (size_t)(d2 - good) + 1};
    const char *inserts[] = {"=", "+", "/", " ", "\n", "*", "%", "\\"};
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < DMCP__ARRAY_LEN(inserts); i++) {
            /* Insert the bad character at the start of the segment. */
            size_t n = strlen(good) + 2;
            char *t = malloc(n);
            memcpy(t, good, seg_start[s]);
            t[seg_start[s]] = inserts[i][0];
            strcpy(t + seg_start[s] + 1, good + seg_start[s]);
            VT_REJECT(F.v, t, DMCP_REASON_MALFORMED);
            /* Replace the first character instead (same length). */
            strcpy(t, good);
            t[seg_start[s]] = inserts[i][0];
            VT_REJECT(F.v, t, DMCP_REASON_MALFORMED);
            free(t);
        }
    }
    /* Padding at the end of the signature, and a length of 1 mod 4. */
    size_t n = strlen(good);
    char *t = malloc(n + 3);
    sprintf(t, "%s==", good);
    VT_REJECT(F.v, t, DMCP_REASON_MALFORMED);
    sprintf(t, "%sA", good); /* 86+1 = 87 chars: decodes to a 65-byte sig, canonical? */
    dmcp_reason r;
    assert_int_equal(vt_check(F.v, t, &r), DMCP_E_INVALID_TOKEN);
    free(t);
    /* Non-canonical trailing bits: "{}" is e30, "e31" decodes to the same bytes. */
    t = assemble("{\"alg\":\"ES256\",\"kid\":\"e1\"}", p, "AAAB");
    VT_REJECT(F.v, t, DMCP_REASON_SIGNATURE); /* canonical, wrong signature */
    free(t);
    char *hb = b64("{\"alg\":\"ES256\",\"kid\":\"e1\"}"); /* 36 bytes -> 48 chars, no slack */
    char *pb = b64("{}");                                 /* "e30" */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s.e31.%s", hb, d2 + 1);
    VT_REJECT(F.v, buf, DMCP_REASON_MALFORMED);
    snprintf(buf, sizeof(buf), "%s.%s.A", hb, pb); /* 1 mod 4 */
    VT_REJECT(F.v, buf, DMCP_REASON_MALFORMED);
    free(hb);
    free(pb);
    free(good);
    free(p);
}

static void test_segment_counts(void **state)
{
    (void)state;
    char *p = vt_claims("");
    char *good = dmcp_mint_sign(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", p);
    char buf[4096];
    char *d1 = strchr(good, '.');
    snprintf(buf, sizeof(buf), "%.*s", (int)(d1 - good), good); /* 1 segment */
    VT_REJECT(F.v, buf, DMCP_REASON_MALFORMED);
    char *d2 = strchr(d1 + 1, '.');
    snprintf(buf, sizeof(buf), "%.*s", (int)(d2 - good), good); /* 2 segments */
    VT_REJECT(F.v, buf, DMCP_REASON_MALFORMED);
    snprintf(buf, sizeof(buf), "%s.AAAA", good); /* 4 */
    VT_REJECT(F.v, buf, DMCP_REASON_MALFORMED);
    snprintf(buf, sizeof(buf), "%s.AAAA.AAAA", good); /* 5: JWE shape */
    VT_REJECT(F.v, buf, DMCP_REASON_MALFORMED);
    snprintf(buf, sizeof(buf), ".%s", good);
    VT_REJECT(F.v, buf, DMCP_REASON_MALFORMED);
    VT_REJECT(F.v, "", DMCP_REASON_MALFORMED);
    VT_REJECT(F.v, "..", DMCP_REASON_MALFORMED);
    free(good);
    free(p);
}

static void test_non_objects(void **state)
{
    (void)state;
    char *p = vt_claims("");
    const char *bad[] = {"[1]", "\"x\"", "1", "null", "{", "{\"alg\":\"ES256\"}x", ""};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(bad); i++) {
        char *t = assemble(bad[i], p, "AAAA");
        VT_REJECT(F.v, t, DMCP_REASON_MALFORMED);
        free(t);
    }
    const char *h = "{\"alg\":\"ES256\",\"kid\":\"e1\"}";
    const char *payloads[] = {"[1,2]", "\"claims\"", "42", "true", "{\"exp\":1", "{} {}"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(payloads); i++) {
        reject_signed(F.ec, "ES256", h, payloads[i], DMCP_REASON_MALFORMED);
    }
    free(p);
}

static void payload_case(const char *json, dmcp_reason why)
{
    reject_signed(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", json, why);
}

static void test_claims(void **state)
{
    (void)state;
    char buf[1024];
    long long exp = VT_NOW + 600;
#define PL(...) (snprintf(buf, sizeof(buf), __VA_ARGS__), buf)
    payload_case(PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":\"%lld\"}", VT_ISS, VT_AUD, exp),
                 DMCP_REASON_CLAIM);
    payload_case(
        PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"nbf\":\"1\"}", VT_ISS, VT_AUD, exp),
        DMCP_REASON_CLAIM);
    payload_case(
        PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"iat\":\"1\"}", VT_ISS, VT_AUD, exp),
        DMCP_REASON_CLAIM);
    payload_case(PL("{\"iss\":\"%s\",\"aud\":\"%s\"}", VT_ISS, VT_AUD), DMCP_REASON_CLAIM);
    payload_case(PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":null}", VT_ISS, VT_AUD),
                 DMCP_REASON_CLAIM);
    /* Issuers: wrong, trailing slash, case, prefix. */
    const char *isss[] = {"https://evil.example.com", VT_ISS "/", "HTTPS://issuer.example.com",
                          "https://issuer.example.co", ""};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(isss); i++) {
        payload_case(PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld}", isss[i], VT_AUD, exp),
                     DMCP_REASON_ISSUER);
    }
    payload_case(PL("{\"aud\":\"%s\",\"exp\":%lld}", VT_AUD, exp), DMCP_REASON_CLAIM);
    payload_case(PL("{\"iss\":[\"%s\"],\"aud\":\"%s\",\"exp\":%lld}", VT_ISS, VT_AUD, exp),
                 DMCP_REASON_CLAIM);
    /* Audiences: string, array, missing, trailing slash, wrong type. */
    payload_case(
        PL("{\"iss\":\"%s\",\"aud\":\"https://other.example.com/mcp\",\"exp\":%lld}", VT_ISS, exp),
        DMCP_REASON_AUDIENCE);
    payload_case(PL("{\"iss\":\"%s\",\"aud\":[\"a\",\"b\"],\"exp\":%lld}", VT_ISS, exp),
                 DMCP_REASON_AUDIENCE);
    payload_case(PL("{\"iss\":\"%s\",\"aud\":[],\"exp\":%lld}", VT_ISS, exp), DMCP_REASON_AUDIENCE);
    payload_case(PL("{\"iss\":\"%s\",\"aud\":\"%s/\",\"exp\":%lld}", VT_ISS, VT_AUD, exp),
                 DMCP_REASON_AUDIENCE);
    payload_case(PL("{\"iss\":\"%s\",\"exp\":%lld}", VT_ISS, exp), DMCP_REASON_AUDIENCE);
    payload_case(PL("{\"iss\":\"%s\",\"aud\":[\"%s\",1],\"exp\":%lld}", VT_ISS, VT_AUD, exp),
                 DMCP_REASON_CLAIM);
    /* Duplicate claims. */
    payload_case(PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"exp\":%lld}", VT_ISS, VT_AUD,
                    exp, exp + 1000000),
                 DMCP_REASON_MALFORMED);
    payload_case(
        PL("{\"iss\":\"%s\",\"aud\":\"x\",\"exp\":%lld,\"aud\":\"%s\"}", VT_ISS, exp, VT_AUD),
        DMCP_REASON_MALFORMED);
    payload_case(
        PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"\\u0065xp\":1}", VT_ISS, VT_AUD, exp),
        DMCP_REASON_MALFORMED);
    /* Identity claims of the wrong type. */
    payload_case(PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"sub\":1}", VT_ISS, VT_AUD, exp),
                 DMCP_REASON_CLAIM);
    payload_case(
        PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"dsub\":{}}", VT_ISS, VT_AUD, exp),
        DMCP_REASON_CLAIM);
    payload_case(
        PL("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"scope\":[\"a\"]}", VT_ISS, VT_AUD, exp),
        DMCP_REASON_CLAIM);
#undef PL
}

static void test_times(void **state)
{
    (void)state;
    char buf[512];
    const char *h = "{\"alg\":\"ES256\",\"kid\":\"e1\"}";
    /* Expired: exp <= now - leeway (leeway 5). */
    snprintf(buf, sizeof(buf), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld}", VT_ISS, VT_AUD,
             (long long)(VT_NOW - 5));
    reject_signed(F.ec, "ES256", h, buf, DMCP_REASON_EXPIRED);
    snprintf(buf, sizeof(buf), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld}", VT_ISS, VT_AUD,
             (long long)(VT_NOW - 4));
    char *t = dmcp_mint_sign(F.ec, "ES256", h, buf);
    VT_ACCEPT(F.v, t); /* within leeway */
    free(t);
    /* nbf / iat in the future beyond leeway. */
    snprintf(buf, sizeof(buf), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"nbf\":%lld}", VT_ISS,
             VT_AUD, (long long)(VT_NOW + 600), (long long)(VT_NOW + 6));
    reject_signed(F.ec, "ES256", h, buf, DMCP_REASON_NOT_YET_VALID);
    snprintf(buf, sizeof(buf), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"iat\":%lld}", VT_ISS,
             VT_AUD, (long long)(VT_NOW + 600), (long long)(VT_NOW + 6));
    reject_signed(F.ec, "ES256", h, buf, DMCP_REASON_NOT_YET_VALID);
    snprintf(buf, sizeof(buf), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"nbf\":%lld}", VT_ISS,
             VT_AUD, (long long)(VT_NOW + 600), (long long)(VT_NOW + 5));
    t = dmcp_mint_sign(F.ec, "ES256", h, buf);
    VT_ACCEPT(F.v, t);
    free(t);
}

static void test_oversized(void **state)
{
    (void)state;
    char *p = vt_claims("\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"");
    char *t = dmcp_mint_sign(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", p);
    size_t len = strlen(t);
    int64_t now = VT_NOW;
    for (int d = 0; d <= 1; d++) {
        dmcp_validator_config *cfg = vt_config(F.jwks, &now);
        assert_int_equal(dmcp_validator_config_set_max_token_bytes(cfg, len - (size_t)d), DMCP_OK);
        assert_int_equal(dmcp_validator_config_set_token_cache_size(cfg, 0), DMCP_OK);
        dmcp_validator *v = vt_validator(cfg);
        if (d == 0) {
            VT_ACCEPT(v, t); /* exactly at the cap */
        } else {
            VT_REJECT(v, t, DMCP_REASON_TOO_LARGE); /* one byte over */
        }
        dmcp_validator_free(v);
    }
    /* The default cap (16 KiB): a 16 KiB + 1 token is refused before parsing. */
    char *huge = malloc(DMCP_MAX_TOKEN_BYTES + 2);
    memset(huge, 'A', DMCP_MAX_TOKEN_BYTES + 1);
    huge[DMCP_MAX_TOKEN_BYTES + 1] = '\0';
    VT_REJECT(F.v, huge, DMCP_REASON_TOO_LARGE);
    free(huge);
    free(t);
    free(p);
}

static void test_require_at_jwt(void **state)
{
    (void)state;
    int64_t now = VT_NOW;
    dmcp_validator_config *cfg = vt_config(F.jwks, &now);
    assert_int_equal(dmcp_validator_config_set_require_at_jwt(cfg, true), DMCP_OK);
    dmcp_validator *v = vt_validator(cfg);
    char *p = vt_claims("");
    char *t =
        dmcp_mint_sign(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"JWT\"}", p);
    VT_REJECT(v, t, DMCP_REASON_HEADER);
    free(t);
    t = dmcp_mint_sign(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", p);
    VT_REJECT(v, t, DMCP_REASON_HEADER);
    free(t);
    t = dmcp_mint_sign(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"at+jwt\"}", p);
    VT_ACCEPT(v, t);
    free(t);
    free(p);
    dmcp_validator_free(v);
}

static void test_alg_allowlist(void **state)
{
    (void)state;
    int64_t now = VT_NOW;
    dmcp_validator_config *cfg = vt_config(F.jwks, &now);
    assert_int_equal(dmcp_validator_config_set_algorithms(cfg, "RS256"), DMCP_OK);
    dmcp_validator *v = vt_validator(cfg);
    char *p = vt_claims("");
    char *t = dmcp_mint_sign(F.ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", p);
    VT_REJECT(v, t, DMCP_REASON_ALGORITHM);
    free(t);
    free(p);
    dmcp_validator_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_accepts),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_hs256_with_rsa_public_key),
        cmocka_unit_test(test_key_binding),
        cmocka_unit_test(test_header_parameters),
        cmocka_unit_test(test_signature_forms),
        cmocka_unit_test(test_base64url_violations),
        cmocka_unit_test(test_segment_counts),
        cmocka_unit_test(test_non_objects),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_require_at_jwt),
        cmocka_unit_test(test_alg_allowlist),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
