/*
 * The sandbox's browser-side OAuth endpoints: authorization (RFC 6749 §4.1 with PKCE, RFC 7636,
 * and RFC 8707 resource) with a local consent page, its approval, and dynamic client
 * registration (RFC 7591). Tokens are issued by oauth.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

/* An error page for authorization requests that must not redirect (RFC 6749 §4.1.2.1). */
static void error_page(sbx_resp *r, unsigned status, const char *msg)
{
    char *m = sbx_html_escape(msg);
    char page[1024];
    snprintf(page, sizeof(page),
             "<!doctype html><meta charset=utf-8><title>Sandbox sign-in error</title>"
             "<h1>descope-mcp sandbox</h1><p>%s</p>",
             m != NULL ? m : "error");
    free(m);
    sbx_resp_text(r, status, "text/html; charset=utf-8", page);
    r->cors = false;
}

/* 302 to redirect_uri with the given query pairs (already encoded) and iss (RFC 9207). */
static void redirect_with(sbx *s, sbx_resp *r, const char *uri, const char *pairs,
                          const char *state)
{
    char *iss = sbx_urlencode(s->issuer);
    char *st = state != NULL ? sbx_urlencode(state) : NULL;
    size_t n = strlen(uri) + strlen(pairs) + (iss != NULL ? strlen(iss) : 0) +
               (st != NULL ? strlen(st) : 0) + 32;
    char *loc = malloc(n);
    if (loc != NULL && iss != NULL) {
        snprintf(loc, n, "%s%c%s%s%s&iss=%s", uri, strchr(uri, '?') != NULL ? '&' : '?', pairs,
                 st != NULL ? "&state=" : "", st != NULL ? st : "", iss);
        r->location = loc;
        loc = NULL;
        r->status = 302;
        r->cors = false;
    } else {
        sbx_resp_oauth_error(r, 500, "server_error", "out of memory");
    }
    free(loc);
    free(iss);
    free(st);
}

void sbx_authorize(sbx *s, sbx_req *q, sbx_resp *r)
{
    const char *client_id = sbx_query(q, "client_id");
    const char *redirect = sbx_query(q, "redirect_uri");
    const char *state = sbx_query(q, "state");
    json_t *client = client_id != NULL ? sbx_client(s, client_id) : NULL;
    if (client == NULL) {
        error_page(r, 400, "Unknown client_id.");
        return;
    }
    json_t *uris = json_object_get(client, "redirect_uris");
    if (redirect == NULL && json_array_size(uris) == 1) {
        redirect = json_string_value(json_array_get(uris, 0));
    }
    /* Exact match with a registered URI; a dev client may use any loopback URI (RFC 8252). */
    if (redirect == NULL || !sbx_redirect_uri_ok(redirect) ||
        !(sbx_array_has(uris, redirect) ||
          (json_is_true(json_object_get(client, "dev")) && sbx_is_loopback_redirect(redirect)))) {
        error_page(r, 400, "Missing, invalid or unregistered redirect_uri.");
        return;
    }
    const char *rtype = sbx_query(q, "response_type");
    const char *challenge = sbx_query(q, "code_challenge");
    const char *method = sbx_query(q, "code_challenge_method");
    const char *resource = sbx_query(q, "resource");
    const char *why = NULL;
    if (rtype == NULL || strcmp(rtype, "code") != 0) {
        redirect_with(s, r, redirect, "error=unsupported_response_type", state);
        return;
    }
    /* OAuth 2.1 / MCP: PKCE with S256 is mandatory. */
    if (challenge == NULL || method == NULL || strcmp(method, "S256") != 0 ||
        strlen(challenge) != 43 ||
        strspn(challenge, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            43) {
        redirect_with(s, r, redirect,
                      "error=invalid_request&error_description=PKCE%20S256%20required", state);
        return;
    }
    if (resource != NULL && !sbx_resource_ok(resource)) {
        redirect_with(s, r, redirect, "error=invalid_target", state);
        return;
    }
    json_t *scopes = sbx_requested_scopes(sbx_query(q, "scope"), &why);
    if (scopes == NULL) {
        redirect_with(s, r, redirect, "error=invalid_scope", state);
        return;
    }
    if (state != NULL && strlen(state) > 512) {
        json_decref(scopes);
        error_page(r, 400, "state too long.");
        return;
    }
    char *id = sbx_random_id("AR", 16);
    if (id == NULL || !sbx_table_room(s->pending)) {
        free(id);
        json_decref(scopes);
        error_page(r, 503, "Too many pending sign-ins; try again in a minute.");
        return;
    }
    json_t *entry = json_pack("{s:s,s:s,s:s,s:O,s:I}", "client_id", client_id, "redirect_uri",
                              redirect, "challenge", challenge, "scopes", scopes, "exp",
                              (json_int_t)(sbx_now() + SBX_CODE_TTL));
    if (entry != NULL && state != NULL) {
        json_object_set_new(entry, "state", json_string(state));
    }
    if (entry != NULL && resource != NULL) {
        json_object_set_new(entry, "resource", json_string(resource));
    }
    json_object_set_new(s->pending, id, entry);

    /* The consent page: pick a test user. Everything shown is escaped. */
    char *scope_txt = sbx_scope_join(scopes);
    const char *cname = json_string_value(json_object_get(client, "name"));
    char *e_client = sbx_html_escape(cname != NULL ? cname : client_id);
    char *e_scope = sbx_html_escape(scope_txt != NULL && scope_txt[0] != '\0' ? scope_txt
                                                                              : "(none)");
    char *e_res = sbx_html_escape(resource != NULL ? resource : "(none)");
    /* Each user row is at most ~6x its two (capped) fields plus markup. */
    size_t cap = 4096 + json_array_size(json_object_get(s->state, "users")) * 2048;
    char *page = malloc(cap);
    if (page != NULL && e_client != NULL && e_scope != NULL && e_res != NULL) {
        int n = snprintf(page, cap,
                         "<!doctype html><meta charset=utf-8><title>Sandbox sign-in</title>"
                         "<style>body{font-family:sans-serif;max-width:36em;margin:2em auto}"
                         "</style><h1>descope-mcp sandbox</h1>"
                         "<p><b>Development tool, not for production.</b></p>"
                         "<p>Client <b>%s</b> asks for scopes <code>%s</code> "
                         "for resource <code>%s</code>.</p>"
                         "<form method=post action=\"/oauth2/v1/apps/authorize\">"
                         "<input type=hidden name=request value=\"%s\"><p>Sign in as:</p>",
                         e_client, e_scope, e_res, id);
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(s->state, "users"), i, u) {
            char *eid = sbx_html_escape(json_string_value(json_object_get(u, "id")));
            const char *nm = json_string_value(json_object_get(u, "name"));
            char *ename = sbx_html_escape(nm != NULL ? nm : "");
            if (n > 0 && (size_t)n < cap && eid != NULL && ename != NULL) {
                n += snprintf(page + n, cap - (size_t)n,
                              "<p><label><input type=radio name=user value=\"%s\"%s> %s "
                              "(%s)</label></p>",
                              eid, i == 0 ? " checked" : "", ename, eid);
            }
            free(eid);
            free(ename);
        }
        if (n > 0 && (size_t)n < cap) {
            snprintf(page + n, cap - (size_t)n,
                     "<button name=action value=approve>Approve</button> "
                     "<button name=action value=deny>Deny</button></form>");
        }
        sbx_resp_text(r, 200, "text/html; charset=utf-8", page);
        r->cors = false;
    } else {
        error_page(r, 500, "Out of memory.");
    }
    free(page);
    free(scope_txt);
    free(e_client);
    free(e_scope);
    free(e_res);
    free(id);
    json_decref(scopes);
}

