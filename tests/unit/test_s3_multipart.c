/* Unit tests: s3mp (backends/s3/multipart.c) beyond the happy path, against
 * a small S3 of this file's own on 127.0.0.1 (fake_http.h) whose every
 * answer a test can change: a part answered without an ETag, a part that
 * fails while the writer fills the next one, the name taken by another
 * writer between open and commit (one part and many), a lost PutObject
 * answer behind which the server holds another writer's object or cannot
 * say, and an upload the server completes late, after its Complete failed
 * and while it was being aborted (deleted again, or named when it cannot
 * be).  Sizes are 5 MiB parts, the S3 minimum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "fake_http.h"
#include "log.h"
#include "s3/http.h"
#include "s3/multipart.h"
#include "signals.h"

#define MIB   (1024u * 1024u)
#define TOKEN "x-amz-meta-n4o-write"

/* ---- a small S3 ------------------------------------------------------------ */

enum { HEAD_STATE, HEAD_404, HEAD_403 }; /* a scripted HEAD answer */

static struct {
    /* the object under the key */
    int exists;
    uint64_t size;
    char token[80];
    /* the multipart upload */
    char up_token[80];
    uint64_t part_bytes;
    /* scripted behaviour */
    int heads[8], n_heads, head_i; /* HEAD answers in order, then HEAD_STATE */
    int last_head;
    int put_mode;       /* PutObject: 0 store; 1 fail 500; 2 store another's object, fail 500 */
    int part_no_etag;   /* answer part N without an ETag */
    int part_forbidden; /* answer part N with 403 */
    int complete_fails; /* CompleteMultipartUpload: 400 InvalidPart */
    int abort_late;     /* abort: the server completes the upload late, answers 404 */
    int delete_forbidden;
} s3;

static fake_http *srv;

static int handler(fake_http *s, int fd, const fake_req *req)
{
    char v[256];
    const char *q = strchr(req->target, '?');
    int head = strcmp(req->method, "HEAD") == 0;
    pthread_mutex_lock(&s->mu);
    if (head) {
        int what = s3.head_i < s3.n_heads ? s3.heads[s3.head_i++] : HEAD_STATE;
        s3.last_head = what;
        int exists = s3.exists;
        char h[256];
        snprintf(h, sizeof h, "Content-Length: %llu\r\n" TOKEN ": %s\r\nETag: \"obj\"\r\n",
                 (unsigned long long)s3.size, s3.token);
        pthread_mutex_unlock(&s->mu);
        if (what == HEAD_403)
            return fake_reply(fd, req, 403, NULL, NULL, 0);
        if (what == HEAD_404 || !exists)
            return fake_reply(fd, req, 404, NULL, NULL, 0);
        return fake_reply(fd, req, 200, h, NULL, 0);
    }
    if (strcmp(req->method, "GET") == 0) { /* a HEAD's failure explained */
        int forbidden = s3.last_head == HEAD_403;
        pthread_mutex_unlock(&s->mu);
        return forbidden ? fake_s3_error(fd, req, 403, "AccessDenied", "no")
                         : fake_s3_error(fd, req, 404, "NoSuchKey", "none");
    }
    if (strcmp(req->method, "PUT") == 0 && !q) {
        int mode = s3.put_mode;
        if (mode == 0 || mode == 2) {
            s3.exists = 1;
            s3.size = req->body_len;
            if (mode == 2)
                snprintf(s3.token, sizeof s3.token, "someone-else");
            else
                fake_header(req, TOKEN, s3.token, sizeof s3.token);
        }
        pthread_mutex_unlock(&s->mu);
        return mode == 0 ? fake_reply(fd, req, 200, "ETag: \"obj\"\r\n", NULL, 0)
                         : fake_s3_error(fd, req, 500, "InternalError", "lost");
    }
    if (strcmp(req->method, "POST") == 0 && q && strstr(q, "uploads")) {
        fake_header(req, TOKEN, s3.up_token, sizeof s3.up_token);
        s3.part_bytes = 0;
        pthread_mutex_unlock(&s->mu);
        const char *x = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                        "<UploadId>UP1</UploadId></InitiateMultipartUploadResult>";
        return fake_reply(fd, req, 200, NULL, x, strlen(x));
    }
    if (strcmp(req->method, "PUT") == 0) { /* a part */
        const char *pn = strstr(req->target, "partNumber=");
        int n = pn ? atoi(pn + 11) : 0;
        if (n == s3.part_forbidden) {
            pthread_mutex_unlock(&s->mu);
            return fake_s3_error(fd, req, 403, "AccessDenied", "parts refused");
        }
        s3.part_bytes += req->body_len;
        int no_etag = n == s3.part_no_etag;
        pthread_mutex_unlock(&s->mu);
        snprintf(v, sizeof v, "ETag: \"part%d\"\r\n", n);
        return fake_reply(fd, req, 200, no_etag ? NULL : v, NULL, 0);
    }
    if (strcmp(req->method, "POST") == 0) { /* complete */
        if (s3.complete_fails) {
            pthread_mutex_unlock(&s->mu);
            return fake_s3_error(fd, req, 400, "InvalidPart", "one of the parts is missing");
        }
        s3.exists = 1;
        s3.size = s3.part_bytes;
        snprintf(s3.token, sizeof s3.token, "%s", s3.up_token);
        pthread_mutex_unlock(&s->mu);
        const char *x = "<CompleteMultipartUploadResult><Key>k</Key><ETag>\"x-2\"</ETag>"
                        "</CompleteMultipartUploadResult>";
        return fake_reply(fd, req, 200, NULL, x, strlen(x));
    }
    if (strcmp(req->method, "DELETE") == 0 && q) { /* abort */
        int late = s3.abort_late;
        if (late) {
            s3.exists = 1;
            s3.size = s3.part_bytes;
            snprintf(s3.token, sizeof s3.token, "%s", s3.up_token);
        }
        pthread_mutex_unlock(&s->mu);
        return late ? fake_s3_error(fd, req, 404, "NoSuchUpload", "gone")
                    : fake_reply(fd, req, 204, NULL, NULL, 0);
    }
    if (strcmp(req->method, "DELETE") == 0) {
        int forbidden = s3.delete_forbidden;
        if (!forbidden)
            s3.exists = 0;
        pthread_mutex_unlock(&s->mu);
        return forbidden ? fake_s3_error(fd, req, 403, "AccessDenied", "no deletes")
                         : fake_reply(fd, req, 204, NULL, NULL, 0);
    }
    pthread_mutex_unlock(&s->mu);
    return fake_reply(fd, req, 400, NULL, NULL, 0);
}

