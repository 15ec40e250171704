/*
 * Fuzzes the parsers of the descope-mcp sandbox (tools/descope-mcp/sandbox): form bodies,
 * RFC 3339 times, ids, scope strings, bearer JWTs (through its validator set-up), state documents, redirect URIs.
 * The sandbox is part of the command-line tool, not the library, so its sources are
 * compiled into this target directly. The first input byte picks the parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/descope-mcp/sandbox/keys.c"
#include "../../tools/descope-mcp/sandbox/state.c"
#include "../../tools/descope-mcp/sandbox/util.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sbx *fuzz_sandbox(void)
{
    static sbx s;
    static bool ready = false;
    if (!ready) {
        EVP_PKEY *key = sbx_key_generate();
        char *pem = key != NULL ? sbx_key_to_pem(key) : NULL;
        EVP_PKEY_free(key);
        if (pem == NULL || dmcp_signer_new(pem, &s.signer, NULL) != DMCP_OK) {
            abort();
        }
        free(pem);
        strcpy(s.issuer, "http://127.0.0.1:1/v1/apps/agentic/P2x/MS2x");
        s.validator = sbx_validator_new(&s);
        if (s.validator == NULL) {
            abort();
        }
        ready = true;
    }
    return &s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) {
        return 0;
    }
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    char *z = malloc(n + 1);
    if (z == NULL) {
        return 0;
    }
    memcpy(z, in, n);
    z[n] = '\0';
    switch (data[0] % 7) {
    case 0: {
        json_t *f = sbx_form_parse(in, n);
        json_decref(f);
        break;
    }
    case 1: {
        int64_t t = 0;
        (void)sbx_parse_rfc3339(z, &t);
        break;
    }
    case 2: {
        /* Ids and secrets: the checks that guard what goes into URLs, claims and HTML. */
        (void)sbx_is_id(z, 128);
        (void)sbx_secret_eq(z, "K2sandbox0123456789abcdef");
        char *e = sbx_b64url(data, size);
        free(e);
        break;
    }
    case 3: {
        json_t *a = sbx_scope_split(z);
        char *j = a != NULL ? sbx_scope_join(a) : NULL;
        free(j);
        json_decref(a);
        break;
    }
    case 4: {
        /* The sandbox's validator set-up (static JWKS of a fresh key): nothing may verify. */
        dmcp_token *t = NULL;
        dmcp_error err;
        if (dmcp_validator_validate(fuzz_sandbox()->validator, in, n, &t, &err) == DMCP_OK) {
            abort();
        }
        break;
    }
    case 5: {
        json_t *j = json_loadb(in, n, JSON_REJECT_DUPLICATES, NULL);
        const char *why = NULL;
        if (j != NULL) {
            (void)sbx_state_check(j, &why);
        }
        json_decref(j);
        break;
    }
    default: {
        (void)sbx_redirect_uri_ok(z);
        (void)sbx_is_loopback_redirect(z);
        char *u = sbx_urlencode(z);
        char *h = sbx_html_escape(z);
        free(u);
        free(h);
        break;
    }
    }
    free(z);
    return 0;
}
