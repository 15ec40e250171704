/* descope-mcp: validate access tokens, fetch connection tokens, run the local sandbox. */
#include <stdio.h>
#include <string.h>

#include "dmcp/dmcp.h"

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"validate", cli_validate, "validate an access token (JWT) and print its claims"},
    {"connection-token", cli_connection_token,
     "fetch a user's or tenant's third-party token from Descope"},
    {"sandbox", cli_sandbox, "run a local Descope-shaped OpenID provider for development"},
    {"gateway", cli_gateway,
     "put Descope auth, per-tool scopes and connection tokens in front of any MCP server"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: descope-mcp COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\nRun 'descope-mcp COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("descope-mcp %s\n", dmcp_version());
        return CLI_EXIT_OK;
    }
    if (dmcp_global_init() != DMCP_OK) {
        fprintf(stderr, "descope-mcp: initialisation failed\n");
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "descope-mcp: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
