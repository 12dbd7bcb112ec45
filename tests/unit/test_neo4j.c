/* Tests of neo4j: template splitting, child processes (streaming, stderr,
 * exit status, timeout with process-group kill, early exit of a reader,
 * "Database does not exist"), and start_command after SIGTERM mid-dump,
 * partly against the stand-in tests/tools/neo4j-admin. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "err.h"
#include "log.h"
#include "neo4j.h"
#include "signals.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];
static char admin[4096]; /* the stand-in, absolute path */
static char saved_path[8192] = "/usr/local/bin:/usr/bin:/bin";

/* ------------------------------------------------------------ helpers */

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            assert_non_null(nb);
            buf = nb;
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Read C's stdout to EOF; NULL (err set) when a read fails. */
static char *read_all(neo4j_child *c, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (cap - n < 4096) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            assert_non_null(nb);
            buf = nb;
        }
        ssize_t r = neo4j_read(c, buf + n, cap - n);
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* True when no process of group PGID is left.  We are a subreaper, so
 * orphaned members are our children: reap their zombies first. */
static int group_gone(pid_t pgid)
{
    for (int i = 0; i < 200; i++) {
        while (waitpid(-pgid, NULL, WNOHANG) > 0)
            ;
        if (kill(-pgid, 0) < 0 && errno == ESRCH)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* stderr to a file while a test watches the log lines. */
static int saved_stderr = -1;
static void capture_stderr(const char *path)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
}
static void restore_stderr(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
}

static void assert_argv(char **argv, const char *const *want)
{
    assert_non_null(argv);
    size_t i = 0;
    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
    neo4j_argv_free(argv);
}

static void assert_split_fails(const char *what, const char *tmpl, const char *db,
                               const char *needle)
{
    err_clear();
    char **argv = neo4j_split_what(what, tmpl, db);
    if (argv)
        fail_msg("'%s' was accepted (argv[0] '%s')", tmpl, argv[0]);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    if (!strstr(err_msg(), needle))
        fail_msg("'%s': message '%s' lacks '%s'", tmpl, err_msg(), needle);
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

/* ------------------------------------------------------------ split */

static void test_split_quoting(void **state)
{
    (void)state;
    assert_argv(neo4j_split("a 'b c' \"d e\"", NULL), (const char *[]){"a", "b c", "d e", NULL});
    assert_argv(neo4j_split("  a'b'c  ", NULL), (const char *[]){"abc", NULL});
    assert_argv(neo4j_split("x \"\" ''", NULL), (const char *[]){"x", "", "", NULL});
    assert_argv(neo4j_split("\"a\\\"b\" a\\ b 'it'\\''s'", NULL),
                (const char *[]){"a\"b", "a b", "it's", NULL});
    /* In "..." only \" \\ \$ \` escape; other backslashes stay. */
    assert_argv(neo4j_split("\"a\\nb\\\\c\\$d\"", NULL), (const char *[]){"a\\nb\\c$d", NULL});
    /* Single quotes keep everything, also backslashes and operators. */
    assert_argv(neo4j_split("echo 'a|b;c>d $HOME \\'", NULL),
                (const char *[]){"echo", "a|b;c>d $HOME \\", NULL});
    assert_argv(neo4j_split("\"a|b\" c#d", NULL), (const char *[]){"a|b", "c#d", NULL});
    /* No expansion: globs, ~ and a lone $ stay literal. */
    assert_argv(neo4j_split("ls * ~ a$", NULL), (const char *[]){"ls", "*", "~", "a$", NULL});
    assert_argv(neo4j_split("a\tb\nc", NULL), (const char *[]){"a", "b", "c", NULL});
}

static void test_split_database(void **state)
{
    (void)state;
    assert_argv(neo4j_split("neo4j-admin database dump --to-stdout {database}", "neo4j"),
                (const char *[]){"neo4j-admin", "database", "dump", "--to-stdout", "neo4j", NULL});
    assert_argv(neo4j_split("x --to-path=/b/{database} '{database}.x' \"pre {database}\" "
                            "{database}{database}",
                            "my.db-2"),
                (const char *[]){"x", "--to-path=/b/my.db-2", "my.db-2.x", "pre my.db-2",
                                 "my.db-2my.db-2", NULL});
    /* Names that could become two words, an option or a path are refused. */
    assert_split_fails("dump_command", "dump {database}", "my db", "contains ' '");
    assert_split_fails("dump_command", "dump {database}", "-rf", "must start with");
    assert_split_fails("dump_command", "dump {database}", "../x", "must start with");
    assert_split_fails("dump_command", "dump {database}", "a/b", "contains '/'");
    assert_split_fails("dump_command", "dump {database}", "a;b", "contains ';'");
    assert_split_fails("dump_command", "dump {database}", "", "empty");
    assert_split_fails("dump_command", "dump {database}", NULL, "no database");
    assert_int_equal(neo4j_check_database("neo4j"), 0);
    assert_int_equal(neo4j_check_database("system"), 0);
    assert_int_equal(neo4j_check_database("a_b.c-d"), 0);
    char longname[80];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    assert_int_equal(neo4j_check_database(longname), -1);
}

static void test_split_errors(void **state)
{
    (void)state;
    assert_split_fails("dump_command", "a 'b", NULL, "dump_command: unbalanced ' quote");
    assert_split_fails("load_command", "a \"b 'c'", NULL, "load_command: unbalanced \" quote");
    assert_split_fails("dump_command", "a | b", NULL,
                       "dump_command: shell operator '|' needs `sh -c '...'`");
    assert_split_fails("dump_command", "a;b", NULL, "operator ';'");
    assert_split_fails("dump_command", "a > f", NULL, "operator '>'");
    assert_split_fails("dump_command", "a < f", NULL, "operator '<'");
    assert_split_fails("dump_command", "a && b", NULL, "operator '&&'");
    assert_split_fails("dump_command", "a 2>&1", NULL, "operator '>&'");
    assert_split_fails("dump_command", "(a)", NULL, "operator '('");
    assert_split_fails("dump_command", "a #comment", NULL, "operator '#'");
    /* The whole message: the operator, where, and both ways out. */
    assert_split_fails("stop_command", "docker stop haia-neo4j # stop it", NULL,
                       "stop_command: shell operator '#' needs `sh -c '...'` (character 24): "
                       "templates run without a shell and have no comments; to pass it to the "
                       "program as text, quote it: \"#\"");
    assert_split_fails("dump_command", "a || b", NULL,
                       "dump_command: shell operator '||' needs `sh -c '...'` (character 3): "
                       "templates run without a shell; to pass it to the program as text, quote "
                       "it: \"||\"");
    assert_split_fails("dump_command", "echo $HOME", NULL, "no expansion");
    assert_split_fails("dump_command", "echo \"${X}\"", NULL, "no expansion");
    assert_split_fails("dump_command", "echo $(id)", NULL, "no expansion");
    assert_split_fails("dump_command", "echo `id`", NULL, "no expansion");
    assert_split_fails("stop_command", "", NULL, "stop_command is empty");
    assert_split_fails("stop_command", "   \t ", NULL, "stop_command is empty");
    assert_split_fails("stop_command", "a \\", NULL, "backslash");
    assert_split_fails("stop_command", "sh -c", NULL, "needs a script");
    assert_split_fails("stop_command", "sh -c 'a", NULL, "unbalanced");
}

static void test_split_sh_c(void **state)
{
    (void)state;
    /* Quoted script: split as usual; operators inside the quotes are the
     * shell's business. */
    assert_argv(
        neo4j_split("sh -c 'neo4j-admin database dump --to-stdout {database} | cat' x y", "neo4j"),
        (const char *[]){"sh", "-c", "neo4j-admin database dump --to-stdout neo4j | cat", "x", "y",
                         NULL});
    /* Unquoted: the rest of the line runs as written. */
    assert_argv(
        neo4j_split("sh -c docker exec n neo4j-admin dump {database} | zstd -d > 'f' ", "neo4j"),
        (const char *[]){"sh", "-c", "docker exec n neo4j-admin dump neo4j | zstd -d > 'f'", NULL});
    assert_argv(neo4j_split("/bin/bash -c \"echo \\\"\\$NEO4J_OFFSITE_DATABASE\\\"\"", "neo4j"),
                (const char *[]){"/bin/bash", "-c", "echo \"$NEO4J_OFFSITE_DATABASE\"", NULL});
    /* A quoted script is still a template: "$X" would be expanded by a
     * shell, so it is refused here; '...' or \$ pass it on. */
    assert_split_fails("dump_command", "sh -c \"echo $NEO4J_OFFSITE_DATABASE\"", NULL,
                       "no expansion");
    /* Not the sh -c form: an operator is still refused. */
    assert_split_fails("dump_command", "sh x -c a | b", NULL, "operator '|'");
}

/* ------------------------------------------------------------ children */

static void test_stream_payload(void **state)
{
    (void)state;
    char file[256], tmpl[1024];
    path_in(file, sizeof file, "payload");
    snprintf(tmpl, sizeof tmpl, "sh -c 'head -c 1000000 /dev/urandom | tee %s'", file);
    neo4j_child *c = neo4j_spawn("dump_command", tmpl, NULL, NEO4J_READ_STDOUT, 30);
    assert_non_null(c);
    assert_true(neo4j_pid(c) > 0);
    size_t n, m;
    char *got = read_all(c, &n);
    assert_non_null(got);
    assert_int_equal(neo4j_finish(c), 0);
    char *want = slurp(file, &m);
    assert_int_equal(n, 1000000);
    assert_int_equal(m, n);
    assert_memory_equal(got, want, n);
    free(got);
    free(want);
}

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
    neo4j_child *c = neo4j_spawn("dump_command", tmpl, "neo4j", NEO4J_READ_STDOUT, 30);
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

/* 300 KB of stderr before and during 500 KB of stdout: without draining
 * stderr while stdout is waited for, both sides would block forever. */
static void test_stderr_flood(void **state)
{
    (void)state;
    char file[256], tmpl[1024];
    path_in(file, sizeof file, "flood");
    snprintf(tmpl, sizeof tmpl,
             "sh -c 'yes stderr-noise-line | head -n 15000 >&2; head -c 500000 /dev/urandom | "
             "tee %s; yes more-noise | head -n 20000 >&2; echo last words >&2'",
             file);
    log_level old = log_get_level();
    log_set_level(LOG_LVL_WARN);
    double t0 = now_s();
    neo4j_child *c = neo4j_spawn("dump_command", tmpl, NULL, NEO4J_READ_STDOUT, 20);
    assert_non_null(c);
    size_t n, m;
    char *got = read_all(c, &n);
    log_set_level(old);
    if (!got)
        fail_msg("read failed: %s", err_msg());
    assert_int_equal(neo4j_finish(c), 0);
    assert_true(now_s() - t0 < 15);
    char *want = slurp(file, &m);
    assert_int_equal(n, 500000);
    assert_int_equal(m, n);
    assert_memory_equal(got, want, n);
    free(got);
    free(want);
}

static void test_log_lines(void **state)
{
    (void)state;
    char logf[256];
    path_in(logf, sizeof logf, "log.txt");
    capture_stderr(logf);
    int rc = neo4j_run("check_command",
                       "sh -c 'echo to-stdout; printf \"bell\\a here\\n\" >&2; head -c 3000 "
                       "/dev/zero | tr \"\\0\" L >&2; echo >&2; printf no-newline >&2'",
                       NULL, 10);
    restore_stderr();
    assert_int_equal(rc, 0);
    size_t n;
    char *log = slurp(logf, &n);
    assert_non_null(strstr(log, "neo4j: check_command: to-stdout\n"));
    assert_non_null(strstr(log, "neo4j: check_command: bell? here\n"));
    assert_non_null(strstr(log, "neo4j: check_command: no-newline\n"));
    /* The 3000-character line is logged cut at 1024, once. */
    char *cut = strstr(log, "neo4j: check_command: LLLL");
    assert_non_null(cut);
    char *end = strchr(cut, '\n');
    assert_non_null(end);
    assert_true(end - cut < 1100);
    assert_memory_equal(end - 6, " [...]", 6);
    assert_null(strstr(end, "check_command: LLLL"));
    free(log);
}

static void test_stdin_is_devnull(void **state)
{
    (void)state;
    neo4j_child *c =
        neo4j_spawn("dump_command", "sh -c 'cat; echo done'", NULL, NEO4J_READ_STDOUT, 5);
    assert_non_null(c);
    size_t n;
    char *got = read_all(c, &n);
    assert_non_null(got);
    assert_string_equal(got, "done\n");
    assert_int_equal(neo4j_finish(c), 0);
    free(got);
}

static void test_env_database(void **state)
{
    (void)state;
    setenv("NEO4J_OFFSITE_DATABASE", "stale", 1);
    neo4j_child *c = neo4j_spawn("dump_command", "sh -c 'printf %s \"$NEO4J_OFFSITE_DATABASE\"'",
                                 "my.db-1", NEO4J_READ_STDOUT, 5);
    assert_non_null(c);
    size_t n;
    char *got = read_all(c, &n);
    assert_non_null(got);
    assert_string_equal(got, "my.db-1");
    assert_int_equal(neo4j_finish(c), 0);
    free(got);
    unsetenv("NEO4J_OFFSITE_DATABASE");
}

static void test_child_fails(void **state)
{
    (void)state;
    err_clear();
    assert_int_equal(neo4j_run("stop_command",
                               "sh -c 'echo first >&2; echo \"the real reason\" >&2; exit 3'", NULL,
                               10),
                     -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    if (!strstr(err_msg(), "stop_command failed (exit 3)") || !strstr(err_msg(), "the real reason"))
        fail_msg("message: %s", err_msg());
    assert_int_equal(neo4j_last_db_missing(), 0);

    /* Neo4j's generic last line is skipped for the informative ones. */
    assert_int_equal(neo4j_run("dump_command",
                               "sh -c 'echo \"Failed to dump database x: disk full\" >&2; "
                               "echo \"Dump failed for databases: x\" >&2; "
                               "echo \"Run with --verbose for a more detailed error message.\" "
                               ">&2; exit 1'",
                               NULL, 10),
                     -1);
    assert_non_null(strstr(err_msg(), "disk full"));

    /* Output read to EOF, then a failure: finish still reports it. */
    neo4j_child *c = neo4j_spawn("dump_command", "sh -c 'echo data; echo broken >&2; exit 7'", NULL,
                                 NEO4J_READ_STDOUT, 10);
    assert_non_null(c);
    size_t n;
    free(read_all(c, &n));
    assert_int_equal(neo4j_finish(c), -1);
    assert_non_null(strstr(err_msg(), "exit 7"));
    assert_non_null(strstr(err_msg(), "broken"));

    assert_int_equal(neo4j_run("stop_command", "sh -c 'kill -9 $$'", NULL, 10), -1);
    assert_non_null(strstr(err_msg(), "killed by signal 9"));

    assert_null(neo4j_spawn("stop_command", "/nonexistent/prog x", NULL, NEO4J_NO_PIPE, 5));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(), "stop_command: program /nonexistent/prog not found");
    assert_null(neo4j_spawn("stop_command", "no-such-program-n4o x", NULL, NEO4J_NO_PIPE, 5));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(
        strstr(err_msg(), "stop_command: program no-such-program-n4o not found in PATH ("));
    assert_null(neo4j_spawn("stop_command", "a | b", NULL, NEO4J_NO_PIPE, 5));
    assert_int_equal(err_get_kind(), ERR_USAGE);

    /* Empty templates are no-ops; a good one succeeds. */
    assert_int_equal(neo4j_run("start_command", NULL, NULL, 5), 0);
    assert_int_equal(neo4j_run("start_command", "  ", NULL, 5), 0);
    assert_int_equal(neo4j_run("start_command", "true", NULL, 5), 0);
    assert_int_equal(neo4j_finish(NULL), 0);
    neo4j_kill(NULL);
}

static void test_db_missing(void **state)
{
    (void)state;
    assert_int_equal(neo4j_run("dump_command",
                               "sh -c 'echo \"Failed to dump database x: DATABASE does not exist: "
                               "x\" >&2; exit 1'",
                               "x", 10),
                     -1);
    assert_int_equal(neo4j_last_db_missing(), 1);
    assert_non_null(strstr(err_msg(), "database 'x' does not exist"));
    /* A later success or other failure clears it. */
    assert_int_equal(neo4j_run("dump_command", "sh -c 'exit 1'", NULL, 10), -1);
    assert_int_equal(neo4j_last_db_missing(), 0);

    /* The stand-in, as the real tool, on a database that is not there. */
    char home[256], tmpl[8192];
    path_in(home, sizeof home, "standin-missing");
    mkdir(home, 0700);
    setenv("NEO4J_STANDIN_HOME", home, 1);
    snprintf(tmpl, sizeof tmpl, "'%s' database dump --to-stdout {database}", admin);
    neo4j_child *c = neo4j_spawn("dump_command", tmpl, "nope", NEO4J_READ_STDOUT, 10);
    assert_non_null(c);
    size_t n;
    char *got = read_all(c, &n);
    assert_non_null(got);
    assert_int_equal(n, 0);
    free(got);
    assert_int_equal(neo4j_finish(c), -1);
    assert_int_equal(neo4j_last_db_missing(), 1);
    assert_non_null(strstr(err_msg(), "dump_command failed (exit 1): database 'nope' does not"));
    unsetenv("NEO4J_STANDIN_HOME");
}

static void test_timeout_kills_group(void **state)
{
    (void)state;
    neo4j_set_kill_grace_ms(500);
    double t0 = now_s();
    neo4j_child *c =
        neo4j_spawn("dump_command", "sh -c 'sleep 100 & sleep 100'", NULL, NEO4J_READ_STDOUT, 1);
    assert_non_null(c);
    pid_t pg = neo4j_pid(c);
    char buf[64];
    assert_int_equal(neo4j_read(c, buf, sizeof buf), -1);
    double took = now_s() - t0;
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(), "dump_command timed out after 1 s (command_timeout)");
    assert_true(took >= 0.9 && took < 4);
    assert_true(group_gone(pg));
    /* finish after the failed read keeps the timeout as the error */
    err_clear();
    assert_int_equal(neo4j_finish(c), -1);
    assert_non_null(strstr(err_msg(), "timed out after 1 s"));

    /* A group that ignores SIGTERM gets SIGKILL after the grace; the wait
     * happens in finish (neo4j_run). */
    t0 = now_s();
    assert_int_equal(
        neo4j_run("stop_command", "sh -c 'trap \"\" TERM; sleep 100 & sleep 100'", NULL, 1), -1);
    took = now_s() - t0;
    assert_non_null(strstr(err_msg(), "stop_command timed out after 1 s"));
    assert_true(took >= 1.4 && took < 5);

    /* Timeout while feeding a load that never reads. */
    c = neo4j_spawn("load_command", "sh -c 'sleep 100'", NULL, NEO4J_WRITE_STDIN, 1);
    assert_non_null(c);
    pg = neo4j_pid(c);
    static char chunk[65536];
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++)
        rc = neo4j_write(c, chunk, sizeof chunk);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err_msg(), "load_command timed out"));
    assert_int_equal(neo4j_finish(c), -1);
    assert_true(group_gone(pg));

    /* neo4j_kill on a healthy child takes its group down too. */
    c = neo4j_spawn("dump_command", "sh -c 'sleep 100 & sleep 100'", NULL, NEO4J_READ_STDOUT, 0);
    assert_non_null(c);
    pg = neo4j_pid(c);
    neo4j_kill(c);
    assert_true(group_gone(pg));
    neo4j_set_kill_grace_ms(3000);
}

