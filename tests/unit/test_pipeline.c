/* Unit tests: pipeline, the threaded data path of backup and fetch, over
 * local remotes in a temporary directory, with dumps made by the gendump
 * tool ($N4O_BUILD/gendump; these tests skip without it).
 *
 * Backup: every remote gets the same archive, whose size and BLAKE2b the
 * result reports, and the local copy is the source byte for byte; an
 * invalid dump, a failing dump command, a changed local copy or a signal
 * publish nothing and leave no temporary file, each reported by its own
 * cause (the dump command's exit status before the cut stream it left); a
 * failing remote fails alone; memory stays flat whatever the size.
 * Fetch: the round trip to a file and to a descriptor; every integrity
 * finding (cut, extended or altered archive, another key, a manifest that
 * does not match) fails without leaving the output file; an output that
 * fails is the error reported, not what that did to the stages before it;
 * a stalled output holds the reading back (bounded read-ahead); Ctrl-C. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "backend.h"
#include "remotes.h"
#include "catalog.h"
#include "err.h"
#include "keys.h"
#include "log.h"
#include "manifest.h"
#include "child.h"
#include "neo4j.h"
#include "pipeline.h"
#include "signals.h"
#include "stream.h"

#define NAME  "p_neo4j_20240101_000000"
#define MIB   (1024u * 1024u)
#define SEED0 11

static char tmp[64];
static char gendump[512];
static keys_public pub, other_pub;
static keys_secret *sec, *other_sec;
static char dump_path[128], bad_dump_path[128];

/* ---- helpers --------------------------------------------------------------- */

static void path_in(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", tmp, rel);
}

/* Entries of directory REL, sorted, joined by spaces. */
static const char *listing(const char *rel)
{
    static char out[4096];
    char p[256];
    path_in(p, sizeof p, rel);
    struct dirent **ents;
    int n = scandir(p, &ents, NULL, alphasort);
    assert_true(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (ents[i]->d_name[0] != '.') {
            if (out[0])
                strncat(out, " ", sizeof out - strlen(out) - 1);
            strncat(out, ents[i]->d_name, sizeof out - strlen(out) - 1);
        }
        free(ents[i]);
    }
    free(ents);
    return out;
}

static backend *open_dir(const char *name, const char *rel)
{
    char p[256];
    path_in(p, sizeof p, rel);
    config_remote rc;
    memset(&rc, 0, sizeof rc);
    rc.name = (char *)name;
    rc.type = "local";
    rc.path = p;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    return b;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static void blake2b(const uint8_t *buf, size_t len, uint8_t out[32])
{
    crypto_generichash(out, 32, buf, len, NULL, 0);
}

#define NEED_GENDUMP()                                                                             \
    do {                                                                                           \
        if (!gendump[0])                                                                           \
            skip();                                                                                \
    } while (0)

/* The manifest backup would sign for RES (pipeline_fetch reads it as
 * verified: signatures are archives.c's business). */
static void make_manifest(const pipeline_backup_result *res, manifest *m)
{
    memset(m, 0, sizeof *m);
    m->format_version = MANIFEST_FORMAT_VERSION;
    snprintf(m->archive, sizeof m->archive, "%s", NAME);
    snprintf(m->database, sizeof m->database, "neo4j");
    m->archive_size = res->archive_size;
    memcpy(m->archive_blake2b, res->archive_blake2b, 32);
    memcpy(m->archive_header_blake2b, res->archive_header_blake2b, 32);
    m->plaintext_size = res->plain_size;
    memcpy(m->plaintext_blake2b, res->plain_blake2b, 32);
    m->chunk_size = STREAM_CHUNK_SIZE;
    memcpy(m->recipient_key_id, pub.id, KEYS_ID_BYTES);
}

/* Back up the file at SRC (validated) to the remotes; the result in RES. */
static int backup_file(const char *src, backend **remotes, size_t n, const char *local,
                       pipeline_backup_result *res)
{
    int fd = open(src, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    pipeline_backup_job job = {
        .fd = fd,
        .size_hint = (uint64_t)st.st_size,
        .validate = 1,
        .local_path = local,
        .recipient = &pub,
        .remotes = remotes,
        .n_remotes = n,
        .archive_name = NAME,
        .label = "test",
    };
    int rc = pipeline_backup(&job, res);
    close(fd);
    return rc;
}

/* An archive of the valid dump on remote directory REL; its manifest in M. */
static void make_archive(const char *rel, manifest *m)
{
    backend *b = open_dir("src", rel);
    pipeline_backup_result res;
    assert_int_equal(backup_file(dump_path, &b, 1, NULL, &res), 0);
    assert_int_equal(res.remote_err[0], ERR_NONE);
    make_manifest(&res, m);
    backend_close(b);
}

/* ---- fixture --------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    signals_install();
    child_set_kill_grace_ms(200);
    log_set_level(LOG_LVL_WARN);
    snprintf(tmp, sizeof tmp, "/tmp/n4o-pipeline-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    unsetenv(KEYS_PASSPHRASE_ENV);
    char d[256], p[320];
    for (int i = 0; i < 2; i++) {
        snprintf(d, sizeof d, "%s/keys%d", tmp, i);
        keys_public a, s;
        if (keys_generate(d, NULL, &a, &s) < 0)
            return -1;
        snprintf(p, sizeof p, "%s/archive.key", d);
        keys_secret *k = keys_load_secret(p, KEYS_ARCHIVE);
        if (!k)
            return -1;
        if (i == 0) {
            pub = a;
            sec = k;
        } else {
            other_pub = a;
            other_sec = k;
        }
    }
    const char *build = getenv("N4O_BUILD");
    if (build) {
        snprintf(gendump, sizeof gendump, "%s/gendump", build);
        if (access(gendump, X_OK) != 0)
            gendump[0] = '\0';
    }
    if (!gendump[0]) {
        fprintf(stderr, "note: $N4O_BUILD/gendump not found: most tests skip\n");
        return 0;
    }
    path_in(dump_path, sizeof dump_path, "source.dump");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' --size 3M --seed %d '%s' 2>/dev/null", gendump, SEED0,
             dump_path);
    if (system(cmd) != 0)
        return -1;
    /* the same dump with one byte changed in the middle */
    size_t len;
    uint8_t *buf = slurp(dump_path, &len);
    buf[len / 2] ^= 0x40;
    path_in(bad_dump_path, sizeof bad_dump_path, "bad.dump");
    spit(bad_dump_path, buf, len);
    free(buf);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    keys_secret_free(sec);
    keys_secret_free(other_sec);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd);
}

