#include "local_dumps.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

static int oldest_first(const void *pa, const void *pb)
{
    const local_dump *a = pa, *b = pb;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return strcmp(a->file, b->file);
}

int local_dumps_scan(int dir_fd, const char *dir, const char *prefix, int with_safety,
                     local_dump **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    /* closedir closes it, not the caller's */
    int fd = dir_fd == AT_FDCWD ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : dup(dir_fd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return err_sys(ERR_FAIL, e, "local directory %s", dir);
    }
    rewinddir(d);
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0; /* readdir's end and its error look alike otherwise */
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno)
                rc = err_sys(ERR_FAIL, errno, "reading local directory %s", dir);
            break;
        }
        catalog_entry ce;
        struct stat st;
        if (catalog_parse(prefix, de->d_name, &ce) < 0 ||
            !(ce.kind == CATALOG_DUMP || (with_safety && ce.kind == CATALOG_SAFETY_DUMP)))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue; /* gone meanwhile */
            rc = err_sys(ERR_FAIL, errno, "%s/%s", dir, de->d_name);
            break;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            local_dump *nd = realloc(*out, cap * sizeof *nd);
            if (!nd) {
                rc = err_set(ERR_FAIL, "out of memory");
                break;
            }
            *out = nd;
        }
        local_dump *ld = &(*out)[(*n)++];
        snprintf(ld->file, sizeof ld->file, "%s", de->d_name);
        snprintf(ld->name, sizeof ld->name, "%s", ce.name);
        snprintf(ld->database, sizeof ld->database, "%s", ce.database);
        ld->created = ce.created;
        ld->kind = ce.kind;
        ld->size = (uint64_t)st.st_size;
        ld->mtime = st.st_mtime;
    }
    closedir(d);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, oldest_first);
    return 0;
}
