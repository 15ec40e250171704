/* One HTTP/1.1 response, parsed incrementally and strictly (see h1_resp.h). */
#include "gateway/h1_resp.h"

#include <string.h>
#include <strings.h>

enum {
    S_HEAD = 0,
    S_BODY_CL,
    S_CHUNK_SIZE,
    S_CHUNK_DATA,
    S_CHUNK_CRLF,
    S_TRAILER,
    S_CLOSE,
    S_DONE,
    S_ERROR
};

#define CHUNK_LINE_MAX 1024
#define MAX_CHUNK ((uint64_t)1 << 60)
#define MAX_CLEN ((int64_t)1 << 53)

void gw_h1_init(gw_h1 *p)
{
    p->status = 0;
    p->ctype[0] = '\0';
    p->sid[0] = '\0';
    p->keep_alive = false;
    p->error = NULL;
    p->state = S_HEAD;
    p->chunked = p->until_close = p->http10 = p->conn_close = false;
    p->clen = -1;
    p->left = 0;
    p->head_len = 0;
}

bool gw_h1_started(const gw_h1 *p)
{
    return p->state != S_HEAD || p->head_len > 0;
}

static gw_h1_rc fail(gw_h1 *p, const char *why)
{
    p->state = S_ERROR;
    p->error = why;
    p->keep_alive = false;
    return GW_H1_ERROR;
}

/* RFC 9110 §5.6.2 tchar. */
static bool tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool name_is(const char *n, size_t nl, const char *want)
{
    return strlen(want) == nl && strncasecmp(n, want, nl) == 0;
}

/* A comma-separated list holds the token (case-insensitive). */
static bool list_has(const char *v, size_t vl, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < vl) {
        while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < vl && v[i] != ',') {
            i++;
        }
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
            e--;
        }
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0) {
            return true;
        }
    }
    return false;
}

/* One field line (name: value). */
static const char *field(gw_h1 *p, const char *l, size_t len)
{
    if (len > 0 && (l[0] == ' ' || l[0] == '\t')) {
        return "obsolete line folding in a header field";
    }
    size_t nl = 0;
    while (nl < len && l[nl] != ':') {
        if (!tchar((unsigned char)l[nl])) {
            return "a header field name is not a token";
        }
        nl++;
    }
    if (nl == 0 || nl == len) {
        return "a header field has no name or no colon";
    }
    const char *v = l + nl + 1;
    size_t vl = len - nl - 1;
    while (vl > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
        vl--;
    }
    for (size_t i = 0; i < vl; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 && c != '\t') {
            return "a control character in a header field value";
        }
        if (c == 0x7f) {
            return "a control character in a header field value";
        }
    }
    if (name_is(l, nl, "content-length")) {
        if (vl == 0 || vl > 16) {
            return "a bad Content-Length";
        }
        int64_t n = 0;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return "a bad Content-Length";
            }
            n = n * 10 + (v[i] - '0');
        }
        if (n > MAX_CLEN) {
            return "a bad Content-Length";
        }
        if (p->clen >= 0 && p->clen != n) {
            return "two different Content-Lengths";
        }
        p->clen = n;
    } else if (name_is(l, nl, "transfer-encoding")) {
        if (p->chunked || vl != 7 || strncasecmp(v, "chunked", 7) != 0) {
            return "a transfer coding other than one chunked";
        }
        p->chunked = true;
    } else if (name_is(l, nl, "connection")) {
        if (list_has(v, vl, "close")) {
            p->conn_close = true;
        }
    } else if (name_is(l, nl, "content-type")) {
        size_t n = vl < sizeof(p->ctype) - 1 ? vl : sizeof(p->ctype) - 1;
        memcpy(p->ctype, v, n);
        p->ctype[n] = '\0';
    } else if (name_is(l, nl, "mcp-session-id")) {
        bool visible = vl > 0 && vl < sizeof(p->sid);
        for (size_t i = 0; visible && i < vl; i++) {
            visible = v[i] >= 0x21 && v[i] <= 0x7e; /* Transports §2.5.1 */
        }
        if (visible) {
            memcpy(p->sid, v, vl);
            p->sid[vl] = '\0';
        }
    }
    return NULL;
}

