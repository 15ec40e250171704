/* descope-mcp command-line tool: one function per subcommand (cmd_<name>.c). */
#ifndef DMCP_CLI_H
#define DMCP_CLI_H

/* Exit codes shared by the subcommands (contracts tested from outside the project). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_INVALID = 1,      /* validate: invalid token; connection-token: other API error */
    CLI_EXIT_USAGE = 2,        /* usage or configuration */
    CLI_EXIT_SCOPE = 3,        /* validate: valid but lacking required scopes */
    CLI_EXIT_UNREACHABLE = 4,  /* key source / API unreachable */
    CLI_EXIT_NOT_CONNECTED = 5,
    CLI_EXIT_POLICY = 6,
    CLI_EXIT_RATE_LIMITED = 7
};

/* argv[0] is the subcommand name. */
int cli_validate(int argc, char **argv);
int cli_connection_token(int argc, char **argv);
int cli_sandbox(int argc, char **argv);
int cli_gateway(int argc, char **argv);

#endif
