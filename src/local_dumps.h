/* local_dumps: the plain dumps in the local directory, as the catalog names
 * them (`<prefix>_<db>_<YYYYMMDD_HHMMSS>.dump`, and safety dumps).  Regular
 * files only, never through a link: a symlink or a directory with such a
 * name is not a dump we wrote.  Used by push (what to ship), prune (local
 * retention) and backup (the last dump's size). */
#ifndef N4O_LOCAL_DUMPS_H
#define N4O_LOCAL_DUMPS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "catalog.h"

typedef struct {
    char file[CATALOG_NAME_MAX + 16]; /* in the directory */
    char name[CATALOG_NAME_MAX];      /* FILE without ".dump" */
    char database[128];
    time_t created;    /* the time in its name (UTC) */
    catalog_kind kind; /* CATALOG_DUMP or CATALOG_SAFETY_DUMP */
    uint64_t size;
    time_t mtime;
} local_dump;

/* The dumps named with PREFIX in the directory DIR_FD (named DIR in
 * messages; the descriptor stays the caller's), safety dumps too with
 * WITH_SAFETY, oldest first; *OUT malloc'd.  DIR_FD AT_FDCWD: DIR is
 * opened (and closed) here.  -1 with ERR_FAIL naming the
 * directory when it cannot be read. */
int local_dumps_scan(int dir_fd, const char *dir, const char *prefix, int with_safety,
                     local_dump **out, size_t *n);

#endif
