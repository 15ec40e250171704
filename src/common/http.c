/* Hardened libcurl client (dependencies.md §4). */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http.h"
#include "url.h"

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    dmcp__buf *b = userdata;
    size_t n = size * nmemb;
    if (dmcp__buf_append(b, ptr, n) != DMCP_OK) {
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

long dmcp__parse_max_age(const char *cc)
{
    if (cc == NULL) {
        return -1;
    }
    const char *p = cc;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (dmcp__ascii_ncasecmp(p, "max-age", 7) == 0) {
            const char *q = p + 7;
            while (*q == ' ') {
                q++;
            }
            if (*q == '=') {
                q++;
                while (*q == ' ') {
                    q++;
                }
                if (*q == '"') {
                    q++;
                }
                if (*q < '0' || *q > '9') {
                    return -1;
                }
                long v = 0;
                while (*q >= '0' && *q <= '9') {
                    if (v > (LONG_MAX - 9) / 10) {
                        return LONG_MAX / 2;
                    }
                    v = v * 10 + (*q - '0');
                    q++;
                }
                return v;
            }
        }
        while (*p != '\0' && *p != ',') {
            p++;
        }
    }
    return -1;
}

static long parse_retry_after(const char *v)
{
    if (v == NULL) {
        return -1;
    }
    while (*v == ' ') {
        v++;
    }
    if (*v < '0' || *v > '9') {
        return -1;
    }
    long n = 0;
    while (*v >= '0' && *v <= '9') {
        if (n > 100000000L) {
            return -1;
        }
        n = n * 10 + (*v - '0');
        v++;
    }
    while (*v == ' ') {
        v++;
    }
    return *v == '\0' ? n : -1;
}

void dmcp__http_response_free(dmcp__http_response *resp)
{
    if (resp == NULL) {
        return;
    }
    dmcp__buf_free_secret(&resp->body); /* replies may carry tokens */
    free(resp->content_type);
    resp->content_type = NULL;
}

dmcp_status dmcp__http_request(const dmcp__http_opts *opts, const char *method, const char *url,
                               const char *const *headers, const char *body, size_t body_len,
                               dmcp__http_response *resp, dmcp_error *err)
{
    memset(resp, 0, sizeof(*resp));
    resp->max_age = -1;
    resp->retry_after = -1;
    size_t max = (opts && opts->max_bytes) ? opts->max_bytes : DMCP_MAX_METADATA_BYTES;
    dmcp__buf_init(&resp->body, max);

    bool loopback = false;
    dmcp_status st = dmcp__url_check(url, true, &loopback, err);
    if (st != DMCP_OK) {
        return st;
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        struct curl_slist *n = curl_slist_append(hl, headers[i]);
        if (n == NULL) {
            curl_slist_free_all(hl);
            curl_easy_cleanup(h);
            return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
        }
        hl = n;
    }
    long cto = (opts && opts->connect_timeout_ms > 0) ? opts->connect_timeout_ms : 3000;
    long tto = (opts && opts->total_timeout_ms > 0) ? opts->total_timeout_ms : 5000;

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, loopback ? "http,https" : "https");
    if (loopback) {
        /* A loopback URL names this machine: never route it through an environment proxy. */
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    }
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cto);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, tto);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp->body);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "descope-mcp-c");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
    if (opts && opts->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, opts->ca_file);
    }
    if (hl != NULL) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    }
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (method != NULL && strcmp(method, "GET") != 0 &&
        !(strcmp(method, "POST") == 0 && body != NULL)) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }

    CURLcode rc = curl_easy_perform(h);
    switch (rc) {
    case CURLE_OK:
        st = DMCP_OK;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        st = dmcp__fail(err, DMCP_E_TIMEOUT, DMCP_REASON_NONE, "request timed out");
        break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        st = dmcp__fail(err, DMCP_E_TOO_LARGE, DMCP_REASON_NONE, "reply larger than %zu bytes",
                        max);
        break;
    case CURLE_OUT_OF_MEMORY:
        st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
        break;
    default:
        st = dmcp__fail(err, DMCP_E_UNREACHABLE, DMCP_REASON_NONE, "request failed: %s",
                        curl_easy_strerror(rc));
        break;
    }
    if (st == DMCP_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        struct curl_header *hdr = NULL;
        if (curl_easy_header(h, "Content-Type", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK) {
            resp->content_type = dmcp__strdup(hdr->value);
        }
        if (curl_easy_header(h, "Cache-Control", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK) {
            resp->max_age = dmcp__parse_max_age(hdr->value);
        }
        if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK) {
            resp->retry_after = parse_retry_after(hdr->value);
        }
    } else {
        dmcp__buf_free(&resp->body);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return st;
}
