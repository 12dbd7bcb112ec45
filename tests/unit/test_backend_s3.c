/* Unit tests: the S3 backend through the backend interface, against a real
 * S3 server on loopback (s3rver, started here through
 * tests/tools/s3_harness.sh; skipped when it is not installed): round trips,
 * never overwriting, paginated listings, names that would drive a terminal,
 * server errors and the probe; plus the part-size schedule, the credentials
 * rules and an unreachable server, which need no server.  A hostile server
 * is in test_s3_hostile.c. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>

#include <cmocka.h>
#include <sodium.h>

#include "backend.h"
#include "remotes.h"
#include "err.h"
#include "s3/multipart.h"

#define MIB    (1024u * 1024u)
#define BUCKET "n4o-unit"

static char dir[64];
static int port;
static pid_t server_pid;
static char endpoint[64];

/* Start s3rver in DIR/data; 0 when it is not installed. */
static int start_server(void)
{
    const char *src = getenv("N4O_SOURCE");
    if (!src)
        return 0;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "bash -c '. \"%s/tests/tools/s3_harness.sh\" && s3_available >/dev/null && "
             "s3_start \"%s/data\" %s && echo \"$S3_PORT $S3_PID\"' 2>/dev/null",
             src, dir, BUCKET);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    int pid = 0;
    if (fscanf(p, "%d %d", &port, &pid) != 2)
        port = 0;
    pclose(p);
    server_pid = (pid_t)pid;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
    return port > 0;
}

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    snprintf(dir, sizeof dir, "/tmp/n4o-s3-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    if (!start_server())
        fprintf(stderr, "note: s3rver not available (cd tests/s3 && npm ci): server tests skip\n");
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    unsetenv("AWS_SESSION_TOKEN");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (server_pid > 0)
        kill(server_pid, SIGTERM);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

#define NEED_SERVER()                                                                              \
    do {                                                                                           \
        if (port <= 0)                                                                             \
            skip();                                                                                \
    } while (0)

static config_remote remote_conf(const char *prefix)
{
    config_remote rc;
    memset(&rc, 0, sizeof rc);
    rc.name = "unit";
    rc.type = "s3";
    rc.endpoint = endpoint;
    rc.region = "us-east-1";
    rc.bucket = BUCKET;
    rc.prefix = (char *)prefix;
    rc.url_style = "path";
    rc.credentials = "env";
    rc.profile = "default";
    rc.part_size = 5 * MIB;
    rc.parallel_parts = 2;
    rc.retries = 1;
    rc.connect_timeout = 5;
    rc.io_timeout = 10;
    return rc;
}

static uint8_t *random_bytes(size_t n)
{
    static uint8_t seed[randombytes_SEEDBYTES];
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    seed[0]++; /* deterministic: no system call per 256 bytes */
    randombytes_buf_deterministic(b, n, seed);
    return b;
}

/* Write BUF as NAME in uneven writes. */
static int write_uneven(backend *b, const char *name, const uint8_t *buf, size_t len)
{
    backend_writer *w = backend_writer_open(b, name, 0);
    if (!w)
        return -1;
    size_t off = 0, step = 1;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        if (backend_writer_write(w, buf + off, n) < 0) {
            backend_writer_abort(w);
            return -1;
        }
        off += n;
        step = step * 7 + 13;
        if (step > 3 * MIB)
            step = 1 + step % 1000;
    }
    return backend_writer_commit(w);
}

static void read_back(backend *b, const char *name, const uint8_t *want, size_t len,
                      uint64_t offset)
{
    backend_reader *r = backend_reader_open(b, name, offset);
    assert_non_null(r);
    size_t got = (size_t)offset;
    uint8_t *buf = malloc(300000);
    assert_non_null(buf);
    for (;;) {
        ssize_t n = backend_reader_read(r, buf, 300000);
        assert_true(n >= 0);
        if (n == 0)
            break;
        assert_true(got + (size_t)n <= len);
        assert_memory_equal(buf, want + got, (size_t)n);
        got += (size_t)n;
    }
    assert_int_equal(got, len);
    free(buf);
    backend_reader_close(r);
}

