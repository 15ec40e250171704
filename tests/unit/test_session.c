/* Session table: CSPRNG ids, lookup, end, expiry, limits, in-flight cancellation. */
#include "mcp_test.h"

static void test_ids(void **state)
{
    (void)state;
    dmcp__session_table *t;
    assert_int_equal(dmcp__sessions_new(100, 0, &t), DMCP_OK);
    dmcp__session *a, *b;
    assert_int_equal(dmcp__sessions_create(t, "bind-a", &a), DMCP_OK);
    assert_int_equal(dmcp__sessions_create(t, NULL, &b), DMCP_OK);
    /* >= 128 bits, visible ASCII only (Transports §2.5), distinct. */
    assert_int_equal(strlen(a->id), DMCP__SESSION_ID_LEN);
    assert_true(DMCP__SESSION_ID_BYTES * 8 >= 128);
    for (const char *p = a->id; *p != '\0'; p++) {
        assert_true(*p >= 0x21 && *p <= 0x7E);
    }
    assert_string_not_equal(a->id, b->id);
    assert_string_equal(a->binding, "bind-a");
    assert_null(b->binding);
    assert_int_equal(dmcp__sessions_count(t), 2);

    dmcp__session *f = dmcp__sessions_find(t, a->id);
    assert_ptr_equal(f, a);
    dmcp__session_unref(f);
    /* Wrong length, unknown, empty, NULL. */
    char other[DMCP__SESSION_ID_LEN + 1];
    memcpy(other, a->id, sizeof(other));
    other[0] = other[0] == 'a' ? 'b' : 'a';
    assert_null(dmcp__sessions_find(t, other));
    assert_null(dmcp__sessions_find(t, "abc"));
    assert_null(dmcp__sessions_find(t, ""));
    assert_null(dmcp__sessions_find(t, NULL));

    /* Ended sessions are gone for good. */
    dmcp__sessions_end(t, a);
    assert_null(dmcp__sessions_find(t, a->id));
    assert_int_equal(dmcp__sessions_count(t), 1);
    dmcp__session_unref(a);
    dmcp__session_unref(b);
    dmcp__sessions_free(t);
}

static void test_limit_and_expiry(void **state)
{
    (void)state;
    dmcp__session_table *t;
    assert_int_equal(dmcp__sessions_new(2, 0, &t), DMCP_OK);
    dmcp__session *a, *b, *c;
    assert_int_equal(dmcp__sessions_create(t, NULL, &a), DMCP_OK);
    assert_int_equal(dmcp__sessions_create(t, NULL, &b), DMCP_OK);
    assert_int_equal(dmcp__sessions_create(t, NULL, &c), DMCP_E_TOO_LARGE);
    assert_null(c);
    char aid[DMCP__SESSION_ID_LEN + 1], bid[DMCP__SESSION_ID_LEN + 1];
    strcpy(aid, a->id);
    strcpy(bid, b->id);
    a->last_used -= 100;
    b->last_used -= 100;
    /* b is still referenced (work in flight): only a expires. */
    dmcp__session_unref(a);
    dmcp__sessions_expire(t, time(NULL), 50);
    dmcp__session *f = dmcp__sessions_find(t, aid);
    assert_null(f);
    f = dmcp__sessions_find(t, bid);
    assert_non_null(f);
    dmcp__session_unref(f);
    /* idle 0 = never. */
    dmcp__session_unref(b);
    dmcp__sessions_expire(t, time(NULL) + 100000, 0);
    assert_int_equal(dmcp__sessions_count(t), 1);
    dmcp__sessions_free(t);
}

static void test_inflight_cancel(void **state)
{
    (void)state;
    dmcp__session *s = dmcp__session_new_local();
    atomic_bool f1, f2;
    atomic_init(&f1, false);
    atomic_init(&f2, false);
    json_t *sid = json_string("1"), *iid = json_integer(1);
    assert_int_equal(dmcp__session_track(s, sid, &f1), DMCP_OK);
    assert_int_equal(dmcp__session_track(s, iid, &f2), DMCP_OK);
    /* "1" and 1 are different requests. */
    assert_true(dmcp__session_cancel(s, iid));
    assert_false(atomic_load(&f1));
    assert_true(atomic_load(&f2));
    dmcp__session_untrack(s, sid, &f1);
    assert_false(dmcp__session_cancel(s, sid)); /* finished: ignored */
    assert_false(atomic_load(&f1));
    dmcp__session_untrack(s, iid, &f2);
    json_decref(sid);
    json_decref(iid);
    dmcp__session_unref(s);
}

static void test_random_hex(void **state)
{
    (void)state;
    char a[65], b[65];
    assert_int_equal(dmcp__random_hex(a, 32), DMCP_OK);
    assert_int_equal(dmcp__random_hex(b, 32), DMCP_OK);
    assert_int_equal(strlen(a), 64);
    assert_string_not_equal(a, b);
    assert_int_equal(dmcp__random_hex(a, 65), DMCP_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_limit_and_expiry),
        cmocka_unit_test(test_inflight_cancel),
        cmocka_unit_test(test_random_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
