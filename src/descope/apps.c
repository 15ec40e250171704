/* The connect URL and the connected apps of a user (wire protocol §5). */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client_int.h"

/* ---- connect URL and connected apps ---------------------------------------------------- */

dmcp_status dmcp_descope_connect_url(dmcp_descope_client *c, const char *access_token,
                                     const char *app_id, const char *tenant_id,
                                     const char *redirect_url, const char *const *scopes,
                                     char **url_out, dmcp_error *err)
{
    if (url_out == NULL || c == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "NULL argument");
    }
    *url_out = NULL;
    size_t n_scopes = 0;
    const char *cred = NULL;
    dmcp_status st = dmcp__dc_check_id("app id", app_id, err);
    if (st == DMCP_OK && tenant_id != NULL) {
        st = dmcp__dc_check_id("tenant id", tenant_id, err);
    }
    if (st == DMCP_OK && redirect_url != NULL) {
        st = dmcp__dc_check_id("redirect URL", redirect_url, err);
    }
    if (st == DMCP_OK) {
        st = dmcp__dc_check_scopes(scopes, &n_scopes, err);
    }
    if (st == DMCP_OK) {
        st = dmcp__dc_pick_credential(c, access_token, &cred, err);
    }
    if (st != DMCP_OK) {
        return st;
    }
    if (err != NULL) {
        dmcp_error_clear(err);
    }
    /* Wire protocol §5.2: {appId[,tenantId],options:{redirectUrl,scopes}}, no userId. */
    json_t *b = json_object();
    json_t *o = json_object();
    if (b == NULL || o == NULL) {
        json_decref(b);
        json_decref(o);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    int jr = json_object_set_new(b, "appId", json_string(app_id));
    if (tenant_id != NULL) {
        jr |= json_object_set_new(b, "tenantId", json_string(tenant_id));
    }
    if (redirect_url != NULL) {
        jr |= json_object_set_new(o, "redirectUrl", json_string(redirect_url));
    }
    if (n_scopes > 0) {
        jr |= json_object_set_new(o, "scopes", dmcp__dc_scopes_json(scopes, n_scopes));
    }
    jr |= json_object_set_new(b, "options", o);
    if (jr != 0) {
        json_decref(b);
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                          "an id or scope is not valid UTF-8");
    }
    char *body = dmcp__dc_dump_body(b);
    if (body == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    dmcp__http_response resp;
    st = dmcp__dc_api_call(c, cred, "POST", "/v1/mgmt/outbound/app/connect", body, &resp, err);
    free(body);
    if (st != DMCP_OK) {
        return st;
    }
    if (resp.status >= 200 && resp.status < 300) {
        json_error_t jerr;
        json_t *root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len,
                                  JSON_REJECT_DUPLICATES, &jerr);
        const json_t *u = json_object_get(root, "url");
        if (json_is_string(u) && json_string_length(u) > 0 &&
            json_string_length(u) <= DMCP_MAX_URL_BYTES) {
            *url_out = dmcp__strdup(json_string_value(u));
            st = *url_out != NULL ? DMCP_OK : dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
        } else {
            st = dmcp__fail(err, DMCP_E_UPSTREAM, DMCP_REASON_NONE,
                            "Descope connect reply has no url");
            if (err != NULL) {
                err->http_status = (int)resp.status;
            }
        }
        json_decref(root);
    } else {
        st = dmcp__dc_reply_error(&resp, cred, err);
    }
    dmcp__http_response_free(&resp);
    return st;
}

void dmcp_descope_strv_free(char **v)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; v[i] != NULL; i++) {
        free(v[i]);
    }
    free(v);
}

static dmcp_status append_query(dmcp__buf *q, bool first, const char *name, const char *value)
{
    /* RFC 3986 §3.4: every value percent-encoded (curl_easy_escape keeps only unreserved) */
    char *e = curl_easy_escape(NULL, value, 0);
    if (e == NULL) {
        return DMCP_E_NOMEM;
    }
    dmcp_status st = dmcp__buf_printf(q, "%s%s=%s", first ? "?" : "&", name, e);
    curl_free(e);
    return st;
}

dmcp_status dmcp_descope_connected_apps(dmcp_descope_client *c, const char *access_token,
                                        const char *user_id, const char *tenant_id, char ***app_ids,
                                        size_t *count, dmcp_error *err)
{
    if (app_ids == NULL || c == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "NULL argument");
    }
    *app_ids = NULL;
    if (count != NULL) {
        *count = 0;
    }
    const char *cred = NULL;
    dmcp_status st = dmcp__dc_check_id("user id", user_id, err);
    if (st == DMCP_OK && tenant_id != NULL) {
        st = dmcp__dc_check_id("tenant id", tenant_id, err);
    }
    if (st == DMCP_OK) {
        st = dmcp__dc_pick_credential(c, access_token, &cred, err);
    }
    if (st != DMCP_OK) {
        return st;
    }
    if (err != NULL) {
        dmcp_error_clear(err);
    }
    dmcp__buf q;
    dmcp__buf_init(&q, 4096);
    st = dmcp__buf_appends(&q, "/v1/mgmt/outbound/apps-with-user-token");
    if (st == DMCP_OK) {
        st = append_query(&q, true, "userId", user_id);
    }
    if (st == DMCP_OK && tenant_id != NULL) {
        st = append_query(&q, false, "tenantId", tenant_id);
    }
    if (st != DMCP_OK) {
        dmcp__buf_free(&q);
        return dmcp__fail(err, st, DMCP_REASON_NONE, "request too large");
    }
    dmcp__http_response resp;
    st = dmcp__dc_api_call(c, cred, "GET", q.data, NULL, &resp, err);
    dmcp__buf_free(&q);
    if (st != DMCP_OK) {
        return st;
    }
    if (resp.status < 200 || resp.status >= 300) {
        st = dmcp__dc_reply_error(&resp, cred, err);
        dmcp__http_response_free(&resp);
        return st;
    }
    json_error_t jerr;
    json_t *root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len,
                              JSON_REJECT_DUPLICATES, &jerr);
    dmcp__http_response_free(&resp);
    const json_t *a = json_object_get(root, "appIds");
    /* An object without appIds is an empty list (the Go SDK omits empty fields). */
    if (!json_is_object(root) || (a != NULL && !json_is_array(a))) {
        json_decref(root);
        return dmcp__fail(err, DMCP_E_UPSTREAM, DMCP_REASON_NONE,
                          "Descope reply has no appIds list");
    }
    size_t n = a != NULL ? json_array_size(a) : 0;
    char **v = calloc(n + 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; v != NULL && i < n; i++) {
        const json_t *s = json_array_get(a, i);
        if (!json_is_string(s)) {
            continue;
        }
        v[k] = dmcp__strdup(json_string_value(s));
        if (v[k] == NULL) {
            dmcp_descope_strv_free(v);
            v = NULL;
            break;
        }
        k++;
    }
    json_decref(root);
    if (v == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    *app_ids = v;
    if (count != NULL) {
        *count = k;
    }
    return DMCP_OK;
}
