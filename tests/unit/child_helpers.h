/* Helpers of the unit tests that run child processes (test_child.c,
 * test_neo4j.c): reading files and streams whole, timing, watching a
 * process group go, capturing the log.  Include after cmocka.h. */
#ifndef N4O_TEST_CHILD_HELPERS_H
#define N4O_TEST_CHILD_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The whole file PATH, NUL-terminated, *LEN bytes; NULL when it cannot be
 * opened. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            assert_non_null(nb);
            buf = nb;
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Everything READER gives from SRC until its EOF, NUL-terminated, *LEN bytes;
 * NULL (err set) when a read fails. */
static inline char *read_to_eof(ssize_t (*reader)(void *src, void *buf, size_t len), void *src,
                                size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (cap - n < 4096) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            assert_non_null(nb);
            buf = nb;
        }
        ssize_t r = reader(src, buf + n, cap - n);
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* True when no process of group PGID is left within 2 s.  The tests are
 * subreapers, so orphaned members are their children: reap their zombies
 * first. */
static inline int group_gone(pid_t pgid)
{
    for (int i = 0; i < 200; i++) {
        while (waitpid(-pgid, NULL, WNOHANG) > 0)
            ;
        if (kill(-pgid, 0) < 0 && errno == ESRCH)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* Our stderr while capture_stderr() holds it. */
static inline int *saved_stderr(void)
{
    static int fd = -1;
    return &fd;
}

/* stderr (the log) into the file PATH until restore_stderr(). */
static inline void capture_stderr(const char *path)
{
    fflush(stderr);
    *saved_stderr() = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
}
static inline void restore_stderr(void)
{
    fflush(stderr);
    dup2(*saved_stderr(), 2);
    close(*saved_stderr());
}

/* The group setup of these tests: a fresh directory DIR (DIR_SIZE bytes)
 * "/tmp/n4o-test-NAME-XXXXXX", our PATH copied into SAVED_PATH (tests change
 * it), and this process a subreaper, so that orphaned grandchildren become
 * ours and group_gone() reaps them instead of depending on what PID 1 does.
 * 0, or -1. */
static inline int child_tests_setup(char *dir, size_t dir_size, const char *name, char *saved_path,
                                    size_t path_size)
{
    snprintf(dir, dir_size, "/tmp/n4o-test-%s-XXXXXX", name);
    if (!mkdtemp(dir))
        return -1;
    if (getenv("PATH"))
        snprintf(saved_path, path_size, "%s", getenv("PATH"));
    return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 ? 0 : -1;
}

/* The group teardown: DIR removed.  0, or -1. */
static inline int child_tests_teardown(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
