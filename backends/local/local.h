/* local: a remote that is a directory (a mounted disk, NFS).  Writes go to
 * a unique temporary file (backend_temp_name, created exclusively, never
 * through a symlink), are fsync'd and renamed to a name that does not
 * exist, then the directory is fsync'd.  Reads never follow a symlink. */
#ifndef N4O_BACKEND_LOCAL_H
#define N4O_BACKEND_LOCAL_H

#include "backend.h"

typedef struct {
    const char *name; /* the remote's name, for messages */
    const char *path; /* the directory: it must exist */
} local_params;

extern const backend_ops local_backend_ops;

/* The remote NAME in the directory P->path (which must exist: it is never
 * created).  P's strings are copied. */
backend *local_backend_open(const local_params *p);

#endif
