/* writer: see writer.h. */
#include "writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "stamp.h"
#include "transfer.h"

/* written between early flushes */
#define XFLUSH_EVERY (64ull * 1024 * 1024)
/* After SIGINT/SIGTERM, how long removing an upload's temporary file may
 * take on a connection that still works (Ctrl-C must end the run at once,
 * and a stalled server would otherwise hold it for io_timeout). */
#define SIGNAL_CLEANUP_MS 1000

/* A write: created as "<name>.<16 random hex>.partial" (backend.h) on
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
            conn_status_fail(c, fx, "cannot create", path);
        return NULL;
    }
    conn_fail(c, rc, "cannot create", path);
    return NULL;
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

void *sftp_writer_open(void *impl, const char *name, uint64_t size_hint)
{
    sftp_remote *r = impl;
    sftp_writer *w = calloc(1, sizeof *w);
    /* a temporary name of its own: two uploads of one name (two hosts
     * sharing a server) never write one file, and a leftover of an earlier
     * run is never reused */
    char *temp = backend_temp_name(name);
    if (!w || !temp || !(w->final = remote_join(r, name)) || !(w->partial = remote_join(r, temp))) {
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
    int small = size_hint && size_hint <= XFER_BLOCK;
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

/* The transfer of W's streams, made on first need. */
static int writer_xfer(sftp_writer *w)
{
    sftp_remote *r = w->r;
    if (!w->x)
        w->x = xfer_writer(&r->p, r->pool, w->partial, w->stamped ? &w->stamp : NULL, w->rtt_ms);
    return w->x ? 0 : -1;
}

/* An object of more than one block, or of unknown size (an archive being
 * made): connect its streams now (in their threads), as many as it has
 * blocks, so that the handshakes overlap the start of the dump.  Smaller
 * objects (manifests) go over the remote's connection at commit. */
static int writer_start_streams(sftp_writer *w, uint64_t size_hint)
{
    int n = w->r->p.streams;
    if (size_hint && size_hint <= XFER_BLOCK)
        return 0;
    if (size_hint && (size_hint + XFER_BLOCK - 1) / XFER_BLOCK < (uint64_t)n)
        n = (int)((size_hint + XFER_BLOCK - 1) / XFER_BLOCK);
    return writer_xfer(w) < 0 ? -1 : xfer_start(w->x, n);
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
    return writer_xfer(w) < 0 ? -1 : xfer_put(w->x, &w->pend, &w->fill);
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

int sftp_writer_write(void *impl, const void *buf, size_t len)
{
    sftp_writer *w = impl;
    const uint8_t *p = buf;
    while (len) {
        if (!w->pend && !(w->pend = malloc(XFER_BLOCK)))
            return err_set(ERR_FAIL, "out of memory");
        size_t n = XFER_BLOCK - w->fill < len ? XFER_BLOCK - w->fill : len;
        memcpy(w->pend + w->fill, p, n);
        w->fill += n;
        w->total += n;
        p += n;
        len -= n;
        if (w->fill == XFER_BLOCK && writer_hand_off(w) < 0)
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
        return conn_handle_close_step(c, &w->h);
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
    int sig = backend_cancelled(&r->p.cancel);
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
            conn_write_failed(c, c->sftp, (int)n, w->partial, left);
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
        conn_status_fail(c, fx, "fsync", w->partial);
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
        if (rc == 0 || (r->conn && !r->conn->broken) || backend_cancelled(&r->p.cancel) ||
            attempt >= r->p.retries)
            break;
        long delay = 500L << (attempt < 4 ? attempt : 4);
        /* the message already names host:port */
        log_warn("%s; reconnecting in %.1f s (retry %d of %d)", err_msg(), delay / 1000.0,
                 attempt + 1, r->p.retries);
        if ((rc = conn_sleep(&r->p, delay, NULL, w->partial)) < 0)
            break;
    }
    pthread_mutex_unlock(&r->lock);
    return rc < 0 ? -1 : 0;
}

int sftp_writer_commit(void *impl)
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
        xfer_stop(w->x);
    writer_discard(w);
    writer_free(w);
    return -1;
}

void sftp_writer_abort(void *impl)
{
    sftp_writer *w = impl;
    if (w->x)
        xfer_stop(w->x);
    writer_discard(w);
    writer_free(w);
}
