/*
 * Fuzz target for the request framing judge (RFC 9112 §6): Content-Length and
 * Transfer-Encoding values as received. Input: header fields separated by '\n', each starting
 * with 'C' (Content-Length) or 'T' (Transfer-Encoding) followed by its value. Checks the
 * judge's invariants: a length only with OK, chunked only without any Content-Length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) {
        return 0;
    }
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    const char *cl[8], *te[8];
    size_t ncl = 0, nte = 0;
    for (char *line = text; line != NULL;) {
        char *nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        if (line[0] == 'C' && ncl < 8) {
            cl[ncl++] = line + 1;
        } else if (line[0] == 'T' && nte < 8) {
            te[nte++] = line + 1;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    uint64_t len = 7;
    bool chunked = true;
    dmcp__framing f = dmcp__http_framing(cl, ncl, te, nte, &len, &chunked);
    if (f != DMCP__FRAMING_OK && (len != 0 || chunked)) {
        abort(); /* a refusal never reports a framing */
    }
    if (chunked && (ncl > 0 || len != 0)) {
        abort(); /* chunked excludes a Content-Length */
    }
    if (ncl > 0 && nte > 0 && f == DMCP__FRAMING_OK) {
        abort(); /* both headers are never accepted */
    }
    free(text);
    return 0;
}
