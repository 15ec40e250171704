/* Connection-token objects, expiry parsing, and Descope error replies (wire protocol §5.3-5.4). */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "descope_internal.h"

struct dmcp_connection_token {
    atomic_uint refs;
    json_t *json; /* the reply's "token" object; every string pointer below borrows from it */
    const char *access_token;
    const char *type;
    const char *refresh_token;
    const char *id;
    const char *app_id;
    const char *user_id;
    const char *token_sub;
    const char *tenant_id;
    const char *granted_by;
    const char *external_identifier;
    const char *last_refresh_error;
    const char **scopes; /* NULL-terminated */
    size_t n_scopes;
    int64_t expiry;
    int64_t last_refresh_time;
    bool has_refresh_token;
    char *connect_url;
};

/* ---- expiry ---------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (the well-known civil-days algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2 ? 1 : 0;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int64_t dmcp__parse_rfc3339(const char *s, size_t len)
{
    /* RFC 3339 §5.6: date-fullyear "-" date-month "-" date-mday "T" time-hour ":" time-minute
     * ":" time-second [time-secfrac] time-offset, with "T" and "Z" case-insensitive (§5.6 NOTE). */
    int64_t y, mo, d, h, mi, sec, oh = 0, om = 0;
    if (s == NULL || len < 20 || len > 64) {
        return 0;
    }
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec)) {
        return 0;
    }
    size_t i = 19;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == start) {
            return 0; /* time-secfrac needs at least one digit */
        }
    }
    int sign = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '+' ? 1 : -1;
        if (len - i != 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om)) {
            return 0;
        }
        i += 6;
    } else {
        return 0;
    }
    if (i != len) {
        return 0;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1) {
        return 0;
    }
    int64_t dim = mdays[mo - 1] + ((mo == 2 && is_leap(y)) ? 1 : 0);
    /* §5.7: second 60 only for leap seconds; it is taken as the next second. */
    if (d > dim || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59) {
        return 0;
    }
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= sign * (oh * 3600 + om * 60); /* local time minus its offset is UTC (§4.2) */
    return (t > 0 && t <= DMCP__EXPIRY_MAX) ? t : 0;
}

/* Epoch seconds, or milliseconds when above 1e12 (wire protocol §5.3). */
static int64_t normalise_epoch(int64_t v)
{
    if (v <= 0) {
        return 0;
    }
    if (v > INT64_C(1000000000000)) {
        v /= 1000;
    }
    return v <= DMCP__EXPIRY_MAX ? v : 0;
}

int64_t dmcp_connection_parse_expiry(const json_t *value)
{
    if (value == NULL) {
        return 0;
    }
    if (json_is_integer(value)) {
        return normalise_epoch((int64_t)json_integer_value(value));
    }
    if (json_is_real(value)) {
        double d = json_real_value(value);
        if (!isfinite(d) || d <= 0 || d >= 9.0e18) {
            return 0;
        }
        return normalise_epoch((int64_t)d);
    }
    if (!json_is_string(value)) {
        return 0;
    }
    const char *s = json_string_value(value);
    size_t n = json_string_length(value);
    if (n == 0) {
        return 0;
    }
    bool all_digits = true;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            all_digits = false;
            break;
        }
    }
    if (all_digits) {
        int64_t v = 0;
        if (n > 18 || !digits(s, n, &v)) {
            return 0; /* 18 digits cannot overflow int64 */
        }
        return normalise_epoch(v);
    }
    return dmcp__parse_rfc3339(s, n);
}

/* ---- token objects --------------------------------------------------------------------- */

