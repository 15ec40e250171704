/*
 * The sandbox's OAuth 2.1 / OpenID endpoints: discovery (OIDC Discovery §3, RFC 8414), JWKS,
 * token (RFC 6749 §4.1/§4.4, RFC 7636 PKCE, RFC 8707 resource) and the sandbox-only dev token.
 * The browser side (authorization with a consent page, client registration) is authorize.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sandbox.h"

static const char *const supported_scopes[] = {"calendar.read", "tools.call", "admin.write",
                                               "outbound.token.fetch"};

static bool scope_supported(const char *sc)
{
    for (size_t i = 0; i < sizeof(supported_scopes) / sizeof(supported_scopes[0]); i++) {
        if (strcmp(sc, supported_scopes[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Splits a requested scope string; every scope must be one the sandbox supports. */
json_t *sbx_requested_scopes(const char *scope, const char **why)
{
    *why = NULL;
    if (scope == NULL || scope[0] == '\0') {
        return json_array();
    }
    json_t *arr = sbx_scope_split(scope);
    if (arr == NULL) {
        *why = "malformed scope";
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!scope_supported(json_string_value(v))) {
            *why = "unsupported scope";
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* RFC 8707 §2: an absolute URI without a fragment. */
bool sbx_resource_ok(const char *res)
{
    size_t n = strlen(res);
    if (n == 0 || n > 512 || strchr(res, '#') != NULL || strstr(res, "://") == NULL) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)res[i];
        if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

void sbx_discovery(sbx *s, sbx_req *q, sbx_resp *r)
{
    (void)q;
    char jwks[256];
    char authz[160];
    char token[160];
    char reg[256];
    snprintf(jwks, sizeof(jwks), "%s/%s/.well-known/jwks.json", s->base, s->pid);
    snprintf(authz, sizeof(authz), "%s/oauth2/v1/apps/authorize", s->base);
    snprintf(token, sizeof(token), "%s/oauth2/v1/apps/token", s->base);
    snprintf(reg, sizeof(reg), "%s/v1/mgmt/mcp/client/%s/%s/register", s->base, s->pid, s->sid);
    json_t *scopes = json_array();
    for (size_t i = 0; i < sizeof(supported_scopes) / sizeof(supported_scopes[0]); i++) {
        json_array_append_new(scopes, json_string(supported_scopes[i]));
    }
    json_t *doc = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:o,s:[s],s:[s],s:[s,s],s:[s],s:[s,s,s],s:[s],s:[s],s:b}",
        "issuer", s->issuer, "jwks_uri", jwks, "authorization_endpoint", authz,
        "token_endpoint", token, "registration_endpoint", reg, "scopes_supported", scopes,
        "response_types_supported", "code", "response_modes_supported", "query",
        "grant_types_supported", "authorization_code", "client_credentials",
        "code_challenge_methods_supported", "S256", "token_endpoint_auth_methods_supported",
        "client_secret_basic", "client_secret_post", "none", "subject_types_supported",
        "public", "id_token_signing_alg_values_supported", "RS256",
        "authorization_response_iss_parameter_supported", 1);
    sbx_resp_json(r, 200, doc);
    r->cache_control = "public, max-age=300";
}

void sbx_jwks_endpoint(sbx *s, sbx_req *q, sbx_resp *r)
{
    (void)q;
    sbx_resp_json(r, 200, sbx_jwks(s));
    r->cache_control = "public, max-age=300";
}

/* Issues a signed access token; returns the token response object (new) or NULL. */
static json_t *issue(sbx *s, const char *sub, json_t *aud, const json_t *scopes,
                     const char *client_id, long long ttl)
{
    int64_t now = sbx_now();
    char *jti = sbx_random_id("", 16);
    char *scope = sbx_scope_join(scopes);
    json_t *claims = NULL;
    json_t *out = NULL;
    char *tok = NULL;
    if (jti == NULL || scope == NULL || aud == NULL) {
        goto done;
    }
    /* Descope-like claims plus RFC 9068 §2.2's client_id. */
    claims = json_pack("{s:s,s:s,s:O,s:I,s:I,s:I,s:s}", "iss", s->issuer, "sub", sub, "aud",
                       aud, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
                       (json_int_t)(now + ttl), "jti", jti);
    if (claims == NULL) {
        goto done;
    }
    if (client_id != NULL) {
        json_object_set_new(claims, "azp", json_string(client_id));
        json_object_set_new(claims, "client_id", json_string(client_id));
    }
    if (scope[0] != '\0') {
        json_object_set_new(claims, "scope", json_string(scope));
    }
    tok = sbx_jwt_sign(s, claims);
    if (tok == NULL) {
        goto done;
    }
    out = json_pack("{s:s,s:s,s:I}", "access_token", tok, "token_type", "Bearer", "expires_in",
                    (json_int_t)(ttl > 0 ? ttl : 0));
    if (out != NULL && scope[0] != '\0') {
        json_object_set_new(out, "scope", json_string(scope));
    }
done:
    if (tok != NULL) {
        OPENSSL_cleanse(tok, strlen(tok));
    }
    free(tok);
    free(jti);
    free(scope);
    json_decref(claims);
    return out;
}

