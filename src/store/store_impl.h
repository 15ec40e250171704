/* The store object and the operations each implementation provides (memory.c, redis.c),
 * with the helpers they share (store_impl.c). Private to src/store; the dispatcher (store.c)
 * is the only caller of the implementations. */
#ifndef DMCP_STORE_IMPL_H
#define DMCP_STORE_IMPL_H

#include "dmcp/store.h"
#include "store/store_types.h"

typedef struct dmcp__store_ops {
    bool (*up)(dmcp_store *st);
    dmcp_status (*get)(dmcp_store *st, const char *key, char **val, size_t *len);
    dmcp_status (*set)(dmcp_store *st, const char *key, const char *val, size_t len,
                       unsigned ttl_s, bool nx);
    dmcp_status (*expire)(dmcp_store *st, const char *key, unsigned ttl_s);
    dmcp_status (*del)(dmcp_store *st, const char *key);
    dmcp_status (*publish)(dmcp_store *st, const char *channel, const char *msg, size_t len);
    dmcp_status (*log_append)(dmcp_store *st, const char *key, const char *entry, size_t len,
                              unsigned cap, unsigned ttl_s, const char *channel, const char *msg,
                              size_t msg_len);
    dmcp_status (*range)(dmcp_store *st, const char *key, size_t max, char ***items,
                         size_t **lens, size_t *n);
    dmcp_status (*listen)(dmcp_store *st, const char *channel, const dmcp__store_listener *l);
    void (*unlisten)(dmcp_store *st);
    void (*free)(dmcp_store *st);
} dmcp__store_ops;

struct dmcp_store {
    const dmcp__store_ops *ops;
    void *impl;
    bool shared;
    char prefix[DMCP_STORE_PREFIX_MAX + 1];
};

/* prefix + name into buf; false when it does not fit. */
bool dmcp__store_key(const dmcp_store *st, const char *name, char *buf, size_t cap);

dmcp_status dmcp__store_memory_init(dmcp_store *st);
/* why: set to a message when hiredis cannot be loaded (DMCP_E_CONFIG; hiredis_dl.h). */
dmcp_status dmcp__store_redis_init(dmcp_store *st, const dmcp__store_url *u, const char **why);

#endif
