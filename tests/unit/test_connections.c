/*
 * Connections (dmcp/descope.h) against a fake Descope API served by libmicrohttpd on
 * 127.0.0.1 inside this process: exact paths, bodies and Authorization headers, every error
 * status, retries, timeouts, expiry forms, the cache, and secrets kept out of error text.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "testutil.h"

#include "descope/descope_internal.h"
#include "dmcp/descope.h"

/* ---- the fake Descope API ---------------------------------------------------------------- */

#define PID "P2fakeproject"
#define ACCESS_TOKEN "eyJhbGciOiJSUzI1NiJ9.mcp-access-token-SECRET-1234567890.sig"
#define MGMT_KEY "K2mgmt-key-SECRET-abcdefghijklmnop"
#define CONN_TOKEN "ya29.google-connection-token-SECRET-zyxw"
#define REFRESH_TOKEN "1//refresh-SECRET-token-9876"

typedef struct fake_reply {
    int status;
    const char *body;        /* "{{AUTH}}" is replaced by the received Authorization value */
    const char *retry_after; /* header value or NULL */
    int delay_ms;            /* stall before replying */
} fake_reply;

#define MAX_SCRIPT 16

static struct fake {
    struct MHD_Daemon *d;
    unsigned short port;
    pthread_mutex_t mu;
    fake_reply script[MAX_SCRIPT];
    size_t n_script;
    size_t n_requests;
    char method[16];
    char path[512];
    char query_user[512];
    char query_tenant[512];
    int has_query_tenant;
    char auth[2048];
    char body[8192];
} F = {.mu = PTHREAD_MUTEX_INITIALIZER};

typedef struct conn_buf {
    char data[8192];
    size_t len;
    int overflow;
} conn_buf;

static void fake_script(const fake_reply *r, size_t n)
{
    pthread_mutex_lock(&F.mu);
    assert_true(n <= MAX_SCRIPT);
    memcpy(F.script, r, n * sizeof(*r));
    F.n_script = n;
    F.n_requests = 0;
    F.method[0] = F.path[0] = F.auth[0] = F.body[0] = '\0';
    F.query_user[0] = F.query_tenant[0] = '\0';
    F.has_query_tenant = 0;
    pthread_mutex_unlock(&F.mu);
}

static void fake_one(int status, const char *body)
{
    fake_reply r = {status, body, NULL, 0};
    fake_script(&r, 1);
}

