/*
 * Differential fuzz target for the one-pass compact writer (src/common/jsoncompact.c): for any
 * JSON text jansson accepts (duplicate keys refused, as the validator's grammar does), what
 * the writer produces must be byte for byte json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
 * when it declines, it must leave the output as it was. A mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsoncompact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) {
        return 0;
    }
    json_t *v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (v == NULL) {
        return 0; /* outside the writer's precondition */
    }
    char *ref = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    dmcp__buf b;
    dmcp__buf_init(&b, 4 * size + 4096);
    dmcp__buf_append(&b, "x", 1); /* what was there before must stay */
    bool ok = dmcp__json_compact(data, size, &b);
    if (ref != NULL && ok &&
        (b.len != strlen(ref) + 1 || memcmp(b.data + 1, ref, b.len - 1) != 0)) {
        abort();
    }
    if (!ok && b.len != 1) {
        abort();
    }
    free(ref);
    dmcp__buf_free(&b);
    return 0;
}
