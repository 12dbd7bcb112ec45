/* Unit tests: backend.c, the interface every command uses, over the local
 * backend: types, object names refused by the backend, every wrapper's
 * error carrying the remote's name, listings sorted with names holding
 * control characters dropped (and shown escaped), read_all's bound,
 * write_all and stat, the NULL no-ops, and backend_remove_many over a
 * driver without remove_many (one remove after the other, the cancel hook
 * asked between them). */
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

#include "backend.h"
#include "local/local.h"
#include "remotes.h"
#include "err.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/n4o-backend-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static backend *open_nas(void)
{
    local_params p = {.name = "nas", .path = dir};
    backend *b = local_backend_open(&p);
    assert_non_null(b);
    return b;
}

static void put_file(const char *name, const void *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* The current error is ERR_KIND and starts with "remote nas: ". */
static void expect_prefixed(err_kind kind)
{
    if (strncmp(err_msg(), "remote nas: ", 12) != 0)
        fail_msg("error without the remote's name: %s", err_msg());
    /* the name comes once, not once per layer */
    assert_null(strstr(err_msg() + 12, "remote nas: "));
    assert_int_equal(err_get_kind(), kind);
}

static void test_types_and_open(void **state)
{
    (void)state;
    config_remote rc;
    memset(&rc, 0, sizeof rc);
    rc.name = "x";
    rc.type = "webdav";
    rc.path = dir;
    assert_null(remote_backend_open(&rc, 0));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_string_equal(err_msg(), "remote x: type webdav is not supported");
    rc.type = "local";
    rc.path = NULL;
    assert_null(remote_backend_open(&rc, 0));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "remote x: "));

    backend *b = open_nas();
    assert_string_equal(backend_name(b), "nas");
    backend_close(b);

    /* NULL is a no-op everywhere it is documented to be */
    backend_close(NULL);
    backend_writer_abort(NULL);
    backend_reader_close(NULL);
    backend_entries_free(NULL, 0);
}

/* Names that would leave the remote's directory, hide as dot files or be
 * empty are refused by every operation that takes a name. */
static void test_bad_names_refused(void **state)
{
    (void)state;
    backend *b = open_nas();
    const char *bad[] = {"", ".hidden", "..", "../escape", "a/b", "/etc/passwd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear();
        assert_null(backend_writer_open(b, bad[i], 0));
        expect_prefixed(ERR_USAGE);
        assert_non_null(strstr(err_msg(), "invalid object name"));
        assert_null(backend_reader_open(b, bad[i], 0));
        expect_prefixed(ERR_USAGE);
        assert_int_equal(backend_stat(b, bad[i], NULL), -1);
        expect_prefixed(ERR_USAGE);
        assert_int_equal(backend_remove(b, bad[i]), -1);
        expect_prefixed(ERR_USAGE);
        backend_entry e = {.name = (char *)bad[i]};
        if (strcmp(bad[i], ".hidden") != 0) { /* a probe's leftover may be hidden */
            assert_int_equal(backend_remove_incomplete(b, &e), -1);
            expect_prefixed(ERR_USAGE);
        }
        assert_int_equal(backend_write_all(b, bad[i], "x", 1), -1);
        expect_prefixed(ERR_USAGE);
        size_t len;
        assert_null(backend_read_all(b, bad[i], 10, &len));
        expect_prefixed(ERR_USAGE);
    }
    const char *dots[] = {".", ".."};
    for (size_t i = 0; i < 2; i++) {
        backend_entry e = {.name = (char *)dots[i]};
        assert_int_equal(backend_remove_incomplete(b, &e), -1);
        expect_prefixed(ERR_USAGE);
    }
    /* nothing was created anywhere */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", dir);
    assert_int_equal(system(cmd), 0);
    backend_close(b);
}

