/* The command-line path of the validation benchmark (see cli_run.h). */
#define _GNU_SOURCE
#include "cli_run.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void cli_die(const char *what)
{
    fprintf(stderr, "bench_validate: CLI run: %s%s%s\n", what, errno != 0 ? ": " : "",
            errno != 0 ? strerror(errno) : "");
    exit(1);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            cli_die("write to the command's stdin");
        }
        p += w;
        len -= (size_t)w;
    }
}

static void temp_file(char *path, size_t size, const char *what)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, size, "%s/bench-cli-%s-XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp",
             what);
    int fd = mkstemp(path);
    if (fd < 0) {
        cli_die("mkstemp");
    }
    close(fd);
}

void cli_bench_init(cli_bench *cb, const char *cli, const char *issuer, const char *audience,
                    const char *jwks, char *const *tokens, size_t n)
{
    memset(cb, 0, sizeof(*cb));
    cb->cli = cli;
    cb->issuer = issuer;
    cb->audience = audience;
    cb->n = n;
    temp_file(cb->jwks_path, sizeof(cb->jwks_path), "jwks");
    temp_file(cb->out_path, sizeof(cb->out_path), "out");
    FILE *f = fopen(cb->jwks_path, "w");
    if (f == NULL || fputs(jwks, f) < 0 || fclose(f) != 0) {
        cli_die("writing the JWKS file");
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += strlen(tokens[i]) + 1;
    }
    cb->input = malloc(total);
    if (cb->input == NULL) {
        cli_die("out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(tokens[i]);
        memcpy(cb->input + cb->input_len, tokens[i], l);
        cb->input[cb->input_len + l] = '\n';
        cb->input_len += l + 1;
    }
    /* A command that dies early must fail the run, not kill the benchmark. */
    signal(SIGPIPE, SIG_IGN);
}

/* Every result line is a valid-token object; the first answers the empty warm-up line. */
static void check_output(const cli_bench *cb)
{
    static const char warm[] = "{\"error\":\"invalid_token\",\"error_description\":\"Invalid "
                               "token\"}\n";
    static const char valid[] = "{\"user_id\":";
    FILE *f = fopen(cb->out_path, "r");
    if (f == NULL) {
        cli_die("reading the output file");
    }
    char *line = NULL;
    size_t cap = 0;
    size_t lines = 0;
    ssize_t got;
    errno = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        int ok = lines == 0 ? strcmp(line, warm) == 0
                            : strncmp(line, valid, sizeof(valid) - 1) == 0 && line[got - 1] == '\n';
        if (!ok) {
            fprintf(stderr, "bench_validate: CLI result line %zu is not what was expected\n",
                    lines + 1);
            exit(1);
        }
        lines++;
    }
    free(line);
    fclose(f);
    if (lines != cb->n + 1) {
        fprintf(stderr, "bench_validate: CLI gave %zu result lines for %zu input lines\n", lines,
                cb->n + 1);
        exit(1);
    }
}

double cli_bench_run(const cli_bench *cb)
{
    int in[2];
    int out = open(cb->out_path, O_RDWR | O_TRUNC | O_CLOEXEC);
    if (out < 0 || pipe2(in, O_CLOEXEC) != 0) {
        cli_die("pipe or output file");
    }
    pid_t pid = fork();
    if (pid < 0) {
        cli_die("fork");
    }
    if (pid == 0) {
        if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0) {
            _exit(126);
        }
        execl(cb->cli, cb->cli, "validate", "--jwks-file", cb->jwks_path, "--issuer", cb->issuer,
              "--audience", cb->audience, "--batch", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    /* The command keeps the measurement core (inherited). The feeder, like `cat tokens |` in a
     * shell, runs on another core while it writes, so its writes and the pipe's wake-ups are
     * not charged to the command's single core. */
    cpu_set_t mine, other;
    bool moved = false;
    if (sched_getaffinity(0, sizeof(mine), &mine) == 0 && CPU_COUNT(&mine) == 1) {
        CPU_ZERO(&other);
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        for (size_t c = 0; (long)c < ncpu && c < CPU_SETSIZE; c++) {
            if (!CPU_ISSET(c, &mine)) {
                CPU_SET(c, &other);
            }
        }
        moved = CPU_COUNT(&other) > 0 && sched_setaffinity(0, sizeof(other), &other) == 0;
    }

    /* Warm-up: an empty line; its answer appears once the command is up and waiting. */
    write_all(in[1], "\n", 1);
    double deadline = mono_s() + 30;
    struct stat st;
    do {
        const struct timespec pause = {0, 100 * 1000};
        if (fstat(out, &st) != 0) {
            cli_die("fstat");
        }
        if (st.st_size > 0) {
            break;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            errno = 0;
            cli_die("the command exited before answering the warm-up line");
        }
        nanosleep(&pause, NULL);
    } while (mono_s() < deadline);
    if (st.st_size == 0) {
        errno = 0;
        cli_die("no answer to the warm-up line within 30 s");
    }

    double t0 = mono_s();
    write_all(in[1], cb->input, cb->input_len);
    close(in[1]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            cli_die("waitpid");
        }
    }
    double t1 = mono_s();
    if (moved) {
        (void)sched_setaffinity(0, sizeof(mine), &mine);
    }
    close(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_validate: %s validate --batch failed (status %d)\n", cb->cli,
                status);
        exit(1);
    }
    check_output(cb);
    return (double)cb->n / (t1 - t0);
}

void cli_bench_free(cli_bench *cb)
{
    unlink(cb->jwks_path);
    unlink(cb->out_path);
    free(cb->input);
    memset(cb, 0, sizeof(*cb));
}
