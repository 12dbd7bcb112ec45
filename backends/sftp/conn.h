/* conn: one SSH connection to a remote's server, with its SFTP channels,
 * over libssh2 1.10 in non-blocking mode.
 *
 * What it promises:
 * - conn_open connects (TCP, each address of the host in turn), checks the
 *   host key strictly before anything else is sent (hostkey.h: unknown,
 *   changed, revoked or unpinned keys are refused), authenticates with the
 *   identity (public key only, identity.h) and starts SFTP, all within
 *   connect_timeout; NULL with the error naming host:port and the step.
 * - Every wait is a poll() on the socket bounded by io_timeout (while
 *   connecting: by connect_timeout), cut into slices of at most 0.2 s, so
 *   that it ends within 0.2 s of the remote's cancel hook answering
 *   ("interrupted by signal N"), of STOP being set by another thread
 *   ("transfer stopped") or of WAKE_FD becoming readable (the caller has new
 *   work).  A timeout ("no progress for io_timeout (N s)"), a transport
 *   error, a STOP or a cancel marks the connection broken: it is never used
 *   again, only freed.  Only a cancel on the remote's own connection
 *   (keep_on_signal) with every request sent whole marks it interrupted
 *   instead: it then still serves the cleanup of an upload (cleanup_until
 *   bounds that cleanup's waits).
 * - Errors name "host:port:path", the operation and the cause, an SFTP
 *   status in words (conn_fx_str) with its number.
 * - Handles opened on a connection are recorded (conn_keep): conn_free frees
 *   what their owners could not close, without I/O when the connection is
 *   broken (each wait of a goodbye is bounded by io_timeout).
 * - libssh2 1.10 keeps one fsync state per SFTP channel: conn_fsync_call
 *   notes the fsync in flight and conn_fsync_settle collects its answer, so
 *   that an fsync never receives another handle's answer.
 *
 * A connection is not thread-safe: one thread uses it at a time (the
 * remote's lock, or the transfer stream that owns it). */
#ifndef N4O_SFTP_CONN_H
#define N4O_SFTP_CONN_H

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "backend.h"

/* SFTP channels one connection opens at most (a transfer stream: one per
 * block in flight). */
#define CONN_MAX_CHANNELS 4

/* What a connection needs to (re)connect: owned copies of the remote's
 * parameters (sftp.h) with the defaults applied, so that the remote
 * outlives nothing it points to. */
typedef struct {
    char *host, *user, *path, *identity, *passfile, *known_hosts, *pin;
    int port;
    long connect_timeout_ms, io_timeout_ms;
    int retries, streams;
    backend_cancel cancel;
    char where[300]; /* "host:port", for messages */
} conn_params;

/* One SSH session with its SFTP channel.  Kept apart from the remote so that
 * several of them (parallel streams, a reconnect after a drop) can be added
 * without changing the operations. */
typedef struct {
    const conn_params *p;
    int sock;
    LIBSSH2_SESSION *s;
    LIBSSH2_SFTP *sftp;
    /* the SFTP channels of a transfer stream; ch[0] is SFTP */
    LIBSSH2_SFTP *ch[CONN_MAX_CHANNELS];
    int broken; /* the transport failed: the session is unusable */
    /* a wait ended on SIGINT/SIGTERM with every request sent whole: the
     * session still works, but only cleanup uses it (writer_discard) */
    int interrupted;
    int keep_on_signal; /* the remote's own connection: a signal only interrupts it */
    int64_t deadline;   /* while connecting: absolute limit (ms), else 0 */
    /* cleaning up after a signal: waits go on until this time (ms), else 0 */
    int64_t cleanup_until;
    atomic_int *stop; /* set by another thread: give up waiting (may be NULL) */
    int wake_fd;      /* readable when another thread has new work for this one, or -1 */
    /* the handle whose fsync@openssh.com is in flight on SFTP (see
     * conn_fsync_settle), else NULL */
    LIBSSH2_SFTP_HANDLE *fsync_h;
    /* the handles open on this session: what their owners could not close
     * (the session failed meanwhile) conn_free closes without I/O */
    LIBSSH2_SFTP_HANDLE **open;
    size_t n_open, cap_open;
} sftp_conn;

/* ---- time and waiting ------------------------------------------------- */

/* Milliseconds of the monotonic clock. */
static inline int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The error for a wait that ended because P's cancel hook answered:
 * "WHERE[:PATH]: interrupted by signal N"; -1. */
int conn_interrupted(const conn_params *p, const char *path);

/* Sleep MS milliseconds in short slices; -1 with the error set as soon as
 * P's cancel hook answers or STOP (may be NULL) is set. */
int conn_sleep(const conn_params *p, long ms, atomic_int *stop, const char *path);

/* Wait on CV (MU held) for at most 0.2 s: the caller then asks the cancel
 * hook, as a signal does not wake a condition wait. */
void conn_cond_wait_slice(pthread_cond_t *cv, pthread_mutex_t *mu);

