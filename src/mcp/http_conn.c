/*
 * Connection deadlines of the HTTP transport. libmicrohttpd's own timeout only counts
 * silence, so a client that trickles a byte now and then holds its connection forever. Here
 * every connection has a phase and the time it entered it, and the housekeeper ends the ones
 * past their phase's deadline:
 *   IDLE  (accepted, or a request completed; waiting for a request line) -> idle timeout
 *   HEAD  (request line received; headers arriving)                      -> header timeout
 *   BODY  (headers complete; body arriving)                              -> body timeout
 *   BUSY  (being answered: a handler, a response, an SSE stream)         -> none
 * Ending a connection is shutdown(2) on its socket: libmicrohttpd sees the end of the stream
 * on its own thread and closes the connection as if the client had left.
 *
 * The socket is only touched under tr->mu, and an entry leaves the list (under tr->mu) in
 * libmicrohttpd's CLOSED notification, which it sends before it closes the socket; so a
 * shutdown never reaches a descriptor that was closed or reused.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mcp/mcp_internal.h"

/* A client address: the IPv4 or IPv6 address bytes (no port). */
typedef struct addr_key {
    unsigned char b[16];
    unsigned char len; /* 4 or 16; 0 = not an IP address (never capped) */
} addr_key;

typedef struct addr_count {
    addr_key key;
    unsigned n;       /* open connections */
    unsigned pending; /* admitted by the accept policy, not yet opened */
    double pending_at;
    struct addr_count *next;
} addr_count;

#define ADDR_BUCKETS 1024

struct dmcp__conn {
    int fd;
    dmcp__conn_phase phase;
    double since;
    addr_key addr;
    struct dmcp__conn *prev, *next;
};

struct dmcp__conns {
    pthread_mutex_t mu;
    dmcp__conn *head;
    size_t count;
    size_t pending;                    /* admitted, not yet opened (all addresses) */
    addr_count *by_addr[ADDR_BUCKETS]; /* connections per client address */
};

static addr_key key_of(const struct sockaddr *sa)
{
    addr_key k;
    memset(&k, 0, sizeof(k));
    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        memcpy(k.b, &in->sin_addr, 4);
        k.len = 4;
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(k.b, &in6->sin6_addr, 16);
        k.len = 16;
    }
    return k;
}

static addr_count **addr_slot(dmcp__conns *tr, const addr_key *k)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < k->len; i++) {
        h ^= k->b[i];
        h *= 16777619u;
    }
    addr_count **pp = &tr->by_addr[h % ADDR_BUCKETS];
    while (*pp != NULL && ((*pp)->key.len != k->len || memcmp((*pp)->key.b, k->b, k->len) != 0)) {
        pp = &(*pp)->next;
    }
    return pp;
}

/* The entry of an address, created when create is set (NULL when out of memory). */
static addr_count *addr_get(dmcp__conns *tr, const addr_key *k, bool create)
{
    addr_count **pp = addr_slot(tr, k);
    if (*pp == NULL && create) {
        *pp = calloc(1, sizeof(**pp));
        if (*pp != NULL) {
            (*pp)->key = *k;
        }
    }
    return *pp;
}

/* Drops the entry of an address that holds nothing any more. Holds tr->mu. */
static void addr_gc(dmcp__conns *tr, const addr_key *k)
{
    addr_count **pp = addr_slot(tr, k);
    if (*pp != NULL && (*pp)->n == 0 && (*pp)->pending == 0) {
        addr_count *a = *pp;
        *pp = a->next;
        free(a);
    }
}

/* A connection of the address opened (d = 1: its admission becomes a count) or closed
 * (d = -1). Holds tr->mu. */
static void addr_add(dmcp__conns *tr, const addr_key *k, int d)
{
    if (k->len == 0) {
        return;
    }
    addr_count *a = addr_get(tr, k, d > 0);
    if (a == NULL) {
        return; /* out of memory: this connection is not capped */
    }
    if (d > 0) {
        if (a->pending > 0) {
            a->pending--;
            tr->pending--;
        }
        a->n++;
    } else if (a->n > 0) {
        a->n--;
    }
    addr_gc(tr, k);
}

dmcp__conn_verdict dmcp__conns_admit(dmcp__conns *tr, const struct sockaddr *addr, size_t max_total,
                                     size_t max_per_addr)
{
    addr_key k = key_of(addr);
    dmcp__conn_verdict v = DMCP__CONN_ADMIT;
    double now = dmcp__mono_now();
    pthread_mutex_lock(&tr->mu);
    addr_count *a = k.len > 0 ? addr_get(tr, &k, true) : NULL;
    if (max_total > 0 && tr->count + tr->pending >= max_total) {
        v = DMCP__CONN_TOO_MANY;
    } else if (max_per_addr > 0 && a != NULL && a->n + a->pending >= max_per_addr) {
        v = DMCP__CONN_TOO_MANY_FROM_ADDR;
    } else if (a != NULL) {
        /* Held until the connection opens, so concurrent accepts cannot pass the cap. */
        a->pending++;
        a->pending_at = now;
        tr->pending++;
    }
    if (a != NULL) {
        addr_gc(tr, &k);
    }
    pthread_mutex_unlock(&tr->mu);
    return v;
}

