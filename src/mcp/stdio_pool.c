/*
 * The stdio transport's threads: a reader role lent to the call it reads, a standby that takes
 * the role over from a call that runs long, a bounded first-in first-out pool (stdio_pool.h).
 */
#include "mcp/stdio_pool.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#define STANDBY_LOOK_NS 1000000L /* the standby looks every millisecond... */
#define STANDBY_QUIET_LOOKS 1000 /* ...until a second has passed with nothing lent */

static struct timespec deadline_after(long sec, long nsec)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += sec;
    t.tv_nsec += nsec;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

void dmcp__lf_init(dmcp__lf *lf, const dmcp__lf_ops *ops)
{
    *lf = (dmcp__lf){.ops = *ops};
    pthread_mutex_init(&lf->mu, NULL);
    pthread_cond_init(&lf->work, NULL);
    pthread_cond_init(&lf->look, NULL);
    pthread_cond_init(&lf->gone, NULL);
}

void dmcp__lf_destroy(dmcp__lf *lf)
{
    pthread_mutex_destroy(&lf->mu);
    pthread_cond_destroy(&lf->work);
    pthread_cond_destroy(&lf->look);
    pthread_cond_destroy(&lf->gone);
}

static void *pool_thread(void *arg);

/* Starts a pool thread, counted beforehand (mu held; released around pthread_create). */
static bool start_thread(dmcp__lf *lf)
{
    lf->threads++;
    pthread_mutex_unlock(&lf->mu);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, pool_thread, lf);
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&lf->mu);
    if (rc != 0) {
        lf->threads--;
        pthread_cond_broadcast(&lf->gone);
    }
    return rc == 0;
}

/* Unlinks j from the queue (mu held); false when it is not there (a thread took it). */
static bool unqueue(dmcp__lf *lf, dmcp__lf_job *j)
{
    dmcp__lf_job *prev = NULL;
    for (dmcp__lf_job *q = lf->head; q != NULL; prev = q, q = q->next) {
        if (q == j) {
            if (prev != NULL) {
                prev->next = j->next;
            } else {
                lf->head = j->next;
            }
            if (lf->tail == j) {
                lf->tail = prev;
            }
            lf->queued--;
            return true;
        }
    }
    return false;
}

/* dmcp__lf_submit with mu held. */
static bool submit_locked(dmcp__lf *lf, dmcp__lf_job *j)
{
    if (lf->queued >= DMCP__LF_MAX_QUEUED) {
        return false;
    }
    j->next = NULL;
    if (lf->tail != NULL) {
        lf->tail->next = j;
    } else {
        lf->head = j;
    }
    lf->tail = j;
    lf->queued++;
    /* One waiting thread per queued job, else a new thread (a woken thread that has not yet
     * taken its job still counts as idle: that errs towards one thread more, under the cap). */
    if (lf->idle >= lf->queued) {
        pthread_cond_signal(&lf->work);
        return true;
    }
    if (lf->threads >= DMCP__LF_MAX_THREADS) {
        pthread_cond_signal(&lf->work);
        if (lf->has_standby) {
            pthread_cond_signal(&lf->look); /* with nothing lent, the standby takes jobs too */
        }
        return true;
    }
    if (start_thread(lf)) {
        return true;
    }
    /* No new thread: with none at all, nothing would ever take the job; take it back. */
    return !(lf->threads == 0 && lf->idle == 0 && unqueue(lf, j));
}

bool dmcp__lf_submit(dmcp__lf *lf, dmcp__lf_job *job)
{
    pthread_mutex_lock(&lf->mu);
    bool ok = submit_locked(lf, job);
    pthread_mutex_unlock(&lf->mu);
    return ok;
}

