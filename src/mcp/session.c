/*
 * Session table (MCP 2025-11-25 Transports §2.5; Security Best Practices §2.4.4): ids from a
 * CSPRNG, visible ASCII only; each session bound to the principal that created it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mcp/mcp_internal.h"
#include "metrics.h"

#define BUCKETS 1024

/* Sessions per principal (binding key), so one principal's flood of initialize requests only
 * ever spends its own share of the table. */
typedef struct binding_count {
    char *key;
    size_t n;
    struct binding_count *next;
} binding_count;

struct dmcp__session_table {
    pthread_mutex_t mu;
    dmcp__session *buckets[BUCKETS];
    size_t count, max;
    size_t max_per_binding; /* 0: no per-principal cap */
    binding_count *bindings[BUCKETS];
    void (*on_end)(void *, const char *);
    void (*on_release)(void *, const char *);
    void *on_end_ud;
    bool end_if_deleted;
    const dmcp__transport *transport; /* given to every session created or adopted */
};

dmcp_status dmcp__random_hex(char *buf, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof(raw)) {
        return DMCP_E_INVALID_ARG;
    }
    size_t got = 0;
    /* getrandom(2) without flags blocks only until the kernel pool is initialised once. */
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return DMCP_E_INTERNAL;
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < nbytes; i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 15];
    }
    buf[2 * nbytes] = '\0';
    memset(raw, 0, sizeof(raw));
    return DMCP_OK;
}

static size_t bucket_of(const char *id);

/* The count of a binding key; creates it when create is set. Holds t->mu. */
static binding_count *binding_slot(dmcp__session_table *t, const char *key, bool create)
{
    binding_count **pp = &t->bindings[bucket_of(key)];
    while (*pp != NULL && strcmp((*pp)->key, key) != 0) {
        pp = &(*pp)->next;
    }
    if (*pp == NULL && create) {
        binding_count *b = calloc(1, sizeof(*b));
        if (b == NULL || (b->key = dmcp__strdup(key)) == NULL) {
            free(b);
            return NULL;
        }
        *pp = b;
    }
    return *pp;
}

/* One session of key fewer. Holds t->mu. */
static void binding_release(dmcp__session_table *t, const char *key)
{
    if (key == NULL) {
        return;
    }
    binding_count **pp = &t->bindings[bucket_of(key)];
    while (*pp != NULL && strcmp((*pp)->key, key) != 0) {
        pp = &(*pp)->next;
    }
    binding_count *b = *pp;
    if (b != NULL && --b->n == 0) {
        *pp = b->next;
        free(b->key);
        free(b);
    }
}

static size_t bucket_of(const char *id)
{
    /* FNV-1a; ids are random, so this only spreads them, it protects nothing. */
    uint32_t h = 2166136261u;
    for (const char *p = id; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 16777619u;
    }
    return h % BUCKETS;
}

dmcp_status dmcp__sessions_new(size_t max, size_t max_per_binding, dmcp__session_table **out)
{
    dmcp__session_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return DMCP_E_NOMEM;
    }
    pthread_mutex_init(&t->mu, NULL);
    t->max = max;
    t->max_per_binding = max_per_binding;
    *out = t;
    return DMCP_OK;
}

void dmcp__sessions_free(dmcp__session_table *t)
{
    if (t == NULL) {
        return;
    }
    dmcp__metrics_gauge_add(DMCP__M_SESSIONS_OPEN, -(int64_t)t->count);
    for (size_t b = 0; b < BUCKETS; b++) {
        dmcp__session *s = t->buckets[b];
        while (s != NULL) {
            dmcp__session *next = s->next;
            s->ended = true;
            dmcp__session_unref(s);
            s = next;
        }
        for (binding_count *c = t->bindings[b]; c != NULL;) {
            binding_count *next = c->next;
            free(c->key);
            free(c);
            c = next;
        }
    }
    pthread_mutex_destroy(&t->mu);
    free(t);
}