static void test_load(void **state)
{
    (void)state;
    char file[256], tmpl[1024];
    path_in(file, sizeof file, "loaded");
    snprintf(tmpl, sizeof tmpl, "sh -c 'cat > %s'", file);
    neo4j_child *c = neo4j_spawn("load_command", tmpl, NULL, NEO4J_WRITE_STDIN, 30);
    assert_non_null(c);
    size_t total = 3 * 1000 * 1000;
    char *data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (char)(i * 2654435761u >> 13);
    for (size_t off = 0; off < total; off += 100000)
        assert_int_equal(neo4j_write(c, data + off, 100000), 0);
    assert_int_equal(neo4j_finish(c), 0);
    size_t n;
    char *got = slurp(file, &n);
    assert_int_equal(n, total);
    assert_memory_equal(got, data, total);
    free(got);
    free(data);
}

/* SIGPIPE is at its default here (no signals_install in this process): a
 * reader that goes away must give -1, not kill the test. */
static void test_load_exits_early(void **state)
{
    (void)state;
    assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    static char chunk[65536];
    neo4j_child *c = neo4j_spawn("load_command",
                                 "sh -c 'head -c 10 >/dev/null; echo \"Database already exists: "
                                 "neo4j\" >&2; exit 1'",
                                 "neo4j", NEO4J_WRITE_STDIN, 10);
    assert_non_null(c);
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = neo4j_write(c, chunk, sizeof chunk);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err_msg(), "stopped reading its input"));
    assert_int_equal(neo4j_write(c, chunk, 10), -1); /* stays failed */
    assert_int_equal(neo4j_finish(c), -1);
    if (!strstr(err_msg(), "load_command failed (exit 1)") || !strstr(err_msg(), "already exists"))
        fail_msg("message: %s", err_msg());

    /* Exit 0 without taking all the input is a failure too. */
    c = neo4j_spawn("load_command", "head -c 10", NULL, NEO4J_WRITE_STDIN, 10);
    assert_non_null(c);
    rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = neo4j_write(c, chunk, sizeof chunk);
    assert_int_equal(rc, -1);
    assert_int_equal(neo4j_finish(c), -1);
    assert_non_null(strstr(err_msg(), "before reading all its input"));

    /* No SIGPIPE was left pending for us either. */
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
}

