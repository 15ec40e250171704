/*
 * hiredis, loaded at run time. libdmcp does not link libhiredis: a program that uses only the
 * in-process store ("memory:", the default) never needs it installed; the first redis:// store
 * loads it with dlopen. The soname is the one the library was compiled against (its struct
 * layouts, redisReply above all, are part of the ABI), found by CMake at build time.
 *
 * redis.c includes this header instead of <hiredis.h>: the types and REDIS_* constants come from
 * hiredis's header, and every hiredis function it calls goes through the table below (the
 * macros at the end keep the call sites in hiredis's own spelling).
 */
#ifndef DMCP_STORE_HIREDIS_DL_H
#define DMCP_STORE_HIREDIS_DL_H

#include <hiredis.h>

#include "dmcp/common.h"

#define DMCP__HIREDIS_FUNCTIONS(X)                                                                 \
    X(redisConnectWithTimeout)                                                                     \
    X(redisSetTimeout)                                                                             \
    X(redisFree)                                                                                   \
    X(redisCommand)                                                                                \
    X(redisCommandArgv)                                                                            \
    X(redisAppendCommandArgv)                                                                      \
    X(redisGetReply)                                                                               \
    X(redisGetReplyFromReader)                                                                     \
    X(redisBufferRead)                                                                             \
    X(freeReplyObject)

typedef struct dmcp__hiredis {
#define DMCP__HIREDIS_SLOT(name) __typeof__(name) *name;
    DMCP__HIREDIS_FUNCTIONS(DMCP__HIREDIS_SLOT)
#undef DMCP__HIREDIS_SLOT
} dmcp__hiredis;

/* The table, filled by dmcp__hiredis_load (read-only afterwards). */
extern dmcp__hiredis dmcp__hiredis_fn;

/*
 * Loads hiredis once per process (later calls return the first outcome). DMCP_E_CONFIG with
 * *why set to a message naming the library and the package to install when it cannot be
 * loaded or lacks a function. Thread-safety: any thread.
 */
dmcp_status dmcp__hiredis_load(const char **why);

/* Tests only: the soname the next first load tries (before any load; not thread-safe). */
void dmcp__hiredis_set_soname(const char *soname);

#ifndef DMCP_HIREDIS_DL_IMPL
#define redisConnectWithTimeout dmcp__hiredis_fn.redisConnectWithTimeout
#define redisSetTimeout dmcp__hiredis_fn.redisSetTimeout
#define redisFree dmcp__hiredis_fn.redisFree
#define redisCommand dmcp__hiredis_fn.redisCommand
#define redisCommandArgv dmcp__hiredis_fn.redisCommandArgv
#define redisAppendCommandArgv dmcp__hiredis_fn.redisAppendCommandArgv
#define redisGetReply dmcp__hiredis_fn.redisGetReply
#define redisGetReplyFromReader dmcp__hiredis_fn.redisGetReplyFromReader
#define redisBufferRead dmcp__hiredis_fn.redisBufferRead
#define freeReplyObject dmcp__hiredis_fn.freeReplyObject
#endif

#endif /* DMCP_STORE_HIREDIS_DL_H */
