/*
 * The store interface (store/store.h) dispatched to its implementation, and the public
 * dmcp_store_* / dmcp_server_set_store entry points' store half.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store/store.h"
#include "store/store_impl.h"

dmcp_status dmcp_store_open(const char *url, dmcp_store **out, dmcp_error *err)
{
    if (out == NULL) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "no out pointer");
    }
    *out = NULL;
    size_t len = url != NULL ? strnlen(url, DMCP_STORE_URL_MAX + 1) : 0;
    if (len > DMCP_STORE_URL_MAX) {
        return dmcp__fail(err, DMCP_E_TOO_LARGE, DMCP_REASON_NONE, "store URL too long");
    }
    dmcp__store_url u;
    const char *why = NULL;
    if (!dmcp__store_url_parse(url, len, &u, &why)) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "%s", why);
    }
    dmcp_store *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    snprintf(st->prefix, sizeof(st->prefix), "dmcp:");
    const char *why_not = NULL;
    dmcp_status s = u.memory ? dmcp__store_memory_init(st) : dmcp__store_redis_init(st, &u, &why_not);
    memset(u.password, 0, sizeof(u.password));
    if (s != DMCP_OK) {
        free(st);
        return dmcp__fail(err, s, DMCP_REASON_NONE, "%s",
                          why_not != NULL ? why_not : "cannot set up the store");
    }
    *out = st;
    return DMCP_OK;
}

dmcp_status dmcp_store_open_flags(const char *url, const char *prefix, dmcp_store **out,
                                  dmcp_error *err)
{
    *out = NULL;
    if (url == NULL || *url == '\0') {
        url = getenv("DMCP_STORE_URL");
    }
    if (url == NULL || *url == '\0') {
        return prefix == NULL ? DMCP_OK
                              : dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                                           "--store-prefix needs --store (or DMCP_STORE_URL)");
    }
    dmcp_error e = {0};
    dmcp_status st = dmcp_store_open(url, out, &e);
    if (st != DMCP_OK) {
        return dmcp__fail(err, st, DMCP_REASON_NONE, "--store: %s", e.message);
    }
    if (prefix != NULL && dmcp_store_set_prefix(*out, prefix) != DMCP_OK) {
        dmcp_store_free(*out);
        *out = NULL;
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE,
                          "--store-prefix: 1-%d characters of [A-Za-z0-9:_.-]",
                          DMCP_STORE_PREFIX_MAX);
    }
    return DMCP_OK;
}

dmcp_status dmcp_store_set_prefix(dmcp_store *st, const char *prefix)
{
    if (st == NULL || prefix == NULL) {
        return DMCP_E_INVALID_ARG;
    }
    size_t n = strnlen(prefix, DMCP_STORE_PREFIX_MAX + 1);
    if (n == 0 || n > DMCP_STORE_PREFIX_MAX) {
        return DMCP_E_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        char c = prefix[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ':' || c == '_' || c == '.' || c == '-')) {
            return DMCP_E_INVALID_ARG;
        }
    }
    memcpy(st->prefix, prefix, n + 1);
    return DMCP_OK;
}

void dmcp_store_free(dmcp_store *st)
{
    if (st == NULL) {
        return;
    }
    st->ops->unlisten(st);
    st->ops->free(st);
    free(st);
}

bool dmcp__store_shared(const dmcp_store *st)
{
    return st != NULL && st->shared;
}

bool dmcp__store_up(dmcp_store *st)
{
    return st->ops->up(st);
}

dmcp_status dmcp__store_get(dmcp_store *st, const char *key, char **val, size_t *len)
{
    *val = NULL;
    *len = 0;
    return st->ops->get(st, key, val, len);
}

dmcp_status dmcp__store_set(dmcp_store *st, const char *key, const char *val, size_t len,
                            unsigned ttl_s, bool nx)
{
    return st->ops->set(st, key, val, len, ttl_s, nx);
}

dmcp_status dmcp__store_expire(dmcp_store *st, const char *key, unsigned ttl_s)
{
    return st->ops->expire(st, key, ttl_s);
}

dmcp_status dmcp__store_del(dmcp_store *st, const char *key)
{
    return st->ops->del(st, key);
}

dmcp_status dmcp__store_publish(dmcp_store *st, const char *channel, const char *msg, size_t len)
{
    return st->ops->publish(st, channel, msg, len);
}

dmcp_status dmcp__store_log_append(dmcp_store *st, const char *key, const char *entry,
                                   size_t len, unsigned cap, unsigned ttl_s, const char *channel,
                                   const char *msg, size_t msg_len)
{
    return st->ops->log_append(st, key, entry, len, cap, ttl_s, channel, msg, msg_len);
}

dmcp_status dmcp__store_range(dmcp_store *st, const char *key, size_t max, char ***items,
                              size_t **lens, size_t *n)
{
    *items = NULL;
    *lens = NULL;
    *n = 0;
    return st->ops->range(st, key, max, items, lens, n);
}

dmcp_status dmcp__store_listen(dmcp_store *st, const char *channel, const dmcp__store_listener *l)
{
    return st->ops->listen(st, channel, l);
}

void dmcp__store_unlisten(dmcp_store *st)
{
    st->ops->unlisten(st);
}
