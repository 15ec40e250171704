/* The Authorization header parser (mcp-resource-server.md §3 step 2; RFC 6750 §2.1). */
#include <stdbool.h>
#include <string.h>

#include "glue/glue_internal.h"
#include "internal.h"

/*
 * Character classes by table: the parser runs on every request over a ~1 KiB token, and the
 * strchr()/range tests cost ~8k instructions per request (callgrind, bench/http/run.sh).
 * CC_TCHAR: RFC 9110 §5.6.2 tchar (auth-scheme). CC_B64: RFC 6750 §2.1 b64token characters
 * before the trailing "="s: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/".
 * tests/unit/test_protect.c checks the table against these definitions for all 256 bytes.
 */
enum { CC_TCHAR = 1, CC_B64 = 2 };
static const unsigned char CC[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 3, 0, 3, 3, 2,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0,
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 1, 3,
    1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 1, 0, 3, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static bool is_tchar(unsigned char c)
{
    return (CC[c] & CC_TCHAR) != 0;
}

static bool is_b64token_char(unsigned char c)
{
    return (CC[c] & CC_B64) != 0;
}

dmcp__bearer dmcp__bearer_parse(const char *value, size_t len, const char **token,
                                size_t *token_len)
{
    *token = NULL;
    *token_len = 0;
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)value[i])) {
        i++;
    }
    if (i == 0) {
        return DMCP__BEARER_MALFORMED;
    }
    /* RFC 9110 §11.1: auth-scheme is case-insensitive. */
    if (i != 6 || dmcp__ascii_ncasecmp(value, "Bearer", 6) != 0) {
        /* Another scheme, well formed as far as we care: treated as no credential (§5 row 4),
         * so the client learns the Bearer challenge. */
        return (i == len || value[i] == ' ') ? DMCP__BEARER_OTHER_SCHEME : DMCP__BEARER_MALFORMED;
    }
    /* Exactly one SP, then the b64token and nothing else (§5 row 5: "Bearer", "Bearer a b"). */
    if (i == len || value[i] != ' ') {
        return DMCP__BEARER_MALFORMED;
    }
    size_t start = ++i;
    /* Eight bytes per step while all are b64token characters (one branch per step: this
     * loop runs over the whole ~1 KiB token on every request), then byte by byte. */
    const unsigned char *u = (const unsigned char *)value;
    while (len - i >= 8 && (CC[u[i]] & CC[u[i + 1]] & CC[u[i + 2]] & CC[u[i + 3]] &
                            CC[u[i + 4]] & CC[u[i + 5]] & CC[u[i + 6]] & CC[u[i + 7]] & CC_B64)) {
        i += 8;
    }
    while (i < len && is_b64token_char(u[i])) {
        i++;
    }
    if (i == start) {
        return DMCP__BEARER_MALFORMED;
    }
    while (i < len && value[i] == '=') {
        i++;
    }
    if (i != len) {
        return DMCP__BEARER_MALFORMED;
    }
    /* A parser bound; the validator applies its own configured cap (16 KiB by default). */
    if (len - start > DMCP_MAX_TOKEN_BYTES_LIMIT) {
        return DMCP__BEARER_TOO_LARGE;
    }
    *token = value + start;
    *token_len = len - start;
    return DMCP__BEARER_OK;
}
