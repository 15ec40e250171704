/*
 * descope-mcp validate: validate an access token and print its claims as JSON.
 *
 * A contract tested from outside the project (issue 2, "Command-line contract"): option names,
 * exit codes and output shapes must stay exactly as documented in usage() and docs/cli.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dmcp/dmcp.h"

#include "cli.h"

/* A token line longer than the library's highest cap is refused without being kept whole. */
#define TOKEN_READ_MAX (DMCP_MAX_TOKEN_BYTES_LIMIT + 2)

struct validate_opts {
    const char *well_known_url;
    const char *issuer;
    const char *jwks_url;
    const char *jwks_file;
    const char **audiences;
    size_t n_audiences;
    const char **scopes;
    size_t n_scopes;
    long leeway; /* -1: library default */
    bool require_at_jwt;
    bool batch;
};

static void usage(FILE *f)
{
    fputs("usage: descope-mcp validate [options] TOKEN\n"
          "       descope-mcp validate [options] -          (token read from stdin)\n"
          "       descope-mcp validate [options] --batch    (one token per line on stdin)\n"
          "\n"
          "Validates a JWT access token (signature, exp/nbf/iat, issuer, audience) and prints\n"
          "one JSON object on stdout. Prefer '-' to passing the token as an argument: argv is\n"
          "visible to other users through ps.\n"
          "\n"
          "Key source (one is required):\n"
          "  --well-known-url URL   Descope well-known URL or any OpenID issuer (discovery)\n"
          "  --jwks-url URL         fetch keys from this JWKS URL\n"
          "  --jwks-file FILE       use a static JWKS file (no network)\n"
          "  --issuer ISS           the accepted issuer (needed with --jwks-url/--jwks-file\n"
          "                         when there is no --well-known-url)\n"
          "Checks:\n"
          "  --audience AUD         accepted audience, e.g. the MCP server URL (repeatable).\n"
          "                         Without it a Descope URL accepts the project id (Descope's\n"
          "                         default); a generic issuer without --audience is a\n"
          "                         configuration error (exit 2).\n"
          "  --require-scope SCOPE  scope the token must carry (repeatable)\n"
          "  --leeway SECONDS       clock leeway for exp/nbf/iat, 0..300 (default 5)\n"
          "  --require-typ at+jwt   require the RFC 9068 header typ \"at+jwt\"\n"
          "  --batch                read one token per line from stdin, write one result line\n"
          "                         per token, reusing one validator\n"
          "  -h, --help             this text\n"
          "\n"
          "Output and exit status:\n"
          "  0  valid:  {\"user_id\":...,\"scopes\":[...],\"claims\":{...}}\n"
          "  1  invalid: {\"error\":\"invalid_token\",\"error_description\":\"...\"}\n"
          "  2  usage or configuration error (message on stderr)\n"
          "  3  valid but lacking a --require-scope: the insufficient-scope JSON, exactly as\n"
          "     descope-mcp's InsufficientScopeError.to_json() (json.dumps(indent=2))\n"
          "  4  key source unreachable and no key cached:\n"
          "     {\"error\":\"server_error\",\"error_description\":\"Key source unavailable\"}\n"
          "\n"
          "Batch mode: each output line is the JSON single mode would print, written compactly\n"
          "(no whitespace outside strings, i.e. Python's json.dumps(obj, separators=(',', ':'))\n"
          "for the insufficient-scope object, same keys, same order, same \\u escapes).\n"
          "An empty or over-long line gives an invalid_token line. Exit status 0 once every\n"
          "line is read; 2 on a configuration error before the first line.\n",
          f);
}

/* ---- output ---- */

/* Removes whitespace outside strings: pretty JSON to its compact form, escapes untouched. */
static void compact_json(char *s)
{
    bool in_str = false;
    bool esc = false;
    char *w = s;
    for (const char *r = s; *r != '\0'; r++) {
        char c = *r;
        if (in_str) {
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            continue;
        }
        *w++ = c;
    }
    *w = '\0';
}

static void print_json(json_t *obj)
{
    /* Compact, keys in insertion order, UTF-8 as is. */
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s == NULL) {
        fputs("{\"error\":\"server_error\",\"error_description\":\"Out of memory\"}\n", stdout);
        return;
    }
    puts(s);
    free(s);
}

static void print_error(const char *code, const char *description)
{
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "error", json_string(code));
        json_object_set_new(o, "error_description", json_string(description));
    }
    print_json(o);
    json_decref(o);
}