/* Fresh remote directories r1 r2 r3, out/ and local/ for each test. */
static int setup(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cd %s && rm -rf r1 r2 r3 out local && mkdir r1 r2 r3 out local",
             tmp);
    signals_reset();
    err_clear();
    return system(cmd);
}

/* ---- backup ---------------------------------------------------------------- */

static void test_backup_and_fetch_round_trip(void **state)
{
    (void)state;
    NEED_GENDUMP();
    size_t src_len;
    uint8_t *src = slurp(dump_path, &src_len);
    uint8_t src_hash[32];
    blake2b(src, src_len, src_hash);

    backend *remotes[2] = {open_dir("r1", "r1"), open_dir("r2", "r2")};
    char local[256];
    path_in(local, sizeof local, "local/" NAME ".dump");
    pipeline_backup_result res;
    assert_int_equal(backup_file(dump_path, remotes, 2, local, &res), 0);

    /* what was read */
    assert_int_equal(res.plain_size, src_len);
    assert_memory_equal(res.plain_blake2b, src_hash, 32);
    assert_string_equal(res.dump.format, "DZV1");
    assert_int_equal(res.dump.dump_size, src_len);
    assert_true(res.dump.files > 0);
    /* the local copy: the source, byte for byte, owner-only */
    size_t copy_len;
    uint8_t *copy = slurp(local, &copy_len);
    assert_non_null(copy);
    assert_int_equal(copy_len, src_len);
    assert_memory_equal(copy, src, src_len);
    free(copy);
    struct stat st;
    assert_int_equal(stat(local, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* each remote holds the same archive, as reported */
    assert_int_equal(res.archive_size, stream_archive_size(src_len, STREAM_CHUNK_SIZE));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(res.remote_err[i], ERR_NONE);
        char p[256];
        path_in(p, sizeof p, i ? "r2/" NAME ".dump.enc" : "r1/" NAME ".dump.enc");
        size_t alen;
        uint8_t *arch = slurp(p, &alen);
        assert_non_null(arch);
        assert_int_equal(alen, res.archive_size);
        uint8_t h[32];
        blake2b(arch, alen, h);
        assert_memory_equal(h, res.archive_blake2b, 32);
        stream_header_hash(arch, h);
        assert_memory_equal(h, res.archive_header_blake2b, 32);
        uint8_t id[KEYS_ID_BYTES];
        assert_int_equal(stream_header_recipient(arch, alen, id), 0);
        assert_memory_equal(id, pub.id, KEYS_ID_BYTES);
        free(arch);
    }
    assert_string_equal(listing("r1"), NAME ".dump.enc"); /* and nothing else */
    assert_string_equal(listing("r2"), NAME ".dump.enc");
    assert_true(res.seconds >= 0);

    /* fetch to a file, decrypted and validated */
    manifest m;
    make_manifest(&res, &m);
    char out[256];
    path_in(out, sizeof out, "out/fetched.dump");
    pipeline_fetch_job fj = {
        .remote = remotes[1], .m = &m, .secret = sec, .out_path = out, .out_fd = -1};
    pipeline_fetch_result fr;
    assert_int_equal(pipeline_fetch(&fj, &fr), 0);
    assert_int_equal(fr.archive_size, res.archive_size);
    assert_int_equal(fr.plain_size, src_len);
    assert_int_equal(fr.dump.files, res.dump.files);
    uint8_t *back = slurp(out, &copy_len);
    assert_int_equal(copy_len, src_len);
    assert_memory_equal(back, src, src_len);
    free(back);
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_string_equal(listing("out"), "fetched.dump");

    /* sizes and hashes only (verify), and deep without the ciphertext hash */
    pipeline_fetch_job vj = {.remote = remotes[0], .m = &m, .out_fd = -1};
    assert_int_equal(pipeline_fetch(&vj, &fr), 0);
    assert_int_equal(fr.archive_size, res.archive_size);
    assert_int_equal(fr.plain_size, 0);
    vj.secret = sec;
    vj.skip_archive_hash = 1;
    vj.rd = pipeline_fetch_open(remotes[0], NAME); /* opened ahead, closed by fetch */
    assert_non_null(vj.rd);
    assert_int_equal(pipeline_fetch(&vj, &fr), 0);
    assert_int_equal(fr.plain_size, src_len);
    free(src);
    backend_close(remotes[0]);
    backend_close(remotes[1]);
}

/* Only a local copy (no remote, no key needed), and no validation: any
 * bytes go through. */
static void test_backup_local_copy_only(void **state)
{
    (void)state;
    static uint8_t data[700001];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 9));
    char src[256], local[256];
    path_in(src, sizeof src, "out/data.bin");
    spit(src, data, sizeof data);
    path_in(local, sizeof local, "local/copy.bin");
    int fd = open(src, O_RDONLY);
    pipeline_backup_job job = {.fd = fd, .local_path = local, .archive_name = NAME};
    pipeline_backup_result res;
    assert_int_equal(pipeline_backup(&job, &res), 0);
    close(fd);
    assert_int_equal(res.plain_size, sizeof data);
    uint8_t h[32];
    blake2b(data, sizeof data, h);
    assert_memory_equal(res.plain_blake2b, h, 32);
    assert_int_equal(res.archive_size, 0);
    size_t len;
    uint8_t *copy = slurp(local, &len);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(copy, data, len);
    free(copy);
    assert_string_equal(listing("local"), "copy.bin");
}

