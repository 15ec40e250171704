/*
 * What the gateway adds to an upstream request about the caller: identity headers (user id,
 * client id, tenant, scopes; names configurable), a short-lived assertion signed with the
 * gateway's own key (published as a JWKS on the gateway's listen address), and connection
 * tokens fetched from Descope with the caller's token (which itself never goes upstream).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <dmcp/descope.h>
#include <dmcp/server.h>
#include <dmcp/signer.h>

#include "gateway/gw_internal.h"

static void hdr_add(gw_hdrs *h, const char *name, const char *value, bool owned)
{
    if (name == NULL || value == NULL || h->n >= DMCP_GW_MAX_HEADERS) {
        if (owned) {
            free((char *)value);
        }
        return;
    }
    h->h[h->n].name = name;
    h->h[h->n].value = value;
    h->owned[h->n] = owned ? (char *)value : NULL;
    h->n++;
}

void gw_hdrs_free(gw_hdrs *h)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->owned[i] != NULL) {
            memset(h->owned[i], 0, strlen(h->owned[i]));
            free(h->owned[i]);
        }
    }
}

static const char *tenant_of(const dmcp_principal *p)
{
    const json_t *claims = dmcp_principal_claims(p);
    const char *t = json_string_value(json_object_get(claims, "dct"));
    if (t == NULL) {
        const json_t *tenants = json_object_get(claims, "tenants");
        if (json_is_object(tenants) && json_object_size(tenants) == 1) {
            void *it = json_object_iter((json_t *)tenants);
            t = json_object_iter_key(it);
        }
    }
    return t;
}

/* The caller's scopes, space-separated (a new string; NULL when out of memory). */
static char *scopes_of(const dmcp_principal *p)
{
    size_t n = dmcp_principal_scope_count(p), len = 1;
    for (size_t i = 0; i < n; i++) {
        len += strlen(dmcp_principal_scope(p, i)) + 1;
    }
    char *s = calloc(1, len);
    for (size_t i = 0; s != NULL && i < n; i++) {
        if (i > 0) {
            strcat(s, " ");
        }
        strcat(s, dmcp_principal_scope(p, i));
    }
    return s;
}

void gw_identity_headers(const gw_config *cfg, const dmcp_principal *p, gw_hdrs *h)
{
    if (p == NULL) {
        return;
    }
    hdr_add(h, cfg->id_user, dmcp_principal_user_id(p), false);
    hdr_add(h, cfg->id_client, dmcp_principal_client_id(p), false);
    hdr_add(h, cfg->id_tenant, tenant_of(p), false);
    if (cfg->id_scopes != NULL) {
        hdr_add(h, cfg->id_scopes, scopes_of(p), true);
    }
}

/* ---- the signed assertion ---- */

dmcp_status gw_assertion_setup(dmcp_gateway *gw, dmcp_error *err)
{
    const gw_config *c = gw->cfg;
    if (c->as_header == NULL) {
        return DMCP_OK;
    }
    dmcp_status st = c->as_key_file != NULL ? dmcp_signer_new_file(c->as_key_file, &gw->signer, err)
                                            : dmcp_signer_new(NULL, &gw->signer, err);
    if (st != DMCP_OK) {
        return st;
    }
    char *jwks = dmcp_signer_jwks_json(gw->signer);
    st = jwks != NULL ? dmcp_server_add_static(gw->srv, c->as_jwks_path, "application/json", jwks)
                      : DMCP_E_NOMEM;
    free(jwks);
    if (st != DMCP_OK) {
        return st;
    }
    fprintf(stderr,
            "descope-mcp gateway: upstream assertion in %s: %s key %s (%s), JWKS at %s on the "
            "listen address\n",
            c->as_header, dmcp_signer_alg(gw->signer), dmcp_signer_kid(gw->signer),
            c->as_key_file != NULL ? "from key_file"
                                   : "generated at start: replicas and restarts need key_file",
            c->as_jwks_path);
    return DMCP_OK;
}

/*
 * The assertion header's value for upstream i (its URL is the audience): iss = the gateway's
 * public URL, aud, sub, client_id, scope, tenant, iat, exp = iat + ttl, jti (128 random bits);
 * "Bearer <jwt>" in Authorization. NULL when it cannot be made (the upstream then sees no
 * assertion and refuses, as it should, rather than the gateway inventing one).
 */
static char *assertion_value(const dmcp_gateway *gw, size_t i, const dmcp_principal *p)
{
    const gw_config *c = gw->cfg;
    unsigned char rnd[16];
    char jti[33];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        return NULL;
    }
    for (size_t k = 0; k < sizeof(rnd); k++) {
        snprintf(jti + 2 * k, 3, "%02x", rnd[k]);
    }
    const json_t *claims = dmcp_principal_claims(p);
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    json_int_t now = (json_int_t)time(NULL);
    json_t *a = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:I,s:I,s:s}", "iss", c->mcp_server_url, "aud",
                          c->ups[i].url, "sub", sub != NULL ? sub : dmcp_principal_user_id(p),
                          "client_id", dmcp_principal_client_id(p), "tenant", tenant_of(p),
                          "iat", now, "exp", now + (json_int_t)c->as_ttl, "jti", jti);
    char *sc = a != NULL ? scopes_of(p) : NULL;
    if (sc != NULL) {
        json_object_set_new(a, "scope", json_string(sc));
    }
    free(sc);
    char *jwt = NULL;
    if (a == NULL || dmcp_signer_sign(gw->signer, a, "JWT", &jwt) != DMCP_OK) {
        json_decref(a);
        return NULL;
    }
    json_decref(a);
    if (strcasecmp(c->as_header, "authorization") == 0) {
        size_t n = strlen(jwt) + 8;
        char *v = malloc(n);
        if (v != NULL) {
            snprintf(v, n, "Bearer %s", jwt);
        }
        free(jwt);
        jwt = v;
    }
    return jwt;
}

