/*
 * Quick start: validate an MCP access token end to end, offline.
 *
 * 1. makes a local signing key (ES256) and publishes its public half as a JWKS;
 * 2. mints a fresh access token shaped like Descope's (agentic issuer, aud, scope, dsub...);
 * 3. validates it through the public API with that static JWKS and prints what a handler sees;
 * 4. shows a refused token (expired, then wrong audience) with its 401 challenge;
 * 5. shows a scope failure with the insufficient-scope JSON and its 403 challenge.
 *
 * Signing uses the test minter (tests/support/mint.h): a real server never signs tokens, it
 * only validates what Descope issued. Everything else is the public API (<dmcp/dmcp.h>).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <dmcp/dmcp.h>

#include "mint.h"

#define ISSUER "https://api.descope.com/v1/apps/agentic/P2demo/MS2demo"
#define MCP_URL "https://mcp.example.com/mcp"
#define RM "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
#define KID "demo-key-1"

/* The claims of a Descope MCP access token, with exp/aud varied for the refusals. */
static char *make_claims(long long now, long long exp, const char *aud)
{
    json_t *c =
        json_pack("{s:s, s:[s,s], s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:{s:{s:[s]}}}", "iss",
                  ISSUER, "aud", aud, "P2demo", "sub", "U2demoUser", "dsub", "U2demoUser", "azp",
                  "DCR-client-42", "scope", "tools.call calendar.read", "jti", "quickstart-1",
                  "iat", now, "nbf", now, "exp", exp, "tenants", "T2acme", "roles", "member");
    char *s = c != NULL ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    return s;
}

static char *mint(const dmcp_mint_key *key, long long now, long long exp, const char *aud)
{
    char *claims = make_claims(now, exp, aud);
    char *tok = NULL;
    if (claims != NULL) {
        tok = dmcp_mint_sign(key, "ES256",
                             "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"" KID "\"}", claims);
    }
    free(claims);
    return tok;
}

static void show_challenge(const char *status_line, char *challenge)
{
    printf("   -> %s\n      WWW-Authenticate: %s\n", status_line,
           challenge != NULL ? challenge : "(could not build)");
    dmcp_free(challenge);
}

static void show_refusal(dmcp_validator *v, const char *what, const char *token)
{
    dmcp_token *t = NULL;
    dmcp_error err;
    dmcp_status st = dmcp_validator_validate(v, token, strlen(token), &t, &err);
    printf("\n%s\n", what);
    if (st == DMCP_OK) {
        printf("   unexpectedly accepted!\n");
        dmcp_token_free(t);
        return;
    }
    printf("   refused: %s (%s)\n", dmcp_status_name(st), err.message);
    show_challenge(
        "HTTP/1.1 401 Unauthorized",
        dmcp_challenge_invalid_token(dmcp_reason_description(err.reason), "tools.call", RM));
}

