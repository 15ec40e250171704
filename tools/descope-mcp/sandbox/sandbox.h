/*
 * descope-mcp sandbox: a local, Descope-shaped OpenID provider for offline development.
 * Private to the command-line tool. A DEVELOPMENT TOOL: never expose it beyond loopback.
 *
 * Threading: the HTTP server runs with libmicrohttpd's single internal polling thread, so
 * every handler (and every mutation of the state) runs on that one thread; the main thread
 * only waits for a signal. No lock is needed as long as that stays true.
 */
#ifndef DMCP_SANDBOX_H
#define DMCP_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "dmcp/auth.h"
#include "dmcp/signer.h"

/* Size caps on everything the sandbox parses. */
#define SBX_MAX_BODY (64u * 1024u)       /* request bodies */
#define SBX_MAX_TOKEN 8192u              /* bearer credentials */
#define SBX_MAX_STATE (1024u * 1024u)    /* the state file */
#define SBX_MAX_PENDING 256u             /* pending authorizations, codes, connect tickets */
#define SBX_MAX_CLIENTS 1000u            /* registered clients */
#define SBX_CODE_TTL 120                 /* authorization codes and consent requests, s */
#define SBX_TOKEN_TTL 3600               /* access tokens, s */
#define SBX_CONN_TTL 3600                /* connection tokens, s */

typedef struct sbx {
    json_t *state;        /* the whole state (see docs/sandbox.md) */
    char *state_path;     /* NULL: nothing is persisted */
    dmcp_signer *signer;  /* RS256 signing key (kid: its RFC 7638 thumbprint) */
    char base[96];        /* http://127.0.0.1:PORT */
    char issuer[256];     /* base + /v1/apps/agentic/<P>/<M> */
    const char *pid;      /* borrowed from state */
    const char *sid;      /* borrowed from state */
    json_t *pending;      /* consent requests: id -> {client_id, redirect_uri, ..., exp} */
    json_t *codes;        /* authorization codes: code -> {..., exp} */
    json_t *tickets;      /* connect tickets: id -> {user, app, scopes, redirect, exp} */
    dmcp_validator *validator; /* the library's validator over this sandbox's own JWKS */
} sbx;

/* An HTTP response under construction. */
typedef struct sbx_resp {
    unsigned status;
    const char *ctype;
    char *body;                /* owned */
    char *location;            /* owned, or NULL */
    char *www_authenticate;    /* owned, or NULL */
    const char *cache_control; /* static, or NULL (then "no-store") */
    bool cors;                 /* add Access-Control-Allow-Origin: * */
} sbx_resp;

/* An incoming request, as the handlers see it. */
typedef struct sbx_req {
    const char *method;
    const char *path;
    const char *body;
    size_t body_len;
    void *conn; /* struct MHD_Connection *, for header and query lookups */
} sbx_req;

/* util.c */
int64_t sbx_now(void);
char *sbx_b64url(const unsigned char *data, size_t len);
/* prefix + 2*nbytes hex characters of CSPRNG output; NULL on failure. */
char *sbx_random_id(const char *prefix, size_t nbytes);
/* application/x-www-form-urlencoded -> object of strings; NULL on bad input or duplicates. */
json_t *sbx_form_parse(const char *body, size_t len);
/* Constant-time comparison of two NUL-terminated secrets. */
bool sbx_secret_eq(const char *a, const char *b);
/* true when s is 1..max chars of [A-Za-z0-9._-] (ids that go into URLs and claims). */
bool sbx_is_id(const char *s, size_t max);
/* "a b c" -> ["a","b","c"]; NULL on empty tokens, bad characters or > 32 scopes. */
json_t *sbx_scope_split(const char *s);
char *sbx_scope_join(const json_t *arr);
bool sbx_array_has(const json_t *arr, const char *s);
/* RFC 3339 UTC string for t. */
void sbx_rfc3339(int64_t t, char out[32]);
/* Parses an RFC 3339 date-time; false if malformed. */
bool sbx_parse_rfc3339(const char *s, int64_t *out);
/* Drops entries whose "exp" has passed, then refuses to grow past SBX_MAX_PENDING. */
bool sbx_table_room(json_t *table);
bool sbx_is_loopback_redirect(const char *uri);
bool sbx_redirect_uri_ok(const char *uri);
/* RFC 3986 percent-encoding of everything but unreserved characters. New string. */
char *sbx_urlencode(const char *s);
/* HTML text/attribute escaping. New string. */
char *sbx_html_escape(const char *s);