/* A pending signal interrupts reads, but start_command (neo4j_run) still
 * runs: it is the cleanup path.  In a child process, as signals_install()
 * is process-wide. */
static void test_signal_pending_run(void **state)
{
    (void)state;
    char marker[256], tmpl[1024];
    path_in(marker, sizeof marker, "pending-marker");
    snprintf(tmpl, sizeof tmpl, "sh -c 'echo started > %s'", marker);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signals_install();
        neo4j_child *c =
            neo4j_spawn("dump_command", "sh -c 'echo x; sleep 100'", NULL, NEO4J_READ_STDOUT, 30);
        if (!c)
            _exit(10);
        raise(SIGTERM);
        char buf[16];
        if (neo4j_read(c, buf, sizeof buf) != -1 ||
            strcmp(err_msg(), "dump_command interrupted by SIGTERM") != 0)
            _exit(11);
        if (neo4j_finish(c) != -1 || !strstr(err_msg(), "interrupted by SIGTERM"))
            _exit(12);
        if (neo4j_run("start_command", tmpl, NULL, 10) != 0)
            _exit(13);
        _exit(signals_pending() == SIGTERM ? 0 : 14);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    size_t n;
    char *m = slurp(marker, &n);
    assert_non_null(m);
    assert_string_equal(m, "started\n");
    free(m);
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
        neo4j_child *c = neo4j_spawn("dump_command", dump, "neo4j", NEO4J_READ_STDOUT, 60);
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
    size_t n;
    char *ev = slurp(events, &n);
    assert_non_null(ev);
    assert_string_equal(ev, "stop\ndump neo4j\nstart\n");
    free(ev);
}