/* The complete head in p->head[0..head_len) (ends with CRLF CRLF). */
static gw_h1_rc parse_head(gw_h1 *p, const gw_h1_cb *cb, bool *interim)
{
    const char *h = p->head;
    size_t n = p->head_len - 2; /* up to and including the last field's CRLF */
    for (size_t i = 0; i < p->head_len; i++) {
        if (h[i] == '\n' && (i == 0 || h[i - 1] != '\r')) {
            return fail(p, "a bare LF in the response head");
        }
        if (h[i] == '\r' && (i + 1 >= p->head_len || h[i + 1] != '\n')) {
            return fail(p, "a bare CR in the response head");
        }
        if (h[i] == '\0') {
            return fail(p, "a NUL in the response head");
        }
    }
    /* status-line = HTTP-version SP 3DIGIT SP [reason-phrase] (RFC 9112 §4) */
    const char *eol = memchr(h, '\r', n);
    size_t sl = (size_t)(eol - h);
    if (sl < 12 || (memcmp(h, "HTTP/1.1 ", 9) != 0 && memcmp(h, "HTTP/1.0 ", 9) != 0) ||
        h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9' ||
        (sl > 12 && h[12] != ' ')) {
        return fail(p, "not an HTTP/1.1 status line");
    }
    for (size_t i = 12; i < sl; i++) {
        unsigned char c = (unsigned char)h[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return fail(p, "a control character in the reason phrase");
        }
    }
    int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    p->http10 = h[7] == '0';
    p->clen = -1;
    p->chunked = p->conn_close = false;
    p->ctype[0] = '\0';
    p->sid[0] = '\0';
    for (size_t at = sl + 2; at < n;) {
        const char *le = memchr(h + at, '\r', n - at);
        size_t ll = (size_t)(le - (h + at));
        const char *why = field(p, h + at, ll);
        if (why != NULL) {
            return fail(p, why);
        }
        at += ll + 2;
    }
    if (status == 101) {
        return fail(p, "an upgrade (101) the gateway did not ask for");
    }
    if (status < 200) {
        *interim = true; /* 100, 102, 103: another head follows */
        return GW_H1_MORE;
    }
    if (p->chunked && p->clen >= 0) {
        return fail(p, "both Content-Length and Transfer-Encoding");
    }
    p->status = status;
    p->until_close = false;
    if (status == 204 || status == 304) {
        p->state = S_DONE;
    } else if (p->chunked) {
        p->state = S_CHUNK_SIZE;
    } else if (p->clen >= 0) {
        p->state = p->clen > 0 ? S_BODY_CL : S_DONE;
        p->left = (uint64_t)p->clen;
    } else {
        p->state = S_CLOSE;
        p->until_close = true;
    }
    p->keep_alive = !p->http10 && !p->conn_close && !p->until_close;
    p->head_len = 0; /* the buffer now holds chunk-size and trailer lines */
    if (cb->head != NULL && !cb->head(cb->ud, p)) {
        return fail(p, "stopped");
    }
    return p->state == S_DONE ? GW_H1_DONE : GW_H1_MORE;
}

/* Appends c to the line buffer; true when the line (CRLF-terminated) is complete. */
static bool line_byte(gw_h1 *p, char c, size_t cap, gw_h1_rc *rc)
{
    if (p->head_len >= cap) {
        *rc = fail(p, p->state == S_HEAD ? "the response head is too large"
                                         : "a chunk-size or trailer line is too large");
        return false;
    }
    p->head[p->head_len++] = c;
    return c == '\n';
}

static gw_h1_rc chunk_size(gw_h1 *p)
{
    const char *l = p->head;
    size_t n = p->head_len;
    if (n < 3 || l[n - 2] != '\r') {
        return fail(p, "a bad chunk-size line");
    }
    n -= 2;
    uint64_t size = 0;
    size_t i = 0;
    for (; i < n; i++) {
        char c = l[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            break;
        }
        size = size * 16 + (uint64_t)d;
        if (size > MAX_CHUNK) {
            return fail(p, "a chunk size too large");
        }
    }
    if (i == 0) {
        return fail(p, "a bad chunk-size line");
    }
    /* chunk-ext: [BWS] ";" ... ; any other byte, or a control byte, is refused. */
    for (size_t k = i; k < n; k++) {
        unsigned char c = (unsigned char)l[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f || (k == i && c != ';' && c != ' ' && c != '\t')) {
            return fail(p, "a bad chunk extension");
        }
    }
    p->head_len = 0;
    p->left = size;
    p->state = size > 0 ? S_CHUNK_DATA : S_TRAILER;
    return GW_H1_MORE;
}