static void heads(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        s3.heads[i] = va_arg(ap, int);
    va_end(ap);
    s3.n_heads = n;
}

/* ---- client, data, stderr ---------------------------------------------------- */

static s3_params conf;
static char endpoint[64];
static s3http_client *client;
static uint8_t *data; /* 12 MiB of bytes to write */

static FILE *cap_file;
static int saved_fd = -1;

static void capture_start(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    saved_fd = dup(2);
    dup2(fileno(cap_file), 2);
}

static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    long n = ftell(cap_file);
    char *buf = malloc((size_t)n + 1);
    rewind(cap_file);
    size_t got = fread(buf, 1, (size_t)n, cap_file);
    buf[got] = '\0';
    fclose(cap_file);
    return buf;
}

/* Write LEN bytes as KEY "k" and commit; the outcome, with the error (or
 * "") in MSG and what was logged in *LOG (malloc'd). */
static int upload(size_t len, char *msg, size_t cap, char **log)
{
    capture_start();
    err_clear();
    int rc = -1;
    s3mp *u = s3mp_open(client, "k", 0);
    if (u) {
        rc = 0;
        for (size_t off = 0; off < len && rc == 0; off += 1 * MIB)
            rc = s3mp_write(u, data + off, len - off < MIB ? len - off : MIB);
        if (rc == 0)
            rc = s3mp_commit(u);
        else
            s3mp_abort(u); /* the error of the write stays */
    }
    snprintf(msg, cap, "%s", err_msg());
    *log = capture_end();
    return rc;
}

static int group_setup(void **state)
{
    (void)state;
    signals_install();
    log_set_level(LOG_LVL_WARN);
    srv = fake_http_start(handler, NULL);
    if (!srv)
        return -1;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", srv->port);
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
    memset(&conf, 0, sizeof conf);
    conf.name = "unit";
    conf.endpoint = endpoint;
    conf.region = "us-east-1";
    conf.bucket = "b";
    conf.url_style = "path";
    conf.credentials = "env";
    conf.part_size = 5 * MIB;
    conf.parallel_parts = 2;
    conf.retries = 1;
    conf.connect_timeout = 5;
    conf.io_timeout = 10;
    client = s3http_client_new(&conf);
    data = malloc(12 * MIB);
    if (!client || !data)
        return -1;
    for (size_t i = 0; i < 12 * MIB; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 13);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    s3http_client_free(client);
    fake_http_stop(srv);
    free(data);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    pthread_mutex_lock(&srv->mu);
    memset(&s3, 0, sizeof s3);
    strbuf_free(&srv->log);
    pthread_mutex_unlock(&srv->mu);
    signals_reset();
    return 0;
}

/* ---- tests ------------------------------------------------------------------- */

