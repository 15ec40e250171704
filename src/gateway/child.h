/*
 * The stdio child supervisor of the gateway (issue 11): starts a stdio MCP server as a child
 * process and moves newline-delimited JSON-RPC messages to and from it. It knows lines and
 * processes, not JSON: the stdio upstream (stdio_upstream.c) parses what it reads.
 *
 * Room: src/gateway (public headers + libc/POSIX only).
 *
 *   - spawn: posix_spawnp with three pipes, every other descriptor closed in the child, the child
 *     in its own process group (so a signal reaches its own children too), signals reset;
 *   - stdout: one reader thread splits lines (a cap per line; a longer line is a protocol
 *     failure: the child is stopped, never a gateway crash) and hands each to on_line;
 *   - stderr: read by the same thread, logged line by line (each line capped, control bytes
 *     replaced, anything shaped like a bearer token or a JWT redacted);
 *   - crash detection: stdout EOF or the process ending reaps it (waitpid) and calls on_exit
 *     once, with why it ended;
 *   - close: stdin closed (a stdio server exits on EOF), then SIGTERM to the group after a grace,
 *     then SIGKILL after another;
 *   - a pool caps the number of live children and reaps the ones idle for too long.
 */
#ifndef DMCP_GATEWAY_CHILD_H
#define DMCP_GATEWAY_CHILD_H

#include <dmcp/common.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define DMCP_CHILD_DEFAULT_MAX_LINE ((size_t)4 * 1024 * 1024) /* = DMCP_MAX_BODY_BYTES */
#define DMCP_CHILD_MAX_LINE_LIMIT ((size_t)64 * 1024 * 1024)
#define DMCP_CHILD_STDERR_LINE 1024 /* bytes of one stderr line logged; the rest is cut */
#define DMCP_CHILD_DEFAULT_GRACE_MS 2000
#define DMCP_CHILD_DEFAULT_WRITE_TIMEOUT_MS 10000
#define DMCP_CHILD_MAX_ARGS 256

typedef struct dmcp__child dmcp__child;
typedef struct dmcp__childpool dmcp__childpool;

/* Why a child ended (on_exit's reason). */
typedef enum dmcp__child_end {
    DMCP_CHILD_EXITED = 0, /* ended by itself (crash, or exit on its own): unexpected */
    DMCP_CHILD_CLOSED,     /* we closed it (dmcp__child_close) */
    DMCP_CHILD_IDLE,       /* the pool reaped it for idleness */
    DMCP_CHILD_OVERSIZE,   /* it wrote a line over max_line: stopped */
    DMCP_CHILD_WRITE_FAIL  /* a write to its stdin failed or timed out half-way: stopped */
} dmcp__child_end;

typedef struct dmcp__child_opts {
    const char *const *argv; /* argv[0] is looked up in PATH; NULL-terminated; copied */
    size_t max_line;         /* 0: DMCP_CHILD_DEFAULT_MAX_LINE; capped at _LIMIT */
    int grace_ms;            /* 0: DMCP_CHILD_DEFAULT_GRACE_MS; each step of the close */
    int write_timeout_ms;    /* 0: DMCP_CHILD_DEFAULT_WRITE_TIMEOUT_MS */
    /* One complete stdout line (no newline, NUL-terminated at line[len]), on the reader
     * thread. The buffer is valid during the call only. */
    void (*on_line)(void *ud, const char *line, size_t len);
    /* Called once on the reader thread after the child is reaped. status is waitpid's. After
     * it returns the child sends no more callbacks. */
    void (*on_exit)(void *ud, dmcp__child_end why, int status);
    /* One sanitised stderr line; NULL: written to our stderr as "gateway: child PID: LINE". */
    void (*on_stderr)(void *ud, const char *line);
    void *ud;
} dmcp__child_opts;

/*
 * Starts the child. Ownership: *out is the caller's; free it with dmcp__child_close.
 * DMCP_E_INVALID_ARG (no argv, too many args), DMCP_E_IO (the program could not be started:
 * posix_spawnp failed, e.g. not found), DMCP_E_NOMEM. Thread-safe.
 */
DMCP_WARN_UNUSED dmcp_status dmcp__child_spawn(const dmcp__child_opts *o, dmcp__child **out);

/*
 * Writes one message and the newline. The message must not contain a newline
 * (DMCP_E_INVALID_ARG) nor exceed max_line (DMCP_E_TOO_LARGE). DMCP_E_STATE when the child has
 * ended or is ending; DMCP_E_IO / DMCP_E_TIMEOUT when the write fails (the child is then stopped,
 * since the stream is no longer framed). Thread-safe: writes are serialised.
 */
DMCP_WARN_UNUSED dmcp_status dmcp__child_send(dmcp__child *c, const char *msg, size_t len);
/* As dmcp__child_send, but never waits on the child: DMCP_E_STATE, nothing written, when the
 * pipe has no room for the whole line now (a child that does not read), when another write
 * holds the pipe for more than 50 ms, or when the child has ended. For threads that must not
 * wait on one child. */
DMCP_WARN_UNUSED dmcp_status dmcp__child_send_nowait(dmcp__child *c, const char *msg,
                                                     size_t len);

/* True until the child is known to have ended or to be ending. Thread-safe. */
bool dmcp__child_alive(const dmcp__child *c);
pid_t dmcp__child_pid(const dmcp__child *c);

/* Request/answer accounting for idle reaping: a child with work in flight is never idle. */
void dmcp__child_busy(dmcp__child *c, int delta);

/* Starts stopping the child without waiting (stdin closed, SIGTERM to its group; the reader
 * escalates to SIGKILL after the grace). on_exit follows with `why`. Thread-safe, idempotent. */
void dmcp__child_stop(dmcp__child *c, dmcp__child_end why);

/*
 * Stops the child (stdin EOF, grace, SIGTERM, grace, SIGKILL), joins its thread, frees it.
 * Not from inside one of its own callbacks. NULL is a no-op. Blocks at most ~2 graces + a little.
 */
void dmcp__child_close(dmcp__child *c);

/* ---- the pool: a cap on live children and idle reaping ---- */

/*
 * max_children 0: no cap. idle_ms 0: no reaping (else a thread checks every idle_ms/4, at most
 * every second). Ownership: the caller's; free with dmcp__childpool_free after releasing every
 * child. NULL on allocation failure.
 */
dmcp__childpool *dmcp__childpool_new(unsigned max_children, unsigned idle_ms);
/* As dmcp__child_spawn, counted against the cap: DMCP_E_RATE_LIMITED when it is reached. */
DMCP_WARN_UNUSED dmcp_status dmcp__childpool_spawn(dmcp__childpool *p, const dmcp__child_opts *o,
                                                   dmcp__child **out);
/* Closes and frees a child of the pool (dmcp__child_close) and frees its slot. */
void dmcp__childpool_release(dmcp__childpool *p, dmcp__child *c);
unsigned dmcp__childpool_count(dmcp__childpool *p);
void dmcp__childpool_free(dmcp__childpool *p);

/* Exposed for tests: the stderr sanitiser (control bytes, bearer tokens, JWT-shaped runs).
 * Writes at most cap-1 bytes and a NUL into out. */
void dmcp__child_sanitize(const char *in, size_t len, char *out, size_t cap);

#endif
