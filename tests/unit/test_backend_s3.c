/* Unit tests: the S3 backend through the backend interface, against a real
 * S3 server on loopback (s3rver, started here through
 * tests/tools/s3_harness.sh; skipped when it is not installed): round trips,
 * never overwriting, paginated listings, names that would drive a terminal,
 * server errors and the probe; plus the part-size schedule, the credentials
 * rules and an unreachable server, which need no server; and
 * backend_remove_many against a scripted server (fake_http.h): DeleteObjects
 * batches of 1,000 keys with their Content-MD5 and escaped keys, per-key
 * errors, answers not to be trusted, retries, the fallback to one DELETE
 * per key on a server without DeleteObjects, and cancelling.  A hostile
 * server is in test_s3_hostile.c. */
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
#include <openssl/evp.h>
#include <sodium.h>

#include "backend.h"
#include "remotes.h"
#include "err.h"
#include "fake_http.h"
#include "s3/http.h"
#include "s3/multipart.h"
#include "s3/s3.h"
#include "s3/sigv4.h"

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

/* ---- remove_many: DeleteObjects against a scripted server (fake_http.h) -- */

enum { DEL_OK, DEL_ANSWER, DEL_STATUS };

/* What the scripted server does, and what it saw. */
static struct {
    int mode;           /* DEL_OK: an empty DeleteResult; DEL_ANSWER: ANSWER; DEL_STATUS */
    const char *answer; /* body of a 200 (DEL_ANSWER) */
    size_t answer_len;  /* when ANSWER is not a string */
    int status;         /* DEL_STATUS: this status to every POST... */
    const char *code;   /* ...with this S3 error code (NULL: a bare status) */
    int fail_first;     /* the first FAIL_FIRST POSTs get 503 SlowDown */
    int cancel_after;   /* the cancel hook answers SIGTERM from this POST on (0: never) */
    int posts, deletes, others;
    size_t keys[8]; /* <Key> elements of each POST */
    int bad_md5;    /* POSTs whose Content-MD5 is not the body's */
    int bad_sha;    /* POSTs whose x-amz-content-sha256 is not the body's */
    char *first_body;
} del;
static atomic_int del_cancel;

static void del_reset(void)
{
    free(del.first_body);
    memset(&del, 0, sizeof del);
    atomic_store(&del_cancel, 0);
}

static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static int del_handler(fake_http *s, int fd, const fake_req *req)
{
    if (strcmp(req->method, "DELETE") == 0) {
        pthread_mutex_lock(&s->mu);
        del.deletes++;
        pthread_mutex_unlock(&s->mu);
        return fake_reply(fd, req, 204, NULL, NULL, 0);
    }
    if (strcmp(req->method, "POST") != 0 || !strstr(req->target, "?delete")) {
        pthread_mutex_lock(&s->mu);
        del.others++;
        pthread_mutex_unlock(&s->mu);
        return fake_s3_error(fd, req, 400, "InvalidRequest", "not expected here");
    }
    /* the Content-MD5 and the payload hash, recomputed from what arrived */
    unsigned char d[16];
    unsigned int dl = 0;
    char md5[32], got[128], sha[65];
    EVP_Digest(req->body, req->body_len, d, &dl, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)md5, d, 16);
    sigv4_sha256_hex(req->body, req->body_len, sha);
    pthread_mutex_lock(&s->mu);
    int n = del.posts++;
    if (n < 8)
        del.keys[n] = count_of(req->body, "<Object><Key>");
    if (!fake_header(req, "Content-MD5", got, sizeof got) || strcmp(got, md5) != 0)
        del.bad_md5++;
    if (!fake_header(req, "x-amz-content-sha256", got, sizeof got) || strcmp(got, sha) != 0)
        del.bad_sha++;
    if (!del.first_body)
        del.first_body = strdup(req->body);
    if (del.cancel_after && del.posts >= del.cancel_after)
        atomic_store(&del_cancel, SIGTERM);
    int mode = del.mode, fail = n < del.fail_first;
    pthread_mutex_unlock(&s->mu);
    if (fail)
        return fake_s3_error(fd, req, 503, "SlowDown", "Please reduce your request rate.");
    if (mode == DEL_STATUS && del.code)
        return fake_s3_error(fd, req, del.status, del.code, "scripted");
    if (mode == DEL_STATUS)
        return fake_reply(fd, req, del.status, NULL, NULL, 0);
    const char *body = mode == DEL_ANSWER ? del.answer
                                          : "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                            "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/"
                                            "2006-03-01/\"></DeleteResult>";
    size_t len = mode == DEL_ANSWER && del.answer_len ? del.answer_len : strlen(body);
    return fake_reply(fd, req, 200, "Content-Type: application/xml\r\n", body, len);
}

