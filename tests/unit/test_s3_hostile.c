/* Unit tests: the S3 backend against a hostile server.  A fake S3 server
 * runs on 127.0.0.1 (a real socket, one thread per connection) and answers
 * as each test scripts it: ETags that must be escaped or are too long,
 * listings that never end, malformed, deeply nested or huge XML, huge
 * bodies, error bodies with control characters, names that would drive a
 * terminal, ranged GETs answered with too much, with another range than
 * asked for or a few bytes at a time, the causes the probe names and
 * read-only credentials, a missing bucket behind a HEAD's bare 404, answers
 * lost after the server stored the object (a server that keeps what it is
 * sent), two writers of one name (If-None-Match), and servers that stall
 * while the user presses Ctrl-C (SIGINT: every wait ends within a
 * second).
 * The client must fail cleanly with a clear error: never crash, hang or
 * grow without bound (these tests also run under ASan/UBSan). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <expat.h>

#include "backend.h"
#include "remotes.h"
#include "err.h"
#include "s3/multipart.h"
#include "s3/s3.h"
#include "signals.h"
#include "strbuf.h"

#define MIB    (1024u * 1024u)
#define BUCKET "b"

/* ---- the fake server ------------------------------------------------------ */

typedef struct {
    char method[16];
    char target[8192]; /* path?query */
    char head[8192];   /* the request line and headers, as sent (cut when longer) */
    char *body;
    size_t body_len;
} fake_req;

typedef struct fake_server fake_server;
/* Answer REQ on FD; return -1 to close the connection. */
typedef int (*fake_handler)(fake_server *s, int fd, const fake_req *req);

#define MAX_CONNS 256

struct fake_server {
    int lfd, port;
    pthread_t thread;
    atomic_int stop;
    fake_handler handler;
    pthread_mutex_t mu;
    strbuf log; /* "METHOD TARGET\n" per request */
    int n_requests;
    char *last_body; /* of the last POST ?uploadId (CompleteMultipartUpload) */
    size_t last_body_len;
    pthread_t conns[MAX_CONNS];
    int n_conns;
    int page; /* per-test state for handlers */
};

typedef struct {
    fake_server *s;
    int fd;
} conn_arg;

static fake_server *srv;

/* The value of header NAME in REQ (copied into OUT, blanks trimmed); NULL
 * when it was not sent. */
static const char *req_header(const fake_req *req, const char *name, char *out, size_t cap)
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

/* Wait until FD is readable; 0 when the server stops first. */
static int wait_readable(fake_server *s, int fd)
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

static int send_all(int fd, const void *buf, size_t len)
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

/* Set while the request being answered is a HEAD: its answer has no body. */
static __thread int answering_head;

static int reply(int fd, int status, const char *headers, const char *body, size_t len)
{
    strbuf h;
    strbuf_init(&h, 0);
    strbuf_printf(&h, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, len,
                  headers ? headers : "");
    /* one send: no delayed-ACK pause between head and body */
    if (len && !answering_head)
        strbuf_append(&h, body, len);
    int rc = send_all(fd, strbuf_str(&h), h.len);
    strbuf_free(&h);
    return rc;
}

static int reply_str(int fd, int status, const char *body)
{
    return reply(fd, status, "Content-Type: application/xml\r\n", body, strlen(body));
}

/* Hold the connection open, answering nothing, until the client goes or
 * the server stops: a link that went silent. */
static int stall(fake_server *s, int fd)
{
    char buf[65536];
    while (wait_readable(s, fd)) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    return -1;
}

/* Read one request into REQ (body malloc'd); -1 at the end of the
 * connection.  BUF/HAVE keep bytes that arrived after it. */
