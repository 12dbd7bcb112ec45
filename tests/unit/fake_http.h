/* fake_http: a tiny HTTP/1.1 server on 127.0.0.1 for unit tests (not a
 * test itself: included by test_s3_http.c and test_s3_multipart.c).
 *
 * One thread accepts, one thread per connection reads requests (keep-alive,
 * Content-Length bodies) and hands each to the test's handler, which
 * answers on the socket.  Every request is logged ("METHOD TARGET\n").
 * Each wait polls, so fake_http_stop() ends every thread promptly. */
#ifndef N4O_TEST_FAKE_HTTP_H
#define N4O_TEST_FAKE_HTTP_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "strbuf.h"

#define FAKE_UNUSED __attribute__((unused))

typedef struct {
    char method[16];
    char target[4096]; /* path?query, as sent */
    char head[16384];  /* request line and headers */
    char *body;
    size_t body_len;
} fake_req;

typedef struct fake_http fake_http;
/* Answer REQ on FD; 0 to keep the connection, -1 to close it. */
typedef int (*fake_handler)(fake_http *s, int fd, const fake_req *req);

#define FAKE_MAX_CONNS 128

struct fake_http {
    int lfd, port;
    pthread_t accept_thread;
    atomic_int stop;
    fake_handler handler;
    void *ctx; /* for the handler */
    pthread_mutex_t mu;
    strbuf log;
    int n_requests;
    pthread_t conns[FAKE_MAX_CONNS];
    int n_conns;
};

typedef struct {
    fake_http *s;
    int fd;
} fake_conn;

/* Value of header NAME in REQ copied to OUT (blanks trimmed); NULL when
 * absent. */
static FAKE_UNUSED const char *fake_header(const fake_req *req, const char *name, char *out,
                                           size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(req->head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, nl) != 0 || l[2 + nl] != ':')
            continue;
        const char *v = l + 3 + nl, *end = strstr(v, "\r\n");
        while (*v == ' ')
            v++;
        size_t len = end ? (size_t)(end - v) : strlen(v);
        snprintf(out, cap, "%.*s", (int)len, v);
        return out;
    }
    return NULL;
}

/* 1 while FD has something to read; 0 when the server stops first. */
static FAKE_UNUSED int fake_wait(fake_http *s, int fd)
{
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, 50);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 0;
    }
    return 0;
}

static FAKE_UNUSED int fake_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* An answer: status line, Content-Length, HEADERS ("Name: v\r\n"...), and
 * BODY unless REQ is a HEAD (whose Content-Length is BODY's length, or the
 * one given in HEADERS). */
static FAKE_UNUSED int fake_reply(int fd, const fake_req *req, int status, const char *headers,
                                  const void *body, size_t len)
{
    strbuf h;
    strbuf_init(&h, 0);
    int head = strcmp(req->method, "HEAD") == 0;
    strbuf_printf(&h, "HTTP/1.1 %d X\r\n", status);
    if (!(head && headers && strcasestr(headers, "Content-Length:")))
        strbuf_printf(&h, "Content-Length: %zu\r\n", len);
    strbuf_printf(&h, "%s\r\n", headers ? headers : "");
    if (len && !head)
        strbuf_append(&h, body, len);
    int rc = fake_send(fd, strbuf_str(&h), h.len);
    strbuf_free(&h);
    return rc;
}

/* An S3 error answer with CODE and MESSAGE. */
static FAKE_UNUSED int fake_s3_error(int fd, const fake_req *req, int status, const char *code,
                                     const char *message)
{
    char body[1024];
    int n = snprintf(body, sizeof body,
                     "<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>%s</Message></Error>",
                     code, message);
    return fake_reply(fd, req, status, "Content-Type: application/xml\r\n", body, (size_t)n);
}

/* Read one request into REQ (body malloc'd); -1 at the end of the
 * connection.  BUF keeps bytes that arrived after it. */
