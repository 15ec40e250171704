/* The stdio child supervisor: see child.h. */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np */
#include "gateway/child.h"
#include "gateway/lines.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct dmcp__child {
    dmcp__child_opts o;
    char **argv; /* our copy */
    pid_t pid;
    int in_fd, out_fd, err_fd; /* our ends; -1 when closed */
    int wake[2];               /* wakes the reader when close must not wait for EOF */
    pthread_t reader;
    pthread_mutex_t mu;  /* pid state, flags, in_fd */
    pthread_mutex_t wmu; /* serialises writes */
    pthread_cond_t cv;
    bool stopping, reaped, closing;
    dmcp__child_end why;
    int status;
    atomic_int busy;         /* requests in flight (no lock: on every request) */
    atomic_llong last_ms;    /* last traffic, CLOCK_MONOTONIC ms (likewise) */
    dmcp__childpool *pool;
    dmcp__child *next; /* pool list */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void touch(dmcp__child *c)
{
    atomic_store_explicit(&c->last_ms, now_ms(), memory_order_relaxed);
}

/* ---- stderr sanitiser ---- */

static bool b64u(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '=' || ch == '+' || ch == '/';
}

void dmcp__child_sanitize(const char *in, size_t len, char *out, size_t cap)
{
    static const char red[] = "[redacted]";
    size_t o = 0, i = 0;
    if (cap == 0)
        return;
    while (i < len && o + 1 < cap) {
        /* "Bearer <credential>" (any case): the credential goes. */
        if (len - i > 7 && strncasecmp(in + i, "bearer ", 7) == 0) {
            size_t j = i + 7;
            while (j < len && in[j] == ' ')
                j++;
            size_t k = j;
            while (k < len && (b64u(in[k]) || in[k] == '.' || in[k] == '~'))
                k++;
            if (k > j) {
                size_t n = (size_t)(j - i);
                if (o + n + sizeof red < cap) {
                    memcpy(out + o, in + i, n);
                    o += n;
                    memcpy(out + o, red, sizeof red - 1);
                    o += sizeof red - 1;
                } else {
                    break;
                }
                i = k;
                continue;
            }
        }
        /* A run of base64url and dots with two dots and 16+ bytes: a JWS/JWE compact form. */
        if (b64u(in[i]) && (i == 0 || !(b64u(in[i - 1]) || in[i - 1] == '.'))) {
            size_t k = i, dots = 0;
            while (k < len && (b64u(in[k]) || in[k] == '.'))
                dots += in[k++] == '.';
            if (dots >= 2 && k - i >= 16 && len - i > 3 && strncmp(in + i, "eyJ", 3) == 0) {
                if (o + sizeof red >= cap)
                    break;
                memcpy(out + o, red, sizeof red - 1);
                o += sizeof red - 1;
                i = k;
                continue;
            }
        }
        unsigned char ch = (unsigned char)in[i++];
        out[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    out[o] = '\0';
}

/* ---- process state ---- */

/* Under c->mu: signal the group while the pid is still ours (not reaped, so not reusable). */
static void signal_locked(dmcp__child *c, int sig)
{
    if (!c->reaped && c->pid > 0)
        kill(-c->pid, sig);
}

/* Under c->mu: reap if it has ended. The group is killed while the leader is still a zombie
 * (WNOWAIT), so its id cannot have been reused: whatever it left in its group goes with it. */
static bool try_reap_locked(dmcp__child *c)
{
    if (c->reaped)
        return true;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno != ECHILD)
            return false;
        c->reaped = true; /* someone else reaped it (SIGCHLD ignored): it is gone */
        c->status = 0;
    } else {
        if (si.si_pid != c->pid)
            return false;
        kill(-c->pid, SIGKILL);
        int st = 0;
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR) {
        }
        c->reaped = true;
        c->status = st;
    }
    pthread_cond_broadcast(&c->cv);
    return true;
}

/* Waits up to ms for the child to be reaped (polling waitpid; a child has no fd to poll). */
static bool wait_reaped(dmcp__child *c, int ms)
{
    long long end = now_ms() + ms;
    int step = 1;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        bool done = try_reap_locked(c);
        pthread_mutex_unlock(&c->mu);
        if (done)
            return true;
        if (ms >= 0 && now_ms() >= end)
            return false;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        if (step < 20)
            step *= 2;
    }
}

