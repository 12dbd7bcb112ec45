/* Unit tests: s3http (backends/s3/http.c) called directly, against a tiny
 * HTTP server on 127.0.0.1 (fake_http.h) whose answers each test scripts:
 * credentials from the environment (with a session token) and from a
 * credentials file (profiles, comments, every refusal); endpoints, path
 * and virtual-hosted addressing, a base path, key encoding, the prefix;
 * request bodies and their hash; the limits on what an answer may make
 * the client hold (buffered answers, a caller's buffer); the reason of a
 * failed answer for each status; which answers are retried and how often;
 * accepted statuses, captured and malformed headers; streaming to a sink
 * that stops; cancelling a stalled transfer; a refused connection; saving
 * and restoring the error around cleanup. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "fake_http.h"
#include "log.h"
#include "s3/http.h"
#include "s3/sigv4.h"
#include "signals.h"

static char tmp[64];
static fake_http *srv;
static char endpoint[128];

/* ---- the scripted server ----------------------------------------------------- */

/* What the handler answers, set by each test before its requests. */
static struct {
    int statuses[8]; /* status of request 1, 2, ... (0: 200; the last one repeats) */
    int n_statuses;
    const char *headers; /* extra answer headers */
    const char *body;    /* answer body (NULL: none) */
    size_t body_len;     /* when BODY is not a string */
    const char *code;    /* S3 error code for error answers (NULL: a bare status) */
    int stall;           /* hold every request unanswered */
    int seen;
    fake_req last; /* the last request (BODY not kept) */
    char *last_body;
    size_t last_body_len;
} script;

static void script_reset(void)
{
    free(script.last_body);
    memset(&script, 0, sizeof script);
}

static int handler(fake_http *s, int fd, const fake_req *req)
{
    pthread_mutex_lock(&s->mu);
    int i = script.seen++;
    script.last = *req;
    script.last.body = NULL;
    free(script.last_body);
    script.last_body = malloc(req->body_len + 1);
    memcpy(script.last_body, req->body, req->body_len + 1);
    script.last_body_len = req->body_len;
    int status = script.n_statuses == 0  ? 200
                 : i < script.n_statuses ? script.statuses[i]
                                         : script.statuses[script.n_statuses - 1];
    int stall = script.stall;
    pthread_mutex_unlock(&s->mu);
    if (stall) {
        while (fake_wait(s, fd)) {
            char buf[4096];
            if (recv(fd, buf, sizeof buf, 0) <= 0)
                break;
        }
        return -1;
    }
    if (status >= 300 && script.code)
        return fake_s3_error(fd, req, status, script.code, "scripted &lt;failure&gt;");
    const char *body = status >= 300 ? NULL : script.body;
    size_t len = body ? (script.body_len ? script.body_len : strlen(body)) : 0;
    return fake_reply(fd, req, status, script.headers, body, len);
}

static int script_status(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        script.statuses[i] = va_arg(ap, int);
    va_end(ap);
    script.n_statuses = n;
    return 0;
}

/* ---- clients ---------------------------------------------------------------- */

/* The cancel hook the tool gives every driver: the process's signals. */
static int on_signal(void *arg)
{
    (void)arg;
    return signals_pending();
}

static s3_params conf(const char *ep)
{
    s3_params rc;
    memset(&rc, 0, sizeof rc);
    rc.name = "unit";
    rc.cancel.pending = on_signal;
    rc.endpoint = (char *)ep;
    rc.region = "us-east-1";
    rc.bucket = "b";
    rc.url_style = "path";
    rc.credentials = "env";
    rc.profile = "default";
    rc.retries = 0;
    rc.connect_timeout = 5;
    rc.io_timeout = 10;
    return rc;
}

typedef struct {
    s3_params rc;
    s3http_client *c;
    s3http_conn *conn;
} client;

static void client_open(client *cl, s3_params rc)
{
    cl->rc = rc;
    cl->c = s3http_client_new(&cl->rc);
    if (!cl->c)
        fail_msg("s3http_client_new: %s", err_msg());
    cl->conn = s3http_conn_new(cl->c, NULL);
    assert_non_null(cl->conn);
}

