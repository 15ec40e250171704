/* Helpers shared by the unit tests. */
#ifndef DMCP_TESTUTIL_H
#define DMCP_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Exit code that ctest reports as "skipped" (SKIP_RETURN_CODE). */
#define DMCP_TEST_SKIP 77

/* The public vectors folder (DMCP_VECTORS_DIR), or NULL when it does not exist. */
const char *dmcp_test_vectors_dir(void);

/* Reads a whole file; NULL on error. Caller frees. */
char *dmcp_test_read_file(const char *path, size_t *len);

/* Hex string to bytes; returns a malloc'd buffer (non-NULL even for "") and sets *len. */
unsigned char *dmcp_test_unhex(const char *hex, size_t *len);

#endif
