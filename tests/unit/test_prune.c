/* Unit tests: prune over a local remote and a local directory in a
 * temporary directory: the plan applied (dry run changes nothing), both
 * objects of an archive deleted, a manifest that cannot be removed keeps
 * its archive (manifest first), an archive shorter than its manifest
 * records is missing and no longer counts among min_keep, incomplete
 * uploads by their age, one database at a time, future dates; locally the
 * dump and safety-dump rules, empty dumps, links and foreign files. */
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

#include "catalog.h"
#include "err.h"
#include "keys.h"
#include "local/local.h"
#include "log.h"
#include "manifest.h"
#include "prune.h"

#define DAY  86400
#define HOUR 3600

static char tmp[64], dir[128];
static keys_public archive_pub;
static keys_secret *signer;
static time_t now;
static const retention_policy policy = {7, 3, 0, 0};

static void fresh_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    assert_int_equal(system(cmd), 0);
}

static void put(const char *name, size_t size, time_t mtime)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc('a', f);
    fclose(f);
    if (mtime) {
        struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    }
}

static int exists(const char *name)
{
    char p[2048];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

static const char *name_of(const char *db, time_t t, int safety)
{
    static char out[32][CATALOG_NAME_MAX];
    static int next;
    char *o = out[next++ % 32];
    assert_int_equal(catalog_name(o, CATALOG_NAME_MAX, "p", db, t, safety), 0);
    return o;
}

static const char *with(const char *name, const char *suffix)
{
    static char out[8][CATALOG_NAME_MAX + 64];
    static int next;
    char *o = out[next++ % 8];
    snprintf(o, CATALOG_NAME_MAX + 64, "%s%s", name, suffix);
    return o;
}

/* An archive of SIZE bytes and a signed manifest recording RECORDED. */
static void put_archive(const char *name, const char *db, size_t size, size_t recorded)
{
    manifest m;
    memset(&m, 0, sizeof m);
    m.format_version = MANIFEST_FORMAT_VERSION;
    snprintf(m.tool_version, sizeof m.tool_version, "test");
    snprintf(m.database, sizeof m.database, "%s", db);
    m.dump_started = m.dump_ended = now;
    snprintf(m.host, sizeof m.host, "testhost");
    snprintf(m.archive, sizeof m.archive, "%s", name);
    m.archive_size = recorded;
    snprintf(m.dump_format, sizeof m.dump_format, "DZV1");
    snprintf(m.neo4j_era, sizeof m.neo4j_era, "5.x");
    m.chunk_size = 65536;
    memcpy(m.recipient_key_id, archive_pub.id, KEYS_ID_BYTES);
    size_t len;
    char *text = manifest_sign(&m, signer, &len);
    assert_non_null(text);
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, with(name, CATALOG_MANIFEST_SUFFIX));
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    put(with(name, CATALOG_ARCHIVE_SUFFIX), size, 0);
}

static backend *open_dir(void)
{
    local_params p = {.name = "nas", .path = dir};
    backend *b = local_backend_open(&p);
    assert_non_null(b);
    return b;
}

static const prune_item *item(const prune_result *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i].name, name) == 0)
            return &r->items[i];
    fail_msg("no item %s", name);
    return NULL;
}

/* ---- remote ------------------------------------------------------------ */

