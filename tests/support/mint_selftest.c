/*
 * Self-test of the test minter: for each algorithm, a minted token's signature verifies with
 * plain OpenSSL over the signing input, fails when the payload changes, and the JWK carries
 * the public members only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "mint.h"

static int failures;

#define CHECK(c)                                                                              \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "%s:%d: %s failed (%s)\n", __FILE__, __LINE__, #c, alg);         \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Lenient decoder, only for this self-test (independent of the library's). */
static unsigned char *unb64(const char *s, size_t n, size_t *len)
{
    unsigned char *out = malloc(n * 3 / 4 + 3);
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *len = o;
    return out;
}

static int verify(EVP_PKEY *pk, const char *alg, const char *msg, size_t msg_len,
                  const unsigned char *sig, size_t sig_len)
{
    const char *md = strstr(alg, "256") ? "SHA256" : strstr(alg, "384") ? "SHA384"
                     : strstr(alg, "512")                                ? "SHA512"
                                                                         : NULL;
    unsigned char der[256];
    int der_len = 0;
    if (alg[0] == 'E' && alg[1] == 'S') {
        ECDSA_SIG *es = ECDSA_SIG_new();
        size_t f = sig_len / 2;
        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)f, NULL), BN_bin2bn(sig + f, (int)f, NULL));
        unsigned char *p = der;
        der_len = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        sig = der;
        sig_len = (size_t)der_len;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pk, NULL) == 1;
    if (ok && alg[0] == 'P') {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    }
    ok = ok && EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)msg, msg_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int main(void)
{
    static const char *algs[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                 "PS512", "ES256", "ES384", "ES512", "EdDSA"};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        const char *alg = algs[i];
        dmcp_mint_key *k = dmcp_mint_key_new(alg);
        CHECK(k != NULL);
        if (k == NULL) {
            continue;
        }
        char *jwk = dmcp_mint_key_jwk(k, "k1", alg);
        json_t *j = jwk ? json_loads(jwk, 0, NULL) : NULL;
        CHECK(j != NULL);
        CHECK(json_object_get(j, "d") == NULL);
        CHECK(strcmp(json_string_value(json_object_get(j, "alg")), alg) == 0);
        json_decref(j);
        const char *jl[] = {jwk};
        char *set = dmcp_mint_jwks(jl, 1);
        CHECK(set != NULL && strncmp(set, "{\"keys\":[{", 10) == 0);

        char *tok = dmcp_mint_sign_simple(k, alg, "k1", "{\"sub\":\"x\"}");
        CHECK(tok != NULL);
        if (tok != NULL) {
            char *d2 = strrchr(tok, '.');
            size_t sig_len = 0;
            unsigned char *sig = unb64(d2 + 1, strlen(d2 + 1), &sig_len);
            CHECK(sig != NULL);
            CHECK(verify(dmcp_mint_key_pkey(k), alg, tok, (size_t)(d2 - tok), sig, sig_len));
            /* A changed signing input must fail (a minter that signs nothing would pass). */
            tok[(d2 - tok) - 1] ^= 1;
            CHECK(!verify(dmcp_mint_key_pkey(k), alg, tok, (size_t)(d2 - tok), sig, sig_len));
            if (alg[0] == 'E' && alg[1] == 'S') {
                size_t want = strcmp(alg, "ES256") == 0 ? 64 : strcmp(alg, "ES384") == 0 ? 96 : 132;
                CHECK(sig_len == want);
                size_t der_len = 0;
                unsigned char *der = dmcp_mint_sign_raw(k, alg, "m", 1, DMCP_MINT_SIG_DER,
                                                        &der_len);
                CHECK(der != NULL && der[0] == 0x30);
                free(der);
            }
            free(sig);
        }
        /* Alg that does not fit the key type. */
        size_t l = 0;
        unsigned char *bad = dmcp_mint_sign_raw(k, alg[0] == 'E' && alg[1] == 'd' ? "RS256" : "EdDSA",
                                                "m", 1, DMCP_MINT_SIG_JOSE, &l);
        CHECK(bad == NULL);
        free(tok);
        free(set);
        free(jwk);
        dmcp_mint_key_free(k);
    }
    const char *alg = "misc";
    CHECK(dmcp_mint_key_new("HS256") == NULL);
    char *e = dmcp_mint_b64url("\xfb\xff", 2);
    CHECK(e != NULL && strcmp(e, "-_8") == 0);
    free(e);
    if (failures != 0) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("mint self-test: ok\n");
    return 0;
}