static int del_pending(void *arg)
{
    (void)arg;
    return atomic_load(&del_cancel);
}

static char del_endpoint[64];

static backend *del_open(int retries)
{
    s3_params p;
    memset(&p, 0, sizeof p);
    p.name = "unit";
    p.cancel.pending = del_pending;
    p.endpoint = del_endpoint;
    p.region = "us-east-1";
    p.bucket = "b";
    p.prefix = "pre";
    p.url_style = "path";
    p.credentials = "env";
    p.retries = retries;
    p.connect_timeout = 5;
    p.io_timeout = 10;
    backend *b = s3_backend_open(&p, 0);
    assert_non_null(b);
    return b;
}

static fake_http *del_start(void)
{
    del_reset();
    fake_http *s = fake_http_start(del_handler, NULL);
    assert_non_null(s);
    snprintf(del_endpoint, sizeof del_endpoint, "http://127.0.0.1:%d", s->port);
    return s;
}

/* N names "nNNNN.dump.enc" (malloc'd, free with free_names). */
static char **make_names(size_t n)
{
    char **names = calloc(n, sizeof *names);
    assert_non_null(names);
    for (size_t i = 0; i < n; i++)
        assert_true(asprintf(&names[i], "n%04zu.dump.enc", i) > 0);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void free_errors(char **errors, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(errors[i]);
}

static void test_remove_many_batches(void **state)
{
    (void)state;
    fake_http *s = del_start();
    backend *b = del_open(0);
    enum { N = 2500 };
    char **names = make_names(N);
    free(names[7]);
    names[7] = strdup("a&b<c>d\"e'f.dump");
    static char *errors[N];
    assert_int_equal(backend_remove_many(b, (const char *const *)names, N, errors), 0);
    for (size_t i = 0; i < N; i++)
        assert_null(errors[i]);
    /* three requests of 1000, 1000 and 500 keys, each with its Content-MD5
     * and payload hash; nothing sent one by one */
    assert_int_equal(del.posts, 3);
    assert_int_equal(del.keys[0], 1000);
    assert_int_equal(del.keys[1], 1000);
    assert_int_equal(del.keys[2], 500);
    assert_int_equal(del.bad_md5, 0);
    assert_int_equal(del.bad_sha, 0);
    assert_int_equal(del.deletes + del.others, 0);
    assert_int_equal(fake_count(s, "POST /b?delete"), 3);
    /* Quiet, keys under the prefix, XML-escaped */
    assert_non_null(del.first_body);
    assert_int_equal(
        strncmp(del.first_body, "<Delete><Quiet>true</Quiet><Object><Key>pre/n0000", 49), 0);
    assert_non_null(strstr(del.first_body,
                           "<Object><Key>pre/a&amp;b&lt;c&gt;d&quot;e&apos;f.dump</Key></Object>"));
    assert_null(strstr(del.first_body, "a&b"));
    /* ERRORS may be NULL */
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 10, NULL), 0);
    assert_int_equal(del.posts, 4);
    assert_int_equal(del.keys[3], 10);
    /* a name the backend refuses: nothing is tried */
    const char *bad[] = {"ok.dump", "x/y"};
    errors[0] = (char *)"untouched";
    assert_int_equal(backend_remove_many(b, bad, 2, errors), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "remote unit: "));
    assert_null(errors[0]);
    assert_int_equal(del.posts, 4);
    free_names(names, N);
    backend_close(b);
    fake_http_stop(s);
}

