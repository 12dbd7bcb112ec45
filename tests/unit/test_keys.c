/* Unit tests for crypto/keys.c: keygen, key files, ids, permissions and
 * passphrase wrapping. */
#include <fcntl.h>
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
#include <sodium.h>

#include "err.h"
#include "keys.h"

static char tmpdir[256];

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static char *read_file(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* A fresh sub-directory of tmpdir for one test. */
static void fresh_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/n4o-test-keys-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    unsetenv(KEYS_PASSPHRASE_ENV);
    setenv(KEYS_TEST_PWHASH_ENV, "1", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_key_id_vector(void **state)
{
    (void)state;
    /* computed independently: hashlib.blake2b(bytes(range(32)),
     * digest_size=32).hexdigest()[:16] */
    uint8_t key[32], id[KEYS_ID_BYTES], id2[KEYS_ID_BYTES];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    keys_id(key, id);
    char hex[KEYS_ID_HEX];
    keys_id_hex(id, hex);
    assert_string_equal(hex, "cb2f5160fc1f7e05");
    assert_int_equal(keys_id_parse(hex, id2), 0);
    assert_memory_equal(id, id2, KEYS_ID_BYTES);
    assert_int_equal(keys_id_parse("CB2F5160FC1F7E05", id2), -1);
    assert_int_equal(keys_id_parse("cb2f5160fc1f7e0", id2), -1);
    assert_int_equal(keys_id_parse("cb2f5160fc1f7e055", id2), -1);
}

static void test_keygen_files_and_load(void **state)
{
    (void)state;
    char dir[512], p[600];
    fresh_dir(dir, sizeof dir, "plain");
    keys_public apub, spub;
    assert_int_equal(keys_generate(dir, NULL, &apub, &spub), 0);

    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    const char *names[4] = {"archive.key", "archive.pub", "signing.key", "signing.pub"};
    const char *labels[4] = {"\nN4O-ARCHIVE-KEY-1 ", "\nN4O-ARCHIVE-PUB-1 ", "\nN4O-SIGNING-KEY-1 ",
                             "\nN4O-SIGNING-PUB-1 "};
    for (int i = 0; i < 4; i++) {
        path_in(p, sizeof p, dir, names[i]);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, i % 2 == 0 ? 0600 : 0644);
        assert_non_null(strstr(read_file(p), labels[i]));
    }

    keys_public a2, s2;
    path_in(p, sizeof p, dir, "archive.pub");
    assert_int_equal(keys_load_public(p, KEYS_ARCHIVE, &a2), 0);
    assert_memory_equal(a2.key, apub.key, 32);
    assert_memory_equal(a2.id, apub.id, KEYS_ID_BYTES);
    uint8_t id[KEYS_ID_BYTES];
    keys_id(a2.key, id);
    assert_memory_equal(id, a2.id, KEYS_ID_BYTES);
    /* the id printed in the comment is the one computed */
    char hex[KEYS_ID_HEX];
    keys_id_hex(apub.id, hex);
    assert_non_null(strstr(read_file(p), hex));

    path_in(p, sizeof p, dir, "signing.pub");
    assert_int_equal(keys_load_public(p, KEYS_SIGNING, &s2), 0);
    assert_memory_equal(s2.key, spub.key, 32);

    path_in(p, sizeof p, dir, "archive.key");
    keys_secret *ask = keys_load_secret(p, KEYS_ARCHIVE);
    assert_non_null(ask);
    assert_memory_equal(keys_secret_public(ask)->key, apub.key, 32);
    assert_memory_equal(keys_secret_public(ask)->id, apub.id, KEYS_ID_BYTES);
    uint8_t pk[32];
    crypto_scalarmult_base(pk, keys_secret_bytes(ask));
    assert_memory_equal(pk, apub.key, 32);
    keys_secret_free(ask);

    path_in(p, sizeof p, dir, "signing.key");
    keys_secret *ssk = keys_load_secret(p, KEYS_SIGNING);
    assert_non_null(ssk);
    assert_memory_equal(keys_secret_public(ssk)->key, spub.key, 32);
    /* the 64-byte libsodium secret key signs for the public key */
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const uint8_t *)"x", 1, keys_secret_bytes(ssk));
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"x", 1, spub.key), 0);
    keys_secret_free(ssk);
    keys_secret_free(NULL);

    /* ids differ between the two key pairs and between runs */
    char dir2[512];
    fresh_dir(dir2, sizeof dir2, "plain2");
    keys_public apub2, spub2;
    assert_int_equal(keys_generate(dir2, NULL, &apub2, &spub2), 0);
    assert_memory_not_equal(apub.id, apub2.id, KEYS_ID_BYTES);
    assert_memory_not_equal(apub.id, spub.id, KEYS_ID_BYTES);
}

