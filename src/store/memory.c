/*
 * The in-process store: a key/value map with expiry and a same-process "pub/sub" (a publish
 * calls the listener directly). What a single instance needs, with no dependency at run time.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "internal.h"
#include "store/store_impl.h"

typedef struct mem {
    pthread_mutex_t mu;
    json_t *map; /* full key -> [value, expiry (unix s, 0 = none)] */
    char *channel;
    dmcp__store_listener l;
} mem;

static json_t *live_locked(mem *m, const char *key)
{
    json_t *e = json_object_get(m->map, key);
    if (e == NULL) {
        return NULL;
    }
    json_int_t exp = json_integer_value(json_array_get(e, 1));
    if (exp != 0 && exp <= (json_int_t)time(NULL)) {
        json_object_del(m->map, key);
        return NULL;
    }
    return e;
}

static bool m_up(dmcp_store *st)
{
    (void)st;
    return true;
}

static dmcp_status m_get(dmcp_store *st, const char *key, char **val, size_t *len)
{
    mem *m = st->impl;
    char k[512];
    if (!dmcp__store_key(st, key, k, sizeof(k))) {
        return DMCP_E_TOO_LARGE;
    }
    pthread_mutex_lock(&m->mu);
    json_t *e = live_locked(m, k);
    dmcp_status s = DMCP_E_NOT_FOUND;
    if (e != NULL) {
        const json_t *v = json_array_get(e, 0);
        size_t n = json_string_length(v);
        *val = malloc(n + 1);
        s = *val != NULL ? DMCP_OK : DMCP_E_NOMEM;
        if (*val != NULL) {
            memcpy(*val, json_string_value(v), n);
            (*val)[n] = '\0';
            *len = n;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return s;
}

static dmcp_status m_set(dmcp_store *st, const char *key, const char *val, size_t len,
                         unsigned ttl_s, bool nx)
{
    mem *m = st->impl;
    char k[512];
    if (!dmcp__store_key(st, key, k, sizeof(k))) {
        return DMCP_E_TOO_LARGE;
    }
    json_t *e = json_pack("[s#I]", val, len, (json_int_t)(ttl_s ? time(NULL) + ttl_s : 0));
    if (e == NULL) {
        return DMCP_E_NOMEM;
    }
    pthread_mutex_lock(&m->mu);
    dmcp_status s = DMCP_OK;
    if (nx && live_locked(m, k) != NULL) {
        json_decref(e);
        s = DMCP_E_STATE;
    } else if (json_object_set_new(m->map, k, e) != 0) {
        s = DMCP_E_NOMEM;
    }
    pthread_mutex_unlock(&m->mu);
    return s;
}

static dmcp_status m_expire(dmcp_store *st, const char *key, unsigned ttl_s)
{
    mem *m = st->impl;
    char k[512];
    if (!dmcp__store_key(st, key, k, sizeof(k))) {
        return DMCP_E_TOO_LARGE;
    }
    pthread_mutex_lock(&m->mu);
    json_t *e = live_locked(m, k);
    if (e != NULL) {
        json_array_set_new(e, 1, json_integer(ttl_s ? (json_int_t)time(NULL) + ttl_s : 0));
    }
    pthread_mutex_unlock(&m->mu);
    return e != NULL ? DMCP_OK : DMCP_E_NOT_FOUND;
}

static dmcp_status m_del(dmcp_store *st, const char *key)
{
    mem *m = st->impl;
    char k[512];
    if (!dmcp__store_key(st, key, k, sizeof(k))) {
        return DMCP_E_TOO_LARGE;
    }
    pthread_mutex_lock(&m->mu);
    json_object_del(m->map, k);
    pthread_mutex_unlock(&m->mu);
    return DMCP_OK;
}

static dmcp_status m_publish(dmcp_store *st, const char *channel, const char *msg, size_t len)
{
    mem *m = st->impl;
    pthread_mutex_lock(&m->mu);
    bool hit = m->channel != NULL && strcmp(m->channel, channel) == 0;
    dmcp__store_listener l = m->l;
    pthread_mutex_unlock(&m->mu);
    if (hit && l.on_message != NULL) {
        l.on_message(l.ud, msg, len);
    }
    return DMCP_OK;
}

static dmcp_status m_log_append(dmcp_store *st, const char *key, const char *entry, size_t len,
                                unsigned cap, unsigned ttl_s, const char *channel,
                                const char *msg, size_t msg_len)
{
    mem *m = st->impl;
    char k[512];
    if (!dmcp__store_key(st, key, k, sizeof(k))) {
        return DMCP_E_TOO_LARGE;
    }
    json_t *item = json_stringn(entry, len);
    if (item == NULL) {
        return DMCP_E_NOMEM;
    }
    pthread_mutex_lock(&m->mu);
    json_t *e = live_locked(m, k);
    if (e == NULL || !json_is_array(json_array_get(e, 0))) {
        e = json_pack("[[]I]", (json_int_t)0);
        json_object_set_new(m->map, k, e);
    }
    json_t *list = json_array_get(e, 0);
    json_array_append_new(list, item);
    while (cap > 0 && json_array_size(list) > cap) {
        json_array_remove(list, 0);
    }
    json_array_set_new(e, 1, json_integer(ttl_s ? (json_int_t)time(NULL) + ttl_s : 0));
    pthread_mutex_unlock(&m->mu);
    return channel != NULL ? m_publish(st, channel, msg, msg_len) : DMCP_OK;
}

static dmcp_status m_range(dmcp_store *st, const char *key, size_t max, char ***items,
                           size_t **lens, size_t *n)
{
    mem *m = st->impl;
    char k[512];
    if (!dmcp__store_key(st, key, k, sizeof(k))) {
        return DMCP_E_TOO_LARGE;
    }
    pthread_mutex_lock(&m->mu);
    json_t *e = live_locked(m, k);
    json_t *list = e != NULL ? json_array_get(e, 0) : NULL;
    size_t c = json_is_array(list) ? json_array_size(list) : 0;
    if (c > max) {
        c = max;
    }
    dmcp_status s = c == 0 ? DMCP_E_NOT_FOUND : DMCP_OK;
    if (c > 0) {
        *items = calloc(c, sizeof(char *));
        *lens = calloc(c, sizeof(size_t));
        s = *items != NULL && *lens != NULL ? DMCP_OK : DMCP_E_NOMEM;
        for (size_t i = 0; s == DMCP_OK && i < c; i++) {
            const json_t *v = json_array_get(list, i);
            (*lens)[i] = json_string_length(v);
            (*items)[i] = malloc((*lens)[i] + 1);
            if ((*items)[i] == NULL) {
                s = DMCP_E_NOMEM;
                break;
            }
            memcpy((*items)[i], json_string_value(v), (*lens)[i] + 1);
            *n = i + 1;
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (s != DMCP_OK) {
        dmcp__store_items_free(*items, *lens, *n);
        *items = NULL;
        *lens = NULL;
        *n = 0;
    }
    return s;
}

static dmcp_status m_listen(dmcp_store *st, const char *channel, const dmcp__store_listener *l)
{
    mem *m = st->impl;
    char *c = dmcp__strdup(channel);
    if (c == NULL) {
        return DMCP_E_NOMEM;
    }
    pthread_mutex_lock(&m->mu);
    bool busy = m->channel != NULL;
    if (!busy) {
        m->channel = c;
        m->l = *l;
    }
    pthread_mutex_unlock(&m->mu);
    if (busy) {
        free(c);
        return DMCP_E_STATE;
    }
    return DMCP_OK;
}

static void m_unlisten(dmcp_store *st)
{
    mem *m = st->impl;
    pthread_mutex_lock(&m->mu);
    free(m->channel);
    m->channel = NULL;
    pthread_mutex_unlock(&m->mu);
}

static void m_free(dmcp_store *st)
{
    mem *m = st->impl;
    json_decref(m->map);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static const dmcp__store_ops memory_ops = {m_up,      m_get,    m_set,      m_expire, m_del,
                                           m_publish, m_log_append, m_range,
                                           m_listen,  m_unlisten, m_free};

dmcp_status dmcp__store_memory_init(dmcp_store *st)
{
    mem *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->map = json_object()) == NULL) {
        free(m);
        return DMCP_E_NOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    st->ops = &memory_ops;
    st->impl = m;
    st->shared = false;
    return DMCP_OK;
}
