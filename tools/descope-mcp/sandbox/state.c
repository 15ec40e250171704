/* The sandbox's state: ids, keys, clients, users, tenants and their connections (JSON). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sandbox.h"

#define CAL_APP "google-calendar"
#define CAL_SCOPE "https://www.googleapis.com/auth/calendar.readonly"

json_t *sbx_connection_new(const char *app_id, const json_t *scopes)
{
    char *id = sbx_random_id("CN", 8);
    char *at = sbx_random_id("sbx-conn-", 24);
    char *rt = sbx_random_id("sbx-refresh-", 24);
    json_t *c = NULL;
    if (id != NULL && at != NULL && rt != NULL) {
        c = json_pack("{s:s,s:s,s:O,s:s,s:s,s:I,s:I}", "id", id, "app_id", app_id, "scopes",
                      scopes, "access_token", at, "refresh_token", rt, "expiry",
                      (json_int_t)(sbx_now() + SBX_CONN_TTL), "last_refresh",
                      (json_int_t)sbx_now());
    }
    free(id);
    if (at != NULL) {
        OPENSSL_cleanse(at, strlen(at));
    }
    if (rt != NULL) {
        OPENSSL_cleanse(rt, strlen(rt));
    }
    free(at);
    free(rt);
    return c;
}

json_t *sbx_state_default(void)
{
    EVP_PKEY *key = sbx_key_generate();
    char *pem = key != NULL ? sbx_key_to_pem(key) : NULL;
    char *mk = sbx_random_id("K2sandbox", 24);
    char *secret = sbx_random_id("sbx-secret-", 24);
    json_t *scopes = json_pack("[s]", CAL_SCOPE);
    json_t *alice_conn = sbx_connection_new(CAL_APP, scopes);
    json_t *tenant_conn = sbx_connection_new(CAL_APP, scopes);
    json_t *st = NULL;
    if (pem != NULL && mk != NULL && secret != NULL && alice_conn != NULL &&
        tenant_conn != NULL) {
        st = json_pack(
            "{s:i,s:s,s:s,s:s,s:s,"
            "s:[{s:s,s:s,s:s,s:b,s:[]}],"
            "s:[{s:s,s:s,s:s,s:[O]},{s:s,s:s,s:s,s:[]}],"
            "s:[{s:s,s:s,s:[O]}]}",
            "version", 1, "project_id", "P2sandbox0000000000000000000", "mcp_server_id",
            "MS2sandbox000000000000000000", "signing_key", pem, "management_key", mk,
            "clients", "client_id", "sandbox-dev", "client_secret", secret, "name",
            "Sandbox dev client", "dev", 1, "redirect_uris",
            "users", "id", "U2alice", "name", "Alice Example", "email", "alice@example.com",
            "connections", alice_conn, "id", "U2bob", "name", "Bob Example", "email",
            "bob@example.com", "connections",
            "tenants", "id", "T2acme", "name", "Acme", "connections", tenant_conn);
    }
    EVP_PKEY_free(key);
    if (pem != NULL) {
        OPENSSL_cleanse(pem, strlen(pem));
    }
    if (mk != NULL) {
        OPENSSL_cleanse(mk, strlen(mk));
    }
    if (secret != NULL) {
        OPENSSL_cleanse(secret, strlen(secret));
    }
    free(pem);
    free(mk);
    free(secret);
    json_decref(scopes);
    json_decref(alice_conn);
    json_decref(tenant_conn);
    return st;
}

static bool check_connections(const json_t *owner)
{
    json_t *conns = json_object_get(owner, "connections");
    if (!json_is_array(conns)) {
        return false;
    }
    size_t i;
    json_t *c;
    json_array_foreach(conns, i, c) {
        json_t *scopes = json_object_get(c, "scopes");
        if (!sbx_is_id(json_string_value(json_object_get(c, "id")), 64) ||
            !sbx_is_id(json_string_value(json_object_get(c, "app_id")), 128) ||
            !json_is_array(scopes) ||
            !sbx_is_id(json_string_value(json_object_get(c, "access_token")), 256) ||
            !json_is_integer(json_object_get(c, "expiry"))) {
            return false;
        }
        size_t j;
        json_t *sc;
        json_array_foreach(scopes, j, sc) {
            if (!json_is_string(sc)) {
                return false;
            }
        }
    }
    return true;
}

/* A client's optional secret and redirect URIs (checked here, trusted afterwards). */
static bool check_client(const json_t *c)
{
    json_t *secret = json_object_get(c, "client_secret");
    json_t *uris = json_object_get(c, "redirect_uris");
    if (secret != NULL && (!json_is_string(secret) || json_string_length(secret) < 16 ||
                           !sbx_is_id(json_string_value(secret), 256))) {
        return false;
    }
    if (uris != NULL && !json_is_array(uris)) {
        return false;
    }
    size_t i;
    json_t *u;
    json_array_foreach(uris, i, u) {
        if (!json_is_string(u) || !sbx_redirect_uri_ok(json_string_value(u))) {
            return false;
        }
    }
    return true;
}

