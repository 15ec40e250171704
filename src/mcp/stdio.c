/*
 * stdio transport (MCP 2025-11-25 Transports §1): one JSON-RPC message per line on input,
 * one per line on output, nothing else ever written to the output. tools/call and prompts/get
 * (a prompt can ask the client, whose answer comes on this input) run on a bounded pool of
 * worker threads so notifications/cancelled can reach a running handler;
 * everything else is answered inline. Ends at end of input (after running and queued calls
 * finish) or on SIGINT/SIGTERM.
 *
 * The pool: up to MAX_WORKERS threads, started on demand and kept while calls keep coming
 * (an idle one ends after IDLE_SECONDS), fed first-in first-out from a queue of at most
 * MAX_QUEUED calls; when that is full the call runs inline (the reader stops reading until
 * it ends: backpressure, not another thread). A call cancelled while still queued is
 * dropped unanswered (Cancellation: no response for a cancelled request).
 *
 * Both eras on one pipe: a message whose params._meta carries the 2026-07-28 protocol
 * version is served statelessly under that revision's rules (mcp-transport.md §6) on a
 * transient session built by era26_session.c, exactly as over HTTP but without headers;
 * anything else belongs to the implicit 2025 session (initialize, ...). Under 2026,
 * notifications/cancelled (stdio-only there) cancels a running request or ends a
 * subscriptions/listen, whose acknowledgement and notifications go out as lines tagged with
 * its subscription id.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mcp/mcp_internal.h"

#define MAX_WORKERS 32
#define MAX_QUEUED 256 /* tools/call waiting for a worker */
#define IDLE_SECONDS 10
#define MAX_OPEN26 64
#define OUT_KEEP_BYTES (256 * 1024) /* output buffer kept for reuse between flushes */ /* 2026 requests (cancellable) and listens tracked at once */

struct stdio_io;

/* A 2026 subscriptions/listen over stdio: its session's out sink while it is open. */
typedef struct stdio_listen {
    dmcp__sink sink; /* tags with the subscription id, then writes a line */
    struct stdio_io *io;
    dmcp__session *sess; /* a reference */
    bool acked;          /* under sess->mu: the acknowledgement is out; events may follow */
} stdio_listen;

typedef struct stdio_io {
    dmcp_server *srv;
    dmcp__session *sess;
    int out_fd;
    pthread_mutex_t out_mu;
    dmcp__buf out_pending, out_spare; /* under out_mu: lines to write; a buffer to reuse */
    bool flushing;                    /* under out_mu: a writer is writing out_pending */
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* a worker ended (under mu) */
    pthread_cond_t work; /* a call was queued, or input ended (under mu) */
    int workers;         /* live pool threads */
    int idle;            /* of those, waiting for work */
    bool closing;        /* input ended: workers drain the queue, then end */
    struct stdio_job *head, *tail; /* queued calls, oldest first */
    int queued;
    bool broken;         /* output closed */
    dmcp__sink out_sink; /* unsolicited messages (list_changed, resources/updated) */
    /* Under mu: 2026 requests running (references, for notifications/cancelled) and open
     * 2026 listens. */
    dmcp__session *running26[MAX_OPEN26];
    stdio_listen *listens[MAX_OPEN26];
} stdio_io;

/*
 * Writes one message as one line. Concurrent writers combine: each appends its line to the
 * pending buffer under out_mu (a memcpy, never a system call under the lock), and the one
 * that finds nobody flushing writes everything pending, its own line and those appended
 * meanwhile, in one write(2), outside the lock, until nothing is left. Lines keep the order
 * in which they were appended; a writer whose line another thread flushes returns at once.
 */
