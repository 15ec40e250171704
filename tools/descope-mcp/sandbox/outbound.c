/*
 * The outbound-app ("Connections") API of the sandbox, as in descope-wire-protocol.md §5:
 * token fetches for users and tenants, the connect URL, and the list of connected apps,
 * backed by the state's connections. Also the sandbox's own connect page (/sandbox/connect).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sandbox.h"

/* Error codes the sandbox answers with (docs/sandbox.md); E111504 is Descope's "not connected". */
#define E_BAD_REQUEST "E011001"
#define E_UNAUTHORIZED "E011003"
#define E_FORBIDDEN "E011004"
#define E_NOT_CONNECTED "E111504"

#define CAL_APP "google-calendar"
#define CAL_SCOPE "https://www.googleapis.com/auth/calendar.readonly"

enum principal { P_NONE = 0, P_MANAGEMENT, P_TOKEN };

/*
 * Authorization: Bearer <projectId>:<credential> (wire §5.1). The credential is the management
 * key, or an access token this sandbox issued carrying outbound.token.fetch.
 * On P_TOKEN, *user receives the token's user id (dsub, else sub; new string).
 */
static enum principal authorize(sbx *s, sbx_req *q, sbx_resp *r, char **user)
{
    const char *h = sbx_header(q, "Authorization");
    *user = NULL;
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || strlen(h) > SBX_MAX_TOKEN + 80) {
        sbx_resp_descope_error(r, 401, E_UNAUTHORIZED, "Unauthorized",
                               "Authorization: Bearer <projectId>:<credential> required");
        return P_NONE;
    }
    const char *cred = h + 7;
    const char *colon = strchr(cred, ':');
    size_t plen = strlen(s->pid);
    if (colon == NULL || (size_t)(colon - cred) != plen || strncmp(cred, s->pid, plen) != 0) {
        sbx_resp_descope_error(r, 401, E_UNAUTHORIZED, "Unauthorized",
                               "The bearer does not start with this project's id");
        return P_NONE;
    }
    const char *secret = colon + 1;
    if (sbx_secret_eq(secret, json_string_value(json_object_get(s->state, "management_key")))) {
        return P_MANAGEMENT;
    }
    /* The library's own validator (dmcp/auth.h) over the sandbox's JWKS: signature, kid,
       alg, typ, iss, exp/nbf. */
    dmcp_token *tok = NULL;
    dmcp_error err;
    memset(&err, 0, sizeof(err));
    if (dmcp_validator_validate(s->validator, secret, strlen(secret), &tok, &err) != DMCP_OK) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Invalid credential: %s", dmcp_reason_description(err.reason));
        sbx_resp_descope_error(r, 401, E_UNAUTHORIZED, "Unauthorized", msg);
        return P_NONE;
    }
    if (!dmcp_token_has_scope(tok, "outbound.token.fetch")) {
        dmcp_token_free(tok);
        sbx_resp_descope_error(r, 403, E_FORBIDDEN, "Forbidden",
                               "The access token lacks the outbound.token.fetch scope");
        return P_NONE;
    }
    /* dsub if present, else sub: the Descope SDK rule (wire §4). */
    const char *uid = dmcp_token_user_id(tok);
    *user = uid != NULL ? strdup(uid) : NULL;
    dmcp_token_free(tok);
    if (*user == NULL) {
        sbx_resp_descope_error(r, 401, E_UNAUTHORIZED, "Unauthorized", "Token without subject");
        return P_NONE;
    }
    return P_TOKEN;
}

/* Refuses any field outside `allowed` (the gateway rejects unknown fields: wire §5.2). */
static const char *only_fields(const json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            known = known || strcmp(k, allowed[i]) == 0;
        }
        if (!known) {
            return k;
        }
    }
    return NULL;
}

static json_t *owner_of(sbx *s, bool tenant, const char *id)
{
    return sbx_find_by(json_object_get(s->state, tenant ? "tenants" : "users"), "id", id);
}

