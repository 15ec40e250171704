/*
 * Every signature-only Wycheproof file relevant to JWS (3 ECDSA P1363, 9 RSA PKCS#1 v1.5,
 * 5 RSA-PSS, Ed25519): each group's key goes through dmcp__jwk_import (the JWK the file gives,
 * or one built from the raw public key), each test through dmcp__sig_verify, and the verdict
 * must match. "acceptable" (MissingNull) may go either way. A group whose key our import
 * refuses must hold no "valid" test unless it is on the skip list below (none needed today).
 * Exit 77 when the vectors are absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "auth/jose.h"

typedef struct wp_file {
    const char *name;
    dmcp__alg alg;
    size_t ec_field; /* ECDSA: field bytes; 0 otherwise */
    const char *crv;
} wp_file;

static const wp_file k_files[] = {
    {"ecdsa_secp256r1_sha256_p1363_test.json", DMCP__ALG_ES256, 32, "P-256"},
    {"ecdsa_secp384r1_sha384_p1363_test.json", DMCP__ALG_ES384, 48, "P-384"},
    {"ecdsa_secp521r1_sha512_p1363_test.json", DMCP__ALG_ES512, 66, "P-521"},
    {"rsa_signature_2048_sha256_test.json", DMCP__ALG_RS256, 0, NULL},
    {"rsa_signature_2048_sha384_test.json", DMCP__ALG_RS384, 0, NULL},
    {"rsa_signature_2048_sha512_test.json", DMCP__ALG_RS512, 0, NULL},
    {"rsa_signature_3072_sha256_test.json", DMCP__ALG_RS256, 0, NULL},
    {"rsa_signature_3072_sha384_test.json", DMCP__ALG_RS384, 0, NULL},
    {"rsa_signature_3072_sha512_test.json", DMCP__ALG_RS512, 0, NULL},
    {"rsa_signature_4096_sha256_test.json", DMCP__ALG_RS256, 0, NULL},
    {"rsa_signature_4096_sha384_test.json", DMCP__ALG_RS384, 0, NULL},
    {"rsa_signature_4096_sha512_test.json", DMCP__ALG_RS512, 0, NULL},
    {"rsa_pss_2048_sha256_mgf1_32_test.json", DMCP__ALG_PS256, 0, NULL},
    {"rsa_pss_3072_sha256_mgf1_32_test.json", DMCP__ALG_PS256, 0, NULL},
    {"rsa_pss_4096_sha256_mgf1_32_test.json", DMCP__ALG_PS256, 0, NULL},
    {"rsa_pss_4096_sha384_mgf1_48_test.json", DMCP__ALG_PS384, 0, NULL},
    {"rsa_pss_4096_sha512_mgf1_64_test.json", DMCP__ALG_PS512, 0, NULL},
    {"ed25519_test.json", DMCP__ALG_EDDSA, 0, NULL},
};

/* Groups whose key import refuses although they hold valid tests: (file, first tcId, why).
 * Empty: every key in these files is acceptable to us (e = 3 is odd and > 1; all moduli are
 * >= 2048 bits). Kept as the documented place for such exceptions. */
typedef struct skip_entry {
    const char *file;
    long tc;
    const char *why;
} skip_entry;
static const skip_entry k_skip[] = {{NULL, 0, NULL}};

typedef struct counts {
    size_t run, valid_ok, invalid_rej, acceptable, import_rejected, skipped, mismatch;
} counts;

static bool skipped_group(const char *file, long first_tc)
{
    for (size_t i = 0; i < DMCP__ARRAY_LEN(k_skip); i++) {
        if (k_skip[i].file != NULL && strcmp(k_skip[i].file, file) == 0 &&
            k_skip[i].tc == first_tc) {
            return true;
        }
    }
    return false;
}

/* Hex big-endian integer to base64url of exactly `field` bytes (strip leading zeros, pad). */
static char *coord_b64(const char *hex, size_t field)
{
    size_t len = 0;
    unsigned char *raw = dmcp_test_unhex(hex, &len);
    unsigned char *buf = calloc(1, field);
    char *out = malloc(field * 4 / 3 + 4);
    assert_non_null(raw);
    assert_non_null(buf);
    assert_non_null(out);
    size_t off = 0;
    while (off < len && raw[off] == 0) {
        off++;
    }
    assert_true(len - off <= field);
    memcpy(buf + field - (len - off), raw + off, len - off);
    dmcp__b64url_encode(buf, field, out);
    free(raw);
    free(buf);
    return out;
}

