/* URL checks and well-known URL derivation (descope-wire-protocol.md §1.2). */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "url.h"

#define WK_SUFFIX "/.well-known/openid-configuration"


bool dmcp__project_id_valid(const char *pid)
{
    size_t n = pid ? strlen(pid) : 0;
    /* Descope project ids start with "P" (wire protocol §1.1); this also keeps a generic
     * issuer such as https://idp.example.com/oidc from being taken for the legacy shape. */
    if (n < 2 || n > 64 || pid[0] != 'P') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = pid[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return true;
}

static dmcp_status get_part(CURLU *u, CURLUPart part, char **out)
{
    *out = NULL;
    CURLUcode rc = curl_url_get(u, part, out, 0);
    if (rc == CURLUE_OK) {
        return DMCP_OK;
    }
    if (rc == CURLUE_OUT_OF_MEMORY) {
        return DMCP_E_NOMEM;
    }
    return DMCP_E_NOT_FOUND;
}

dmcp_status dmcp__url_check(const char *url, bool allow_query, bool *loopback, dmcp_error *err)
{
    if (url == NULL || *url == '\0') {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "empty URL");
    }
    if (strlen(url) > DMCP_MAX_URL_BYTES) {
        return dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "URL too long");
    }
    dmcp_status st = dmcp__ensure_init();
    if (st != DMCP_OK) {
        return dmcp__fail(err, st, DMCP_REASON_NONE, "library initialisation failed");
    }
    CURLU *u = curl_url();
    if (u == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
    }
    char *scheme = NULL, *host = NULL, *tmp = NULL;
    st = DMCP_OK;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "not an absolute URL");
        goto out;
    }
    if (get_part(u, CURLUPART_SCHEME, &scheme) != DMCP_OK ||
        get_part(u, CURLUPART_HOST, &host) != DMCP_OK || host[0] == '\0') {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "URL has no scheme or host");
        goto out;
    }
    bool lb = dmcp__host_is_loopback(host);
    if (strcmp(scheme, "https") != 0 && !(strcmp(scheme, "http") == 0 && lb)) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "URL must use https (http is allowed for loopback hosts only)");
        goto out;
    }
    if (get_part(u, CURLUPART_USER, &tmp) == DMCP_OK) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "URL must not carry userinfo");
        goto out;
    }
    if (get_part(u, CURLUPART_FRAGMENT, &tmp) == DMCP_OK || strchr(url, '#') != NULL) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "URL must not have a fragment");
        goto out;
    }
    if (!allow_query && (get_part(u, CURLUPART_QUERY, &tmp) == DMCP_OK || strchr(url, '?'))) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "URL must not have a query");
        goto out;
    }
    if (loopback != NULL) {
        *loopback = lb;
    }
out:
    curl_free(tmp);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return st;
}

void dmcp__wellknown_free(dmcp__wellknown *wk)
{
    if (wk == NULL) {
        return;
    }
    free(wk->discovery_url);
    free(wk->issuer);
    free(wk->origin);
    free(wk->project_id);
    free(wk->server_id);
    memset(wk, 0, sizeof(*wk));
}

/* Splits path into non-empty segments (at most max); returns the count or -1 if more. */
static int split_path(char *path, char **segs, int max)
{
    int n = 0;
    for (char *p = strtok(path, "/"); p != NULL; p = strtok(NULL, "/")) {
        if (n == max) {
            return -1;
        }
        segs[n++] = p;
    }
    return n;
}

