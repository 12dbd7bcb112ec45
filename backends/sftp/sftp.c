#include "sftp.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "err.h"
#include "log.h"
#include "signals.h"
#include "strbuf.h"

/* What a connection needs to (re)connect: copied from the config so the
 * remote outlives nothing it points to. */
typedef struct {
    char *host, *user, *path, *identity, *passfile, *known_hosts, *pin;
    int port;
    long connect_timeout_ms, io_timeout_ms;
    int retries, streams;
    char where[300]; /* "host:port", for messages */
} sftp_params;

#define SFTP_MAX_STREAMS 64
/* A connection opened ahead and not used within this time is not trusted
 * to be alive (servers and NATs drop idle sessions): it is closed. */
#define AHEAD_MAX_IDLE_MS 30000
/* SFTP channels a transfer stream uses at most (one per block in flight). */
#define XSLOTS_MAX 4
/* Longest a wait sleeps before it looks at signals_pending() again: a
 * signal delivered to another thread does not interrupt this one's poll. */
#define WAIT_SLICE_MS 200
/* After SIGINT/SIGTERM, how long removing an upload's temporary file may
 * take on a connection that still works (Ctrl-C must end the run at once,
 * and a stalled server would otherwise hold it for io_timeout). */
#define SIGNAL_CLEANUP_MS 1000

/* One SSH session with its SFTP channel.  Kept apart from the remote so that
 * several of them (parallel streams, a reconnect after a drop) can be added
 * without changing the operations. */