static void write_msg(stdio_io *io, json_t *msg)
{
    size_t len = 0;
    char *s = msg != NULL ? dmcp__json_dump(msg, &len) : NULL;
    json_decref(msg);
    if (s == NULL) {
        return;
    }
    /* JSON_COMPACT output has no raw newline, so the message is exactly one line. */
    s[len] = '\n'; /* replaces the NUL; the buffer is freed right after */
    pthread_mutex_lock(&io->out_mu);
    bool ok = !io->broken && dmcp__buf_append(&io->out_pending, s, len + 1) == DMCP_OK;
    free(s);
    if (!ok || io->flushing) {
        pthread_mutex_unlock(&io->out_mu);
        return;
    }
    io->flushing = true;
    while (io->out_pending.len > 0 && !io->broken) {
        dmcp__buf w = io->out_pending;
        io->out_pending = io->out_spare;
        io->out_pending.len = 0;
        pthread_mutex_unlock(&io->out_mu);
        const char *p = w.data;
        size_t left = w.len;
        bool broken = false;
        while (left > 0) {
            ssize_t n = write(io->out_fd, p, left);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                broken = true;
                break;
            }
            p += n;
            left -= (size_t)n;
        }
        pthread_mutex_lock(&io->out_mu);
        io->broken = io->broken || broken;
        w.len = 0;
        if (w.cap > OUT_KEEP_BYTES) { /* a big message passed: do not keep its buffer */
            dmcp__buf_free(&w);
        }
        io->out_spare = w;
    }
    io->flushing = false;
    pthread_mutex_unlock(&io->out_mu);
}

static dmcp_status sink_send(dmcp__sink *sink, json_t *msg)
{
    write_msg(sink->ud, msg);
    return DMCP_OK;
}

typedef struct stdio_job {
    struct stdio_job *next;
    json_t *msg;
    char version[16];
    bool era26;
} stdio_job;

static void run_request(stdio_io *io, const json_t *msg, const char *version)
{
    dmcp__sink sink = {sink_send, io, true, NULL};
    dmcp__rpc_ctx ctx = {io->srv, io->sess, NULL, version, false, false, &sink};
    write_msg(io, dmcp__process(&ctx, msg));
}

/* Adds or removes a pointer in one of io's fixed tables (io->mu held); false when full. */
static bool slot_put(void **table, void *item)
{
    for (size_t i = 0; i < MAX_OPEN26; i++) {
        if (table[i] == NULL) {
            table[i] = item;
            return true;
        }
    }
    return false;
}

static void slot_drop(void **table, const void *item)
{
    for (size_t i = 0; i < MAX_OPEN26; i++) {
        if (table[i] == item) {
            table[i] = NULL;
        }
    }
}

/* One 2026 request (checked) on its own transient session; no principal over stdio. */
static void run_request26(stdio_io *io, const json_t *msg)
{
    dmcp__session *sess = dmcp__era26_request_session(NULL, msg);
    if (sess == NULL) {
        write_msg(io, dmcp__jsonrpc_error(json_object_get(msg, "id"), DMCP_JSONRPC_INTERNAL_ERROR,
                                          "Out of memory", NULL));
        return;
    }
    pthread_mutex_lock(&io->mu);
    bool tracked = slot_put((void **)io->running26, sess); /* else: runs, not cancellable */
    pthread_mutex_unlock(&io->mu);
    dmcp__sink sink = {sink_send, io, true, NULL};
    dmcp__rpc_ctx ctx = {io->srv, sess, NULL, DMCP_PROTOCOL_2026_07_28, true, false, &sink};
    write_msg(io, dmcp__dispatch_request(&ctx, msg));
    if (tracked) {
        pthread_mutex_lock(&io->mu);
        slot_drop((void **)io->running26, sess);
        pthread_mutex_unlock(&io->mu);
    }
    dmcp__session_unref(sess);
}

static dmcp_status listen_sink_send(dmcp__sink *sink, json_t *msg)
{
    stdio_listen *l = sink->ud; /* called with l->sess->mu held */
    if (!l->acked || !dmcp__era26_listen_tag(l->sess, msg)) {
        json_decref(msg); /* a type the client did not opt in to: never sent */
        return DMCP_OK;
    }
    write_msg(l->io, msg);
    return DMCP_OK;
}

/* Ends a listen: nothing more reaches it (the registry drops it on its next pass). */
static void listen_end(stdio_listen *l)
{
    pthread_mutex_lock(&l->sess->mu);
    l->sess->out = NULL; /* a notifier sending right now holds mu: it finishes first */
    pthread_mutex_unlock(&l->sess->mu);
    dmcp__session_unref(l->sess);
    free(l);
}

