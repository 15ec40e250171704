/*
 * descope-mcp connection-token: fetch a user's or a tenant's connection (outbound-app) token
 * from Descope and print it as JSON (descope-wire-protocol.md §5).
 *
 * Secrets never come from argv (visible in ps and shell history): the access token is read
 * from a file, the management key from an environment variable.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "dmcp/common.h"
#include "dmcp/descope.h"

#include "cli.h"

#define SECRET_FILE_MAX (64 * 1024)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: descope-mcp connection-token --well-known-url URL --app-id ID\n"
            "         (--user-id ID | --tenant-id ID) [--scope S]...\n"
            "         [--access-token-file FILE | --management-key-env VAR]\n"
            "         [--with-refresh-token] [--force-refresh] [--api-base URL]\n"
            "\n"
            "Fetches a connection token (Descope outbound app) and prints the token object as\n"
            "JSON on stdout.\n"
            "\n"
            "  --well-known-url URL      the Descope discovery URL; the project id comes from it\n"
            "  --app-id ID               the outbound app (e.g. google-calendar)\n"
            "  --user-id ID              a user's token\n"
            "  --tenant-id ID            alone: the tenant's token; with --user-id: the user's\n"
            "                            token within that tenant (tenantId in the request)\n"
            "  --scope S                 a required scope (repeatable); none: the latest token\n"
            "  --access-token-file FILE  the MCP access token (one trailing newline is ignored);\n"
            "                            Descope applies its policies (the default credential)\n"
            "  --management-key-env VAR  name of the environment variable holding a management\n"
            "                            key (bypasses policies)\n"
            "  --with-refresh-token      also return the refresh token\n"
            "  --force-refresh           make Descope refresh the token first\n"
            "  --api-base URL            Descope API base URL (default: $DESCOPE_BASE_URL, else\n"
            "                            the well-known URL's origin)\n"
            "\n"
            "Exit status: 0 token printed; 1 other API error (error JSON on stdout); 2 usage or\n"
            "configuration; 4 unreachable or timed out; 5 not connected; 6 denied by policy or\n"
            "credential; 7 rate limited. Errors 1, 4, 5, 6, 7 print the error JSON on stdout:\n"
            "{\"error\",\"message\",\"status\",\"errorCode\",\"errorDescription\","
            "\"errorMessage\",\"retryAfter\"}.\n");
}

/* Reads a secret file (capped), dropping one trailing "\n" or "\r\n". */
static char *read_secret_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "descope-mcp connection-token: cannot open %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    char *buf = malloc(SECRET_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, SECRET_FILE_MAX + 1, f) : 0;
    int bad = buf == NULL || ferror(f) || n > SECRET_FILE_MAX;
    fclose(f);
    if (bad) {
        fprintf(stderr, "descope-mcp connection-token: cannot read %s (or larger than %d bytes)\n",
                path, SECRET_FILE_MAX);
        if (buf != NULL) {
            OPENSSL_cleanse(buf, SECRET_FILE_MAX + 1);
        }
        free(buf);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
    }
    buf[n] = '\0';
    return buf;
}

static int exit_code(dmcp_status st)
{
    switch (st) {
    case DMCP_OK:
        return CLI_EXIT_OK;
    case DMCP_E_NOT_CONNECTED:
        return CLI_EXIT_NOT_CONNECTED;
    case DMCP_E_POLICY_DENIED:
        return CLI_EXIT_POLICY;
    case DMCP_E_RATE_LIMITED:
        return CLI_EXIT_RATE_LIMITED;
    case DMCP_E_UNREACHABLE:
    case DMCP_E_TIMEOUT:
        return CLI_EXIT_UNREACHABLE;
    case DMCP_E_CONFIG:
    case DMCP_E_INVALID_ARG:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_INVALID;
    }
}

