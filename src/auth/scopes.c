/*
 * Scope checks and the insufficient-scope error (descope-wire-protocol.md §6).
 *
 * The JSON form must be byte-for-byte what descope-mcp's InsufficientScopeError.to_json()
 * gives, i.e. Python's json.dumps(obj, indent=2) with its default ensure_ascii=True. jansson
 * writes uppercase \u escapes, so the body is serialised here by hand (a measured requirement:
 * exact bytes, see tests/scopes/).
 */
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "internal.h"

/* Largest caller-supplied error_description accepted (bytes). */
#define SCOPE_DESCRIPTION_MAX DMCP_MAX_HEADER_BYTES
/* Upper bound of a serialised body: every input is capped, so this is never reached. */
#define SCOPE_JSON_MAX (8u * 1024u * 1024u)

struct dmcp_scope_error {
    char **required; /* as passed, duplicates included */
    size_t n_required;
    char **token; /* as passed, duplicates included */
    size_t n_token;
    const char **missing; /* borrowed from required */
    size_t n_missing;
    const char **combined; /* borrowed from required/token */
    size_t n_combined;
    char *scope;
    char *description;
};

/*
 * Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. Scope strings
 * end up in JSON and headers; accepting ill-formed bytes would make the escaping ambiguous.
 * Decodes one code point at s[*i], advancing *i; returns false on ill-formed input.
 */
static bool utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
    unsigned char c = s[*i];
    size_t need;
    uint32_t v;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        *i += 1;
        return true;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1Fu;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0Fu;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07u;
        min = 0x10000;
    } else {
        return false;
    }
    if (len - *i <= need) {
        return false;
    }
    for (size_t k = 1; k <= need; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0u) != 0x80u) {
            return false;
        }
        v = (v << 6) | (cc & 0x3Fu);
    }
    if (v < min || v > 0x10FFFFu || (v >= 0xD800u && v <= 0xDFFFu)) {
        return false;
    }
    *cp = v;
    *i += need + 1;
    return true;
}

static bool utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    uint32_t cp;
    while (i < len) {
        if (!utf8_next((const unsigned char *)s, len, &i, &cp)) {
            return false;
        }
    }
    return true;
}

static void free_strv(char **v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

/* Checks a caller's scope list against the caps; INVALID_ARG for NULLs or bad UTF-8. */
static dmcp_status check_list(const char *const *v, size_t n)
{
    if (n > DMCP_MAX_SCOPES) {
        return DMCP_E_TOO_LARGE;
    }
    if (n > 0 && v == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] == NULL) {
            return DMCP_E_INVALID_ARG;
        }
        size_t len = strnlen(v[i], DMCP_MAX_SCOPE_LEN + 1);
        if (len > DMCP_MAX_SCOPE_LEN) {
            return DMCP_E_TOO_LARGE;
        }
        if (!utf8_valid(v[i], len)) {
            return DMCP_E_INVALID_ARG;
        }
    }
    return DMCP_OK;
}

static dmcp_status copy_list(const char *const *v, size_t n, char ***out)
{
    *out = NULL;
    if (n == 0) {
        return DMCP_OK;
    }
    char **c = calloc(n, sizeof(*c));
    if (c == NULL) {
        return DMCP_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        c[i] = dmcp__strdup(v[i]);
        if (c[i] == NULL) {
            free_strv(c, n);
            return DMCP_E_NOMEM;
        }
    }
    *out = c;
    return DMCP_OK;
}