static int read_request(fake_server *s, int fd, char *buf, size_t cap, size_t *have, fake_req *req)
{
    char *end;
    for (;;) {
        buf[*have] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")))
            break;
        if (*have + 1 >= cap || !wait_readable(s, fd))
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
    if (sscanf(buf, "%15s %8191s", req->method, req->target) != 2)
        return -1;
    snprintf(req->head, sizeof req->head, "%.*s", (int)head_len, buf);
    size_t clen = 0;
    for (char *l = strstr(buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
            clen = strtoul(l + 17, NULL, 10);
    req->body = malloc(clen + 1);
    assert_non_null(req->body);
    size_t got = *have - head_len < clen ? *have - head_len : clen;
    memcpy(req->body, buf + head_len, got);
    memmove(buf, buf + head_len + got, *have - head_len - got);
    *have -= head_len + got;
    while (got < clen) {
        if (!wait_readable(s, fd))
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

static void *conn_main(void *arg)
{
    conn_arg a = *(conn_arg *)arg;
    free(arg);
    char *buf = malloc(65536);
    size_t have = 0;
    fake_req req;
    while (buf && read_request(a.s, a.fd, buf, 65536, &have, &req) == 0) {
        pthread_mutex_lock(&a.s->mu);
        strbuf_printf(&a.s->log, "%s %s\n", req.method, req.target);
        a.s->n_requests++;
        if (strcmp(req.method, "POST") == 0 && strstr(req.target, "uploadId=")) {
            free(a.s->last_body);
            a.s->last_body = malloc(req.body_len + 1);
            memcpy(a.s->last_body, req.body, req.body_len + 1);
            a.s->last_body_len = req.body_len;
        }
        pthread_mutex_unlock(&a.s->mu);
        answering_head = strcmp(req.method, "HEAD") == 0;
        int rc = a.s->handler(a.s, a.fd, &req);
        free(req.body);
        if (rc < 0)
            break;
    }
    free(buf);
    close(a.fd);
    return NULL;
}

static void *accept_main(void *arg)
{
    fake_server *s = arg;
    while (wait_readable(s, s->lfd)) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        conn_arg *a = malloc(sizeof *a);
        a->s = s;
        a->fd = fd;
        pthread_mutex_lock(&s->mu);
        int slot = s->n_conns < MAX_CONNS ? s->n_conns++ : -1;
        pthread_mutex_unlock(&s->mu);
        if (slot < 0 || pthread_create(&s->conns[slot], NULL, conn_main, a) != 0) {
            close(fd);
            free(a);
        }
    }
    return NULL;
}

static fake_server *server_start(fake_handler h)
{
    fake_server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->handler = h;
    strbuf_init(&s->log, 0);
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 64), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, accept_main, s), 0);
    return s;
}

static void server_stop(fake_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < s->n_conns; i++)
        pthread_join(s->conns[i], NULL);
    close(s->lfd);
    strbuf_free(&s->log);
    free(s->last_body);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Requests seen whose "METHOD TARGET" line contains WHAT. */
static int seen(fake_server *s, const char *what)
{
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (const char *p = strbuf_str(&s->log); (p = strstr(p, what)); p++)
        n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static const char *upload_id_answer;

static int teardown(void **state)
{
    (void)state;
    upload_id_answer = "UP1";
    server_stop(srv);
    srv = NULL;
    signals_reset();
    return 0;
}

static config_remote remote_conf(const fake_server *s)
{
    static char endpoint[64];
    config_remote rc;
    memset(&rc, 0, sizeof rc);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", s->port);
    rc.name = "hostile";
    rc.type = "s3";
    rc.endpoint = endpoint;
    rc.region = "us-east-1";
    rc.bucket = BUCKET;
    rc.prefix = "p/";
    rc.url_style = "path";
    rc.credentials = "env";
    rc.profile = "default";
    rc.part_size = 5 * MIB;
    rc.parallel_parts = 2;
    rc.retries = 0;
    rc.connect_timeout = 5;
    rc.io_timeout = 10;
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The error message must contain WHAT (shown when it does not). */
#define assert_err(what)                                                                           \
    do {                                                                                           \
        if (!strstr(err_msg(), what))                                                              \
            print_message("error was: %s\n", err_msg());                                           \
        assert_non_null(strstr(err_msg(), what));                                                  \
    } while (0)

/* 1 when S holds a byte a terminal would act on. */
static int has_control(const char *s)
{
    return strbuf_has_control(s, strlen(s));
}

/* ---- a multipart upload with hostile ETags --------------------------------- */

static char etag_header[8192]; /* the ETag every part gets */

static int h_multipart(fake_server *s, int fd, const fake_req *q)
{
    (void)s;
    if (strcmp(q->method, "HEAD") == 0)
        return reply(fd, 404, NULL, NULL, 0);
    if (strcmp(q->method, "POST") == 0 && strstr(q->target, "?uploads")) {
        char body[8192];
        snprintf(body, sizeof body,
                 "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                 "<UploadId>%s</UploadId></InitiateMultipartUploadResult>",
                 upload_id_answer);
        return reply_str(fd, 200, body);
    }
    if (strcmp(q->method, "PUT") == 0) {
        char h[8300];
        snprintf(h, sizeof h, "ETag: %s\r\n", etag_header);
        return reply(fd, 200, h, NULL, 0);
    }
    if (strcmp(q->method, "POST") == 0 && strstr(q->target, "uploadId="))
        return reply_str(fd, 200,
                         "<CompleteMultipartUploadResult><Key>k</Key>"
                         "</CompleteMultipartUploadResult>");
    if (strcmp(q->method, "DELETE") == 0)
        return reply(fd, 204, NULL, NULL, 0);
    return reply(fd, 400, NULL, NULL, 0);
}

/* Write LEN bytes (zeros) as OBJ and commit. */
static int upload(backend *b, size_t len)
{
    backend_writer *w = backend_writer_open(b, "obj", 0);
    if (!w)
        return -1;
    uint8_t *data = calloc(1, len);
    assert_non_null(data);
    int rc = backend_writer_write(w, data, len);
    free(data);
    if (rc < 0) {
        backend_writer_abort(w);
        return -1;
    }
    return backend_writer_commit(w);
}

/* The regression of issue 10: 253-character ETags full of characters that
 * XML escaping lengthens ran the old fixed Complete buffer over (ASan:
 * heap-buffer-overflow in complete()). */
static void test_complete_escapes_long_etags(void **state)
{
    (void)state;
    srv = server_start(h_multipart);
    config_remote rc = remote_conf(srv);
    const size_t lens[] = {253, 1024};
    for (size_t i = 0; i < 2; i++) {
        /* "&&&<>&&..." quoted: each '&' becomes 5 bytes in the body */
        char etag[1100];
        etag[0] = '"';
        for (size_t j = 1; j + 1 < lens[i]; j++)
            etag[j] = "&&&<>"[j % 5];
        etag[lens[i] - 1] = '"';
        etag[lens[i]] = '\0';
        snprintf(etag_header, sizeof etag_header, "%s", etag);
        backend *b = remote_backend_open(&rc, 0);
        assert_non_null(b);
        assert_int_equal(upload(b, 10 * MIB + 1), 0); /* three parts */
        backend_close(b);

        strbuf want;
        strbuf_init(&want, 0);
        strbuf_puts(&want, "<CompleteMultipartUpload>");
        for (int n = 1; n <= 3; n++) {
            strbuf_printf(&want, "<Part><PartNumber>%d</PartNumber><ETag>", n);
            for (const char *p = etag; *p; p++)
                strbuf_puts(&want, *p == '&'   ? "&amp;"
                                   : *p == '<' ? "&lt;"
                                   : *p == '>' ? "&gt;"
                                               : (char[]){*p, 0});
            strbuf_puts(&want, "</ETag></Part>");
        }
        strbuf_puts(&want, "</CompleteMultipartUpload>");
        pthread_mutex_lock(&srv->mu);
        assert_non_null(srv->last_body);
        assert_string_equal(srv->last_body, strbuf_str(&want));
        pthread_mutex_unlock(&srv->mu);
        strbuf_free(&want);
    }
}

/* An ETag past the limit or with control characters is refused (never cut
 * silently, never written into the Complete body); the upload is aborted. */
static void test_bad_etags_abort(void **state)
{
    (void)state;
    srv = server_start(h_multipart);
    config_remote rc = remote_conf(srv);
    memset(etag_header, 'e', 5000);
    etag_header[5000] = '\0';
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_int_equal(upload(b, 5 * MIB + 1), -1);
    assert_err("ETag header is longer than 1024 bytes");
    assert_int_equal(seen(srv, "DELETE /b/p/obj?uploadId=UP1"), 1);
    assert_int_equal(seen(srv, "POST /b/p/obj?uploadId="), 0);

    snprintf(etag_header, sizeof etag_header, "\"abc\x1b[2Jdef\"");
    assert_int_equal(upload(b, 5 * MIB + 1), -1);
    assert_err("ETag header holds control characters");
    assert_false(has_control(err_msg()));
    assert_int_equal(seen(srv, "DELETE /b/p/obj?uploadId=UP1"), 2);
    assert_int_equal(seen(srv, "POST /b/p/obj?uploadId="), 0);
    backend_close(b);
}

/* An UploadId that would go raw into messages and URLs is refused. */
static void test_bad_upload_id(void **state)
{
    (void)state;
    srv = server_start(h_multipart);
    config_remote rc = remote_conf(srv);
    snprintf(etag_header, sizeof etag_header, "\"e\"");
    static char long_id[2100];
    memset(long_id, 'i', 2000);
    const char *ids[] = {"UP&#x9b;31m", "UP&#10;x", "UP 1", long_id};
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        upload_id_answer = ids[i];
        assert_int_equal(upload(b, 5 * MIB + 1), -1);
        assert_err("UploadId that is not printable ASCII of at most 1024 bytes");
        assert_false(has_control(err_msg()));
        assert_null(strstr(err_msg(), "\xc2\x9b"));
    }
    assert_int_equal(seen(srv, "PUT "), 0);
    backend_close(b);
}

/* Ten thousand parts with the longest ETags and every character XML
 * escapes: the body is exact and well-formed. */
typedef struct {
    int in_etag;
    unsigned parts;
    strbuf text;
    const char *want;
    int mismatches;
} complete_check;

static void XMLCALL cc_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    complete_check *c = ud;
    if (strcmp(name, "ETag") == 0) {
        c->in_etag = 1;
        strbuf_free(&c->text);
    }
}

static void XMLCALL cc_end(void *ud, const XML_Char *name)
{
    complete_check *c = ud;
    if (strcmp(name, "ETag") == 0) {
        c->in_etag = 0;
        c->parts++;
        if (strcmp(strbuf_str(&c->text), c->want) != 0)
            c->mismatches++;
    }
}

static void XMLCALL cc_text(void *ud, const XML_Char *s, int len)
{
    complete_check *c = ud;
    if (c->in_etag)
        strbuf_append(&c->text, s, (size_t)len);
}

static void test_complete_body_many_parts(void **state)
{
    (void)state;
    static char etag[1025];
    for (size_t j = 0; j < 1024; j++)
        etag[j] = "&<>\"'x"[j % 6];
    char **etags = calloc(S3MP_MAX_PARTS, sizeof *etags);
    assert_non_null(etags);
    for (unsigned i = 0; i < S3MP_MAX_PARTS; i++)
        etags[i] = etag;
    size_t len = 0;
    char *body = s3mp_complete_body(etags, S3MP_MAX_PARTS, S3MP_MAX_PARTS, &len);
    assert_non_null(body);
    assert_int_equal(strlen(body), len);
    complete_check c = {.want = etag};
    strbuf_init(&c.text, 0);
    XML_Parser p = XML_ParserCreate("UTF-8");
    XML_SetUserData(p, &c);
    XML_SetElementHandler(p, cc_start, cc_end);
    XML_SetCharacterDataHandler(p, cc_text);
    assert_int_equal(XML_Parse(p, body, (int)len, XML_TRUE), XML_STATUS_OK);
    XML_ParserFree(p);
    assert_int_equal(c.parts, S3MP_MAX_PARTS);
    assert_int_equal(c.mismatches, 0);
    strbuf_free(&c.text);
    free(body);
    /* a missing part is named */
    etags[4999] = NULL;
    assert_null(s3mp_complete_body(etags, S3MP_MAX_PARTS, S3MP_MAX_PARTS, &len));
    assert_err("part 5000 was not uploaded");
    free(etags);
}

/* ---- hostile listings ------------------------------------------------------ */

static int list_result(backend_entry **e, size_t *n)
{
    config_remote rc = remote_conf(srv);
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    int r = backend_list(b, "", e, n);
    backend_close(b);
    return r;
}

static int list_fails(void)
{
    backend_entry *e = NULL;
    size_t n = 0;
    int r = list_result(&e, &n);
    backend_entries_free(e, n);
    return r;
}

static int h_same_token(fake_server *s, int fd, const fake_req *q)
{
    (void)s, (void)q;
    return reply_str(fd, 200,
                     "<ListBucketResult><IsTruncated>true</IsTruncated>"
                     "<NextContinuationToken>again</NextContinuationToken>"
                     "<Contents><Key>p/a</Key><Size>1</Size>"
                     "<LastModified>2026-01-01T00:00:00Z</LastModified></Contents>"
                     "</ListBucketResult>");
}

static int h_fresh_tokens(fake_server *s, int fd, const fake_req *q)
{
    (void)q;
    char body[256];
    snprintf(body, sizeof body,
             "<ListBucketResult><IsTruncated>true</IsTruncated>"
             "<NextContinuationToken>t%d</NextContinuationToken></ListBucketResult>",
             s->page++);
    return reply_str(fd, 200, body);
}

/* t0, t1, t0, t1...: a loop of two pages */
static int h_cycle_tokens(fake_server *s, int fd, const fake_req *q)
{
    (void)q;
    char body[256];
    snprintf(body, sizeof body,
             "<ListBucketResult><IsTruncated>true</IsTruncated>"
             "<NextContinuationToken>t%d</NextContinuationToken></ListBucketResult>",
             s->page++ % 2);
    return reply_str(fd, 200, body);
}

static int h_no_token(fake_server *s, int fd, const fake_req *q)
{
    (void)s, (void)q;
    return reply_str(fd, 200,
                     "<ListBucketResult><IsTruncated>true</IsTruncated>"
                     "<NextContinuationToken></NextContinuationToken></ListBucketResult>");
}

/* Pages of 1000 distinct entries, fresh tokens, never the end. */
static int h_full_pages(fake_server *s, int fd, const fake_req *q)
{
    (void)q;
    strbuf b;
    strbuf_init(&b, 0);
    int page = s->page++;
    strbuf_printf(&b,
                  "<ListBucketResult><IsTruncated>true</IsTruncated>"
                  "<NextContinuationToken>t%d</NextContinuationToken>",
                  page);
    for (int i = 0; i < 1000; i++)
        strbuf_printf(&b,
                      "<Contents><Key>p/k%d_%d</Key><Size>1</Size>"
                      "<LastModified>2026-01-01T00:00:00Z</LastModified></Contents>",
                      page, i);
    strbuf_puts(&b, "</ListBucketResult>");
    int rc = reply_str(fd, 200, strbuf_str(&b));
    strbuf_free(&b);
    return rc;
}

static int h_page_too_big(fake_server *s, int fd, const fake_req *q)
{
    (void)s, (void)q;
    strbuf b;
    strbuf_init(&b, 0);
    strbuf_puts(&b, "<ListBucketResult><IsTruncated>false</IsTruncated>");
    for (int i = 0; i < 1001; i++)
        strbuf_printf(&b, "<Contents><Key>p/k%d</Key><Size>1</Size></Contents>", i);
    strbuf_puts(&b, "</ListBucketResult>");
    int rc = reply_str(fd, 200, strbuf_str(&b));
    strbuf_free(&b);
    return rc;
}

static void test_listing_never_ends(void **state)
{
    (void)state;
    /* the same token again: caught at once */
    srv = server_start(h_same_token);
    assert_int_equal(list_fails(), -1);
    assert_err("same continuation marker twice (\"again\")");
    assert_int_equal(srv->n_requests, 2);
    server_stop(srv);

    /* tokens that come back, not back to back: caught the second time */
    srv = server_start(h_cycle_tokens);
    assert_int_equal(list_fails(), -1);
    assert_err("same continuation marker twice (\"t0\")");
    assert_int_equal(srv->n_requests, 3);
    server_stop(srv);

    /* a fresh token every time, empty pages: the page limit */
    srv = server_start(h_fresh_tokens);
    double t0 = now();
    assert_int_equal(list_fails(), -1);
    assert_err("still truncated after 200 pages");
    assert_int_equal(srv->n_requests, S3_LIST_MAX_PAGES);
    assert_true(now() - t0 < 30);
    server_stop(srv);

    /* truncated without a token */
    srv = server_start(h_no_token);
    assert_int_equal(list_fails(), -1);
    assert_err("without a continuation marker");
    server_stop(srv);

    /* full pages forever: the entry limit, not unbounded memory */
    srv = server_start(h_full_pages);
    assert_int_equal(list_fails(), -1);
    assert_err("more than 100000 entries");
    assert_int_equal(srv->n_requests, S3_LIST_MAX_ENTRIES / 1000 + 1);
    server_stop(srv);

    /* more entries in one page than asked for */
    srv = server_start(h_page_too_big);
    assert_int_equal(list_fails(), -1);
    assert_err("more than 1000 entries in one page");
}

/* The body each of the following handlers answers with. */
static char *hostile_body;
static size_t hostile_len;
static int hostile_status = 200;

static int h_body(fake_server *s, int fd, const fake_req *q)
{
    (void)s, (void)q;
    return reply(fd, hostile_status, "Content-Type: application/xml\r\n", hostile_body,
                 hostile_len);
}

static void set_body(const char *body)
{
    free(hostile_body);
    hostile_body = strdup(body);
    hostile_len = strlen(body);
}

static void test_malformed_xml(void **state)
{
    (void)state;
    srv = server_start(h_body);
    /* nested 100,000 levels deep */
    strbuf b;
    strbuf_init(&b, 0);
    strbuf_puts(&b, "<ListBucketResult>");
    for (int i = 0; i < 100000; i++)
        strbuf_puts(&b, "<a>");
    set_body(strbuf_str(&b));
    strbuf_free(&b);
    assert_int_equal(list_fails(), -1);
    assert_err("nested deeper than 16 levels");

    /* a 100 KB key */
    strbuf_init(&b, 0);
    strbuf_puts(&b, "<ListBucketResult><Contents><Key>p/");
    for (int i = 0; i < 100000; i++)
        strbuf_puts(&b, "k");
    strbuf_puts(&b, "</Key></Contents></ListBucketResult>");
    set_body(strbuf_str(&b));
    strbuf_free(&b);
    assert_int_equal(list_fails(), -1);
    assert_err("text value longer than 64 KiB");

    /* entity tricks */
    set_body("<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaa\">"
             "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
             "<ListBucketResult><Contents><Key>&b;</Key></Contents></ListBucketResult>");
    assert_int_equal(list_fails(), -1);
    assert_err("DOCTYPE");

    /* cut, binary, empty, the wrong document, nonsense values */
    const char *bad[] = {
        "<ListBucketResult><Contents><Key>p/a</Key>",
        "<ListBucketResult><Contents><Key>p/\x1b[31mraw</Key></Contents></ListBucketResult>",
        "\x00\x01\x02\xff\xfe garbage",
        "",
        "<Error><Code>NoSuchKey</Code></Error>",
        "<ListBucketResult><Contents><Key>p/a</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>p/a</Key><Size>99999999999999999999999</Size>"
        "</Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>p/a</Key><LastModified>yesterday</LastModified>"
        "</Contents></ListBucketResult>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        free(hostile_body);
        hostile_len = i == 2 ? 13 : strlen(bad[i]);
        hostile_body = malloc(hostile_len + 1);
        memcpy(hostile_body, bad[i], hostile_len + 1);
        assert_int_equal(list_fails(), -1);
        assert_true(strstr(err_msg(), "malformed S3 response") ||
                    strstr(err_msg(), "to a listing"));
        assert_false(has_control(err_msg()));
    }
    free(hostile_body);
    hostile_body = NULL;
}

/* A body that never ends (chunked): cut at the limit. */
static int h_endless(fake_server *s, int fd, const fake_req *q)
{
    (void)q;
    char head[256];
    snprintf(head, sizeof head,
             "HTTP/1.1 %d X\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
             "13\r\n<ListBucketResult>\r\n",
             hostile_status);
    if (send_all(fd, head, strlen(head)) < 0)
        return -1;
    static char chunk[65536 + 16];
    int n = snprintf(chunk, sizeof chunk, "%x\r\n", 65536);
    memset(chunk + n, ' ', 65536);
    memcpy(chunk + n + 65536, "\r\n", 2);
    while (!atomic_load(&s->stop))
        if (send_all(fd, chunk, (size_t)n + 65536 + 2) < 0)
            break;
    return -1;
}

static void test_huge_bodies(void **state)
{
    (void)state;
    srv = server_start(h_endless);
    hostile_status = 200;
    double t0 = now();
    assert_int_equal(list_fails(), -1);
    assert_err("larger than 8388608 bytes");
    /* an endless error answer: its status, not its body */
    hostile_status = 503;
    assert_int_equal(list_fails(), -1);
    assert_err("HTTP 503");
    assert_err("longer than 65536 bytes, not read");
    assert_true(now() - t0 < 30);
    hostile_status = 200;
}

/* Error bodies that would drive the terminal: escaped in the message.
 * XML 1.0 cannot carry ESC, but it carries newlines, tabs, CRs and the C1
 * controls (U+009B is CSI on many terminals). */
static void test_error_text_escaped(void **state)
{
    (void)state;
    srv = server_start(h_body);
    hostile_status = 403;
    set_body("<Error><Code>Access&#x9b;31mDenied</Code><Message>line1\nline2\ttab&#13;cr "
             "\xc2\x9b"
             "2J and a very long tail "
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "</Message></Error>");
    assert_int_equal(list_fails(), -1);
    const char *m = err_msg();
    assert_false(has_control(m));
    assert_null(strstr(m, "\xc2\x9b")); /* no raw C1 CSI */
    assert_non_null(strstr(
        m, "HTTP 403 Access\\xc2\\x9b31mDenied: line1\\x0aline2\\x09tab\\x0dcr \\xc2\\x9b2J"));
    assert_true(strlen(m) < 700); /* the server's text is cut */
    /* raw ESC is not XML: the status alone, nothing raw */
    set_body("<Error><Code>Bad\x1b[31m</Code><Message>\x1b]0;owned\x07</Message></Error>");
    assert_int_equal(list_fails(), -1);
    assert_false(has_control(err_msg()));
    assert_err("HTTP 403 Forbidden");
    free(hostile_body);
    hostile_body = NULL;
    hostile_status = 200;
}

static int h_complete_error(fake_server *s, int fd, const fake_req *q)
{
    if (strcmp(q->method, "POST") == 0 && strstr(q->target, "uploadId="))
        return reply_str(fd, 200,
                         "<Error><Code>Internal&#x9b;1mError</Code>"
                         "<Message>&#x9b;2J\ngone</Message></Error>");
    return h_multipart(s, fd, q);
}

static void test_complete_error_escaped(void **state)
{
    (void)state;
    srv = server_start(h_complete_error);
    snprintf(etag_header, sizeof etag_header, "\"e\"");
    config_remote rc = remote_conf(srv);
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_int_equal(upload(b, 5 * MIB + 1), -1);
    assert_false(has_control(err_msg()));
    assert_err("Internal\\xc2\\x9b1mError: \\xc2\\x9b2J\\x0agone");
    backend_close(b);
}

/* Names from the listing: those that would reach the terminal raw are
 * skipped with a warning that shows them escaped. */
static int h_names(fake_server *s, int fd, const fake_req *q)
{
    (void)s;
    if (strstr(q->target, "uploads")) {
        /* not url-encoded: XML can still carry a newline */
        return reply_str(fd, 200,
                         "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                         "<Upload><Key>p/up&#10;line</Key><UploadId>U1</UploadId>"
                         "<Initiated>2026-01-01T00:00:00Z</Initiated></Upload>"
                         "<Upload><Key>p/upgood</Key><UploadId>U2&#9;</UploadId>"
                         "<Initiated>2026-01-01T00:00:00Z</Initiated></Upload>"
                         "<Upload><Key>p/upfine</Key><UploadId>U3</UploadId>"
                         "<Initiated>2026-01-01T00:00:00Z</Initiated></Upload>"
                         "</ListMultipartUploadsResult>");
    }
    strbuf b;
    strbuf_init(&b, 0);
    strbuf_puts(&b, "<ListBucketResult><EncodingType>url</EncodingType>"
                    "<IsTruncated>false</IsTruncated>");
    const char *keys[] = {
        "p/good_a",  "p/esc%1B%5B31mred",   "p/new%0Aline", "p/c1%C2%9B",  "p/bad%FF%FEutf8",
        "p/tab%09x", "p/%C3%BCn%C3%AFcode", "p/good_b",     "p/broken%zz", "p/nul%00x"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        strbuf_printf(&b,
                      "<Contents><Key>%s</Key><Size>3</Size>"
                      "<LastModified>2026-01-01T00:00:00Z</LastModified></Contents>",
                      keys[i]);
    strbuf_puts(&b, "<Contents><Key>p/");
    for (int i = 0; i < 1100; i++)
        strbuf_puts(&b, "L");
    strbuf_puts(&b, "</Key><Size>1</Size></Contents></ListBucketResult>");
    int rc = reply_str(fd, 200, strbuf_str(&b));
    strbuf_free(&b);
    return rc;
}

/* Run F with stderr going to a file; the text written, malloc'd. */
static char *capture_stderr(int (*f)(void), int *rc)
{
    char path[] = "/tmp/n4o-s3-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    *rc = f();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fd, text, (size_t)len, 0), len);
    close(fd);
    unlink(path);
    return text;
}

static backend_entry *names_e;
static size_t names_n;

static int list_names(void)
{
    return list_result(&names_e, &names_n);
}

static void test_unprintable_names_skipped(void **state)
{
    (void)state;
    srv = server_start(h_names);
    int rc;
    char *warn = capture_stderr(list_names, &rc);
    assert_int_equal(rc, 0);
    /* the printable ones, sorted; the others never reach the caller */
    assert_int_equal(names_n, 4);
    assert_string_equal(names_e[0].name, "good_a");
    assert_string_equal(names_e[1].name, "good_b");
    assert_string_equal(names_e[2].name, "upfine");
    assert_true(names_e[2].incomplete);
    assert_string_equal(names_e[3].name, "ünïcode");
    backend_entries_free(names_e, names_n);
    /* one warning each, escaped */
    for (const char *p = warn; *p; p++)
        assert_true(*p == '\n' || !strbuf_has_control(p, 1));
    assert_non_null(strstr(warn, "skipping object \"p/esc\\x1b[31mred\": the name holds control"));
    assert_non_null(strstr(warn, "\"p/new\\x0aline\""));
    assert_non_null(strstr(warn, "\"p/c1\\xc2\\x9b\""));
    assert_non_null(strstr(warn, "\"p/bad\\xff\\xfeutf8\""));
    assert_non_null(strstr(warn, "\"p/tab\\x09x\""));
    assert_non_null(strstr(warn, "\"p/broken%zz\": the name is not a valid url-encoded key"));
    assert_non_null(strstr(warn, "\"p/nul%00x\": the name is not a valid url-encoded key"));
    assert_non_null(strstr(warn, "longer than S3 allows (1024 bytes)"));
    assert_non_null(strstr(warn, "skipping the unfinished upload of \"p/up\\x0aline\""));
    assert_non_null(strstr(warn, "\"p/upgood\": its upload id is missing or not printable"));
    int lines = 0;
    for (const char *p = warn; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 10);
    free(warn);
}

/* A ranged GET answered with more than was asked for. */
static int h_too_much(fake_server *s, int fd, const fake_req *q)
{
    (void)s;
    if (strcmp(q->method, "HEAD") == 0)
        return reply(fd, 200, "Content-Length: 10\r\n", NULL, 0);
    return reply(fd, 200, NULL, "01234567890123456789", 20);
}

static int h_bad_length(fake_server *s, int fd, const fake_req *q)
{
    (void)s, (void)q;
    const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\nETag: \"x\"\r\n\r\n";
    send_all(fd, r, strlen(r));
    return -1;
}

static void test_reads_bounded(void **state)
{
    (void)state;
    srv = server_start(h_too_much);
    config_remote rc = remote_conf(srv);
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    size_t len = 0;
    char *all = backend_read_all(b, "obj", 1000, &len);
    assert_null(all);
    assert_err("sent more bytes than asked for");
    backend_close(b);
    server_stop(srv);

    srv = server_start(h_bad_length);
    rc = remote_conf(srv);
    b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_int_equal(backend_stat(b, "obj", NULL), -1);
    assert_false(has_control(err_msg()));
    backend_close(b);
}

/* ---- Ctrl-C: every wait ends within a second ------------------------------- */

typedef struct {
    pthread_t t;
    int ms;
} signal_timer;

static void *signal_main(void *arg)
{
    signal_timer *st = arg;
    struct timespec ts = {st->ms / 1000, (long)(st->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGINT);
    return NULL;
}

/* SIGINT to this process in MS milliseconds. */
static void sigint_in(signal_timer *st, int ms)
{
    st->ms = ms;
    assert_int_equal(pthread_create(&st->t, NULL, signal_main, st), 0);
}

static int setup_signals(void **state)
{
    (void)state;
    signals_install();
    signals_reset();
    return 0;
}

static int h_stall(fake_server *s, int fd, const fake_req *q)
{
    (void)q;
    return stall(s, fd);
}

static int h_parts_stall(fake_server *s, int fd, const fake_req *q)
{
    if (strcmp(q->method, "PUT") == 0)
        return stall(s, fd);
    return h_multipart(s, fd, q);
}

static int h_slow_down(fake_server *s, int fd, const fake_req *q)
{
    (void)s, (void)q;
    return reply_str(fd, 503, "<Error><Code>SlowDown</Code><Message>wait</Message></Error>");
}

/* Half the object, then silence. */
static int h_get_stalls(fake_server *s, int fd, const fake_req *q)
{
    if (strcmp(q->method, "HEAD") == 0)
        return reply(fd, 200, "Content-Length: 1000000\r\n", NULL, 0);
    const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
    static char half[500000];
    if (send_all(fd, head, strlen(head)) < 0 || send_all(fd, half, sizeof half) < 0)
        return -1;
    return stall(s, fd);
}

static void check_interrupted(double t_signal)
{
    double late = now() - t_signal;
    assert_err("interrupted by signal 2");
    assert_true(late < 1.0);
}

static void test_sigint_stalled_listing(void **state)
{
    (void)state;
    srv = server_start(h_stall);
    config_remote rc = remote_conf(srv);
    rc.retries = 3;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    signal_timer st;
    double t0 = now();
    sigint_in(&st, 300);
    backend_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(backend_list(b, "", &e, &n), -1);
    check_interrupted(t0 + 0.3);
    assert_int_equal(srv->n_requests, 1); /* not retried */
    pthread_join(st.t, NULL);
    backend_close(b);
}

static void test_sigint_retry_backoff(void **state)
{
    (void)state;
    srv = server_start(h_slow_down);
    config_remote rc = remote_conf(srv);
    rc.retries = 10; /* about 100 s of backoff in all */
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    signal_timer st;
    double t0 = now();
    sigint_in(&st, 700);
    assert_int_equal(backend_stat(b, "obj", NULL), -1);
    check_interrupted(t0 + 0.7);
    pthread_join(st.t, NULL);
    backend_close(b);
}

/* Parts stalled, the writer waiting for a free part buffer: interrupted,
 * the upload aborted (also after the signal), nothing completed. */
static void test_sigint_stalled_upload(void **state)
{
    (void)state;
    srv = server_start(h_parts_stall);
    snprintf(etag_header, sizeof etag_header, "\"e\"");
    config_remote rc = remote_conf(srv);
    rc.retries = 3;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    backend_writer *w = backend_writer_open(b, "obj", 0);
    assert_non_null(w);
    uint8_t *data = calloc(1, MIB);
    assert_non_null(data);
    signal_timer st;
    double t0 = now();
    sigint_in(&st, 500);
    int rc_w = 0;
    for (int i = 0; i < 100 && rc_w == 0; i++)
        rc_w = backend_writer_write(w, data, MIB);
    free(data);
    assert_int_equal(rc_w, -1);
    check_interrupted(t0 + 0.5);
    double t1 = now();
    backend_writer_abort(w);
    assert_true(now() - t1 < 1.5);
    assert_int_equal(seen(srv, "DELETE /b/p/obj?uploadId=UP1"), 1);
    assert_int_equal(seen(srv, "POST /b/p/obj?uploadId="), 0);
    pthread_join(st.t, NULL);
    backend_close(b);
}

/* All parts sent, commit waiting for the workers. */
static void test_sigint_commit(void **state)
{
    (void)state;
    srv = server_start(h_parts_stall);
    config_remote rc = remote_conf(srv);
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    backend_writer *w = backend_writer_open(b, "obj", 0);
    assert_non_null(w);
    uint8_t *data = calloc(1, 6 * MIB);
    assert_non_null(data);
    assert_int_equal(backend_writer_write(w, data, 6 * MIB), 0);
    free(data);
    signal_timer st;
    double t0 = now();
    sigint_in(&st, 300);
    assert_int_equal(backend_writer_commit(w), -1);
    assert_err("interrupted by signal 2");
    assert_true(now() - t0 < 1.3 + 1.0); /* and the abort */
    assert_int_equal(seen(srv, "DELETE /b/p/obj?uploadId=UP1"), 1);
    assert_int_equal(seen(srv, "POST /b/p/obj?uploadId="), 0);
    pthread_join(st.t, NULL);
    backend_close(b);
}

static void test_sigint_stalled_download(void **state)
{
    (void)state;
    srv = server_start(h_get_stalls);
    config_remote rc = remote_conf(srv);
    rc.retries = 3;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    backend_reader *r = backend_reader_open(b, "obj", 0);
    assert_non_null(r);
    static uint8_t buf[65536];
    signal_timer st;
    double t0 = now();
    sigint_in(&st, 500);
    ssize_t n;
    size_t got = 0;
    while ((n = backend_reader_read(r, buf, sizeof buf)) > 0)
        got += (size_t)n;
    assert_int_equal(n, -1);
    assert_int_equal(got, 500000);
    check_interrupted(t0 + 0.5);
    backend_reader_close(r);
    pthread_join(st.t, NULL);
    backend_close(b);
}

/* A signal before the abort: the abort is still sent, and a stalled one
 * does not hold the exit. */
static void test_abort_after_signal_bounded(void **state)
{
    (void)state;
    srv = server_start(h_multipart);
    snprintf(etag_header, sizeof etag_header, "\"e\"");
    config_remote rc = remote_conf(srv);
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    backend_writer *w = backend_writer_open(b, "obj", 0);
    assert_non_null(w);
    uint8_t *data = calloc(1, 6 * MIB);
    assert_non_null(data);
    assert_int_equal(backend_writer_write(w, data, 6 * MIB), 0);
    free(data);
    srv->handler = h_stall; /* the DELETE will stall */
    kill(getpid(), SIGINT);
    double t0 = now();
    backend_writer_abort(w);
    assert_true(now() - t0 < 2.0);
    assert_int_equal(seen(srv, "DELETE /b/p/obj?uploadId=UP1"), 1);
    backend_close(b);
}

/* ---- probe ------------------------------------------------------------------ */

static int probe_readonly;
static int probe_abort_status = 204;
static backend *probe_backend;

static int probe_it(void)
{
    return backend_probe(probe_backend);
}

/* Lists (empty), and takes writes unless PROBE_READONLY. */
static int h_probe(fake_server *s, int fd, const fake_req *q)
{
    (void)s;
    if (strcmp(q->method, "GET") == 0 && strstr(q->target, "list-type=2"))
        return reply_str(fd, 200,
                         "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
                         "</ListBucketResult>");
    if (strcmp(q->method, "POST") == 0 && strstr(q->target, "?uploads")) {
        if (probe_readonly)
            return reply_str(fd, 403,
                             "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
                             "</Error>");
        return reply_str(fd, 200,
                         "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                         "<UploadId>UPPROBE</UploadId></InitiateMultipartUploadResult>");
    }
    if (strcmp(q->method, "DELETE") == 0 && strstr(q->target, "uploadId=")) {
        if (probe_abort_status == 204)
            return reply(fd, 204, NULL, NULL, 0);
        return reply_str(fd, probe_abort_status,
                         probe_abort_status == 405
                             ? "<Error><Code>MethodNotAllowed</Code><Message>no</Message></Error>"
                             : "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
                               "</Error>");
    }
    return reply(fd, 400, NULL, NULL, 0);
}

static void test_probe_causes(void **state)
{
    (void)state;
    srv = server_start(h_body);
    config_remote rc = remote_conf(srv);
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    hostile_status = 403;
    set_body("<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we "
             "calculated does not match</Message></Error>");
    assert_int_equal(backend_probe(b), -1);
    char want[200];
    snprintf(want, sizeof want, "remote hostile: endpoint %s, bucket b: the signature does not",
             rc.endpoint);
    assert_err(want);
    assert_err("HTTP 403 SignatureDoesNotMatch");
    set_body("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
    assert_int_equal(backend_probe(b), -1);
    assert_err("bucket b: access denied");
    hostile_status = 200;
    set_body("<html><body>welcome to nginx</body></html>");
    assert_int_equal(backend_probe(b), -1);
    assert_err("bucket b: the answer is not an S3 listing");
    /* a server that lists and accepts writes (test_probe_writes) */
    srv->handler = h_probe;
    probe_readonly = 0;
    assert_int_equal(backend_probe(b), 0);
    /* cheap: one key at most, under the prefix; then the write probe */
    assert_int_equal(seen(srv, "GET /b?list-type=2&max-keys=1&prefix=p%2F"), 4);
    assert_int_equal(srv->n_requests, 4 + 2);
    free(hostile_body);
    hostile_body = NULL;
    backend_close(b);
}

/* Read-only credentials list fine: the probe also writes (an upload
 * created and aborted at once, nothing visible), so a backup that cannot
 * succeed never stops Neo4j. */
static void test_probe_writes(void **state)
{
    (void)state;
    srv = server_start(h_probe);
    config_remote rc = remote_conf(srv);
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    probe_readonly = 1;
    assert_int_equal(backend_probe(b), -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    char want[200];
    snprintf(want, sizeof want,
             "remote hostile: endpoint %s, bucket b: the credentials can read "
             "but not write",
             rc.endpoint);
    assert_err(want);
    assert_err("HTTP 403 AccessDenied");
    assert_err("p/");
    assert_int_equal(seen(srv, "PUT "), 0);
    assert_int_equal(seen(srv, "DELETE "), 0);

    /* writable: two requests more than the listing, and the upload is
     * aborted; no object is ever written */
    probe_readonly = 0;
    int before = srv->n_requests;
    assert_int_equal(backend_probe(b), 0);
    assert_int_equal(srv->n_requests - before, 3);
    assert_int_equal(seen(srv, "POST /b/p/.n4o-write-probe?uploads"), 2);
    assert_int_equal(seen(srv, "DELETE /b/p/.n4o-write-probe?uploadId=UPPROBE\n"), 1);
    assert_int_equal(seen(srv, "PUT "), 0);

    /* a server that cannot abort (s3rver: 405): still writable */
    probe_abort_status = 405;
    assert_int_equal(backend_probe(b), 0);
    /* credentials that may write but not abort: writable, said */
    probe_abort_status = 403;
    int rc_p;
    probe_backend = b;
    char *warn = capture_stderr(probe_it, &rc_p);
    assert_int_equal(rc_p, 0);
    if (!strstr(warn, "cannot abort"))
        print_message("stderr was: %s\n", warn);
    assert_non_null(strstr(warn, "cannot abort"));
    free(warn);
    probe_abort_status = 204;
    backend_close(b);
}

/* ---- ranged GETs: every 206 must hold the bytes asked for ----------------- */

#define OBJ_SIZE (3u * MIB)

static uint8_t obj_byte(size_t i)
{
    return (uint8_t)((i * 7 + 3) % 251);
}

/* How the GET after a dropped one is answered (h_ranges). */
enum {
    RANGE_RIGHT,       /* the bytes asked for */
    RANGE_OTHER_START, /* bytes from 0 again, and says so */
    RANGE_OTHER_TOTAL, /* the right start, another object size */
    RANGE_NONE,        /* a 206 without Content-Range */
    RANGE_BACKWARDS,   /* "bytes A-(A-1)/N" */
    RANGE_LENGTH,      /* Content-Length that is not the range's */
    RANGE_FIRST_WRONG, /* the very first GET (from byte 0) starts at byte 5 */
};
static int range_mode;

/* The Range the client asked for: "bytes=A-B". */
static void asked_range(const fake_req *q, unsigned long long *a, unsigned long long *b)
{
    char v[128];
    assert_non_null(req_header(q, "range", v, sizeof v));
    assert_int_equal(sscanf(v, "bytes=%llu-%llu", a, b), 2);
}

/* A 206 whose head says CONTENT_RANGE (NULL: none) and Content-Length
 * CLEN, then SEND bytes of the object from FROM. */
static int send_206(int fd, const char *content_range, size_t clen, size_t from, size_t send)
{
    strbuf h;
    strbuf_init(&h, 0);
    strbuf_printf(&h, "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\n", clen);
    if (content_range)
        strbuf_printf(&h, "Content-Range: %s\r\n", content_range);
    strbuf_puts(&h, "\r\n");
    for (size_t i = 0; i < send; i++) {
        char c = (char)obj_byte(from + i);
        strbuf_append(&h, &c, 1);
    }
    int rc = send_all(fd, strbuf_str(&h), h.len);
    strbuf_free(&h);
    return rc;
}

static int h_ranges(fake_server *s, int fd, const fake_req *q)
{
    if (strcmp(q->method, "HEAD") == 0)
        return reply(fd, 200, "Content-Length: 3145728\r\n", NULL, 0);
    unsigned long long a, b;
    asked_range(q, &a, &b);
    char cr[128];
    int n = s->page++;
    if (n == 0 && range_mode == RANGE_FIRST_WRONG) {
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%u", a + 5, b, OBJ_SIZE);
        return send_206(fd, cr, (size_t)(b - a - 4), (size_t)a + 5, (size_t)(b - a - 4));
    }
    if (n == 0) {
        /* promise it all, send 1 MiB, drop the connection */
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%u", a, b, OBJ_SIZE);
        send_206(fd, cr, (size_t)(b - a + 1), (size_t)a, MIB);
        return -1;
    }
    size_t len = (size_t)(b - a + 1);
    switch (range_mode) {
    case RANGE_OTHER_START:
        snprintf(cr, sizeof cr, "bytes 0-%zu/%u", len - 1, OBJ_SIZE);
        return send_206(fd, cr, len, 0, len);
    case RANGE_OTHER_TOTAL:
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%u", a, b, OBJ_SIZE + 5);
        return send_206(fd, cr, len, (size_t)a, len);
    case RANGE_NONE:
        return send_206(fd, NULL, len, (size_t)a, len);
    case RANGE_BACKWARDS:
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%u", a, a - 1, OBJ_SIZE);
        return send_206(fd, cr, len, (size_t)a, len);
    case RANGE_LENGTH:
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%u", a, b, OBJ_SIZE);
        return send_206(fd, cr, len / 2, (size_t)a, len / 2);
    default:
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%u", a, b, OBJ_SIZE);
        return send_206(fd, cr, len, (size_t)a, len);
    }
}

/* Read all of OBJ through a reader: the bytes into *GOT (checked against
 * the object as they come), the last read's result returned. */
static ssize_t read_obj(backend *b, size_t *got, int *wrong)
{
    backend_reader *r = backend_reader_open(b, "obj", 0);
    if (!r)
        return -2;
    static uint8_t buf[65536];
    ssize_t n;
    *got = 0;
    *wrong = 0;
    while ((n = backend_reader_read(r, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (*got + (size_t)i >= OBJ_SIZE || buf[i] != obj_byte(*got + (size_t)i))
                (*wrong)++;
        *got += (size_t)n;
    }
    backend_reader_close(r);
    return n;
}

/* The review's case: a resumed GET answered 206 from another offset was
 * spliced in at the resume point (wrong bytes, found later as a corrupt
 * archive).  Each 206 must say the range asked for, of the object's size;
 * anything else is an I/O error naming the server's answer, never data. */
static void test_resume_checks_content_range(void **state)
{
    (void)state;
    const struct {
        int mode;
        const char *err;
    } cases[] = {
        {RANGE_OTHER_START, "Content-Range \"bytes 0-2097151/3145728\""},
        {RANGE_OTHER_TOTAL, "Content-Range \"bytes 1048576-3145727/3145733\""},
        {RANGE_NONE, "without a Content-Range"},
        {RANGE_BACKWARDS, "Content-Range \"bytes 1048576-1048575/3145728\""},
        {RANGE_LENGTH, "and Content-Length 1048576"},
        {RANGE_FIRST_WRONG, "Content-Range \"bytes 5-3145727/3145728\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        srv = server_start(h_ranges);
        range_mode = cases[i].mode;
        config_remote rc = remote_conf(srv);
        rc.retries = 2;
        backend *b = remote_backend_open(&rc, 0);
        assert_non_null(b);
        size_t got;
        int wrong;
        ssize_t n = read_obj(b, &got, &wrong);
        if (n != -1)
            print_message("case %zu: read %zd, %zu bytes, %d wrong\n", i, n, got, wrong);
        assert_int_equal(n, -1);
        assert_int_equal(err_get_kind(), ERR_FAIL);
        assert_int_equal(wrong, 0);
        if (cases[i].mode == RANGE_FIRST_WRONG) {
            assert_int_equal(got, 0);
            assert_err("GET p/obj: asked for bytes 0-3145727 of 3145728, the server answered 206");
        } else {
            assert_int_equal(got, MIB);
            assert_err("GET p/obj: asked for bytes 1048576-3145727 of 3145728, the server answered "
                       "206");
        }
        assert_err(cases[i].err);
        assert_false(has_control(err_msg()));
        backend_close(b);
        server_stop(srv);
        srv = NULL;
    }
    /* the same drop answered right: resumed, whole */
    srv = server_start(h_ranges);
    range_mode = RANGE_RIGHT;
    config_remote rc = remote_conf(srv);
    rc.retries = 2;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    size_t got;
    int wrong;
    assert_int_equal(read_obj(b, &got, &wrong), 0);
    assert_int_equal(got, OBJ_SIZE);
    assert_int_equal(wrong, 0);
    assert_int_equal(seen(srv, "GET /b/p/obj"), 2);
    backend_close(b);
}

/* ---- short answers: a download must make progress --------------------------- */

static size_t answer_cap; /* bytes per ranged answer (h_capped) */

/* Answers every ranged GET with at most ANSWER_CAP bytes (correctly
 * labelled); after 200 GETs only errors, so that a client without the
 * progress rule does not spin for hours. */
static int h_capped(fake_server *s, int fd, const fake_req *q)
{
    if (strcmp(q->method, "HEAD") == 0)
        return reply(fd, 200, "Content-Length: 3145728\r\n", NULL, 0);
    if (s->page++ >= 200)
        return reply_str(fd, 500,
                         "<Error><Code>InternalError</Code><Message>enough</Message>"
                         "</Error>");
    unsigned long long a, b;
    asked_range(q, &a, &b);
    size_t len = (size_t)(b - a + 1) < answer_cap ? (size_t)(b - a + 1) : answer_cap;
    char cr[128];
    snprintf(cr, sizeof cr, "bytes %llu-%llu/%u", a, a + len - 1, OBJ_SIZE);
    return send_206(fd, cr, len, (size_t)a, len);
}

static void test_short_answers_bounded(void **state)
{
    (void)state;
    srv = server_start(h_capped);
    answer_cap = 1;
    config_remote rc = remote_conf(srv);
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    size_t got;
    int wrong;
    double t0 = now();
    assert_int_equal(read_obj(b, &got, &wrong), -1);
    assert_int_equal(wrong, 0);
    assert_err("GET p/obj: the server answered 9 ranged GETs in a row with fewer than 65536 "
               "bytes each (the last: 1 of 3145720 bytes asked for)");
    assert_true(srv->n_requests <= 1 + 9);
    assert_true(now() - t0 < 10);
    backend_close(b);
    server_stop(srv);

    /* answers of 256 KiB make progress: 12 of them fetch it all */
    srv = server_start(h_capped);
    answer_cap = 256 * 1024;
    rc = remote_conf(srv);
    b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_int_equal(read_obj(b, &got, &wrong), 0);
    assert_int_equal(got, OBJ_SIZE);
    assert_int_equal(wrong, 0);
    assert_int_equal(seen(srv, "GET /b/p/obj"), 12);
    backend_close(b);
}

/* ---- a missing object or a missing bucket ---------------------------------- */

static const char *missing_code;

/* HEAD: 404 without a body (as S3 answers); GET: the reason. */
static int h_missing(fake_server *s, int fd, const fake_req *q)
{
    (void)s;
    if (strcmp(q->method, "HEAD") == 0)
        return reply(fd, 404, NULL, NULL, 0);
    char body[256];
    snprintf(body, sizeof body,
             "<Error><Code>%s</Code><Message>The specified %s does not exist</Message></Error>",
             missing_code, strcmp(missing_code, "NoSuchBucket") == 0 ? "bucket" : "key");
    return reply_str(fd, 404, body);
}

/* A wrong bucket (or endpoint) is not "no such object": fetch and verify
 * would call that archive missing (an integrity finding). */
static void test_missing_bucket_named(void **state)
{
    (void)state;
    srv = server_start(h_missing);
    config_remote rc = remote_conf(srv);
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    missing_code = "NoSuchBucket";
    assert_null(backend_reader_open(b, "obj", 0));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_err("bucket b does not exist at");
    assert_err("NoSuchBucket");
    assert_null(strstr(err_msg(), "no such object"));
    backend_entry e;
    assert_int_equal(backend_stat(b, "obj", &e), -1);
    assert_err("bucket b does not exist at");
    backend_close(b);

    /* the bucket is there, the object is not */
    missing_code = "NoSuchKey";
    b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_null(backend_reader_open(b, "obj", 0));
    assert_err("p/obj: no such object");
    assert_int_equal(backend_stat(b, "obj", &e), 0);
    /* known now: the next missing object costs one HEAD */
    int before = srv->n_requests;
    assert_int_equal(backend_stat(b, "other", &e), 0);
    assert_int_equal(srv->n_requests - before, 1);
    backend_close(b);
}

/* ---- a server that keeps what it is sent: lost answers, conditional writes -- */

/* The one object, p/obj, and its upload. */
static struct {
    int exists;
    size_t size;
    char meta[128]; /* its x-amz-meta-n4o-write */
    int upload_open;
    size_t up_size;
    char up_meta[128];
    int honour_inm;   /* If-None-Match: * on PUT and Complete -> 412 when it exists */
    int inm_501;      /* If-None-Match -> 501 NotImplemented */
    int drops;        /* Complete or PutObject: stored, then the connection cut (times) */
    int stall_commit; /* Complete: stored, then no answer */
    int heads_lie;    /* HEADs answered 404 whatever is there */
    int delete_denied;
    int inm_seen, inm_on_part;
} st;

static void store_reset(void)
{
    memset(&st, 0, sizeof st);
    st.honour_inm = 1;
}

static int h_store(fake_server *s, int fd, const fake_req *q)
{
    char v[256];
    int inm = req_header(q, "if-none-match", v, sizeof v) && strcmp(v, "*") == 0;
    pthread_mutex_lock(&s->mu);
    int is_part = strstr(q->target, "partNumber=") != NULL;
    int is_complete = strcmp(q->method, "POST") == 0 && strstr(q->target, "uploadId=");
    int is_put = strcmp(q->method, "PUT") == 0 && !is_part;
    if (inm && is_part)
        st.inm_on_part++;
    if (inm && (is_put || is_complete))
        st.inm_seen++;
    char head[512];
    int stall_it = 0, drop = 0, status = 0;
    const char *body = NULL;
    head[0] = '\0';
    if (strcmp(q->method, "HEAD") == 0) {
        if (st.heads_lie > 0 || !st.exists) {
            st.heads_lie -= st.heads_lie > 0;
            status = 404;
        } else {
            status = 200;
            snprintf(head, sizeof head, "Content-Length: %zu\r\nETag: \"x\"\r\n%s%s%s", st.size,
                     st.meta[0] ? "x-amz-meta-n4o-write: " : "", st.meta, st.meta[0] ? "\r\n" : "");
        }
    } else if (strcmp(q->method, "GET") == 0) {
        status = 404;
        body = "<Error><Code>NoSuchKey</Code><Message>no</Message></Error>";
    } else if ((is_put || is_complete) && inm && st.inm_501) {
        status = 501;
        body = "<Error><Code>NotImplemented</Code><Message>A header you provided implies "
               "functionality that is not implemented</Message></Error>";
    } else if ((is_put || is_complete) && inm && st.honour_inm && st.exists) {
        status = 412;
        body = "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions "
               "you specified did not hold</Message></Error>";
    } else if (strcmp(q->method, "POST") == 0 && strstr(q->target, "?uploads")) {
        st.upload_open = 1;
        st.up_size = 0;
        if (!req_header(q, "x-amz-meta-n4o-write", st.up_meta, sizeof st.up_meta))
            st.up_meta[0] = '\0';
        status = 200;
        body = "<InitiateMultipartUploadResult><UploadId>UP1</UploadId>"
               "</InitiateMultipartUploadResult>";
    } else if (is_part) {
        st.up_size += q->body_len;
        status = 200;
        snprintf(head, sizeof head, "ETag: \"p\"\r\n");
    } else if (is_complete && !st.upload_open) {
        status = 404;
        body = "<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist"
               "</Message></Error>";
    } else if (is_complete || is_put) {
        st.exists = 1;
        st.size = is_put ? q->body_len : st.up_size;
        if (is_put && !req_header(q, "x-amz-meta-n4o-write", st.meta, sizeof st.meta))
            st.meta[0] = '\0';
        if (is_complete)
            memcpy(st.meta, st.up_meta, sizeof st.meta);
        st.upload_open &= !is_complete;
        if (st.drops > 0) {
            st.drops--;
            drop = 1;
        } else if (is_complete && st.stall_commit) {
            stall_it = 1;
        }
        status = 200;
        if (is_complete)
            body = "<CompleteMultipartUploadResult><Key>p/obj</Key>"
                   "</CompleteMultipartUploadResult>";
        else
            snprintf(head, sizeof head, "ETag: \"x\"\r\n");
    } else if (strcmp(q->method, "DELETE") == 0 && strstr(q->target, "uploadId=")) {
        status = st.upload_open ? 204 : 404;
        if (!st.upload_open)
            body = "<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>";
        st.upload_open = 0;
    } else if (strcmp(q->method, "DELETE") == 0) {
        if (st.delete_denied) {
            status = 403;
            body = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        } else {
            st.exists = 0;
            status = 204;
        }
    } else {
        status = 400;
    }
    pthread_mutex_unlock(&s->mu);
    if (drop)
        return -1;
    if (stall_it)
        return stall(s, fd);
    if (body)
        return reply(fd, status, "Content-Type: application/xml\r\n", body, strlen(body));
    return reply(fd, status, head, NULL, 0);
}

static backend *store_b;
static size_t store_len;

static int store_upload(void)
{
    return upload(store_b, store_len);
}

/* Upload LEN bytes as p/obj with stderr captured (*WARN, malloc'd). */
static int upload_captured(backend *b, size_t len, char **warn)
{
    store_b = b;
    store_len = len;
    int rc;
    *warn = capture_stderr(store_upload, &rc);
    return rc;
}

/* The review's case: the server completed the upload, the connection
 * dropped before its answer, the retry found the upload gone (404
 * NoSuchUpload) and the run said "failed" while the object was there.  The
 * object is ours (this write's token, its size): committed, and said. */
static void test_complete_answer_lost(void **state)
{
    (void)state;
    store_reset();
    st.drops = 1;
    st.honour_inm = 0; /* as radosgw 16 on Complete */
    srv = server_start(h_store);
    config_remote rc = remote_conf(srv);
    rc.retries = 2;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    char *warn;
    int rc_u = upload_captured(b, 6 * MIB, &warn);
    if (rc_u != 0)
        print_message("error: %s\nstderr: %s\n", err_msg(), warn);
    assert_int_equal(rc_u, 0);
    assert_non_null(strstr(warn, "remote hostile: p/obj: "));
    assert_non_null(strstr(warn, "NoSuchUpload"));
    assert_non_null(strstr(warn, "the server has the object all the same, written by this run "
                                 "(6291456 bytes): committed"));
    free(warn);
    assert_true(st.exists);
    assert_int_equal(st.size, 6 * MIB);
    assert_int_equal(seen(srv, "POST /b/p/obj?uploadId=UP1"), 2);
    assert_int_equal(seen(srv, "DELETE /b/p/obj\n"), 0);
    backend_close(b);
}

/* The same for a single PutObject: the retry is refused (If-None-Match:
 * the name exists, 412), but what is there is ours: committed. */
static void test_put_answer_lost(void **state)
{
    (void)state;
    store_reset();
    st.drops = 1;
    srv = server_start(h_store);
    config_remote rc = remote_conf(srv);
    rc.retries = 2;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    char *warn;
    int rc_u = upload_captured(b, 1000, &warn);
    if (rc_u != 0)
        print_message("error: %s\nstderr: %s\n", err_msg(), warn);
    assert_int_equal(rc_u, 0);
    assert_non_null(strstr(warn, "HTTP 412 PreconditionFailed"));
    assert_non_null(strstr(warn, "the server has the object all the same, written by this run "
                                 "(1000 bytes): committed"));
    free(warn);
    assert_int_equal(seen(srv, "PUT /b/p/obj\n"), 2);
    assert_int_equal(st.inm_seen, 2);
    assert_true(st.exists);
    assert_int_equal(st.size, 1000);
    backend_close(b);
}

/* Ctrl-C while the server works on CompleteMultipartUpload (it has stored
 * the object; its answer never comes): the run fails, so the object must
 * not stay: deleted, and the error says so. */
static void test_sigint_during_complete(void **state)
{
    (void)state;
    store_reset();
    st.stall_commit = 1;
    srv = server_start(h_store);
    config_remote rc = remote_conf(srv);
    rc.retries = 3;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    backend_writer *w = backend_writer_open(b, "obj", 0);
    assert_non_null(w);
    uint8_t *data = calloc(1, 6 * MIB);
    assert_non_null(data);
    assert_int_equal(backend_writer_write(w, data, 6 * MIB), 0);
    free(data);
    signal_timer t;
    double t0 = now();
    sigint_in(&t, 300);
    assert_int_equal(backend_writer_commit(w), -1);
    assert_err("interrupted by signal 2");
    assert_err("the server had stored p/obj all the same; deleted it");
    assert_true(now() - t0 < 0.3 + 2.0);
    assert_false(st.exists);
    assert_int_equal(seen(srv, "DELETE /b/p/obj\n"), 1);
    pthread_join(t.t, NULL);
    backend_close(b);

    /* and when it cannot be deleted, the error says what to do */
    signals_reset();
    store_reset();
    st.stall_commit = 1;
    st.delete_denied = 1;
    b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    w = backend_writer_open(b, "obj", 0);
    assert_non_null(w);
    data = calloc(1, 6 * MIB);
    assert_non_null(data);
    assert_int_equal(backend_writer_write(w, data, 6 * MIB), 0);
    free(data);
    sigint_in(&t, 300);
    assert_int_equal(backend_writer_commit(w), -1);
    assert_err("interrupted by signal 2");
    assert_err("the server had stored p/obj all the same and it cannot be deleted");
    assert_err("AccessDenied");
    assert_err("delete it by hand");
    assert_true(st.exists);
    pthread_join(t.t, NULL);
    backend_close(b);
}

/* Two writers of one name: the check before commit (HEAD) cannot close the
 * window, If-None-Match: * on PutObject and CompleteMultipartUpload does
 * where the server honours it.  Here the HEADs say "missing" while the
 * other writer's object is there: the server's 412 is "already exists",
 * the other object is left as it was and the upload is aborted. */
static void test_if_none_match(void **state)
{
    (void)state;
    const size_t sizes[] = {1000, 6 * MIB};
    for (size_t i = 0; i < 2; i++) {
        store_reset();
        st.exists = 1;
        st.size = 77;
        snprintf(st.meta, sizeof st.meta, "another-writer");
        st.heads_lie = 2; /* at open and before commit */
        srv = server_start(h_store);
        config_remote rc = remote_conf(srv);
        backend *b = remote_backend_open(&rc, 0);
        assert_non_null(b);
        assert_int_equal(upload(b, sizes[i]), -1);
        assert_err("p/obj already exists");
        assert_err("HTTP 412 PreconditionFailed");
        assert_int_equal(st.inm_seen, 1);
        assert_int_equal(st.inm_on_part, 0);
        assert_int_equal(st.size, 77);
        assert_string_equal(st.meta, "another-writer");
        assert_int_equal(seen(srv, "DELETE /b/p/obj\n"), 0);
        if (i == 1)
            assert_int_equal(seen(srv, "DELETE /b/p/obj?uploadId=UP1"), 1);
        backend_close(b);
        server_stop(srv);
        srv = NULL;
    }
    /* a server that refuses the condition (501 NotImplemented): written
     * without it, the check before commit being all there is */
    for (size_t i = 0; i < 2; i++) {
        store_reset();
        st.inm_501 = 1;
        srv = server_start(h_store);
        config_remote rc = remote_conf(srv);
        backend *b = remote_backend_open(&rc, 0);
        assert_non_null(b);
        assert_int_equal(upload(b, sizes[i]), 0);
        assert_true(st.exists);
        assert_int_equal(st.size, sizes[i]);
        assert_int_equal(st.inm_seen, 1);
        assert_int_equal(seen(srv, i ? "POST /b/p/obj?uploadId=UP1" : "PUT /b/p/obj\n"), 2);
        backend_close(b);
        server_stop(srv);
        srv = NULL;
    }
}

int main(void)
{
    upload_id_answer = "UP1";
    setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTILE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "hostile", 1);
    unsetenv("AWS_SESSION_TOKEN");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_complete_escapes_long_etags, teardown),
        cmocka_unit_test_teardown(test_bad_etags_abort, teardown),
        cmocka_unit_test_teardown(test_bad_upload_id, teardown),
        cmocka_unit_test(test_complete_body_many_parts),
        cmocka_unit_test_teardown(test_listing_never_ends, teardown),
        cmocka_unit_test_teardown(test_malformed_xml, teardown),
        cmocka_unit_test_teardown(test_huge_bodies, teardown),
        cmocka_unit_test_teardown(test_error_text_escaped, teardown),
        cmocka_unit_test_teardown(test_complete_error_escaped, teardown),
        cmocka_unit_test_teardown(test_unprintable_names_skipped, teardown),
        cmocka_unit_test_teardown(test_reads_bounded, teardown),
        cmocka_unit_test_teardown(test_probe_causes, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_stalled_listing, setup_signals, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_retry_backoff, setup_signals, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_stalled_upload, setup_signals, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_commit, setup_signals, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_stalled_download, setup_signals, teardown),
        cmocka_unit_test_setup_teardown(test_abort_after_signal_bounded, setup_signals, teardown),
        cmocka_unit_test_teardown(test_probe_writes, teardown),
        cmocka_unit_test_teardown(test_resume_checks_content_range, teardown),
        cmocka_unit_test_teardown(test_short_answers_bounded, teardown),
        cmocka_unit_test_teardown(test_missing_bucket_named, teardown),
        cmocka_unit_test_teardown(test_complete_answer_lost, teardown),
        cmocka_unit_test_teardown(test_put_answer_lost, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_during_complete, setup_signals, teardown),
        cmocka_unit_test_teardown(test_if_none_match, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