static void close_stdin_locked(dmcp__child *c)
{
    if (c->in_fd >= 0) {
        close(c->in_fd);
        c->in_fd = -1;
    }
}

void dmcp__child_stop(dmcp__child *c, dmcp__child_end why)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->wmu); /* no write half-way while stdin goes */
    pthread_mutex_lock(&c->mu);
    if (!c->stopping) {
        c->stopping = true;
        c->why = why;
        close_stdin_locked(c);
        signal_locked(c, SIGTERM);
    }
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&c->wmu);
}

/* ---- reader thread ---- */

static void default_stderr(dmcp__child *c, const char *line)
{
    fprintf(stderr, "gateway: child %ld: %s\n", (long)c->pid, line);
}

static void emit_stderr(dmcp__child *c, const char *line, size_t len)
{
    char clean[DMCP_CHILD_STDERR_LINE + 1];
    dmcp__child_sanitize(line, len, clean, sizeof clean);
    if (c->o.on_stderr)
        c->o.on_stderr(c->o.ud, clean);
    else
        default_stderr(c, clean);
}

static void out_line(void *ud, const char *line, size_t len)
{
    dmcp__child *c = ud;
    touch(c);
    c->o.on_line(c->o.ud, line, len);
}

static void err_line(void *ud, const char *line, size_t len)
{
    emit_stderr(ud, line, len);
}

static void *reader_main(void *arg)
{
    dmcp__child *c = arg;
    dmcp__lines out = {.max = c->o.max_line}, err = {.max = DMCP_CHILD_STDERR_LINE};
    char *chunk = malloc(65536);
    bool out_open = chunk != NULL, err_open = true, oversize = false;
    while (out_open) {
        struct pollfd pf[3] = {{c->out_fd, POLLIN, 0},
                               {err_open ? c->err_fd : -1, POLLIN, 0},
                               {c->wake[0], POLLIN, 0}};
        int r = poll(pf, 3, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[2].revents)
            break;
        if (pf[1].revents) {
            ssize_t k = read(c->err_fd, chunk, 65536);
            if (k > 0) {
                if (dmcp__lines_feed(&err, chunk, (size_t)k, false, err_line, c) != DMCP_OK)
                    err_open = false; /* out of memory: stop reading it, not the child */
            } else if (k == 0 || (errno != EINTR && errno != EAGAIN))
                err_open = false;
        }
        if (pf[0].revents) {
            ssize_t k = read(c->out_fd, chunk, 65536);
            if (k > 0) {
                if (dmcp__lines_feed(&out, chunk, (size_t)k, true, out_line, c) != DMCP_OK) {
                    oversize = true;
                    break;
                }
            } else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
                out_open = false;
            }
        }
    }
    if (oversize) {
        pthread_mutex_lock(&c->mu);
        bool first = !c->stopping;
        pthread_mutex_unlock(&c->mu);
        static const char msg[] =
            "(gateway) the child wrote a stdout line over the cap; stopping it";
        if (first)
            emit_stderr(c, msg, sizeof msg - 1);
        dmcp__child_stop(c, DMCP_CHILD_OVERSIZE);
    }
    /* What it said last on stderr often explains a crash: read what is already there. */
    if (err_open && chunk) {
        int fl = fcntl(c->err_fd, F_GETFL);
        if (fl >= 0)
            fcntl(c->err_fd, F_SETFL, fl | O_NONBLOCK);
        for (int i = 0; i < 64; i++) {
            ssize_t k = read(c->err_fd, chunk, 65536);
            if (k <= 0)
                break;
            if (dmcp__lines_feed(&err, chunk, (size_t)k, false, err_line, c) != DMCP_OK)
                break;
        }
    }
    if (err.n > 0)
        emit_stderr(c, err.b, err.n);
    free(chunk);
    free(out.b);
    free(err.b);

    /* stdout is gone: the child is ending or must end. */
    pthread_mutex_lock(&c->mu);
    bool closing = c->closing;
    if (!c->stopping) {
        c->stopping = true;
        c->why = DMCP_CHILD_EXITED;
    }
    pthread_mutex_unlock(&c->mu);
    if (closing) {
        wait_reaped(c, -1); /* close escalates */
    } else if (!wait_reaped(c, c->o.grace_ms)) {
        pthread_mutex_lock(&c->mu);
        signal_locked(c, SIGTERM);
        pthread_mutex_unlock(&c->mu);
        if (!wait_reaped(c, c->o.grace_ms)) {
            pthread_mutex_lock(&c->mu);
            signal_locked(c, SIGKILL);
            pthread_mutex_unlock(&c->mu);
            wait_reaped(c, -1);
        }
    }
    pthread_mutex_lock(&c->mu);
    dmcp__child_end why = c->why;
    int st = c->status;
    pthread_mutex_unlock(&c->mu);
    if (c->o.on_exit)
        c->o.on_exit(c->o.ud, why, st);
    return NULL;
}

