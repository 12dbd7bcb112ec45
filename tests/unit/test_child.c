/* Tests of child: streaming a child's stdout and stdin, logging its
 * output, exit status and failure messages, timeouts killing the process
 * group, pending signals, program lookup and the working directory, the
 * environment the child sees (read from /proc), and no child outliving a
 * kill -9 of its parent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "child.h"
#include "err.h"
#include "log.h"
#include "signals.h"

#include "child_helpers.h"

#include <dirent.h>
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
static char saved_path[8192] = "/usr/local/bin:/usr/bin:/bin";

/* ------------------------------------------------------------ helpers */

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

/* `sh -c SCRIPT` as WHAT, with PIPE and TIMEOUT_S. */
static child_process *spawn_sh(const char *what, const char *script, child_pipe pipe,
                               long timeout_s)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    child_opts o = {.what = what, .pipe = pipe, .timeout_s = timeout_s};
    return child_spawn(argv, &o);
}

/* Run `sh -c SCRIPT` to its end, output logged: child_finish's result. */
static int run_sh(const char *what, const char *script, long timeout_s)
{
    child_process *c = spawn_sh(what, script, CHILD_NO_PIPE, timeout_s);
    return c ? child_finish(c) : -1;
}

static ssize_t read_child(void *c, void *buf, size_t len)
{
    return child_read(c, buf, len);
}

/* C's stdout to EOF; NULL (err set) when a read fails. */
static char *read_all(child_process *c, size_t *len)
{
    return read_to_eof(read_child, c, len);
}

/* What `sh -c SCRIPT` prints on stdout, the child finished with success. */
static char *output_of(const char *script)
{
    child_process *c = spawn_sh("t", script, CHILD_READ_STDOUT, 10);
    if (!c)
        fail_msg("spawn: %s", err_msg());
    size_t n = 0;
    char *got = read_all(c, &n);
    assert_non_null(got);
    if (child_finish(c) != 0)
        fail_msg("'%s': %s", script, err_msg());
    return got;
}

/* The pid the child wrote into FILE (a line), waiting for it up to 2 s. */
static pid_t pid_from(const char *file)
{
    for (int i = 0; i < 200; i++) {
        size_t n;
        char *s = slurp(file, &n);
        pid_t pid = s && n > 0 && s[n - 1] == '\n' ? (pid_t)atoi(s) : 0;
        free(s);
        if (pid > 0)
            return pid;
        usleep(10000);
    }
    fail_msg("no pid in %s", file);
    return 0;
}

/* ------------------------------------------------------------ streams */

/* Run SCRIPT (a %s in it: FILE), which writes WANT bytes to stdout and the
 * same into FILE, within MAX_S seconds: we read exactly FILE. */
static void assert_streamed(const char *script_fmt, size_t want, double max_s)
{
    char file[256], script[1024];
    path_in(file, sizeof file, "streamed");
    snprintf(script, sizeof script, script_fmt, file);
    double t0 = now_s();
    child_process *c = spawn_sh("dump_command", script, CHILD_READ_STDOUT, 30);
    assert_non_null(c);
    assert_true(child_pid(c) > 0);
    size_t n = 0, m = 0;
    char *got = read_all(c, &n);
    if (!got)
        fail_msg("read failed: %s", err_msg());
    assert_int_equal(child_finish(c), 0);
    assert_true(now_s() - t0 < max_s);
    char *copy = slurp(file, &m);
    assert_int_equal(n, want);
    assert_int_equal(m, n);
    assert_memory_equal(got, copy, n);
    free(got);
    free(copy);
}

static void test_stream_payload(void **state)
{
    (void)state;
    assert_streamed("head -c 1000000 /dev/urandom | tee %s", 1000000, 30);
}

/* 300 KB of stderr before and during 500 KB of stdout: without draining
 * stderr while stdout is waited for, both sides would block forever. */
static void test_stderr_flood(void **state)
{
    (void)state;
    log_level old = log_get_level();
    log_set_level(LOG_LVL_WARN);
    assert_streamed("yes stderr-noise-line | head -n 15000 >&2; head -c 500000 /dev/urandom | "
                    "tee %s; yes more-noise | head -n 20000 >&2; echo last words >&2",
                    500000, 15);
    log_set_level(old);
}

