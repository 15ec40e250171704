/*
 * The verified-token cache: SHA-256(token) -> dmcp_token, bounded, never serving a token
 * outside the validity window its claims gave at validation time.
 *
 * Concurrency: the table is split into 16 shards chosen by the first digest byte, each with
 * its own rwlock. A lookup takes only the read side of one shard (readers never exclude each
 * other) and an atomic increment of the token's reference count; inserts and evictions take
 * the write side of one shard. A fully lock-free table would need hazard pointers or epochs
 * to free evicted tokens safely; a read lock is simpler and measured fast enough (report).
 *
 * Keys: each entry records the generation of the key set that verified it and a hit reports it;
 * the validator serves a hit only under that same generation and verifies the token again after
 * every key refresh (a withdrawn key stops being accepted; validator.c, cache_hit).
 *
 * Eviction: each shard keeps its entries in insertion order (a ring); when full, the oldest
 * is dropped. FIFO needs no write on a hit, which keeps hits on the read side.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/validator_int.h"

#define SHARDS 16
#define NIL UINT32_MAX

typedef struct entry {
    unsigned char digest[DMCP__DIGEST_LEN];
    dmcp_token *tok;
    uint64_t gen;  /* the key set generation that verified tok */
    uint32_t next; /* chain in the bucket */
} entry;

typedef struct shard {
    pthread_rwlock_t lock;
    entry *slots;      /* ring of cap entries, oldest at head */
    uint32_t *buckets; /* nb heads */
    uint32_t cap;
    uint32_t nb; /* power of two */
    uint32_t head;
    uint32_t count;
} shard;

struct dmcp__tcache {
    shard shards[SHARDS];
};

static uint32_t bucket_of(const shard *s, const unsigned char *d)
{
    uint32_t h = (uint32_t)d[1] | (uint32_t)d[2] << 8 | (uint32_t)d[3] << 16 | (uint32_t)d[4] << 24;
    return h & (s->nb - 1);
}

dmcp__tcache *dmcp__tcache_new(size_t entries, bool *nomem)
{
    *nomem = false;
    if (entries == 0) {
        return NULL;
    }
    dmcp__tcache *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        *nomem = true;
        return NULL;
    }
    uint32_t per = (uint32_t)((entries + SHARDS - 1) / SHARDS);
    size_t i;
    for (i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        s->cap = per;
        s->nb = 1;
        while (s->nb < per * 2) {
            s->nb <<= 1;
        }
        s->slots = calloc(per, sizeof(*s->slots));
        s->buckets = malloc(s->nb * sizeof(*s->buckets));
        if (s->slots == NULL || s->buckets == NULL || pthread_rwlock_init(&s->lock, NULL) != 0) {
            free(s->slots);
            free(s->buckets);
            break;
        }
        for (uint32_t b = 0; b < s->nb; b++) {
            s->buckets[b] = NIL;
        }
    }
    if (i < SHARDS) {
        for (size_t k = 0; k < i; k++) {
            pthread_rwlock_destroy(&c->shards[k].lock);
            free(c->shards[k].slots);
            free(c->shards[k].buckets);
        }
        free(c);
        *nomem = true;
        return NULL;
    }
    return c;
}

void dmcp__tcache_free(dmcp__tcache *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        for (uint32_t k = 0; k < s->count; k++) {
            dmcp_token_free(s->slots[(s->head + k) % s->cap].tok);
        }
        pthread_rwlock_destroy(&s->lock);
        free(s->slots);
        free(s->buckets);
    }
    free(c);
}

static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    /* An explicit fetch once: implicit fetches by name take a global lock on every call in
     * OpenSSL 3, which costs more than hashing an 800-byte token. */
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