/* ------------------------------------------------------------ checks */

static void assert_check_fails(const char *what, const char *tmpl, const char *needle)
{
    err_clear();
    if (neo4j_check_template(what, tmpl) == 0)
        fail_msg("check accepted '%s'", tmpl);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    if (!strstr(err_msg(), needle))
        fail_msg("'%s': message '%s' lacks '%s'", tmpl, err_msg(), needle);
    /* One rule: what the check refuses, splitting refuses when it runs,
     * with the same message. */
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", err_msg());
    err_clear();
    char **argv = neo4j_split_what(what, tmpl, "neo4j");
    if (argv)
        fail_msg("'%s' refused by the check but split at run time", tmpl);
    assert_string_equal(err_msg(), msg);
}

static void assert_check_ok(const char *tmpl)
{
    err_clear();
    if (neo4j_check_template("dump_command", tmpl) != 0)
        fail_msg("check refused '%s': %s", tmpl, err_msg());
    char **argv = neo4j_split_what("dump_command", tmpl, "neo4j");
    if (!argv)
        fail_msg("'%s' passed the check but does not split: %s", tmpl, err_msg());
    neo4j_argv_free(argv);
}

static void test_check_template(void **state)
{
    (void)state;
    /* The shapes of SPEC.md and conf/, and shell text with braces. */
    assert_check_ok("neo4j-admin database dump --to-stdout {database}");
    assert_check_ok("neo4j-admin database load --from-stdin --overwrite-destination=true "
                    "{database}");
    assert_check_ok("docker exec haia-neo4j neo4j-admin database dump --to-stdout {database}");
    assert_check_ok("docker stop haia-neo4j");
    assert_check_ok("find /backups -name '*.dump' -exec ls {} ';'");
    assert_check_ok("echo '{a,b}' '{ x }' {} {1..3} {-x}");
    assert_check_ok("sh -c 'neo4j-admin database dump --to-stdout {database} | zstd -q'");
    assert_check_ok("sh -c '{ date; neo4j-admin server status; } >&2; awk \"{print \\$1}\" /f'");
    assert_check_ok("sh -c 'awk '\\''{print}'\\'' /f; jq \"{name, id}\" x; echo ${HOME} $HOME'");
    assert_check_ok("sh -c { echo a; echo {database}; } | awk '{print}' > /dev/null");
    assert_check_ok("bash -c 'echo {print} {next} {db_size} {dbms}' arg0 {database}");
    assert_int_equal(neo4j_check_template("stop_command", NULL), 0);
    assert_int_equal(neo4j_check_template("stop_command", ""), 0);
    assert_int_equal(neo4j_check_template("stop_command", "  \t"), 0);

    /* Unknown placeholders: named, with the known ones. */
    assert_check_fails("dump_command", "neo4j-admin database dump --to-stdout {databse}",
                       "dump_command: unknown placeholder {databse} (did you mean {database}?); "
                       "known placeholders: {database} (every {name} outside an `sh -c` script "
                       "is taken for one)");
    assert_check_fails("dump_command", "neo4j-admin database dump '--to-path=/b/{db}'",
                       "unknown placeholder {db} (did you mean {database}?)");
    assert_check_fails("load_command", "neo4j-admin load {DATABASE}",
                       "load_command: unknown placeholder {DATABASE} (did you mean {database}?)");
    assert_check_fails("check_command", "awk '{print}' /var/log/neo4j.log",
                       "check_command: unknown placeholder {print}; known placeholders: "
                       "{database} (every {name} outside an `sh -c` script is taken for one)");
    /* In an sh -c script only what was surely meant as {database}. */
    assert_check_fails("dump_command", "sh -c 'neo4j-admin database dump --to-stdout {databse}'",
                       "dump_command: unknown placeholder {databse} in the `sh -c` script (did "
                       "you mean {database}?); known placeholders: {database}");
    assert_check_fails("dump_command", "sh -c neo4j-admin database dump {Database} | cat",
                       "unknown placeholder {Database} in the `sh -c` script (did you mean");
    assert_check_fails("dump_command", "sh -c 'dump {db_name}'", "unknown placeholder {db_name}");
    assert_check_fails("dump_command", "sh -c 'dump ${database}'",
                       "dump_command: ${database} in the `sh -c` script is the shell variable "
                       "$database, not the placeholder");
    /* Arguments after the script are plain words again. */
    assert_check_fails("dump_command", "sh -c 'dump \"$1\"' sh {name}",
                       "unknown placeholder {name}");

    /* Operators and quotes. */
    assert_check_fails("stop_command", "docker stop haia-neo4j # stop it",
                       "stop_command: shell operator '#' needs `sh -c '...'` (character 24)");
    assert_check_fails("stop_command", "docker stop haia-neo4j; sleep 1",
                       "shell operator ';' needs `sh -c '...'` (character 23)");
    assert_check_fails("dump_command", "neo4j-admin dump > /tmp/x", "quote it: \">\"");
    assert_check_fails("dump_command", "neo4j-admin 'dump", "dump_command: unbalanced ' quote");
    assert_check_fails("dump_command", "sh -c \"dump", "dump_command: unbalanced \" quote");
    assert_check_fails("dump_command", "echo $HOME", "no expansion");
    assert_check_fails("dump_command", "sh -c", "needs a script");
}

