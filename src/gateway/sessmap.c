/*
 * The client-session -> upstream-sessions map, in process. Replicas without affinity need the
 * same calls backed by a shared store (issue 10 adds an attrs object to the runtime's session
 * record for this); everything else in the gateway goes through these functions only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_internal.h"

#define BUCKETS 256

struct gw_sessmap {
    pthread_mutex_t mu;
    gw_csess *b[BUCKETS];
};

static size_t bucket(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id != '\0'; id++) {
        h = (h ^ (unsigned char)*id) * 16777619u;
    }
    return h % BUCKETS;
}

gw_sessmap *gw_sessmap_new(void)
{
    gw_sessmap *m = calloc(1, sizeof(*m));
    if (m != NULL) {
        pthread_mutex_init(&m->mu, NULL);
    }
    return m;
}

void gw_sessmap_free(gw_sessmap *m)
{
    if (m != NULL) {
        pthread_mutex_destroy(&m->mu);
        free(m);
    }
}

gw_csess *gw_csess_new(const char *id)
{
    gw_csess *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    snprintf(c->id, sizeof(c->id), "%s", id != NULL ? id : "");
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    c->next_id = 1;
    return c;
}

void gw_csess_ref(gw_csess *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void gw_csess_unref(gw_csess *c, void (*closer)(void *, gw_csess *), void *ud)
{
    if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1) {
        return;
    }
    if (closer != NULL) {
        closer(ud, c);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

gw_csess *gw_sessmap_get(gw_sessmap *m, const char *id)
{
    if (id == NULL || strlen(id) >= sizeof(((gw_csess *)0)->id)) {
        return NULL;
    }
    size_t b = bucket(id);
    pthread_mutex_lock(&m->mu);
    gw_csess *c = m->b[b];
    while (c != NULL && strcmp(c->id, id) != 0) {
        c = c->next;
    }
    if (c == NULL && (c = gw_csess_new(id)) != NULL) {
        c->next = m->b[b];
        m->b[b] = c; /* the map's reference */
    }
    if (c != NULL) {
        gw_csess_ref(c);
    }
    pthread_mutex_unlock(&m->mu);
    return c;
}

gw_csess *gw_sessmap_take(gw_sessmap *m, const char *id)
{
    if (id == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&m->mu);
    gw_csess **pp = &m->b[bucket(id)];
    while (*pp != NULL && strcmp((*pp)->id, id) != 0) {
        pp = &(*pp)->next;
    }
    gw_csess *c = *pp;
    if (c != NULL) {
        *pp = c->next;
        c->next = NULL;
    }
    pthread_mutex_unlock(&m->mu);
    return c;
}

gw_csess *gw_sessmap_take_any(gw_sessmap *m)
{
    gw_csess *c = NULL;
    pthread_mutex_lock(&m->mu);
    for (size_t b = 0; b < BUCKETS && c == NULL; b++) {
        if ((c = m->b[b]) != NULL) {
            m->b[b] = c->next;
            c->next = NULL;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return c;
}