void sbx_authorize_approve(sbx *s, sbx_req *q, sbx_resp *r)
{
    json_t *form = sbx_form_parse(q->body, q->body_len);
    const char *id = json_string_value(json_object_get(form, "request"));
    const char *user = json_string_value(json_object_get(form, "user"));
    const char *action = json_string_value(json_object_get(form, "action"));
    json_t *entry = id != NULL ? json_object_get(s->pending, id) : NULL;
    if (entry == NULL || json_integer_value(json_object_get(entry, "exp")) <= sbx_now()) {
        json_decref(form);
        error_page(r, 400, "Unknown or expired sign-in request.");
        return;
    }
    json_incref(entry);
    json_object_del(s->pending, id);
    const char *redirect = json_string_value(json_object_get(entry, "redirect_uri"));
    const char *state = json_string_value(json_object_get(entry, "state"));
    if (action == NULL || strcmp(action, "approve") != 0) {
        redirect_with(s, r, redirect, "error=access_denied", state);
    } else if (sbx_user(s, user) == NULL) {
        error_page(r, 400, "Unknown user.");
    } else {
        char *code = sbx_random_id("", 32);
        if (code == NULL || !sbx_table_room(s->codes)) {
            error_page(r, 503, "Too many pending codes; try again in a minute.");
        } else {
            json_t *c = json_deep_copy(entry);
            json_object_set_new(c, "sub", json_string(user));
            json_object_set_new(c, "exp", json_integer((json_int_t)(sbx_now() + SBX_CODE_TTL)));
            json_object_set_new(s->codes, code, c);
            char pairs[128];
            snprintf(pairs, sizeof(pairs), "code=%s", code);
            redirect_with(s, r, redirect, pairs, state);
        }
        free(code);
    }
    json_decref(entry);
    json_decref(form);
}