static void test_part_schedule(void **state)
{
    (void)state;
    assert_int_equal(s3mp_part_size(5 * MIB, 1), 5 * MIB);
    assert_int_equal(s3mp_part_size(5 * MIB, S3MP_GROW_EVERY), 5 * MIB);
    assert_int_equal(s3mp_part_size(5 * MIB, S3MP_GROW_EVERY + 1), 10 * MIB);
    assert_int_equal(s3mp_part_size(8 * MIB, 2 * S3MP_GROW_EVERY + 1), 32 * MIB);
    /* never more than 5 GiB a part, even from a large start */
    assert_int_equal(s3mp_part_size(5ull << 30, 1), 5ull << 30);
    assert_int_equal(s3mp_part_size(5 * MIB, S3MP_MAX_PARTS), 5ull << 30);
    /* 10,000 parts hold 5 TiB from the 5 MiB minimum and the default */
    assert_true(s3mp_capacity(5 * MIB) >= 5ull << 40);
    assert_true(s3mp_capacity(8 * MIB) >= 5ull << 40);
    /* memory stays flat for the first 990 parts: 7.7 GiB at 8 MiB */
    assert_int_equal(s3mp_part_size(8 * MIB, 990), 8 * MIB);
}

/* A known size (the pass reads the local copy) sets the part size up front,
 * so that the object fits in 9,000 parts (1,000 to spare). */
static void test_part_size_from_hint(void **state)
{
    (void)state;
    /* unknown size, or small enough: the configured size (default 8 MiB) */
    assert_int_equal(s3mp_base_size(0, 0), 8 * MIB);
    assert_int_equal(s3mp_base_size(5 * MIB, 0), 5 * MIB);
    assert_int_equal(s3mp_base_size(8 * MIB, 9000ull * 8 * MIB), 8 * MIB);
    /* one byte more than 9,000 parts of 8 MiB: the next whole MiB */
    assert_int_equal(s3mp_base_size(8 * MIB, 9000ull * 8 * MIB + 1), 9 * MIB);
    /* 100 GiB: 11.4 MiB per part -> 12 MiB, and it fits */
    uint64_t base = s3mp_base_size(8 * MIB, 100ull << 30);
    assert_int_equal(base, 12 * MIB);
    assert_true(9000 * base >= 100ull << 30);
    /* 5 TiB fits in 10,000 parts of at most 5 GiB */
    assert_true(s3mp_base_size(8 * MIB, 5ull << 40) * S3MP_MAX_PARTS >= 5ull << 40);
    assert_true(s3mp_base_size(8 * MIB, 5ull << 40) <= S3MP_MAX_PART_SIZE);
    /* beyond what 10,000 parts of 5 GiB hold: capped at 5 GiB */
    assert_int_equal(s3mp_base_size(8 * MIB, 60ull << 40), S3MP_MAX_PART_SIZE);
}

static void test_round_trips(void **state)
{
    (void)state;
    NEED_SERVER();
    config_remote rc = remote_conf("unit/rt");
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    /* around the part size: one PUT up to 5 MiB, a multipart upload above */
    const size_t sizes[] = {0, 1, 5 * MIB, 5 * MIB + 1, 11 * MIB + 12345};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "obj%zu", i);
        uint8_t *data = random_bytes(sizes[i]);
        assert_int_equal(write_uneven(b, name, data, sizes[i]), 0);
        backend_entry e;
        assert_int_equal(backend_stat(b, name, &e), 1);
        assert_int_equal(e.size, sizes[i]);
        assert_true(llabs((long long)(e.mtime - time(NULL))) < 120);
        free(e.name);
        read_back(b, name, data, sizes[i], 0);
        if (sizes[i] > 3)
            read_back(b, name, data, sizes[i], sizes[i] - 3); /* the last bytes */
        if (sizes[i] > 9 * MIB) {
            read_back(b, name, data, sizes[i], 9 * MIB - 7);
            /* closed early, while the download waits for room: no hang */
            backend_reader *r = backend_reader_open(b, name, 0);
            assert_non_null(r);
            uint8_t few[10];
            assert_int_equal(backend_reader_read(r, few, sizeof few), sizeof few);
            assert_memory_equal(few, data, sizeof few);
            backend_reader_close(r);
        }
        free(data);
    }
    /* the prefix is a directory of the bucket */
    char path[256];
    snprintf(path, sizeof path, "%s/data/%s/unit/rt/obj4._S3rver_object", dir, BUCKET);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, sizes[4]);
    assert_null(backend_reader_open(b, "missing", 0));
    assert_non_null(strstr(err_msg(), "unit/rt/missing: no such object"));
    backend_close(b);
}

