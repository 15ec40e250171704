/*
 * An incremental parser of text/event-stream (WHATWG HTML §9.2.6) for what upstreams send:
 * bytes are fed as they arrive; each complete event is handed to a callback. Bounded: a line
 * or an event's data past max_event bytes fails the stream (the caller aborts the transfer).
 */
#ifndef DMCP_GATEWAY_SSE_PARSE_H
#define DMCP_GATEWAY_SSE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gw_sse_event {
    const char *event; /* "" when no event field (i.e. "message") */
    const char *data;  /* data lines joined by \n, NUL-terminated */
    size_t data_len;
    const char *id; /* last event id seen so far, or "" */
} gw_sse_event;

/* Returns false to stop parsing (gw_sse_feed then returns false too). */
typedef bool (*gw_sse_fn)(void *ud, const gw_sse_event *ev);

typedef struct gw_sse {
    char *line;
    size_t line_len, line_cap;
    char *data;
    size_t data_len, data_cap;
    bool has_data;
    char event[64];
    char id[256];
    bool skip_lf;   /* the previous byte was CR: a following LF belongs to it */
    bool bom_done;  /* a leading UTF-8 BOM was skipped (or there was none) */
    size_t bom_seen;
    size_t max_event;
    bool failed;
} gw_sse;

void gw_sse_init(gw_sse *p, size_t max_event);
void gw_sse_free(gw_sse *p);
/* Feeds bytes; calls fn for each complete event. false when over a cap, out of memory, or fn
 * asked to stop; the parser is then dead (every later feed returns false). */
bool gw_sse_feed(gw_sse *p, const char *buf, size_t len, gw_sse_fn fn, void *ud);

#endif
