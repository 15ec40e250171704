/*
 * A hardened libcurl client for the few outbound calls the library makes (discovery, JWKS,
 * the Descope API). https only, except loopback hosts; no redirects; capped reply size;
 * timeouts; no signals. Never logs a header or a body.
 */
#ifndef DMCP_HTTP_H
#define DMCP_HTTP_H

#include <stdbool.h>

#include "internal.h"

typedef struct dmcp__http_opts {
    long connect_timeout_ms; /* 0: 3000 */
    long total_timeout_ms;   /* 0: 5000 */
    const char *ca_file;     /* NULL: system store */
    size_t max_bytes;        /* 0: DMCP_MAX_METADATA_BYTES */
} dmcp__http_opts;

typedef struct dmcp__http_response {
    long status;        /* HTTP status */
    dmcp__buf body;     /* NUL-terminated reply body */
    char *content_type; /* NULL when absent */
    long max_age;       /* Cache-Control max-age in seconds, -1 when absent */
    long retry_after;   /* Retry-After in seconds, -1 when absent or unparsable */
} dmcp__http_response;

/*
 * Performs one request. `headers` is a NULL-terminated list of "Name: value" lines (may be
 * NULL); `body` may be NULL for no body. Returns DMCP_OK when an HTTP reply arrived (whatever
 * its status), DMCP_E_TIMEOUT, DMCP_E_UNREACHABLE (DNS, connect, TLS), DMCP_E_TOO_LARGE,
 * DMCP_E_CONFIG (URL not allowed), DMCP_E_NOMEM.
 * Ownership: resp is filled and must be released with dmcp__http_response_free().
 * Thread-safety: safe; each call uses its own easy handle.
 */
dmcp_status dmcp__http_request(const dmcp__http_opts *opts, const char *method, const char *url,
                               const char *const *headers, const char *body, size_t body_len,
                               dmcp__http_response *resp, dmcp_error *err);

void dmcp__http_response_free(dmcp__http_response *resp);

/* Parses the max-age directive of a Cache-Control value; -1 when absent or invalid. */
long dmcp__parse_max_age(const char *cache_control);

#endif /* DMCP_HTTP_H */
