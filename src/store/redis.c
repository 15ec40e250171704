/*
 * The Redis store (hiredis, synchronous). One command connection shared under a mutex, and
 * one subscriber connection read by one thread per store. Every command is bounded: connect
 * 1 s, reply 500 ms. After a failure the connection is dropped and re-made at most once per
 * backoff interval (200 ms doubling to 2 s); in between, commands fail at once with
 * DMCP_E_UNREACHABLE, so a request thread never waits long on a dead Redis. One log line on
 * every down/up transition; never the password.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "store/hiredis_dl.h" /* hiredis, loaded on first use */
#include "store/store_impl.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 2000

typedef struct rconn {
    redisContext *c;
    int64_t retry_at; /* monotonic ms before which no reconnect is tried */
    unsigned backoff;
} rconn;

typedef struct rstore {
    dmcp__store_url url;
    pthread_mutex_t mu; /* the command connection */
    rconn cmd;
    atomic_bool up;
    /* subscriber */
    pthread_t thread;
    bool running;
    atomic_bool stop;
    char *channel;
    dmcp__store_listener l;
} rstore;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_up(rstore *r, bool up, const char *why)
{
    bool was = atomic_exchange(&r->up, up);
    if (was != up) {
        fprintf(stderr, "dmcp store: redis %s:%u %s%s%s\n", r->url.host, r->url.port,
                up ? "reachable again" : "unreachable", why != NULL ? ": " : "",
                why != NULL ? why : "");
    }
}

/* A connected, authenticated context with the database selected, or NULL. */
static redisContext *connect_redis(rstore *r, char *why, size_t why_len)
{
    struct timeval ct = {1, 0}, rt = {0, 500000};
    redisContext *c = redisConnectWithTimeout(r->url.host, (int)r->url.port, ct);
    if (c == NULL || c->err) {
        snprintf(why, why_len, "%s", c != NULL ? c->errstr : "out of memory");
        if (c != NULL) {
            redisFree(c);
        }
        return NULL;
    }
    redisSetTimeout(c, rt);
    redisReply *rep = NULL;
    if (r->url.password[0] != '\0') {
        rep = redisCommand(c, "AUTH %s", r->url.password);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            snprintf(why, why_len, "AUTH refused");
            goto fail;
        }
        freeReplyObject(rep);
    }
    if (r->url.db != 0) {
        rep = redisCommand(c, "SELECT %u", r->url.db);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            snprintf(why, why_len, "SELECT refused");
            goto fail;
        }
        freeReplyObject(rep);
    }
    return c;
fail:
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    redisFree(c);
    return NULL;
}

/* Runs one command on the shared connection. Returns the reply (caller frees) or NULL. */
static redisReply *run(rstore *r, int argc, const char **argv, const size_t *lens)
{
    pthread_mutex_lock(&r->mu);
    char why[128] = "";
    if (r->cmd.c == NULL) {
        if (now_ms() < r->cmd.retry_at) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        r->cmd.c = connect_redis(r, why, sizeof(why));
        if (r->cmd.c == NULL) {
            r->cmd.backoff = r->cmd.backoff == 0 ? BACKOFF_MIN_MS
                             : r->cmd.backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                                    : r->cmd.backoff * 2;
            r->cmd.retry_at = now_ms() + r->cmd.backoff;
            pthread_mutex_unlock(&r->mu);
            set_up(r, false, why);
            return NULL;
        }
    }
    redisReply *rep = redisCommandArgv(r->cmd.c, argc, argv, lens);
    if (rep == NULL) {
        snprintf(why, sizeof(why), "%s", r->cmd.c->errstr);
        redisFree(r->cmd.c);
        r->cmd.c = NULL;
        r->cmd.backoff = BACKOFF_MIN_MS;
        r->cmd.retry_at = now_ms(); /* one immediate retry on the next command */
    } else {
        r->cmd.backoff = 0;
    }
    pthread_mutex_unlock(&r->mu);
    set_up(r, rep != NULL, rep == NULL ? why : NULL);
    return rep;
}