dmcp__session *dmcp__session_new_local(void)
{
    dmcp__session *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->refs, 1);
    atomic_init(&s->log_level, DMCP_LOG_DEBUG);
    snprintf(s->version, sizeof(s->version), "%s", DMCP_PROTOCOL_2025_03_26);
    s->last_used = time(NULL);
    return s;
}

void dmcp__session_ref(dmcp__session *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void dmcp__session_unref(dmcp__session *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1) {
        return;
    }
    if (!s->end_if_deleted || atomic_load(&s->deleted_here)) {
        if (s->on_end != NULL) {
            s->on_end(s->on_end_ud, s->id);
        }
    } else if (s->on_release != NULL) {
        s->on_release(s->on_end_ud, s->id);
    }
    for (size_t i = 0; i < DMCP__MAX_INFLIGHT; i++) {
        json_decref(s->inflight[i].id);
    }
    json_decref(s->client_caps);
    json_decref(s->client_info);
    json_decref(s->subs);
    json_decref(s->listen_id);
    json_decref(s->attrs);
    dmcp__mrtr_free(s->mrtr);
    free(s->binding);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static bool evict_idle_of_locked(dmcp__session_table *t, const char *binding);

static dmcp__session *find_locked(dmcp__session_table *t, const char *id);

/* Creates and registers a session under id (NULL: a fresh CSPRNG id); with adopt, a live
 * session already registered under id is returned instead. */
static dmcp_status register_session(dmcp__session_table *t, const char *id, const char *binding,
                                    bool adopt, dmcp__session **out)
{
    *out = NULL;
    dmcp__session *s = dmcp__session_new_local();
    if (s == NULL) {
        return DMCP_E_NOMEM;
    }
    if (binding != NULL) {
        s->binding = dmcp__strdup(binding);
        if (s->binding == NULL) {
            dmcp__session_unref(s);
            return DMCP_E_NOMEM;
        }
    }
    if (id != NULL) {
        snprintf(s->id, sizeof(s->id), "%s", id);
    } else {
        dmcp_status st = dmcp__random_hex(s->id, DMCP__SESSION_ID_BYTES);
        if (st != DMCP_OK) {
            dmcp__session_unref(s);
            return st;
        }
    }
    pthread_mutex_lock(&t->mu);
    if (adopt) {
        dmcp__session *old = find_locked(t, s->id);
        if (old != NULL) {
            dmcp__session_ref(old);
            old->last_used = time(NULL);
            pthread_mutex_unlock(&t->mu);
            dmcp__session_unref(s);
            *out = old;
            return DMCP_OK;
        }
    }
    /* Set only now: a duplicate dropped above must not report the live id's end. */
    s->on_end = t->on_end;
    s->on_release = t->on_release;
    s->on_end_ud = t->on_end_ud;
    s->end_if_deleted = t->end_if_deleted;
    s->transport = t->transport;
    bool capped = binding != NULL && t->max_per_binding > 0;
    if (capped) {
        binding_count *bc = binding_slot(t, binding, false);
        if (bc != NULL && bc->n >= t->max_per_binding && !evict_idle_of_locked(t, binding)) {
            pthread_mutex_unlock(&t->mu);
            dmcp__session_unref(s);
            return DMCP_E_RATE_LIMITED;
        }
    }
    if (t->count >= t->max) {
        pthread_mutex_unlock(&t->mu);
        dmcp__session_unref(s);
        return DMCP_E_TOO_LARGE;
    }
    if (capped) {
        binding_count *bc = binding_slot(t, binding, true); /* after an eviction freed it */
        if (bc == NULL) {
            pthread_mutex_unlock(&t->mu);
            dmcp__session_unref(s);
            return DMCP_E_NOMEM;
        }
        bc->n++;
        s->counted = true;
    }
    size_t b = bucket_of(s->id);
    s->next = t->buckets[b];
    t->buckets[b] = s; /* the table's reference */
    t->count++;
    dmcp__metrics_gauge_add(DMCP__M_SESSIONS_OPEN, 1);
    dmcp__session_ref(s); /* the caller's reference */
    pthread_mutex_unlock(&t->mu);
    *out = s;
    return DMCP_OK;
}

dmcp_status dmcp__sessions_create(dmcp__session_table *t, const char *binding, dmcp__session **out)
{
    return register_session(t, NULL, binding, false, out);
}

dmcp_status dmcp__sessions_adopt(dmcp__session_table *t, const char *id, const char *binding,
                                 dmcp__session **out)
{
    if (id == NULL || strlen(id) != DMCP__SESSION_ID_LEN) {
        *out = NULL;
        return DMCP_E_INVALID_ARG;
    }
    return register_session(t, id, binding, true, out);
}

static bool id_equal(const char *a, const char *b)
{
    /* Fixed-length comparison that does not stop at the first difference. */
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) {
        return false;
    }
    unsigned char d = 0;
    for (size_t i = 0; i < la; i++) {
        d |= (unsigned char)(a[i] ^ b[i]);
    }
    return d == 0;
}