static bool in_list(const char *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, v[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Whether `required` is granted by one of the token's scopes: exactly, or through the hook. */
static bool granted(const char *required, const char *const *token, size_t n_token,
                    dmcp_scope_implies_fn implies, void *userdata)
{
    if (in_list(required, token, n_token)) {
        return true;
    }
    if (implies == NULL) {
        return false;
    }
    for (size_t i = 0; i < n_token; i++) {
        if (implies(token[i], required, userdata)) {
            return true;
        }
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    /* strcmp compares as unsigned char, so UTF-8 byte order equals code-point order, which
     * is what Python's sorted() gives for str. */
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *join(const char *const *v, size_t n, const char *sep, const char *prefix)
{
    dmcp__buf b;
    dmcp__buf_init(&b, SCOPE_JSON_MAX);
    dmcp_status st = dmcp__buf_appends(&b, prefix);
    for (size_t i = 0; st == DMCP_OK && i < n; i++) {
        if (i > 0) {
            st = dmcp__buf_appends(&b, sep);
        }
        if (st == DMCP_OK) {
            st = dmcp__buf_appends(&b, v[i]);
        }
    }
    if (st != DMCP_OK) {
        dmcp__buf_free(&b);
        return NULL;
    }
    char *s = dmcp__buf_take(&b, NULL);
    return s != NULL ? s : dmcp__strdup("");
}

/* Builds the error; `implies` (may be NULL) decides which required scopes are missing. */
static dmcp_status scope_error_build(const char *const *required, size_t n_required,
                                     const char *const *token_scopes, size_t n_token,
                                     const char *description, dmcp_scope_implies_fn implies,
                                     void *userdata, dmcp_scope_error **out)
{
    dmcp_status st;
    dmcp_scope_error *e = NULL;

    *out = NULL;
    st = check_list(required, n_required);
    if (st != DMCP_OK) {
        return st;
    }
    st = check_list(token_scopes, n_token);
    if (st != DMCP_OK) {
        return st;
    }
    if (description != NULL) {
        size_t dlen = strnlen(description, SCOPE_DESCRIPTION_MAX + 1);
        if (dlen > SCOPE_DESCRIPTION_MAX) {
            return DMCP_E_TOO_LARGE;
        }
        if (!utf8_valid(description, dlen)) {
            return DMCP_E_INVALID_ARG;
        }
    }

    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return DMCP_E_NOMEM;
    }
    st = copy_list(required, n_required, &e->required);
    if (st != DMCP_OK) {
        goto out;
    }
    e->n_required = n_required;
    st = copy_list(token_scopes, n_token, &e->token);
    if (st != DMCP_OK) {
        goto out;
    }
    e->n_token = n_token;

    /* +1 keeps calloc away from a zero size. */
    e->missing = calloc(n_required + 1, sizeof(*e->missing));
    e->combined = calloc(n_required + n_token + 1, sizeof(*e->combined));
    if (e->missing == NULL || e->combined == NULL) {
        st = DMCP_E_NOMEM;
        goto out;
    }
    /* Missing: in the order required, without duplicates (wire §6 deliberate deviation:
     * Python's set difference has no stable order). */
    for (size_t i = 0; i < n_required; i++) {
        const char *r = e->required[i];
        if (granted(r, (const char *const *)e->token, n_token, implies, userdata)) {
            continue;
        }
        if (!in_list(r, e->missing, e->n_missing)) {
            e->missing[e->n_missing++] = r;
        }
    }
    /* Combined: sorted(set(token) | set(required)). */
    for (size_t i = 0; i < n_token; i++) {
        if (!in_list(e->token[i], e->combined, e->n_combined)) {
            e->combined[e->n_combined++] = e->token[i];
        }
    }
    for (size_t i = 0; i < n_required; i++) {
        if (!in_list(e->required[i], e->combined, e->n_combined)) {
            e->combined[e->n_combined++] = e->required[i];
        }
    }
    qsort(e->combined, e->n_combined, sizeof(*e->combined), cmp_str);

    e->scope = join(e->combined, e->n_combined, " ", "");
    if (description != NULL) {
        e->description = dmcp__strdup(description);
    } else {
        e->description = join(e->missing, e->n_missing, ", ", "Token missing required scopes: ");
    }
    if (e->scope == NULL || e->description == NULL) {
        st = DMCP_E_NOMEM;
        goto out;
    }
    *out = e;
    e = NULL;
    st = DMCP_OK;
out:
    dmcp_scope_error_free(e);
    return st;
}

dmcp_status dmcp_scope_error_new(const char *const *required, size_t n_required,
                                 const char *const *token_scopes, size_t n_token,
                                 const char *description, dmcp_scope_error **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    return scope_error_build(required, n_required, token_scopes, n_token, description, NULL, NULL,
                             out);
}

void dmcp_scope_error_free(dmcp_scope_error *e)
{
    if (e == NULL) {
        return;
    }
    free_strv(e->required, e->n_required);
    free_strv(e->token, e->n_token);
    free(e->missing);
    free(e->combined);
    free(e->scope);
    free(e->description);
    free(e);
}

const char *const *dmcp_scope_error_missing(const dmcp_scope_error *e, size_t *count)
{
    if (count != NULL) {
        *count = e != NULL ? e->n_missing : 0;
    }
    return e != NULL ? e->missing : NULL;
}

const char *const *dmcp_scope_error_token_scopes(const dmcp_scope_error *e, size_t *count)
{
    if (count != NULL) {
        *count = e != NULL ? e->n_token : 0;
    }
    return e != NULL ? (const char *const *)e->token : NULL;
}

const char *const *dmcp_scope_error_required(const dmcp_scope_error *e, size_t *count)
{
    if (count != NULL) {
        *count = e != NULL ? e->n_required : 0;
    }
    return e != NULL ? (const char *const *)e->required : NULL;
}

const char *const *dmcp_scope_error_combined(const dmcp_scope_error *e, size_t *count)
{
    if (count != NULL) {
        *count = e != NULL ? e->n_combined : 0;
    }
    return e != NULL ? e->combined : NULL;
}

const char *dmcp_scope_error_scope(const dmcp_scope_error *e)
{
    return e != NULL ? e->scope : NULL;
}

const char *dmcp_scope_error_description(const dmcp_scope_error *e)
{
    return e != NULL ? e->description : NULL;
}

/* ---- JSON, as Python's json.dumps(ensure_ascii=True) writes strings ---- */

static dmcp_status put_u(dmcp__buf *b, uint32_t unit)
{
    /* Python formats \u escapes with '\\u{0:04x}': lowercase hex. */
    static const char hex[] = "0123456789abcdef";
    char esc[6] = {'\\',
                   'u',
                   hex[(unit >> 12) & 0xF],
                   hex[(unit >> 8) & 0xF],
                   hex[(unit >> 4) & 0xF],
                   hex[unit & 0xF]};
    return dmcp__buf_append(b, esc, sizeof(esc));
}

static dmcp_status put_string(dmcp__buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    size_t i = 0;
    dmcp_status st = dmcp__buf_append(b, "\"", 1);
    while (st == DMCP_OK && i < len) {
        uint32_t cp;
        size_t start = i;
        if (!utf8_next(u, len, &i, &cp)) {
            return DMCP_E_INVALID_ARG; /* checked at construction; unreachable */
        }
        switch (cp) {
        case '"':
            st = dmcp__buf_append(b, "\\\"", 2);
            break;
        case '\\':
            st = dmcp__buf_append(b, "\\\\", 2);
            break;
        case '\n':
            st = dmcp__buf_append(b, "\\n", 2);
            break;
        case '\r':
            st = dmcp__buf_append(b, "\\r", 2);
            break;
        case '\t':
            st = dmcp__buf_append(b, "\\t", 2);
            break;
        case '\b':
            st = dmcp__buf_append(b, "\\b", 2);
            break;
        case '\f':
            st = dmcp__buf_append(b, "\\f", 2);
            break;
        default:
            if (cp >= 0x20 && cp <= 0x7E) {
                /* Python's ESCAPE_ASCII leaves ' '..'~' alone ('/' included). */
                st = dmcp__buf_append(b, s + start, 1);
            } else if (cp < 0x10000) {
                st = put_u(b, cp); /* controls, DEL and the rest of the BMP */
            } else {
                uint32_t v = cp - 0x10000;
                st = put_u(b, 0xD800u | (v >> 10));
                if (st == DMCP_OK) {
                    st = put_u(b, 0xDC00u | (v & 0x3FFu));
                }
            }
            break;
        }
    }
    if (st == DMCP_OK) {
        st = dmcp__buf_append(b, "\"", 1);
    }
    return st;
}

static dmcp_status put_array(dmcp__buf *b, const char *const *v, size_t n)
{
    dmcp_status st;
    if (n == 0) {
        return dmcp__buf_appends(b, "[]");
    }
    st = dmcp__buf_appends(b, "[\n");
    for (size_t i = 0; st == DMCP_OK && i < n; i++) {
        st = dmcp__buf_appends(b, "    ");
        if (st == DMCP_OK) {
            st = put_string(b, v[i]);
        }
        if (st == DMCP_OK) {
            st = dmcp__buf_appends(b, i + 1 < n ? ",\n" : "\n");
        }
    }
    if (st == DMCP_OK) {
        st = dmcp__buf_appends(b, "  ]");
    }
    return st;
}

char *dmcp_scope_error_to_json(const dmcp_scope_error *e)
{
    if (e == NULL) {
        return NULL;
    }
    dmcp__buf b;
    dmcp__buf_init(&b, SCOPE_JSON_MAX);
    /* Key order of descope-mcp's to_json() (wire §6). */
    dmcp_status st =
        dmcp__buf_appends(&b, "{\n  \"error\": \"insufficient_scope\",\n  \"scope\": ");
    if (st == DMCP_OK) {
        st = put_string(&b, e->scope);
    }
    if (st == DMCP_OK) {
        st = dmcp__buf_appends(&b, ",\n  \"error_description\": ");
    }
    if (st == DMCP_OK) {
        st = put_string(&b, e->description);
    }
    if (st == DMCP_OK) {
        st = dmcp__buf_appends(&b, ",\n  \"missing_scopes\": ");
    }
    if (st == DMCP_OK) {
        st = put_array(&b, e->missing, e->n_missing);
    }
    if (st == DMCP_OK) {
        st = dmcp__buf_appends(&b, ",\n  \"token_scopes\": ");
    }
    if (st == DMCP_OK) {
        st = put_array(&b, (const char *const *)e->token, e->n_token);
    }
    if (st == DMCP_OK) {
        st = dmcp__buf_appends(&b, ",\n  \"required_scopes\": ");
    }
    if (st == DMCP_OK) {
        st = put_array(&b, (const char *const *)e->required, e->n_required);
    }
    if (st == DMCP_OK) {
        st = dmcp__buf_appends(&b, "\n}"); /* json.dumps adds no trailing newline */
    }
    if (st != DMCP_OK) {
        dmcp__buf_free(&b);
        return NULL;
    }
    return dmcp__buf_take(&b, NULL);
}

/* ---- require_scopes ---- */

dmcp_status dmcp_require_scopes(const char *const *token_scopes, size_t n_token,
                                const char *const *required, size_t n_required,
                                dmcp_scope_implies_fn implies, void *userdata,
                                dmcp_scope_error **out)
{
    dmcp_status st;
    bool all = true;
    if (out != NULL) {
        *out = NULL;
    }
    st = check_list(token_scopes, n_token);
    if (st != DMCP_OK) {
        return st;
    }
    st = check_list(required, n_required);
    if (st != DMCP_OK) {
        return st;
    }
    for (size_t i = 0; i < n_required && all; i++) {
        all = granted(required[i], token_scopes, n_token, implies, userdata);
    }
    if (all) {
        return DMCP_OK;
    }
    if (out != NULL) {
        st = scope_error_build(required, n_required, token_scopes, n_token, NULL, implies, userdata,
                               out);
        if (st != DMCP_OK) {
            return st;
        }
    }
    return DMCP_E_INSUFFICIENT_SCOPE;
}

dmcp_status dmcp_validator_require_scopes(const dmcp_validator *v, const dmcp_token *t,
                                          const char *const *required, size_t n_required,
                                          dmcp_scope_error **out)
{
    dmcp_scope_implies_fn fn = NULL;
    void *userdata = NULL;
    size_t n_token = 0;
    const char *const *token_scopes;
    if (out != NULL) {
        *out = NULL;
    }
    if (v == NULL || t == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    token_scopes = dmcp_token_scopes(t, &n_token);
    dmcp__validator_implies(v, &fn, &userdata);
    return dmcp_require_scopes(token_scopes, n_token, required, n_required, fn, userdata, out);
}
