/* delay_proxy: a TCP proxy adding latency, for tests and benchmarks of long
 * links (this kernel has no netem).  It forwards 127.0.0.1:<free port> to
 * 127.0.0.1:TARGET and delivers every byte DELAY_MS milliseconds after it
 * arrived, in each direction (the round trip gains 2 x DELAY_MS), without
 * limiting throughput: each direction is a queue of timestamped chunks, read
 * as they come and written when due.  One thread, poll(): light enough not
 * to compete with the transfer it measures on a small machine.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS  64
#define READ_MAX   (256 * 1024)
#define QUEUE_MAX  (64u * 1024 * 1024) /* bytes waiting per direction before reading pauses */

typedef struct chunk {
    struct chunk *next;
    int64_t due; /* ms, CLOCK_MONOTONIC */
    size_t len, off;
    unsigned char data[];
} chunk;

typedef struct {
    int src, dst;
    chunk *head, *tail;
    size_t queued;
    int eof;  /* src said EOF (or failed) */
    int done; /* queue drained after EOF: dst shut for writing */
} direction;

typedef struct {
    int used;
    direction d[2]; /* client -> target, target -> client */
} pair;

static pair pairs[MAX_PAIRS];
static int64_t delay_ms;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
    fprintf(stderr, "delay_proxy: %s: %s\n", what, strerror(errno));
    exit(1);
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
    for (chunk *c = d->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    d->head = d->tail = NULL;
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
            return;
        }
    close(client);
    close(target);
}

/* Read what SRC has into a new chunk; -1 when the pair must close. */
static int direction_read(direction *d)
{
    static unsigned char buf[READ_MAX];
    ssize_t n = read(d->src, buf, sizeof buf);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) {
        d->eof = 1;
        return 0;
    }
    chunk *c = malloc(sizeof *c + (size_t)n);
    if (!c)
        die("malloc");
    memcpy(c->data, buf, (size_t)n);
    c->len = (size_t)n;
    c->off = 0;
    c->due = now_ms() + delay_ms;
    c->next = NULL;
    if (d->tail)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    d->queued += (size_t)n;
    return 0;
}

/* Write the chunks that are due; -1 when the pair must close. */
static int direction_write(direction *d, int64_t now)
{
    while (d->head && d->head->due <= now) {
        chunk *c = d->head;
        ssize_t n = write(d->dst, c->data + c->off, c->len - c->off);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->off += (size_t)n;
        d->queued -= (size_t)n;
        if (c->off < c->len)
            return 0;
        d->head = c->next;
        if (!d->head)
            d->tail = NULL;
        free(c);
    }
    if (d->eof && !d->head && !d->done) {
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
    delay_ms = atoll(argv[3]);
    int64_t idle_ms = (argc > 4 ? atoll(argv[4]) : 300) * 1000;
    pid_t parent = getppid();
    signal(SIGPIPE, SIG_IGN);

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

    int64_t last_busy = now_ms();
    for (;;) {
        struct pollfd pfd[1 + 2 * MAX_PAIRS];
        int map[1 + 2 * MAX_PAIRS]; /* pfd index -> pair * 2 + side */
        int np = 0, busy = 0;
        int64_t now = now_ms(), next_due = -1;
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
                if (!in->eof && in->queued < QUEUE_MAX)
                    ev |= POLLIN;
                if (out->head && out->head->due <= now)
                    ev |= POLLOUT;
                else if (out->head && (next_due < 0 || out->head->due < next_due))
                    next_due = out->head->due;
                map[np] = i * 2 + s;
                /* nothing to wait for on it: leave it out (a closed peer
                 * would report POLLHUP at once, again and again) */
                pfd[np++] = (struct pollfd){.fd = ev ? in->src : -1, .events = ev};
            }
        }
        if (busy)
            last_busy = now;
        else if (now - last_busy > idle_ms || getppid() != parent)
            return 0;
        int timeout = 1000;
        if (next_due >= 0 && next_due - now < timeout)
            timeout = (int)(next_due - now);
        if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR)
            die("poll");
        now = now_ms();
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
            if (!p->d[s].eof && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                bad |= direction_read(&p->d[s]) < 0;
            bad |= direction_write(&p->d[1 - s], now) < 0;
            if (bad || (p->d[0].done && p->d[1].done))
                pair_close(p);
        }
    }
}
