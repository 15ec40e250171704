/* The Connections client's own state and the wire helpers its files share (client.c: setup,
 * options, cache, token fetches; api.c: argument checks and the API call; apps.c: connect URL
 * and connected apps). Private to src/descope. */
#ifndef DMCP_DESCOPE_CLIENT_INT_H
#define DMCP_DESCOPE_CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "descope_internal.h"
#include "http.h"

#define MAX_RETRIES 8
#define MAX_RETRY_DELAY_MS 60000u
#define MAX_ID_BYTES 512 /* app, user and tenant ids: far above Descope's, far below any cap */
#define MAX_CACHE_ENTRIES 1000000u

typedef struct cache_entry {
    unsigned char key[32]; /* SHA-256 of the request identity (see cache_key) */
    dmcp_connection_token *tok;
    int64_t expiry;
    uint64_t last_used;
} cache_entry;

struct dmcp_descope_client {
    char *project_id;
    char *origin;
    char *env_base;       /* DESCOPE_BASE_URL at creation, or NULL */
    char *override_base;  /* dmcp_descope_client_set_api_base(), or NULL */
    const char *api_base; /* one of the three above */
    char *mgmt_key;       /* secret: wiped on replace and free */
    char *ca_file;
    long connect_ms;
    long total_ms;
    unsigned delays[MAX_RETRIES];
    size_t n_delays;
    dmcp_descope_clock_fn clock;
    void *clock_ud;

    pthread_mutex_t mu; /* guards everything below */
    cache_entry *cache;
    size_t cache_len;
    size_t cache_max;
    unsigned margin_s;
    uint64_t tick;
    uint64_t hits;
    uint64_t misses;
};

struct dmcp_connection_options {
    char *tenant_id;
    char *principal;
    char *redirect_url;
    bool with_refresh_token;
    bool force_refresh;
    bool fetch_connect_url;
};

/* A credential goes into an HTTP header: visible ASCII only, so CR/LF never inject one. */
bool dmcp__dc_credential_ok(const char *s);
/* Ids travel in JSON and in a query string: bounded, no control characters. */
dmcp_status dmcp__dc_check_id(const char *what, const char *v, dmcp_error *err);
/* A NULL-terminated scope list within DMCP_MAX_SCOPES / DMCP_MAX_SCOPE_LEN; *n_out its length. */
dmcp_status dmcp__dc_check_scopes(const char *const *scopes, size_t *n_out, dmcp_error *err);
/* The credential of this call: the access token (default mode) or the management key. */
dmcp_status dmcp__dc_pick_credential(const dmcp_descope_client *c, const char *access_token,
                                     const char **cred, dmcp_error *err);
/* One API call with the retry policy (wire protocol §5.4); DMCP_OK = a reply is in *resp. */
dmcp_status dmcp__dc_api_call(const dmcp_descope_client *c, const char *cred, const char *method,
                              const char *path_and_query, const char *body,
                              dmcp__http_response *resp, dmcp_error *err);
/* Maps a reply that is not 2xx, keeping the credential out of the error text. */
dmcp_status dmcp__dc_reply_error(const dmcp__http_response *resp, const char *cred,
                                 dmcp_error *err);
/* Compact JSON text of body (consumed); NULL on failure. */
char *dmcp__dc_dump_body(json_t *body);
/* A JSON array of the n scopes; NULL on failure. */
json_t *dmcp__dc_scopes_json(const char *const *scopes, size_t n);

#endif /* DMCP_DESCOPE_CLIENT_INT_H */
