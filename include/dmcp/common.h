/*
 * dmcp/common.h - status codes, error detail, limits and memory helpers shared by every
 * part of descope-mcp for C.
 *
 * Conventions used throughout the public headers:
 *   - Every function that can fail returns a dmcp_status; DMCP_OK (0) is success and every
 *     error is negative. New codes are only ever appended.
 *   - "Ownership:" lines say who frees what. "new" means the caller releases the value with the
 *     named function; "borrowed" means valid until the named event; "takes" means the callee
 *     now owns the argument.
 *   - "Thread-safety:" lines say what may be called concurrently.
 *   - Handles are opaque; configuration goes through setters.
 */
#ifndef DMCP_COMMON_H
#define DMCP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* DMCP_API marks exported symbols; everything else is hidden (-fvisibility=hidden). */
#if defined(DMCP_BUILDING_LIBRARY) && defined(__GNUC__)
#define DMCP_API __attribute__((visibility("default")))
#else
#define DMCP_API
#endif

#if defined(__GNUC__)
#define DMCP_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define DMCP_WARN_UNUSED
#endif

/* Size caps on every input the library parses (bytes unless stated). */
#define DMCP_MAX_TOKEN_BYTES (16 * 1024)       /* default cap on a compact JWS */
#define DMCP_MAX_TOKEN_BYTES_LIMIT (64 * 1024) /* highest value the cap can be set to */
#define DMCP_MAX_BODY_BYTES (4 * 1024 * 1024)  /* MCP request body (HTTP 413 above) */
/* Request body bytes buffered at once, server-wide (HTTP 503 above). */
#define DMCP_DEFAULT_MAX_BUFFERED_BYTES ((size_t)128 * 1024 * 1024)
#define DMCP_MAX_JWKS_BYTES (64 * 1024)
#define DMCP_MAX_METADATA_BYTES (64 * 1024) /* discovery documents, API replies */
#define DMCP_MAX_HEADER_BYTES (8 * 1024)
#define DMCP_MAX_SCOPES 256 /* scopes per token or per requirement */
#define DMCP_MAX_SCOPE_LEN 256
#define DMCP_MAX_JSON_DEPTH 64
#define DMCP_MAX_URL_BYTES 2048

/*
 * The status map. X(NAME, value, "message"). Names are stable and appear in JSON output of
 * the command-line tool as lowercase strings without the prefix (see dmcp_status_name()).
 */
#define DMCP_STATUS_MAP(X)                                                                         \
    X(OK, 0, "success")                                                                            \
    X(E_INVALID_TOKEN, -1, "invalid token")                                                        \
    X(E_INSUFFICIENT_SCOPE, -2, "insufficient scope")                                              \
    X(E_MALFORMED_REQUEST, -3, "malformed request")                                                \
    X(E_KEY_SOURCE_UNAVAILABLE, -4, "key source unavailable")                                      \
    X(E_CONFIG, -5, "configuration error")                                                         \
    X(E_NOMEM, -6, "out of memory")                                                                \
    X(E_INVALID_ARG, -7, "invalid argument")                                                       \
    X(E_TOO_LARGE, -8, "input too large")                                                          \
    X(E_NOT_CONNECTED, -9, "user or tenant has no connection for this app")                        \
    X(E_POLICY_DENIED, -10, "denied by policy or credential")                                      \
    X(E_RATE_LIMITED, -11, "rate limited")                                                         \
    X(E_UPSTREAM, -12, "upstream API error")                                                       \
    X(E_UNREACHABLE, -13, "upstream unreachable")                                                  \
    X(E_TIMEOUT, -14, "timed out")                                                                 \
    X(E_NOT_FOUND, -15, "not found")                                                               \
    X(E_STATE, -16, "operation not valid in this state")                                           \
    X(E_IO, -17, "input/output error")                                                             \
    X(E_PROTOCOL, -18, "protocol error")                                                           \
    X(E_CANCELLED, -19, "cancelled")                                                               \
    X(E_INTERNAL, -20, "internal error")                                                           \
    X(E_INPUT_REQUIRED, -21, "the client's input is needed first (input-required result)")

typedef enum dmcp_status {
#define DMCP__STATUS_ENUM(name, value, msg) DMCP_##name = (value),
    DMCP_STATUS_MAP(DMCP__STATUS_ENUM)
#undef DMCP__STATUS_ENUM
} dmcp_status;

/*
 * Why a token was refused (detail for DMCP_E_INVALID_TOKEN). The challenge builders turn these
 * into the error_description texts of mcp-resource-server.md §5.
 */
typedef enum dmcp_reason {
    DMCP_REASON_NONE = 0,
    DMCP_REASON_MALFORMED,     /* not a strict compact JWS, bad JSON, bad base64url */
    DMCP_REASON_TOO_LARGE,     /* over the configured token size cap */
    DMCP_REASON_ALGORITHM,     /* alg not allowed, or alg/key mismatch */
    DMCP_REASON_HEADER,        /* crit, zip, b64, typ policy */
    DMCP_REASON_UNKNOWN_KEY,   /* no key for kid / ambiguous key selection */
    DMCP_REASON_SIGNATURE,     /* signature did not verify */
    DMCP_REASON_EXPIRED,       /* exp + leeway <= now */
    DMCP_REASON_NOT_YET_VALID, /* nbf or iat in the future beyond leeway */
    DMCP_REASON_CLAIM,         /* required claim missing or of the wrong type */
    DMCP_REASON_ISSUER,        /* iss not accepted */
    DMCP_REASON_AUDIENCE       /* aud does not name this resource */
} dmcp_reason;

/*
 * Optional, caller-owned error detail. Every function that takes a dmcp_error * accepts NULL.
 * On failure the library fills it; on success it is left with status DMCP_OK.
 * Never contains a token, key or secret.
 */
typedef struct dmcp_error {
    dmcp_status status;
    dmcp_reason reason;         /* for DMCP_E_INVALID_TOKEN */
    int http_status;            /* HTTP status of an upstream reply, or 0 */
    long retry_after;           /* seconds, for DMCP_E_RATE_LIMITED; 0 when unknown */
    char message[256];          /* human-readable, NUL-terminated */
    char code[64];              /* upstream error code (Descope errorCode), or "" */
    char description[256];      /* upstream errorDescription, or "" */
    char upstream_message[256]; /* upstream errorMessage, or "" */
} dmcp_error;

/* Text for a status ("invalid token"). Never NULL; unknown values give "unknown status". */
DMCP_API const char *dmcp_strerror(dmcp_status status);

/* Stable name for a status ("DMCP_E_INVALID_TOKEN"). Never NULL. */
DMCP_API const char *dmcp_status_name(dmcp_status status);

/* Resets *err to "no error". NULL is a no-op. */
DMCP_API void dmcp_error_clear(dmcp_error *err);

/* Frees memory the library handed out as "new, release with dmcp_free()". NULL is a no-op. */
DMCP_API void dmcp_free(void *ptr);

/*
 * One-time process initialisation (libcurl global init, jansson hash seed). Call it once,
 * before starting threads; every other entry point calls it lazily too, but calling it
 * explicitly first is the only thread-safe way on every platform.
 * Thread-safety: not thread-safe with itself.
 */
DMCP_API dmcp_status dmcp_global_init(void);

/* Counterpart of dmcp_global_init(); call last, when no other dmcp object exists. */
DMCP_API void dmcp_global_cleanup(void);

#ifdef __cplusplus
}
#endif

#endif /* DMCP_COMMON_H */
