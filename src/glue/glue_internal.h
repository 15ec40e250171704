/* Internal seams of the glue (src/glue/), exposed for its unit tests and fuzz target. */
#ifndef DMCP_GLUE_INTERNAL_H
#define DMCP_GLUE_INTERNAL_H

#include <stddef.h>

#include "dmcp/common.h"

/* The well-known segment of RFC 9728 §3.1. */
#define DMCP__PRM_SUFFIX "/.well-known/oauth-protected-resource"

/* A canonical resource (mcp-resource-server.md §2.3). Strings are new (free()). */
typedef struct dmcp__canon {
    char *url;          /* scheme://host[:port][path] */
    size_t origin_len;  /* length of scheme://host[:port] inside url */
    char *path_decoded; /* the path percent-decoded, as the HTTP server reports it; "" if none */
} dmcp__canon;

/* Canonicalises url (see dmcp_protect_canonical_resource()). */
dmcp_status dmcp__canonicalize(const char *url, dmcp__canon *out, dmcp_error *err);
void dmcp__canon_free(dmcp__canon *c);
/* The path-inserted PRM URL of a canonical resource (RFC 9728 §3.1); NULL when out of memory. */
char *dmcp__metadata_url(const dmcp__canon *c);

/* What an Authorization header value holds (mcp-resource-server.md §3 step 2, §5 rows 3-5). */
typedef enum dmcp__bearer {
    DMCP__BEARER_OK = 0,       /* "Bearer" SP b64token: *token / *token_len point into value */
    DMCP__BEARER_OTHER_SCHEME, /* a credential of another scheme (Basic ...): as if none */
    DMCP__BEARER_MALFORMED,    /* empty, bad syntax, extra parts: 400 invalid_request */
    DMCP__BEARER_TOO_LARGE     /* a token over DMCP_MAX_TOKEN_BYTES_LIMIT: 401 invalid_token */
} dmcp__bearer;

/*
 * Parses one Authorization header value of len bytes (RFC 9110 §11.6.2, RFC 6750 §2.1):
 * the scheme is matched case-insensitively, then exactly one SP, then
 * b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" and nothing else.
 * Never reads past value + len; value need not be NUL-terminated.
 */
dmcp__bearer dmcp__bearer_parse(const char *value, size_t len, const char **token,
                                size_t *token_len);

/*
 * A bounded cache of principals by verified token (src/glue/principal.c). Returns the
 * principal of token t whose raw bytes are raw/raw_len: the cached one when t is the same
 * token object as before with the same bytes, else a new one (which replaces the slot's
 * entry). Validate t and check its scopes before calling: the cache checks nothing else.
 * Ownership: *out is a new reference (dmcp_principal_unref). c may be NULL (no caching).
 * Thread-safety: safe for concurrent use (a mutex per slot).
 */
typedef struct dmcp__pcache dmcp__pcache;
struct dmcp_token;
struct dmcp_principal;
dmcp__pcache *dmcp__pcache_new(void);
void dmcp__pcache_free(dmcp__pcache *c);
dmcp_status dmcp__pcache_principal(dmcp__pcache *c, const struct dmcp_token *t, const char *raw,
                                   size_t raw_len, struct dmcp_principal **out);
/* Entries held (for tests). */
size_t dmcp__pcache_count(dmcp__pcache *c);

#endif
