/* Internals of the Connections module (src/descope), shared with its tests and fuzzers. */
#ifndef DMCP_DESCOPE_INTERNAL_H
#define DMCP_DESCOPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dmcp/descope.h"
#include "internal.h"

/* Largest value accepted as an expiry: 9999-12-31T23:59:59Z (RFC 3339 years are 4 digits). */
#define DMCP__EXPIRY_MAX INT64_C(253402300799)

/* Parses an RFC 3339 date-time (§5.6); 0 when it is not one or is before the epoch. */
int64_t dmcp__parse_rfc3339(const char *s, size_t len);

/*
 * Parses a 2xx reply body of the four token endpoints ({"token":{...}}, wire protocol §5.3).
 * A reply without a non-empty string token.accessToken is DMCP_E_UPSTREAM.
 * Ownership: *out is new (refcount 1).
 */
dmcp_status dmcp__connection_token_parse(const char *body, size_t len,
                                         dmcp_connection_token **out, dmcp_error *err);

/* A token that carries only a connect URL (DMCP_E_NOT_CONNECTED + fetch_connect_url). */
dmcp_status dmcp__connection_token_connect_only(const char *url, dmcp_connection_token **out);

/*
 * Maps a non-2xx reply to a status (wire protocol §5.4) and fills err: http_status,
 * retry_after (429), and errorCode / errorDescription / errorMessage when the body is a JSON
 * object carrying them (any may be missing; the body may not be JSON). Upstream text is made
 * printable, cut to the field size, and replaced by "[redacted]" when it contains one of
 * `secrets` (a NULL-terminated list; NULL entries end it), so no credential is ever echoed.
 */
dmcp_status dmcp__descope_map_error(long http_status, const char *body, size_t len,
                                    long retry_after, const char *const *secrets,
                                    dmcp_error *err);

/* True for the statuses retried with backoff: 503, 520, 521, 522, 524, 530. */
bool dmcp__descope_status_is_transient(long http_status);

#endif /* DMCP_DESCOPE_INTERNAL_H */
