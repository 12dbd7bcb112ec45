#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"

struct atomic_file {
    int fd;
    char *path;
    char *tmp;
    uint64_t size;
};

char *atomic_file_temp_name(const char *name)
{
    uint8_t tag[ATOMIC_FILE_TAG_HEX / 2];
    char hex[ATOMIC_FILE_TAG_HEX + 1];
    char *out;
    randombytes_buf(tag, sizeof tag);
    sodium_bin2hex(hex, sizeof hex, tag, sizeof tag);
    if (asprintf(&out, "%s.%s%s", name, hex, ATOMIC_FILE_SUFFIX) < 0) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    return out;
}

int atomic_file_temp_target(const char *name, char *target, size_t cap)
{
    size_t len = strlen(name), sl = strlen(ATOMIC_FILE_SUFFIX);
    if (len <= sl || strcmp(name + len - sl, ATOMIC_FILE_SUFFIX) != 0)
        return 0;
    size_t base = len - sl;
    /* "<target>.<hex>.partial" */
    size_t tl = ATOMIC_FILE_TAG_HEX + 1;
    if (base > tl && name[base - tl] == '.') {
        size_t i = base - ATOMIC_FILE_TAG_HEX;
        while (i < base &&
               ((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            i++;
        if (i == base)
            base -= tl;
    }
    snprintf(target, cap, "%.*s", (int)base, name);
    return 1;
}

atomic_file *atomic_file_create(const char *path, mode_t mode)
{
    atomic_file *f = calloc(1, sizeof *f);
    if (!f)
        goto oom;
    f->fd = -1;
    f->path = strdup(path);
    if (!f->path || !(f->tmp = atomic_file_temp_name(path)))
        goto oom;
    /* A new file of our own: never an existing one, never through a link
     * someone planted, never more permissive than asked. */
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0700);
    if (f->fd < 0) {
        err_sys(ERR_FAIL, errno, "cannot create %s", f->tmp);
        goto fail;
    }
    return f;
oom:
    err_set(ERR_FAIL, "out of memory");
fail:
    if (f) {
        free(f->path);
        free(f->tmp);
        free(f);
    }
    return NULL;
}

int atomic_file_write(atomic_file *f, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_sys(ERR_FAIL, errno, "cannot write %s", f->tmp);
        }
        p += n;
        len -= (size_t)n;
        f->size += (uint64_t)n;
    }
    return 0;
}

uint64_t atomic_file_size(const atomic_file *f)
{
    return f->size;
}

int atomic_file_rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* Filesystems without RENAME_NOREPLACE (some NFS): link() never
     * replaces, then drop the old name. */
    if (link(from, to) < 0)
        return -1;
    unlink(from);
    return 0;
}

int atomic_file_sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return err_set(ERR_FAIL, "out of memory");
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 || fsync(fd) < 0)
        rc = err_sys(ERR_FAIL, errno, "cannot sync directory %s", dir);
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

int atomic_file_probe_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0)
        return err_sys(ERR_FAIL, errno, "directory %s", dir);
    if (!S_ISDIR(st.st_mode))
        return err_set(ERR_FAIL, "%s is not a directory", dir);
    char *base = NULL, *tmp = NULL;
    if (asprintf(&base, "%s/.write-probe", dir) < 0)
        return err_set(ERR_FAIL, "out of memory");
    tmp = atomic_file_temp_name(base);
    free(base);
    if (!tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0) {
        rc = err_sys(ERR_FAIL, errno, "cannot create files in %s", dir);
    } else {
        /* one byte, on disk: a full disk or a spent quota shows here, not
         * after Neo4j was stopped */
        if (write(fd, "", 1) != 1 || fsync(fd) < 0)
            rc = err_sys(ERR_FAIL, errno, "cannot write files in %s", dir);
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

static void release(atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f->tmp);
    free(f);
}

static int commit(atomic_file *f, int replace)
{
    if (fsync(f->fd) < 0) {
        err_sys(ERR_FAIL, errno, "cannot sync %s", f->tmp);
        goto fail;
    }
    if (close(f->fd) < 0) {
        f->fd = -1;
        err_sys(ERR_FAIL, errno, "cannot close %s", f->tmp);
        goto fail;
    }
    f->fd = -1;
    if (replace ? rename(f->tmp, f->path) : atomic_file_rename_noreplace(f->tmp, f->path)) {
        if (errno == EEXIST)
            err_set(ERR_FAIL, "%s already exists (written meanwhile by another run?); not replaced",
                    f->path);
        else
            err_sys(ERR_FAIL, errno, "cannot rename %s to %s", f->tmp, f->path);
        goto fail;
    }
    int rc = atomic_file_sync_dir(f->path);
    release(f);
    return rc;
fail:
    unlink(f->tmp);
    release(f);
    return -1;
}

int atomic_file_commit(atomic_file *f)
{
    return commit(f, 0);
}

int atomic_file_commit_replace(atomic_file *f)
{
    return commit(f, 1);
}

void atomic_file_abort(atomic_file *f)
{
    if (!f)
        return;
    unlink(f->tmp);
    release(f);
}
