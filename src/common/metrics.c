/* The process-wide Prometheus registry: fixed families, bounded labels, relaxed atomics. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmcp/metrics.h"
#include "dmcp/version.h"
#include "metrics.h"

/* ---- label tables ---- */

static const char *const g_method_names[DMCP__M_METHOD_COUNT] = {
#define DMCP__M_NAME(id, name) name,
    DMCP__M_METHODS(DMCP__M_NAME)
#undef DMCP__M_NAME
};

static const char *const g_limit_names[DMCP__M_LIMIT_COUNT] = {
#define DMCP__M_NAME(id, name) name,
    DMCP__M_LIMITS(DMCP__M_NAME)
#undef DMCP__M_NAME
};

static const char *const g_outcome_names[DMCP__M_OUTCOME_COUNT] = {"ok", "refused", "error"};

static const char *const g_conn_names[DMCP__M_CONN_OUTCOME_COUNT] = {
    "ok", "not_connected", "denied", "rate_limited", "error"};

/* dmcp_reason names, index = enum value; the last slot is "other" for values added later. */
static const char *const g_reason_names[] = {
    "none",    "malformed",     "too_large", "algorithm", "header",   "unknown_key", "signature",
    "expired", "not_yet_valid", "claim",     "issuer",    "audience", "other"};
#define REASON_COUNT DMCP__ARRAY_LEN(g_reason_names)
#define REASON_OTHER (REASON_COUNT - 1)
_Static_assert(DMCP_REASON_AUDIENCE == REASON_OTHER - 1, "a dmcp_reason needs a metrics name");

/* The `status` label: the codes the server answers with, then classes for anything else. */
static const unsigned g_status_codes[] = {200, 202, 204, 400, 401, 403, 404, 405,
                                          406, 409, 413, 415, 429, 431, 500, 503};
static const char *const g_status_names[] = {
    "200", "202", "204", "400", "401", "403", "404", "405", "406", "409", "413",
    "415", "429", "431", "500", "503", "1xx", "2xx", "3xx", "4xx", "5xx", "other"};
#define STATUS_CODES DMCP__ARRAY_LEN(g_status_codes)
#define STATUS_COUNT DMCP__ARRAY_LEN(g_status_names)
_Static_assert(STATUS_COUNT == STATUS_CODES + 6, "status classes follow the codes");

/* Bucket upper bounds: nanoseconds for the hot path, the same in seconds as printed. */
static const uint64_t g_bucket_ns[DMCP__M_BUCKETS] = {
    10000,     25000,      50000,      100000,     250000,     500000,    1000000,
    2500000,   5000000,    10000000,   25000000,   50000000,   100000000, 250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000};
static const char *const g_bucket_le[DMCP__M_BUCKETS] = {
    "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025", "0.05",    "0.1",   "0.25",   "0.5",     "1",      "2.5",   "5",      "10"};

/* ---- storage: zero-initialised static atomics, no allocation ---- */

typedef _Atomic uint64_t counter;

static struct {
    counter http[DMCP__M_METHOD_COUNT][STATUS_COUNT];
    counter dur[DMCP__M_METHOD_COUNT][DMCP__M_BUCKETS + 1]; /* last: above 10 s */
    counter dur_sum_ns[DMCP__M_METHOD_COUNT];
    counter tools[DMCP__M_TOOLS_MAX + 1][DMCP__M_OUTCOME_COUNT];
    counter validations[DMCP__M_OUTCOME_COUNT][REASON_COUNT];
    counter cache_hits;
    counter cache_misses;
    counter jwks[DMCP__M_OUTCOME_COUNT];
    counter conn[DMCP__M_CONN_OUTCOME_COUNT];
    counter limits[DMCP__M_LIMIT_COUNT];
    _Atomic int64_t gauges[DMCP__M_GAUGE_COUNT];
    counter jwks_loaded_ns; /* CLOCK_MONOTONIC of the last key set; 0 = never */
} g_m;

/* Registered tool names: an append-only open-addressing table. Writers hold g_tool_lock;
 * readers see a slot only after its name was written (release/acquire on the slot). */
