/*
 * The C version of each snippet of the Python seed's README (descope-mcp), compiled in CI with
 * -Werror against the public headers only. The README quotes the regions between
 * "README:begin <name>" and "README:end <name>".
 *
 *   seed_snippets                       runs the require_scopes snippet (no network)
 *   seed_snippets WELL_KNOWN_URL MCP_SERVER_URL  (token on stdin)
 *                                       also runs initialise / validate_token /
 *                                       validate_token_and_get_user_id against that issuer
 */
#include <stdio.h>
#include <string.h>

#include <dmcp/dmcp.h>

/* Python: descope_mcp = DescopeMCP(well_known_url=..., mcp_server_url=...) */
static dmcp_validator *snippet_init(const char *well_known_url, const char *mcp_server_url)
{
    /* README:begin init */
    dmcp_validator_config *cfg = NULL;
    dmcp_validator *validator = NULL;
    dmcp_error err;

    dmcp_validator_config_new(&cfg);
    dmcp_validator_config_set_well_known_url(cfg, well_known_url);
    /* e.g. "https://api.descope.com/v1/apps/agentic/P2abc/MS35x/.well-known/openid-configuration"
     */
    dmcp_validator_config_set_mcp_server_url(cfg, mcp_server_url);
    /* e.g. "https://your-mcp-server.com/mcp": the audience tokens must carry */
    if (dmcp_validator_new(cfg, &validator, &err) != DMCP_OK) {
        fprintf(stderr, "validator: %s\n", err.message);
    }
    dmcp_validator_config_free(cfg); /* the validator keeps its own copy */
    /* README:end init */
    return validator;
}

/* Python: token_result = descope_mcp.validate_token(token) */
static void snippet_validate_token(dmcp_validator *validator, const char *token)
{
    /* README:begin validate_token */
    dmcp_token *tok = NULL;
    dmcp_error err;
    if (dmcp_validator_validate(validator, token, strlen(token), &tok, &err) == DMCP_OK) {
        size_t n = 0;
        const char *const *scopes = dmcp_token_scopes(tok, &n);
        printf("user %s, client %s, %zu scope(s)\n", dmcp_token_user_id(tok),
               dmcp_token_client_id(tok) ? dmcp_token_client_id(tok) : "-", n);
        for (size_t i = 0; i < n; i++) {
            printf("  scope %s\n", scopes[i]);
        }
        dmcp_token_free(tok);
    } else {
        /* 401: err.reason says why; never log the token itself */
        printf("rejected: %s\n", dmcp_reason_description(err.reason));
    }
    /* README:end validate_token */
}

/* Python: user_id = descope_mcp.validate_token_and_get_user_id(token) */
static void snippet_validate_user_id(dmcp_validator *validator, const char *token)
{
    /* README:begin validate_token_and_get_user_id */
    char *user_id = NULL;
    dmcp_error err;
    if (dmcp_validator_validate_user_id(validator, token, strlen(token), &user_id, &err) ==
        DMCP_OK) {
        printf("user id: %s\n", user_id);
        dmcp_free(user_id);
    }
    /* README:end validate_token_and_get_user_id */
}

/* Python: require_scopes(token_scopes, ["calendar.read"]) raising InsufficientScopeError */
static int snippet_require_scopes(void)
{
    /* README:begin require_scopes */
    const char *token_scopes[] = {"read", "write"};
    const char *required[] = {"calendar.read"};
    dmcp_scope_error *e = NULL;

    if (dmcp_require_scopes(token_scopes, 2, required, 1, NULL, NULL, &e) ==
        DMCP_E_INSUFFICIENT_SCOPE) {
        char *body = dmcp_scope_error_to_json(e); /* byte-for-byte the Python to_json() */
        printf("%s\n", body);
        dmcp_free(body);
        dmcp_scope_error_free(e);
    }
    /* README:end require_scopes */
    return 0;
}

int main(int argc, char **argv)
{
    int rc = snippet_require_scopes();
    if (argc == 3) {
        char token[DMCP_MAX_TOKEN_BYTES + 2];
        if (fgets(token, sizeof(token), stdin) == NULL) {
            fprintf(stderr, "expected a token on stdin\n");
            return 2;
        }
        token[strcspn(token, "\r\n")] = '\0';
        dmcp_validator *validator = snippet_init(argv[1], argv[2]);
        if (validator == NULL) {
            return 1;
        }
        snippet_validate_token(validator, token);
        snippet_validate_user_id(validator, token);
        dmcp_validator_free(validator);
    }
    return rc;
}