/* An invalid dump: ERR_INTEGRITY with dumpcheck's reason; no archive, no
 * local copy, no temporary file; every remote says why it got nothing. */
static void test_backup_invalid_dump_publishes_nothing(void **state)
{
    (void)state;
    NEED_GENDUMP();
    backend *remotes[2] = {open_dir("r1", "r1"), open_dir("r2", "r2")};
    char local[256];
    path_in(local, sizeof local, "local/" NAME ".dump");
    pipeline_backup_result res;
    assert_int_equal(backup_file(bad_dump_path, remotes, 2, local, &res), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    assert_non_null(strstr(err_msg(), "offset"));
    assert_string_equal(listing("r1"), "");
    assert_string_equal(listing("r2"), "");
    assert_string_equal(listing("local"), "");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(res.remote_err[i], ERR_FAIL);
        assert_non_null(strstr(res.remote_msg[i], "not uploaded"));
    }
    backend_close(remotes[0]);
    backend_close(remotes[1]);
}

/* The dump command fails after writing part of a valid dump: its exit
 * status and last stderr line are the error, not the cut stream it left. */
static void test_backup_child_failure_is_the_cause(void **state)
{
    (void)state;
    NEED_GENDUMP();
    char tpl[512];
    snprintf(tpl, sizeof tpl,
             "sh -c 'head -c 400000 %s; echo \"neo4j-admin: disk on fire\" >&2; exit 3'",
             dump_path);
    neo4j_child *c = neo4j_spawn("dump_command", tpl, "neo4j", CHILD_READ_STDOUT, 30);
    assert_non_null(c);
    backend *r1 = open_dir("r1", "r1");
    char local[256];
    path_in(local, sizeof local, "local/" NAME ".dump");
    pipeline_backup_job job = {.child = c,
                               .fd = -1,
                               .validate = 1,
                               .local_path = local,
                               .recipient = &pub,
                               .remotes = &r1,
                               .n_remotes = 1,
                               .archive_name = NAME};
    pipeline_backup_result res;
    assert_int_equal(pipeline_backup(&job, &res), -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "dump_command failed (exit 3)"));
    assert_non_null(strstr(err_msg(), "disk on fire"));
    assert_string_equal(listing("r1"), "");
    assert_string_equal(listing("local"), "");
    assert_int_equal(res.remote_err[0], ERR_FAIL);

    /* the same cut stream from a command that exits 0: an invalid dump */
    snprintf(tpl, sizeof tpl, "sh -c 'head -c 400000 %s'", dump_path);
    job.child = neo4j_spawn("dump_command", tpl, "neo4j", CHILD_READ_STDOUT, 30);
    assert_non_null(job.child);
    assert_int_equal(pipeline_backup(&job, &res), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    assert_string_equal(listing("r1"), "");
    assert_string_equal(listing("local"), "");

    /* a whole dump from a command: published */
    snprintf(tpl, sizeof tpl, "sh -c 'cat %s'", dump_path);
    job.child = neo4j_spawn("dump_command", tpl, "neo4j", CHILD_READ_STDOUT, 30);
    assert_int_equal(pipeline_backup(&job, &res), 0);
    assert_int_equal(res.remote_err[0], ERR_NONE);
    assert_string_equal(listing("r1"), NAME ".dump.enc");
    assert_string_equal(listing("local"), NAME ".dump");
    backend_close(r1);
}

