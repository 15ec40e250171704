/* The Connections client's calls on the wire: argument checks, the credential, one API call
 * with the retry policy, error replies (wire protocol §5.1, §5.4). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_int.h"

/* ---- argument checks ------------------------------------------------------------------- */

/* Ids travel in JSON and in a query string: bounded, valid UTF-8 (jansson checks), no
 * control characters. */
dmcp_status dmcp__dc_check_id(const char *what, const char *v, dmcp_error *err)
{
    size_t n = v != NULL ? strlen(v) : 0;
    if (n == 0 || n > MAX_ID_BYTES) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                          "%s is missing or longer than %d bytes", what, MAX_ID_BYTES);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch == 0x7f) {
            return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                              "%s has a control character", what);
        }
    }
    return DMCP_OK;
}

dmcp_status dmcp__dc_check_scopes(const char *const *scopes, size_t *n_out, dmcp_error *err)
{
    size_t n = 0;
    while (scopes != NULL && scopes[n] != NULL) {
        size_t l = strlen(scopes[n]);
        if (l == 0 || l > DMCP_MAX_SCOPE_LEN) {
            return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                              "scope %zu is empty or longer than %d bytes", n, DMCP_MAX_SCOPE_LEN);
        }
        if (++n > DMCP_MAX_SCOPES) {
            return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "more than %d scopes",
                              DMCP_MAX_SCOPES);
        }
    }
    *n_out = n;
    return DMCP_OK;
}

/* The credential of this call: the access token (default mode) or the management key. */
dmcp_status dmcp__dc_pick_credential(const dmcp_descope_client *c, const char *access_token,
                                     const char **cred, dmcp_error *err)
{
    if (c->mgmt_key != NULL) {
        if (access_token != NULL) {
            return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                              "the client uses a management key: pass NULL as access token");
        }
        *cred = c->mgmt_key;
        return DMCP_OK;
    }
    if (!dmcp__dc_credential_ok(access_token)) {
        /* never echo the value: say only what is wrong with it */
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                          "access token missing, too long, or not printable ASCII");
    }
    *cred = access_token;
    return DMCP_OK;
}

/* ---- HTTP ------------------------------------------------------------------------------ */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/*
 * One API call with the retry policy (wire protocol §5.4). DMCP_OK means a reply arrived and
 * is in *resp (any status); transient statuses are retried, after the last retry the reply is
 * handed back as is.
 */
dmcp_status dmcp__dc_api_call(const dmcp_descope_client *c, const char *cred, const char *method,
                              const char *path_and_query, const char *body,
                              dmcp__http_response *resp, dmcp_error *err)
{
    dmcp__buf url;
    dmcp__buf_init(&url, DMCP_MAX_URL_BYTES + 1024);
    dmcp_status st = dmcp__buf_printf(&url, "%s%s", c->api_base, path_and_query);
    if (st != DMCP_OK) {
        dmcp__buf_free(&url);
        return dmcp__fail(err, st, DMCP_REASON_NONE, "request URL too long");
    }
    /* §5.1: "Bearer <projectId>:<credential>"; the pid cannot hold ':' (§1.2 step 6). Built
     * by hand into one exact-size buffer, wiped after use: a printf-style builder would leave
     * copies of the credential in scratch buffers. */
    static const char prefix[] = "Authorization: Bearer ";
    size_t lp = sizeof(prefix) - 1, li = strlen(c->project_id), lc = strlen(cred);
    size_t alen = lp + li + 1 + lc;
    char *auth = malloc(alen + 1);
    if (auth == NULL) {
        dmcp__buf_free(&url);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    memcpy(auth, prefix, lp);
    memcpy(auth + lp, c->project_id, li);
    auth[lp + li] = ':';
    memcpy(auth + lp + li + 1, cred, lc);
    auth[alen] = '\0';
    const char *headers[] = {auth, "Accept: application/json",
                             body != NULL ? "Content-Type: application/json" : NULL, NULL};
    dmcp__http_opts o = {.connect_timeout_ms = c->connect_ms,
                         .total_timeout_ms = c->total_ms,
                         .ca_file = c->ca_file,
                         .max_bytes = DMCP_MAX_METADATA_BYTES};
    for (size_t attempt = 0;; attempt++) {
        st = dmcp__http_request(&o, method, url.data, headers, body, body ? strlen(body) : 0, resp,
                                err);
        if (st != DMCP_OK || !dmcp__descope_status_is_transient(resp->status) ||
            attempt >= c->n_delays) {
            break;
        }
        dmcp__http_response_free(resp);
        sleep_ms(c->delays[attempt]);
    }
    dmcp__buf_free(&url);
    dmcp__free_secret(auth, alen);
    return st;
}

/* Maps a reply that is not 2xx; the secrets list keeps credentials out of error text. */
dmcp_status dmcp__dc_reply_error(const dmcp__http_response *resp, const char *cred, dmcp_error *err)
{
    const char *secrets[] = {cred, NULL};
    return dmcp__descope_map_error(resp->status, resp->body.data, resp->body.len, resp->retry_after,
                                   secrets, err);
}

char *dmcp__dc_dump_body(json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return s;
}

json_t *dmcp__dc_scopes_json(const char *const *scopes, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        if (json_array_append_new(a, json_string(scopes[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}
