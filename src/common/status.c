/* Status codes, error detail, global initialisation. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "dmcp/version.h"
#include "internal.h"

const char *dmcp_strerror(dmcp_status status)
{
    switch (status) {
#define DMCP__STATUS_MSG(name, value, msg)                                                     \
    case DMCP_##name:                                                                          \
        return msg;
        DMCP_STATUS_MAP(DMCP__STATUS_MSG)
#undef DMCP__STATUS_MSG
    default:
        return "unknown status";
    }
}

const char *dmcp_status_name(dmcp_status status)
{
    switch (status) {
#define DMCP__STATUS_NAME(name, value, msg)                                                    \
    case DMCP_##name:                                                                          \
        return "DMCP_" #name;
        DMCP_STATUS_MAP(DMCP__STATUS_NAME)
#undef DMCP__STATUS_NAME
    default:
        return "DMCP_UNKNOWN";
    }
}

void dmcp_error_clear(dmcp_error *err)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
}

void dmcp_free(void *ptr)
{
    free(ptr);
}

const char *dmcp_version(void)
{
    return DMCP_VERSION_STRING;
}

unsigned dmcp_version_num(void)
{
    return (unsigned)DMCP_VERSION_NUM;
}

dmcp_status dmcp__fail(dmcp_error *err, dmcp_status status, dmcp_reason reason,
                       const char *fmt, ...)
{
    if (err != NULL) {
        err->status = status;
        err->reason = reason;
        if (fmt != NULL) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err->message, sizeof(err->message), fmt, ap);
            va_end(ap);
        } else {
            snprintf(err->message, sizeof(err->message), "%s", dmcp_strerror(status));
        }
    }
    return status;
}

char *dmcp__strdup(const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    return dmcp__strndup(s, strlen(s));
}

char *dmcp__strndup(const char *s, size_t n)
{
    if (s == NULL) {
        return NULL;
    }
    char *p = malloc(n + 1);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void dmcp__free_secret(void *p, size_t len)
{
    if (p == NULL) {
        return;
    }
    OPENSSL_cleanse(p, len);
    free(p);
}

void dmcp__free_secret_str(char *s)
{
    if (s != NULL) {
        dmcp__free_secret(s, strlen(s));
    }
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static dmcp_status init_status = DMCP_OK;

static void do_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        init_status = DMCP_E_INTERNAL;
        return;
    }
    /* jansson: seed the hash function before threads start (HashDoS). */
    json_object_seed(0);
}

dmcp_status dmcp__ensure_init(void)
{
    pthread_once(&init_once, do_init);
    return init_status;
}

dmcp_status dmcp_global_init(void)
{
    return dmcp__ensure_init();
}

void dmcp_global_cleanup(void)
{
    /* curl_global_cleanup() is not safe to pair with a pthread_once init that may run again;
     * the process keeps libcurl initialised until exit, which is what libcurl recommends for
     * libraries. */
}

int dmcp__ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = (unsigned char)*a;
        int cb = (unsigned char)*b;
        if (ca >= 'A' && ca <= 'Z') {
            ca += 'a' - 'A';
        }
        if (cb >= 'A' && cb <= 'Z') {
            cb += 'a' - 'A';
        }
        if (ca != cb || ca == 0) {
            return ca - cb;
        }
    }
}

int dmcp__ascii_ncasecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int ca = (unsigned char)a[i];
        int cb = (unsigned char)b[i];
        if (ca >= 'A' && ca <= 'Z') {
            ca += 'a' - 'A';
        }
        if (cb >= 'A' && cb <= 'Z') {
            cb += 'a' - 'A';
        }
        if (ca != cb || ca == 0) {
            return ca - cb;
        }
    }
    return 0;
}