static void test_never_overwrites_and_abort(void **state)
{
    (void)state;
    NEED_SERVER();
    config_remote rc = remote_conf("unit/ow/");
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    uint8_t *data = random_bytes(12 * MIB);
    assert_int_equal(backend_write_all(b, "x", data, 100), 0);
    /* an existing name is refused before any byte is sent */
    assert_null(backend_writer_open(b, "x", 0));
    assert_non_null(strstr(err_msg(), "remote unit: unit/ow/x already exists"));
    /* an aborted multipart upload leaves no object */
    backend_writer *w = backend_writer_open(b, "big", 0);
    assert_non_null(w);
    assert_int_equal(backend_writer_write(w, data, 12 * MIB), 0);
    err_set(ERR_INTEGRITY, "the dump was invalid");
    backend_writer_abort(w);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY); /* abort keeps the caller's error */
    assert_int_equal(backend_stat(b, "big", NULL), 0);
    /* a name that appeared during the upload is not overwritten at commit */
    w = backend_writer_open(b, "late", 0);
    assert_non_null(w);
    assert_int_equal(backend_writer_write(w, data, 6 * MIB), 0);
    assert_int_equal(backend_write_all(b, "late", data, 10), 0);
    assert_int_equal(backend_writer_commit(w), -1);
    assert_non_null(strstr(err_msg(), "already exists"));
    backend_entry e;
    assert_int_equal(backend_stat(b, "late", &e), 1);
    assert_int_equal(e.size, 10);
    free(e.name);
    /* remove, and removing what is gone is fine */
    assert_int_equal(backend_remove(b, "x"), 0);
    assert_int_equal(backend_stat(b, "x", NULL), 0);
    assert_int_equal(backend_remove(b, "x"), 0);
    /* names are plain */
    assert_null(backend_writer_open(b, "a/b", 0));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    free(data);
    backend_close(b);
}

/* NAME as s3rver stores it, written straight into its directory: many
 * objects without thousands of requests. */
static void plant(const char *key, const char *content)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data/%s/%s._S3rver_object", dir, BUCKET, key);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    struct stat st;
    if (stat(path, &st) < 0) {
        char mk[600];
        snprintf(mk, sizeof mk, "mkdir -p %s", path);
        assert_int_equal(system(mk), 0);
    }
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/data/%s/%s._S3rver_object.md5", dir, BUCKET, key);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("0123456789abcdef0123456789abcdef", f); /* not checked by listings */
    fclose(f);
    snprintf(path, sizeof path, "%s/data/%s/%s._S3rver_metadata.json", dir, BUCKET, key);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"content-type\": \"binary/octet-stream\"}", f);
    fclose(f);
}

static void test_list_paginates(void **state)
{
    (void)state;
    NEED_SERVER();
    const int total = 1234;
    char key[128], content[32];
    for (int i = 0; i < total; i++) {
        snprintf(key, sizeof key, "unit/many/haia_%05d", i);
        snprintf(content, sizeof content, "%d", i);
        plant(key, content);
    }
    plant("unit/many/sub/dir-object", "x"); /* below the prefix: not an entry */
    plant("unit/manyother", "x");           /* shares the text prefix only */
    config_remote rc = remote_conf("unit/many");
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    backend_entry *e;
    size_t n;
    assert_int_equal(backend_list(b, "haia_", &e, &n), 0);
    assert_int_equal(n, total);
    for (int i = 0; i < total; i++) {
        snprintf(key, sizeof key, "haia_%05d", i);
        assert_string_equal(e[i].name, key);
        snprintf(content, sizeof content, "%d", i);
        assert_int_equal(e[i].size, strlen(content));
        assert_false(e[i].incomplete);
    }
    backend_entries_free(e, n);
    assert_int_equal(backend_list(b, "haia_0122", &e, &n), 0);
    assert_int_equal(n, 10);
    assert_string_equal(e[9].name, "haia_01229");
    backend_entries_free(e, n);
    assert_int_equal(backend_list(b, "nothing", &e, &n), 0);
    assert_int_equal(n, 0);
    backend_close(b);
}