/* ---- spawn / send / close ---- */

static void free_child(dmcp__child *c)
{
    if (c->argv) {
        for (char **a = c->argv; *a; a++)
            free(*a);
        free(c->argv);
    }
    int fds[] = {c->in_fd, c->out_fd, c->err_fd, c->wake[0], c->wake[1]};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->wmu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

dmcp_status dmcp__child_spawn(const dmcp__child_opts *o, dmcp__child **out)
{
    if (!out)
        return DMCP_E_INVALID_ARG;
    *out = NULL;
    if (!o || !o->argv || !o->argv[0] || !o->argv[0][0] || !o->on_line)
        return DMCP_E_INVALID_ARG;
    size_t argc = 0;
    while (o->argv[argc])
        if (++argc > DMCP_CHILD_MAX_ARGS)
            return DMCP_E_INVALID_ARG;

    dmcp__child *c = calloc(1, sizeof *c);
    if (!c)
        return DMCP_E_NOMEM;
    atomic_init(&c->busy, 0);
    atomic_init(&c->last_ms, 0);
    c->o = *o;
    if (c->o.max_line == 0)
        c->o.max_line = DMCP_CHILD_DEFAULT_MAX_LINE;
    if (c->o.max_line > DMCP_CHILD_MAX_LINE_LIMIT)
        c->o.max_line = DMCP_CHILD_MAX_LINE_LIMIT;
    if (c->o.grace_ms <= 0)
        c->o.grace_ms = DMCP_CHILD_DEFAULT_GRACE_MS;
    if (c->o.write_timeout_ms <= 0)
        c->o.write_timeout_ms = DMCP_CHILD_DEFAULT_WRITE_TIMEOUT_MS;
    c->in_fd = c->out_fd = c->err_fd = c->wake[0] = c->wake[1] = -1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->wmu, NULL);
    pthread_cond_init(&c->cv, NULL);
    touch(c);
    c->argv = calloc(argc + 1, sizeof *c->argv);
    if (!c->argv)
        goto nomem;
    for (size_t i = 0; i < argc; i++)
        if (!(c->argv[i] = strdup(o->argv[i])))
            goto nomem;

    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC) ||
        pipe2(c->wake, O_CLOEXEC)) {
        int fds[] = {pin[0], pin[1], pout[0], pout[1], perr[0], perr[1]};
        for (size_t i = 0; i < 6; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        free_child(c);
        return DMCP_E_IO;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Nothing of ours but the three pipes: not a socket, not a key file. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawnp(&c->pid, c->argv[0], &fa, &at, c->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    c->in_fd = pin[1];
    c->out_fd = pout[0];
    c->err_fd = perr[0];
    if (rc != 0) {
        c->pid = 0;
        free_child(c);
        return DMCP_E_IO;
    }
    /* Writes are bounded by write_timeout_ms (poll), never stuck on a child that stopped reading.
     */
    int fl = fcntl(c->in_fd, F_GETFL);
    if (fl >= 0)
        fcntl(c->in_fd, F_SETFL, fl | O_NONBLOCK);
    if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
        kill(-c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        free_child(c);
        return DMCP_E_NOMEM;
    }
    *out = c;
    return DMCP_OK;
nomem:
    free_child(c);
    return DMCP_E_NOMEM;
}

/* SIGPIPE is blocked on a thread that writes to a child the first time it does, and stays
 * blocked: the threads that forward are the runtime's own, and a block and an unblock around
 * every write were two system calls per message. A SIGPIPE a failed write leaves pending is
 * consumed right after it, so a dead child never kills the gateway. */
static _Thread_local bool pipe_blocked;

static void block_sigpipe(void)
{
    if (pipe_blocked)
        return;
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pipe_blocked = pthread_sigmask(SIG_BLOCK, &pipe_set, NULL) == 0;
}

/* Writes the message and its newline to the non-blocking stdin within the deadline, in one
 * system call when the pipe has room (one wake-up of the child per message). full_gives_up:
 * DMCP_E_STATE, nothing written, when the pipe is full at the first attempt. */
static dmcp_status write_all(dmcp__child *c, const char *buf, size_t n, long long deadline,
                             bool full_gives_up)
{
    block_sigpipe();
    struct iovec iov[2] = {{(void *)buf, n}, {(void *)"\n", 1}};
    struct iovec *v = iov;
    int nv = 2;
    dmcp_status st = DMCP_OK;
    bool wrote = false;
    while (nv > 0) {
        ssize_t k = writev(c->in_fd, v, nv);
        if (k > 0)
            wrote = true;
        if (k >= 0) {
            size_t done = (size_t)k;
            while (nv > 0 && done >= v->iov_len) {
                done -= v->iov_len;
                v++;
                nv--;
            }
            if (nv > 0) {
                v->iov_base = (char *)v->iov_base + done;
                v->iov_len -= done;
            }
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (full_gives_up && !wrote)
                return DMCP_E_STATE;
            long long left = deadline - now_ms();
            if (left <= 0) {
                st = DMCP_E_TIMEOUT;
                break;
            }
            struct pollfd pf = {c->in_fd, POLLOUT, 0};
            poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
            continue;
        }
        st = DMCP_E_IO;
        break;
    }
    if (st == DMCP_E_IO && pipe_blocked) {
        sigset_t pipe_set, pend;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigpending(&pend);
        if (sigismember(&pend, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipe_set, NULL, &zero);
        }
    }
    return st;
}

#define NOWAIT_LOCK_MS 50 /* dmcp__child_send_nowait: longest wait for another writer */

/* Room for n more bytes in the child's stdin pipe right now (sure with wmu held). */
static bool pipe_room(const dmcp__child *c, size_t n)
{
    int used = 0;
    int cap = fcntl(c->in_fd, F_GETPIPE_SZ);
    return cap > 0 && ioctl(c->in_fd, FIONREAD, &used) == 0 && used >= 0 && used <= cap &&
           (size_t)(cap - used) >= n;
}

static dmcp_status send_line(dmcp__child *c, const char *msg, size_t len, bool wait)
{
    if (!c || (!msg && len))
        return DMCP_E_INVALID_ARG;
    if (len > c->o.max_line)
        return DMCP_E_TOO_LARGE;
    if (memchr(msg, '\n', len) || memchr(msg, '\r', len))
        return DMCP_E_INVALID_ARG;
    if (wait) {
        pthread_mutex_lock(&c->wmu);
    } else if (pthread_mutex_trylock(&c->wmu) != 0) {
        /* A writer stuck on a full pipe holds wmu: the room, read without it, says so at
         * once; another writer's short write is waited for, briefly. */
        pthread_mutex_lock(&c->mu); /* in_fd is closed under it */
        bool room = !c->stopping && c->in_fd >= 0 && pipe_room(c, len + 1);
        pthread_mutex_unlock(&c->mu);
        if (!room)
            return DMCP_E_STATE;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += NOWAIT_LOCK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (pthread_mutex_timedlock(&c->wmu, &until) != 0)
            return DMCP_E_STATE;
    }
    pthread_mutex_lock(&c->mu);
    bool ok = !c->stopping && c->in_fd >= 0;
    if (ok)
        touch(c);
    pthread_mutex_unlock(&c->mu);
    /* Not waiting: a line of at most PIPE_BUF bytes is written whole or not at all (POSIX),
     * so one attempt tells; a longer one is written only when the pipe has room for it. */
    if (!ok || (!wait && len + 1 > PIPE_BUF && !pipe_room(c, len + 1))) {
        pthread_mutex_unlock(&c->wmu);
        return DMCP_E_STATE;
    }
    long long deadline = now_ms() + c->o.write_timeout_ms;
    dmcp_status st = write_all(c, msg, len, deadline, !wait);
    pthread_mutex_unlock(&c->wmu);
    if (st != DMCP_OK && st != DMCP_E_STATE)
        dmcp__child_stop(c, DMCP_CHILD_WRITE_FAIL);
    return st;
}

dmcp_status dmcp__child_send(dmcp__child *c, const char *msg, size_t len)
{
    return send_line(c, msg, len, true);
}

dmcp_status dmcp__child_send_nowait(dmcp__child *c, const char *msg, size_t len)
{
    return send_line(c, msg, len, false);
}

bool dmcp__child_alive(const dmcp__child *c)
{
    if (!c)
        return false;
    dmcp__child *m = (dmcp__child *)c;
    pthread_mutex_lock(&m->mu);
    bool alive = !m->stopping && !m->reaped;
    pthread_mutex_unlock(&m->mu);
    return alive;
}

pid_t dmcp__child_pid(const dmcp__child *c)
{
    return c ? c->pid : 0;
}

void dmcp__child_busy(dmcp__child *c, int delta)
{
    if (!c)
        return;
    atomic_fetch_add(&c->busy, delta);
    touch(c);
}

void dmcp__child_close(dmcp__child *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->wmu);
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    if (!c->stopping) {
        c->stopping = true;
        c->why = DMCP_CHILD_CLOSED;
    }
    close_stdin_locked(c); /* a stdio server exits on EOF */
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&c->wmu);
    if (!wait_reaped(c, c->o.grace_ms)) {
        pthread_mutex_lock(&c->mu);
        signal_locked(c, SIGTERM);
        pthread_mutex_unlock(&c->mu);
        if (!wait_reaped(c, c->o.grace_ms)) {
            pthread_mutex_lock(&c->mu);
            signal_locked(c, SIGKILL);
            pthread_mutex_unlock(&c->mu);
            wait_reaped(c, -1);
        }
    }
    /* Reaped. A grandchild outside the group could still hold stdout open: do not wait on it. */
    ssize_t w = write(c->wake[1], "x", 1);
    (void)w;
    pthread_join(c->reader, NULL);
    free_child(c);
}