static void test_remote_plan(void **state)
{
    (void)state;
    fresh_dir();
    static const int days[] = {1, 2, 3, 4, 5, 6, 8, 9, 10, 12};
    const char *n[10];
    for (int i = 0; i < 10; i++) {
        n[i] = name_of("neo4j", now - days[i] * DAY, 0);
        put_archive(n[i], "neo4j", 100, 100);
    }
    const char *sys1 = name_of("system", now - 20 * DAY, 0);
    const char *sys2 = name_of("system", now - 21 * DAY, 0);
    put_archive(sys1, "system", 10, 10);
    put_archive(sys2, "system", 10, 10);
    put("notes.txt", 3, 0);

    backend *b = open_dir();
    prune_result r;
    prune_opts o = {.prefix = "p", .policy = policy, .now = now, .dry_run = 1};
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.n, 12);
    assert_int_equal(r.backups, 12);
    assert_int_equal(r.to_delete, 4);
    assert_int_equal(r.removed, 0);
    for (int i = 0; i < 10; i++)
        assert_true(exists(with(n[i], CATALOG_ARCHIVE_SUFFIX)));
    assert_string_equal(item(&r, n[6])->why, "older than keep_days");
    assert_string_equal(item(&r, n[0])->why, "within keep_days");
    assert_string_equal(item(&r, sys2)->why, "one of the min_keep newest complete backups");
    prune_result_free(&r);

    /* one database at a time: the others are not even judged */
    o.database = "system";
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.to_delete, 0);
    prune_result_free(&r);
    o.database = "neo4j";
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.n, 10);
    assert_int_equal(r.to_delete, 4);
    prune_result_free(&r);
    /* a list of databases, as backup and push judge a target at once */
    const char *both[] = {"system", "neo4j"}, *other[] = {"graph"};
    o.database = NULL;
    o.databases = both;
    o.n_databases = 2;
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.n, 12);
    prune_result_free(&r);
    o.databases = other;
    o.n_databases = 1;
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.n, 0);
    prune_result_free(&r);
    o.databases = NULL;
    o.n_databases = 0;

    o.database = NULL;
    o.dry_run = 0;
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.removed, 4);
    assert_int_equal(r.failed, 0);
    assert_int_equal(prune_outcome(&r), ERR_NONE);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(exists(with(n[i], CATALOG_ARCHIVE_SUFFIX)), i < 6);
        assert_int_equal(exists(with(n[i], CATALOG_MANIFEST_SUFFIX)), i < 6);
    }
    assert_true(exists(with(sys2, CATALOG_ARCHIVE_SUFFIX)));
    assert_true(exists("notes.txt"));
    prune_result_free(&r);
    backend_close(b);
}

/* The newest of four old archives is shorter than its manifest records:
 * it is missing, so min_keep keeps the three older good ones. */
static void test_remote_short_archive(void **state)
{
    (void)state;
    fresh_dir();
    const char *n[4];
    for (int i = 0; i < 4; i++)
        n[i] = name_of("neo4j", now - (20 + i) * DAY, 0);
    put_archive(n[0], "neo4j", 50, 100);
    for (int i = 1; i < 4; i++)
        put_archive(n[i], "neo4j", 100, 100);
    backend *b = open_dir();
    prune_result r;
    prune_opts o = {.prefix = "p", .policy = policy, .now = now};
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.missing, 1);
    assert_int_equal(prune_outcome(&r), ERR_INTEGRITY);
    assert_string_equal(item(&r, n[0])->state, "missing");
    assert_false(exists(with(n[0], CATALOG_MANIFEST_SUFFIX))); /* past the window */
    for (int i = 1; i < 4; i++)
        assert_true(exists(with(n[i], CATALOG_ARCHIVE_SUFFIX)));
    prune_result_free(&r);
    backend_close(b);
}

/* A driver holding two objects of an expired archive, recording the order
 * of removals and refusing to remove the manifest when told to. */
static char removed_log[512];
static int refuse_manifest;
static const char *fake_names[2];

static void fake_close(void *impl)
{
    (void)impl;
}

static int fake_list(void *impl, const char *prefix, backend_entry **out, size_t *n)
{
    (void)impl;
    (void)prefix;
    *out = calloc(2, sizeof **out);
    for (int i = 0; i < 2; i++) {
        (*out)[i].name = strdup(fake_names[i]);
        (*out)[i].size = 100;
        (*out)[i].mtime = now - 40 * DAY;
    }
    *n = 2;
    return 0;
}

static int fake_remove(void *impl, const char *name)
{
    (void)impl;
    if (refuse_manifest && strstr(name, CATALOG_MANIFEST_SUFFIX))
        return err_set(ERR_FAIL, "%s: Permission denied", name);
    strcat(removed_log, strstr(name, CATALOG_MANIFEST_SUFFIX) ? "M" : "A");
    return 0;
}

static const backend_ops fake_ops = {
    .type = "fake", .close = fake_close, .list = fake_list, .remove = fake_remove};

static void test_remote_manifest_first(void **state)
{
    (void)state;
    const char *old = name_of("neo4j", now - 30 * DAY, 0);
    fake_names[0] = with(old, CATALOG_ARCHIVE_SUFFIX);
    fake_names[1] = with(old, CATALOG_MANIFEST_SUFFIX);
    static int impl;
    backend *b = backend_wrap(&fake_ops, "fake", &impl);
    assert_non_null(b);
    retention_policy none_kept = {7, 0, 0, 0};
    prune_opts o = {.prefix = "p", .policy = none_kept, .now = now};
    prune_result r;

    removed_log[0] = 0;
    refuse_manifest = 0;
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.removed, 1);
    assert_string_equal(removed_log, "MA"); /* the manifest first */
    prune_result_free(&r);

    removed_log[0] = 0;
    refuse_manifest = 1;
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.failed, 1);
    assert_int_equal(prune_outcome(&r), ERR_FAIL);
    assert_string_equal(removed_log, ""); /* the archive stays with its manifest */
    assert_non_null(strstr(item(&r, old)->error, "remote fake"));
    assert_non_null(strstr(item(&r, old)->error, "Permission denied"));
    prune_result_free(&r);
    backend_close(b);
}

