#define _GNU_SOURCE /* F_SETPIPE_SZ */
/*
 * descope-mcp validate: validate an access token and print its claims as JSON.
 *
 * A contract tested from outside the project (issue 2, "Command-line contract"): option names,
 * exit codes and output shapes must stay exactly as documented in usage() and docs/cli.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "dmcp/dmcp.h"

#include "cli.h"

/* A token line longer than the library's highest cap is refused without being kept whole:
 * a line of more than TOKEN_READ_MAX - 1 bytes (before its '\n') is an over-long line. */
#define TOKEN_READ_MAX (DMCP_MAX_TOKEN_BYTES_LIMIT + 2)
/* The input buffer: room for one whole line at the cap plus a large read behind it. */
#define READ_BUF_BYTES (TOKEN_READ_MAX + 256 * 1024)
/* stdout buffer in batch mode: written when full or when the input runs dry. */
#define OUT_BUF_BYTES (64 * 1024)

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

/* A growing byte buffer, reused from one result line to the next (the tool is one thread). */
struct dump_buf {
    char *p;
    size_t len;
    size_t cap;
};

static struct dump_buf g_dump;

static int dump_append(const char *data, size_t size, void *ud)
{
    struct dump_buf *b = ud;
    if (size > b->cap - b->len) {
        size_t cap = b->cap > 0 ? b->cap : 1024;
        while (size > cap - b->len) {
            if (cap > SIZE_MAX / 2) {
                return -1;
            }
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            return -1;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, size);
    b->len += size;
    return 0;
}

static void dump_buf_free(struct dump_buf *b)
{
    if (b->p != NULL) {
        OPENSSL_cleanse(b->p, b->cap);
    }
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Compact, keys in insertion order, UTF-8 as is (what json_dumps gives with these flags). */
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

static void print_oom(void)
{
    fputs("{\"error\":\"server_error\",\"error_description\":\"Out of memory\"}\n", stdout);
}

static void print_json(json_t *obj)
{
    g_dump.len = 0;
    if (obj == NULL || json_dump_callback(obj, dump_append, &g_dump, DUMP_FLAGS) != 0 ||
        dump_append("\n", 1, &g_dump) != 0) {
        print_oom();
        return;
    }
    fwrite(g_dump.p, 1, g_dump.len, stdout);
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

/*
 * {"user_id":...,"scopes":[...],"claims":{...}}: the bytes json_dumps(DUMP_FLAGS) gives for
 * that object, written member by member so the borrowed claims are dumped where they are
 * instead of deep-copied into a new object first.
 */
static int print_valid(const dmcp_token *t)
{
    size_t n = 0;
    const char *const *scopes = dmcp_token_scopes(t, &n);
    const char *uid = dmcp_token_user_id(t);
    size_t clen = 0;
    char *claims = dmcp_token_claims_json(t, &clen);
    json_t *juid = uid != NULL ? json_string(uid) : json_null();
    json_t *arr = json_array();
    bool ok = juid != NULL && arr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        ok = json_array_append_new(arr, json_string(scopes[i])) == 0;
    }
    g_dump.len = 0;
    ok = ok && dump_append("{\"user_id\":", 11, &g_dump) == 0 &&
         json_dump_callback(juid, dump_append, &g_dump, DUMP_FLAGS | JSON_ENCODE_ANY) == 0 &&
         dump_append(",\"scopes\":", 10, &g_dump) == 0 &&
         json_dump_callback(arr, dump_append, &g_dump, DUMP_FLAGS) == 0;
    /* No claims object (only when memory ran out) leaves the member out, as before. */
    if (ok && claims != NULL) {
        ok = dump_append(",\"claims\":", 10, &g_dump) == 0 &&
             dump_append(claims, clen, &g_dump) == 0;
    }
    if (claims != NULL) {
        OPENSSL_cleanse(claims, clen);
    }
    dmcp_free(claims);
    ok = ok && dump_append("}\n", 2, &g_dump) == 0;
    json_decref(juid);
    json_decref(arr);
    if (!ok) {
        print_oom();
        return CLI_EXIT_USAGE;
    }
    fwrite(g_dump.p, 1, g_dump.len, stdout);
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
 * Line reader over a file descriptor: large read()s into one buffer, lines cut out in place.
 * Before any read that could block, stdout is flushed unless more input is already waiting,
 * so a script that writes one token and waits gets its answer, while a stream of tokens is
 * answered in large writes.
 */
struct line_reader {
    int fd;
    char *buf; /* READ_BUF_BYTES + 1 */
    size_t start;
    size_t end;
    bool eof;
};

static bool input_waiting(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    return poll(&p, 1, 0) > 0;
}

static void reader_fill(struct line_reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (!input_waiting(r->fd)) {
        fflush(stdout);
    }
    while (true) {
        ssize_t got = read(r->fd, r->buf + r->end, READ_BUF_BYTES - r->end);
        if (got > 0) {
            r->end += (size_t)got;
            return;
        }
        if (got < 0 && errno == EINTR) {
            continue;
        }
        r->eof = true; /* end of input, or an error that ends it */
        return;
    }
}

/*
 * The next line, without its '\n' and with trailing '\r', ' ' and '\t' removed, NUL-terminated
 * in the reader's buffer (valid until the next call). Returns false at end of input. A line of
 * more than TOKEN_READ_MAX - 1 bytes is consumed to its end and reported through *too_long, so
 * the output stays one line per input line.
 */
static bool read_line(struct line_reader *r, char **line, size_t *len, bool *too_long)
{
    bool discarding = false;
    size_t n = 0;
    char *p = NULL;
    *too_long = false;
    while (true) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl != NULL) {
            p = r->buf + r->start;
            n = (size_t)(nl - p);
            r->start += n + 1;
            break;
        }
        if (discarding) {
            r->start = r->end = 0;
        } else if (r->end - r->start > TOKEN_READ_MAX - 1) {
            discarding = true;
            r->start = r->end = 0;
        }
        if (r->eof) {
            if (!discarding && r->end == r->start) {
                return false;
            }
            p = r->buf + r->start;
            n = r->end - r->start;
            r->start = r->end;
            break;
        }
        reader_fill(r);
    }
    if (discarding || n > TOKEN_READ_MAX - 1) {
        *too_long = true;
        n = 0;
    }
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    p[n] = '\0'; /* the '\n', a trimmed byte, or the spare byte after the buffer */
    *line = p;
    *len = n;
    return true;
}

static bool reader_open(struct line_reader *r, int fd)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
#ifdef F_SETPIPE_SZ
    /* A larger pipe means fewer wake-ups per token when a producer streams them in (the
     * kernel may refuse; then the default stays). */
    (void)fcntl(fd, F_SETPIPE_SZ, 1024 * 1024);
#endif
    r->buf = malloc(READ_BUF_BYTES + 1);
    if (r->buf == NULL) {
        fputs("descope-mcp validate: out of memory\n", stderr);
        return false;
    }
    return true;
}