/* Both streams are logged line by line, with the caller's prefix, control
 * characters replaced, long lines cut once, a last line without newline
 * kept. */
static void test_log_lines(void **state)
{
    (void)state;
    char logf[256];
    path_in(logf, sizeof logf, "log.txt");
    char *argv[] = {"sh", "-c",
                    "echo to-stdout; printf \"bell\\a here\\n\" >&2; head -c 3000 /dev/zero | "
                    "tr \"\\0\" L >&2; echo >&2; printf no-newline >&2",
                    NULL};
    child_opts o = {
        .what = "check_command", .log_prefix = "pfx: ", .pipe = CHILD_NO_PIPE, .timeout_s = 10};
    capture_stderr(logf);
    child_process *c = child_spawn(argv, &o);
    int rc = c ? child_finish(c) : -1;
    restore_stderr();
    assert_int_equal(rc, 0);
    size_t n = 0;
    char *log = slurp(logf, &n);
    assert_non_null(strstr(log, "pfx: check_command: to-stdout\n"));
    assert_non_null(strstr(log, "pfx: check_command: bell? here\n"));
    assert_non_null(strstr(log, "pfx: check_command: no-newline\n"));
    /* The 3000-character line is logged cut at 1024, once. */
    char *cut = strstr(log, "pfx: check_command: LLLL");
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
    char *got = output_of("cat; echo done");
    assert_string_equal(got, "done\n");
    free(got);
}

static void test_write_stdin(void **state)
{
    (void)state;
    char file[256], script[1024];
    path_in(file, sizeof file, "written");
    snprintf(script, sizeof script, "cat > %s", file);
    child_process *c = spawn_sh("load_command", script, CHILD_WRITE_STDIN, 30);
    assert_non_null(c);
    size_t total = 3 * 1000 * 1000;
    char *data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (char)(i * 2654435761u >> 13);
    for (size_t off = 0; off < total; off += 100000)
        assert_int_equal(child_write(c, data + off, 100000), 0);
    assert_int_equal(child_finish(c), 0);
    size_t n = 0;
    char *got = slurp(file, &n);
    assert_int_equal(n, total);
    assert_memory_equal(got, data, total);
    free(got);
    free(data);
}

/* SIGPIPE is at its default here (no signals_install in this process): a
 * reader that goes away must give -1, not kill the test. */
static void test_reader_exits_early(void **state)
{
    (void)state;
    assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    static char chunk[65536];
    child_process *c = spawn_sh("load_command",
                                "head -c 10 >/dev/null; echo \"Database already exists\" >&2; "
                                "exit 1",
                                CHILD_WRITE_STDIN, 10);
    assert_non_null(c);
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = child_write(c, chunk, sizeof chunk);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err_msg(), "load_command stopped reading its input after"));
    assert_int_equal(child_write(c, chunk, 10), -1); /* stays failed */
    assert_int_equal(child_finish(c), -1);
    assert_string_equal(err_msg(), "load_command failed (exit 1): Database already exists");

    /* Exit 0 without taking all the input is a failure too. */
    char *argv[] = {"head", "-c", "10", NULL};
    child_opts o = {.what = "load_command", .pipe = CHILD_WRITE_STDIN, .timeout_s = 10};
    c = child_spawn(argv, &o);
    assert_non_null(c);
    rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = child_write(c, chunk, sizeof chunk);
    assert_int_equal(rc, -1);
    assert_int_equal(child_finish(c), -1);
    assert_non_null(strstr(err_msg(), "load_command exited (0) before reading all its input"));

    /* No SIGPIPE was left pending for us either. */
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
}

/* ------------------------------------------------------------ outcome */