/* ---- pool ---- */

struct dmcp__childpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned max, count, idle_ms;
    dmcp__child *list;
    pthread_t reaper;
    bool has_reaper, quit;
};

static void *reaper_main(void *arg)
{
    dmcp__childpool *p = arg;
    unsigned every = p->idle_ms / 4;
    if (every < 10)
        every = 10;
    if (every > 1000)
        every = 1000;
    pthread_mutex_lock(&p->mu);
    while (!p->quit) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += every / 1000;
        ts.tv_nsec += (long)(every % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->quit)
            break;
        for (dmcp__child *c = p->list; c; c = c->next) {
            pthread_mutex_lock(&c->mu);
            long long idle = now_ms() - atomic_load(&c->last_ms);
            bool reap = !c->stopping && atomic_load(&c->busy) <= 0 && idle >= (long long)p->idle_ms;
            pthread_mutex_unlock(&c->mu);
            if (reap)
                dmcp__child_stop(c, DMCP_CHILD_IDLE);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

dmcp__childpool *dmcp__childpool_new(unsigned max_children, unsigned idle_ms)
{
    dmcp__childpool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->max = max_children;
    p->idle_ms = idle_ms;
    if (idle_ms > 0) {
        if (pthread_create(&p->reaper, NULL, reaper_main, p) != 0) {
            pthread_mutex_destroy(&p->mu);
            pthread_cond_destroy(&p->cv);
            free(p);
            return NULL;
        }
        p->has_reaper = true;
    }
    return p;
}

dmcp_status dmcp__childpool_spawn(dmcp__childpool *p, const dmcp__child_opts *o, dmcp__child **out)
{
    if (!p || !out)
        return DMCP_E_INVALID_ARG;
    *out = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->max && p->count >= p->max) {
        pthread_mutex_unlock(&p->mu);
        return DMCP_E_RATE_LIMITED;
    }
    p->count++; /* the slot is held while spawning */
    pthread_mutex_unlock(&p->mu);
    dmcp__child *c = NULL;
    dmcp_status st = dmcp__child_spawn(o, &c);
    pthread_mutex_lock(&p->mu);
    if (st != DMCP_OK) {
        p->count--;
    } else {
        c->pool = p;
        c->next = p->list;
        p->list = c;
        *out = c;
    }
    pthread_mutex_unlock(&p->mu);
    return st;
}

void dmcp__childpool_release(dmcp__childpool *p, dmcp__child *c)
{
    if (!p || !c)
        return;
    pthread_mutex_lock(&p->mu);
    for (dmcp__child **pp = &p->list; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            p->count--;
            break;
        }
    pthread_mutex_unlock(&p->mu);
    dmcp__child_close(c);
}

unsigned dmcp__childpool_count(dmcp__childpool *p)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    unsigned n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void dmcp__childpool_free(dmcp__childpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->has_reaper)
        pthread_join(p->reaper, NULL);
    while (p->list)
        dmcp__childpool_release(p, p->list);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
