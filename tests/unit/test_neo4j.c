/* Tests of neo4j: Neo4j's rule for database names, and the [neo4j]
 * commands run through command_template and child: the name checked before
 * anything runs and passed in NEO4J_OFFSITE_DATABASE, neo4j-admin's output
 * read ("Database does not exist", the --verbose hint), log lines and
 * timeout messages, program checks, and start_command after SIGTERM
 * mid-dump, partly against the stand-in tests/tools/neo4j-admin.  The
 * splitting and the process supervision themselves are tested in
 * test_command_template.c and test_child.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "err.h"
#include "command_template.h"
#include "neo4j.h"
#include "signals.h"

#include "child_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];
static char admin[4096]; /* the stand-in, absolute path */
static char saved_path[8192] = "/usr/local/bin:/usr/bin:/bin";

/* ------------------------------------------------------------ helpers */

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static ssize_t read_neo4j(void *c, void *buf, size_t len)
{
    return neo4j_read(c, buf, len);
}

/* C's stdout to EOF; NULL (err set) when a read fails. */
static char *read_all(neo4j_child *c, size_t *len)
{
    return read_to_eof(read_neo4j, c, len);
}

/* Write the stand-in's store of DB: the real Neo4j 5 fixture when present,
 * else a small DZV1 file. */
static void seed_standin(const char *home, const char *db, char **content, size_t *len)
{
    char path[4096], cmd[16384];
    snprintf(path, sizeof path, "%s/databases/%s", home, db);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    assert_int_equal(system(cmd), 0);
    const char *fx = getenv("N4O_FIXTURES");
    char fixture[4096] = "";
    if (fx)
        snprintf(fixture, sizeof fixture, "%s/movies-50.dump", fx);
    strncat(path, "/store.dump", sizeof path - strlen(path) - 1);
    if (*fixture && access(fixture, R_OK) == 0)
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", fixture, path);
    else
        snprintf(cmd, sizeof cmd, "{ printf DZV1; head -c 30000 /dev/urandom; } > '%s'", path);
    assert_int_equal(system(cmd), 0);
    *content = slurp(path, len);
    assert_non_null(*content);
}

/* ------------------------------------------------------------ names */

static void assert_name_ok(const char *name)
{
    err_clear();
    if (neo4j_check_database(name) != 0)
        fail_msg("'%s' refused: %s", name, err_msg());
    assert_true(neo4j_database_name_ok(name));
}

static void assert_name_refused(const char *name, const char *want)
{
    err_clear();
    if (neo4j_check_database(name) == 0)
        fail_msg("'%s' accepted", name ? name : "(null)");
    assert_int_equal(err_get_kind(), ERR_USAGE);
    if (!strstr(err_msg(), want))
        fail_msg("'%s': message '%s' lacks '%s'", name ? name : "(null)", err_msg(), want);
    err_clear();
    assert_false(neo4j_database_name_ok(name));
    assert_int_equal(err_get_kind(), ERR_NONE); /* the predicate sets no error */
}

/* Neo4j's rule (Operations Manual, "Naming rules for databases"), at its
 * edges. */
static void test_database_names(void **state)
{
    (void)state;
    char name[80];

    /* Length: 3 to 63. */
    assert_name_refused("ab", "database name 'ab' is shorter than 3 characters");
    assert_name_ok("abc");
    memset(name, 'a', 63);
    name[63] = '\0';
    assert_name_ok(name);
    name[63] = 'a';
    name[64] = '\0';
    assert_name_refused(name, "is longer than 63 characters");
    assert_name_refused("", "database name is empty");
    assert_name_refused(NULL, "database name is empty");

    /* The first character: a letter, or a digit (Neo4j 2025.01). */
    assert_name_ok("neo4j");
    assert_name_ok("2025q1");
    assert_name_refused("-rf", "database name '-rf' must start with a letter or digit");
    assert_name_refused(".db", "database name '.db' must start with a letter or digit");
    assert_name_refused("../x", "must start with");

    /* The rest: ASCII letters, digits, '.' and '-', in either case. */
    assert_name_ok("my-db.v2");
    assert_name_ok("Neo4j");
    assert_name_ok("MOVIES-40");
    assert_name_ok("abc-");
    assert_name_ok("abc.");
    assert_name_refused("my_db", "database name 'my_db' contains '_': only ASCII letters, "
                                 "digits, '.' and '-' are allowed");
    assert_name_refused("my db", "contains ' '");
    assert_name_refused("a/b", "contains '/'");
    assert_name_refused("a;b", "contains ';'");
    assert_name_refused("ab\ncd", "database name 'ab\\x0acd' contains \\x0a");
    assert_name_refused("caf\xc3\xa9", "contains \\xc3");

    /* "system" is a database; other names starting with it are reserved. */
    assert_name_ok("system");
    assert_name_ok("System");
    assert_name_refused("system2", "database name 'system2' is reserved");
    assert_name_refused("system.db", "is reserved");
    assert_name_refused("SYSTEM-x", "is reserved");
    assert_name_ok("asystem");
}