static void test_exit_status(void **state)
{
    (void)state;
    err_clear();
    assert_int_equal(run_sh("stop_command", "exit 0", 10), 0);
    /* The exit code and the last two stderr lines, oldest first. */
    assert_int_equal(run_sh("stop_command",
                            "echo zero >&2; echo first >&2; echo \"the reason\" >&2; exit 3", 10),
                     -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(), "stop_command failed (exit 3): first / the reason");
    assert_int_equal(run_sh("stop_command", "echo only >&2; exit 255", 10), -1);
    assert_string_equal(err_msg(), "stop_command failed (exit 255): only");
    assert_int_equal(run_sh("stop_command", "exit 4", 10), -1);
    assert_string_equal(err_msg(), "stop_command failed (exit 4)");
    /* Stdout lines are logged, never a reason. */
    assert_int_equal(run_sh("stop_command", "echo out; exit 5", 10), -1);
    assert_string_equal(err_msg(), "stop_command failed (exit 5)");

    /* Output read to EOF, then a failure: finish still reports it. */
    child_process *c =
        spawn_sh("dump_command", "echo data; echo broken >&2; exit 7", CHILD_READ_STDOUT, 10);
    assert_non_null(c);
    size_t n = 0;
    char *got = read_all(c, &n);
    assert_string_equal(got, "data\n");
    free(got);
    assert_int_equal(child_finish(c), -1);
    assert_string_equal(err_msg(), "dump_command failed (exit 7): broken");

    assert_int_equal(run_sh("stop_command", "echo dying >&2; kill -9 $$", 10), -1);
    assert_string_equal(err_msg(), "stop_command killed by signal 9 (SIGKILL): dying");
    assert_int_equal(run_sh("stop_command", "kill -TERM $$", 10), -1);
    assert_string_equal(err_msg(), "stop_command killed by signal 15 (SIGTERM)");

    /* Without WHAT the child is "command". */
    char *argv[] = {"false", NULL};
    child_opts o = {.pipe = CHILD_NO_PIPE};
    c = child_spawn(argv, &o);
    assert_non_null(c);
    assert_int_equal(child_finish(c), -1);
    assert_string_equal(err_msg(), "command failed (exit 1)");

    assert_int_equal(child_finish(NULL), 0);
    child_kill(NULL);
    assert_int_equal(child_pid(NULL), -1);
}

/* The caller's reading of stderr: which lines explain a failure, and what
 * it adds after the exit status. */
typedef struct {
    int lines;
    int saw_missing;
} line_watch;

static int watch_line(void *ctx, const char *line)
{
    line_watch *w = ctx;
    w->lines++;
    if (strstr(line, "missing"))
        w->saw_missing = 1;
    return strncmp(line, "hint:", 5) != 0;
}

static const char *watch_cause(void *ctx)
{
    line_watch *w = ctx;
    return w->saw_missing ? ": the thing is missing" : NULL;
}

static void test_stderr_callbacks(void **state)
{
    (void)state;
    line_watch w = {0, 0};
    char *argv[] = {"sh", "-c",
                    "echo out; echo one >&2; echo missing >&2; echo \"hint: try again\" >&2; "
                    "printf \"hint: last\" >&2; exit 2",
                    NULL};
    child_opts o = {.what = "dump_command",
                    .pipe = CHILD_NO_PIPE,
                    .timeout_s = 10,
                    .stderr_line = watch_line,
                    .failure_cause = watch_cause,
                    .ctx = &w};
    child_process *c = child_spawn(argv, &o);
    assert_non_null(c);
    assert_int_equal(child_finish(c), -1);
    assert_int_equal(w.lines, 4); /* stderr only, the unterminated last one too */
    assert_string_equal(err_msg(), "dump_command failed (exit 2): the thing is missing: one / "
                                   "missing");

    /* The cause is asked for a non-zero exit only. */
    w = (line_watch){0, 0};
    argv[2] = "echo missing >&2";
    c = child_spawn(argv, &o);
    assert_non_null(c);
    assert_int_equal(child_finish(c), 0);
    assert_int_equal(w.lines, 1);
}

/* ------------------------------------------------------------ time and signals */