static void test_remote_incomplete(void **state)
{
    (void)state;
    fresh_dir();
    for (int i = 1; i <= 3; i++)
        put_archive(name_of("neo4j", now - i * DAY, 0), "neo4j", 100, 100);
    /* archives without manifest: by upload time, or dated before the window */
    const char *stale = name_of("neo4j", now - 2 * DAY - 600, 0);
    put(with(stale, ".dump.enc"), 100, now - 25 * HOUR);
    const char *fresh = name_of("neo4j", now - 1 * HOUR, 0);
    put(with(fresh, ".dump.enc"), 100, now - 1 * HOUR);
    const char *expired = name_of("neo4j", now - 9 * DAY, 0);
    put(with(expired, ".dump.enc"), 100, now - 2 * HOUR);
    /* ... but not one committed a moment ago, its manifest on the way */
    const char *committing = name_of("neo4j", now - 9 * DAY - 600, 0);
    put(with(committing, ".dump.enc"), 100, now - 60);
    /* an upload in flight of an old dump (push, another host) is left */
    const char *t3 =
        with(name_of("neo4j", now - 9 * DAY - 1200, 0), ".dump.enc.0123456789abcdee.partial");
    put(t3, 10, now - 60);
    /* temporary files of uploads */
    const char *t1 =
        with(name_of("neo4j", now - 3 * HOUR, 0), ".dump.enc.0123456789abcdef.partial");
    put(t1, 10, now - 30 * HOUR);
    const char *t2 =
        with(name_of("neo4j", now - 2 * HOUR, 0), ".dump.enc.fedcba9876543210.partial");
    put(t2, 10, now - 2 * HOUR);
    /* another database's stale upload is left to its own prune */
    const char *other =
        with(name_of("system", now - 2 * HOUR, 0), ".dump.enc.00000000000000aa.partial");
    put(other, 10, now - 30 * HOUR);
    put("foreign.dump.enc.0123456789abcdef.partial", 10, now - 30 * HOUR);

    backend *b = open_dir();
    prune_result r;
    prune_opts o = {.prefix = "p", .database = "neo4j", .policy = policy, .now = now};
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.backups, 3);
    assert_int_equal(r.removed, 3);
    assert_false(exists(with(stale, ".dump.enc")));
    assert_true(exists(with(fresh, ".dump.enc")));
    assert_false(exists(with(expired, ".dump.enc")));
    assert_true(exists(with(committing, ".dump.enc")));
    assert_false(exists(t1));
    assert_true(exists(t2));
    assert_true(exists(t3));
    assert_true(exists(other));
    assert_true(exists("foreign.dump.enc.0123456789abcdef.partial"));
    assert_string_equal(item(&r, fresh)->state, "incomplete");
    prune_result_free(&r);
    backend_close(b);
}

/* A clock gone wrong: a future archive is kept and warned about, and does
 * not push out real backups. */
static void test_remote_future(void **state)
{
    (void)state;
    fresh_dir();
    const char *fut = name_of("neo4j", now + 3 * DAY, 0);
    put_archive(fut, "neo4j", 100, 100);
    const char *n[4];
    for (int i = 0; i < 4; i++) {
        n[i] = name_of("neo4j", now - (20 + i) * DAY, 0);
        put_archive(n[i], "neo4j", 100, 100);
    }
    backend *b = open_dir();
    prune_result r;
    prune_opts o = {.prefix = "p", .policy = policy, .now = now};
    assert_int_equal(prune_remote(b, &o, &r), 0);
    assert_int_equal(r.future, 1);
    assert_true(item(&r, fut)->keep);
    assert_true(exists(with(n[2], CATALOG_ARCHIVE_SUFFIX))); /* third newest real one */
    assert_false(exists(with(n[3], CATALOG_ARCHIVE_SUFFIX)));
    prune_result_free(&r);
    backend_close(b);
}

/* ---- local ------------------------------------------------------------- */