/* Errors of the operations themselves carry the name and the cause. */
static void test_errors_carry_remote_name(void **state)
{
    (void)state;
    backend *b = open_nas();
    assert_null(backend_reader_open(b, "absent.dump.enc", 0));
    expect_prefixed(ERR_FAIL);
    assert_non_null(strstr(err_msg(), strerror(ENOENT)));

    /* commit of a name taken meanwhile */
    backend_writer *w = backend_writer_open(b, "taken", 0);
    assert_non_null(w);
    assert_int_equal(backend_writer_write(w, "mine", 4), 0);
    put_file("taken", "theirs", 6);
    assert_int_equal(backend_writer_commit(w), -1);
    expect_prefixed(ERR_FAIL);
    assert_non_null(strstr(err_msg(), "already exists"));

    /* a write that the file system refuses */
    w = backend_writer_open(b, "big", 0);
    assert_non_null(w);
    char *chunk = calloc(1, 1 << 20);
    assert_non_null(chunk);
    int fd = open("/dev/full", O_WRONLY);
    if (fd >= 0) {
        /* swap the temporary file for /dev/full underneath the writer: the
         * next write fails like a full disk would */
        char link[64], target[512];
        int victim = -1;
        for (int i = 3; i < 1024 && victim < 0; i++) {
            snprintf(link, sizeof link, "/proc/self/fd/%d", i);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                if (strstr(target, "/big.") && strstr(target, ".partial"))
                    victim = i;
            }
        }
        assert_true(victim >= 0);
        assert_int_equal(dup2(fd, victim), victim);
        close(fd);
        assert_int_equal(backend_writer_write(w, chunk, 1 << 20), -1);
        expect_prefixed(ERR_FAIL);
        assert_non_null(strstr(err_msg(), strerror(ENOSPC)));
    }
    backend_writer_abort(w);
    free(chunk);

    /* the remote's directory gone: list and probe say so */
    backend_remove(b, "taken");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    backend_entry *e;
    size_t n = 99;
    assert_int_equal(backend_list(b, "", &e, &n), -1);
    expect_prefixed(ERR_FAIL);
    assert_non_null(strstr(err_msg(), dir));
    assert_null(e);
    assert_int_equal(n, 0);
    assert_int_equal(backend_probe(b), -1);
    expect_prefixed(ERR_FAIL);
    assert_non_null(strstr(err_msg(), dir));
    backend_close(b);
    assert_int_equal(mkdir(dir, 0700), 0); /* for teardown */
}

/* Listings come sorted by name whatever the directory order; names with
 * control characters are nobody's archives: dropped, with a warning that
 * shows them escaped. */