static void client_close(client *cl)
{
    s3http_conn_free(cl->conn);
    s3http_client_free(cl->c);
}

/* GET KEY with default settings; the result, RESP kept for the caller. */
static int get(client *cl, const char *key, s3http_response *resp)
{
    s3http_request r = {.method = "GET", .key = key};
    return s3http_perform(cl->conn, &r, resp);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
}

/* ---- fixture ---------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    signals_install();
    log_set_level(LOG_LVL_ERROR); /* retries are logged as warnings */
    snprintf(tmp, sizeof tmp, "/tmp/n4o-s3http-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    srv = fake_http_start(handler, NULL);
    if (!srv)
        return -1;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", srv->port);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_http_stop(srv);
    script_reset();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd);
}

static int setup(void **state)
{
    (void)state;
    pthread_mutex_lock(&srv->mu);
    script_reset();
    pthread_mutex_unlock(&srv->mu);
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
    signals_reset();
    err_clear();
    return 0;
}

/* ---- credentials and endpoints ------------------------------------------------ */

static void test_env_credentials(void **state)
{
    (void)state;
    s3_params rc = conf(endpoint);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_null(s3http_client_new(&rc));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "", 1); /* empty is not set */
    assert_null(s3http_client_new(&rc));
    assert_non_null(strstr(err_msg(), "AWS_SECRET_ACCESS_KEY is not set"));
    assert_null(strstr(err_msg(), "AWS_ACCESS_KEY_ID"));

    /* a session token goes with every request, signed */
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    setenv("AWS_SESSION_TOKEN", "TOKEN123", 1);
    client cl;
    client_open(&cl, rc);
    s3http_response resp;
    assert_int_equal(get(&cl, "k", &resp), 0);
    s3http_response_free(&resp);
    char v[1024];
    assert_non_null(fake_header(&script.last, "x-amz-security-token", v, sizeof v));
    assert_string_equal(v, "TOKEN123");
    assert_non_null(fake_header(&script.last, "Authorization", v, sizeof v));
    assert_non_null(strstr(v, "Credential=AKIDTEST/"));
    assert_non_null(strstr(v, "x-amz-security-token"));
    client_close(&cl);
    /* ... and none without one */
    unsetenv("AWS_SESSION_TOKEN");
    client_open(&cl, rc);
    assert_int_equal(get(&cl, "k", &resp), 0);
    s3http_response_free(&resp);
    assert_null(fake_header(&script.last, "x-amz-security-token", v, sizeof v));
    client_close(&cl);
}

