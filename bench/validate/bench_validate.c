/*
 * The validation benchmark of issue 2 (prints figures; asserts nothing but correctness).
 *
 * Per algorithm (RS256, PS256, ES256, EdDSA), on one pinned core:
 *   validate/s  full dmcp_validator_validate() + dmcp_token_free() over N distinct ~800-byte
 *               Descope-shaped tokens, verified-token cache disabled, static JWKS;
 *   bare/s      EVP_MD_CTX_new + EVP_DigestVerifyInit_ex (+ PSS params) + EVP_DigestVerify +
 *               EVP_MD_CTX_free over the same signing inputs and signatures, key imported and
 *               signature decoded beforehand (ECDSA converted to the DER OpenSSL wants);
 *   ratio       validate/s / bare/s (target >= 0.90). The two sides run in alternating
 *               chunks of 32 over the same tokens (rate_paired); rates are the best of 7
 *               rounds, the ratio is the median of the per-round ratios.
 *   cli/s       `descope-mcp validate --batch` over the same tokens in the same run: piped in,
 *               output to a file, on the same pinned core, timed from its answer to a warm-up
 *               line to its exit (cli_run.c). cli ratio = cli/s over the bare rate measured
 *               just before and after it (median of rounds; target >= 0.90).
 * Then the same token repeated with the cache on (target >= 1,000,000/s), and a
 * multi-thread figure (one thread per allowed CPU, each pinned, one shared validator).
 *
 * Usage: bench_validate [--quick] [--seconds S] [--tokens N] [--cli PATH|--no-cli]
 *   --quick   CI smoke: a few hundred iterations, still checks every validation succeeds.
 *   --cli     the descope-mcp binary (default: the one built with this benchmark).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <dmcp/dmcp.h>

#include "cli_run.h"
#include "mint.h"

#define ISSUER "https://api.descope.com/v1/apps/agentic/P2bench/MS2bench"
#define PID "P2bench"
#define AUD "https://mcp.example.com/mcp"
#define TARGET_TOKEN_BYTES 800

typedef struct sample {
    char *token;
    size_t token_len;
    size_t si_len;      /* signing input = token[0..si_len) */
    unsigned char *sig; /* what EVP_DigestVerify takes (DER for ECDSA) */
    size_t sig_len;
} sample;

typedef struct alg_set {
    const char *alg;
    const char *md; /* NULL for EdDSA */
    int pss;
    dmcp_mint_key *key;
    char *jwks;
    sample *s;
    size_t n;
} alg_set;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_validate: %s\n", what);
    exit(1);
}

/* JOSE r||s to the DER ECDSA-Sig-Value OpenSSL verifies (done once, outside timing). */
static unsigned char *ecdsa_der(const unsigned char *rs, size_t len, size_t *out_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, (int)(len / 2), NULL);
    BIGNUM *s = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL);
    unsigned char *der = NULL;
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        die("ECDSA_SIG");
    }
    int n = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (n <= 0) {
        die("i2d_ECDSA_SIG");
    }
    *out_len = (size_t)n;
    return der;
}