static void reader_close(struct line_reader *r)
{
    /* Tokens never outlive their use. */
    OPENSSL_cleanse(r->buf, READ_BUF_BYTES + 1);
    free(r->buf);
    r->buf = NULL;
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
    /*
     * No verified-token cache: one token needs none, and in a batch every new entry keeps its
     * token and claims alive, so a stream of distinct tokens pays for fresh heap pages on each
     * line (measured: about 2 page faults and 25 us per RS256 token, more than the verify).
     * A repeated line is verified again; its result line is the same.
     */
    SET(dmcp_validator_config_set_token_cache_size(cfg, 0), "token cache");
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
    struct line_reader r;
    char *line = NULL;
    size_t len = 0;
    bool too_long = false;
    if (!reader_open(&r, STDIN_FILENO)) {
        return CLI_EXIT_USAGE;
    }
    /* Nothing has been written to stdout yet; a failure keeps the default buffer. */
    (void)setvbuf(stdout, NULL, _IOFBF, OUT_BUF_BYTES);
    while (read_line(&r, &line, &len, &too_long)) {
        if (too_long || len == 0) {
            print_error("invalid_token", dmcp_reason_description(DMCP_REASON_MALFORMED));
        } else {
            (void)validate_one(v, o, line, len);
        }
        /* No flush here: read_line flushes before it would wait for input. */
    }
    reader_close(&r);
    return CLI_EXIT_OK;
}

static int run_single(dmcp_validator *v, const struct validate_opts *o, const char *arg)
{
    struct line_reader r;
    char *line = NULL;
    size_t len = 0;
    bool too_long = false;
    int rc;
    if (strcmp(arg, "-") != 0) {
        return validate_one(v, o, arg, strlen(arg));
    }
    if (!reader_open(&r, STDIN_FILENO)) {
        return CLI_EXIT_USAGE;
    }
    if (!read_line(&r, &line, &len, &too_long) || too_long || len == 0) {
        print_error("invalid_token", dmcp_reason_description(DMCP_REASON_MALFORMED));
        rc = CLI_EXIT_INVALID;
    } else {
        rc = validate_one(v, o, line, len);
    }
    reader_close(&r);
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
    dump_buf_free(&g_dump);
    dmcp_validator_free(v);
    free(o.audiences);
    free(o.scopes);
    return rc;
}