static void test_credentials_file(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/credentials", tmp);
    write_file(path,
               "# shared credentials\n"
               "[default]\n"
               "aws_access_key_id = AKIDDEFAULT\n"
               "aws_secret_access_key = s1\n"
               "\n"
               "; another comment\n"
               "[ profile prod ]\n"
               "  AWS_Access_Key_ID=AKIDPROD  \n"
               "aws_secret_access_key =   s2\n"
               "region = eu-west-1\n"
               "aws_session_token =\n" /* empty: ignored */
               "[other]\n"
               "aws_access_key_id = AKIDOTHER\n",
               0600);
    s3_params rc = conf(endpoint);
    rc.credentials = path;
    rc.profile = "prod";
    client cl;
    client_open(&cl, rc);
    s3http_response resp;
    assert_int_equal(get(&cl, "k", &resp), 0);
    s3http_response_free(&resp);
    char v[1024];
    fake_header(&script.last, "Authorization", v, sizeof v);
    assert_non_null(strstr(v, "Credential=AKIDPROD/"));
    assert_null(fake_header(&script.last, "x-amz-security-token", v, sizeof v));
    client_close(&cl);
    rc.profile = "default";
    client_open(&cl, rc);
    assert_int_equal(get(&cl, "k", &resp), 0);
    s3http_response_free(&resp);
    fake_header(&script.last, "Authorization", v, sizeof v);
    assert_non_null(strstr(v, "Credential=AKIDDEFAULT/"));
    client_close(&cl);

    /* refusals: every one a usage error naming the file */
    rc.profile = "staging";
    assert_null(s3http_client_new(&rc));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "has no profile [staging]"));
    assert_non_null(strstr(err_msg(), path));

    write_file(path, "[default]\naws_access_key_id = A\n", 0600);
    rc.profile = "default";
    assert_null(s3http_client_new(&rc));
    assert_non_null(strstr(err_msg(), "profile [default] has no aws_secret_access_key"));
    write_file(path, "[default]\naws_secret_access_key = s\n", 0600);
    assert_null(s3http_client_new(&rc));
    assert_non_null(strstr(err_msg(), "profile [default] has no aws_access_key_id"));

    write_file(path, "[default]\naws_access_key_id = A\naws_secret_access_key = s\n", 0640);
    assert_null(s3http_client_new(&rc));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "readable by group or others (mode 0640)"));
    assert_non_null(strstr(err_msg(), "chmod 600"));
    chmod(path, 0604);
    assert_null(s3http_client_new(&rc));
    chmod(path, 0600);
    client_open(&cl, rc); /* and fine once fixed */
    client_close(&cl);

    unlink(path);
    assert_null(s3http_client_new(&rc));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), strerror(ENOENT)));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(s3http_client_new(&rc));
    assert_non_null(strstr(err_msg(), "not a regular file"));
    rmdir(path);
    /* larger than any credentials file */
    char *big = malloc(70000);
    memset(big, '#', 69999);
    big[69999] = '\0';
    write_file(path, big, 0600);
    free(big);
    assert_null(s3http_client_new(&rc));
    assert_non_null(strstr(err_msg(), "at most 65536 bytes"));
}

static void test_endpoint_rules(void **state)
{
    (void)state;
    const struct {
        const char *ep, *needle;
    } bad[] = {{"127.0.0.1:9000", "is not a URL"},
               {"http://", "has no host"},
               {"http:///bucket", "has no host"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s3_params rc = conf(bad[i].ep);
        err_clear();
        assert_null(s3http_client_new(&rc));
        assert_int_equal(err_get_kind(), ERR_USAGE);
        assert_non_null(strstr(err_msg(), bad[i].needle));
    }
    s3_params rc = conf(endpoint);
    rc.bucket = NULL;
    assert_null(s3http_client_new(&rc));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "bucket"));
}

/* The key is joined to the prefix, percent-encoded (but for '/'), after
 * the endpoint's base path and the bucket; the query is canonical. */
static void test_path_addressing(void **state)
{
    (void)state;
    char ep[160];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d/S3/base//", srv->port);
    s3_params rc = conf(ep);
    rc.prefix = "backups/neo4j";
    client cl;
    client_open(&cl, rc);
    assert_string_equal(s3http_prefix(cl.c), "backups/neo4j/");
    char *key = s3http_key(cl.c, "dir/a b+c~é.dump");
    assert_string_equal(key, "backups/neo4j/dir/a b+c~é.dump");
    sigv4_param q[] = {{"uploadId", "x y"}, {"partNumber", "2"}};
    s3http_request r = {.method = "GET", .key = key, .query = q, .n_query = 2};
    s3http_response resp;
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    s3http_response_free(&resp);
    assert_string_equal(script.last.target, "/S3/base/b/backups/neo4j/dir/a%20b%2Bc~%C3%A9.dump"
                                            "?partNumber=2&uploadId=x%20y");
    char v[256];
    snprintf(v, sizeof v, "127.0.0.1:%d", srv->port);
    char host[256];
    assert_non_null(fake_header(&script.last, "Host", host, sizeof host));
    assert_string_equal(host, v);
    free(key);
    /* the bucket itself (a listing) */
    r.key = NULL;
    r.n_query = 0;
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    s3http_response_free(&resp);
    assert_string_equal(script.last.target, "/S3/base/b");
    client_close(&cl);

    /* a prefix that ends with '/' is not doubled; none at all: the name */
    rc.prefix = "p/";
    client_open(&cl, rc);
    key = s3http_key(cl.c, "x");
    assert_string_equal(key, "p/x");
    free(key);
    client_close(&cl);
    rc.prefix = NULL;
    client_open(&cl, rc);
    assert_string_equal(s3http_prefix(cl.c), "");
    key = s3http_key(cl.c, "x");
    assert_string_equal(key, "x");
    free(key);
    /* the client keeps a copy of the parameters, their strings the caller's */
    assert_ptr_equal(s3http_config(cl.c)->bucket, cl.rc.bucket);
    assert_ptr_equal(s3http_config(cl.c)->endpoint, cl.rc.endpoint);
    client_close(&cl);
}