/* A part answered without an ETag cannot be completed: the upload fails
 * with that reason and is aborted, never completed. */
static void test_part_without_etag(void **state)
{
    (void)state;
    s3.part_no_etag = 1;
    char msg[1024], *log;
    assert_int_equal(upload(11 * MIB, msg, sizeof msg, &log), -1);
    assert_non_null(strstr(msg, "PUT k part 1: the answer has no ETag"));
    assert_int_equal(fake_count(srv, "POST /b/k?uploads"), 1);
    assert_int_equal(fake_count(srv, "DELETE /b/k?uploadId=UP1"), 1);
    assert_int_equal(fake_count(srv, "POST /b/k?uploadId="), 0);
    assert_false(s3.exists);
    free(log);
}

/* Part 1 fails while the writer holds part 2: the part's own failure is the
 * error of the commit, and the upload is aborted. */
static void test_part_failure_reported_at_commit(void **state)
{
    (void)state;
    s3.part_forbidden = 1;
    char msg[1024], *log;
    assert_int_equal(upload(5 * MIB + 1, msg, sizeof msg, &log), -1);
    assert_non_null(strstr(msg, "HTTP 403 AccessDenied: parts refused"));
    assert_int_equal(fake_count(srv, "DELETE /b/k?uploadId=UP1"), 1);
    assert_int_equal(fake_count(srv, "POST /b/k?uploadId="), 0);
    assert_false(s3.exists);
    free(log);
}

/* One part: the name was taken after the open; the commit's HEAD finds it
 * and nothing is sent. */
static void test_taken_before_put(void **state)
{
    (void)state;
    s3mp *u = s3mp_open(client, "k", 0);
    assert_non_null(u);
    assert_int_equal(s3mp_write(u, data, 1000), 0);
    pthread_mutex_lock(&srv->mu);
    s3.exists = 1;
    s3.size = 7;
    snprintf(s3.token, sizeof s3.token, "someone-else");
    pthread_mutex_unlock(&srv->mu);
    err_clear();
    assert_int_equal(s3mp_commit(u), -1);
    assert_string_equal(err_msg(), "k already exists");
    assert_int_equal(fake_count(srv, "PUT /b/k\n"), 0);
    assert_int_equal(s3.size, 7); /* theirs, untouched */
    assert_int_equal(fake_count(srv, "DELETE /b/k\n"), 0);
}

/* Many parts: taken before the Complete; the upload is aborted, not
 * completed over the other object. */
static void test_taken_before_complete(void **state)
{
    (void)state;
    s3mp *u = s3mp_open(client, "k", 0);
    assert_non_null(u);
    assert_int_equal(s3mp_write(u, data, 6 * MIB), 0);
    pthread_mutex_lock(&srv->mu);
    s3.exists = 1;
    s3.size = 7;
    snprintf(s3.token, sizeof s3.token, "someone-else");
    pthread_mutex_unlock(&srv->mu);
    err_clear();
    assert_int_equal(s3mp_commit(u), -1);
    assert_string_equal(err_msg(), "k already exists");
    assert_int_equal(fake_count(srv, "POST /b/k?uploadId="), 0);
    assert_int_equal(fake_count(srv, "DELETE /b/k?uploadId=UP1"), 1);
    assert_int_equal(s3.size, 7);
}

/* The PutObject failed, and behind it the server holds another writer's
 * object: left as it is, and said. */
static void test_put_lost_other_object(void **state)
{
    (void)state;
    s3.put_mode = 2;
    char msg[1024], *log;
    assert_int_equal(upload(1000, msg, sizeof msg, &log), -1);
    assert_non_null(strstr(msg, "HTTP 500 InternalError"));
    assert_non_null(strstr(msg, "; k exists now, written by someone else: left as it is"));
    assert_int_equal(fake_count(srv, "DELETE /b/k\n"), 0);
    assert_true(s3.exists);
    assert_string_equal(s3.token, "someone-else");
    free(log);
}

/* The PutObject failed and the HEAD that should tell fails too: the error
 * says it is not known, and why. */
static void test_put_lost_unknown(void **state)
{
    (void)state;
    s3.put_mode = 1;
    heads(3, HEAD_404, HEAD_404, HEAD_403);
    char msg[1024], *log;
    assert_int_equal(upload(1000, msg, sizeof msg, &log), -1);
    assert_non_null(strstr(msg, "HTTP 500 InternalError"));
    assert_non_null(strstr(msg, "; whether the server stored k all the same is not known ("));
    assert_non_null(strstr(msg, "AccessDenied"));
    assert_non_null(strstr(msg, "look in the bucket"));
    free(log);
}