double dmcp__mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

dmcp__conns *dmcp__conns_new(void)
{
    dmcp__conns *tr = calloc(1, sizeof(*tr));
    if (tr != NULL) {
        pthread_mutex_init(&tr->mu, NULL);
    }
    return tr;
}

void dmcp__conns_free(dmcp__conns *tr)
{
    if (tr == NULL) {
        return;
    }
    for (dmcp__conn *c = tr->head; c != NULL;) {
        dmcp__conn *next = c->next;
        free(c);
        c = next;
    }
    for (size_t b = 0; b < ADDR_BUCKETS; b++) {
        for (addr_count *a = tr->by_addr[b]; a != NULL;) {
            addr_count *next = a->next;
            free(a);
            a = next;
        }
    }
    pthread_mutex_destroy(&tr->mu);
    free(tr);
}

dmcp__conn *dmcp__conn_open(dmcp__conns *tr, int fd, const struct sockaddr *addr)
{
    dmcp__conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL; /* untracked: only libmicrohttpd's own timeout applies to it */
    }
    c->fd = fd;
    c->phase = DMCP__CONN_IDLE;
    c->since = dmcp__mono_now();
    c->addr = key_of(addr);
    pthread_mutex_lock(&tr->mu);
    addr_add(tr, &c->addr, 1);
    c->next = tr->head;
    if (tr->head != NULL) {
        tr->head->prev = c;
    }
    tr->head = c;
    tr->count++;
    pthread_mutex_unlock(&tr->mu);
    return c;
}

void dmcp__conn_close(dmcp__conns *tr, dmcp__conn *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&tr->mu);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        tr->head = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    tr->count--;
    addr_add(tr, &c->addr, -1);
    pthread_mutex_unlock(&tr->mu);
    free(c);
}

void dmcp__conn_set_phase(dmcp__conns *tr, dmcp__conn *c, dmcp__conn_phase phase)
{
    if (c == NULL) {
        return;
    }
    double now = dmcp__mono_now();
    pthread_mutex_lock(&tr->mu);
    c->phase = phase;
    c->since = now;
    pthread_mutex_unlock(&tr->mu);
}

size_t dmcp__conns_sweep(dmcp__conns *tr, const dmcp__conn_deadlines *dl, double now,
                         size_t ended[DMCP__CONN_PHASES])
{
    size_t n = 0;
    pthread_mutex_lock(&tr->mu);
    /* An admission whose connection never opened (libmicrohttpd gave up on it) is released. */
    for (size_t b = 0; tr->pending > 0 && b < ADDR_BUCKETS; b++) {
        for (addr_count **pp = &tr->by_addr[b]; *pp != NULL;) {
            addr_count *a = *pp;
            if (a->pending > 0 && now - a->pending_at > 10) {
                tr->pending -= a->pending;
                a->pending = 0;
            }
            if (a->n == 0 && a->pending == 0) {
                *pp = a->next;
                free(a);
            } else {
                pp = &a->next;
            }
        }
    }
    for (dmcp__conn *c = tr->head; c != NULL; c = c->next) {
        double limit = c->phase == DMCP__CONN_IDLE   ? dl->idle
                       : c->phase == DMCP__CONN_HEAD ? dl->header
                       : c->phase == DMCP__CONN_BODY ? dl->body
                                                     : 0;
        if (limit > 0 && now - c->since > limit && c->fd >= 0) {
            shutdown(c->fd, SHUT_RDWR);
            if (ended != NULL) {
                ended[c->phase]++;
            }
            c->fd = -1; /* once: libmicrohttpd closes it on its next pass */
            n++;
        }
    }
    pthread_mutex_unlock(&tr->mu);
    return n;
}

size_t dmcp__conns_receiving(dmcp__conns *tr)
{
    size_t n = 0;
    pthread_mutex_lock(&tr->mu);
    for (dmcp__conn *c = tr->head; c != NULL; c = c->next) {
        n += c->fd >= 0 && (c->phase == DMCP__CONN_HEAD || c->phase == DMCP__CONN_BODY);
    }
    pthread_mutex_unlock(&tr->mu);
    return n;
}

size_t dmcp__conns_count(dmcp__conns *tr)
{
    pthread_mutex_lock(&tr->mu);
    size_t n = tr->count;
    pthread_mutex_unlock(&tr->mu);
    return n;
}
