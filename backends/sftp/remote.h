/* remote: what the operations of one SFTP remote share (sftp.c, the reads,
 * listings and the rest; writer.c, the uploads).
 *
 * What it promises:
 * - One connection of the remote's own, used under LOCK by one operation
 *   at a time: a libssh2 session is not thread-safe, and the pipeline's
 *   writer thread and the main thread may use the remote one after the
 *   other (or interleave operations on different handles).
 * - remote_conn reconnects between operations when the connection broke
 *   (or a cancel interrupted it), and counts connections (GEN): a handle
 *   belongs to the connection of the generation it was opened on, and is
 *   that connection's to free once it is gone.
 * - Transfers (transfer.h) have connections of their own, possibly opened
 *   ahead (POOL). */
#ifndef N4O_SFTP_REMOTE_H
#define N4O_SFTP_REMOTE_H

#include <pthread.h>

#include "conn.h"
#include "transfer.h"

typedef struct sftp_remote {
    conn_params p;
    sftp_conn *conn;
    pthread_mutex_t lock; /* one operation on the session at a time */
    unsigned gen;         /* bumped on every new connection */
    int fsync_warned;     /* the server's missing fsync@openssh.com was said */
    xfer_pool *pool;      /* connections opened ahead (BACKEND_OPEN_BULK), else NULL */
} sftp_remote;

/* The remote's connection, reconnected when a previous operation broke it
 * (only between operations: a transfer in progress is not resumed here);
 * NULL with the error set.  Called with the lock held. */
sftp_conn *remote_conn(sftp_remote *r);
/* "<path>/<name>", malloc'd; NULL (ERR_FAIL) out of memory. */
char *remote_join(const sftp_remote *r, const char *name);

#endif