static bool r_up(dmcp_store *st)
{
    rstore *r = st->impl;
    if (!atomic_load(&r->up)) {
        /* A probe, paced by the backoff. */
        const char *argv[] = {"PING"};
        redisReply *rep = run(r, 1, argv, NULL);
        if (rep != NULL) {
            freeReplyObject(rep);
        }
    }
    return atomic_load(&r->up);
}

#define KEY(st, name, buf)                                                                     \
    char buf[512];                                                                             \
    if (!dmcp__store_key(st, name, buf, sizeof(buf))) {                                        \
        return DMCP_E_TOO_LARGE;                                                               \
    }

static dmcp_status r_get(dmcp_store *st, const char *key, char **val, size_t *len)
{
    KEY(st, key, k);
    const char *argv[] = {"GET", k};
    redisReply *rep = run(st->impl, 2, argv, NULL);
    if (rep == NULL) {
        return DMCP_E_UNREACHABLE;
    }
    dmcp_status s = DMCP_E_NOT_FOUND;
    if (rep->type == REDIS_REPLY_STRING) {
        *val = malloc(rep->len + 1);
        s = *val != NULL ? DMCP_OK : DMCP_E_NOMEM;
        if (*val != NULL) {
            memcpy(*val, rep->str, rep->len);
            (*val)[rep->len] = '\0';
            *len = rep->len;
        }
    } else if (rep->type == REDIS_REPLY_ERROR) {
        s = DMCP_E_UPSTREAM;
    }
    freeReplyObject(rep);
    return s;
}

static dmcp_status r_set(dmcp_store *st, const char *key, const char *val, size_t len,
                         unsigned ttl_s, bool nx)
{
    KEY(st, key, k);
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    const char *argv[6] = {"SET", k, val};
    size_t lens[6] = {3, strlen(k), len};
    int argc = 3;
    if (ttl_s != 0) {
        argv[argc] = "EX";
        lens[argc++] = 2;
        argv[argc] = ttl;
        lens[argc++] = strlen(ttl);
    }
    if (nx) {
        argv[argc] = "NX";
        lens[argc++] = 2;
    }
    redisReply *rep = run(st->impl, argc, argv, lens);
    if (rep == NULL) {
        return DMCP_E_UNREACHABLE;
    }
    dmcp_status s = rep->type == REDIS_REPLY_STATUS ? DMCP_OK
                    : rep->type == REDIS_REPLY_NIL  ? DMCP_E_STATE
                                                    : DMCP_E_UPSTREAM;
    freeReplyObject(rep);
    return s;
}

static dmcp_status int_command(dmcp_store *st, int argc, const char **argv, long long *out)
{
    redisReply *rep = run(st->impl, argc, argv, NULL);
    if (rep == NULL) {
        return DMCP_E_UNREACHABLE;
    }
    dmcp_status s = rep->type == REDIS_REPLY_INTEGER ? DMCP_OK : DMCP_E_UPSTREAM;
    *out = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    freeReplyObject(rep);
    return s;
}

static dmcp_status r_expire(dmcp_store *st, const char *key, unsigned ttl_s)
{
    KEY(st, key, k);
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    const char *argv[] = {"EXPIRE", k, ttl};
    long long n = 0;
    dmcp_status s = int_command(st, 3, argv, &n);
    return s == DMCP_OK && n == 0 ? DMCP_E_NOT_FOUND : s;
}

static dmcp_status r_del(dmcp_store *st, const char *key)
{
    KEY(st, key, k);
    const char *argv[] = {"DEL", k};
    long long n = 0;
    return int_command(st, 2, argv, &n);
}

static dmcp_status r_publish(dmcp_store *st, const char *channel, const char *msg, size_t len)
{
    KEY(st, channel, k);
    const char *argv[] = {"PUBLISH", k, msg};
    size_t lens[] = {7, strlen(k), len};
    redisReply *rep = run(st->impl, 3, argv, lens);
    if (rep == NULL) {
        return DMCP_E_UNREACHABLE;
    }
    dmcp_status s = rep->type == REDIS_REPLY_INTEGER ? DMCP_OK : DMCP_E_UPSTREAM;
    freeReplyObject(rep);
    return s;
}