/*
 * Client authentication (RFC 6749 §2.3.1): HTTP Basic or client_id/client_secret in the body,
 * never both; a public client (no secret registered) sends only client_id.
 * Returns the client (borrowed) or NULL after filling r. *confidential tells which kind.
 */
static json_t *authenticate_client(sbx *s, sbx_req *q, json_t *form, sbx_resp *r,
                                   bool *confidential)
{
    const char *auth = sbx_header(q, "Authorization");
    const char *fid = json_string_value(json_object_get(form, "client_id"));
    const char *fsecret = json_string_value(json_object_get(form, "client_secret"));
    char id[256] = "";
    char secret[256] = "";
    bool basic = false;
    json_t *client = NULL;
    *confidential = false;
    if (auth != NULL && strncmp(auth, "Basic ", 6) == 0) {
        unsigned char dec[400];
        const char *b64 = auth + 6;
        size_t bl = strlen(b64);
        if (bl == 0 || bl > 512 || fsecret != NULL) {
            sbx_resp_oauth_error(r, 400, "invalid_request", "bad client authentication");
            return NULL;
        }
        int n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)bl);
        /* EVP_DecodeBlock counts padding bytes as data: drop them. */
        if (n > 0 && bl >= 1 && b64[bl - 1] == '=') {
            n--;
        }
        if (n > 0 && bl >= 2 && b64[bl - 2] == '=') {
            n--;
        }
        const unsigned char *colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
        if (colon == NULL || (size_t)(colon - dec) >= sizeof(id) ||
            (size_t)n - (size_t)(colon - dec) - 1 >= sizeof(secret) ||
            memchr(dec, '\0', (size_t)n) != NULL) {
            OPENSSL_cleanse(dec, sizeof(dec));
            sbx_resp_oauth_error(r, 400, "invalid_request", "bad client authentication");
            return NULL;
        }
        memcpy(id, dec, (size_t)(colon - dec));
        id[colon - dec] = '\0';
        memcpy(secret, colon + 1, (size_t)n - (size_t)(colon - dec) - 1);
        secret[(size_t)n - (size_t)(colon - dec) - 1] = '\0';
        OPENSSL_cleanse(dec, sizeof(dec));
        basic = true;
        if (fid != NULL && strcmp(fid, id) != 0) {
            sbx_resp_oauth_error(r, 400, "invalid_request", "client_id mismatch");
            goto out;
        }
    } else if (fid != NULL && strlen(fid) < sizeof(id)) {
        strcpy(id, fid);
        if (fsecret != NULL) {
            if (strlen(fsecret) >= sizeof(secret)) {
                sbx_resp_oauth_error(r, 400, "invalid_request", "bad client authentication");
                goto out;
            }
            strcpy(secret, fsecret);
        }
    } else {
        sbx_resp_oauth_error(r, 401, "invalid_client", "client authentication required");
        goto out;
    }
    client = sbx_client(s, id);
    const char *want = client != NULL
                           ? json_string_value(json_object_get(client, "client_secret"))
                           : NULL;
    if (client == NULL || (want != NULL && !sbx_secret_eq(want, secret)) ||
        (want == NULL && (basic || secret[0] != '\0'))) {
        client = NULL;
        sbx_resp_oauth_error(r, 401, "invalid_client", "client authentication failed");
        if (basic) {
            r->www_authenticate = strdup("Basic realm=\"descope-mcp sandbox\"");
        }
        goto out;
    }
    *confidential = want != NULL;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    return client;
}