/* The assertion made afresh for every HTTP exchange of an upstream session (its
 * dmcp_gw_open_params.fresh_headers), for the principal the session belongs to. */
typedef struct gw_fresh {
    dmcp_gateway *gw;
    size_t up;
    dmcp_principal *p; /* a reference */
} gw_fresh;

void *gw_assertion_fresh_new(dmcp_gateway *gw, size_t i, const dmcp_principal *p)
{
    if (gw->signer == NULL || p == NULL || gw->cfg->ups[i].url == NULL) {
        return NULL;
    }
    gw_fresh *f = malloc(sizeof(*f));
    if (f != NULL) {
        f->gw = gw;
        f->up = i;
        f->p = dmcp_principal_ref((dmcp_principal *)p);
    }
    return f;
}

size_t gw_assertion_fresh(void *ud, dmcp_gw_header *out, size_t max)
{
    gw_fresh *f = ud;
    char *v = max > 0 ? assertion_value(f->gw, f->up, f->p) : NULL;
    if (v == NULL) {
        return 0;
    }
    out[0].name = f->gw->cfg->as_header;
    out[0].value = v; /* handed over: the caller frees it */
    return 1;
}

void gw_assertion_fresh_free(void *ud)
{
    gw_fresh *f = ud;
    if (f != NULL) {
        dmcp_principal_unref(f->p);
        free(f);
    }
}

/*
 * Connection tokens of the apps configured for upstream i. On a failure, *tool_error is the
 * text for the user (as calendar-server words it) and DMCP_E_* is returned.
 */
dmcp_status gw_connection_headers(dmcp_gateway *gw, size_t i, const dmcp_principal *p,
                                  gw_hdrs *h, char *tool_error, size_t te_len)
{
    const gw_config *cfg = gw->cfg;
    for (size_t k = 0; k < cfg->n_conns; k++) {
        const gw_conn *cn = &cfg->conns[k];
        if (cn->upstream != NULL && strcmp(cn->upstream, cfg->ups[i].name) != 0) {
            continue;
        }
        const char *user = dmcp_principal_user_id(p);
        const char *tok = dmcp_principal_access_token(p, NULL);
        if (gw->descope == NULL || user == NULL || tok == NULL) {
            snprintf(tool_error, te_len, "This tool needs a signed-in user to use the \"%s\" app.",
                     cn->app);
            return DMCP_E_NOT_CONNECTED;
        }
        dmcp_connection_options *o = NULL;
        dmcp_connection_token *ct = NULL;
        dmcp_error err = {0};
        dmcp_status st = dmcp_connection_options_new(&o);
        if (st == DMCP_OK) {
            st = dmcp_connection_options_set_principal(o, dmcp_principal_binding_key(p));
        }
        if (st == DMCP_OK) {
            st = dmcp_connection_options_set_fetch_connect_url(o, true, NULL);
        }
        if (st == DMCP_OK) {
            st = dmcp_descope_user_token(gw->descope, tok, cn->app, user,
                                         (const char *const *)cn->scopes, o, &ct, &err);
        }
        const char *url = dmcp_connection_token_connect_url(ct);
        if (st == DMCP_E_NOT_CONNECTED) {
            if (url != NULL) {
                snprintf(tool_error, te_len,
                         "Your \"%s\" account is not connected yet. Connect it here, then try "
                         "again: %s",
                         cn->app, url);
            } else {
                snprintf(tool_error, te_len,
                         "Your \"%s\" account is not connected yet. Connect the app in your "
                         "Descope account, then try again.",
                         cn->app);
            }
        } else if (st == DMCP_E_POLICY_DENIED) {
            snprintf(tool_error, te_len,
                     "Descope refused to hand out your \"%s\" token (policy denied). The token "
                     "needs the outbound.token.fetch scope.",
                     cn->app);
        } else if (st != DMCP_OK) {
            snprintf(tool_error, te_len, "Could not get your \"%s\" token: %s", cn->app,
                     err.message[0] != '\0' ? err.message : dmcp_strerror(st));
        } else {
            const char *at = dmcp_connection_token_access_token(ct);
            hdr_add(h, cn->header, at != NULL ? strdup(at) : NULL, true);
        }
        dmcp_connection_token_free(ct);
        dmcp_connection_options_free(o);
        if (st != DMCP_OK) {
            return st;
        }
    }
    return DMCP_OK;
}