/* The live (not ended) session registered under id, or NULL. Holds t->mu. */
static dmcp__session *find_locked(dmcp__session_table *t, const char *id)
{
    dmcp__session *s = t->buckets[bucket_of(id)];
    while (s != NULL && !id_equal(s->id, id)) {
        s = s->next;
    }
    return s != NULL && !s->ended ? s : NULL;
}

dmcp__session *dmcp__sessions_find(dmcp__session_table *t, const char *id)
{
    if (id == NULL || strlen(id) != DMCP__SESSION_ID_LEN) {
        return NULL;
    }
    pthread_mutex_lock(&t->mu);
    dmcp__session *s = find_locked(t, id);
    if (s != NULL) {
        dmcp__session_ref(s);
        s->last_used = time(NULL);
    }
    pthread_mutex_unlock(&t->mu);
    return s;
}

/* Unlinks s; the table's lock must be held. Returns true if it was linked. */
static bool unlink_locked(dmcp__session_table *t, dmcp__session *s)
{
    dmcp__session **pp = &t->buckets[bucket_of(s->id)];
    while (*pp != NULL && *pp != s) {
        pp = &(*pp)->next;
    }
    if (*pp == NULL) {
        return false;
    }
    *pp = s->next;
    s->next = NULL;
    t->count--;
    dmcp__metrics_gauge_add(DMCP__M_SESSIONS_OPEN, -1);
    if (s->counted) {
        binding_release(t, s->binding);
        s->counted = false;
    }
    return true;
}

/*
 * A principal at its cap opening one more session: its least recently used session that is
 * idle right now (no request in flight, no open stream: only the table holds it) is ended to
 * make room, so a client that never sends DELETE is not locked out. Holds t->mu. Returns
 * false when every session of the principal is busy.
 */
static bool evict_idle_of_locked(dmcp__session_table *t, const char *binding)
{
    dmcp__session *victim = NULL;
    for (size_t b = 0; b < BUCKETS; b++) {
        for (dmcp__session *s = t->buckets[b]; s != NULL; s = s->next) {
            if (s->counted && strcmp(s->binding, binding) == 0 && atomic_load(&s->refs) == 1 &&
                (victim == NULL || s->last_used < victim->last_used)) {
                victim = s;
            }
        }
    }
    if (victim == NULL) {
        return false;
    }
    unlink_locked(t, victim);
    victim->ended = true;
    /* The table's reference: refs is 1 and the lock is held, so nobody can take another. */
    dmcp__session_unref(victim);
    return true;
}

void dmcp__session_mark_deleted(dmcp__session *s)
{
    atomic_store(&s->deleted_here, true);
}

void dmcp__sessions_set_on_end(dmcp__session_table *t, void (*fn)(void *, const char *),
                               void (*release)(void *, const char *), void *ud,
                               bool end_if_deleted)
{
    pthread_mutex_lock(&t->mu);
    t->on_end = fn;
    t->on_release = release;
    t->end_if_deleted = end_if_deleted;
    t->on_end_ud = ud;
    pthread_mutex_unlock(&t->mu);
}

