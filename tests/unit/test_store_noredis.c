/*
 * hiredis is loaded at run time (src/store/hiredis_dl.c). When it cannot be loaded, opening a
 * redis:// store fails with DMCP_E_CONFIG and a message that names the library and says what
 * to install, nothing crashes, the outcome stays the same on a second try, and the in-process
 * store works as before. (This process never loads the real hiredis: the soname is pointed at
 * one that does not exist before the first load.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "dmcp/dmcp.h"

/* src/store/hiredis_dl.h (not included: it needs hiredis's own header path). */
void dmcp__hiredis_set_soname(const char *soname);

#define MISSING "libdmcp-test-no-such-hiredis.so.0"

static void test_missing_library(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        dmcp_store *st = NULL;
        dmcp_error err;
        memset(&err, 0, sizeof(err));
        dmcp_status s = dmcp_store_open("redis://:secret-pass@127.0.0.1:6379/0", &st, &err);
        assert_int_equal(s, DMCP_E_CONFIG);
        assert_null(st);
        assert_non_null(strstr(err.message, MISSING));
        assert_non_null(strstr(err.message, "apt install"));
        assert_null(strstr(err.message, "secret-pass"));
    }
}

static void test_memory_store_unaffected(void **state)
{
    (void)state;
    dmcp_store *st = NULL;
    dmcp_error err;
    assert_int_equal(dmcp_store_open("memory:", &st, &err), DMCP_OK);
    assert_non_null(st);
    dmcp_store_free(st);
}

int main(void)
{
    dmcp__hiredis_set_soname(MISSING);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_library),
        cmocka_unit_test(test_memory_store_unaffected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