/* A name that fails the rule never reaches a command: nothing runs. */
static void test_spawn_checks_database(void **state)
{
    (void)state;
    char marker[256], tmpl[1024];
    path_in(marker, sizeof marker, "ran");
    snprintf(tmpl, sizeof tmpl, "sh -c 'touch %s' sh {database}", marker);
    static const char *const bad[] = {"my db", "-rf",   "../x", "a/b",     "a;b",
                                      "",      "my_db", "ab",   "system-x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear();
        assert_null(neo4j_spawn("dump_command", tmpl, bad[i], CHILD_READ_STDOUT, 5));
        assert_int_equal(err_get_kind(), ERR_USAGE);
        if (strncmp(err_msg(), "dump_command: database name", 27) != 0)
            fail_msg("'%s': %s", bad[i], err_msg());
        assert_int_equal(neo4j_run("start_command", tmpl, bad[i], 5), -1);
    }
    assert_int_equal(access(marker, F_OK), -1);
    /* Without a database a template using {database} is refused. */
    assert_null(neo4j_spawn("dump_command", "dump {database}", NULL, CHILD_READ_STDOUT, 5));
    assert_string_equal(err_msg(), "dump_command uses {database} but no database was given");
    assert_int_equal(neo4j_run("start_command", tmpl, "neo4j", 5), 0);
    assert_int_equal(access(marker, F_OK), 0);
}

/* ------------------------------------------------------------ commands */

static void test_stream_standin(void **state)
{
    (void)state;
    char home[256], tmpl[8192];
    path_in(home, sizeof home, "standin-stream");
    char *store;
    size_t store_len, n;
    seed_standin(home, "neo4j", &store, &store_len);
    setenv("NEO4J_STANDIN_HOME", home, 1);
    snprintf(tmpl, sizeof tmpl, "'%s' database dump --to-stdout {database}", admin);
    neo4j_child *c = neo4j_spawn("dump_command", tmpl, "neo4j", CHILD_READ_STDOUT, 30);
    assert_non_null(c);
    char *got = read_all(c, &n);
    assert_non_null(got);
    assert_int_equal(neo4j_finish(c), 0);
    assert_int_equal(n, store_len);
    assert_memory_equal(got, store, n);
    free(got);
    free(store);
    unsetenv("NEO4J_STANDIN_HOME");
}

/* The child finds the database in NEO4J_OFFSITE_DATABASE; an inherited
 * value never stays, also when no database is given. */
static void test_env_database(void **state)
{
    (void)state;
    setenv("NEO4J_OFFSITE_DATABASE", "stale", 1);
    const char *tmpl = "sh -c 'printf %s \"${NEO4J_OFFSITE_DATABASE-unset}\"'";
    const char *dbs[] = {"my.db-1", NULL};
    const char *want[] = {"my.db-1", "unset"};
    for (int i = 0; i < 2; i++) {
        neo4j_child *c = neo4j_spawn("dump_command", tmpl, dbs[i], CHILD_READ_STDOUT, 5);
        assert_non_null(c);
        size_t n;
        char *got = read_all(c, &n);
        assert_non_null(got);
        assert_string_equal(got, want[i]);
        assert_int_equal(neo4j_finish(c), 0);
        free(got);
    }
    assert_string_equal(getenv("NEO4J_OFFSITE_DATABASE"), "stale");
    unsetenv("NEO4J_OFFSITE_DATABASE");
}

/* Log lines name the command after "neo4j: "; a timeout names its
 * setting. */
