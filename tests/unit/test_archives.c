/* Unit tests: archives (what a remote holds, seen as archives), over a
 * local remote in a temporary directory: the states (complete, missing,
 * incomplete, including temporary names old and new) and the order of a
 * listing; archives_check_sizes; latest and resolve (ARCHIVE and --latest,
 * names with a directory part); reading and verifying a manifest (forged,
 * foreign, untrusted, describing another archive); an archive missing
 * although its signed manifest is there; archives_check at the header and
 * data levels (body, header, size, missing, link, stranger); the newest
 * older archive that verifies, and how it is suggested; loading verify
 * keys. */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "remotes.h"
#include "archives.h"
#include "err.h"
#include "keys.h"
#include "log.h"
#include "manifest.h"
#include "pipeline.h"
#include "stream.h"

#define T0  1704067200 /* 2024-01-01 00:00:00 UTC */
#define DAY 86400

static char tmp[64], nas[128];
static keys_public archive_pub, signing_pub, stranger_pub;
static keys_secret *signing_sec, *stranger_sec;
static char key_paths[3][320]; /* signing.pub, stranger's signing.pub, archive.pub */

/* ---- helpers --------------------------------------------------------------- */

static backend *open_nas(void)
{
    config_remote rc;
    memset(&rc, 0, sizeof rc);
    rc.name = "nas";
    rc.type = "local";
    rc.path = nas;
    backend *b = remote_backend_open(&rc, 0);
    assert_non_null(b);
    return b;
}