/* Descope-like claims, padded with permissions until the token is about 800 bytes. */
static char *payload_json(size_t i, size_t sig_b64, size_t hdr_b64)
{
    long long now = (long long)time(NULL);
    char jti[64];
    snprintf(jti, sizeof(jti), "j%zu-%lld", i, now);
    json_t *perms = json_array();
    json_t *c = json_pack(
        "{s:s, s:[s,s], s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:{s:{s:[s], s:o}}}", "iss", ISSUER,
        "aud", AUD, PID, "sub", "U2benchUser01", "dsub", "U2benchUser01", "azp", "DCR2client01",
        "scope", "tools.call calendar.read mail.send", "jti", jti, "iat", now, "nbf", now, "exp",
        now + 86400, "tenants", "T2acme", "roles", "member", "permissions", perms);
    if (c == NULL) {
        die("json_pack");
    }
    for (int k = 0; k < 64; k++) {
        char *s = json_dumps(c, JSON_COMPACT);
        size_t total = hdr_b64 + 1 + (strlen(s) * 4 + 2) / 3 + 1 + sig_b64;
        if (total >= TARGET_TOKEN_BYTES) {
            json_decref(c);
            return s;
        }
        free(s);
        char p[32];
        snprintf(p, sizeof(p), "p.%02d", k);
        json_array_append_new(perms, json_string(p));
    }
    char *s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

static void make_set(alg_set *a, size_t n)
{
    static const char kid[] = "bench-key";
    char hdr[96];
    a->key = dmcp_mint_key_new(a->alg);
    char *jwk = a->key != NULL ? dmcp_mint_key_jwk(a->key, kid, a->alg) : NULL;
    a->jwks = jwk != NULL ? dmcp_mint_jwks((const char *const *)&jwk, 1) : NULL;
    free(jwk);
    if (a->jwks == NULL) {
        die("key generation");
    }
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", a->alg, kid);
    char *hb = dmcp_mint_b64url(hdr, strlen(hdr));
    size_t sig_bytes = strcmp(a->alg, "ES256") == 0 || strcmp(a->alg, "EdDSA") == 0 ? 64 : 256;
    a->s = calloc(n, sizeof(*a->s));
    a->n = n;
    if (hb == NULL || a->s == NULL) {
        die("out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        char *pl = payload_json(i, (sig_bytes * 4 + 2) / 3, strlen(hb));
        char *pb = dmcp_mint_b64url(pl, strlen(pl));
        size_t si_len = strlen(hb) + 1 + strlen(pb);
        char *si = malloc(si_len + 1);
        if (pb == NULL || si == NULL) {
            die("out of memory");
        }
        snprintf(si, si_len + 1, "%s.%s", hb, pb);
        size_t raw_len = 0;
        unsigned char *raw =
            dmcp_mint_sign_raw(a->key, a->alg, si, si_len, DMCP_MINT_SIG_JOSE, &raw_len);
        char *sb = raw != NULL ? dmcp_mint_b64url(raw, raw_len) : NULL;
        if (sb == NULL) {
            die("signing");
        }
        sample *s = &a->s[i];
        s->token_len = si_len + 1 + strlen(sb);
        s->token = malloc(s->token_len + 1);
        if (s->token == NULL) {
            die("out of memory");
        }
        snprintf(s->token, s->token_len + 1, "%s.%s", si, sb);
        s->si_len = si_len;
        if (a->alg[0] == 'E' && a->alg[1] == 'S') {
            s->sig = ecdsa_der(raw, raw_len, &s->sig_len);
            free(raw);
        } else {
            s->sig = raw;
            s->sig_len = raw_len;
        }
        free(sb);
        free(si);
        free(pb);
        free(pl);
    }
    free(hb);
}

static dmcp_validator *make_validator(const alg_set *a, size_t cache_entries)
{
    dmcp_validator_config *cfg = NULL;
    dmcp_validator *v = NULL;
    dmcp_error err;
    if (dmcp_validator_config_new(&cfg) != DMCP_OK ||
        dmcp_validator_config_set_issuer(cfg, ISSUER) != DMCP_OK ||
        dmcp_validator_config_set_mcp_server_url(cfg, AUD) != DMCP_OK ||
        dmcp_validator_config_set_jwks_json(cfg, a->jwks) != DMCP_OK ||
        dmcp_validator_config_set_token_cache_size(cfg, cache_entries) != DMCP_OK) {
        die("configuration");
    }
    if (dmcp_validator_new(cfg, &v, &err) != DMCP_OK) {
        fprintf(stderr, "bench_validate: validator: %s\n", err.message);
        exit(1);
    }
    dmcp_validator_config_free(cfg);
    return v;
}

static void validate_ok(dmcp_validator *v, const sample *s)
{
    dmcp_token *t = NULL;
    dmcp_error err;
    if (dmcp_validator_validate(v, s->token, s->token_len, &t, &err) != DMCP_OK) {
        fprintf(stderr, "bench_validate: validation failed: %s\n", err.message);
        exit(1);
    }
    dmcp_token_free(t);
}

static void bare_ok(const alg_set *a, const sample *s)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *p = NULL;
    int ok = m != NULL && EVP_DigestVerifyInit_ex(m, &p, a->md, NULL, NULL,
                                                  dmcp_mint_key_pkey(a->key), NULL) == 1;
    if (ok && a->pss) {
        ok = EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(p, RSA_PSS_SALTLEN_DIGEST) == 1;
    }
    ok = ok &&
         EVP_DigestVerify(m, s->sig, s->sig_len, (const unsigned char *)s->token, s->si_len) == 1;
    EVP_MD_CTX_free(m);
    if (!ok) {
        die("bare verification failed");
    }
}

/* Runs for `secs` (or exactly `iters` when iters > 0); returns operations per second. */
static double rate_validate(dmcp_validator *v, const alg_set *a, double secs, long iters, int same)
{
    long n = 0;
    size_t i = 0;
    double t0 = now_s();
    double t = t0;
    while (iters > 0 ? n < iters : t - t0 < secs) {
        for (int k = 0; k < 32; k++) {
            validate_ok(v, &a->s[same ? 0 : i]);
            i = i + 1 < a->n ? i + 1 : 0;
        }
        n += 32;
        t = now_s();
    }
    return (double)n / (t - t0);
}

static double rate_bare(const alg_set *a, double secs, long iters)
{
    long n = 0;
    size_t i = 0;
    double t0 = now_s();
    double t = t0;
    while (iters > 0 ? n < iters : t - t0 < secs) {
        for (int k = 0; k < 32; k++) {
            bare_ok(a, &a->s[i]);
            i = i + 1 < a->n ? i + 1 : 0;
        }
        n += 32;
        t = now_s();
    }
    return (double)n / (t - t0);
}

/*
 * Paired measurement: alternates chunks of 32 bare verifies and 32 validations of the same
 * tokens, timing each side separately, so load from other processes hits both equally.
 * Returns the two rates through *bare and *val.
 */
static void rate_paired(dmcp_validator *v, const alg_set *a, double secs, long iters, double *bare,
                        double *val)
{
    long n = 0;
    size_t i = 0;
    double tb = 0;
    double tv = 0;
    double start = now_s();
    while (iters > 0 ? n < iters : now_s() - start < secs) {
        size_t j = i;
        double t0 = now_s();
        for (int k = 0; k < 32; k++) {
            bare_ok(a, &a->s[j]);
            j = j + 1 < a->n ? j + 1 : 0;
        }
        double t1 = now_s();
        for (int k = 0; k < 32; k++) {
            validate_ok(v, &a->s[i]);
            i = i + 1 < a->n ? i + 1 : 0;
        }
        double t2 = now_s();
        tb += t1 - t0;
        tv += t2 - t1;
        n += 32;
    }
    *bare = (double)n / tb;
    *val = (double)n / tv;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x;
    double b = *(const double *)y;
    return (a > b) - (a < b);
}

typedef struct thread_arg {
    int bare;
    dmcp_validator *v;
    const alg_set *a;
    double secs;
    long iters;
    int same;
    size_t cpu;
    double rate;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *ta = p;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(ta->cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    ta->rate = ta->bare ? rate_bare(ta->a, ta->secs, ta->iters)
                        : rate_validate(ta->v, ta->a, ta->secs, ta->iters, ta->same);
    return NULL;
}

/* v NULL: the bare EVP baseline in every thread. */
static double rate_threads(dmcp_validator *v, const alg_set *a, const size_t *cpus, int nthreads,
                           double secs, long iters, int same)
{
    pthread_t th[64];
    thread_arg ta[64];
    double total = 0;
    for (int i = 0; i < nthreads; i++) {
        ta[i] = (thread_arg){v == NULL, v, a, secs, iters, same, cpus[i], 0};
        if (pthread_create(&th[i], NULL, thread_main, &ta[i]) != 0) {
            die("pthread_create");
        }
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        total += ta[i].rate;
    }
    return total;
}

int main(int argc, char **argv)
{
    alg_set sets[] = {{"RS256", "SHA256", 0, NULL, NULL, NULL, 0},
                      {"PS256", "SHA256", 1, NULL, NULL, NULL, 0},
                      {"ES256", "SHA256", 0, NULL, NULL, NULL, 0},
                      {"EdDSA", NULL, 0, NULL, NULL, NULL, 0}};
    const size_t nsets = sizeof(sets) / sizeof(sets[0]);
    int quick = 0;
    double secs = 0.3; /* per round; rounds are interleaved, best kept */
    size_t ntok = 1000;
#ifdef DMCP_BENCH_CLI
    const char *cli = DMCP_BENCH_CLI;
#else
    const char *cli = NULL;
#endif
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            secs = atof(argv[++i]);
        } else if (strcmp(argv[i], "--tokens") == 0 && i + 1 < argc) {
            ntok = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc) {
            cli = argv[++i];
        } else if (strcmp(argv[i], "--no-cli") == 0) {
            cli = NULL;
        } else {
            fprintf(stderr, "usage: bench_validate [--quick] [--seconds S] [--tokens N] "
                            "[--cli PATH|--no-cli]\n");
            return 2;
        }
    }
    if (quick) {
        ntok = 32;
    }
    if (ntok == 0 || secs <= 0) {
        die("bad arguments");
    }
    long iters = quick ? 96 : 0; /* per measurement in --quick mode */
    int rounds = quick ? 1 : 7;
    if (dmcp_global_init() != DMCP_OK) {
        die("init");
    }

    /* One core: pin the process to the CPU it runs on (threads re-pin themselves below). */
    cpu_set_t allowed;
    cpu_set_t one;
    size_t cpus[64];
    int nthreads = 0;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        die("sched_getaffinity");
    }
    for (size_t c = 0; c < CPU_SETSIZE && nthreads < 64; c++) {
        if (CPU_ISSET(c, &allowed)) {
            cpus[nthreads++] = c;
        }
    }
    if (nthreads == 0) {
        die("no CPU");
    }
    CPU_ZERO(&one);
    CPU_SET(cpus[0], &one);
    int pinned = sched_setaffinity(0, sizeof(one), &one) == 0;

    printf("bench_validate: %s, %zu distinct tokens per alg, %s%s\n",
           quick ? "quick smoke run" : "full run", ntok,
           pinned ? "pinned to one CPU" : "NOT pinned", quick ? " (figures meaningless)" : "");
    for (size_t i = 0; i < nsets; i++) {
        make_set(&sets[i], ntok);
    }
    printf("token sizes:");
    for (size_t i = 0; i < nsets; i++) {
        printf(" %s %zu B", sets[i].alg, sets[i].s[0].token_len);
    }
    printf("\nCLI: %s\n", cli != NULL ? cli : "not measured");
    printf("\n%-6s %14s %14s %7s %14s %9s\n", "alg", "validate/s", "bare verify/s", "ratio",
           "cli/s", "cli ratio");
    for (size_t i = 0; i < nsets; i++) {
        alg_set *a = &sets[i];
        dmcp_validator *v = make_validator(a, 0);
        double best_v = 0;
        double best_b = 0;
        /* Paired chunks within each round: best rate of each side, median per-round ratio. */
        double ratios[16];
        double cli_ratios[16];
        double best_cli = 0;
        cli_bench cb = {0};
        if (cli != NULL) {
            char **toks = malloc(a->n * sizeof(*toks));
            if (toks == NULL) {
                die("out of memory");
            }
            for (size_t k = 0; k < a->n; k++) {
                toks[k] = a->s[k].token;
            }
            cli_bench_init(&cb, cli, ISSUER, AUD, a->jwks, toks, a->n);
            free(toks);
        }
        for (int r = 0; r < rounds; r++) {
            double b = 0;
            double l = 0;
            rate_paired(v, a, secs, iters, &b, &l);
            best_b = b > best_b ? b : best_b;
            best_v = l > best_v ? l : best_v;
            ratios[r] = l / b;
            if (cli != NULL) {
                /* One pass over the tokens each side of the command's run, same core. */
                long pass = (long)a->n;
                double b1 = rate_bare(a, 0, pass);
                double c = cli_bench_run(&cb);
                double b2 = rate_bare(a, 0, pass);
                best_cli = c > best_cli ? c : best_cli;
                cli_ratios[r] = c / (2 / (1 / b1 + 1 / b2));
            }
        }
        qsort(ratios, (size_t)rounds, sizeof(ratios[0]), cmp_double);
        printf("%-6s %14.0f %14.0f %7.3f", a->alg, best_v, best_b, ratios[rounds / 2]);
        if (cli != NULL) {
            qsort(cli_ratios, (size_t)rounds, sizeof(cli_ratios[0]), cmp_double);
            printf(" %14.0f %9.3f\n", best_cli, cli_ratios[rounds / 2]);
            cli_bench_free(&cb);
        } else {
            printf(" %14s %9s\n", "-", "-");
        }
        fflush(stdout);
        dmcp_validator_free(v);
    }

    /* The same token repeated: the verified-token cache answers. */
    alg_set *es = &sets[2];
    dmcp_validator *cached = make_validator(es, 10000);
    double best_c = 0;
    for (int r = 0; r < rounds; r++) {
        double c = rate_validate(cached, es, secs, quick ? 1000 : 0, 1);
        best_c = c > best_c ? c : best_c;
    }
    printf("\nsame %s token repeated, cache on: %.0f validations/s (target >= 1000000)\n", es->alg,
           best_c);

    /* Many threads, one validator. */
    (void)sched_setaffinity(0, sizeof(allowed), &allowed);
    dmcp_validator *shared = make_validator(es, 0);
    double mt = rate_threads(shared, es, cpus, nthreads, secs, iters, 0);
    double mtb = rate_threads(NULL, es, cpus, nthreads, secs, iters, 0);
    double mtc = rate_threads(cached, es, cpus, nthreads, secs, quick ? 1000 : 0, 1);
    printf("%d threads, one validator: %s distinct %.0f validations/s (bare verify in %d "
           "threads: %.0f/s, ratio %.3f); same token cached %.0f/s\n",
           nthreads, es->alg, mt, nthreads, mtb, mt / mtb, mtc);
    dmcp_validator_free(shared);
    dmcp_validator_free(cached);

    for (size_t i = 0; i < nsets; i++) {
        for (size_t k = 0; k < sets[i].n; k++) {
            free(sets[i].s[k].token);
            OPENSSL_free(sets[i].s[k].sig);
        }
        free(sets[i].s);
        free(sets[i].jwks);
        dmcp_mint_key_free(sets[i].key);
    }
    dmcp_global_cleanup();
    return 0;
}
