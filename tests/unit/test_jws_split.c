/* Compact JWS splitting (RFC 7515 §7.1): segment counts, empty segments, strict base64url in
 * every segment, size ceiling. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "auth/jose.h"

static dmcp_status split(const char *tok, dmcp__jws_parts *p, dmcp_error *err)
{
    return dmcp__jws_split(tok, strlen(tok), p, err);
}

static void expect_malformed(const char *tok)
{
    dmcp__jws_parts p;
    dmcp_error err;
    dmcp_error_clear(&err);
    assert_int_equal(split(tok, &p, &err), DMCP_E_INVALID_TOKEN);
    assert_int_equal(err.reason, DMCP_REASON_MALFORMED);
    assert_null(p.mem);
    assert_null(p.header);
}

static void test_ok(void **state)
{
    (void)state;
    dmcp__jws_parts p;
    const char *tok = "eyJhbGciOiJFUzI1NiJ9.Zm9vYmFy.AAEC";
    assert_int_equal(split(tok, &p, NULL), DMCP_OK);
    assert_ptr_equal(p.signing_input, tok);
    assert_int_equal(p.signing_input_len, strlen("eyJhbGciOiJFUzI1NiJ9.Zm9vYmFy"));
    assert_int_equal(p.header_len, strlen("{\"alg\":\"ES256\"}"));
    assert_memory_equal(p.header, "{\"alg\":\"ES256\"}", p.header_len);
    assert_int_equal(p.payload_len, 6);
    assert_memory_equal(p.payload, "foobar", 6);
    assert_int_equal(p.sig_len, 3);
    assert_memory_equal(p.sig, "\x00\x01\x02", 3);
    dmcp__jws_parts_clear(&p);
    assert_null(p.mem);
    dmcp__jws_parts_clear(&p); /* idempotent */
    dmcp__jws_parts_clear(NULL);
}

static void test_segment_counts(void **state)
{
    (void)state;
    expect_malformed("eyJhbGciOiJFUzI1NiJ9");             /* 0 dots */
    expect_malformed("eyJhbGciOiJFUzI1NiJ9.Zm9v");        /* 1 dot */
    expect_malformed("eyJhbGciOiJFUzI1NiJ9.Zm9v.AAEC.AA"); /* 3 dots */
    expect_malformed("eyJhbGciOiJFUzI1NiJ9.Zm9v.AAEC.AA.AA"); /* 4 dots: JWE shape */
    expect_malformed("eyJhbGciOiJFUzI1NiJ9.Zm9v.AAEC.");
    expect_malformed("");
    expect_malformed(".");
    expect_malformed("..");
    expect_malformed("...");
}

static void test_empty_segments(void **state)
{
    (void)state;
    expect_malformed(".Zm9v.AAEC");   /* empty header */
    /* Empty payload: the detached-content form (RFC 7515 Appendix F) is not a JWT. */
    expect_malformed("eyJhbGciOiJFUzI1NiJ9..AAEC");
    /* An empty signature splits (sig_len 0); every verifier rejects that length. */
    dmcp__jws_parts p;
    assert_int_equal(split("eyJhbGciOiJFUzI1NiJ9.Zm9v.", &p, NULL), DMCP_OK);
    assert_int_equal(p.sig_len, 0);
    dmcp__jws_parts_clear(&p);
}

static void test_bad_base64url_each_segment(void **state)
{
    (void)state;
    static const char *bad[] = {"eyJhbGciOiJFUzI1NiJ9=", "eyJh bGciOiJFUzI1NiJ9", "eyJh+GciOiJFUzI1NiJ9",
                                "eyJhbGciOiJFUzI1NiJ", "Zh"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(bad); i++) {
        char tok[128];
        snprintf(tok, sizeof(tok), "%s.Zm9v.AAEC", bad[i]);
        expect_malformed(tok);
        snprintf(tok, sizeof(tok), "eyJhbGciOiJFUzI1NiJ9.%s.AAEC", bad[i]);
        expect_malformed(tok);
        snprintf(tok, sizeof(tok), "eyJhbGciOiJFUzI1NiJ9.Zm9v.%s", bad[i]);
        expect_malformed(tok);
    }
    /* An embedded NUL inside the stated length. */
    dmcp__jws_parts p;
    assert_int_equal(dmcp__jws_split("eyJ9.Zm\0v.AAEC", 14, &p, NULL), DMCP_E_INVALID_TOKEN);
}

static void test_oversized(void **state)
{
    (void)state;
    size_t len = (size_t)DMCP_MAX_TOKEN_BYTES_LIMIT + 1;
    char *tok = malloc(len + 1);
    assert_non_null(tok);
    memset(tok, 'A', len);
    tok[10] = '.';
    tok[20] = '.';
    tok[len] = '\0';
    dmcp__jws_parts p;
    dmcp_error err;
    assert_int_equal(dmcp__jws_split(tok, len, &p, &err), DMCP_E_INVALID_TOKEN);
    assert_int_equal(err.reason, DMCP_REASON_TOO_LARGE);
    assert_null(p.mem);
    /* At the limit it is only a matter of content: make it valid base64url lengths. */
    len = DMCP_MAX_TOKEN_BYTES_LIMIT;
    tok[len] = '\0';
    /* segments: 10, 9, len-21 chars; 10 % 4 = 2 ok, 9 % 4 = 1 bad -> shift the second dot */
    tok[20] = 'A';
    tok[19] = '.';
    size_t third = len - 20;
    if (third % 4 == 1) {
        tok[len - 1] = '\0';
        len--;
    }
    assert_int_equal(dmcp__jws_split(tok, len, &p, NULL), DMCP_OK);
    assert_int_equal(p.signing_input_len, 19);
    dmcp__jws_parts_clear(&p);
    free(tok);
}

static void test_null_args(void **state)
{
    (void)state;
    dmcp__jws_parts p;
    assert_int_equal(dmcp__jws_split(NULL, 0, &p, NULL), DMCP_E_INVALID_TOKEN);
    assert_int_equal(dmcp__jws_split("a.b.c", 5, NULL, NULL), DMCP_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_segment_counts),
        cmocka_unit_test(test_empty_segments),
        cmocka_unit_test(test_bad_base64url_each_segment),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_null_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