static void grant_client_credentials(sbx *s, json_t *form, json_t *client, bool confidential,
                                     sbx_resp *r)
{
    const char *why = NULL;
    const char *client_id = json_string_value(json_object_get(client, "client_id"));
    const char *resource = json_string_value(json_object_get(form, "resource"));
    const char *sub = json_string_value(json_object_get(form, "sub"));
    if (!confidential) {
        sbx_resp_oauth_error(r, 400, "unauthorized_client",
                             "client_credentials needs a confidential client");
        return;
    }
    json_t *scopes = sbx_requested_scopes(json_string_value(json_object_get(form, "scope")), &why);
    if (scopes == NULL) {
        sbx_resp_oauth_error(r, 400, "invalid_scope", why);
        return;
    }
    if (resource != NULL && !sbx_resource_ok(resource)) {
        json_decref(scopes);
        sbx_resp_oauth_error(r, 400, "invalid_target", "resource must be an absolute URI");
        return;
    }
    if (sub != NULL) {
        /* SANDBOX ONLY: a dev client may name the subject, to act as any test user. */
        if (!json_is_true(json_object_get(client, "dev"))) {
            json_decref(scopes);
            sbx_resp_oauth_error(r, 400, "invalid_request",
                                 "sub is accepted only from sandbox dev clients");
            return;
        }
        if (!sbx_is_id(sub, 128)) {
            json_decref(scopes);
            sbx_resp_oauth_error(r, 400, "invalid_request", "malformed sub");
            return;
        }
    }
    json_t *aud = json_string(resource != NULL ? resource : s->pid);
    json_t *out = issue(s, sub != NULL ? sub : client_id, aud, scopes, client_id, SBX_TOKEN_TTL);
    json_decref(aud);
    json_decref(scopes);
    if (out == NULL) {
        sbx_resp_oauth_error(r, 500, "server_error", "could not issue a token");
        return;
    }
    sbx_resp_json(r, 200, out);
}

/* RFC 7636 §4.1: code_verifier = 43*128unreserved. */
static bool verifier_ok(const char *v)
{
    size_t n = strlen(v);
    if (n < 43 || n > 128) {
        return false;
    }
    return strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") == n;
}

static void grant_authorization_code(sbx *s, json_t *form, json_t *client, sbx_resp *r)
{
    const char *code = json_string_value(json_object_get(form, "code"));
    const char *verifier = json_string_value(json_object_get(form, "code_verifier"));
    const char *redirect = json_string_value(json_object_get(form, "redirect_uri"));
    const char *resource = json_string_value(json_object_get(form, "resource"));
    const char *client_id = json_string_value(json_object_get(client, "client_id"));
    if (code == NULL || verifier == NULL || redirect == NULL) {
        sbx_resp_oauth_error(r, 400, "invalid_request",
                             "code, code_verifier and redirect_uri are required");
        return;
    }
    json_t *entry = json_object_get(s->codes, code);
    if (entry == NULL) {
        sbx_resp_oauth_error(r, 400, "invalid_grant", "unknown or used code");
        return;
    }
    /* Single use (RFC 6749 §4.1.2): gone whatever happens next. */
    json_incref(entry);
    json_object_del(s->codes, code);
    const char *why = NULL;
    const char *c_resource = json_string_value(json_object_get(entry, "resource"));
    if (json_integer_value(json_object_get(entry, "exp")) <= sbx_now()) {
        why = "code expired";
    } else if (strcmp(json_string_value(json_object_get(entry, "client_id")), client_id) != 0) {
        why = "code was issued to another client";
    } else if (strcmp(json_string_value(json_object_get(entry, "redirect_uri")), redirect) !=
               0) {
        why = "redirect_uri differs from the authorization request";
    } else if (resource != NULL && (c_resource == NULL || strcmp(resource, c_resource) != 0)) {
        why = "resource differs from the authorization request";
    } else if (!verifier_ok(verifier)) {
        why = "malformed code_verifier";
    } else {
        unsigned char md[32];
        unsigned int mdlen = 0;
        char *calc = NULL;
        if (EVP_Digest(verifier, strlen(verifier), md, &mdlen, EVP_sha256(), NULL) == 1) {
            calc = sbx_b64url(md, mdlen);
        }
        if (calc == NULL ||
            !sbx_secret_eq(calc, json_string_value(json_object_get(entry, "challenge")))) {
            why = "PKCE verification failed";
        }
        free(calc);
    }
    if (why != NULL) {
        json_decref(entry);
        sbx_resp_oauth_error(r, 400, "invalid_grant", why);
        return;
    }
    json_t *aud = json_string(c_resource != NULL ? c_resource : s->pid);
    json_t *out = issue(s, json_string_value(json_object_get(entry, "sub")), aud,
                        json_object_get(entry, "scopes"), client_id, SBX_TOKEN_TTL);
    json_decref(aud);
    json_decref(entry);
    if (out == NULL) {
        sbx_resp_oauth_error(r, 500, "server_error", "could not issue a token");
        return;
    }
    sbx_resp_json(r, 200, out);
}

