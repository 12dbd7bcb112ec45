/* sftp: the operations of an SFTP remote (see sftp.h). */
#include "sftp.h"

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "err.h"
#include "identity.h"
#include "log.h"
#include "remote.h"
#include "strbuf.h"
#include "transfer.h"
#include "writer.h"

/* A read: small objects on the remote's connection (handle H of
 * connection generation GEN), larger ones through a transfer. */
typedef struct {
    sftp_remote *r;
    LIBSSH2_SFTP_HANDLE *h;
    unsigned gen;
    char *path;
    sftp_xfer *x;
} sftp_reader;

/* ---- the remote ------------------------------------------------------- */

char *remote_join(const sftp_remote *r, const char *name)
{
    char *p;
    size_t pl = strlen(r->p.path);
    const char *sep = pl && r->p.path[pl - 1] == '/' ? "" : "/";
    if (asprintf(&p, "%s%s%s", r->p.path, sep, name) < 0) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    return p;
}

sftp_conn *remote_conn(sftp_remote *r)
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

static void params_free(conn_params *p)
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

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;
static void init_libssh2(void)
{
    init_rc = libssh2_init(0);
}

static void sftp_close(void *impl)
{
    sftp_remote *r = impl;
    xfer_pool_close(r->pool);
    conn_free(r->conn);
    pthread_mutex_destroy(&r->lock);
    params_free(&r->p);
    free(r);
}

static void *sftp_open(const sftp_params *sp, unsigned flags)
{
    if (!sp->host || !sp->user || !sp->identity_file || !sp->known_hosts || !sp->path ||
        !*sp->path) {
        err_set(ERR_USAGE, "host, user, identity_file, known_hosts and path are required");
        return NULL;
    }
    /* local mistakes first: exit 2 whatever the server's state */
    if (identity_check(sp->identity_file, sp->identity_passphrase_file) < 0)
        return NULL;
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
    r->p.host = dup_opt(sp->host, &oom);
    r->p.user = dup_opt(sp->user, &oom);
    r->p.path = dup_opt(sp->path, &oom);
    r->p.identity = dup_opt(sp->identity_file, &oom);
    r->p.passfile = dup_opt(sp->identity_passphrase_file, &oom);
    r->p.known_hosts = dup_opt(sp->known_hosts, &oom);
    r->p.pin = dup_opt(sp->host_key_fingerprint, &oom);
    r->p.port = sp->port ? sp->port : 22;
    r->p.connect_timeout_ms = (sp->connect_timeout > 0 ? sp->connect_timeout : 30) * 1000;
    r->p.io_timeout_ms = (sp->io_timeout > 0 ? sp->io_timeout : 60) * 1000;
    r->p.retries = sp->retries >= 0 ? sp->retries : 5;
    r->p.streams = sp->parallel_streams > 0 ? sp->parallel_streams : 4;
    if (r->p.streams > SFTP_MAX_STREAMS)
        r->p.streams = SFTP_MAX_STREAMS;
    r->p.cancel = sp->cancel;
    snprintf(r->p.where, sizeof r->p.where, strchr(sp->host, ':') ? "[%s]:%d" : "%s:%d", sp->host,
             r->p.port);
    pthread_mutex_init(&r->lock, NULL);
    if (oom) {
        err_set(ERR_FAIL, "out of memory");
        sftp_close(r);
        return NULL;
    }
    r->gen = 1;
    if (flags & BACKEND_OPEN_BULK)
        r->pool = xfer_pool_open(&r->p);
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

/* ---- readers ---------------------------------------------------------- */

static void *sftp_reader_open(void *impl, const char *name, uint64_t offset)
{
    sftp_remote *r = impl;
    sftp_reader *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->path = remote_join(r, name))) {
        free(rd);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    rd->r = r;
    /* a read uses fewer channels than a write: the connections opened ahead
     * need not open more (the streams start as soon as they have these) */
    xfer_pool_want(r->pool, XFER_READ_CHANNELS);
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
                    conn_fx_str(LIBSSH2_FX_NO_SUCH_FILE));
        if (found == 1) {
            rtt_ms = now_ms() - t0;
            if (a.flags & LIBSSH2_SFTP_ATTR_SIZE)
                size = a.filesize;
            large = size > offset && size - offset > XFER_BLOCK;
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
    if (large)
        rd->x = xfer_reader(&r->p, r->pool, rd->path, offset, size, rtt_ms);
    if (!rd->h && !rd->x) {
        free(rd->path);
        free(rd);
        return NULL;
    }
    return rd;
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

/* ---- listings and the rest ------------------------------------------- */

static int fill_entry(const char *name, const LIBSSH2_SFTP_ATTRIBUTES *a, backend_entry *e)
{
    char target[1024];
    if (!(e->name = strdup(name)))
        return err_set(ERR_FAIL, "out of memory");
    e->size = (a->flags & LIBSSH2_SFTP_ATTR_SIZE) ? a->filesize : 0;
    e->mtime = (a->flags & LIBSSH2_SFTP_ATTR_ACMODTIME) ? (time_t)a->mtime : 0;
    /* a temporary name, ours or of versions before 0.2 ("<name>.partial") */
    e->incomplete = backend_temp_target(name, target, sizeof target);
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
    char *path = remote_join(r, name);
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
    char *path = remote_join(r, name);
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
    /* backend.c checks the names of the other operations, not this
     * entry's: nothing outside the remote's directory is removed */
    if (backend_check_name(e->name) < 0)
        return -1;
    return sftp_remove(impl, e->name);
}

/* ---- probe ------------------------------------------------------------ */

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
    return conn_status_fail(c, fx, "cannot create a file in the remote path", path);
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
        return conn_handle_close_step(c, &f->h);
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
        return conn_status_fail(c, fx, what, path);
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
    char *name = backend_temp_name(".write-probe");
    char *path = name ? remote_join(r, name) : NULL;
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

static const backend_cancel *sftp_cancel_hook(void *impl)
{
    sftp_remote *r = impl;
    return &r->p.cancel;
}

const backend_ops sftp_backend_ops = {
    .type = "sftp",
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
    .cancel_hook = sftp_cancel_hook,
};

backend *sftp_backend_open(const sftp_params *p, unsigned flags)
{
    return backend_wrap(&sftp_backend_ops, p->name, sftp_open(p, flags));
}
