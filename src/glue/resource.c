/*
 * The canonical resource URL and its Protected Resource Metadata URL
 * (mcp-resource-server.md §2.2-2.3; RFC 8707 §2; RFC 9728 §3.1), built with curl_url().
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "glue/glue_internal.h"
#include "internal.h"
#include "url.h"

#include "dmcp/protect.h"

static void ascii_lower(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s >= 'A' && *s <= 'Z') {
            *s = (char)(*s - 'A' + 'a');
        }
    }
}

void dmcp__canon_free(dmcp__canon *c)
{
    free(c->url);
    free(c->path_decoded);
    memset(c, 0, sizeof(*c));
}

/*
 * Canonicalises url once (§2.3). The path is taken byte for byte (CURLU_PATH_AS_IS: no
 * dot-segment removal) and only when the input has one: curl reports "/" for "https://h",
 * but adding that slash would change the identifier (RFC 9728 §3.3 compares strings;
 * typescript-sdk #1968).
 */
dmcp_status dmcp__canonicalize(const char *url, dmcp__canon *out, dmcp_error *err)
{
    memset(out, 0, sizeof(*out));
    if (url == NULL) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "no MCP server URL");
    }
    size_t len = strnlen(url, DMCP_MAX_URL_BYTES + 1);
    if (len == 0 || len > DMCP_MAX_URL_BYTES) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "MCP server URL empty or too long");
    }
    /* It goes verbatim into quoted challenge values and JSON: visible ASCII only (RFC 3986
     * URIs are ASCII; percent-encode anything else). */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7F || c == '"' || c == '\\') {
            return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                              "MCP server URL must be visible ASCII without quotes or "
                              "backslashes (percent-encode the rest)");
        }
    }
    /* Absolute, https (http on loopback), no userinfo, query or fragment (§2.3). */
    dmcp_status st = dmcp__url_check(url, false, NULL, err);
    if (st != DMCP_OK) {
        return st;
    }
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *dpath = NULL;
    if (u == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_PATH_AS_IS) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &dpath, CURLU_URLDECODE) != CURLUE_OK) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "MCP server URL cannot be parsed");
        goto out;
    }
    /* CURLU_NO_DEFAULT_PORT: no port when absent or the scheme's default (443 / 80). */
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT) != CURLUE_OK) {
        port = NULL;
    }
    const char *after = strstr(url, "://");
    bool has_path = after != NULL && strchr(after + 3, '/') != NULL;
    ascii_lower(scheme);
    ascii_lower(host);
    dmcp__buf b;
    dmcp__buf_init(&b, DMCP_MAX_URL_BYTES + 1);
    st = dmcp__buf_printf(&b, "%s://%s%s%s", scheme, host, port != NULL ? ":" : "",
                          port != NULL ? port : "");
    out->origin_len = b.len;
    if (st == DMCP_OK && has_path) {
        st = dmcp__buf_appends(&b, path);
    }
    if (st != DMCP_OK) {
        dmcp__buf_free(&b);
        st = dmcp__fail(err, st == DMCP_E_NOMEM ? st : DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "MCP server URL too long");
        goto out;
    }
    out->url = dmcp__buf_take(&b, NULL);
    out->path_decoded = dmcp__strdup(has_path ? dpath : "");
    if (out->url == NULL || out->path_decoded == NULL) {
        dmcp__canon_free(out);
        st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
        goto out;
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(dpath);
    curl_url_cleanup(u);
    return st;
}

dmcp_status dmcp_protect_canonical_resource(const char *url, char **out, dmcp_error *err)
{
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "out is NULL");
    }
    *out = NULL;
    dmcp__canon c;
    dmcp_status st = dmcp__canonicalize(url, &c, err);
    if (st == DMCP_OK) {
        *out = c.url;
        c.url = NULL;
        dmcp__canon_free(&c);
    }
    return st;
}

/*
 * RFC 9728 §3.1: the well-known segment goes between the host and the path; a terminating
 * "/" right after the host is removed first, so "https://h" and "https://h/" both give
 * "https://h/.well-known/oauth-protected-resource".
 */
char *dmcp__metadata_url(const dmcp__canon *c)
{
    const char *path = c->url + c->origin_len;
    if (strcmp(path, "/") == 0) {
        path = "";
    }
    dmcp__buf b;
    dmcp__buf_init(&b, DMCP_MAX_URL_BYTES + sizeof(DMCP__PRM_SUFFIX));
    if (dmcp__buf_append(&b, c->url, c->origin_len) != DMCP_OK ||
        dmcp__buf_appends(&b, DMCP__PRM_SUFFIX) != DMCP_OK || dmcp__buf_appends(&b, path) != DMCP_OK) {
        dmcp__buf_free(&b);
        return NULL;
    }
    return dmcp__buf_take(&b, NULL);
}

char *dmcp_protect_metadata_url(const char *resource)
{
    dmcp__canon c;
    if (dmcp__canonicalize(resource, &c, NULL) != DMCP_OK) {
        return NULL;
    }
    char *s = dmcp__metadata_url(&c);
    dmcp__canon_free(&c);
    return s;
}