typedef struct {
    const sftp_params *p;
    int sock;
    LIBSSH2_SESSION *s;
    LIBSSH2_SFTP *sftp;
    /* the SFTP channels of a transfer stream; ch[0] is SFTP */
    LIBSSH2_SFTP *ch[XSLOTS_MAX];
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

/* A connection opened ahead (BACKEND_OPEN_BULK) for the first transfer. */
typedef struct {
    struct sftp_remote *r;
    pthread_t t;
    int done;         /* the attempt ended (C is NULL when it failed) */
    sftp_conn *c;     /* ready, not taken yet */
    int64_t ready_ms; /* when it became ready */
} sftp_ahead;

typedef struct sftp_remote {
    sftp_params p;
    sftp_conn *conn;
    pthread_mutex_t lock; /* one operation on the session at a time */
    unsigned gen;         /* bumped on every new connection */
    int fsync_warned;
    /* connections opened ahead, under AHEAD_MU */
    pthread_mutex_t ahead_mu;
    pthread_cond_t ahead_cv;
    atomic_int ahead_stop;
    int ahead_want; /* channels the first transfer's streams need (0: not known yet) */
    int n_ahead;
    sftp_ahead ahead[SFTP_MAX_STREAMS];
} sftp_remote;

typedef struct sftp_xfer sftp_xfer;

/* What proves that a handle opened by name reaches the temporary file
 * created (stamp_temp): the access time the server keeps for it, and its
 * owner. */
typedef struct {
    unsigned long atime;
    int has_uid;
    unsigned long uid;
} temp_stamp;

/* A write: created as "<name>.<16 random hex>.partial" (atomic_file.h) on
 * the remote's connection; data up to one block is kept here and written
 * there at commit (manifests), more goes to the transfer's streams. */
typedef struct {
    sftp_remote *r;
    char *final, *partial; /* full remote paths */
    uint8_t *pend;         /* the block being filled */
    size_t fill;
    uint64_t total;
    int64_t rtt_ms; /* of the existence check at open */
    sftp_xfer *x;   /* NULL until the first full block (or started at open) */
    /* the temporary file as created at open on the remote's connection GEN
     * (NULL for small objects): flushed early while the streams write, then
     * fsync'd at commit */
    LIBSSH2_SFTP_HANDLE *h;
    unsigned gen;
    temp_stamp stamp; /* set on H before any stream opens the file */
    int stamped;
    uint64_t flushed_at; /* bytes handed to the streams when the last early flush began */
    int flushing;        /* an early flush is in flight */
    int no_early_flush;  /* the server refused one: leave it to commit */
    int rename_sent;     /* a rename to FINAL went out (its answer may have been lost) */
} sftp_writer;

/* A read: small objects on the remote's connection (handle H of
 * connection generation GEN), larger ones through a transfer. */
typedef struct {
    sftp_remote *r;
    LIBSSH2_SFTP_HANDLE *h;
    unsigned gen;
    char *path;
    sftp_xfer *x;
} sftp_reader;

/* ---- time and waiting ------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The error for a wait that ended because SIGINT/SIGTERM is pending. */
static int interrupted(const char *where, const char *path)
{
    return err_set(ERR_FAIL, "%s%s%s: interrupted by signal %d", where, path ? ":" : "",
                   path ? path : "", signals_pending());
}

/* Sleep MS milliseconds in short slices; -1 with the error set as soon as a
 * signal is pending or STOP (may be NULL) is set. */
static int sleep_ms(long ms, atomic_int *stop, const char *where, const char *path)
{
    for (int64_t end = now_ms() + ms;;) {
        if (signals_pending())
            return interrupted(where, path);
        if (stop && atomic_load(stop))
            return err_set(ERR_FAIL, "%s:%s: transfer stopped", where, path);
        int64_t left = end - now_ms();
        if (left <= 0)
            return 0;
        struct timespec ts = {.tv_nsec = (left < 20 ? left : 20) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* After a call that would block: whether libssh2 holds a half-sent packet,
 * in which case the same call must come again before any other on C. */
static int conn_sending_blocked(sftp_conn *c)
{
    return (libssh2_session_block_directions(c->s) & LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
}

/* Wait until the socket is ready in the direction libssh2 is blocked on,
 * at most io_timeout (or until the connect deadline).  Polls in short slices
 * so SIGINT/SIGTERM end the wait quickly, except while cleaning up after
 * one (cleanup_until), which is bounded instead.  A timeout breaks the
 * session: libssh2 may be in the middle of a packet. */
static int conn_wait_dir(sftp_conn *c, int events)
{
    int64_t start = now_ms();
    int64_t end = c->deadline ? c->deadline : start + c->p->io_timeout_ms;
    if (c->cleanup_until && c->cleanup_until < end)
        end = c->cleanup_until;
    for (;;) {
        if (signals_pending() && (!c->cleanup_until || now_ms() >= c->cleanup_until)) {
            /* The remote's own connection, with every request sent whole,
             * is only interrupted: it can still remove the upload's
             * temporary file (writer_discard).  Anything else - a stream, a
             * connection being set up, a packet half sent (libssh2 refuses
             * any other call until that one is finished), cleanup time
             * over - is written off. */
            if (c->keep_on_signal && !c->deadline && !c->cleanup_until && !conn_sending_blocked(c))
                c->interrupted = 1;
            else
                c->broken = 1;
            return interrupted(c->p->where, NULL);
        }
        if (c->stop && atomic_load(c->stop)) {
            c->broken = 1;
            return err_set(ERR_FAIL, "%s: transfer stopped", c->p->where);
        }
        int64_t left = end - now_ms();
        if (left <= 0) {
            c->broken = 1;
            if (c->cleanup_until)
                return interrupted(c->p->where, NULL);
            if (c->deadline)
                return err_set(ERR_FAIL, "%s: no connection within connect_timeout (%ld s)",
                               c->p->where, c->p->connect_timeout_ms / 1000);
            return err_set(ERR_FAIL, "%s: no progress for io_timeout (%ld s)", c->p->where,
                           c->p->io_timeout_ms / 1000);
        }
        struct pollfd pfd[2] = {{.fd = c->sock, .events = (short)events},
                                {.fd = c->wake_fd, .events = POLLIN}};
        int r =
            poll(pfd, c->wake_fd >= 0 ? 2 : 1, left > WAIT_SLICE_MS ? WAIT_SLICE_MS : (int)left);
        if (r > 0 && c->wake_fd >= 0 && (pfd[1].revents & POLLIN)) {
            uint64_t v;
            ssize_t got = read(c->wake_fd, &v, sizeof v); /* reset the count */
            (void)got;
        }
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR) {
            c->broken = 1;
            return err_sys(ERR_FAIL, errno, "%s: poll", c->p->where);
        }
    }
}

static int conn_wait(sftp_conn *c)
{
    int dir = libssh2_session_block_directions(c->s);
    int ev = 0;
    if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
        ev |= POLLIN;
    if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
        ev |= POLLOUT;
    return conn_wait_dir(c, ev ? ev : POLLIN);
}

/* One of several libssh2 calls run side by side on a connection: call I
 * with ARG, returning the libssh2 result (LIBSSH2_ERROR_EAGAIN while it
 * would block). */
typedef int (*conn_call)(sftp_conn *c, void *arg, int i);

/* Run calls 0..N-1 side by side, each request sent before any answer is
 * awaited: one round trip for all instead of one each.  RC[I] gets each
 * result.  Any libssh2 call reads every packet the socket holds, so the
 * answer to an earlier call may already be inside libssh2 and not in the
 * socket: after a round in which a call finished the next round comes at
 * once, and only a round without one waits on the socket (its last call
 * found nothing for itself, so that answer is still to come).  -1 with
 * the error set when a wait fails (those calls keep EAGAIN), else 0. */
static int conn_call_all(sftp_conn *c, int n, conn_call call, void *arg, int *rc)
{
    for (int i = 0; i < n; i++)
        rc[i] = LIBSSH2_ERROR_EAGAIN;
    for (;;) {
        int pending = 0, progress = 0;
        for (int i = 0; i < n; i++) {
            if (rc[i] != LIBSSH2_ERROR_EAGAIN)
                continue;
            /* a half-sent request: the same call comes again before any other */
            while ((rc[i] = call(c, arg, i)) == LIBSSH2_ERROR_EAGAIN && conn_sending_blocked(c))
                if (conn_wait(c) < 0)
                    return -1;
            pending |= rc[i] == LIBSSH2_ERROR_EAGAIN;
            progress |= rc[i] != LIBSSH2_ERROR_EAGAIN;
        }
        if (!pending)
            return 0;
        if (!progress && conn_wait(c) < 0)
            return -1;
    }
}

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

static const char *fx_str(unsigned long fx)
{
    switch (fx) {
    case LIBSSH2_FX_NO_SUCH_FILE:
    case LIBSSH2_FX_NO_SUCH_PATH:
        return "no such file or directory";
    case LIBSSH2_FX_PERMISSION_DENIED:
        return "permission denied";
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
        return "no space left on the server";
    case LIBSSH2_FX_QUOTA_EXCEEDED:
        return "quota exceeded on the server";
    case LIBSSH2_FX_WRITE_PROTECT:
        return "read-only on the server";
    case LIBSSH2_FX_FILE_ALREADY_EXISTS:
        return "already exists";
    case LIBSSH2_FX_NOT_A_DIRECTORY:
        return "not a directory";
    case LIBSSH2_FX_OP_UNSUPPORTED:
        return "operation not supported by the server";
    case LIBSSH2_FX_NO_CONNECTION:
    case LIBSSH2_FX_CONNECTION_LOST:
        return "connection lost";
    case LIBSSH2_FX_FAILURE:
        /* OpenSSH's sftp-server (protocol v3) maps ENOSPC, EDQUOT, EEXIST,
         * EROFS... all to this one code. */
        return "failed on the server (SFTP v3 gives no reason: a full disk or quota, a "
               "read-only file system or an existing name)";
    default:
        return "SFTP error";
    }
}

/* An SFTP status FX (not OK) of WHAT on PATH as an error. */
static int status_fail(const sftp_conn *c, unsigned long fx, const char *what, const char *path)
{
    return err_set(ERR_FAIL, "%s:%s: %s: %s (SFTP status %lu)", c->p->where, path, what, fx_str(fx),
                   fx);
}

/* Turn a failed libssh2 call on SFTP channel CH into an error naming
 * host:port, PATH and the cause.  A transport error breaks the session. */
static int conn_fail_on(sftp_conn *c, LIBSSH2_SFTP *ch, int rc, const char *what, const char *path)
{
    if (rc == LIBSSH2_ERROR_EAGAIN)
        return err_prefix("%s %s: ", what, path); /* the wait said why */
    if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && ch)
        return status_fail(c, libssh2_sftp_last_error(ch), what, path);
    /* libssh2 does not record every error it returns: a message recorded
     * for another code is an older one (often "would block") */
    char *msg = NULL;
    if (libssh2_session_last_error(c->s, &msg, NULL, 0) != rc)
        msg = NULL;
    c->broken = 1;
    return err_set(ERR_FAIL, "%s:%s: %s: connection error: %s (libssh2 %d)", c->p->where, path,
                   what, msg && *msg ? msg : "no message from libssh2", rc);
}

static int conn_fail(sftp_conn *c, int rc, const char *what, const char *path)
{
    return conn_fail_on(c, c->sftp, rc, what, path);
}

/* ---- handles and fsync ------------------------------------------------ */

/* H was opened on C: C frees it if its owner cannot (conn_free). */
static void conn_keep(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h)
{
    if (c->n_open == c->cap_open) {
        size_t cap = c->cap_open ? 2 * c->cap_open : 8;
        LIBSSH2_SFTP_HANDLE **n = realloc(c->open, cap * sizeof *n);
        if (!n)
            return; /* untracked: only a connection that fails would leak it */
        c->open = n;
        c->cap_open = cap;
    }
    c->open[c->n_open++] = h;
}

/* libssh2 freed H. */
static void conn_forget(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h)
{
    for (size_t i = 0; i < c->n_open; i++)
        if (c->open[i] == h) {
            c->open[i] = c->open[--c->n_open];
            break;
        }
    if (c->fsync_h == h) {
        /* closed with its fsync unanswered: that answer would go to the
         * next fsync on the channel (conn_fsync_settle) */
        c->fsync_h = NULL;
        c->broken = 1;
    }
}

/* One step of closing *HP: the libssh2 result (LIBSSH2_ERROR_EAGAIN while
 * pending).  Once it is done libssh2 freed the handle, whatever the
 * outcome, and *HP is NULL. */
static int handle_close_step(sftp_conn *c, LIBSSH2_SFTP_HANDLE **hp)
{
    if (!*hp)
        return 0;
    int rc = libssh2_sftp_close_handle(*hp);
    if (rc != LIBSSH2_ERROR_EAGAIN) {
        conn_forget(c, *hp);
        *hp = NULL;
    }
    return rc;
}

/* Close H, waiting at most io_timeout; what could not be closed is left to
 * conn_free. */
static int conn_close_handle(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h)
{
    int rc;
    SSH_INT(c, rc, handle_close_step(c, &h));
    return rc;
}

/* libssh2_sftp_fsync of H on C's SFTP channel, noting the one in flight.
 * C->fsync_h must be NULL (after conn_fsync_settle) or H (this same
 * request, still unanswered). */
static int conn_fsync_call(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h)
{
    int rc = libssh2_sftp_fsync(h);
    c->fsync_h = rc == LIBSSH2_ERROR_EAGAIN ? h : NULL;
    return rc;
}

/* libssh2 1.10 keeps one fsync state per SFTP channel: while an fsync is in
 * flight, the next libssh2_sftp_fsync, whatever its handle, sends nothing
 * and returns the answer to the one in flight.  So before an fsync is sent
 * on C, the one in flight (an early flush, maybe of another upload sharing
 * the connection; one a signal cut short) is answered.  -1 with the error
 * set when the wait failed (it is still in flight then). */
static int conn_fsync_settle(sftp_conn *c)
{
    while (c->fsync_h) {
        int rc = conn_fsync_call(c, c->fsync_h);
        if (rc == LIBSSH2_ERROR_EAGAIN && conn_wait(c) < 0)
            return -1;
        if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN && rc != LIBSSH2_ERROR_SFTP_PROTOCOL)
            c->broken = 1;
    }
    return 0;
}

/* ---- local files: identity, passphrase, known_hosts ------------------- */

/* Secret files must be private (SPEC.md): exit 2 otherwise. */
static int check_private(const char *key, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return err_sys(ERR_USAGE, errno, "%s %s", key, path);
    if (!S_ISREG(st.st_mode))
        return err_set(ERR_USAGE, "%s %s is not a regular file", key, path);
    if (st.st_mode & 077)
        return err_set(ERR_USAGE, "%s %s is readable by group or others (mode %04o): chmod 600 %s",
                       key, path, (unsigned)(st.st_mode & 07777), path);
    return 0;
}

/* Read at most MAX bytes of PATH into a NUL-terminated buffer. */
static char *slurp(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = malloc(max + 1);
    size_t used = 0;
    while (buf && used < max) {
        ssize_t n = read(fd, buf + used, max - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    if (buf) {
        buf[used] = '\0';
        *len = used;
    }
    return buf;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The key type of a private key file ("ssh-ed25519", "ssh-rsa", ...), ""
 * when unknown.  The OpenSSH format keeps the public part in clear, also
 * for passphrase-protected keys. */
static void identity_type(const char *path, char *out, size_t outlen)
{
    static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    static const char end[] = "-----END OPENSSH PRIVATE KEY-----";
    size_t len = 0;
    *out = '\0';
    char *text = slurp(path, 64 * 1024, &len);
    if (!text)
        return;
    if (strstr(text, "-----BEGIN RSA PRIVATE KEY-----")) {
        snprintf(out, outlen, "ssh-rsa");
    } else if (strstr(text, "-----BEGIN EC PRIVATE KEY-----")) {
        snprintf(out, outlen, "ecdsa");
    } else if (strstr(text, "-----BEGIN DSA PRIVATE KEY-----")) {
        snprintf(out, outlen, "ssh-dss");
    } else {
        char *b = strstr(text, begin), *e = b ? strstr(b, end) : NULL;
        size_t cap = len, n = 0;
        unsigned char *bin = malloc(cap + 1);
        if (e && bin &&
            sodium_base642bin(bin, cap, b + sizeof begin - 1, (size_t)(e - b) - (sizeof begin - 1),
                              " \t\r\n", &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
            /* "openssh-key-v1\0" cipher kdf kdfoptions nkeys pubkey(type ...) */
            size_t off = 15;
            if (n > off && memcmp(bin, "openssh-key-v1", 15) == 0) {
                for (int i = 0; i < 3 && off + 4 <= n; i++)
                    off += 4 + be32(bin + off);
                off += 4; /* nkeys */
                if (off + 8 <= n) {
                    off += 4; /* public key blob length */
                    uint32_t tl = be32(bin + off);
                    off += 4;
                    if (tl < outlen && off + tl <= n) {
                        memcpy(out, bin + off, tl);
                        out[tl] = '\0';
                    }
                }
            }
        }
        free(bin);
    }
    sodium_memzero(text, len);
    free(text);
}

/* Host key types: libssh2's host key type, known_hosts type bits, the name
 * in known_hosts, and the host key methods that produce it. */
static const struct {
    int hostkey_type;
    int kh_type;
    const char *name;
    const char *methods;
} key_types[] = {
    {LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519", "ssh-ed25519"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256",
     "ecdsa-sha2-nistp256"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384",
     "ecdsa-sha2-nistp384"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521",
     "ecdsa-sha2-nistp521"},
    {LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa",
     "rsa-sha2-512,rsa-sha2-256,ssh-rsa"},
    {LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss", "ssh-dss"},
};
#define N_KEY_TYPES (sizeof key_types / sizeof key_types[0])

typedef struct {
    LIBSSH2_KNOWNHOSTS *kh;
    char **revoked; /* base64 key blobs of "@revoked" lines */
    size_t n_revoked;
    int missing; /* the file does not exist (treated as empty) */
} known_hosts;

static void known_hosts_free(known_hosts *k)
{
    if (k->kh)
        libssh2_knownhost_free(k->kh);
    for (size_t i = 0; i < k->n_revoked; i++)
        free(k->revoked[i]);
    free(k->revoked);
    memset(k, 0, sizeof *k);
}

/* Read known_hosts line by line: libssh2_knownhost_readfile() stops at the
 * first line it cannot parse (a marker, a key type it does not know), which
 * would silently drop every later host.  Such lines are skipped instead,
 * like OpenSSH does; "@revoked" keys are remembered and refused. */
static int known_hosts_load(sftp_conn *c, known_hosts *k)
{
    memset(k, 0, sizeof *k);
    if (!(k->kh = libssh2_knownhost_init(c->s)))
        return err_set(ERR_FAIL, "out of memory");
    FILE *f = fopen(c->p->known_hosts, "re");
    if (!f) {
        if (errno == ENOENT) {
            k->missing = 1;
            return 0;
        }
        return err_sys(ERR_FAIL, errno, "known_hosts %s", c->p->known_hosts);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *p = line + strspn(line, " \t");
        if (!*p || *p == '#')
            continue;
        if (strncmp(p, "@revoked", 8) == 0) {
            /* @revoked HOSTS TYPE BASE64 [comment] */
            char *save = NULL, *tok = strtok_r(p, " \t", &save);
            for (int i = 0; i < 3 && tok; i++)
                tok = strtok_r(NULL, " \t", &save);
            if (tok) {
                char **nr = realloc(k->revoked, (k->n_revoked + 1) * sizeof *nr);
                if (nr) {
                    k->revoked = nr;
                    if ((nr[k->n_revoked] = strdup(tok)))
                        k->n_revoked++;
                }
            }
            continue;
        }
        if (*p == '@') {
            log_debug("%s:%d: marker not supported, line skipped", c->p->known_hosts, lineno);
            continue;
        }
        if (libssh2_knownhost_readline(k->kh, p, strlen(p), LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0)
            log_warn("%s:%d: line not understood, skipped", c->p->known_hosts, lineno);
    }
    free(line);
    fclose(f);
    return 0;
}

/* The host key methods to offer: the types known_hosts records for this
 * host (so a server with several keys shows the recorded one), "" when the
 * host is not recorded; with ALL, every type in OpenSSH's order (ed25519
 * first).  NAMES gets the recorded type names.  A host with an entry of
 * type T answers MISMATCH to a check with a dummy key of type T. */
static void host_key_methods(sftp_conn *c, known_hosts *k, int all, char *out, size_t outlen,
                             char *names, size_t nameslen)
{
    const char **algs = NULL;
    int n_algs = libssh2_session_supported_algs(c->s, LIBSSH2_METHOD_HOSTKEY, &algs);
    *out = '\0';
    *names = '\0';
    for (size_t i = 0; i < N_KEY_TYPES; i++) {
        int rc = libssh2_knownhost_checkp(
            k->kh, c->p->host, c->p->port, "AAAA", 4,
            LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | key_types[i].kh_type,
            NULL);
        if (rc != LIBSSH2_KNOWNHOST_CHECK_MISMATCH && !all)
            continue;
        if (!all)
            snprintf(names + strlen(names), nameslen - strlen(names), "%s%s", *names ? ", " : "",
                     key_types[i].name);
        /* only methods this libssh2 has */
        char methods[128];
        snprintf(methods, sizeof methods, "%s", key_types[i].methods);
        char *save = NULL;
        for (char *m = strtok_r(methods, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
            int have = n_algs <= 0; /* unknown: offer it anyway */
            for (int j = 0; j < n_algs; j++)
                if (strcmp(algs[j], m) == 0)
                    have = 1;
            if (have)
                snprintf(out + strlen(out), outlen - strlen(out), "%s%s", *out ? "," : "", m);
        }
    }
    if (n_algs > 0)
        libssh2_free(c->s, algs);
}

/* ---- connecting ------------------------------------------------------- */

static int tcp_connect(sftp_conn *c)
{
    char port[16];
    snprintf(port, sizeof port, "%d", c->p->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(c->p->host, port, &hints, &res);
    if (gai != 0)
        return err_set(ERR_FAIL, "cannot resolve host %s: %s", c->p->host,
                       gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
    int last = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        c->sock =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (c->sock < 0) {
            last = errno;
            continue;
        }
        int one = 1;
        setsockopt(c->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->sock, ai->ai_addr, ai->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && conn_wait_dir(c, POLLOUT) == 0)) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            getsockopt(c->sock, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr == 0) {
                c->broken = 0;
                freeaddrinfo(res);
                return 0;
            }
            last = soerr;
        } else if (errno != EINPROGRESS) {
            last = errno;
        } else {
            freeaddrinfo(res); /* timeout or signal: the wait said why */
            close(c->sock);
            c->sock = -1;
            return -1;
        }
        close(c->sock);
        c->sock = -1;
    }
    freeaddrinfo(res);
    return err_sys(ERR_FAIL, last, "cannot connect to %s", c->p->where);
}

static void b64(const unsigned char *bin, size_t len, int variant, char **out)
{
    size_t cap = sodium_base64_encoded_len(len, variant);
    *out = malloc(cap);
    if (*out)
        sodium_bin2base64(*out, cap, bin, len, variant);
}

/* Strict host key check, before anything else is sent.  The known_hosts
 * line to add ends the message, on the same line: log lines escape
 * newlines (a message must not forge lines). */
static int check_host_key(sftp_conn *c, known_hosts *k, const char *recorded)
{
    size_t klen = 0;
    int type = 0;
    const char *key = libssh2_session_hostkey(c->s, &klen, &type);
    if (!key || !klen)
        return err_set(ERR_FAIL, "%s: the server sent no host key", c->p->where);
    const char *tname = "unknown";
    int kh_type = LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    for (size_t i = 0; i < N_KEY_TYPES; i++)
        if (key_types[i].hostkey_type == type) {
            tname = key_types[i].name;
            kh_type = key_types[i].kh_type;
        }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)key, klen);
    char *fp = NULL, *blob = NULL;
    b64(digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL_NO_PADDING, &fp);
    b64((const unsigned char *)key, klen, sodium_base64_VARIANT_ORIGINAL, &blob);
    if (!fp || !blob) {
        free(fp);
        free(blob);
        return err_set(ERR_FAIL, "out of memory");
    }
    char hostfield[300];
    if (c->p->port == 22)
        snprintf(hostfield, sizeof hostfield, "%s", c->p->host);
    else
        snprintf(hostfield, sizeof hostfield, "[%s]:%d", c->p->host, c->p->port);

    int rc = -1;
    int check = libssh2_knownhost_checkp(
        k->kh, c->p->host, c->p->port, key, klen,
        LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kh_type, NULL);
    for (size_t i = 0; i < k->n_revoked; i++)
        if (strcmp(k->revoked[i], blob) == 0) {
            err_set(ERR_FAIL, "host key of %s (%s SHA256:%s) is marked @revoked in %s: refusing",
                    c->p->where, tname, fp, c->p->known_hosts);
            goto out;
        }
    switch (check) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
        break;
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
        err_set(ERR_FAIL,
                "WARNING: HOST KEY FOR %s HAS CHANGED! The server now offers %s SHA256:%s, "
                "which is not the key recorded in %s (someone may be intercepting the "
                "connection). Refusing to connect; nothing was sent. If the change is expected, "
                "replace the host's %s line in %s with: %s %s %s",
                c->p->where, tname, fp, c->p->known_hosts, tname, c->p->known_hosts, hostfield,
                tname, blob);
        goto out;
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
        err_set(ERR_FAIL,
                "host %s is not in known_hosts %s%s: refusing to connect; nothing was sent. "
                "The server offers %s key SHA256:%s. After checking this fingerprint with the "
                "server's administrator (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), add this "
                "line to %s: %s %s %s",
                c->p->where, c->p->known_hosts, k->missing ? " (the file does not exist)" : "",
                tname, fp, c->p->known_hosts, hostfield, tname, blob);
        goto out;
    default:
        err_set(ERR_FAIL, "%s: cannot check the host key against %s", c->p->where,
                c->p->known_hosts);
        goto out;
    }
    if (c->p->pin) {
        const char *want = c->p->pin + (strncmp(c->p->pin, "SHA256:", 7) == 0 ? 7 : 0);
        size_t wl = strlen(want);
        while (wl && want[wl - 1] == '=')
            wl--;
        if (strlen(fp) != wl || memcmp(fp, want, wl) != 0) {
            err_set(ERR_FAIL,
                    "host key of %s is %s SHA256:%s, not the pinned host_key_fingerprint %s: "
                    "refusing to connect",
                    c->p->where, tname, fp, c->p->pin);
            goto out;
        }
    }
    log_debug("%s: host key %s SHA256:%s matches %s (recorded: %s)", c->p->where, tname, fp,
              c->p->known_hosts, recorded);
    rc = 0;
out:
    free(fp);
    free(blob);
    return rc;
}

static int authenticate(sftp_conn *c)
{
    const sftp_params *p = c->p;
    char *pass = NULL;
    size_t plen = 0;
    int rc, ok = 0;
    if (p->passfile) {
        pass = slurp(p->passfile, 4096, &plen);
        if (!pass)
            return err_sys(ERR_USAGE, errno, "identity_passphrase_file %s", p->passfile);
        while (plen && (pass[plen - 1] == '\n' || pass[plen - 1] == '\r'))
            pass[--plen] = '\0';
    }
    /* straight to the key (no "none" request first: a round trip less);
     * what the server accepts is asked only when it refuses */
    SSH_INT(c, rc,
            libssh2_userauth_publickey_fromfile_ex(c->s, p->user, (unsigned)strlen(p->user), NULL,
                                                   p->identity, pass ? pass : ""));
    if (rc == LIBSSH2_ERROR_EAGAIN) { /* the wait failed: say at which step */
        err_prefix("authentication of user %s: ", p->user);
        goto fail;
    }
    if (rc == LIBSSH2_ERROR_FILE) {
        err_set(ERR_FAIL,
                "cannot use identity_file %s: libssh2 cannot read it (wrong or missing "
                "identity_passphrase_file, or an unsupported key format)",
                p->identity);
        goto fail;
    }
    if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
        char *methods;
        SSH_PTR(c, methods, libssh2_userauth_list(c->s, p->user, (unsigned)strlen(p->user)));
        if (methods && !strstr(methods, "publickey")) {
            err_set(ERR_FAIL,
                    "%s does not accept public-key authentication for user %s (it offers: %s)",
                    p->where, p->user, methods);
            goto fail;
        }
        err_set(ERR_FAIL,
                "%s refused authentication of user %s with key %s (is its public key in that "
                "user's authorized_keys on the server?)",
                p->where, p->user, p->identity);
        goto fail;
    }
    if (rc < 0)
        conn_fail(c, rc, "authentication", p->path);
    else
        ok = 1;
fail:
    if (pass)
        sodium_memzero(pass, plen);
    free(pass);
    return ok ? 0 : -1;
}

static int channel_shutdown(sftp_conn *c, void *arg, int i)
{
    int rc = c->ch[i] ? libssh2_sftp_shutdown(c->ch[i]) : 0;
    (void)arg;
    if (rc != LIBSSH2_ERROR_EAGAIN)
        c->ch[i] = NULL; /* freed by libssh2 either way */
    return rc;
}

/* Free what libssh2 keeps for a session that failed, without waiting for
 * anything: with the socket shut down every request fails at once, and
 * libssh2 frees a handle it closes, and an SFTP channel it shuts down,
 * whatever the outcome.  (When libssh2 itself saw the connection end, it
 * skips the close callback that frees an SFTP channel's own struct:
 * tests/lsan.supp.) */
static void conn_release(sftp_conn *c)
{
    if (c->sock >= 0)
        shutdown(c->sock, SHUT_RDWR);
    while (c->n_open) {
        LIBSSH2_SFTP_HANDLE *h = c->open[--c->n_open];
        for (int k = 0; k < 4 && libssh2_sftp_close_handle(h) == LIBSSH2_ERROR_EAGAIN; k++)
            ;
    }
    c->fsync_h = NULL;
    for (int i = 0; i < XSLOTS_MAX; i++) {
        for (int k = 0;
             c->ch[i] && k < 4 && libssh2_sftp_shutdown(c->ch[i]) == LIBSSH2_ERROR_EAGAIN; k++)
            ;
        c->ch[i] = NULL;
    }
    c->sftp = NULL;
}

static void conn_free(sftp_conn *c)
{
    if (!c)
        return;
    /* handles their owners could not close, or a signal: no goodbye */
    if (c->n_open || c->interrupted)
        c->broken = 1;
    if (c->s && !c->broken) {
        /* a polite goodbye, bounded by io_timeout: every channel at once */
        int rc[XSLOTS_MAX];
        if (conn_call_all(c, XSLOTS_MAX, channel_shutdown, NULL, rc) == 0 && !c->broken)
            SSH_INT(c, rc[0], libssh2_session_disconnect(c->s, "bye"));
    }
    if (c->s && c->broken)
        conn_release(c);
    /* frees the channels.  Non-blocking, it returns EAGAIN, freeing
     * nothing, while it would wait for the server to confirm closing a
     * channel still open: no waiting here, the socket is shut down so that
     * libssh2 sees the end at once (a few rounds at most; a session left
     * over is leaked rather than waited for). */
    for (int i = 0; c->s && i < 4 && libssh2_session_free(c->s) == LIBSSH2_ERROR_EAGAIN; i++)
        if (c->sock >= 0)
            shutdown(c->sock, SHUT_RDWR);
    if (c->sock >= 0)
        close(c->sock);
    free(c->open);
    free(c);
}

/* Connect, check the host key, authenticate and start SFTP, all within
 * connect_timeout; STOP (may be NULL) is set by another thread to give up. */
static sftp_conn *conn_open(const sftp_params *p, atomic_int *stop)
{
    known_hosts k = {0};
    sftp_conn *c = calloc(1, sizeof *c);
    if (!c) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    c->p = p;
    c->sock = -1;
    c->wake_fd = -1;
    c->stop = stop;
    c->deadline = now_ms() + p->connect_timeout_ms;
    if (!(c->s = libssh2_session_init())) {
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    libssh2_session_set_blocking(c->s, 0);
    if (known_hosts_load(c, &k) < 0)
        goto fail;
    char methods[512], recorded[256];
    host_key_methods(c, &k, 0, methods, sizeof methods, recorded, sizeof recorded);
    if (!*methods) /* not recorded: ask for the key OpenSSH would record */
        host_key_methods(c, &k, 1, methods, sizeof methods, recorded, sizeof recorded);
    if (*methods && libssh2_session_method_pref(c->s, LIBSSH2_METHOD_HOSTKEY, methods) < 0) {
        err_set(ERR_FAIL, "%s: libssh2 supports none of the host key types %s", p->where, recorded);
        goto fail;
    }
    if (tcp_connect(c) < 0)
        goto fail;
    int rc;
    SSH_INT(c, rc, libssh2_session_handshake(c->s, c->sock));
    if (rc < 0) {
        if (rc != LIBSSH2_ERROR_EAGAIN && *recorded) {
            char *msg = NULL;
            libssh2_session_last_error(c->s, &msg, NULL, 0);
            err_set(ERR_FAIL,
                    "SSH handshake with %s failed: %s. %s records only %s for this host: if the "
                    "server no longer has such a key, its host key has changed",
                    p->where, msg ? msg : "", p->known_hosts, recorded);
        } else if (rc != LIBSSH2_ERROR_EAGAIN) {
            char *msg = NULL;
            libssh2_session_last_error(c->s, &msg, NULL, 0);
            err_set(ERR_FAIL, "SSH handshake with %s failed: %s", p->where, msg ? msg : "");
        } else {
            err_prefix("SSH handshake: ");
        }
        c->broken = 1;
        goto fail;
    }
    if (check_host_key(c, &k, recorded) < 0)
        goto fail;
    known_hosts_free(&k);
    if (authenticate(c) < 0)
        goto fail;
    SSH_PTR(c, c->sftp, libssh2_sftp_init(c->s));
    if (!c->sftp) {
        conn_fail(c, libssh2_session_last_errno(c->s), "starting SFTP", p->path);
        goto fail;
    }
    c->ch[0] = c->sftp;
    c->deadline = 0;
    return c;
fail:
    known_hosts_free(&k);
    c->broken = 1; /* no goodbye to a host that failed a check */
    conn_free(c);
    return NULL;
}

/* Give C at least N SFTP channels, for PATH's transfer.  One at a time:
 * libssh2 starts one SFTP subsystem per session at a time (3 round trips
 * each), which is why connections opened ahead open theirs early. */
static int conn_channels(sftp_conn *c, int n, const char *path)
{
    for (int i = 1; i < n; i++) {
        if (c->ch[i])
            continue;
        SSH_PTR(c, c->ch[i], libssh2_sftp_init(c->s));
        if (!c->ch[i])
            return conn_fail(c, libssh2_session_last_errno(c->s), "starting an SFTP channel for",
                             path);
    }
    return 0;
}

/* ---- remote paths ----------------------------------------------------- */

static int check_name(const char *name)
{
    if (!*name || name[0] == '.' || strchr(name, '/') || strbuf_has_control(name, strlen(name))) {
        char shown[512];
        strbuf_printable_copy(shown, sizeof shown, name);
        return err_set(ERR_USAGE, "invalid object name '%s'", shown);
    }
    return 0;
}

static char *join(const sftp_remote *r, const char *name, const char *suffix)
{
    char *p;
    size_t pl = strlen(r->p.path);
    const char *sep = pl && r->p.path[pl - 1] == '/' ? "" : "/";
    if (asprintf(&p, "%s%s%s%s", r->p.path, sep, name, suffix) < 0) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    return p;
}

/* stat PATH: 1 found (ATTRS filled), 0 missing, -1 error. */
static int conn_stat(sftp_conn *c, const char *path, int type, LIBSSH2_SFTP_ATTRIBUTES *attrs)
{
    int rc;
    SSH_INT(c, rc, libssh2_sftp_stat_ex(c->sftp, path, (unsigned)strlen(path), type, attrs));
    if (rc == 0)
        return 1;
    if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
        unsigned long fx = libssh2_sftp_last_error(c->sftp);
        if (fx == LIBSSH2_FX_NO_SUCH_FILE || fx == LIBSSH2_FX_NO_SUCH_PATH)
            return 0;
    }
    return conn_fail(c, rc, "stat", path);
}

/* The remote's path must be there for commands that only read: a typo is
 * an error naming it, and nothing is created.  One round trip, as the stat
 * that starts conn_mkdirs. */
static int conn_check_path(sftp_conn *c, const char *path)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    int found = conn_stat(c, path, LIBSSH2_SFTP_STAT, &a);
    if (found < 0)
        return -1;
    if (!found)
        return err_set(ERR_FAIL, "%s:%s: the remote path is missing", c->p->where, path);
    if ((a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) && !LIBSSH2_SFTP_S_ISDIR(a.permissions))
        return err_set(ERR_FAIL, "%s:%s: path is not a directory", c->p->where, path);
    return 0;
}

/* mkdir -p of the remote's path (BACKEND_OPEN_WRITE). */
static int conn_mkdirs(sftp_conn *c, const char *path)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    int found = conn_stat(c, path, LIBSSH2_SFTP_STAT, &a);
    if (found < 0)
        return -1;
    if (found) {
        if ((a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) && !LIBSSH2_SFTP_S_ISDIR(a.permissions))
            return err_set(ERR_FAIL, "%s:%s: path is not a directory", c->p->where, path);
        return 0;
    }
    char *dir = strdup(path);
    if (!dir)
        return err_set(ERR_FAIL, "out of memory");
    int rc = 0;
    for (char *s = dir + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char save = *s;
        *s = '\0';
        found = conn_stat(c, dir, LIBSSH2_SFTP_STAT, &a);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (!found) {
            SSH_INT(c, rc, libssh2_sftp_mkdir_ex(c->sftp, dir, (unsigned)strlen(dir), 0750));
            if (rc < 0) {
                conn_fail(c, rc, "cannot create directory (path missing)", dir);
                break;
            }
            log_info("%s: created directory %s", c->p->where, dir);
        }
        *s = save;
        if (!save)
            break;
    }
    free(dir);
    return rc < 0 ? -1 : 0;
}

/* The remote's connection, reconnected when a previous operation broke it
 * (only between operations: a transfer in progress is not resumed yet).
 * Called with the lock held. */
static sftp_conn *remote_conn(sftp_remote *r)
{
    if (r->conn && !r->conn->broken && !r->conn->interrupted)
        return r->conn;
    conn_free(r->conn);
    r->conn = conn_open(&r->p, NULL);
    if (r->conn)
        r->conn->keep_on_signal = 1;
    r->gen++;
    return r->conn;
}

/* The connection a handle of generation GEN lives on, NULL (with an error)
 * when that connection broke.  Called with the lock held. */
static sftp_conn *handle_conn(sftp_remote *r, unsigned gen, const char *path)
{
    if (r->conn && !r->conn->broken && !r->conn->interrupted && r->gen == gen)
        return r->conn;
    err_set(ERR_FAIL, "%s:%s: connection lost", r->p.where, path);
    return NULL;
}

/* ---- the temporary file's stamp ---------------------------------------- */

/* Whether A, the attributes of a handle to PATH opened by name (fstat),
 * are those of the temporary file stamped ST (stamp_temp): its access time
 * and owner, and a regular file.  SFTP v3 open follows symlinks, and
 * someone who may write the directory could have swapped the file since it
 * was created; without the stamp nobody else can give a file of ours its
 * access time.  -1 with the error set otherwise: nothing may go through
 * that handle. */
static int stamp_check(const sftp_params *p, const temp_stamp *st, const char *path,
                       const LIBSSH2_SFTP_ATTRIBUTES *a)
{
    int ok = st && (a->flags & LIBSSH2_SFTP_ATTR_ACMODTIME) && a->atime == st->atime;
    if (ok && st->has_uid)
        ok = (a->flags & LIBSSH2_SFTP_ATTR_UIDGID) && a->uid == st->uid;
    if (ok && (a->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS))
        ok = LIBSSH2_SFTP_S_ISREG(a->permissions);
    if (ok)
        return 0;
    return err_set(ERR_FAIL,
                   "%s:%s: the temporary file was replaced on the server after it was created, "
                   "or read there: it no longer shows the access time and owner it was given (a "
                   "symbolic link or another file put in its place, or a program on the server "
                   "that read it and so updated its access time): nothing written through it, "
                   "nothing published",
                   p->where, path);
}

/* ---- backend operations ----------------------------------------------- */

static void params_free(sftp_params *p)
{
    free(p->host);
    free(p->user);
    free(p->path);
    free(p->identity);
    free(p->passfile);
    free(p->known_hosts);
    free(p->pin);
}

static char *dup_opt(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static void sftp_close(void *impl);

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;
static void init_libssh2(void)
{
    init_rc = libssh2_init(0);
}

/* Wait on CV (MU held) for at most WAIT_SLICE_MS: the caller then looks at
 * signals_pending(), as a signal does not wake a condition wait. */
static void cond_wait_slice(pthread_cond_t *cv, pthread_mutex_t *mu)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += WAIT_SLICE_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

/* ---- connections opened ahead ------------------------------------------ */

static void *ahead_main(void *arg)
{
    sftp_ahead *a = arg;
    sftp_remote *r = a->r;
    sftp_conn *c = conn_open(&r->p, &r->ahead_stop);
    /* a stream's channels too, three round trips each: as many as a stream
     * may use, or as the transfer that asks for the connection needs */
    for (int i = 1; c && i < XSLOTS_MAX; i++) {
        pthread_mutex_lock(&r->ahead_mu);
        int enough = r->ahead_want && i >= r->ahead_want;
        pthread_mutex_unlock(&r->ahead_mu);
        if (enough)
            break;
        if (conn_channels(c, i + 1, r->p.path) < 0) {
            conn_free(c);
            c = NULL;
        }
    }
    if (!c)
        log_debug("%s: a connection opened ahead failed: %s", r->p.where, err_msg());
    pthread_mutex_lock(&r->ahead_mu);
    a->c = c;
    a->ready_ms = now_ms();
    a->done = 1;
    pthread_cond_broadcast(&r->ahead_cv);
    pthread_mutex_unlock(&r->ahead_mu);
    return NULL;
}

/* Open one connection per stream in the background, alongside the
 * remote's own, with the SFTP channels a stream uses: each checks the host
 * key and authenticates like any other, and the first transfer's streams
 * take them instead of connecting then. */
static void ahead_start(sftp_remote *r)
{
    for (int i = 0; i < r->p.streams; i++) {
        sftp_ahead *a = &r->ahead[i];
        a->r = r;
        if (pthread_create(&a->t, NULL, ahead_main, a) != 0)
            break;
        r->n_ahead++;
    }
}

/* A connection opened ahead, waiting for one still being opened (which
 * opens no more than WANT channels from now on); NULL when none is left.
 * Stale ones are dropped without a goodbye: a session that may be dead
 * could hold the caller for io_timeout. */
static sftp_conn *ahead_take(sftp_remote *r, int want)
{
    sftp_conn *c = NULL;
    pthread_mutex_lock(&r->ahead_mu);
    r->ahead_want = want;
    for (;;) {
        int pending = 0;
        for (int i = 0; i < r->n_ahead && !c; i++) {
            sftp_ahead *a = &r->ahead[i];
            if (!a->done) {
                pending = 1;
            } else if (a->c && now_ms() - a->ready_ms > AHEAD_MAX_IDLE_MS) {
                a->c->broken = 1;
                conn_free(a->c); /* no I/O when broken */
                a->c = NULL;
            } else if (a->c) {
                c = a->c;
                a->c = NULL;
            }
        }
        if (c || !pending || signals_pending())
            break; /* on a signal the caller's own connect fails at once */
        cond_wait_slice(&r->ahead_cv, &r->ahead_mu);
    }
    pthread_mutex_unlock(&r->ahead_mu);
    return c;
}

/* Stop the attempts still running and close what was not taken. */
static void ahead_stop(sftp_remote *r)
{
    atomic_store(&r->ahead_stop, 1);
    for (int i = 0; i < r->n_ahead; i++) {
        pthread_join(r->ahead[i].t, NULL);
        if (r->ahead[i].c) {
            r->ahead[i].c->stop = NULL; /* a polite goodbye */
            conn_free(r->ahead[i].c);
            r->ahead[i].c = NULL;
        }
    }
    r->n_ahead = 0;
}

static void *sftp_open(const config_remote *rc, unsigned flags)
{
    if (!rc->host || !rc->user || !rc->identity_file || !rc->known_hosts || !rc->path ||
        !*rc->path) {
        err_set(ERR_USAGE, "host, user, identity_file, known_hosts and path are required");
        return NULL;
    }
    /* local mistakes first: exit 2 whatever the server's state */
    if (check_private("identity_file", rc->identity_file) < 0)
        return NULL;
    if (rc->identity_passphrase_file &&
        check_private("identity_passphrase_file", rc->identity_passphrase_file) < 0)
        return NULL;
    char ktype[64];
    identity_type(rc->identity_file, ktype, sizeof ktype);
    if (strcmp(ktype, "ssh-rsa") == 0 || strcmp(ktype, "ssh-dss") == 0) {
        err_set(ERR_USAGE,
                "identity_file %s is an %s key: libssh2 1.10 can only sign with plain ssh-rsa "
                "(SHA-1), which OpenSSH 8.8 and later refuse, so RSA identities cannot work. "
                "Use an ed25519 or ecdsa key (ssh-keygen -t ed25519 -f FILE).",
                rc->identity_file, ktype);
        return NULL;
    }
    pthread_once(&init_once, init_libssh2);
    if (init_rc != 0 || sodium_init() < 0) {
        err_set(ERR_FAIL, "cannot initialise libssh2");
        return NULL;
    }
    sftp_remote *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    int oom = 0;
    r->p.host = dup_opt(rc->host, &oom);
    r->p.user = dup_opt(rc->user, &oom);
    r->p.path = dup_opt(rc->path, &oom);
    r->p.identity = dup_opt(rc->identity_file, &oom);
    r->p.passfile = dup_opt(rc->identity_passphrase_file, &oom);
    r->p.known_hosts = dup_opt(rc->known_hosts, &oom);
    r->p.pin = dup_opt(rc->host_key_fingerprint, &oom);
    r->p.port = rc->port ? rc->port : 22;
    r->p.connect_timeout_ms = (rc->connect_timeout > 0 ? rc->connect_timeout : 30) * 1000;
    r->p.io_timeout_ms = (rc->io_timeout > 0 ? rc->io_timeout : 60) * 1000;
    r->p.retries = rc->retries >= 0 ? rc->retries : 5;
    r->p.streams = rc->parallel_streams > 0 ? rc->parallel_streams : 4;
    if (r->p.streams > SFTP_MAX_STREAMS)
        r->p.streams = SFTP_MAX_STREAMS;
    snprintf(r->p.where, sizeof r->p.where, strchr(rc->host, ':') ? "[%s]:%d" : "%s:%d", rc->host,
             r->p.port);
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->ahead_mu, NULL);
    pthread_cond_init(&r->ahead_cv, NULL);
    atomic_init(&r->ahead_stop, 0);
    if (oom) {
        err_set(ERR_FAIL, "out of memory");
        sftp_close(r);
        return NULL;
    }
    r->gen = 1;
    if (flags & BACKEND_OPEN_BULK)
        ahead_start(r);
    if (!(r->conn = conn_open(&r->p, NULL))) {
        sftp_close(r);
        return NULL;
    }
    r->conn->keep_on_signal = 1;
    /* only a command that writes creates the path */
    if (((flags & BACKEND_OPEN_WRITE) ? conn_mkdirs(r->conn, r->p.path)
                                      : conn_check_path(r->conn, r->p.path)) < 0) {
        sftp_close(r);
        return NULL;
    }
    return r;
}

static void sftp_close(void *impl)
{
    sftp_remote *r = impl;
    ahead_stop(r);
    conn_free(r->conn);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->ahead_mu);
    pthread_cond_destroy(&r->ahead_cv);
    params_free(&r->p);
    free(r);
}

/* ---- transfers: parallel streams, resume ------------------------------ */

/* A transfer moves one file in blocks: block k covers bytes [k*XBLOCK,
 * (k+1)*XBLOCK) of the range and goes through stream k mod N, each stream
 * being its own SSH connection on its own thread.  Over a long link one SSH
 * channel carries at most its window per round trip; N of them carry N
 * windows.
 *
 * A stream holds 2 blocks (on a long link 4 when writing, 3 when reading:
 * more in flight per round trip, more memory), each on its own SFTP handle
 * to the file:
 * libssh2 drops whatever is in flight on a handle when it seeks, so one
 * handle per block lets the next block start while the previous one is
 * still being acknowledged.  Each slot's handle lives on its own SFTP
 * channel of the connection: libssh2 keeps the read and write state per
 * SFTP channel (calls on two handles of one channel would mix their
 * requests), and each channel has its own window, so every slot can keep a
 * whole block in flight.  A call that would block while sending must be
 * repeated before any other (libssh2 holds the half-sent packet for the
 * session).  The blocks are also the resume window: a
 * block is released only once the server acknowledged all of it (write) or
 * the consumer took it (read).  When a connection drops, the stream
 * reconnects (with backoff, at most `retries` times) and carries on from
 * each block's acknowledged byte: SFTP acknowledges a write only after the
 * server wrote it, so those bytes are in the file (the reconnect checks that
 * the file still holds them). */

#define XBLOCK          (768u * 1024u)
#define XSLOTS_FAR_READ 3 /* reading over a long link: a fourth did not help */
#define XSLOTS_NEAR     2 /* slots per stream on a short link (peak memory) */
#define XLONG_LINK_MS   5 /* a round trip this long or longer is a long link */
#define XBACKOFF_MAX_MS 8000L

/* moved since a reconnect: retries earned back */
#define XRESET_AFTER (64ull * 1024 * 1024)
/* written between early flushes (writers) */
#define XFLUSH_EVERY (64ull * 1024 * 1024)

enum { XB_FREE, XB_BUSY, XB_READY };

typedef struct {
    uint8_t *data;
    uint64_t k;   /* block number */
    uint64_t off; /* file offset */
    size_t len, done;
    int state; /* XB_FREE, XB_BUSY (the stream moves it), XB_READY (read: for the consumer) */
} xblock;

typedef struct {
    sftp_xfer *x;
    int idx;
    pthread_t t;
    int started;
    sftp_conn *c;
    LIBSSH2_SFTP_HANDLE *h[XSLOTS_MAX];
    int placed[XSLOTS_MAX]; /* handle positioned at its block's next byte */
    xblock b[XSLOTS_MAX];   /* block j of this stream (k = idx + j*N) in slot j % slots */
    uint64_t next_k;        /* read: next block this stream fetches */
    uint64_t acked_hi;      /* write: end of the furthest byte the server acknowledged */
    uint64_t moved;         /* bytes since the last reconnect */
    int attempts;           /* reconnects since the last XRESET_AFTER bytes */
    int sticky;             /* slot whose call would block while sending: called first */
    int wake_fd;            /* eventfd: a slot got work while the stream waits on its socket */
} xstream;

struct sftp_xfer {
    sftp_remote *r;
    int writing;
    const char *path;
    pthread_mutex_t mu; /* block states, closing, failed */
    pthread_cond_t cv;
    atomic_int stop;         /* abort, a failed stream, or the reader closed */
    int closing;             /* write: no more blocks will come */
    const temp_stamp *stamp; /* write: what each handle must show (stamp_check) */
    int failed;
    err_kind fail_kind;
    char fail_msg[1024];
    int n;
    int slots;           /* blocks in flight per stream */
    uint64_t nblocks;    /* write: handed out so far; read: in the range */
    uint64_t start, end; /* read: the byte range */
    uint64_t rk;         /* read: next block to deliver */
    size_t rpos;         /* read: bytes of it delivered */
    xstream s[SFTP_MAX_STREAMS];
};

static void xfer_free(sftp_xfer *x);

/* Wake a stream waiting on its socket: one of its slots has work. */
static void stream_wake(const xstream *s)
{
    uint64_t one = 1;
    ssize_t n = write(s->wake_fd, &one, sizeof one);
    (void)n; /* a full counter is already a wake-up */
}

/* A transfer of PATH through N streams; RTT_MS, a round trip measured on
 * the remote's connection, sizes what each stream keeps in flight. */
static sftp_xfer *xfer_new(sftp_remote *r, int writing, const char *path, int n, int64_t rtt_ms)
{
    sftp_xfer *x = calloc(1, sizeof *x);
    if (!x) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    x->r = r;
    x->writing = writing;
    x->path = path;
    x->n = n;
    x->slots = rtt_ms < XLONG_LINK_MS ? XSLOTS_NEAR : writing ? XSLOTS_MAX : XSLOTS_FAR_READ;
    atomic_init(&x->stop, 0);
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    for (int i = 0; i < n; i++) {
        x->s[i].x = x;
        x->s[i].idx = i;
        x->s[i].next_k = (uint64_t)i;
        x->s[i].sticky = -1;
        if ((x->s[i].wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
            err_sys(ERR_FAIL, errno, "eventfd");
            x->n = i;
            xfer_free(x);
            return NULL;
        }
    }
    return x;
}

/* Stop every stream and wait for them. */
static void xfer_join(sftp_xfer *x, int stop)
{
    pthread_mutex_lock(&x->mu);
    if (stop)
        atomic_store(&x->stop, 1);
    x->closing = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    for (int i = 0; i < x->n; i++)
        if (x->s[i].started)
            stream_wake(&x->s[i]);
    for (int i = 0; i < x->n; i++)
        if (x->s[i].started) {
            pthread_join(x->s[i].t, NULL);
            x->s[i].started = 0;
        }
}

static void xfer_free(sftp_xfer *x)
{
    if (!x)
        return;
    xfer_join(x, 1);
    for (int i = 0; i < x->n; i++) {
        for (int j = 0; j < XSLOTS_MAX; j++)
            free(x->s[i].b[j].data);
        close(x->s[i].wake_fd);
    }
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    free(x);
}

/* Record this thread's error as the transfer's and stop the others. */
static void xfer_fail(sftp_xfer *x)
{
    pthread_mutex_lock(&x->mu);
    if (!x->failed) {
        x->failed = 1;
        x->fail_kind = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
        snprintf(x->fail_msg, sizeof x->fail_msg, "%s", err_msg());
    }
    atomic_store(&x->stop, 1);
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static int xfer_raise(const sftp_xfer *x)
{
    return err_set(x->fail_kind, "%s", x->fail_msg);
}

/* Wait on the transfer's condition (lock held), at most WAIT_SLICE_MS, so
 * that a signal is noticed; -1 with an error on a signal. */
static int xfer_wait(sftp_xfer *x)
{
    cond_wait_slice(&x->cv, &x->mu);
    if (signals_pending())
        return interrupted(x->r->p.where, x->path);
    return 0;
}

/* Write: wait until the server acknowledged every block; the streams then
 * close their connections by themselves while the caller goes on (fsync,
 * rename and manifest need not wait for those goodbyes).  -1 with the
 * transfer's error if it failed. */
static int xfer_drain(sftp_xfer *x)
{
    pthread_mutex_lock(&x->mu);
    x->closing = 1;
    pthread_cond_broadcast(&x->cv);
    for (;;) {
        int pending = 0;
        for (int i = 0; i < x->n && !pending; i++)
            for (int j = 0; j < x->slots; j++)
                pending |= x->s[i].b[j].state != XB_FREE;
        if (x->failed || !pending)
            break;
        if (xfer_wait(x) < 0) {
            pthread_mutex_unlock(&x->mu);
            return -1;
        }
    }
    int failed = x->failed;
    pthread_mutex_unlock(&x->mu);
    return failed ? xfer_raise(x) : 0;
}

/* Slot I's handle: opened (0) or the libssh2 error (EAGAIN while pending). */
static int slot_open(sftp_conn *c, void *arg, int i)
{
    xstream *s = arg;
    sftp_xfer *x = s->x;
    if (!s->h[i] &&
        (s->h[i] = libssh2_sftp_open_ex(c->ch[i], x->path, (unsigned)strlen(x->path),
                                        x->writing ? LIBSSH2_FXF_WRITE : LIBSSH2_FXF_READ, 0,
                                        LIBSSH2_SFTP_OPENFILE)))
        conn_keep(c, s->h[i]);
    return s->h[i] ? 0 : libssh2_session_last_errno(c->s);
}

static int slot_close(sftp_conn *c, void *arg, int i)
{
    xstream *s = arg;
    return handle_close_step(c, &s->h[i]);
}

/* The attributes of each slot's handle, side by side (one channel each). */
typedef struct {
    xstream *s;
    LIBSSH2_SFTP_ATTRIBUTES a[XSLOTS_MAX];
} slot_attrs;

static int slot_fstat(sftp_conn *c, void *arg, int i)
{
    slot_attrs *sa = arg;
    (void)c;
    return libssh2_sftp_fstat_ex(sa->s->h[i], &sa->a[i], 0);
}

/* Close the stream's handles and connection (politely unless broken). */
static void stream_close(xstream *s)
{
    sftp_conn *c = s->c;
    if (c && !c->broken)
        (void)conn_call_all(c, s->x->slots, slot_close, s, (int[XSLOTS_MAX]){0});
    /* what could not be closed is the connection's to free */
    memset(s->h, 0, sizeof s->h);
    memset(s->placed, 0, sizeof s->placed);
    s->sticky = -1;
    conn_free(c);
    s->c = NULL;
}

/* (Re)connect a stream and open its handles.  Writing, each handle must
 * prove to reach the temporary file created (stamp_check) before a byte
 * goes through it - one round trip, all slots side by side - and after a
 * reconnect the file must still hold every byte the server acknowledged. */
static int stream_connect(xstream *s)
{
    sftp_xfer *x = s->x;
    if (!(s->c = ahead_take(x->r, x->slots)) && !(s->c = conn_open(&x->r->p, &x->stop)))
        return -1;
    s->c->stop = &x->stop;
    s->c->wake_fd = s->wake_fd;
    if (conn_channels(s->c, x->slots, x->path) < 0)
        return -1;
    int opened[XSLOTS_MAX];
    if (conn_call_all(s->c, x->slots, slot_open, s, opened) < 0)
        return err_prefix("cannot open %s: ", x->path);
    for (int i = 0; i < x->slots; i++)
        if (opened[i] < 0)
            return conn_fail_on(s->c, s->c->ch[i], opened[i], "cannot open", x->path);
    if (!x->writing)
        return 0;
    slot_attrs sa = {.s = s};
    int rc[XSLOTS_MAX];
    if (conn_call_all(s->c, x->slots, slot_fstat, &sa, rc) < 0)
        return err_prefix("fstat %s: ", x->path);
    for (int i = 0; i < x->slots; i++) {
        if (rc[i] < 0)
            return conn_fail_on(s->c, s->c->ch[i], rc[i], "fstat", x->path);
        if (stamp_check(&x->r->p, x->stamp, x->path, &sa.a[i]) < 0)
            return -1;
    }
    const LIBSSH2_SFTP_ATTRIBUTES *a = &sa.a[0];
    if (s->acked_hi && (!(a->flags & LIBSSH2_SFTP_ATTR_SIZE) || a->filesize < s->acked_hi))
        return err_set(ERR_FAIL,
                       "%s:%s: holds %llu bytes after reconnecting, but the server had "
                       "acknowledged %llu: cannot resume",
                       x->r->p.where, x->path, (unsigned long long)a->filesize,
                       (unsigned long long)s->acked_hi);
    return 0;
}

/* A step of a stream failed.  When the transport broke (drop, timeout) and
 * retries are left: wait (0.5 s, 1 s, 2 s... at most 8 s), reconnect and
 * return 0 to carry on where the blocks stand.  -1 with the error kept
 * otherwise. */
static int stream_recover(xstream *s)
{
    sftp_xfer *x = s->x;
    const sftp_params *p = &x->r->p;
    for (;;) {
        if ((s->c && !s->c->broken) || signals_pending() || atomic_load(&x->stop))
            return -1;
        if (s->attempts >= p->retries)
            return err_prefix("gave up after %d retr%s: ", p->retries,
                              p->retries == 1 ? "y" : "ies");
        int shift = s->attempts < 4 ? s->attempts : 4;
        long delay = 500L << shift;
        if (delay > XBACKOFF_MAX_MS)
            delay = XBACKOFF_MAX_MS;
        s->attempts++;
        log_warn("%s: stream %d of %s: %s; reconnecting in %.1f s (retry %d of %d)", p->where,
                 s->idx + 1, x->path, err_msg(), delay / 1000.0, s->attempts, p->retries);
        stream_close(s);
        if (sleep_ms(delay, &x->stop, p->where, x->path) < 0)
            return -1;
        s->moved = 0;
        if (stream_connect(s) == 0) {
            log_info("%s: stream %d of %s reconnected, resuming", p->where, s->idx + 1, x->path);
            return 0;
        }
    }
}

static void stream_moved(xstream *s, size_t n)
{
    s->moved += n;
    if (s->moved >= XRESET_AFTER)
        s->attempts = 0;
}

/* A failed write: SFTP v3 reports a full disk as a bare "failure", so ask
 * the server how much room is left (statvfs@openssh.com) to say so. */
static int write_failed(sftp_conn *c, LIBSSH2_SFTP *ch, int rc, const char *path, size_t len)
{
    if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL || libssh2_sftp_last_error(ch) != LIBSSH2_FX_FAILURE)
        return conn_fail_on(c, ch, rc, "write", path);
    LIBSSH2_SFTP_STATVFS st;
    int src;
    SSH_INT(c, src, libssh2_sftp_statvfs(c->sftp, path, strlen(path), &st));
    if (src == 0 && st.f_bavail * st.f_frsize < (uint64_t)len + 65536)
        return err_set(ERR_FAIL, "%s:%s: write: no space left on the server (%llu bytes free)",
                       c->p->where, path, (unsigned long long)(st.f_bavail * st.f_frsize));
    return conn_fail_on(c, ch, rc, "write", path);
}

/* Which slots hold a block the stream must move (lock not held). */
static int stream_busy(xstream *s, int busy[XSLOTS_MAX])
{
    int any = 0;
    pthread_mutex_lock(&s->x->mu);
    for (int i = 0; i < s->x->slots; i++)
        any |= busy[i] = s->b[i].state == XB_BUSY;
    pthread_mutex_unlock(&s->x->mu);
    return any;
}

/* Account N bytes moved on slot I; the block is finished when complete. */
static void stream_advance(xstream *s, int i, size_t n)
{
    sftp_xfer *x = s->x;
    xblock *b = &s->b[i];
    stream_moved(s, n);
    pthread_mutex_lock(&x->mu);
    b->done += n;
    if (x->writing && b->off + b->done > s->acked_hi)
        s->acked_hi = b->off + b->done;
    if (b->done == b->len) {
        b->state = x->writing ? XB_FREE : XB_READY;
        s->placed[i] = 0;
        pthread_cond_broadcast(&x->cv);
    }
    pthread_mutex_unlock(&x->mu);
}

/* One libssh2 call on slot I's handle: bytes written (acknowledged) or
 * read, 0, LIBSSH2_ERROR_EAGAIN or another libssh2 error.  Writes hand the
 * rest of the block to libssh2, which keeps all of it in flight.  Reads:
 * libssh2 requests 4x the buffer ahead and drops that read-ahead on the next
 * seek, so they ask for a quarter of what is left of the block: the first
 * call requests exactly the block. */
static ssize_t slot_call(xstream *s, int i)
{
    xblock *b = &s->b[i];
    if (!s->placed[i]) {
        libssh2_sftp_seek64(s->h[i], b->off + b->done);
        s->placed[i] = 1;
    }
    size_t left = b->len - b->done;
    if (s->x->writing)
        return libssh2_sftp_write(s->h[i], (const char *)b->data + b->done, left);
    return libssh2_sftp_read(s->h[i], (char *)b->data + b->done, left >= 4 ? left / 4 : left);
}

/* Give each busy block's handle a turn, the one whose send would block
 * first; wait on the socket when none could move. */
static int stream_step(xstream *s)
{
    sftp_xfer *x = s->x;
    if (!s->c && stream_connect(s) < 0)
        return -1;
    int busy[XSLOTS_MAX], blocked = 0, moved = 0;
    stream_busy(s, busy);
    int first = s->sticky >= 0 ? s->sticky : 0;
    for (int t = 0; t < x->slots; t++) {
        int i = (first + t) % x->slots;
        if (!busy[i])
            continue;
        xblock *b = &s->b[i];
        ssize_t n = slot_call(s, i);
        if (n == LIBSSH2_ERROR_EAGAIN) {
            if (conn_sending_blocked(s->c)) {
                s->sticky = i;
                return conn_wait(s->c);
            }
            s->sticky = -1;
            blocked = 1;
            continue;
        }
        s->sticky = -1;
        if (n < 0 && x->writing)
            return write_failed(s->c, s->c->ch[i], (int)n, x->path, b->len - b->done);
        if (n < 0)
            return conn_fail_on(s->c, s->c->ch[i], (int)n, "read", x->path);
        if (n == 0 && !x->writing)
            return err_set(ERR_FAIL, "%s:%s: ends at byte %llu, before the %llu bytes it had",
                           x->r->p.where, x->path, (unsigned long long)(b->off + b->done),
                           (unsigned long long)x->end);
        if (n > 0) {
            moved = 1;
            stream_advance(s, i, (size_t)n);
        }
    }
    return blocked && !moved ? conn_wait(s->c) : 0;
}

/* Whether a slot holds a block to move (lock held). */
static int slots_busy(const xstream *s)
{
    for (int i = 0; i < s->x->slots; i++)
        if (s->b[i].state == XB_BUSY)
            return 1;
    return 0;
}

static void *wstream_main(void *arg)
{
    xstream *s = arg;
    sftp_xfer *x = s->x;
    int busy[XSLOTS_MAX];
    /* connect before the first block comes: the handshake overlaps the dump */
    if (stream_connect(s) < 0 && stream_recover(s) < 0) {
        xfer_fail(x);
        stream_close(s);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&x->mu);
        while (!atomic_load(&x->stop) && !x->closing && !slots_busy(s) && !signals_pending())
            cond_wait_slice(&x->cv, &x->mu);
        pthread_mutex_unlock(&x->mu);
        if (signals_pending()) {
            interrupted(x->r->p.where, x->path);
            xfer_fail(x);
            break;
        }
        if (atomic_load(&x->stop) || !stream_busy(s, busy))
            break; /* stopped, or closing with nothing left */
        if (stream_step(s) < 0 && stream_recover(s) < 0) {
            xfer_fail(x);
            break;
        }
    }
    stream_close(s);
    return NULL;
}

static void *rstream_main(void *arg)
{
    xstream *s = arg;
    sftp_xfer *x = s->x;
    for (;;) {
        int busy = 0;
        pthread_mutex_lock(&x->mu);
        for (;;) {
            /* take the next blocks of this stream into free slots, in order */
            while (s->next_k < x->nblocks) {
                xblock *b = &s->b[(s->next_k / (uint64_t)x->n) % (uint64_t)x->slots];
                if (b->state != XB_FREE)
                    break;
                if (!b->data && !(b->data = malloc(XBLOCK))) {
                    err_set(ERR_FAIL, "out of memory");
                    pthread_mutex_unlock(&x->mu);
                    xfer_fail(x);
                    goto out;
                }
                b->k = s->next_k;
                b->off = x->start + b->k * XBLOCK;
                b->len = x->end - b->off < XBLOCK ? (size_t)(x->end - b->off) : XBLOCK;
                b->done = 0;
                b->state = XB_BUSY;
                s->next_k += (uint64_t)x->n;
            }
            busy = slots_busy(s);
            if (atomic_load(&x->stop) || busy || s->next_k >= x->nblocks || signals_pending())
                break;
            cond_wait_slice(&x->cv, &x->mu);
        }
        pthread_mutex_unlock(&x->mu);
        if (signals_pending()) {
            interrupted(x->r->p.where, x->path);
            xfer_fail(x);
            break;
        }
        if (atomic_load(&x->stop) || !busy)
            break;
        if (stream_step(s) < 0 && stream_recover(s) < 0) {
            xfer_fail(x);
            break;
        }
    }
out:
    stream_close(s);
    return NULL;
}

static int stream_start(xstream *s, void *(*fn)(void *))
{
    if (s->started)
        return 0;
    if (pthread_create(&s->t, NULL, fn, s) != 0)
        return err_set(ERR_FAIL, "cannot start an SFTP stream thread");
    s->started = 1;
    return 0;
}

/* ---- writers ---------------------------------------------------------- */

/* Create the temporary file PATH empty, mode 0600.  Exclusively (CREAT|EXCL):
 * nothing already there is ever truncated, reused or written through (a
 * leftover, another host's upload, a planted symlink: SFTP v3 open follows
 * symlinks, but O_EXCL refuses any existing name, a dangling symlink
 * included).  Its open handle, or NULL with the error set. */
static LIBSSH2_SFTP_HANDLE *create_temp(sftp_conn *c, const char *path)
{
    LIBSSH2_SFTP_HANDLE *h;
    SSH_PTR(c, h,
            libssh2_sftp_open_ex(c->sftp, path, (unsigned)strlen(path),
                                 LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, 0600,
                                 LIBSSH2_SFTP_OPENFILE));
    if (h) {
        conn_keep(c, h);
        return h;
    }
    int rc = libssh2_session_last_errno(c->s);
    unsigned long fx = rc == LIBSSH2_ERROR_SFTP_PROTOCOL ? libssh2_sftp_last_error(c->sftp) : 0;
    if (fx == LIBSSH2_FX_FAILURE) {
        /* SFTP v3 reports an existing name as a bare failure: say so (only
         * on this error path does it cost a round trip) */
        LIBSSH2_SFTP_ATTRIBUTES a;
        int found = conn_stat(c, path, LIBSSH2_SFTP_LSTAT, &a);
        if (found > 0)
            err_set(ERR_FAIL,
                    "%s:%s: cannot create: the name already exists on the server (%s); it was "
                    "left as it is",
                    c->p->where, path,
                    (a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) && LIBSSH2_SFTP_S_ISLNK(a.permissions)
                        ? "a symbolic link"
                        : "a file or directory");
        else if (found == 0)
            status_fail(c, fx, "cannot create", path);
        return NULL;
    }
    conn_fail(c, rc, "cannot create", path);
    return NULL;
}

/* fsetstat of the creating handle, and lstat of the name, side by side. */
typedef struct {
    LIBSSH2_SFTP_HANDLE *h;
    const char *path;
    LIBSSH2_SFTP_ATTRIBUTES set, got;
    unsigned long fx[2]; /* the SFTP status of a call that failed */
} stamp_req;

static int stamp_call(sftp_conn *c, void *arg, int i)
{
    stamp_req *q = arg;
    int rc = i == 0 ? libssh2_sftp_fsetstat(q->h, &q->set)
                    : libssh2_sftp_stat_ex(c->sftp, q->path, (unsigned)strlen(q->path),
                                           LIBSSH2_SFTP_LSTAT, &q->got);
    if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL)
        q->fx[i] = libssh2_sftp_last_error(c->sftp);
    return rc;
}

