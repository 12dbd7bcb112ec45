/* stamp: proof that a handle opened by name reaches the temporary file an
 * upload created, and not something put in its place.
 *
 * SFTP v3 cannot hand a handle to another session, so the transfer streams,
 * and the commit after a reconnect, open the temporary file again by name;
 * and SFTP v3 open follows symlinks (no O_NOFOLLOW, no inode in the
 * attributes).  Whoever may write the remote directory could swap the file
 * for a symlink to another file of ours between its creation and those
 * opens.
 *
 * What it promises:
 * - stamp_temp gives the file just created, through its creating handle, an
 *   access time in the past picked at random (2001-2010), in one round trip
 *   with an lstat of its name that tells the time the server keeps and the
 *   owner.  Writes never change the access time and only the file's owner
 *   can set one, so nobody else can give another file of ours that stamp.
 *   It fails (nothing written, nothing published) when the server refuses
 *   or does not keep the time, or the name is no longer a regular file.
 * - stamp_check accepts a handle only when its attributes (fstat) show that
 *   access time, that owner (when the server tells owners) and a regular
 *   file; otherwise "the temporary file was replaced on the server after it
 *   was created, or read there" and nothing may go through it.  Reading the
 *   file on the server (a scanner, `cmp`) updates its access time on most
 *   mounts (relatime): a false alarm that fails closed. */
#ifndef N4O_SFTP_STAMP_H
#define N4O_SFTP_STAMP_H

#include "conn.h"

/* What a handle to the temporary file must show. */
typedef struct {
    unsigned long atime;
    int has_uid;
    unsigned long uid;
} temp_stamp;

/* Stamp the temporary file PATH just created on C (handle H), before any
 * other session opens it by name; ST gets the stamp.  -1 with the error
 * set. */
int stamp_temp(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h, const char *path, temp_stamp *st);
/* 0 when A, the fstat of a handle to PATH opened by name, shows the stamp
 * ST (NULL: never); -1 with the error set (naming P's host) otherwise. */
int stamp_check(const conn_params *p, const temp_stamp *st, const char *path,
                const LIBSSH2_SFTP_ATTRIBUTES *a);

#endif
