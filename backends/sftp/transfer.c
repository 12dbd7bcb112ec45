/* transfer: see transfer.h. */
#include "transfer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "sftp.h"

/* A transfer moves one file in blocks: block k covers bytes [k*XFER_BLOCK,
 * (k+1)*XFER_BLOCK) of the range and goes through stream k mod N, each stream
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

#define XSLOTS_MAX      CONN_MAX_CHANNELS
#define XSLOTS_FAR_READ XFER_READ_CHANNELS /* reading over a long link: a fourth did not help */
#define XSLOTS_NEAR     2                  /* slots per stream on a short link (peak memory) */
#define XLONG_LINK_MS   5                  /* a round trip this long or longer is a long link */
#define XBACKOFF_MAX_MS 8000L

/* moved since a reconnect: retries earned back */
#define XRESET_AFTER (64ull * 1024 * 1024)
/* A connection opened ahead and not used within this time is not trusted
 * to be alive (servers and NATs drop idle sessions): it is closed. */
#define AHEAD_MAX_IDLE_MS 30000

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
    const conn_params *p;
    xfer_pool *pool; /* connections opened ahead (may be NULL) */
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

/* ---- connections opened ahead ------------------------------------------ */

/* A connection opened ahead (BACKEND_OPEN_BULK) for the first transfer. */
typedef struct {
    xfer_pool *pool;
    pthread_t t;
    int done;         /* the attempt ended (C is NULL when it failed) */
    sftp_conn *c;     /* ready, not taken yet */
    int64_t ready_ms; /* when it became ready */
} xfer_ahead;

struct xfer_pool {
    const conn_params *p;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    atomic_int stop;
    int want; /* channels the first transfer's streams need (0: not known yet) */
    int n;
    xfer_ahead ahead[SFTP_MAX_STREAMS];
};

static void *ahead_main(void *arg)
{
    xfer_ahead *a = arg;
    xfer_pool *pool = a->pool;
    sftp_conn *c = conn_open(pool->p, &pool->stop);
    /* a stream's channels too, three round trips each: as many as a stream
     * may use, or as the transfer that asks for the connection needs */
    for (int i = 1; c && i < XSLOTS_MAX; i++) {
        pthread_mutex_lock(&pool->mu);
        int enough = pool->want && i >= pool->want;
        pthread_mutex_unlock(&pool->mu);
        if (enough)
            break;
        if (conn_channels(c, i + 1, pool->p->path) < 0) {
            conn_free(c);
            c = NULL;
        }
    }
    if (!c)
        log_debug("%s: a connection opened ahead failed: %s", pool->p->where, err_msg());
    pthread_mutex_lock(&pool->mu);
    a->c = c;
    a->ready_ms = now_ms();
    a->done = 1;
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

xfer_pool *xfer_pool_open(const conn_params *p)
{
    xfer_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->p = p;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    atomic_init(&pool->stop, 0);
    for (int i = 0; i < p->streams; i++) {
        xfer_ahead *a = &pool->ahead[i];
        a->pool = pool;
        if (pthread_create(&a->t, NULL, ahead_main, a) != 0)
            break;
        pool->n++;
    }
    return pool;
}

void xfer_pool_want(xfer_pool *pool, int channels)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    if (!pool->want)
        pool->want = channels;
    pthread_mutex_unlock(&pool->mu);
}

/* A connection opened ahead, waiting for one still being opened (which
 * opens no more than WANT channels from now on); NULL when none is left.
 * Stale ones are dropped without a goodbye: a session that may be dead
 * could hold the caller for io_timeout. */