/* The matching connection of owner, or NULL. */
static json_t *find_connection(json_t *owner, const char *app, const char *tenant_id,
                               const json_t *scopes)
{
    json_t *found = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(owner, "connections"), i, c) {
        const char *ct = json_string_value(json_object_get(c, "tenant_id"));
        if (strcmp(json_string_value(json_object_get(c, "app_id")), app) != 0) {
            continue;
        }
        if ((tenant_id == NULL) != (ct == NULL) ||
            (tenant_id != NULL && strcmp(tenant_id, ct) != 0)) {
            continue;
        }
        bool all = true;
        size_t j;
        json_t *sc;
        json_array_foreach(scopes, j, sc) {
            all = all && sbx_array_has(json_object_get(c, "scopes"), json_string_value(sc));
        }
        if (all) {
            found = c; /* the last match is the latest */
        }
    }
    return found;
}

static bool refresh(json_t *c)
{
    char *at = sbx_random_id("sbx-conn-", 24);
    if (at == NULL) {
        return false;
    }
    json_object_set_new(c, "access_token", json_string(at));
    json_object_set_new(c, "expiry", json_integer((json_int_t)(sbx_now() + SBX_CONN_TTL)));
    json_object_set_new(c, "last_refresh", json_integer((json_int_t)sbx_now()));
    OPENSSL_cleanse(at, strlen(at));
    free(at);
    return true;
}