/* Names that would drive a terminal (a newline, the C1 control CSI) are
 * skipped with a warning that shows them escaped. */
static void test_list_skips_unprintable(void **state)
{
    (void)state;
    NEED_SERVER();
    plant("unit/names/haia_good", "x");
    plant("unit/names/haia_new\nline", "x");
    plant("unit/names/haia_c1\302\2332J", "x"); /* U+009B, then "2J" */
    config_remote rc = remote_conf("unit/names");
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    char path[128];
    snprintf(path, sizeof path, "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    backend_entry *e;
    size_t n;
    int rc_l = backend_list(b, "haia_", &e, &n);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char warn[2048] = "";
    assert_true(pread(fd, warn, sizeof warn - 1, 0) > 0);
    close(fd);
    assert_int_equal(rc_l, 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].name, "haia_good");
    backend_entries_free(e, n);
    assert_non_null(strstr(warn, "skipping object \"unit/names/haia_new\\x0aline\""));
    assert_non_null(strstr(warn, "skipping object \"unit/names/haia_c1\\xc2\\x9b2J\""));
    assert_null(strstr(warn, "\xc2\x9b"));
    backend_close(b);
}

static void test_server_errors(void **state)
{
    (void)state;
    NEED_SERVER();
    /* no such bucket: the server's code reaches the message */
    config_remote rc = remote_conf("");
    rc.bucket = "no-such-bucket";
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    /* HEAD cannot tell a missing bucket from a missing key (404 without a
     * body); the first write says which */
    backend_writer *w = backend_writer_open(b, "x", 0);
    assert_non_null(w);
    assert_int_equal(backend_writer_write(w, "abc", 3), 0);
    assert_int_equal(backend_writer_commit(w), -1);
    assert_non_null(strstr(err_msg(), "HTTP 404 NoSuchBucket"));
    backend_entry *e;
    size_t n;
    assert_int_equal(backend_list(b, "", &e, &n), -1);
    assert_non_null(strstr(err_msg(), "HTTP 404 NoSuchBucket"));
    backend_close(b);
    /* reading: a missing bucket is said, not "no such object" (fetch and
     * verify would report the archive missing, an integrity finding) */
    b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_null(backend_reader_open(b, "x", 0));
    assert_non_null(strstr(err_msg(), "bucket no-such-bucket does not exist at"));
    assert_non_null(strstr(err_msg(), "NoSuchBucket"));
    backend_entry st;
    assert_int_equal(backend_stat(b, "x", &st), -1);
    assert_non_null(strstr(err_msg(), "bucket no-such-bucket does not exist at"));
    backend_close(b);
    rc.bucket = BUCKET;
    b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_null(backend_reader_open(b, "x", 0));
    assert_non_null(strstr(err_msg(), "x: no such object"));
    assert_int_equal(backend_stat(b, "x", &st), 0);
    backend_close(b);

    /* an unknown access key: refused at once, not retried */
    setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN", 1);
    rc = remote_conf("");
    rc.retries = 5;
    b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    time_t t0 = time(NULL);
    assert_int_equal(backend_stat(b, "x", NULL), -1);
    assert_non_null(strstr(err_msg(), "InvalidAccessKeyId"));
    assert_null(strstr(err_msg(), "attempts"));
    assert_true(time(NULL) - t0 < 3);
    backend_close(b);
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
}

/* The probe reaches the store and the bucket with the credentials, and
 * says which of them failed. */
