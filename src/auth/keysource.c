/*
 * The key source: a JWKS fetched over HTTP (or a static set), held as immutable,
 * reference-counted snapshots (dependencies.md §7, wire protocol §3).
 *
 *  - Readers take the rwlock's read side just long enough to add a reference to the current
 *    snapshot; a new snapshot is swapped in under the write side; an old one is freed when its
 *    last reader drops it. Keys inside a snapshot are never modified.
 *  - TTL: Cache-Control max-age clamped to [min_ttl, max_ttl], default_ttl when absent. A
 *    snapshot is refreshed from REFRESH_PCT % of its TTL on, before it expires.
 *  - Off the request path: while usable keys exist no request ever waits on a fetch. Refreshes
 *    (due by the TTL, or asked for by an unknown kid) run on a refresher thread owned by the key
 *    source, started on first need and joined by dmcp__keysource_free(). Only a request that
 *    finds nothing usable at all (before the first load, or past the stale limit) fetches or
 *    waits itself, bounded by the HTTP timeout.
 *  - Single flight: at most one fetch runs at a time (the `fetching` flag under fmu), whether it
 *    runs on the refresher or on a request that has no keys.
 *  - Rate limits: an unknown kid asks for a refetch at most once per cooldown (counted from the
 *    last fetch attempt of any kind); the validator asks only for tokens whose claims check out.
 *    A refresh due by the TTL ignores the cooldown (so a rotation announced by the source's own
 *    max-age cannot be delayed by someone spending the cooldown), but after a failed fetch the
 *    next attempt waits a cooldown (5 s at most while nothing at all is usable, so a server
 *    that started while the source was down recovers quickly).
 *  - Stale-if-error: an expired snapshot keeps serving while fetches fail, until
 *    expires_at + stale_limit.
 * Every time decision uses the validator's clock, so tests can move time; the refresher calls
 * that clock from its own thread.
 *
 * Locking: `lock` (rwlock) guards only the `current` pointer. `fmu` guards the fetch state
 * (fetching, pending, stop, the attempt bookkeeping and the thread handle); it is never held
 * across a fetch or while taking `lock` for writing. `fcv` wakes threads waiting for a fetch to
 * end; `rcv` wakes the refresher. `poke_after` is an atomic hint read without fmu so that the
 * request hot path stays lock-free while a refresh is already pending or backing off; every
 * decision is re-made under fmu.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/validator_int.h"
#include "metrics.h"

#define NOTHING_USABLE_RETRY 5
#define REFRESH_PCT 80
#define REFRESHER_MAX_SLEEP 30 /* real seconds between the refresher's own clock checks */

struct dmcp__keysource {
    char *jwks_url;
    dmcp__http_opts http;
    char *ca_file;
    unsigned default_ttl, min_ttl, max_ttl, cooldown, stale_limit;
    dmcp_clock_fn clock;
    void *clock_ud;

    pthread_rwlock_t lock; /* guards current */
    dmcp__keyset *current;