static void test_keygen_refuses_overwrite(void **state)
{
    (void)state;
    char dir[512], p[600];
    fresh_dir(dir, sizeof dir, "over");
    keys_public a, s;
    assert_int_equal(keys_generate(dir, NULL, &a, &s), 0);
    path_in(p, sizeof p, dir, "archive.key");
    char before[8192];
    snprintf(before, sizeof before, "%s", read_file(p));
    err_clear();
    assert_int_equal(keys_generate(dir, NULL, &a, &s), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "never overwrites"));
    assert_string_equal(read_file(p), before);

    /* one existing file is enough, and then none is written */
    char dir2[512];
    fresh_dir(dir2, sizeof dir2, "over2");
    assert_int_equal(mkdir(dir2, 0700), 0);
    path_in(p, sizeof p, dir2, "signing.pub");
    write_file(p, "something\n", 0644);
    assert_int_equal(keys_generate(dir2, NULL, &a, &s), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "signing.pub"));
    const char *others[3] = {"archive.key", "archive.pub", "signing.key"};
    for (int i = 0; i < 3; i++) {
        path_in(p, sizeof p, dir2, others[i]);
        assert_int_equal(access(p, F_OK), -1);
    }
}

static void test_secret_mode_refused(void **state)
{
    (void)state;
    char dir[512], p[600];
    fresh_dir(dir, sizeof dir, "mode");
    keys_public a, s;
    assert_int_equal(keys_generate(dir, NULL, &a, &s), 0);
    path_in(p, sizeof p, dir, "archive.key");
    assert_int_equal(chmod(p, 0644), 0);
    err_clear();
    assert_null(keys_load_secret(p, KEYS_ARCHIVE));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "readable by group or others (mode 0644)"));
    assert_non_null(strstr(err_msg(), "chmod 600"));
    assert_int_equal(chmod(p, 0640), 0);
    assert_null(keys_load_secret(p, KEYS_ARCHIVE));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_int_equal(chmod(p, 0400), 0);
    keys_secret *sk = keys_load_secret(p, KEYS_ARCHIVE);
    assert_non_null(sk);
    keys_secret_free(sk);
}

static void test_wrong_kind_and_corrupt(void **state)
{
    (void)state;
    char dir[512], p[600];
    fresh_dir(dir, sizeof dir, "kind");
    keys_public a, s;
    assert_int_equal(keys_generate(dir, NULL, &a, &s), 0);

    /* a public key where the secret is expected (also with mode 0600; the
     * default mode is in test_public_secret_swapped) */
    path_in(p, sizeof p, dir, "archive.pub");
    assert_int_equal(chmod(p, 0600), 0);
    err_clear();
    assert_null(keys_load_secret(p, KEYS_ARCHIVE));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    char want[700];
    snprintf(want, sizeof want,
             "%s: this is a public key (archive.pub); secret_key needs "
             "archive.key",
             p);
    assert_string_equal(err_msg(), want);

    /* signing key where the archive key is expected, and vice versa */
    path_in(p, sizeof p, dir, "signing.key");
    assert_null(keys_load_secret(p, KEYS_ARCHIVE));
    assert_non_null(strstr(err_msg(), "N4O-SIGNING-KEY-1"));
    keys_public pub;
    path_in(p, sizeof p, dir, "archive.pub");
    assert_int_equal(keys_load_public(p, KEYS_SIGNING, &pub), -1);
    assert_non_null(strstr(err_msg(), "N4O-SIGNING-PUB-1"));
    path_in(p, sizeof p, dir, "archive.key");
    assert_int_equal(keys_load_public(p, KEYS_ARCHIVE, &pub), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);

    /* hand-written files: comments and blank lines are fine, the rest not */
    char key_b64[64];
    sodium_bin2base64(key_b64, sizeof key_b64, a.key, 32, sodium_base64_VARIANT_ORIGINAL);
    char text[512];
    path_in(p, sizeof p, dir, "hand.pub");
    snprintf(text, sizeof text, "# comment\n\n#another\nN4O-ARCHIVE-PUB-1 %s", key_b64);
    write_file(p, text, 0644);
    assert_int_equal(keys_load_public(p, KEYS_ARCHIVE, &pub), 0);
    assert_memory_equal(pub.key, a.key, 32);
    snprintf(text, sizeof text, "N4O-ARCHIVE-PUB-1 %s\nextra\n", key_b64);
    write_file(p, text, 0644);
    assert_int_equal(keys_load_public(p, KEYS_ARCHIVE, &pub), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    snprintf(text, sizeof text, "N4O-ARCHIVE-PUB-1 %.40s\n", key_b64); /* short */
    write_file(p, text, 0644);
    assert_int_equal(keys_load_public(p, KEYS_ARCHIVE, &pub), -1);
    assert_non_null(strstr(err_msg(), "corrupt"));
    snprintf(text, sizeof text, "N4O-ARCHIVE-PUB-1 %s AAAA\n", key_b64);
    write_file(p, text, 0644);
    assert_int_equal(keys_load_public(p, KEYS_ARCHIVE, &pub), -1);
    write_file(p, "", 0644);
    assert_int_equal(keys_load_public(p, KEYS_ARCHIVE, &pub), -1);
    assert_non_null(strstr(err_msg(), "not a neo4j-offsite key file"));
    path_in(p, sizeof p, dir, "missing.pub");
    assert_int_equal(keys_load_public(p, KEYS_ARCHIVE, &pub), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "missing.pub"));
}

