/* The Authorization header parser (mcp-resource-server.md §3 step 2; RFC 6750 §2.1). */
#include <stdbool.h>
#include <string.h>

#include "glue/glue_internal.h"
#include "internal.h"

/* RFC 9110 §5.6.2 tchar: the characters of an auth-scheme. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 6750 §2.1 b64token characters, before the trailing "="s. */
static bool is_b64token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
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
    while (i < len && is_b64token_char((unsigned char)value[i])) {
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

