/* The dmcp_server object: configuration and the blocking run loop. */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "mcp/mcp_internal.h"

dmcp_status dmcp_server_new(const char *name, const char *version, dmcp_server **out)
{
    if (out == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    *out = NULL;
    if (name == NULL || version == NULL || *name == '\0') {
        return DMCP_E_INVALID_ARG;
    }
    dmcp_status st = dmcp__ensure_init();
    if (st != DMCP_OK) {
        return st;
    }
    dmcp_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return DMCP_E_NOMEM;
    }
    s->name = dmcp__strdup(name);
    s->version = dmcp__strdup(version);
    s->listen_host = dmcp__strdup("127.0.0.1");
    s->endpoint = dmcp__strdup("/mcp");
    s->listen_port = 8080;
    s->page_size = 100;
    s->cache_public = -1;
    s->store_up.notify = dmcp__notify_local;
    s->store_up.answer = dmcp__session_deliver_response;
    s->store_up.wake = dmcp__session_wake_pending;
    s->store_up.unsolicited = dmcp__session_send_unsolicited;
    s->state_key_len = 32;
    if (dmcp__random_bytes(s->state_key, s->state_key_len) != DMCP_OK) {
        free(s);
        return DMCP_E_INTERNAL;
    }
    s->get_stream = true;
    s->heartbeat = 15;
    s->threads = 4;
    s->max_sessions = 10000;
    s->idle_seconds = 3600;
    s->max_body = DMCP_MAX_BODY_BYTES;
    s->max_buffered = DMCP_DEFAULT_MAX_BUFFERED_BYTES;
    s->lim[DMCP_LIMIT_MAX_CONNECTIONS] = 2048;
    s->lim[DMCP_LIMIT_MAX_CONNECTIONS_PER_IP] = 256;
    s->lim[DMCP_LIMIT_IDLE_TIMEOUT] = 30;
    s->lim[DMCP_LIMIT_HEADER_TIMEOUT] = 20;
    s->lim[DMCP_LIMIT_BODY_TIMEOUT] = 60;
    s->lim[DMCP_LIMIT_MAX_SESSIONS_PER_PRINCIPAL] = 64;
    s->lim[DMCP_LIMIT_MAX_STREAMS_PER_SESSION] = 16;
    s->lim[DMCP_LIMIT_MAX_STREAMS_PER_PRINCIPAL] = 64;
    s->lim[DMCP_LIMIT_MAX_INFLIGHT_PER_SESSION] = 64;
    s->shutdown_timeout = 10;
    s->health = true;
    s->access_log_level = DMCP__LOG_INFO;
    pthread_mutex_init(&s->stdio_mu, NULL);
    pthread_mutex_init(&s->listen_mu, NULL);
    atomic_init(&s->started, false);
    atomic_init(&s->stopping, false);
    atomic_init(&s->bound_port, 0);
    if (s->name == NULL || s->version == NULL || s->listen_host == NULL || s->endpoint == NULL) {
        dmcp_server_free(s);
        return DMCP_E_NOMEM;
    }
    *out = s;
    return DMCP_OK;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i]);
    }
    free(l);
}

