/*
 * Fuzz target for the store URL parser (src/store/url.c, dmcp_store_open's grammar). Checks its
 * invariants: accepted redis URLs have a non-empty host of host characters, a port 1-65535, a
 * database 0-15; a refusal always says why, in a fixed text outside the input, and never
 * echoes the password (checked for passwords of 6 bytes or more: a shorter one, "s" say,
 * occurs by chance in any English message).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * DMCP_STORE_URL_MAX) {
        return 0;
    }
    dmcp__store_url u;
    const char *why = NULL;
    bool ok = dmcp__store_url_parse((const char *)data, size, &u, &why);
    if (ok) {
        if (!u.memory) {
            if (u.host[0] == '\0' || u.port == 0 || u.port > 65535 || u.db > 15 ||
                strlen(u.password) > 256 || size > DMCP_STORE_URL_MAX) {
                abort();
            }
        }
    } else if (why == NULL || why[0] == '\0' ||
               (why >= (const char *)data && why < (const char *)data + size) ||
               (strlen(u.password) >= 6 && strstr(why, u.password) != NULL)) {
        abort();
    }
    return 0;
}
