/*
 * Fuzzes what the Connections client parses from Descope (wire protocol §5.3-5.4):
 * the first byte picks the parser, the rest is the reply.
 *   0: a 2xx token reply -> token object (every accessor is read)
 *   1: a non-2xx error reply (next byte picks the HTTP status) -> dmcp_error; a planted secret
 *      must never reach the error fields
 *   2: an accessTokenExpiry value (any JSON) and the same bytes as an RFC 3339 string
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "descope/descope_internal.h"

#define PLANTED "SECRET-fuzz-credential"

static void check_no_secret(const char *s)
{
    if (strstr(s, PLANTED) != NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 128 * 1024) {
        return 0;
    }
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: {
        dmcp_connection_token *t = NULL;
        dmcp_error err;
        dmcp_status st = dmcp__connection_token_parse(body, len, &t, &err);
        if (st == DMCP_OK) {
            const char *at = dmcp_connection_token_access_token(t);
            if (at == NULL || at[0] == '\0') {
                abort(); /* success always carries an access token */
            }
            size_t n = 0;
            const char *const *sc = dmcp_connection_token_scopes(t, &n);
            for (size_t i = 0; i < n; i++) {
                if (sc[i] == NULL) {
                    abort();
                }
            }
            if (sc[n] != NULL || n > DMCP_MAX_SCOPES) {
                abort();
            }
            int64_t e = dmcp_connection_token_expiry(t);
            if (e < 0 || e > DMCP__EXPIRY_MAX) {
                abort();
            }
            (void)dmcp_connection_token_type(t);
            (void)dmcp_connection_token_refresh_token(t);
            (void)dmcp_connection_token_last_refresh_time(t);
            (void)dmcp_connection_token_json(t);
        } else if (t != NULL) {
            abort(); /* failure never hands back an object */
        }
        dmcp_connection_token_free(t);
        break;
    }
    case 1: {
        static const long statuses[] = {400, 401, 403, 404, 409, 429, 500, 502, 503, 530};
        long status = len > 0 ? statuses[(uint8_t)body[0] % 10] : 500;
        const char *const secrets[] = {PLANTED, NULL};
        dmcp_error err;
        const char *eb = len > 0 ? body + 1 : body;
        size_t el = len > 0 ? len - 1 : 0;
        dmcp_status st = dmcp__descope_map_error(status, eb, el, 3, secrets, &err);
        if (st == DMCP_OK || err.status != st) {
            abort();
        }
        check_no_secret(err.message);
        check_no_secret(err.code);
        check_no_secret(err.description);
        check_no_secret(err.upstream_message);
        for (const char *p = err.upstream_message; *p != '\0'; p++) {
            if ((unsigned char)*p < 0x20) {
                abort(); /* control bytes are neutralised */
            }
        }
        break;
    }
    default: {
        json_error_t je;
        json_t *v = json_loadb(body, len, JSON_DECODE_ANY, &je);
        int64_t e = dmcp_connection_parse_expiry(v);
        json_decref(v);
        int64_t r = dmcp__parse_rfc3339(body, len);
        if (e < 0 || e > DMCP__EXPIRY_MAX || r < 0 || r > DMCP__EXPIRY_MAX) {
            abort();
        }
        break;
    }
    }
    return 0;
}
