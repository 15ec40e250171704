/*
 * Strict base64url (RFC 4648 §5 alphabet, RFC 7515 §2 "no padding", canonical encoding).
 *
 * Hand-written on purpose: OpenSSL's EVP_DecodeBlock knows only the '+' '/' alphabet and skips
 * whitespace, and nothing in our dependencies is strict about unused bits. Strictness matters:
 * a lenient decoder makes several distinct strings decode to the same bytes (token
 * malleability; Wycheproof json_web_signature tcId 360/365/368/375).
 */
#include "jose.h"

/* 0..63 for the alphabet, 0xff for everything else (including '=', '+', '/', spaces, NUL). */
static const unsigned char k_dec[256] = {
#define X 0xff
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x00 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  /* 0x20 '-' */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  /* 0x30 '0'-'9' */
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 'A'- */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  63, /* 0x50 -'Z' '_' */
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 'a'- */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* 0x70 -'z' */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
#undef X
};

static const char k_enc[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

dmcp_status dmcp__b64url_decode(const char *in, size_t len, unsigned char *out, size_t *out_len)
{
    if (out_len != NULL) {
        *out_len = 0;
    }
    if ((in == NULL && len != 0) || out == NULL || out_len == NULL) {
        return DMCP_E_MALFORMED_REQUEST;
    }
    /* One leftover character carries 6 bits: not even one byte (RFC 4648 §5). */
    if (len % 4 == 1) {
        return DMCP_E_MALFORMED_REQUEST;
    }
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    size_t i = 0;
    unsigned bad = 0;
    for (; i + 4 <= len; i += 4) {
        unsigned a = k_dec[p[i]];
        unsigned b = k_dec[p[i + 1]];
        unsigned c = k_dec[p[i + 2]];
        unsigned d = k_dec[p[i + 3]];
        bad |= a | b | c | d;
        unsigned v = (a << 18) | (b << 12) | (c << 6) | d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    size_t rest = len - i;
    if (rest == 2) {
        unsigned a = k_dec[p[i]];
        unsigned b = k_dec[p[i + 1]];
        bad |= a | b;
        /* 12 bits carry 8: the low 4 bits of the last character must be zero (canonical). */
        if ((b & 0x0fu) != 0) {
            bad |= 0xffu;
        }
        out[o++] = (unsigned char)((a << 2) | (b >> 4));
    } else if (rest == 3) {
        unsigned a = k_dec[p[i]];
        unsigned b = k_dec[p[i + 1]];
        unsigned c = k_dec[p[i + 2]];
        bad |= a | b | c;
        /* 18 bits carry 16: the low 2 bits of the last character must be zero. */
        if ((c & 0x03u) != 0) {
            bad |= 0xffu;
        }
        unsigned v = (a << 12) | (b << 6) | c;
        out[o++] = (unsigned char)(v >> 10);
        out[o++] = (unsigned char)(v >> 2);
    }
    /* Every valid value is < 64; 0xff marks a character outside the alphabet. */
    if ((bad & 0xc0u) != 0) {
        return DMCP_E_MALFORMED_REQUEST;
    }
    *out_len = o;
    return DMCP_OK;
}

size_t dmcp__b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = ((unsigned)in[i] << 16) | ((unsigned)in[i + 1] << 8) | in[i + 2];
        out[o++] = k_enc[(v >> 18) & 63u];
        out[o++] = k_enc[(v >> 12) & 63u];
        out[o++] = k_enc[(v >> 6) & 63u];
        out[o++] = k_enc[v & 63u];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = k_enc[(v >> 18) & 63u];
        out[o++] = k_enc[(v >> 12) & 63u];
    } else if (len - i == 2) {
        unsigned v = ((unsigned)in[i] << 16) | ((unsigned)in[i + 1] << 8);
        out[o++] = k_enc[(v >> 18) & 63u];
        out[o++] = k_enc[(v >> 12) & 63u];
        out[o++] = k_enc[(v >> 6) & 63u];
    }
    out[o] = '\0';
    return o;
}
