/*
 * descope-mcp sandbox: a local Descope-shaped OpenID provider, connections API and sample
 * calendar API for offline development and the demo. See docs/sandbox.md.
 * A DEVELOPMENT TOOL: loopback only, keys per run unless a state file keeps them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "sandbox/sandbox.h"

#define DEFAULT_PORT 8686u

static void usage(FILE *f)
{
    fprintf(f,
            "usage: descope-mcp sandbox [--listen HOST:PORT] [--state FILE] "
            "[--exit-after SECONDS]\n\n"
            "Runs a local, Descope-shaped OpenID provider with a connections (outbound-app)\n"
            "API and a sample calendar API. A development tool, not for production.\n\n"
            "  --listen HOST:PORT   loopback address to bind (default 127.0.0.1:%u);\n"
            "                       HOST is 127.x.x.x, localhost or [::1]; PORT 0 picks one\n"
            "  --state FILE         keep keys, clients, users and connections in FILE (JSON,\n"
            "                       mode 0600; created with the defaults if absent)\n"
            "  --exit-after SECONDS stop by itself after SECONDS (for scripts and tests)\n\n"
            "When ready it prints one JSON line on stdout (issuer, well_known_url, api_base,\n"
            "calendar_api_base, management_key, dev client, ...). SIGINT/SIGTERM stop it.\n",
            DEFAULT_PORT);
}

/* HOST:PORT with a loopback HOST; false (with a message) otherwise. */
static bool parse_listen(const char *arg, char host[64], unsigned *port)
{
    const char *colon = strrchr(arg, ':');
    if (colon == NULL || colon == arg || colon[1] == '\0') {
        fprintf(stderr, "sandbox: --listen wants HOST:PORT\n");
        return false;
    }
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || p > 65535 || colon[1] == '-' || colon[1] == '+') {
        fprintf(stderr, "sandbox: bad port in --listen\n");
        return false;
    }
    size_t hl = (size_t)(colon - arg);
    if (hl >= 64) {
        fprintf(stderr, "sandbox: bad host in --listen\n");
        return false;
    }
    char h[64];
    memcpy(h, arg, hl);
    h[hl] = '\0';
    if (strcmp(h, "localhost") == 0) {
        strcpy(h, "127.0.0.1");
    } else if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        memmove(h, h + 1, hl - 2);
        h[hl - 2] = '\0';
    }
    struct in_addr a4;
    struct in6_addr a6;
    bool loop = false;
    if (inet_pton(AF_INET, h, &a4) == 1) {
        loop = (ntohl(a4.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, h, &a6) == 1) {
        loop = memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
    }
    if (!loop) {
        fprintf(stderr, "sandbox: refusing to listen on '%s': the sandbox binds to loopback "
                        "only (127.0.0.0/8, localhost, [::1])\n", h);
        return false;
    }
    strcpy(host, h);
    *port = (unsigned)p;
    return true;
}

static void print_ready(const sbx *s)
{
    json_t *users = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(s->state, "users"), i, u) {
        json_array_append(users, json_object_get(u, "id"));
    }
    json_t *dev = NULL;
    json_array_foreach(json_object_get(s->state, "clients"), i, u) {
        if (dev == NULL && json_is_true(json_object_get(u, "dev")) &&
            json_is_string(json_object_get(u, "client_secret"))) {
            dev = u;
        }
    }
    char wk[320];
    char jwks[256];
    char token[160];
    char devtok[160];
    snprintf(wk, sizeof(wk), "%s/.well-known/openid-configuration", s->issuer);
    snprintf(jwks, sizeof(jwks), "%s/%s/.well-known/jwks.json", s->base, s->pid);
    snprintf(token, sizeof(token), "%s/oauth2/v1/apps/token", s->base);
    snprintf(devtok, sizeof(devtok), "%s/sandbox/token", s->base);
    json_t *line = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:o,s:o}", "sandbox",
        "descope-mcp sandbox (development tool, not for production)", "issuer", s->issuer,
        "well_known_url", wk, "jwks_uri", jwks, "token_endpoint", token, "dev_token_endpoint",
        devtok, "api_base", s->base, "calendar_api_base", s->base, "project_id", s->pid,
        "management_key", json_object_get(s->state, "management_key"), "mcp_server_id", s->sid,
        "users", users, "state_file",
        s->state_path != NULL ? json_string(s->state_path) : json_null());
    if (line != NULL && dev != NULL) {
        json_object_set(line, "dev_client_id", json_object_get(dev, "client_id"));
        json_object_set(line, "dev_client_secret", json_object_get(dev, "client_secret"));
    }
    char *txt = line != NULL ? json_dumps(line, JSON_COMPACT) : NULL;
    if (txt != NULL) {
        printf("%s\n", txt);
        fflush(stdout);
        OPENSSL_cleanse(txt, strlen(txt));
    }
    free(txt);
    json_decref(line);
}

