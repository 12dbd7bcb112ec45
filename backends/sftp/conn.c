/* conn: see conn.h. */
#include "conn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cond_wait.h"
#include "err.h"
#include "private_file.h"
#include "hostkey.h"
#include "identity.h"
#include "log.h"

/* Longest a wait sleeps before it asks the cancel hook again: a signal
 * delivered to another thread does not interrupt this one's poll. */
#define WAIT_SLICE_MS 200

/* ---- time and waiting ------------------------------------------------- */

int conn_interrupted(const conn_params *p, const char *path)
{
    return err_set(ERR_FAIL, "%s%s%s: interrupted by signal %d", p->where, path ? ":" : "",
                   path ? path : "", backend_cancelled(&p->cancel));
}

int conn_sleep(const conn_params *p, long ms, atomic_int *stop, const char *path)
{
    for (int64_t end = now_ms() + ms;;) {
        if (backend_cancelled(&p->cancel))
            return conn_interrupted(p, path);
        if (stop && atomic_load(stop))
            return err_set(ERR_FAIL, "%s:%s: transfer stopped", p->where, path);
        int64_t left = end - now_ms();
        if (left <= 0)
            return 0;
        struct timespec ts = {.tv_nsec = (left < 20 ? left : 20) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void conn_cond_wait_slice(pthread_cond_t *cv, pthread_mutex_t *mu)
{
    cond_wait_ms(cv, mu, WAIT_SLICE_MS);
}

int conn_sending_blocked(sftp_conn *c)
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
        if (backend_cancelled(&c->p->cancel) &&
            (!c->cleanup_until || now_ms() >= c->cleanup_until)) {
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
            return conn_interrupted(c->p, NULL);
        }
        if (c->stop && atomic_load(c->stop)) {
            c->broken = 1;
            return err_set(ERR_FAIL, "%s: transfer stopped", c->p->where);
        }
        int64_t left = end - now_ms();
        if (left <= 0) {
            c->broken = 1;
            if (c->cleanup_until)
                return conn_interrupted(c->p, NULL);
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

int conn_wait(sftp_conn *c)
{
    int dir = libssh2_session_block_directions(c->s);
    int ev = 0;
    if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
        ev |= POLLIN;
    if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
        ev |= POLLOUT;
    return conn_wait_dir(c, ev ? ev : POLLIN);
}

/* Any libssh2 call reads every packet the socket holds, so the answer to
 * an earlier call may already be inside libssh2 and not in the socket:
 * after a round in which a call finished the next round comes at once, and
 * only a round without one waits on the socket (its last call found nothing
 * for itself, so that answer is still to come). */
int conn_call_all(sftp_conn *c, int n, conn_call call, void *arg, int *rc)
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

/* ---- errors ----------------------------------------------------------- */

const char *conn_fx_str(unsigned long fx)
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

int conn_status_fail(const sftp_conn *c, unsigned long fx, const char *what, const char *path)
{
    return err_set(ERR_FAIL, "%s:%s: %s: %s (SFTP status %lu)", c->p->where, path, what,
                   conn_fx_str(fx), fx);
}

int conn_fail_on(sftp_conn *c, LIBSSH2_SFTP *ch, int rc, const char *what, const char *path)
{
    if (rc == LIBSSH2_ERROR_EAGAIN)
        return err_prefix("%s %s: ", what, path); /* the wait said why */
    if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && ch)
        return conn_status_fail(c, libssh2_sftp_last_error(ch), what, path);
    /* libssh2 does not record every error it returns: a message recorded
     * for another code is an older one (often "would block") */
    char *msg = NULL;
    if (libssh2_session_last_error(c->s, &msg, NULL, 0) != rc)
        msg = NULL;
    c->broken = 1;
    return err_set(ERR_FAIL, "%s:%s: %s: connection error: %s (libssh2 %d)", c->p->where, path,
                   what, msg && *msg ? msg : "no message from libssh2", rc);
}

int conn_fail(sftp_conn *c, int rc, const char *what, const char *path)
{
    return conn_fail_on(c, c->sftp, rc, what, path);
}

/* SFTP v3 reports a full disk as a bare "failure": ask the server how much
 * room is left (statvfs@openssh.com) to say so. */
int conn_write_failed(sftp_conn *c, LIBSSH2_SFTP *ch, int rc, const char *path, size_t len)
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

/* ---- handles and fsync ------------------------------------------------ */

void conn_keep(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h)
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

int conn_handle_close_step(sftp_conn *c, LIBSSH2_SFTP_HANDLE **hp)
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

int conn_close_handle(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h)
{
    int rc;
    SSH_INT(c, rc, conn_handle_close_step(c, &h));
    return rc;
}

int conn_fsync_call(sftp_conn *c, LIBSSH2_SFTP_HANDLE *h)
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
int conn_fsync_settle(sftp_conn *c)
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

static int authenticate(sftp_conn *c)
{
    const conn_params *p = c->p;
    char *pass = NULL;
    size_t plen = 0;
    int rc, ok = 0;
    if (p->passfile && !(pass = identity_passphrase(p->passfile, &plen)))
        return -1;
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
    private_file_free(pass, PRIVATE_FILE_SECRET);
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
    for (int i = 0; i < CONN_MAX_CHANNELS; i++) {
        for (int k = 0;
             c->ch[i] && k < 4 && libssh2_sftp_shutdown(c->ch[i]) == LIBSSH2_ERROR_EAGAIN; k++)
            ;
        c->ch[i] = NULL;
    }
    c->sftp = NULL;
}

void conn_free(sftp_conn *c)
{
    if (!c)
        return;
    /* handles their owners could not close, or a signal: no goodbye */
    if (c->n_open || c->interrupted)
        c->broken = 1;
    if (c->s && !c->broken) {
        /* a polite goodbye, bounded by io_timeout: every channel at once */
        int rc[CONN_MAX_CHANNELS];
        if (conn_call_all(c, CONN_MAX_CHANNELS, channel_shutdown, NULL, rc) == 0 && !c->broken)
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

sftp_conn *conn_open(const conn_params *p, atomic_int *stop)
{
    hostkey_known k = {0};
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
    if (hostkey_prepare(c->s, p, &k) < 0)
        goto fail;
    if (tcp_connect(c) < 0)
        goto fail;
    int rc;
    SSH_INT(c, rc, libssh2_session_handshake(c->s, c->sock));
    if (rc < 0) {
        if (rc != LIBSSH2_ERROR_EAGAIN && *k.recorded) {
            char *msg = NULL;
            libssh2_session_last_error(c->s, &msg, NULL, 0);
            err_set(ERR_FAIL,
                    "SSH handshake with %s failed: %s. %s records only %s for this host: if the "
                    "server no longer has such a key, its host key has changed",
                    p->where, msg ? msg : "", p->known_hosts, k.recorded);
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
    if (hostkey_check(c->s, p, &k) < 0)
        goto fail;
    hostkey_free(&k);
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
    hostkey_free(&k);
    c->broken = 1; /* no goodbye to a host that failed a check */
    conn_free(c);
    return NULL;
}

/* One at a time:
 * libssh2 starts one SFTP subsystem per session at a time (3 round trips
 * each), which is why connections opened ahead open theirs early. */
int conn_channels(sftp_conn *c, int n, const char *path)
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

/* ---- paths ------------------------------------------------------------ */

int conn_stat(sftp_conn *c, const char *path, int type, LIBSSH2_SFTP_ATTRIBUTES *attrs)
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

/* One round trip, as the stat that starts conn_mkdirs. */
int conn_check_path(sftp_conn *c, const char *path)
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

int conn_mkdirs(sftp_conn *c, const char *path)
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
