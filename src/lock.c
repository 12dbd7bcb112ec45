#include "lock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

#define RECORD_MAX 512 /* a lock file is never larger */

struct run_lock {
    int fd;
    char *path;
    lock_record prev, cur;
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

/* Parse a lock file's text: "PID\n" then "key=value" lines.  -1 when it is
 * not one (then it must not be touched). */
static int parse_record(const char *text, lock_record *r)
{
    memset(r, 0, sizeof *r);
    if (!*text)
        return 0;
    char *end;
    errno = 0;
    long pid = strtol(text, &end, 10);
    if (end == text || pid <= 0 || errno || *end != '\n')
        return -1;
    r->pid = pid;
    const char *p = end + 1;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            return -1;
        char line[128];
        size_t n = (size_t)(nl - p);
        if (n >= sizeof line)
            return -1;
        memcpy(line, p, n);
        line[n] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            return -1;
        *eq++ = '\0';
        if (strcmp(line, "command") == 0) {
            for (const char *c = eq; *c; c++)
                if (!islower((unsigned char)*c))
                    return -1;
            snprintf(r->command, sizeof r->command, "%s", eq);
        } else if (strcmp(line, "stopped") == 0 || strcmp(line, "started") == 0 ||
                   strcmp(line, "ended") == 0) {
            long long t = strtoll(eq, &end, 10);
            if (end == eq || *end || t < 0)
                return -1;
            time_t *f = line[0] == 'e' ? &r->ended : line[2] == 'o' ? &r->stopped : &r->started;
            *f = (time_t)t;
        } else {
            return -1;
        }
        p = nl + 1;
    }
    return 0;
}

static int write_record(run_lock *l)
{
    char buf[RECORD_MAX];
    int len = snprintf(buf, sizeof buf, "%ld\ncommand=%s\n", l->cur.pid, l->cur.command);
    if (l->cur.stopped)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "stopped=%lld\n",
                        (long long)l->cur.stopped);
    if (l->cur.started)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "started=%lld\n",
                        (long long)l->cur.started);
    if (l->cur.ended)
        len +=
            snprintf(buf + len, sizeof buf - (size_t)len, "ended=%lld\n", (long long)l->cur.ended);
    if (pwrite(l->fd, buf, (size_t)len, 0) != len || ftruncate(l->fd, len) < 0 ||
        fdatasync(l->fd) < 0)
        return err_sys(ERR_FAIL, errno, "cannot write lock file %s", l->path);
    return 0;
}

/* Open PATH as a lock file: never through a symlink, never anything but a
 * regular file. */
static int open_lock_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == ELOOP)
            return err_set(ERR_USAGE, "lock file %s is a symbolic link; refusing to follow it",
                           path);
        return err_sys(ERR_FAIL, errno, "cannot open lock file %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(ERR_USAGE, "lock file %s is not a regular file", path);
    }
    return fd;
}

/* The current content, checked to be a lock record. */
static int read_record(int fd, const char *path, lock_record *r)
{
    char text[RECORD_MAX + 1];
    ssize_t n = pread(fd, text, sizeof text, 0);
    if (n < 0)
        return err_sys(ERR_FAIL, errno, "cannot read lock file %s", path);
    text[n < RECORD_MAX ? n : RECORD_MAX] = '\0';
    if (n > RECORD_MAX || (size_t)n != strlen(text) || parse_record(text, r) < 0)
        return err_set(ERR_USAGE,
                       "lock file %s holds other data, not a neo4j-offsite lock: it was left "
                       "untouched; set [general] lock_file to a path of its own",
                       path);
    return 0;
}

run_lock *lock_acquire(const char *path, const char *command)
{
    if (mkdir_parent(path) < 0)
        return NULL;
    int fd = open_lock_file(path);
    if (fd < 0)
        return NULL;
    lock_record rec;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EWOULDBLOCK && read_record(fd, path, &rec) == 0 && rec.pid > 0)
            err_set(ERR_LOCKED, "another run (pid %ld%s%s) holds the lock %s", rec.pid,
                    rec.command[0] ? ", " : "", rec.command, path);
        else if (e == EWOULDBLOCK)
            err_set(ERR_LOCKED, "another run holds the lock %s", path);
        else
            err_sys(ERR_FAIL, e, "cannot lock %s", path);
        close(fd);
        return NULL;
    }
    run_lock *l = calloc(1, sizeof *l);
    if (!l || !(l->path = strdup(path))) {
        free(l);
        close(fd);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    l->fd = fd;
    if (read_record(fd, path, &l->prev) < 0)
        goto fail;
    l->cur.pid = (long)getpid();
    snprintf(l->cur.command, sizeof l->cur.command, "%s", command);
    if (write_record(l) < 0)
        goto fail;
    return l;
fail:
    close(fd);
    free(l->path);
    free(l);
    return NULL;
}

const lock_record *lock_previous(const run_lock *l)
{
    return &l->prev;
}

int lock_note_stopped(run_lock *l)
{
    l->cur.stopped = time(NULL);
    l->cur.started = 0;
    return write_record(l);
}

int lock_note_started(run_lock *l)
{
    l->cur.started = time(NULL);
    return write_record(l);
}

void lock_release(run_lock *l)
{
    if (!l)
        return;
    /* Leave the file: unlinking a lock file races with a new run opening it. */
    if (l->cur.stopped && !l->cur.started) {
        l->cur.ended = time(NULL);
        if (write_record(l) < 0) {
            /* the next run then treats it as killed: the same remedy */
        }
    } else if (ftruncate(l->fd, 0) < 0) {
        /* nothing to do: the lock itself goes with close() */
    }
    close(l->fd);
    free(l->path);
    free(l);
}