/* Stamp the temporary file PATH just created (handle H) before any other
 * session opens it by name (the streams; the commit after a reconnect):
 * through H, so on the file created whatever is at the name by now, an
 * access time in the past picked at random.
 * Writes never change the access time, and nobody but the file's owner can
 * set one.  The name's lstat, in the same round trip, tells what the server
 * keeps (some file systems round the time): that, and the owner, go to ST
 * for stamp_check.  -1 with the error set when the server refuses or drops
 * the stamp (the streams could not be checked), or the name is no longer
 * that file. */
static int stamp_temp(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h, const char *path, temp_stamp *st)
{
    /* 2001-09-09 to 2010-01-13 */
    unsigned long atime = 1000000000ul + randombytes_uniform(1u << 28);
    stamp_req q = {.h = h, .path = path};
    q.set.flags = LIBSSH2_SFTP_ATTR_ACMODTIME;
    q.set.atime = atime;
    /* SFTP v3 sets both times, in whole seconds: rounded up, so that an
     * upload in progress never looks older than it is (until its first
     * write sets the server's own) */
    q.set.mtime = (unsigned long)time(NULL) + 1;
    int rc[2];
    if (conn_call_all(c, 2, stamp_call, &q, rc) < 0)
        return err_prefix("setstat %s: ", path);
    if (rc[0] == LIBSSH2_ERROR_SFTP_PROTOCOL)
        return err_set(ERR_FAIL,
                       "%s:%s: the server refused to set the temporary file's times (%s, SFTP "
                       "status %lu): without them the parallel streams cannot prove that they "
                       "write to the file created; not written",
                       c->p->where, path, fx_str(q.fx[0]), q.fx[0]);
    if (rc[0] < 0)
        return conn_fail(c, rc[0], "setstat", path);
    if (rc[1] == LIBSSH2_ERROR_SFTP_PROTOCOL &&
        (q.fx[1] == LIBSSH2_FX_NO_SUCH_FILE || q.fx[1] == LIBSSH2_FX_NO_SUCH_PATH))
        return err_set(ERR_FAIL,
                       "%s:%s: the temporary file was replaced on the server after it was "
                       "created (it is gone): nothing written, nothing published",
                       c->p->where, path);
    if (rc[1] < 0)
        return conn_fail(c, rc[1], "lstat", path);
    const LIBSSH2_SFTP_ATTRIBUTES *a = &q.got;
    if ((a->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) && !LIBSSH2_SFTP_S_ISREG(a->permissions))
        return err_set(ERR_FAIL,
                       "%s:%s: the temporary file was replaced on the server after it was "
                       "created (by a symbolic link or something else): nothing written, nothing "
                       "published",
                       c->p->where, path);
    long diff = (a->flags & LIBSSH2_SFTP_ATTR_ACMODTIME) ? (long)(a->atime - atime) : LONG_MAX;
    if (diff < -2 * 86400 || diff > 2 * 86400)
        return err_set(ERR_FAIL,
                       "%s:%s: the temporary file does not show the access time just set on it "
                       "(the server ignores it, or the file was replaced): the parallel streams "
                       "cannot prove that they write to the file created; not written",
                       c->p->where, path);
    st->atime = a->atime;
    st->has_uid = (a->flags & LIBSSH2_SFTP_ATTR_UIDGID) != 0;
    st->uid = a->uid;
    return 0;
}

