/* Strict base64url (RFC 4648 §5, RFC 7515 §2): every strictness rule and round trips. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "auth/jose.h"

static dmcp_status dec(const char *s, unsigned char *out, size_t *out_len)
{
    return dmcp__b64url_decode(s, strlen(s), out, out_len);
}

static void test_known_values(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 99;
    /* RFC 4648 §10 test vectors, in the url alphabet without padding. */
    assert_int_equal(dec("", out, &n), DMCP_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dec("Zg", out, &n), DMCP_OK);
    assert_memory_equal(out, "f", 1);
    assert_int_equal(n, 1);
    assert_int_equal(dec("Zm8", out, &n), DMCP_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(dec("Zm9v", out, &n), DMCP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(dec("Zm9vYmFy", out, &n), DMCP_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "foobar", 6);
    /* '-' and '_' are 62 and 63. */
    assert_int_equal(dec("-_-_", out, &n), DMCP_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
}

static void test_padding_rejected(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 0;
    assert_int_equal(dec("Zg==", out, &n), DMCP_E_MALFORMED_REQUEST);
    assert_int_equal(dec("Zm8=", out, &n), DMCP_E_MALFORMED_REQUEST);
    assert_int_equal(dec("Zm9v====", out, &n), DMCP_E_MALFORMED_REQUEST);
    assert_int_equal(dec("=", out, &n), DMCP_E_MALFORMED_REQUEST);
    assert_int_equal(dec("Zm=v", out, &n), DMCP_E_MALFORMED_REQUEST);
}

static void test_whitespace_and_foreign_chars_rejected(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 0;
    static const char *bad[] = {"Zm9 v", " Zm9v", "Zm9v ", "Zm9v\n", "Zm\r9v", "Zm\t9v",
                                "Zm9+", "Zm9/", "Zm.v", "Zm9v!", "Zm9\x80", "Zm9\xff"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(bad); i++) {
        assert_int_equal(dec(bad[i], out, &n), DMCP_E_MALFORMED_REQUEST);
    }
    /* An embedded NUL is not end of input: the length says so. */
    assert_int_equal(dmcp__b64url_decode("Zm\0v", 4, out, &n), DMCP_E_MALFORMED_REQUEST);
    /* Every byte outside the alphabet, in every position of a quantum and of each tail. */
    for (int c = 0; c < 256; c++) {
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_';
        if (alpha) {
            continue;
        }
        for (size_t len = 2; len <= 4; len++) {
            for (size_t pos = 0; pos < len; pos++) {
                char s[4] = {'A', 'A', 'A', 'A'};
                s[pos] = (char)c;
                assert_int_equal(dmcp__b64url_decode(s, len, out, &n), DMCP_E_MALFORMED_REQUEST);
            }
        }
    }
}

static void test_length_1_mod_4_rejected(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 0;
    assert_int_equal(dec("A", out, &n), DMCP_E_MALFORMED_REQUEST);
    assert_int_equal(dec("AAAAA", out, &n), DMCP_E_MALFORMED_REQUEST);
    assert_int_equal(dec("Zm9vY", out, &n), DMCP_E_MALFORMED_REQUEST);
}

static void test_unused_bits_must_be_zero(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 0;
    /* 2-char tail: 12 bits carry one byte; the last char's low 4 bits are unused.
     * "Zg" is canonical for "f"; "Zh".."Zv" decode to the same byte in a lenient decoder. */
    assert_int_equal(dec("Zg", out, &n), DMCP_OK);
    static const char *tail2[] = {"Zh", "Zi", "Zp", "Zv", "AB", "AP"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(tail2); i++) {
        assert_int_equal(dec(tail2[i], out, &n), DMCP_E_MALFORMED_REQUEST);
    }
    /* 3-char tail: 18 bits carry two bytes; the low 2 bits are unused. */
    assert_int_equal(dec("Zm8", out, &n), DMCP_OK);
    static const char *tail3[] = {"Zm9", "Zm-", "Zm_", "AAB", "AAD"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(tail3); i++) {
        assert_int_equal(dec(tail3[i], out, &n), DMCP_E_MALFORMED_REQUEST);
    }
    /* Same after full quanta. */
    assert_int_equal(dec("Zm9vZh", out, &n), DMCP_E_MALFORMED_REQUEST);
    assert_int_equal(dec("Zm9vZm9", out, &n), DMCP_E_MALFORMED_REQUEST);
    /* Exhaustive over the last character of both tails: exactly the canonical ones pass. */
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int v = 0; v < 64; v++) {
        char s2[2] = {'A', abc[v]};
        char s3[3] = {'A', 'A', abc[v]};
        assert_int_equal(dmcp__b64url_decode(s2, 2, out, &n) == DMCP_OK, (v & 15) == 0);
        assert_int_equal(dmcp__b64url_decode(s3, 3, out, &n) == DMCP_OK, (v & 3) == 0);
    }
}

static void test_empty_input(void **state)
{
    (void)state;
    unsigned char out[4];
    size_t n = 7;
    assert_int_equal(dmcp__b64url_decode("", 0, out, &n), DMCP_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dmcp__b64url_decode(NULL, 0, out, &n), DMCP_OK);
    assert_int_equal(dmcp__b64url_decode(NULL, 4, out, &n), DMCP_E_MALFORMED_REQUEST);
    char enc[4];
    assert_int_equal(dmcp__b64url_encode((const unsigned char *)"", 0, enc), 0);
    assert_string_equal(enc, "");
}

static void test_round_trip_every_byte(void **state)
{
    (void)state;
    unsigned char in[256];
    unsigned char back[DMCP__B64URL_DECODED_MAX(344)];
    char enc[(256 * 4 + 2) / 3 + 1];
    for (int i = 0; i < 256; i++) {
        in[i] = (unsigned char)i;
    }
    /* Each single byte, and every prefix and offset window of 0..255 (all tail lengths). */
    for (int b = 0; b < 256; b++) {
        size_t n = 0;
        size_t e = dmcp__b64url_encode(&in[b], 1, enc);
        assert_int_equal(e, 2);
        assert_int_equal(dmcp__b64url_decode(enc, e, back, &n), DMCP_OK);
        assert_int_equal(n, 1);
        assert_int_equal(back[0], b);
    }
    for (size_t off = 0; off < 3; off++) {
        for (size_t len = 0; len + off <= 256; len++) {
            size_t n = 0;
            size_t e = dmcp__b64url_encode(in + off, len, enc);
            assert_int_equal(e, (len * 4 + 2) / 3);
            assert_int_equal(strlen(enc), e);
            assert_null(strpbrk(enc, "=+/"));
            assert_int_equal(dmcp__b64url_decode(enc, e, back, &n), DMCP_OK);
            assert_int_equal(n, len);
            assert_memory_equal(back, in + off, len);
        }
    }
}

static void test_decoded_max_is_enough(void **state)
{
    (void)state;
    for (size_t len = 0; len < 64; len++) {
        if (len % 4 == 1) {
            continue;
        }
        assert_true(DMCP__B64URL_DECODED_MAX(len) >= len * 3 / 4);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_padding_rejected),
        cmocka_unit_test(test_whitespace_and_foreign_chars_rejected),
        cmocka_unit_test(test_length_1_mod_4_rejected),
        cmocka_unit_test(test_unused_bits_must_be_zero),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_round_trip_every_byte),
        cmocka_unit_test(test_decoded_max_is_enough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
