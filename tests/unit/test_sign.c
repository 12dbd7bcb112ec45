/* Unit tests for crypto/sign.c: detached signatures and the trusted-key
 * lookup by id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "keys.h"
#include "sign.h"

static char tmpdir[256];
static keys_secret *sk1, *sk2, *archive_sk;
static keys_public pk1, pk2, archive_pk;

static keys_secret *load(const char *dir, const char *name, keys_kind kind)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    keys_secret *sk = keys_load_secret(p, kind);
    assert_non_null(sk);
    return sk;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/n4o-test-sign-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    unsetenv(KEYS_PASSPHRASE_ENV);
    char d1[512], d2[512];
    snprintf(d1, sizeof d1, "%s/a", tmpdir);
    snprintf(d2, sizeof d2, "%s/b", tmpdir);
    assert_int_equal(keys_generate(d1, NULL, &archive_pk, &pk1), 0);
    keys_public unused;
    assert_int_equal(keys_generate(d2, NULL, &unused, &pk2), 0);
    sk1 = load(d1, "signing.key", KEYS_SIGNING);
    sk2 = load(d2, "signing.key", KEYS_SIGNING);
    archive_sk = load(d1, "archive.key", KEYS_ARCHIVE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    keys_secret_free(sk1);
    keys_secret_free(sk2);
    keys_secret_free(archive_sk);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const uint8_t msg[] = "{\"archive\":\"x\"}";

static void test_sign_and_verify(void **state)
{
    (void)state;
    uint8_t sig[SIGN_BYTES];
    assert_int_equal(sign_detached(sk1, msg, sizeof msg - 1, sig), 0);
    /* plain Ed25519: libsodium's verifier agrees */
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg - 1, pk1.key), 0);
    keys_public trusted[2] = {pk2, pk1}; /* rotation: the right key second */
    assert_int_equal(sign_verify(trusted, 2, pk1.id, msg, sizeof msg - 1, sig), 0);
    assert_int_equal(sign_verify(&pk1, 1, pk1.id, msg, sizeof msg - 1, sig), 0);
}

static void test_tampering(void **state)
{
    (void)state;
    uint8_t sig[SIGN_BYTES], m2[sizeof msg];
    assert_int_equal(sign_detached(sk1, msg, sizeof msg - 1, sig), 0);
    char want[128], hex[KEYS_ID_HEX];
    keys_id_hex(pk1.id, hex);
    snprintf(want, sizeof want, "bad signature (key %s)", hex);
    /* every bit of the signature matters */
    for (size_t i = 0; i < SIGN_BYTES * 8; i += 37) {
        uint8_t s2[SIGN_BYTES];
        memcpy(s2, sig, sizeof s2);
        s2[i / 8] ^= (uint8_t)(1u << (i % 8));
        err_clear();
        assert_int_equal(sign_verify(&pk1, 1, pk1.id, msg, sizeof msg - 1, s2), -1);
        assert_int_equal(err_get_kind(), ERR_INTEGRITY);
        assert_string_equal(err_msg(), want);
    }
    /* and every byte of the message */
    for (size_t i = 0; i < sizeof msg - 1; i++) {
        memcpy(m2, msg, sizeof msg);
        m2[i] ^= 1;
        assert_int_equal(sign_verify(&pk1, 1, pk1.id, m2, sizeof msg - 1, sig), -1);
    }
    assert_int_equal(sign_verify(&pk1, 1, pk1.id, msg, sizeof msg - 2, sig), -1);
}

static void test_untrusted_signer(void **state)
{
    (void)state;
    uint8_t sig[SIGN_BYTES];
    assert_int_equal(sign_detached(sk2, msg, sizeof msg - 1, sig), 0);
    char hex[KEYS_ID_HEX];
    keys_id_hex(pk2.id, hex);
    err_clear();
    assert_int_equal(sign_verify(&pk1, 1, pk2.id, msg, sizeof msg - 1, sig), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    assert_non_null(strstr(err_msg(), "unknown key"));
    assert_non_null(strstr(err_msg(), hex));
    /* claiming a trusted signer's id does not help a foreign signature */
    assert_int_equal(sign_verify(&pk1, 1, pk1.id, msg, sizeof msg - 1, sig), -1);
    assert_non_null(strstr(err_msg(), "bad signature"));
    /* no trusted keys at all */
    assert_int_equal(sign_verify(NULL, 0, pk2.id, msg, sizeof msg - 1, sig), -1);
    /* an archive public key in the trusted list is never used for checks */
    keys_public fake = archive_pk;
    memcpy(fake.id, pk2.id, KEYS_ID_BYTES);
    assert_int_equal(sign_verify(&fake, 1, pk2.id, msg, sizeof msg - 1, sig), -1);
    assert_non_null(strstr(err_msg(), "unknown key"));
}

static void test_wrong_key_kind(void **state)
{
    (void)state;
    uint8_t sig[SIGN_BYTES];
    err_clear();
    assert_int_equal(sign_detached(archive_sk, msg, sizeof msg - 1, sig), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_and_verify),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_untrusted_signer),
        cmocka_unit_test(test_wrong_key_kind),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