void sbx_outbound_fetch(sbx *s, sbx_req *q, sbx_resp *r, bool tenant, bool latest)
{
    static const char *const f_user[] = {"appId", "userId", "scopes", "options", "tenantId",
                                         "externalIdentifier", NULL};
    static const char *const f_user_latest[] = {"appId", "userId", "options", "tenantId",
                                                "externalIdentifier", NULL};
    static const char *const f_tenant[] = {"appId", "tenantId", "scopes", "options", NULL};
    static const char *const f_tenant_latest[] = {"appId", "tenantId", "options", NULL};
    static const char *const f_options[] = {"withRefreshToken", "forceRefresh", NULL};
    char *user = NULL;
    enum principal who = authorize(s, q, r, &user);
    if (who == P_NONE) {
        return;
    }
    json_t *body = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, NULL);
    const char *app = json_string_value(json_object_get(body, "appId"));
    const char *uid = json_string_value(json_object_get(body, "userId"));
    const char *tid = json_string_value(json_object_get(body, "tenantId"));
    json_t *scopes = json_object_get(body, "scopes");
    json_t *opts = json_object_get(body, "options");
    const char *const *allowed = tenant ? (latest ? f_tenant_latest : f_tenant)
                                        : (latest ? f_user_latest : f_user);
    const char *bad = json_is_object(body) ? only_fields(body, allowed) : NULL;
    char msg[256];
    msg[0] = '\0';
    if (!json_is_object(body)) {
        snprintf(msg, sizeof(msg), "The body must be a JSON object");
    } else if (bad != NULL) {
        snprintf(msg, sizeof(msg), "Unknown field in request body");
    } else if (!sbx_is_id(app, 128)) {
        snprintf(msg, sizeof(msg), "appId is required");
    } else if (!tenant && !sbx_is_id(uid, 128)) {
        snprintf(msg, sizeof(msg), "userId is required");
    } else if ((tenant && !sbx_is_id(tid, 128)) ||
               (json_object_get(body, "tenantId") != NULL && !sbx_is_id(tid, 128))) {
        snprintf(msg, sizeof(msg), "tenantId is missing or malformed");
    } else if (!latest && (!json_is_array(scopes) || json_array_size(scopes) > 32)) {
        snprintf(msg, sizeof(msg), "scopes must be an array");
    } else if (opts != NULL && (!json_is_object(opts) || only_fields(opts, f_options) != NULL)) {
        snprintf(msg, sizeof(msg), "options must be an object with known fields");
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(scopes, i, v) {
            if (!json_is_string(v)) {
                snprintf(msg, sizeof(msg), "scopes must be strings");
            }
        }
        const char *k;
        json_object_foreach(opts, k, v) {
            if (!json_is_boolean(v)) {
                snprintf(msg, sizeof(msg), "options must be booleans");
            }
        }
    }
    if (msg[0] != '\0') {
        sbx_resp_descope_error(r, 400, E_BAD_REQUEST, "Bad request", msg);
        goto out;
    }
    /* Policy of the sandbox: a user's access token fetches only that user's own tokens;
       tenant tokens need the management key. */
    if (who == P_TOKEN && tenant) {
        sbx_resp_descope_error(r, 403, E_FORBIDDEN, "Forbidden",
                               "Tenant tokens need the management key in the sandbox");
        goto out;
    }
    if (who == P_TOKEN && strcmp(user, uid) != 0) {
        sbx_resp_descope_error(r, 403, E_FORBIDDEN, "Forbidden",
                               "An access token may fetch only its own user's tokens");
        goto out;
    }
    json_t *owner = owner_of(s, tenant, tenant ? tid : uid);
    json_t *conn = owner != NULL
                       ? find_connection(owner, app, tenant ? NULL : tid, latest ? NULL : scopes)
                       : NULL;
    if (conn == NULL) {
        snprintf(msg, sizeof(msg), "No connection to app %s with the requested scopes", app);
        sbx_resp_descope_error(r, 404, E_NOT_CONNECTED, "Not connected", msg);
        goto out;
    }
    bool force = json_is_true(json_object_get(opts, "forceRefresh"));
    bool with_refresh = json_is_true(json_object_get(opts, "withRefreshToken"));
    /* Expired (or about to): the sandbox "refreshes" it as Descope would. */
    if (force || json_integer_value(json_object_get(conn, "expiry")) <= sbx_now() + 60) {
        if (!refresh(conn)) {
            sbx_resp_descope_error(r, 500, "E000500", "Internal error", "Out of memory");
            goto out;
        }
        sbx_state_save(s);
    }
    char exp[32];
    char last[32];
    sbx_rfc3339(json_integer_value(json_object_get(conn, "expiry")), exp);
    json_t *lr = json_object_get(conn, "last_refresh");
    if (json_is_integer(lr)) {
        sbx_rfc3339(json_integer_value(lr), last);
    } else {
        last[0] = '\0';
    }
    json_t *tok = json_pack("{s:O,s:s,s:O,s:s,s:s,s:b,s:s,s:O,s:s}", "id",
                            json_object_get(conn, "id"), "appId", app, "accessToken",
                            json_object_get(conn, "access_token"), "accessTokenType", "bearer",
                            "accessTokenExpiry", exp, "hasRefreshToken",
                            json_object_get(conn, "refresh_token") != NULL, "lastRefreshTime",
                            last, "scopes", json_object_get(conn, "scopes"), "grantedBy",
                            "sandbox");
    if (tok != NULL && last[0] == '\0') {
        json_object_del(tok, "lastRefreshTime");
    }
    if (tok != NULL) {
        if (tenant) {
            json_object_set_new(tok, "tenantId", json_string(tid));
        } else {
            json_object_set_new(tok, "userId", json_string(uid));
            json_object_set_new(tok, "tokenSub", json_string(uid));
            if (tid != NULL) {
                json_object_set_new(tok, "tenantId", json_string(tid));
            }
        }
        if (with_refresh && json_object_get(conn, "refresh_token") != NULL) {
            json_object_set(tok, "refreshToken", json_object_get(conn, "refresh_token"));
        }
    }
    sbx_resp_json(r, 200, tok != NULL ? json_pack("{s:o}", "token", tok) : NULL);
out:
    free(user);
    json_decref(body);
}