/* fsync@openssh.com and fstat of a handle side by side (the server answers
 * in order, so the size is that of the flushed file). */
typedef struct {
    LIBSSH2_SFTP_HANDLE *h;
    LIBSSH2_SFTP_ATTRIBUTES *a;
    unsigned long fsync_fx; /* the fsync's SFTP status when it failed */
} fsync_fstat;

static int fsync_then_fstat(sftp_conn *c, void *arg, int i)
{
    fsync_fstat *f = arg;
    if (i)
        return libssh2_sftp_fstat_ex(f->h, f->a, 0);
    int rc = conn_fsync_call(c, f->h);
    if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) /* before the fstat's answer replaces it */
        f->fsync_fx = libssh2_sftp_last_error(c->sftp);
    return rc;
}

static int writer_start_streams(sftp_writer *w, uint64_t size_hint);
static void sftp_writer_abort(void *impl);

static void *sftp_writer_open(void *impl, const char *name, uint64_t size_hint)
{
    sftp_remote *r = impl;
    if (check_name(name) < 0)
        return NULL;
    sftp_writer *w = calloc(1, sizeof *w);
    /* a temporary name of its own: two uploads of one name (two hosts
     * sharing a server) never write one file, and a leftover of an earlier
     * run is never reused */
    char *temp = atomic_file_temp_name(name);
    if (!w || !temp || !(w->final = join(r, name, "")) || !(w->partial = join(r, temp, ""))) {
        free(temp);
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    free(temp);
    w->r = r;
    /* Create the temporary file now, so that a path that is not writable
     * fails before any data moves.  A small object (a manifest) is created
     * whole at commit instead: over a long link every request is a round
     * trip. */
    int small = size_hint && size_hint <= XBLOCK;
    pthread_mutex_lock(&r->lock);
    sftp_conn *c = remote_conn(r);
    LIBSSH2_SFTP_ATTRIBUTES a;
    int64_t t0 = now_ms();
    int found = c ? conn_stat(c, w->final, LIBSSH2_SFTP_LSTAT, &a) : -1;
    w->rtt_ms = now_ms() - t0;
    if (found == 0 && !small) {
        w->h = create_temp(c, w->partial);
        w->gen = r->gen;
        w->stamped = w->h && stamp_temp(c, w->h, w->partial, &w->stamp) == 0;
    }
    int ok = found == 0 && (small || w->h);
    if (found > 0)
        err_set(ERR_FAIL, "%s:%s already exists", r->p.where, w->final);
    pthread_mutex_unlock(&r->lock);
    if (!ok)
        goto fail;
    if ((!small && !w->stamped) || writer_start_streams(w, size_hint) < 0) {
        sftp_writer_abort(w);
        return NULL;
    }
    return w;
fail:
    if (w) {
        free(w->final);
        free(w->partial);
    }
    free(w);
    return NULL;
}

/* An object of more than one block, or of unknown size (an archive being
 * made): connect its streams now (in their threads), as many as it has
 * blocks, so that the handshakes overlap the start of the dump.  Smaller
 * objects (manifests) go over the remote's connection at commit. */
static int writer_start_streams(sftp_writer *w, uint64_t size_hint)
{
    int n = w->r->p.streams;
    if (size_hint && size_hint <= XBLOCK)
        return 0;
    if (size_hint && (size_hint + XBLOCK - 1) / XBLOCK < (uint64_t)n)
        n = (int)((size_hint + XBLOCK - 1) / XBLOCK);
    if (!(w->x = xfer_new(w->r, 1, w->partial, w->r->p.streams, w->rtt_ms)))
        return -1;
    w->x->stamp = w->stamped ? &w->stamp : NULL;
    for (int i = 0; i < n; i++)
        if (stream_start(&w->x->s[i], wstream_main) < 0)
            return -1;
    return 0;
}

/* Give the filled block to its stream (started on its first block); waits
 * while that stream still holds the block of that slot. */
static int writer_hand_off(sftp_writer *w)
{
    sftp_remote *r = w->r;
    if (!w->x && !w->h) {
        /* announced as small but larger: the streams open the file by
         * name, so it must exist (stamped) first */
        pthread_mutex_lock(&r->lock);
        sftp_conn *c = remote_conn(r);
        w->h = c ? create_temp(c, w->partial) : NULL;
        w->gen = r->gen;
        w->stamped = w->h && stamp_temp(c, w->h, w->partial, &w->stamp) == 0;
        pthread_mutex_unlock(&r->lock);
        if (!w->stamped)
            return -1; /* the abort removes what was created */
    }
    if (!w->x) {
        if (!(w->x = xfer_new(r, 1, w->partial, r->p.streams, w->rtt_ms)))
            return -1;
        w->x->stamp = w->stamped ? &w->stamp : NULL;
    }
    sftp_xfer *x = w->x;
    uint64_t k = x->nblocks;
    xstream *s = &x->s[k % (uint64_t)x->n];
    xblock *b = &s->b[(k / (uint64_t)x->n) % (uint64_t)x->slots];
    pthread_mutex_lock(&x->mu);
    while (!x->failed && b->state != XB_FREE)
        if (xfer_wait(x) < 0) {
            pthread_mutex_unlock(&x->mu);
            return -1;
        }
    if (x->failed) {
        pthread_mutex_unlock(&x->mu);
        return xfer_raise(x);
    }
    uint8_t *spare = b->data; /* the buffers swap: no copy */
    b->data = w->pend;
    b->k = k;
    b->off = k * XBLOCK;
    b->len = w->fill;
    b->done = 0;
    b->state = XB_BUSY;
    x->nblocks++;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    w->pend = spare;
    w->fill = 0;
    stream_wake(s);
    return stream_start(s, wstream_main);
}

/* Early flushes: while the streams write, the temporary file is fsync'd on
 * the remote's own connection (idle meanwhile) every XFLUSH_EVERY bytes,
 * without waiting for the answer (collected on later writes), so that the
 * fsync at commit has little left to write (a server flushing a whole
 * archive at once takes a while: 0.4 s for 700 MiB here).  None starts
 * while another fsync is in flight on that channel (another upload's: see
 * conn_fsync_settle), and one answered meanwhile to another upload's
 * conn_fsync_settle is done.  A failure is left to the fsync at commit to
 * report.  Called with the remote's lock held. */
static void flush_early_locked(sftp_writer *w)
{
    sftp_remote *r = w->r;
    sftp_conn *c = r->conn;
    if (!c || c->broken || c->interrupted || r->gen != w->gen || !w->h) {
        w->flushing = 0; /* the handle went with its session */
        return;
    }
    if (w->flushing && c->fsync_h != w->h)
        w->flushing = 0; /* answered meanwhile */
    if (!w->flushing) {
        if (w->no_early_flush || w->total - w->flushed_at < XFLUSH_EVERY || c->fsync_h)
            return;
        w->flushing = 1;
        w->flushed_at = w->total;
    }
    int rc;
    /* a half-sent request is always finished here: another call may follow */
    while ((rc = conn_fsync_call(c, w->h)) == LIBSSH2_ERROR_EAGAIN && conn_sending_blocked(c))
        if (conn_wait(c) < 0)
            break;
    if (rc == 0)
        log_debug("%s: %s flushed on the server up to byte %llu", r->p.where, w->partial,
                  (unsigned long long)w->flushed_at);
    if (rc != LIBSSH2_ERROR_EAGAIN || c->broken) {
        w->flushing = 0;
        if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL)
            w->no_early_flush = 1;
        else if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN)
            c->broken = 1;
    }
}