gw_h1_rc gw_h1_feed(gw_h1 *p, const char *buf, size_t len, size_t *used, const gw_h1_cb *cb)
{
    size_t i = 0;
    gw_h1_rc rc = GW_H1_MORE;
    *used = 0;
    while (i < len && rc == GW_H1_MORE) {
        switch (p->state) {
        case S_HEAD: {
            if (!line_byte(p, buf[i++], GW_H1_MAX_HEAD, &rc)) {
                break;
            }
            size_t h = p->head_len;
            if (h >= 4 && memcmp(p->head + h - 4, "\r\n\r\n", 4) == 0) {
                bool interim = false;
                rc = parse_head(p, cb, &interim);
                if (interim) {
                    p->head_len = 0;
                }
            } else if (h == 2 && memcmp(p->head, "\r\n", 2) == 0) {
                return fail(p, "an empty line before the status line");
            }
            break;
        }
        case S_BODY_CL:
        case S_CHUNK_DATA:
        case S_CLOSE: {
            size_t take = len - i;
            if (p->state != S_CLOSE && (uint64_t)take > p->left) {
                take = (size_t)p->left;
            }
            if (cb->data != NULL && !cb->data(cb->ud, buf + i, take)) {
                return fail(p, "stopped");
            }
            i += take;
            if (p->state != S_CLOSE) {
                p->left -= take;
                if (p->left == 0) {
                    if (p->state == S_BODY_CL) {
                        p->state = S_DONE;
                        rc = GW_H1_DONE;
                    } else {
                        p->state = S_CHUNK_CRLF;
                        p->left = 2;
                    }
                }
            }
            break;
        }
        case S_CHUNK_CRLF:
            if (buf[i++] != (p->left == 2 ? '\r' : '\n')) {
                return fail(p, "a chunk not followed by CRLF");
            }
            if (--p->left == 0) {
                p->state = S_CHUNK_SIZE;
                p->head_len = 0;
            }
            break;
        case S_CHUNK_SIZE:
            if (line_byte(p, buf[i++], CHUNK_LINE_MAX, &rc)) {
                rc = chunk_size(p);
            }
            break;
        case S_TRAILER:
            if (line_byte(p, buf[i++], GW_H1_MAX_HEAD, &rc)) {
                size_t h = p->head_len;
                if (h < 2 || p->head[h - 2] != '\r') {
                    return fail(p, "a bare LF in the trailer section");
                }
                /* The section ends with an empty line: at its start, or after CRLF CRLF. */
                if (h == 2 || (h >= 4 && memcmp(p->head + h - 4, "\r\n\r\n", 4) == 0)) {
                    p->state = S_DONE;
                    rc = GW_H1_DONE;
                }
            }
            break;
        case S_DONE:
            rc = GW_H1_DONE;
            break;
        default:
            return GW_H1_ERROR;
        }
    }
    if (p->state == S_ERROR) {
        return GW_H1_ERROR;
    }
    if (p->state == S_DONE) {
        if (i < len) {
            p->keep_alive = false; /* bytes past the response: never reuse this connection */
        }
        *used = i;
        return GW_H1_DONE;
    }
    *used = i;
    return rc;
}

gw_h1_rc gw_h1_eof(gw_h1 *p)
{
    if (p->state == S_CLOSE || p->state == S_DONE) {
        p->state = S_DONE;
        p->keep_alive = false;
        return GW_H1_DONE;
    }
    if (p->state == S_ERROR) {
        return GW_H1_ERROR;
    }
    return fail(p, p->state == S_HEAD ? "the upstream closed the connection before a response"
                                      : "the upstream closed the connection mid-response");
}
