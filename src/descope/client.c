/* The Descope Connections client: requests, retries, credentials, cache (wire protocol §5). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "descope_internal.h"
#include "metrics.h"
#include "http.h"
#include "url.h"

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
    char *env_base;      /* DESCOPE_BASE_URL at creation, or NULL */
    char *override_base; /* dmcp_descope_client_set_api_base(), or NULL */
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
static bool credential_ok(const char *s)
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
        if (!credential_ok(key)) {
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

dmcp_status dmcp_descope_client_set_timeouts(dmcp_descope_client *c, long connect_ms,
                                             long total_ms)
{
    if (c == NULL || connect_ms <= 0 || total_ms <= 0 || connect_ms > 600000 ||
        total_ms > 600000) {
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

dmcp_status dmcp_descope_client_set_retry_policy(dmcp_descope_client *c,
                                                 const unsigned *delays_ms, size_t n_delays)
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

void dmcp_descope_client_cache_stats(const dmcp_descope_client *c, uint64_t *hits,
                                     uint64_t *misses)
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

dmcp_status dmcp_connection_options_set_tenant_id(dmcp_connection_options *o,
                                                  const char *tenant_id)
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

dmcp_status dmcp_connection_options_set_principal(dmcp_connection_options *o,
                                                  const char *principal)
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

/* ---- argument checks ------------------------------------------------------------------- */

/* Ids travel in JSON and in a query string: bounded, valid UTF-8 (jansson checks), no
 * control characters. */
static dmcp_status check_id(const char *what, const char *v, dmcp_error *err)
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

static dmcp_status check_scopes(const char *const *scopes, size_t *n_out, dmcp_error *err)
{
    size_t n = 0;
    while (scopes != NULL && scopes[n] != NULL) {
        size_t l = strlen(scopes[n]);
        if (l == 0 || l > DMCP_MAX_SCOPE_LEN) {
            return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                              "scope %zu is empty or longer than %d bytes", n,
                              DMCP_MAX_SCOPE_LEN);
        }
        if (++n > DMCP_MAX_SCOPES) {
            return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                              "more than %d scopes", DMCP_MAX_SCOPES);
        }
    }
    *n_out = n;
    return DMCP_OK;
}

/* The credential of this call: the access token (default mode) or the management key. */
static dmcp_status pick_credential(const dmcp_descope_client *c, const char *access_token,
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
    if (!credential_ok(access_token)) {
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
static dmcp_status api_call(const dmcp_descope_client *c, const char *cred, const char *method,
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
        st = dmcp__http_request(&o, method, url.data, headers, body, body ? strlen(body) : 0,
                                resp, err);
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
static dmcp_status reply_error(const dmcp__http_response *resp, const char *cred,
                               dmcp_error *err)
{
    const char *secrets[] = {cred, NULL};
    return dmcp__descope_map_error(resp->status, resp->body.data, resp->body.len,
                                   resp->retry_after, secrets, err);
}

static char *dump_body(json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return s;
}

static json_t *scopes_json(const char *const *scopes, size_t n)
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
    bool tenant;        /* tenant token (else user token) */
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

static void cache_put(dmcp_descope_client *c, const unsigned char key[32],
                      dmcp_connection_token *t)
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
    dmcp_status st = pick_credential(c, access_token, &cred, err);
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
        jr |= json_object_set_new(b, "scopes", scopes_json(r->scopes, r->n_scopes));
    }
    jr |= json_object_set_new(o, "withRefreshToken", json_boolean(r->with_refresh_token));
    jr |= json_object_set_new(o, "forceRefresh", json_boolean(r->force_refresh));
    jr |= json_object_set_new(b, "options", o);
    char *body = jr == 0 ? dump_body(b) : NULL;
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
    st = api_call(c, cred, "POST", path, body, &resp, err);
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
        st = reply_error(&resp, cred, err);
    }
    dmcp__http_response_free(&resp);
    if (st == DMCP_OK && use_cache) {
        cache_put(c, key, *out);
    }
    if (st == DMCP_E_NOT_CONNECTED && opts != NULL && opts->fetch_connect_url) {
        char *url = NULL;
        dmcp_error cerr;
        if (dmcp_descope_connect_url(c, access_token, r->app_id, r->tenant_id,
                                     opts->redirect_url, r->n_scopes > 0 ? r->scopes : NULL, &url,
                                     &cerr) == DMCP_OK) {
            (void)dmcp__connection_token_connect_only(url, out);
            free(url);
        }
    }
    return st;
}

static dmcp_status fetch_common(dmcp_descope_client *c, const char *access_token, bool tenant,
                                const char *app_id, const char *who,
                                const char *const *scopes, const dmcp_connection_options *opts,
                                dmcp_connection_token **out, dmcp_error *err)
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
    dmcp_status st = check_id("app id", app_id, err);
    if (st == DMCP_OK) {
        st = check_id(tenant ? "tenant id" : "user id", who, err);
    }
    if (st == DMCP_OK && r.tenant_id != NULL) {
        st = check_id("tenant id", r.tenant_id, err);
    }
    if (st == DMCP_OK) {
        st = check_scopes(scopes, &r.n_scopes, err);
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
                                    const char *const *scopes,
                                    const dmcp_connection_options *opts,
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
                                           const char *const *scopes, char **out,
                                           dmcp_error *err)
{
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "out is NULL");
    }
    *out = NULL;
    dmcp_connection_token *t = NULL;
    dmcp_status st = dmcp_descope_user_token(c, access_token, app_id, user_id, scopes, NULL, &t,
                                             err);
    if (st == DMCP_OK) {
        *out = dmcp__strdup(dmcp_connection_token_access_token(t));
        if (*out == NULL) {
            st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
        }
    }
    dmcp_connection_token_free(t);
    return st;
}

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
    dmcp_status st = check_id("app id", app_id, err);
    if (st == DMCP_OK && tenant_id != NULL) {
        st = check_id("tenant id", tenant_id, err);
    }
    if (st == DMCP_OK && redirect_url != NULL) {
        st = check_id("redirect URL", redirect_url, err);
    }
    if (st == DMCP_OK) {
        st = check_scopes(scopes, &n_scopes, err);
    }
    if (st == DMCP_OK) {
        st = pick_credential(c, access_token, &cred, err);
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
        jr |= json_object_set_new(o, "scopes", scopes_json(scopes, n_scopes));
    }
    jr |= json_object_set_new(b, "options", o);
    if (jr != 0) {
        json_decref(b);
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                          "an id or scope is not valid UTF-8");
    }
    char *body = dump_body(b);
    if (body == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    dmcp__http_response resp;
    st = api_call(c, cred, "POST", "/v1/mgmt/outbound/app/connect", body, &resp, err);
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
            st = *url_out != NULL ? DMCP_OK
                                  : dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
        } else {
            st = dmcp__fail(err, DMCP_E_UPSTREAM, DMCP_REASON_NONE,
                            "Descope connect reply has no url");
            if (err != NULL) {
                err->http_status = (int)resp.status;
            }
        }
        json_decref(root);
    } else {
        st = reply_error(&resp, cred, err);
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
                                        const char *user_id, const char *tenant_id,
                                        char ***app_ids, size_t *count, dmcp_error *err)
{
    if (app_ids == NULL || c == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "NULL argument");
    }
    *app_ids = NULL;
    if (count != NULL) {
        *count = 0;
    }
    const char *cred = NULL;
    dmcp_status st = check_id("user id", user_id, err);
    if (st == DMCP_OK && tenant_id != NULL) {
        st = check_id("tenant id", tenant_id, err);
    }
    if (st == DMCP_OK) {
        st = pick_credential(c, access_token, &cred, err);
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
    st = api_call(c, cred, "GET", q.data, NULL, &resp, err);
    dmcp__buf_free(&q);
    if (st != DMCP_OK) {
        return st;
    }
    if (resp.status < 200 || resp.status >= 300) {
        st = reply_error(&resp, cred, err);
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
