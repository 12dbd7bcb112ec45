/* delay_proxy: a TCP proxy adding latency, for tests and benchmarks of long
 * links (this kernel has no netem).  It forwards 127.0.0.1:<free port> to
 * 127.0.0.1:TARGET and delivers every byte DELAY_MS milliseconds after it
 * arrived, in each direction (the round trip gains 2 x DELAY_MS), without
 * limiting throughput.
 *
 * A real long link costs the hosts no CPU, and what is measured through this
 * proxy is CPU-bound on a small machine, so the proxy keeps its own cost
 * down.  The bytes never enter user space: splice(2) moves them from the
 * source socket into a kernel pipe, where they wait, and from the pipe to
 * the destination socket once due.  Each direction is a queue of timestamped
 * segments laid over a sequence of pipes, taken from a pool shared by all
 * connections and reused.  And as each wakeup and each splice costs about
 * as much as the bytes it moves, reads are batched: once a round has read,
 * the sockets are polled for input again only a tick (1 ms) later.  A byte
 * may so wait up to a tick in the source socket; it is then delivered
 * DELAY_MS after it was read, to the microsecond, never sooner.  One
 * thread, ppoll().
 *
 * usage: delay_proxy PORT_FILE TARGET_PORT DELAY_MS [IDLE_SECONDS]
 * The chosen port is written to PORT_FILE once the proxy listens.  It exits
 * by itself after IDLE_SECONDS (default 300) without a connection, or when
 * its parent exits. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS    64
#define POOL_MAX     256                 /* pipes: 512 fds + 2 per pair, well under 1024 */
#define PIPE_SIZE    (1024 * 1024)       /* asked of F_SETPIPE_SZ: fewer pipes and splices */
#define QUEUE_MAX    (64u * 1024 * 1024) /* bytes waiting per direction before reading pauses */
#define SPLICE_FLAGS (SPLICE_F_NONBLOCK | SPLICE_F_MOVE)
#define TICK_US      1000 /* between rounds that read (see the header) */
#define TICK_SLACK   250  /* a round this early may read too: the wakeup of a due write */

typedef struct direction direction;

/* A pipe of the pool.  It serves one direction at a time: the pipe's own
 * FIFO order is what keeps that direction's bytes in order. */
typedef struct {
    int rd, wr;       /* -1: slot unused */
    size_t cap;       /* bytes it can hold (F_GETPIPE_SZ) */
    size_t fill;      /* bytes in it, counted from the splices in and out */
    direction *owner; /* NULL while in the pool */
} pipebuf;

/* Bytes spliced in at one time, waiting in one pipe. */
typedef struct {
    int pipe;    /* index in pool[] */
    size_t len;  /* of them still in the pipe */
    int64_t due; /* us, CLOCK_MONOTONIC */
} segment;

struct direction {
    int src, dst;
    segment *seg;                      /* ring of seg_cap (a power of 2) entries */
    unsigned seg_cap, seg_head, seg_n; /* oldest at seg_head */
    int tail;                          /* pipe being filled, -1 if none */
    size_t queued;
    int eof;  /* src said EOF (or failed) */
    int done; /* queue drained after EOF: dst shut for writing */
};

typedef struct {
    int used;
    direction d[2]; /* client -> target, target -> client */
} pair;

static pair pairs[MAX_PAIRS];
static int64_t delay_us;

static pipebuf pool[POOL_MAX];
static int pool_free[POOL_MAX], nfree; /* empty pipes ready for use */
static int npipes, pool_limit = POOL_MAX;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "delay_proxy: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int pool_can_give(void)
{
    return nfree > 0 || npipes < pool_limit;
}

/* An empty pipe for D, -1 if none can be had. */
static int pool_get(direction *d)
{
    int i;
    if (nfree > 0) {
        i = pool_free[--nfree];
    } else {
        int fds[2];
        if (npipes >= pool_limit)
            return -1;
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
            if (npipes == 0)
                die("pipe2");
            pool_limit = npipes; /* out of fds or memory: make do with these */
            return -1;
        }
        fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE); /* on failure the default size will do */
        int cap = fcntl(fds[1], F_GETPIPE_SZ);
        for (i = 0; pool[i].rd >= 0; i++)
            ;
        pool[i] = (pipebuf){.rd = fds[0], .wr = fds[1], .cap = cap > 0 ? (size_t)cap : 4096};
        npipes++;
    }
    pool[i].owner = d;
    return i;
}

/* Back to the pool if empty; a pipe still holding bytes is closed, so that
 * stale data can never reach another connection. */
static void pipe_release(int i)
{
    pipebuf *p = &pool[i];
    p->owner = NULL;
    if (p->fill == 0) {
        pool_free[nfree++] = i;
        return;
    }
    close(p->rd);
    close(p->wr);
    *p = (pipebuf){.rd = -1, .wr = -1};
    npipes--;
}

static segment *seg_at(direction *d, unsigned k)
{
    return &d->seg[(d->seg_head + k) & (d->seg_cap - 1)];
}