static void writer_flush_early(sftp_writer *w)
{
    if (!w->flushing && (w->no_early_flush || !w->h || w->total - w->flushed_at < XFLUSH_EVERY))
        return; /* the common case, without the lock */
    pthread_mutex_lock(&w->r->lock);
    flush_early_locked(w);
    pthread_mutex_unlock(&w->r->lock);
}

static int sftp_writer_write(void *impl, const void *buf, size_t len)
{
    sftp_writer *w = impl;
    const uint8_t *p = buf;
    while (len) {
        if (!w->pend && !(w->pend = malloc(XBLOCK)))
            return err_set(ERR_FAIL, "out of memory");
        size_t n = XBLOCK - w->fill < len ? XBLOCK - w->fill : len;
        memcpy(w->pend + w->fill, p, n);
        w->fill += n;
        w->total += n;
        p += n;
        len -= n;
        if (w->fill == XBLOCK && writer_hand_off(w) < 0)
            return -1;
    }
    writer_flush_early(w);
    return 0;
}

static void writer_free(sftp_writer *w)
{
    xfer_free(w->x);
    free(w->pend);
    free(w->final);
    free(w->partial);
    free(w);
}

/* Close the temporary file's handle (when ARG's handle is set) and remove
 * the file, side by side: one round trip. */