static bool check_list(const json_t *st, const char *name, const char *idfield, bool conns)
{
    json_t *arr = json_object_get(st, name);
    if (!json_is_array(arr) || json_array_size(arr) > SBX_MAX_CLIENTS) {
        return false;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        if (!sbx_is_id(json_string_value(json_object_get(o, idfield)), 128) ||
            (conns && !check_connections(o)) || (!conns && !check_client(o))) {
            return false;
        }
    }
    return true;
}

bool sbx_state_check(const json_t *st, const char **why)
{
    const char *pid = json_string_value(json_object_get(st, "project_id"));
    const char *sid = json_string_value(json_object_get(st, "mcp_server_id"));
    const char *mk = json_string_value(json_object_get(st, "management_key"));
    *why = NULL;
    if (!json_is_object(st) || json_integer_value(json_object_get(st, "version")) != 1) {
        *why = "not a version 1 sandbox state";
    } else if (pid == NULL || strspn(pid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789") != strlen(pid) ||
               strlen(pid) == 0 || strlen(pid) > 64 || !sbx_is_id(sid, 64)) {
        /* wire §1.2.6: the project id is [A-Za-z0-9]{1,64}; it goes into "Bearer P:..." */
        *why = "project_id / mcp_server_id missing or malformed";
    } else if (!json_is_string(json_object_get(st, "signing_key"))) {
        *why = "signing_key missing";
    } else if (mk == NULL || strlen(mk) < 16 || !sbx_is_id(mk, 256)) {
        *why = "management_key missing or shorter than 16 characters";
    } else if (!check_list(st, "clients", "client_id", false)) {
        *why = "clients malformed";
    } else if (!check_list(st, "users", "id", true)) {
        *why = "users malformed";
    } else if (json_object_get(st, "tenants") != NULL && !check_list(st, "tenants", "id", true)) {
        *why = "tenants malformed";
    }
    return *why == NULL;
}

bool sbx_state_load(const char *path, json_t **out, bool *created)
{
    *out = NULL;
    *created = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            fprintf(stderr, "sandbox: cannot open state file: %s\n", strerror(errno));
            return false;
        }
        *out = sbx_state_default();
        *created = true;
        return *out != NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (off_t)SBX_MAX_STATE) {
        fprintf(stderr, "sandbox: state file is not a regular file under 1 MiB\n");
        close(fd);
        return false;
    }
    if ((sb.st_mode & 077) != 0) {
        fprintf(stderr, "sandbox: warning: state file holds keys but is readable by others\n");
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    size_t got = 0;
    while (buf != NULL && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (buf == NULL || got != n) {
        free(buf);
        return false;
    }
    json_error_t jerr;
    *out = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    OPENSSL_cleanse(buf, n);
    free(buf);
    if (*out == NULL) {
        fprintf(stderr, "sandbox: state file is not valid JSON (line %d)\n", jerr.line);
        return false;
    }
    return true;
}

bool sbx_state_save(const sbx *s)
{
    if (s->state_path == NULL) {
        return true;
    }
    char *txt = json_dumps(s->state, JSON_INDENT(2));
    size_t plen = strlen(s->state_path);
    char *tmp = malloc(plen + 16);
    bool ok = false;
    int fd = -1;
    if (txt == NULL || tmp == NULL) {
        goto out;
    }
    /* Atomic replace: a temporary file in the same directory, fsync, rename(2). */
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", s->state_path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        goto out;
    }
    if (fchmod(fd, 0600) != 0) {
        goto out;
    }
    size_t len = strlen(txt);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, txt + done, len - done);
        if (w <= 0) {
            goto out;
        }
        done += (size_t)w;
    }
    if (write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    ok = rename(tmp, s->state_path) == 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (!ok && tmp != NULL) {
        unlink(tmp);
        fprintf(stderr, "sandbox: could not write the state file\n");
    }
    if (txt != NULL) {
        OPENSSL_cleanse(txt, strlen(txt));
    }
    free(txt);
    free(tmp);
    return ok;
}

json_t *sbx_find_by(json_t *arr, const char *field, const char *value)
{
    size_t i;
    json_t *o;
    if (value == NULL) {
        return NULL;
    }
    json_array_foreach(arr, i, o) {
        const char *v = json_string_value(json_object_get(o, field));
        if (v != NULL && strcmp(v, value) == 0) {
            return o;
        }
    }
    return NULL;
}

json_t *sbx_user(const sbx *s, const char *id)
{
    return sbx_find_by(json_object_get(s->state, "users"), "id", id);
}

json_t *sbx_client(const sbx *s, const char *id)
{
    return sbx_find_by(json_object_get(s->state, "clients"), "client_id", id);
}
