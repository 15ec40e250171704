/*
 * Quick timing of the validator's own overhead (not a test; the official benchmark is under
 * bench/). For each alg: distinct ~800-byte tokens, full validation with the cache off vs the
 * bare JOSE verify (dmcp__sig_verify) and a bare EVP verify with a fresh context per call;
 * then one token repeated with the cache on.  Usage: validator_timing [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "auth/validator_int.h"
#include "mint.h"

#define NTOK 256
#define TRIALS 5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t fixed(void *ud)
{
    (void)ud;
    return 1700000000;
}

static const EVP_MD *md_for(const char *alg)
{
    if (strstr(alg, "384")) {
        return EVP_sha384();
    }
    if (strstr(alg, "512")) {
        return EVP_sha512();
    }
    if (strcmp(alg, "EdDSA") == 0) {
        return NULL;
    }
    return EVP_sha256();
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 1000;
    const char *algs[] = {"RS256", "PS256", "ES256", "EdDSA"};
    for (size_t a = 0; a < 4; a++) {
        const char *alg = algs[a];
        dmcp_mint_key *k = dmcp_mint_key_new(alg);
        char *jwk = dmcp_mint_key_jwk(k, "key-2024-01", alg);
        const char *one[1] = {jwk};
        char *jwks = dmcp_mint_jwks(one, 1);
        char *toks[NTOK];
        for (int i = 0; i < NTOK; i++) {
            char p[1024];
            snprintf(p, sizeof(p),
                     "{\"iss\":\"https://api.descope.com/v1/apps/agentic/P2abcdefghijklmnopqrstu"
                     "vwxyz/MS2abcdefghijklmnopqrstu\",\"aud\":[\"https://mcp.example.com/mcp\","
                     "\"P2abcdefghijklmnopqrstuvwxyz\"],\"sub\":\"U2abcdefghijklmnopqrstuvwxyz\","
                     "\"dsub\":\"U2abcdefghijklmnopqrstuvwxyz\",\"azp\":\"client-%d\","
                     "\"exp\":1700003600,\"iat\":1700000000,\"nbf\":1700000000,"
                     "\"jti\":\"%08d-aaaa-bbbb-cccc-dddddddddddd\",\"scope\":\"openid "
                     "calendar.read calendar.write outbound.token.fetch\",\"amr\":[\"oauth\"],"
                     "\"drn\":\"DS\",\"tenants\":{\"T1\":{\"roles\":[\"admin\"]}}}",
                     i, i);
            toks[i] = dmcp_mint_sign_simple(k, alg, "key-2024-01", p);
        }
        dmcp_validator_config *cfg;
        dmcp_validator_config_new(&cfg);
        dmcp_validator_config_set_issuer(
            cfg, "https://api.descope.com/v1/apps/agentic/P2abcdefghijklmnopqrstuvwxyz/"
                 "MS2abcdefghijklmnopqrstu");
        dmcp_validator_config_set_mcp_server_url(cfg, "https://mcp.example.com/mcp");
        dmcp_validator_config_set_jwks_json(cfg, jwks);
        dmcp_validator_config_set_clock(cfg, fixed, NULL);
        dmcp_validator_config_set_token_cache_size(cfg, 0);
        dmcp_validator *v = NULL;
        if (dmcp_validator_new(cfg, &v, NULL) != DMCP_OK) {
            fprintf(stderr, "validator_new failed\n");
            return 1;
        }
        dmcp_validator_config_set_token_cache_size(cfg, 10000);
        dmcp_validator *vc = NULL;
        if (dmcp_validator_new(cfg, &vc, NULL) != DMCP_OK) {
            return 1;
        }
        dmcp_validator_config_free(cfg);
        dmcp__jwks *ks = NULL;
        dmcp__jwks_parse(jwks, strlen(jwks), &ks, NULL, NULL);

        /* Pre-split every token once for the bare verifies. */
        dmcp__jws_parts parts[NTOK];
        for (int i = 0; i < NTOK; i++) {
            dmcp__jws_split(toks[i], strlen(toks[i]), &parts[i], NULL);
        }
        size_t toklen = strlen(toks[0]);

        /* bare EVP, fresh context per call (ECDSA needs DER: use the JOSE path's own key
         * only for RSA/EdDSA; for ES256 the bare figure is the JOSE verify). */
        double t0;
        int bad = 0;
        double bare = 1e9, jose = 1e9, full = 1e9, hit = 1e9;
        bool bare_ok = strcmp(alg, "ES256") != 0;
        /* The machine is shared: each figure is the best of TRIALS interleaved rounds. */
        for (int trial = 0; trial < TRIALS; trial++) {
            t0 = now_s();
            EVP_PKEY *pk = dmcp_mint_key_pkey(k);
            for (int i = 0; bare_ok && i < iters; i++) {
                dmcp__jws_parts *p = &parts[i % NTOK];
                EVP_MD_CTX *c = EVP_MD_CTX_new();
                EVP_PKEY_CTX *pc = NULL;
                EVP_DigestVerifyInit(c, &pc, md_for(alg), NULL, pk);
                if (strncmp(alg, "PS", 2) == 0) {
                    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST);
                }
                bad +=
                    EVP_DigestVerify(c, p->sig, p->sig_len, (const unsigned char *)p->signing_input,
                                     p->signing_input_len) != 1;
                EVP_MD_CTX_free(c);
            }
            if (bare_ok && (now_s() - t0) / iters < bare) {
                bare = (now_s() - t0) / iters;
            }

            t0 = now_s();
            for (int i = 0; i < iters; i++) {
                dmcp__jws_parts *p = &parts[i % NTOK];
                bad += dmcp__sig_verify(&ks->keys[0], dmcp__alg_from_name(alg, strlen(alg)),
                                        (const unsigned char *)p->signing_input,
                                        p->signing_input_len, p->sig, p->sig_len) != DMCP_OK;
            }
            if ((now_s() - t0) / iters < jose) {
                jose = (now_s() - t0) / iters;
            }

            t0 = now_s();
            for (int i = 0; i < iters; i++) {
                dmcp_token *t = NULL;
                const char *tk = toks[i % NTOK];
                bad += dmcp_validator_validate(v, tk, strlen(tk), &t, NULL) != DMCP_OK;
                dmcp_token_free(t);
            }
            if ((now_s() - t0) / iters < full) {
                full = (now_s() - t0) / iters;
            }

            int reps = iters * 50;
            t0 = now_s();
            for (int i = 0; i < reps; i++) {
                dmcp_token *t = NULL;
                bad += dmcp_validator_validate(vc, toks[0], toklen, &t, NULL) != DMCP_OK;
                dmcp_token_free(t);
            }
            if ((now_s() - t0) / reps < hit) {
                hit = (now_s() - t0) / reps;
            }
        }
        if (!bare_ok) {
            bare = 0;
        }

        printf("%-6s token %zu B  bare EVP %6.2f us  jose verify %6.2f us  full %6.2f us  "
               "overhead vs jose %5.2f us  full/bare-EVP rate %5.1f%%  cache hit %.2f M/s%s\n",
               alg, toklen, bare * 1e6, jose * 1e6, full * 1e6, (full - jose) * 1e6,
               bare > 0 ? 100.0 * bare / full : 0.0, 1e-6 / hit, bad ? "  ERRORS" : "");
        for (int i = 0; i < NTOK; i++) {
            dmcp__jws_parts_clear(&parts[i]);
            free(toks[i]);
        }
        dmcp__jwks_free(ks);
        dmcp_validator_free(v);
        dmcp_validator_free(vc);
        free(jwk);
        free(jwks);
        dmcp_mint_key_free(k);
    }
    return 0;
}
