/*
 * Store URLs: "memory:" and redis://[:PASSWORD@]HOST:PORT[/DB] (dmcp/store.h). Strict: no
 * query, no fragment, no user name, no percent-decoding; every part capped.
 */
#include <string.h>

#include "dmcp/store.h"
#include "store/store_types.h"

static bool digits(const char *p, size_t n, unsigned max, unsigned *out)
{
    if (n == 0 || n > 5) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
}

bool dmcp__store_url_parse(const char *url, size_t len, dmcp__store_url *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (url == NULL || (len == 7 && memcmp(url, "memory:", 7) == 0)) {
        out->memory = true;
        return true;
    }
    if (len > DMCP_STORE_URL_MAX || memchr(url, '\0', len) != NULL) {
        *why = "store URL too long or not text";
        return false;
    }
    static const char scheme[] = "redis://";
    if (len < sizeof(scheme) - 1 || memcmp(url, scheme, sizeof(scheme) - 1) != 0) {
        *why = "store URL must be memory: or redis://[:PASSWORD@]HOST:PORT[/DB]";
        return false;
    }
    const char *p = url + sizeof(scheme) - 1, *end = url + len;
    /* The password runs to the LAST '@' (it may itself hold '@'). */
    const char *at = NULL;
    for (const char *q = p; q < end; q++) {
        if (*q == '@') {
            at = q;
        }
    }
    if (at != NULL) {
        if (*p != ':') {
            *why = "store URL: only a password may precede '@' (redis://:PASSWORD@HOST:PORT)";
            return false;
        }
        size_t n = (size_t)(at - p - 1);
        if (n == 0 || n >= sizeof(out->password)) {
            *why = "store URL: password empty or longer than 256 bytes";
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[1 + i];
            if (c < 0x21 || c > 0x7e) {
                *why = "store URL: password must be visible ASCII";
                return false;
            }
        }
        memcpy(out->password, p + 1, n);
        p = at + 1;
    }
    const char *hs = p, *he;
    if (p < end && *p == '[') {
        he = memchr(p, ']', (size_t)(end - p));
        if (he == NULL) {
            *why = "store URL: unterminated [IPv6] host";
            return false;
        }
        hs = p + 1;
        for (const char *q = hs; q < he; q++) {
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
                  (*q >= 'A' && *q <= 'F') || *q == ':' || *q == '.')) {
                *why = "store URL: bad IPv6 address";
                return false;
            }
        }
        p = he + 1;
    } else {
        while (p < end && host_char(*p)) {
            p++;
        }
        he = p;
    }
    size_t hn = (size_t)(he - hs);
    if (hn == 0 || hn >= sizeof(out->host)) {
        *why = "store URL: missing or too long host";
        return false;
    }
    memcpy(out->host, hs, hn);
    if (p >= end || *p != ':') {
        *why = "store URL: missing :PORT";
        return false;
    }
    p++;
    const char *ps = p;
    while (p < end && *p >= '0' && *p <= '9') {
        p++;
    }
    if (!digits(ps, (size_t)(p - ps), 65535, &out->port) || out->port == 0) {
        *why = "store URL: port must be 1-65535";
        return false;
    }
    if (p < end) {
        if (*p != '/') {
            *why = "store URL: unexpected text after the port";
            return false;
        }
        p++;
        if (p < end && !digits(p, (size_t)(end - p), 15, &out->db)) {
            *why = "store URL: database must be 0-15";
            return false;
        }
    }
    return true;
}