void sbx_outbound_list(sbx *s, sbx_req *q, sbx_resp *r)
{
    char *user = NULL;
    enum principal who = authorize(s, q, r, &user);
    if (who == P_NONE) {
        return;
    }
    const char *uid = sbx_query(q, "userId");
    const char *tid = sbx_query(q, "tenantId");
    if (!sbx_is_id(uid, 128) || (tid != NULL && !sbx_is_id(tid, 128))) {
        sbx_resp_descope_error(r, 400, E_BAD_REQUEST, "Bad request", "userId is required");
    } else if (who == P_TOKEN && strcmp(user, uid) != 0) {
        sbx_resp_descope_error(r, 403, E_FORBIDDEN, "Forbidden",
                               "An access token may list only its own user's apps");
    } else {
        json_t *ids = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(sbx_user(s, uid), "connections"), i, c) {
            const char *ct = json_string_value(json_object_get(c, "tenant_id"));
            json_t *app = json_object_get(c, "app_id");
            if ((tid == NULL || (ct != NULL && strcmp(ct, tid) == 0)) &&
                !sbx_array_has(ids, json_string_value(app))) {
                json_array_append(ids, app);
            }
        }
        sbx_resp_json(r, 200, json_pack("{s:o}", "appIds", ids));
    }
    free(user);
}

void sbx_outbound_connect(sbx *s, sbx_req *q, sbx_resp *r)
{
    static const char *const f_body[] = {"appId", "tenantId", "options", NULL};
    static const char *const f_opts[] = {"redirectUrl", "scopes", NULL};
    char *user = NULL;
    enum principal who = authorize(s, q, r, &user);
    if (who == P_NONE) {
        return;
    }
    json_t *body = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, NULL);
    const char *app = json_string_value(json_object_get(body, "appId"));
    const char *tid = json_string_value(json_object_get(body, "tenantId"));
    json_t *opts = json_object_get(body, "options");
    const char *redirect = json_string_value(json_object_get(opts, "redirectUrl"));
    json_t *scopes = json_object_get(opts, "scopes");
    const char *why = NULL;
    if (!json_is_object(body) || only_fields(body, f_body) != NULL || !sbx_is_id(app, 128)) {
        why = "appId is required; known fields only";
    } else if (json_object_get(body, "tenantId") != NULL && !sbx_is_id(tid, 128)) {
        why = "malformed tenantId";
    } else if (opts != NULL && (!json_is_object(opts) || only_fields(opts, f_opts) != NULL)) {
        why = "options must be an object with known fields";
    } else if (json_object_get(opts, "redirectUrl") != NULL &&
               (redirect == NULL || !sbx_redirect_uri_ok(redirect))) {
        why = "redirectUrl must be https, or http on loopback";
    } else if (scopes != NULL && (!json_is_array(scopes) || json_array_size(scopes) > 32)) {
        why = "options.scopes must be an array";
    } else if (who == P_MANAGEMENT && tid == NULL) {
        why = "with the management key, connect a tenant (tenantId); a user connects with "
              "their own access token";
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(scopes, i, v) {
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                json_string_length(v) > 256) {
                why = "options.scopes must be strings";
            }
        }
    }
    if (why != NULL) {
        sbx_resp_descope_error(r, 400, E_BAD_REQUEST, "Bad request", why);
        goto out;
    }
    if (who == P_TOKEN && sbx_user(s, user) == NULL) {
        sbx_resp_descope_error(r, 404, "E011005", "Unknown user",
                               "The access token's subject is not a sandbox user");
        goto out;
    }
    if (who == P_MANAGEMENT && owner_of(s, true, tid) == NULL) {
        sbx_resp_descope_error(r, 404, "E011005", "Unknown tenant", "No such sandbox tenant");
        goto out;
    }
    char *ticket = sbx_random_id("CT", 16);
    if (ticket == NULL || !sbx_table_room(s->tickets)) {
        free(ticket);
        sbx_resp_descope_error(r, 503, "E000503", "Busy", "Too many pending connects");
        goto out;
    }
    json_t *sc = scopes != NULL ? json_incref(scopes)
                                : (strcmp(app, CAL_APP) == 0 ? json_pack("[s]", CAL_SCOPE)
                                                             : json_array());
    json_t *entry = json_pack("{s:s,s:s,s:b,s:o,s:I}", "owner", who == P_TOKEN ? user : tid,
                              "app", app, "tenant", who == P_MANAGEMENT, "scopes", sc, "exp",
                              (json_int_t)(sbx_now() + 600));
    if (entry != NULL && redirect != NULL) {
        json_object_set_new(entry, "redirect", json_string(redirect));
    }
    if (entry != NULL && who == P_TOKEN && tid != NULL) {
        json_object_set_new(entry, "tenant_id", json_string(tid));
    }
    json_object_set_new(s->tickets, ticket, entry);
    char url[256];
    snprintf(url, sizeof(url), "%s/sandbox/connect?ticket=%s", s->base, ticket);
    free(ticket);
    sbx_resp_json(r, 200, json_pack("{s:s}", "url", url));