void dmcp_server_free(dmcp_server *srv)
{
    if (srv == NULL) {
        return;
    }
    dmcp_server_stop(srv);
    /* Calls a forwarder took to answer later hold sessions of ours: they must be answered
     * first (the stop cancelled them all). */
    double until = dmcp__mono_now() + srv->shutdown_timeout;
    while (atomic_load(&srv->fwd_later) > 0 && dmcp__mono_now() < until) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&srv->fwd_later) > 0) {
        fprintf(stderr, "descope-mcp: %d forwarded call(s) still unanswered when the server was "
                        "freed; the forwarder must answer them before dmcp_server_free\n",
                atomic_load(&srv->fwd_later));
    }
    dmcp__toolreg_free(&srv->tools);
    dmcp__resources_free(srv);
    dmcp__prompts_free(srv);
    dmcp_authorizer_free(srv->authorizer);
    dmcp__forward_free(srv);
    free(srv->name);
    free(srv->version);
    free(srv->title);
    free(srv->instructions);
    free(srv->listen_host);
    free(srv->metrics_host);
    free(srv->access_log_path);
    free(srv->endpoint);
    for (size_t i = 0; i < srv->n_statics; i++) {
        free(srv->statics[i].path);
        free(srv->statics[i].content_type);
        free(srv->statics[i].body);
    }
    free(srv->tls_cert);
    free(srv->tls_key);
    free_list(srv->allowed_hosts, srv->n_allowed_hosts);
    free_list(srv->allowed_origins, srv->n_allowed_origins);
    dmcp__sstore_stop(srv); /* the listener calls into the session table */
    dmcp__sessions_free(srv->sessions);
    dmcp__listeners_clear(srv);
    free(srv->listeners);
    pthread_mutex_destroy(&srv->stdio_mu);
    pthread_mutex_destroy(&srv->listen_mu);
    free(srv);
}

dmcp_status dmcp__server_check_cfg(const dmcp_server *srv)
{
    if (srv == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    return atomic_load(&srv->started) ? DMCP_E_STATE : DMCP_OK;
}

static dmcp_status set_str(dmcp_server *srv, char **dst, const char *v, bool required)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    if (required && (v == NULL || *v == '\0')) {
        return DMCP_E_INVALID_ARG;
    }
    char *c = NULL;
    if (v != NULL) {
        json_t *probe = json_string(v); /* must be valid UTF-8 to go into JSON */
        if (probe == NULL) {
            return DMCP_E_INVALID_ARG;
        }
        json_decref(probe);
        c = dmcp__strdup(v);
        if (c == NULL) {
            return DMCP_E_NOMEM;
        }
    }
    free(*dst);
    *dst = c;
    return DMCP_OK;
}

dmcp_status dmcp_server_set_title(dmcp_server *srv, const char *title)
{
    return set_str(srv, srv != NULL ? &srv->title : NULL, title, false);
}

dmcp_status dmcp_server_set_instructions(dmcp_server *srv, const char *instructions)
{
    return set_str(srv, srv != NULL ? &srv->instructions : NULL, instructions, false);
}

dmcp_status dmcp_server_set_authorizer(dmcp_server *srv, dmcp_authorizer *authorizer)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        dmcp_authorizer_free(authorizer);
        return st;
    }
    dmcp_authorizer_free(srv->authorizer);
    srv->authorizer = authorizer;
    return DMCP_OK;
}

dmcp_status dmcp_server_set_list_changed(dmcp_server *srv, unsigned lists)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    if ((lists & ~(DMCP_LIST_TOOLS | DMCP_LIST_RESOURCES | DMCP_LIST_PROMPTS)) != 0) {
        return DMCP_E_INVALID_ARG;
    }
    srv->list_changed = lists;
    return DMCP_OK;
}

dmcp_status dmcp_server_set_state_key(dmcp_server *srv, const void *key, size_t len)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    if (key == NULL || len < 16 || len > sizeof(srv->state_key)) {
        return DMCP_E_INVALID_ARG;
    }
    memcpy(srv->state_key, key, len);
    srv->state_key_len = len;
    srv->state_key_set = true;
    return DMCP_OK;
}

dmcp_status dmcp_server_set_cache_hint(dmcp_server *srv, unsigned ttl_ms, bool public_scope)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    srv->cache_ttl_ms = (json_int_t)ttl_ms;
    srv->cache_public = public_scope ? 1 : 0;
    return DMCP_OK;
}

dmcp_status dmcp_server_set_page_size(dmcp_server *srv, unsigned page_size)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    if (page_size < 1 || page_size > 1000) {
        return DMCP_E_INVALID_ARG;
    }
    srv->page_size = page_size;
    return DMCP_OK;
}