static void test_timeout_kills_group(void **state)
{
    (void)state;
    child_set_kill_grace_ms(500);
    double t0 = now_s();
    char *argv[] = {"sh", "-c", "sleep 100 & sleep 100", NULL};
    child_opts o = {.what = "dump_command",
                    .pipe = CHILD_READ_STDOUT,
                    .timeout_s = 1,
                    .timeout_key = "command_timeout"};
    child_process *c = child_spawn(argv, &o);
    assert_non_null(c);
    pid_t pg = child_pid(c);
    char buf[64];
    assert_int_equal(child_read(c, buf, sizeof buf), -1);
    double took = now_s() - t0;
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(), "dump_command timed out after 1 s (command_timeout)");
    assert_true(took >= 0.9 && took < 4);
    assert_true(group_gone(pg));
    /* finish after the failed read keeps the timeout as the error */
    err_clear();
    assert_int_equal(child_finish(c), -1);
    assert_string_equal(err_msg(), "dump_command timed out after 1 s (command_timeout)");

    /* A group that ignores SIGTERM gets SIGKILL after the grace; the wait
     * happens in finish.  Without a timeout_key the message names none. */
    t0 = now_s();
    assert_int_equal(run_sh("stop_command", "trap \"\" TERM; sleep 100 & sleep 100", 1), -1);
    took = now_s() - t0;
    assert_string_equal(err_msg(), "stop_command timed out after 1 s");
    assert_true(took >= 1.4 && took < 5);

    /* Timeout while feeding a child that never reads. */
    c = spawn_sh("load_command", "sleep 100", CHILD_WRITE_STDIN, 1);
    assert_non_null(c);
    pg = child_pid(c);
    static char chunk[65536];
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++)
        rc = child_write(c, chunk, sizeof chunk);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err_msg(), "load_command timed out"));
    assert_int_equal(child_finish(c), -1);
    assert_true(group_gone(pg));

    /* child_kill on a healthy child takes its group down too. */
    c = spawn_sh("dump_command", "sleep 100 & sleep 100", CHILD_READ_STDOUT, 0);
    assert_non_null(c);
    pg = child_pid(c);
    assert_int_equal(kill(-pg, 0), 0);
    child_kill(c);
    assert_true(group_gone(pg));
    child_set_kill_grace_ms(3000);
}

/* A pending signal interrupts reads; finish kills the child and keeps that
 * error; a new child still runs to its end (the cleanup path).  In a child
 * process, as signals_install() is process-wide. */
static void test_signal_pending(void **state)
{
    (void)state;
    char marker[256], script[1024];
    path_in(marker, sizeof marker, "pending-marker");
    snprintf(script, sizeof script, "echo started > %s", marker);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signals_install();
        child_process *c = spawn_sh("dump_command", "echo x; sleep 100", CHILD_READ_STDOUT, 30);
        if (!c)
            _exit(10);
        pid_t pg = child_pid(c);
        raise(SIGTERM);
        char buf[16];
        if (child_read(c, buf, sizeof buf) != -1 ||
            strcmp(err_msg(), "dump_command interrupted by SIGTERM") != 0)
            _exit(11);
        if (child_finish(c) != -1 || strcmp(err_msg(), "dump_command interrupted by SIGTERM") != 0)
            _exit(12);
        if (!group_gone(pg))
            _exit(13);
        if (run_sh("start_command", script, 10) != 0)
            _exit(14);
        _exit(signals_pending() == SIGTERM ? 0 : 15);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    size_t n = 0;
    char *m = slurp(marker, &n);
    assert_non_null(m);
    assert_string_equal(m, "started\n");
    free(m);
}

/* ------------------------------------------------------------ programs */

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