static size_t fake_count(void)
{
    pthread_mutex_lock(&F.mu);
    size_t n = F.n_requests;
    pthread_mutex_unlock(&F.mu);
    return n;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    conn_buf *cb = *con_cls;
    if (cb == NULL) {
        cb = calloc(1, sizeof(*cb));
        *con_cls = cb;
        return cb != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0) {
        if (cb->len + *upload_size < sizeof(cb->data)) {
            memcpy(cb->data + cb->len, upload, *upload_size);
            cb->len += *upload_size;
        } else {
            cb->overflow = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *qu = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "userId");
    const char *qt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tenantId");
    fake_reply r;
    pthread_mutex_lock(&F.mu);
    size_t idx = F.n_requests < F.n_script ? F.n_requests : F.n_script - 1;
    r = F.script[idx];
    F.n_requests++;
    snprintf(F.method, sizeof(F.method), "%s", method);
    snprintf(F.path, sizeof(F.path), "%s", url);
    snprintf(F.auth, sizeof(F.auth), "%s", auth ? auth : "");
    snprintf(F.query_user, sizeof(F.query_user), "%s", qu ? qu : "");
    snprintf(F.query_tenant, sizeof(F.query_tenant), "%s", qt ? qt : "");
    F.has_query_tenant = qt != NULL;
    snprintf(F.body, sizeof(F.body), "%.*s", (int)cb->len, cb->data);
    pthread_mutex_unlock(&F.mu);

    if (r.delay_ms > 0) {
        struct timespec ts = {r.delay_ms / 1000, (long)(r.delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    char out[8192];
    const char *b = r.body ? r.body : "";
    const char *mark = strstr(b, "{{AUTH}}");
    if (mark != NULL) {
        snprintf(out, sizeof(out), "%.*s%s%s", (int)(mark - b), b, auth ? auth : "", mark + 8);
    } else {
        snprintf(out, sizeof(out), "%s", b);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (r.retry_after != NULL) {
        MHD_add_response_header(resp, "Retry-After", r.retry_after);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
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

static int fake_start(void **state)
{
    (void)state;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = 0; /* ephemeral; read back below */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    F.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                           NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                           MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                           MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (F.d == NULL) {
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(F.d, MHD_DAEMON_INFO_BIND_PORT);
    F.port = info != NULL ? info->port : 0;
    unsetenv("DESCOPE_BASE_URL");
    /* an environment proxy must not capture the loopback fake (libcurl reads these) */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    return F.port != 0 ? 0 : -1;
}

static int fake_stop(void **state)
{
    (void)state;
    MHD_stop_daemon(F.d);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static const char *wk_url(void)
{
    static char u[256];
    snprintf(u, sizeof(u), "http://127.0.0.1:%u/v1/apps/agentic/" PID
                           "/MS2server/.well-known/openid-configuration",
             F.port);
    return u;
}

static dmcp_descope_client *new_client(bool mgmt)
{
    dmcp_descope_client *c = NULL;
    dmcp_error err;
    assert_int_equal(dmcp_descope_client_new(wk_url(), &c, &err), DMCP_OK);
    static const unsigned fast[] = {1, 1, 1};
    assert_int_equal(dmcp_descope_client_set_retry_policy(c, fast, 3), DMCP_OK);
    assert_int_equal(dmcp_descope_client_set_timeouts(c, 1000, 3000), DMCP_OK);
    if (mgmt) {
        assert_int_equal(dmcp_descope_client_set_management_key(c, MGMT_KEY), DMCP_OK);
    }
    return c;
}

static void assert_body(const char *expected)
{
    json_error_t e;
    json_t *want = json_loads(expected, 0, &e);
    assert_non_null(want);
    json_t *got = json_loads(F.body, 0, &e);
    if (got == NULL || !json_equal(want, got)) {
        fail_msg("body %s, want %s", F.body, expected);
    }
    json_decref(want);
    json_decref(got);
}

static const char *OK_BODY =
    "{\"token\":{\"id\":\"tok-1\",\"appId\":\"google-calendar\",\"userId\":\"U2user\","
    "\"tokenSub\":\"sub-77\",\"accessToken\":\"" CONN_TOKEN "\",\"accessTokenType\":\"Bearer\","
    "\"accessTokenExpiry\":\"2026-01-02T03:04:05Z\",\"hasRefreshToken\":true,"
    "\"refreshToken\":\"" REFRESH_TOKEN "\",\"lastRefreshTime\":1767225600,"
    "\"lastRefreshError\":\"none\",\"scopes\":[\"s1\",\"s2\"],\"tenantId\":\"T2\","
    "\"grantedBy\":\"admin\",\"externalIdentifier\":\"ext-1\"}}";

/* Every text field of err must be free of every secret. */
static void assert_no_secret(const dmcp_error *err)
{
    static const char *const secrets[] = {ACCESS_TOKEN, MGMT_KEY, CONN_TOKEN, REFRESH_TOKEN,
                                          "SECRET"};
    const char *fields[] = {err->message, err->code, err->description, err->upstream_message};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(secrets); i++) {
        for (size_t k = 0; k < DMCP__ARRAY_LEN(fields); k++) {
            if (strstr(fields[k], secrets[i]) != NULL) {
                fail_msg("secret in error field %zu: %s", k, fields[k]);
            }
        }
    }
}

/* ---- client construction ----------------------------------------------------------------- */

static void test_client_new(void **state)
{
    (void)state;
    dmcp_descope_client *c = NULL;
    dmcp_error err;
    /* A generic OpenID issuer has no project id: a configuration error, never a guess. */
    assert_int_equal(dmcp_descope_client_new("https://idp.example.com/oidc", &c, &err),
                     DMCP_E_CONFIG);
    assert_null(c);
    assert_int_equal(dmcp_descope_client_new("https://h.example/v1/.well-known/"
                                             "openid-configuration",
                                             &c, &err),
                     DMCP_E_CONFIG);
    assert_int_equal(dmcp_descope_client_new(NULL, &c, &err), DMCP_E_CONFIG);
    /* http is for loopback only */
    assert_int_equal(dmcp_descope_client_new("http://api.descope.com/P2abc", &c, &err),
                     DMCP_E_CONFIG);

    assert_int_equal(dmcp_descope_client_new("https://api.eu.descope.com/v1/apps/P2abc/"
                                             ".well-known/openid-configuration",
                                             &c, &err),
                     DMCP_OK);
    assert_string_equal(dmcp_descope_client_project_id(c), "P2abc");
    assert_string_equal(dmcp_descope_client_api_base(c), "https://api.eu.descope.com");
    assert_int_equal(dmcp_descope_client_set_api_base(c, "https://custom.example.com/base/"),
                     DMCP_OK);
    assert_string_equal(dmcp_descope_client_api_base(c), "https://custom.example.com/base");
    assert_int_equal(dmcp_descope_client_set_api_base(c, "http://custom.example.com"),
                     DMCP_E_CONFIG);
    assert_int_equal(dmcp_descope_client_set_api_base(c, NULL), DMCP_OK);
    assert_string_equal(dmcp_descope_client_api_base(c), "https://api.eu.descope.com");
    /* management keys go into a header: no spaces or control characters */
    assert_int_equal(dmcp_descope_client_set_management_key(c, "bad key"), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_descope_client_set_management_key(c, "k\r\nX-Evil: 1"),
                     DMCP_E_INVALID_ARG);
    unsigned too_many[9] = {0};
    assert_int_equal(dmcp_descope_client_set_retry_policy(c, too_many, 9), DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_descope_client_set_timeouts(c, 0, 10), DMCP_E_INVALID_ARG);
    dmcp_descope_client_free(c);

    /* DESCOPE_BASE_URL beats the origin; the option beats the environment. */
    setenv("DESCOPE_BASE_URL", "https://env.example.com/", 1);
    assert_int_equal(dmcp_descope_client_new("https://auth.example.com/P2abc", &c, &err),
                     DMCP_OK);
    assert_string_equal(dmcp_descope_client_api_base(c), "https://env.example.com");
    assert_string_equal(dmcp_descope_client_project_id(c), "P2abc");
    assert_int_equal(dmcp_descope_client_set_api_base(c, "https://opt.example.com"), DMCP_OK);
    assert_string_equal(dmcp_descope_client_api_base(c), "https://opt.example.com");
    dmcp_descope_client_free(c);
    setenv("DESCOPE_BASE_URL", "ftp://env.example.com", 1);
    assert_int_equal(dmcp_descope_client_new("https://auth.example.com/P2abc", &c, &err),
                     DMCP_E_CONFIG);
    unsetenv("DESCOPE_BASE_URL");
    dmcp_descope_client_free(NULL);
}

/* ---- the four fetch variants, both credentials ------------------------------------------- */

static void test_fetch_variants(void **state)
{
    (void)state;
    const char *scopes[] = {"https://www.googleapis.com/auth/calendar.readonly", "s2", NULL};
    for (int mgmt = 0; mgmt <= 1; mgmt++) {
        dmcp_descope_client *c = new_client(mgmt != 0);
        const char *cred = mgmt ? NULL : ACCESS_TOKEN;
        const char *want_auth = mgmt ? "Bearer " PID ":" MGMT_KEY : "Bearer " PID ":" ACCESS_TOKEN;
        dmcp_connection_token *t = NULL;
        dmcp_error err;

        fake_one(200, OK_BODY);
        assert_int_equal(dmcp_descope_user_token(c, cred, "google-calendar", "U2user", scopes,
                                                 NULL, &t, &err),
                         DMCP_OK);
        assert_string_equal(F.method, "POST");
        assert_string_equal(F.path, "/v1/mgmt/outbound/app/user/token");
        assert_string_equal(F.auth, want_auth);
        assert_body("{\"appId\":\"google-calendar\",\"userId\":\"U2user\",\"scopes\":"
                    "[\"https://www.googleapis.com/auth/calendar.readonly\",\"s2\"],"
                    "\"options\":{\"withRefreshToken\":false,\"forceRefresh\":false}}");
        assert_string_equal(dmcp_connection_token_access_token(t), CONN_TOKEN);
        dmcp_connection_token_free(t);

        /* latest: no scopes field at all (the gateway rejects unknown fields) */
        fake_one(200, OK_BODY);
        assert_int_equal(
            dmcp_descope_user_token(c, cred, "google-calendar", "U2user", NULL, NULL, &t, &err),
            DMCP_OK);
        assert_string_equal(F.path, "/v1/mgmt/outbound/app/user/token/latest");
        assert_string_equal(F.auth, want_auth);
        assert_body("{\"appId\":\"google-calendar\",\"userId\":\"U2user\","
                    "\"options\":{\"withRefreshToken\":false,\"forceRefresh\":false}}");
        dmcp_connection_token_free(t);

        /* an empty list is "latest" too */
        const char *none[] = {NULL};
        fake_one(200, OK_BODY);
        assert_int_equal(
            dmcp_descope_user_token(c, cred, "google-calendar", "U2user", none, NULL, &t, &err),
            DMCP_OK);
        assert_string_equal(F.path, "/v1/mgmt/outbound/app/user/token/latest");
        dmcp_connection_token_free(t);

        /* user token within a tenant, with both options */
        dmcp_connection_options *o = NULL;
        assert_int_equal(dmcp_connection_options_new(&o), DMCP_OK);
        assert_int_equal(dmcp_connection_options_set_tenant_id(o, "T2tenant"), DMCP_OK);
        assert_int_equal(dmcp_connection_options_set_with_refresh_token(o, true), DMCP_OK);
        assert_int_equal(dmcp_connection_options_set_force_refresh(o, true), DMCP_OK);
        fake_one(200, OK_BODY);
        assert_int_equal(
            dmcp_descope_user_token(c, cred, "google-calendar", "U2user", scopes, o, &t, &err),
            DMCP_OK);
        assert_body("{\"appId\":\"google-calendar\",\"userId\":\"U2user\",\"tenantId\":"
                    "\"T2tenant\",\"scopes\":[\"https://www.googleapis.com/auth/"
                    "calendar.readonly\",\"s2\"],\"options\":{\"withRefreshToken\":true,"
                    "\"forceRefresh\":true}}");
        dmcp_connection_token_free(t);

        fake_one(200, OK_BODY);
        assert_int_equal(
            dmcp_descope_tenant_token(c, cred, "slack", "T2tenant", scopes, NULL, &t, &err),
            DMCP_OK);
        assert_string_equal(F.path, "/v1/mgmt/outbound/app/tenant/token");
        assert_string_equal(F.auth, want_auth);
        assert_body("{\"appId\":\"slack\",\"tenantId\":\"T2tenant\",\"scopes\":"
                    "[\"https://www.googleapis.com/auth/calendar.readonly\",\"s2\"],"
                    "\"options\":{\"withRefreshToken\":false,\"forceRefresh\":false}}");
        dmcp_connection_token_free(t);

        /* tenant latest; the options' tenant_id is ignored for tenant tokens (no userId) */
        fake_one(200, OK_BODY);
        assert_int_equal(
            dmcp_descope_tenant_token(c, cred, "slack", "T2other", NULL, o, &t, &err), DMCP_OK);
        assert_string_equal(F.path, "/v1/mgmt/outbound/app/tenant/token/latest");
        assert_string_equal(F.auth, want_auth);
        assert_body("{\"appId\":\"slack\",\"tenantId\":\"T2other\","
                    "\"options\":{\"withRefreshToken\":true,\"forceRefresh\":true}}");
        dmcp_connection_token_free(t);
        dmcp_connection_options_free(o);

        /* the credential mode is strict: no access token with a management key, and the
         * access token is required without one */
        fake_one(200, OK_BODY);
        assert_int_equal(dmcp_descope_user_token(c, mgmt ? ACCESS_TOKEN : NULL, "a", "u", NULL,
                                                 NULL, &t, &err),
                         DMCP_E_INVALID_ARG);
        assert_null(t);
        assert_int_equal(fake_count(), 0);
        dmcp_descope_client_free(c);
    }
}

static void test_token_fields(void **state)
{
    (void)state;
    dmcp_descope_client *c = new_client(false);
    dmcp_connection_token *t = NULL;
    dmcp_error err;
    fake_one(200, OK_BODY);
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "google-calendar", "U2user", NULL,
                                             NULL, &t, &err),
                     DMCP_OK);
    assert_string_equal(dmcp_connection_token_access_token(t), CONN_TOKEN);
    assert_string_equal(dmcp_connection_token_type(t), "Bearer");
    assert_int_equal(dmcp_connection_token_expiry(t), 1767323045); /* 2026-01-02T03:04:05Z */
    assert_int_equal(dmcp_connection_token_last_refresh_time(t), 1767225600);
    assert_true(dmcp_connection_token_has_refresh_token(t));
    assert_string_equal(dmcp_connection_token_refresh_token(t), REFRESH_TOKEN);
    assert_string_equal(dmcp_connection_token_id(t), "tok-1");
    assert_string_equal(dmcp_connection_token_app_id(t), "google-calendar");
    assert_string_equal(dmcp_connection_token_user_id(t), "U2user");
    assert_string_equal(dmcp_connection_token_token_sub(t), "sub-77");
    assert_string_equal(dmcp_connection_token_tenant_id(t), "T2");
    assert_string_equal(dmcp_connection_token_granted_by(t), "admin");
    assert_string_equal(dmcp_connection_token_external_identifier(t), "ext-1");
    assert_string_equal(dmcp_connection_token_last_refresh_error(t), "none");
    assert_null(dmcp_connection_token_connect_url(t));
    size_t n = 0;
    const char *const *s = dmcp_connection_token_scopes(t, &n);
    assert_int_equal(n, 2);
    assert_string_equal(s[0], "s1");
    assert_string_equal(s[1], "s2");
    assert_null(s[2]);
    const json_t *j = dmcp_connection_token_json(t);
    assert_string_equal(json_string_value(json_object_get(j, "accessToken")), CONN_TOKEN);
    /* a second reference keeps the object alive after the first is dropped */
    dmcp_connection_token *t2 = dmcp_connection_token_ref(t);
    dmcp_connection_token_free(t);
    assert_string_equal(dmcp_connection_token_access_token(t2), CONN_TOKEN);
    dmcp_connection_token_free(t2);

    /* only accessToken is required */
    fake_one(200, "{\"token\":{\"accessToken\":\"x\"}}");
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, &err),
                     DMCP_OK);
    assert_null(dmcp_connection_token_type(t));
    assert_int_equal(dmcp_connection_token_expiry(t), 0);
    assert_false(dmcp_connection_token_has_refresh_token(t));
    assert_int_equal(n = (dmcp_connection_token_scopes(t, &n), n), 0);
    dmcp_connection_token_free(t);

    /* the one-call helper */
    char *at = NULL;
    const char *sc[] = {"https://www.googleapis.com/auth/calendar.readonly", NULL};
    fake_one(200, OK_BODY);
    assert_int_equal(dmcp_descope_user_access_token(c, ACCESS_TOKEN, "google-calendar",
                                                    "U2user", sc, &at, &err),
                     DMCP_OK);
    assert_string_equal(at, CONN_TOKEN);
    dmcp_descope_secret_free(at);
    fake_one(404, "{}");
    assert_int_equal(dmcp_descope_user_access_token(c, ACCESS_TOKEN, "google-calendar",
                                                    "U2user", sc, &at, &err),
                     DMCP_E_NOT_CONNECTED);
    assert_null(at);
    dmcp_descope_client_free(c);
}

/* ---- connect URL and connected apps -------------------------------------------------------- */

static void test_connect_and_apps(void **state)
{
    (void)state;
    dmcp_descope_client *c = new_client(false);
    dmcp_error err;
    char *url = NULL;
    const char *sc[] = {"cal.read", NULL};
    fake_one(200, "{\"url\":\"https://accounts.example.com/connect?x=1\"}");
    assert_int_equal(dmcp_descope_connect_url(c, ACCESS_TOKEN, "google-calendar", "T2",
                                              "https://app.example.com/done", sc, &url, &err),
                     DMCP_OK);
    assert_string_equal(url, "https://accounts.example.com/connect?x=1");
    assert_string_equal(F.path, "/v1/mgmt/outbound/app/connect");
    assert_string_equal(F.auth, "Bearer " PID ":" ACCESS_TOKEN);
    assert_body("{\"appId\":\"google-calendar\",\"tenantId\":\"T2\",\"options\":{\"redirectUrl\":"
                "\"https://app.example.com/done\",\"scopes\":[\"cal.read\"]}}");
    dmcp_free(url);
    fake_one(200, "{\"url\":\"https://u\"}");
    assert_int_equal(
        dmcp_descope_connect_url(c, ACCESS_TOKEN, "google-calendar", NULL, NULL, NULL, &url, &err),
        DMCP_OK);
    assert_body("{\"appId\":\"google-calendar\",\"options\":{}}");
    dmcp_free(url);
    fake_one(200, "{\"nourl\":1}");
    assert_int_equal(
        dmcp_descope_connect_url(c, ACCESS_TOKEN, "google-calendar", NULL, NULL, NULL, &url, &err),
        DMCP_E_UPSTREAM);
    assert_null(url);

    char **apps = NULL;
    size_t n = 0;
    /* query values are percent-encoded: '&', '=', ' ' and non-ASCII survive intact */
    const char *odd_user = "u&x=1 y/é";
    fake_one(200, "{\"appIds\":[\"google-calendar\",\"slack\"]}");
    assert_int_equal(
        dmcp_descope_connected_apps(c, ACCESS_TOKEN, odd_user, "T 2", &apps, &n, &err), DMCP_OK);
    assert_string_equal(F.method, "GET");
    assert_string_equal(F.path, "/v1/mgmt/outbound/apps-with-user-token");
    assert_string_equal(F.query_user, odd_user);
    assert_string_equal(F.query_tenant, "T 2");
    assert_string_equal(F.auth, "Bearer " PID ":" ACCESS_TOKEN);
    assert_int_equal(n, 2);
    assert_string_equal(apps[0], "google-calendar");
    assert_string_equal(apps[1], "slack");
    assert_null(apps[2]);
    dmcp_descope_strv_free(apps);
    fake_one(200, "{}");
    assert_int_equal(dmcp_descope_connected_apps(c, ACCESS_TOKEN, "u", NULL, &apps, &n, &err),
                     DMCP_OK);
    assert_false(F.has_query_tenant);
    assert_int_equal(n, 0);
    assert_null(apps[0]);
    dmcp_descope_strv_free(apps);
    fake_one(200, "[1]");
    assert_int_equal(dmcp_descope_connected_apps(c, ACCESS_TOKEN, "u", NULL, &apps, &n, &err),
                     DMCP_E_UPSTREAM);
    fake_one(403, "{}");
    assert_int_equal(dmcp_descope_connected_apps(c, ACCESS_TOKEN, "u", NULL, &apps, &n, &err),
                     DMCP_E_POLICY_DENIED);
    dmcp_descope_client_free(c);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    for (int mgmt = 0; mgmt <= 1; mgmt++) {
        dmcp_descope_client *c = new_client(mgmt != 0);
        const char *cred = mgmt ? NULL : ACCESS_TOKEN;
        dmcp_connection_token *t = NULL;
        dmcp_error err;
        const char *sc[] = {"s", NULL};

        fake_one(404, "{\"errorCode\":\"E111504\",\"errorDescription\":\"not found\"}");
        assert_int_equal(dmcp_descope_user_token(c, cred, "a", "u", sc, NULL, &t, &err),
                         DMCP_E_NOT_CONNECTED);
        assert_null(t);
        assert_int_equal(err.status, DMCP_E_NOT_CONNECTED);
        assert_int_equal(err.http_status, 404);
        assert_string_equal(err.code, "E111504");
        assert_no_secret(&err);

        int denied[] = {401, 403};
        for (size_t i = 0; i < 2; i++) {
            fake_one(denied[i], "{\"errorCode\":\"E061001\"}");
            assert_int_equal(dmcp_descope_user_token(c, cred, "a", "u", sc, NULL, &t, &err),
                             DMCP_E_POLICY_DENIED);
            assert_int_equal(err.http_status, denied[i]);
            assert_int_equal(fake_count(), 1); /* never retried */
            assert_no_secret(&err);
        }

        fake_reply rl = {429, "{\"errorCode\":\"E010000\"}", "17", 0};
        fake_script(&rl, 1);
        assert_int_equal(dmcp_descope_tenant_token(c, cred, "a", "T", sc, NULL, &t, &err),
                         DMCP_E_RATE_LIMITED);
        assert_int_equal(err.retry_after, 17);
        assert_int_equal(err.http_status, 429);
        assert_int_equal(fake_count(), 1);
        fake_reply rl2 = {429, "", "soon", 0};
        fake_script(&rl2, 1);
        assert_int_equal(dmcp_descope_tenant_token(c, cred, "a", "T", sc, NULL, &t, &err),
                         DMCP_E_RATE_LIMITED);
        assert_int_equal(err.retry_after, 0);

        int other[] = {400, 500};
        for (size_t i = 0; i < 2; i++) {
            fake_one(other[i], "{\"errorCode\":\"E011002\",\"errorDescription\":\"Request is "
                               "invalid\",\"errorMessage\":\"The appId field is required\"}");
            assert_int_equal(dmcp_descope_user_token(c, cred, "a", "u", sc, NULL, &t, &err),
                             DMCP_E_UPSTREAM);
            assert_int_equal(err.http_status, other[i]);
            assert_string_equal(err.code, "E011002");
            assert_string_equal(err.description, "Request is invalid");
            assert_string_equal(err.upstream_message, "The appId field is required");
            assert_non_null(strstr(err.message, "E011002"));
            assert_int_equal(fake_count(), 1);
            assert_no_secret(&err);
        }

        /* a body that is not JSON (a proxy's HTML page) */
        fake_one(502, "<html>Bad Gateway</html>");
        assert_int_equal(dmcp_descope_user_token(c, cred, "a", "u", sc, NULL, &t, &err),
                         DMCP_E_UPSTREAM);
        assert_int_equal(err.http_status, 502);
        assert_string_equal(err.code, "");
        assert_string_equal(err.upstream_message, "");
        fake_one(500, "{\"errorCode\":42,\"errorMessage\":[\"x\"]}");
        assert_int_equal(dmcp_descope_user_token(c, cred, "a", "u", sc, NULL, &t, &err),
                         DMCP_E_UPSTREAM);
        assert_string_equal(err.code, "");

        /* 2xx without token.accessToken */
        const char *bad_ok[] = {"{}", "{\"token\":{}}", "{\"token\":{\"accessToken\":\"\"}}",
                                "{\"token\":{\"accessToken\":5}}", "not json", "",
                                "{\"token\":\"x\"}"};
        for (size_t i = 0; i < DMCP__ARRAY_LEN(bad_ok); i++) {
            fake_one(200, bad_ok[i]);
            assert_int_equal(dmcp_descope_user_token(c, cred, "a", "u", sc, NULL, &t, &err),
                             DMCP_E_UPSTREAM);
            assert_null(t);
            assert_int_equal(err.http_status, 200);
        }

        /* upstream text that echoes the credential is redacted, and control bytes neutralised */
        fake_one(400, "{\"errorCode\":\"E1\",\"errorDescription\":\"line1\\nline2\","
                      "\"errorMessage\":\"bad credential {{AUTH}}\"}");
        assert_int_equal(dmcp_descope_user_token(c, cred, "a", "u", sc, NULL, &t, &err),
                         DMCP_E_UPSTREAM);
        assert_string_equal(err.upstream_message, "[redacted]");
        assert_string_equal(err.description, "line1?line2");
        assert_no_secret(&err);
        dmcp_descope_client_free(c);
    }
}

static void test_not_connected_connect_url(void **state)
{
    (void)state;
    dmcp_descope_client *c = new_client(false);
    dmcp_connection_options *o = NULL;
    assert_int_equal(dmcp_connection_options_new(&o), DMCP_OK);
    assert_int_equal(dmcp_connection_options_set_fetch_connect_url(o, true, "https://r.example"),
                     DMCP_OK);
    fake_reply r[] = {{404, "{\"errorCode\":\"E111504\"}", NULL, 0},
                      {200, "{\"url\":\"https://connect.example/start\"}", NULL, 0}};
    fake_script(r, 2);
    const char *sc[] = {"cal", NULL};
    dmcp_connection_token *t = NULL;
    dmcp_error err;
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "google-calendar", "U", sc, o, &t,
                                             &err),
                     DMCP_E_NOT_CONNECTED);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.code, "E111504");
    assert_non_null(t);
    assert_null(dmcp_connection_token_access_token(t));
    assert_null(dmcp_connection_token_json(t));
    assert_string_equal(dmcp_connection_token_connect_url(t), "https://connect.example/start");
    assert_string_equal(F.path, "/v1/mgmt/outbound/app/connect");
    assert_body("{\"appId\":\"google-calendar\",\"options\":{\"redirectUrl\":"
                "\"https://r.example\",\"scopes\":[\"cal\"]}}");
    assert_int_equal(fake_count(), 2);
    dmcp_connection_token_free(t);
    /* the connect call failing leaves the 404 result alone and hands back nothing */
    fake_reply r2[] = {{404, "{}", NULL, 0}, {500, "{}", NULL, 0}};
    fake_script(r2, 2);
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "google-calendar", "U", sc, o, &t,
                                             &err),
                     DMCP_E_NOT_CONNECTED);
    assert_null(t);
    assert_int_equal(err.http_status, 404);
    dmcp_connection_options_free(o);
    dmcp_descope_client_free(c);
}

