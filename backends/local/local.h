/* local: a remote that is a directory (a mounted disk, NFS).  Writes go to
 * "<name>.partial", are fsync'd and renamed to a name that does not exist,
 * then the directory is fsync'd. */
#ifndef N4O_BACKEND_LOCAL_H
#define N4O_BACKEND_LOCAL_H

#include "backend.h"

extern const backend_ops local_backend_ops;

#endif
