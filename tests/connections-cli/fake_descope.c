/*
 * A fake of the Descope Connections API for the command-line contract tests (never the
 * sandbox). Listens on 127.0.0.1 (ephemeral port written to --port-file), checks each request
 * strictly, and answers by appId:
 *   ok            200, a token object reflecting the request (id = endpoint, scopes = request's)
 *   notconnected  404 E111504        denied 403        unauthorized 401
 *   ratelimited   429, Retry-After 9 broken 500 with errorCode/errorDescription/errorMessage
 *   nojson        502 with an HTML body                notoken 200 without accessToken
 *   echo          400 whose errorMessage repeats the Authorization header (a leak trap)
 * A request whose Authorization is not "Bearer <FAKE_PROJECT_ID>:<FAKE_ACCESS_TOKEN or
 * FAKE_MANAGEMENT_KEY>" gets 401; a malformed body (scopes on /latest, missing options, ...)
 * gets 400 E_FAKE_BAD_REQUEST. It exits by itself after --lifetime seconds (default 60).
 * Usage: fake_descope --port-file FILE [--lifetime SECONDS]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

typedef struct req_buf {
    char data[16384];
    size_t len;
    int overflow;
} req_buf;

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL ? v : dflt;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, json_t *body,
                             const char *raw, const char *retry_after)
{
    char *s = body != NULL ? json_dumps(body, JSON_COMPACT) : strdup(raw != NULL ? raw : "");
    json_decref(body);
    if (s == NULL) {
        return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", raw != NULL ? "text/html" : "application/json");
    if (retry_after != NULL) {
        MHD_add_response_header(r, "Retry-After", retry_after);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result bad_request(struct MHD_Connection *c, const char *why)
{
    return reply(c, 400,
                 json_pack("{s:s,s:s,s:s}", "errorCode", "E_FAKE_BAD_REQUEST", "errorDescription",
                           "fake Descope rejected the request", "errorMessage", why),
                 NULL, NULL);
}

static int auth_ok(const char *auth)
{
    const char *pid = env_or("FAKE_PROJECT_ID", "P2fake");
    const char *creds[] = {getenv("FAKE_ACCESS_TOKEN"), getenv("FAKE_MANAGEMENT_KEY")};
    for (size_t i = 0; i < 2; i++) {
        char want[4096];
        if (creds[i] == NULL) {
            continue;
        }
        snprintf(want, sizeof(want), "Bearer %s:%s", pid, creds[i]);
        if (auth != NULL && strcmp(auth, want) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Body rules of wire protocol §5.2, checked strictly. */
