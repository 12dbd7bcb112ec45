/* Unit tests: atomic_file.  Temporary names are unique and recognised;
 * a file is created only new (O_EXCL|O_NOFOLLOW): a symlink or file
 * planted at the temporary name or the final name is never followed, never
 * replaced, never written; the mode is 0600 or stricter; a failed write or
 * commit leaves nothing behind; probe_dir checks a directory without
 * leaving a trace or writing through a planted link.
 *
 * libsodium's random source is replaced (randombytes_set_implementation)
 * so that a test can know the temporary name in advance and plant
 * something there first; otherwise it passes the system's randomness on. */
#include <dirent.h>
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "atomic_file.h"
#include "err.h"

/* ---- a random source the test can pin ------------------------------------ */

static int pinned = -1; /* >= 0: every random byte is this value */

static const char *rnd_name(void)
{
    return "n4o-test";
}

static uint32_t rnd_random(void)
{
    return randombytes_sysrandom_implementation.random();
}

static void rnd_stir(void)
{
    randombytes_sysrandom_implementation.stir();
}

static void rnd_buf(void *buf, size_t n)
{
    if (pinned >= 0)
        memset(buf, pinned, n);
    else
        randombytes_sysrandom_implementation.buf(buf, n);
}

static int rnd_close(void)
{
    return randombytes_sysrandom_implementation.close();
}

static randombytes_implementation pinnable = {
    .implementation_name = rnd_name,
    .random = rnd_random,
    .stir = rnd_stir,
    .uniform = NULL, /* libsodium derives it from random() */
    .buf = rnd_buf,
    .close = rnd_close,
};

/* ---- fixture ------------------------------------------------------------- */

static char dir[64];