/* ---- retries and timeouts ------------------------------------------------------------------ */

static void test_retries(void **state)
{
    (void)state;
    dmcp_descope_client *c = new_client(false);
    dmcp_connection_token *t = NULL;
    dmcp_error err;
    int transient[] = {503, 520, 521, 522, 524, 530};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(transient); i++) {
        fake_one(transient[i], "{\"errorCode\":\"E0\"}");
        assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, &err),
                         DMCP_E_UPSTREAM);
        assert_int_equal(fake_count(), 4); /* the first try and 3 retries, no more */
        assert_int_equal(err.http_status, transient[i]);
    }
    /* recovers after two transient replies */
    fake_reply r[] = {{503, "", NULL, 0}, {522, "", NULL, 0}, {200, OK_BODY, NULL, 0}};
    fake_script(r, 3);
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, &err),
                     DMCP_OK);
    assert_int_equal(fake_count(), 3);
    dmcp_connection_token_free(t);
    /* 500, 502 and 504 are not in the list */
    int once[] = {500, 502, 504, 429};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(once); i++) {
        fake_one(once[i], "");
        assert_int_not_equal(
            dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, &err), DMCP_OK);
        assert_int_equal(fake_count(), 1);
    }
    /* the policy is configurable: no retries, and the delays are honoured */
    assert_int_equal(dmcp_descope_client_set_retry_policy(c, NULL, 0), DMCP_OK);
    fake_one(503, "");
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, &err),
                     DMCP_E_UPSTREAM);
    assert_int_equal(fake_count(), 1);
    const unsigned d[] = {150, 150};
    assert_int_equal(dmcp_descope_client_set_retry_policy(c, d, 2), DMCP_OK);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    fake_one(503, "");
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, &err),
                     DMCP_E_UPSTREAM);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(fake_count(), 3);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    assert_true(ms >= 300);
    dmcp_descope_client_free(c);
}

