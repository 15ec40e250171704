/*
 * WWW-Authenticate challenges for a protected resource (RFC 6750 §3, RFC 9728 §5.1,
 * mcp-resource-server.md §4-5).
 *
 * Every value is quoted and restricted to the characters its ABNF allows, so no caller input
 * can break out of a quoted-string or inject a header (peer SDKs got this wrong, §8).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "url.h"

#include "dmcp/auth.h"

/* RFC 6750 §3 does not cap error_description; 256 bytes keeps headers small (§4). */
#define CHALLENGE_DESCRIPTION_MAX 256

/* RFC 6749 Appendix A.7 / A.8: error and error_description characters. */
static bool is_nqschar(unsigned char c)
{
    return c == 0x20 || c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
static bool is_scope_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

/* scope = scope-token *( SP scope-token ): no leading, trailing or double spaces. */
static bool scope_valid(const char *s)
{
    size_t len = strnlen(s, DMCP_MAX_HEADER_BYTES + 1);
    bool prev_sp = true;
    if (len == 0 || len > DMCP_MAX_HEADER_BYTES) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ') {
            if (prev_sp) {
                return false;
            }
            prev_sp = true;
        } else if (is_scope_char(c)) {
            prev_sp = false;
        } else {
            return false;
        }
    }
    return !prev_sp;
}

static bool error_code_valid(const char *s)
{
    size_t len = strnlen(s, 65);
    if (len == 0 || len > 64) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_nqschar((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/* An absolute http(s) URL (https unless loopback) that needs no escaping inside quotes. */
static bool metadata_url_valid(const char *s)
{
    size_t len = strnlen(s, DMCP_MAX_URL_BYTES + 1);
    if (len == 0 || len > DMCP_MAX_URL_BYTES) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F || c == '"' || c == '\\') {
            return false;
        }
    }
    return dmcp__url_check(s, true, NULL, NULL) == DMCP_OK;
}

/*
 * Reduces free text to what error_description allows. Decision (documented in docs/auth.md):
 * characters are replaced, never silently dropped, so the reader sees that something was
 * there: '"' becomes '\'', '\\' becomes '/', any control character (TAB, CR, LF, DEL, ...)
 * becomes SP, and every non-ASCII character becomes one '?' (the lead byte of a UTF-8
 * sequence gives the '?', its continuation bytes are skipped). The result is then cut at 256
 * bytes. Returns the length written to out (which holds CHALLENGE_DESCRIPTION_MAX + 1).
 */
static size_t sanitize_description(const char *in, char *out)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; u[i] != '\0' && o < CHALLENGE_DESCRIPTION_MAX; i++) {
        unsigned char c = u[i];
        char r;
        if (c == '"') {
            r = '\'';
        } else if (c == '\\') {
            r = '/';
        } else if (c < 0x20 || c == 0x7F) {
            r = ' ';
        } else if (c >= 0x80) {
            if ((c & 0xC0u) == 0x80u) {
                continue; /* continuation byte of a character already replaced */
            }
            r = '?';
        } else {
            r = (char)c;
        }
        out[o++] = r;
    }
    out[o] = '\0';
    return o;
}

static dmcp_status add_pair(dmcp__buf *b, bool *first, const char *name, const char *value)
{
    dmcp_status st = dmcp__buf_appends(b, *first ? " " : ", ");
    *first = false;
    if (st == DMCP_OK) {
        st = dmcp__buf_printf(b, "%s=\"%s\"", name, value);
    }
    return st;
}

char *dmcp_challenge_build(const char *error, const char *description, const char *scope,
                           const char *resource_metadata)
{
    char desc[CHALLENGE_DESCRIPTION_MAX + 1];
    bool first = true;
    dmcp__buf b;
    dmcp_status st;

    if (error != NULL && !error_code_valid(error)) {
        return NULL;
    }
    /* An empty scope or URL means "none": the pair is left out, as for NULL. */
    if (scope != NULL && scope[0] == '\0') {
        scope = NULL;
    }
    if (resource_metadata != NULL && resource_metadata[0] == '\0') {
        resource_metadata = NULL;
    }
    if (scope != NULL && !scope_valid(scope)) {
        return NULL;
    }
    if (resource_metadata != NULL && !metadata_url_valid(resource_metadata)) {
        return NULL;
    }
    desc[0] = '\0';
    if (description != NULL) {
        sanitize_description(description, desc);
    }

    dmcp__buf_init(&b, DMCP_MAX_HEADER_BYTES + DMCP_MAX_URL_BYTES + 512);
    st = dmcp__buf_appends(&b, "Bearer");
    /* Fixed order: error, error_description, scope, resource_metadata (§4). */
    if (st == DMCP_OK && error != NULL) {
        st = add_pair(&b, &first, "error", error);
    }
    /* RFC 6749 A.8: error-description is 1*(...): an empty one is left out. */
    if (st == DMCP_OK && desc[0] != '\0') {
        st = add_pair(&b, &first, "error_description", desc);
    }
    if (st == DMCP_OK && scope != NULL) {
        st = add_pair(&b, &first, "scope", scope);
    }
    if (st == DMCP_OK && resource_metadata != NULL) {
        st = add_pair(&b, &first, "resource_metadata", resource_metadata);
    }
    if (st != DMCP_OK) {
        dmcp__buf_free(&b);
        return NULL;
    }
    return dmcp__buf_take(&b, NULL);
}

char *dmcp_challenge_no_token(const char *scope, const char *resource_metadata)
{
    /* RFC 6750 §3.1: no error code when the request carried no credentials. */
    return dmcp_challenge_build(NULL, NULL, scope, resource_metadata);
}

char *dmcp_challenge_invalid_token(const char *description, const char *scope,
                                   const char *resource_metadata)
{
    return dmcp_challenge_build("invalid_token",
                                description != NULL ? description
                                                    : dmcp_reason_description(DMCP_REASON_NONE),
                                scope, resource_metadata);
}

char *dmcp_challenge_insufficient_scope(const char *description, const char *scope,
                                        const char *resource_metadata)
{
    return dmcp_challenge_build("insufficient_scope", description, scope, resource_metadata);
}

char *dmcp_challenge_invalid_request(const char *description, const char *resource_metadata)
{
    return dmcp_challenge_build("invalid_request", description, NULL, resource_metadata);
}

const char *dmcp_reason_description(dmcp_reason reason)
{
    /* mcp-resource-server.md §5 rows 6-8. The texts never say more than this: which check
     * failed beyond these classes is for logs, not for the client. */
    switch (reason) {
    case DMCP_REASON_EXPIRED:
        return "Token expired";
    case DMCP_REASON_ISSUER:
    case DMCP_REASON_AUDIENCE:
        return "Token not issued for this resource";
    case DMCP_REASON_NOT_YET_VALID:
        return "Token not yet valid";
    case DMCP_REASON_NONE:
    case DMCP_REASON_MALFORMED:
    case DMCP_REASON_TOO_LARGE:
    case DMCP_REASON_ALGORITHM:
    case DMCP_REASON_HEADER:
    case DMCP_REASON_UNKNOWN_KEY:
    case DMCP_REASON_SIGNATURE:
    case DMCP_REASON_CLAIM:
    default:
        return "Invalid token";
    }
}