static int setup(void **state)
{
    (void)state;
    pinned = -1;
    snprintf(dir, sizeof dir, "/tmp/n4o-atomic-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pinned = -1;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Names in DIR, sorted, joined by spaces ("" when empty). */
static const char *listing(void)
{
    static char out[4096];
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    assert_true(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(ents[i]->d_name, ".") != 0 && strcmp(ents[i]->d_name, "..") != 0) {
            if (out[0])
                strncat(out, " ", sizeof out - strlen(out) - 1);
            strncat(out, ents[i]->d_name, sizeof out - strlen(out) - 1);
        }
        free(ents[i]);
    }
    free(ents);
    return out;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void expect_text(const char *path, const char *text)
{
    char buf[256] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_string_equal(buf, text);
}

/* The temporary name atomic_file uses for PATH while random bytes are
 * pinned to 0xab. */
static void pinned_temp(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "%s.abababababababab%s", path, ATOMIC_FILE_SUFFIX);
}

/* ---- temporary names ---------------------------------------------------- */

static void test_temp_name_shape_and_uniqueness(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char *names[N];
    for (int i = 0; i < N; i++) {
        names[i] = atomic_file_temp_name("/srv/x.dump.enc");
        assert_non_null(names[i]);
        const char *tag = names[i] + strlen("/srv/x.dump.enc");
        assert_int_equal(tag[0], '.');
        for (int k = 1; k <= ATOMIC_FILE_TAG_HEX; k++)
            assert_non_null(strchr("0123456789abcdef", tag[k]));
        assert_string_equal(tag + 1 + ATOMIC_FILE_TAG_HEX, ATOMIC_FILE_SUFFIX);
        char target[64];
        assert_int_equal(atomic_file_temp_target(names[i], target, sizeof target), 1);
        assert_string_equal(target, "/srv/x.dump.enc");
    }
    /* 64 random bits: no two alike */
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (strcmp(names[i], names[j]) == 0)
                fail_msg("temporary name %s given twice", names[i]);
    for (int i = 0; i < N; i++)
        free(names[i]);
}

static void test_temp_target_edges(void **state)
{
    (void)state;
    char t[64];
    /* the name of versions before 0.2 */
    assert_int_equal(atomic_file_temp_target("a.dump.partial", t, sizeof t), 1);
    assert_string_equal(t, "a.dump");
    /* not temporary names */
    assert_int_equal(atomic_file_temp_target("a.dump", t, sizeof t), 0);
    assert_int_equal(atomic_file_temp_target(ATOMIC_FILE_SUFFIX, t, sizeof t), 0);
    assert_int_equal(atomic_file_temp_target("", t, sizeof t), 0);
    assert_int_equal(atomic_file_temp_target("a.partial.x", t, sizeof t), 0);
    /* a tag must be 16 lowercase hex digits after a dot, else only the
     * suffix goes */
    assert_int_equal(atomic_file_temp_target("a.0123456789ABCDEF.partial", t, sizeof t), 1);
    assert_string_equal(t, "a.0123456789ABCDEF");
    assert_int_equal(atomic_file_temp_target("a.0123456789abcde.partial", t, sizeof t), 1);
    assert_string_equal(t, "a.0123456789abcde");
    assert_int_equal(atomic_file_temp_target("a_0123456789abcdef.partial", t, sizeof t), 1);
    assert_string_equal(t, "a_0123456789abcdef");
    assert_int_equal(atomic_file_temp_target("a.0123456789abcdef.partial", t, sizeof t), 1);
    assert_string_equal(t, "a");
    /* a small buffer gets a cut, terminated target */
    memset(t, 'Z', sizeof t);
    assert_int_equal(atomic_file_temp_target("abcdefgh.0123456789abcdef.partial", t, 5), 1);
    assert_string_equal(t, "abcd");
}

/* ---- create, write, commit ------------------------------------------------ */

static void test_commit_and_modes(void **state)
{
    (void)state;
    const struct {
        mode_t asked, got;
    } modes[] = {/* group and other bits are never set; the owner's are kept */
                 {0600, 0600},
                 {0644, 0600},
                 {0777, 0700},
                 {0640, 0600},
                 {0400, 0400}};
    mode_t old = umask(022);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/f%zu", dir, i);
        atomic_file *f = atomic_file_create(path, modes[i].asked);
        assert_non_null(f);
        assert_int_equal(atomic_file_size(f), 0);
        /* nothing at PATH until the commit: readers never see half a file */
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(atomic_file_write(f, "hello ", 6), 0);
        assert_int_equal(atomic_file_write(f, "", 0), 0);
        assert_int_equal(atomic_file_write(f, "world", 5), 0);
        assert_int_equal(atomic_file_size(f), 11);
        assert_int_equal(atomic_file_commit(f), 0);
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, modes[i].got);
        assert_int_equal(st.st_size, 11);
        chmod(path, 0600);
        expect_text(path, "hello world");
    }
    umask(old);
    assert_string_equal(listing(), "f0 f1 f2 f3 f4"); /* no temporary file left */
}

static void test_abort_leaves_nothing(void **state)
{
    (void)state;
    char path[128];
    path_in(path, sizeof path, "gone");
    atomic_file *f = atomic_file_create(path, 0600);
    assert_non_null(f);
    assert_int_equal(atomic_file_write(f, "data", 4), 0);
    assert_int_not_equal(strcmp(listing(), ""), 0); /* the temporary file */
    atomic_file_abort(f);
    assert_string_equal(listing(), "");
    atomic_file_abort(NULL);
}

/* Something planted at the temporary name (a link to a file worth
 * stealing or destroying, or a file): creation fails, nothing is followed,
 * nothing is changed. */
