/*
 * stdio transport (MCP 2025-11-25 Transports §1): one JSON-RPC message per line on input,
 * one per line on output, nothing else ever written to the output. tools/call runs on worker
 * threads so notifications/cancelled can reach a running handler; everything else is
 * answered inline. Ends at end of input (after running calls finish) or on SIGINT/SIGTERM.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcp/mcp_internal.h"

#define MAX_WORKERS 32

typedef struct stdio_io {
    dmcp_server *srv;
    dmcp__session *sess;
    int out_fd;
    pthread_mutex_t out_mu;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int workers;
    bool broken; /* output closed */
} stdio_io;

static void write_msg(stdio_io *io, json_t *msg)
{
    size_t len = 0;
    char *s = msg != NULL ? dmcp__json_dump(msg, &len) : NULL;
    json_decref(msg);
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&io->out_mu);
    /* JSON_COMPACT output has no raw newline, so the message is exactly one line. */
    const char *p = s;
    size_t left = len + 1;
    s[len] = '\n'; /* replaces the NUL; the buffer is freed right after */
    while (left > 0 && !io->broken) {
        ssize_t n = write(io->out_fd, p, left);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            io->broken = true;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    pthread_mutex_unlock(&io->out_mu);
    free(s);
}

static dmcp_status sink_send(dmcp__sink *sink, json_t *msg)
{
    write_msg(sink->ud, msg);
    return DMCP_OK;
}

typedef struct stdio_job {
    stdio_io *io;
    json_t *msg;
    char version[16];
} stdio_job;

static void run_request(stdio_io *io, const json_t *msg, const char *version)
{
    dmcp__sink sink = {sink_send, io};
    dmcp__rpc_ctx ctx = {io->srv, io->sess, NULL, version, false, false, &sink};
    write_msg(io, dmcp__process(&ctx, msg));
}

static void *worker(void *arg)
{
    stdio_job *j = arg;
    stdio_io *io = j->io;
    run_request(io, j->msg, j->version);
    json_decref(j->msg);
    free(j);
    pthread_mutex_lock(&io->mu);
    io->workers--;
    pthread_cond_broadcast(&io->cv);
    pthread_mutex_unlock(&io->mu);
    return NULL;
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
    const char *method = json_string_value(json_object_get(body, "method"));
    bool async = json_is_object(body) && json_object_get(body, "id") != NULL && method != NULL &&
                 strcmp(method, "tools/call") == 0;
    if (async) {
        pthread_mutex_lock(&io->mu);
        bool room = io->workers < MAX_WORKERS;
        if (room) {
            io->workers++;
        }
        pthread_mutex_unlock(&io->mu);
        stdio_job *j = room ? calloc(1, sizeof(*j)) : NULL;
        if (j != NULL) {
            j->io = io;
            j->msg = body;
            memcpy(j->version, version, sizeof(version));
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_t t;
            int rc = pthread_create(&t, &attr, worker, j);
            pthread_attr_destroy(&attr);
            if (rc == 0) {
                return;
            }
            free(j);
        }
        if (room) {
            pthread_mutex_lock(&io->mu);
            io->workers--;
            pthread_mutex_unlock(&io->mu);
        }
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
    pthread_mutex_init(&io->mu, NULL);
    pthread_cond_init(&io->cv, NULL);
    dmcp__buf line;
    dmcp__buf_init(&line, srv->max_body);
    dmcp_status st = io->sess != NULL ? DMCP_OK : DMCP_E_NOMEM;
    bool overlong = false, signalled = false;
    char chunk[65536];
    while (st == DMCP_OK && !io->broken) {
        struct timespec zero = {0, 0};
        if (sigtimedwait(&set, NULL, &zero) > 0) {
            signalled = true;
            break;
        }
        struct pollfd pfd = {in_fd, POLLIN, 0};
        int pr = poll(&pfd, 1, 200);
        if (pr < 0 && errno != EINTR) {
            st = dmcp__fail(err, DMCP_E_IO, DMCP_REASON_NONE, "poll failed");
            break;
        }
        if (pr <= 0) {
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
    if (signalled) {
        atomic_store(&srv->stopping, true); /* running handlers see themselves cancelled */
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
        pthread_mutex_destroy(&io->mu);
        pthread_cond_destroy(&io->cv);
        free(io);
    } else {
        st = dmcp__fail(err, DMCP_E_TIMEOUT, DMCP_REASON_NONE,
                        "%d tool calls still running at shutdown", left);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    atomic_store(&srv->started, false);
    return st;
}
