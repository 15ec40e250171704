/*
 * Shared state store (issue 10, docs/scaling.md): where a server keeps what must outlive one
 * process or be seen by every instance behind a load balancer (2025-era session records,
 * cross-instance invalidation, the 2026 requestState key).
 *
 *   "memory:" (or NULL)                       in-process: today's behaviour, the default
 *   "redis://[:PASSWORD@]HOST:PORT[/DB]"      Redis (hiredis); every instance given the same
 *                                             URL and prefix shares sessions
 *
 * A store is opened once, handed to one or more servers with dmcp_server_set_store() and freed
 * after every server using it has been freed.
 */
#ifndef DMCP_STORE_H
#define DMCP_STORE_H

#include "dmcp/common.h"
#include "dmcp/server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmcp_store dmcp_store;

/* The longest URL accepted (bytes, without the NUL). */
#define DMCP_STORE_URL_MAX 1024
/* The longest key prefix accepted (dmcp_store_set_prefix). */
#define DMCP_STORE_PREFIX_MAX 64

/*
 * Opens a store. url: NULL or "memory:" for the in-process store; "redis://..." as above
 * (HOST is a name or an IPv4 address, or an IPv6 one in brackets; PORT 1-65535; DB 0-15;
 * PASSWORD up to 256 bytes, never logged nor put into err). Does not connect yet: the Redis
 * connection is made on first use and re-made after a failure, so a server can start while
 * Redis is down.
 * Ownership: *out is new, release with dmcp_store_free(). url is borrowed.
 * Returns DMCP_E_INVALID_ARG (err says why) for a malformed URL, DMCP_E_TOO_LARGE over
 * DMCP_STORE_URL_MAX. Thread-safety: any thread.
 */
DMCP_API dmcp_status dmcp_store_open(const char *url, dmcp_store **out, dmcp_error *err);

/*
 * Sets the prefix of every key and channel the store uses (default "dmcp:"), so several
 * deployments can share one Redis. 1 to DMCP_STORE_PREFIX_MAX bytes of [A-Za-z0-9:_.-].
 * Before the store is handed to a server. Thread-safety: not concurrently with its use.
 */
DMCP_API dmcp_status dmcp_store_set_prefix(dmcp_store *store, const char *prefix);

/*
 * The store a program's --store / --store-prefix flags ask for, in one call: url NULL or ""
 * falls back to the environment variable DMCP_STORE_URL; when neither names a store, *out is
 * NULL and DMCP_OK (keep the in-process default). prefix (may be NULL) is applied with
 * dmcp_store_set_prefix. DMCP_E_INVALID_ARG with err saying which flag is wrong (a prefix
 * without a store, a bad prefix, a malformed URL). Ownership: *out as dmcp_store_open.
 * Thread-safety: any thread (reads the environment).
 */
DMCP_API dmcp_status dmcp_store_open_flags(const char *url, const char *prefix, dmcp_store **out,
                                           dmcp_error *err);

/* Frees a store (NULL is a no-op). After every server it was handed to has been freed. */
DMCP_API void dmcp_store_free(dmcp_store *store);

/*
 * Hands a store to a server (before dmcp_server_start). The server borrows it: the caller
 * keeps ownership and frees it after dmcp_server_free(). NULL restores the in-process default.
 * With a shared (Redis) store, 2025-era sessions are kept in the store, and unless
 * dmcp_server_set_state_key() was called, the 2026 requestState key is shared through it.
 * DMCP_E_STATE once the server has started. Thread-safety: not concurrently with other
 * configuration calls on the same server.
 */
DMCP_API dmcp_status dmcp_server_set_store(dmcp_server *srv, dmcp_store *store);

#ifdef __cplusplus
}
#endif

#endif