static int close_and_unlink(sftp_conn *c, void *arg, int i)
{
    sftp_writer *w = arg;
    if (i == 0)
        return handle_close_step(c, &w->h);
    return libssh2_sftp_unlink_ex(c->sftp, w->partial, (unsigned)strlen(w->partial));
}

/* Remove the temporary file (reconnecting if needed), keeping the current
 * error.  After SIGINT/SIGTERM only on the connection still standing (one
 * the signal merely interrupted, see conn_wait_dir), and for at most
 * SIGNAL_CLEANUP_MS: the user wants out, and a stalled server would hold
 * every wait for io_timeout. */
static void writer_discard(sftp_writer *w)
{
    sftp_remote *r = w->r;
    err_kind kind = err_get_kind();
    char *msg = kind != ERR_NONE ? strdup(err_msg()) : NULL;
    int sig = signals_pending();
    pthread_mutex_lock(&r->lock);
    sftp_conn *c = !sig ? remote_conn(r) : r->conn && !r->conn->broken ? r->conn : NULL;
    if (!c || w->gen != r->gen)
        w->h = NULL; /* its session's to free (conn_free) */
    if (c && sig)
        c->cleanup_until = now_ms() + SIGNAL_CLEANUP_MS;
    /* its fsync's answer first: libssh2 would give it to the next fsync */
    if (c && w->h && c->fsync_h == w->h && conn_fsync_settle(c) < 0)
        w->h = NULL; /* unanswered: its session's to free */
    if (c && !c->broken) {
        int rc[2];
        (void)conn_call_all(c, 2, close_and_unlink, w, rc);
    }
    if (c)
        c->cleanup_until = 0;
    w->h = NULL;
    w->flushing = 0;
    pthread_mutex_unlock(&r->lock);
    if (kind != ERR_NONE)
        err_set(kind, "%s", msg ? msg : "");
    else
        err_clear();
    free(msg);
}