/* "DMCP_E_NOT_CONNECTED" -> "not_connected" (common.h: names in JSON output). */
static void status_json_name(dmcp_status st, char *out, size_t cap)
{
    const char *n = dmcp_status_name(st);
    if (strncmp(n, "DMCP_E_", 7) == 0) {
        n += 7;
    } else if (strncmp(n, "DMCP_", 5) == 0) {
        n += 5;
    }
    size_t i = 0;
    for (; n[i] != '\0' && i + 1 < cap; i++) {
        char ch = n[i];
        out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[i] = '\0';
}

static json_t *str_or_null(const char *s)
{
    return (s != NULL && s[0] != '\0') ? json_string(s) : json_null();
}

static void print_error_json(dmcp_status st, const dmcp_error *err)
{
    char name[64];
    status_json_name(st, name, sizeof(name));
    json_t *j = json_object();
    json_object_set_new(j, "error", json_string(name));
    json_object_set_new(j, "message", str_or_null(err->message));
    json_object_set_new(j, "status",
                        err->http_status > 0 ? json_integer(err->http_status) : json_null());
    json_object_set_new(j, "errorCode", str_or_null(err->code));
    json_object_set_new(j, "errorDescription", str_or_null(err->description));
    json_object_set_new(j, "errorMessage", str_or_null(err->upstream_message));
    if (st == DMCP_E_RATE_LIMITED) {
        json_object_set_new(j, "retryAfter", json_integer(err->retry_after));
    }
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s != NULL) {
        printf("%s\n", s);
    }
    free(s);
    json_decref(j);
}

enum {
    OPT_WK = 1,
    OPT_APP,
    OPT_USER,
    OPT_TENANT,
    OPT_SCOPE,
    OPT_TOKEN_FILE,
    OPT_KEY_ENV,
    OPT_WITH_REFRESH,
    OPT_FORCE,
    OPT_API_BASE,
    OPT_HELP
};

