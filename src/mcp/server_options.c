/*
 * The server's named settings: the limits (dmcp_limit: names, descriptions, bounds, parsing,
 * dmcp_server_set_limit) and the string options every example and the gateway take from the
 * command line (dmcp_server_set_option, dmcp_server_options_help).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"

#include "mcp/mcp_internal.h"

static const struct {
    const char *name;
    double min, max;
    const char *what;
} limit_info[DMCP_LIMIT__COUNT] = {
    [DMCP_LIMIT_MAX_CONNECTIONS] = {"max-connections", 1, 1000000, "open connections"},
    [DMCP_LIMIT_MAX_CONNECTIONS_PER_IP] = {"max-connections-per-ip", 0, 1000000,
                                           "open connections per client address (0: none)"},
    [DMCP_LIMIT_IDLE_TIMEOUT] = {"idle-timeout", 0, 86400,
                                 "seconds a connection may wait for its next request"},
    [DMCP_LIMIT_HEADER_TIMEOUT] = {"header-timeout", 0, 86400,
                                   "seconds from the request line to the end of the headers"},
    [DMCP_LIMIT_BODY_TIMEOUT] = {"body-timeout", 0, 86400, "seconds to receive a whole body"},
    [DMCP_LIMIT_MAX_BODY] = {"max-body", 64, DMCP_MAX_BODY_BYTES, "bytes of one request body"},
    [DMCP_LIMIT_MAX_BUFFERED] = {"max-buffered", 64, 1e15,
                                 "request body bytes held at once, server-wide"},
    [DMCP_LIMIT_MAX_SESSIONS] = {"max-sessions", 1, 10000000, "sessions"},
    [DMCP_LIMIT_MAX_SESSIONS_PER_PRINCIPAL] = {"max-sessions-per-principal", 0, 10000000,
                                               "sessions per principal (0: none)"},
    [DMCP_LIMIT_SESSION_IDLE] = {"session-idle", 0, 31536000,
                                 "seconds before an idle session ends (0: never)"},
    [DMCP_LIMIT_MAX_STREAMS_PER_SESSION] = {"max-streams-per-session", 0, 100000,
                                            "live SSE responses per session (0: none)"},
    [DMCP_LIMIT_MAX_STREAMS_PER_PRINCIPAL] = {"max-streams-per-principal", 0, 1000000,
                                              "live SSE responses per principal (0: none)"},
    [DMCP_LIMIT_MAX_INFLIGHT_PER_SESSION] = {"max-inflight-per-session", 0, 100000,
                                             "requests of one session served at once (0: none)"},
    [DMCP_LIMIT_RATE] = {"rate", 0, 1e9, "requests per second per principal (0: none)"},
    [DMCP_LIMIT_RATE_BURST] = {"rate-burst", 0, 1e9, "burst of the rate (0: 2 x rate)"},
};

const char *dmcp_limit_description(dmcp_limit limit)
{
    return (unsigned)limit < DMCP_LIMIT__COUNT ? limit_info[limit].what : NULL;
}

const char *dmcp_limit_name(dmcp_limit limit)
{
    return (unsigned)limit < DMCP_LIMIT__COUNT ? limit_info[limit].name : NULL;
}

dmcp_status dmcp_limit_parse(const char *text, dmcp_limit *limit, double *value)
{
    const char *eq = text != NULL ? strchr(text, '=') : NULL;
    if (eq == NULL || limit == NULL || value == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    size_t n = (size_t)(eq - text);
    for (unsigned i = 0; i < DMCP_LIMIT__COUNT; i++) {
        if (strlen(limit_info[i].name) == n && strncmp(limit_info[i].name, text, n) == 0) {
            char *end = NULL;
            double v = strtod(eq + 1, &end);
            if (end == eq + 1 || *end != '\0' || !(v >= 0) || v > 1e15) {
                return DMCP_E_INVALID_ARG;
            }
            *limit = (dmcp_limit)i;
            *value = v;
            return DMCP_OK;
        }
    }
    return DMCP_E_INVALID_ARG;
}

dmcp_status dmcp_server_set_limit(dmcp_server *srv, dmcp_limit limit, double value)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    if ((unsigned)limit >= DMCP_LIMIT__COUNT || !(value >= limit_info[limit].min) ||
        value > limit_info[limit].max) {
        return DMCP_E_INVALID_ARG;
    }
    switch (limit) {
    case DMCP_LIMIT_MAX_BODY:
        srv->max_body = (size_t)value;
        break;
    case DMCP_LIMIT_MAX_BUFFERED:
        srv->max_buffered = (size_t)value;
        break;
    case DMCP_LIMIT_MAX_SESSIONS:
        srv->max_sessions = (unsigned)value;
        break;
    case DMCP_LIMIT_SESSION_IDLE:
        srv->idle_seconds = (unsigned)value;
        break;
    default:
        srv->lim[limit] = value;
    }
    return DMCP_OK;
}

double dmcp_server_limit(const dmcp_server *srv, dmcp_limit limit)
{
    if (srv == NULL || (unsigned)limit >= DMCP_LIMIT__COUNT) {
        return 0.0 / 0.0;
    }
    switch (limit) {
    case DMCP_LIMIT_MAX_BODY:
        return (double)srv->max_body;
    case DMCP_LIMIT_MAX_BUFFERED:
        return (double)srv->max_buffered;
    case DMCP_LIMIT_MAX_SESSIONS:
        return srv->max_sessions;
    case DMCP_LIMIT_SESSION_IDLE:
        return srv->idle_seconds;
    default:
        return srv->lim[limit];
    }
}

dmcp_status dmcp_server_set_option(dmcp_server *srv, const char *option, const char *value,
                                   dmcp_error *err)
{
    if (srv == NULL || option == NULL || value == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "missing argument");
    }
    dmcp_status st = DMCP_E_INVALID_ARG;
    const char *expect = "";
    if (strcmp(option, "limit") == 0) {
        dmcp_limit l;
        double v;
        expect = "NAME=VALUE with a name from --help and a value in its range";
        st = dmcp_limit_parse(value, &l, &v);
        if (st == DMCP_OK) {
            st = dmcp_server_set_limit(srv, l, v);
        }
    } else if (strcmp(option, "metrics-listen") == 0) {
        expect = "HOST:PORT";
        st = dmcp_server_set_metrics_listen(srv, value);
    } else if (strcmp(option, "access-log") == 0) {
        expect = "a file path, or - for stderr";
        st = dmcp_server_set_access_log(
            srv, value, dmcp__accesslog_level_name((dmcp__accesslog_level)srv->access_log_level));
    } else if (strcmp(option, "log-level") == 0) {
        expect = "error, warn, info or debug";
        st = dmcp_server_set_access_log(
            srv, srv->access_log_path != NULL ? srv->access_log_path : "-", value);
    } else {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "unknown option --%s", option);
    }
    if (st == DMCP_E_INVALID_ARG) {
        return dmcp__fail(err, st, DMCP_REASON_NONE, "--%s %s: expected %s", option, value, expect);
    }
    return st != DMCP_OK
               ? dmcp__fail(err, st, DMCP_REASON_NONE, "--%s: %s", option, dmcp_strerror(st))
               : DMCP_OK;
}

char *dmcp_server_options_help(void)
{
    dmcp__buf b;
    dmcp__buf_init(&b, 64 * 1024);
    dmcp_server *d = NULL;
    dmcp_status st = dmcp_server_new("defaults", "0", &d);
    if (st == DMCP_OK) {
        st = dmcp__buf_appends(
            &b, "operations:\n"
                "  --metrics-listen HOST:PORT   serve /metrics, /healthz, /readyz there (off)\n"
                "  --access-log PATH|-          one JSON line per request (off; - = stderr)\n"
                "  --log-level LEVEL            error, warn, info (default) or debug\n"
                "limits (--limit NAME=VALUE, repeatable; default in brackets):\n");
    }
    for (int i = 0; st == DMCP_OK && i < DMCP_LIMIT__COUNT; i++) {
        st = dmcp__buf_printf(&b, "  %-28s %s [%g]\n", limit_info[i].name, limit_info[i].what,
                              dmcp_server_limit(d, (dmcp_limit)i));
    }
    dmcp_server_free(d);
    if (st != DMCP_OK) {
        dmcp__buf_free(&b);
        return NULL;
    }
    return dmcp__buf_take(&b, NULL);
}

dmcp_status dmcp_server_add_static(dmcp_server *srv, const char *path, const char *content_type,
                                   const char *body)
{
    dmcp_status st = dmcp__server_check_cfg(srv);
    if (st != DMCP_OK) {
        return st;
    }
    if (path == NULL || path[0] != '/' || strlen(path) > 256 || content_type == NULL ||
        content_type[0] == '\0' || strlen(content_type) > 128 || body == NULL ||
        strpbrk(path, "?#") != NULL || strpbrk(content_type, "\r\n") != NULL ||
        (srv->endpoint != NULL && strcmp(path, srv->endpoint) == 0)) {
        return DMCP_E_INVALID_ARG;
    }
    if (strlen(body) > DMCP_MAX_STATIC_BYTES) {
        return DMCP_E_TOO_LARGE;
    }
    size_t i = 0;
    while (i < srv->n_statics && strcmp(srv->statics[i].path, path) != 0) {
        i++;
    }
    if (i == DMCP_MAX_STATIC_DOCS) {
        return DMCP_E_TOO_LARGE;
    }
    char *p = strdup(path), *ct = strdup(content_type), *b = strdup(body);
    if (p == NULL || ct == NULL || b == NULL) {
        free(p);
        free(ct);
        free(b);
        return DMCP_E_NOMEM;
    }
    if (i == srv->n_statics) {
        srv->n_statics++;
    } else {
        free(srv->statics[i].path);
        free(srv->statics[i].content_type);
        free(srv->statics[i].body);
    }
    srv->statics[i].path = p;
    srv->statics[i].content_type = ct;
    srv->statics[i].body = b;
    return DMCP_OK;
}
