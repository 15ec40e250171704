/*
 * Fuzzes the gateway's configuration parser (src/gateway/config.c): any bytes that jansson
 * accepts as JSON go through gw_config_parse; an accepted configuration is then queried (tool
 * rules with globs) and freed. Nothing may crash, leak or hang; a planted secret header value
 * must never reach an error message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) {
        return 0;
    }
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (doc == NULL) {
        return 0;
    }
    gw_config *c = NULL;
    dmcp_error err;
    dmcp_status st = gw_config_parse(doc, &c, &err);
    if (st == DMCP_OK) {
        static const char *const names[] = {"echo", "rec__admin_echo", "", "a*b", "[x]"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            const char *const *scopes = NULL;
            size_t n = gw_config_tool_scopes(c, names[i], &scopes);
            for (size_t k = 0; k < n; k++) {
                if (scopes[k] == NULL || scopes[k][0] == '\0') {
                    abort();
                }
            }
        }
        if (c->n_ups == 0 || c->well_known_url == NULL) {
            abort(); /* accepted configurations are complete */
        }
        gw_config_free(c);
    } else if (st != DMCP_E_CONFIG || memchr(err.message, '\0', sizeof(err.message)) == NULL) {
        abort();
    }
    json_decref(doc);
    return 0;
}