/* An executable script NAME in DIR printing WORD (mode MODE). */
static void make_prog(const char *dir, const char *name, const char *word, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\necho %s\n", word);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void assert_program_fails(const char *tmpl, const char *want)
{
    err_clear();
    assert_int_equal(neo4j_check_program("dump_command", tmpl), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    if (!strstr(err_msg(), want))
        fail_msg("'%s': message '%s' lacks '%s'", tmpl, err_msg(), want);
}

static void test_check_program(void **state)
{
    (void)state;
    char d1[256], d2[256], path[1024], tmpl[8192], want[2048];
    path_in(d1, sizeof d1, "bin1");
    path_in(d2, sizeof d2, "bin2");
    mkdir(d1, 0700);
    mkdir(d2, 0700);
    make_prog(d1, "n4o-noexec", "first", 0600);
    make_prog(d2, "n4o-noexec", "second", 0700);
    make_prog(d1, "n4o-only-noexec", "x", 0600);
    snprintf(path, sizeof path, "%s/n4o-dir", d1);
    mkdir(path, 0700);
    make_prog(d2, "n4o-dir", "second", 0700);

    assert_int_equal(neo4j_check_program("dump_command", "sh -c 'no-such-prog-n4o'"), 0);
    assert_int_equal(neo4j_check_program("dump_command", "true --x {database}"), 0);
    assert_int_equal(neo4j_check_program("dump_command", "/bin/sh -c true"), 0);
    assert_int_equal(neo4j_check_program("dump_command", "/opt/{database}/dump x"), 0);
    assert_int_equal(neo4j_check_program("stop_command", NULL), 0);
    assert_int_equal(neo4j_check_program("stop_command", " "), 0);
    snprintf(tmpl, sizeof tmpl, "'%s' database dump", admin);
    assert_int_equal(neo4j_check_program("dump_command", tmpl), 0);

    snprintf(path, sizeof path, "%s:%s", d1, d2);
    setenv("PATH", path, 1);
    snprintf(want, sizeof want, "dump_command: program no-such-prog-n4o not found in PATH (%s:%s)",
             d1, d2);
    assert_program_fails("no-such-prog-n4o --to-stdout {database}", want);
    /* As execvp: a match that cannot run is passed over for a later one. */
    assert_int_equal(neo4j_check_program("dump_command", "n4o-noexec"), 0);
    assert_int_equal(neo4j_check_program("dump_command", "n4o-dir"), 0);
    snprintf(want, sizeof want,
             "dump_command: program n4o-only-noexec is not executable: %s/n4o-only-noexec has no "
             "execute permission (PATH %s:%s)",
             d1, d1, d2);
    assert_program_fails("n4o-only-noexec", want);
    /* The program the check approved is the one that runs. */
    neo4j_child *c = neo4j_spawn("dump_command", "n4o-noexec", NULL, NEO4J_READ_STDOUT, 10);
    assert_non_null(c);
    size_t n;
    char *got = read_all(c, &n);
    assert_non_null(got);
    assert_string_equal(got, "second\n");
    free(got);
    assert_int_equal(neo4j_finish(c), 0);
    assert_null(neo4j_spawn("dump_command", "n4o-only-noexec", NULL, NEO4J_READ_STDOUT, 10));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "program n4o-only-noexec is not executable"));

    /* Paths. */
    snprintf(tmpl, sizeof tmpl, "%s/n4o-only-noexec x", d1);
    snprintf(want, sizeof want, "dump_command: program %s/n4o-only-noexec is not executable", d1);
    assert_program_fails(tmpl, want);
    snprintf(tmpl, sizeof tmpl, "%s/n4o-dir", d1);
    snprintf(want, sizeof want, "dump_command: program %s/n4o-dir is a directory", d1);
    assert_program_fails(tmpl, want);
    assert_program_fails("/nonexistent/neo4j-admin dump",
                         "dump_command: program /nonexistent/neo4j-admin not found");
    /* A bad template fails as the template check does. */
    assert_program_fails("neo4j-admin dump {databse}", "unknown placeholder {databse}");

    /* PATH set but empty: the current directory, as execvp. */
    setenv("PATH", "", 1);
    assert_program_fails("n4o-noexec", "not found in PATH ()");
    /* PATH unset: the system default (confstr), where sh is. */
    unsetenv("PATH");
    assert_int_equal(neo4j_check_program("dump_command", "sh -c true"), 0);
}

