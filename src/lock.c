#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

struct run_lock {
    int fd;
};

static int mkdir_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return err_set(ERR_FAIL, "out of memory");
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
            err_sys(ERR_FAIL, errno, "lock file %s: cannot create directory %s", path, copy);
            free(copy);
            return -1;
        }
        *p = '/';
    }
    free(copy);
    return 0;
}

run_lock *lock_acquire(const char *path)
{
    if (mkdir_parent(path) < 0)
        return NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_sys(ERR_FAIL, errno, "cannot open lock file %s", path);
        return NULL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        close(fd);
        if (e == EWOULDBLOCK) {
            long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
            if (pid > 0)
                err_set(ERR_LOCKED, "another run (pid %ld) holds the lock %s", pid, path);
            else
                err_set(ERR_LOCKED, "another run holds the lock %s", path);
        } else {
            err_sys(ERR_FAIL, e, "cannot lock %s", path);
        }
        return NULL;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        err_sys(ERR_FAIL, errno, "cannot write lock file %s", path);
        close(fd);
        return NULL;
    }
    run_lock *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    l->fd = fd;
    return l;
}

void lock_release(run_lock *l)
{
    if (!l)
        return;
    /* Leave the file: unlinking a lock file races with a new run opening it. */
    if (ftruncate(l->fd, 0) < 0) {
        /* nothing to do: the lock itself goes with close() */
    }
    close(l->fd);
    free(l);
}
