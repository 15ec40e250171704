/*
 * Differential-test helper: reads one case per line on stdin,
 *   {"required":[...],"token":[...],"description":"..."|null}
 * and writes dmcp_scope_error_to_json() of each, followed by a NUL byte, to stdout. A case the
 * library refuses prints "!<status name>" instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dmcp/dmcp.h"

#define MAX_CASES_LINE (1024 * 1024)

static const char **strv(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    const char **v = calloc(*n + 1, sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < *n; i++) {
        v[i] = json_string_value(json_array_get(a, i));
    }
    return v;
}

int main(void)
{
    static char line[MAX_CASES_LINE];
    int rc = 0;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        json_error_t jerr;
        json_t *c = json_loads(line, 0, &jerr);
        if (c == NULL) {
            fprintf(stderr, "bad case line: %s\n", jerr.text);
            return 2;
        }
        size_t nr = 0;
        size_t nt = 0;
        const char **req = strv(json_object_get(c, "required"), &nr);
        const char **tok = strv(json_object_get(c, "token"), &nt);
        json_t *d = json_object_get(c, "description");
        const char *desc = json_is_string(d) ? json_string_value(d) : NULL;
        dmcp_scope_error *e = NULL;
        dmcp_status st = dmcp_scope_error_new(req, nr, tok, nt, desc, &e);
        if (st != DMCP_OK) {
            printf("!%s", dmcp_status_name(st));
        } else {
            char *js = dmcp_scope_error_to_json(e);
            if (js == NULL) {
                rc = 1;
                printf("!NULL");
            } else {
                fputs(js, stdout);
                dmcp_free(js);
            }
        }
        putchar('\0');
        dmcp_scope_error_free(e);
        free(req);
        free(tok);
        json_decref(c);
    }
    return rc;
}