/* Teardown of tests that change PATH: later tests need theirs, also after a
 * failure. */
static int restore_path(void **state)
{
    (void)state;
    return setenv("PATH", saved_path, 1);
}

/* ------------------------------------------------------------ lifetime */

/* /proc/PID/environ as one string, entries separated by '\n'. */
static char *proc_environ(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    size_t n;
    char *s = slurp(path, &n);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0')
            s[i] = '\n';
    return s;
}

static int env_has(const char *env, const char *entry)
{
    size_t len = strlen(entry);
    for (const char *p = env; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n >= len && memcmp(p, entry, len) == 0 && (entry[len - 1] == '=' || n == len))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* The secrets of the tool never reach a child; the rest of the environment
 * does.  Read from the running child itself, and from a process it started. */
static void test_env_scrubbed(void **state)
{
    (void)state;
    static const char *const secret[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                         "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                                         "NEO4J_OFFSITE_PASSPHRASE_FILE"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        setenv(secret[i], "n4o-secret-value", 1);
    setenv("N4O_TEST_KEEP", "kept", 1);
    char marker[256], tmpl[1024];
    path_in(marker, sizeof marker, "grandchild.pid");
    snprintf(tmpl, sizeof tmpl, "sh -c 'sleep 30 & echo $! > %s; wait'", marker);
    neo4j_child *c = neo4j_spawn("dump_command", tmpl, "neo4j", NEO4J_NO_PIPE, 60);
    assert_non_null(c);
    pid_t grandchild = 0;
    for (int i = 0; i < 200 && grandchild <= 0; i++) {
        size_t n;
        char *s = slurp(marker, &n);
        if (s && n > 0 && s[n - 1] == '\n')
            grandchild = (pid_t)atoi(s);
        free(s);
        if (grandchild <= 0)
            usleep(10000);
    }
    assert_true(grandchild > 0);
    pid_t pids[2] = {neo4j_pid(c), grandchild};
    for (int k = 0; k < 2; k++) {
        char *env = proc_environ(pids[k]);
        for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
            char entry[128];
            snprintf(entry, sizeof entry, "%s=", secret[i]);
            if (env_has(env, entry))
                fail_msg("%s reached %s (pid %d)", secret[i], k ? "a grandchild" : "the child",
                         (int)pids[k]);
        }
        assert_false(strstr(env, "n4o-secret-value"));
        assert_true(env_has(env, "N4O_TEST_KEEP=kept"));
        assert_true(env_has(env, "NEO4J_OFFSITE_DATABASE=neo4j"));
        assert_true(env_has(env, "PATH="));
        free(env);
    }
    neo4j_kill(c);
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        unsetenv(secret[i]);
    unsetenv("N4O_TEST_KEEP");
}

/* Children of ours that are guardians (comm n4o-guardian), from /proc. */
static int count_guardians(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], line[512];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char *got = fgets(line, sizeof line, f);
        fclose(f);
        /* "pid (comm) state ppid ..." */
        char *close_paren = got ? strrchr(line, ')') : NULL;
        int ppid = 0;
        if (close_paren && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == getpid() &&
            strstr(line, "(n4o-guardian)"))
            n++;
    }
    closedir(d);
    return n;
}