static void assert_program_fails(const char *name, const char *want)
{
    err_clear();
    assert_int_equal(child_check_program("dump_command", name), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    if (!strstr(err_msg(), want))
        fail_msg("'%s': message '%s' lacks '%s'", name, err_msg(), want);
}

/* What program NAME prints, run through child_spawn. */
static char *run_prog(const char *name)
{
    char *argv[] = {(char *)name, NULL};
    child_opts o = {.what = "dump_command", .pipe = CHILD_READ_STDOUT, .timeout_s = 10};
    child_process *c = child_spawn(argv, &o);
    if (!c)
        return NULL;
    size_t n = 0;
    char *got = read_all(c, &n);
    assert_non_null(got);
    assert_int_equal(child_finish(c), 0);
    return got;
}

static void test_check_program(void **state)
{
    (void)state;
    char d1[256], d2[256], path[1024], name[1024], want[2048];
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

    assert_int_equal(child_check_program("dump_command", "sh"), 0);
    assert_int_equal(child_check_program("dump_command", "/bin/sh"), 0);

    snprintf(path, sizeof path, "%s:%s", d1, d2);
    setenv("PATH", path, 1);
    snprintf(want, sizeof want, "dump_command: program no-such-prog-n4o not found in PATH (%s:%s)",
             d1, d2);
    assert_program_fails("no-such-prog-n4o", want);
    /* As execvp: a match that cannot run is passed over for a later one. */
    assert_int_equal(child_check_program("dump_command", "n4o-noexec"), 0);
    assert_int_equal(child_check_program("dump_command", "n4o-dir"), 0);
    snprintf(want, sizeof want,
             "dump_command: program n4o-only-noexec is not executable: %s/n4o-only-noexec has no "
             "execute permission (PATH %s:%s)",
             d1, d1, d2);
    assert_program_fails("n4o-only-noexec", want);
    /* The program the check approved is the one that runs. */
    char *got = run_prog("n4o-noexec");
    assert_non_null(got);
    assert_string_equal(got, "second\n");
    free(got);
    /* One that cannot run fails the spawn, with the check's message. */
    assert_null(run_prog("n4o-only-noexec"));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "dump_command: program n4o-only-noexec is not executable"));

    /* Paths. */
    snprintf(name, sizeof name, "%s/n4o-only-noexec", d1);
    snprintf(want, sizeof want, "dump_command: program %s/n4o-only-noexec is not executable", d1);
    assert_program_fails(name, want);
    snprintf(name, sizeof name, "%s/n4o-dir", d1);
    snprintf(want, sizeof want, "dump_command: program %s/n4o-dir is a directory", d1);
    assert_program_fails(name, want);
    assert_program_fails("/nonexistent/neo4j-admin",
                         "dump_command: program /nonexistent/neo4j-admin not found");
    assert_null(run_prog("/nonexistent/prog"));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(), "dump_command: program /nonexistent/prog not found");

    /* PATH set but empty: the current directory, as execvp. */
    setenv("PATH", "", 1);
    assert_program_fails("n4o-noexec", "not found in PATH ()");
    /* PATH unset: the system default (confstr), where sh is. */
    unsetenv("PATH");
    assert_int_equal(child_check_program("dump_command", "sh"), 0);
}

/* Children run in the workdir, and relative program paths (and an empty
 * PATH element) start there, not in our current directory. */
static void test_workdir(void **state)
{
    (void)state;
    char dir[256], bin[300], cwd[4096], want[4200];
    path_in(dir, sizeof dir, "work dir");
    snprintf(bin, sizeof bin, "%s/bin", dir);
    mkdir(dir, 0700);
    mkdir(bin, 0700);
    make_prog(bin, "n4o-rel", "relative", 0700);
    make_prog(dir, "n4o-here", "here", 0700);
    assert_non_null(getcwd(cwd, sizeof cwd));

    child_set_workdir(dir);
    char *got = output_of("pwd");
    snprintf(want, sizeof want, "%s\n", dir);
    assert_string_equal(got, want);
    free(got);
    assert_int_equal(child_check_program("dump_command", "bin/n4o-rel"), 0);
    got = run_prog("bin/n4o-rel");
    assert_non_null(got);
    assert_string_equal(got, "relative\n");
    free(got);
    setenv("PATH", ":/usr/bin:/bin", 1);
    got = run_prog("n4o-here");
    assert_non_null(got);
    assert_string_equal(got, "here\n");
    free(got);
    snprintf(want, sizeof want,
             "dump_command: program bin/nope not found (relative to the config file's directory: "
             "%s/bin/nope)",
             dir);
    assert_program_fails("bin/nope", want);

    /* Back to the current directory. */
    child_set_workdir(NULL);
    got = output_of("pwd");
    snprintf(want, sizeof want, "%s\n", cwd);
    assert_string_equal(got, want);
    free(got);
    assert_program_fails("bin/n4o-rel", "dump_command: program bin/n4o-rel not found");
}