static dmcp_status r_log_append(dmcp_store *st, const char *key, const char *entry, size_t len,
                                unsigned cap, unsigned ttl_s, const char *channel,
                                const char *msg, size_t msg_len)
{
    rstore *r = st->impl;
    KEY(st, key, k);
    char ch[512];
    if (channel != NULL && !dmcp__store_key(st, channel, ch, sizeof(ch))) {
        return DMCP_E_TOO_LARGE;
    }
    char start[24], ttl[16];
    snprintf(start, sizeof(start), "-%u", cap);
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    pthread_mutex_lock(&r->mu);
    /* Make sure there is a connection (run() reconnects, paced by the backoff). */
    if (r->cmd.c == NULL) {
        pthread_mutex_unlock(&r->mu);
        const char *ping[] = {"PING"};
        redisReply *p = run(r, 1, ping, NULL);
        if (p == NULL) {
            return DMCP_E_UNREACHABLE;
        }
        freeReplyObject(p);
        pthread_mutex_lock(&r->mu);
        if (r->cmd.c == NULL) {
            pthread_mutex_unlock(&r->mu);
            return DMCP_E_UNREACHABLE;
        }
    }
    redisContext *c = r->cmd.c;
    const char *a1[] = {"RPUSH", k, entry};
    size_t l1[] = {5, strlen(k), len};
    const char *a2[] = {"LTRIM", k, start, "-1"};
    const char *a3[] = {"EXPIRE", k, ttl};
    const char *a4[] = {"PUBLISH", ch, msg};
    size_t l4[] = {7, strlen(ch), msg_len};
    int want = channel != NULL ? 4 : 3;
    redisAppendCommandArgv(c, 3, a1, l1);
    redisAppendCommandArgv(c, 4, a2, NULL);
    redisAppendCommandArgv(c, 3, a3, NULL);
    if (channel != NULL) {
        redisAppendCommandArgv(c, 3, a4, l4);
    }
    dmcp_status s = DMCP_OK;
    char why[128] = "";
    for (int i = 0; i < want; i++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK || rep == NULL) {
            snprintf(why, sizeof(why), "%s", c->errstr);
            s = DMCP_E_UNREACHABLE;
            break;
        }
        if (((redisReply *)rep)->type == REDIS_REPLY_ERROR) {
            s = DMCP_E_UPSTREAM;
        }
        freeReplyObject(rep);
    }
    if (s == DMCP_E_UNREACHABLE) {
        redisFree(r->cmd.c);
        r->cmd.c = NULL;
        r->cmd.retry_at = now_ms();
    }
    pthread_mutex_unlock(&r->mu);
    set_up(r, s != DMCP_E_UNREACHABLE, s == DMCP_E_UNREACHABLE ? why : NULL);
    return s;
}

static dmcp_status r_range(dmcp_store *st, const char *key, size_t max, char ***items,
                           size_t **lens, size_t *n)
{
    KEY(st, key, k);
    char stop[24];
    snprintf(stop, sizeof(stop), "%zu", max > 0 ? max - 1 : 0);
    const char *argv[] = {"LRANGE", k, "0", stop};
    redisReply *rep = run(st->impl, 4, argv, NULL);
    if (rep == NULL) {
        return DMCP_E_UNREACHABLE;
    }
    dmcp_status s = DMCP_E_NOT_FOUND;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
        size_t c = rep->elements;
        *items = calloc(c, sizeof(char *));
        *lens = calloc(c, sizeof(size_t));
        s = *items != NULL && *lens != NULL ? DMCP_OK : DMCP_E_NOMEM;
        for (size_t i = 0; s == DMCP_OK && i < c; i++) {
            const redisReply *e = rep->element[i];
            if (e->type != REDIS_REPLY_STRING) {
                s = DMCP_E_UPSTREAM;
                break;
            }
            (*items)[i] = malloc(e->len + 1);
            if ((*items)[i] == NULL) {
                s = DMCP_E_NOMEM;
                break;
            }
            memcpy((*items)[i], e->str, e->len);
            (*items)[i][e->len] = '\0';
            (*lens)[i] = e->len;
            *n = i + 1;
        }
    } else if (rep->type == REDIS_REPLY_ERROR) {
        s = DMCP_E_UPSTREAM;
    }
    freeReplyObject(rep);
    if (s != DMCP_OK && s != DMCP_E_NOT_FOUND) {
        dmcp__store_items_free(*items, *lens, *n);
        *items = NULL;
        *lens = NULL;
        *n = 0;
    }
    return s;
}