static void seg_push(direction *d, int pipe, size_t len, int64_t due)
{
    if (d->seg_n) {
        segment *t = seg_at(d, d->seg_n - 1);
        if (t->pipe == pipe && t->due == due) {
            t->len += len;
            return;
        }
    }
    if (d->seg_n == d->seg_cap) {
        unsigned cap = d->seg_cap ? d->seg_cap * 2 : 64;
        segment *s = malloc(cap * sizeof *s);
        if (!s)
            die("malloc");
        for (unsigned k = 0; k < d->seg_n; k++)
            s[k] = *seg_at(d, k);
        free(d->seg);
        d->seg = s;
        d->seg_cap = cap;
        d->seg_head = 0;
    }
    *seg_at(d, d->seg_n++) = (segment){.pipe = pipe, .len = len, .due = due};
}

static void seg_pop(direction *d)
{
    d->seg_head = (d->seg_head + 1) & (d->seg_cap - 1);
    d->seg_n--;
}

static int connect_target(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

static void direction_clear(direction *d)
{
    /* several segments may share a pipe: release it once, while D owns it */
    for (unsigned k = 0; k < d->seg_n; k++) {
        int i = seg_at(d, k)->pipe;
        if (pool[i].owner == d)
            pipe_release(i);
    }
    if (d->tail >= 0 && pool[d->tail].owner == d)
        pipe_release(d->tail);
    free(d->seg);
    d->seg = NULL;
    d->seg_cap = d->seg_head = d->seg_n = 0;
    d->tail = -1;
    d->queued = 0;
}

static void pair_close(pair *p)
{
    direction_clear(&p->d[0]);
    direction_clear(&p->d[1]);
    close(p->d[0].src);
    close(p->d[0].dst);
    p->used = 0;
}

static void pair_open(int client, int target)
{
    for (int i = 0; i < MAX_PAIRS; i++)
        if (!pairs[i].used) {
            int one = 1;
            setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            setsockopt(target, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            fcntl(client, F_SETFL, O_NONBLOCK);
            fcntl(target, F_SETFL, O_NONBLOCK);
            memset(&pairs[i], 0, sizeof pairs[i]);
            pairs[i].used = 1;
            pairs[i].d[0].src = pairs[i].d[1].dst = client;
            pairs[i].d[0].dst = pairs[i].d[1].src = target;
            pairs[i].d[0].tail = pairs[i].d[1].tail = -1;
            return;
        }
    close(client);
    close(target);
}

/* Whether SRC may be read: back-pressure when too much waits or no pipe is
 * left (reading resumes once the writes give pipes back). */
static int direction_can_read(const direction *d)
{
    return !d->eof && d->queued < QUEUE_MAX && (d->tail >= 0 || pool_can_give());
}

/* Splice what SRC has into the pipes; -1 when the pair must close.  Called
 * when poll() found SRC readable. */
static int direction_read(direction *d)
{
    for (int tries = 1; direction_can_read(d); tries++) {
        if (d->tail < 0 && (d->tail = pool_get(d)) < 0)
            return 0;
        pipebuf *p = &pool[d->tail];
        size_t room = p->cap - p->fill;
        ssize_t n = splice(d->src, NULL, p->wr, NULL, room, SPLICE_FLAGS);
        if (n > 0) {
            p->fill += (size_t)n;
            d->queued += (size_t)n;
            /* the clock is read after the splice: never early */
            seg_push(d, d->tail, (size_t)n, now_us() + delay_us);
            /* Short: SRC is drained, most likely.  Or the pipe ran out of
             * slots (one per socket buffer fragment, however small), which
             * the next round tells by EAGAIN. */
            if ((size_t)n < room)
                return 0;
            d->tail = -1; /* full: on to a fresh pipe */
        } else if (n == 0) {
            d->eof = 1;
        } else if (errno == EINTR) {
            continue;
        } else if (errno != EAGAIN) {
            return -1;
        } else if (tries == 1 && p->fill > 0) {
            /* EAGAIN from either side; SRC was readable and nothing read it
             * since, so it is the pipe that has no slot left */
            d->tail = -1;
        } else {
            return 0;
        }
    }
    return 0;
}

/* Splice what is due to DST; -1 when the pair must close. */
static int direction_write(direction *d, int64_t now)
{
    while (d->seg_n && seg_at(d, 0)->due <= now) {
        /* one splice for all the due segments waiting in the same pipe */
        int pi = seg_at(d, 0)->pipe;
        size_t len = 0;
        for (unsigned k = 0; k < d->seg_n; k++) {
            segment *s = seg_at(d, k);
            if (s->pipe != pi || s->due > now)
                break;
            len += s->len;
        }
        ssize_t n = splice(pool[pi].rd, NULL, d->dst, NULL, len, SPLICE_FLAGS);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (n == 0)
            return -1; /* the pipe holds LEN bytes: cannot happen */
        pool[pi].fill -= (size_t)n;
        d->queued -= (size_t)n;
        for (size_t left = (size_t)n; left;) {
            segment *s = seg_at(d, 0);
            if (s->len > left) {
                s->len -= left;
                break;
            }
            left -= s->len;
            seg_pop(d);
        }
        /* emptied, so no segment refers to it; the tail pipe stays in use */
        if (pool[pi].fill == 0 && pi != d->tail)
            pipe_release(pi);
        if ((size_t)n < len)
            return 0; /* DST is full */
    }
    if (d->eof && !d->seg_n && !d->done) {
        shutdown(d->dst, SHUT_WR);
        d->done = 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: delay_proxy PORT_FILE TARGET_PORT DELAY_MS [IDLE_SECONDS]\n");
        return 2;
    }
    int target = atoi(argv[2]);
    delay_us = atoll(argv[3]) * 1000;
    int64_t idle_us = (argc > 4 ? atoll(argv[4]) : 300) * 1000000;
    pid_t parent = getppid();
    signal(SIGPIPE, SIG_IGN);
    /* wake on time: the default 50 us timer slack would add to the delay */
    prctl(PR_SET_TIMERSLACK, 1UL);
    for (int i = 0; i < POOL_MAX; i++)
        pool[i].rd = pool[i].wr = -1;

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 64) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) < 0)
        die("listen");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, argv[1]))
        die(argv[1]);

    int64_t last_busy = now_us(), last_read = 0;
    for (;;) {
        struct pollfd pfd[1 + 2 * MAX_PAIRS];
        int map[1 + 2 * MAX_PAIRS]; /* pfd index -> pair * 2 + side */
        int np = 0, busy = 0;
        int64_t now = now_us(), wake = -1; /* next due write or read tick */
        /* Sources are polled for input a tick after the last read, not
         * before: a busy one is then read once per tick with all it got
         * meanwhile, instead of once per burst the peer sends.  The slack
         * lets a write due just before the tick wake the proxy for both. */
        int may_read = now >= last_read + TICK_US - TICK_SLACK, deferred = 0;
        pfd[np++] = (struct pollfd){.fd = ls, .events = POLLIN};
        for (int i = 0; i < MAX_PAIRS; i++) {
            if (!pairs[i].used)
                continue;
            /* deliver what is due and pass on an EOF seen last round */
            if (direction_write(&pairs[i].d[0], now) < 0 ||
                direction_write(&pairs[i].d[1], now) < 0 ||
                (pairs[i].d[0].done && pairs[i].d[1].done)) {
                pair_close(&pairs[i]);
                continue;
            }
            busy = 1;
            for (int s = 0; s < 2; s++) {
                /* socket s of the pair: source of direction s, target of 1-s */
                direction *in = &pairs[i].d[s], *out = &pairs[i].d[1 - s];
                short ev = 0;
                if (direction_can_read(in)) {
                    if (may_read)
                        ev |= POLLIN;
                    else
                        deferred = 1;
                }
                if (out->seg_n) {
                    int64_t due = seg_at(out, 0)->due;
                    if (due <= now)
                        ev |= POLLOUT;
                    else if (wake < 0 || due < wake)
                        wake = due;
                }
                map[np] = i * 2 + s;
                /* nothing to wait for on it: leave it out (a closed peer
                 * would report POLLHUP at once, again and again) */
                pfd[np++] = (struct pollfd){.fd = ev ? in->src : -1, .events = ev};
            }
        }
        if (deferred && (wake < 0 || last_read + TICK_US < wake))
            wake = last_read + TICK_US;
        if (busy)
            last_busy = now;
        else if (now - last_busy > idle_us || getppid() != parent)
            return 0;
        /* to the microsecond: writes are due at any time, not on the tick */
        struct timespec timeout = {.tv_sec = 1};
        if (wake >= 0) {
            int64_t wait = wake - now_us();
            if (wait < 1000000)
                timeout = (struct timespec){.tv_nsec = wait > 0 ? (long)wait * 1000 : 0};
        }
        if (ppoll(pfd, (nfds_t)np, &timeout, NULL) < 0 && errno != EINTR)
            die("ppoll");
        now = now_us();
        int did_read = 0;
        if (pfd[0].revents & POLLIN) {
            int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                int t = connect_target(target);
                if (t < 0)
                    close(c);
                else
                    pair_open(c, t);
            }
        }
        for (int k = 1; k < np; k++) {
            pair *p = &pairs[map[k] / 2];
            int s = map[k] % 2;
            if (!p->used)
                continue;
            int bad = 0;
            if ((pfd[k].events & POLLIN) && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) {
                bad |= direction_read(&p->d[s]) < 0;
                did_read = 1;
            }
            bad |= direction_write(&p->d[1 - s], now) < 0;
            if (bad || (p->d[0].done && p->d[1].done))
                pair_close(p);
        }
        if (did_read)
            last_read = now;
    }
}
