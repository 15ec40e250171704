/*
 * Differential fuzz target for the compact JSON writer (src/mcp/jsonrpc.c dmcp__json_dump):
 * any JSON text jansson accepts (NUL escapes allowed) must serialise byte for byte as
 * json_dumps(v, JSON_COMPACT) does; a mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) {
        return 0;
    }
    json_error_t jerr;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL) {
        return 0;
    }
    size_t len = 0;
    char *mine = dmcp__json_dump(v, &len);
    char *ref = json_dumps(v, JSON_COMPACT);
    if ((mine == NULL) != (ref == NULL) ||
        (mine != NULL && (len != strlen(ref) || memcmp(mine, ref, len) != 0))) {
        abort();
    }
    free(mine);
    free(ref);
    json_decref(v);
    return 0;
}