/* On the remote's connection (lock held): write the data kept here if no
 * stream took any, fsync, check the size, close and rename.  RETRY: an
 * earlier attempt may have renamed already.  On failure the handle is left
 * in W for writer_discard. */
static int writer_finish_once(sftp_writer *w, int retry)
{
    sftp_remote *r = w->r;
    sftp_conn *c = remote_conn(r);
    if (!c)
        return -1;
    LIBSSH2_SFTP_ATTRIBUTES a;
    int rc;
    /* the temporary name is ours alone: gone after our rename went out
     * means that rename was done (a same-sized FINAL alone could be
     * another host's) */
    if (retry && w->rename_sent && conn_stat(c, w->partial, LIBSSH2_SFTP_LSTAT, &a) == 0 &&
        conn_stat(c, w->final, LIBSSH2_SFTP_LSTAT, &a) > 0 && a.filesize == w->total)
        return 0; /* the rename went through before the connection dropped */
    if (c->broken)
        return -1;
    /* an fsync in flight on the channel (an early flush, this upload's or
     * another's) is answered first: ours would get its answer */
    if (conn_fsync_settle(c) < 0)
        return err_prefix("fsync %s: ", w->partial);
    w->flushing = 0;
    /* the handle of writer_open when its connection still stands (it went
     * with the session otherwise) */
    LIBSSH2_SFTP_HANDLE *h = w->gen == r->gen ? w->h : NULL;
    w->h = NULL;
    if (!h && w->x) {
        /* the streams' bytes are in it: the same file again, by name, which
         * must prove to be the file created before anything else is done
         * through it (stamp_check; a round trip more, after a reconnect) */
        SSH_PTR(c, h,
                libssh2_sftp_open_ex(c->sftp, w->partial, (unsigned)strlen(w->partial),
                                     LIBSSH2_FXF_WRITE, 0, LIBSSH2_SFTP_OPENFILE));
        if (!h)
            return conn_fail(c, libssh2_session_last_errno(c->s), "cannot open", w->partial);
        conn_keep(c, h);
        w->gen = r->gen;
        SSH_INT(c, rc, libssh2_sftp_fstat_ex(h, &a, 0));
        if (rc < 0) {
            conn_fail(c, rc, "fstat", w->partial);
            goto fail;
        }
        if (stamp_check(&r->p, w->stamped ? &w->stamp : NULL, w->partial, &a) < 0)
            goto fail;
    } else if (!h) {
        /* without streams the object is written whole here (see
         * writer_open); what an earlier attempt wrote is ours: start over */
        if (retry) {
            SSH_INT(c, rc,
                    libssh2_sftp_unlink_ex(c->sftp, w->partial, (unsigned)strlen(w->partial)));
            if (rc < 0 && !(rc == LIBSSH2_ERROR_SFTP_PROTOCOL &&
                            libssh2_sftp_last_error(c->sftp) == LIBSSH2_FX_NO_SUCH_FILE))
                return conn_fail(c, rc, "cannot remove", w->partial);
        }
        if (!(h = create_temp(c, w->partial)))
            return -1;
    }
    w->gen = r->gen;
    const char *p = (const char *)w->pend;
    size_t left = w->x ? 0 : w->fill;
    while (left) {
        ssize_t n;
        while ((n = libssh2_sftp_write(h, p, left)) == LIBSSH2_ERROR_EAGAIN)
            if (conn_wait(c) < 0)
                break;
        if (n < 0) {
            write_failed(c, c->sftp, (int)n, w->partial, left);
            goto fail;
        }
        p += n;
        left -= (size_t)n;
    }
    int frc[2];
    fsync_fstat f = {.h = h, .a = &a};
    if (conn_call_all(c, 2, fsync_then_fstat, &f, frc) < 0) {
        err_prefix("fsync %s: ", w->partial);
        goto fail;
    }
    unsigned long fx = f.fsync_fx;
    rc = frc[0];
    if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && fx == LIBSSH2_FX_OP_UNSUPPORTED) {
        if (!r->fsync_warned)
            log_warn("%s: the server has no fsync@openssh.com: uploads are renamed without "
                     "being flushed to its disk first",
                     r->p.where);
        r->fsync_warned = 1;
    } else if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
        status_fail(c, fx, "fsync", w->partial);
        goto fail;
    } else if (rc < 0) {
        conn_fail(c, rc, "fsync", w->partial);
        goto fail;
    }
    if ((rc = frc[1]) < 0) {
        conn_fail(c, rc, "fstat", w->partial);
        goto fail;
    }
    if ((a.flags & LIBSSH2_SFTP_ATTR_SIZE) && a.filesize != w->total) {
        err_set(ERR_FAIL, "%s:%s: holds %llu bytes, %llu were written", r->p.where, w->partial,
                (unsigned long long)a.filesize, (unsigned long long)w->total);
        goto fail;
    }
    /* the handle is freed whatever the outcome (or left to conn_free) */
    if ((rc = conn_close_handle(c, h)) < 0)
        return conn_fail(c, rc, "close", w->partial);
    /* SFTP v3 (OpenSSH) renames with link()+unlink(): it never replaces an
     * existing name, so an archive can never be overwritten, and of two
     * uploads of one name (two hosts sharing the server) only the first to
     * finish is published. */
    w->rename_sent = 1;
    SSH_INT(c, rc,
            libssh2_sftp_rename_ex(c->sftp, w->partial, (unsigned)strlen(w->partial), w->final,
                                   (unsigned)strlen(w->final), 0));
    if (rc < 0) {
        conn_fail(c, rc, "cannot rename to its final name", w->partial);
        if (!c->broken && conn_stat(c, w->final, LIBSSH2_SFTP_LSTAT, &a) > 0)
            return err_set(ERR_FAIL,
                           "%s:%s already exists (another upload of that name finished first): "
                           "not replaced",
                           r->p.where, w->final);
        return -1;
    }
    return 0;
fail:
    w->h = h;
    return -1;
}

/* writer_finish_once, again after a dropped connection. */
static int writer_finish(sftp_writer *w)
{
    sftp_remote *r = w->r;
    int rc;
    pthread_mutex_lock(&r->lock);
    for (int attempt = 0;; attempt++) {
        rc = writer_finish_once(w, attempt > 0);
        if (rc == 0 || (r->conn && !r->conn->broken) || signals_pending() ||
            attempt >= r->p.retries)
            break;
        long delay = 500L << (attempt < 4 ? attempt : 4);
        /* the message already names host:port */
        log_warn("%s; reconnecting in %.1f s (retry %d of %d)", err_msg(), delay / 1000.0,
                 attempt + 1, r->p.retries);
        if ((rc = sleep_ms(delay, NULL, r->p.where, w->partial)) < 0)
            break;
    }
    pthread_mutex_unlock(&r->lock);
    return rc < 0 ? -1 : 0;
}

static int sftp_writer_commit(void *impl)
{
    sftp_writer *w = impl;
    if (w->x) {
        if (w->fill && writer_hand_off(w) < 0)
            goto fail;
        if (xfer_drain(w->x) < 0)
            goto fail;
    }
    if (writer_finish(w) < 0)
        goto fail;
    writer_free(w);
    return 0;
fail:
    if (w->x)
        xfer_join(w->x, 1);
    writer_discard(w);
    writer_free(w);
    return -1;
}

static void sftp_writer_abort(void *impl)
{
    sftp_writer *w = impl;
    if (w->x)
        xfer_join(w->x, 1);
    writer_discard(w);
    writer_free(w);
}

/* ---- readers ---------------------------------------------------------- */

