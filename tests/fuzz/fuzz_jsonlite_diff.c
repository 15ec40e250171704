/*
 * Differential fuzzing of jsonlite against jansson (the reference): jsonlite must accept
 * exactly the inputs json_loadb(JSON_REJECT_DUPLICATES) parses to an object, and extract the
 * same top-level values. Intentional difference: nesting deeper than DMCP__JL_MAX_DEPTH
 * (jsonlite refuses; jansson allows 2048), skipped here. Second: a NUL byte outside a string
 * is refused by jsonlite; jansson's lexer loses a NUL that directly follows a literal or a
 * number ({"a":null<NUL>} parses), so for inputs holding a NUL byte only "jsonlite accepts
 * => jansson accepts" is asserted.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonlite.h"

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static void same_value(const dmcp__jl_doc *d, const dmcp__jl_member *m, const json_t *j)
{
    switch (m->type) {
    case DMCP__JL_NULL:
        check(json_is_null(j));
        break;
    case DMCP__JL_TRUE:
        check(json_is_true(j));
        break;
    case DMCP__JL_FALSE:
        check(json_is_false(j));
        break;
    case DMCP__JL_INT:
        check(json_is_integer(j) && json_integer_value(j) == m->i);
        break;
    case DMCP__JL_REAL:
        check(json_is_real(j) && json_real_value(j) == m->d);
        break;
    case DMCP__JL_STRING:
        check(json_is_string(j) && json_string_length(j) == m->str.len &&
              memcmp(json_string_value(j), m->str.s, m->str.len) == 0 &&
              m->str.s[m->str.len] == '\0');
        break;
    case DMCP__JL_ARRAY: {
        check(json_is_array(j) && json_array_size(j) == m->n_items);
        bool all = true;
        for (size_t i = 0; i < m->n_items; i++) {
            all = all && json_is_string(json_array_get(j, i));
        }
        check(all == m->all_strings);
        if (all) {
            for (size_t i = 0; i < m->n_items; i++) {
                const json_t *e = json_array_get(j, i);
                const dmcp__jl_str *s = &d->strs[m->first_str + i];
                check(json_string_length(e) == s->len &&
                      memcmp(json_string_value(e), s->s, s->len) == 0);
            }
        }
        break;
    }
    case DMCP__JL_OBJECT:
        check(json_is_object(j) && json_object_size(j) == m->n_items);
        break;
    default:
        check(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) {
        return 0;
    }
    dmcp__jl_doc d;
    dmcp__jl_error e = dmcp__jl_parse(data, size, &d);
    if (e == DMCP__JL_EDEPTH) {
        return 0;
    }
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    bool ref_ok = json_is_object(j);
    if (memchr(data, 0, size) != NULL) {
        check(e != DMCP__JL_OK || ref_ok);
    } else {
        check((e == DMCP__JL_OK) == ref_ok);
    }
    if (e == DMCP__JL_OK) {
        check(json_object_size(j) == d.n);
        for (size_t i = 0; i < d.n; i++) {
            const dmcp__jl_member *m = &d.members[i];
            check(strlen(m->key.s) == m->key.len);
            const json_t *v = json_object_getn(j, m->key.s, m->key.len);
            check(v != NULL);
            same_value(&d, m, v);
        }
        dmcp__jl_free(&d);
    }
    json_decref(j);
    return 0;
}
