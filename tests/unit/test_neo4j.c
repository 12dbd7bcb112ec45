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
    assert_split_fails("dump_command", "a && b", NULL, "operator '&'");
    assert_split_fails("dump_command", "(a)", NULL, "operator '('");
    assert_split_fails("dump_command", "a #comment", NULL, "operator '#'");
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
    assert_non_null(strstr(err_msg(), "cannot run '/nonexistent/prog'"));
    assert_null(neo4j_spawn("stop_command", "no-such-program-n4o x", NULL, NEO4J_NO_PIPE, 5));
    assert_non_null(strstr(err_msg(), "not found in PATH"));
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
        cmocka_unit_test(test_split_quoting),       cmocka_unit_test(test_split_database),
        cmocka_unit_test(test_split_errors),        cmocka_unit_test(test_split_sh_c),
        cmocka_unit_test(test_stream_payload),      cmocka_unit_test(test_stream_standin),
        cmocka_unit_test(test_stderr_flood),        cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_stdin_is_devnull),    cmocka_unit_test(test_env_database),
        cmocka_unit_test(test_child_fails),         cmocka_unit_test(test_db_missing),
        cmocka_unit_test(test_timeout_kills_group), cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_exits_early),    cmocka_unit_test(test_signal_pending_run),
        cmocka_unit_test(test_sigterm_during_dump),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