static void test_timeouts_unreachable(void **state)
{
    (void)state;
    dmcp_descope_client *c = new_client(false);
    dmcp_connection_token *t = NULL;
    dmcp_error err;
    assert_int_equal(dmcp_descope_client_set_timeouts(c, 500, 300), DMCP_OK);
    fake_reply stall = {200, OK_BODY, NULL, 1500};
    fake_script(&stall, 1);
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, &err),
                     DMCP_E_TIMEOUT);
    assert_null(t);
    assert_int_equal(fake_count(), 1); /* timeouts are not retried */
    assert_no_secret(&err);
    dmcp_descope_client_free(c);

    /* a port nobody listens on: bind one, read it, close it */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
    close(s);
    char wk[256];
    snprintf(wk, sizeof(wk), "http://127.0.0.1:%u/" PID "/.well-known/openid-configuration",
             ntohs(sa.sin_port));
    assert_int_equal(dmcp_descope_client_new(wk, &c, &err), DMCP_OK);
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, &err),
                     DMCP_E_UNREACHABLE);
    assert_no_secret(&err);
    dmcp_descope_client_free(c);
}

/* ---- expiry -------------------------------------------------------------------------------- */

static int64_t expiry_of(const char *json)
{
    json_error_t e;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    int64_t r = dmcp_connection_parse_expiry(v);
    json_decref(v);
    return r;
}

