/*
 * The gateway's HTTP/1.1 response parser (src/gateway/h1_resp.c): each framing, fed whole and
 * one byte at a time (the same result both ways); interim 1xx skipped; keep-alive rules; and
 * each refusal, one defect per case, so that removing a check fails its case: CL with TE, two
 * different CLs, a bad CL, a coding other than chunked, obs-fold, bare LF, bare CR, a control
 * byte, a space before the colon, a 101, an oversized head, a chunk size past 2^60, chunk data
 * not followed by CRLF, a bad chunk extension, a close mid-body.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "gateway/h1_resp.h"

typedef struct got {
    char body[65536];
    size_t len;
    int heads;
    int status;
} got;

static bool on_head(void *ud, const gw_h1 *p)
{
    got *g = ud;
    g->heads++;
    g->status = p->status;
    return true;
}

static bool on_data(void *ud, const char *buf, size_t len)
{
    got *g = ud;
    assert_true(g->len + len < sizeof(g->body));
    memcpy(g->body + g->len, buf, len);
    g->len += len;
    return true;
}

/* Feeds text whole (bytewise false) or one byte at a time; then EOF when eof. */
static gw_h1_rc run(const char *text, bool bytewise, bool eof, gw_h1 *p, got *g)
{
    gw_h1_cb cb = {on_head, on_data, g};
    memset(g, 0, sizeof(*g));
    gw_h1_init(p);
    size_t n = strlen(text), i = 0;
    gw_h1_rc rc = GW_H1_MORE;
    while (i < n && rc == GW_H1_MORE) {
        size_t used = 0, step = bytewise ? 1 : n - i;
        rc = gw_h1_feed(p, text + i, step, &used, &cb);
        if (rc == GW_H1_MORE) {
            assert_int_equal(used, step);
        }
        i += used;
    }
    if (rc == GW_H1_MORE && eof) {
        rc = gw_h1_eof(p);
    }
    return rc;
}

static void ok_both(const char *text, bool eof, int status, const char *body, bool keep)
{
    for (int bw = 0; bw < 2; bw++) {
        gw_h1 *p = malloc(sizeof(*p));
        got *g = malloc(sizeof(*g));
        gw_h1_rc rc = run(text, bw == 1, eof, p, g);
        if (rc != GW_H1_DONE) {
            fail_msg("not DONE (%d, %s) for: %s", rc, p->error ? p->error : "-", text);
        }
        assert_int_equal(g->heads, 1);
        assert_int_equal(g->status, status);
        assert_int_equal(g->len, strlen(body));
        assert_memory_equal(g->body, body, g->len);
        assert_int_equal(p->keep_alive, keep);
        free(p);
        free(g);
    }
}

static void refused(const char *text, const char *why)
{
    for (int bw = 0; bw < 2; bw++) {
        gw_h1 *p = malloc(sizeof(*p));
        got *g = malloc(sizeof(*g));
        gw_h1_rc rc = run(text, bw == 1, true, p, g);
        if (rc != GW_H1_ERROR || p->error == NULL || strstr(p->error, why) == NULL) {
            fail_msg("want an error with \"%s\", got %d (%s) for: %s", why, rc,
                     p->error ? p->error : "-", text);
        }
        assert_false(p->keep_alive);
        free(p);
        free(g);
    }
}

static void test_framings(void **state)
{
    (void)state;
    ok_both("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
            "{\"a\":1}",
            false, 200, "{\"a\":1}", true);
    ok_both("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\n\r\n",
            false, 200, "abc0123456789abcdef", true);
    ok_both("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
            "1\r\nx\r\n0\r\nX-Trailer: t\r\n\r\n",
            false, 200, "x", true);
    ok_both("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {}\n\n", true, 200,
            "data: {}\n\n", false); /* until close */
    ok_both("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", false, 202, "", true);
    ok_both("HTTP/1.1 204 No Content\r\n\r\n", false, 204, "", true);
    ok_both("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
            "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
            false, 404, "no", true);
    ok_both("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\nx",
            false, 200, "x", false);
    ok_both("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 200, "x", false);
    ok_both("HTTP/1.1 200\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false, 200, "x",
            true); /* no reason phrase; a repeated equal CL */

    /* Content-Type and Mcp-Session-Id are read; a session id with a space is not taken. */
    gw_h1 *p = malloc(sizeof(*p));
    got *g = malloc(sizeof(*g));
    assert_int_equal(run("HTTP/1.1 200 OK\r\ncontent-type:  text/event-stream \r\n"
                         "MCP-Session-Id: abc-123\r\nContent-Length: 0\r\n\r\n",
                         false, false, p, g),
                     GW_H1_DONE);
    assert_string_equal(p->ctype, "text/event-stream");
    assert_string_equal(p->sid, "abc-123");
    assert_int_equal(run("HTTP/1.1 200 OK\r\nMcp-Session-Id: a b\r\nContent-Length: 0\r\n\r\n",
                         false, false, p, g),
                     GW_H1_DONE);
    assert_string_equal(p->sid, "");

    /* Bytes past the response: DONE, the rest not consumed, the connection not reused. */
    gw_h1_cb cb = {on_head, on_data, g};
    gw_h1_init(p);
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n";
    size_t used = 0;
    assert_int_equal(gw_h1_feed(p, two, strlen(two), &used, &cb), GW_H1_DONE);
    assert_int_equal(used, strlen("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"));
    assert_false(p->keep_alive);
    free(p);
    free(g);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "both Content-Length and Transfer-Encoding");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            "two different Content-Lengths");
    refused("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx", "bad Content-Length");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n", "bad Content-Length");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "transfer coding");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "transfer coding");
    refused("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n", "folding");
    refused("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare LF");
    refused("HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n", "bare CR");
    refused("HTTP/1.1 200 OK\r\nX-A: a\x01" "b\r\nContent-Length: 0\r\n\r\n", "control character");
    refused("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", "not a token");
    refused("HTTP/1.1 200 OK\r\n: x\r\n\r\n", "no name");
    refused("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", "upgrade");
    refused("HTTP/2 200\r\n\r\n", "status line");
    refused("HTTP/1.1 2000 OK\r\n\r\n", "status line");
    refused("HTTP/1.1 600 Nope\r\n\r\n", "status line");
    refused("\r\nHTTP/1.1 200 OK\r\n\r\n", "empty line");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000001\r\n",
            "too large");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
            "CRLF");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n",
            "chunk extension");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk-size");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "mid-response");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", "mid-response");
    refused("", "before a response");

    /* A head over the cap. */
    size_t n = GW_H1_MAX_HEAD + 64;
    char *big = malloc(n + 1);
    memcpy(big, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
    memset(big + 24, 'a', n - 24);
    big[n] = '\0';
    refused(big, "too large");
    free(big);
}

static bool stop_head(void *ud, const gw_h1 *p)
{
    (void)ud;
    (void)p;
    return false;
}

static void test_callbacks_stop(void **state)
{
    (void)state;
    gw_h1 *p = malloc(sizeof(*p));
    got g;
    memset(&g, 0, sizeof(g));
    gw_h1_cb cb = {stop_head, on_data, &g};
    gw_h1_init(p);
    const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    size_t used = 0;
    assert_int_equal(gw_h1_feed(p, r, strlen(r), &used, &cb), GW_H1_ERROR);
    assert_string_equal(p->error, "stopped");
    assert_int_equal(g.len, 0);
    assert_false(gw_h1_started(p) == false);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framings),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_callbacks_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
