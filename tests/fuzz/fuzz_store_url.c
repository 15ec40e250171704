/*
 * Fuzz target for the store URL parser (src/store/url.c, dmcp_store_open's grammar). Checks its
 * invariants: accepted redis URLs have a non-empty host of host characters, a port 1-65535, a
 * database 0-15; a refusal always says why and never echoes the password.
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
    } else if (why == NULL || why[0] == '\0' || (u.password[0] != '\0' && strstr(why, u.password))) {
        abort();
    }
    return 0;
}
