/*
 * stdio transport (MCP 2025-11-25 Transports §1): one JSON-RPC message per line on input,
 * one per line on output, nothing else ever written to the output. Ends at end of input
 * (after running and queued calls finish) or on SIGINT/SIGTERM.
 *
 * Threads (stdio_pool.h): whichever thread holds the reader role reads a chunk and answers
 * its lines in order. tools/call and prompts/get (a prompt can ask the client, whose answer
 * comes on this input) must not stop reading for long, so notifications/cancelled and the
 * client's answers get through: the last call of a chunk runs on the reader itself, with the
 * role lent to a standby that takes it over if the call is still running a millisecond or two
 * later; the other calls of the chunk go to the bounded pool. A short call thus costs no
 * thread switch. A call cancelled before it started is dropped unanswered (Cancellation: no
 * response for a cancelled request).
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
#include "mcp/stdio_pool.h"

#define MAX_OPEN26 64 /* 2026 requests (cancellable) and listens tracked at once */
#define OUT_KEEP_BYTES (256 * 1024) /* output buffer kept for reuse between flushes */
#define CHUNK_BYTES 65536

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
    bool broken;                      /* under out_mu: output closed */
    bool holding; /* under out_mu: the reader runs its calls: lines wait (stdio_pool.h) */
    dmcp__lf lf;                      /* the reader role and the pool */
    /* The reader's own (only the role holder touches them). */
    int in_fd, sfd;           /* input; SIGINT/SIGTERM as a signalfd (-1 without one) */
    dmcp__buf line;           /* the line being read */
    bool overlong;            /* it passed max_body: skipped up to its newline */
    char *chunk;              /* CHUNK_BYTES */
    struct stdio_job *batch, *batch_tail; /* the chunk's calls, run by the reader itself */
    bool signalled;           /* input ended by SIGINT/SIGTERM */
    const char *failure;      /* input ended by a failing system call */
    pthread_mutex_t mu;
    dmcp__sink out_sink; /* unsolicited messages (list_changed, resources/updated) */
    /* Under mu: 2026 requests running (references, for notifications/cancelled) and open
     * 2026 listens. */
    dmcp__session *running26[MAX_OPEN26];
    stdio_listen *listens[MAX_OPEN26];
} stdio_io;

/*
 * Writes one message as one line (msg NULL: only what is pending). Concurrent writers
 * combine: each appends its line to the pending buffer under out_mu (a memcpy, never a system
 * call under the lock), and the one that finds nobody flushing writes everything pending, its
 * own line and those appended meanwhile, in one write(2), outside the lock, until nothing is
 * left. Lines keep the order in which they were appended; a writer whose line another thread
 * flushes returns at once. While the reader runs the calls of its chunk (holding), lines only
 * gather: they go out in one write when it is done, or when the role is taken over.
 */
