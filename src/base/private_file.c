#include "private_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

/* "WHAT " before a path, or nothing */
#define WHAT_FMT        "%s%s%s"
#define WHAT_ARGS(w, p) (w), *(w) ? " " : "", (p)

static err_kind open_kind(int errnum)
{
    return errnum == ENOENT || errnum == EACCES || errnum == ENOTDIR || errnum == ELOOP ? ERR_USAGE
                                                                                        : ERR_FAIL;
}

int private_file_refuse_mode(const char *what, const char *path, mode_t mode)
{
    if (!(mode & 077))
        return 0;
    return err_set(ERR_USAGE,
                   WHAT_FMT " is readable by group or others (mode %04o); run chmod 600 %s",
                   WHAT_ARGS(what, path), (unsigned)(mode & 07777), path);
}

static int check_stat(const char *what, const char *path, const struct stat *st, size_t max)
{
    if (!S_ISREG(st->st_mode))
        return err_set(ERR_USAGE, WHAT_FMT " is not a regular file", WHAT_ARGS(what, path));
    if ((unsigned long long)st->st_size > max)
        return err_set(ERR_USAGE, WHAT_FMT " is too large (%lld bytes, at most %zu bytes)",
                       WHAT_ARGS(what, path), (long long)st->st_size, max);
    return 0;
}

int private_file_check(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return err_sys(open_kind(errno), errno, WHAT_FMT, WHAT_ARGS(what, path));
    if (check_stat(what, path, &st, SIZE_MAX) < 0)
        return -1;
    return private_file_refuse_mode(what, path, st.st_mode);
}

void private_file_free(char *buf, unsigned flags)
{
    if (!buf)
        return;
    if (flags & PRIVATE_FILE_SECRET)
        sodium_free(buf);
    else
        free(buf);
}

char *private_file_read(const char *what, const char *path, size_t max, unsigned flags, size_t *len,
                        mode_t *mode)
{
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_sys(open_kind(errno), errno, "cannot open " WHAT_FMT, WHAT_ARGS(what, path));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err_sys(ERR_FAIL, errno, "cannot stat " WHAT_FMT, WHAT_ARGS(what, path));
        goto fail;
    }
    if (check_stat(what, path, &st, max) < 0)
        goto fail;
    if ((flags & PRIVATE_FILE_SECRET) && !mode &&
        private_file_refuse_mode(what, path, st.st_mode) < 0)
        goto fail;
    if (mode)
        *mode = st.st_mode;
    /* sodium_malloc needs sodium_init (idempotent) */
    if ((flags & PRIVATE_FILE_SECRET) && sodium_init() < 0) {
        err_set(ERR_FAIL, "libsodium cannot be initialised");
        goto fail;
    }
    buf = (flags & PRIVATE_FILE_SECRET) ? sodium_malloc(max + 1) : malloc(max + 1);
    if (!buf) {
        err_set(ERR_FAIL, "out of memory reading " WHAT_FMT, WHAT_ARGS(what, path));
        goto fail;
    }
    size_t got = 0;
    for (;;) { /* to the end: the file may have grown since the fstat */
        ssize_t n = read(fd, buf + got, max + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_sys(ERR_FAIL, errno, "cannot read " WHAT_FMT, WHAT_ARGS(what, path));
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > max) {
            err_set(ERR_USAGE, WHAT_FMT " is too large (more than %zu bytes)",
                    WHAT_ARGS(what, path), max);
            goto fail;
        }
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
fail:
    private_file_free(buf, flags);
    close(fd);
    return NULL;
}