static void sbx_free(sbx *s)
{
    json_decref(s->state);
    json_decref(s->pending);
    json_decref(s->codes);
    json_decref(s->tickets);
    dmcp_validator_free(s->validator);
    dmcp_signer_free(s->signer);
    free(s->state_path);
}

int cli_sandbox(int argc, char **argv)
{
    char host[64] = "127.0.0.1";
    unsigned port_in = DEFAULT_PORT;
    long exit_after = 0;
    sbx s;
    memset(&s, 0, sizeof(s));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "sandbox: unknown option or missing value: %s\n", a);
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--listen") == 0) {
            if (!parse_listen(v, host, &port_in)) {
                return CLI_EXIT_USAGE;
            }
        } else if (strcmp(a, "--state") == 0 && s.state_path == NULL) {
            s.state_path = strdup(v);
        } else if (strcmp(a, "--exit-after") == 0) {
            char *end = NULL;
            exit_after = strtol(v, &end, 10);
            if (*end != '\0' || exit_after < 1 || exit_after > 86400 * 7) {
                fprintf(stderr, "sandbox: --exit-after wants 1..604800 seconds\n");
                free(s.state_path);
                return CLI_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "sandbox: unknown option: %s\n", a);
            usage(stderr);
            free(s.state_path);
            return CLI_EXIT_USAGE;
        }
    }

    fprintf(stderr, "descope-mcp sandbox: a DEVELOPMENT TOOL, NOT FOR PRODUCTION. Its keys, "
                    "users and connections are test data; it listens on loopback only.\n");

    int rc = CLI_EXIT_USAGE;
    void *daemon = NULL;
    bool created = false;
    const char *why = NULL;
    if (s.state_path != NULL) {
        if (!sbx_state_load(s.state_path, &s.state, &created)) {
            goto out;
        }
    } else {
        s.state = sbx_state_default();
    }
    if (s.state == NULL || !sbx_state_check(s.state, &why)) {
        fprintf(stderr, "sandbox: bad state: %s\n", why != NULL ? why : "out of memory");
        goto out;
    }
    const char *pem = json_string_value(json_object_get(s.state, "signing_key"));
    if (pem == NULL || dmcp_signer_new(pem, &s.signer, NULL) != DMCP_OK ||
        strcmp(dmcp_signer_alg(s.signer), "RS256") != 0) {
        fprintf(stderr, "sandbox: signing_key is not an RSA private key of >= 2048 bits\n");
        goto out;
    }
    s.pid = json_string_value(json_object_get(s.state, "project_id"));
    s.sid = json_string_value(json_object_get(s.state, "mcp_server_id"));
    s.pending = json_object();
    s.codes = json_object();
    s.tickets = json_object();

    /* Block the stop signals before any thread exists, then wait for them synchronously. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned port = 0;
    bool v6 = false;
    int fd = sbx_listen(host, port_in, &port, &v6);
    if (fd < 0) {
        fprintf(stderr, "sandbox: cannot listen on %s:%u: %s\n", host, port_in,
                strerror(errno));
        rc = CLI_EXIT_UNREACHABLE;
        goto out;
    }
    snprintf(s.base, sizeof(s.base), v6 ? "http://[%s]:%u" : "http://%s:%u", host, port);
    snprintf(s.issuer, sizeof(s.issuer), "%s/v1/apps/agentic/%s/%s", s.base, s.pid, s.sid);
    s.validator = sbx_validator_new(&s);
    if (s.validator == NULL) {
        fprintf(stderr, "sandbox: cannot set up the token validator\n");
        close(fd);
        goto out;
    }
    if (created && !sbx_state_save(&s)) {
        close(fd);
        goto out;
    }
    daemon = sbx_server_start(&s, fd, v6);
    if (daemon == NULL) {
        fprintf(stderr, "sandbox: cannot start the HTTP server\n");
        close(fd);
        rc = CLI_EXIT_UNREACHABLE;
        goto out;
    }
    fprintf(stderr, "descope-mcp sandbox: issuer %s\n", s.issuer);
    fprintf(stderr, "descope-mcp sandbox: %s\n",
            s.state_path != NULL ? "state kept in the state file"
                                 : "keys and data generated for this run only (use --state "
                                   "to keep them)");
    print_ready(&s);

    int sig = 0;
    if (exit_after > 0) {
        time_t deadline = time(NULL) + (time_t)exit_after;
        for (;;) {
            time_t left = deadline - time(NULL);
            struct timespec ts = {left > 0 ? left : 0, 0};
            sig = sigtimedwait(&set, NULL, &ts);
            if (sig > 0 || errno != EINTR || left <= 0) {
                break;
            }
        }
    } else {
        while (sigwait(&set, &sig) != 0) {
        }
    }
    fprintf(stderr, "descope-mcp sandbox: stopping (%s)\n", sig > 0 ? "signal" : "time limit");
    rc = CLI_EXIT_OK;
out:
    sbx_server_stop(daemon);
    sbx_free(&s);
    return rc;
}