/* A public file given as a secret key, or the reverse: the message says so
 * and names the setting and the file it needs, before (and instead of) any
 * advice about the file's mode, which would send the user to chmod a file
 * that is the wrong one anyway. */
static void test_public_secret_swapped(void **state)
{
    (void)state;
    char dir[512], p[600], want[800];
    fresh_dir(dir, sizeof dir, "swapped");
    keys_public a, s;
    assert_int_equal(keys_generate(dir, NULL, &a, &s), 0);
    static const struct {
        const char *file;
        keys_kind kind;
        int secret; /* loaded as a secret key */
        const char *msg;
    } cases[] = {
        {"archive.pub", KEYS_ARCHIVE, 1,
         "this is a public key (archive.pub); secret_key needs "
         "archive.key"},
        {"signing.pub", KEYS_SIGNING, 1,
         "this is a public key (signing.pub); signing_key needs "
         "signing.key"},
        {"archive.pub", KEYS_SIGNING, 1,
         "this is a public key (archive.pub); signing_key needs "
         "signing.key"},
        {"archive.key", KEYS_ARCHIVE, 0,
         "this is a secret key (archive.key); public_key needs "
         "archive.pub"},
        {"signing.key", KEYS_SIGNING, 0,
         "this is a secret key (signing.key); verify_key needs "
         "signing.pub"},
        {"signing.key", KEYS_ARCHIVE, 0,
         "this is a secret key (signing.key); public_key needs "
         "archive.pub"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        path_in(p, sizeof p, dir, cases[i].file);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        /* as keygen wrote them: the public files readable by everyone */
        assert_int_equal(st.st_mode & 0777, cases[i].secret ? 0644 : 0600);
        err_clear();
        if (cases[i].secret) {
            assert_null(keys_load_secret(p, cases[i].kind));
        } else {
            keys_public pub;
            assert_int_equal(keys_load_public(p, cases[i].kind, &pub), -1);
        }
        assert_int_equal(err_get_kind(), ERR_USAGE);
        snprintf(want, sizeof want, "%s: %s", p, cases[i].msg);
        assert_string_equal(err_msg(), want);
    }

    /* a wrapped secret file is a secret key too */
    char wdir[512], pw[600];
    fresh_dir(wdir, sizeof wdir, "swapped-wrapped");
    path_in(pw, sizeof pw, tmpdir, "swapped-pw");
    write_file(pw, "correct horse\n", 0600);
    assert_int_equal(keys_generate(wdir, pw, &a, &s), 0);
    path_in(p, sizeof p, wdir, "signing.key");
    keys_public pub;
    assert_int_equal(keys_load_public(p, KEYS_SIGNING, &pub), -1);
    snprintf(want, sizeof want,
             "%s: this is a secret key (signing.key); verify_key needs signing.pub", p);
    assert_string_equal(err_msg(), want);

    /* the right kind of file with a loose mode still gets the chmod advice */
    path_in(p, sizeof p, dir, "archive.key");
    assert_int_equal(chmod(p, 0644), 0);
    assert_null(keys_load_secret(p, KEYS_ARCHIVE));
    assert_non_null(strstr(err_msg(), "readable by group or others (mode 0644)"));
}

static int have_tty(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static void test_passphrase_wrapped(void **state)
{
    (void)state;
    char dir[512], p[600], pw[600], badpw[600], openpw[600];
    fresh_dir(dir, sizeof dir, "wrapped");
    assert_int_equal(mkdir(dir, 0700), 0);
    path_in(pw, sizeof pw, tmpdir, "pw");
    path_in(badpw, sizeof badpw, tmpdir, "badpw");
    path_in(openpw, sizeof openpw, tmpdir, "openpw");
    write_file(pw, "correct horse battery staple\n", 0600);
    write_file(badpw, "correct horse battery stapler\n", 0600);
    write_file(openpw, "correct horse battery staple\n", 0644);

    /* keygen refuses a passphrase file others can read */
    err_clear();
    keys_public a, s;
    assert_int_equal(keys_generate(dir, openpw, &a, &s), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "chmod 600"));

    assert_int_equal(keys_generate(dir, pw, &a, &s), 0);
    path_in(p, sizeof p, dir, "archive.key");
    assert_non_null(strstr(read_file(p), "\nN4O-ARCHIVE-KEY-ARGON2ID-1 "));
    /* the secret is not in the file in the clear */
    assert_null(strstr(read_file(p), "N4O-ARCHIVE-KEY-1 "));

    /* right passphrase (file with or without the trailing newline) */
    setenv(KEYS_PASSPHRASE_ENV, pw, 1);
    keys_secret *sk = keys_load_secret(p, KEYS_ARCHIVE);
    assert_non_null(sk);
    assert_memory_equal(keys_secret_public(sk)->key, a.key, 32);
    keys_secret_free(sk);
    char pw2[600];
    path_in(pw2, sizeof pw2, tmpdir, "pw2");
    write_file(pw2, "correct horse battery staple", 0600);
    setenv(KEYS_PASSPHRASE_ENV, pw2, 1);
    path_in(p, sizeof p, dir, "signing.key");
    sk = keys_load_secret(p, KEYS_SIGNING);
    assert_non_null(sk);
    assert_memory_equal(keys_secret_public(sk)->key, s.key, 32);
    keys_secret_free(sk);

    /* wrong passphrase */
    setenv(KEYS_PASSPHRASE_ENV, badpw, 1);
    err_clear();
    assert_null(keys_load_secret(p, KEYS_SIGNING));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), "wrong passphrase for"));
    assert_non_null(strstr(err_msg(), p));

    /* passphrase file readable by others */
    setenv(KEYS_PASSPHRASE_ENV, openpw, 1);
    assert_null(keys_load_secret(p, KEYS_SIGNING));
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_non_null(strstr(err_msg(), KEYS_PASSPHRASE_ENV));

    /* the label is the additional data: a wrapped archive key relabelled
     * as a signing key does not unlock */
    char text[8192];
    path_in(p, sizeof p, dir, "archive.key");
    snprintf(text, sizeof text, "%s", read_file(p));
    char *lab = strstr(text, "N4O-ARCHIVE-KEY-ARGON2ID-1");
    assert_non_null(lab);
    memcpy(lab, "N4O-SIGNING", 11);
    char forged[600];
    path_in(forged, sizeof forged, dir, "forged.key");
    write_file(forged, text, 0600);
    setenv(KEYS_PASSPHRASE_ENV, pw, 1);
    assert_null(keys_load_secret(forged, KEYS_SIGNING));
    assert_non_null(strstr(err_msg(), "wrong passphrase"));

    /* no env and no terminal: both ways are explained */
    unsetenv(KEYS_PASSPHRASE_ENV);
    if (!have_tty()) {
        assert_null(keys_load_secret(p, KEYS_ARCHIVE));
        assert_int_equal(err_get_kind(), ERR_USAGE);
        assert_non_null(strstr(err_msg(), KEYS_PASSPHRASE_ENV));
        assert_non_null(strstr(err_msg(), "terminal"));
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_id_vector),
        cmocka_unit_test(test_keygen_files_and_load),
        cmocka_unit_test(test_keygen_refuses_overwrite),
        cmocka_unit_test(test_secret_mode_refused),
        cmocka_unit_test(test_wrong_kind_and_corrupt),
        cmocka_unit_test(test_public_secret_swapped),
        cmocka_unit_test(test_passphrase_wrapped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
