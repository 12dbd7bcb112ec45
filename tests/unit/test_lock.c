/* Unit tests: lock (one run at a time, and what the run did to Neo4j).
 * The record's fields as written and read back; a second run refused with
 * ERR_LOCKED naming the holder (in this process and from another one); the
 * lock gone with a killed holder; a stop without a start carried over until
 * a run starts Neo4j again, even across runs that fail or are killed before
 * that; a lock_file that is a symlink, a directory, a FIFO or some other
 * file refused and left exactly as it was. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "lock.h"

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/n4o-lock-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/run/n4o.lock", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* The lock file's content (at most 4 KiB). */
static const char *content(const char *p)
{
    static char buf[4096];
    buf[0] = '\0';
    int fd = open(p, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void put(const char *p, const char *text, size_t len)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Value of "KEY=" in the record TEXT, -1 when absent. */
static long long field(const char *text, const char *key)
{
    char k[32];
    snprintf(k, sizeof k, "\n%s=", key);
    const char *p = strstr(text, k);
    return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

static int record_is_zero(const lock_record *r)
{
    return r->pid == 0 && r->stopped_by == 0 && r->command[0] == '\0' && r->stopped == 0 &&
           r->started == 0 && r->ended == 0;
}

static void test_fresh_lock_and_record(void **state)
{
    (void)state;
    run_lock *l = lock_acquire(path, "backup"); /* its directory is created */
    assert_non_null(l);
    assert_true(record_is_zero(lock_previous(l)));
    char want[64];
    snprintf(want, sizeof want, "%ld\ncommand=backup\n", (long)getpid());
    assert_string_equal(content(path), want);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 022, 0); /* nobody else may write it */

    time_t t0 = time(NULL);
    assert_int_equal(lock_note_stopped(l), 0);
    const char *c = content(path);
    assert_true(field(c, "stopped") >= t0 && field(c, "stopped") <= time(NULL));
    assert_int_equal(field(c, "stopped_by"), getpid());
    assert_int_equal(field(c, "started"), -1);
    assert_int_equal(lock_note_started(l), 0);
    c = content(path);
    assert_true(field(c, "started") >= field(c, "stopped"));
    assert_int_equal(field(c, "ended"), -1);
    /* Neo4j is up again: the release empties the record, the file stays */
    lock_release(l);
    assert_string_equal(content(path), "");
    lock_release(NULL);

    /* the next run sees a clean end */
    l = lock_acquire(path, "fetch");
    assert_non_null(l);
    assert_true(record_is_zero(lock_previous(l)));
    lock_release(l);
}

/* A second run in this process (another open file) is refused. */
static void test_held_refused(void **state)
{
    (void)state;
    run_lock *l = lock_acquire(path, "backup");
    assert_non_null(l);
    err_clear();
    assert_null(lock_acquire(path, "verify"));
    assert_int_equal(err_get_kind(), ERR_LOCKED);
    char want[256];
    snprintf(want, sizeof want, "another run (pid %ld, backup) holds the lock %s", (long)getpid(),
             path);
    assert_string_equal(err_msg(), want);
    /* the holder's record is untouched by the refused run */
    snprintf(want, sizeof want, "%ld\ncommand=backup\n", (long)getpid());
    assert_string_equal(content(path), want);
    lock_release(l);
    l = lock_acquire(path, "verify");
    assert_non_null(l);
    lock_release(l);
}

/* Another process holds it; when that process is killed (-9, no release)
 * the lock is free and its record tells the next run what it left. */
static void test_other_process_and_kill(void **state)
{
    (void)state;
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready[0]);
        close(hold[1]);
        run_lock *l = lock_acquire(path, "backup");
        if (!l || lock_note_stopped(l) < 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        /* until killed; or until this test process is gone (a failed
         * assertion), never outliving it */
        char c;
        while (read(hold[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    time_t after_stop = time(NULL);
    assert_null(lock_acquire(path, "backup"));
    assert_int_equal(err_get_kind(), ERR_LOCKED);
    char want[64];
    snprintf(want, sizeof want, "(pid %ld, backup)", (long)child);
    assert_non_null(strstr(err_msg(), want));

    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    close(hold[1]);
    run_lock *l = lock_acquire(path, "backup");
    assert_non_null(l);
    const lock_record *prev = lock_previous(l);
    assert_int_equal(prev->pid, child);
    assert_int_equal(prev->stopped_by, child);
    assert_string_equal(prev->command, "backup");
    assert_true(prev->stopped > 0 && prev->stopped <= after_stop);
    assert_int_equal(prev->started, 0);
    assert_int_equal(prev->ended, 0); /* killed: it never ended */
    lock_release(l);
}

/* A run that stopped Neo4j and ended without starting it leaves "ended";
 * the stop is carried by every run after it until one starts Neo4j. */
static void test_stop_carried_over(void **state)
{
    (void)state;
    run_lock *l = lock_acquire(path, "backup");
    assert_int_equal(lock_note_stopped(l), 0);
    long long stopped = field(content(path), "stopped");
    lock_release(l); /* start_command failed */
    const char *c = content(path);
    assert_int_equal(field(c, "stopped"), stopped);
    assert_true(field(c, "ended") >= stopped);

    /* the next run fails before it starts Neo4j: the stop stays on record,
     * still attributed to the run that stopped it */
    l = lock_acquire(path, "verify");
    const lock_record *prev = lock_previous(l);
    assert_int_equal(prev->stopped, stopped);
    assert_int_equal(prev->stopped_by, getpid());
    assert_true(prev->ended >= stopped);
    c = content(path);
    assert_int_equal(field(c, "stopped"), stopped);
    assert_int_equal(field(c, "stopped_by"), getpid());
    assert_int_equal(field(c, "ended"), -1); /* this run has not ended yet */
    assert_non_null(strstr(c, "command=verify\n"));
    lock_release(l);
    assert_int_equal(field(content(path), "stopped"), stopped);

    /* a run killed before starting Neo4j (its record as it was on disk) */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        run_lock *cl = lock_acquire(path, "backup");
        _exit(cl && lock_previous(cl)->stopped == stopped ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    l = lock_acquire(path, "backup");
    prev = lock_previous(l);
    assert_int_equal(prev->pid, child);
    assert_int_equal(prev->stopped, stopped);
    assert_int_equal(prev->stopped_by, getpid()); /* still the run that stopped it */
    assert_int_equal(prev->ended, 0);

    /* this run starts Neo4j: the stop is settled, the record emptied */
    assert_int_equal(lock_note_started(l), 0);
    lock_release(l);
    assert_string_equal(content(path), "");
    l = lock_acquire(path, "backup");
    assert_true(record_is_zero(lock_previous(l)));
    lock_release(l);
}

/* Records of versions before stopped_by: the holder's pid stands for it. */
static void test_old_record_format(void **state)
{
    (void)state;
    char d[128];
    snprintf(d, sizeof d, "%s/run", dir);
    mkdir(d, 0755);
    const char *old = "4242\ncommand=backup\nstopped=1700000000\nended=1700000100\n";
    put(path, old, strlen(old));
    run_lock *l = lock_acquire(path, "backup");
    assert_non_null(l);
    const lock_record *prev = lock_previous(l);
    assert_int_equal(prev->pid, 4242);
    assert_int_equal(prev->stopped_by, 4242);
    assert_int_equal(prev->stopped, 1700000000);
    assert_int_equal(prev->ended, 1700000100);
    assert_int_equal(prev->started, 0);
    assert_int_equal(field(content(path), "stopped_by"), 4242);
    lock_release(l);
}

/* Files that are not lock records: refused with ERR_USAGE and left byte for
 * byte as they were. */
static void test_foreign_files_untouched(void **state)
{
    (void)state;
    char d[128];
    snprintf(d, sizeof d, "%s/run", dir);
    mkdir(d, 0755);
    static char big[2000];
    memset(big, '7', sizeof big);
    big[0] = '1';
    big[1] = '\n';
    const struct {
        const char *text;
        size_t len;
    } foreign[] = {
#define LIT(s) {s, sizeof s - 1}
        LIT("root:x:0:0:root:/root:/bin/bash\n"),
        LIT("123"),                         /* no line end */
        LIT("123\ncommand=backup"),         /* last line unterminated */
        LIT("0\ncommand=backup\n"),         /* pid 0 */
        LIT("-5\n"),                        /* negative pid */
        LIT("123\nowner=me\n"),             /* unknown key */
        LIT("123\ncommand=Backup\n"),       /* not a command name */
        LIT("123\nstopped=yesterday\n"),    /* not a time */
        LIT("123\nstopped=-1\n"),           /* negative time */
        LIT("123\nstopped_by=0\n"),         /* no pid */
        LIT("123\ncommand=backup\nstop\n"), /* no '=' */
        LIT("12\0\ncommand=backup\n"),      /* a NUL inside */
        {big, sizeof big},                  /* too large for a record */
#undef LIT
    };
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        put(path, foreign[i].text, foreign[i].len);
        struct stat before, after;
        assert_int_equal(stat(path, &before), 0);
        err_clear();
        if (lock_acquire(path, "backup"))
            fail_msg("case %zu: a foreign file was taken as a lock file", i);
        assert_int_equal(err_get_kind(), ERR_USAGE);
        assert_non_null(strstr(err_msg(), "not a neo4j-offsite lock"));
        assert_non_null(strstr(err_msg(), path));
        assert_int_equal(stat(path, &after), 0);
        assert_int_equal(after.st_size, foreign[i].len);
        assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
        assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
        char buf[2100];
        int fd = open(path, O_RDONLY);
        assert_int_equal(read(fd, buf, sizeof buf), (ssize_t)foreign[i].len);
        close(fd);
        assert_memory_equal(buf, foreign[i].text, foreign[i].len);
    }
}

static void test_symlink_refused(void **state)
{
    (void)state;
    char d[128], victim[128];
    snprintf(d, sizeof d, "%s/run", dir);
    mkdir(d, 0755);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    put(victim, "", 0); /* an empty file: it would pass as a fresh lock */
    assert_int_equal(symlink(victim, path), 0);
    err_clear();
    assert_null(lock_acquire(path, "backup"));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "symbolic link"));
    assert_string_equal(content(victim), ""); /* nothing written through it */
    /* a dangling link: nothing is created where it points */
    char ghost[128];
    snprintf(ghost, sizeof ghost, "%s/ghost", dir);
    unlink(path);
    assert_int_equal(symlink(ghost, path), 0);
    assert_null(lock_acquire(path, "backup"));
    assert_int_equal(access(ghost, F_OK), -1);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void test_not_regular_refused(void **state)
{
    (void)state;
    char d[128];
    snprintf(d, sizeof d, "%s/run", dir);
    mkdir(d, 0755);
    assert_int_equal(mkfifo(path, 0600), 0);
    err_clear();
    assert_null(lock_acquire(path, "backup")); /* and does not hang on the FIFO */
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "not a regular file"));
    unlink(path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(lock_acquire(path, "backup"));
    assert_int_not_equal(err_get_kind(), ERR_NONE);
    assert_non_null(strstr(err_msg(), path));
    /* a parent that is a file: the directory cannot be created */
    rmdir(path);
    rmdir(d);
    put(d, "x", 1);
    assert_null(lock_acquire(path, "backup"));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "cannot"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_lock_and_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_process_and_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_carried_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_record_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_files_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