/* subscriptions/listen: the acknowledgement, then notifications until cancelled or EOF. */
static void listen26(stdio_io *io, const json_t *msg)
{
    const json_t *id = json_object_get(msg, "id");
    int code = 0;
    const char *message = NULL;
    json_t *ack = NULL;
    dmcp__session *sess = dmcp__era26_listen_session(io->srv, msg, NULL, &ack, &code, &message);
    if (sess == NULL) {
        write_msg(io, dmcp__jsonrpc_error(id, code, message, NULL));
        return;
    }
    stdio_listen *l = calloc(1, sizeof(*l));
    pthread_mutex_lock(&io->mu);
    bool room = l != NULL && slot_put((void **)io->listens, l);
    pthread_mutex_unlock(&io->mu);
    if (!room) {
        free(l);
        json_decref(ack);
        dmcp__session_unref(sess);
        write_msg(io, dmcp__jsonrpc_error(id, DMCP_JSONRPC_INTERNAL_ERROR,
                                          "Too many open subscriptions", NULL));
        return;
    }
    *l = (stdio_listen){{listen_sink_send, l, true, NULL}, io, sess, false};
    pthread_mutex_lock(&sess->mu);
    sess->out = &l->sink;
    pthread_mutex_unlock(&sess->mu);
    if (dmcp__listeners_add(io->srv, sess) != DMCP_OK) {
        json_decref(ack);
        pthread_mutex_lock(&io->mu);
        slot_drop((void **)io->listens, l);
        pthread_mutex_unlock(&io->mu);
        listen_end(l);
        write_msg(io, dmcp__jsonrpc_error(id, DMCP_JSONRPC_INTERNAL_ERROR, "Out of memory", NULL));
        return;
    }
    /* Registered first, so a client that has read the acknowledgement misses nothing after
     * it; acknowledged under the session lock notifiers send under, so nothing precedes it. */
    pthread_mutex_lock(&sess->mu);
    write_msg(io, ack);
    l->acked = true;
    pthread_mutex_unlock(&sess->mu);
}

/* notifications/cancelled under 2026: a running request of that id is flagged, a listen of
 * that id ends. (The implicit 2025 session handles its own requests in dispatch.c.) */
static void cancel26(stdio_io *io, const json_t *rid)
{
    if (!json_is_string(rid) && !json_is_integer(rid)) {
        return;
    }
    stdio_listen *ended[MAX_OPEN26];
    size_t n = 0;
    pthread_mutex_lock(&io->mu);
    for (size_t i = 0; i < MAX_OPEN26; i++) {
        if (io->running26[i] != NULL) {
            dmcp__session_cancel(io->running26[i], rid);
        }
        stdio_listen *l = io->listens[i];
        if (l != NULL && json_equal(l->sess->listen_id, rid)) {
            io->listens[i] = NULL;
            ended[n++] = l;
        }
    }
    pthread_mutex_unlock(&io->mu);
    for (size_t i = 0; i < n; i++) {
        listen_end(ended[i]);
    }
}

static void run_job(stdio_io *io, stdio_job *j)
{
    if (j->era26) {
        run_request26(io, j->msg);
    } else {
        run_request(io, j->msg, j->version);
    }
    json_decref(j->msg);
    free(j);
}

/* A pool thread: runs queued calls in order until idle for IDLE_SECONDS, or until input has
 * ended and the queue is empty. */
static void *worker(void *arg)
{
    stdio_io *io = arg;
    pthread_mutex_lock(&io->mu);
    for (;;) {
        if (io->head != NULL) {
            stdio_job *j = io->head;
            io->head = j->next;
            if (io->head == NULL) {
                io->tail = NULL;
            }
            io->queued--;
            pthread_mutex_unlock(&io->mu);
            run_job(io, j);
            pthread_mutex_lock(&io->mu);
            continue;
        }
        if (io->closing) {
            break;
        }
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += IDLE_SECONDS;
        io->idle++;
        int rc = pthread_cond_timedwait(&io->work, &io->mu, &deadline);
        io->idle--;
        if (rc == ETIMEDOUT && io->head == NULL) {
            break;
        }
    }
    io->workers--;
    pthread_cond_broadcast(&io->cv);
    pthread_mutex_unlock(&io->mu);
    return NULL;
}

