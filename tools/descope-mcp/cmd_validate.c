/* Placeholder until this subcommand lands; replaced wholesale by its implementation. */
#include <stdio.h>

#include "cli.h"

int cli_validate(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "descope-mcp %s: not available in this build yet\n", argv[0]);
    return CLI_EXIT_USAGE;
}