static void test_planted_at_temp_name(void **state)
{
    (void)state;
    char path[128], temp[192], victim[128];
    path_in(path, sizeof path, "out.dump");
    path_in(victim, sizeof victim, "victim");
    pinned_temp(temp, sizeof temp, path);
    write_text(victim, "precious", 0644);
    assert_int_equal(symlink(victim, temp), 0);
    pinned = 0xab;
    err_clear();
    assert_null(atomic_file_create(path, 0600));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), temp));
    assert_non_null(strstr(err_msg(), strerror(EEXIST)));
    expect_text(victim, "precious");
    struct stat st;
    assert_int_equal(lstat(temp, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    /* a dangling link: the file it names is not created through it */
    char elsewhere[128];
    path_in(elsewhere, sizeof elsewhere, "created-through-link");
    unlink(temp);
    assert_int_equal(symlink(elsewhere, temp), 0);
    assert_null(atomic_file_create(path, 0600));
    assert_int_equal(access(elsewhere, F_OK), -1);

    /* a regular file: not truncated, not reused */
    unlink(temp);
    write_text(temp, "someone else's", 0644);
    assert_null(atomic_file_create(path, 0600));
    expect_text(temp, "someone else's");
    assert_int_equal(access(path, F_OK), -1);

    /* the same name twice (a crash left it): never reused */
    unlink(temp);
    atomic_file *f = atomic_file_create(path, 0600);
    assert_non_null(f);
    assert_null(atomic_file_create(path, 0600));
    atomic_file_abort(f);
    pinned = -1;
}

/* Something at the final name: the commit never replaces it and never
 * writes through it, and removes its temporary file. */
static void test_planted_at_final_name(void **state)
{
    (void)state;
    char path[128], victim[128], ghost[128];
    path_in(victim, sizeof victim, "victim");
    write_text(victim, "precious", 0644);

    /* a link to a file */
    path_in(path, sizeof path, "a.dump");
    assert_int_equal(symlink(victim, path), 0);
    atomic_file *f = atomic_file_create(path, 0600);
    assert_non_null(f);
    assert_int_equal(atomic_file_write(f, "new", 3), 0);
    assert_int_equal(atomic_file_commit(f), -1);
    assert_non_null(strstr(err_msg(), "already exists"));
    expect_text(victim, "precious");

    /* a dangling link: what it names is not created */
    path_in(path, sizeof path, "b.dump");
    path_in(ghost, sizeof ghost, "ghost");
    assert_int_equal(symlink(ghost, path), 0);
    f = atomic_file_create(path, 0600);
    assert_int_equal(atomic_file_write(f, "new", 3), 0);
    assert_int_equal(atomic_file_commit(f), -1);
    assert_int_equal(access(ghost, F_OK), -1);

    /* a directory */
    path_in(path, sizeof path, "c.dump");
    assert_int_equal(mkdir(path, 0700), 0);
    f = atomic_file_create(path, 0600);
    assert_int_equal(atomic_file_write(f, "new", 3), 0);
    assert_int_equal(atomic_file_commit(f), -1);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    /* a file written meanwhile by another run */
    path_in(path, sizeof path, "d.dump");
    f = atomic_file_create(path, 0600);
    assert_int_equal(atomic_file_write(f, "mine", 4), 0);
    write_text(path, "theirs", 0600);
    assert_int_equal(atomic_file_commit(f), -1);
    expect_text(path, "theirs");

    /* every link and file as it was, and no temporary file left */
    assert_string_equal(listing(), "a.dump b.dump c.dump d.dump victim");
    char buf[128];
    path_in(path, sizeof path, "a.dump");
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, victim);
}

/* A write the file system refuses (here: past RLIMIT_FSIZE, like a full
 * disk): the error names the file and the cause; abort leaves nothing. */
static void test_write_failure(void **state)
{
    (void)state;
    char path[128];
    path_in(path, sizeof path, "big.dump");
    atomic_file *f = atomic_file_create(path, 0600);
    assert_non_null(f);
    static char block[65536];
    memset(block, 'b', sizeof block);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 100000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc1 = atomic_file_write(f, block, sizeof block);
    int rc2 = atomic_file_write(f, block, sizeof block);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", err_msg());
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc1, 0);
    assert_int_equal(rc2, -1);
    assert_non_null(strstr(msg, "cannot write "));
    assert_non_null(strstr(msg, path)); /* the temporary file, named */
    assert_non_null(strstr(msg, ATOMIC_FILE_SUFFIX));
    assert_non_null(strstr(msg, strerror(EFBIG)));
    /* the bytes that did go in are counted */
    assert_int_equal(atomic_file_size(f), 100000);
    atomic_file_abort(f);
    assert_string_equal(listing(), "");
}

static void test_create_failure(void **state)
{
    (void)state;
    char path[128];
    path_in(path, sizeof path, "missing-dir/x.dump");
    err_clear();
    assert_null(atomic_file_create(path, 0600));
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "cannot create "));
    assert_non_null(strstr(err_msg(), "missing-dir/x.dump."));
    assert_non_null(strstr(err_msg(), strerror(ENOENT)));
    assert_string_equal(listing(), "");
}