/* Virtual-hosted style: the bucket is part of the host name ("*.localhost"
 * is loopback to curl), the path starts with the key. */
static void test_virtual_addressing(void **state)
{
    (void)state;
    char ep[160];
    snprintf(ep, sizeof ep, "http://LocalHost:%d", srv->port);
    s3_params rc = conf(ep);
    rc.url_style = "virtual";
    client cl;
    client_open(&cl, rc);
    s3http_response resp;
    int rc_get = get(&cl, "k/x", &resp);
    s3http_response_free(&resp);
    if (rc_get < 0 && strstr(err_msg(), "resolve"))
        skip(); /* an older curl that asks the resolver for b.localhost */
    assert_int_equal(rc_get, 0);
    assert_string_equal(script.last.target, "/k/x");
    char host[256], want[256];
    fake_header(&script.last, "Host", host, sizeof host);
    snprintf(want, sizeof want, "b.localhost:%d", srv->port); /* the host in lower case */
    assert_string_equal(host, want);
    client_close(&cl);
}

/* ---- requests and answers ------------------------------------------------------ */

static void test_request_bodies(void **state)
{
    (void)state;
    client cl;
    client_open(&cl, conf(endpoint));
    static char body[300000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)(i * 13 + 7);
    sigv4_header h = {"Content-MD5", "abc"};
    s3http_request r = {.method = "PUT",
                        .key = "obj",
                        .headers = &h,
                        .n_headers = 1,
                        .body = body,
                        .body_len = sizeof body};
    s3http_response resp;
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    s3http_response_free(&resp);
    assert_string_equal(script.last.method, "PUT");
    assert_int_equal(script.last_body_len, sizeof body);
    assert_memory_equal(script.last_body, body, sizeof body);
    char v[1024], sha[65];
    sigv4_sha256_hex(body, sizeof body, sha);
    fake_header(&script.last, "x-amz-content-sha256", v, sizeof v);
    assert_string_equal(v, sha); /* computed when the caller gives none */
    fake_header(&script.last, "Content-MD5", v, sizeof v);
    assert_string_equal(v, "abc");
    fake_header(&script.last, "Authorization", v, sizeof v);
    assert_non_null(strstr(v, "content-md5")); /* extra headers are signed */
    /* no curl default Content-Type, no 100-continue round trip */
    assert_null(fake_header(&script.last, "Content-Type", v, sizeof v));
    assert_null(fake_header(&script.last, "Expect", v, sizeof v));

    r.method = "POST";
    r.body = "<x/>";
    r.body_len = 4;
    r.n_headers = 0;
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    s3http_response_free(&resp);
    assert_string_equal(script.last.method, "POST");
    assert_string_equal(script.last_body, "<x/>");
    fake_header(&script.last, "x-amz-content-sha256", v, sizeof v);
    sigv4_sha256_hex("<x/>", 4, sha);
    assert_string_equal(v, sha);

    /* DELETE has no body: the empty payload's hash */
    r.method = "DELETE";
    r.body = NULL;
    r.body_len = 0;
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    s3http_response_free(&resp);
    assert_string_equal(script.last.method, "DELETE");
    fake_header(&script.last, "x-amz-content-sha256", v, sizeof v);
    assert_string_equal(v, SIGV4_EMPTY_SHA256);
    client_close(&cl);
}

