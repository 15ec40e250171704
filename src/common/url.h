/* URL checks and the Descope / OpenID well-known URL derivation (wire protocol §1.2). */
#ifndef DMCP_URL_H
#define DMCP_URL_H

#include <stdbool.h>

#include "internal.h"


/*
 * Checks that url is absolute, https (or http on a loopback host), has a host, and no
 * userinfo or fragment; query allowed only when allow_query. On success *loopback says whether
 * the host is a loopback host (may be NULL).
 */
dmcp_status dmcp__url_check(const char *url, bool allow_query, bool *loopback, dmcp_error *err);

typedef enum dmcp__wk_shape {
    DMCP__WK_GENERIC = 0,   /* any OpenID issuer */
    DMCP__WK_AGENTIC = 1,   /* /v1/apps/agentic/<P>/<M> */
    DMCP__WK_PROJECT = 2,   /* /v1/apps/<P> */
    DMCP__WK_LEGACY = 3     /* /<P> */
} dmcp__wk_shape;

typedef struct dmcp__wellknown {
    char *discovery_url; /* issuer + "/.well-known/openid-configuration" */
    char *issuer;        /* the URL minus that suffix */
    char *origin;        /* scheme://host[:port] */
    char *project_id;    /* NULL for a generic issuer */
    char *server_id;     /* MCP server id for the agentic shape, else NULL */
    dmcp__wk_shape shape;
    bool loopback;
} dmcp__wellknown;

/*
 * Derives issuer, origin and (for Descope shapes) the project id from a discovery URL or an
 * issuer. When `descope_only` is true, a URL that is not one of the three Descope shapes is a
 * configuration error (connection tokens need a project id); otherwise it is a generic issuer.
 * Ownership: out's strings are new; release with dmcp__wellknown_free().
 */
dmcp_status dmcp__wellknown_parse(const char *url, bool descope_only, dmcp__wellknown *out,
                                  dmcp_error *err);
void dmcp__wellknown_free(dmcp__wellknown *wk);

/* True when pid matches P[A-Za-z0-9]{1,63} (Descope project ids start with "P"). */
bool dmcp__project_id_valid(const char *pid);

#endif /* DMCP_URL_H */
