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
#include <stdlib.h>
#include <sys/socket.h>

#include "mcp/mcp_internal.h"

struct dmcp__conn {
    int fd;
    dmcp__conn_phase phase;
    double since;
    struct dmcp__conn *prev, *next;
};

struct dmcp__conns {
    pthread_mutex_t mu;
    dmcp__conn *head;
    size_t count;
};

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
    pthread_mutex_destroy(&tr->mu);
    free(tr);
}

dmcp__conn *dmcp__conn_open(dmcp__conns *tr, int fd)
{
    dmcp__conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL; /* untracked: only libmicrohttpd's own timeout applies to it */
    }
    c->fd = fd;
    c->phase = DMCP__CONN_IDLE;
    c->since = dmcp__mono_now();
    pthread_mutex_lock(&tr->mu);
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