int main(void)
{
    int rc = 1;
    dmcp_mint_key *key = NULL;
    char *jwk = NULL;
    char *jwks = NULL;
    char *good = NULL;
    char *expired = NULL;
    char *foreign = NULL;
    dmcp_validator_config *cfg = NULL;
    dmcp_validator *v = NULL;
    dmcp_token *t = NULL;
    dmcp_scope_error *se = NULL;
    dmcp_error err;
    long long now = (long long)time(NULL);

    if (dmcp_global_init() != DMCP_OK) {
        return 1;
    }
    printf("descope-mcp for C %s - quick start (offline: a local key stands in for Descope)\n\n",
           dmcp_version());

    /* 1. A signing key and its public JWKS (what Descope serves at jwks_uri). */
    key = dmcp_mint_key_new("ES256");
    jwk = key != NULL ? dmcp_mint_key_jwk(key, KID, "ES256") : NULL;
    jwks = jwk != NULL ? dmcp_mint_jwks((const char *const *)&jwk, 1) : NULL;
    good = key != NULL ? mint(key, now, now + 3600, MCP_URL) : NULL;
    expired = key != NULL ? mint(key, now - 7200, now - 3600, MCP_URL) : NULL;
    foreign = key != NULL ? mint(key, now, now + 3600, "https://other.example.com/mcp") : NULL;
    if (jwks == NULL || good == NULL || expired == NULL || foreign == NULL) {
        fprintf(stderr, "could not create the demo key and tokens\n");
        goto out;
    }
    printf("1. Made an ES256 key (kid %s) and minted an access token for\n"
           "   issuer   %s\n   audience %s\n   (%zu bytes; a real server never prints it)\n",
           KID, ISSUER, MCP_URL, strlen(good));

    /* 2. The validator: issuer, audience and the static key set. */
    if (dmcp_validator_config_new(&cfg) != DMCP_OK ||
        dmcp_validator_config_set_issuer(cfg, ISSUER) != DMCP_OK ||
        dmcp_validator_config_set_mcp_server_url(cfg, MCP_URL) != DMCP_OK ||
        dmcp_validator_config_set_jwks_json(cfg, jwks) != DMCP_OK) {
        fprintf(stderr, "configuration failed\n");
        goto out;
    }
    if (dmcp_validator_new(cfg, &v, &err) != DMCP_OK) {
        fprintf(stderr, "validator: %s\n", err.message);
        goto out;
    }

    /* 3. The valid token: what a tool handler gets. */
    if (dmcp_validator_validate(v, good, strlen(good), &t, &err) != DMCP_OK) {
        fprintf(stderr, "the fresh token was refused: %s\n", err.message);
        goto out;
    }
    size_t n = 0;
    const char *const *scopes = dmcp_token_scopes(t, &n);
    printf("\n2. Validated (signature, exp/nbf/iat, issuer, audience):\n"
           "   user id   %s\n   client id %s\n   expires   in %lld s\n   scopes   ",
           dmcp_token_user_id(t), dmcp_token_client_id(t), (long long)dmcp_token_expiry(t) - now);
    for (size_t i = 0; i < n; i++) {
        printf(" %s", scopes[i]);
    }
    char *claims = json_dumps(dmcp_token_claims(t), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("\n   claims:\n");
    for (char *line = claims != NULL ? strtok(claims, "\n") : NULL; line != NULL;
         line = strtok(NULL, "\n")) {
        printf("     %s\n", line);
    }
    free(claims);

    /* 4. Refusals: 401 with a challenge naming why, the baseline scope and the PRM URL. */
    show_refusal(v, "3. The same kind of token, expired an hour ago:", expired);
    show_refusal(v, "4. A token issued for another MCP server (wrong audience):", foreign);

    /* 5. Valid token, but the tool needs a scope it lacks: 403 (RFC 6750 §3.1). */
    const char *need[] = {"calendar.write"};
    printf("\n5. The valid token calls a tool that needs calendar.write:\n");
    if (dmcp_validator_require_scopes(v, t, need, 1, &se) == DMCP_E_INSUFFICIENT_SCOPE &&
        se != NULL) {
        char *body = dmcp_scope_error_to_json(se);
        show_challenge("HTTP/1.1 403 Forbidden",
                       dmcp_challenge_insufficient_scope(dmcp_scope_error_description(se),
                                                         dmcp_scope_error_scope(se), RM));
        printf("      body (the Python SDK's InsufficientScopeError.to_json()):\n");
        for (char *line = body != NULL ? strtok(body, "\n") : NULL; line != NULL;
             line = strtok(NULL, "\n")) {
            printf("      %s\n", line);
        }
        dmcp_free(body);
    } else {
        fprintf(stderr, "the scope check did not refuse\n");
        goto out;
    }
    printf("\nDone. Next: docs/auth.md, and 'descope-mcp validate --help'.\n");
    rc = 0;
out:
    dmcp_scope_error_free(se);
    dmcp_token_free(t);
    dmcp_validator_free(v);
    dmcp_validator_config_free(cfg);
    free(good);
    free(expired);
    free(foreign);
    free(jwks);
    free(jwk);
    dmcp_mint_key_free(key);
    dmcp_global_cleanup();
    return rc;
}
