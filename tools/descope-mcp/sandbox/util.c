/* Small helpers of the sandbox: encodings, randomness, form bodies, scopes, times. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sandbox.h"

int64_t sbx_now(void)
{
    return (int64_t)time(NULL);
}

char *sbx_b64url(const unsigned char *data, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (len > (SIZE_MAX / 4) - 4) {
        return NULL;
    }
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)data[i] << 16;
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
    }
    out[o] = '\0';
    return out;
}

char *sbx_random_id(const char *prefix, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1) {
        return NULL;
    }
    size_t plen = strlen(prefix);
    char *out = malloc(plen + nbytes * 2 + 1);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, prefix, plen);
    for (size_t i = 0; i < nbytes; i++) {
        snprintf(out + plen + 2 * i, 3, "%02x", raw[i]);
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes s[0..len) with '+' as space; NULL on a bad escape or an embedded NUL. */
static char *form_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
}

json_t *sbx_form_parse(const char *body, size_t len)
{
    /*
     * Hand-written rather than MHD's post processor: RFC 6749 §3.1/§3.2 require refusing a
     * repeated parameter, which needs the whole body at once, and the body is capped anyway.
     */
    json_t *obj = json_object();
    if (obj == NULL) {
        return NULL;
    }
    size_t i = 0;
    size_t fields = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&') {
            end++;
        }
        if (end > i) {
            size_t eq = i;
            while (eq < end && body[eq] != '=') {
                eq++;
            }
            char *k = form_decode(body + i, eq - i);
            char *v = form_decode(body + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0);
            bool ok = k != NULL && v != NULL && k[0] != '\0' && json_object_get(obj, k) == NULL &&
                      ++fields <= 64 && json_object_set_new(obj, k, json_string(v)) == 0;
            free(k);
            free(v);
            if (!ok) {
                json_decref(obj);
                return NULL;
            }
        }
        i = end + 1;
    }
    return obj;
}

bool sbx_secret_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return false;
    }
    size_t la = strlen(a);
    size_t lb = strlen(b);
    /* The length is not secret (fixed-size generated keys); the content is. */
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

bool sbx_is_id(const char *s, size_t max)
{
    if (s == NULL) {
        return false;
    }
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
    return true;
}

json_t *sbx_scope_split(const char *s)
{
    json_t *arr = json_array();
    if (arr == NULL || s == NULL) {
        json_decref(arr);
        return NULL;
    }
    const char *p = s;
    while (*p != '\0') {
        const char *e = strchr(p, ' ');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        /* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), single SP between. */
        bool ok = n > 0 && n <= 256 && json_array_size(arr) < 32;
        for (size_t i = 0; ok && i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            ok = c >= 0x21 && c <= 0x7e && c != '"' && c != '\\';
        }
        if (!ok) {
            json_decref(arr);
            return NULL;
        }
        json_t *str = json_stringn(p, n);
        if (!sbx_array_has(arr, json_string_value(str))) {
            json_array_append(arr, str);
        }
        json_decref(str);
        if (e == NULL) {
            break;
        }
        p = e + 1;
        if (*p == '\0') {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

char *sbx_scope_join(const json_t *arr)
{
    size_t total = 1;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        total += json_string_length(v) + 1;
    }
    char *out = malloc(total);
    if (out == NULL) {
        return NULL;
    }
    out[0] = '\0';
    size_t o = 0;
    json_array_foreach(arr, i, v) {
        size_t n = json_string_length(v);
        if (o > 0) {
            out[o++] = ' ';
        }
        memcpy(out + o, json_string_value(v), n);
        o += n;
    }
    out[o] = '\0';
    return out;
}

bool sbx_array_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
            return true;
        }
    }
    return false;
}

void sbx_rfc3339(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool sbx_parse_rfc3339(const char *s, int64_t *out)
{
    /* RFC 3339 §5.6: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
    int Y;
    int M;
    int D;
    int h;
    int m;
    int sec;
    if (strlen(s) < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) ||
        s[7] != '-' || !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' ||
        !digits(s + 17, 2, &sec)) {
        return false;
    }
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) {
        return false;
    }
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }
    int off = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh;
        int om;
        if (!digits(p + 1, 2, &oh) || !digits(p + 4, 2, &om) || oh > 23 || om > 59) {
            return false;
        }
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
    } else {
        return false;
    }
    /* Days from civil (H. Hinnant's algorithm), avoiding timegm's dependence on TZ. */
    int y = Y - (M <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *out = days * 86400 + h * 3600 + m * 60 + sec - off;
    return true;
}

bool sbx_table_room(json_t *table)
{
    int64_t now = sbx_now();
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(table, tmp, k, v) {
        if (json_integer_value(json_object_get(v, "exp")) <= now) {
            json_object_del(table, k);
        }
    }
    return json_object_size(table) < SBX_MAX_PENDING;
}

bool sbx_is_loopback_redirect(const char *uri)
{
    static const char *const pfx[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    for (size_t i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++) {
        size_t n = strlen(pfx[i]);
        if (strncmp(uri, pfx[i], n) == 0 && (uri[n] == ':' || uri[n] == '/' || uri[n] == '\0')) {
            return true;
        }
    }
    return false;
}

bool sbx_redirect_uri_ok(const char *uri)
{
    /* RFC 6749 §3.1.2: absolute, no fragment. https, or http on loopback (RFC 8252 §7.3). */
    size_t n = strlen(uri);
    if (n == 0 || n > 512 || strchr(uri, '#') != NULL) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\') {
            return false;
        }
    }
    return strncmp(uri, "https://", 8) == 0 || sbx_is_loopback_redirect(uri);
}

char *sbx_urlencode(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* RFC 3986 §2.3 unreserved characters stay as they are. */
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, 4, "%%%02X", c);
            o += 3;
        }
    }
    out[o] = '\0';
    return out;
}

char *sbx_html_escape(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 6 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            break;
        }
        if (rep != NULL) {
            size_t rl = strlen(rep);
            memcpy(out + o, rep, rl);
            o += rl;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}
