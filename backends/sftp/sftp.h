/* sftp: a remote directory on an SSH server, over libssh2 (1.10).
 *
 * The driver: conn.h (one SSH connection: connecting, waits, errors),
 * hostkey.h (known_hosts, the host key check), identity.h (the key files),
 * stamp.h (proof that a handle reaches an upload's temporary file),
 * transfer.h (parallel streams, resume), writer.h (uploads), remote.h
 * (what the operations share); the operations are in sftp.c.
 *
 * - The host key is checked strictly against an OpenSSH known_hosts file
 *   (and an optional SHA256 pin) before authenticating; unknown or changed
 *   keys are refused and nothing is sent.
 * - Writes go to a temporary name of their own, "<name>.<16 random
 *   hex>.partial" (backend_temp_name), created exclusively
 *   (CREAT|EXCL: never an existing file, never through a symlink) with mode
 *   0600, are fsync'd on the server (fsync@openssh.com) and renamed to the
 *   final name, which must not exist (SFTP v3 rename never overwrites, so
 *   the rename is atomic, and of two uploads of one name only the first to
 *   finish is published).  Listings mark temporary names, also the
 *   "<name>.partial" of earlier versions, as incomplete, and skip names
 *   that are not printable text or longer than SFTP_MAX_NAME (a warning
 *   showing each escaped, at most SFTP_WARN_SKIPPED per listing, then one
 *   counting the rest).  A listing stops with an error naming the limit
 *   past SFTP_LIST_MAX_NAMES names read: a server that never ends a
 *   directory cannot hold the run or its memory.
 * - The streams, and the commit after a reconnect, open the temporary file
 *   again by name (SFTP v3 cannot hand a handle to another session), and
 *   SFTP v3 open follows symlinks (no O_NOFOLLOW, no inode in attributes):
 *   whoever may write the remote directory could swap the file for a
 *   symlink to a file of ours elsewhere between the creation and those
 *   opens.  So the creating handle stamps the file with an unpredictable
 *   access time in the past (fsetstat; writes never change it), and every
 *   later handle must show that access time and owner (fstat) before a
 *   byte goes through it; otherwise the upload stops ("the temporary file
 *   was replaced on the server") and nothing is published.  Someone else
 *   cannot give a file of ours that access time (only its owner can set
 *   one).  A server that does not keep the access time set refuses large
 *   uploads (the check cannot be made).  Reading the temporary file on the
 *   server (a scanner, `cmp`) updates its access time on most mounts
 *   (relatime): the upload then stops the same way, saying it may have been
 *   read - a false alarm that fails closed.
 * - probe creates a unique temporary file in the remote path, writes a
 *   byte and fsyncs it (a full disk still lets an empty file be created),
 *   and removes it.
 * - The remote's path is created (mkdir -p) only when it is opened with
 *   BACKEND_OPEN_WRITE; otherwise a missing path is an error naming it.
 * - The session is non-blocking: every wait is a poll() bounded by
 *   connect_timeout (TCP connect, handshake, authentication) or io_timeout,
 *   and every wait (sockets, backoff before a reconnect, stream threads)
 *   ends within 0.2 s of the cancel hook answering (SIGINT/SIGTERM) with
 *   "interrupted by signal N"; the temporary file is then removed if the
 *   remote's connection still works (a signal does not write it off: only a
 *   transport failure, or a request cut in the middle of being sent, does),
 *   within 1 s.
 *
 * - Objects of more than one block (768 KiB) - a write announced larger, of
 *   unknown size or turning out larger, a read with more than a block left
 *   after its offset - go through `parallel_streams` connections of their
 *   own (a read: no more than it has blocks), each on its own thread: block
 *   k of the file goes through stream k mod N.  Each stream keeps 2 blocks
 *   in flight on a short link (a round trip under 5 ms, timed on the stat
 *   that starts the write or read), on a long link 4 when writing and 3
 *   when reading, each on an SFTP handle and channel of its own (a long
 *   link is not capped by one SSH window): at most 3 MiB a stream.  A stream whose connection drops
 * (or times out) reconnects with backoff (0.5 s, 1 s, 2 s... at most 8 s), at most `retries` times
 * (earned back after 64 MiB moved), and resumes each block at the byte the server acknowledged; the
 * blocks it holds are the resume window.  Writes: the temporary file is fsync'd early every 64 MiB,
 * and at commit fsync'd, its size checked and renamed on the remote's own connection once every
 * stream finished.  Smaller writes and reads go over the remote's own connection.
 *
 * Threads: a libssh2 session is not thread-safe.  Each remote owns one
 * connection; every operation takes the connection's mutex for its whole
 * duration, so the pipeline's writer thread and the main thread may use the
 * remote one after the other (or even interleave operations on different
 * handles) safely.  Streams have their own connections.  libssh2 1.10 keeps
 * one fsync state per SFTP channel, so the uploads sharing the remote's
 * connection take turns: an fsync still in flight (an early flush) is
 * answered before another is sent.
 *
 * Not yet: keepalives on idle sessions.  libssh2 1.10's known_hosts check
 * also accepts a plain "host" entry for a non-22 port (OpenSSH only looks up
 * "[host]:port"); the key must still match.  Name resolution
 * (getaddrinfo) is not interrupted by a signal.  The rename at commit is by
 * name too: someone who may write the remote directory can swap the
 * temporary file between the commit's checks and the rename, which then
 * publishes their object under the archive's name (no byte of ours written
 * through it; verify reports it against the manifest) - as they could delete
 * archives anyway. */