    pthread_mutex_t fmu; /* guards the fields below */
    pthread_cond_t fcv;  /* a fetch ended */
    pthread_cond_t rcv;  /* work for the refresher, or stop */
    bool fetching;
    bool pending;       /* the refresher has been asked for a fetch ... */
    int64_t pending_at; /* ... at this time, which the fetch is counted from */
    bool stop;
    bool thread_started;
    pthread_t thread;
    bool attempted;
    bool last_failed;
    int64_t last_attempt;
    uint64_t next_gen;
    /* Requests do not ask for a refresh before this time (a hint; INT64_MAX while one is
     * pending or in flight). */
    _Atomic int64_t poke_after;
    atomic_uint fetches; /* completed fetch attempts (tests) */
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

static dmcp__keyset *keyset_new(dmcp__jwks *jwks, int64_t now, int64_t ttl, uint64_t gen)
{
    dmcp__keyset *s = malloc(sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->jwks = jwks;
    s->fetched_at = now;
    if (ttl == INT64_MAX) {
        s->expires_at = INT64_MAX;
        s->refresh_at = INT64_MAX;
    } else {
        s->expires_at = now + ttl;
        s->refresh_at = now + ttl * REFRESH_PCT / 100;
    }
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
    if (pthread_cond_init(&ks->rcv, NULL) != 0) {
        pthread_cond_destroy(&ks->fcv);
        pthread_mutex_destroy(&ks->fmu);
        pthread_rwlock_destroy(&ks->lock);
        free(ks);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    atomic_init(&ks->poke_after, 0);
    atomic_init(&ks->fetches, 0);
    ks->http = o->http;
    ks->default_ttl = o->default_ttl;
    ks->min_ttl = o->min_ttl;
    ks->max_ttl = o->max_ttl;
    ks->cooldown = o->cooldown;
    ks->stale_limit = o->stale_limit;
    ks->clock = o->clock;
    ks->clock_ud = o->clock_ud;
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
        if (ks->clock == NULL) {
            dmcp__keysource_free(ks);
            return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "no clock");
        }
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
    /* Stop the refresher; a fetch it is running ends within the HTTP timeout. */
    pthread_mutex_lock(&ks->fmu);
    ks->stop = true;
    bool started = ks->thread_started;
    pthread_cond_broadcast(&ks->rcv);
    pthread_cond_broadcast(&ks->fcv);
    pthread_mutex_unlock(&ks->fmu);
    if (started) {
        pthread_join(ks->thread, NULL);
    }
    dmcp__keyset_release(ks->current);
    pthread_cond_destroy(&ks->rcv);
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
    *out = keyset_new(jwks, now, ttl, gen);
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
 * fmu held (it is released during the fetch). Waiters are woken when it ends.
 */
static void run_fetch_locked(dmcp__keysource *ks, int64_t now)
{
    ks->fetching = true;
    ks->attempted = true;
    ks->last_attempt = now;
    atomic_store(&ks->poke_after, INT64_MAX);
    uint64_t gen = ks->next_gen++;
    pthread_mutex_unlock(&ks->fmu);

    dmcp__keyset *fresh = NULL;
    dmcp_status st = fetch(ks, now, gen, &fresh, NULL);
    if (st == DMCP_OK && fresh != NULL) {
        dmcp__metrics_jwks_loaded(fresh->jwks != NULL ? fresh->jwks->n : 0);
        install(ks, fresh);
    }
    /* An answer that was refused (an HTTP error status, not a key set, no usable key) is
     * "refused"; no answer at all is "error". */
    dmcp__metrics_jwks_fetch(st == DMCP_OK                                    ? DMCP__M_OK
                             : st == DMCP_E_PROTOCOL || st == DMCP_E_UPSTREAM ? DMCP__M_REFUSED
                                                                              : DMCP__M_ERROR);

    pthread_mutex_lock(&ks->fmu);
    ks->last_failed = st != DMCP_OK;
    ks->fetching = false;
    /* After a failure, requests stop asking until the backoff has passed. */
    atomic_store(&ks->poke_after, ks->last_failed ? now + (int64_t)ks->cooldown : 0);
    atomic_fetch_add(&ks->fetches, 1);
    pthread_cond_broadcast(&ks->fcv);
}

/* The refresher's deadline for a timed wait: `secs` real seconds from now. */
static struct timespec deadline_in(int64_t secs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)secs;
    return ts;
}

/* True when the current snapshot is due for a refresh at `now` and no backoff forbids it.
 * Called with fmu held. */
static bool refresh_due_locked(dmcp__keysource *ks, int64_t now, int64_t *sleep_for)
{
    dmcp__keyset *cur = snapshot(ks);
    int64_t due = cur != NULL ? cur->refresh_at : now;
    dmcp__keyset_release(cur);
    if (ks->attempted && now >= ks->last_attempt && due <= ks->last_attempt) {
        /* A TTL of 0 (or a clock that stands still) must not turn into a fetch loop. */
        due = ks->last_attempt + 1;
    }
    if (ks->attempted && ks->last_failed && now >= ks->last_attempt) {
        int64_t retry_at = ks->last_attempt + (int64_t)ks->cooldown;
        if (due < retry_at) {
            due = retry_at;
        }
    }
    *sleep_for = due > now ? due - now : 0;
    return due <= now;
}

/*
 * The refresher: fetches when asked (pending) and when the snapshot reaches its refresh time.
 * It sleeps on rcv with a bounded real-time wait, so it also notices a refresh falling due when
 * no request arrives; requests wake it early. Holds fmu except while fetching and sleeping.
 */
static void *refresher_main(void *arg)
{
    dmcp__keysource *ks = arg;
    pthread_mutex_lock(&ks->fmu);
    while (!ks->stop) {
        if (ks->fetching) {
            /* A request with no usable keys is fetching itself: wait for it (or for stop). */
            pthread_cond_wait(&ks->fcv, &ks->fmu);
            continue;
        }
        int64_t now = ks->clock(ks->clock_ud);
        int64_t sleep_for = 0;
        bool due = refresh_due_locked(ks, now, &sleep_for);
        if (ks->pending || due) {
            /* A requested fetch counts from the request's time (the cooldown runs from it). */
            int64_t at = ks->pending ? ks->pending_at : now;
            ks->pending = false;
            run_fetch_locked(ks, at);
            continue;
        }
        if (sleep_for > REFRESHER_MAX_SLEEP) {
            sleep_for = REFRESHER_MAX_SLEEP;
        }
        if (sleep_for < 1) {
            sleep_for = 1;
        }
        struct timespec ts = deadline_in(sleep_for);
        (void)pthread_cond_timedwait(&ks->rcv, &ks->fmu, &ts);
    }
    ks->pending = false;
    pthread_mutex_unlock(&ks->fmu);
    return NULL;
}

/* Asks the refresher for a fetch, starting it on first use. Called with fmu held. */
static void ask_refresher_locked(dmcp__keysource *ks, int64_t now)
{
    if (ks->stop) {
        return;
    }
    if (!ks->thread_started) {
        if (pthread_create(&ks->thread, NULL, refresher_main, ks) != 0) {
            return; /* try again on the next request; keys keep serving meanwhile */
        }
        ks->thread_started = true;
    }
    ks->pending = true;
    ks->pending_at = now;
    atomic_store(&ks->poke_after, INT64_MAX);
    pthread_cond_signal(&ks->rcv);
}

/* A request saw a snapshot due for refresh: ask for one unless one is pending, in flight or
 * backing off. Lock-free when the hint says there is nothing to do. */
static void want_refresh(dmcp__keysource *ks, int64_t now)
{
    if (now < atomic_load_explicit(&ks->poke_after, memory_order_relaxed)) {
        return;
    }
    pthread_mutex_lock(&ks->fmu);
    if (!ks->fetching && !ks->pending) {
        int64_t sleep_for = 0;
        if (refresh_due_locked(ks, now, &sleep_for)) {
            ask_refresher_locked(ks, now);
        } else {
            /* Not yet (a newer set landed, or a failure backoff runs): no need to ask again
             * before then. */
            atomic_store(&ks->poke_after, now + sleep_for);
        }
    }
    pthread_mutex_unlock(&ks->fmu);
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
    if (s != NULL && now < s->refresh_at) {
        *out = s; /* the hot path: one read lock, one atomic increment */
        return DMCP_OK;
    }
    if (ks->jwks_url == NULL) {
        goto decide; /* static set: nothing to refresh */
    }
    if (usable(s, now, ks->stale_limit)) {
        /* Due for refresh, expired, or stale while the source fails: serve these keys now and
         * let the refresher fetch. */
        want_refresh(ks, now);
        *out = s;
        return DMCP_OK;
    }
    /* Nothing usable (no first load yet, or past the stale limit): this request may wait, at
     * most for one fetch. */
    pthread_mutex_lock(&ks->fmu);
    if (ks->fetching) {
        while (ks->fetching) {
            pthread_cond_wait(&ks->fcv, &ks->fmu);
        }
        pthread_mutex_unlock(&ks->fmu);
        dmcp__keyset_release(s);
        s = snapshot(ks);
        goto decide;
    }
    /* Another thread may have installed keys since our snapshot. */
    dmcp__keyset *cur = snapshot(ks);
    if (cur != s && usable(cur, now, ks->stale_limit)) {
        pthread_mutex_unlock(&ks->fmu);
        dmcp__keyset_release(s);
        *out = cur;
        return DMCP_OK;
    }
    dmcp__keyset_release(cur);
    int64_t retry = ks->cooldown;
    if (retry > NOTHING_USABLE_RETRY) {
        retry = NOTHING_USABLE_RETRY;
    }
    if (ks->attempted && ks->last_failed && now >= ks->last_attempt &&
        now - ks->last_attempt < retry) {
        pthread_mutex_unlock(&ks->fmu); /* failed recently: do not hammer the source */
        goto decide;
    }
    ks->pending = false; /* this fetch serves a pending request too */
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
                                 bool may_refetch, dmcp__keyset **out)
{
    *out = NULL;
    if (ks->jwks_url == NULL) {
        return;
    }
    /* A set installed since `seen` may already hold the key: use it, without waiting. */
    dmcp__keyset *cur = snapshot(ks);
    if (cur != NULL && (seen == NULL || cur->gen != seen->gen) &&
        usable(cur, now, ks->stale_limit)) {
        *out = cur;
        return;
    }
    dmcp__keyset_release(cur);
    if (!may_refetch) {
        return;
    }
    /* Ask the refresher, at most once per cooldown; never wait for it. */
    pthread_mutex_lock(&ks->fmu);
    bool cooled =
        !ks->attempted || now < ks->last_attempt || now - ks->last_attempt >= (int64_t)ks->cooldown;
    if (!ks->fetching && !ks->pending && cooled) {
        ask_refresher_locked(ks, now);
    }
    pthread_mutex_unlock(&ks->fmu);
}

unsigned dmcp__keysource_fetches(dmcp__keysource *ks)
{
    return atomic_load(&ks->fetches);
}

bool dmcp__keysource_wait_idle(dmcp__keysource *ks, long timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ks->fmu);
    int rc = 0;
    while ((ks->fetching || ks->pending) && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&ks->fcv, &ks->fmu, &ts);
    }
    bool idle = !ks->fetching && !ks->pending;
    pthread_mutex_unlock(&ks->fmu);
    return idle;
}

void dmcp__keysource_status(dmcp__keysource *ks, int64_t now, dmcp__key_status *out)
{
    memset(out, 0, sizeof(*out));
    dmcp__keyset *s = snapshot(ks);
    if (s != NULL) {
        out->keys = s->jwks != NULL ? s->jwks->n : 0;
        out->loaded = true;
        out->fresh = now <= s->expires_at;
        out->usable = out->fresh || (s->expires_at != INT64_MAX &&
                                     now - s->expires_at <= (int64_t)ks->stale_limit);
        out->age = s->expires_at == INT64_MAX ? 0 : now - s->fetched_at;
        dmcp__keyset_release(s);
    }
    pthread_mutex_lock(&ks->fmu);
    out->last_fetch_failed = ks->last_failed;
    pthread_mutex_unlock(&ks->fmu);
    out->fetches = atomic_load(&ks->fetches);
}
