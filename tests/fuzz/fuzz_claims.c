/* Payload parsing and the claim rules on arbitrary bytes (as after a valid signature). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/validator_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) {
        return 0;
    }
    dmcp__jl_doc d;
    if (dmcp__jl_parse(data, size, &d) != DMCP__JL_OK) {
        return 0;
    }
    static char *const extra[] = {"https://b.example"};
    static char *const auds[] = {"https://mcp.example.com/mcp", "P2abc"};
    dmcp__issuer_rules ir = {"https://a.example",       extra,   1,
                             "https://api.descope.com", "P2abc", true};
    dmcp__claims_policy pol = {5, &ir, true, auds, 2};
    dmcp__claims c;
    int64_t now = 1700000000;
    if (size > 0) {
        now += (int64_t)(data[0] % 16) - 8;
    }
    dmcp_error err;
    if (dmcp__claims_check(&pol, &d, now, &c, &err) == DMCP_OK) {
        /* Invariants of an accepted claims set. */
        if (now >= c.reject_at || now < c.valid_from || c.iss == NULL) {
            abort();
        }
        dmcp_token *t = NULL;
        if (dmcp__token_build("x.y.z", 5, data, size, &d, &c, &t, &err) == DMCP_OK) {
            size_t n;
            const char *const *sc = dmcp_token_scopes(t, &n);
            for (size_t i = 0; i < n; i++) {
                if (sc[i][0] == '\0' || strchr(sc[i], ' ') != NULL) {
                    abort();
                }
            }
            if (n > DMCP_MAX_SCOPES) {
                abort();
            }
            /* An accepted payload always yields its claims object (NULL: out of memory only). */
            if (!json_is_object(dmcp_token_claims(t))) {
                abort();
            }
            (void)dmcp_token_user_id(t);
            dmcp_token_free(t);
        }
        return 0;
    }
    if (err.status != DMCP_E_INVALID_TOKEN) {
        abort();
    }
    dmcp__jl_free(&d);
    return 0;
}
