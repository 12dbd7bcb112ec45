/* Unit tests: the local backend through the backend interface, and
 * atomic_file. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
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
#include "remotes.h"
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
    return remote_backend_open(&rc, 0);
}

static int exists(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Temporary files for NAME in DIR ("NAME.<hex>.partial" and old "NAME.partial"). */
static size_t temps(const char *name)
{
    char pat[256];
    glob_t g;
    snprintf(pat, sizeof pat, "%s/%s*.partial", dir, name);
    size_t n = glob(pat, 0, NULL, &g) == 0 ? g.gl_pathc : 0;
    globfree(&g);
    return n;
}

static void test_write_commit_read(void **state)
{
    (void)state;
    backend *b = open_remote();
    assert_non_null(b);
    backend_writer *w = backend_writer_open(b, "a.dump.enc", 0);
    assert_non_null(w);
    assert_int_equal(backend_writer_write(w, "hello ", 6), 0);
    assert_int_equal(temps("a.dump.enc"), 1);
    assert_false(exists("a.dump.enc.partial")); /* a unique name, not the old fixed one */
    assert_false(exists("a.dump.enc"));
    assert_int_equal(backend_writer_write(w, "world", 5), 0);
    assert_int_equal(backend_writer_commit(w), 0);
    assert_true(exists("a.dump.enc"));
    assert_int_equal(temps("a.dump.enc"), 0);

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
    assert_int_equal(temps("z"), 0);
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
    assert_int_equal(strncmp(e[2].name, "p_3.", 4), 0);
    assert_int_equal(e[2].incomplete, 1);
    char target[64];
    assert_int_equal(atomic_file_temp_target(e[2].name, target, sizeof target), 1);
    assert_string_equal(target, "p_3");
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
    assert_null(remote_backend_open(&rc, 0));
    assert_non_null(strstr(err_msg(), "remote gone: "));
    assert_non_null(strstr(err_msg(), "/nonexistent/n4o"));
    rc.type = "ftp";
    assert_null(remote_backend_open(&rc, 0));
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
    assert_int_equal(temps("file.dump"), 0);
}

static void test_temp_names(void **state)
{
    (void)state;
    char *a = atomic_file_temp_name("dir/x.dump.enc"), *b = atomic_file_temp_name("dir/x.dump.enc");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b);
    assert_int_equal(strlen(a), strlen("dir/x.dump.enc") + 1 + ATOMIC_FILE_TAG_HEX + 8);
    char t[64];
    assert_int_equal(atomic_file_temp_target(a, t, sizeof t), 1);
    assert_string_equal(t, "dir/x.dump.enc");
    assert_int_equal(atomic_file_temp_target("x.dump.enc.partial", t, sizeof t), 1);
    assert_string_equal(t, "x.dump.enc");
    assert_int_equal(atomic_file_temp_target("x.dump.enc", t, sizeof t), 0);
    /* not 16 hex digits: only ".partial" is stripped */
    assert_int_equal(atomic_file_temp_target("x.0123456789abcdeg.partial", t, sizeof t), 1);
    assert_string_equal(t, "x.0123456789abcdeg");
    free(a);
    free(b);
}

/* Issue 10, 3: a symlink or a file at the old fixed temporary name was
 * followed / destroyed; a temporary file is always new, 0600 at most. */