/* What an answer can make the client hold is bounded. */
static void test_answer_limits(void **state)
{
    (void)state;
    client cl;
    client_open(&cl, conf(endpoint));
    char *big = malloc(S3HTTP_MAX_BODY + 1);
    memset(big, 'x', S3HTTP_MAX_BODY + 1);
    script.body = big;
    script.body_len = S3HTTP_MAX_BODY + 1;
    s3http_response resp;
    assert_int_equal(get(&cl, "big", &resp), -1);
    assert_non_null(strstr(err_msg(), "the answer is larger than 8388608 bytes (the limit for a "
                                      "buffered answer)"));
    assert_int_equal(resp.attempts, 1); /* not worth another try */
    s3http_response_free(&resp);
    /* exactly the limit is fine */
    script.body_len = S3HTTP_MAX_BODY;
    assert_int_equal(get(&cl, "big", &resp), 0);
    assert_int_equal(resp.body_len, S3HTTP_MAX_BODY);
    s3http_response_free(&resp);
    free(big);

    /* into the caller's buffer: what fits, and one byte more */
    char out[16];
    script.body = "0123456789";
    script.body_len = 0;
    s3http_request r = {.method = "GET", .key = "small", .out = out, .out_cap = sizeof out};
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    assert_int_equal(resp.body_len, 10);
    assert_memory_equal(out, "0123456789", 10);
    assert_null(resp.body);
    s3http_response_free(&resp);
    script.body = "0123456789abcdefg";
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), -1);
    assert_non_null(strstr(err_msg(), "larger than 16 bytes (the limit for this request)"));
    s3http_response_free(&resp);
    client_close(&cl);
}

/* A failed answer without an S3 error body is named by its status. */
static void test_status_reasons(void **state)
{
    (void)state;
    client cl;
    client_open(&cl, conf(endpoint));
    const struct {
        int status;
        const char *text;
    } st[] = {{400, "Bad Request"},
              {403, "Forbidden"},
              {404, "Not Found"},
              {405, "Method Not Allowed"},
              {409, "Conflict"},
              {412, "Precondition Failed"},
              {416, "Range Not Satisfiable"},
              {418, ""},
              {500, "Internal Server Error"},
              {501, "Not Implemented"},
              {503, "Service Unavailable"}};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        script_status(1, st[i].status);
        s3http_response resp;
        err_clear();
        assert_int_equal(get(&cl, "k", &resp), -1);
        char want[128];
        snprintf(want, sizeof want, "GET k: HTTP %d %s", st[i].status, st[i].text);
        assert_string_equal(err_msg(), want);
        assert_int_equal(err_get_kind(), ERR_FAIL);
        assert_int_equal(resp.status, st[i].status);
        assert_int_equal(resp.attempts, 1); /* retries = 0 */
        s3http_response_free(&resp);
    }
    /* with an S3 error: its code and (escaped) message */
    script_status(1, 409);
    script.code = "BucketNotEmpty";
    s3http_response resp;
    assert_int_equal(get(&cl, "k", &resp), -1);
    assert_string_equal(err_msg(), "GET k: HTTP 409 BucketNotEmpty: scripted <failure>");
    assert_string_equal(resp.err_code, "BucketNotEmpty");
    s3http_response_free(&resp);
    client_close(&cl);
}

/* Retried: 5xx, 408, 429 and the S3 codes that ask for it; not retried:
 * other 4xx.  A success after a retry is a success. */
