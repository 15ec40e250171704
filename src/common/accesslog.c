/* Structured access log: one JSON line per request, one write(2) per line. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "accesslog.h"

struct dmcp__accesslog {
    int fd;
    bool owned; /* false for stderr */
    dmcp__accesslog_level level;
};

static const char *const g_level_names[] = {"auto", "error", "warn", "info", "debug"};

const char *dmcp__accesslog_level_name(dmcp__accesslog_level level)
{
    return (unsigned)level < DMCP__ARRAY_LEN(g_level_names) ? g_level_names[level] : "auto";
}

dmcp__accesslog_level dmcp__accesslog_level_parse(const char *name)
{
    for (unsigned i = 1; name != NULL && i < DMCP__ARRAY_LEN(g_level_names); i++) {
        if (dmcp__ascii_casecmp(name, g_level_names[i]) == 0) {
            return (dmcp__accesslog_level)i;
        }
    }
    return DMCP__LOG_AUTO;
}

dmcp__access_entry dmcp__access_entry_init(void)
{
    dmcp__access_entry e;
    memset(&e, 0, sizeof(e));
    e.level = DMCP__LOG_AUTO;
    e.method = DMCP__M_METHOD_NONE;
    e.tool = DMCP__LOG_NO_TOOL;
    e.limit = DMCP__M_LIMIT_NONE;
    e.auth = DMCP_OK;
    e.reason = DMCP_REASON_NONE;
    return e;
}

/* ---- request ids ---- */

static pthread_once_t g_id_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t g_id_next;

static void id_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        /* No entropy yet (early boot): ids stay unique, only less unpredictable. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    }
    atomic_store(&g_id_next, seed);
}

uint64_t dmcp__request_id_next(void)
{
    pthread_once(&g_id_once, id_seed);
    uint64_t x = atomic_fetch_add_explicit(&g_id_next, 1, memory_order_relaxed);
    /* splitmix64's finaliser: a bijection on 64 bits, so distinct counters give distinct ids. */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

void dmcp__request_id_format(uint64_t id, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[id & 0xf];
        id >>= 4;
    }
    out[16] = '\0';
}

/* ---- line formatting ---- */

typedef struct writer {
    char *p;
    size_t cap;
    size_t len;
    bool full;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->full || n >= w->cap - w->len) { /* keep one byte for the NUL */
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void puts_(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void putf(writer *w, const char *fmt, ...) DMCP__PRINTF(2, 3);
static void putf(writer *w, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        w->full = true;
        return;
    }
    put(w, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0 if the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f)) {
        return 0; /* overlong, surrogate, or above U+10FFFF */
    }
    return len;
}

/* A JSON string for untrusted text: at most `max` input bytes (cut at a character boundary),
 * invalid UTF-8 replaced by U+FFFD, escaped by jansson as pure ASCII (plus DEL). */
