/*
 * Prints microseconds per verification, per algorithm, for
 *   lib:   dmcp__jws_split + dmcp__jwks_select + dmcp__sig_verify (the JOSE part of a token
 *          validation; claim parsing is the validator's and not included), and
 *   bare:  EVP_MD_CTX_new + EVP_DigestVerifyInit_ex + (PSS params) + EVP_DigestVerify + free
 *          on the already-decoded signature (DER for ECDSA), i.e. the floor a naive caller pays.
 * ratio = bare / lib (>= 0.90 is the target). Runs are interleaved and the best of several
 * rounds is kept to damp noise on a shared machine.
 * Usage: bench_jose [milliseconds per round, default 300] [alg ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rsa.h>

#include "auth/jose.h"
#include "mint.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct ctx {
    const char *alg;
    const char *token;
    dmcp__jwks *ks;
    EVP_PKEY *pkey;
    unsigned char *bare_sig;
    size_t bare_sig_len;
    const char *md;
    int pss;
} ctx;

static int run_lib(const ctx *c)
{
    dmcp__jws_parts parts;
    dmcp_reason why;
    size_t len = strlen(c->token);
    if (dmcp__jws_split(c->token, len, &parts, NULL) != DMCP_OK) {
        return 0;
    }
    dmcp__alg alg = dmcp__alg_from_name(c->alg, strlen(c->alg));
    const dmcp__jwk *k = dmcp__jwks_select(c->ks, "k1", 2, alg, &why);
    int ok = k != NULL && dmcp__sig_verify(k, alg, (const unsigned char *)parts.signing_input,
                                           parts.signing_input_len, parts.sig,
                                           parts.sig_len) == DMCP_OK;
    dmcp__jws_parts_clear(&parts);
    return ok;
}

static int run_bare(const ctx *c)
{
    const char *dot = strrchr(c->token, '.');
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *p = NULL;
    int ok = EVP_DigestVerifyInit_ex(m, &p, c->md, NULL, NULL, c->pkey, NULL) == 1;
    if (ok && c->pss) {
        ok = EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(p, RSA_PSS_SALTLEN_DIGEST) == 1;
    }
    ok = ok && EVP_DigestVerify(m, c->bare_sig, c->bare_sig_len, (const unsigned char *)c->token,
                                (size_t)(dot - c->token)) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

static double measure(int (*fn)(const ctx *), const ctx *c, double secs)
{
    long n = 0;
    double t0 = now_s();
    double t = t0;
    while (t - t0 < secs) {
        for (int i = 0; i < 16; i++) {
            if (!fn(c)) {
                fprintf(stderr, "verification failed (%s)\n", c->alg);
                exit(1);
            }
        }
        n += 16;
        t = now_s();
    }
    return (t - t0) / (double)n * 1e6;
}

int main(int argc, char **argv)
{
    static const char *all[] = {"RS256", "PS256", "ES256", "EdDSA", "RS384", "RS512",
                                "PS384", "PS512", "ES384", "ES512"};
    double secs = argc > 1 ? atof(argv[1]) / 1000.0 : 0.3;
    const char **algs = all;
    size_t nalgs = sizeof(all) / sizeof(all[0]);
    if (argc > 2) {
        algs = (const char **)(argv + 2);
        nalgs = (size_t)(argc - 2);
    }
    if (secs <= 0) {
        secs = 0.3;
    }
    const char *payload =
        "{\"iss\":\"https://api.descope.com/v1/apps/agentic/P2abc/MS2xyz\",\"sub\":\"U2user\","
        "\"aud\":[\"https://mcp.example.com/mcp\",\"P2abc\"],\"exp\":4102444800,"
        "\"iat\":1700000000,\"scope\":\"openid tools:read tools:write\",\"azp\":\"client-1\"}";
    printf("%-6s %10s %10s %7s\n", "alg", "lib_us", "bare_us", "ratio");
    for (size_t i = 0; i < nalgs; i++) {
        ctx c = {0};
        c.alg = algs[i];
        dmcp_mint_key *k = dmcp_mint_key_new(c.alg);
        if (k == NULL) {
            fprintf(stderr, "unknown alg %s\n", c.alg);
            return 2;
        }
        char *jwk = dmcp_mint_key_jwk(k, "k1", c.alg);
        const char *one[] = {jwk};
        char *set = dmcp_mint_jwks(one, 1);
        char *tok = dmcp_mint_sign_simple(k, c.alg, "k1", payload);
        if (set == NULL || tok == NULL ||
            dmcp__jwks_parse(set, strlen(set), &c.ks, NULL, NULL) != DMCP_OK || c.ks->n != 1) {
            fprintf(stderr, "setup failed for %s\n", c.alg);
            return 1;
        }
        c.token = tok;
        c.pkey = dmcp_mint_key_pkey(k);
        c.md = c.alg[0] == 'E' && c.alg[1] == 'd' ? NULL
               : strstr(c.alg, "256")             ? "SHA256"
               : strstr(c.alg, "384")             ? "SHA384"
                                                  : "SHA512";
        c.pss = c.alg[0] == 'P';
        /* The bare path gets what OpenSSL wants directly (DER for ECDSA). */
        const char *dot = strrchr(tok, '.');
        c.bare_sig = dmcp_mint_sign_raw(k, c.alg, tok, (size_t)(dot - tok), DMCP_MINT_SIG_DER,
                                        &c.bare_sig_len);
        double best_lib = 1e9;
        double best_bare = 1e9;
        for (int round = 0; round < 3; round++) {
            double b = measure(run_bare, &c, secs);
            double l = measure(run_lib, &c, secs);
            best_bare = b < best_bare ? b : best_bare;
            best_lib = l < best_lib ? l : best_lib;
        }
        printf("%-6s %10.2f %10.2f %7.3f\n", c.alg, best_lib, best_bare, best_bare / best_lib);
        fflush(stdout);
        free(c.bare_sig);
        free(tok);
        free(set);
        free(jwk);
        dmcp__jwks_free(c.ks);
        dmcp_mint_key_free(k);
    }
    return 0;
}