dmcp_status dmcp__wellknown_parse(const char *url, bool descope_only, dmcp__wellknown *out,
                                  dmcp_error *err)
{
    memset(out, 0, sizeof(*out));
    bool lb = false;
    dmcp_status st = dmcp__url_check(url, false, &lb, err);
    if (st != DMCP_OK) {
        return st;
    }
    size_t n = strlen(url);
    size_t sfx = strlen(WK_SUFFIX);
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;

    /* Step 2: issuer = URL minus the suffix, or the URL itself (OIDC Discovery 1.0 §4). */
    if (n > sfx && strcmp(url + n - sfx, WK_SUFFIX) == 0) {
        out->issuer = dmcp__strndup(url, n - sfx);
        out->discovery_url = dmcp__strdup(url);
    } else {
        out->issuer = dmcp__strdup(url);
        size_t base = n;
        while (base > 0 && url[base - 1] == '/') {
            base--; /* §4: a terminating "/" is removed before appending */
        }
        out->discovery_url = malloc(base + sfx + 1);
        if (out->discovery_url != NULL) {
            memcpy(out->discovery_url, url, base);
            memcpy(out->discovery_url + base, WK_SUFFIX, sfx + 1);
        }
    }
    if (out->issuer == NULL || out->discovery_url == NULL) {
        st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
        goto out;
    }
    out->loopback = lb;

    u = curl_url();
    if (u == NULL || curl_url_set(u, CURLUPART_URL, out->issuer, 0) != CURLUE_OK) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "issuer is not a URL");
        goto out;
    }
    if (get_part(u, CURLUPART_SCHEME, &scheme) != DMCP_OK ||
        get_part(u, CURLUPART_HOST, &host) != DMCP_OK) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE, "issuer has no host");
        goto out;
    }
    (void)get_part(u, CURLUPART_PORT, &port);
    (void)get_part(u, CURLUPART_PATH, &path);
    {
        dmcp__buf o;
        dmcp__buf_init(&o, DMCP_MAX_URL_BYTES);
        st = dmcp__buf_printf(&o, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
        if (st != DMCP_OK) {
            dmcp__buf_free(&o);
            st = dmcp__fail(err, st, DMCP_REASON_NONE, "origin too long");
            goto out;
        }
        out->origin = dmcp__buf_take(&o, NULL);
    }

    /* Step 4: project id from exactly one of the three Descope shapes. */
    char *segs[6];
    char *pcopy = dmcp__strdup(path ? path : "/");
    if (pcopy == NULL) {
        st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
        goto out;
    }
    int ns = split_path(pcopy, segs, 6);
    const char *pid = NULL, *sid = NULL;
    if (ns == 5 && strcmp(segs[0], "v1") == 0 && strcmp(segs[1], "apps") == 0 &&
        strcmp(segs[2], "agentic") == 0) {
        pid = segs[3];
        sid = segs[4];
        out->shape = DMCP__WK_AGENTIC;
    } else if (ns == 3 && strcmp(segs[0], "v1") == 0 && strcmp(segs[1], "apps") == 0) {
        pid = segs[2];
        out->shape = DMCP__WK_PROJECT;
    } else if (ns == 1 && strcmp(segs[0], "v1") != 0) {
        pid = segs[0];
        out->shape = DMCP__WK_LEGACY;
    }
    if (pid != NULL && !dmcp__project_id_valid(pid)) {
        /* Not a Descope project id: treat as a generic issuer (never guess, §7). */
        pid = NULL;
        sid = NULL;
        out->shape = DMCP__WK_GENERIC;
    }
    if (pid != NULL) {
        out->project_id = dmcp__strdup(pid);
        out->server_id = sid ? dmcp__strdup(sid) : NULL;
        if (out->project_id == NULL || (sid != NULL && out->server_id == NULL)) {
            free(pcopy);
            st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, NULL);
            goto out;
        }
    } else {
        out->shape = DMCP__WK_GENERIC;
    }
    free(pcopy);
    if (descope_only && out->project_id == NULL) {
        st = dmcp__fail(err, DMCP_E_CONFIG, DMCP_REASON_NONE,
                        "not a Descope well-known URL: no project id can be derived");
        goto out;
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    if (st != DMCP_OK) {
        dmcp__wellknown_free(out);
    }
    return st;
}