/* The local copy changed since it was dumped (a second pass re-reads it):
 * nothing is uploaded. */
static void test_backup_expected_hash(void **state)
{
    (void)state;
    NEED_GENDUMP();
    size_t len;
    uint8_t *src = slurp(dump_path, &len);
    uint8_t h[32];
    blake2b(src, len, h);
    free(src);
    backend *r1 = open_dir("r1", "r1");
    int fd = open(dump_path, O_RDONLY);
    uint8_t wrong[32];
    memcpy(wrong, h, 32);
    wrong[0] ^= 1;
    pipeline_backup_job job = {.fd = fd,
                               .validate = 1,
                               .expect_plain_blake2b = wrong,
                               .recipient = &pub,
                               .remotes = &r1,
                               .n_remotes = 1,
                               .archive_name = NAME};
    pipeline_backup_result res;
    assert_int_equal(pipeline_backup(&job, &res), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    assert_non_null(strstr(err_msg(), "changed since it was dumped"));
    assert_string_equal(listing("r1"), "");
    /* the right hash: published */
    lseek(fd, 0, SEEK_SET);
    job.expect_plain_blake2b = h;
    assert_int_equal(pipeline_backup(&job, &res), 0);
    assert_string_equal(listing("r1"), NAME ".dump.enc");
    close(fd);
    backend_close(r1);
}

/* A remote that fails (its name taken there, or a write refused) fails
 * alone: the others get the archive, the run succeeds, no temporary file
 * is left on the failed one. */
static void test_backup_remote_failures_isolated(void **state)
{
    (void)state;
    NEED_GENDUMP();
    char taken[256];
    path_in(taken, sizeof taken, "r2/" NAME ".dump.enc");
    spit(taken, (const uint8_t *)"older", 5);
    backend *remotes[2] = {open_dir("r1", "r1"), open_dir("r2", "r2")};
    pipeline_backup_result res;
    assert_int_equal(backup_file(dump_path, remotes, 2, NULL, &res), 0);
    assert_int_equal(res.remote_err[0], ERR_NONE);
    assert_int_equal(res.remote_err[1], ERR_FAIL);
    assert_non_null(strstr(res.remote_msg[1], "remote r2: "));
    assert_non_null(strstr(res.remote_msg[1], "already exists"));
    assert_string_equal(listing("r1"), NAME ".dump.enc");
    assert_string_equal(listing("r2"), NAME ".dump.enc");
    size_t len;
    uint8_t *kept = slurp(taken, &len);
    assert_int_equal(len, 5); /* not replaced */
    free(kept);

    /* writes refused part-way (past RLIMIT_FSIZE, which the plain local copy
     * stays under and the larger archives do not) */
    setup(NULL);
    struct stat st;
    stat(dump_path, &st);
    char local[256];
    path_in(local, sizeof local, "local/" NAME ".dump");
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size + 16;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = backup_file(dump_path, remotes, 2, local, &res);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, 0); /* the source was fine */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(res.remote_err[i], ERR_FAIL);
        assert_non_null(strstr(res.remote_msg[i], strerror(EFBIG)));
    }
    assert_string_equal(listing("r1"), "");
    assert_string_equal(listing("r2"), "");
    assert_string_equal(listing("local"), NAME ".dump");
    backend_close(remotes[0]);
    backend_close(remotes[1]);
}

static void test_backup_too_many_remotes(void **state)
{
    (void)state;
    backend *r1 = open_dir("r1", "r1");
    backend *many[PIPELINE_MAX_REMOTES + 1];
    for (size_t i = 0; i < PIPELINE_MAX_REMOTES + 1; i++)
        many[i] = r1;
    char local[256];
    path_in(local, sizeof local, "local/x.dump");
    pipeline_backup_job job = {.fd = 0,
                               .local_path = local,
                               .recipient = &pub,
                               .remotes = many,
                               .n_remotes = PIPELINE_MAX_REMOTES + 1,
                               .archive_name = NAME};
    pipeline_backup_result res;
    assert_int_equal(pipeline_backup(&job, &res), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "at most 16 remotes"));
    assert_string_equal(listing("local"), "");
    assert_string_equal(listing("r1"), "");
    backend_close(r1);
}

/* ---- a source fed by a thread ---------------------------------------------- */

typedef struct {
    int fd;
    uint64_t total;       /* bytes to write, then close */
    uint64_t raise_after; /* raise SIGINT once this many were written (0: never) */
    atomic_ullong written;
} feeder;