static void test_log_and_timeout(void **state)
{
    (void)state;
    char logf[256];
    path_in(logf, sizeof logf, "log.txt");
    capture_stderr(logf);
    int rc = neo4j_run("check_command", "sh -c 'echo to-stdout; echo to-stderr >&2'", NULL, 10);
    restore_stderr();
    assert_int_equal(rc, 0);
    size_t n = 0;
    char *log = slurp(logf, &n);
    assert_non_null(strstr(log, "neo4j: check_command: to-stdout\n"));
    assert_non_null(strstr(log, "neo4j: check_command: to-stderr\n"));
    free(log);

    child_set_kill_grace_ms(200);
    neo4j_child *c = neo4j_spawn("dump_command", "sleep 100", "neo4j", CHILD_READ_STDOUT, 1);
    assert_non_null(c);
    pid_t pg = neo4j_pid(c);
    assert_true(pg > 0);
    char buf[16];
    assert_int_equal(neo4j_read(c, buf, sizeof buf), -1);
    assert_string_equal(err_msg(), "dump_command timed out after 1 s (command_timeout)");
    assert_int_equal(neo4j_finish(c), -1);
    assert_int_equal(neo4j_last_db_missing(), 0);
    assert_int_equal(kill(pg, 0), -1);
    child_set_kill_grace_ms(3000);
}

/* neo4j-admin's last line, "Run with --verbose ...", is never the reason
 * given; the lines before it are. */
static void test_failure_reason(void **state)
{
    (void)state;
    err_clear();
    assert_int_equal(neo4j_run("dump_command",
                               "sh -c 'echo \"Failed to dump database x: disk full\" >&2; "
                               "echo \"Dump failed for databases: x\" >&2; "
                               "echo \"Run with --verbose for a more detailed error message.\" "
                               ">&2; exit 1'",
                               "neo4j", 10),
                     -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(), "dump_command failed (exit 1): Failed to dump database x: "
                                   "disk full / Dump failed for databases: x");
    assert_int_equal(neo4j_last_db_missing(), 0);

    /* A program that is not there fails the spawn; a bad template too. */
    assert_null(neo4j_spawn("stop_command", "/nonexistent/prog x", NULL, CHILD_NO_PIPE, 5));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(), "stop_command: program /nonexistent/prog not found");
    assert_null(neo4j_spawn("stop_command", "a | b", NULL, CHILD_NO_PIPE, 5));
    assert_int_equal(err_get_kind(), ERR_USAGE);

    /* Empty templates are no-ops; a good one succeeds. */
    assert_int_equal(neo4j_run("start_command", NULL, NULL, 5), 0);
    assert_int_equal(neo4j_run("start_command", "  ", NULL, 5), 0);
    assert_int_equal(neo4j_run("start_command", "true", NULL, 5), 0);
    assert_int_equal(neo4j_finish(NULL), 0);
    neo4j_kill(NULL);
    assert_int_equal(neo4j_pid(NULL), -1);
}

/* Feeding a load: the data arrives whole. */
static void test_load(void **state)
{
    (void)state;
    char file[256], tmpl[1024];
    path_in(file, sizeof file, "loaded");
    snprintf(tmpl, sizeof tmpl, "sh -c 'cat > %s'", file);
    neo4j_child *c = neo4j_spawn("load_command", tmpl, "neo4j", CHILD_WRITE_STDIN, 30);
    assert_non_null(c);
    static char data[300000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 2654435761u >> 13);
    assert_int_equal(neo4j_write(c, data, sizeof data), 0);
    assert_int_equal(neo4j_finish(c), 0);
    size_t n = 0;
    char *got = slurp(file, &n);
    assert_int_equal(n, sizeof data);
    assert_memory_equal(got, data, n);
    free(got);
}

