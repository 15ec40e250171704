/*
 * Fuzzes the scope error (construction + to_json) and the WWW-Authenticate builders with
 * arbitrary bytes, checking their output invariants: to_json is pure ASCII, challenges contain
 * only visible ASCII and spaces, and the quoted values never contain '"' or '\\'.
 * Input: fields separated by '\n'; the first byte picks how many are required scopes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmcp/dmcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIELDS 64

static void check_challenge(char *h)
{
    if (h == NULL) {
        return;
    }
    size_t quotes = 0;
    for (const char *p = h; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c > 0x7E || c == '\\') {
            abort();
        }
        quotes += c == '"';
    }
    if (quotes % 2 != 0 || strncmp(h, "Bearer", 6) != 0) {
        abort();
    }
    dmcp_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 65536) {
        return 0;
    }
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *f[MAX_FIELDS];
    size_t n = 0;
    char *s = buf;
    while (n < MAX_FIELDS) {
        f[n++] = s;
        char *nl = strchr(s, '\n');
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        s = nl + 1;
    }
    size_t n_req = n > 0 ? (size_t)data[0] % (n + 1) : 0;
    dmcp_scope_error *e = NULL;
    const char *desc = (data[0] & 0x80) ? f[0] : NULL;
    if (dmcp_scope_error_new(f, n_req, f + n_req, n - n_req, desc, &e) == DMCP_OK) {
        char *js = dmcp_scope_error_to_json(e);
        if (js == NULL) {
            abort();
        }
        for (const char *p = js; *p != '\0'; p++) {
            if ((unsigned char)*p > 0x7E) {
                abort(); /* ensure_ascii */
            }
        }
        dmcp_free(js);
        check_challenge(dmcp_challenge_insufficient_scope(dmcp_scope_error_description(e),
                                                          dmcp_scope_error_scope(e), NULL));
        dmcp_scope_error_free(e);
    }
    (void)dmcp_require_scopes(f, n, f, n_req, NULL, NULL, NULL);
    check_challenge(
        dmcp_challenge_build(n > 1 ? f[1] : NULL, f[0], n > 2 ? f[2] : NULL, n > 3 ? f[3] : NULL));
    check_challenge(dmcp_challenge_invalid_token(f[0], n > 1 ? f[1] : NULL, NULL));
    free(buf);
    return 0;
}