static void test_remove_many_errors(void **state)
{
    (void)state;
    fake_http *s = del_start();
    backend *b = del_open(0);
    char **names = make_names(5);
    char *errors[5];
    /* per-key errors (AWS's form), one quoting a C1 control; keys that were
     * not asked for (without the prefix, another case, never named) */
    del.mode = DEL_ANSWER;
    del.answer = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult>"
                 "<Error><Key>pre/n0003.dump.enc</Key><Code>InternalError</Code>"
                 "<Message>We encountered an internal error. Please try again.</Message></Error>"
                 "<Error><Key>n0000.dump.enc</Key><Code>AccessDenied</Code></Error>"
                 "<Error><Key>PRE/n0002.dump.enc</Key><Code>AccessDenied</Code></Error>"
                 "<Error><Key>pre/n0001.dump.enc</Key><Code>AccessDenied</Code>"
                 "<Message>Access \xc2\x9b denied</Message></Error>"
                 "<Error><Key>pre/never-asked</Key><Code>AccessDenied</Code></Error>"
                 "<Deleted><Key>pre/n0004.dump.enc</Key></Deleted>"
                 "</DeleteResult>";
    /* "pre/never-asked" is no key of ours: the others are not known to be gone */
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), 5);
    assert_non_null(strstr(errors[0], "n0000.dump.enc: not known to be deleted"));
    assert_non_null(errors[1]);
    assert_string_equal(errors[1],
                        "remote unit: pre/n0001.dump.enc: AccessDenied: Access \\xc2\\x9b denied");
    assert_non_null(strstr(errors[2], "not known to be deleted"));
    assert_non_null(errors[3]);
    assert_string_equal(errors[3], "remote unit: pre/n0003.dump.enc: InternalError: We "
                                   "encountered an internal error. Please try again.");
    assert_non_null(strstr(errors[4], "not known to be deleted"));
    free_errors(errors, 5);

    /* errors for keys never asked for (or none named): a quiet answer lists
     * no deletions, so no key is known to be gone */
    del.answer = "<DeleteResult><Error><Key>pre/n0001.dump.enc </Key><Code>AccessDenied</Code>"
                 "</Error><Error><Code>AccessDenied</Code></Error>"
                 "<Error><Key>pre/n0001.dump.enc/x</Key></Error></DeleteResult>";
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), 5);
    for (int i = 0; i < 5; i++) {
        assert_non_null(errors[i]);
        assert_non_null(strstr(errors[i], "not known to be deleted"));
    }
    free_errors(errors, 5);
    /* an empty quiet answer: everything was removed */
    del.answer = "<DeleteResult></DeleteResult>";
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), 0);
    for (int i = 0; i < 5; i++)
        assert_null(errors[i]);

    /* answers that are no DeleteResult fail the whole batch, every key
     * naming the cause */
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"this is not XML <<<", "malformed S3 response"},
        {"", "malformed S3 response"},
        {"<ListBucketResult></ListBucketResult>", "S3 answered ListBucketResult to DeleteObjects"},
        {"<Error><Code>InternalError</Code><Message>later</Message></Error>",
         "S3 answered an error: InternalError: later"},
        {"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><DeleteResult>&a;</DeleteResult>", "DOCTYPE"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        del.answer = bad[k].body;
        assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), 5);
        for (int i = 0; i < 5; i++) {
            assert_non_null(errors[i]);
            char want[64];
            snprintf(want, sizeof want, "remote unit: pre/n%04d.dump.enc: ", i);
            if (strncmp(errors[i], want, strlen(want)) != 0 || !strstr(errors[i], bad[k].why))
                fail_msg("answer %zu, key %d: %s", k, i, errors[i]);
        }
        free_errors(errors, 5);
    }

    /* more entries than keys can have (1,001), and an answer past 8 MiB */
    strbuf big;
    strbuf_init(&big, 0);
    strbuf_puts(&big, "<DeleteResult>");
    for (int i = 0; i <= 1000; i++)
        strbuf_printf(&big, "<Error><Key>pre/n%04d.dump.enc</Key><Code>X</Code></Error>", i % 5);
    strbuf_puts(&big, "</DeleteResult>");
    del.answer = strbuf_str(&big);
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), 5);
    assert_non_null(strstr(errors[0], "more than 1000 entries"));
    free_errors(errors, 5);
    strbuf_free(&big);
    size_t huge = S3HTTP_MAX_BODY + 1;
    char *hb = malloc(huge);
    assert_non_null(hb);
    memset(hb, ' ', huge);
    memcpy(hb, "<DeleteResult>", 14);
    del.answer = hb;
    del.answer_len = huge;
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), 5);
    assert_non_null(strstr(errors[4], "larger than"));
    free_errors(errors, 5);
    free(hb);
    del.answer_len = 0;

    /* an HTTP failure of the batch: every key gets it */
    del.mode = DEL_STATUS;
    del.status = 403;
    del.code = "AccessDenied";
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), 5);
    for (int i = 0; i < 5; i++)
        assert_non_null(strstr(errors[i], "HTTP 403 AccessDenied"));
    free_errors(errors, 5);
    assert_int_equal(del.deletes, 0);
    free_names(names, 5);
    backend_close(b);
    fake_http_stop(s);
}

