/*
 * The key source: a JWKS fetched over HTTP (or a static set), held as immutable,
 * reference-counted snapshots (dependencies.md §7, wire protocol §3).
 *
 *  - Readers take the rwlock's read side just long enough to add a reference to the current
 *    snapshot; a new snapshot is swapped in under the write side; an old one is freed when its
 *    last reader drops it. Keys inside a snapshot are never modified.
 *  - TTL: Cache-Control max-age clamped to [min_ttl, max_ttl], default_ttl when absent.
 *  - Single flight: at most one fetch runs at a time (fetching flag under fmu). Threads that
 *    need keys and have none wait for it; threads with usable keys skip it.
 *  - Rate limits: an unknown kid refetches at most once per cooldown (counted from the last
 *    fetch attempt of any kind); after a failed fetch the next attempt waits a cooldown too
 *    (5 s at most while nothing at all is usable, so a server that started while the source
 *    was down recovers quickly).
 *  - Stale-if-error: an expired snapshot keeps serving while fetches fail, until
 *    expires_at + stale_limit.
 * Every time decision uses the validator's clock, so tests can move time.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/validator_int.h"

#define NOTHING_USABLE_RETRY 5

struct dmcp__keysource {
    char *jwks_url;
    dmcp__http_opts http;
    char *ca_file;
    unsigned default_ttl, min_ttl, max_ttl, cooldown, stale_limit;

    pthread_rwlock_t lock; /* guards current */
    dmcp__keyset *current;

    pthread_mutex_t fmu; /* guards the fields below */
    pthread_cond_t fcv;
    bool fetching;
    bool attempted;
    bool last_failed;
    int64_t last_attempt;
    uint64_t next_gen;
};

void dmcp__keyset_release(dmcp__keyset *s)
{
    if (s == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        dmcp__jwks_free(s->jwks);
        free(s);
    }
}

static dmcp__keyset *snapshot(dmcp__keysource *ks)
{
    dmcp__keyset *s = NULL;
    if (pthread_rwlock_rdlock(&ks->lock) != 0) {
        return NULL;
    }
    s = ks->current;
    if (s != NULL) {
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&ks->lock);
    return s;
}

static void install(dmcp__keysource *ks, dmcp__keyset *s)
{
    dmcp__keyset *old;
    pthread_rwlock_wrlock(&ks->lock);
    old = ks->current;
    ks->current = s;
    pthread_rwlock_unlock(&ks->lock);
    dmcp__keyset_release(old);
}

