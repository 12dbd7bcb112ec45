/* writer: an upload to an SFTP remote (the writer operations of
 * backend_ops, on the remote of remote.h).
 *
 * What it promises:
 * - NAME must not exist (checked at open, and by the rename at commit).
 *   The bytes go to a temporary file of the upload's own,
 *   backend_temp_name(NAME) in the remote's path, created exclusively
 *   (CREAT|EXCL: never an existing file, never through a symlink), mode
 *   0600.  An object announced as at most one block (XFER_BLOCK) is kept in
 *   memory and written whole at commit on the remote's connection (the
 *   file created then); anything larger or of unknown size has its file
 *   created and stamped (stamp.h) at open, so that a path that is not
 *   writable fails before any data moves, and goes through the parallel
 *   streams (transfer.h), started at open so that their handshakes overlap
 *   the data's start.
 * - While the streams write, the file is fsync'd on the remote's own
 *   connection every 64 MiB without waiting for the answer, so that the
 *   fsync at commit has little left to write.
 * - Commit: every block acknowledged, the file fsync'd (fsync@openssh.com;
 *   without it a warning, once per remote), its size checked against the
 *   bytes written, closed and renamed to NAME.  SFTP v3 rename never
 *   overwrites: of two uploads of one name only the first to finish is
 *   published, and the other fails saying so.  A commit whose connection
 *   drops is tried again (backoff 0.5 s, 1 s... at most `retries` times),
 *   and a rename that went through before the drop is recognised as done
 *   (the temporary name is gone and NAME has the size written).
 * - A failed commit, or an abort, removes the temporary file, keeping the
 *   error as it was.  After a cancel, only on the remote's connection if it
 *   still works (a cancel does not write it off: only a transport failure,
 *   or a request cut in the middle of being sent, does), within 1 s. */
#ifndef N4O_SFTP_WRITER_H
#define N4O_SFTP_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "remote.h"

/* backend_ops' writer_open, writer_write, writer_commit, writer_abort for
 * the remote IMPL (an sftp_remote). */
void *sftp_writer_open(void *impl, const char *name, uint64_t size_hint);
int sftp_writer_write(void *w, const void *buf, size_t len);
int sftp_writer_commit(void *w);
void sftp_writer_abort(void *w);

#endif