/* ---- rename, probe, sync ---------------------------------------------------- */

static void test_rename_noreplace(void **state)
{
    (void)state;
    char a[128], b[128], c[128];
    path_in(a, sizeof a, "a");
    path_in(b, sizeof b, "b");
    path_in(c, sizeof c, "c");
    write_text(a, "A", 0600);
    write_text(b, "B", 0600);
    errno = 0;
    assert_int_equal(atomic_file_rename_noreplace(a, b), -1);
    assert_int_equal(errno, EEXIST);
    expect_text(a, "A");
    expect_text(b, "B");
    /* a link at the destination is not replaced either */
    assert_int_equal(symlink(b, c), 0);
    assert_int_equal(atomic_file_rename_noreplace(a, c), -1);
    assert_int_equal(errno, EEXIST);
    expect_text(b, "B");
    unlink(c);
    assert_int_equal(atomic_file_rename_noreplace(a, c), 0);
    expect_text(c, "A");
    assert_int_equal(access(a, F_OK), -1);
    /* a source that is not there */
    assert_int_equal(atomic_file_rename_noreplace(a, c), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_probe_dir(void **state)
{
    (void)state;
    assert_int_equal(atomic_file_probe_dir(dir), 0);
    assert_string_equal(listing(), ""); /* no trace */

    /* through a symlink to a directory: fine (the path is configured) */
    char link[128], sub[128], file[128];
    path_in(sub, sizeof sub, "sub");
    path_in(link, sizeof link, "link");
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(symlink(sub, link), 0);
    assert_int_equal(atomic_file_probe_dir(link), 0);

    path_in(file, sizeof file, "file");
    write_text(file, "x", 0600);
    assert_int_equal(atomic_file_probe_dir(file), -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "not a directory"));
    assert_non_null(strstr(err_msg(), file));

    char missing[128];
    path_in(missing, sizeof missing, "missing");
    assert_int_equal(atomic_file_probe_dir(missing), -1);
    assert_non_null(strstr(err_msg(), missing));
    assert_non_null(strstr(err_msg(), strerror(ENOENT)));
    assert_string_equal(listing(), "file link sub");
}

/* A link planted at the probe's file name is not written through. */
static void test_probe_planted_link(void **state)
{
    (void)state;
    char victim[128], probe[128], temp[192];
    path_in(victim, sizeof victim, "victim");
    write_text(victim, "precious", 0600);
    snprintf(probe, sizeof probe, "%s/.write-probe", dir);
    pinned_temp(temp, sizeof temp, probe);
    assert_int_equal(symlink(victim, temp), 0);
    pinned = 0xab;
    assert_int_equal(atomic_file_probe_dir(dir), -1);
    pinned = -1;
    assert_non_null(strstr(err_msg(), "cannot create files in"));
    expect_text(victim, "precious");
    struct stat st;
    assert_int_equal(lstat(temp, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* not removed either: it is not the probe's */
}

/* The probe writes a byte: a directory that takes no data fails now, and
 * the probe's file is removed. */
static void test_probe_write_refused(void **state)
{
    (void)state;
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 0;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = atomic_file_probe_dir(dir);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", err_msg());
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(msg, "cannot write files in"));
    assert_non_null(strstr(msg, dir));
    assert_string_equal(listing(), "");
}

static void test_sync_dir(void **state)
{
    (void)state;
    char path[128];
    path_in(path, sizeof path, "anything");
    assert_int_equal(atomic_file_sync_dir(path), 0);
    path_in(path, sizeof path, "missing/anything");
    assert_int_equal(atomic_file_sync_dir(path), -1);
    assert_non_null(strstr(err_msg(), "cannot sync directory"));
    assert_non_null(strstr(err_msg(), "missing"));
}

int main(void)
{
    if (randombytes_set_implementation(&pinnable) != 0 || sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_temp_name_shape_and_uniqueness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temp_target_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_and_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planted_at_temp_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planted_at_final_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_noreplace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_planted_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_write_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