static const char *check_body(const char *path, json_t *b)
{
    int tenant = strstr(path, "/tenant/") != NULL;
    int latest = strstr(path, "/latest") != NULL;
    if (!json_is_object(b)) {
        return "body is not a JSON object";
    }
    const char *allowed[] = {"appId", "userId", "tenantId", "scopes", "options"};
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v) {
        int known = 0;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
            known |= strcmp(k, allowed[i]) == 0;
        }
        if (!known) {
            return "unknown field";
        }
    }
    if (!json_is_string(json_object_get(b, "appId"))) {
        return "appId missing";
    }
    json_t *o = json_object_get(b, "options");
    if (!json_is_object(o) || !json_is_boolean(json_object_get(o, "withRefreshToken")) ||
        !json_is_boolean(json_object_get(o, "forceRefresh")) || json_object_size(o) != 2) {
        return "options must be {withRefreshToken, forceRefresh}";
    }
    if (latest && json_object_get(b, "scopes") != NULL) {
        return "scopes on a latest endpoint";
    }
    if (!latest) {
        json_t *s = json_object_get(b, "scopes");
        if (!json_is_array(s) || json_array_size(s) == 0) {
            return "scopes missing";
        }
    }
    if (tenant && (json_object_get(b, "userId") != NULL ||
                   !json_is_string(json_object_get(b, "tenantId")))) {
        return "tenant request needs tenantId and no userId";
    }
    if (!tenant && !json_is_string(json_object_get(b, "userId"))) {
        return "userId missing";
    }
    json_t *t = json_object_get(b, "tenantId");
    if (t != NULL && (!json_is_string(t) || json_string_length(t) == 0)) {
        return "tenantId must be a non-empty string when present";
    }
    return NULL;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    req_buf *rb = *con_cls;
    if (rb == NULL) {
        rb = calloc(1, sizeof(*rb));
        *con_cls = rb;
        return rb != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0) {
        if (rb->len + *upload_size < sizeof(rb->data)) {
            memcpy(rb->data + rb->len, upload, *upload_size);
            rb->len += *upload_size;
        } else {
            rb->overflow = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!auth_ok(auth)) {
        return reply(c, 401,
                     json_pack("{s:s,s:s}", "errorCode", "E061004", "errorDescription",
                               "Unauthorized"),
                     NULL, NULL);
    }
    static const char *paths[] = {"/v1/mgmt/outbound/app/user/token",
                                  "/v1/mgmt/outbound/app/user/token/latest",
                                  "/v1/mgmt/outbound/app/tenant/token",
                                  "/v1/mgmt/outbound/app/tenant/token/latest"};
    int known = 0;
    for (size_t i = 0; i < 4; i++) {
        known |= strcmp(url, paths[i]) == 0;
    }
    if (strcmp(method, "POST") != 0 || !known || rb->overflow) {
        return reply(c, 404, json_pack("{s:s}", "errorCode", "E_FAKE_NO_ROUTE"), NULL, NULL);
    }
    json_error_t je;
    json_t *b = json_loadb(rb->data, rb->len, JSON_REJECT_DUPLICATES, &je);
    const char *why = check_body(url, b);
    if (why != NULL) {
        json_decref(b);
        return bad_request(c, why);
    }
    const char *app = json_string_value(json_object_get(b, "appId"));
    enum MHD_Result ret;
    if (strcmp(app, "ok") == 0) {
        json_t *o = json_object_get(b, "options");
        int wr = json_is_true(json_object_get(o, "withRefreshToken"));
        const char *who = json_string_value(json_object_get(b, "userId"));
        if (who == NULL) {
            who = json_string_value(json_object_get(b, "tenantId"));
        }
        char at[512];
        snprintf(at, sizeof(at), "conn-token-for-%s", who);
        json_t *scopes = json_object_get(b, "scopes");
        json_t *tok = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:o,s:s}", "id", url + 21, "appId",
                                app, "accessToken", at, "accessTokenType", "Bearer",
                                "accessTokenExpiry", "2030-01-01T00:00:00Z", "hasRefreshToken",
                                wr, "scopes", scopes != NULL ? json_incref(scopes) : json_array(),
                                "externalIdentifier",
                                json_is_true(json_object_get(o, "forceRefresh")) ? "forced"
                                                                                  : "cached");
        if (json_object_get(b, "userId") != NULL) {
            json_object_set(tok, "userId", json_object_get(b, "userId"));
        }
        if (json_object_get(b, "tenantId") != NULL) {
            json_object_set(tok, "tenantId", json_object_get(b, "tenantId"));
        }
        if (wr) {
            json_object_set_new(tok, "refreshToken", json_string("refresh-for-test"));
        }
        ret = reply(c, 200, json_pack("{s:o}", "token", tok), NULL, NULL);
    } else if (strcmp(app, "notconnected") == 0) {
        ret = reply(c, 404,
                    json_pack("{s:s,s:s,s:s}", "errorCode", "E111504", "errorDescription",
                              "Not found", "errorMessage", "user has no token for this app"),
                    NULL, NULL);
    } else if (strcmp(app, "denied") == 0) {
        ret = reply(c, 403, json_pack("{s:s}", "errorCode", "E061005"), NULL, NULL);
    } else if (strcmp(app, "unauthorized") == 0) {
        ret = reply(c, 401, json_pack("{s:s}", "errorCode", "E061004"), NULL, NULL);
    } else if (strcmp(app, "ratelimited") == 0) {
        ret = reply(c, 429, json_pack("{s:s}", "errorCode", "E130429"), NULL, "9");
    } else if (strcmp(app, "broken") == 0) {
        ret = reply(c, 500,
                    json_pack("{s:s,s:s,s:s}", "errorCode", "E011002", "errorDescription",
                              "Request is invalid", "errorMessage", "Something broke"),
                    NULL, NULL);
    } else if (strcmp(app, "nojson") == 0) {
        ret = reply(c, 502, NULL, "<html><body>Bad Gateway</body></html>", NULL);
    } else if (strcmp(app, "notoken") == 0) {
        ret = reply(c, 200, json_pack("{s:{}}", "token"), NULL, NULL);
    } else if (strcmp(app, "echo") == 0) {
        char msg[4096];
        snprintf(msg, sizeof(msg), "invalid credential: %s", auth);
        ret = reply(c, 400, json_pack("{s:s,s:s}", "errorCode", "E061001", "errorMessage", msg),
                    NULL, NULL);
    } else {
        ret = reply(c, 400, json_pack("{s:s}", "errorCode", "E_FAKE_UNKNOWN_APP"), NULL, NULL);
    }
    json_decref(b);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL;
    unsigned lifetime = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port-file") == 0) {
            port_file = argv[i + 1];
        } else if (strcmp(argv[i], "--lifetime") == 0) {
            lifetime = (unsigned)strtoul(argv[i + 1], NULL, 10);
        }
    }
    if (port_file == NULL || lifetime == 0 || lifetime > 600) {
        fprintf(stderr, "usage: fake_descope --port-file FILE [--lifetime 1..600]\n");
        return 2;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)10, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "fake_descope: cannot listen\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || info == NULL) {
        MHD_stop_daemon(d);
        return 1;
    }
    fprintf(f, "%u\n", info->port);
    fclose(f);
    rename(tmp, port_file); /* atomic: the script never reads a half-written file */
    sleep(lifetime);
    MHD_stop_daemon(d);
    return 0;
}
