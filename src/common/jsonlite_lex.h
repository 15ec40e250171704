/* The lexer shared by jsonlite.c (flat documents) and jsonlite_load.c (jansson trees):
 * the parser state, strings, numbers, literals and whitespace. Private to src/common. */
#ifndef DMCP_JSONLITE_LEX_H
#define DMCP_JSONLITE_LEX_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "jsonlite.h"

/* Objects up to this many keys are checked for duplicates on insert (linear); larger ones
 * are sorted once when they close, so a hostile header cannot make the check quadratic. */
#define JL_LINEAR_KEYS 16
#define JL_INLINE_KEYS 64

typedef struct jl {
    const unsigned char *p;
    const unsigned char *end;
    char *arena;
    size_t arena_used;
    dmcp__jl_doc *doc;
    size_t cap_members;
    size_t cap_strs;
    dmcp__jl_str *keys; /* stack of the keys of the objects being parsed */
    size_t n_keys;
    size_t cap_keys;
    dmcp__jl_str keys_inline[JL_INLINE_KEYS]; /* no allocation for ordinary documents */
    dmcp__jl_error err;
} jl;

static inline bool fail(jl *j, dmcp__jl_error e)
{
    if (j->err == DMCP__JL_OK) {
        j->err = e;
    }
    return false;
}

static inline void skip_ws(jl *j)
{
    /* RFC 8259 §2: the four whitespace characters only. */
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static inline bool lit(jl *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
        return fail(j, DMCP__JL_ESYNTAX);
    }
    j->p += n;
    return true;
}

/* A JSON string at j->p (RFC 8259 §7, strict UTF-8), unescaped into the arena. */
bool dmcp__jl_lex_string(jl *j, dmcp__jl_str *out);
/* A JSON number at j->p (RFC 8259 §6): an int64 when it is one, else a finite double. */
bool dmcp__jl_lex_number(jl *j, dmcp__jl_type *type, int64_t *iv, double *dv);

#endif /* DMCP_JSONLITE_LEX_H */