static void test_db_missing(void **state)
{
    (void)state;
    assert_int_equal(
        neo4j_run("dump_command",
                  "sh -c 'echo \"Failed to dump database xyz: DATABASE does not exist: "
                  "xyz\" >&2; exit 1'",
                  "xyz", 10),
        -1);
    assert_int_equal(neo4j_last_db_missing(), 1);
    assert_string_equal(err_msg(), "dump_command failed (exit 1): database 'xyz' does not exist: "
                                   "Failed to dump database xyz: DATABASE does not exist: xyz");
    /* A later success or other failure clears it. */
    assert_int_equal(neo4j_run("dump_command", "sh -c 'exit 1'", NULL, 10), -1);
    assert_int_equal(neo4j_last_db_missing(), 0);
    /* So does a command that is killed, or only spawned: a verdict never
     * outlives its command (restore skips a safety dump on it) */
    assert_int_equal(neo4j_run("dump_command",
                               "sh -c 'echo \"DATABASE does not exist: xyz\" >&2; exit 1'", "xyz",
                               10),
                     -1);
    assert_int_equal(neo4j_last_db_missing(), 1);
    neo4j_child *k = neo4j_spawn("dump_command", "sleep 30", NULL, CHILD_READ_STDOUT, 10);
    assert_non_null(k);
    assert_int_equal(neo4j_last_db_missing(), 0);
    neo4j_kill(k);
    assert_int_equal(neo4j_last_db_missing(), 0);

    /* The stand-in, as the real tool, on a database that is not there. */
    char home[256], tmpl[8192];
    path_in(home, sizeof home, "standin-missing");
    mkdir(home, 0700);
    setenv("NEO4J_STANDIN_HOME", home, 1);
    snprintf(tmpl, sizeof tmpl, "'%s' database dump --to-stdout {database}", admin);
    neo4j_child *c = neo4j_spawn("dump_command", tmpl, "nope", CHILD_READ_STDOUT, 10);
    assert_non_null(c);
    size_t n = 0;
    char *got = read_all(c, &n);
    assert_non_null(got);
    assert_int_equal(n, 0);
    free(got);
    assert_int_equal(neo4j_finish(c), -1);
    assert_int_equal(neo4j_last_db_missing(), 1);
    assert_non_null(strstr(err_msg(), "dump_command failed (exit 1): database 'nope' does not"));
    unsetenv("NEO4J_STANDIN_HOME");
}

/* The whole scenario with the stand-in: stop, a slow dump, SIGTERM from
 * outside mid-stream, then start_command.  The dump's process group must
 * be gone and the DBMS running again. */
static void test_sigterm_during_dump(void **state)
{
    (void)state;
    char home[256], stop[8192], dump[8192], start[8192], running[512], events[512];
    path_in(home, sizeof home, "standin-sigterm");
    char *store;
    size_t store_len;
    seed_standin(home, "neo4j", &store, &store_len);
    free(store);
    snprintf(running, sizeof running, "%s/running", home);
    snprintf(events, sizeof events, "%s/events.log", home);
    close(open(running, O_WRONLY | O_CREAT, 0600));
    snprintf(stop, sizeof stop, "'%s' server stop", admin);
    snprintf(dump, sizeof dump, "'%s' database dump --to-stdout {database}", admin);
    snprintf(start, sizeof start, "'%s' server start", admin);

    int ready[2];
    assert_int_equal(pipe(ready), 0);
    double t0 = now_s();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        signals_install();
        setenv("NEO4J_STANDIN_HOME", home, 1);
        setenv("NEO4J_STANDIN_DUMP_DELAY", "30", 1);
        if (neo4j_run("stop_command", stop, "neo4j", 10) != 0)
            _exit(10);
        neo4j_child *c = neo4j_spawn("dump_command", dump, "neo4j", CHILD_READ_STDOUT, 60);
        if (!c)
            _exit(11);
        char buf[8192];
        size_t got = 0;
        ssize_t r;
        pid_t pg = neo4j_pid(c);
        while (got < 4096 && (r = neo4j_read(c, buf, sizeof buf)) > 0)
            got += (size_t)r;
        if (got != 4096)
            _exit(12);
        if (write(ready[1], &pg, sizeof pg) != sizeof pg)
            _exit(13);
        /* Blocks in the delay until SIGTERM arrives. */
        r = neo4j_read(c, buf, sizeof buf);
        if (r != -1 || !strstr(err_msg(), "interrupted by SIGTERM"))
            _exit(14);
        neo4j_finish(c); /* kills the dump */
        int rc = neo4j_run("start_command", start, "neo4j", 10);
        _exit(rc == 0 && signals_pending() == SIGTERM ? 0 : 15);
    }
    close(ready[1]);
    pid_t pg = 0;
    assert_int_equal(read(ready[0], &pg, sizeof pg), (ssize_t)sizeof pg);
    close(ready[0]);
    assert_true(pg > 0);
    assert_int_equal(kill(pg, 0), 0); /* the dump is alive, in its delay */
    usleep(100000);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(now_s() - t0 < 20); /* did not sit out the 30 s delay */
    assert_true(group_gone(pg));
    assert_int_equal(access(running, F_OK), 0);
    size_t n = 0;
    char *ev = slurp(events, &n);
    assert_non_null(ev);
    assert_string_equal(ev, "stop\ndump neo4j\nstart\n");
    free(ev);
}