/* The Complete failed (InvalidPart) and no object was there; the abort is
 * answered NoSuchUpload because the server completed the upload late.  This
 * write failed: its object is deleted again, with a warning. */
static void test_completed_late_is_deleted(void **state)
{
    (void)state;
    s3.complete_fails = 1;
    s3.abort_late = 1;
    heads(3, HEAD_404, HEAD_404, HEAD_404); /* open, before Complete, after it */
    char msg[1024], *log;
    assert_int_equal(upload(6 * MIB, msg, sizeof msg, &log), -1);
    assert_non_null(strstr(msg, "HTTP 400 InvalidPart"));
    assert_int_equal(fake_count(srv, "DELETE /b/k?uploadId=UP1"), 1);
    assert_int_equal(fake_count(srv, "DELETE /b/k\n"), 1);
    assert_false(s3.exists);
    assert_non_null(strstr(log, "remote unit: the server had completed k all the same; deleted it "
                                "(this write failed)"));
    free(log);
}

/* ... and when that object cannot be deleted, the log says to do it by
 * hand. */
static void test_completed_late_undeletable(void **state)
{
    (void)state;
    s3.complete_fails = 1;
    s3.abort_late = 1;
    s3.delete_forbidden = 1;
    heads(3, HEAD_404, HEAD_404, HEAD_404);
    char msg[1024], *log;
    assert_int_equal(upload(6 * MIB, msg, sizeof msg, &log), -1);
    assert_non_null(strstr(msg, "HTTP 400 InvalidPart"));
    assert_true(s3.exists);
    assert_non_null(strstr(log, "error: remote unit: the server had completed k all the same and "
                                "it cannot be deleted ("));
    assert_non_null(strstr(log, "AccessDenied"));
    assert_non_null(strstr(log, "delete it by hand"));
    free(log);
}

/* ... and when the HEAD after the abort cannot tell, the log says so. */
static void test_completed_late_unknown(void **state)
{
    (void)state;
    s3.complete_fails = 1;
    s3.abort_late = 1;
    heads(4, HEAD_404, HEAD_404, HEAD_404, HEAD_403);
    char msg[1024], *log;
    assert_int_equal(upload(6 * MIB, msg, sizeof msg, &log), -1);
    assert_non_null(strstr(msg, "HTTP 400 InvalidPart"));
    assert_int_equal(fake_count(srv, "DELETE /b/k\n"), 0);
    assert_non_null(strstr(log, "warning: remote unit: whether the server completed k all the "
                                "same is not known ("));
    free(log);
}

/* The happy path, for contrast: the object is the bytes sent, with this
 * write's token. */
static void test_multipart_completes(void **state)
{
    (void)state;
    char msg[1024], *log;
    assert_int_equal(upload(11 * MIB + 5, msg, sizeof msg, &log), 0);
    assert_true(s3.exists);
    assert_int_equal(s3.size, 11 * MIB + 5);
    assert_string_equal(s3.token, s3.up_token);
    assert_int_equal(strlen(s3.token), 32); /* 16 random bytes, hex */
    assert_int_equal(fake_count(srv, "PUT /b/k?partNumber="), 3);
    assert_int_equal(fake_count(srv, "DELETE"), 0);
    free(log);
}

static void test_abort_early(void **state)
{
    (void)state;
    s3mp_abort(NULL);
    s3mp *u = s3mp_open(client, "k", 0);
    assert_non_null(u);
    assert_int_equal(s3mp_write(u, data, 100), 0);
    err_set(ERR_INTEGRITY, "the caller's error");
    s3mp_abort(u);
    assert_string_equal(err_msg(), "the caller's error"); /* kept */
    assert_int_equal(fake_count(srv, "HEAD /b/k"), 1);
    assert_int_equal(fake_count(srv, "PUT"), 0);
    assert_int_equal(fake_count(srv, "DELETE"), 0);
    /* an existing name is refused at open */
    s3.exists = 1;
    assert_null(s3mp_open(client, "k", 0));
    assert_string_equal(err_msg(), "k already exists");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_part_without_etag, setup),
        cmocka_unit_test_setup(test_part_failure_reported_at_commit, setup),
        cmocka_unit_test_setup(test_taken_before_put, setup),
        cmocka_unit_test_setup(test_taken_before_complete, setup),
        cmocka_unit_test_setup(test_put_lost_other_object, setup),
        cmocka_unit_test_setup(test_put_lost_unknown, setup),
        cmocka_unit_test_setup(test_completed_late_is_deleted, setup),
        cmocka_unit_test_setup(test_completed_late_undeletable, setup),
        cmocka_unit_test_setup(test_completed_late_unknown, setup),
        cmocka_unit_test_setup(test_multipart_completes, setup),
        cmocka_unit_test_setup(test_abort_early, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
