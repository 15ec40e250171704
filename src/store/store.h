/*
 * The state store as the MCP runtime sees it (issue 10): a handful of key/value, list and
 * pub/sub operations, behind which sit the in-process and the Redis implementations. The
 * runtime knows only this header (no hiredis). Keys and channels are given WITHOUT the
 * store's prefix; the store adds it. Every call is bounded in time (Redis: connect 1 s,
 * command 500 ms) and fails fast with DMCP_E_UNREACHABLE while the backend is down.
 * Thread-safety: every function may be called from any thread.
 */
#ifndef DMCP_STORE_INTERNAL_H
#define DMCP_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dmcp/store.h"
#include "store/store_types.h"


/* ---- store.c: the interface ---- */

/* True for a store shared between processes (Redis); false for the in-process one. */
bool dmcp__store_shared(const dmcp_store *st);
/* The backend answered its last command (false while Redis is down). */
bool dmcp__store_up(dmcp_store *st);
/* GET: *val is new (free()), NUL-terminated, *len its length. DMCP_E_NOT_FOUND when absent. */
dmcp_status dmcp__store_get(dmcp_store *st, const char *key, char **val, size_t *len);
/* SET key val EX ttl_s (0: no expiry); nx: only when absent (DMCP_E_STATE when present). */
dmcp_status dmcp__store_set(dmcp_store *st, const char *key, const char *val, size_t len,
                            unsigned ttl_s, bool nx);
/* EXPIRE key ttl_s; DMCP_E_NOT_FOUND when the key is gone. */
dmcp_status dmcp__store_expire(dmcp_store *st, const char *key, unsigned ttl_s);
dmcp_status dmcp__store_del(dmcp_store *st, const char *key);
/* PUBLISH on a channel (every listener of every process sharing the store receives it). */
dmcp_status dmcp__store_publish(dmcp_store *st, const char *channel, const char *msg, size_t len);

/*
 * Appends an entry to a list capped at its last cap entries with an idle TTL, then publishes
 * msg on channel; one round trip (Redis: RPUSH, LTRIM, EXPIRE, PUBLISH pipelined).
 */
dmcp_status dmcp__store_log_append(dmcp_store *st, const char *key, const char *entry,
                                   size_t len, unsigned cap, unsigned ttl_s, const char *channel,
                                   const char *msg, size_t msg_len);
/* The entries of a list, oldest first (at most max). *items: new array of new strings, each
 * NUL-terminated; free with dmcp__store_items_free. DMCP_E_NOT_FOUND when empty/absent. */
dmcp_status dmcp__store_range(dmcp_store *st, const char *key, size_t max, char ***items,
                              size_t **lens, size_t *n);


/* Starts listening on channel (one listener per store). The listener is borrowed until
 * dmcp__store_unlisten() returns. */
dmcp_status dmcp__store_listen(dmcp_store *st, const char *channel,
                               const dmcp__store_listener *l);
void dmcp__store_unlisten(dmcp_store *st);

#endif
