#include "local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "err.h"

typedef struct {
    char *dir;
} local_remote;

typedef struct {
    int fd;
    char *path;
} local_reader;

static char *join(const local_remote *lr, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", lr->dir, name) < 0) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    return p;
}

static void *local_open(const local_params *rc)
{
    struct stat st;
    if (!rc->path || !*rc->path) {
        err_set(ERR_USAGE, "no path configured");
        return NULL;
    }
    if (stat(rc->path, &st) < 0) {
        err_sys(ERR_FAIL, errno, "directory %s", rc->path);
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        err_set(ERR_FAIL, "%s is not a directory", rc->path);
        return NULL;
    }
    local_remote *lr = calloc(1, sizeof *lr);
    if (!lr || !(lr->dir = strdup(rc->path))) {
        free(lr);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    return lr;
}

static void local_close(void *impl)
{
    local_remote *lr = impl;
    free(lr->dir);
    free(lr);
}

static void *local_writer_open(void *impl, const char *name, uint64_t size_hint)
{
    (void)size_hint;
    char *path = join(impl, name);
    if (!path)
        return NULL;
    struct stat st;
    atomic_file *f = NULL;
    if (lstat(path, &st) == 0)
        err_set(ERR_FAIL, "%s already exists (written meanwhile by another run?); not replaced",
                path);
    else
        f = atomic_file_create(path, 0600);
    free(path);
    return f;
}

static int local_writer_write(void *w, const void *buf, size_t len)
{
    return atomic_file_write(w, buf, len);
}

static int local_writer_commit(void *w)
{
    return atomic_file_commit(w);
}

static void local_writer_abort(void *w)
{
    atomic_file_abort(w);
}

static void *local_reader_open(void *impl, const char *name, uint64_t offset)
{
    local_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = join(impl, name))) {
        free(r);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    /* objects are regular files of the directory: a planted link is not one */
    r->fd = open(r->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (r->fd < 0) {
        err_sys(ERR_FAIL, errno, "cannot open %s", r->path);
        goto fail;
    }
    struct stat st;
    if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err_set(ERR_FAIL, "cannot open %s: not a regular file", r->path);
        goto fail;
    }
    if (offset && lseek(r->fd, (off_t)offset, SEEK_SET) < 0) {
        err_sys(ERR_FAIL, errno, "cannot seek %s", r->path);
        goto fail;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return r;
fail:
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r);
    return NULL;
}

static ssize_t local_reader_read(void *impl, void *buf, size_t len)
{
    local_reader *r = impl;
    for (;;) {
        ssize_t n = read(r->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return err_sys(ERR_FAIL, errno, "cannot read %s", r->path);
    }
}

static void local_reader_close(void *impl)
{
    local_reader *r = impl;
    close(r->fd);
    free(r->path);
    free(r);
}

static int fill_entry(const char *name, const struct stat *st, backend_entry *e)
{
    char target[2];
    e->name = strdup(name);
    if (!e->name)
        return err_set(ERR_FAIL, "out of memory");
    e->size = (uint64_t)st->st_size;
    e->mtime = st->st_mtime;
    e->incomplete = backend_temp_target(name, target, sizeof target);
    e->upload_id = NULL;
    return 0;
}

static int local_list(void *impl, const char *prefix, backend_entry **out, size_t *n)
{
    local_remote *lr = impl;
    DIR *d = opendir(lr->dir);
    if (!d)
        return err_sys(ERR_FAIL, errno, "cannot list %s", lr->dir);
    size_t cap = 0;
    struct dirent *de;
    size_t plen = strlen(prefix);
    while ((errno = 0, de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, plen) != 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            backend_entry *ne = realloc(*out, cap * sizeof *ne);
            if (!ne)
                goto oom;
            *out = ne;
        }
        if (fill_entry(de->d_name, &st, &(*out)[*n]) < 0)
            goto fail;
        (*n)++;
    }
    if (errno) {
        err_sys(ERR_FAIL, errno, "cannot list %s", lr->dir);
        goto fail;
    }
    closedir(d);
    return 0;
oom:
    err_set(ERR_FAIL, "out of memory");
fail:
    closedir(d);
    backend_entries_free(*out, *n);
    *out = NULL;
    *n = 0;
    return -1;
}

static int local_stat(void *impl, const char *name, backend_entry *out)
{
    char *path = join(impl, name);
    if (!path)
        return -1;
    struct stat st;
    int rc = lstat(path, &st);
    if (rc < 0 && errno == ENOENT) {
        free(path);
        return 0;
    }
    if (rc < 0) {
        err_sys(ERR_FAIL, errno, "cannot stat %s", path);
        free(path);
        return -1;
    }
    free(path);
    return fill_entry(name, &st, out) < 0 ? -1 : 1;
}

static int local_remove(void *impl, const char *name)
{
    char *path = join(impl, name);
    if (!path)
        return -1;
    int rc = 0;
    if (unlink(path) < 0 && errno != ENOENT)
        rc = err_sys(ERR_FAIL, errno, "cannot remove %s", path);
    else
        rc = atomic_file_sync_dir(path);
    free(path);
    return rc;
}

static int local_remove_incomplete(void *impl, const backend_entry *e)
{
    return local_remove(impl, e->name);
}

static int local_probe(void *impl)
{
    const local_remote *lr = impl;
    return atomic_file_probe_dir(lr->dir);
}

const backend_ops local_backend_ops = {
    .type = "local",
    .close = local_close,
    .writer_open = local_writer_open,
    .writer_write = local_writer_write,
    .writer_commit = local_writer_commit,
    .writer_abort = local_writer_abort,
    .reader_open = local_reader_open,
    .reader_read = local_reader_read,
    .reader_close = local_reader_close,
    .list = local_list,
    .stat = local_stat,
    .remove = local_remove,
    .remove_incomplete = local_remove_incomplete,
    .probe = local_probe,
};

backend *local_backend_open(const local_params *p)
{
    return backend_wrap(&local_backend_ops, p->name, local_open(p));
}