void sbx_token_endpoint(sbx *s, sbx_req *q, sbx_resp *r)
{
    const char *ct = sbx_header(q, "Content-Type");
    if (ct == NULL || strncmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        sbx_resp_oauth_error(r, 400, "invalid_request",
                             "expected application/x-www-form-urlencoded");
        return;
    }
    json_t *form = sbx_form_parse(q->body, q->body_len);
    if (form == NULL) {
        sbx_resp_oauth_error(r, 400, "invalid_request", "malformed or repeated parameters");
        return;
    }
    bool confidential = false;
    json_t *client = authenticate_client(s, q, form, r, &confidential);
    const char *grant = json_string_value(json_object_get(form, "grant_type"));
    if (client == NULL) {
        /* r is filled */
    } else if (grant == NULL) {
        sbx_resp_oauth_error(r, 400, "invalid_request", "grant_type is required");
    } else if (strcmp(grant, "client_credentials") == 0) {
        grant_client_credentials(s, form, client, confidential, r);
    } else if (strcmp(grant, "authorization_code") == 0) {
        grant_authorization_code(s, form, client, r);
    } else {
        sbx_resp_oauth_error(r, 400, "unsupported_grant_type", "unsupported grant_type");
    }
    json_t *secret = json_object_get(form, "client_secret");
    if (secret != NULL) {
        OPENSSL_cleanse((void *)json_string_value(secret), json_string_length(secret));
    }
    json_decref(form);
}

/* Authenticates a dev client by HTTP Basic, for /sandbox/token; returns it or NULL. */
static json_t *dev_client(sbx *s, sbx_req *q, sbx_resp *r)
{
    json_t *empty = json_object();
    bool confidential = false;
    const char *auth = sbx_header(q, "Authorization");
    json_t *client = NULL;
    if (auth == NULL || strncmp(auth, "Basic ", 6) != 0) {
        sbx_resp_oauth_error(r, 401, "invalid_client",
                             "HTTP Basic authentication of a sandbox dev client required");
        r->www_authenticate = strdup("Basic realm=\"descope-mcp sandbox\"");
    } else {
        client = authenticate_client(s, q, empty, r, &confidential);
    }
    json_decref(empty);
    if (client != NULL && (!confidential || !json_is_true(json_object_get(client, "dev")))) {
        sbx_resp_oauth_error(r, 403, "unauthorized_client", "not a sandbox dev client");
        return NULL;
    }
    return client;
}

void sbx_dev_token(sbx *s, sbx_req *q, sbx_resp *r)
{
    /* SANDBOX ONLY: mint a token for any subject, scopes, audience and lifetime. */
    json_t *client = dev_client(s, q, r);
    if (client == NULL) {
        return;
    }
    json_t *body = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *scopes = NULL;
    json_t *aud = NULL;
    const char *sub = json_string_value(json_object_get(body, "sub"));
    json_t *jscopes = json_object_get(body, "scopes");
    json_t *jaud = json_object_get(body, "aud");
    json_t *jttl = json_object_get(body, "ttl");
    long long ttl = jttl != NULL ? (long long)json_integer_value(jttl) : SBX_TOKEN_TTL;
    const char *why = NULL;
    if (!json_is_object(body)) {
        why = "body must be a JSON object";
    } else if (!sbx_is_id(sub, 128)) {
        why = "sub must be 1-128 characters of [A-Za-z0-9._-]";
    } else if (jttl != NULL && (!json_is_integer(jttl) || ttl < -86400 || ttl > 86400 || ttl == 0)) {
        why = "ttl must be a non-zero integer in [-86400, 86400]";
    } else if (jscopes != NULL && !json_is_array(jscopes)) {
        why = "scopes must be an array of strings";
    }
    if (why == NULL) {
        scopes = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(jscopes, i, v) {
            json_t *one = json_is_string(v) ? sbx_scope_split(json_string_value(v)) : NULL;
            if (one == NULL || json_array_size(one) != 1 || i >= 32) {
                why = "scopes must be an array of scope tokens";
                json_decref(one);
                break;
            }
            json_array_extend(scopes, one);
            json_decref(one);
        }
    }
    if (why == NULL) {
        if (jaud == NULL) {
            aud = json_string(s->pid);
        } else if (json_is_string(jaud) && sbx_resource_ok(json_string_value(jaud))) {
            aud = json_incref(jaud);
        } else if (json_is_array(jaud) && json_array_size(jaud) >= 1 &&
                   json_array_size(jaud) <= 8) {
            aud = json_incref(jaud);
            size_t i;
            json_t *v;
            json_array_foreach(jaud, i, v) {
                if (!json_is_string(v) || json_string_length(v) == 0 ||
                    json_string_length(v) > 512) {
                    why = "aud must be a string or an array of 1-8 strings";
                }
            }
        } else {
            why = "aud must be an absolute URI or an array of 1-8 strings";
        }
    }
    if (why != NULL) {
        sbx_resp_oauth_error(r, 400, "invalid_request", why);
    } else {
        json_t *out = issue(s, sub, aud, scopes,
                            json_string_value(json_object_get(client, "client_id")), ttl);
        if (out == NULL) {
            sbx_resp_oauth_error(r, 500, "server_error", "could not issue a token");
        } else {
            sbx_resp_json(r, 200, out);
        }
    }
    json_decref(aud);
    json_decref(scopes);
    json_decref(body);
}
