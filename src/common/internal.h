/*
 * Internal helpers shared by every part of the library (never installed).
 * Internal non-static symbols use the dmcp__ prefix.
 */
#ifndef DMCP_INTERNAL_H
#define DMCP_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dmcp/common.h"

#if defined(__GNUC__)
#define DMCP__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DMCP__PRINTF(a, b)
#endif

#define DMCP__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fills err (if non-NULL) and returns status. The message must never contain a secret. */
dmcp_status dmcp__fail(dmcp_error *err, dmcp_status status, dmcp_reason reason, const char *fmt,
                       ...) DMCP__PRINTF(4, 5);

/* strdup/strndup that return NULL on NULL input or allocation failure. */
char *dmcp__strdup(const char *s);
char *dmcp__strndup(const char *s, size_t n);

/* Overwrites then frees a buffer that held a secret (OPENSSL_cleanse). NULL is a no-op. */
void dmcp__free_secret(void *p, size_t len);
void dmcp__free_secret_str(char *s);

/* Lazily runs dmcp_global_init() exactly once (pthread_once). */
dmcp_status dmcp__ensure_init(void);

/*
 * A growable byte buffer with a hard cap (curl's dynbuf idea): appends that would pass `max`
 * fail with DMCP_E_TOO_LARGE and leave the buffer unchanged. Always NUL-terminated when
 * non-empty so text can be read as a C string.
 */
typedef struct dmcp__buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} dmcp__buf;

void dmcp__buf_init(dmcp__buf *b, size_t max);
dmcp_status dmcp__buf_append(dmcp__buf *b, const void *data, size_t len);
dmcp_status dmcp__buf_appends(dmcp__buf *b, const char *s);
dmcp_status dmcp__buf_printf(dmcp__buf *b, const char *fmt, ...) DMCP__PRINTF(2, 3);
/* Hands the data (NUL-terminated, possibly NULL when empty) to the caller; buffer is reset. */
char *dmcp__buf_take(dmcp__buf *b, size_t *len);
void dmcp__buf_free(dmcp__buf *b);
/* As dmcp__buf_free(), wiping the contents first. */
void dmcp__buf_free_secret(dmcp__buf *b);

/* True for localhost, 127.0.0.0/8 and ::1 (with or without brackets). */
bool dmcp__host_is_loopback(const char *host);

/* Case-insensitive ASCII compare, independent of locale. */
int dmcp__ascii_casecmp(const char *a, const char *b);

/* seal.c: HMAC-SHA256 (key_len 1..1024), a constant-time compare, CSPRNG bytes (len <= 1024). */
dmcp_status dmcp__hmac_sha256(const unsigned char *key, size_t key_len, const void *data,
                              size_t len, unsigned char out[32]);
bool dmcp__mac_equal(const unsigned char *a, const unsigned char *b, size_t len);
dmcp_status dmcp__random_bytes(unsigned char *out, size_t len);
int dmcp__ascii_ncasecmp(const char *a, const char *b, size_t n);

#endif /* DMCP_INTERNAL_H */