static void *sftp_reader_open(void *impl, const char *name, uint64_t offset)
{
    sftp_remote *r = impl;
    if (check_name(name) < 0)
        return NULL;
    sftp_reader *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->path = join(r, name, ""))) {
        free(rd);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    rd->r = r;
    /* a read uses fewer channels than a write: the connections opened ahead
     * need not open more (the streams start as soon as they have these) */
    pthread_mutex_lock(&r->ahead_mu);
    if (!r->ahead_want)
        r->ahead_want = XSLOTS_FAR_READ;
    pthread_mutex_unlock(&r->ahead_mu);
    uint64_t size = 0;
    int64_t rtt_ms = 0;
    pthread_mutex_lock(&r->lock);
    sftp_conn *c = remote_conn(r);
    rd->gen = r->gen;
    int large = 0;
    if (c) {
        /* the size decides: a large object goes through the streams, which
         * open it themselves (one round trip here instead of open, fstat,
         * close) */
        LIBSSH2_SFTP_ATTRIBUTES a;
        int64_t t0 = now_ms();
        int found = conn_stat(c, rd->path, LIBSSH2_SFTP_STAT, &a);
        if (found == 0)
            err_set(ERR_FAIL, "%s:%s: cannot open: %s", r->p.where, rd->path,
                    fx_str(LIBSSH2_FX_NO_SUCH_FILE));
        if (found == 1) {
            rtt_ms = now_ms() - t0;
            if (a.flags & LIBSSH2_SFTP_ATTR_SIZE)
                size = a.filesize;
            large = size > offset && size - offset > XBLOCK;
            if (!large) {
                SSH_PTR(c, rd->h,
                        libssh2_sftp_open_ex(c->sftp, rd->path, (unsigned)strlen(rd->path),
                                             LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE));
                if (!rd->h) {
                    conn_fail(c, libssh2_session_last_errno(c->s), "cannot open", rd->path);
                } else {
                    conn_keep(c, rd->h);
                    if (offset)
                        libssh2_sftp_seek64(rd->h, offset);
                }
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (large) {
        uint64_t nb = (size - offset + XBLOCK - 1) / XBLOCK;
        int n = (uint64_t)r->p.streams < nb ? r->p.streams : (int)nb;
        if ((rd->x = xfer_new(r, 0, rd->path, n, rtt_ms))) {
            rd->x->start = offset;
            rd->x->end = size;
            rd->x->nblocks = nb;
            for (int i = 0; i < n; i++)
                if (stream_start(&rd->x->s[i], rstream_main) < 0) {
                    xfer_free(rd->x);
                    rd->x = NULL;
                    break;
                }
        }
    }
    if (!rd->h && !rd->x) {
        free(rd->path);
        free(rd);
        return NULL;
    }
    return rd;
}

/* The next bytes, in order, from the blocks the streams fetched. */
static ssize_t xfer_read(sftp_xfer *x, void *buf, size_t len)
{
    xblock *b;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        if (x->failed) {
            pthread_mutex_unlock(&x->mu);
            return xfer_raise(x);
        }
        if (x->rk >= x->nblocks) {
            pthread_mutex_unlock(&x->mu);
            return 0;
        }
        b = &x->s[x->rk % (uint64_t)x->n].b[(x->rk / (uint64_t)x->n) % (uint64_t)x->slots];
        if (b->state == XB_READY && b->k == x->rk)
            break;
        if (xfer_wait(x) < 0) {
            pthread_mutex_unlock(&x->mu);
            return -1;
        }
    }
    pthread_mutex_unlock(&x->mu);
    size_t n = b->len - x->rpos < len ? b->len - x->rpos : len;
    memcpy(buf, b->data + x->rpos, n);
    x->rpos += n;
    if (x->rpos == b->len) {
        pthread_mutex_lock(&x->mu);
        b->state = XB_FREE;
        const xstream *owner = &x->s[x->rk % (uint64_t)x->n];
        x->rk++;
        x->rpos = 0;
        pthread_cond_broadcast(&x->cv);
        pthread_mutex_unlock(&x->mu);
        stream_wake(owner);
    }
    return (ssize_t)n;
}

static ssize_t sftp_reader_read(void *impl, void *buf, size_t len)
{
    sftp_reader *rd = impl;
    if (rd->x)
        return xfer_read(rd->x, buf, len);
    sftp_remote *r = rd->r;
    ssize_t n = -1;
    pthread_mutex_lock(&r->lock);
    sftp_conn *c = handle_conn(r, rd->gen, rd->path);
    if (!c)
        goto out;
    while ((n = libssh2_sftp_read(rd->h, buf, len)) == LIBSSH2_ERROR_EAGAIN)
        if (conn_wait(c) < 0)
            break;
    if (n < 0) {
        conn_fail(c, (int)n, "read", rd->path);
        n = -1;
    }
out:
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void sftp_reader_close(void *impl)
{
    sftp_reader *rd = impl;
    sftp_remote *r = rd->r;
    xfer_free(rd->x);
    pthread_mutex_lock(&r->lock);
    sftp_conn *c = r->conn;
    /* on another connection, or a broken one, the handle is its session's
     * to free (conn_free) */
    if (rd->h && c && !c->broken && !c->interrupted && r->gen == rd->gen) {
        err_kind kind = err_get_kind();
        char *msg = kind != ERR_NONE ? strdup(err_msg()) : NULL;
        (void)conn_close_handle(c, rd->h);
        if (kind != ERR_NONE)
            err_set(kind, "%s", msg ? msg : "");
        else
            err_clear();
        free(msg);
    }
    pthread_mutex_unlock(&r->lock);
    free(rd->path);
    free(rd);
}

static int fill_entry(const char *name, const LIBSSH2_SFTP_ATTRIBUTES *a, backend_entry *e)
{
    char target[1024];
    if (!(e->name = strdup(name)))
        return err_set(ERR_FAIL, "out of memory");
    e->size = (a->flags & LIBSSH2_SFTP_ATTR_SIZE) ? a->filesize : 0;
    e->mtime = (a->flags & LIBSSH2_SFTP_ATTR_ACMODTIME) ? (time_t)a->mtime : 0;
    /* a temporary name, ours or of versions before 0.2 ("<name>.partial") */
    e->incomplete = atomic_file_temp_target(name, target, sizeof target);
    e->upload_id = NULL;
    return 0;
}

/* A listed NAME (LEN bytes as the server sent it) that is not printable
 * text (ESC, newline, NUL, C1 controls, broken UTF-8) is no object of
 * ours, and printed as it is it could rewrite the user's terminal or forge
 * lines in a log: skipped, with a warning that shows it escaped.  So is a
 * name longer than SFTP_MAX_NAME (shown cut).  At most SFTP_WARN_SKIPPED
 * warnings (*SKIPPED counts every name skipped): a directory full of such
 * names must not flood the log.  Here and not only in backend_list's check
 * for every backend: only here is the length the server sent known, and a
 * NUL inside a name would make it look like another (shorter) name there. */
static int skip_name(const sftp_remote *r, const char *name, size_t len, size_t *skipped)
{
    size_t i = 0;
    while (i < len && (unsigned char)name[i] >= 0x20 && (unsigned char)name[i] < 0x7f)
        i++;
    if (i == len && len <= SFTP_MAX_NAME)
        return 0; /* plain ASCII: the usual case, no copy */
    int too_long = len > SFTP_MAX_NAME;
    strbuf b;
    strbuf_init(&b, 0);
    strbuf_put_printable(&b, name, too_long ? 200 : len);
    int same =
        !too_long && !strbuf_failed(&b) && b.len == len && memcmp(strbuf_str(&b), name, len) == 0;
    if (!same && (*skipped)++ < SFTP_WARN_SKIPPED) {
        const char *shown = strbuf_failed(&b) ? "(out of memory)" : strbuf_str(&b);
        if (too_long)
            log_warn("%s:%s: skipping a listed name longer than %d bytes (%zu): \"%s...\"",
                     r->p.where, r->p.path, SFTP_MAX_NAME, len, shown);
        else
            log_warn("%s:%s: skipping a listed name that is not printable text: \"%s\"", r->p.where,
                     r->p.path, shown);
    }
    strbuf_free(&b);
    return !same;
}

/* libssh2 1.10 accepts no SFTP packet larger than this (its
 * LIBSSH2_SFTP_PACKET_MAXLEN), so no name it hands out is as long: with a
 * buffer this size, readdir never fails for a name too long for it (it
 * would then drop another entry of the answer, in 1.10), only for an
 * answer whose fields run past its end. */
#define READDIR_BUF (256 * 1024 + 1)

static int sftp_list(void *impl, const char *prefix, backend_entry **out, size_t *n)
{
    sftp_remote *r = impl;
    int rc = -1;
    LIBSSH2_SFTP_HANDLE *dh = NULL;
    size_t cap = 0, plen = strlen(prefix), seen = 0, skipped = 0;
    char *name = malloc(READDIR_BUF);
    pthread_mutex_lock(&r->lock);
    sftp_conn *c = remote_conn(r);
    if (!name) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    if (!c)
        goto out;
    SSH_PTR(c, dh,
            libssh2_sftp_open_ex(c->sftp, r->p.path, (unsigned)strlen(r->p.path), 0, 0,
                                 LIBSSH2_SFTP_OPENDIR));
    if (!dh) {
        conn_fail(c, libssh2_session_last_errno(c->s), "cannot list", r->p.path);
        goto out;
    }
    conn_keep(c, dh);
    for (;;) {
        LIBSSH2_SFTP_ATTRIBUTES a;
        int len;
        SSH_INT(c, len, libssh2_sftp_readdir_ex(dh, name, READDIR_BUF - 1, NULL, 0, &a));
        if (len == 0)
            break;
        if (len == LIBSSH2_ERROR_BUFFER_TOO_SMALL) {
            err_set(ERR_FAIL,
                    "%s:%s: cannot list: the server sent a malformed directory entry (a name or "
                    "its attributes run past the end of the answer)",
                    r->p.where, r->p.path);
            goto out;
        }
        if (len < 0) {
            conn_fail(c, len, "cannot list", r->p.path);
            goto out;
        }
        /* a server that never ends the directory must not hold the run or
         * its memory */
        if (++seen > SFTP_LIST_MAX_NAMES) {
            err_set(ERR_FAIL,
                    "%s:%s: cannot list: more than %d names in the remote directory (the limit "
                    "for one listing): give the backups a directory of their own",
                    r->p.where, r->p.path, SFTP_LIST_MAX_NAMES);
            goto out;
        }
        name[len] = '\0';
        if (skip_name(r, name, (size_t)len, &skipped))
            continue;
        if (name[0] == '.' || strncmp(name, prefix, plen) != 0)
            continue;
        if ((a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) && !LIBSSH2_SFTP_S_ISREG(a.permissions))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            backend_entry *ne = realloc(*out, cap * sizeof *ne);
            if (!ne) {
                err_set(ERR_FAIL, "out of memory");
                goto out;
            }
            *out = ne;
        }
        if (fill_entry(name, &a, &(*out)[*n]) < 0)
            goto out;
        (*n)++;
    }
    rc = 0;
out:
    if (dh && c && !c->broken)
        (void)conn_close_handle(c, dh); /* else its session's to free */
    pthread_mutex_unlock(&r->lock);
    free(name);
    if (skipped > SFTP_WARN_SKIPPED)
        log_warn("%s:%s: %zu more names skipped (not printable text or too long)", r->p.where,
                 r->p.path, skipped - SFTP_WARN_SKIPPED);
    if (rc < 0) {
        backend_entries_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int sftp_stat(void *impl, const char *name, backend_entry *out)
{
    sftp_remote *r = impl;
    if (check_name(name) < 0)
        return -1;
    char *path = join(r, name, "");
    if (!path)
        return -1;
    pthread_mutex_lock(&r->lock);
    sftp_conn *c = remote_conn(r);
    LIBSSH2_SFTP_ATTRIBUTES a;
    int found = c ? conn_stat(c, path, LIBSSH2_SFTP_LSTAT, &a) : -1;
    pthread_mutex_unlock(&r->lock);
    free(path);
    if (found <= 0)
        return found;
    return fill_entry(name, &a, out) < 0 ? -1 : 1;
}

static int sftp_remove(void *impl, const char *name)
{
    sftp_remote *r = impl;
    if (check_name(name) < 0)
        return -1;
    char *path = join(r, name, "");
    if (!path)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&r->lock);
    sftp_conn *c = remote_conn(r);
    if (c) {
        SSH_INT(c, rc, libssh2_sftp_unlink_ex(c->sftp, path, (unsigned)strlen(path)));
        if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL &&
            libssh2_sftp_last_error(c->sftp) == LIBSSH2_FX_NO_SUCH_FILE)
            rc = 0;
        if (rc < 0)
            rc = conn_fail(c, rc, "cannot remove", path);
    }
    pthread_mutex_unlock(&r->lock);
    free(path);
    return rc < 0 ? -1 : 0;
}

static int sftp_remove_incomplete(void *impl, const backend_entry *e)
{
    return sftp_remove(impl, e->name);
}

/* Why creating a file in the remote path failed with status FX: ask the
 * server what it can tell (SFTP v3 gives one vague code for a read-only
 * file system, a full disk, an existing name...).  Error paths only. */
static int probe_failed(sftp_conn *c, unsigned long fx, const char *path)
{
    const char *dir = c->p->path;
    LIBSSH2_SFTP_ATTRIBUTES a;
    if (fx == LIBSSH2_FX_NO_SUCH_FILE || fx == LIBSSH2_FX_NO_SUCH_PATH) {
        int found = conn_stat(c, dir, LIBSSH2_SFTP_STAT, &a);
        if (found < 0)
            return -1;
        if (!found)
            return err_set(ERR_FAIL, "%s:%s: the remote path is missing", c->p->where, dir);
        if ((a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) && !LIBSSH2_SFTP_S_ISDIR(a.permissions))
            return err_set(ERR_FAIL, "%s:%s: the remote path is not a directory", c->p->where, dir);
    } else if (fx == LIBSSH2_FX_PERMISSION_DENIED || fx == LIBSSH2_FX_WRITE_PROTECT) {
        return err_set(ERR_FAIL, "%s:%s: cannot create files in the remote path: permission denied",
                       c->p->where, dir);
    } else if (fx == LIBSSH2_FX_FAILURE) {
        LIBSSH2_SFTP_STATVFS st;
        int rc;
        SSH_INT(c, rc, libssh2_sftp_statvfs(c->sftp, dir, strlen(dir), &st));
        if (rc == 0 && (st.f_flag & LIBSSH2_SFTP_ST_RDONLY))
            return err_set(ERR_FAIL,
                           "%s:%s: cannot create files in the remote path: read-only file system",
                           c->p->where, dir);
        if (rc == 0 && (st.f_bavail == 0 || (st.f_files && st.f_favail == 0)))
            return err_set(ERR_FAIL,
                           "%s:%s: cannot create files in the remote path: no space left on the "
                           "server",
                           c->p->where, dir);
    }
    return status_fail(c, fx, "cannot create a file in the remote path", path);
}

typedef struct {
    LIBSSH2_SFTP_HANDLE *h;
    const char *path;
    unsigned long fx[2]; /* the SFTP status of a call that failed */
} probe_file;

/* Write one byte to the probe's file and fsync it, side by side. */
static int probe_write_fsync(sftp_conn *c, void *arg, int i)
{
    probe_file *f = arg;
    int rc = i == 0 ? (int)libssh2_sftp_write(f->h, "x", 1) : conn_fsync_call(c, f->h);
    if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL)
        f->fx[i] = libssh2_sftp_last_error(c->sftp);
    return rc;
}

/* Close the probe's handle and remove its file, side by side. */
static int probe_close_unlink(sftp_conn *c, void *arg, int i)
{
    probe_file *f = arg;
    if (i == 0)
        return handle_close_step(c, &f->h);
    return libssh2_sftp_unlink_ex(c->sftp, f->path, (unsigned)strlen(f->path));
}

/* Writing a byte to the probe's file (WHAT "write"), or its fsync, failed
 * with RC (SFTP status FX).  The file was created, so the path is there and
 * takes new names: OpenSSH's SFTP v3 reports ENOSPC and EDQUOT as a bare
 * failure, which statvfs@openssh.com tells apart when the disk is full.
 * Error paths only. */
static int probe_write_failed(sftp_conn *c, int rc, unsigned long fx, const char *what,
                              const char *path)
{
    const char *dir = c->p->path;
    if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL)
        return conn_fail(c, rc, what, path);
    if (fx == LIBSSH2_FX_QUOTA_EXCEEDED)
        return err_set(ERR_FAIL,
                       "%s:%s: cannot write files in the remote path: no space left on the "
                       "server (quota exceeded)",
                       c->p->where, dir);
    if (fx != LIBSSH2_FX_FAILURE && fx != LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM)
        return status_fail(c, fx, what, path);
    LIBSSH2_SFTP_STATVFS st;
    int src;
    SSH_INT(c, src, libssh2_sftp_statvfs(c->sftp, dir, strlen(dir), &st));
    unsigned long long avail = src == 0 ? (unsigned long long)st.f_bavail * st.f_frsize : 0;
    if (src == 0 && avail < 65536)
        return err_set(ERR_FAIL,
                       "%s:%s: cannot write files in the remote path: no space left on the "
                       "server (%llu bytes free)",
                       c->p->where, dir, avail);
    if (src == 0)
        return err_set(ERR_FAIL,
                       "%s:%s: cannot write files in the remote path: no space left on the "
                       "server (%s of one byte failed with %llu bytes free on its disk: the "
                       "user's quota?)",
                       c->p->where, dir, what, avail);
    return err_set(ERR_FAIL,
                   "%s:%s: cannot write files in the remote path: no space left on the server, "
                   "or its quota exceeded (%s of one byte failed; SFTP v3 gives no reason)",
                   c->p->where, dir, what);
}

/* Create a unique temporary file in the remote path, exclusively, write a
 * byte and fsync it (fsync@openssh.com when the server has it), and remove
 * it: the path exists, is a directory, takes new files and has room (a full
 * disk still lets an empty file be created).  Three round trips (create;
 * write and fsync side by side; close and remove side by side).  A hidden
 * name, as the local backend's probe: listings never show it, even if a
 * crash leaves it behind. */
static int sftp_probe(void *impl)
{
    sftp_remote *r = impl;
    char *name = atomic_file_temp_name(".write-probe");
    char *path = name ? join(r, name, "") : NULL;
    free(name);
    if (!path)
        return -1;
    int written = 0, ok = 0;
    pthread_mutex_lock(&r->lock);
    sftp_conn *c = remote_conn(r);
    if (!c)
        goto out;
    LIBSSH2_SFTP_HANDLE *h;
    SSH_PTR(c, h,
            libssh2_sftp_open_ex(c->sftp, path, (unsigned)strlen(path),
                                 LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, 0600,
                                 LIBSSH2_SFTP_OPENFILE));
    if (!h) {
        int rc = libssh2_session_last_errno(c->s);
        if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL)
            probe_failed(c, libssh2_sftp_last_error(c->sftp), path);
        else
            conn_fail(c, rc, "cannot create a file in the remote path", path);
        goto out;
    }
    conn_keep(c, h);
    probe_file f = {.h = h, .path = path};
    int rc[2];
    /* an fsync in flight on the channel is answered first (conn_fsync_settle) */
    if (conn_fsync_settle(c) < 0 || conn_call_all(c, 2, probe_write_fsync, &f, rc) < 0)
        err_prefix("cannot write %s: ", path);
    else if (rc[0] < 0)
        probe_write_failed(c, rc[0], f.fx[0], "write", path);
    else if (rc[1] < 0 &&
             !(rc[1] == LIBSSH2_ERROR_SFTP_PROTOCOL && f.fx[1] == LIBSSH2_FX_OP_UNSUPPORTED))
        probe_write_failed(c, rc[1], f.fx[1], "fsync", path);
    else
        written = 1;
    /* removed whatever happened, keeping the first error */
    if (c->broken || c->fsync_h)
        goto out; /* the handle is its session's to free */
    if (conn_call_all(c, 2, probe_close_unlink, &f, rc) < 0) {
        if (written)
            err_prefix("cannot remove %s: ", path);
        goto out;
    }
    if (written && rc[1] < 0) {
        conn_fail(c, rc[1], "cannot remove", path);
        goto out;
    }
    ok = written;
out:
    pthread_mutex_unlock(&r->lock);
    free(path);
    return ok ? 0 : -1;
}

const backend_ops sftp_backend_ops = {
    .type = "sftp",
    .features = BACKEND_F_RANGED_READ | BACKEND_F_ATOMIC_RENAME | BACKEND_F_PARALLEL_WRITE,
    .open = sftp_open,
    .close = sftp_close,
    .writer_open = sftp_writer_open,
    .writer_write = sftp_writer_write,
    .writer_commit = sftp_writer_commit,
    .writer_abort = sftp_writer_abort,
    .reader_open = sftp_reader_open,
    .reader_read = sftp_reader_read,
    .reader_close = sftp_reader_close,
    .list = sftp_list,
    .stat = sftp_stat,
    .remove = sftp_remove,
    .remove_incomplete = sftp_remove_incomplete,
    .probe = sftp_probe,
};
