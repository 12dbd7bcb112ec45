/* sftp: a remote directory on an SSH server, over libssh2 (1.10).
 *
 * - The host key is checked strictly against an OpenSSH known_hosts file
 *   (and an optional SHA256 pin) before authenticating; unknown or changed
 *   keys are refused and nothing is sent.
 * - Writes go to a temporary name of their own, "<name>.<16 random
 *   hex>.partial" (atomic_file_temp_name), created exclusively
 *   (CREAT|EXCL: never an existing file, never through a symlink) with mode
 *   0600, are fsync'd on the server (fsync@openssh.com) and renamed to the
 *   final name, which must not exist (SFTP v3 rename never overwrites, so
 *   the rename is atomic, and of two uploads of one name only the first to
 *   finish is published).  Listings mark temporary names, also the
 *   "<name>.partial" of earlier versions, as incomplete, and skip names
 *   that are not printable text (with a warning showing them escaped).
 * - probe creates and removes a unique temporary file in the remote path.
 * - The session is non-blocking: every wait is a poll() bounded by
 *   connect_timeout (TCP connect, handshake, authentication) or io_timeout,
 *   and every wait (sockets, backoff before a reconnect, stream threads)
 *   ends within 0.2 s of SIGINT/SIGTERM with "interrupted by signal N"; the
 *   temporary file is then removed if the remote's connection still works,
 *   within 1 s.
 *
 * - Transfers larger than one block (1 MiB) use `parallel_streams`
 *   connections of their own, each on its own thread: block k of the file
 *   goes through stream k mod N, each stream keeping two blocks in flight on
 *   two SFTP handles (a long link is not capped by one SSH window).  A
 *   stream whose connection drops (or times out) reconnects with backoff
 *   (0.5 s, 1 s, 2 s... at most 8 s), at most `retries` times (earned back
 *   after 64 MiB moved), and resumes each block at the byte the server
 *   acknowledged; the blocks it holds are the resume window.  Writes: the
 *   temporary file is fsync'd, its size checked and renamed on the remote's
 *   own connection once every stream finished.  Smaller writes and reads go
 *   over the remote's own connection.
 *
 * Threads: a libssh2 session is not thread-safe.  Each remote owns one
 * connection; every operation takes the connection's mutex for its whole
 * duration, so the pipeline's writer thread and the main thread may use the
 * remote one after the other (or even interleave operations on different
 * handles) safely.  Streams have their own connections.
 *
 * Not yet: keepalives on idle sessions.  libssh2 1.10's known_hosts check
 * also accepts a plain "host" entry for a non-22 port (OpenSSH only looks up
 * "[host]:port"); the key must still match.  Name resolution
 * (getaddrinfo) is not interrupted by a signal.  The streams open the
 * temporary file by name (SFTP v3 has no way to hand a handle to another
 * session): someone who may write the remote directory could swap it for
 * a symlink after it was created - but could as well delete archives. */
#ifndef N4O_BACKEND_SFTP_H
#define N4O_BACKEND_SFTP_H

#include "backend.h"

extern const backend_ops sftp_backend_ops;

#endif