static int print_valid(const dmcp_token *t)
{
    size_t n = 0;
    const char *const *scopes = dmcp_token_scopes(t, &n);
    const char *uid = dmcp_token_user_id(t);
    json_t *o = json_object();
    json_t *arr = json_array();
    if (o == NULL || arr == NULL) {
        json_decref(o);
        json_decref(arr);
        print_error("server_error", "Out of memory");
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_string(scopes[i]));
    }
    json_object_set_new(o, "user_id", uid != NULL ? json_string(uid) : json_null());
    json_object_set_new(o, "scopes", arr);
    /* claims is borrowed from the token: json_deep_copy keeps it untouched. */
    json_object_set_new(o, "claims", json_deep_copy(dmcp_token_claims(t)));
    print_json(o);
    json_decref(o);
    return CLI_EXIT_OK;
}

/* Validates one token and prints its result line; returns the single-mode exit status. */
static int validate_one(dmcp_validator *v, const struct validate_opts *o, const char *token,
                        size_t len)
{
    dmcp_error err;
    dmcp_token *t = NULL;
    dmcp_scope_error *se = NULL;
    int rc;

    dmcp_error_clear(&err);
    dmcp_status st = dmcp_validator_validate(v, token, len, &t, &err);
    switch (st) {
    case DMCP_OK:
        break;
    case DMCP_E_INVALID_TOKEN:
    case DMCP_E_INVALID_ARG:
    case DMCP_E_TOO_LARGE:
    case DMCP_E_MALFORMED_REQUEST:
        /* The stable description of mcp-resource-server.md §5 goes to stdout; the detail
         * (never containing the token) goes to stderr for the human. */
        print_error("invalid_token", dmcp_reason_description(err.reason));
        if (!o->batch && err.message[0] != '\0') {
            fprintf(stderr, "descope-mcp validate: %s\n", err.message);
        }
        return CLI_EXIT_INVALID;
    case DMCP_E_KEY_SOURCE_UNAVAILABLE:
    case DMCP_E_UNREACHABLE:
    case DMCP_E_TIMEOUT:
        print_error("server_error", "Key source unavailable");
        if (!o->batch) {
            fprintf(stderr, "descope-mcp validate: %s\n",
                    err.message[0] != '\0' ? err.message : dmcp_strerror(st));
        }
        return CLI_EXIT_UNREACHABLE;
    default:
        print_error("server_error", dmcp_strerror(st));
        return CLI_EXIT_USAGE;
    }

    if (o->n_scopes > 0) {
        st = dmcp_validator_require_scopes(v, t, o->scopes, o->n_scopes, &se);
        if (st == DMCP_E_INSUFFICIENT_SCOPE && se != NULL) {
            char *js = dmcp_scope_error_to_json(se);
            if (js == NULL) {
                print_error("server_error", "Out of memory");
                rc = CLI_EXIT_USAGE;
            } else {
                if (o->batch) {
                    compact_json(js);
                }
                puts(js);
                dmcp_free(js);
                rc = CLI_EXIT_SCOPE;
            }
            goto out;
        }
        if (st != DMCP_OK) {
            print_error("server_error", dmcp_strerror(st));
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    rc = print_valid(t);
out:
    dmcp_scope_error_free(se);
    dmcp_token_free(t);
    return rc;
}

/* ---- input ---- */

/*
 * Reads one line (without its line ending) into buf (TOKEN_READ_MAX bytes). Returns false at
 * end of input. A line longer than the buffer is consumed to its end and reported through
 * *too_long, so the output stays one line per input line.
 */
static bool read_line(FILE *in, char *buf, size_t *len, bool *too_long)
{
    size_t n = 0;
    int c;
    bool any = false;
    *too_long = false;
    while (true) {
        c = getc(in);
        if (c == EOF) {
            break;
        }
        any = true;
        if (c == '\n') {
            break;
        }
        if (n + 1 < TOKEN_READ_MAX) {
            buf[n++] = (char)c;
        } else {
            *too_long = true;
        }
    }
    if (!any) {
        return false;
    }
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t')) {
        n--;
    }
    buf[n] = '\0';
    *len = n;
    return true;
}

static bool parse_leeway(const char *s, long *out)
{
    char *end = NULL;
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 300) {
        return false;
    }
    *out = v;
    return true;
}

static const char **push(const char **v, size_t *n, const char *s)
{
    if (*n >= DMCP_MAX_SCOPES) {
        return NULL;
    }
    const char **nv = realloc(v, (*n + 1) * sizeof(*nv));
    if (nv == NULL) {
        return NULL;
    }
    nv[(*n)++] = s;
    return nv;
}

/* ---- configuration ---- */