#ifndef N4O_BACKEND_SFTP_H
#define N4O_BACKEND_SFTP_H

#include "backend.h"

#define SFTP_LIST_MAX_NAMES 100000 /* names read from the directory in one listing */
#define SFTP_MAX_NAME       1024   /* bytes of a name: longer ones are skipped */
#define SFTP_WARN_SKIPPED   10     /* warnings per listing about skipped names */
#define SFTP_MAX_STREAMS    64     /* parallel_streams at most */

/* An SFTP remote, as its configuration section describes it
 * (docs/CONFIG.md); a default applies to 0 (or a negative number) where
 * one is said. */
typedef struct {
    const char *name;                     /* the remote's name, for messages */
    backend_cancel cancel;                /* the run must stop: every wait ends (see above) */
    const char *host;                     /* required; an IPv6 address without brackets */
    int port;                             /* 0: 22 */
    const char *user;                     /* required */
    const char *path;                     /* the remote directory: required */
    const char *identity_file;            /* required: a private key only its owner may read */
    const char *identity_passphrase_file; /* NULL: the key has no passphrase */
    const char *known_hosts;              /* required (a missing file: no host is known) */
    const char *host_key_fingerprint;     /* "SHA256:<base64>", pinned; NULL: none */
    long connect_timeout, io_timeout;     /* seconds; <= 0: 30 and 60 */
    int retries;                          /* reconnects of a stream, and of a commit; < 0: 5 */
    int parallel_streams;                 /* <= 0: 4; at most SFTP_MAX_STREAMS */
} sftp_params;

extern const backend_ops sftp_backend_ops;

/* The remote P->name: the local files checked (a missing required
 * parameter, a key file others may read, an RSA or DSA key: ERR_USAGE
 * before any connection), then its own connection opened, the host key
 * checked, and its path created (mkdir -p) with BACKEND_OPEN_WRITE in
 * FLAGS, else required to be a directory.  BACKEND_OPEN_BULK in FLAGS: one
 * connection per stream is opened ahead, in the background, for the first
 * transfer.  P's strings are copied; P->cancel's ARG must outlive the
 * backend.  NULL with the error (prefixed with the remote's name). */
backend *sftp_backend_open(const sftp_params *p, unsigned flags);

#endif
