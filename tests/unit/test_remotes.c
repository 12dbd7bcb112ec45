/* Unit tests: remotes (the set of remotes a command works on), with local
 * remotes in a temporary directory: every remote or the named ones, a
 * remote that cannot be opened counted and named but not fatal, unknown,
 * repeated or unsupported names fatal (ERR_USAGE), the probe moving a
 * remote that will not take writes to the failed ones, the single remote
 * of the reading commands, and the 16-remote limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "remotes.h"

static char dir[64];
static char paths[20][128];
static char names[20][16];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/n4o-remotes-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    for (int i = 0; i < 20; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/r%d", dir, i);
        snprintf(names[i], sizeof names[i], "r%d", i);
        if (mkdir(paths[i], 0700) < 0)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* A configuration of N local remotes r0..rN-1 (their directories exist). */
static config *make_config(size_t n)
{
    config *cfg = calloc(1, sizeof *cfg);
    assert_non_null(cfg);
    cfg->path = "/etc/test.conf";
    cfg->remotes = calloc(n ? n : 1, sizeof *cfg->remotes);
    assert_non_null(cfg->remotes);
    cfg->n_remotes = n;
    for (size_t i = 0; i < n; i++) {
        cfg->remotes[i].name = names[i];
        cfg->remotes[i].type = "local";
        cfg->remotes[i].path = paths[i];
    }
    return cfg;
}

static void free_config(config *cfg)
{
    free(cfg->remotes);
    free(cfg);
}

static void test_open_all(void **state)
{
    (void)state;
    config *cfg = make_config(3);
    remote_set set;
    assert_int_equal(remote_set_open(&set, cfg, NULL, 0, 0), 0);
    assert_int_equal(set.n, 3);
    assert_int_equal(set.n_failed, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(set.names[i], names[i]);
        assert_string_equal(backend_name(set.b[i]), names[i]);
        assert_ptr_equal(set.cfgs[i], &cfg->remotes[i]); /* in file order */
    }
    remote_set_close(&set);
    assert_int_equal(set.n, 0);
    free_config(cfg);
}

/* One remote that cannot be opened: the others are used, it is counted
 * and its name and reason kept for the summary. */
static void test_failed_remote_is_counted(void **state)
{
    (void)state;
    config *cfg = make_config(3);
    cfg->remotes[1].path = "/nonexistent/n4o-remote";
    remote_set set;
    assert_int_equal(remote_set_open(&set, cfg, NULL, 0, BACKEND_OPEN_WRITE), 0);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.names[0], "r0");
    assert_string_equal(set.names[1], "r2");
    assert_int_equal(set.n_failed, 1);
    assert_string_equal(set.failed_names[0], "r1");
    assert_non_null(strstr(set.failed_msgs[0], "remote r1: "));
    assert_non_null(strstr(set.failed_msgs[0], "/nonexistent/n4o-remote"));
    remote_set_close(&set);
    free_config(cfg);
}

static void test_named_remotes(void **state)
{
    (void)state;
    config *cfg = make_config(4);
    remote_set set;
    const char *want[] = {"r3", "r1"};
    assert_int_equal(remote_set_open(&set, cfg, want, 2, 0), 0);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.names[0], "r3"); /* in the order given */
    assert_string_equal(set.names[1], "r1");
    assert_ptr_equal(set.cfgs[0], &cfg->remotes[3]);
    remote_set_close(&set);

    /* an unknown name: a usage error naming it and the configured ones */
    const char *unknown[] = {"r0", "nas"};
    assert_int_equal(remote_set_open(&set, cfg, unknown, 2, 0), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "nas"));
    assert_non_null(strstr(err_msg(), "/etc/test.conf"));
    assert_int_equal(set.n, 0); /* what was opened is closed again */

    /* a name given twice */
    const char *twice[] = {"r0", "r2", "r0"};
    assert_int_equal(remote_set_open(&set, cfg, twice, 3, 0), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "r0 given twice"));
    assert_int_equal(set.n, 0);
    free_config(cfg);
}

/* A type this version does not support is a configuration error, not a
 * remote that happens to be down. */