static void test_retries(void **state)
{
    (void)state;
    s3_params rc = conf(endpoint);
    rc.retries = 2;
    client cl;
    client_open(&cl, rc);
    s3http_response resp;

    script_status(2, 503, 200);
    assert_int_equal(get(&cl, "k", &resp), 0);
    assert_int_equal(resp.attempts, 2);
    assert_int_equal(resp.status, 200);
    s3http_response_free(&resp);

    script_reset();
    script_status(1, 500);
    assert_int_equal(get(&cl, "k", &resp), -1);
    assert_int_equal(resp.attempts, 3);
    assert_string_equal(err_msg(), "after 3 attempts: GET k: HTTP 500 Internal Server Error");
    s3http_response_free(&resp);

    const int retried[] = {408, 429, 502, 504};
    for (size_t i = 0; i < sizeof retried / sizeof retried[0]; i++) {
        script_reset();
        script_status(2, retried[i], 200);
        assert_int_equal(get(&cl, "k", &resp), 0);
        assert_int_equal(resp.attempts, 2);
        s3http_response_free(&resp);
    }
    const char *codes[] = {"SlowDown", "InternalError", "RequestTimeout", "BadDigest",
                           "XAmzContentSHA256Mismatch"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        script_reset();
        script_status(2, 400, 200);
        script.code = codes[i];
        assert_int_equal(get(&cl, "k", &resp), 0);
        assert_int_equal(resp.attempts, 2);
        s3http_response_free(&resp);
    }
    script_reset();
    script_status(2, 400, 200);
    script.code = "InvalidArgument";
    assert_int_equal(get(&cl, "k", &resp), -1);
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(script.seen, 1);
    s3http_response_free(&resp);
    client_close(&cl);
}

/* A closed port: the connection errors are retried, then named. */
static void test_connection_refused(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd); /* a port nobody listens on */
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", ntohs(a.sin_port));
    s3_params rc = conf(ep);
    rc.retries = 1;
    client cl;
    client_open(&cl, rc);
    s3http_response resp;
    assert_int_equal(get(&cl, "k", &resp), -1);
    assert_int_equal(resp.attempts, 2);
    assert_non_null(strstr(err_msg(), "after 2 attempts: GET "));
    assert_non_null(strstr(err_msg(), ep));
    s3http_response_free(&resp);
    client_close(&cl);
}

static void test_accept_capture_headers(void **state)
{
    (void)state;
    client cl;
    client_open(&cl, conf(endpoint));
    static const long ok404[] = {404, 0};
    s3http_request r = {.method = "HEAD", .key = "k", .accept = ok404, .capture = "x-amz-meta-t"};
    s3http_response resp;
    script_status(1, 404);
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    assert_int_equal(resp.status, 404);
    assert_int_equal(resp.has_captured, 0);
    s3http_response_free(&resp);

    script_reset();
    script.headers = "ETag: \"abc\"\r\nX-Amz-Meta-T:  token-1 \r\n"
                     "Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nContent-Length: 1234\r\n";
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.etag, "\"abc\""); /* quotes kept */
    assert_int_equal(resp.has_captured, 1);
    assert_string_equal(resp.captured, "token-1");
    assert_int_equal(resp.last_modified, 1445412480);
    assert_int_equal(resp.has_length, 1);
    assert_int_equal(resp.content_length, 1234);
    s3http_response_free(&resp);

    /* a captured header too long, or holding a control character: not kept */
    static char longhdr[600];
    int n = snprintf(longhdr, sizeof longhdr, "X-Amz-Meta-T: ");
    memset(longhdr + n, 'v', S3HTTP_MAX_CAPTURE + 1);
    snprintf(longhdr + n + S3HTTP_MAX_CAPTURE + 1, 8, "\r\n");
    script.headers = longhdr;
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    assert_int_equal(resp.has_captured, 0);
    s3http_response_free(&resp);
    script.headers = "X-Amz-Meta-T: a\x01"
                     "b\r\n";
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    assert_int_equal(resp.has_captured, 0);
    s3http_response_free(&resp);
    /* exactly the limit is kept */
    memset(longhdr + n, 'w', S3HTTP_MAX_CAPTURE);
    snprintf(longhdr + n + S3HTTP_MAX_CAPTURE, 8, "\r\n");
    script.headers = longhdr;
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    assert_int_equal(resp.has_captured, 1);
    assert_int_equal(strlen(resp.captured), S3HTTP_MAX_CAPTURE);
    s3http_response_free(&resp);
    client_close(&cl);
}