dmcp__lf_job *dmcp__lf_take(dmcp__lf *lf, bool (*match)(const dmcp__lf_job *, const void *),
                            const void *arg)
{
    dmcp__lf_job *taken = NULL;
    pthread_mutex_lock(&lf->mu);
    for (dmcp__lf_job *q = lf->head, *next; q != NULL; q = next) {
        next = q->next;
        if (match(q, arg) && unqueue(lf, q)) {
            q->next = taken;
            taken = q;
        }
    }
    for (dmcp__lf_job **pp = &lf->rest; *pp != NULL;) {
        dmcp__lf_job *q = *pp;
        if (match(q, arg)) {
            *pp = q->next;
            q->next = taken;
            taken = q;
        } else {
            pp = &q->next;
        }
    }
    pthread_mutex_unlock(&lf->mu);
    return taken;
}

/* Queues a list of calls (mu held); one the full queue refuses runs here (backpressure). */
static void queue_all(dmcp__lf *lf, dmcp__lf_job *list)
{
    while (list != NULL) {
        dmcp__lf_job *j = list;
        list = j->next;
        if (!submit_locked(lf, j)) {
            pthread_mutex_unlock(&lf->mu);
            lf->ops.run(lf->ops.ud, j);
            pthread_mutex_lock(&lf->mu);
        }
    }
}

/* Lends the role for a call its holder runs (mu held): makes sure a standby will look.
 * False, lending nothing, when no thread can take the role over. */
static bool lend(dmcp__lf *lf)
{
    if (lf->closing || lf->ended) {
        return false;
    }
    if (lf->has_standby) {
        if (lf->standby_asleep) {
            pthread_cond_signal(&lf->look);
        }
    } else if (lf->idle > 0) {
        /* Whichever wakes first becomes the standby (a lent call comes before jobs); the
         * others take the jobs they were counted for, or sleep again. Rare: the standby
         * stays one while calls keep coming. */
        pthread_cond_broadcast(&lf->work);
    } else if (lf->threads >= DMCP__LF_MAX_THREADS || !start_thread(lf)) {
        return false;
    }
    lf->lent = true;
    lf->lent_seq++;
    return true;
}

/* The reader role (mu held on entry and on return): returns once the input has ended or the
 * role was taken over while its holder ran a call. */
static void hold_role(dmcp__lf *lf)
{
    for (;;) {
        pthread_mutex_unlock(&lf->mu);
        dmcp__lf_job *call = NULL;
        bool more = lf->ops.pump(lf->ops.ud, &call);
        pthread_mutex_lock(&lf->mu);
        if (call != NULL && more && lend(lf)) {
            /* The calls one after the other, output held; each is lent anew (lent_seq), so
             * the standby takes over from any one of them that runs long. */
            lf->rest = call->next;
            call->next = NULL;
            lf->ops.hold(lf->ops.ud, true); /* before a taker could release it */
            pthread_mutex_unlock(&lf->mu);
            for (;;) {
                lf->ops.run(lf->ops.ud, call);
                pthread_mutex_lock(&lf->mu);
                if (!lf->lent) {
                    return; /* taken over: another thread reads, the rest is queued */
                }
                call = lf->rest;
                if (call == NULL) {
                    break;
                }
                lf->rest = call->next;
                call->next = NULL;
                lf->lent_seq++;
                pthread_mutex_unlock(&lf->mu);
            }
            lf->lent = false;
            pthread_mutex_unlock(&lf->mu);
            lf->ops.hold(lf->ops.ud, false);
            pthread_mutex_lock(&lf->mu);
            continue;
        }
        queue_all(lf, call); /* nobody could take the role over, or the input ended */
        if (!more) {
            lf->ended = true;
            pthread_cond_broadcast(&lf->work);
            pthread_cond_broadcast(&lf->look); /* the serving thread may be the standby */
            return;
        }
    }
}

/*
 * A thread without the role (mu held on entry and on return): runs queued jobs, or is the
 * standby, or waits. Returns when a pool thread should end (idle too long, or closing with
 * the queue empty), or, for the serving thread, once the input has ended.
 *
 * The standby is one thread at most, waiting on its own condition (look) so that signals for
 * jobs never land on it. While a call is lent it takes no job: it is there to take the role.
 */
