/* The access log: every line is one JSON object with the documented fields, hostile user ids
 * are escaped (ASCII only, valid UTF-8, cut), client-chosen strings cannot reach it, levels
 * filter, and 8 threads x 1000 lines to one file never interleave. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"

#include "accesslog.h"
#include "metrics.h"

/* Formats e and parses the line; checks the line is one object ending in exactly one '\n'
 * with nothing but printable ASCII before it. */
static json_t *line_of(const dmcp__access_entry *e)
{
    char line[DMCP__LOG_LINE_MAX];
    size_t n = dmcp__accesslog_format(e, line, sizeof(line));
    assert_true(n > 0);
    assert_int_equal(n, strlen(line));
    assert_int_equal(line[n - 1], '\n');
    for (size_t i = 0; i + 1 < n; i++) {
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e) {
            fail_msg("byte 0x%02x at %zu in %s", (unsigned char)line[i], i, line);
        }
    }
    json_error_t jerr;
    json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        fail_msg("not JSON (%s): %s", jerr.text, line);
    }
    assert_true(json_is_object(j));
    return j;
}

static const char *str(const json_t *j, const char *key)
{
    const json_t *v = json_object_get(j, key);
    if (!json_is_string(v)) {
        fail_msg("%s is not a string", key);
    }
    return json_string_value(v);
}

static void test_fields(void **state)
{
    (void)state;
    dmcp__metrics_reset();
    unsigned echo = dmcp__metrics_tool_register("echo");
    struct sockaddr_in in4;
    memset(&in4, 0, sizeof(in4));
    in4.sin_family = AF_INET;
    in4.sin_port = htons(4321);
    in4.sin_addr.s_addr = htonl(0x7f000002);
    dmcp__access_entry e = dmcp__access_entry_init();
    e.request_id = 0x0123456789abcdefu;
    e.user_id = "U2abc";
    e.method = DMCP__M_METHOD_TOOLS_CALL;
    e.tool = echo;
    e.status = 200;
    e.latency_ns = 1234567;
    e.remote = (const struct sockaddr *)&in4;
    json_t *j = line_of(&e);
    const char *keys[] = {"time", "level",  "request_id", "user_id", "method",
                          "tool", "status", "latency_ms", "reason",  "remote"};
    assert_int_equal(json_object_size(j), DMCP__ARRAY_LEN(keys));
    for (size_t i = 0; i < DMCP__ARRAY_LEN(keys); i++) {
        assert_non_null(json_object_get(j, keys[i]));
    }
    const char *t = str(j, "time"); /* 2026-01-02T03:04:05.678Z */
    assert_int_equal(strlen(t), 24);
    assert_true(t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[19] == '.' &&
                t[23] == 'Z');
    assert_string_equal(str(j, "level"), "info");
    assert_string_equal(str(j, "request_id"), "0123456789abcdef");
    assert_string_equal(str(j, "user_id"), "U2abc");
    assert_string_equal(str(j, "method"), "tools/call");
    assert_string_equal(str(j, "tool"), "echo");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
    assert_true(json_is_real(json_object_get(j, "latency_ms")));
    assert_true(json_real_value(json_object_get(j, "latency_ms")) == 1.234);
    assert_true(json_is_null(json_object_get(j, "reason")));
    assert_string_equal(str(j, "remote"), "127.0.0.2");
    json_decref(j);

    struct sockaddr_in6 in6;
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    in6.sin6_addr = in6addr_loopback;
    e = dmcp__access_entry_init(); /* nothing known: nulls, not empty strings */
    e.remote = (const struct sockaddr *)&in6;
    e.status = 503;
    j = line_of(&e);
    assert_string_equal(str(j, "remote"), "::1");
    assert_string_equal(str(j, "method"), "none");
    assert_string_equal(str(j, "level"), "error");
    assert_true(json_is_null(json_object_get(j, "user_id")));
    assert_true(json_is_null(json_object_get(j, "tool")));
    json_decref(j);

    struct sockaddr un = {.sa_family = AF_UNIX};
    e.remote = &un;
    e.tool = 12345; /* not registered: the label table's "other", never a client string */
    j = line_of(&e);
    assert_true(json_is_null(json_object_get(j, "remote")));
    assert_string_equal(str(j, "tool"), "other");
    json_decref(j);
}

