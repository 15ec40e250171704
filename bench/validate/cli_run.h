/*
 * The command-line path of the validation benchmark: `descope-mcp validate --batch` over the
 * same tokens bench_validate gives the library, piped in, output to a file (issue 8).
 */
#ifndef DMCP_BENCH_CLI_RUN_H
#define DMCP_BENCH_CLI_RUN_H

#include <stddef.h>

typedef struct cli_bench {
    const char *cli; /* path of the descope-mcp binary */
    const char *issuer;
    const char *audience;
    char jwks_path[64];
    char out_path[64];
    char *input; /* the tokens, one per line */
    size_t input_len;
    size_t n; /* tokens in input */
} cli_bench;

/* Writes the JWKS to a temporary file and joins the tokens into one input; exits on error. */
void cli_bench_init(cli_bench *cb, const char *cli, const char *issuer, const char *audience,
                    const char *jwks, char *const *tokens, size_t n);

/*
 * One run: starts the command (inheriting this process's CPU affinity), waits for its answer
 * to an empty warm-up line (so start-up is not timed), then times writing all the tokens
 * through the pipe until the process has answered them all and exited. Checks there is one
 * result line per token and each is a valid-token object; exits on any error. Returns
 * tokens per second.
 */
double cli_bench_run(const cli_bench *cb);

void cli_bench_free(cli_bench *cb);

#endif