static bool grant_types_ok(json_t *gts, bool *code, bool *cc)
{
    size_t i;
    json_t *v;
    *code = false;
    *cc = false;
    if (gts == NULL) {
        *code = true;
        return true;
    }
    if (!json_is_array(gts) || json_array_size(gts) > 8) {
        return false;
    }
    json_array_foreach(gts, i, v) {
        const char *g = json_string_value(v);
        if (g == NULL) {
            return false;
        }
        if (strcmp(g, "authorization_code") == 0) {
            *code = true;
        } else if (strcmp(g, "client_credentials") == 0) {
            *cc = true;
        } else if (strcmp(g, "refresh_token") != 0) {
            /* refresh_token is tolerated (clients ask for it) but never granted. */
            return false;
        }
    }
    return *code || *cc;
}

void sbx_register(sbx *s, sbx_req *q, sbx_resp *r)
{
    json_t *md = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *uris = json_object_get(md, "redirect_uris");
    const char *method = json_string_value(json_object_get(md, "token_endpoint_auth_method"));
    json_t *jname = json_object_get(md, "client_name");
    bool code = false;
    bool cc = false;
    const char *err = "invalid_client_metadata";
    const char *why = NULL;
    if (!json_is_object(md)) {
        why = "body must be a JSON object";
    } else if (json_array_size(json_object_get(s->state, "clients")) >= SBX_MAX_CLIENTS) {
        why = "too many registered clients";
    } else if (!grant_types_ok(json_object_get(md, "grant_types"), &code, &cc)) {
        why = "grant_types must be authorization_code and/or client_credentials";
    } else if (json_object_get(md, "token_endpoint_auth_method") != NULL &&
               (method == NULL || (strcmp(method, "none") != 0 &&
                                   strcmp(method, "client_secret_basic") != 0 &&
                                   strcmp(method, "client_secret_post") != 0))) {
        why = "unsupported token_endpoint_auth_method";
    } else if (method != NULL && strcmp(method, "none") == 0 && cc) {
        why = "client_credentials needs a confidential client";
    } else if (jname != NULL && (!json_is_string(jname) || json_string_length(jname) > 200)) {
        why = "client_name must be a string of at most 200 bytes";
    } else if (code && (!json_is_array(uris) || json_array_size(uris) == 0 ||
                        json_array_size(uris) > 10)) {
        err = "invalid_redirect_uri";
        why = "redirect_uris must list 1-10 URIs";
    } else if (uris != NULL && !json_is_array(uris)) {
        err = "invalid_redirect_uri";
        why = "redirect_uris must be an array";
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(uris, i, v) {
            if (!json_is_string(v) || !sbx_redirect_uri_ok(json_string_value(v))) {
                err = "invalid_redirect_uri";
                why = "redirect URIs must be https, or http on loopback, without fragment";
            }
        }
    }
    if (why != NULL) {
        json_decref(md);
        sbx_resp_oauth_error(r, 400, err, why);
        return;
    }
    bool pub = method != NULL && strcmp(method, "none") == 0;
    char *id = sbx_random_id("DC", 12);
    char *secret = pub ? NULL : sbx_random_id("sbx-secret-", 24);
    json_t *gts = json_array();
    if (code) {
        json_array_append_new(gts, json_string("authorization_code"));
    }
    if (cc) {
        json_array_append_new(gts, json_string("client_credentials"));
    }
    json_t *client = json_pack("{s:s,s:s,s:o,s:O,s:b}", "client_id", id != NULL ? id : "",
                               "name", jname != NULL ? json_string_value(jname) : "",
                               "redirect_uris", uris != NULL ? json_incref(uris) : json_array(),
                               "grant_types", gts, "dev", 0);
    if (id == NULL || (!pub && secret == NULL) || client == NULL) {
        sbx_resp_oauth_error(r, 500, "server_error", "out of memory");
    } else {
        if (secret != NULL) {
            json_object_set_new(client, "client_secret", json_string(secret));
        }
        json_array_append(json_object_get(s->state, "clients"), client);
        sbx_state_save(s);
        json_t *out = json_pack("{s:s,s:I,s:O,s:O,s:[s],s:s}", "client_id", id,
                                "client_id_issued_at", (json_int_t)sbx_now(), "redirect_uris",
                                json_object_get(client, "redirect_uris"), "grant_types", gts,
                                "response_types", "code", "token_endpoint_auth_method",
                                pub ? "none" : (method != NULL ? method : "client_secret_basic"));
        if (out != NULL && secret != NULL) {
            json_object_set_new(out, "client_secret", json_string(secret));
            json_object_set_new(out, "client_secret_expires_at", json_integer(0));
        }
        if (out != NULL && jname != NULL) {
            json_object_set(out, "client_name", jname);
        }
        sbx_resp_json(r, 201, out);
    }
    if (secret != NULL) {
        OPENSSL_cleanse(secret, strlen(secret));
    }
    free(secret);
    free(id);
    json_decref(gts);
    json_decref(client);
    json_decref(md);
}