static void test_list_sorted_and_clean(void **state)
{
    (void)state;
    const char *names[] = {"p_c", "p_a", "p_\x1b[2Jwipe", "p_b", "p_\nnewline", "p_\x7f", "q_a"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        put_file(names[i], "x", 1);
    backend *b = open_nas();
    fflush(stderr);
    FILE *cap = tmpfile();
    int saved = dup(2);
    dup2(fileno(cap), 2);
    backend_entry *e;
    size_t n;
    int rc = backend_list(b, "p_", &e, &n);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].name, "p_a");
    assert_string_equal(e[1].name, "p_b");
    assert_string_equal(e[2].name, "p_c");
    backend_entries_free(e, n);

    char log[4096];
    rewind(cap);
    size_t got = fread(log, 1, sizeof log - 1, cap);
    log[got] = '\0';
    fclose(cap);
    assert_non_null(strstr(log, "remote nas: ignoring an object whose name holds control "
                                "characters: p_\\x1b[2Jwipe\n"));
    assert_non_null(strstr(log, "p_\\x0anewline\n"));
    assert_non_null(strstr(log, "p_\\x7f\n"));
    assert_null(strchr(log, '\x1b'));

    /* NULL prefix: everything */
    assert_int_equal(backend_list(b, NULL, &e, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(e[3].name, "q_a");
    backend_entries_free(e, n);
    backend_close(b);
}

static void test_read_all_bounds(void **state)
{
    (void)state;
    backend *b = open_nas();
    size_t len = 99;
    put_file("empty", "", 0);
    char *text = backend_read_all(b, "empty", 100, &len);
    assert_non_null(text);
    assert_int_equal(len, 0);
    assert_string_equal(text, "");
    free(text);

    /* binary content: the length counts, NUL-terminated after it */
    put_file("bin", "a\0b\0c", 5);
    text = backend_read_all(b, "bin", 100, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(text, "a\0b\0c", 5);
    assert_int_equal(text[5], '\0');
    free(text);

    /* within MAX, across several buffer growths */
    size_t big = 300000;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7 + i / 251);
    put_file("big", data, big);
    text = backend_read_all(b, "big", big + 1, &len);
    assert_non_null(text);
    assert_int_equal(len, big);
    assert_memory_equal(text, data, big);
    free(text);
    /* one byte more than MAX: an integrity finding naming remote, object, bound */
    err_clear();
    assert_null(backend_read_all(b, "big", big - 1, &len));
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    char want[128];
    snprintf(want, sizeof want, "remote nas: big is larger than %zu bytes", big - 1);
    assert_string_equal(err_msg(), want);
    /* a small MAX on a large object stops early */
    assert_null(backend_read_all(b, "big", 10, &len));
    assert_non_null(strstr(err_msg(), "larger than 10 bytes"));
    free(data);
    backend_close(b);
}

static void test_write_all_and_stat(void **state)
{
    (void)state;
    backend *b = open_nas();
    time_t before = time(NULL);
    assert_int_equal(backend_write_all(b, "obj", "12345", 5), 0);
    backend_entry e;
    memset(&e, 0, sizeof e);
    assert_int_equal(backend_stat(b, "obj", &e), 1);
    assert_string_equal(e.name, "obj");
    assert_int_equal(e.size, 5);
    assert_int_equal(e.incomplete, 0);
    assert_true(e.mtime >= before - 2 && e.mtime <= time(NULL) + 2);
    free(e.name);
    free(e.upload_id);
    assert_int_equal(backend_stat(b, "obj", NULL), 1);
    assert_int_equal(backend_stat(b, "nothing", NULL), 0);
    /* written once: a second write_all of the name fails and keeps the first */
    assert_int_equal(backend_write_all(b, "obj", "67", 2), -1);
    expect_prefixed(ERR_FAIL);
    size_t len;
    char *text = backend_read_all(b, "obj", 100, &len);
    assert_string_equal(text, "12345");
    free(text);
    /* remove, then it is gone; removing again is fine */
    assert_int_equal(backend_remove(b, "obj"), 0);
    assert_int_equal(backend_stat(b, "obj", NULL), 0);
    assert_int_equal(backend_remove(b, "obj"), 0);
    backend_close(b);
}

/* A reader at an offset reads from there to the end. */
static void test_reader_offset(void **state)
{
    (void)state;
    put_file("r", "0123456789", 10);
    backend *b = open_nas();
    backend_reader *r = backend_reader_open(b, "r", 7);
    assert_non_null(r);
    char buf[16];
    assert_int_equal(backend_reader_read(r, buf, sizeof buf), 3);
    assert_memory_equal(buf, "789", 3);
    assert_int_equal(backend_reader_read(r, buf, sizeof buf), 0);
    backend_reader_close(r);
    /* past the end: nothing, not an error */
    r = backend_reader_open(b, "r", 100);
    assert_non_null(r);
    assert_int_equal(backend_reader_read(r, buf, sizeof buf), 0);
    backend_reader_close(r);
    backend_close(b);
}

/* backend_read_all() reads "at most MAX bytes": an object of exactly MAX
 * bytes is read (it was refused once MAX reached 4096), one larger is
 * refused (it was returned whole when MAX was below 4096). */
static void test_read_all_max_exact(void **state)
{
    (void)state;
    backend *b = open_nas();
    static char data[65536];
    memset(data, 'm', sizeof data);
    put_file("exact", data, sizeof data);
    size_t len = 0;
    char *text = backend_read_all(b, "exact", sizeof data, &len);
    if (!text)
        fail_msg("an object of exactly MAX bytes refused: %s", err_msg());
    assert_int_equal(len, sizeof data);
    free(text);
    put_file("small", data, 200);
    text = backend_read_all(b, "small", 100, &len);
    if (text)
        fail_msg("MAX 100 gave %zu bytes", len);
    backend_close(b);
}

static int path_exists(const char *name)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

/* A driver without remove_many (local): one remove after the other, an
 * object already gone not an error, a failure named with the remote. */
static void test_remove_many_one_by_one(void **state)
{
    (void)state;
    backend *b = open_nas();
    put_file("a.dump.enc", "a", 1);
    put_file("b.dump.enc", "b", 1);
    put_file("c.dump.enc", "c", 1);
    char sub[512];
    snprintf(sub, sizeof sub, "%s/d", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    put_file("d/inside", "x", 1); /* a directory is no object: unlink fails */

    const char *names[] = {"a.dump.enc", "gone.dump.enc", "b.dump.enc"};
    char *errors[4];
    assert_int_equal(backend_remove_many(b, names, 3, errors), 0);
    for (int i = 0; i < 3; i++)
        assert_null(errors[i]);
    assert_false(path_exists("a.dump.enc"));
    assert_false(path_exists("b.dump.enc"));

    const char *with_dir[] = {"c.dump.enc", "d", "gone.dump.enc"};
    assert_int_equal(backend_remove_many(b, with_dir, 3, errors), 1);
    assert_null(errors[0]);
    assert_non_null(errors[1]);
    if (strncmp(errors[1], "remote nas: cannot remove ", 26) != 0 || !strstr(errors[1], "/d: "))
        fail_msg("%s", errors[1]);
    assert_null(strstr(errors[1] + 12, "remote nas: "));
    assert_null(errors[2]);
    free(errors[1]);
    assert_false(path_exists("c.dump.enc"));
    assert_true(path_exists("d"));
    /* ERRORS may be NULL; none at all is nothing to do */
    assert_int_equal(backend_remove_many(b, with_dir + 1, 1, NULL), 1);
    assert_int_equal(backend_remove_many(b, NULL, 0, NULL), 0);

    /* a name the backend refuses: nothing is removed */
    put_file("e.dump.enc", "e", 1);
    const char *bad[] = {"e.dump.enc", ".hidden"};
    assert_int_equal(backend_remove_many(b, bad, 2, errors), -1);
    expect_prefixed(ERR_USAGE);
    assert_null(errors[0]);
    assert_true(path_exists("e.dump.enc"));
    backend_close(b);
}

/* A driver that counts its removes and says when the run must stop. */
typedef struct {
    int removes, stop_after, fail_name;
    backend_cancel cancel;
} counting;

static int counting_pending(void *arg)
{
    counting *c = arg;
    return c->stop_after && c->removes >= c->stop_after ? 15 : 0;
}

static void counting_close(void *impl)
{
    (void)impl;
}

static int counting_remove(void *impl, const char *name)
{
    counting *c = impl;
    c->removes++;
    if (strcmp(name, "bad") == 0)
        return err_set(ERR_FAIL, "%s: refused", name);
    return 0;
}

static const backend_cancel *counting_hook(void *impl)
{
    return &((counting *)impl)->cancel;
}

static const backend_ops counting_ops = {
    .type = "counting",
    .close = counting_close,
    .remove = counting_remove,
    .cancel_hook = counting_hook,
};

static void test_remove_many_cancelled(void **state)
{
    (void)state;
    counting c = {.stop_after = 2};
    c.cancel = (backend_cancel){counting_pending, &c};
    backend *b = backend_wrap(&counting_ops, "nas", &c);
    assert_non_null(b);
    const char *names[] = {"x1", "bad", "x3", "x4"};
    char *errors[4];
    /* the hook is asked between objects: two tried, then the stop */
    assert_int_equal(backend_remove_many(b, names, 4, errors), -1);
    expect_prefixed(ERR_FAIL);
    assert_non_null(strstr(err_msg(), "bad: interrupted by signal 15"));
    assert_int_equal(c.removes, 2);
    c.stop_after = 1;
    c.removes = 0;
    const char *good[] = {"x1", "x2", "x3"};
    assert_int_equal(backend_remove_many(b, good, 3, errors), -1);
    assert_non_null(strstr(err_msg(), "remote nas: x2: interrupted by signal 15"));
    assert_int_equal(c.removes, 1);
    for (int i = 0; i < 4; i++)
        assert_null(errors[i]); /* the message of "bad" is not left behind */
    /* without a stop: every name tried, the failure counted and named */
    c.stop_after = 0;
    c.removes = 0;
    assert_int_equal(backend_remove_many(b, names, 4, errors), 1);
    assert_int_equal(c.removes, 4);
    assert_string_equal(errors[1], "remote nas: bad: refused");
    free(errors[1]);
    backend_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_types_and_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_carry_remote_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_sorted_and_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_all_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_all_and_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_all_max_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_many_one_by_one, setup, teardown),
        cmocka_unit_test(test_remove_many_cancelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