/* Unlinks j from the queue (io->mu held); false when it is not there (a worker took it). */
static bool unqueue(stdio_io *io, stdio_job *j)
{
    stdio_job *prev = NULL;
    for (stdio_job *q = io->head; q != NULL; prev = q, q = q->next) {
        if (q == j) {
            if (prev != NULL) {
                prev->next = j->next;
            } else {
                io->head = j->next;
            }
            if (io->tail == j) {
                io->tail = prev;
            }
            io->queued--;
            return true;
        }
    }
    return false;
}

/* Queues a tools/call for the pool (so notifications/cancelled can reach it), starting a
 * thread when none is idle and the cap allows; takes body when it returns true. False: the
 * queue is full or no thread can run it (the caller runs it inline). */
static bool spawn_job(stdio_io *io, json_t *body, const char *version, bool era26)
{
    stdio_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return false;
    }
    j->msg = body;
    j->era26 = era26;
    snprintf(j->version, sizeof(j->version), "%s", version);
    pthread_mutex_lock(&io->mu);
    if (io->queued >= MAX_QUEUED) {
        pthread_mutex_unlock(&io->mu);
        free(j);
        return false;
    }
    if (io->tail != NULL) {
        io->tail->next = j;
    } else {
        io->head = j;
    }
    io->tail = j;
    io->queued++;
    /* One waiting thread per queued call, else a new thread (a woken thread that has not yet
     * taken its call still counts as idle: that errs towards one thread more, under the cap). */
    bool start = io->idle < io->queued && io->workers < MAX_WORKERS;
    if (start) {
        io->workers++;
    } else {
        pthread_cond_signal(&io->work);
    }
    pthread_mutex_unlock(&io->mu);
    if (!start) {
        return true;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, worker, io);
    pthread_attr_destroy(&attr);
    if (rc == 0) {
        return true;
    }
    pthread_mutex_lock(&io->mu);
    io->workers--;
    /* No new thread: with none at all, nothing would ever take the call; take it back. */
    bool took_back = io->workers == 0 && unqueue(io, j);
    pthread_mutex_unlock(&io->mu);
    if (took_back) {
        free(j);
        return false; /* body is the caller's again */
    }
    return true;
}

/* notifications/cancelled for a call still queued: it is dropped, never answered. */
static void drop_queued(stdio_io *io, const json_t *rid)
{
    if (!json_is_string(rid) && !json_is_integer(rid)) {
        return;
    }
    stdio_job *dropped = NULL;
    pthread_mutex_lock(&io->mu);
    for (stdio_job *q = io->head, *next; q != NULL; q = next) {
        next = q->next;
        if (json_equal(json_object_get(q->msg, "id"), rid) && unqueue(io, q)) {
            q->next = dropped;
            dropped = q;
        }
    }
    pthread_mutex_unlock(&io->mu);
    while (dropped != NULL) {
        stdio_job *next = dropped->next;
        json_decref(dropped->msg);
        free(dropped);
        dropped = next;
    }
}

static bool is_call(const json_t *body, const char *method)
{
    /* prompts/get too: a prompt can ask the client (dmcp_prompt_result_call), and the
     * answer comes on this input, which an inline prompt would block until its timeout. */
    return json_object_get(body, "id") != NULL && method != NULL &&
           (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0);
}

/* A message carrying the 2026 _meta: checked (no headers on stdio), then served. Takes body. */
static void handle26(stdio_io *io, json_t *body)
{
    const json_t *id = NULL;
    dmcp__msg_kind kind = dmcp__jsonrpc_classify(body, &id);
    if (kind == DMCP__MSG_INVALID) {
        write_msg(io, dmcp__jsonrpc_error(id, DMCP_JSONRPC_INVALID_REQUEST, "Invalid Request",
                                          NULL));
    } else if (kind == DMCP__MSG_REQUEST) {
        unsigned http = 0;
        const char *message = NULL;
        json_t *data = NULL;
        int code = dmcp__era26_check(body, NULL, &http, &message, &data);
        const char *method = json_string_value(json_object_get(body, "method"));
        if (code != 0) {
            write_msg(io, dmcp__jsonrpc_error(id, code, message, data));
        } else if (strcmp(method, "subscriptions/listen") == 0) {
            listen26(io, body);
        } else if (is_call(body, method) && spawn_job(io, body, DMCP_PROTOCOL_2026_07_28, true)) {
            return; /* the worker owns body */
        } else {
            run_request26(io, body);
        }
    }
    /* Notifications (cancellation handled by the caller) and responses: nothing to answer;
     * 2026 has no server->client requests. */
    json_decref(body);
}