dmcp_status dmcp__tcache_digest(const char *token, size_t len, unsigned char out[DMCP__DIGEST_LEN])
{
    (void)pthread_once(&g_sha256_once, fetch_sha256);
    if (g_sha256 == NULL) {
        return DMCP_E_INTERNAL;
    }
    unsigned int n = 0;
    if (EVP_Digest(token, len, out, &n, g_sha256, NULL) != 1 || n != DMCP__DIGEST_LEN) {
        return DMCP_E_INTERNAL;
    }
    return DMCP_OK;
}

/* The entry for d in s, or NIL; *prev receives the predecessor in the chain (or NIL). */
static uint32_t find(const shard *s, const unsigned char *d, uint32_t *prev)
{
    uint32_t p = NIL;
    for (uint32_t i = s->buckets[bucket_of(s, d)]; i != NIL; i = s->slots[i].next) {
        /* The full 32-byte digest is compared, never a prefix. */
        if (CRYPTO_memcmp(s->slots[i].digest, d, DMCP__DIGEST_LEN) == 0) {
            if (prev != NULL) {
                *prev = p;
            }
            return i;
        }
        p = i;
    }
    return NIL;
}

dmcp_token *dmcp__tcache_get(dmcp__tcache *c, const unsigned char digest[DMCP__DIGEST_LEN],
                             int64_t now, uint64_t *gen)
{
    if (c == NULL) {
        return NULL;
    }
    shard *s = &c->shards[digest[0] % SHARDS];
    dmcp_token *hit = NULL;
    if (pthread_rwlock_rdlock(&s->lock) != 0) {
        return NULL;
    }
    uint32_t i = find(s, digest, NULL);
    if (i != NIL) {
        dmcp_token *t = s->slots[i].tok;
        /* The same window as a fresh validation (claims.c): refused at or after
         * exp + leeway, and before nbf/iat - leeway (the clock may be moved back). */
        if (now < t->reject_at && now >= t->valid_from) {
            hit = dmcp_token_ref(t);
            *gen = s->slots[i].gen;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return hit;
}

static void unlink_slot(shard *s, uint32_t i)
{
    uint32_t prev = NIL;
    uint32_t found = find(s, s->slots[i].digest, &prev);
    if (found != i) {
        return;
    }
    if (prev == NIL) {
        s->buckets[bucket_of(s, s->slots[i].digest)] = s->slots[i].next;
    } else {
        s->slots[prev].next = s->slots[i].next;
    }
}

void dmcp__tcache_put(dmcp__tcache *c, const unsigned char digest[DMCP__DIGEST_LEN], dmcp_token *t,
                      uint64_t gen)
{
    if (c == NULL || t == NULL) {
        return;
    }
    shard *s = &c->shards[digest[0] % SHARDS];
    dmcp_token *drop = NULL;
    if (pthread_rwlock_wrlock(&s->lock) != 0) {
        return;
    }
    uint32_t i = find(s, digest, NULL);
    if (i != NIL) {
        /* Same bytes validated again (e.g. after expiry in the cache): replace in place. */
        drop = s->slots[i].tok;
        s->slots[i].tok = dmcp_token_ref(t);
        s->slots[i].gen = gen;
        goto out;
    }
    if (s->count == s->cap) {
        uint32_t old = s->head;
        unlink_slot(s, old);
        drop = s->slots[old].tok;
        s->slots[old].tok = NULL;
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    i = (s->head + s->count) % s->cap;
    memcpy(s->slots[i].digest, digest, DMCP__DIGEST_LEN);
    s->slots[i].tok = dmcp_token_ref(t);
    s->slots[i].gen = gen;
    uint32_t b = bucket_of(s, digest);
    s->slots[i].next = s->buckets[b];
    s->buckets[b] = i;
    s->count++;
out:
    pthread_rwlock_unlock(&s->lock);
    dmcp_token_free(drop);
}

size_t dmcp__tcache_count(dmcp__tcache *c)
{
    size_t n = 0;
    if (c == NULL) {
        return 0;
    }
    for (size_t i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        if (pthread_rwlock_rdlock(&s->lock) == 0) {
            n += s->count;
            pthread_rwlock_unlock(&s->lock);
        }
    }
    return n;
}