static void follow(dmcp__lf *lf, bool serving)
{
    bool standby = false;
    unsigned long seen = 0;  /* the call lent at the standby's previous look (0: none) */
    unsigned long calls = 0; /* lent_seq at the previous look: calls lent since */
    int quiet = 0;           /* looks in a row that found no call lent since the previous */
    for (;;) {
        if (!standby && !lf->has_standby && !lf->ended && lf->lent) {
            standby = lf->has_standby = true; /* a lent call has nobody to take it over */
            quiet = 0;
            calls = lf->lent_seq;
            seen = 0;
        }
        if (lf->head != NULL && !(standby && lf->lent)) {
            dmcp__lf_job *j = lf->head;
            lf->head = j->next;
            if (lf->head == NULL) {
                lf->tail = NULL;
            }
            lf->queued--;
            if (standby) {
                standby = lf->has_standby = false;
            }
            pthread_mutex_unlock(&lf->mu);
            lf->ops.run(lf->ops.ud, j);
            pthread_mutex_lock(&lf->mu);
            continue;
        }
        if (serving ? lf->ended : lf->closing) {
            break;
        }
        if (standby && lf->lent && lf->lent_seq == seen) {
            /* The same call as at the previous look: take the role over, let the output
             * out, queue the calls its holder had not started. */
            lf->lent = false;
            standby = lf->has_standby = false;
            dmcp__lf_job *rest = lf->rest;
            lf->rest = NULL;
            pthread_mutex_unlock(&lf->mu);
            lf->ops.hold(lf->ops.ud, false);
            pthread_mutex_lock(&lf->mu);
            queue_all(lf, rest);
            hold_role(lf);
            continue;
        }
        if (standby && lf->ended) {
            standby = lf->has_standby = false; /* nothing more to read */
        } else if (!standby && !lf->has_standby && !lf->ended) {
            standby = lf->has_standby = true;
            quiet = 0;
            calls = lf->lent_seq;
        }
        seen = lf->lent ? lf->lent_seq : 0;
        if (standby) {
            quiet = lf->lent || lf->lent_seq != calls ? 0 : quiet + 1;
            calls = lf->lent_seq;
        }
        bool looking = standby && quiet < STANDBY_QUIET_LOOKS;
        struct timespec dl = looking ? deadline_after(0, STANDBY_LOOK_NS)
                                     : deadline_after(DMCP__LF_IDLE_SECONDS, 0);
        int rc;
        if (standby) {
            lf->standby_asleep = !looking;
            rc = pthread_cond_timedwait(&lf->look, &lf->mu, &dl);
            if (lf->standby_asleep) {
                lf->standby_asleep = false;
                quiet = 0; /* woken (a call was lent) or timed out: look again */
            }
        } else {
            lf->idle++;
            rc = pthread_cond_timedwait(&lf->work, &lf->mu, &dl);
            lf->idle--;
        }
        if (rc == ETIMEDOUT && !looking && !serving && lf->head == NULL && !lf->lent) {
            break; /* idle too long */
        }
    }
    if (standby) {
        lf->has_standby = false;
        lf->standby_asleep = false;
    }
}

static void *pool_thread(void *arg)
{
    dmcp__lf *lf = arg;
    pthread_mutex_lock(&lf->mu);
    follow(lf, false);
    lf->threads--;
    pthread_cond_broadcast(&lf->gone);
    pthread_mutex_unlock(&lf->mu);
    return NULL;
}

void dmcp__lf_serve(dmcp__lf *lf)
{
    pthread_mutex_lock(&lf->mu);
    hold_role(lf);
    follow(lf, true);
    pthread_mutex_unlock(&lf->mu);
}

int dmcp__lf_drain(dmcp__lf *lf, unsigned seconds)
{
    struct timespec dl = deadline_after((long)seconds, 0);
    pthread_mutex_lock(&lf->mu);
    lf->closing = true; /* idle threads end now, busy ones once the queue is empty */
    pthread_cond_broadcast(&lf->work);
    pthread_cond_broadcast(&lf->look);
    while (lf->threads > 0) {
        if (pthread_cond_timedwait(&lf->gone, &lf->mu, &dl) != 0) {
            break;
        }
    }
    int left = lf->threads;
    pthread_mutex_unlock(&lf->mu);
    return left;
}
