/* Helpers shared by the store implementations (memory.c, redis.c) and their callers. */
#include <stdio.h>
#include <stdlib.h>

#include "store/store_impl.h"

bool dmcp__store_key(const dmcp_store *st, const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%s", st->prefix, name);
    return n > 0 && (size_t)n < cap;
}

void dmcp__store_items_free(char **items, size_t *lens, size_t n)
{
    for (size_t i = 0; items != NULL && i < n; i++) {
        free(items[i]);
    }
    free(items);
    free(lens);
}