/* ---- the subscriber thread ---- */

static void nap(rstore *r, unsigned ms)
{
    for (unsigned t = 0; t < ms && !atomic_load(&r->stop); t += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static redisContext *subscribe(rstore *r)
{
    char why[128] = "";
    redisContext *c = connect_redis(r, why, sizeof(why));
    if (c == NULL) {
        return NULL;
    }
    const char *argv[] = {"SUBSCRIBE", r->channel};
    redisReply *rep = redisCommandArgv(c, 2, argv, NULL);
    bool ok = rep != NULL && rep->type == REDIS_REPLY_ARRAY;
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static void deliver(rstore *r, redisReply *rep)
{
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(rep->element[0]->str, "message") == 0 &&
        rep->element[2]->type == REDIS_REPLY_STRING && r->l.on_message != NULL) {
        r->l.on_message(r->l.ud, rep->element[2]->str, rep->element[2]->len);
    }
}

static void *reader(void *arg)
{
    rstore *r = arg;
    unsigned backoff = BACKOFF_MIN_MS;
    while (!atomic_load(&r->stop)) {
        redisContext *c = subscribe(r);
        if (c == NULL) {
            nap(r, backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        backoff = BACKOFF_MIN_MS;
        if (r->l.on_reset != NULL) {
            r->l.on_reset(r->l.ud); /* messages may have been missed while unsubscribed */
        }
        while (!atomic_load(&r->stop)) {
            struct pollfd pfd = {c->fd, POLLIN, 0};
            int n = poll(&pfd, 1, 250);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n == 0) {
                continue;
            }
            if (n < 0 || redisBufferRead(c) != REDIS_OK) {
                break;
            }
            void *rep = NULL;
            bool bad = false;
            while (!bad) {
                if (redisGetReplyFromReader(c, &rep) != REDIS_OK) {
                    bad = true;
                } else if (rep == NULL) {
                    break;
                } else {
                    deliver(r, rep);
                    freeReplyObject(rep);
                }
            }
            if (bad) {
                break;
            }
        }
        redisFree(c);
    }
    return NULL;
}

static dmcp_status r_listen(dmcp_store *st, const char *channel, const dmcp__store_listener *l)
{
    rstore *r = st->impl;
    if (r->running) {
        return DMCP_E_STATE;
    }
    char k[512];
    if (!dmcp__store_key(st, channel, k, sizeof(k))) {
        return DMCP_E_TOO_LARGE;
    }
    r->channel = dmcp__strdup(k);
    if (r->channel == NULL) {
        return DMCP_E_NOMEM;
    }
    r->l = *l;
    atomic_store(&r->stop, false);
    if (pthread_create(&r->thread, NULL, reader, r) != 0) {
        free(r->channel);
        r->channel = NULL;
        return DMCP_E_INTERNAL;
    }
    r->running = true;
    return DMCP_OK;
}

static void r_unlisten(dmcp_store *st)
{
    rstore *r = st->impl;
    if (!r->running) {
        return;
    }
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    r->running = false;
    free(r->channel);
    r->channel = NULL;
}

static void r_free(dmcp_store *st)
{
    rstore *r = st->impl;
    if (r->cmd.c != NULL) {
        redisFree(r->cmd.c);
    }
    pthread_mutex_destroy(&r->mu);
    memset(&r->url, 0, sizeof(r->url));
    free(r);
}

static const dmcp__store_ops redis_ops = {r_up,      r_get,    r_set,      r_expire, r_del,
                                          r_publish, r_log_append, r_range,
                                          r_listen,  r_unlisten, r_free};

dmcp_status dmcp__store_redis_init(dmcp_store *st, const dmcp__store_url *u, const char **why)
{
    dmcp_status loaded = dmcp__hiredis_load(why);
    if (loaded != DMCP_OK) {
        return loaded;
    }
    rstore *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return DMCP_E_NOMEM;
    }
    r->url = *u;
    pthread_mutex_init(&r->mu, NULL);
    atomic_init(&r->up, true);
    st->ops = &redis_ops;
    st->impl = r;
    st->shared = true;
    return DMCP_OK;
}