static void put(const char *name, const void *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", nas, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void put_size(const char *name, size_t size)
{
    char *z = calloc(1, size ? size : 1);
    put(name, z, size);
    free(z);
}

/* "p_DB_<stamp of T>" */
static const char *name_of(const char *db, time_t t)
{
    static char out[16][CATALOG_NAME_MAX]; /* a test holds up to 16 at once */
    static int next;
    char *o = out[next++ % 16];
    assert_int_equal(catalog_name(o, CATALOG_NAME_MAX, "p", db, t, 0), 0);
    return o;
}

static void put_object(const char *name, const char *suffix, size_t size)
{
    char obj[CATALOG_NAME_MAX + 64];
    snprintf(obj, sizeof obj, "%s%s", name, suffix);
    put_size(obj, size);
}

/* A signed manifest for NAME (database DB) that records ARCHIVE_SIZE, the
 * hashes given (zeros when NULL), signed by SIGNER. */
static void put_manifest(const char *name, const char *db, uint64_t archive_size,
                         const pipeline_backup_result *res, keys_secret *signer)
{
    manifest m;
    memset(&m, 0, sizeof m);
    m.format_version = MANIFEST_FORMAT_VERSION;
    snprintf(m.tool_version, sizeof m.tool_version, "test");
    snprintf(m.database, sizeof m.database, "%s", db);
    m.dump_started = m.dump_ended = T0;
    snprintf(m.host, sizeof m.host, "testhost");
    snprintf(m.archive, sizeof m.archive, "%s", name);
    m.archive_size = archive_size;
    if (res) {
        memcpy(m.archive_blake2b, res->archive_blake2b, 32);
        memcpy(m.archive_header_blake2b, res->archive_header_blake2b, 32);
        m.plaintext_size = res->plain_size;
        memcpy(m.plaintext_blake2b, res->plain_blake2b, 32);
    }
    snprintf(m.dump_format, sizeof m.dump_format, "DZV1");
    snprintf(m.neo4j_era, sizeof m.neo4j_era, "5.x");
    m.chunk_size = STREAM_CHUNK_SIZE;
    memcpy(m.recipient_key_id, archive_pub.id, KEYS_ID_BYTES);
    size_t len;
    char *text = manifest_sign(&m, signer, &len);
    assert_non_null(text);
    char obj[CATALOG_NAME_MAX + 64];
    snprintf(obj, sizeof obj, "%s%s", name, CATALOG_MANIFEST_SUFFIX);
    put(obj, text, len);
    free(text);
}

/* A real archive of some bytes (through the pipeline) and its signed
 * manifest: what backup publishes. */
static void publish(const char *name, const char *db, unsigned seed)
{
    static uint8_t data[150000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * seed + (i >> 7));
    char src[256];
    snprintf(src, sizeof src, "%s/src.bin", tmp);
    FILE *f = fopen(src, "wb");
    fwrite(data, 1, sizeof data, f);
    fclose(f);
    int fd = open(src, O_RDONLY);
    backend *b = open_nas();
    pipeline_backup_job job = {
        .fd = fd, .recipient = &archive_pub, .remotes = &b, .n_remotes = 1, .archive_name = name};
    pipeline_backup_result res;
    assert_int_equal(pipeline_backup(&job, &res), 0);
    assert_int_equal(res.remote_err[0], ERR_NONE);
    close(fd);
    backend_close(b);
    put_manifest(name, db, res.archive_size, &res, signing_sec);
}

static void flip_byte(const char *name, const char *suffix, long at)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s%s", nas, name, suffix);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x20;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

static const archive_info *find(const archive_info *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

/* ---- fixture --------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    log_set_level(LOG_LVL_ERROR);
    snprintf(tmp, sizeof tmp, "/tmp/n4o-archives-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    unsetenv(KEYS_PASSPHRASE_ENV);
    char d[256], p[320];
    keys_public unused;
    snprintf(d, sizeof d, "%s/keys", tmp);
    if (keys_generate(d, NULL, &archive_pub, &signing_pub) < 0)
        return -1;
    snprintf(p, sizeof p, "%s/signing.key", d);
    if (!(signing_sec = keys_load_secret(p, KEYS_SIGNING)))
        return -1;
    snprintf(key_paths[0], sizeof key_paths[0], "%s/signing.pub", d);
    snprintf(key_paths[2], sizeof key_paths[2], "%s/archive.pub", d);
    snprintf(d, sizeof d, "%s/stranger", tmp);
    if (keys_generate(d, NULL, &unused, &stranger_pub) < 0)
        return -1;
    snprintf(p, sizeof p, "%s/signing.key", d);
    if (!(stranger_sec = keys_load_secret(p, KEYS_SIGNING)))
        return -1;
    snprintf(key_paths[1], sizeof key_paths[1], "%s/signing.pub", d);
    snprintf(nas, sizeof nas, "%s/nas", tmp);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    keys_secret_free(signing_sec);
    keys_secret_free(stranger_sec);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd);
}

static int setup(void **state)
{
    (void)state;
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir %s", nas, nas);
    err_clear();
    return system(cmd);
}

/* ---- listing --------------------------------------------------------------- */

static void test_states_and_order(void **state)
{
    (void)state;
    const char *a = name_of("neo4j", T0), *b = name_of("neo4j", T0 + DAY),
               *c = name_of("neo4j", T0 + 2 * DAY), *d = name_of("neo4j", T0 + 3 * DAY);
    const char *e = name_of("neo4j", T0 + 4 * DAY), *f = name_of("neo4j", T0 + 5 * DAY);
    const char *s = name_of("system", T0 - DAY);
    put_object(a, ".dump.enc", 100); /* complete */
    put_object(a, ".dump.manifest", 10);
    put_object(b, ".dump.manifest", 10); /* missing: the manifest promises an archive */
    put_object(c, ".dump.enc", 300);     /* incomplete: no manifest yet */
    char tmpname[512];
    snprintf(tmpname, sizeof tmpname, "%s.dump.enc.0123456789abcdef.partial", d);
    put_size(tmpname, 50); /* an upload in progress */
    snprintf(tmpname, sizeof tmpname, "%s.dump.enc.partial", e);
    put_size(tmpname, 60); /* ... of a version before 0.2 */
    snprintf(tmpname, sizeof tmpname, "%s.dump.enc.fedcba9876543210.partial", f);
    put_size(tmpname, 70); /* an upload whose manifest is there: missing, size 0 */
    put_object(f, ".dump.manifest", 10);
    put_object(s, ".dump.enc", 5); /* another database, older */
    put_object(s, ".dump.manifest", 10);
    /* not archives of prefix p */
    put_size("README", 1);
    put_size("p_neo4j_garbage.dump.enc", 1);
    put_size("q_neo4j_20240101_000000.dump.enc", 1);
    put_size("p_neo4j_20240101_000000.dump", 1);     /* a local dump */
    put_size("p_neo4j_20241301_000000.dump.enc", 1); /* month 13 */

    backend *bk = open_nas();
    archive_info *list;
    size_t n;
    assert_int_equal(archives_list(bk, "p", &list, &n), 0);
    assert_int_equal(n, 7);
    /* by database, then time */
    const char *order[] = {a, b, c, d, e, f, s};
    for (size_t i = 0; i < n; i++)
        assert_string_equal(list[i].name, order[i]);
    const archive_info *x = find(list, n, a);
    assert_int_equal(x->state, ARCHIVE_COMPLETE);
    assert_int_equal(x->size, 100);
    assert_true(x->has_archive && x->has_manifest);
    assert_string_equal(x->database, "neo4j");
    assert_int_equal(x->created, T0);
    x = find(list, n, b);
    assert_int_equal(x->state, ARCHIVE_MISSING);
    assert_int_equal(x->size, 0);
    assert_false(x->has_archive);
    x = find(list, n, c);
    assert_int_equal(x->state, ARCHIVE_INCOMPLETE);
    assert_int_equal(x->size, 300);
    assert_false(x->has_manifest);
    x = find(list, n, d);
    assert_int_equal(x->state, ARCHIVE_INCOMPLETE);
    assert_int_equal(x->size, 50);
    assert_false(x->has_archive);
    x = find(list, n, e);
    assert_int_equal(x->state, ARCHIVE_INCOMPLETE);
    assert_int_equal(x->size, 60);
    x = find(list, n, f);
    assert_int_equal(x->state, ARCHIVE_MISSING);
    assert_int_equal(x->size, 0); /* a partial upload's size is not the archive's */
    x = find(list, n, s);
    assert_string_equal(x->database, "system");
    assert_int_equal(x->state, ARCHIVE_COMPLETE);
    assert_string_equal(archives_state_name(ARCHIVE_COMPLETE), "complete");
    assert_string_equal(archives_state_name(ARCHIVE_MISSING), "missing");
    assert_string_equal(archives_state_name(ARCHIVE_INCOMPLETE), "incomplete");
    free(list);

    /* another prefix sees only its own */
    assert_int_equal(archives_list(bk, "q", &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].state, ARCHIVE_INCOMPLETE);
    free(list);
    assert_int_equal(archives_list(bk, "none", &list, &n), 0);
    assert_int_equal(n, 0);
    free(list);
    backend_close(bk);
}

/* A remote that cannot be listed: an error naming it, an empty list. */
static void test_list_failure(void **state)
{
    (void)state;
    backend *bk = open_nas();
    rmdir(nas);
    archive_info *list = (archive_info *)1;
    size_t n = 5;
    assert_int_equal(archives_list(bk, "p", &list, &n), -1);
    assert_non_null(strstr(err_msg(), "remote nas: "));
    assert_null(list);
    assert_int_equal(n, 0);
    backend_close(bk);
    mkdir(nas, 0700);
}

static void test_check_sizes(void **state)
{
    (void)state;
    const char *full = name_of("neo4j", T0), *shorter = name_of("neo4j", T0 + 1),
               *garbled = name_of("neo4j", T0 + 2), *huge = name_of("neo4j", T0 + 3);
    put_object(full, ".dump.enc", 1000);
    put_manifest(full, "neo4j", 1000, NULL, signing_sec);
    put_object(shorter, ".dump.enc", 999); /* lost its last byte */
    put_manifest(shorter, "neo4j", 1000, NULL, signing_sec);
    put_object(garbled, ".dump.enc", 10);
    put_object(garbled, ".dump.manifest", 0);
    char obj[512];
    snprintf(obj, sizeof obj, "%s.dump.manifest", garbled);
    put(obj, "{not json", 9);
    put_object(huge, ".dump.enc", 10);
    put_object(huge, ".dump.manifest", 70000); /* larger than any manifest */
    backend *bk = open_nas();
    archive_info *list;
    size_t n;
    assert_int_equal(archives_list(bk, "p", &list, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(archives_check_sizes(bk, list, n), 0);
    const archive_info *x = find(list, n, full);
    assert_int_equal(x->state, ARCHIVE_COMPLETE);
    assert_int_equal(x->recorded_size, 1000);
    x = find(list, n, shorter);
    assert_int_equal(x->state, ARCHIVE_MISSING);
    assert_int_equal(x->recorded_size, 1000);
    assert_int_equal(x->size, 999);
    /* unreadable manifests stay complete: verify says what is wrong */
    x = find(list, n, garbled);
    assert_int_equal(x->state, ARCHIVE_COMPLETE);
    assert_int_equal(x->recorded_size, 0);
    x = find(list, n, huge);
    assert_int_equal(x->state, ARCHIVE_COMPLETE);

    /* a manifest removed between the listing and the check (a prune
     * meanwhile): the entry stays as listed, the others are checked */
    for (size_t i = 0; i < n; i++)
        if (list[i].state == ARCHIVE_MISSING)
            list[i].state = ARCHIVE_COMPLETE;
    snprintf(obj, sizeof obj, "%s/%s.dump.manifest", nas, full);
    assert_int_equal(unlink(obj), 0);
    err_clear();
    assert_int_equal(archives_check_sizes(bk, list, n), 0);
    assert_int_equal(err_get_kind(), ERR_NONE);
    assert_int_equal(find(list, n, full)->state, ARCHIVE_COMPLETE);
    assert_int_equal(find(list, n, shorter)->state, ARCHIVE_MISSING);

    /* the remote itself failing is an error, not a finding */
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf %s", nas);
    assert_int_equal(system(cmd), 0);
    for (size_t i = 0; i < n; i++)
        list[i].state = ARCHIVE_COMPLETE;
    err_clear();
    assert_int_equal(archives_check_sizes(bk, list, n), -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "remote nas: "));
    free(list);
    backend_close(bk);
    mkdir(nas, 0700);
}

static void test_latest(void **state)
{
    (void)state;
    archive_info list[5];
    memset(list, 0, sizeof list);
    const struct {
        const char *db;
        time_t t;
        int manifest;
        archive_state st;
    } rows[] = {{"neo4j", T0, 1, ARCHIVE_COMPLETE},
                {"neo4j", T0 + 2 * DAY, 1, ARCHIVE_MISSING},
                {"neo4j", T0 + 3 * DAY, 0, ARCHIVE_INCOMPLETE},
                {"neo4j", T0 + DAY, 1, ARCHIVE_COMPLETE},
                {"system", T0 + 9 * DAY, 1, ARCHIVE_COMPLETE}};
    for (int i = 0; i < 5; i++) {
        snprintf(list[i].name, sizeof list[i].name, "%s", name_of(rows[i].db, rows[i].t));
        snprintf(list[i].database, sizeof list[i].database, "%s", rows[i].db);
        list[i].created = rows[i].t;
        list[i].has_manifest = rows[i].manifest;
        list[i].state = rows[i].st;
    }
    /* the newest with a manifest, even a missing one (the promise of an
     * archive); never an upload without a manifest; never another db */
    assert_ptr_equal(archives_latest(list, 5, "neo4j"), &list[1]);
    assert_ptr_equal(archives_latest(list, 5, "system"), &list[4]);
    assert_null(archives_latest(list, 5, "other"));
    assert_null(archives_latest(list, 0, "neo4j"));
    list[1].has_manifest = 0;
    assert_ptr_equal(archives_latest(list, 5, "neo4j"), &list[3]);
}

static void test_resolve(void **state)
{
    (void)state;
    const char *old = name_of("neo4j", T0), *newer = name_of("neo4j", T0 + DAY),
               *upload = name_of("neo4j", T0 + 2 * DAY);
    put_object(old, ".dump.enc", 1);
    put_object(old, ".dump.manifest", 1);
    put_object(newer, ".dump.enc", 1);
    put_object(newer, ".dump.manifest", 1);
    put_object(upload, ".dump.enc", 1);
    backend *bk = open_nas();
    char out[CATALOG_NAME_MAX];
    assert_int_equal(archives_resolve(bk, "p", nas, NULL, 1, "neo4j", out), 0);
    assert_string_equal(out, newer);
    err_clear();
    assert_int_equal(archives_resolve(bk, "p", nas, NULL, 1, "system", out), -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "remote nas has no complete archive of database system"));

    /* ARCHIVE as given: the name, with or without a suffix */
    char arg[512];
    const char *suffixes[] = {"", ".dump.enc", ".dump.manifest", ".dump"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(arg, sizeof arg, "%s%s", old, suffixes[i]);
        assert_int_equal(archives_resolve(bk, "p", nas, arg, 0, NULL, out), 0);
        assert_string_equal(out, old);
    }
    /* with the remote's own directory (trailing slashes or not) */
    snprintf(arg, sizeof arg, "%s/%s.dump.enc", nas, old);
    assert_int_equal(archives_resolve(bk, "p", nas, arg, 0, NULL, out), 0);
    assert_string_equal(out, old);
    char slashed[256];
    snprintf(slashed, sizeof slashed, "%s//", nas);
    assert_int_equal(archives_resolve(bk, "p", slashed, arg, 0, NULL, out), 0);
    assert_string_equal(out, old);
    /* a file elsewhere is not an object of this remote */
    snprintf(arg, sizeof arg, "/srv/other/%s.dump.enc", old);
    err_clear();
    assert_int_equal(archives_resolve(bk, "p", nas, arg, 0, NULL, out), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "is not an object of the remote"));
    assert_non_null(strstr(err_msg(), nas));
    /* a directory that only starts like the remote's */
    snprintf(arg, sizeof arg, "%sx/%s", nas, old);
    assert_int_equal(archives_resolve(bk, "p", nas, arg, 0, NULL, out), -1);
    /* the directory alone */
    snprintf(arg, sizeof arg, "%s/", nas);
    assert_int_equal(archives_resolve(bk, "p", nas, arg, 0, NULL, out), -1);
    /* no path known (an S3 remote without prefix): no directory part accepted */
    snprintf(arg, sizeof arg, "dir/%s", old);
    assert_int_equal(archives_resolve(bk, "p", NULL, arg, 0, NULL, out), -1);
    assert_non_null(strstr(err_msg(), "its top level"));
    assert_int_equal(archives_resolve(bk, "p", "", arg, 0, NULL, out), -1);
    /* an S3-style prefix */
    snprintf(arg, sizeof arg, "backups/neo4j/%s", old);
    assert_int_equal(archives_resolve(bk, "p", "backups/neo4j", arg, 0, NULL, out), 0);
    assert_string_equal(out, old);
    backend_close(bk);
}

/* ---- manifests ---------------------------------------------------------------- */

static void test_load_manifest(void **state)
{
    (void)state;
    const char *a = name_of("neo4j", T0), *b = name_of("neo4j", T0 + DAY);
    put_manifest(a, "neo4j", 1234, NULL, signing_sec);
    backend *bk = open_nas();
    manifest m;
    assert_int_equal(archives_load_manifest(bk, a, &signing_pub, 1, &m), 0);
    assert_string_equal(m.archive, a);
    assert_int_equal(m.archive_size, 1234);
    assert_string_equal(m.database, "neo4j");

    /* signed by a key that is not trusted */
    put_manifest(b, "neo4j", 1, NULL, stranger_sec);
    err_clear();
    assert_int_equal(archives_load_manifest(bk, b, &signing_pub, 1, &m), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    char want[512];
    snprintf(want, sizeof want, "remote nas: %s.dump.manifest: ", b);
    assert_int_equal(strncmp(err_msg(), want, strlen(want)), 0);
    /* ... trusted once its key is configured (key rotation) */
    keys_public both[2] = {signing_pub, stranger_pub};
    assert_int_equal(archives_load_manifest(bk, b, both, 2, &m), 0);

    /* a forged byte */
    char obj[512];
    snprintf(obj, sizeof obj, "%s/%s.dump.manifest", nas, a);
    FILE *f = fopen(obj, "r+");
    char text[8192];
    size_t len = fread(text, 1, sizeof text, f);
    char *at = strstr(text, "1234");
    assert_non_null(at);
    at[0] = '9';
    rewind(f);
    fwrite(text, 1, len, f);
    fclose(f);
    assert_int_equal(archives_load_manifest(bk, a, &signing_pub, 1, &m), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);

    /* a genuine manifest, of another archive, under this name */
    put_manifest(a, "neo4j", 1234, NULL, signing_sec);
    snprintf(obj, sizeof obj, "%s.dump.manifest", b);
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/%s.dump.manifest", nas, a);
    snprintf(dst, sizeof dst, "%s/%s.dump.manifest", nas, b);
    unlink(dst);
    assert_int_equal(link(src, dst), 0);
    err_clear();
    assert_int_equal(archives_load_manifest(bk, b, &signing_pub, 1, &m), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    snprintf(want, sizeof want, "the manifest describes archive %s, not %s", a, b);
    assert_non_null(strstr(err_msg(), want));

    /* no manifest at all: the remote's error, not an integrity finding */
    const char *c = name_of("neo4j", T0 + 2 * DAY);
    err_clear();
    assert_int_equal(archives_load_manifest(bk, c, &signing_pub, 1, &m), -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "remote nas: "));
    backend_close(bk);
}

static void test_open_verified(void **state)
{
    (void)state;
    const char *a = name_of("neo4j", T0), *gone = name_of("neo4j", T0 + DAY),
               *linked = name_of("neo4j", T0 + 2 * DAY), *bare = name_of("neo4j", T0 + 3 * DAY);
    publish(a, "neo4j", 3);
    backend *bk = open_nas();
    manifest m;
    backend_reader *rd = NULL;
    assert_int_equal(archives_open_verified(bk, a, &signing_pub, 1, &m, &rd), 0);
    assert_non_null(rd);
    uint8_t hdr[STREAM_HEADER_SIZE];
    assert_int_equal(backend_reader_read(rd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
    uint8_t h[32];
    stream_header_hash(hdr, h);
    assert_memory_equal(h, m.archive_header_blake2b, 32); /* the archive it verified */
    backend_reader_close(rd);

    /* the signed manifest promises an archive that is not there */
    put_manifest(gone, "neo4j", 777, NULL, signing_sec);
    err_clear();
    rd = (backend_reader *)1;
    assert_int_equal(archives_open_verified(bk, gone, &signing_pub, 1, &m, &rd), -1);
    assert_null(rd);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    char want[512];
    snprintf(want, sizeof want,
             "remote nas: %s.dump.enc is missing although its signed manifest is there (it "
             "promises 777 bytes)",
             gone);
    assert_non_null(strstr(err_msg(), want));

    /* a link in its place is not the archive either */
    put_manifest(linked, "neo4j", 5, NULL, signing_sec);
    char lnk[512], target[512];
    snprintf(lnk, sizeof lnk, "%s/%s.dump.enc", nas, linked);
    snprintf(target, sizeof target, "%s/%s.dump.enc", nas, a);
    assert_int_equal(symlink(target, lnk), 0);
    assert_int_equal(archives_open_verified(bk, linked, &signing_pub, 1, &m, &rd), -1);
    assert_null(rd);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    assert_non_null(strstr(err_msg(), "is missing"));

    /* an archive without a manifest: the manifest's error, no reader */
    put_object(bare, ".dump.enc", 10);
    assert_int_equal(archives_open_verified(bk, bare, &signing_pub, 1, &m, &rd), -1);
    assert_null(rd);
    assert_int_not_equal(err_get_kind(), ERR_NONE);
    assert_non_null(strstr(err_msg(), ".dump.manifest"));
    /* and a manifest that does not verify: no reader either */
    assert_int_equal(archives_open_verified(bk, a, &stranger_pub, 1, &m, &rd), -1);
    assert_null(rd);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    backend_close(bk);
}

/* ---- archives_check: the one verification, at each level ------------------------ */

/* archives_check of NAME at LEVEL: its return, the error kind and whether
 * the manifest verified; MSG (may be NULL) must be in the error. */
static void check_at(backend *bk, const char *name, archives_check_level level, int rc,
                     int manifest_ok, const char *msg)
{
    manifest m;
    archives_check_result res;
    const archives_check_opts o = {.level = level};
    err_clear();
    assert_int_equal(archives_check(bk, name, &signing_pub, 1, &o, &m, &res), rc);
    assert_int_equal(res.manifest_verified, manifest_ok);
    if (rc == 0) {
        assert_int_equal(res.header_checked, 1);
        assert_int_equal(res.archive_size, m.archive_size);
    } else {
        assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    }
    if (msg && !strstr(err_msg(), msg))
        fail_msg("expected \"%s\" in \"%s\"", msg, err_msg());
}

static void test_check_levels(void **state)
{
    (void)state;
    const char *a = name_of("neo4j", T0), *gone = name_of("neo4j", T0 + DAY),
               *linked = name_of("neo4j", T0 + 2 * DAY);
    publish(a, "neo4j", 5);
    backend *bk = open_nas();
    check_at(bk, a, ARCHIVES_CHECK_HEADER, 0, 1, NULL);
    check_at(bk, a, ARCHIVES_CHECK_DATA, 0, 1, NULL);

    /* a byte of the body: only reading every byte finds it */
    flip_byte(a, ".dump.enc", 5000);
    check_at(bk, a, ARCHIVES_CHECK_HEADER, 0, 1, NULL);
    check_at(bk, a, ARCHIVES_CHECK_DATA, -1, 1, "remote nas: ");
    check_at(bk, a, ARCHIVES_CHECK_DATA, -1, 1, "archive BLAKE2b mismatch");
    flip_byte(a, ".dump.enc", 5000);
    /* a byte of the header: the header level finds it */
    flip_byte(a, ".dump.enc", 40);
    check_at(bk, a, ARCHIVES_CHECK_HEADER, -1, 1,
             "its header is not the one its signed manifest names");
    check_at(bk, a, ARCHIVES_CHECK_DATA, -1, 1, NULL);
    flip_byte(a, ".dump.enc", 40);
    /* a byte appended: the size, before anything is read */
    char p[512];
    snprintf(p, sizeof p, "%s/%s.dump.enc", nas, a);
    FILE *f = fopen(p, "ab");
    fputc('x', f);
    fclose(f);
    check_at(bk, a, ARCHIVES_CHECK_HEADER, -1, 1, "(bytes appended?)");
    check_at(bk, a, ARCHIVES_CHECK_DATA, -1, 1, NULL);
    assert_int_equal(truncate(p, 100), 0); /* and cut inside its header */
    check_at(bk, a, ARCHIVES_CHECK_HEADER, -1, 1, "(truncated?)");

    /* missing behind its signed manifest, or a link in its place */
    put_manifest(gone, "neo4j", 777, NULL, signing_sec);
    check_at(bk, gone, ARCHIVES_CHECK_HEADER, -1, 1, "is missing although its signed manifest");
    check_at(bk, gone, ARCHIVES_CHECK_DATA, -1, 1, "is missing although its signed manifest");
    put_manifest(linked, "neo4j", 5, NULL, signing_sec);
    char lnk[512];
    snprintf(lnk, sizeof lnk, "%s/%s.dump.enc", nas, linked);
    assert_int_equal(symlink(p, lnk), 0);
    check_at(bk, linked, ARCHIVES_CHECK_HEADER, -1, 1, "is missing");

    /* a manifest signed by a stranger: not verified, nothing else read */
    put_manifest(gone, "neo4j", 777, NULL, stranger_sec);
    check_at(bk, gone, ARCHIVES_CHECK_HEADER, -1, 0, "unknown key");
    check_at(bk, gone, ARCHIVES_CHECK_DATA, -1, 0, "unknown key");
    backend_close(bk);
}

/* ---- the newest older archive that verifies ------------------------------------ */

static void test_older_verified(void **state)
{
    (void)state;
    const char *t1 = name_of("neo4j", T0), *t2 = name_of("neo4j", T0 + DAY),
               *t3 = name_of("neo4j", T0 + 2 * DAY), *t4 = name_of("neo4j", T0 + 3 * DAY);
    publish(t1, "neo4j", 1);
    publish(t2, "neo4j", 2);
    publish(t3, "neo4j", 3); /* the one that "failed" */
    publish(t4, "neo4j", 4); /* newer than the failed one: never suggested */
    publish(name_of("system", T0 + DAY), "system", 5);
    const char *t0 = name_of("neo4j", T0 - DAY);
    put_object(t0, ".dump.enc", 10); /* incomplete: never checked */
    backend *bk = open_nas();
    char out[CATALOG_NAME_MAX];
    assert_int_equal(archives_older_verified(bk, "p", "neo4j", t3, &signing_pub, 1, out), 1);
    assert_string_equal(out, t2);

    /* t2's archive altered: the next one down */
    flip_byte(t2, ".dump.enc", 5000);
    assert_int_equal(archives_older_verified(bk, "p", "neo4j", t3, &signing_pub, 1, out), 1);
    assert_string_equal(out, t1);
    /* t1's manifest signed by nobody we trust: none left */
    put_manifest(t1, "neo4j", 1, NULL, stranger_sec);
    assert_int_equal(archives_older_verified(bk, "p", "neo4j", t3, &signing_pub, 1, out), 0);

    /* the suggestion appended to the current error, kind kept */
    err_set(ERR_INTEGRITY, "%s: bad", t3);
    archives_suggest_older(bk, "p", "neo4j", t3, &signing_pub, 1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    char want[512];
    snprintf(want, sizeof want, "%s: bad; no older archive of neo4j verifies on remote nas", t3);
    assert_string_equal(err_msg(), want);
    /* a failed name that is not listed at all: everything older than
     * nothing, i.e. every other complete archive, newest first */
    assert_int_equal(archives_older_verified(bk, "p", "neo4j", "p_neo4j_x", &signing_pub, 1, out),
                     1);
    assert_string_equal(out, t4);
    /* with t4 as the one that failed, t3 is the newest older one and verifies */
    err_set(ERR_FAIL, "remote down");
    archives_suggest_older(bk, "p", "neo4j", t4, &signing_pub, 1);
    snprintf(want, sizeof want, "remote down; the newest older archive that verifies is %s", t3);
    assert_int_equal(strncmp(err_msg(), want, strlen(want)), 0);
    assert_int_equal(err_get_kind(), ERR_FAIL);

    /* a remote that cannot be listed: -1, and the error is left as it was */
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf %s", nas);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(archives_older_verified(bk, "p", "neo4j", t3, &signing_pub, 1, out), -1);
    err_set(ERR_INTEGRITY, "original");
    archives_suggest_older(bk, "p", "neo4j", t3, &signing_pub, 1);
    assert_string_equal(err_msg(), "original");
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    backend_close(bk);
    mkdir(nas, 0700);
}

static void test_verify_keys(void **state)
{
    (void)state;
    char *paths[2] = {key_paths[0], key_paths[1]};
    keys_public *keys = NULL;
    size_t n = 9;
    assert_int_equal(archives_load_verify_keys(paths, 2, &keys, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(keys[0].id, signing_pub.id, KEYS_ID_BYTES);
    assert_memory_equal(keys[1].id, stranger_pub.id, KEYS_ID_BYTES);
    free(keys);
    /* none configured: an empty, freeable list */
    assert_int_equal(archives_load_verify_keys(NULL, 0, &keys, &n), 0);
    assert_int_equal(n, 0);
    free(keys);
    /* an archive key where a signing key belongs, or a missing file */
    char *wrong[2] = {key_paths[0], key_paths[2]};
    assert_int_equal(archives_load_verify_keys(wrong, 2, &keys, &n), -1);
    assert_null(keys);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.pub", tmp);
    char *gone[1] = {missing};
    assert_int_equal(archives_load_verify_keys(gone, 1, &keys, &n), -1);
    assert_null(keys);
    assert_non_null(strstr(err_msg(), missing));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_states_and_order, setup),
        cmocka_unit_test_setup(test_list_failure, setup),
        cmocka_unit_test_setup(test_check_sizes, setup),
        cmocka_unit_test_setup(test_latest, setup),
        cmocka_unit_test_setup(test_resolve, setup),
        cmocka_unit_test_setup(test_load_manifest, setup),
        cmocka_unit_test_setup(test_open_verified, setup),
        cmocka_unit_test_setup(test_check_levels, setup),
        cmocka_unit_test_setup(test_older_verified, setup),
        cmocka_unit_test_setup(test_verify_keys, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