static void *feed_main(void *arg)
{
    feeder *f = arg;
    static _Thread_local uint8_t block[65536];
    uint64_t x = 88172645463325252ull;
    int raised = 0;
    while (atomic_load(&f->written) < f->total) {
        for (size_t i = 0; i < sizeof block; i += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(block + i, &x, 8);
        }
        uint64_t left = f->total - atomic_load(&f->written);
        size_t n = left < sizeof block ? (size_t)left : sizeof block;
        size_t off = 0;
        while (off < n) {
            ssize_t k = write(f->fd, block + off, n - off);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                goto out; /* the reader went away */
            off += (size_t)k;
            atomic_fetch_add(&f->written, (unsigned long long)k);
        }
        if (f->raise_after && !raised && atomic_load(&f->written) >= f->raise_after) {
            raise(SIGINT);
            raised = 1;
        }
    }
out:
    close(f->fd);
    return NULL;
}

/* Ctrl-C during a backup from a stream: the read stops, nothing is
 * published, no temporary file is left. */
static void test_backup_signal_stops(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    feeder f = {.fd = p[1], .total = 1ull << 40, .raise_after = 3 * MIB};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed_main, &f), 0);
    backend *remotes[2] = {open_dir("r1", "r1"), open_dir("r2", "r2")};
    char local[256];
    path_in(local, sizeof local, "local/" NAME ".dump");
    pipeline_backup_job job = {.fd = p[0],
                               .local_path = local,
                               .recipient = &pub,
                               .remotes = remotes,
                               .n_remotes = 2,
                               .archive_name = NAME};
    pipeline_backup_result res;
    int rc = pipeline_backup(&job, &res);
    close(p[0]); /* the feeder's next write fails: it ends */
    pthread_join(t, NULL);
    assert_int_equal(rc, -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "interrupted by signal 2"));
    assert_true(atomic_load(&f.written) < 64 * MIB); /* it stopped soon */
    assert_string_equal(listing("r1"), "");
    assert_string_equal(listing("r2"), "");
    assert_string_equal(listing("local"), "");
    signals_reset();
    backend_close(remotes[0]);
    backend_close(remotes[1]);
}

static long vm_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0)
            v = strtol(line + fl, NULL, 10);
    fclose(f);
    return v;
}

/* Memory is bounded by the rings, never by the dump size: 128 MiB through
 * a backup raise the peak RSS by far less than that.  (Skipped under
 * AddressSanitizer, whose quarantine and shadow memory make RSS say
 * nothing about the program's own use.) */
static void test_backup_memory_flat(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#endif
    FILE *cr = fopen("/proc/self/clear_refs", "w");
    if (!cr || fputs("5", cr) < 0 || fclose(cr) != 0) /* reset the peak RSS */
        skip();
    long base = vm_kib("VmHWM:");
    if (base <= 0)
        skip();
    int p[2];
    assert_int_equal(pipe(p), 0);
    feeder f = {.fd = p[1], .total = 128ull * MIB};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed_main, &f), 0);
    backend *r1 = open_dir("r1", "r1");
    pipeline_backup_job job = {
        .fd = p[0], .recipient = &pub, .remotes = &r1, .n_remotes = 1, .archive_name = NAME};
    pipeline_backup_result res;
    int rc = pipeline_backup(&job, &res);
    pthread_join(t, NULL);
    close(p[0]);
    long peak = vm_kib("VmHWM:");
    assert_int_equal(rc, 0);
    assert_int_equal(res.plain_size, 128ull * MIB);
    assert_int_equal(res.remote_err[0], ERR_NONE);
    /* rings: 8 x 256 KiB + 4 x 1 MiB; threads' stacks and arenas on top */
    print_message("    peak RSS grew by %ld KiB for 128 MiB\n", peak - base);
    assert_true(peak - base < 40 * 1024);
    backend_close(r1);
}

/* ---- fetch ------------------------------------------------------------------ */

/* Write the archive of r1 into r3 changed by EDIT: "cut" drops the last
 * byte, "extend" adds one, "flip" changes one in the middle, "none" keeps
 * it as it is. */
static void altered_copy(const char *edit)
{
    char a[256], b[256];
    path_in(a, sizeof a, "r1/" NAME ".dump.enc");
    path_in(b, sizeof b, "r3/" NAME ".dump.enc");
    size_t len;
    uint8_t *buf = slurp(a, &len);
    assert_non_null(buf);
    uint8_t *grown = realloc(buf, len + 1);
    if (!grown)
        free(buf);
    assert_non_null(grown);
    buf = grown;
    if (strcmp(edit, "cut") == 0)
        len--;
    else if (strcmp(edit, "extend") == 0)
        buf[len++] = 0;
    else if (strcmp(edit, "flip") == 0)
        buf[len / 2] ^= 0x01;
    unlink(b);
    spit(b, buf, len);
    free(buf);
}

/* Fetch NAME from r3 with M; must fail with KIND and NEEDLE, leaving no
 * output file. */