/* keys.c */
EVP_PKEY *sbx_key_generate(void);
char *sbx_key_to_pem(EVP_PKEY *key);
json_t *sbx_jwks(const sbx *s);
/* Signs claims (borrowed) as an RS256 at+jwt. New string or NULL. */
char *sbx_jwt_sign(const sbx *s, const json_t *claims);
/*
 * A validator (the library's public API) for the tokens this sandbox issues: its own JWKS as
 * a static key set (no network: the server would otherwise call itself), its issuer, RS256,
 * typ at+jwt, and no audience check (the connections API serves tokens of any audience).
 */
dmcp_validator *sbx_validator_new(const sbx *s);

/* state.c */
json_t *sbx_state_default(void);
bool sbx_state_load(const char *path, json_t **out, bool *created);
bool sbx_state_check(const json_t *st, const char **why);
bool sbx_state_save(const sbx *s);
json_t *sbx_find_by(json_t *arr, const char *field, const char *value);
json_t *sbx_user(const sbx *s, const char *id);
json_t *sbx_client(const sbx *s, const char *id);
/* A fresh connection object for app with scopes (borrowed). */
json_t *sbx_connection_new(const char *app_id, const json_t *scopes);

/* oauth.c */
/* The scopes of a request's scope parameter that the sandbox supports (NULL with *why). */
json_t *sbx_requested_scopes(const char *scope, const char **why);
/* An RFC 8707 resource the sandbox issues tokens for. */
bool sbx_resource_ok(const char *res);
void sbx_discovery(sbx *s, sbx_req *q, sbx_resp *r);
void sbx_jwks_endpoint(sbx *s, sbx_req *q, sbx_resp *r);
void sbx_token_endpoint(sbx *s, sbx_req *q, sbx_resp *r);
void sbx_dev_token(sbx *s, sbx_req *q, sbx_resp *r);
/* authorize.c */
void sbx_authorize(sbx *s, sbx_req *q, sbx_resp *r);
void sbx_authorize_approve(sbx *s, sbx_req *q, sbx_resp *r);
void sbx_register(sbx *s, sbx_req *q, sbx_resp *r);

/* outbound.c */
void sbx_outbound_fetch(sbx *s, sbx_req *q, sbx_resp *r, bool tenant, bool latest);
void sbx_outbound_connect(sbx *s, sbx_req *q, sbx_resp *r);
void sbx_outbound_list(sbx *s, sbx_req *q, sbx_resp *r);
void sbx_connect_page(sbx *s, sbx_req *q, sbx_resp *r);

/* calendar.c */
void sbx_calendar_events(sbx *s, sbx_req *q, sbx_resp *r);

/* server.c */
const char *sbx_header(const sbx_req *q, const char *name);
const char *sbx_query(const sbx_req *q, const char *name);
void sbx_resp_json(sbx_resp *r, unsigned status, json_t *steal);
void sbx_resp_text(sbx_resp *r, unsigned status, const char *ctype, const char *text);
void sbx_resp_oauth_error(sbx_resp *r, unsigned status, const char *error, const char *desc);
void sbx_resp_descope_error(sbx_resp *r, unsigned status, const char *code, const char *desc,
                            const char *msg);
/* Binds and listens on host:port_in (an IP literal); returns the socket or -1. */
int sbx_listen(const char *host, unsigned port_in, unsigned *port, bool *v6);
/* Serves on the listening socket fd; returns an opaque daemon handle or NULL. */
void *sbx_server_start(sbx *s, int fd, bool v6);
void sbx_server_stop(void *daemon);

#endif