/* A 2xx whose headers break the rules is a failure naming the header. */
static void test_malformed_headers(void **state)
{
    (void)state;
    client cl;
    client_open(&cl, conf(endpoint));
    s3http_response resp;
    script.headers = "Content-Range: pages 1-2\r\n";
    assert_int_equal(get(&cl, "k", &resp), -1);
    assert_non_null(strstr(err_msg(), "the Content-Range header is malformed"));
    s3http_response_free(&resp);
    script.headers = "ETag: \"a\x1b[2Jb\"\r\n";
    assert_int_equal(get(&cl, "k", &resp), -1);
    assert_non_null(strstr(err_msg(), "the ETag header holds control characters"));
    s3http_response_free(&resp);
    static char etag[1200];
    int n = snprintf(etag, sizeof etag, "ETag: ");
    memset(etag + n, 'e', S3HTTP_MAX_ETAG + 1);
    snprintf(etag + n + S3HTTP_MAX_ETAG + 1, 8, "\r\n");
    script.headers = etag;
    assert_int_equal(get(&cl, "k", &resp), -1);
    assert_non_null(strstr(err_msg(), "the ETag header is longer than 1024 bytes"));
    s3http_response_free(&resp);
    /* the same headers on an error answer: the status is what counts */
    script_status(1, 403);
    assert_int_equal(get(&cl, "k", &resp), -1);
    assert_non_null(strstr(err_msg(), "HTTP 403 Forbidden"));
    s3http_response_free(&resp);
    client_close(&cl);
}

typedef struct {
    size_t got, stop_after;
} sink_state;

static int sink(void *ctx, const void *data, size_t len)
{
    (void)data;
    sink_state *s = ctx;
    if (s->stop_after && s->got >= s->stop_after)
        return -1;
    s->got += len;
    return 0;
}

static void test_sink(void **state)
{
    (void)state;
    s3_params rc = conf(endpoint);
    rc.retries = 2;
    client cl;
    client_open(&cl, rc);
    char *body = malloc(2 * 1024 * 1024);
    memset(body, 's', 2 * 1024 * 1024);
    script.body = body;
    script.body_len = 2 * 1024 * 1024;
    sink_state ss = {0};
    s3http_request r = {.method = "GET", .key = "k", .sink = sink, .sink_ctx = &ss};
    s3http_response resp;
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    assert_int_equal(ss.got, 2 * 1024 * 1024);
    assert_int_equal(resp.body_len, ss.got);
    assert_null(resp.body); /* streamed, not buffered */
    s3http_response_free(&resp);

    /* the sink stops: no retry (the caller resumes after the bytes it got) */
    ss = (sink_state){.stop_after = 100000};
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), -1);
    assert_non_null(strstr(err_msg(), "stopped"));
    assert_int_equal(resp.attempts, 1);
    assert_true(resp.body_len >= 100000 && resp.body_len < 2 * 1024 * 1024);
    s3http_response_free(&resp);

    /* asked for a range, answered with the whole object */
    ss = (sink_state){0};
    r.want_partial = 1;
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), -1);
    assert_non_null(strstr(err_msg(), "the server ignored the Range header"));
    assert_int_equal(ss.got, 0);
    s3http_response_free(&resp);
    free(body);
    client_close(&cl);
}

typedef struct {
    atomic_int *flag;
    int delay_ms;
} setter;

static void *set_later(void *arg)
{
    setter *s = arg;
    usleep((useconds_t)s->delay_ms * 1000);
    atomic_store(s->flag, 1);
    return NULL;
}

/* Another thread cancels a transfer the server never answers: it ends
 * within a poll interval or two, and is not retried. */
static void test_cancel_stalled(void **state)
{
    (void)state;
    s3_params rc = conf(endpoint);
    rc.retries = 3;
    client cl;
    cl.rc = rc;
    cl.c = s3http_client_new(&cl.rc);
    assert_non_null(cl.c);
    atomic_int cancel = 0;
    cl.conn = s3http_conn_new(cl.c, &cancel);
    script.stall = 1;
    setter st = {.flag = &cancel, .delay_ms = 300};
    pthread_t t;
    pthread_create(&t, NULL, set_later, &st);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    s3http_response resp;
    assert_int_equal(get(&cl, "k", &resp), -1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, NULL);
    double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_non_null(strstr(err_msg(), "cancelled"));
    assert_true(took >= 0.25 && took < 2.0);
    assert_int_equal(resp.attempts, 1);
    s3http_response_free(&resp);
    /* a cancelled connection stays cancelled */
    assert_int_equal(get(&cl, "k", &resp), -1);
    s3http_response_free(&resp);
    client_close(&cl);
}