static void test_temp_never_follows_or_clobbers(void **state)
{
    (void)state;
    char path[128], old_partial[160], victim[160], link_final[160];
    snprintf(path, sizeof path, "%s/out.dump", dir);
    snprintf(old_partial, sizeof old_partial, "%s.partial", path);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    FILE *v = fopen(victim, "w");
    fputs("precious", v);
    fclose(v);
    chmod(victim, 0644);
    assert_int_equal(symlink(victim, old_partial), 0);
    atomic_file *f = atomic_file_create(path, 0644);
    assert_non_null(f);
    assert_int_equal(atomic_file_write(f, "secret plaintext", 16), 0);
    assert_int_equal(atomic_file_commit(f), 0);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 077, 0); /* never group/other readable */
    char buf[32] = "";
    v = fopen(victim, "r");
    assert_non_null(fgets(buf, sizeof buf, v));
    fclose(v);
    assert_string_equal(buf, "precious");
    assert_int_equal(lstat(old_partial, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* left as it was */

    /* a regular file at the old name is not destroyed either */
    unlink(old_partial);
    v = fopen(old_partial, "w");
    fputs("someone's", v);
    fclose(v);
    snprintf(path, sizeof path, "%s/other.dump", dir);
    snprintf(old_partial, sizeof old_partial, "%s.partial", path);
    v = fopen(old_partial, "w");
    fputs("someone's", v);
    fclose(v);
    f = atomic_file_create(path, 0600);
    atomic_file_write(f, "x", 1);
    atomic_file_abort(f);
    assert_int_equal(stat(old_partial, &st), 0);
    assert_int_equal(st.st_size, 9);

    /* a symlink at the final name: never replaced, its target untouched */
    snprintf(link_final, sizeof link_final, "%s/linked.dump", dir);
    assert_int_equal(symlink(victim, link_final), 0);
    f = atomic_file_create(link_final, 0600);
    atomic_file_write(f, "y", 1);
    assert_int_equal(atomic_file_commit(f), -1);
    assert_non_null(strstr(err_msg(), "already exists"));
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_size, 8);
    assert_int_equal(temps("linked.dump"), 0);
}

/* Two writers of one name at once (two hosts, one NAS, the same second):
 * one commits, the other fails cleanly; the committed bytes are the
 * winner's, whole. */
static void test_concurrent_writers(void **state)
{
    (void)state;
    backend *b = open_remote();
    backend_writer *w1 = backend_writer_open(b, "same.dump.enc", 0);
    backend_writer *w2 = backend_writer_open(b, "same.dump.enc", 0);
    assert_non_null(w1);
    assert_non_null(w2);
    assert_int_equal(temps("same.dump.enc"), 2);
    char one[4096], two[4096];
    memset(one, '1', sizeof one);
    memset(two, '2', sizeof two);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(backend_writer_write(w1, one, sizeof one), 0);
        assert_int_equal(backend_writer_write(w2, two, sizeof two / 2), 0);
    }
    assert_int_equal(backend_writer_commit(w2), 0);
    assert_int_equal(backend_writer_commit(w1), -1);
    assert_non_null(strstr(err_msg(), "remote nas: "));
    assert_non_null(strstr(err_msg(), "already exists"));
    size_t len;
    char *text = backend_read_all(b, "same.dump.enc", 1 << 20, &len);
    assert_non_null(text);
    assert_int_equal(len, 8 * sizeof two / 2);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(text[i], '2');
    free(text);
    assert_int_equal(temps("same.dump.enc"), 0);
    backend_close(b);
}

static void test_probe(void **state)
{
    (void)state;
    backend *b = open_remote();
    assert_int_equal(backend_probe(b), 0);
    assert_int_equal(temps(".write-probe"), 0);
    backend_close(b);
    assert_int_equal(atomic_file_probe_dir("/nonexistent/n4o"), -1);
    assert_non_null(strstr(err_msg(), "/nonexistent/n4o"));
    assert_int_equal(atomic_file_probe_dir("/etc/hostname"), -1);
    assert_non_null(strstr(err_msg(), "not a directory"));
}

/* A planted symlink in the remote directory is not read through. */
static void test_reader_no_symlinks(void **state)
{
    (void)state;
    char link[128];
    snprintf(link, sizeof link, "%s/x.dump.enc", dir);
    assert_int_equal(symlink("/etc/hostname", link), 0);
    backend *b = open_remote();
    assert_null(backend_reader_open(b, "x.dump.enc", 0));
    backend_entry *e;
    size_t n;
    assert_int_equal(backend_list(b, "x", &e, &n), 0);
    assert_int_equal(n, 0); /* not listed either */
    backend_entries_free(e, n);
    backend_close(b);
}

/* Names with control characters are dropped from listings (they could act
 * on a terminal), with a warning that shows them escaped. */
static void test_control_names_dropped(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/p_\033]2;pwned\007.dump.enc", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(p, sizeof p, "%s/p_ok", dir);
    f = fopen(p, "w");
    fclose(f);
    backend *b = open_remote();
    backend_entry *e;
    size_t n;
    assert_int_equal(backend_list(b, "p_", &e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].name, "p_ok");
    backend_entries_free(e, n);
    backend_close(b);
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
        cmocka_unit_test_setup_teardown(test_temp_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temp_never_follows_or_clobbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_no_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_names_dropped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