static void handle_line(stdio_io *io, const char *line, size_t len)
{
    int code = 0;
    json_t *body = dmcp__jsonrpc_parse(line, len, io->srv->max_body, &code);
    if (body == NULL) {
        write_msg(io, dmcp__jsonrpc_error(NULL, code,
                                          code == DMCP_JSONRPC_PARSE_ERROR ? "Parse error"
                                                                           : "Invalid Request",
                                          NULL));
        return;
    }
    const char *method = json_string_value(json_object_get(body, "method"));
    if (method != NULL && strcmp(method, "notifications/cancelled") == 0) {
        const json_t *rid = json_object_get(json_object_get(body, "params"), "requestId");
        drop_queued(io, rid);
        cancel26(io, rid);
    }
    if (json_is_object(body) && dmcp__era26_applies(NULL, body)) {
        handle26(io, body);
        return;
    }
    char version[16];
    pthread_mutex_lock(&io->sess->mu);
    memcpy(version, io->sess->version, sizeof(version));
    pthread_mutex_unlock(&io->sess->mu);
    if (json_is_array(body) && !dmcp__version_allows_batch(version)) {
        write_msg(io, dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_INVALID_REQUEST,
                                          "Invalid Request: batches are not supported", NULL));
        json_decref(body);
        return;
    }
    if (json_is_object(body) && is_call(body, method) && spawn_job(io, body, version, false)) {
        return; /* the worker owns body */
    }
    run_request(io, body, version);
    json_decref(body);
}

static void wait_workers(stdio_io *io, unsigned seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&io->mu);
    io->closing = true; /* idle workers end now, busy ones once the queue is empty */
    pthread_cond_broadcast(&io->work);
    while (io->workers > 0) {
        if (pthread_cond_timedwait(&io->cv, &io->mu, &deadline) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&io->mu);
}