/* Teardown of tests that change PATH or the workdir: later tests need
 * theirs, also after a failure. */
static int restore_path(void **state)
{
    (void)state;
    child_set_workdir(NULL);
    return setenv("PATH", saved_path, 1);
}

/* ------------------------------------------------------------ environment */

/* /proc/PID/environ as one string, entries separated by '\n'. */
static char *proc_environ(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    size_t n = 0;
    char *s = slurp(path, &n);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0')
            s[i] = '\n';
    return s;
}

/* ENV holds ENTRY: "NAME=value" exactly, or a "NAME=" of any value. */
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

/* The secrets of the tool never reach a child; the caller's changes do, and
 * the rest of the environment too.  Read from the running child itself, and
 * from a process it started. */
static void test_env(void **state)
{
    (void)state;
    static const char *const secret[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                         "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                                         "NEO4J_OFFSITE_PASSPHRASE_FILE"};
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        setenv(secret[i], "n4o-secret-value", 1);
    setenv("N4O_TEST_KEEP", "kept", 1);
    setenv("N4O_TEST_SET", "stale", 1);
    setenv("N4O_TEST_GONE", "stale", 1);
    char marker[256], script[1024];
    path_in(marker, sizeof marker, "grandchild.pid");
    snprintf(script, sizeof script, "sleep 30 & echo $! > %s; wait", marker);
    char *argv[] = {"sh", "-c", script, NULL};
    const char *const changes[] = {"N4O_TEST_SET=fresh", "N4O_TEST_GONE", "N4O_TEST_NEW=x=y", NULL};
    child_opts o = {.what = "dump_command", .pipe = CHILD_NO_PIPE, .timeout_s = 60, .env = changes};
    child_process *c = child_spawn(argv, &o);
    assert_non_null(c);
    pid_t pids[2] = {child_pid(c), pid_from(marker)};
    for (int k = 0; k < 2; k++) {
        /* /proc shows the environment a process was exec'd with: until its
         * exec (a busy machine may be slow to get there) that is an
         * ancestor's, so wait for the variable only the command gets */
        char *env = proc_environ(pids[k]);
        for (int tries = 0; tries < 300 && !env_has(env, "N4O_TEST_NEW=x=y"); tries++) {
            free(env);
            usleep(10000);
            env = proc_environ(pids[k]);
        }
        for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
            char entry[128];
            snprintf(entry, sizeof entry, "%s=", secret[i]);
            if (env_has(env, entry))
                fail_msg("%s reached %s (pid %d)", secret[i], k ? "a grandchild" : "the child",
                         (int)pids[k]);
        }
        assert_null(strstr(env, "n4o-secret-value"));
        assert_null(strstr(env, "stale"));
        assert_true(env_has(env, "N4O_TEST_KEEP=kept"));
        assert_true(env_has(env, "N4O_TEST_SET=fresh"));
        assert_false(env_has(env, "N4O_TEST_GONE="));
        assert_true(env_has(env, "N4O_TEST_NEW=x=y"));
        assert_true(env_has(env, "PATH="));
        free(env);
    }
    child_kill(c);
    /* Ours is untouched. */
    assert_string_equal(getenv("AWS_SECRET_ACCESS_KEY"), "n4o-secret-value");
    assert_string_equal(getenv("N4O_TEST_SET"), "stale");
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        unsetenv(secret[i]);
    unsetenv("N4O_TEST_KEEP");
    unsetenv("N4O_TEST_SET");
    unsetenv("N4O_TEST_GONE");
}