static void expect_fetch_fails(const manifest *m, const keys_secret *secret, int skip_hash,
                               err_kind kind, const char *needle)
{
    backend *r3 = open_dir("r3", "r3");
    char out[256];
    path_in(out, sizeof out, "out/fetched.dump");
    pipeline_fetch_job j = {.remote = r3,
                            .m = m,
                            .secret = secret,
                            .out_path = secret ? out : NULL,
                            .out_fd = -1,
                            .skip_archive_hash = skip_hash};
    pipeline_fetch_result fr;
    err_clear();
    assert_int_equal(pipeline_fetch(&j, &fr), -1);
    if (err_get_kind() != kind || !strstr(err_msg(), needle))
        fail_msg("expected kind %d with \"%s\", got kind %d: %s", kind, needle, err_get_kind(),
                 err_msg());
    assert_string_equal(listing("out"), "");
    backend_close(r3);
}

static void test_fetch_integrity_findings(void **state)
{
    (void)state;
    NEED_GENDUMP();
    manifest m;
    make_archive("r1", &m);

    altered_copy("cut");
    expect_fetch_fails(&m, NULL, 0, ERR_INTEGRITY, "manifest says");
    expect_fetch_fails(&m, sec, 0, ERR_INTEGRITY, NAME ".dump.enc");
    altered_copy("extend");
    expect_fetch_fails(&m, NULL, 0, ERR_INTEGRITY, "larger than");
    expect_fetch_fails(&m, sec, 1, ERR_INTEGRITY, "larger than");
    altered_copy("flip");
    expect_fetch_fails(&m, NULL, 0, ERR_INTEGRITY, "archive BLAKE2b mismatch");
    expect_fetch_fails(&m, sec, 0, ERR_INTEGRITY, NAME ".dump.enc");
    expect_fetch_fails(&m, sec, 1, ERR_INTEGRITY, NAME ".dump.enc");

    /* an intact archive, but a manifest that says otherwise */
    altered_copy("none");
    manifest bad = m;
    bad.plaintext_blake2b[0] ^= 1;
    expect_fetch_fails(&bad, sec, 0, ERR_INTEGRITY, "dump BLAKE2b mismatch");
    bad = m;
    bad.plaintext_size--;
    expect_fetch_fails(&bad, sec, 0, ERR_INTEGRITY, "manifest says");
    bad = m;
    bad.archive_header_blake2b[5] ^= 1;
    expect_fetch_fails(&bad, sec, 1, ERR_INTEGRITY, "manifest");
    bad = m;
    bad.archive_size++;
    expect_fetch_fails(&bad, NULL, 0, ERR_INTEGRITY, "manifest says");
    /* the archive is for another key */
    expect_fetch_fails(&m, other_sec, 1, ERR_INTEGRITY, NAME ".dump.enc");

    /* the intact archive passes with the same manifest */
    backend *r3 = open_dir("r3", "r3");
    pipeline_fetch_job j = {.remote = r3, .m = &m, .secret = sec, .out_fd = -1};
    pipeline_fetch_result fr;
    assert_int_equal(pipeline_fetch(&j, &fr), 0);
    backend_close(r3);
}

/* An archive of an invalid dump (published without validation) fails the
 * dumpcheck inside. */
static void test_fetch_invalid_dump_inside(void **state)
{
    (void)state;
    NEED_GENDUMP();
    backend *r3 = open_dir("r3", "r3");
    int fd = open(bad_dump_path, O_RDONLY);
    pipeline_backup_job job = {
        .fd = fd, .recipient = &pub, .remotes = &r3, .n_remotes = 1, .archive_name = NAME};
    pipeline_backup_result res;
    assert_int_equal(pipeline_backup(&job, &res), 0);
    close(fd);
    manifest m;
    make_manifest(&res, &m);
    backend_close(r3);
    expect_fetch_fails(&m, sec, 1, ERR_INTEGRITY, "dump inside: ");
    /* without a secret only sizes and hashes are checked: it passes */
    r3 = open_dir("r3", "r3");
    pipeline_fetch_job j = {.remote = r3, .m = &m, .out_fd = -1};
    pipeline_fetch_result fr;
    assert_int_equal(pipeline_fetch(&j, &fr), 0);
    backend_close(r3);
}

static void test_fetch_missing_archive(void **state)
{
    (void)state;
    backend *r1 = open_dir("r1", "r1");
    err_clear();
    assert_null(pipeline_fetch_open(r1, NAME));
    assert_non_null(strstr(err_msg(), "remote r1: "));
    assert_non_null(strstr(err_msg(), NAME ".dump.enc"));
    manifest m;
    memset(&m, 0, sizeof m);
    m.format_version = 2;
    snprintf(m.archive, sizeof m.archive, "%s", NAME);
    char out[256];
    path_in(out, sizeof out, "out/x.dump");
    pipeline_fetch_job j = {.remote = r1, .m = &m, .secret = sec, .out_path = out, .out_fd = -1};
    pipeline_fetch_result fr;
    assert_int_equal(pipeline_fetch(&j, &fr), -1);
    assert_non_null(strstr(err_msg(), "remote r1: "));
    assert_string_equal(listing("out"), "");
    backend_close(r1);
}

/* Plaintext to a descriptor is for format 2 only: a format 1 header is not
 * bound to the manifest. */
