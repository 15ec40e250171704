/*
 * The few types shared by the store's two faces: the runtime's (store.h) and the
 * implementations' (store_impl.h). Neither face includes the other, so the dispatcher
 * (store.c) calls the implementations and they never call back into it.
 */
#ifndef DMCP_STORE_TYPES_H
#define DMCP_STORE_TYPES_H

#include <stdbool.h>
#include <stddef.h>

/* ---- url.c ---- */

typedef struct dmcp__store_url {
    bool memory;       /* "memory:" / NULL */
    char host[256];    /* without brackets */
    unsigned port;     /* 1..65535 */
    unsigned db;       /* 0..15 */
    char password[257]; /* "" = none */
} dmcp__store_url;

/* Parses a store URL (dmcp_store_open's grammar). false with why set (a static text) when
 * malformed. Never copies the password into why. */
bool dmcp__store_url_parse(const char *url, size_t len, dmcp__store_url *out, const char **why);

/*
 * A listener of one channel, run on the store's reader thread (one per store). on_message:
 * one published message (borrowed). on_reset: the subscription was (re)established, messages
 * may have been missed meanwhile (caches must be revalidated). Either may be NULL.
 */
typedef struct dmcp__store_listener {
    void (*on_message)(void *ud, const char *msg, size_t len);
    void (*on_reset)(void *ud);
    void *ud;
} dmcp__store_listener;

/* Frees what a range operation returned (store_impl.c). */
void dmcp__store_items_free(char **items, size_t *lens, size_t n);

#endif