static void test_probe(void **state)
{
    (void)state;
    NEED_SERVER();
    config_remote rc = remote_conf("unit/probe/");
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_int_equal(backend_probe(b), 0);
    /* it wrote (an upload, aborted), and left no object */
    backend_entry *e;
    size_t n;
    assert_int_equal(backend_list(b, "", &e, &n), 0);
    assert_int_equal(n, 0);
    backend_close(b);
    char path[256];
    snprintf(path, sizeof path, "%s/data/%s/unit/probe", dir, BUCKET);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);

    char want[256];
    rc.bucket = "no-such-bucket";
    assert_non_null(b = remote_backend_open(&rc, 0));
    assert_int_equal(backend_probe(b), -1);
    snprintf(want, sizeof want,
             "remote unit: endpoint %s, bucket no-such-bucket: the bucket does not exist",
             endpoint);
    assert_non_null(strstr(err_msg(), want));
    assert_non_null(strstr(err_msg(), "HTTP 404 NoSuchBucket"));
    backend_close(b);

    rc = remote_conf("");
    setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN", 1);
    assert_non_null(b = remote_backend_open(&rc, 0));
    assert_int_equal(backend_probe(b), -1);
    assert_non_null(
        strstr(err_msg(), "bucket " BUCKET ": the server does not know the access key"));
    assert_non_null(strstr(err_msg(), "InvalidAccessKeyId"));
    backend_close(b);
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
}

static void test_probe_unreachable(void **state)
{
    (void)state;
    config_remote rc = remote_conf("");
    rc.endpoint = "http://127.0.0.1:9";
    rc.retries = 1;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_int_equal(backend_probe(b), -1);
    assert_non_null(strstr(err_msg(), "remote unit: endpoint http://127.0.0.1:9, bucket " BUCKET
                                      ": cannot reach the server"));
    assert_non_null(strstr(err_msg(), "after 2 attempts"));
    backend_close(b);
}

static void test_server_down(void **state)
{
    (void)state;
    /* a port nobody listens on: retried with backoff, then a clear error */
    config_remote rc = remote_conf("");
    rc.endpoint = "http://127.0.0.1:9";
    rc.retries = 2;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    assert_null(backend_writer_open(b, "x", 0));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "after 3 attempts"));
    assert_non_null(strstr(err_msg(), "127.0.0.1"));
    backend_close(b);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_credentials(void **state)
{
    (void)state;
    config_remote rc = remote_conf("");
    rc.endpoint = "http://127.0.0.1:9";
    /* env: both variables are needed, and named when missing */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_null(remote_backend_open(&rc, 0));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "AWS_SECRET_ACCESS_KEY"));
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_null(remote_backend_open(&rc, 0));
    assert_non_null(strstr(err_msg(), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);

    /* a credentials file: profiles, comments, "[profile x]", spacing */
    char path[128];
    snprintf(path, sizeof path, "%s/credentials", dir);
    write_file(path,
               "# comment\n[default]\naws_access_key_id=A1\naws_secret_access_key = s1\n\n"
               "; other\n[profile ops]\n  aws_access_key_id = A2  \n"
               "aws_secret_access_key=s2\naws_session_token = t2\n[half]\naws_access_key_id=A3\n",
               0600);
    rc.credentials = path;
    rc.profile = "ops";
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    backend_close(b);
    rc.profile = "default";
    assert_non_null(b = remote_backend_open(&rc, 0));
    backend_close(b);
    rc.profile = "half";
    assert_null(remote_backend_open(&rc, 0));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "profile [half] has no aws_secret_access_key"));
    rc.profile = "nope";
    assert_null(remote_backend_open(&rc, 0));
    assert_non_null(strstr(err_msg(), "has no profile [nope]"));
    /* readable by others: refused, and no secret in the message */
    rc.profile = "ops";
    assert_int_equal(chmod(path, 0640), 0);
    assert_null(remote_backend_open(&rc, 0));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "readable by group or others"));
    assert_null(strstr(err_msg(), "s2"));
    rc.credentials = "/nonexistent/credentials";
    assert_null(remote_backend_open(&rc, 0));
    assert_int_equal(err_get_kind(), ERR_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_part_schedule),
        cmocka_unit_test(test_part_size_from_hint),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_server_down),
        cmocka_unit_test(test_probe_unreachable),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_list_skips_unprintable),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_never_overwrites_and_abort),
        cmocka_unit_test(test_list_paginates),
        cmocka_unit_test(test_server_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
