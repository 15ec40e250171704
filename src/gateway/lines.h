/*
 * Newline-delimited framing for the stdio child (child.c): bytes in, complete lines out, with a
 * cap per line. Pure (no I/O), so it is fuzzed on its own (tests/fuzz/fuzz_gw_lines.c).
 * Room: src/gateway.
 */
#ifndef DMCP_GATEWAY_LINES_H
#define DMCP_GATEWAY_LINES_H

#include <dmcp/common.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct dmcp__lines {
    char *b;
    size_t n, cap;
    size_t max;    /* cap per line (bytes, without the newline); set before the first feed */
    bool skipping; /* lenient mode: the current line was cut at max, the rest is skipped */
} dmcp__lines;

/* A complete line: no '\n', a trailing '\r' removed, never empty, line[len] == '\0'. The
 * buffer is valid during the call only. */
typedef void (*dmcp__line_fn)(void *ud, const char *line, size_t len);

/*
 * Feeds n bytes. strict: a line longer than max stops the feed with DMCP_E_TOO_LARGE (the
 * framing can no longer be trusted); lenient: it is cut at max and the rest of it dropped.
 * DMCP_E_NOMEM when the buffer cannot grow. Not thread-safe (one reader per buffer).
 */
DMCP_WARN_UNUSED dmcp_status dmcp__lines_feed(dmcp__lines *lb, const char *p, size_t n, bool strict,
                                              dmcp__line_fn fn, void *ud);
/* The bytes of an unfinished last line (lenient use at EOF); may be 0. */
static inline size_t dmcp__lines_pending(const dmcp__lines *lb)
{
    return lb->n;
}
void dmcp__lines_free(dmcp__lines *lb);

#endif
