/*
 * Loading hiredis at run time (hiredis_dl.h says why). One dlopen per process, guarded by
 * pthread_once; the handle stays open for the life of the process (stores may come and go).
 */
#define DMCP_HIREDIS_DL_IMPL
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store/hiredis_dl.h"

#ifndef DMCP_HIREDIS_SONAME
#error "DMCP_HIREDIS_SONAME must name the libhiredis soname found at build time"
#endif

dmcp__hiredis dmcp__hiredis_fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *soname = DMCP_HIREDIS_SONAME;
static dmcp_status outcome = DMCP_E_CONFIG;
static char message[256];

static void load(void)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(message, sizeof(message),
                 "redis:// stores need %s, which cannot be loaded (Debian: apt install the "
                 "libhiredis runtime package matching libhiredis-dev)",
                 soname);
        return;
    }
    dmcp__hiredis t;
    void *sym;
#define DMCP__HIREDIS_RESOLVE(name)                                                                \
    sym = dlsym(h, #name);                                                                         \
    memcpy(&t.name, &sym, sizeof(sym)); /* POSIX: a data pointer converts to a function one */  \
    if (t.name == NULL) {                                                                          \
        snprintf(message, sizeof(message), "%s has no %s: not the hiredis this was built for",    \
                 soname, #name);                                                                   \
        dlclose(h);                                                                                \
        return;                                                                                    \
    }
    DMCP__HIREDIS_FUNCTIONS(DMCP__HIREDIS_RESOLVE)
#undef DMCP__HIREDIS_RESOLVE
    dmcp__hiredis_fn = t;
    outcome = DMCP_OK;
}

dmcp_status dmcp__hiredis_load(const char **why)
{
    pthread_once(&once, load);
    if (why != NULL) {
        *why = outcome == DMCP_OK ? NULL : message;
    }
    return outcome;
}

void dmcp__hiredis_set_soname(const char *name)
{
    soname = name;
}