static void put_json_string(writer *w, const char *s, size_t max)
{
    char clean[DMCP__LOG_USER_ID_MAX * 3 + 1];
    size_t n = strlen(s);
    size_t in = 0;
    size_t out = 0;
    if (max > DMCP__LOG_USER_ID_MAX) {
        max = DMCP__LOG_USER_ID_MAX;
    }
    while (in < n && in < max) {
        size_t len = utf8_seq((const unsigned char *)s + in, n - in);
        if (len != 0 && in + len > max) {
            break; /* a character straddling the cut is dropped whole */
        }
        if (len == 0) {
            memcpy(clean + out, "\xef\xbf\xbd", 3);
            out += 3;
            in++;
        } else {
            memcpy(clean + out, s + in, len);
            out += len;
            in += len;
        }
    }
    clean[out] = '\0';
    json_t *str = json_stringn(clean, out);
    char buf[DMCP__LOG_USER_ID_MAX * 6 + 8]; /* at most 6 ASCII bytes per input byte */
    size_t need =
        str != NULL ? json_dumpb(str, buf, sizeof(buf), JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : 0;
    json_decref(str);
    if (need == 0 || need > sizeof(buf)) {
        puts_(w, "null"); /* cannot happen: clean is valid UTF-8 and buf fits the worst case */
        return;
    }
    /* jansson leaves DEL raw (valid JSON); escape it too, so a line is printable ASCII. */
    size_t from = 0;
    for (size_t i = 0; i < need; i++) {
        if (buf[i] == 0x7f) {
            put(w, buf + from, i - from);
            puts_(w, "\\u007f");
            from = i + 1;
        }
    }
    put(w, buf + from, need - from);
}

static void put_time(writer *w)
{
    struct timespec ts;
    struct tm tm;
    char date[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    if (gmtime_r(&ts.tv_sec, &tm) == NULL ||
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        puts_(w, "null");
        return;
    }
    putf(w, "\"%s.%03ldZ\"", date, ts.tv_nsec / 1000000);
}

static void put_remote(writer *w, const struct sockaddr *sa)
{
    char addr[INET6_ADDRSTRLEN];
    const char *r = NULL;
    if (sa != NULL && sa->sa_family == AF_INET) {
        struct sockaddr_in in4;
        memcpy(&in4, sa, sizeof(in4));
        r = inet_ntop(AF_INET, &in4.sin_addr, addr, sizeof(addr));
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        r = inet_ntop(AF_INET6, &in6.sin6_addr, addr, sizeof(addr));
    }
    if (r == NULL) {
        puts_(w, "null");
        return;
    }
    putf(w, "\"%s\"", addr); /* inet_ntop output: digits, hex, '.' and ':' only */
}

static void put_reason(writer *w, const dmcp__access_entry *e)
{
    if ((unsigned)e->limit < DMCP__M_LIMIT_COUNT) {
        putf(w, "\"limit:%s\"", dmcp__metrics_limit_name(e->limit));
    } else if (e->auth == DMCP_E_INVALID_TOKEN) {
        const char *r =
            e->reason == DMCP_REASON_NONE ? "invalid_token" : dmcp__metrics_reason_name(e->reason);
        putf(w, "\"%s\"", r);
    } else if (e->auth != DMCP_OK) {
        /* "DMCP_E_INSUFFICIENT_SCOPE" -> "insufficient_scope": a fixed table, never input. */
        const char *name = dmcp_status_name(e->auth);
        char low[64];
        size_t i = 0;
        name += strncmp(name, "DMCP_E_", 7) == 0 ? 7 : 0;
        for (; name[i] != '\0' && i < sizeof(low) - 1; i++) {
            char c = name[i];
            low[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        low[i] = '\0';
        putf(w, "\"%s\"", low);
    } else {
        puts_(w, "null");
    }
}

static dmcp__accesslog_level entry_level(const dmcp__access_entry *e)
{
    if (e->level != DMCP__LOG_AUTO) {
        return e->level;
    }
    return e->status >= 500 ? DMCP__LOG_ERROR : e->status >= 400 ? DMCP__LOG_WARN : DMCP__LOG_INFO;
}

size_t dmcp__accesslog_format(const dmcp__access_entry *e, char *line, size_t cap)
{
    if (e == NULL || line == NULL || cap == 0) {
        return 0;
    }
    writer w = {line, cap, 0, false};
    char id[17];
    dmcp__request_id_format(e->request_id, id);
    puts_(&w, "{\"time\":");
    put_time(&w);
    putf(&w, ",\"level\":\"%s\",\"request_id\":\"%s\",\"user_id\":",
         dmcp__accesslog_level_name(entry_level(e)), id);
    if (e->user_id != NULL) {
        put_json_string(&w, e->user_id, DMCP__LOG_USER_ID_MAX);
    } else {
        puts_(&w, "null");
    }
    putf(&w, ",\"method\":\"%s\",\"tool\":", dmcp__metrics_method_name(e->method));
    if (e->tool != DMCP__LOG_NO_TOOL) {
        /* registered names are printable ASCII but may hold '"' or '\\' */
        put_json_string(&w, dmcp__metrics_tool_name(e->tool), DMCP__M_TOOL_NAME_MAX);
    } else {
        puts_(&w, "null");
    }
    putf(&w, ",\"status\":%u,\"latency_ms\":%" PRIu64 ".%03" PRIu64 ",\"reason\":", e->status,
         e->latency_ns / 1000000u, (e->latency_ns / 1000u) % 1000u);
    put_reason(&w, e);
    puts_(&w, ",\"remote\":");
    put_remote(&w, e->remote);
    puts_(&w, "}\n");
    return w.full ? 0 : w.len;
}

/* ---- the sink ---- */

dmcp_status dmcp__accesslog_open(const char *path, dmcp__accesslog_level level,
                                 dmcp__accesslog **out)
{
    if (out == NULL || level < DMCP__LOG_ERROR || level > DMCP__LOG_DEBUG) {
        return DMCP_E_INVALID_ARG;
    }
    *out = NULL;
    dmcp__accesslog *log = calloc(1, sizeof(*log));
    if (log == NULL) {
        return DMCP_E_NOMEM;
    }
    log->level = level;
    if (path == NULL || strcmp(path, "-") == 0) {
        log->fd = STDERR_FILENO;
    } else {
        log->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (log->fd < 0) {
            free(log);
            return DMCP_E_IO;
        }
        log->owned = true;
    }
    *out = log;
    return DMCP_OK;
}

void dmcp__accesslog_close(dmcp__accesslog *log)
{
    if (log == NULL) {
        return;
    }
    if (log->owned) {
        close(log->fd);
    }
    free(log);
}

bool dmcp__accesslog_enabled(const dmcp__accesslog *log, dmcp__accesslog_level level)
{
    return log != NULL && level != DMCP__LOG_AUTO && level <= log->level;
}

dmcp_status dmcp__accesslog_write(dmcp__accesslog *log, const dmcp__access_entry *e)
{
    if (e == NULL || !dmcp__accesslog_enabled(log, entry_level(e))) {
        return DMCP_OK;
    }
    char line[DMCP__LOG_LINE_MAX];
    size_t len = dmcp__accesslog_format(e, line, sizeof(line));
    if (len == 0) {
        return DMCP_E_INTERNAL;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(log->fd, line + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return DMCP_E_IO;
        }
        off += (size_t)n; /* a short write (disk full) is the only way a line can split */
    }
    return DMCP_OK;
}