static bool host_text_ok(const char *h)
{
    size_t n = h != NULL ? strlen(h) : 0;
    if (n == 0 || n > 255) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c >= 0x7F || c == '/' || c == '@') {
            return false;
        }
    }
    return true;
}

/* A host ("::1" or "[::1]" for IPv6) and port as the listener takes them: *out is new. */
static dmcp_status listen_host(const char *host, unsigned port, char **out)
{
    if (!host_text_ok(host) || port > 65535) {
        return DMCP_E_INVALID_ARG;
    }
    /* Accept "[::1]" as well as "::1". */
    size_t n = strlen(host);
    *out = (host[0] == '[' && host[n - 1] == ']') ? dmcp__strndup(host + 1, n - 2)
                                                  : dmcp__strdup(host);
    return *out != NULL ? DMCP_OK : DMCP_E_NOMEM;
}

/* "HOST:PORT" or "[V6]:PORT" into a host (new, as listen_host makes it) and a port. */
static dmcp_status split_host_port(const char *host_port, char **host_out, unsigned *port_out)
{
    if (host_port == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    const char *colon = strrchr(host_port, ':');
    if (colon == NULL || colon == host_port || colon[1] == '\0' || strlen(colon + 1) > 5) {
        return DMCP_E_INVALID_ARG;
    }
    unsigned port = 0;
    for (const char *p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return DMCP_E_INVALID_ARG;
        }
        port = port * 10 + (unsigned)(*p - '0');
    }
    char *host = dmcp__strndup(host_port, (size_t)(colon - host_port));
    if (host == NULL) {
        return DMCP_E_NOMEM;
    }
    /* An unbracketed IPv6 literal ("::1:8080") is ambiguous: refuse it. */
    dmcp_status st = DMCP_E_INVALID_ARG;
    if (strchr(host, ':') == NULL || host[0] == '[') {
        st = listen_host(host, port, host_out);
    }
    free(host);
    *port_out = port;
    return st;
}

dmcp_status dmcp_server_set_listen(dmcp_server *srv, const char *host, unsigned port)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    char *c = NULL;
    if (st == DMCP_OK) {
        st = listen_host(host, port, &c);
    }
    if (st != DMCP_OK) {
        return st;
    }
    free(srv->listen_host);
    srv->listen_host = c;
    srv->listen_port = port;
    return DMCP_OK;
}

dmcp_status dmcp_server_set_listen_string(dmcp_server *srv, const char *host_port)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    char *host = NULL;
    unsigned port = 0;
    if (st == DMCP_OK) {
        st = split_host_port(host_port, &host, &port);
    }
    if (st != DMCP_OK) {
        return st;
    }
    free(srv->listen_host);
    srv->listen_host = host;
    srv->listen_port = port;
    return DMCP_OK;
}

dmcp_status dmcp_server_set_metrics_listen(dmcp_server *srv, const char *host_port)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    char *host = NULL;
    unsigned port = 0;
    if (st == DMCP_OK && host_port != NULL) {
        st = split_host_port(host_port, &host, &port);
    }
    if (st != DMCP_OK) {
        return st;
    }
    free(srv->metrics_host);
    srv->metrics_host = host; /* NULL: off */
    srv->metrics_port = port;
    return DMCP_OK;
}

unsigned dmcp_server_metrics_port(const dmcp_server *srv)
{
    return srv != NULL ? atomic_load(&srv->bound_metrics_port) : 0;
}

dmcp_status dmcp_server_set_access_log(dmcp_server *srv, const char *path, const char *level)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    dmcp__accesslog_level lv = DMCP__LOG_INFO;
    if (level != NULL) {
        lv = dmcp__accesslog_level_parse(level);
        if (lv == DMCP__LOG_AUTO) {
            return DMCP_E_INVALID_ARG;
        }
    }
    char *copy = NULL;
    if (path != NULL && (*path == '\0' || strlen(path) > 4096)) {
        return DMCP_E_INVALID_ARG;
    }
    if (path != NULL && (copy = dmcp__strdup(path)) == NULL) {
        return DMCP_E_NOMEM;
    }
    free(srv->access_log_path);
    srv->access_log_path = copy;
    srv->access_log_level = (int)lv;
    return DMCP_OK;
}

