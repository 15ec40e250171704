/*
 * Fuzzes the gateway's text/event-stream parser (src/gateway/sse_parse.c), the first thing
 * that reads an upstream's bytes: the input is parsed once whole and once in chunks whose
 * sizes come from the first byte; both must yield the same events (count and contents), each
 * NUL-terminated and within the cap, and nothing may crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/sse_parse.h"

#define CAP 4096

typedef struct acc {
    size_t n;
    uint64_t h;
} acc;

static bool on_ev(void *ud, const gw_sse_event *ev)
{
    acc *a = ud;
    if (ev->data[ev->data_len] != '\0' || ev->data_len > CAP || strlen(ev->event) >= 64 ||
        strlen(ev->id) >= 256) {
        abort();
    }
    a->n++;
    for (size_t i = 0; i < ev->data_len; i++) {
        a->h = (a->h ^ (unsigned char)ev->data[i]) * 1099511628211ull;
    }
    for (const char *p = ev->event; *p != '\0'; p++) {
        a->h = (a->h ^ (unsigned char)*p) * 1099511628211ull;
    }
    a->h = (a->h ^ 0xFF) * 1099511628211ull;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256 * 1024) {
        return 0;
    }
    size_t chunk = (size_t)data[0] % 17 + 1;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    gw_sse a, b;
    acc aa = {0, 1469598103934665603ull}, bb = {0, 1469598103934665603ull};
    gw_sse_init(&a, CAP);
    gw_sse_init(&b, CAP);
    bool oka = gw_sse_feed(&a, s, len, on_ev, &aa);
    bool okb = true;
    for (size_t off = 0; off < len && okb; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        okb = gw_sse_feed(&b, s + off, n, on_ev, &bb);
    }
    if (oka != okb || aa.n != bb.n || aa.h != bb.h) {
        abort();
    }
    gw_sse_free(&a);
    gw_sse_free(&b);
    return 0;
}