static void test_fetch_fd_needs_format_2(void **state)
{
    (void)state;
    NEED_GENDUMP();
    manifest m;
    make_archive("r1", &m);
    m.format_version = 1;
    backend *r1 = open_dir("r1", "r1");
    int p[2];
    assert_int_equal(pipe(p), 0);
    pipeline_fetch_job j = {.remote = r1, .m = &m, .secret = sec, .out_fd = p[1]};
    pipeline_fetch_result fr;
    assert_int_equal(pipeline_fetch(&j, &fr), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "format 1"));
    /* not a byte went out */
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 0);
    close(p[0]);
    backend_close(r1);
}

typedef struct {
    int fd;
    int close_after; /* bytes to read before closing (-1: read to the end) */
    int delay_ms;    /* before the first read */
    uint8_t *buf;
    size_t len, cap;
} drain;

static void *drain_main(void *arg)
{
    drain *d = arg;
    if (d->delay_ms)
        usleep((useconds_t)d->delay_ms * 1000);
    for (;;) {
        if (d->len == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1 << 20;
            d->buf = realloc(d->buf, d->cap);
            assert_non_null(d->buf);
        }
        size_t want = d->cap - d->len;
        if (d->close_after >= 0 && want > (size_t)d->close_after - d->len)
            want = (size_t)d->close_after - d->len;
        if (want == 0)
            break;
        ssize_t n = read(d->fd, d->buf + d->len, want);
        if (n <= 0)
            break;
        d->len += (size_t)n;
    }
    close(d->fd);
    return NULL;
}

static void test_fetch_to_fd(void **state)
{
    (void)state;
    NEED_GENDUMP();
    manifest m;
    make_archive("r1", &m);
    backend *r1 = open_dir("r1", "r1");
    int p[2];
    assert_int_equal(pipe(p), 0);
    drain d = {.fd = p[0], .close_after = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drain_main, &d), 0);
    pipeline_fetch_job j = {.remote = r1, .m = &m, .secret = sec, .out_fd = p[1]};
    pipeline_fetch_result fr;
    int rc = pipeline_fetch(&j, &fr);
    close(p[1]);
    pthread_join(t, NULL);
    assert_int_equal(rc, 0);
    size_t len;
    uint8_t *src = slurp(dump_path, &len);
    assert_int_equal(d.len, len);
    assert_memory_equal(d.buf, src, len);
    free(src);
    free(d.buf);
    backend_close(r1);
}

/* The reader of the output goes away (a pipe to `head`): that is the error,
 * not the "output stopped" the decrypting stage then sees. */
static void test_fetch_output_failure_is_the_cause(void **state)
{
    (void)state;
    NEED_GENDUMP();
    manifest m;
    make_archive("r1", &m);
    backend *r1 = open_dir("r1", "r1");
    int p[2];
    assert_int_equal(pipe(p), 0);
    drain d = {.fd = p[0], .close_after = 100000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drain_main, &d), 0);
    pipeline_fetch_job j = {.remote = r1, .m = &m, .secret = sec, .out_fd = p[1]};
    pipeline_fetch_result fr;
    int rc = pipeline_fetch(&j, &fr);
    pthread_join(t, NULL);
    close(p[1]);
    free(d.buf);
    assert_int_equal(rc, -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "output closed by the reading process (EPIPE)"));
    assert_null(strstr(err_msg(), "output stopped"));
    assert_int_equal(signals_pending(), 0); /* SIGPIPE is not a stop request */

    /* a file that cannot be written past some size (a full disk) */
    char out[256];
    path_in(out, sizeof out, "out/fetched.dump");
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 500000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    pipeline_fetch_job jf = {.remote = r1, .m = &m, .secret = sec, .out_path = out, .out_fd = -1};
    rc = pipeline_fetch(&jf, &fr);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "output: cannot write"));
    assert_non_null(strstr(err_msg(), strerror(EFBIG)));
    assert_string_equal(listing("out"), "");

    /* an output that cannot be created */
    path_in(out, sizeof out, "out/missing/fetched.dump");
    jf.out_path = out;
    assert_int_equal(pipeline_fetch(&jf, &fr), -1);
    assert_non_null(strstr(err_msg(), "output: cannot create"));
    assert_string_equal(listing("out"), "");
    backend_close(r1);
}

typedef struct {
    pipeline_fetch_job job;
    pipeline_fetch_result res;
    int rc;
    char msg[1024];
} fetch_thread_arg;

static void *fetch_main(void *arg)
{
    fetch_thread_arg *a = arg;
    a->rc = pipeline_fetch(&a->job, &a->res);
    snprintf(a->msg, sizeof a->msg, "%s", err_msg());
    return NULL;
}

/* The position of the descriptor open on PATH, -1 when none. */
static long long fd_pos(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long long pos = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        char link[300], target[512];
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, path) != 0)
            continue;
        char info[300];
        snprintf(info, sizeof info, "/proc/self/fdinfo/%s", de->d_name);
        FILE *f = fopen(info, "r");
        char line[128];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "pos:", 4) == 0)
                pos = strtoll(line + 4, NULL, 10);
        if (f)
            fclose(f);
    }
    closedir(d);
    return pos;
}