static void test_expiry(void **state)
{
    (void)state;
    assert_int_equal(expiry_of("1767323045"), 1767323045);                 /* seconds */
    assert_int_equal(expiry_of("1767323045123"), 1767323045);              /* milliseconds */
    assert_int_equal(expiry_of("1767323045.9"), 1767323045);               /* a real */
    /* exactly 1e12 is still seconds (year 33658): out of range; one more is milliseconds */
    assert_int_equal(expiry_of("1000000000000"), 0);
    assert_int_equal(expiry_of("1000000000001"), 1000000000);
    assert_int_equal(expiry_of("\"1767323045\""), 1767323045);             /* digit string */
    assert_int_equal(expiry_of("\"1767323045123\""), 1767323045);
    assert_int_equal(expiry_of("\"2026-01-02T03:04:05Z\""), 1767323045);
    assert_int_equal(expiry_of("\"2026-01-02t03:04:05z\""), 1767323045);
    assert_int_equal(expiry_of("\"2026-01-02T05:04:05+02:00\""), 1767323045);
    assert_int_equal(expiry_of("\"2026-01-01T22:04:05-05:00\""), 1767323045);
    assert_int_equal(expiry_of("\"2026-01-02T03:04:05.123456Z\""), 1767323045);
    assert_int_equal(expiry_of("\"2026-01-02T03:04:05.5+00:00\""), 1767323045);
    assert_int_equal(expiry_of("\"2024-02-29T00:00:00Z\""), 1709164800);   /* leap day */
    assert_int_equal(expiry_of("\"1970-01-01T00:00:01Z\""), 1);
    /* garbage and out-of-range values give 0 */
    const char *bad[] = {"\"\"", "\"soon\"", "\"2026-01-02\"", "\"2026-01-02T03:04:05\"",
                         "\"2026-01-02 03:04:05Z\"", "\"2026-13-02T03:04:05Z\"",
                         "\"2025-02-29T00:00:00Z\"", "\"2026-01-02T24:00:00Z\"",
                         "\"2026-01-02T03:04:05.Z\"", "\"2026-01-02T03:04:05+0200\"",
                         "\"2026-01-02T03:04:05Zjunk\"", "\"12a\"", "\"-5\"", "-5", "0", "true",
                         "null", "[1]", "{}", "\"99999999999999999999\"", "1e300",
                         "\"1969-12-31T23:59:59Z\"", "\"+1767323045\"", "\" 1767323045\""};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(bad); i++) {
        if (expiry_of(bad[i]) != 0) {
            fail_msg("expiry of %s should be 0", bad[i]);
        }
    }
    assert_int_equal(dmcp_connection_parse_expiry(NULL), 0);

    /* and through the API, each form as Descope may send it */
    dmcp_descope_client *c = new_client(false);
    const struct {
        const char *v;
        int64_t want;
    } forms[] = {{"1767323045", 1767323045},
                 {"1767323045000", 1767323045},
                 {"\"1767323045\"", 1767323045},
                 {"\"2026-01-02T04:04:05.250+01:00\"", 1767323045},
                 {"\"tomorrow\"", 0}};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(forms); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"token\":{\"accessToken\":\"x\",\"accessTokenExpiry\":%s}}",
                 forms[i].v);
        fake_one(200, body);
        dmcp_connection_token *t = NULL;
        assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, NULL),
                         DMCP_OK);
        assert_int_equal(dmcp_connection_token_expiry(t), forms[i].want);
        dmcp_connection_token_free(t);
    }
    dmcp_descope_client_free(c);
}

