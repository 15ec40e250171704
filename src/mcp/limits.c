/*
 * Per-principal limits of the HTTP transport: a request rate (token bucket) and the number of
 * open SSE streams, keyed by the principal's binding key. One principal exhausts only its own
 * share; nothing here is on the path of a server that sets neither limit.
 *
 * The table is split in shards, each with its own lock, so principals rarely contend. An
 * entry lives while it holds streams or its bucket is not full again; the housekeeper drops
 * the others (dmcp__plimits_sweep), so the table holds only active principals.
 */
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp_internal.h"

#define SHARDS 16
#define SHARD_BUCKETS 64
#define MAX_ENTRIES 100000 /* beyond this, new principals are refused, never the server */

typedef struct pentry {
    char *key;
    double tokens; /* bucket fill */
    double last;   /* when tokens was computed (monotonic seconds) */
    unsigned streams;
    struct pentry *next;
} pentry;

typedef struct shard {
    pthread_mutex_t mu;
    pentry *buckets[SHARD_BUCKETS];
} shard;

struct dmcp__plimits {
    shard shards[SHARDS];
    atomic_size_t entries;
};

static uint32_t hash_of(const char *key)
{
    uint32_t h = 2166136261u;
    for (const char *p = key; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 16777619u;
    }
    return h;
}

dmcp__plimits *dmcp__plimits_new(void)
{
    dmcp__plimits *pl = calloc(1, sizeof(*pl));
    if (pl == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&pl->shards[i].mu, NULL);
    }
    return pl;
}

void dmcp__plimits_free(dmcp__plimits *pl)
{
    if (pl == NULL) {
        return;
    }
    for (size_t i = 0; i < SHARDS; i++) {
        for (size_t b = 0; b < SHARD_BUCKETS; b++) {
            for (pentry *e = pl->shards[i].buckets[b]; e != NULL;) {
                pentry *next = e->next;
                free(e->key);
                free(e);
                e = next;
            }
        }
        pthread_mutex_destroy(&pl->shards[i].mu);
    }
    free(pl);
}

/* Finds (or creates, full bucket) the entry of key; locks its shard (*sh) either way. */
static pentry *entry_of(dmcp__plimits *pl, const char *key, double burst, double now, shard **sh)
{
    uint32_t h = hash_of(key);
    *sh = &pl->shards[h % SHARDS];
    pthread_mutex_lock(&(*sh)->mu);
    pentry **pp = &(*sh)->buckets[(h / SHARDS) % SHARD_BUCKETS];
    while (*pp != NULL && strcmp((*pp)->key, key) != 0) {
        pp = &(*pp)->next;
    }
    if (*pp == NULL) {
        if (atomic_load(&pl->entries) >= MAX_ENTRIES) {
            return NULL;
        }
        pentry *e = calloc(1, sizeof(*e));
        if (e == NULL || (e->key = dmcp__strdup(key)) == NULL) {
            free(e);
            return NULL;
        }
        e->tokens = burst;
        e->last = now;
        *pp = e;
        atomic_fetch_add(&pl->entries, 1);
    }
    return *pp;
}

double dmcp__plimits_take(dmcp__plimits *pl, const char *key, double rate, double burst, double now)
{
    if (rate <= 0 || key == NULL) {
        return 0;
    }
    shard *sh;
    pentry *e = entry_of(pl, key, burst, now, &sh);
    double wait = 0;
    if (e == NULL) {
        wait = 1; /* table full or out of memory: this principal waits, the rest go on */
    } else {
        double fill = e->tokens + (now - e->last) * rate;
        e->tokens = fill < burst ? fill : burst;
        e->last = now;
        if (e->tokens >= 1) {
            e->tokens -= 1;
        } else {
            wait = (1 - e->tokens) / rate;
        }
    }
    pthread_mutex_unlock(&sh->mu);
    return wait;
}

bool dmcp__plimits_stream_open(dmcp__plimits *pl, const char *key, unsigned max, double burst,
                               double now)
{
    if (max == 0 || key == NULL) {
        return true;
    }
    shard *sh;
    pentry *e = entry_of(pl, key, burst, now, &sh);
    bool ok = e != NULL && e->streams < max;
    if (ok) {
        e->streams++;
    }
    pthread_mutex_unlock(&sh->mu);
    return ok;
}

void dmcp__plimits_stream_close(dmcp__plimits *pl, const char *key)
{
    if (key == NULL) {
        return;
    }
    uint32_t h = hash_of(key);
    shard *sh = &pl->shards[h % SHARDS];
    pthread_mutex_lock(&sh->mu);
    for (pentry *e = sh->buckets[(h / SHARDS) % SHARD_BUCKETS]; e != NULL; e = e->next) {
        if (strcmp(e->key, key) == 0) {
            if (e->streams > 0) {
                e->streams--;
            }
            break;
        }
    }
    pthread_mutex_unlock(&sh->mu);
}

void dmcp__plimits_sweep(dmcp__plimits *pl, double rate, double burst, double now)
{
    for (size_t i = 0; i < SHARDS; i++) {
        shard *sh = &pl->shards[i];
        pthread_mutex_lock(&sh->mu);
        for (size_t b = 0; b < SHARD_BUCKETS; b++) {
            pentry **pp = &sh->buckets[b];
            while (*pp != NULL) {
                pentry *e = *pp;
                bool full = rate <= 0 || e->tokens + (now - e->last) * rate >= burst;
                if (e->streams == 0 && full) {
                    *pp = e->next;
                    free(e->key);
                    free(e);
                    atomic_fetch_sub(&pl->entries, 1);
                } else {
                    pp = &e->next;
                }
            }
        }
        pthread_mutex_unlock(&sh->mu);
    }
}

double dmcp__rate_burst(const dmcp_server *srv)
{
    double burst = srv->lim[DMCP_LIMIT_RATE_BURST];
    double twice = srv->lim[DMCP_LIMIT_RATE] * 2;
    return burst > 0 ? burst : (twice < 1 ? 1 : twice);
}