/* While nobody reads the output, the archive is read only as far as the
 * rings hold: a bounded read-ahead, not the whole archive in memory.  Then
 * the output drains and the fetch completes. */
static void test_fetch_stalled_output_bounded(void **state)
{
    (void)state;
    NEED_GENDUMP();
    char big[256], cmd[1024];
    path_in(big, sizeof big, "out/big.dump");
    snprintf(cmd, sizeof cmd, "'%s' --size 48M --seed 5 '%s' 2>/dev/null", gendump, big);
    assert_int_equal(system(cmd), 0);
    backend *r1 = open_dir("r1", "r1");
    pipeline_backup_result res;
    assert_int_equal(backup_file(big, &r1, 1, NULL, &res), 0);
    unlink(big);
    assert_true(res.archive_size > 24 * MIB);
    manifest m;
    make_manifest(&res, &m);
    int p[2];

    char archive[256];
    path_in(archive, sizeof archive, "r1/" NAME ".dump.enc");
    assert_int_equal(pipe(p), 0);
    fetch_thread_arg a = {.job = {.remote = r1, .m = &m, .secret = sec, .out_fd = p[1]}};
    a.job.rd = pipeline_fetch_open(r1, NAME);
    assert_non_null(a.job.rd);
    pthread_t ft;
    assert_int_equal(pthread_create(&ft, NULL, fetch_main, &a), 0);
    /* wait until the reading stops moving */
    long long pos = -1, last = -2;
    for (int stable = 0, i = 0; i < 200 && stable < 4; i++) {
        usleep(50 * 1000);
        pos = fd_pos(archive);
        stable = pos == last ? stable + 1 : 0;
        last = pos;
    }
    print_message("    read ahead of a stalled output: %lld of %llu bytes\n", pos,
                  (unsigned long long)res.archive_size);
    if (pos <= 0) {
        close(p[0]);
        pthread_join(ft, NULL);
        fail_msg("the archive is not being read (fetch: %d, %s)", a.rc, a.msg);
    }
    /* two rings of 8 x 256 KiB, a pipe, a chunk or two in flight */
    assert_true(pos < 8 * MIB);
    drain d = {.fd = p[0], .close_after = -1};
    pthread_t dt;
    assert_int_equal(pthread_create(&dt, NULL, drain_main, &d), 0);
    pthread_join(ft, NULL);
    close(p[1]);
    pthread_join(dt, NULL);
    if (a.rc != 0)
        fail_msg("fetch failed: %s", a.msg);
    assert_int_equal(d.len, res.plain_size);
    uint8_t h[32];
    blake2b(d.buf, d.len, h);
    assert_memory_equal(h, res.plain_blake2b, 32);
    free(d.buf);
    backend_close(r1);
}

/* Ctrl-C before or during a fetch: it stops, no output file is left. */
static void test_fetch_signal(void **state)
{
    (void)state;
    NEED_GENDUMP();
    manifest m;
    make_archive("r1", &m);
    backend *r1 = open_dir("r1", "r1");
    char out[256];
    path_in(out, sizeof out, "out/fetched.dump");
    raise(SIGTERM);
    pipeline_fetch_job j = {.remote = r1, .m = &m, .secret = sec, .out_path = out, .out_fd = -1};
    pipeline_fetch_result fr;
    assert_int_equal(pipeline_fetch(&j, &fr), -1);
    assert_non_null(strstr(err_msg(), "interrupted by signal 15"));
    assert_string_equal(listing("out"), "");
    signals_reset();
    backend_close(r1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_backup_and_fetch_round_trip, setup),
        cmocka_unit_test_setup(test_backup_local_copy_only, setup),
        cmocka_unit_test_setup(test_backup_invalid_dump_publishes_nothing, setup),
        cmocka_unit_test_setup(test_backup_child_failure_is_the_cause, setup),
        cmocka_unit_test_setup(test_backup_expected_hash, setup),
        cmocka_unit_test_setup(test_backup_remote_failures_isolated, setup),
        cmocka_unit_test_setup(test_backup_too_many_remotes, setup),
        cmocka_unit_test_setup(test_backup_signal_stops, setup),
        cmocka_unit_test_setup(test_backup_memory_flat, setup),
        cmocka_unit_test_setup(test_fetch_integrity_findings, setup),
        cmocka_unit_test_setup(test_fetch_invalid_dump_inside, setup),
        cmocka_unit_test_setup(test_fetch_missing_archive, setup),
        cmocka_unit_test_setup(test_fetch_fd_needs_format_2, setup),
        cmocka_unit_test_setup(test_fetch_to_fd, setup),
        cmocka_unit_test_setup(test_fetch_output_failure_is_the_cause, setup),
        cmocka_unit_test_setup(test_fetch_stalled_output_bounded, setup),
        cmocka_unit_test_setup(test_fetch_signal, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
