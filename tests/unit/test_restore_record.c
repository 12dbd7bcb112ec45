/* Unit tests: restore_record (what a restore was doing to the stores).
 * Written to both places and read back field by field; found in the local
 * directory alone when /run lost it; replaced in place; a record whose
 * loads all ended is sound, one with a load under way is not; a file that
 * is not a record, a symlink in its place and an oversized one are errors
 * that name the file; the explanation gives a command a shell runs as it
 * reads (a path with a quote and a space in it), the start_command and both
 * files to remove; no record, no word.  Also signals_hold (a signal during
 * a load waits for it). */
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
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "err.h"
#include "restore_record.h"
#include "signals.h"

static char dir[64];
static config *cfg;

/* stderr into a file, to read what was logged */
static int saved_stderr = -1;
static char errfile[128];

static void capture_start(void)
{
    snprintf(errfile, sizeof errfile, "%s/stderr", dir);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

static char *capture_end(void)
{
    static char buf[16384];
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    int fd = open(errfile, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/n4o-rrec-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char path[128], sub[128];
    snprintf(sub, sizeof sub, "%s/local", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/conf", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "[general]\nlock_file = %s/run/n4o.lock\n"
            "[neo4j]\nload_command = neo4j-admin database load --from-stdin {database}\n"
            "start_command = systemctl start neo4j\n"
            "[local]\ndirectory = %s/local\nname_prefix = haia_backup\n"
            "[remote \"nas\"]\ntype = local\npath = %s/nas\n",
            dir, dir, dir);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/run", dir);
    mkdir(sub, 0700);
    cfg = config_load(path, CFG_CMD_LIST);
    if (!cfg)
        fprintf(stderr, "config: %s\n", err_msg());
    return cfg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    config_free(cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static restore_record sample(void)
{
    restore_record r;
    memset(&r, 0, sizeof r);
    r.pid = 4242;
    r.started = 1764720000; /* 2025-12-03T00:00:00Z */
    r.n = 2;
    snprintf(r.db[0].database, sizeof r.db[0].database, "system");
    snprintf(r.db[0].target, sizeof r.db[0].target, "system");
    snprintf(r.db[0].archive, sizeof r.db[0].archive, "haia_backup_system_20251202_020000");
    snprintf(r.db[0].safety, sizeof r.db[0].safety, "%s/local/it's here.dump", dir);
    memset(r.db[0].safety_blake2b, 0xab, 32);
    r.db[0].existed = 1;
    r.db[0].state = RESTORE_LOADED;
    snprintf(r.db[1].database, sizeof r.db[1].database, "neo4j");
    snprintf(r.db[1].target, sizeof r.db[1].target, "scratch");
    snprintf(r.db[1].archive, sizeof r.db[1].archive, "haia_backup_neo4j_20251202_020000");
    r.db[1].existed = 0;
    r.db[1].state = RESTORE_LOADING;
    return r;
}

static void test_round_trip_both_places(void **state)
{
    (void)state;
    char paths[2][4200];
    assert_int_equal(restore_record_paths(cfg, paths), 2);
    assert_true(strstr(paths[0], "/run/n4o.lock.restore") != NULL);
    assert_true(strstr(paths[1], "/local/.haia_backup.restore") != NULL);
    restore_record r = sample(), back;
    assert_int_equal(restore_record_save(cfg, &r), 0);
    struct stat st;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(lstat(paths[i], &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    char where[4200];
    assert_int_equal(restore_record_load(cfg, &back, where, sizeof where), 1);
    assert_string_equal(where, paths[0]);
    assert_int_equal(back.pid, 4242);
    assert_int_equal(back.started, r.started);
    assert_int_equal(back.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(back.db[i].database, r.db[i].database);
        assert_string_equal(back.db[i].target, r.db[i].target);
        assert_string_equal(back.db[i].archive, r.db[i].archive);
        assert_string_equal(back.db[i].safety, r.db[i].safety);
        if (r.db[i].safety[0])
            assert_memory_equal(back.db[i].safety_blake2b, r.db[i].safety_blake2b, 32);
        assert_int_equal(back.db[i].existed, r.db[i].existed);
        assert_int_equal(back.db[i].state, r.db[i].state);
    }
    assert_true(restore_record_unsound(&back));
    /* replaced in place */
    r.db[1].state = RESTORE_LOADED;
    assert_int_equal(restore_record_save(cfg, &r), 0);
    assert_int_equal(restore_record_load(cfg, &back, where, sizeof where), 1);
    assert_false(restore_record_unsound(&back));
    /* /run emptied by a reboot: the copy in the local directory is found */
    unlink(paths[0]);
    assert_int_equal(restore_record_load(cfg, &back, where, sizeof where), 1);
    assert_string_equal(where, paths[1]);
    assert_int_equal(restore_record_remove(cfg), 0);
    assert_int_equal(restore_record_load(cfg, &back, where, sizeof where), 0);
    assert_int_equal(restore_record_remove(cfg), 0); /* gone already is fine */
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_bad_records(void **state)
{
    (void)state;
    char paths[2][4200], where[4200];
    restore_record_paths(cfg, paths);
    restore_record r;
    const char *bad[] = {"not json", "{\"pid\": 1}", "[1,2]",
                         "{\"pid\":1,\"started\":\"x\",\"databases\":[{\"database\":\"neo4j\","
                         "\"target\":\"neo4j\",\"archive\":\"a\",\"safety_dump\":\"/x.dump\","
                         "\"existed\":true,\"state\":\"loading\"}]}",
                         "{\"pid\":1,\"started\":\"x\",\"databases\":[{\"state\":\"odd\"}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(paths[0], bad[i]);
        err_clear();
        assert_int_equal(restore_record_load(cfg, &r, where, sizeof where), -1);
        assert_int_equal(err_get_kind(), ERR_FAIL);
        assert_true(strstr(err_msg(), paths[0]) != NULL);
    }
    unlink(paths[0]);
    /* a symlink in its place is not followed */
    char target[200];
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    write_file(target, "{}");
    assert_int_equal(symlink(target, paths[0]), 0);
    err_clear();
    assert_int_equal(restore_record_load(cfg, &r, where, sizeof where), -1);
    assert_true(strstr(err_msg(), paths[0]) != NULL);
    unlink(paths[0]);
    /* too large to be one */
    FILE *f = fopen(paths[0], "w");
    for (int i = 0; i < 70000; i++)
        fputc(' ', f);
    fclose(f);
    err_clear();
    assert_int_equal(restore_record_load(cfg, &r, where, sizeof where), -1);
    assert_true(strstr(err_msg(), "too large") != NULL);
    /* restore_record_check: an unreadable record is said and counts */
    capture_start();
    int rc = restore_record_check(cfg, 0);
    char *out = capture_end();
    assert_int_equal(rc, -1);
    assert_true(strstr(out, "too large") != NULL);
    unlink(paths[0]);
}

static void test_explain(void **state)
{
    (void)state;
    capture_start();
    int rc = restore_record_check(cfg, 0);
    char *out = capture_end();
    assert_int_equal(rc, 0);
    assert_string_equal(out, ""); /* no record, no word */

    restore_record r = sample();
    assert_int_equal(restore_record_save(cfg, &r), 0);
    capture_start();
    rc = restore_record_check(cfg, 0);
    out = capture_end();
    assert_int_equal(rc, 1);
    assert_true(strstr(out, "a restore (pid 4242, started 2025-12-03T00:00:00Z) did not finish") !=
                NULL);
    /* the command as a shell reads it: the quote and the space survive */
    char want[512];
    snprintf(want, sizeof want,
             "database system: loaded from haia_backup_system_20251202_020000; to reinstate its "
             "previous state run: neo4j-admin database load --from-stdin system < '%s/local/"
             "it'\\''s here.dump'",
             dir);
    assert_true(strstr(out, want) != NULL);
    assert_true(strstr(out, "database scratch: HALF-LOADED from haia_backup_neo4j_20251202_020000; "
                            "it did not exist before this restore") != NULL);
    assert_true(strstr(out, "then start Neo4j: systemctl start neo4j, and remove ") != NULL);
    assert_true(strstr(out, "/run/n4o.lock.restore and ") != NULL);
    assert_true(strstr(out, "/local/.haia_backup.restore") != NULL);
    restore_record_remove(cfg);
}

static void test_signals_hold(void **state)
{
    (void)state;
    signals_install();
    signals_reset();
    signals_hold();
    raise(SIGTERM);
    assert_int_equal(signals_pending(), 0); /* held: the load goes on */
    assert_int_equal(signals_received(), SIGTERM);
    signals_hold(); /* nested */
    signals_release();
    assert_int_equal(signals_pending(), 0);
    signals_release();
    assert_int_equal(signals_pending(), SIGTERM);
    signals_release(); /* one release too many does no harm */
    assert_int_equal(signals_pending(), SIGTERM);
    signals_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_both_places),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_signals_hold),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
