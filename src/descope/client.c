/* The Descope Connections client: setup, options, cache and the token fetches (wire
 * protocol §5). The API call itself is in api.c, connect URL and connected apps in apps.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "client_int.h"
#include "metrics.h"
#include "url.h"

/* ---- client setup ---------------------------------------------------------------------- */

/* A base URL without trailing slashes, checked like every outbound URL. */
static dmcp_status normalise_base(const char *url, char **out, dmcp_error *err)
{
    *out = NULL;
    if (url == NULL || strlen(url) > DMCP_MAX_URL_BYTES) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "API base URL too long");
    }
    dmcp_status st = dmcp__url_check(url, false, NULL, err);
    if (st != DMCP_OK) {
        return st;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    *out = dmcp__strndup(url, n);
    return *out != NULL ? DMCP_OK : dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
}

static void pick_base(dmcp_descope_client *c)
{
    if (c->override_base != NULL) {
        c->api_base = c->override_base;
    } else if (c->env_base != NULL) {
        c->api_base = c->env_base;
    } else {
        c->api_base = c->origin;
    }
}

dmcp_status dmcp_descope_client_new(const char *well_known_url, dmcp_descope_client **out,
                                    dmcp_error *err)
{
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "out is NULL");
    }
    *out = NULL;
    dmcp_status st = dmcp__ensure_init();
    if (st != DMCP_OK) {
        return dmcp__fail(err, st, DMCP_REASON_NONE, "library initialisation failed");
    }
    if (well_known_url == NULL || well_known_url[0] == '\0') {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "a well-known URL is required");
    }
    dmcp__wellknown wk;
    /* Wire protocol §1.2: the project id comes from one of Descope's three URL shapes, never a
     * guess (§7.1: the Python package sends "Bearer v1:<token>"). */
    st = dmcp__wellknown_parse(well_known_url, true, &wk, err);
    if (st != DMCP_OK) {
        return st;
    }
    dmcp_descope_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        dmcp__wellknown_free(&wk);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        dmcp__wellknown_free(&wk);
        return dmcp__fail(err, DMCP_E_INTERNAL, DMCP_REASON_NONE, "mutex init failed");
    }
    c->project_id = wk.project_id;
    c->origin = wk.origin;
    wk.project_id = NULL;
    wk.origin = NULL;
    dmcp__wellknown_free(&wk);
    c->connect_ms = 3000;
    c->total_ms = 10000;
    c->delays[0] = 100; /* wire protocol §5.4: 0.1 s, 5 s, 5 s as the Python SDK */
    c->delays[1] = 5000;
    c->delays[2] = 5000;
    c->n_delays = 3;
    c->cache_max = 1024;
    c->margin_s = 60;
    const char *env = getenv("DESCOPE_BASE_URL");
    if (env != NULL && env[0] != '\0') {
        st = normalise_base(env, &c->env_base, err);
        if (st != DMCP_OK) {
            dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "DESCOPE_BASE_URL: %s",
                       err != NULL ? err->message : "not allowed");
            dmcp_descope_client_free(c);
            return DMCP_E_CONFIG;
        }
    }
    if (c->project_id == NULL || c->origin == NULL) {
        dmcp_descope_client_free(c);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    pick_base(c);
    *out = c;
    return DMCP_OK;
}

static void cache_clear_locked(dmcp_descope_client *c)
{
    for (size_t i = 0; i < c->cache_len; i++) {
        dmcp_connection_token_free(c->cache[i].tok);
    }
    OPENSSL_cleanse(c->cache, c->cache_len * sizeof(*c->cache));
    c->cache_len = 0;
}

void dmcp_descope_client_free(dmcp_descope_client *c)
{
    if (c == NULL) {
        return;
    }
    cache_clear_locked(c);
    free(c->cache);
    pthread_mutex_destroy(&c->mu);
    dmcp__free_secret_str(c->mgmt_key);
    free(c->project_id);
    free(c->origin);
    free(c->env_base);
    free(c->override_base);
    free(c->ca_file);
    free(c);
}

const char *dmcp_descope_client_project_id(const dmcp_descope_client *c)
{
    return c != NULL ? c->project_id : NULL;
}

const char *dmcp_descope_client_api_base(const dmcp_descope_client *c)
{
    return c != NULL ? c->api_base : NULL;
}