int cli_connection_token(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"well-known-url", required_argument, NULL, OPT_WK},
        {"app-id", required_argument, NULL, OPT_APP},
        {"user-id", required_argument, NULL, OPT_USER},
        {"tenant-id", required_argument, NULL, OPT_TENANT},
        {"scope", required_argument, NULL, OPT_SCOPE},
        {"access-token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {"management-key-env", required_argument, NULL, OPT_KEY_ENV},
        {"with-refresh-token", no_argument, NULL, OPT_WITH_REFRESH},
        {"force-refresh", no_argument, NULL, OPT_FORCE},
        {"api-base", required_argument, NULL, OPT_API_BASE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *wk = NULL, *app = NULL, *user = NULL, *tenant = NULL, *token_file = NULL,
               *key_env = NULL, *api_base = NULL;
    const char *scopes[DMCP_MAX_SCOPES + 1];
    size_t n_scopes = 0;
    bool with_refresh = false, force = false;
    int rc = CLI_EXIT_USAGE;
    char *access_token = NULL;
    dmcp_descope_client *c = NULL;
    dmcp_connection_options *o = NULL;
    dmcp_connection_token *t = NULL;
    dmcp_error err;
    dmcp_error_clear(&err);

    opterr = 1;
    optind = 1;
    for (;;) {
        int ch = getopt_long(argc, argv, "+h", longopts, NULL);
        if (ch == -1) {
            break;
        }
        switch (ch) {
        case OPT_WK:
            wk = optarg;
            break;
        case OPT_APP:
            app = optarg;
            break;
        case OPT_USER:
            user = optarg;
            break;
        case OPT_TENANT:
            tenant = optarg;
            break;
        case OPT_SCOPE:
            if (n_scopes >= DMCP_MAX_SCOPES) {
                fprintf(stderr, "descope-mcp connection-token: more than %d scopes\n",
                        DMCP_MAX_SCOPES);
                return CLI_EXIT_USAGE;
            }
            scopes[n_scopes++] = optarg;
            break;
        case OPT_TOKEN_FILE:
            token_file = optarg;
            break;
        case OPT_KEY_ENV:
            key_env = optarg;
            break;
        case OPT_WITH_REFRESH:
            with_refresh = true;
            break;
        case OPT_FORCE:
            force = true;
            break;
        case OPT_API_BASE:
            api_base = optarg;
            break;
        case OPT_HELP:
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    scopes[n_scopes] = NULL;
    const char *problem = NULL;
    if (optind < argc) {
        problem = "unexpected argument (secrets are never taken from the command line)";
    } else if (wk == NULL) {
        problem = "--well-known-url is required";
    } else if (app == NULL) {
        problem = "--app-id is required";
    } else if (user == NULL && tenant == NULL) {
        problem = "--user-id or --tenant-id is required";
    } else if (token_file != NULL && key_env != NULL) {
        problem = "--access-token-file and --management-key-env exclude each other";
    } else if (token_file == NULL && key_env == NULL) {
        problem = "a credential is required: --access-token-file or --management-key-env";
    }
    if (problem != NULL) {
        fprintf(stderr, "descope-mcp connection-token: %s\n", problem);
        usage(stderr);
        return CLI_EXIT_USAGE;
    }

    dmcp_status st = dmcp_descope_client_new(wk, &c, &err);
    if (st != DMCP_OK) {
        fprintf(stderr, "descope-mcp connection-token: %s\n", err.message);
        rc = exit_code(st) == CLI_EXIT_OK ? CLI_EXIT_USAGE : exit_code(st);
        goto out;
    }
    if (api_base != NULL && dmcp_descope_client_set_api_base(c, api_base) != DMCP_OK) {
        fprintf(stderr, "descope-mcp connection-token: --api-base is not an allowed URL "
                        "(https, or http on a loopback host)\n");
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (key_env != NULL) {
        const char *key = getenv(key_env);
        if (key == NULL || key[0] == '\0') {
            fprintf(stderr, "descope-mcp connection-token: environment variable %s is not set\n",
                    key_env);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        if (dmcp_descope_client_set_management_key(c, key) != DMCP_OK) {
            fprintf(stderr, "descope-mcp connection-token: the management key in %s has "
                            "characters not allowed in an HTTP header\n",
                    key_env);
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    } else {
        access_token = read_secret_file(token_file);
        if (access_token == NULL) {
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (dmcp_descope_client_set_cache(c, 0, 0) != DMCP_OK ||
        dmcp_connection_options_new(&o) != DMCP_OK ||
        dmcp_connection_options_set_with_refresh_token(o, with_refresh) != DMCP_OK ||
        dmcp_connection_options_set_force_refresh(o, force) != DMCP_OK) {
        fprintf(stderr, "descope-mcp connection-token: out of memory\n");
        rc = CLI_EXIT_INVALID;
        goto out;
    }
    if (user != NULL) {
        if (tenant != NULL && dmcp_connection_options_set_tenant_id(o, tenant) != DMCP_OK) {
            rc = CLI_EXIT_INVALID;
            goto out;
        }
        st = dmcp_descope_user_token(c, access_token, app, user, scopes, o, &t, &err);
    } else {
        st = dmcp_descope_tenant_token(c, access_token, app, tenant, scopes, o, &t, &err);
    }
    rc = exit_code(st);
    if (st == DMCP_OK) {
        char *s = json_dumps(dmcp_connection_token_json(t), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s == NULL) {
            fprintf(stderr, "descope-mcp connection-token: out of memory\n");
            rc = CLI_EXIT_INVALID;
            goto out;
        }
        printf("%s\n", s);
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    } else {
        fprintf(stderr, "descope-mcp connection-token: %s\n", err.message);
        if (rc != CLI_EXIT_USAGE) {
            print_error_json(st, &err);
        }
    }
out:
    fflush(stdout);
    dmcp_connection_token_free(t);
    dmcp_connection_options_free(o);
    dmcp_descope_client_free(c);
    dmcp_descope_secret_free(access_token);
    return rc;
}