static void test_local(void **state)
{
    (void)state;
    fresh_dir();
    static char d[5][CATALOG_NAME_MAX + 64]; /* with() reuses its buffers */
    for (int i = 0; i < 5; i++) {
        snprintf(d[i], sizeof d[i], "%s", with(name_of("neo4j", now - (20 + i) * DAY, 0), ".dump"));
        put(d[i], 10, 0);
    }
    const char *empty = with(name_of("neo4j", now - 19 * DAY, 0), ".dump");
    put(empty, 0, 0);
    const char *s_new = with(name_of("neo4j", now - 30 * DAY, 1), ".dump");
    const char *s_old = with(name_of("neo4j", now - 31 * DAY, 1), ".dump");
    const char *s_recent = with(name_of("neo4j", now - 1 * DAY, 1), ".dump");
    put(s_old, 10, 0);
    put(s_new, 10, 0);
    put(s_recent, 10, 0);
    put("p_neo4j_20200101_000000.dump.bak", 10, 0);
    char link[512], target[512];
    snprintf(target, sizeof target, "%s/outside", tmp);
    put("../outside", 3, 0);
    snprintf(link, sizeof link, "%s/p_neo4j_20200101_000000.dump", dir);
    assert_int_equal(symlink(target, link), 0);

    prune_result r;
    prune_opts o = {.prefix = "p", .policy = policy, .now = now};
    assert_int_equal(prune_local(dir, &o, &r), 0);
    assert_int_equal(r.backups, 5);
    /* min_keep counts the 5 dumps, not the empty one nor the safety dumps */
    for (int i = 0; i < 5; i++)
        assert_int_equal(exists(d[i]), i < 3);
    assert_false(exists(empty));
    assert_string_equal(item(&r, empty)->state, "empty");
    /* safety dumps: past keep_days deleted, except the newest of them */
    assert_true(exists(s_recent));
    assert_false(exists(s_new));
    assert_false(exists(s_old));
    assert_true(exists("p_neo4j_20200101_000000.dump.bak"));
    assert_true(exists("p_neo4j_20200101_000000.dump"));
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    prune_result_free(&r);

    /* the newest safety dump is kept even past the window */
    fresh_dir();
    put(s_old, 10, 0);
    put(s_new, 10, 0);
    assert_int_equal(prune_local(dir, &o, &r), 0);
    assert_true(exists(s_new));
    assert_false(exists(s_old));
    assert_string_equal(item(&r, s_new)->why, "the newest safety dump");
    prune_result_free(&r);

    /* an empty safety dump is not the newest good one */
    const char *s_empty = with(name_of("neo4j", now - 29 * DAY, 1), ".dump");
    put(s_empty, 0, 0);
    assert_int_equal(prune_local(dir, &o, &r), 0);
    assert_true(exists(s_new));
    assert_false(exists(s_empty));
    prune_result_free(&r);

    /* a dump push found invalid is not a backup: min_keep keeps older ones */
    fresh_dir();
    for (int i = 0; i < 4; i++)
        put(d[i], 10, 0);
    const char *not_backups[] = {d[0]};
    o.not_backups = not_backups;
    o.n_not_backups = 1;
    assert_int_equal(prune_local(dir, &o, &r), 0);
    assert_string_equal(item(&r, d[0])->state, "invalid");
    assert_int_equal(r.backups, 3);
    assert_false(exists(d[0])); /* past the window, and no backup */
    for (int i = 1; i < 4; i++)
        assert_true(exists(d[i]));
    prune_result_free(&r);
    o.not_backups = NULL;
    o.n_not_backups = 0;

    /* a directory that is not there */
    assert_int_equal(prune_local("/nonexistent/n4o", &o, &r), -1);
    assert_non_null(strstr(err_msg(), "/nonexistent/n4o"));
}

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    log_set_level(LOG_LVL_ERROR);
    snprintf(tmp, sizeof tmp, "/tmp/n4o-prune-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    unsetenv(KEYS_PASSPHRASE_ENV);
    char d[256], p[320];
    keys_public signing_pub;
    snprintf(d, sizeof d, "%s/keys", tmp);
    if (keys_generate(d, NULL, &archive_pub, &signing_pub) < 0)
        return -1;
    snprintf(p, sizeof p, "%s/signing.key", d);
    if (!(signer = keys_load_secret(p, KEYS_SIGNING)))
        return -1;
    snprintf(dir, sizeof dir, "%s/nas", tmp);
    now = time(NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    keys_secret_free(signer);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_plan),           cmocka_unit_test(test_remote_short_archive),
        cmocka_unit_test(test_remote_manifest_first), cmocka_unit_test(test_remote_incomplete),
        cmocka_unit_test(test_remote_future),         cmocka_unit_test(test_local),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
