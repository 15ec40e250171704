/*
 * Token minter for the command-line tests (tests/cli/cli_test.py).
 *
 *   mint_tool JWKS_OUT < specs > tokens
 *
 * Generates one key per algorithm (RS256, PS256, ES256, EdDSA; kid = the alg name), writes
 * their public JWKS to JWKS_OUT, then reads one spec per line, "ALG<TAB>HEADER<TAB>PAYLOAD",
 * and prints one compact JWS per line signed with that alg's key. HEADER "-" means
 * {"alg":ALG,"typ":"JWT","kid":ALG}. Test support only: never installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mint.h"

static const char *const algs[] = {"RS256", "PS256", "ES256", "EdDSA"};
#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

int main(int argc, char **argv)
{
    static char line[65536];
    dmcp_mint_key *keys[N_ALGS] = {NULL};
    char *jwk[N_ALGS] = {NULL};
    int rc = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: mint_tool JWKS_OUT < specs\n");
        return 2;
    }
    for (size_t i = 0; i < N_ALGS; i++) {
        keys[i] = dmcp_mint_key_new(algs[i]);
        jwk[i] = keys[i] != NULL ? dmcp_mint_key_jwk(keys[i], algs[i], algs[i]) : NULL;
        if (jwk[i] == NULL) {
            fprintf(stderr, "mint_tool: key generation failed for %s\n", algs[i]);
            goto out;
        }
    }
    char *jwks = dmcp_mint_jwks((const char *const *)jwk, N_ALGS);
    FILE *f = fopen(argv[1], "w");
    if (jwks == NULL || f == NULL || fputs(jwks, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "mint_tool: cannot write %s\n", argv[1]);
        free(jwks);
        goto out;
    }
    free(jwks);

    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *alg = line;
        char *hdr = strchr(alg, '\t');
        char *pay = hdr != NULL ? strchr(hdr + 1, '\t') : NULL;
        if (pay == NULL) {
            fprintf(stderr, "mint_tool: bad spec line\n");
            goto out;
        }
        *hdr++ = '\0';
        *pay++ = '\0';
        size_t k = N_ALGS;
        for (size_t i = 0; i < N_ALGS; i++) {
            if (strcmp(alg, algs[i]) == 0) {
                k = i;
            }
        }
        if (k == N_ALGS) {
            fprintf(stderr, "mint_tool: unknown alg %s\n", alg);
            goto out;
        }
        char *tok = strcmp(hdr, "-") == 0 ? dmcp_mint_sign_simple(keys[k], alg, alg, pay)
                                          : dmcp_mint_sign(keys[k], alg, hdr, pay);
        if (tok == NULL) {
            fprintf(stderr, "mint_tool: signing failed\n");
            goto out;
        }
        puts(tok);
        free(tok);
    }
    rc = 0;
out:
    for (size_t i = 0; i < N_ALGS; i++) {
        free(jwk[i]);
        dmcp_mint_key_free(keys[i]);
    }
    return rc;
}