/* kill -9 of the process that spawned a dump: the dump and what it started
 * are gone within two seconds (PDEATHSIG for the child, the guardian for
 * its group).  The spawning process is a fork of the test, so the test's
 * subreaper role collects the orphans. */
static void test_parent_killed(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t driver = fork();
    assert_true(driver >= 0);
    if (driver == 0) {
        close(ready[0]);
        neo4j_child *c =
            neo4j_spawn("dump_command", "sh -c 'sleep 100 & echo x; sleep 100; echo never'", NULL,
                        NEO4J_READ_STDOUT, 0);
        if (!c)
            _exit(10);
        char buf[8];
        if (neo4j_read(c, buf, sizeof buf) <= 0)
            _exit(11);
        pid_t pg = neo4j_pid(c);
        if (write(ready[1], &pg, sizeof pg) != sizeof pg)
            _exit(12);
        for (;;)
            pause();
    }
    close(ready[1]);
    pid_t pg = 0;
    assert_int_equal(read(ready[0], &pg, sizeof pg), (ssize_t)sizeof pg);
    close(ready[0]);
    assert_true(pg > 0);
    assert_int_equal(kill(-pg, 0), 0); /* the dump runs */
    double t0 = now_s();
    assert_int_equal(kill(driver, SIGKILL), 0);
    assert_int_equal(waitpid(driver, NULL, 0), driver);
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) /* orphans, the guardian */
            ;
        if (kill(-pg, 0) < 0 && errno == ESRCH)
            break;
        if (now_s() - t0 > 2)
            fail_msg("the dump's process group %d outlived its parent by 2 s", (int)pg);
        usleep(10000);
    }
    print_message("    group gone %.0f ms after kill -9\n", (now_s() - t0) * 1000);
}

