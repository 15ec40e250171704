/*
 * An incremental, strict parser of one HTTP/1.1 response (RFC 9112) for the gateway's plain-HTTP
 * upstream exchange (upstream_http_fast.c): status line, header fields, and the body in any of
 * the three framings (Content-Length, chunked, until close). Bytes are fed as they arrive; the
 * head and each run of body bytes go to callbacks. It reads what an upstream says, so it
 * refuses rather than guesses: obs-fold, a bare LF, a control byte in a field, Content-Length
 * with Transfer-Encoding, two different Content-Lengths, a transfer coding other than chunked,
 * a chunk size past 2^60, a head past GW_H1_MAX_HEAD (response smuggling and desync defences).
 * Interim 1xx responses are skipped (101 is refused: nothing is upgraded here).
 */
#ifndef DMCP_GATEWAY_H1_RESP_H
#define DMCP_GATEWAY_H1_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_H1_MAX_HEAD (16 * 1024) /* status line + fields (+ trailers), bytes */
#define GW_H1_SID_MAX 256

typedef enum gw_h1_rc { GW_H1_MORE = 0, GW_H1_DONE = 1, GW_H1_ERROR = -1 } gw_h1_rc;

typedef struct gw_h1 gw_h1;

typedef struct gw_h1_cb {
    /* The final head is parsed (status, content type, session id set). false stops. */
    bool (*head)(void *ud, const gw_h1 *p);
    /* A run of body bytes (chunk framing removed). false stops. */
    bool (*data)(void *ud, const char *buf, size_t len);
    void *ud;
} gw_h1_cb;

struct gw_h1 {
    /* Set once the final head is parsed: */
    int status;
    char ctype[128];              /* Content-Type (cut at 127 bytes), "" when none */
    char sid[GW_H1_SID_MAX];      /* Mcp-Session-Id when present and visible ASCII, else "" */
    bool keep_alive;              /* the connection may carry another request once DONE */
    const char *error;            /* why, after GW_H1_ERROR (a constant string) */
    /* internal */
    int state;
    bool chunked, until_close, http10, conn_close;
    int64_t clen; /* -1: none */
    uint64_t left;
    size_t head_len;
    char head[GW_H1_MAX_HEAD];
};

void gw_h1_init(gw_h1 *p);
/*
 * Feeds len bytes. GW_H1_MORE: all consumed, more needed. GW_H1_DONE: the response is complete;
 * *used bytes were consumed (bytes past the response mean the connection is not reused:
 * keep_alive is cleared). GW_H1_ERROR: p->error says why; the connection must be closed.
 */
gw_h1_rc gw_h1_feed(gw_h1 *p, const char *buf, size_t len, size_t *used, const gw_h1_cb *cb);
/* The peer closed the connection: DONE for a body delimited by the close, else ERROR. */
gw_h1_rc gw_h1_eof(gw_h1 *p);
/* True once any byte of a response has been fed (a reused connection that dies before that
 * may be retried). */
bool gw_h1_started(const gw_h1 *p);

#endif