static bool path_ok(const char *p)
{
    size_t n = p != NULL ? strlen(p) : 0;
    if (n == 0 || n > 1024 || p[0] != '/') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7F || c == '?' || c == '#' || c == '%') {
            return false;
        }
    }
    return true;
}

dmcp_status dmcp_server_set_endpoint(dmcp_server *srv, const char *path)
{
    if (srv == NULL || !path_ok(path)) {
        return DMCP_E_INVALID_ARG;
    }
    return set_str(srv, &srv->endpoint, path, true);
}

dmcp_status dmcp_server_set_stateless(dmcp_server *srv, bool stateless)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st == DMCP_OK) {
        srv->stateless = stateless;
    }
    return st;
}

dmcp_status dmcp_server_set_get_stream(dmcp_server *srv, bool enabled)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st == DMCP_OK) {
        srv->get_stream = enabled;
    }
    return st;
}

static dmcp_status add_to_list(dmcp_server *srv, char ***list, size_t *n, const char *v)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    if (!host_text_ok(v) && !(v != NULL && strchr(v, '/') != NULL && strlen(v) < 256)) {
        return DMCP_E_INVALID_ARG;
    }
    if (*n >= 256) {
        return DMCP_E_INVALID_ARG;
    }
    char **nl = realloc(*list, (*n + 1) * sizeof(*nl));
    if (nl == NULL) {
        return DMCP_E_NOMEM;
    }
    *list = nl;
    nl[*n] = dmcp__strdup(v);
    if (nl[*n] == NULL) {
        return DMCP_E_NOMEM;
    }
    /* Host names and origins compare case-insensitively (RFC 3986 §6.2.2.1): store lowercase. */
    for (char *p = nl[*n]; *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    (*n)++;
    return DMCP_OK;
}

dmcp_status dmcp_server_add_allowed_host(dmcp_server *srv, const char *host)
{
    if (srv == NULL || !host_text_ok(host)) {
        return DMCP_E_INVALID_ARG;
    }
    return add_to_list(srv, &srv->allowed_hosts, &srv->n_allowed_hosts, host);
}

dmcp_status dmcp_server_add_allowed_origin(dmcp_server *srv, const char *origin)
{
    if (srv == NULL || origin == NULL ||
        (strcmp(origin, "*") != 0 && strstr(origin, "://") == NULL)) {
        return DMCP_E_INVALID_ARG;
    }
    return add_to_list(srv, &srv->allowed_origins, &srv->n_allowed_origins, origin);
}

dmcp_status dmcp_server_set_heartbeat(dmcp_server *srv, unsigned seconds)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st == DMCP_OK) {
        if (seconds > 3600) {
            return DMCP_E_INVALID_ARG;
        }
        srv->heartbeat = seconds;
    }
    return st;
}

dmcp_status dmcp_server_set_threads(dmcp_server *srv, unsigned threads)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st == DMCP_OK) {
        if (threads < 1 || threads > 64) {
            return DMCP_E_INVALID_ARG;
        }
        srv->threads = threads;
    }
    return st;
}

dmcp_status dmcp_server_set_session_limits(dmcp_server *srv, unsigned max_sessions,
                                           unsigned idle_seconds)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st == DMCP_OK) {
        if (max_sessions < 1) {
            return DMCP_E_INVALID_ARG;
        }
        srv->max_sessions = max_sessions;
        srv->idle_seconds = idle_seconds;
    }
    return st;
}

dmcp_status dmcp_server_set_max_body(dmcp_server *srv, size_t bytes)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st == DMCP_OK) {
        if (bytes < 64 || bytes > DMCP_MAX_BODY_BYTES) {
            return DMCP_E_INVALID_ARG;
        }
        srv->max_body = bytes;
    }
    return st;
}

