/*
 * jsonlite - a small, strict RFC 8259 parser for the two JSON objects of every token (JWS
 * header and JWT claims set), with typed access to the top-level members; dmcp__jl_load()
 * also builds jansson values from the same grammar for the MCP runtime's request bodies.
 * It lives in common/ because both rooms use it (the auth core and the runtime never
 * include each other's headers; tests/layout checks that).
 *
 * Why it exists (a measured requirement, dependencies.md §7): jansson's json_loadb() costs
 * about 5.4 us for a 70-byte header plus a 471-byte payload on the reference machine, a third
 * of an RS256 verify; the validator must stay within 10% of a bare EVP verify. jansson stays
 * the reference: the differential fuzz targets tests/fuzz/fuzz_jsonlite_diff.c and
 * fuzz_jl_load_diff.c check that this parser accepts exactly the object documents
 * json_loadb(JSON_REJECT_DUPLICATES) accepts and extracts (builds) equal values.
 * dmcp_token_claims() builds its json_t with dmcp__jl_load(): the same grammar the token was
 * accepted with, and an allocation failure is an error, never a silently shortened string.
 *
 * Rules (same as jansson with JSON_REJECT_DUPLICATES, without JSON_ALLOW_NUL):
 *   - the top-level value must be an object; no trailing bytes other than whitespace;
 *   - UTF-8 validated (no overlongs, no encoded surrogates, nothing above U+10FFFF);
 *     \u escapes: surrogates must pair, \u0000 refused; control bytes refused in strings;
 *   - numbers: no leading zeros, no bare '-', '.', or exponent; integers that do not fit
 *     int64 are refused; reals that overflow to infinity are refused (underflow accepted);
 *   - duplicate keys (after unescaping) are refused in every object at every depth.
 * Intentional differences: nesting deeper than DMCP__JL_MAX_DEPTH is refused
 * (DMCP__JL_EDEPTH; jansson allows 2048 levels); a NUL byte outside a string is always
 * refused (jansson 2.14 silently drops one that directly follows a literal or a number).
 */
#ifndef DMCP_JSONLITE_H
#define DMCP_JSONLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "internal.h"

#define DMCP__JL_MAX_DEPTH DMCP_MAX_JSON_DEPTH

typedef enum dmcp__jl_type {
    DMCP__JL_NULL = 0,
    DMCP__JL_FALSE,
    DMCP__JL_TRUE,
    DMCP__JL_INT,
    DMCP__JL_REAL,
    DMCP__JL_STRING,
    DMCP__JL_ARRAY,
    DMCP__JL_OBJECT
} dmcp__jl_type;

typedef enum dmcp__jl_error {
    DMCP__JL_OK = 0,
    DMCP__JL_ESYNTAX, /* not JSON, bad UTF-8, bad escape, bad number */
    DMCP__JL_ENOTOBJ, /* valid start, but the top-level value is not an object */
    DMCP__JL_EDUP,    /* duplicate key */
    DMCP__JL_EDEPTH,  /* nested deeper than DMCP__JL_MAX_DEPTH */
    DMCP__JL_ENOMEM
} dmcp__jl_error;

typedef struct dmcp__jl_str {
    const char *s; /* decoded, NUL-terminated (no NUL inside: \u0000 is refused) */
    size_t len;
} dmcp__jl_str;

/* One top-level member. */
typedef struct dmcp__jl_member {
    dmcp__jl_str key;
    dmcp__jl_type type;
    dmcp__jl_str str; /* STRING */
    int64_t i;        /* INT */
    double d;         /* REAL; INT too (converted) */
    size_t n_items;   /* ARRAY: number of elements; OBJECT: number of members */
    bool all_strings; /* ARRAY: every element is a string (true for []) */
    size_t first_str; /* ARRAY with all_strings: first index into doc->strs */
} dmcp__jl_member;

typedef struct dmcp__jl_doc {
    dmcp__jl_member *members; /* in document order */
    size_t n;
    dmcp__jl_str *strs; /* elements of top-level string arrays */
    size_t n_strs;
    char *arena; /* decoded strings */
} dmcp__jl_doc;

/*
 * Parses `len` bytes (need not be NUL-terminated). On DMCP__JL_OK, doc must be released with
 * dmcp__jl_free(); on failure doc is left empty. Thread-safety: reentrant.
 */
dmcp__jl_error dmcp__jl_parse(const unsigned char *in, size_t len, dmcp__jl_doc *doc);
void dmcp__jl_free(dmcp__jl_doc *doc);

/* The top-level member named `key` (exact bytes), or NULL. */
const dmcp__jl_member *dmcp__jl_get(const dmcp__jl_doc *doc, const char *key);

/*
 * The same grammar building a jansson value (any JSON value at the top, like json_loadb with
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY; reals converted by jansson itself). Why: the MCP
 * runtime parses every request body, and json_loadb() was 10% of the HTTP server's CPU on
 * authenticated tools/call (perf, bench/http/run.sh; ~24k instructions for a 130-byte body).
 * Differences from json_loadb, as for dmcp__jl_parse: nesting deeper than DMCP__JL_MAX_DEPTH
 * is refused, and so is any NUL byte outside a string. tests/fuzz/fuzz_jl_load_diff.c checks
 * the rest against jansson. Ownership: *out is new (json_decref). Thread-safety: reentrant.
 */
dmcp__jl_error dmcp__jl_load(const unsigned char *in, size_t len, json_t **out);

#endif /* DMCP_JSONLITE_H */