/* ------------------------------------------------------------ checks */

static void assert_program_fails(const char *tmpl, const char *want)
{
    err_clear();
    assert_int_equal(neo4j_check_program("dump_command", tmpl), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    if (!strstr(err_msg(), want))
        fail_msg("'%s': message '%s' lacks '%s'", tmpl, err_msg(), want);
}

/* The program of a template is looked up before anything runs, except
 * inside an `sh -c` script and when it is named after the database. */
static void test_check_program(void **state)
{
    (void)state;
    char tmpl[8192];
    assert_int_equal(neo4j_check_program("dump_command", "sh -c 'no-such-prog-n4o'"), 0);
    assert_int_equal(neo4j_check_program("dump_command", "true --x {database}"), 0);
    assert_int_equal(neo4j_check_program("dump_command", "/bin/sh -c true"), 0);
    assert_int_equal(neo4j_check_program("dump_command", "/opt/{database}/dump x"), 0);
    assert_int_equal(neo4j_check_program("stop_command", NULL), 0);
    assert_int_equal(neo4j_check_program("stop_command", " "), 0);
    snprintf(tmpl, sizeof tmpl, "'%s' database dump", admin);
    assert_int_equal(neo4j_check_program("dump_command", tmpl), 0);

    setenv("PATH", "/nonexistent-n4o", 1);
    assert_program_fails("no-such-prog-n4o --to-stdout {database}",
                         "dump_command: program no-such-prog-n4o not found in PATH "
                         "(/nonexistent-n4o)");
    assert_program_fails("/nonexistent/neo4j-admin dump",
                         "dump_command: program /nonexistent/neo4j-admin not found");
    /* A bad template fails as the template check does. */
    assert_program_fails("neo4j-admin dump {databse}",
                         "dump_command: unknown placeholder {databse} (did you mean {database}?)");
    err_clear();
    assert_int_equal(neo4j_check_program(NULL, "a |"), -1);
    assert_non_null(strstr(err_msg(), "command template: shell operator '|'"));
    /* The wrapper config.c calls is the template check. */
    assert_int_equal(command_template_check("dump_command", "neo4j-admin dump {database}"), 0);
    assert_int_equal(command_template_check("dump_command", "neo4j-admin dump {db}"), -1);
    assert_non_null(strstr(err_msg(), "dump_command: unknown placeholder {db}"));
}

/* Teardown of tests that change PATH: later tests need theirs, also after a
 * failure. */
static int restore_path(void **state)
{
    (void)state;
    return setenv("PATH", saved_path, 1);
}

/* ------------------------------------------------------------ main */

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("N4O_SOURCE");
    if (src) {
        snprintf(admin, sizeof admin, "%s/tests/tools/neo4j-admin", src);
    } else {
        /* __FILE__ is absolute in CMake builds: <src>/tests/unit/test_neo4j.c */
        snprintf(admin, sizeof admin, "%s", __FILE__);
        char *cut = strstr(admin, "/tests/unit/");
        if (!cut)
            return -1;
        strcpy(cut, "/tests/tools/neo4j-admin");
    }
    if (access(admin, X_OK) != 0) {
        fprintf(stderr, "stand-in %s not executable\n", admin);
        return -1;
    }
    return child_tests_setup(tmpdir, sizeof tmpdir, "neo4j", saved_path, sizeof saved_path);
}

static int teardown(void **state)
{
    (void)state;
    return child_tests_teardown(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_database_names),
        cmocka_unit_test(test_spawn_checks_database),
        cmocka_unit_test(test_stream_standin),
        cmocka_unit_test(test_env_database),
        cmocka_unit_test(test_log_and_timeout),
        cmocka_unit_test(test_failure_reason),
        cmocka_unit_test(test_db_missing),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_sigterm_during_dump),
        cmocka_unit_test_teardown(test_check_program, restore_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