static dmcp__keyset *keyset_new(dmcp__jwks *jwks, int64_t now, int64_t expires, uint64_t gen)
{
    dmcp__keyset *s = malloc(sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->jwks = jwks;
    s->fetched_at = now;
    s->expires_at = expires;
    s->gen = gen;
    return s;
}

dmcp_status dmcp__keysource_new(dmcp__keysource_opts *o, dmcp__keysource **out, dmcp_error *err)
{
    *out = NULL;
    dmcp__keysource *ks = calloc(1, sizeof(*ks));
    if (ks == NULL) {
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    if (pthread_rwlock_init(&ks->lock, NULL) != 0) {
        free(ks);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    if (pthread_mutex_init(&ks->fmu, NULL) != 0) {
        pthread_rwlock_destroy(&ks->lock);
        free(ks);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    if (pthread_cond_init(&ks->fcv, NULL) != 0) {
        pthread_mutex_destroy(&ks->fmu);
        pthread_rwlock_destroy(&ks->lock);
        free(ks);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    ks->http = o->http;
    ks->default_ttl = o->default_ttl;
    ks->min_ttl = o->min_ttl;
    ks->max_ttl = o->max_ttl;
    ks->cooldown = o->cooldown;
    ks->stale_limit = o->stale_limit;
    if (o->http.ca_file != NULL) {
        ks->ca_file = dmcp__strdup(o->http.ca_file);
        if (ks->ca_file == NULL) {
            dmcp__keysource_free(ks);
            return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
        }
        ks->http.ca_file = ks->ca_file;
    }
    if (o->static_jwks != NULL) {
        ks->current = keyset_new(o->static_jwks, 0, INT64_MAX, 1);
        if (ks->current == NULL) {
            dmcp__keysource_free(ks);
            return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
        }
        o->static_jwks = NULL;
    } else {
        ks->jwks_url = dmcp__strdup(o->jwks_url);
        if (ks->jwks_url == NULL) {
            dmcp__keysource_free(ks);
            return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
        }
    }
    ks->next_gen = 2;
    *out = ks;
    return DMCP_OK;
}

void dmcp__keysource_free(dmcp__keysource *ks)
{
    if (ks == NULL) {
        return;
    }
    dmcp__keyset_release(ks->current);
    pthread_cond_destroy(&ks->fcv);
    pthread_mutex_destroy(&ks->fmu);
    pthread_rwlock_destroy(&ks->lock);
    free(ks->jwks_url);
    free(ks->ca_file);
    free(ks);
}

/* RFC 7517 §8.5.1 registers application/jwk-set+json; most servers send application/json. */
static bool content_type_ok(const char *ct)
{
    if (ct == NULL) {
        return false;
    }
    static const char *const ok[] = {"application/json", "application/jwk-set+json"};
    for (size_t i = 0; i < DMCP__ARRAY_LEN(ok); i++) {
        size_t n = strlen(ok[i]);
        if (dmcp__ascii_ncasecmp(ct, ok[i], n) == 0 &&
            (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ')) {
            return true;
        }
    }
    return false;
}

/* One HTTP fetch, no locks held. On success *out is a new snapshot. */
static dmcp_status fetch(dmcp__keysource *ks, int64_t now, uint64_t gen, dmcp__keyset **out,
                         dmcp_error *err)
{
    static const char *const headers[] = {"Accept: application/jwk-set+json, application/json",
                                          NULL};
    dmcp__http_response resp;
    dmcp__http_opts opts = ks->http;
    opts.max_bytes = DMCP_MAX_JWKS_BYTES;
    *out = NULL;
    dmcp_status st = dmcp__http_request(&opts, "GET", ks->jwks_url, headers, NULL, 0, &resp, err);
    if (st != DMCP_OK) {
        return st;
    }
    dmcp__jwks *jwks = NULL;
    if (resp.status != 200) {
        st =
            dmcp__fail(err, DMCP_E_UPSTREAM, DMCP_REASON_NONE, "JWKS fetch: HTTP %ld", resp.status);
        goto out;
    }
    if (!content_type_ok(resp.content_type)) {
        st = dmcp__fail(err, DMCP_E_PROTOCOL, DMCP_REASON_NONE,
                        "JWKS fetch: unexpected content type");
        goto out;
    }
    st = dmcp__jwks_parse(resp.body.data != NULL ? resp.body.data : "", resp.body.len, &jwks, NULL,
                          err);
    if (st != DMCP_OK) {
        st = dmcp__fail(err, DMCP_E_PROTOCOL, DMCP_REASON_NONE, "JWKS fetch: not a key set");
        goto out;
    }
    if (jwks->n == 0) {
        /* A set with no usable key would lock everyone out: keep what we had. */
        dmcp__jwks_free(jwks);
        jwks = NULL;
        st = dmcp__fail(err, DMCP_E_PROTOCOL, DMCP_REASON_NONE, "JWKS fetch: no usable key");
        goto out;
    }
    int64_t ttl = ks->default_ttl;
    if (resp.max_age >= 0) {
        ttl = resp.max_age;
        if (ttl < (int64_t)ks->min_ttl) {
            ttl = ks->min_ttl;
        }
        if (ttl > (int64_t)ks->max_ttl) {
            ttl = ks->max_ttl;
        }
    }
    *out = keyset_new(jwks, now, now + ttl, gen);
    if (*out == NULL) {
        dmcp__jwks_free(jwks);
        st = dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
out:
    dmcp__http_response_free(&resp);
    return st;
}

/*
 * Runs one fetch as the single flight. Called with fmu held and fetching false; returns with
 * fmu held. Waiters are woken when it ends.
 */
static void run_fetch_locked(dmcp__keysource *ks, int64_t now)
{
    ks->fetching = true;
    ks->attempted = true;
    ks->last_attempt = now;
    uint64_t gen = ks->next_gen++;
    pthread_mutex_unlock(&ks->fmu);

    dmcp__keyset *fresh = NULL;
    dmcp_status st = fetch(ks, now, gen, &fresh, NULL);
    if (st == DMCP_OK) {
        install(ks, fresh);
    }

    pthread_mutex_lock(&ks->fmu);
    ks->last_failed = st != DMCP_OK;
    ks->fetching = false;
    pthread_cond_broadcast(&ks->fcv);
}

dmcp_status dmcp__keysource_prime(dmcp__keysource *ks, int64_t now, dmcp_error *err)
{
    if (ks->jwks_url == NULL) {
        return DMCP_OK;
    }
    pthread_mutex_lock(&ks->fmu);
    while (ks->fetching) {
        pthread_cond_wait(&ks->fcv, &ks->fmu);
    }
    run_fetch_locked(ks, now);
    bool failed = ks->last_failed;
    pthread_mutex_unlock(&ks->fmu);
    if (failed) {
        return dmcp__fail(err, DMCP_E_KEY_SOURCE_UNAVAILABLE, DMCP_REASON_NONE,
                          "key source unavailable");
    }
    return DMCP_OK;
}

static bool usable(const dmcp__keyset *s, int64_t now, unsigned stale_limit)
{
    if (s == NULL) {
        return false;
    }
    if (now < s->expires_at) {
        return true;
    }
    return now - s->expires_at < (int64_t)stale_limit;
}

dmcp_status dmcp__keysource_acquire(dmcp__keysource *ks, int64_t now, dmcp__keyset **out,
                                    dmcp_error *err)
{
    *out = NULL;
    dmcp__keyset *s = snapshot(ks);
    if (s != NULL && now < s->expires_at) {
        *out = s; /* the hot path: one read lock, one atomic increment */
        return DMCP_OK;
    }
    if (ks->jwks_url == NULL) {
        goto decide; /* static set: nothing to refresh */
    }
    pthread_mutex_lock(&ks->fmu);
    if (ks->fetching) {
        if (!usable(s, now, ks->stale_limit)) {
            /* Nothing to serve: wait for the flight in progress rather than start another. */
            while (ks->fetching) {
                pthread_cond_wait(&ks->fcv, &ks->fmu);
            }
            pthread_mutex_unlock(&ks->fmu);
            dmcp__keyset_release(s);
            s = snapshot(ks);
            goto decide;
        }
        pthread_mutex_unlock(&ks->fmu); /* serve stale keys; the flight will refresh */
        goto decide;
    }
    int64_t retry = ks->cooldown;
    if (!usable(s, now, ks->stale_limit) && retry > NOTHING_USABLE_RETRY) {
        retry = NOTHING_USABLE_RETRY;
    }
    /* Another thread may have refreshed since our snapshot. */
    dmcp__keyset *cur = snapshot(ks);
    if (cur != s) {
        dmcp__keyset_release(s);
        s = cur;
        if (s != NULL && now < s->expires_at) {
            pthread_mutex_unlock(&ks->fmu);
            *out = s;
            return DMCP_OK;
        }
    } else {
        dmcp__keyset_release(cur);
    }
    if (ks->attempted && ks->last_failed && now >= ks->last_attempt &&
        now - ks->last_attempt < retry) {
        pthread_mutex_unlock(&ks->fmu); /* failed recently: do not hammer the source */
        goto decide;
    }
    run_fetch_locked(ks, now);
    pthread_mutex_unlock(&ks->fmu);
    dmcp__keyset_release(s);
    s = snapshot(ks);
decide:
    if (!usable(s, now, ks->stale_limit)) {
        dmcp__keyset_release(s);
        return dmcp__fail(err, DMCP_E_KEY_SOURCE_UNAVAILABLE, DMCP_REASON_NONE,
                          "no usable signing keys and the key source is unavailable");
    }
    *out = s;
    return DMCP_OK;
}

void dmcp__keysource_unknown_kid(dmcp__keysource *ks, int64_t now, const dmcp__keyset *seen,
                                 dmcp__keyset **out)
{
    *out = NULL;
    if (ks->jwks_url == NULL) {
        return;
    }
    pthread_mutex_lock(&ks->fmu);
    if (ks->fetching) {
        /* Wait for the flight in progress: it may bring the key (rotation). */
        while (ks->fetching) {
            pthread_cond_wait(&ks->fcv, &ks->fmu);
        }
    } else {
        dmcp__keyset *cur = snapshot(ks);
        bool newer = cur != NULL && seen != NULL && cur->gen != seen->gen;
        dmcp__keyset_release(cur);
        bool cooled = !ks->attempted || now - ks->last_attempt >= (int64_t)ks->cooldown;
        if (!newer && cooled) {
            run_fetch_locked(ks, now);
        }
    }
    pthread_mutex_unlock(&ks->fmu);
    dmcp__keyset *cur = snapshot(ks);
    if (cur != NULL && (seen == NULL || cur->gen != seen->gen) &&
        usable(cur, now, ks->stale_limit)) {
        *out = cur;
        return;
    }
    dmcp__keyset_release(cur);
}