static void test_reasons(void **state)
{
    (void)state;
    dmcp__access_entry e = dmcp__access_entry_init();
    e.status = 401;
    e.auth = DMCP_E_INVALID_TOKEN;
    e.reason = DMCP_REASON_EXPIRED;
    json_t *j = line_of(&e);
    assert_string_equal(str(j, "reason"), "expired");
    assert_string_equal(str(j, "level"), "warn");
    json_decref(j);
    e.reason = DMCP_REASON_NONE; /* no token at all */
    j = line_of(&e);
    assert_string_equal(str(j, "reason"), "invalid_token");
    json_decref(j);
    e.auth = DMCP_E_INSUFFICIENT_SCOPE;
    e.status = 403;
    j = line_of(&e);
    assert_string_equal(str(j, "reason"), "insufficient_scope");
    json_decref(j);
    e.limit = DMCP__M_LIMIT_RATE; /* a limit wins over the auth outcome */
    e.status = 429;
    j = line_of(&e);
    assert_string_equal(str(j, "reason"), "limit:rate");
    json_decref(j);
    e.level = DMCP__LOG_DEBUG; /* an explicit level wins over the status */
    j = line_of(&e);
    assert_string_equal(str(j, "level"), "debug");
    json_decref(j);
}

static void test_hostile_user_ids(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want; /* after parsing the JSON back */
    } cases[] = {
        {"a\"b\\c", "a\"b\\c"},
        {"line\nbreak\r\"level\":\"error\"", "line\nbreak\r\"level\":\"error\""},
        {"ctl\x01\x1b[31mred\x7f", "ctl\x01\x1b[31mred\x7f"},
        {"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80"},
        /* invalid UTF-8: stray continuation, overlong '/', surrogate, truncated, > U+10FFFF */
        {"x\x80y\xc0\xafz\xed\xa0\x80w\xe2\x82", "x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbdz"
                                                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdw"
                                                 "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"", ""},
    };
    for (size_t i = 0; i < DMCP__ARRAY_LEN(cases); i++) {
        dmcp__access_entry e = dmcp__access_entry_init();
        e.user_id = cases[i].in;
        e.status = 200;
        json_t *j = line_of(&e);
        assert_string_equal(str(j, "user_id"), cases[i].want);
        assert_string_equal(str(j, "level"), "info"); /* the injected level did not land */
        assert_int_equal(json_object_size(j), 10);
        json_decref(j);
    }

    /* long ids are cut at DMCP__LOG_USER_ID_MAX bytes, never inside a character */
    char big[DMCP__LOG_USER_ID_MAX + 64];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    dmcp__access_entry e = dmcp__access_entry_init();
    e.user_id = big;
    json_t *j = line_of(&e);
    assert_int_equal(strlen(str(j, "user_id")), DMCP__LOG_USER_ID_MAX);
    json_decref(j);
    memcpy(big + DMCP__LOG_USER_ID_MAX - 1, "\xc3\xa9", 2); /* straddles the cut */
    j = line_of(&e);
    assert_int_equal(strlen(str(j, "user_id")), DMCP__LOG_USER_ID_MAX - 1);
    json_decref(j);

    /* the worst case for escaping (6 output bytes per input byte) still fits a line */
    memset(big, '\x01', sizeof(big) - 1);
    j = line_of(&e);
    assert_int_equal(strlen(str(j, "user_id")), DMCP__LOG_USER_ID_MAX);
    json_decref(j);
}

static void test_request_ids(void **state)
{
    (void)state;
    enum { N = 20000 };
    uint64_t *ids = calloc(N, sizeof(*ids));
    assert_non_null(ids);
    uint64_t diff_bits = 0;
    for (size_t i = 0; i < N; i++) {
        ids[i] = dmcp__request_id_next();
        diff_bits |= i > 0 ? ids[i] ^ ids[i - 1] : 0;
    }
    for (size_t i = 1; i < N; i++) {
        for (size_t k = i < 64 ? 0 : i - 64; k < i; k++) {
            assert_true(ids[i] != ids[k]);
        }
    }
    assert_true(diff_bits == UINT64_MAX); /* mixed: consecutive ids differ in high bits too */
    char hex[17];
    dmcp__request_id_format(0xfedcba9876543210u, hex);
    assert_string_equal(hex, "fedcba9876543210");
    dmcp__request_id_format(1, hex);
    assert_string_equal(hex, "0000000000000001");
    free(ids);
}

static char *temp_path(void)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/dmcp-accesslog-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

