/* Unit tests: the local backend through the backend interface, and
 * atomic_file. */
#include <errno.h>
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

#include "atomic_file.h"
#include "backend.h"
#include "err.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/n4o-local-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static backend *open_remote(void)
{
    config_remote rc;
    memset(&rc, 0, sizeof rc);
    rc.name = "nas";
    rc.type = "local";
    rc.path = dir;
    return backend_open(&rc);
}

static int exists(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void test_write_commit_read(void **state)
{
    (void)state;
    backend *b = open_remote();
    assert_non_null(b);
    backend_writer *w = backend_writer_open(b, "a.dump.enc", 0);
    assert_non_null(w);
    assert_int_equal(backend_writer_write(w, "hello ", 6), 0);
    assert_true(exists("a.dump.enc.partial"));
    assert_false(exists("a.dump.enc"));
    assert_int_equal(backend_writer_write(w, "world", 5), 0);
    assert_int_equal(backend_writer_commit(w), 0);
    assert_true(exists("a.dump.enc"));
    assert_false(exists("a.dump.enc.partial"));

    size_t len;
    char *text = backend_read_all(b, "a.dump.enc", 1024, &len);
    assert_non_null(text);
    assert_string_equal(text, "hello world");
    free(text);

    backend_reader *r = backend_reader_open(b, "a.dump.enc", 6);
    char buf[16];
    ssize_t n = backend_reader_read(r, buf, sizeof buf);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "world", 5);
    backend_reader_close(r);

    backend_entry e;
    assert_int_equal(backend_stat(b, "a.dump.enc", &e), 1);
    assert_int_equal(e.size, 11);
    free(e.name);
    assert_int_equal(backend_stat(b, "missing", NULL), 0);
    backend_close(b);
}

static void test_never_overwrites(void **state)
{
    (void)state;
    backend *b = open_remote();
    assert_int_equal(backend_write_all(b, "x.dump.manifest", "one", 3), 0);
    /* opening a writer for an existing name fails at once */
    assert_null(backend_writer_open(b, "x.dump.manifest", 0));
    assert_non_null(strstr(err_msg(), "remote nas: "));
    assert_non_null(strstr(err_msg(), "already exists"));
    /* a name taken between open and commit is not replaced either */
    backend_writer *w = backend_writer_open(b, "y", 0);
    assert_non_null(w);
    backend_writer_write(w, "new", 3);
    assert_int_equal(backend_write_all(b, "y", "old", 3), 0);
    assert_int_equal(backend_writer_commit(w), -1);
    assert_false(exists("y.partial"));
    size_t len;
    char *text = backend_read_all(b, "y", 100, &len);
    assert_string_equal(text, "old");
    free(text);
    backend_close(b);
}

static void test_abort_leaves_nothing(void **state)
{
    (void)state;
    backend *b = open_remote();
    backend_writer *w = backend_writer_open(b, "z", 0);
    backend_writer_write(w, "data", 4);
    backend_writer_abort(w);
    assert_false(exists("z"));
    assert_false(exists("z.partial"));
    backend_close(b);
}

static void test_list_and_incomplete(void **state)
{
    (void)state;
    backend *b = open_remote();
    backend_write_all(b, "p_2", "22", 2);
    backend_write_all(b, "p_1", "1", 1);
    backend_write_all(b, "q_1", "1", 1);
    backend_writer *w = backend_writer_open(b, "p_3", 0);
    backend_writer_write(w, "333", 3);
    backend_entry *e;
    size_t n;
    assert_int_equal(backend_list(b, "p_", &e, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].name, "p_1");
    assert_string_equal(e[1].name, "p_2");
    assert_int_equal(e[1].size, 2);
    assert_string_equal(e[2].name, "p_3.partial");
    assert_int_equal(e[2].incomplete, 1);
    assert_int_equal(backend_remove_incomplete(b, &e[2]), 0);
    backend_entries_free(e, n);
    backend_writer_abort(w);
    assert_int_equal(backend_remove(b, "p_1"), 0);
    assert_false(exists("p_1"));
    backend_close(b);
}

static void test_errors_name_remote_and_path(void **state)
{
    (void)state;
    config_remote rc;
    memset(&rc, 0, sizeof rc);
    rc.name = "gone";
    rc.type = "local";
    rc.path = "/nonexistent/n4o";
    assert_null(backend_open(&rc));
    assert_non_null(strstr(err_msg(), "remote gone: "));
    assert_non_null(strstr(err_msg(), "/nonexistent/n4o"));
    rc.type = "ftp";
    assert_null(backend_open(&rc));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    backend *b = open_remote();
    assert_null(backend_reader_open(b, "nothing-here", 0));
    assert_non_null(strstr(err_msg(), "nothing-here"));
    assert_null(backend_writer_open(b, "../escape", 0));
    backend_close(b);
}

static void test_atomic_file(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/file.dump", dir);
    atomic_file *f = atomic_file_create(path, 0600);
    assert_non_null(f);
    assert_int_equal(atomic_file_write(f, "abc", 3), 0);
    assert_int_equal(atomic_file_size(f), 3);
    assert_int_equal(atomic_file_commit(f), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 3);
    f = atomic_file_create(path, 0600);
    atomic_file_write(f, "xyz", 3);
    assert_int_equal(atomic_file_commit(f), -1);
    assert_non_null(strstr(err_msg(), "already exists"));
    char partial[140];
    snprintf(partial, sizeof partial, "%s.partial", path);
    assert_int_equal(access(partial, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_commit_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_overwrites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_incomplete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_name_remote_and_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