/* A DeleteObjects answered 503 is sent again, as every request is. */
static void test_remove_many_retried(void **state)
{
    (void)state;
    fake_http *s = del_start();
    backend *b = del_open(2);
    char **names = make_names(3);
    char *errors[3];
    del.fail_first = 2;
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 3, errors), 0);
    assert_int_equal(del.posts, 3);
    assert_int_equal(del.bad_md5, 0);
    free_names(names, 3);
    backend_close(b);
    fake_http_stop(s);
}

/* A server without DeleteObjects: one DELETE per key, the batch not tried
 * again on that remote. */
static void test_remove_many_fallback(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *code;
    } answers[] = {
        {501, "NotImplemented"}, {501, NULL}, {405, "MethodNotAllowed"}, {400, "NotImplemented"}};
    char **names = make_names(5);
    char *errors[5];
    for (size_t k = 0; k < sizeof answers / sizeof answers[0]; k++) {
        fake_http *s = del_start();
        backend *b = del_open(0);
        del.mode = DEL_STATUS;
        del.status = answers[k].status;
        del.code = answers[k].code;
        assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), 0);
        for (int i = 0; i < 5; i++)
            assert_null(errors[i]);
        assert_int_equal(del.posts, 1);
        assert_int_equal(del.deletes, 5);
        assert_int_equal(fake_count(s, "DELETE /b/pre/n0"), 5);
        assert_int_equal(backend_remove_many(b, (const char *const *)names, 3, errors), 0);
        assert_int_equal(del.posts, 1);
        assert_int_equal(del.deletes, 8);
        backend_close(b);
        fake_http_stop(s);
    }
    /* another 400 is a failure of the batch, not a missing feature */
    fake_http *s = del_start();
    backend *b = del_open(0);
    del.mode = DEL_STATUS;
    del.status = 400;
    del.code = "MalformedXML";
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), 5);
    assert_non_null(strstr(errors[2], "HTTP 400 MalformedXML"));
    free_errors(errors, 5);
    assert_int_equal(del.deletes, 0);
    backend_close(b);
    fake_http_stop(s);
    free_names(names, 5);
}

/* A signal stops the run between batches: no request after it. */
static void test_remove_many_cancelled(void **state)
{
    (void)state;
    fake_http *s = del_start();
    backend *b = del_open(0);
    enum { N = 2500 };
    char **names = make_names(N);
    static char *errors[N];
    del.cancel_after = 2;
    assert_int_equal(backend_remove_many(b, (const char *const *)names, N, errors), -1);
    assert_non_null(strstr(err_msg(), "remote unit: "));
    assert_non_null(strstr(err_msg(), "interrupted by signal 15"));
    assert_int_equal(del.posts, 2);
    assert_int_equal(del.deletes, 0);
    for (size_t i = 0; i < N; i++)
        assert_null(errors[i]);
    /* already pending: nothing is sent */
    assert_int_equal(backend_remove_many(b, (const char *const *)names, N, errors), -1);
    assert_int_equal(del.posts, 2);
    /* the fallback stops too */
    atomic_store(&del_cancel, 0);
    del.cancel_after = 0;
    del.mode = DEL_STATUS;
    del.status = 501;
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 1, errors), 0);
    assert_int_equal(del.deletes, 1);
    atomic_store(&del_cancel, SIGTERM);
    assert_int_equal(backend_remove_many(b, (const char *const *)names, 5, errors), -1);
    assert_int_equal(del.deletes, 1);
    free_names(names, N);
    backend_close(b);
    fake_http_stop(s);
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
        cmocka_unit_test(test_remove_many_batches),
        cmocka_unit_test(test_remove_many_errors),
        cmocka_unit_test(test_remove_many_retried),
        cmocka_unit_test(test_remove_many_fallback),
        cmocka_unit_test(test_remove_many_cancelled),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