#define TOOL_SLOTS 512 /* twice DMCP__M_TOOLS_MAX: a probe always meets an empty slot */
static pthread_mutex_t g_tool_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_tool_names[DMCP__M_TOOLS_MAX][DMCP__M_TOOL_NAME_MAX + 1];
static _Atomic uint32_t g_tool_slots[TOOL_SLOTS]; /* id + 1; 0 = empty */
static _Atomic unsigned g_tool_count;

static uint64_t g_start_unix_ms;

static void inc(counter *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t get(counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* process_start_time_seconds: when the library was loaded, i.e. at process start for every
 * program linked against it. A scrape before that cannot happen. */
#if defined(__GNUC__)
__attribute__((constructor)) static void metrics_start(void)
{
    g_start_unix_ms = clock_ns(CLOCK_REALTIME) / 1000000u;
}
#endif

/* ---- label helpers ---- */

const char *dmcp__metrics_method_name(dmcp__m_method m)
{
    return (unsigned)m < DMCP__M_METHOD_COUNT ? g_method_names[m] : "other";
}

dmcp__m_method dmcp__metrics_method_id(const char *name)
{
    if (name == NULL) {
        return DMCP__M_METHOD_NONE;
    }
    /* Only real JSON-RPC names map: the pseudo methods are chosen by the server. */
    for (unsigned i = 0; i < DMCP__M_METHOD_RESPONSE; i++) {
        if (strcmp(name, g_method_names[i]) == 0) {
            return (dmcp__m_method)i;
        }
    }
    return DMCP__M_METHOD_OTHER;
}

const char *dmcp__metrics_limit_name(dmcp__m_limit l)
{
    return (unsigned)l < DMCP__M_LIMIT_COUNT ? g_limit_names[l] : "none";
}

static unsigned reason_index(dmcp_reason r)
{
    return (unsigned)r < REASON_OTHER ? (unsigned)r : (unsigned)REASON_OTHER;
}

const char *dmcp__metrics_reason_name(dmcp_reason r)
{
    return g_reason_names[reason_index(r)];
}

dmcp__m_conn_outcome dmcp__metrics_conn_outcome(dmcp_status st)
{
    switch (st) {
    case DMCP_OK:
        return DMCP__M_CONN_OK;
    case DMCP_E_NOT_CONNECTED:
        return DMCP__M_CONN_NOT_CONNECTED;
    case DMCP_E_POLICY_DENIED:
        return DMCP__M_CONN_DENIED;
    case DMCP_E_RATE_LIMITED:
        return DMCP__M_CONN_RATE_LIMITED;
    default:
        return DMCP__M_CONN_ERROR;
    }
}

static unsigned status_index(unsigned code)
{
    for (unsigned i = 0; i < STATUS_CODES; i++) {
        if (g_status_codes[i] == code) {
            return i;
        }
    }
    if (code >= 100 && code <= 599) {
        return (unsigned)STATUS_CODES + code / 100 - 1; /* "1xx" .. "5xx" */
    }
    return (unsigned)STATUS_COUNT - 1;
}

/* ---- tool names ---- */

static bool tool_name_ok(const char *name, size_t *len)
{
    size_t n = 0;
    for (; name[n] != '\0'; n++) {
        unsigned char c = (unsigned char)name[n];
        if (n >= DMCP__M_TOOL_NAME_MAX || c <= 0x20 || c >= 0x7f) {
            return false;
        }
    }
    *len = n;
    return n > 0;
}

static uint32_t tool_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

unsigned dmcp__metrics_tool_id(const char *name)
{
    if (name == NULL) {
        return DMCP__M_TOOL_OTHER;
    }
    uint32_t h = tool_hash(name);
    for (uint32_t i = 0; i < TOOL_SLOTS; i++) {
        uint32_t v =
            atomic_load_explicit(&g_tool_slots[(h + i) % TOOL_SLOTS], memory_order_acquire);
        if (v == 0) {
            break;
        }
        if (strcmp(g_tool_names[v - 1], name) == 0) {
            return v - 1;
        }
    }
    return DMCP__M_TOOL_OTHER;
}

unsigned dmcp__metrics_tool_register(const char *name)
{
    size_t len = 0;
    if (name == NULL || !tool_name_ok(name, &len)) {
        return DMCP__M_TOOL_OTHER;
    }
    pthread_mutex_lock(&g_tool_lock);
    unsigned id = dmcp__metrics_tool_id(name);
    unsigned n = atomic_load_explicit(&g_tool_count, memory_order_relaxed);
    if (id == DMCP__M_TOOL_OTHER && n < DMCP__M_TOOLS_MAX) {
        id = n;
        memcpy(g_tool_names[id], name, len + 1);
        uint32_t h = tool_hash(name);
        for (uint32_t i = 0; i < TOOL_SLOTS; i++) {
            _Atomic uint32_t *slot = &g_tool_slots[(h + i) % TOOL_SLOTS];
            if (atomic_load_explicit(slot, memory_order_relaxed) == 0) {
                atomic_store_explicit(slot, id + 1, memory_order_release);
                break;
            }
        }
        atomic_store_explicit(&g_tool_count, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&g_tool_lock);
    return id;
}

const char *dmcp__metrics_tool_name(unsigned id)
{
    return id < atomic_load_explicit(&g_tool_count, memory_order_acquire) ? g_tool_names[id]
                                                                          : "other";
}

/* ---- recording ---- */

void dmcp__metrics_http_request(dmcp__m_method m, unsigned http_status)
{
    unsigned mi = (unsigned)m < DMCP__M_METHOD_COUNT ? (unsigned)m : DMCP__M_METHOD_OTHER;
    inc(&g_m.http[mi][status_index(http_status)]);
}

void dmcp__metrics_http_duration(dmcp__m_method m, uint64_t ns)
{
    unsigned mi = (unsigned)m < DMCP__M_METHOD_COUNT ? (unsigned)m : DMCP__M_METHOD_OTHER;
    unsigned b = 0;
    while (b < DMCP__M_BUCKETS && ns > g_bucket_ns[b]) {
        b++;
    }
    inc(&g_m.dur[mi][b]);
    atomic_fetch_add_explicit(&g_m.dur_sum_ns[mi], ns, memory_order_relaxed);
}

void dmcp__metrics_tool_call(unsigned tool, dmcp__m_outcome o)
{
    if ((unsigned)o < DMCP__M_OUTCOME_COUNT) {
        inc(&g_m.tools[tool < DMCP__M_TOOL_OTHER ? tool : DMCP__M_TOOL_OTHER][o]);
    }
}

void dmcp__metrics_token_validation(dmcp__m_outcome o, dmcp_reason r)
{
    if ((unsigned)o < DMCP__M_OUTCOME_COUNT) {
        inc(&g_m.validations[o][reason_index(r)]);
    }
}

void dmcp__metrics_token_validation_status(dmcp_status st, dmcp_reason r)
{
    if (st == DMCP_OK) {
        dmcp__metrics_token_validation(DMCP__M_OK, DMCP_REASON_NONE);
    } else if (st == DMCP_E_INVALID_TOKEN) {
        dmcp__metrics_token_validation(DMCP__M_REFUSED, r);
    } else {
        dmcp__metrics_token_validation(DMCP__M_ERROR, DMCP_REASON_NONE);
    }
}

void dmcp__metrics_token_cache(bool hit)
{
    inc(hit ? &g_m.cache_hits : &g_m.cache_misses);
}

void dmcp__metrics_jwks_fetch(dmcp__m_outcome o)
{
    if ((unsigned)o < DMCP__M_OUTCOME_COUNT) {
        inc(&g_m.jwks[o]);
    }
}

void dmcp__metrics_jwks_loaded(size_t nkeys)
{
    dmcp__metrics_gauge_set(DMCP__M_JWKS_KEYS, (int64_t)nkeys);
    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    atomic_store_explicit(&g_m.jwks_loaded_ns, now != 0 ? now : 1, memory_order_relaxed);
}

void dmcp__metrics_connection_token(dmcp__m_conn_outcome o)
{
    if ((unsigned)o < DMCP__M_CONN_OUTCOME_COUNT) {
        inc(&g_m.conn[o]);
    }
}

void dmcp__metrics_limit_refusal(dmcp__m_limit l)
{
    if ((unsigned)l < DMCP__M_LIMIT_COUNT) {
        inc(&g_m.limits[l]);
    }
}

void dmcp__metrics_gauge_add(dmcp__m_gauge g, int64_t delta)
{
    if ((unsigned)g < DMCP__M_GAUGE_COUNT) {
        atomic_fetch_add_explicit(&g_m.gauges[g], delta, memory_order_relaxed);
    }
}

void dmcp__metrics_gauge_set(dmcp__m_gauge g, int64_t value)
{
    if ((unsigned)g < DMCP__M_GAUGE_COUNT) {
        atomic_store_explicit(&g_m.gauges[g], value, memory_order_relaxed);
    }
}

/* ---- exposition ---- */

#define TRY(x)                                                                                     \
    do {                                                                                           \
        dmcp_status st_ = (x);                                                                     \
        if (st_ != DMCP_OK) {                                                                      \
            return st_;                                                                            \
        }                                                                                          \
    } while (0)

static dmcp_status family(dmcp__buf *out, const char *name, const char *type, const char *help)
{
    return dmcp__buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the text format requires (backslash, double quote, newline). */
static dmcp_status label_value(dmcp__buf *out, const char *v)
{
    TRY(dmcp__buf_append(out, "\"", 1));
    for (const char *p = v; *p != '\0'; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        TRY(esc != NULL ? dmcp__buf_appends(out, esc) : dmcp__buf_append(out, p, 1));
    }
    return dmcp__buf_append(out, "\"", 1);
}

/* name{l1="v1"[,l2="v2"]} value */
static dmcp_status sample(dmcp__buf *out, const char *name, const char *l1, const char *v1,
                          const char *l2, const char *v2, uint64_t value)
{
    TRY(dmcp__buf_appends(out, name));
    if (l1 != NULL) {
        TRY(dmcp__buf_printf(out, "{%s=", l1));
        TRY(label_value(out, v1));
        if (l2 != NULL) {
            TRY(dmcp__buf_printf(out, ",%s=", l2));
            TRY(label_value(out, v2));
        }
        TRY(dmcp__buf_append(out, "}", 1));
    }
    return dmcp__buf_printf(out, " %" PRIu64 "\n", value);
}

static dmcp_status render_http(dmcp__buf *out)
{
    static const char name[] = "dmcp_http_requests_total";
    TRY(family(out, name, "counter",
               "MCP HTTP requests answered, by JSON-RPC method and HTTP status."));
    for (unsigned m = 0; m < DMCP__M_METHOD_COUNT; m++) {
        for (unsigned s = 0; s < STATUS_COUNT; s++) {
            uint64_t v = get(&g_m.http[m][s]);
            if (v != 0) { /* 22 statuses x 23 methods: only the series that occurred */
                TRY(sample(out, name, "method", g_method_names[m], "status", g_status_names[s], v));
            }
        }
    }
    static const char hist[] = "dmcp_http_request_duration_seconds";
    TRY(family(out, hist, "histogram",
               "Time from the first request byte to the end of the response, by method."));
    for (unsigned m = 0; m < DMCP__M_METHOD_COUNT; m++) {
        uint64_t counts[DMCP__M_BUCKETS + 1];
        uint64_t total = 0;
        for (unsigned b = 0; b <= DMCP__M_BUCKETS; b++) {
            counts[b] = get(&g_m.dur[m][b]);
            total += counts[b];
        }
        if (total == 0) {
            continue;
        }
        uint64_t cum = 0;
        for (unsigned b = 0; b < DMCP__M_BUCKETS; b++) {
            cum += counts[b];
            TRY(sample(out, "dmcp_http_request_duration_seconds_bucket", "method",
                       g_method_names[m], "le", g_bucket_le[b], cum));
        }
        TRY(sample(out, "dmcp_http_request_duration_seconds_bucket", "method", g_method_names[m],
                   "le", "+Inf", total));
        uint64_t sum = get(&g_m.dur_sum_ns[m]);
        TRY(dmcp__buf_printf(out,
                             "dmcp_http_request_duration_seconds_sum{method=\"%s\"} %" PRIu64
                             ".%09" PRIu64 "\n",
                             g_method_names[m], sum / 1000000000u, sum % 1000000000u));
        TRY(sample(out, "dmcp_http_request_duration_seconds_count", "method", g_method_names[m],
                   NULL, NULL, total));
    }
    return DMCP_OK;
}

static dmcp_status render_auth(dmcp__buf *out)
{
    static const char tools[] = "dmcp_tool_calls_total";
    TRY(family(out, tools, "counter",
               "tools/call requests by tool (registered names, other for the rest) and outcome."));
    unsigned ntools = atomic_load_explicit(&g_tool_count, memory_order_acquire);
    for (unsigned t = 0; t <= DMCP__M_TOOL_OTHER; t++) {
        if (t >= ntools && t != DMCP__M_TOOL_OTHER) {
            continue;
        }
        for (unsigned o = 0; o < DMCP__M_OUTCOME_COUNT; o++) {
            TRY(sample(out, tools, "tool", dmcp__metrics_tool_name(t), "outcome",
                       g_outcome_names[o], get(&g_m.tools[t][o])));
        }
    }
    static const char val[] = "dmcp_token_validations_total";
    TRY(family(out, val, "counter", "Access token validations by outcome and refusal reason."));
    for (unsigned o = 0; o < DMCP__M_OUTCOME_COUNT; o++) {
        for (unsigned r = 0; r < REASON_COUNT; r++) {
            uint64_t v = get(&g_m.validations[o][r]);
            /* Only refusals carry a reason; other pairs show up only if recorded. */
            if (v != 0 || o == DMCP__M_REFUSED || r == 0) {
                TRY(sample(out, val, "outcome", g_outcome_names[o], "reason", g_reason_names[r],
                           v));
            }
        }
    }
    TRY(family(out, "dmcp_token_cache_hits_total", "counter",
               "Token validations answered from the validated-token cache."));
    TRY(sample(out, "dmcp_token_cache_hits_total", NULL, NULL, NULL, NULL, get(&g_m.cache_hits)));
    TRY(family(out, "dmcp_token_cache_misses_total", "counter",
               "Token validations that missed the validated-token cache."));
    TRY(sample(out, "dmcp_token_cache_misses_total", NULL, NULL, NULL, NULL,
               get(&g_m.cache_misses)));
    TRY(family(out, "dmcp_jwks_fetches_total", "counter",
               "JWKS fetches by outcome (refused: the answer was not a usable key set; error: "
               "unreachable)."));
    for (unsigned o = 0; o < DMCP__M_OUTCOME_COUNT; o++) {
        TRY(sample(out, "dmcp_jwks_fetches_total", "outcome", g_outcome_names[o], NULL, NULL,
                   get(&g_m.jwks[o])));
    }
    TRY(family(out, "dmcp_jwks_key_age_seconds", "gauge",
               "Seconds since the current key set was installed (absent before the first)."));
    uint64_t loaded = get(&g_m.jwks_loaded_ns);
    if (loaded != 0) {
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        uint64_t age_ms = now > loaded ? (now - loaded) / 1000000u : 0;
        TRY(dmcp__buf_printf(out, "dmcp_jwks_key_age_seconds %" PRIu64 ".%03" PRIu64 "\n",
                             age_ms / 1000u, age_ms % 1000u));
    }
    return DMCP_OK;
}

static dmcp_status gauge(dmcp__buf *out, const char *name, const char *help, dmcp__m_gauge g)
{
    TRY(family(out, name, "gauge", help));
    int64_t v = atomic_load_explicit(&g_m.gauges[g], memory_order_relaxed);
    return dmcp__buf_printf(out, "%s %" PRId64 "\n", name, v);
}

static dmcp_status render_server(dmcp__buf *out)
{
    TRY(gauge(out, "dmcp_jwks_keys", "Keys in the current key set.", DMCP__M_JWKS_KEYS));
    TRY(gauge(out, "dmcp_sessions_open", "MCP sessions open.", DMCP__M_SESSIONS_OPEN));
    TRY(gauge(out, "dmcp_sse_streams_open", "Server-sent event streams open.",
              DMCP__M_SSE_STREAMS_OPEN));
    TRY(gauge(out, "dmcp_connections_open", "HTTP connections open.", DMCP__M_CONNECTIONS_OPEN));
    static const char conn[] = "dmcp_connection_token_requests_total";
    TRY(family(out, conn, "counter", "Outbound connection-token requests by outcome."));
    for (unsigned o = 0; o < DMCP__M_CONN_OUTCOME_COUNT; o++) {
        TRY(sample(out, conn, "outcome", g_conn_names[o], NULL, NULL, get(&g_m.conn[o])));
    }
    static const char lim[] = "dmcp_limit_refusals_total";
    TRY(family(out, lim, "counter", "Requests or connections refused by a configured limit."));
    for (unsigned l = 0; l < DMCP__M_LIMIT_COUNT; l++) {
        TRY(sample(out, lim, "limit", g_limit_names[l], NULL, NULL, get(&g_m.limits[l])));
    }
    TRY(family(out, "dmcp_build_info", "gauge", "Always 1; the version is a label."));
    TRY(sample(out, "dmcp_build_info", "version", DMCP_VERSION_STRING, NULL, NULL, 1));
    TRY(family(out, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds."));
    return dmcp__buf_printf(out, "process_start_time_seconds %" PRIu64 ".%03" PRIu64 "\n",
                            g_start_unix_ms / 1000u, g_start_unix_ms % 1000u);
}

dmcp_status dmcp__metrics_render(dmcp__buf *out)
{
    TRY(render_http(out));
    TRY(render_auth(out));
    return render_server(out);
}

/* Cap on the rendered text: far above the largest possible registry (~150 KiB). */
#define RENDER_MAX ((size_t)4 * 1024 * 1024)

dmcp_status dmcp_metrics_render(char **text, size_t *len)
{
    if (text == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *text = NULL;
    if (len != NULL) {
        *len = 0;
    }
    dmcp__buf b;
    dmcp__buf_init(&b, RENDER_MAX);
    dmcp_status st = dmcp__metrics_render(&b);
    if (st != DMCP_OK) {
        dmcp__buf_free(&b);
        return st;
    }
    *text = dmcp__buf_take(&b, len);
    return DMCP_OK;
}

static void zero(counter *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        atomic_store_explicit(&c[i], 0, memory_order_relaxed);
    }
}

void dmcp__metrics_reset(void)
{
    zero(&g_m.http[0][0], sizeof(g_m.http) / sizeof(counter));
    zero(&g_m.dur[0][0], sizeof(g_m.dur) / sizeof(counter));
    zero(g_m.dur_sum_ns, DMCP__M_METHOD_COUNT);
    zero(&g_m.tools[0][0], sizeof(g_m.tools) / sizeof(counter));
    zero(&g_m.validations[0][0], sizeof(g_m.validations) / sizeof(counter));
    zero(&g_m.cache_hits, 1);
    zero(&g_m.cache_misses, 1);
    zero(g_m.jwks, DMCP__M_OUTCOME_COUNT);
    zero(g_m.conn, DMCP__M_CONN_OUTCOME_COUNT);
    zero(g_m.limits, DMCP__M_LIMIT_COUNT);
    zero(&g_m.jwks_loaded_ns, 1);
    for (unsigned i = 0; i < DMCP__M_GAUGE_COUNT; i++) {
        atomic_store_explicit(&g_m.gauges[i], 0, memory_order_relaxed);
    }
    pthread_mutex_lock(&g_tool_lock);
    for (unsigned i = 0; i < TOOL_SLOTS; i++) {
        atomic_store_explicit(&g_tool_slots[i], 0, memory_order_relaxed);
    }
    atomic_store_explicit(&g_tool_count, 0, memory_order_release);
    pthread_mutex_unlock(&g_tool_lock);
}