static sftp_conn *pool_take(xfer_pool *pool, int want)
{
    sftp_conn *c = NULL;
    if (!pool)
        return NULL;
    pthread_mutex_lock(&pool->mu);
    pool->want = want;
    for (;;) {
        int pending = 0;
        for (int i = 0; i < pool->n && !c; i++) {
            xfer_ahead *a = &pool->ahead[i];
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
        if (c || !pending || backend_cancelled(&pool->p->cancel))
            break; /* on a signal the caller's own connect fails at once */
        conn_cond_wait_slice(&pool->cv, &pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    return c;
}

void xfer_pool_close(xfer_pool *pool)
{
    if (!pool)
        return;
    atomic_store(&pool->stop, 1);
    for (int i = 0; i < pool->n; i++) {
        pthread_join(pool->ahead[i].t, NULL);
        if (pool->ahead[i].c) {
            pool->ahead[i].c->stop = NULL; /* a polite goodbye */
            conn_free(pool->ahead[i].c);
            pool->ahead[i].c = NULL;
        }
    }
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool);
}

/* ---- transfers --------------------------------------------------------- */

/* Wake a stream waiting on its socket: one of its slots has work. */
static void stream_wake(const xstream *s)
{
    uint64_t one = 1;
    ssize_t n = write(s->wake_fd, &one, sizeof one);
    (void)n; /* a full counter is already a wake-up */
}

/* A transfer of PATH through N streams; RTT_MS, a round trip measured on
 * the remote's connection, sizes what each stream keeps in flight. */
static sftp_xfer *xfer_new(const conn_params *p, xfer_pool *pool, int writing, const char *path,
                           int n, int64_t rtt_ms)
{
    sftp_xfer *x = calloc(1, sizeof *x);
    if (!x) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    x->p = p;
    x->pool = pool;
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

void xfer_free(sftp_xfer *x)
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

/* 1, the transfer failed "interrupted by signal N", when the cancel hook
 * asks; else 0. */
static int stopped_by_cancel(sftp_xfer *x)
{
    if (!backend_cancelled(&x->p->cancel))
        return 0;
    conn_interrupted(x->p, x->path);
    xfer_fail(x);
    return 1;
}

static int xfer_raise(const sftp_xfer *x)
{
    return err_set(x->fail_kind, "%s", x->fail_msg);
}

/* Wait on the transfer's condition (lock held), at most WAIT_SLICE_MS, so
 * that a signal is noticed; -1 with an error on a signal. */
static int xfer_wait(sftp_xfer *x)
{
    conn_cond_wait_slice(&x->cv, &x->mu);
    if (backend_cancelled(&x->p->cancel))
        return conn_interrupted(x->p, x->path);
    return 0;
}

/* Write: wait until the server acknowledged every block; the streams then
 * close their connections by themselves while the caller goes on (fsync,
 * rename and manifest need not wait for those goodbyes).  -1 with the
 * transfer's error if it failed. */
int xfer_drain(sftp_xfer *x)
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
    return conn_handle_close_step(c, &s->h[i]);
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
    if (!(s->c = pool_take(x->pool, x->slots)) && !(s->c = conn_open(x->p, &x->stop)))
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
        if (stamp_check(x->p, x->stamp, x->path, &sa.a[i]) < 0)
            return -1;
    }
    const LIBSSH2_SFTP_ATTRIBUTES *a = &sa.a[0];
    if (s->acked_hi && (!(a->flags & LIBSSH2_SFTP_ATTR_SIZE) || a->filesize < s->acked_hi))
        return err_set(ERR_FAIL,
                       "%s:%s: holds %llu bytes after reconnecting, but the server had "
                       "acknowledged %llu: cannot resume",
                       x->p->where, x->path, (unsigned long long)a->filesize,
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
    const conn_params *p = x->p;
    for (;;) {
        if ((s->c && !s->c->broken) || backend_cancelled(&p->cancel) || atomic_load(&x->stop))
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
        if (conn_sleep(p, delay, &x->stop, x->path) < 0)
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
            return conn_write_failed(s->c, s->c->ch[i], (int)n, x->path, b->len - b->done);
        if (n < 0)
            return conn_fail_on(s->c, s->c->ch[i], (int)n, "read", x->path);
        if (n == 0 && !x->writing)
            return err_set(ERR_FAIL, "%s:%s: ends at byte %llu, before the %llu bytes it had",
                           x->p->where, x->path, (unsigned long long)(b->off + b->done),
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
        while (!atomic_load(&x->stop) && !x->closing && !slots_busy(s) &&
               !backend_cancelled(&x->p->cancel))
            conn_cond_wait_slice(&x->cv, &x->mu);
        pthread_mutex_unlock(&x->mu);
        if (stopped_by_cancel(x))
            break;
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
                if (!b->data && !(b->data = malloc(XFER_BLOCK))) {
                    err_set(ERR_FAIL, "out of memory");
                    pthread_mutex_unlock(&x->mu);
                    xfer_fail(x);
                    goto out;
                }
                b->k = s->next_k;
                b->off = x->start + b->k * XFER_BLOCK;
                b->len = x->end - b->off < XFER_BLOCK ? (size_t)(x->end - b->off) : XFER_BLOCK;
                b->done = 0;
                b->state = XB_BUSY;
                s->next_k += (uint64_t)x->n;
            }
            busy = slots_busy(s);
            if (atomic_load(&x->stop) || busy || s->next_k >= x->nblocks ||
                backend_cancelled(&x->p->cancel))
                break;
            conn_cond_wait_slice(&x->cv, &x->mu);
        }
        pthread_mutex_unlock(&x->mu);
        if (stopped_by_cancel(x))
            break;
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

/* ---- the transfer's users ---------------------------------------------- */

void xfer_stop(sftp_xfer *x)
{
    xfer_join(x, 1);
}

sftp_xfer *xfer_writer(const conn_params *p, xfer_pool *pool, const char *path,
                       const temp_stamp *stamp, int64_t rtt_ms)
{
    sftp_xfer *x = xfer_new(p, pool, 1, path, p->streams, rtt_ms);
    if (x)
        x->stamp = stamp;
    return x;
}

int xfer_start(sftp_xfer *x, int n)
{
    for (int i = 0; i < n && i < x->n; i++)
        if (stream_start(&x->s[i], wstream_main) < 0)
            return -1;
    return 0;
}

int xfer_put(sftp_xfer *x, uint8_t **block, size_t *len)
{
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
    b->data = *block;
    b->k = k;
    b->off = k * XFER_BLOCK;
    b->len = *len;
    b->done = 0;
    b->state = XB_BUSY;
    x->nblocks++;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    *block = spare;
    *len = 0;
    stream_wake(s);
    return stream_start(s, wstream_main);
}

sftp_xfer *xfer_reader(const conn_params *p, xfer_pool *pool, const char *path, uint64_t offset,
                       uint64_t size, int64_t rtt_ms)
{
    uint64_t nb = (size - offset + XFER_BLOCK - 1) / XFER_BLOCK;
    int n = (uint64_t)p->streams < nb ? p->streams : (int)nb;
    sftp_xfer *x = xfer_new(p, pool, 0, path, n, rtt_ms);
    if (!x)
        return NULL;
    x->start = offset;
    x->end = size;
    x->nblocks = nb;
    for (int i = 0; i < n; i++)
        if (stream_start(&x->s[i], rstream_main) < 0) {
            xfer_free(x);
            return NULL;
        }
    return x;
}

ssize_t xfer_read(sftp_xfer *x, void *buf, size_t len)
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