dmcp_status dmcp_server_set_health_endpoints(dmcp_server *srv, bool enabled)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st == DMCP_OK) {
        srv->health = enabled;
    }
    return st;
}

dmcp_status dmcp_server_set_max_buffered(dmcp_server *srv, size_t bytes)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st == DMCP_OK) {
        if (bytes < 64) {
            return DMCP_E_INVALID_ARG;
        }
        srv->max_buffered = bytes;
    }
    return st;
}

dmcp_status dmcp_server_set_shutdown_timeout(dmcp_server *srv, unsigned seconds)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st == DMCP_OK) {
        if (seconds > 3600) {
            return DMCP_E_INVALID_ARG;
        }
        srv->shutdown_timeout = seconds;
    }
    return st;
}

dmcp_status dmcp_server_set_tls_files(dmcp_server *srv, const char *cert_file, const char *key_file)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    if (cert_file == NULL || key_file == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    char *c = dmcp__strdup(cert_file), *k = dmcp__strdup(key_file);
    if (c == NULL || k == NULL) {
        free(c);
        free(k);
        return DMCP_E_NOMEM;
    }
    free(srv->tls_cert);
    free(srv->tls_key);
    srv->tls_cert = c;
    srv->tls_key = k;
    return DMCP_OK;
}

dmcp_status dmcp_server_start(dmcp_server *srv, dmcp_error *err)
{
    if (srv == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "no server");
    }
    bool expected = false;
    if (!atomic_compare_exchange_strong(&srv->started, &expected, true)) {
        return dmcp__fail(err, DMCP_E_STATE, DMCP_REASON_NONE, "server already started");
    }
    atomic_store(&srv->stopping, false);
    dmcp_status st = DMCP_OK;
    if (srv->sessions == NULL) {
        st = dmcp__sessions_new(srv->max_sessions,
                                (size_t)srv->lim[DMCP_LIMIT_MAX_SESSIONS_PER_PRINCIPAL],
                                &srv->sessions);
    }
    if (st == DMCP_OK && srv->fwd.request != NULL &&
        (srv->fwd.session_end != NULL || srv->fwd.session_release != NULL)) {
        dmcp__sessions_set_on_end(srv->sessions, srv->fwd.session_end, srv->fwd.session_release,
                                  srv->fwd.userdata, dmcp__sstore_on(srv));
    }
    if (st == DMCP_OK) {
        st = dmcp__sstore_start(srv);
        if (st != DMCP_OK) {
            dmcp__fail(err, st, DMCP_REASON_NONE, "cannot start the store listener");
        }
    } else {
        dmcp__fail(err, st, DMCP_REASON_NONE, "cannot allocate session table");
    }
    if (st == DMCP_OK) {
        st = dmcp__http_start(srv, err);
        if (st != DMCP_OK) {
            dmcp__sstore_stop(srv);
        }
    }
    if (st != DMCP_OK) {
        atomic_store(&srv->started, false);
    } else {
        atomic_store(&srv->bound_port, dmcp__http_port(srv));
    }
    return st;
}

unsigned dmcp_server_port(const dmcp_server *srv)
{
    return srv != NULL ? atomic_load(&srv->bound_port) : 0;
}

void dmcp_server_stop(dmcp_server *srv)
{
    if (srv == NULL || srv->http == NULL) {
        return;
    }
    atomic_store(&srv->stopping, true);
    atomic_store(&srv->bound_port, 0);
    dmcp__sstore_stop(srv); /* first: its thread feeds the HTTP transport's streams */
    dmcp__http_stop(srv);
    atomic_store(&srv->started, false);
}


dmcp_status dmcp_server_run(dmcp_server *srv, dmcp_error *err)
{
    if (srv == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "no server");
    }
    /* Block the signals before starting threads so only sigwait() below receives them. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    dmcp_status st = dmcp_server_start(srv, err);
    if (st == DMCP_OK) {
        int sig = 0;
        while (sigwait(&set, &sig) != 0) {
        }
        dmcp_server_stop(srv);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}