static void test_levels_and_sink(void **state)
{
    (void)state;
    char *path = temp_path();
    dmcp__accesslog *log = NULL;
    assert_int_equal(dmcp__accesslog_open(path, DMCP__LOG_AUTO, &log), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp__accesslog_open("/nonexistent/dir/log", DMCP__LOG_INFO, &log), DMCP_E_IO);
    assert_null(log);
    assert_int_equal(dmcp__accesslog_open(path, DMCP__LOG_WARN, &log), DMCP_OK);
    assert_true(dmcp__accesslog_enabled(log, DMCP__LOG_ERROR));
    assert_true(dmcp__accesslog_enabled(log, DMCP__LOG_WARN));
    assert_false(dmcp__accesslog_enabled(log, DMCP__LOG_INFO));
    assert_false(dmcp__accesslog_enabled(NULL, DMCP__LOG_ERROR));
    dmcp__access_entry e = dmcp__access_entry_init();
    static const unsigned statuses[] = {200, 401, 500, 204, 429};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(statuses); i++) {
        e.status = statuses[i];
        assert_int_equal(dmcp__accesslog_write(log, &e), DMCP_OK);
    }
    e.status = 500;
    e.level = DMCP__LOG_DEBUG; /* explicitly quiet */
    assert_int_equal(dmcp__accesslog_write(log, &e), DMCP_OK);
    assert_int_equal(dmcp__accesslog_write(NULL, &e), DMCP_OK);
    dmcp__accesslog_close(log);
    dmcp__accesslog_close(NULL);

    size_t len = 0;
    char *text = dmcp_test_read_file(path, &len);
    assert_non_null(text);
    /* 401 warn, 500 error, 429 warn; the 200, 204 and the debug line are filtered */
    assert_non_null(strstr(text, "\"status\":401"));
    assert_non_null(strstr(text, "\"status\":500,"));
    assert_non_null(strstr(text, "\"status\":429"));
    assert_null(strstr(text, "\"status\":200"));
    assert_null(strstr(text, "\"status\":204"));
    assert_null(strstr(text, "debug"));
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        lines += text[i] == '\n';
    }
    assert_int_equal(lines, 3);
    free(text);
    unlink(path);

    assert_int_equal(dmcp__accesslog_level_parse("WARN"), DMCP__LOG_WARN);
    assert_int_equal(dmcp__accesslog_level_parse("debug"), DMCP__LOG_DEBUG);
    assert_int_equal(dmcp__accesslog_level_parse("auto"), DMCP__LOG_AUTO);
    assert_int_equal(dmcp__accesslog_level_parse("verbose"), DMCP__LOG_AUTO);
    assert_int_equal(dmcp__accesslog_level_parse(NULL), DMCP__LOG_AUTO);
}

enum { WRITERS = 8, LINES = 1000 };

typedef struct job {
    dmcp__accesslog *log;
    int n;
} job;

static void *writer_main(void *arg)
{
    const job *jb = arg;
    char user[600];
    /* lines of different lengths, some long, so a split write would show */
    memset(user, 'a' + jb->n, sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    for (int i = 0; i < LINES; i++) {
        dmcp__access_entry e = dmcp__access_entry_init();
        e.request_id = dmcp__request_id_next();
        user[(i * 37) % 250 + 1] = '\0';
        e.user_id = user;
        e.status = 200;
        e.method = DMCP__M_METHOD_PING;
        assert_int_equal(dmcp__accesslog_write(jb->log, &e), DMCP_OK);
        user[(i * 37) % 250 + 1] = (char)('a' + jb->n);
    }
    return NULL;
}

static void test_concurrent_lines(void **state)
{
    (void)state;
    char *path = temp_path();
    dmcp__accesslog *log = NULL;
    assert_int_equal(dmcp__accesslog_open(path, DMCP__LOG_INFO, &log), DMCP_OK);
    pthread_t th[WRITERS];
    job jobs[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        jobs[i] = (job){log, i};
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &jobs[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
    }
    dmcp__accesslog_close(log);

    size_t len = 0;
    char *text = dmcp_test_read_file(path, &len);
    assert_non_null(text);
    int per_writer[WRITERS] = {0};
    size_t lines = 0;
    for (char *p = text; p < text + len;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        assert_non_null(nl);
        json_error_t jerr;
        json_t *j = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &jerr);
        if (j == NULL) {
            fail_msg("line %zu is not JSON: %.*s", lines, (int)(nl - p), p);
        }
        const char *u = str(j, "user_id");
        int w = u[0] - 'a';
        assert_true(w >= 0 && w < WRITERS);
        for (const char *c = u; *c != '\0'; c++) {
            assert_int_equal(*c, u[0]); /* no other writer's bytes inside */
        }
        per_writer[w]++;
        json_decref(j);
        lines++;
        p = nl + 1;
    }
    assert_int_equal(lines, WRITERS * LINES);
    for (int i = 0; i < WRITERS; i++) {
        assert_int_equal(per_writer[i], LINES);
    }
    free(text);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),           cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_hostile_user_ids), cmocka_unit_test(test_request_ids),
        cmocka_unit_test(test_levels_and_sink),  cmocka_unit_test(test_concurrent_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