static int config_error(const char *what, dmcp_status st)
{
    fprintf(stderr, "descope-mcp validate: %s: %s\n", what, dmcp_strerror(st));
    return CLI_EXIT_USAGE;
}

static int build_validator(const struct validate_opts *o, dmcp_validator **out)
{
    dmcp_validator_config *cfg = NULL;
    dmcp_error err;
    dmcp_status st;
    int rc = CLI_EXIT_USAGE;

    dmcp_error_clear(&err);
    st = dmcp_validator_config_new(&cfg);
    if (st != DMCP_OK) {
        return config_error("configuration", st);
    }
#define SET(call, what)                                                                            \
    do {                                                                                           \
        st = (call);                                                                               \
        if (st != DMCP_OK) {                                                                       \
            rc = config_error(what, st);                                                           \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
    if (o->well_known_url != NULL) {
        SET(dmcp_validator_config_set_well_known_url(cfg, o->well_known_url), "--well-known-url");
    }
    if (o->issuer != NULL) {
        SET(dmcp_validator_config_set_issuer(cfg, o->issuer), "--issuer");
    }
    if (o->jwks_url != NULL) {
        SET(dmcp_validator_config_set_jwks_url(cfg, o->jwks_url), "--jwks-url");
    }
    if (o->jwks_file != NULL) {
        SET(dmcp_validator_config_set_jwks_file(cfg, o->jwks_file), "--jwks-file");
    }
    for (size_t i = 0; i < o->n_audiences; i++) {
        /* The first audience is the resource (the MCP server URL); more are accepted too. */
        if (i == 0) {
            SET(dmcp_validator_config_set_mcp_server_url(cfg, o->audiences[0]), "--audience");
        } else {
            SET(dmcp_validator_config_add_audience(cfg, o->audiences[i]), "--audience");
        }
    }
    if (o->leeway >= 0) {
        SET(dmcp_validator_config_set_leeway(cfg, (unsigned)o->leeway), "--leeway");
    }
    if (o->require_at_jwt) {
        SET(dmcp_validator_config_set_require_at_jwt(cfg, true), "--require-typ");
    }
#undef SET
    st = dmcp_validator_new(cfg, out, &err);
    switch (st) {
    case DMCP_OK:
        rc = CLI_EXIT_OK;
        break;
    case DMCP_E_KEY_SOURCE_UNAVAILABLE:
    case DMCP_E_UNREACHABLE:
    case DMCP_E_TIMEOUT:
        fprintf(stderr, "descope-mcp validate: %s\n",
                err.message[0] != '\0' ? err.message : dmcp_strerror(st));
        if (!o->batch) {
            print_error("server_error", "Key source unavailable");
        }
        rc = CLI_EXIT_UNREACHABLE;
        break;
    default:
        fprintf(stderr, "descope-mcp validate: %s\n",
                err.message[0] != '\0' ? err.message : dmcp_strerror(st));
        if (o->n_audiences == 0 && st == DMCP_E_CONFIG) {
            fputs("descope-mcp validate: hint: a generic issuer has no default audience; pass "
                  "--audience (e.g. the MCP server URL)\n",
                  stderr);
        }
        rc = CLI_EXIT_USAGE;
        break;
    }
out:
    dmcp_validator_config_free(cfg);
    return rc;
}

/* ---- entry point ---- */

enum {
    OPT_WELL_KNOWN = 256,
    OPT_ISSUER,
    OPT_JWKS_URL,
    OPT_JWKS_FILE,
    OPT_AUDIENCE,
    OPT_SCOPE,
    OPT_LEEWAY,
    OPT_TYP,
    OPT_BATCH
};

static const struct option long_opts[] = {
    {"well-known-url", required_argument, NULL, OPT_WELL_KNOWN},
    {"issuer", required_argument, NULL, OPT_ISSUER},
    {"jwks-url", required_argument, NULL, OPT_JWKS_URL},
    {"jwks-file", required_argument, NULL, OPT_JWKS_FILE},
    {"audience", required_argument, NULL, OPT_AUDIENCE},
    {"require-scope", required_argument, NULL, OPT_SCOPE},
    {"leeway", required_argument, NULL, OPT_LEEWAY},
    {"require-typ", required_argument, NULL, OPT_TYP},
    {"batch", no_argument, NULL, OPT_BATCH},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int run_batch(dmcp_validator *v, const struct validate_opts *o)
{
    char *line = malloc(TOKEN_READ_MAX);
    size_t len = 0;
    bool too_long = false;
    if (line == NULL) {
        fputs("descope-mcp validate: out of memory\n", stderr);
        return CLI_EXIT_USAGE;
    }
    while (read_line(stdin, line, &len, &too_long)) {
        if (too_long || len == 0) {
            print_error("invalid_token", dmcp_reason_description(DMCP_REASON_MALFORMED));
        } else {
            (void)validate_one(v, o, line, len);
        }
        /* One line per token, visible at once to a script reading through a pipe. */
        fflush(stdout);
    }
    /* Tokens never outlive their use. */
    memset(line, 0, TOKEN_READ_MAX);
    free(line);
    return CLI_EXIT_OK;
}

static int run_single(dmcp_validator *v, const struct validate_opts *o, const char *arg)
{
    int rc;
    if (strcmp(arg, "-") != 0) {
        return validate_one(v, o, arg, strlen(arg));
    }
    char *buf = malloc(TOKEN_READ_MAX);
    size_t len = 0;
    bool too_long = false;
    if (buf == NULL) {
        fputs("descope-mcp validate: out of memory\n", stderr);
        return CLI_EXIT_USAGE;
    }
    if (!read_line(stdin, buf, &len, &too_long) || too_long || len == 0) {
        print_error("invalid_token", dmcp_reason_description(DMCP_REASON_MALFORMED));
        rc = CLI_EXIT_INVALID;
    } else {
        rc = validate_one(v, o, buf, len);
    }
    memset(buf, 0, TOKEN_READ_MAX);
    free(buf);
    return rc;
}

int cli_validate(int argc, char **argv)
{
    struct validate_opts o;
    dmcp_validator *v = NULL;
    int rc = CLI_EXIT_USAGE;
    int c;

    memset(&o, 0, sizeof(o));
    o.leeway = -1;
    optind = 1;
    opterr = 1;
    while (true) {
        c = getopt_long(argc, argv, "h", long_opts, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_WELL_KNOWN:
            o.well_known_url = optarg;
            break;
        case OPT_ISSUER:
            o.issuer = optarg;
            break;
        case OPT_JWKS_URL:
            o.jwks_url = optarg;
            break;
        case OPT_JWKS_FILE:
            o.jwks_file = optarg;
            break;
        case OPT_AUDIENCE: {
            const char **nv = push(o.audiences, &o.n_audiences, optarg);
            if (nv == NULL) {
                fputs("descope-mcp validate: too many --audience options\n", stderr);
                goto out;
            }
            o.audiences = nv;
            break;
        }
        case OPT_SCOPE: {
            const char **nv = push(o.scopes, &o.n_scopes, optarg);
            if (nv == NULL) {
                fputs("descope-mcp validate: too many --require-scope options\n", stderr);
                goto out;
            }
            o.scopes = nv;
            break;
        }
        case OPT_LEEWAY:
            if (!parse_leeway(optarg, &o.leeway)) {
                fputs("descope-mcp validate: --leeway takes 0..300 seconds\n", stderr);
                goto out;
            }
            break;
        case OPT_TYP:
            if (strcmp(optarg, "at+jwt") != 0) {
                fputs("descope-mcp validate: --require-typ accepts only at+jwt\n", stderr);
                goto out;
            }
            o.require_at_jwt = true;
            break;
        case OPT_BATCH:
            o.batch = true;
            break;
        case 'h':
            usage(stdout);
            rc = CLI_EXIT_OK;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (o.batch ? optind != argc : optind + 1 != argc) {
        fputs(o.batch ? "descope-mcp validate: --batch reads tokens from stdin, not arguments\n"
                      : "descope-mcp validate: exactly one TOKEN (or -) is required\n",
              stderr);
        usage(stderr);
        goto out;
    }
    if (o.well_known_url == NULL && o.jwks_url == NULL && o.jwks_file == NULL) {
        fputs("descope-mcp validate: a key source is required: --well-known-url, --jwks-url "
              "or --jwks-file\n",
              stderr);
        goto out;
    }
    if (o.jwks_url != NULL && o.jwks_file != NULL) {
        fputs("descope-mcp validate: --jwks-url and --jwks-file are mutually exclusive\n", stderr);
        goto out;
    }
    for (size_t i = 0; i < o.n_scopes; i++) {
        if (o.scopes[i][0] == '\0' || strlen(o.scopes[i]) > DMCP_MAX_SCOPE_LEN) {
            fputs("descope-mcp validate: --require-scope takes a non-empty scope\n", stderr);
            goto out;
        }
    }
    rc = build_validator(&o, &v);
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    rc = o.batch ? run_batch(v, &o) : run_single(v, &o, argv[optind]);
out:
    fflush(stdout);
    dmcp_validator_free(v);
    free(o.audiences);
    free(o.scopes);
    return rc;
}