static void test_unsupported_type_is_fatal(void **state)
{
    (void)state;
    config *cfg = make_config(2);
    cfg->remotes[1].type = "ftp";
    remote_set set;
    assert_int_equal(remote_set_open(&set, cfg, NULL, 0, 0), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "remote r1: type ftp"));
    assert_int_equal(set.n, 0);
    assert_int_equal(set.n_failed, 0);
    free_config(cfg);
}

static void test_probe_moves_failures(void **state)
{
    (void)state;
    config *cfg = make_config(3);
    remote_set set;
    assert_int_equal(remote_set_open(&set, cfg, NULL, 0, 0), 0);
    /* r1's directory goes away after it was opened; r2's becomes a file */
    assert_int_equal(rmdir(paths[1]), 0);
    assert_int_equal(rmdir(paths[2]), 0);
    FILE *f = fopen(paths[2], "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(remote_set_probe(&set), 1);
    assert_int_equal(set.n, 1);
    assert_string_equal(set.names[0], "r0");
    assert_string_equal(backend_name(set.b[0]), "r0");
    assert_int_equal(set.n_failed, 2);
    assert_string_equal(set.failed_names[0], "r1");
    assert_string_equal(set.failed_names[1], "r2");
    assert_non_null(strstr(set.failed_msgs[0], "remote r1: "));
    assert_non_null(strstr(set.failed_msgs[0], paths[1]));
    assert_non_null(strstr(set.failed_msgs[1], "not a directory"));
    /* the probe left nothing in the remote that passed */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", paths[0]);
    assert_int_equal(system(cmd), 0);
    remote_set_close(&set);
    free_config(cfg);
}

static void test_open_one(void **state)
{
    (void)state;
    config *cfg = make_config(3);
    remote_set set;
    assert_int_equal(remote_set_open_one(&set, cfg, NULL, 0), 0); /* the first one */
    assert_int_equal(set.n, 1);
    assert_string_equal(set.names[0], "r0");
    remote_set_close(&set);
    assert_int_equal(remote_set_open_one(&set, cfg, "r2", 0), 0);
    assert_string_equal(set.names[0], "r2");
    assert_ptr_equal(set.cfgs[0], &cfg->remotes[2]);
    remote_set_close(&set);
    assert_int_equal(remote_set_open_one(&set, cfg, "nas", 0), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_int_equal(set.n, 0);
    /* the one remote asked for cannot be opened: an error, not a count */
    cfg->remotes[1].path = "/nonexistent/n4o-remote";
    assert_int_equal(remote_set_open_one(&set, cfg, "r1", 0), -1);
    assert_non_null(strstr(err_msg(), "remote r1: "));
    assert_int_equal(set.n, 0);
    free_config(cfg);

    cfg = make_config(0);
    assert_int_equal(remote_set_open_one(&set, cfg, NULL, 0), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "/etc/test.conf: no [remote"));
    free_config(cfg);
}

static void test_limit(void **state)
{
    (void)state;
    config *cfg = make_config(REMOTES_MAX + 1);
    remote_set set;
    assert_int_equal(remote_set_open(&set, cfg, NULL, 0, 0), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "at most 16 remotes"));
    assert_int_equal(set.n, 0);
    free_config(cfg);
    /* exactly the limit, failures included, is fine */
    cfg = make_config(REMOTES_MAX);
    cfg->remotes[5].path = "/nonexistent/n4o-remote";
    assert_int_equal(remote_set_open(&set, cfg, NULL, 0, 0), 0);
    assert_int_equal(set.n, REMOTES_MAX - 1);
    assert_int_equal(set.n_failed, 1);
    remote_set_close(&set);
    free_config(cfg);
}

static void test_object_path(void **state)
{
    (void)state;
    config_remote rc;
    memset(&rc, 0, sizeof rc);
    rc.type = "s3";
    rc.prefix = "backups/neo4j";
    rc.path = "/not/used";
    assert_string_equal(remotes_object_path(&rc), "backups/neo4j");
    rc.type = "local";
    assert_string_equal(remotes_object_path(&rc), "/not/used");
    rc.type = "sftp";
    rc.path = "/srv/backups";
    assert_string_equal(remotes_object_path(&rc), "/srv/backups");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_remote_is_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_remotes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_type_is_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_moves_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