/* ------------------------------------------------------------ lifetime */

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
        if (!close_paren || sscanf(close_paren + 2, "%*c %d", &ppid) != 1 || ppid != getpid())
            continue;
        /* the guardian: named n4o-guardian before its exec (comm), /bin/sh
         * with argv[0] n4o-guardian after it */
        if (strstr(line, "(n4o-guardian)")) {
            n++;
            continue;
        }
        char argv0[64] = "";
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "r");
        if (f) {
            size_t r = fread(argv0, 1, sizeof argv0 - 1, f);
            argv0[r] = '\0';
            fclose(f);
        }
        if (strcmp(argv0, "n4o-guardian") == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* count_guardians() once it is WANT, or after 2 s: a guardian just forked
 * shows its name only once it has set it (and again after its exec). */
static int guardians_settle(int want)
{
    int n = count_guardians();
    for (int i = 0; i < 200 && n != want; i++) {
        usleep(10000);
        n = count_guardians();
    }
    return n;
}

/* kill -9 of the process that spawned a child: the child and what it
 * started are gone within two seconds (PDEATHSIG for the child, the
 * guardian for its group).  The spawning process is a fork of the test, so
 * the test's subreaper role collects the orphans. */
static void test_parent_killed(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t driver = fork();
    assert_true(driver >= 0);
    if (driver == 0) {
        close(ready[0]);
        child_process *c = spawn_sh("dump_command", "sleep 100 & echo x; sleep 100; echo never",
                                    CHILD_READ_STDOUT, 0);
        if (!c)
            _exit(10);
        char buf[8];
        if (child_read(c, buf, sizeof buf) <= 0)
            _exit(11);
        pid_t pg = child_pid(c);
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
    assert_int_equal(kill(-pg, 0), 0); /* the child runs */
    double t0 = now_s();
    assert_int_equal(kill(driver, SIGKILL), 0);
    assert_int_equal(waitpid(driver, NULL, 0), driver);
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) /* orphans, the guardian */
            ;
        if (kill(-pg, 0) < 0 && errno == ESRCH)
            break;
        if (now_s() - t0 > 2)
            fail_msg("the child's process group %d outlived its parent by 2 s", (int)pg);
        usleep(10000);
    }
    print_message("    group gone %.0f ms after kill -9\n", (now_s() - t0) * 1000);
}

/* On the normal path the guardian is retired without touching the group: a
 * daemon that a command leaves running stays, and no guardian is left. */
static void test_guardian_retired(void **state)
{
    (void)state;
    char pidfile[256], script[1024];
    path_in(pidfile, sizeof pidfile, "daemon.pid");
    snprintf(script, sizeof script, "sleep 60 </dev/null >/dev/null 2>&1 & echo $! > %s", pidfile);
    child_process *c = spawn_sh("start_command", script, CHILD_NO_PIPE, 10);
    assert_non_null(c);
    assert_int_equal(guardians_settle(1), 1);
    assert_int_equal(child_finish(c), 0);
    assert_int_equal(guardians_settle(0), 0);
    pid_t daemon = pid_from(pidfile);
    usleep(300000);
    assert_int_equal(kill(daemon, 0), 0);
    kill(daemon, SIGKILL);
    group_gone(daemon);

    char *argv[] = {"sleep", "60", NULL};
    child_opts o = {.what = "dump_command", .pipe = CHILD_READ_STDOUT};
    c = child_spawn(argv, &o);
    assert_non_null(c);
    assert_int_equal(guardians_settle(1), 1);
    child_kill(c);
    assert_int_equal(guardians_settle(0), 0);
}

/* ------------------------------------------------------------ main */

static int setup(void **state)
{
    (void)state;
    return child_tests_setup(tmpdir, sizeof tmpdir, "child", saved_path, sizeof saved_path);
}

static int teardown(void **state)
{
    (void)state;
    return child_tests_teardown(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_payload),
        cmocka_unit_test(test_stderr_flood),
        cmocka_unit_test(test_log_lines),
        cmocka_unit_test(test_stdin_is_devnull),
        cmocka_unit_test(test_write_stdin),
        cmocka_unit_test(test_reader_exits_early),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_stderr_callbacks),
        cmocka_unit_test(test_timeout_kills_group),
        cmocka_unit_test(test_signal_pending),
        cmocka_unit_test_teardown(test_check_program, restore_path),
        cmocka_unit_test_teardown(test_workdir, restore_path),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_parent_killed),
        cmocka_unit_test(test_guardian_retired),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