out:
    free(user);
    json_decref(body);
}

static void html(sbx_resp *r, unsigned status, const char *msg)
{
    char page[2048];
    snprintf(page, sizeof(page),
             "<!doctype html><meta charset=utf-8><title>Sandbox connect</title>"
             "<h1>descope-mcp sandbox</h1><p><b>Development tool, not for production.</b></p>%s",
             msg);
    sbx_resp_text(r, status, "text/html; charset=utf-8", page);
    r->cors = false;
}

void sbx_connect_page(sbx *s, sbx_req *q, sbx_resp *r)
{
    bool post = strcmp(q->method, "POST") == 0;
    json_t *form = post ? sbx_form_parse(q->body, q->body_len) : NULL;
    const char *ticket = post ? json_string_value(json_object_get(form, "ticket"))
                              : sbx_query(q, "ticket");
    json_t *t = ticket != NULL ? json_object_get(s->tickets, ticket) : NULL;
    if (t == NULL || json_integer_value(json_object_get(t, "exp")) <= sbx_now()) {
        json_decref(form);
        html(r, 400, "<p>Unknown or expired connect link.</p>");
        return;
    }
    const char *owner_id = json_string_value(json_object_get(t, "owner"));
    const char *app = json_string_value(json_object_get(t, "app"));
    if (!post) {
        char *scopes = sbx_scope_join(json_object_get(t, "scopes"));
        /* All are checked ids already; escaped anyway, as everything put into HTML. */
        char *e_scopes = sbx_html_escape(scopes != NULL ? scopes : "");
        char *e_app = sbx_html_escape(app);
        char *e_owner = sbx_html_escape(owner_id);
        char *e_ticket = sbx_html_escape(ticket);
        char body[1536];
        if (e_scopes == NULL || e_app == NULL || e_owner == NULL || e_ticket == NULL) {
            sbx_resp_text(r, 500, "text/plain", "out of memory");
        } else {
            snprintf(body, sizeof(body),
                     "<p>Connect <b>%s</b> for <b>%s</b> with scopes <code>%s</code>?</p>"
                     "<form method=post action=\"/sandbox/connect\">"
                     "<input type=hidden name=ticket value=\"%s\">"
                     "<button>Connect</button></form>",
                     e_app, e_owner, e_scopes, e_ticket);
            html(r, 200, body);
        }
        free(scopes);
        free(e_scopes);
        free(e_app);
        free(e_owner);
        free(e_ticket);
        return;
    }
    json_incref(t);
    json_object_del(s->tickets, ticket);
    json_t *owner = owner_of(s, json_is_true(json_object_get(t, "tenant")), owner_id);
    json_t *conn = sbx_connection_new(app, json_object_get(t, "scopes"));
    if (owner == NULL || conn == NULL) {
        html(r, 400, "<p>The user or tenant no longer exists.</p>");
    } else {
        json_t *tid = json_object_get(t, "tenant_id");
        if (tid != NULL) {
            json_object_set(conn, "tenant_id", tid);
        }
        json_array_append(json_object_get(owner, "connections"), conn);
        sbx_state_save(s);
        const char *redirect = json_string_value(json_object_get(t, "redirect"));
        if (redirect != NULL) {
            r->location = strdup(redirect);
            r->status = r->location != NULL ? 302 : 500;
            r->cors = false;
        } else {
            html(r, 200, "<p>Connected. You can close this page.</p>");
        }
    }
    json_decref(conn);
    json_decref(t);
    json_decref(form);
}
