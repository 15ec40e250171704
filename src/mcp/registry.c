/*
 * The generic name registry and cursor pagination shared by resources, templates and prompts
 * (MCP 2025-11-25 Server › Utilities › Pagination: opaque cursors, here a family letter and
 * an offset).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

dmcp_status dmcp__reg_add(dmcp__reg *reg, const char *key, void *item)
{
    if (reg->index == NULL) {
        reg->index = json_object();
        if (reg->index == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    if (json_object_get(reg->index, key) != NULL) {
        return DMCP_E_INVALID_ARG;
    }
    if (reg->count == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 8;
        void **ni = realloc(reg->items, cap * sizeof(*ni));
        if (ni == NULL) {
            return DMCP_E_NOMEM;
        }
        reg->items = ni;
        reg->cap = cap;
    }
    if (json_object_set_new(reg->index, key, json_integer((json_int_t)reg->count)) != 0) {
        return DMCP_E_NOMEM;
    }
    reg->items[reg->count++] = item;
    return DMCP_OK;
}

void *dmcp__reg_find(const dmcp__reg *reg, const char *key)
{
    if (key == NULL || reg->index == NULL) {
        return NULL;
    }
    const json_t *i = json_object_get(reg->index, key);
    return json_is_integer(i) ? reg->items[json_integer_value(i)] : NULL;
}

void dmcp__reg_free(dmcp__reg *reg)
{
    free(reg->items);
    json_decref(reg->index);
    memset(reg, 0, sizeof(*reg));
}

bool dmcp__page(const json_t *params, char prefix, size_t count, size_t page_size, size_t *off,
                size_t *end, int *code, const char **message)
{
    *off = 0;
    const json_t *cursor = params != NULL ? json_object_get(params, "cursor") : NULL;
    if (cursor != NULL && !json_is_null(cursor)) {
        const char *c = json_string_value(cursor);
        size_t v = 0;
        bool ok = c != NULL && c[0] == prefix && c[1] != '\0' && strlen(c) <= 12;
        for (const char *p = ok ? c + 1 : ""; ok && *p != '\0'; p++) {
            ok = *p >= '0' && *p <= '9';
            v = v * 10 + (size_t)(*p - '0');
        }
        /* A cursor we did not hand out (or past the end) is -32602 (Pagination §"Errors"). */
        if (!ok || v == 0 || v >= count) {
            *code = DMCP_JSONRPC_INVALID_PARAMS;
            *message = "Invalid cursor";
            return false;
        }
        *off = v;
    }
    *end = *off + page_size < count ? *off + page_size : count;
    return true;
}

void dmcp__set_next_cursor(json_t *res, char prefix, size_t end, size_t count)
{
    if (end < count) {
        char c[32];
        snprintf(c, sizeof(c), "%c%zu", prefix, end);
        json_object_set_new(res, "nextCursor", json_string(c));
    }
}
