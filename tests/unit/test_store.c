/*
 * The state store (issue 10): the URL grammar of dmcp_store_open (accepted forms, every
 * refusal, the password never in an error), the prefix rules, and the in-process store's
 * key/value, expiry, NX and same-process publish.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dmcp/dmcp.h"
#include "store/store.h"

static void test_url_accepts(void **state)
{
    (void)state;
    dmcp__store_url u;
    const char *why;
    assert_true(dmcp__store_url_parse("memory:", 7, &u, &why) && u.memory);
    assert_true(dmcp__store_url_parse(NULL, 0, &u, &why) && u.memory);
    const char *a = "redis://127.0.0.1:6379";
    assert_true(dmcp__store_url_parse(a, strlen(a), &u, &why));
    assert_false(u.memory);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.password, "");
    const char *b = "redis://:p@ss@redis.internal:6380/15";
    assert_true(dmcp__store_url_parse(b, strlen(b), &u, &why));
    assert_string_equal(u.password, "p@ss");
    assert_string_equal(u.host, "redis.internal");
    assert_int_equal(u.db, 15);
    const char *c = "redis://[::1]:7000/";
    assert_true(dmcp__store_url_parse(c, strlen(c), &u, &why));
    assert_string_equal(u.host, "::1");
}

static void test_url_refuses(void **state)
{
    (void)state;
    static const char *bad[] = {"",
                                "redis://",
                                "redis://h",
                                "redis://h:",
                                "redis://h:0",
                                "redis://h:65536",
                                "redis://h:1/16",
                                "redis://h:1/x",
                                "redis://h:1?db=1",
                                "redis://h:1#f",
                                "redis://user:pw@h:1",
                                "redis://:@h:1",
                                "redis://[::1:1",
                                "rediss://h:1",
                                "http://h:1",
                                "memory:x",
                                "redis://h h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dmcp__store_url u;
        const char *why = NULL;
        assert_false(dmcp__store_url_parse(bad[i], strlen(bad[i]), &u, &why));
        assert_non_null(why);
    }
    /* The public entry point: a clear message, never the password. */
    dmcp_store *st = NULL;
    dmcp_error err = {0};
    assert_int_equal(dmcp_store_open("redis://:hunter2secret@h", &st, &err), DMCP_E_INVALID_ARG);
    assert_null(st);
    assert_true(err.message[0] != '\0');
    assert_null(strstr(err.message, "hunter2secret"));
    char big[DMCP_STORE_URL_MAX + 10];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(dmcp_store_open(big, &st, &err), DMCP_E_TOO_LARGE);
}

static void test_prefix(void **state)
{
    (void)state;
    dmcp_store *st = NULL;
    assert_int_equal(dmcp_store_open("memory:", &st, NULL), DMCP_OK);
    assert_int_equal(dmcp_store_set_prefix(st, "app-1:"), DMCP_OK);
    assert_int_equal(dmcp_store_set_prefix(st, ""), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_store_set_prefix(st, "a b"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_store_set_prefix(st, "a\r\nb"), DMCP_E_INVALID_ARG);
    dmcp_store_free(st);
}

static int got;
static char last[64];
static void on_msg(void *ud, const char *msg, size_t len)
{
    (void)ud;
    got++;
    snprintf(last, sizeof(last), "%.*s", (int)len, msg);
}

static void test_memory_store(void **state)
{
    (void)state;
    dmcp_store *st = NULL;
    assert_int_equal(dmcp_store_open(NULL, &st, NULL), DMCP_OK);
    assert_false(dmcp__store_shared(st));
    assert_true(dmcp__store_up(st));
    char *v = NULL;
    size_t n = 0;
    assert_int_equal(dmcp__store_get(st, "k", &v, &n), DMCP_E_NOT_FOUND);
    assert_int_equal(dmcp__store_set(st, "k", "one", 3, 0, false), DMCP_OK);
    assert_int_equal(dmcp__store_set(st, "k", "two", 3, 0, true), DMCP_E_STATE); /* NX */
    assert_int_equal(dmcp__store_get(st, "k", &v, &n), DMCP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(v, "one");
    free(v);
    assert_int_equal(dmcp__store_expire(st, "k", 100), DMCP_OK);
    assert_int_equal(dmcp__store_expire(st, "nope", 100), DMCP_E_NOT_FOUND);
    assert_int_equal(dmcp__store_del(st, "k"), DMCP_OK);
    assert_int_equal(dmcp__store_get(st, "k", &v, &n), DMCP_E_NOT_FOUND);
    dmcp__store_listener l = {on_msg, NULL, NULL};
    assert_int_equal(dmcp__store_listen(st, "inv", &l), DMCP_OK);
    assert_int_equal(dmcp__store_publish(st, "other", "x", 1), DMCP_OK);
    assert_int_equal(got, 0);
    assert_int_equal(dmcp__store_publish(st, "inv", "d abc", 5), DMCP_OK);
    assert_int_equal(got, 1);
    assert_string_equal(last, "d abc");
    dmcp_store_free(st);
}

static void test_redis_open_does_not_connect(void **state)
{
    (void)state;
    /* Opening never connects (a server may start while Redis is down); a command then fails
     * fast as unreachable instead of hanging. Port 1 on loopback refuses at once. */
    dmcp_store *st = NULL;
    assert_int_equal(dmcp_store_open("redis://127.0.0.1:1", &st, NULL), DMCP_OK);
    assert_true(dmcp__store_shared(st));
    char *v = NULL;
    size_t n = 0;
    assert_int_equal(dmcp__store_get(st, "k", &v, &n), DMCP_E_UNREACHABLE);
    assert_false(dmcp__store_up(st));
    dmcp_store_free(st);
}

/* dmcp_store_open_flags: the --store / --store-prefix / DMCP_STORE_URL contract. */
static void test_open_flags(void **state)
{
    (void)state;
    dmcp_store *st = (dmcp_store *)1;
    dmcp_error e = {0};
    unsetenv("DMCP_STORE_URL");
    assert_int_equal(dmcp_store_open_flags(NULL, NULL, &st, &e), DMCP_OK);
    assert_null(st); /* nothing asked: the in-process default stays */
    assert_int_equal(dmcp_store_open_flags("", "p:", &st, &e), DMCP_E_INVALID_ARG);
    assert_null(st);
    assert_non_null(strstr(e.message, "--store-prefix needs --store"));
    setenv("DMCP_STORE_URL", "memory:", 1);
    assert_int_equal(dmcp_store_open_flags(NULL, "p:", &st, &e), DMCP_OK);
    assert_non_null(st);
    dmcp_store_free(st);
    assert_int_equal(dmcp_store_open_flags(NULL, "bad prefix", &st, &e), DMCP_E_INVALID_ARG);
    assert_null(st);
    assert_non_null(strstr(e.message, "--store-prefix"));
    unsetenv("DMCP_STORE_URL");
    assert_int_equal(dmcp_store_open_flags("redis://:hunter2secret@h", NULL, &st, &e),
                     DMCP_E_INVALID_ARG);
    assert_null(st);
    assert_non_null(strstr(e.message, "--store: "));
    assert_null(strstr(e.message, "hunter2secret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_accepts),
        cmocka_unit_test(test_url_refuses),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_open_flags),
        cmocka_unit_test(test_memory_store),
        cmocka_unit_test(test_redis_open_does_not_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