/* After a call that would block: whether libssh2 holds a half-sent packet,
 * in which case the same call must come again before any other on C. */
int conn_sending_blocked(sftp_conn *c);

/* Wait until C's socket is ready in the direction libssh2 is blocked on
 * (see above for the bounds); -1 with the error set. */
int conn_wait(sftp_conn *c);

/* One of several libssh2 calls run side by side on a connection: call I
 * with ARG, returning the libssh2 result (LIBSSH2_ERROR_EAGAIN while it
 * would block). */
typedef int (*conn_call)(sftp_conn *c, void *arg, int i);

/* Run calls 0..N-1 side by side, each request sent before any answer is
 * awaited: one round trip for all instead of one each.  RC[I] gets each
 * result.  -1 with the error set when a wait fails (those calls keep
 * EAGAIN), else 0. */
int conn_call_all(sftp_conn *c, int n, conn_call call, void *arg, int *rc);

/* Repeat a libssh2 call while it would block.  After the loop RC is
 * LIBSSH2_ERROR_EAGAIN only when the wait failed (error already set). */
#define SSH_INT(c, rc, call)                                                                       \
    while (((rc) = (call)) == LIBSSH2_ERROR_EAGAIN)                                                \
        if (conn_wait(c) < 0)                                                                      \
            break;

#define SSH_PTR(c, ptr, call)                                                                      \
    while (!((ptr) = (call)) && libssh2_session_last_errno((c)->s) == LIBSSH2_ERROR_EAGAIN)        \
        if (conn_wait(c) < 0)                                                                      \
            break;

/* ---- errors ----------------------------------------------------------- */

/* An SFTP status in words. */
const char *conn_fx_str(unsigned long fx);
/* An SFTP status FX (not OK) of WHAT on PATH as an error; -1. */
int conn_status_fail(const sftp_conn *c, unsigned long fx, const char *what, const char *path);
/* A failed libssh2 call (RC) on SFTP channel CH as an error naming
 * host:port, PATH and the cause; a transport error breaks C.  -1. */
int conn_fail_on(sftp_conn *c, LIBSSH2_SFTP *ch, int rc, const char *what, const char *path);
/* The same on C's first SFTP channel. */
int conn_fail(sftp_conn *c, int rc, const char *what, const char *path);
/* A failed write (RC, on channel CH) of LEN bytes to PATH: a bare SFTP
 * failure is told a full disk when statvfs@openssh.com says so.  -1. */
int conn_write_failed(sftp_conn *c, LIBSSH2_SFTP *ch, int rc, const char *path, size_t len);

/* ---- handles and fsync ------------------------------------------------ */

/* H was opened on C: C frees it if its owner cannot (conn_free). */
void conn_keep(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h);
/* One step of closing *HP: the libssh2 result (LIBSSH2_ERROR_EAGAIN while
 * pending).  Once it is done libssh2 freed the handle, whatever the
 * outcome, and *HP is NULL. */
int conn_handle_close_step(sftp_conn *c, LIBSSH2_SFTP_HANDLE **hp);
/* Close H, waiting at most io_timeout; what could not be closed is left to
 * conn_free. */
int conn_close_handle(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h);
/* libssh2_sftp_fsync of H on C's SFTP channel, noting the one in flight.
 * C->fsync_h must be NULL (after conn_fsync_settle) or H (this same
 * request, still unanswered). */
int conn_fsync_call(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h);
/* Collect the answer of the fsync in flight on C's SFTP channel, if any,
 * before another is sent.  -1 with the error set when the wait failed (it
 * is still in flight then). */
int conn_fsync_settle(sftp_conn *c);

/* ---- connections ------------------------------------------------------ */

/* Connect to P's server, check its host key, authenticate and start SFTP,
 * all within connect_timeout; STOP (may be NULL) is set by another thread
 * to give up.  P must outlive the connection. */
sftp_conn *conn_open(const conn_params *p, atomic_int *stop);
/* Close C: politely (every channel shut down, a disconnect) when it works,
 * else without I/O.  NULL is a no-op. */
void conn_free(sftp_conn *c);
/* Give C at least N SFTP channels (N <= CONN_MAX_CHANNELS), for PATH's
 * transfer. */
int conn_channels(sftp_conn *c, int n, const char *path);

/* ---- paths ------------------------------------------------------------ */

/* stat (TYPE LIBSSH2_SFTP_STAT) or lstat (LIBSSH2_SFTP_LSTAT) of PATH: 1
 * found (ATTRS filled), 0 missing, -1 error. */
int conn_stat(sftp_conn *c, const char *path, int type, LIBSSH2_SFTP_ATTRIBUTES *attrs);
/* PATH must be a directory (commands that only read): "the remote path is
 * missing" or "path is not a directory" otherwise; nothing is created. */
int conn_check_path(sftp_conn *c, const char *path);
/* mkdir -p PATH (BACKEND_OPEN_WRITE), mode 0750, each directory created
 * logged. */
int conn_mkdirs(sftp_conn *c, const char *path);

#endif
