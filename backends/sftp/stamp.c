/* stamp: see stamp.h. */
#include "stamp.h"

#include <limits.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "err.h"

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

/* Through H, so on the file created whatever is at the name by now.  The
 * name's lstat, in the same round trip, tells what the server keeps (some
 * file systems round the time): that, and the owner, go to ST. */
int stamp_temp(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h, const char *path, temp_stamp *st)
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
                       c->p->where, path, conn_fx_str(q.fx[0]), q.fx[0]);
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

int stamp_check(const conn_params *p, const temp_stamp *st, const char *path,
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