dmcp_status dmcp_descope_client_set_api_base(dmcp_descope_client *c, const char *url)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    char *b = NULL;
    if (url != NULL) {
        dmcp_status st = normalise_base(url, &b, NULL);
        if (st != DMCP_OK) {
            return st;
        }
    }
    free(c->override_base);
    c->override_base = b;
    pick_base(c);
    return DMCP_OK;
}

/* A credential goes into an HTTP header: visible ASCII only (RFC 6750 §2.1 b64token is a
 * subset), so CR/LF can never inject a header. */
bool dmcp__dc_credential_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > DMCP_MAX_TOKEN_BYTES_LIMIT) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x21 || ch > 0x7e) {
            return false;
        }
    }
    return true;
}

dmcp_status dmcp_descope_client_set_management_key(dmcp_descope_client *c, const char *key)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    char *k = NULL;
    if (key != NULL) {
        if (!dmcp__dc_credential_ok(key)) {
            return DMCP_E_INVALID_ARG;
        }
        k = dmcp__strdup(key);
        if (k == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    dmcp__free_secret_str(c->mgmt_key);
    c->mgmt_key = k;
    pthread_mutex_lock(&c->mu);
    cache_clear_locked(c);
    pthread_mutex_unlock(&c->mu);
    return DMCP_OK;
}

dmcp_status dmcp_descope_client_set_timeouts(dmcp_descope_client *c, long connect_ms, long total_ms)
{
    if (c == NULL || connect_ms <= 0 || total_ms <= 0 || connect_ms > 600000 || total_ms > 600000) {
        return DMCP_E_INVALID_ARG;
    }
    c->connect_ms = connect_ms;
    c->total_ms = total_ms;
    return DMCP_OK;
}

dmcp_status dmcp_descope_client_set_ca_file(dmcp_descope_client *c, const char *path)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    char *p = NULL;
    if (path != NULL) {
        p = dmcp__strdup(path);
        if (p == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    free(c->ca_file);
    c->ca_file = p;
    return DMCP_OK;
}

dmcp_status dmcp_descope_client_set_retry_policy(dmcp_descope_client *c, const unsigned *delays_ms,
                                                 size_t n_delays)
{
    if (c == NULL || n_delays > MAX_RETRIES || (n_delays > 0 && delays_ms == NULL)) {
        return DMCP_E_INVALID_ARG;
    }
    for (size_t i = 0; i < n_delays; i++) {
        if (delays_ms[i] > MAX_RETRY_DELAY_MS) {
            return DMCP_E_INVALID_ARG;
        }
    }
    for (size_t i = 0; i < n_delays; i++) {
        c->delays[i] = delays_ms[i];
    }
    c->n_delays = n_delays;
    return DMCP_OK;
}

dmcp_status dmcp_descope_client_set_cache(dmcp_descope_client *c, size_t max_entries,
                                          unsigned margin_s)
{
    if (c == NULL || max_entries > MAX_CACHE_ENTRIES) {
        return DMCP_E_INVALID_ARG;
    }
    pthread_mutex_lock(&c->mu);
    cache_clear_locked(c);
    free(c->cache);
    c->cache = NULL;
    c->cache_max = max_entries;
    c->margin_s = margin_s;
    pthread_mutex_unlock(&c->mu);
    return DMCP_OK;
}

dmcp_status dmcp_descope_client_set_clock(dmcp_descope_client *c, dmcp_descope_clock_fn fn,
                                          void *userdata)
{
    if (c == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    c->clock = fn;
    c->clock_ud = userdata;
    return DMCP_OK;
}

void dmcp_descope_client_cache_stats(const dmcp_descope_client *c, uint64_t *hits, uint64_t *misses)
{
    uint64_t h = 0, m = 0;
    if (c != NULL) {
        dmcp_descope_client *mc = (dmcp_descope_client *)(uintptr_t)c; /* the mutex only */
        pthread_mutex_lock(&mc->mu);
        h = c->hits;
        m = c->misses;
        pthread_mutex_unlock(&mc->mu);
    }
    if (hits != NULL) {
        *hits = h;
    }
    if (misses != NULL) {
        *misses = m;
    }
}

static int64_t now_s(const dmcp_descope_client *c)
{
    return c->clock != NULL ? c->clock(c->clock_ud) : (int64_t)time(NULL);
}

/* ---- options --------------------------------------------------------------------------- */

dmcp_status dmcp_connection_options_new(dmcp_connection_options **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? DMCP_OK : DMCP_E_NOMEM;
}

void dmcp_connection_options_free(dmcp_connection_options *o)
{
    if (o == NULL) {
        return;
    }
    free(o->tenant_id);
    free(o->principal);
    free(o->redirect_url);
    free(o);
}

static dmcp_status replace_str(char **slot, const char *v)
{
    char *n = NULL;
    if (v != NULL) {
        n = dmcp__strdup(v);
        if (n == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    free(*slot);
    *slot = n;
    return DMCP_OK;
}

dmcp_status dmcp_connection_options_set_tenant_id(dmcp_connection_options *o, const char *tenant_id)
{
    return o != NULL ? replace_str(&o->tenant_id, tenant_id) : DMCP_E_INVALID_ARG;
}

dmcp_status dmcp_connection_options_set_with_refresh_token(dmcp_connection_options *o, bool on)
{
    if (o == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    o->with_refresh_token = on;
    return DMCP_OK;
}

dmcp_status dmcp_connection_options_set_force_refresh(dmcp_connection_options *o, bool on)
{
    if (o == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    o->force_refresh = on;
    return DMCP_OK;
}

dmcp_status dmcp_connection_options_set_principal(dmcp_connection_options *o, const char *principal)
{
    return o != NULL ? replace_str(&o->principal, principal) : DMCP_E_INVALID_ARG;
}

dmcp_status dmcp_connection_options_set_fetch_connect_url(dmcp_connection_options *o, bool on,
                                                          const char *redirect_url)
{
    if (o == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_status st = replace_str(&o->redirect_url, redirect_url);
    if (st == DMCP_OK) {
        o->fetch_connect_url = on;
    }
    return st;
}

/* ---- cache ----------------------------------------------------------------------------- */

static void hash_field(EVP_MD_CTX *h, const char *s)
{
    /* length-prefixed, so ("ab","c") and ("a","bc") never collide; NULL differs from "" */
    uint32_t len = s != NULL ? (uint32_t)strlen(s) : UINT32_MAX;
    unsigned char l[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8), (unsigned char)len};
    EVP_DigestUpdate(h, l, sizeof(l));
    if (s != NULL) {
        EVP_DigestUpdate(h, s, strlen(s));
    }
}

typedef struct fetch_req {
    bool tenant; /* tenant token (else user token) */
    const char *app_id;
    const char *user_id;   /* user tokens */
    const char *tenant_id; /* tenant tokens, or the user token's tenant */
    const char *const *scopes;
    size_t n_scopes;
    bool with_refresh_token;
    bool force_refresh;
} fetch_req;

static bool cache_key(const dmcp_descope_client *c, const char *principal, const char *cred,
                      const fetch_req *r, unsigned char key[32])
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (h == NULL || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h);
        return false;
    }
    hash_field(h, principal);
    hash_field(h, c->mgmt_key != NULL ? "management-key" : "access-token");
    /* Access-token mode: Descope decides per access token (policies, outbound.token.fetch),
     * so a token cached for one MCP token is never served to another one. */
    hash_field(h, c->mgmt_key != NULL ? NULL : cred);
    hash_field(h, r->tenant ? "tenant" : "user");
    hash_field(h, r->app_id);
    hash_field(h, r->user_id);
    hash_field(h, r->tenant_id);
    hash_field(h, r->with_refresh_token ? "refresh" : "no-refresh");
    char cnt[24];
    snprintf(cnt, sizeof(cnt), "%zu", r->n_scopes);
    hash_field(h, cnt);
    for (size_t i = 0; i < r->n_scopes; i++) {
        hash_field(h, r->scopes[i]);
    }
    unsigned int len = 0;
    bool ok = EVP_DigestFinal_ex(h, key, &len) == 1 && len == 32;
    EVP_MD_CTX_free(h);
    return ok;
}

static dmcp_connection_token *cache_get(dmcp_descope_client *c, const unsigned char key[32])
{
    dmcp_connection_token *t = NULL;
    int64_t now = now_s(c);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->cache_len; i++) {
        if (CRYPTO_memcmp(c->cache[i].key, key, 32) != 0) {
            continue;
        }
        if (now + (int64_t)c->margin_s < c->cache[i].expiry) {
            c->cache[i].last_used = ++c->tick;
            t = dmcp_connection_token_ref(c->cache[i].tok);
        } else {
            /* within the margin: drop it, the caller fetches a fresh one */
            dmcp_connection_token_free(c->cache[i].tok);
            c->cache[i] = c->cache[--c->cache_len];
        }
        break;
    }
    if (t != NULL) {
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return t;
}

static void cache_put(dmcp_descope_client *c, const unsigned char key[32], dmcp_connection_token *t)
{
    int64_t exp = dmcp_connection_token_expiry(t);
    int64_t now = now_s(c);
    if (exp == 0 || now + (int64_t)c->margin_s >= exp) {
        return; /* unknown expiry, or already inside the margin: never cached */
    }
    pthread_mutex_lock(&c->mu);
    if (c->cache == NULL && c->cache_max > 0) {
        c->cache = calloc(c->cache_max, sizeof(*c->cache));
    }
    if (c->cache == NULL) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    size_t slot = c->cache_len;
    for (size_t i = 0; i < c->cache_len; i++) {
        if (CRYPTO_memcmp(c->cache[i].key, key, 32) == 0) {
            slot = i; /* replace (force_refresh or a concurrent fetch) */
            break;
        }
    }
    if (slot == c->cache_len && c->cache_len == c->cache_max) {
        /* full: evict an expired entry, else the least recently used (bounded memory) */
        size_t victim = 0;
        for (size_t i = 0; i < c->cache_len; i++) {
            if (c->cache[i].expiry <= now + (int64_t)c->margin_s) {
                victim = i;
                break;
            }
            if (c->cache[i].last_used < c->cache[victim].last_used) {
                victim = i;
            }
        }
        slot = victim;
    }
    if (slot < c->cache_len) {
        dmcp_connection_token_free(c->cache[slot].tok);
    } else {
        c->cache_len++;
    }
    memcpy(c->cache[slot].key, key, 32);
    c->cache[slot].tok = dmcp_connection_token_ref(t);
    c->cache[slot].expiry = exp;
    c->cache[slot].last_used = ++c->tick;
    pthread_mutex_unlock(&c->mu);
}

/* ---- the fetch calls ------------------------------------------------------------------- */

static dmcp_status fetch(dmcp_descope_client *c, const char *access_token, const fetch_req *r,
                         const dmcp_connection_options *opts, dmcp_connection_token **out,
                         dmcp_error *err)
{
    const char *cred = NULL;
    dmcp_status st = dmcp__dc_pick_credential(c, access_token, &cred, err);
    if (st != DMCP_OK) {
        return st;
    }
    const char *principal = opts != NULL ? opts->principal : NULL;
    bool use_cache = principal != NULL && c->cache_max > 0;
    unsigned char key[32];
    if (use_cache && !cache_key(c, principal, cred, r, key)) {
        use_cache = false;
    }
    if (use_cache && !r->force_refresh) {
        dmcp_connection_token *hit = cache_get(c, key);
        if (hit != NULL) {
            *out = hit;
            return DMCP_OK;
        }
    }

    /* Wire protocol §5.2: tenantId only when set, options always, no scopes on /latest
     * (the gateway rejects unknown fields). */
    json_t *b = json_object();
    json_t *o = json_object();
    if (b == NULL || o == NULL) {
        json_decref(b);
        json_decref(o);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    int jr = json_object_set_new(b, "appId", json_string(r->app_id));
    if (!r->tenant) {
        jr |= json_object_set_new(b, "userId", json_string(r->user_id));
    }
    if (r->tenant_id != NULL) {
        jr |= json_object_set_new(b, "tenantId", json_string(r->tenant_id));
    }
    if (r->n_scopes > 0) {
        jr |= json_object_set_new(b, "scopes", dmcp__dc_scopes_json(r->scopes, r->n_scopes));
    }
    jr |= json_object_set_new(o, "withRefreshToken", json_boolean(r->with_refresh_token));
    jr |= json_object_set_new(o, "forceRefresh", json_boolean(r->force_refresh));
    jr |= json_object_set_new(b, "options", o);
    char *body = jr == 0 ? dmcp__dc_dump_body(b) : NULL;
    if (jr != 0) {
        json_decref(b);
        /* json_string() refuses invalid UTF-8 */
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                          "an id or scope is not valid UTF-8");
    }
    if (body == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    const char *path = r->tenant ? (r->n_scopes > 0 ? "/v1/mgmt/outbound/app/tenant/token"
                                                    : "/v1/mgmt/outbound/app/tenant/token/latest")
                                 : (r->n_scopes > 0 ? "/v1/mgmt/outbound/app/user/token"
                                                    : "/v1/mgmt/outbound/app/user/token/latest");
    dmcp__http_response resp;
    st = dmcp__dc_api_call(c, cred, "POST", path, body, &resp, err);
    free(body);
    if (st != DMCP_OK) {
        return st;
    }
    if (resp.status >= 200 && resp.status < 300) {
        st = dmcp__connection_token_parse(resp.body.data, resp.body.len, out, err);
        if (st == DMCP_E_UPSTREAM && err != NULL) {
            err->http_status = (int)resp.status;
        }
    } else {
        st = dmcp__dc_reply_error(&resp, cred, err);
    }
    dmcp__http_response_free(&resp);
    if (st == DMCP_OK && use_cache) {
        cache_put(c, key, *out);
    }
    if (st == DMCP_E_NOT_CONNECTED && opts != NULL && opts->fetch_connect_url) {
        char *url = NULL;
        dmcp_error cerr;
        if (dmcp_descope_connect_url(c, access_token, r->app_id, r->tenant_id, opts->redirect_url,
                                     r->n_scopes > 0 ? r->scopes : NULL, &url, &cerr) == DMCP_OK) {
            (void)dmcp__connection_token_connect_only(url, out);
            free(url);
        }
    }
    return st;
}

static dmcp_status fetch_common(dmcp_descope_client *c, const char *access_token, bool tenant,
                                const char *app_id, const char *who, const char *const *scopes,
                                const dmcp_connection_options *opts, dmcp_connection_token **out,
                                dmcp_error *err)
{
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "out is NULL");
    }
    *out = NULL;
    if (c == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "client is NULL");
    }
    fetch_req r = {.tenant = tenant, .app_id = app_id, .scopes = scopes};
    if (tenant) {
        r.tenant_id = who;
    } else {
        r.user_id = who;
        r.tenant_id = opts != NULL ? opts->tenant_id : NULL;
    }
    r.with_refresh_token = opts != NULL && opts->with_refresh_token;
    r.force_refresh = opts != NULL && opts->force_refresh;
    dmcp_status st = dmcp__dc_check_id("app id", app_id, err);
    if (st == DMCP_OK) {
        st = dmcp__dc_check_id(tenant ? "tenant id" : "user id", who, err);
    }
    if (st == DMCP_OK && r.tenant_id != NULL) {
        st = dmcp__dc_check_id("tenant id", r.tenant_id, err);
    }
    if (st == DMCP_OK) {
        st = dmcp__dc_check_scopes(scopes, &r.n_scopes, err);
    }
    if (st != DMCP_OK) {
        return st;
    }
    if (err != NULL) {
        dmcp_error_clear(err);
    }
    st = fetch(c, access_token, &r, opts, out, err);
    dmcp__metrics_connection_token(dmcp__metrics_conn_outcome(st));
    return st;
}

dmcp_status dmcp_descope_user_token(dmcp_descope_client *c, const char *access_token,
                                    const char *app_id, const char *user_id,
                                    const char *const *scopes, const dmcp_connection_options *opts,
                                    dmcp_connection_token **out, dmcp_error *err)
{
    return fetch_common(c, access_token, false, app_id, user_id, scopes, opts, out, err);
}

dmcp_status dmcp_descope_tenant_token(dmcp_descope_client *c, const char *access_token,
                                      const char *app_id, const char *tenant_id,
                                      const char *const *scopes,
                                      const dmcp_connection_options *opts,
                                      dmcp_connection_token **out, dmcp_error *err)
{
    return fetch_common(c, access_token, true, app_id, tenant_id, scopes, opts, out, err);
}

dmcp_status dmcp_descope_user_access_token(dmcp_descope_client *c, const char *access_token,
                                           const char *app_id, const char *user_id,
                                           const char *const *scopes, char **out, dmcp_error *err)
{
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "out is NULL");
    }
    *out = NULL;
    dmcp_connection_token *t = NULL;
    dmcp_status st =
        dmcp_descope_user_token(c, access_token, app_id, user_id, scopes, NULL, &t, err);
    if (st == DMCP_OK) {
        *out = dmcp__strdup(dmcp_connection_token_access_token(t));
        if (*out == NULL) {
            st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
        }
    }
    dmcp_connection_token_free(t);
    return st;
}