/* ---- cache --------------------------------------------------------------------------------- */

static int64_t fake_now = 1767300000;
static int64_t test_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

static dmcp_status cached_fetch(dmcp_descope_client *c, const char *cred, const char *principal,
                                const char *app, bool force, dmcp_connection_token **t)
{
    dmcp_connection_options *o = NULL;
    assert_int_equal(dmcp_connection_options_new(&o), DMCP_OK);
    assert_int_equal(dmcp_connection_options_set_principal(o, principal), DMCP_OK);
    assert_int_equal(dmcp_connection_options_set_force_refresh(o, force), DMCP_OK);
    const char *sc[] = {"s1", NULL};
    dmcp_status st = dmcp_descope_user_token(c, cred, app, "U2user", sc, o, t, NULL);
    dmcp_connection_options_free(o);
    return st;
}

static void test_cache(void **state)
{
    (void)state;
    dmcp_descope_client *c = new_client(false);
    assert_int_equal(dmcp_descope_client_set_clock(c, test_clock, NULL), DMCP_OK);
    assert_int_equal(dmcp_descope_client_set_cache(c, 3, 60), DMCP_OK);
    fake_now = 1767323045 - 600; /* OK_BODY expires at 1767323045: 10 minutes left */
    dmcp_connection_token *t = NULL, *t2 = NULL;
    uint64_t hits, misses;

    fake_one(200, OK_BODY);
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "iss|alice", "app1", false, &t), DMCP_OK);
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "iss|alice", "app1", false, &t2), DMCP_OK);
    assert_int_equal(fake_count(), 1); /* the second came from the cache */
    assert_ptr_equal(t, t2);
    dmcp_connection_token_free(t2);
    dmcp_descope_client_cache_stats(c, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);

    /* another principal, another access token, another app: never a hit */
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "iss|bob", "app1", false, &t2), DMCP_OK);
    assert_int_equal(fake_count(), 2);
    dmcp_connection_token_free(t2);
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN "x", "iss|alice", "app1", false, &t2), DMCP_OK);
    assert_int_equal(fake_count(), 3);
    dmcp_connection_token_free(t2);
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "iss|alice", "app2", false, &t2), DMCP_OK);
    assert_int_equal(fake_count(), 4);
    dmcp_connection_token_free(t2);
    /* no principal: no cache */
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "app1", "U2user", NULL, NULL, &t2,
                                             NULL),
                     DMCP_OK);
    assert_int_equal(fake_count(), 5);
    dmcp_connection_token_free(t2);
    /* force_refresh skips the read */
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "iss|bob", "app1", true, &t2), DMCP_OK);
    assert_int_equal(fake_count(), 6);
    dmcp_connection_token_free(t2);

    /* the margin: 61 s before expiry still a hit, 60 s before it is a miss */
    fake_script(&(fake_reply){200, OK_BODY, NULL, 0}, 1);
    fake_now = 1767323045 - 61;
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "iss|bob", "app1", false, &t2), DMCP_OK);
    assert_int_equal(fake_count(), 0);
    dmcp_connection_token_free(t2);
    fake_now = 1767323045 - 60;
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "iss|bob", "app1", false, &t2), DMCP_OK);
    assert_int_equal(fake_count(), 1);
    dmcp_connection_token_free(t2);
    dmcp_connection_token_free(t);

    /* tokens without a known expiry are never cached */
    fake_now = 1767300000;
    fake_one(200, "{\"token\":{\"accessToken\":\"x\"}}");
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "iss|carol", "app9", false, &t), DMCP_OK);
    dmcp_connection_token_free(t);
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "iss|carol", "app9", false, &t), DMCP_OK);
    dmcp_connection_token_free(t);
    assert_int_equal(fake_count(), 2);

    /* bounded: 3 entries; filling past them evicts the least recently used */
    assert_int_equal(dmcp_descope_client_set_cache(c, 3, 60), DMCP_OK);
    fake_one(200, OK_BODY);
    const char *apps[] = {"a1", "a2", "a3", "a4"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "p", apps[i], false, &t), DMCP_OK);
        dmcp_connection_token_free(t);
    }
    assert_int_equal(fake_count(), 4);
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "p", "a4", false, &t), DMCP_OK);
    dmcp_connection_token_free(t);
    assert_int_equal(fake_count(), 4); /* a4 is cached */
    assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "p", "a1", false, &t), DMCP_OK);
    dmcp_connection_token_free(t);
    assert_int_equal(fake_count(), 5); /* a1 was evicted */

    /* 0 entries disables the cache */
    assert_int_equal(dmcp_descope_client_set_cache(c, 0, 60), DMCP_OK);
    fake_one(200, OK_BODY);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cached_fetch(c, ACCESS_TOKEN, "p", "a1", false, &t), DMCP_OK);
        dmcp_connection_token_free(t);
    }
    assert_int_equal(fake_count(), 2);
    dmcp_descope_client_free(c);

    /* management-key mode: the principal alone separates callers */
    c = new_client(true);
    assert_int_equal(dmcp_descope_client_set_clock(c, test_clock, NULL), DMCP_OK);
    fake_one(200, OK_BODY);
    assert_int_equal(cached_fetch(c, NULL, "job-1", "app1", false, &t), DMCP_OK);
    dmcp_connection_token_free(t);
    assert_int_equal(cached_fetch(c, NULL, "job-1", "app1", false, &t), DMCP_OK);
    dmcp_connection_token_free(t);
    assert_int_equal(cached_fetch(c, NULL, "job-2", "app1", false, &t), DMCP_OK);
    dmcp_connection_token_free(t);
    assert_int_equal(fake_count(), 2);
    dmcp_descope_client_free(c);
}