static json_t *group_jwk(const json_t *g, const wp_file *f)
{
    json_t *jwk = json_object_get(g, "publicKeyJwk");
    if (jwk == NULL) {
        jwk = json_object_get(g, "keyJwk"); /* PKCS#1 files name it so */
    }
    if (jwk != NULL) {
        return json_deep_copy(jwk);
    }
    /* The special-r/x ECDSA groups carry only the raw key (README: 9 groups per file). */
    const json_t *pk = json_object_get(g, "publicKey");
    assert_non_null(f->crv);
    assert_non_null(pk);
    char *x = coord_b64(json_string_value(json_object_get(pk, "wx")), f->ec_field);
    char *y = coord_b64(json_string_value(json_object_get(pk, "wy")), f->ec_field);
    json_t *out = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", f->crv, "x", x, "y", y);
    free(x);
    free(y);
    return out;
}

static void run_file(const char *dir, const wp_file *f, counts *total)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/wycheproof/%s", dir, f->name);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL) {
        fail_msg("cannot load %s: %s", path, jerr.text);
    }
    counts c = {0};
    size_t gi;
    const json_t *g;
    json_array_foreach (json_object_get(doc, "testGroups"), gi, g) {
        json_t *jwk = group_jwk(g, f);
        assert_non_null(jwk);
        dmcp__jwk key;
        dmcp_status ist = dmcp__jwk_import(jwk, &key, NULL);
        json_decref(jwk);
        const json_t *tests = json_object_get(g, "tests");
        long first_tc = (long)json_integer_value(json_object_get(json_array_get(tests, 0), "tcId"));
        size_t ti;
        const json_t *t;
        json_array_foreach (tests, ti, t) {
            const char *result = json_string_value(json_object_get(t, "result"));
            long tc = (long)json_integer_value(json_object_get(t, "tcId"));
            c.run++;
            if (ist != DMCP_OK) {
                if (skipped_group(f->name, first_tc)) {
                    c.skipped++;
                } else if (strcmp(result, "valid") == 0) {
                    fprintf(stderr, "%s tcId %ld: valid test, key refused at import\n", f->name, tc);
                    c.mismatch++;
                } else {
                    c.import_rejected++;
                }
                continue;
            }
            size_t msg_len = 0;
            size_t sig_len = 0;
            unsigned char *msg = dmcp_test_unhex(json_string_value(json_object_get(t, "msg")), &msg_len);
            unsigned char *sig = dmcp_test_unhex(json_string_value(json_object_get(t, "sig")), &sig_len);
            assert_non_null(msg);
            assert_non_null(sig);
            bool ok = dmcp__sig_verify(&key, f->alg, msg, msg_len, sig, sig_len) == DMCP_OK;
            free(msg);
            free(sig);
            if (strcmp(result, "acceptable") == 0) {
                c.acceptable++;
            } else if (strcmp(result, "valid") == 0 && ok) {
                c.valid_ok++;
            } else if (strcmp(result, "invalid") == 0 && !ok) {
                c.invalid_rej++;
            } else {
                fprintf(stderr, "%s tcId %ld: expected %s, got %s\n", f->name, tc, result,
                        ok ? "accepted" : "rejected");
                c.mismatch++;
            }
        }
        if (ist == DMCP_OK) {
            dmcp__jwk_clear(&key);
        }
    }
    printf("%-42s run %4zu valid-accepted %4zu invalid-rejected %4zu acceptable %zu "
           "rejected-at-import %zu skipped %zu mismatches %zu\n",
           f->name, c.run, c.valid_ok, c.invalid_rej, c.acceptable, c.import_rejected, c.skipped,
           c.mismatch);
    /* Each file has tests; a file that ran nothing would make this test meaningless. */
    assert_true(c.run > 100);
    assert_true(c.valid_ok > 0);
    total->run += c.run;
    total->valid_ok += c.valid_ok;
    total->invalid_rej += c.invalid_rej;
    total->acceptable += c.acceptable;
    total->import_rejected += c.import_rejected;
    total->skipped += c.skipped;
    total->mismatch += c.mismatch;
    json_decref(doc);
}

static void test_wycheproof_all(void **state)
{
    const char *dir = *state;
    counts total = {0};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(k_files); i++) {
        run_file(dir, &k_files[i], &total);
    }
    printf("TOTAL run %zu valid-accepted %zu invalid-rejected %zu acceptable %zu "
           "rejected-at-import %zu skipped %zu mismatches %zu\n",
           total.run, total.valid_ok, total.invalid_rej, total.acceptable,
           total.import_rejected, total.skipped, total.mismatch);
    assert_int_equal(total.mismatch, 0);
}

int main(void)
{
    const char *dir = dmcp_test_vectors_dir();
    char probe[1024];
    if (dir == NULL) {
        return DMCP_TEST_SKIP;
    }
    snprintf(probe, sizeof(probe), "%s/wycheproof/%s", dir, k_files[0].name);
    FILE *fp = fopen(probe, "rb");
    if (fp == NULL) {
        return DMCP_TEST_SKIP;
    }
    fclose(fp);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_wycheproof_all, (void *)dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