static void write_msg(stdio_io *io, json_t *msg)
{
    size_t len = 0;
    char *s = msg != NULL ? dmcp__json_dump(msg, &len) : NULL;
    bool flush_only = msg == NULL;
    json_decref(msg);
    if (s == NULL && !flush_only) {
        return;
    }
    if (s != NULL) { /* JSON_COMPACT output has no raw newline: exactly one line */
        s[len] = '\n'; /* replaces the NUL; the buffer is freed right after */
    }
    pthread_mutex_lock(&io->out_mu);
    bool ok = !io->broken &&
              (s == NULL || dmcp__buf_append(&io->out_pending, s, len + 1) == DMCP_OK);
    free(s);
    if (!ok || io->flushing || io->holding) {
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

/* dmcp__lf_ops.hold: lines wait while the reader runs its calls; released, they go out. */
static void hold_output(void *ud, bool on)
{
    stdio_io *io = ud;
    pthread_mutex_lock(&io->out_mu);
    io->holding = on;
    bool pending = io->out_pending.len > 0;
    pthread_mutex_unlock(&io->out_mu);
    if (!on && pending) {
        write_msg(io, NULL);
    }
}

static dmcp_status sink_send(dmcp__sink *sink, json_t *msg)
{
    write_msg(sink->ud, msg);
    return DMCP_OK;
}

typedef struct stdio_job {
    dmcp__lf_job link; /* first */
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

static void run_job(void *ud, dmcp__lf_job *job)
{
    stdio_io *io = ud;
    stdio_job *j = (stdio_job *)job;
    if (j->era26) {
        run_request26(io, j->msg);
    } else {
        run_request(io, j->msg, j->version);
    }
    json_decref(j->msg);
    free(j);
}

/* A call read: kept back, in order, for the reader to run once its chunk is handled
 * (dmcp__lf_ops.pump). Takes body when it returns true; false: out of memory (the caller
 * runs it inline). */
static bool keep_call(stdio_io *io, json_t *body, const char *version, bool era26)
{
    stdio_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return false;
    }
    j->msg = body;
    j->era26 = era26;
    snprintf(j->version, sizeof(j->version), "%s", version);
    if (io->batch_tail != NULL) {
        io->batch_tail->link.next = &j->link;
    } else {
        io->batch = j;
    }
    io->batch_tail = j;
    return true;
}

static bool same_id(const dmcp__lf_job *job, const void *rid)
{
    return json_equal(json_object_get(((const stdio_job *)job)->msg, "id"), rid);
}

/* notifications/cancelled for a call not yet started: it is dropped, never answered. */
static void drop_queued(stdio_io *io, const json_t *rid)
{
    if (!json_is_string(rid) && !json_is_integer(rid)) {
        return;
    }
    dmcp__lf_job *dropped = dmcp__lf_take(&io->lf, same_id, rid);
    stdio_job *prev = NULL;
    for (stdio_job *j = io->batch, *next; j != NULL; j = next) { /* read in this chunk */
        next = (stdio_job *)j->link.next;
        if (!same_id(&j->link, rid)) {
            prev = j;
            continue;
        }
        if (prev != NULL) {
            prev->link.next = &next->link;
        } else {
            io->batch = next;
        }
        if (io->batch_tail == j) {
            io->batch_tail = prev;
        }
        j->link.next = dropped;
        dropped = &j->link;
    }
    while (dropped != NULL) {
        stdio_job *j = (stdio_job *)dropped;
        dropped = dropped->next;
        json_decref(j->msg);
        free(j);
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
        } else if (is_call(body, method) && keep_call(io, body, DMCP_PROTOCOL_2026_07_28, true)) {
            return; /* the kept call owns body */
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
    if (json_is_object(body) && is_call(body, method) && keep_call(io, body, version, false)) {
        return; /* the kept call owns body */
    }
    run_request(io, body, version);
    json_decref(body);
}

/* Handles the complete lines of n bytes read (the reader role's). */
static void split_lines(stdio_io *io, const char *chunk, size_t n)
{
    dmcp__buf *line = &io->line;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (chunk[i] != '\n') {
            continue;
        }
        if (!io->overlong && dmcp__buf_append(line, chunk + start, i - start) != DMCP_OK) {
            io->overlong = true;
        }
        if (io->overlong) {
            write_msg(io, dmcp__jsonrpc_error(NULL, DMCP_JSONRPC_PARSE_ERROR,
                                              "Message too large", NULL));
        } else {
            size_t len = line->len;
            if (len > 0 && line->data[len - 1] == '\r') {
                len--;
            }
            if (len > 0) {
                handle_line(io, line->data, len);
            }
        }
        line->len = 0;
        io->overlong = false;
        start = i + 1;
    }
    if (!io->overlong && dmcp__buf_append(line, chunk + start, n - start) != DMCP_OK) {
        io->overlong = true;
        line->len = 0;
    }
}

/* The input has ended (end of file, a signal, a failure): the 2026 listens end (nobody can
 * cancel them any more), and calls waiting for an answer from the client are told none will
 * come. Done by the thread that read the end, so a call on another thread (the one that
 * called dmcp_server_run_stdio, say) is not left waiting for it. */
static void input_ended(stdio_io *io)
{
    if (io->signalled) {
        atomic_store(&io->srv->stopping, true); /* running handlers see themselves cancelled */
    }
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
    dmcp__session_wake_pending(io->sess);
}

/* The reader role's step (dmcp__lf_ops.pump): waits for input, reads one chunk, handles its
 * lines; the chunk's calls are handed back in *call, in order. False once the input ended. */
static bool pump(void *ud, dmcp__lf_job **call)
{
    stdio_io *io = ud;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    for (;;) {
        pthread_mutex_lock(&io->out_mu);
        bool broken = io->broken;
        pthread_mutex_unlock(&io->out_mu);
        if (broken) {
            break;
        }
        struct timespec zero = {0, 0};
        struct pollfd pfd[2] = {{io->in_fd, POLLIN, 0}, {io->sfd, POLLIN, 0}};
        if (io->sfd < 0 && sigtimedwait(&set, NULL, &zero) > 0) {
            io->signalled = true;
            break;
        }
        int pr = poll(pfd, io->sfd >= 0 ? 2 : 1, 200);
        if (pr < 0 && errno != EINTR) {
            io->failure = "poll failed";
            break;
        }
        if (pr > 0 && io->sfd >= 0 && (pfd[1].revents & POLLIN) != 0) {
            struct signalfd_siginfo si;
            if (read(io->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                io->signalled = true;
                break;
            }
        }
        if (pr <= 0 || (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
            continue;
        }
        ssize_t n = read(io->in_fd, io->chunk, CHUNK_BYTES);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            io->failure = "read failed";
            break;
        }
        if (n == 0) {
            if (io->line.len > 0 && !io->overlong) {
                handle_line(io, io->line.data, io->line.len); /* last line without a newline */
            }
            break; /* end of input: Lifecycle §1.3.1 shutdown for stdio */
        }
        split_lines(io, io->chunk, (size_t)n);
        if (io->batch == NULL) {
            continue; /* no call to run: read on */
        }
        *call = &io->batch->link;
        io->batch = io->batch_tail = NULL;
        return true;
    }
    if (io->batch != NULL) {
        *call = &io->batch->link;
        io->batch = io->batch_tail = NULL;
    }
    input_ended(io);
    return false;
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
    pthread_sigmask(SIG_BLOCK, &set, &old); /* before any thread starts: all inherit it */

    /* Heap-allocated: if a handler outlives the shutdown timeout, io is leaked rather than
     * freed under it. */
    stdio_io *io = calloc(1, sizeof(*io));
    char *chunk = malloc(CHUNK_BYTES);
    dmcp__session *sess = dmcp__session_new_local();
    if (io == NULL || chunk == NULL || sess == NULL) {
        free(io);
        free(chunk);
        if (sess != NULL) {
            dmcp__session_unref(sess);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        atomic_store(&srv->started, false);
        return dmcp__fail(err, DMCP_E_NOMEM, DMCP_REASON_NONE, "out of memory");
    }
    io->srv = srv;
    io->out_fd = out_fd;
    io->in_fd = in_fd;
    io->chunk = chunk;
    io->sess = sess;
    pthread_mutex_init(&io->out_mu, NULL);
    /* Bounded by what the writers of the moment hold (each line is capped upstream). */
    dmcp__buf_init(&io->out_pending, SIZE_MAX / 4);
    dmcp__buf_init(&io->out_spare, SIZE_MAX / 4);
    dmcp__buf_init(&io->line, srv->max_body);
    pthread_mutex_init(&io->mu, NULL);
    dmcp__lf_init(&io->lf, &(dmcp__lf_ops){pump, run_job, hold_output, io});
    io->out_sink = (dmcp__sink){sink_send, io, true, NULL};
    io->sess->out = &io->out_sink;
    pthread_mutex_lock(&srv->stdio_mu);
    dmcp__session_ref(io->sess);
    srv->stdio_sess = io->sess;
    pthread_mutex_unlock(&srv->stdio_mu);
    /* SIGINT/SIGTERM (blocked above) arrive on a signalfd polled with the input: no system
     * call per line to look for them. Without one, they are looked for on every wake-up. */
    io->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

    dmcp__lf_serve(&io->lf); /* until the input ends (input_ended has run) */

    if (io->sfd >= 0) {
        close(io->sfd);
    }
    dmcp_status st = io->failure != NULL
                         ? dmcp__fail(err, DMCP_E_IO, DMCP_REASON_NONE, "%s", io->failure)
                         : DMCP_OK;
    pthread_mutex_lock(&srv->stdio_mu);
    srv->stdio_sess = NULL;
    pthread_mutex_unlock(&srv->stdio_mu);
    pthread_mutex_lock(&io->sess->mu);
    io->sess->out = NULL;
    pthread_mutex_unlock(&io->sess->mu);
    dmcp__session_unref(io->sess); /* the server's reference */
    int left = dmcp__lf_drain(&io->lf, srv->shutdown_timeout);
    dmcp__buf_free(&io->line);
    if (left == 0) {
        /* Pool threads hold pointers into io; only tear it down when none is left. */
        dmcp__lf_destroy(&io->lf);
        dmcp__session_unref(io->sess);
        pthread_mutex_destroy(&io->out_mu);
        dmcp__buf_free(&io->out_pending);
        dmcp__buf_free(&io->out_spare);
        pthread_mutex_destroy(&io->mu);
        free(io->chunk);
        free(io);
    } else {
        st = dmcp__fail(err, DMCP_E_TIMEOUT, DMCP_REASON_NONE,
                        "%d tool calls still running at shutdown", left);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    atomic_store(&srv->started, false);
    return st;
}