/* ---- threads ------------------------------------------------------------------------------- */

typedef struct thr_arg {
    dmcp_descope_client *c;
    int failures;
    char principal[16];
} thr_arg;

static void *thr_main(void *p)
{
    thr_arg *a = p;
    for (int i = 0; i < 20; i++) {
        dmcp_connection_options *o = NULL;
        dmcp_connection_token *t = NULL;
        if (dmcp_connection_options_new(&o) != DMCP_OK ||
            dmcp_connection_options_set_principal(o, a->principal) != DMCP_OK) {
            a->failures++;
        }
        const char *sc[] = {"s1", NULL};
        if (dmcp_descope_user_token(a->c, ACCESS_TOKEN, "app", "u", sc, o, &t, NULL) != DMCP_OK ||
            strcmp(dmcp_connection_token_access_token(t), CONN_TOKEN) != 0) {
            a->failures++;
        }
        dmcp_connection_token_free(t);
        dmcp_connection_options_free(o);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    dmcp_descope_client *c = new_client(false);
    assert_int_equal(dmcp_descope_client_set_clock(c, test_clock, NULL), DMCP_OK);
    assert_int_equal(dmcp_descope_client_set_cache(c, 2, 60), DMCP_OK); /* force evictions */
    fake_now = 1767300000;
    fake_one(200, OK_BODY);
    pthread_t th[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].c = c;
        args[i].failures = 0;
        snprintf(args[i].principal, sizeof(args[i].principal), "p%d", i);
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    uint64_t hits, misses;
    dmcp_descope_client_cache_stats(c, &hits, &misses);
    assert_int_equal(hits + misses, 80);
    assert_int_equal(fake_count(), misses);
    dmcp_descope_client_free(c);
}

/* ---- argument checks ----------------------------------------------------------------------- */

static void test_arguments(void **state)
{
    (void)state;
    dmcp_descope_client *c = new_client(false);
    dmcp_connection_token *t = NULL;
    dmcp_error err;
    fake_one(200, OK_BODY);
    /* an access token with CR/LF could inject headers: refused before any request */
    assert_int_equal(dmcp_descope_user_token(c, "abc\r\nX-Evil: 1", "a", "u", NULL, NULL, &t,
                                             &err),
                     DMCP_E_INVALID_ARG);
    assert_null(strstr(err.message, "X-Evil"));
    assert_int_equal(dmcp_descope_user_token(c, "", "a", "u", NULL, NULL, &t, &err),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "", "u", NULL, NULL, &t, &err),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", NULL, NULL, NULL, &t, &err),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a\n", "u", NULL, NULL, &t, &err),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(
        dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "\xff\xfe", NULL, NULL, &t, &err),
        DMCP_E_INVALID_ARG);
    const char *empty_scope[] = {"", NULL};
    assert_int_equal(
        dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", empty_scope, NULL, &t, &err),
        DMCP_E_INVALID_ARG);
    const char *many[DMCP_MAX_SCOPES + 2];
    for (size_t i = 0; i < DMCP_MAX_SCOPES + 1; i++) {
        many[i] = "s";
    }
    many[DMCP_MAX_SCOPES + 1] = NULL;
    assert_int_equal(dmcp_descope_user_token(c, ACCESS_TOKEN, "a", "u", many, NULL, &t, &err),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(dmcp_descope_user_token(NULL, ACCESS_TOKEN, "a", "u", NULL, NULL, &t, &err),
                     DMCP_E_INVALID_ARG);
    assert_int_equal(fake_count(), 0);
    assert_no_secret(&err);
    dmcp_descope_client_free(c);
    dmcp_connection_token_free(NULL);
    dmcp_connection_options_free(NULL);
    dmcp_descope_strv_free(NULL);
    dmcp_descope_secret_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_new),
        cmocka_unit_test(test_fetch_variants),
        cmocka_unit_test(test_token_fields),
        cmocka_unit_test(test_connect_and_apps),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_not_connected_connect_url),
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_timeouts_unreachable),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