static FAKE_UNUSED int fake_read_request(fake_http *s, int fd, char *buf, size_t cap, size_t *have,
                                         fake_req *req)
{
    char *end;
    for (;;) {
        buf[*have] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")))
            break;
        if (*have + 1 >= cap || !fake_wait(s, fd))
            return -1;
        ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        *have += (size_t)n;
    }
    size_t head_len = (size_t)(end + 4 - buf);
    memset(req, 0, sizeof *req);
    if (sscanf(buf, "%15s %4095s", req->method, req->target) != 2)
        return -1;
    snprintf(req->head, sizeof req->head, "%.*s", (int)head_len, buf);
    char v[64];
    size_t clen = fake_header(req, "Content-Length", v, sizeof v) ? strtoul(v, NULL, 10) : 0;
    req->body = malloc(clen + 1);
    if (!req->body)
        return -1;
    size_t got = *have - head_len < clen ? *have - head_len : clen;
    memcpy(req->body, buf + head_len, got);
    memmove(buf, buf + head_len + got, *have - head_len - got);
    *have -= head_len + got;
    while (got < clen) {
        if (!fake_wait(s, fd))
            goto fail;
        ssize_t n = recv(fd, req->body + got, clen - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        got += (size_t)n;
    }
    req->body[clen] = '\0';
    req->body_len = clen;
    return 0;
fail:
    free(req->body);
    req->body = NULL;
    return -1;
}

static FAKE_UNUSED void *fake_conn_main(void *arg)
{
    fake_conn c = *(fake_conn *)arg;
    free(arg);
    size_t cap = 65536, have = 0;
    char *buf = malloc(cap);
    fake_req *req = malloc(sizeof *req);
    while (buf && req && fake_read_request(c.s, c.fd, buf, cap, &have, req) == 0) {
        pthread_mutex_lock(&c.s->mu);
        strbuf_printf(&c.s->log, "%s %s\n", req->method, req->target);
        c.s->n_requests++;
        pthread_mutex_unlock(&c.s->mu);
        int rc = c.s->handler(c.s, c.fd, req);
        free(req->body);
        if (rc < 0)
            break;
    }
    free(req);
    free(buf);
    close(c.fd);
    return NULL;
}

static FAKE_UNUSED void *fake_accept_main(void *arg)
{
    fake_http *s = arg;
    while (fake_wait(s, s->lfd)) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        fake_conn *c = malloc(sizeof *c);
        pthread_mutex_lock(&s->mu);
        if (!c || s->n_conns == FAKE_MAX_CONNS) {
            pthread_mutex_unlock(&s->mu);
            free(c);
            close(fd);
            continue;
        }
        c->s = s;
        c->fd = fd;
        if (pthread_create(&s->conns[s->n_conns], NULL, fake_conn_main, c) == 0) {
            s->n_conns++;
        } else {
            free(c);
            close(fd);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* Start a server answering with HANDLER; NULL on failure. */
static FAKE_UNUSED fake_http *fake_http_start(fake_handler handler, void *ctx)
{
    fake_http *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->handler = handler;
    s->ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    strbuf_init(&s->log, 0);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 64) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0 ||
        pthread_create(&s->accept_thread, NULL, fake_accept_main, s) != 0) {
        if (s->lfd >= 0)
            close(s->lfd);
        free(s);
        return NULL;
    }
    s->port = ntohs(a.sin_port);
    return s;
}

static FAKE_UNUSED void fake_http_stop(fake_http *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->accept_thread, NULL);
    for (int i = 0; i < s->n_conns; i++)
        pthread_join(s->conns[i], NULL);
    close(s->lfd);
    strbuf_free(&s->log);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* How many logged requests contain NEEDLE. */
static FAKE_UNUSED int fake_count(fake_http *s, const char *needle)
{
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (const char *p = strstr(strbuf_str(&s->log), needle); p; p = strstr(p + 1, needle))
        n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

#endif