dmcp_status dmcp_server_run_stdio(dmcp_server *srv, int in_fd, int out_fd, dmcp_error *err)
{
    if (srv == NULL || in_fd < 0 || out_fd < 0) {
        return dmcp__fail(err, DMCP_E_INVALID_ARG, DMCP_REASON_NONE, "bad arguments");
    }
    bool expected = false;
    if (!atomic_compare_exchange_strong(&srv->started, &expected, true)) {
        return dmcp__fail(err, DMCP_E_STATE, DMCP_REASON_NONE, "server already running");
    }
    atomic_store(&srv->stopping, false);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);

    /* Heap-allocated: if a handler outlives the shutdown timeout, io is leaked rather than
     * freed under it. */
    stdio_io *io = calloc(1, sizeof(*io));
    if (io == NULL) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        atomic_store(&srv->started, false);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    io->srv = srv;
    io->out_fd = out_fd;
    io->sess = dmcp__session_new_local();
    pthread_mutex_init(&io->out_mu, NULL);
    /* Bounded by what the writers of the moment hold (each line is capped upstream). */
    dmcp__buf_init(&io->out_pending, SIZE_MAX / 4);
    dmcp__buf_init(&io->out_spare, SIZE_MAX / 4);
    pthread_mutex_init(&io->mu, NULL);
    pthread_cond_init(&io->cv, NULL);
    pthread_cond_init(&io->work, NULL);
    io->out_sink = (dmcp__sink){sink_send, io, true, NULL};
    if (io->sess != NULL) {
        io->sess->out = &io->out_sink;
        pthread_mutex_lock(&srv->stdio_mu);
        dmcp__session_ref(io->sess);
        srv->stdio_sess = io->sess;
        pthread_mutex_unlock(&srv->stdio_mu);
    }
    dmcp__buf line;
    dmcp__buf_init(&line, srv->max_body);
    dmcp_status st = io->sess != NULL ? DMCP_OK : DMCP_E_NOMEM;
    bool overlong = false, signalled = false;
    char chunk[65536];
    /* SIGINT/SIGTERM (blocked above) arrive on a signalfd polled with the input: no system
     * call per line to look for them. Without one, they are looked for on every wake-up. */
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    while (st == DMCP_OK && !io->broken) {
        struct timespec zero = {0, 0};
        struct pollfd pfd[2] = {{in_fd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (sfd < 0 && sigtimedwait(&set, NULL, &zero) > 0) {
            signalled = true;
            break;
        }
        int pr = poll(pfd, sfd >= 0 ? 2 : 1, 200);
        if (pr < 0 && errno != EINTR) {
            st = dmcp__fail(err, DMCP_E_IO, DMCP_REASON_NONE, "poll failed");
            break;
        }
        if (pr > 0 && sfd >= 0 && (pfd[1].revents & POLLIN) != 0) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                signalled = true;
                break;
            }
        }
        if (pr <= 0 || (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
            continue;
        }
        ssize_t n = read(in_fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            st = dmcp__fail(err, DMCP_E_IO, DMCP_REASON_NONE, "read failed");
            break;
        }
        if (n == 0) {
            if (line.len > 0 && !overlong) {
                handle_line(io, line.data, line.len); /* last line without a newline */
            }
            break; /* end of input: Lifecycle §1.3.1 shutdown for stdio */
        }
        size_t start = 0;
        for (size_t i = 0; i < (size_t)n; i++) {
            if (chunk[i] != '\n') {
                continue;
            }
            if (!overlong && dmcp__buf_append(&line, chunk + start, i - start) != DMCP_OK) {
                overlong = true;
            }
            if (overlong) {
                write_msg(io, dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_PARSE_ERROR,
                                                  "Message too large", NULL));
            } else {
                size_t len = line.len;
                if (len > 0 && line.data[len - 1] == '\r') {
                    len--;
                }
                if (len > 0) {
                    handle_line(io, line.data, len);
                }
            }
            line.len = 0;
            overlong = false;
            start = i + 1;
        }
        if (!overlong && dmcp__buf_append(&line, chunk + start, (size_t)n - start) != DMCP_OK) {
            overlong = true;
            line.len = 0;
        }
    }
    if (sfd >= 0) {
        close(sfd);
    }
    if (signalled) {
        atomic_store(&srv->stopping, true); /* running handlers see themselves cancelled */
    }
    /* No more input: the 2026 listens end (nobody can cancel them any more). */
    pthread_mutex_lock(&io->mu);
    stdio_listen *open[MAX_OPEN26];
    memcpy(open, io->listens, sizeof(open));
    memset(io->listens, 0, sizeof(io->listens));
    pthread_mutex_unlock(&io->mu);
    for (size_t i = 0; i < MAX_OPEN26; i++) {
        if (open[i] != NULL) {
            listen_end(open[i]);
        }
    }
    if (io->sess != NULL) {
        /* No more input: nothing can answer a server->client request now. */
        dmcp__session_wake_pending(io->sess);
        pthread_mutex_lock(&srv->stdio_mu);
        srv->stdio_sess = NULL;
        pthread_mutex_unlock(&srv->stdio_mu);
        pthread_mutex_lock(&io->sess->mu);
        io->sess->out = NULL;
        pthread_mutex_unlock(&io->sess->mu);
        dmcp__session_unref(io->sess); /* the server's reference */
    }
    wait_workers(io, srv->shutdown_timeout);
    pthread_mutex_lock(&io->mu);
    int left = io->workers;
    pthread_mutex_unlock(&io->mu);
    dmcp__buf_free(&line);
    if (left == 0) {
        /* Workers hold pointers into io; only tear it down when none is left. */
        dmcp__session_unref(io->sess);
        pthread_mutex_destroy(&io->out_mu);
        dmcp__buf_free(&io->out_pending);
        dmcp__buf_free(&io->out_spare);
        pthread_mutex_destroy(&io->mu);
        pthread_cond_destroy(&io->cv);
        pthread_cond_destroy(&io->work);
        free(io);
    } else {
        st = dmcp__fail(err, DMCP_E_TIMEOUT, DMCP_REASON_NONE,
                        "%d tool calls still running at shutdown", left);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    atomic_store(&srv->started, false);
    return st;
}
