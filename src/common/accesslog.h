/*
 * accesslog - one JSON line per request (issue 12), to stderr or a file.
 *
 *   {"time":"2026-01-02T03:04:05.678Z","level":"info","request_id":"9f86d081884c7d65",
 *    "user_id":"U2abc","method":"tools/call","tool":"echo","status":200,
 *    "latency_ms":0.412,"reason":null,"remote":"127.0.0.1"}
 *
 * Why it cannot log a token: an entry has no free-form text. Method, tool, reason and level
 * come from fixed tables (the metrics labels: an unregistered tool name is "other"), the
 * remote address is formatted here from a sockaddr, and the one string taken from a request,
 * the principal's user id, is a claim of an already validated token (it is escaped, made
 * valid UTF-8 and cut at DMCP__LOG_USER_ID_MAX bytes). No header, body, URL or query string
 * can reach the log.
 *
 * Lines are written with one write(2) each and are at most DMCP__LOG_LINE_MAX bytes, so
 * concurrent writers never interleave (O_APPEND files; pipes up to PIPE_BUF).
 */
#ifndef DMCP_ACCESSLOG_H
#define DMCP_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "internal.h"
#include "metrics.h"

typedef enum dmcp__accesslog_level {
    DMCP__LOG_AUTO = 0, /* entries only: derive from the status (5xx error, 4xx warn, else info) */
    DMCP__LOG_ERROR,
    DMCP__LOG_WARN,
    DMCP__LOG_INFO,
    DMCP__LOG_DEBUG
} dmcp__accesslog_level;

#define DMCP__LOG_USER_ID_MAX 256 /* bytes of user id kept (cut at a character boundary) */
#define DMCP__LOG_LINE_MAX 4096   /* PIPE_BUF on Linux: a line is one atomic write */

typedef struct dmcp__accesslog dmcp__accesslog;

/* One request. Zero-initialise, then fill what is known. */
typedef struct dmcp__access_entry {
    dmcp__accesslog_level
        level;           /* AUTO (0) unless the caller knows better (health checks: DEBUG) */
    uint64_t request_id; /* from dmcp__request_id_next(); printed as 16 hex digits */
    const char *user_id; /* the validated principal's user id, or NULL (unauthenticated) */
    dmcp__m_method method;
    unsigned tool;       /* a dmcp__metrics_tool_* id, or DMCP__LOG_NO_TOOL */
    unsigned status;     /* HTTP status sent */
    uint64_t latency_ns; /* monotonic */
    /* Why the request was refused, first match wins: a limit, else a token reason (with
     * auth == DMCP_E_INVALID_TOKEN), else a non-OK auth status ("insufficient_scope",
     * "key_source_unavailable", ...). All zero / NONE: "reason" is null. */
    dmcp__m_limit limit; /* DMCP__M_LIMIT_NONE when no limit refused it */
    dmcp_status auth;
    dmcp_reason reason;
    const struct sockaddr *remote; /* AF_INET / AF_INET6 peer, or NULL */
} dmcp__access_entry;

#define DMCP__LOG_NO_TOOL UINT32_MAX

/* An entry with everything "none": level AUTO, no tool, no limit, method NONE. */
dmcp__access_entry dmcp__access_entry_init(void);

/*
 * Opens a log writing lines at `level` and above (ERROR is the least verbose). path NULL or
 * "-" is stderr (never closed); otherwise the file is created 0640 if missing and opened
 * O_APPEND, so several processes may share it and logrotate's copytruncate works.
 * Ownership: *out is new, release with dmcp__accesslog_close(). Thread-safety: the handle may
 * be written from any number of threads.
 */
dmcp_status dmcp__accesslog_open(const char *path, dmcp__accesslog_level level,
                                 dmcp__accesslog **out);
/* NULL is a no-op. No write may be running. */
void dmcp__accesslog_close(dmcp__accesslog *log);

/* Would an entry of this level be written? (NULL log: never.) Lets callers skip the work. */
bool dmcp__accesslog_enabled(const dmcp__accesslog *log, dmcp__accesslog_level level);

/*
 * Formats and writes one line (nothing when the log is NULL or the level is filtered out).
 * Returns DMCP_OK, or DMCP_E_IO when the write failed (the caller should count it, not stop
 * serving). Thread-safety: safe; one write(2) per line.
 */
dmcp_status dmcp__accesslog_write(dmcp__accesslog *log, const dmcp__access_entry *e);

/*
 * Formats the line into `line` (NUL-terminated, with the trailing newline) without writing it;
 * returns its length, or 0 if it did not fit (cannot happen with DMCP__LOG_LINE_MAX bytes).
 * For tests and for callers with their own sink.
 */
size_t dmcp__accesslog_format(const dmcp__access_entry *e, char *line, size_t cap);

/* Level names ("error", "warn", "info", "debug") and back; unknown text gives AUTO. */
const char *dmcp__accesslog_level_name(dmcp__accesslog_level level);
dmcp__accesslog_level dmcp__accesslog_level_parse(const char *name);

/*
 * A fresh request id: a per-process counter from a random start, passed through a bijective
 * mixer, so ids are unique for the life of the process and do not reveal the request count.
 * Lock-free. dmcp__request_id_format writes 16 lowercase hex digits and a NUL.
 */
uint64_t dmcp__request_id_next(void);
void dmcp__request_id_format(uint64_t id, char out[17]);

#endif /* DMCP_ACCESSLOG_H */