/* On the normal path the guardian is retired without touching the group: a
 * daemon that start_command leaves running stays, and no guardian is left. */
static void test_guardian_retired(void **state)
{
    (void)state;
    char pidfile[256], tmpl[1024];
    path_in(pidfile, sizeof pidfile, "daemon.pid");
    snprintf(tmpl, sizeof tmpl, "sh -c 'sleep 60 </dev/null >/dev/null 2>&1 & echo $! > %s'",
             pidfile);
    neo4j_child *c = neo4j_spawn("start_command", tmpl, NULL, NEO4J_NO_PIPE, 10);
    assert_non_null(c);
    assert_int_equal(count_guardians(), 1);
    assert_int_equal(neo4j_finish(c), 0);
    assert_int_equal(count_guardians(), 0);
    size_t n;
    char *s = slurp(pidfile, &n);
    assert_non_null(s);
    pid_t daemon = (pid_t)atoi(s);
    free(s);
    assert_true(daemon > 0);
    usleep(300000);
    assert_int_equal(kill(daemon, 0), 0);
    kill(daemon, SIGKILL);
    group_gone(daemon);

    c = neo4j_spawn("dump_command", "sleep 60", NULL, NEO4J_READ_STDOUT, 0);
    assert_non_null(c);
    assert_int_equal(count_guardians(), 1);
    neo4j_kill(c);
    assert_int_equal(count_guardians(), 0);
}

/* ------------------------------------------------------------ main */

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/n4o-test-neo4j-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
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
    if (getenv("PATH"))
        snprintf(saved_path, sizeof saved_path, "%s", getenv("PATH"));
    /* Orphaned grandchildren become ours, so group_gone() can reap them
     * instead of depending on what PID 1 does. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_quoting),
        cmocka_unit_test(test_split_database),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_split_sh_c),
        cmocka_unit_test(test_stream_payload),
        cmocka_unit_test(test_stream_standin),
        cmocka_unit_test(test_stderr_flood),
        cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_stdin_is_devnull),
        cmocka_unit_test(test_env_database),
        cmocka_unit_test(test_child_fails),
        cmocka_unit_test(test_db_missing),
        cmocka_unit_test(test_timeout_kills_group),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_exits_early),
        cmocka_unit_test(test_signal_pending_run),
        cmocka_unit_test(test_sigterm_during_dump),
        cmocka_unit_test(test_check_template),
        cmocka_unit_test_teardown(test_check_program, restore_path),
        cmocka_unit_test(test_env_scrubbed),
        cmocka_unit_test(test_parent_killed),
        cmocka_unit_test(test_guardian_retired),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