/* Ctrl-C: a request is not even sent; a cleanup request still is. */
static void test_signal_and_cleanup(void **state)
{
    (void)state;
    client cl;
    client_open(&cl, conf(endpoint));
    raise(SIGINT);
    s3http_response resp;
    assert_int_equal(get(&cl, "k", &resp), -1);
    assert_string_equal(err_msg(), "GET k: interrupted by signal 2");
    assert_int_equal(script.seen, 0);
    s3http_response_free(&resp);
    s3http_request r = {.method = "DELETE", .key = "k", .cleanup = 1};
    assert_int_equal(s3http_perform(cl.conn, &r, &resp), 0);
    assert_int_equal(script.seen, 1);
    s3http_response_free(&resp);
    assert_int_equal(s3http_signal_check(&cl.rc, "x"), -1);
    assert_string_equal(err_msg(), "x: interrupted by signal 2");
    signals_reset();
    assert_int_equal(s3http_signal_check(&cl.rc, "x"), 0);
    client_close(&cl);
}

static void test_err_save_restore_and_wait(void **state)
{
    (void)state;
    err_saved s;
    err_set(ERR_INTEGRITY, "kept %d", 1);
    err_save(&s);
    err_set(ERR_FAIL, "cleanup noise");
    assert_int_equal(err_restore(&s), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    assert_string_equal(err_msg(), "kept 1");
    err_clear();
    err_save(&s);
    err_set(ERR_FAIL, "noise");
    assert_int_equal(err_restore(&s), -1);
    assert_int_equal(err_get_kind(), ERR_NONE); /* no error before: none after */
    assert_string_equal(err_msg(), "");

    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pthread_mutex_lock(&mu);
    s3http_cond_wait(&cond, &mu); /* nobody signals: it returns by itself */
    pthread_mutex_unlock(&mu);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(took >= 0.05 && took < 1.0);
}

/* The message names what is missing, in words (it once read
 * "AWS_ACCESS_KEY_IDis not set"). */
static void test_env_message(void **state)
{
    (void)state;
    unsetenv("AWS_ACCESS_KEY_ID");
    s3_params rc = conf(endpoint);
    assert_null(s3http_client_new(&rc));
    assert_string_equal(err_msg(),
                        "credentials = env, but AWS_ACCESS_KEY_ID is not set in the environment");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_null(s3http_client_new(&rc));
    assert_string_equal(err_msg(), "credentials = env, but AWS_ACCESS_KEY_ID and "
                                   "AWS_SECRET_ACCESS_KEY are not set in the environment");
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    assert_null(s3http_client_new(&rc));
    assert_string_equal(
        err_msg(), "credentials = env, but AWS_SECRET_ACCESS_KEY is not set in the environment");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_env_credentials, setup),
        cmocka_unit_test_setup(test_credentials_file, setup),
        cmocka_unit_test_setup(test_endpoint_rules, setup),
        cmocka_unit_test_setup(test_path_addressing, setup),
        cmocka_unit_test_setup(test_virtual_addressing, setup),
        cmocka_unit_test_setup(test_request_bodies, setup),
        cmocka_unit_test_setup(test_answer_limits, setup),
        cmocka_unit_test_setup(test_status_reasons, setup),
        cmocka_unit_test_setup(test_retries, setup),
        cmocka_unit_test_setup(test_connection_refused, setup),
        cmocka_unit_test_setup(test_accept_capture_headers, setup),
        cmocka_unit_test_setup(test_malformed_headers, setup),
        cmocka_unit_test_setup(test_sink, setup),
        cmocka_unit_test_setup(test_cancel_stalled, setup),
        cmocka_unit_test_setup(test_signal_and_cleanup, setup),
        cmocka_unit_test_setup(test_err_save_restore_and_wait, setup),
        cmocka_unit_test_setup(test_env_message, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