void dmcp__sessions_set_transport(dmcp__session_table *t, const dmcp__transport *tr)
{
    pthread_mutex_lock(&t->mu);
    t->transport = tr;
    pthread_mutex_unlock(&t->mu);
}

void dmcp__sessions_end(dmcp__session_table *t, dmcp__session *s)
{
    pthread_mutex_lock(&t->mu);
    bool linked = unlink_locked(t, s);
    s->ended = true;
    pthread_mutex_unlock(&t->mu);
    dmcp__session_cancel_all(s);
    if (linked) {
        dmcp__session_unref(s); /* the table's reference */
    }
}

void dmcp__sessions_expire(dmcp__session_table *t, time_t now, unsigned idle)
{
    if (idle == 0) {
        return;
    }
    for (;;) {
        dmcp__session *victim = NULL;
        pthread_mutex_lock(&t->mu);
        for (size_t b = 0; b < BUCKETS && victim == NULL; b++) {
            for (dmcp__session *s = t->buckets[b]; s != NULL; s = s->next) {
                /* Sessions with work in flight or an open stream are not idle. */
                if (now - s->last_used > (time_t)idle && atomic_load(&s->refs) == 1) {
                    victim = s;
                    break;
                }
            }
        }
        if (victim != NULL) {
            unlink_locked(t, victim);
            victim->ended = true;
        }
        pthread_mutex_unlock(&t->mu);
        if (victim == NULL) {
            return;
        }
        dmcp__session_unref(victim);
    }
}

void dmcp__sessions_foreach(dmcp__session_table *t, void (*fn)(dmcp__session *, void *), void *ud)
{
    if (t == NULL) {
        return;
    }
    /* Take references under the table lock, call fn without it (fn may block on a stream). */
    pthread_mutex_lock(&t->mu);
    size_t n = 0;
    dmcp__session **list = calloc(t->count > 0 ? t->count : 1, sizeof(*list));
    for (size_t b = 0; list != NULL && b < BUCKETS; b++) {
        for (dmcp__session *s = t->buckets[b]; s != NULL && n < t->count; s = s->next) {
            if (!s->ended && atomic_load(&s->initialized)) {
                dmcp__session_ref(s);
                list[n++] = s;
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; i < n; i++) {
        fn(list[i], ud);
        dmcp__session_unref(list[i]);
    }
    free(list);
}

size_t dmcp__sessions_count(dmcp__session_table *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->count;
    pthread_mutex_unlock(&t->mu);
    return n;
}

dmcp_status dmcp__session_track(dmcp__session *s, const json_t *id, atomic_bool *flag)
{
    dmcp_status st = DMCP_E_RATE_LIMITED;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < DMCP__MAX_INFLIGHT; i++) {
        if (s->inflight[i].id == NULL) {
            s->inflight[i].id = json_deep_copy(id);
            s->inflight[i].cancelled = flag;
            st = s->inflight[i].id != NULL ? DMCP_OK : DMCP_E_NOMEM;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

void dmcp__session_untrack(dmcp__session *s, const json_t *id, atomic_bool *flag)
{
    (void)id;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < DMCP__MAX_INFLIGHT; i++) {
        if (s->inflight[i].cancelled == flag) {
            json_decref(s->inflight[i].id);
            s->inflight[i].id = NULL;
            s->inflight[i].cancelled = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

bool dmcp__session_cancel(dmcp__session *s, const json_t *id)
{
    bool found = false;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < DMCP__MAX_INFLIGHT; i++) {
        /* json_equal keeps "1" and 1 apart, as JSON-RPC ids must be (Basic §1.1). */
        if (s->inflight[i].id != NULL && json_equal(s->inflight[i].id, id)) {
            atomic_store(s->inflight[i].cancelled, true);
            found = true;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

void dmcp__session_cancel_all(dmcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < DMCP__MAX_INFLIGHT; i++) {
        if (s->inflight[i].id != NULL) {
            atomic_store(s->inflight[i].cancelled, true);
        }
    }
    pthread_mutex_unlock(&s->mu);
}
