/*
 * The stdio transport's threads (stdio_pool.c): one reader at a time, a bounded pool, and a
 * reader role that is lent rather than handed over.
 *
 * The thread holding the reader role reads a chunk of input and handles its lines (ops.pump).
 * The calls it keeps back (ops.pump's *call, a list in the order read) it runs itself, one
 * after the other, without waking anyone: the role is lent meanwhile, and a standby thread,
 * which looks every millisecond, takes it over when the same call is still running at its
 * next look; the calls not yet started then go to the queue. So short calls cost no thread
 * switch, and a long one, or one waiting for the client's answer on this very input, holds
 * up reading, and the calls read with it, for one to two milliseconds at most. While the
 * holder runs its calls, output is held (ops.hold): what they write goes out together when
 * they are done, or when the role is taken over. The queue is first-in first-out, served by
 * up to DMCP__LF_MAX_THREADS threads (started on demand, ended after DMCP__LF_IDLE_SECONDS
 * idle). The role is lent only when some thread can take it over; otherwise the calls are
 * queued (or, the queue being full, run while holding the role: backpressure).
 *
 * Knows nothing of MCP: jobs are opaque, the pump and the runner are the caller's.
 */
#ifndef DMCP_MCP_STDIO_POOL_H
#define DMCP_MCP_STDIO_POOL_H

#include <pthread.h>
#include <stdbool.h>

#define DMCP__LF_MAX_THREADS 32 /* pool threads, besides the one that called _serve */
#define DMCP__LF_MAX_QUEUED 256 /* calls waiting for a thread */
#define DMCP__LF_IDLE_SECONDS 10

/* Embedded first in the caller's job record. */
typedef struct dmcp__lf_job {
    struct dmcp__lf_job *next;
} dmcp__lf_job;

typedef struct dmcp__lf_ops {
    /* Reads and handles one chunk of input; sets *call to the calls kept back for the caller
     * to run (a list, in order; or leaves it NULL). Returns false at the end of input (it is
     * not called again). Only the role holder calls it, so never two at once. */
    bool (*pump)(void *ud, dmcp__lf_job **call);
    void (*run)(void *ud, dmcp__lf_job *job); /* runs a job and frees it */
    /* Output waits (on) while the holder runs its calls; off: what waited goes out. */
    void (*hold)(void *ud, bool on);
    void *ud;
} dmcp__lf_ops;

typedef struct dmcp__lf {
    dmcp__lf_ops ops;
    pthread_mutex_t mu;
    pthread_cond_t work; /* threads other than the standby: a job queued, input ended */
    pthread_cond_t look; /* the standby: a call lent while it slept, a job at the cap */
    pthread_cond_t gone; /* a pool thread ended */
    int threads;         /* live pool threads */
    int idle;            /* threads waiting for a job (the serving one too; not the standby) */
    int queued;
    dmcp__lf_job *head, *tail;
    bool ended;          /* the input ended */
    bool closing;        /* _drain: threads finish the queue, then end */
    bool lent;           /* the holder runs a call; the role may be taken */
    dmcp__lf_job *rest;  /* the holder's calls not yet started (a taker queues them) */
    unsigned long lent_seq;
    bool has_standby, standby_asleep;
} dmcp__lf;

void dmcp__lf_init(dmcp__lf *lf, const dmcp__lf_ops *ops);
/* Only once no pool thread is left (_drain returned 0). */
void dmcp__lf_destroy(dmcp__lf *lf);

/* Queues a job for the pool, starting a thread when none is idle and the cap allows. False:
 * the queue is full or no thread can run it; the job is still the caller's. Any thread. */
bool dmcp__lf_submit(dmcp__lf *lf, dmcp__lf_job *job);

/* Unlinks the queued jobs (and the holder's calls not yet started) for which match() is
 * true and returns them as a list (next). */
dmcp__lf_job *dmcp__lf_take(dmcp__lf *lf, bool (*match)(const dmcp__lf_job *, const void *),
                            const void *arg);

/* The calling thread holds the reader role first; it reads, runs calls and serves the queue
 * until the input has ended (whichever thread read the end). */
void dmcp__lf_serve(dmcp__lf *lf);

/* After _serve: the pool finishes what is queued and running, then ends; waits at most
 * `seconds` and returns the number of pool threads still running. */
int dmcp__lf_drain(dmcp__lf *lf, unsigned seconds);

#endif