static const char *str_field(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Overwrites every string of a JSON tree in place: the reply held tokens, and jansson frees
 * its strings without wiping them. */
static void wipe_json(json_t *j, int depth)
{
    if (j == NULL || depth > DMCP_MAX_JSON_DEPTH) {
        return;
    }
    if (json_is_string(j)) {
        OPENSSL_cleanse((void *)(uintptr_t)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            wipe_json(v, depth + 1);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            wipe_json(v, depth + 1);
        }
    }
}

static dmcp_connection_token *token_alloc(void)
{
    dmcp_connection_token *t = calloc(1, sizeof(*t));
    if (t != NULL) {
        atomic_init(&t->refs, 1);
    }
    return t;
}

dmcp_status dmcp__connection_token_parse(const char *body, size_t len,
                                         dmcp_connection_token **out, dmcp_error *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    json_t *tok = json_object_get(root, "token");
    const char *at = str_field(tok, "accessToken");
    if (!json_is_object(tok) || at == NULL || at[0] == '\0') {
        wipe_json(root, 0);
        json_decref(root);
        return dmcp__fail(err, DMCP_E_UPSTREAM, DMCP_REASON_NONE,
                          "Descope reply has no token.accessToken");
    }
    dmcp_connection_token *t = token_alloc();
    if (t == NULL) {
        wipe_json(root, 0);
        json_decref(root);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    t->json = json_incref(tok);
    json_decref(root); /* the token object stays alive through its own reference */
    t->access_token = at;
    t->type = str_field(tok, "accessTokenType");
    t->refresh_token = str_field(tok, "refreshToken");
    t->id = str_field(tok, "id");
    t->app_id = str_field(tok, "appId");
    t->user_id = str_field(tok, "userId");
    t->token_sub = str_field(tok, "tokenSub");
    t->tenant_id = str_field(tok, "tenantId");
    t->granted_by = str_field(tok, "grantedBy");
    t->external_identifier = str_field(tok, "externalIdentifier");
    t->last_refresh_error = str_field(tok, "lastRefreshError");
    t->expiry = dmcp_connection_parse_expiry(json_object_get(tok, "accessTokenExpiry"));
    t->last_refresh_time = dmcp_connection_parse_expiry(json_object_get(tok, "lastRefreshTime"));
    t->has_refresh_token = json_is_true(json_object_get(tok, "hasRefreshToken"));

    const json_t *sc = json_object_get(tok, "scopes");
    size_t n = json_is_array(sc) ? json_array_size(sc) : 0;
    if (n > DMCP_MAX_SCOPES) {
        n = DMCP_MAX_SCOPES; /* a cap on what we index; the raw JSON keeps everything */
    }
    t->scopes = calloc(n + 1, sizeof(*t->scopes));
    if (t->scopes == NULL) {
        dmcp_connection_token_free(t);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(sc, i);
        if (json_is_string(s)) {
            t->scopes[t->n_scopes++] = json_string_value(s);
        }
    }
    *out = t;
    return DMCP_OK;
}

dmcp_status dmcp__connection_token_connect_only(const char *url, dmcp_connection_token **out)
{
    *out = NULL;
    dmcp_connection_token *t = token_alloc();
    if (t == NULL) {
        return DMCP_E_NOMEM;
    }
    t->connect_url = dmcp__strdup(url);
    t->scopes = calloc(1, sizeof(*t->scopes));
    if (t->connect_url == NULL || t->scopes == NULL) {
        dmcp_connection_token_free(t);
        return DMCP_E_NOMEM;
    }
    *out = t;
    return DMCP_OK;
}

dmcp_connection_token *dmcp_connection_token_ref(dmcp_connection_token *t)
{
    if (t != NULL) {
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    }
    return t;
}

void dmcp_connection_token_free(dmcp_connection_token *t)
{
    if (t == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    if (t->json != NULL && t->json->refcount == 1) {
        wipe_json(t->json, 0); /* only when nobody else still holds the tree */
    }
    json_decref(t->json);
    free(t->scopes);
    free(t->connect_url);
    free(t);
}

#define TOKEN_GETTER(field)                                                                    \
    const char *dmcp_connection_token_##field(const dmcp_connection_token *t)                  \
    {                                                                                          \
        return t != NULL ? t->field : NULL;                                                    \
    }
TOKEN_GETTER(access_token)
TOKEN_GETTER(type)
TOKEN_GETTER(refresh_token)
TOKEN_GETTER(id)
TOKEN_GETTER(app_id)
TOKEN_GETTER(user_id)
TOKEN_GETTER(token_sub)
TOKEN_GETTER(tenant_id)
TOKEN_GETTER(granted_by)
TOKEN_GETTER(external_identifier)
TOKEN_GETTER(last_refresh_error)
TOKEN_GETTER(connect_url)
#undef TOKEN_GETTER

int64_t dmcp_connection_token_expiry(const dmcp_connection_token *t)
{
    return t != NULL ? t->expiry : 0;
}

int64_t dmcp_connection_token_last_refresh_time(const dmcp_connection_token *t)
{
    return t != NULL ? t->last_refresh_time : 0;
}

bool dmcp_connection_token_has_refresh_token(const dmcp_connection_token *t)
{
    return t != NULL && t->has_refresh_token;
}

const char *const *dmcp_connection_token_scopes(const dmcp_connection_token *t, size_t *count)
{
    if (count != NULL) {
        *count = t != NULL ? t->n_scopes : 0;
    }
    return t != NULL ? (const char *const *)t->scopes : NULL;
}

const json_t *dmcp_connection_token_json(const dmcp_connection_token *t)
{
    return t != NULL ? t->json : NULL;
}

void dmcp_descope_secret_free(char *secret)
{
    dmcp__free_secret_str(secret);
}

/* ---- error replies --------------------------------------------------------------------- */

bool dmcp__descope_status_is_transient(long s)
{
    switch (s) {
    case 503: /* Service Unavailable */
    case 520: /* the 52x/530 family: CDN-origin failures in front of the API */
    case 521:
    case 522:
    case 524:
    case 530:
        return true;
    default:
        return false;
    }
}

/*
 * Copies upstream text into a fixed field: redacted when it holds a secret (checked on the
 * whole text, before cutting, so no prefix of a secret survives either), control bytes made
 * '?' (no log injection), and never ending inside a UTF-8 sequence.
 */
static void copy_upstream(char *dst, size_t cap, const char *src, size_t n,
                          const char *const *secrets)
{
    dst[0] = '\0';
    if (src == NULL) {
        return;
    }
    for (size_t i = 0; secrets != NULL && secrets[i] != NULL; i++) {
        size_t sl = strlen(secrets[i]);
        if (sl == 0 || sl > n) {
            continue;
        }
        for (size_t p = 0; p + sl <= n; p++) {
            if (memcmp(src + p, secrets[i], sl) == 0) {
                snprintf(dst, cap, "[redacted]");
                return;
            }
        }
    }
    size_t k = n < cap - 1 ? n : cap - 1;
    if (k < n) {
        /* back off to the start of a UTF-8 sequence so the cut never splits a character */
        while (k > 0 && ((unsigned char)src[k] & 0xC0) == 0x80) {
            k--;
        }
    }
    for (size_t i = 0; i < k; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    dst[k] = '\0';
}

dmcp_status dmcp__descope_map_error(long http_status, const char *body, size_t len,
                                    long retry_after, const char *const *secrets,
                                    dmcp_error *err)
{
    dmcp_status st;
    const char *what;
    if (http_status == 404) {
        st = DMCP_E_NOT_CONNECTED;
        what = "no connection for this app (HTTP 404)";
    } else if (http_status == 401 || http_status == 403) {
        st = DMCP_E_POLICY_DENIED;
        what = "Descope refused the request: policy, credential or missing "
               "outbound.token.fetch scope";
    } else if (http_status == 429) {
        st = DMCP_E_RATE_LIMITED;
        what = "rate limited by Descope";
    } else {
        st = DMCP_E_UPSTREAM;
        what = "Descope API error";
    }
    if (err == NULL) {
        return st;
    }
    dmcp_error_clear(err);
    err->http_status = (int)(http_status > 0 && http_status < 1000 ? http_status : 0);
    err->retry_after = (st == DMCP_E_RATE_LIMITED && retry_after > 0) ? retry_after : 0;

    json_t *root = NULL;
    if (body != NULL && len > 0) {
        json_error_t jerr;
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    }
    if (json_is_object(root)) {
        static const struct {
            const char *name;
            size_t off;
            size_t cap;
        } fields[] = {
            {"errorCode", offsetof(dmcp_error, code), sizeof(((dmcp_error *)0)->code)},
            {"errorDescription", offsetof(dmcp_error, description),
             sizeof(((dmcp_error *)0)->description)},
            {"errorMessage", offsetof(dmcp_error, upstream_message),
             sizeof(((dmcp_error *)0)->upstream_message)},
        };
        for (size_t i = 0; i < DMCP__ARRAY_LEN(fields); i++) {
            const json_t *v = json_object_get(root, fields[i].name);
            if (json_is_string(v)) {
                copy_upstream((char *)err + fields[i].off, fields[i].cap, json_string_value(v),
                              json_string_length(v), secrets);
            }
        }
    }
    json_decref(root);
    if (err->code[0] != '\0') {
        dmcp__fail(err, st, DMCP_REASON_NONE, "%s: HTTP %d, %s", what, err->http_status,
                   err->code);
    } else {
        dmcp__fail(err, st, DMCP_REASON_NONE, "%s: HTTP %d", what, err->http_status);
    }
    return st;
}
