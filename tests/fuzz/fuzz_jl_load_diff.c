/*
 * Differential fuzzing of dmcp__jl_load (src/auth/jsonlite.c, used for every MCP request body)
 * against jansson's json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY): both must accept
 * the same inputs and build equal values, member order included (compared as compact dumps).
 * The documented differences are skipped: input with a NUL byte, and nesting deeper than
 * DMCP__JL_MAX_DEPTH (where jl_load must refuse).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t max_depth(const uint8_t *d, size_t n)
{
    size_t depth = 0, max = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = d[i];
        if (in_str) {
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            depth++;
            max = depth > max ? depth : max;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536 || memchr(data, 0, size) != NULL) {
        return 0;
    }
    json_t *mine = NULL;
    dmcp__jl_error e = dmcp__jl_load(data, size, &mine);
    if (max_depth(data, size) > DMCP__JL_MAX_DEPTH) {
        if (e == DMCP__JL_OK) {
            abort();
        }
        return 0;
    }
    json_error_t jerr;
    json_t *ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                             &jerr);
    if ((mine == NULL) != (ref == NULL) || (e == DMCP__JL_OK) != (mine != NULL)) {
        abort();
    }
    if (mine != NULL) {
        char *a = json_dumps(mine, JSON_COMPACT | JSON_ENCODE_ANY);
        char *b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
        if (a == NULL || b == NULL || strcmp(a, b) != 0 || !json_equal(mine, ref)) {
            abort();
        }
        free(a);
        free(b);
    }
    json_decref(mine);
    json_decref(ref);
    return 0;
}
