/* Unit tests for src/manifest.c: signed manifests, the canonical form, and
 * rejection of every tampered field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "err.h"
#include "keys.h"
#include "manifest.h"
#include "sign.h"

static char tmpdir[256];
static keys_secret *signer, *stranger, *archive_sk;
static keys_public signer_pub, stranger_pub, archive_pub;

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
    snprintf(tmpdir, sizeof tmpdir, "/tmp/n4o-test-manifest-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    unsetenv(KEYS_PASSPHRASE_ENV);
    char d1[512], d2[512];
    snprintf(d1, sizeof d1, "%s/a", tmpdir);
    snprintf(d2, sizeof d2, "%s/b", tmpdir);
    keys_public unused;
    assert_int_equal(keys_generate(d1, NULL, &archive_pub, &signer_pub), 0);
    assert_int_equal(keys_generate(d2, NULL, &unused, &stranger_pub), 0);
    signer = load(d1, "signing.key", KEYS_SIGNING);
    archive_sk = load(d1, "archive.key", KEYS_ARCHIVE);
    stranger = load(d2, "signing.key", KEYS_SIGNING);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    keys_secret_free(signer);
    keys_secret_free(stranger);
    keys_secret_free(archive_sk);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void sample(manifest *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->tool_version, sizeof m->tool_version, "0.1.0");
    snprintf(m->database, sizeof m->database, "neo4j");
    m->dump_started = 1795834800; /* 2026-11-28T03:00:00Z */
    m->dump_ended = 1795834861;
    snprintf(m->host, sizeof m->host, "db1.example.org");
    snprintf(m->archive, sizeof m->archive, "haia_backup_neo4j_20261128_030000");
    m->archive_size = 123456789012ull;
    for (int i = 0; i < 32; i++) {
        m->archive_blake2b[i] = (uint8_t)i;
        m->plaintext_blake2b[i] = (uint8_t)(255 - i);
    }
    m->plaintext_size = 123456000000ull;
    snprintf(m->dump_format, sizeof m->dump_format, "DZV1");
    snprintf(m->neo4j_era, sizeof m->neo4j_era, "5.x");
    m->dump_files = 55;
    m->dump_bytes = 482299;
    m->chunk_size = 65536;
    memcpy(m->recipient_key_id, archive_pub.id, KEYS_ID_BYTES);
    for (int i = 0; i < 32; i++)
        m->archive_header_blake2b[i] = (uint8_t)(0x80 + i);
}

static void assert_same(const manifest *a, const manifest *b)
{
    assert_int_equal(a->format_version, b->format_version);
    assert_string_equal(a->tool_version, b->tool_version);
    assert_string_equal(a->database, b->database);
    assert_int_equal(a->dump_started, b->dump_started);
    assert_int_equal(a->dump_ended, b->dump_ended);
    assert_string_equal(a->host, b->host);
    assert_string_equal(a->archive, b->archive);
    assert_int_equal(a->archive_size, b->archive_size);
    assert_memory_equal(a->archive_blake2b, b->archive_blake2b, 32);
    assert_int_equal(a->plaintext_size, b->plaintext_size);
    assert_memory_equal(a->plaintext_blake2b, b->plaintext_blake2b, 32);
    assert_string_equal(a->dump_format, b->dump_format);
    assert_string_equal(a->neo4j_era, b->neo4j_era);
    assert_int_equal(a->dump_files, b->dump_files);
    assert_int_equal(a->dump_bytes, b->dump_bytes);
    if (a->format_version >= 2)
        assert_memory_equal(a->archive_header_blake2b, b->archive_header_blake2b, 32);
    assert_int_equal(a->chunk_size, b->chunk_size);
    assert_memory_equal(a->recipient_key_id, b->recipient_key_id, KEYS_ID_BYTES);
    assert_memory_equal(a->signer_key_id, b->signer_key_id, KEYS_ID_BYTES);
    assert_string_equal(a->neo4j_version, b->neo4j_version);
}

static char *signed_sample(manifest *m, size_t *len)
{
    sample(m);
    char *text = manifest_sign(m, signer, len);
    assert_non_null(text);
    return text;
}

static void test_round_trip_and_canonical(void **state)
{
    (void)state;
    manifest m, back;
    size_t len;
    char *text = signed_sample(&m, &len);
    assert_int_equal(strlen(text), len);
    assert_int_equal(text[len - 1], '\n');
    assert_memory_equal(m.signer_key_id, signer_pub.id, KEYS_ID_BYTES);
    assert_int_equal(m.format_version, 2);
    assert_non_null(strstr(text, "\"archive_header_blake2b\":\"808182838485"));
    assert_non_null(strstr(text, "\"dump_started\":\"2026-11-28T03:00:00Z\""));
    assert_non_null(strstr(text, "\"dump_ended\":\"2026-11-28T03:01:01Z\""));
    assert_non_null(strstr(text, "\"archive_size\":123456789012"));
    assert_non_null(strstr(text, "\"archive_blake2b\":\"000102030405060708090a0b0c0d0e0f"));
    assert_non_null(strstr(text, "\"dump\":{\"bytes\":482299,\"files\":55,\"format\":\"DZV1\","
                                 "\"neo4j_era\":\"5.x\"}"));
    /* the file is the canonical form itself: sorted keys, no whitespace */
    assert_null(strchr(text, ' '));
    assert_int_equal(strncmp(text, "{\"archive\":", 11), 0);
    json_t *o = json_loadb(text, len, 0, NULL);
    assert_non_null(o);
    char *again = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    assert_int_equal(strlen(again), len - 1);
    assert_memory_equal(again, text, len - 1);
    /* the signature covers the canonical form without "signature" */
    const char *b64 = json_string_value(json_object_get(o, "signature"));
    uint8_t sig[64];
    size_t n;
    assert_int_equal(sodium_base642bin(sig, 64, b64, strlen(b64), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, 64);
    json_object_del(o, "signature");
    char *body = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    assert_int_equal(
        crypto_sign_verify_detached(sig, (const uint8_t *)body, strlen(body), signer_pub.key), 0);
    free(body);
    free(again);
    json_decref(o);

    assert_int_equal(manifest_verify(text, len, &signer_pub, 1, &back), 0);
    assert_same(&m, &back);
    memset(&back, 0, sizeof back);
    assert_int_equal(manifest_parse_unverified(text, len, &back), 0);
    assert_same(&m, &back);
    /* a re-indented copy still verifies */
    o = json_loadb(text, len, 0, NULL);
    char *pretty = json_dumps(o, JSON_INDENT(4));
    assert_int_equal(manifest_verify(pretty, strlen(pretty), &signer_pub, 1, &back), 0);
    free(pretty);
    json_decref(o);
    free(text);
}

static void test_unicode_text(void **state)
{
    (void)state;
    manifest m, back;
    sample(&m);
    snprintf(m.host, sizeof m.host, "h\xc3\xb4te-\xe2\x82\xac/\"q\"\\");
    size_t len;
    char *text = manifest_sign(&m, signer, &len);
    assert_non_null(text);
    /* written as UTF-8, not \u escapes; quote and backslash escaped */
    assert_non_null(strstr(text, "\"host\":\"h\xc3\xb4te-\xe2\x82\xac/\\\"q\\\"\\\\\""));
    assert_int_equal(manifest_verify(text, len, &signer_pub, 1, &back), 0);
    assert_string_equal(back.host, m.host);
    free(text);
}

static void test_writer_refuses_bad_text(void **state)
{
    (void)state;
    manifest m;
    size_t len;
    sample(&m);
    snprintf(m.database, sizeof m.database, "neo\n4j");
    err_clear();
    assert_null(manifest_sign(&m, signer, &len));
    assert_non_null(strstr(err_msg(), "control character"));
    sample(&m);
    snprintf(m.host, sizeof m.host, "bad\xff");
    assert_null(manifest_sign(&m, signer, &len));
    assert_non_null(strstr(err_msg(), "UTF-8"));
    sample(&m);
    m.database[0] = '\0';
    assert_null(manifest_sign(&m, signer, &len));
    assert_non_null(strstr(err_msg(), "empty"));
    sample(&m);
    m.archive_size = UINT64_MAX;
    assert_null(manifest_sign(&m, signer, &len));
    sample(&m);
    assert_null(manifest_sign(&m, archive_sk, &len));
    assert_int_equal(err_get_kind(), ERR_USAGE);
}

/* Change one JSON value so that it stays well-formed for its field. */
static json_t *altered(const char *key, json_t *v)
{
    if (json_is_integer(v))
        return json_integer(json_integer_value(v) + 1);
    const char *s = json_string_value(v);
    assert_non_null(s);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    size_t n = strlen(buf);
    if (strcmp(key, "signature") == 0) {
        uint8_t sig[64];
        assert_int_equal(
            sodium_base642bin(sig, 64, s, n, NULL, NULL, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
        sig[10] ^= 4;
        sodium_bin2base64(buf, sizeof buf, sig, 64, sodium_base64_VARIANT_ORIGINAL);
    } else if (strstr(key, "dump_")) {
        buf[n - 2] = buf[n - 2] == '0' ? '1' : '0'; /* a second later or earlier */
    } else {
        /* hex stays hex, names stay names */
        buf[n - 1] = buf[n - 1] == '0' ? '1' : buf[n - 1] == 'x' ? 'y' : '0';
    }
    return json_string(buf);
}

static char *dump_canonical(json_t *o)
{
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(s);
    return s;
}

static void expect_reject(const char *text, const char *what, const char *msg_part)
{
    manifest out;
    memset(&out, 0x5a, sizeof out);
    manifest before = out;
    err_clear();
    if (manifest_verify(text, strlen(text), &signer_pub, 1, &out) == 0)
        fail_msg("manifest with %s was accepted", what);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    if (msg_part && !strstr(err_msg(), msg_part))
        fail_msg("%s: error \"%s\" lacks \"%s\"", what, err_msg(), msg_part);
    /* nothing is filled in from a manifest that does not verify */
    assert_memory_equal(&out, &before, sizeof out);
}

static void test_every_field_tampered(void **state)
{
    (void)state;
    manifest m;
    size_t len;
    sample(&m);
    snprintf(m.neo4j_version, sizeof m.neo4j_version, "5.26.0");
    char *text = manifest_sign(&m, signer, &len);
    assert_non_null(text);
    json_t *orig = json_loadb(text, len, 0, NULL);
    const char *key;
    json_t *val;
    int checked = 0;
    json_object_foreach(orig, key, val)
    {
        json_t *o = json_deep_copy(orig);
        if (json_is_object(val)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(val, k2, v2)
            {
                json_t *o2 = json_deep_copy(orig);
                json_object_set_new(json_object_get(o2, key), k2, altered(k2, v2));
                char *t = dump_canonical(o2);
                expect_reject(t, k2, "bad signature");
                free(t);
                json_decref(o2);
                checked++;
            }
            json_decref(o);
            continue;
        }
        json_object_set_new(o, key, altered(key, val));
        char *t = dump_canonical(o);
        const char *want = "bad signature";
        if (strcmp(key, "signer_key_id") == 0)
            want = "unknown key";
        else if (strcmp(key, "format_version") == 0)
            want = "format_version 3 is not supported";
        expect_reject(t, key, want);
        free(t);
        json_decref(o);
        checked++;
    }
    assert_int_equal(checked, 17 + 4);
    json_decref(orig);
    free(text);
}

/* O (a parsed manifest) signed again by the trusted signer, as canonical
 * text: a manifest whose only fault is the one the test put in. */
static char *resigned(json_t *o)
{
    json_object_del(o, "signature");
    char *canon = dump_canonical(o);
    uint8_t sig[64];
    assert_int_equal(sign_detached(signer, (const uint8_t *)canon, strlen(canon), sig), 0);
    free(canon);
    char b64[100];
    sodium_bin2base64(b64, sizeof b64, sig, 64, sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(o, "signature", json_string(b64));
    return dump_canonical(o);
}

/* Version 1 manifests (earlier releases) still verify; the header hash is
 * required from version 2 on and unknown to version 1. */
static void test_versions(void **state)
{
    (void)state;
    manifest m, back;
    size_t len;
    sample(&m);
    m.format_version = 1;
    char *text = manifest_sign(&m, signer, &len);
    assert_non_null(text);
    assert_null(strstr(text, "archive_header_blake2b"));
    assert_non_null(strstr(text, "\"format_version\":1,"));
    assert_int_equal(manifest_verify(text, len, &signer_pub, 1, &back), 0);
    assert_int_equal(back.format_version, 1);
    free(text);

    /* a version 2 manifest without the field, or a version 1 with it,
     * re-signed so that only the schema is wrong */
    for (int v = 1; v <= 2; v++) {
        sample(&m);
        m.format_version = v;
        text = manifest_sign(&m, signer, &len);
        json_t *o = json_loadb(text, len, 0, NULL);
        free(text);
        if (v == 2)
            json_object_del(o, "archive_header_blake2b");
        else
            json_object_set_new(o, "archive_header_blake2b",
                                json_string("00000000000000000000000000000000"
                                            "00000000000000000000000000000000"));
        char *t = resigned(o);
        expect_reject(t, v == 2 ? "v2 without header hash" : "v1 with header hash",
                      v == 2 ? "archive_header_blake2b is missing" : "unknown field");
        free(t);
        json_decref(o);
    }
    m.format_version = 3;
    assert_null(manifest_sign(&m, signer, &len));
}

/* The optional neo4j_version (version 2): omitted when unknown, signed when
 * present, and exactly a version number when present. */
static void test_neo4j_version(void **state)
{
    (void)state;
    manifest m, back;
    size_t len;

    /* unknown: no member, and "" back (as from every earlier manifest) */
    char *without = signed_sample(&m, &len);
    assert_null(strstr(without, "neo4j_version"));
    memset(&back, 0x5a, sizeof back);
    assert_int_equal(manifest_verify(without, len, &signer_pub, 1, &back), 0);
    assert_string_equal(back.neo4j_version, "");
    assert_same(&m, &back);

    /* known: written, read back, by both readers */
    const char *versions[] = {"5.26.0", "2025.01.0", "4.4", "1.2.3.4"};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        sample(&m);
        snprintf(m.neo4j_version, sizeof m.neo4j_version, "%s", versions[i]);
        char *text = manifest_sign(&m, signer, &len);
        assert_non_null(text);
        char want[64];
        snprintf(want, sizeof want, "\"neo4j_version\":\"%s\"", versions[i]);
        assert_non_null(strstr(text, want));
        assert_int_equal(manifest_verify(text, len, &signer_pub, 1, &back), 0);
        assert_same(&m, &back);
        memset(&back, 0, sizeof back);
        assert_int_equal(manifest_parse_unverified(text, len, &back), 0);
        assert_string_equal(back.neo4j_version, versions[i]);
        free(text);
    }

    /* the signature covers it: changed, removed or added, it breaks */
    sample(&m);
    snprintf(m.neo4j_version, sizeof m.neo4j_version, "5.26.0");
    char *text = manifest_sign(&m, signer, &len);
    json_t *orig = json_loadb(text, len, 0, NULL);
    json_t *o = json_deep_copy(orig);
    json_object_set_new(o, "neo4j_version", json_string("5.25.0"));
    char *t = dump_canonical(o);
    expect_reject(t, "another neo4j_version", "bad signature");
    free(t);
    json_decref(o);
    o = json_deep_copy(orig);
    json_object_del(o, "neo4j_version");
    t = dump_canonical(o);
    expect_reject(t, "neo4j_version removed", "bad signature");
    free(t);
    json_decref(o);
    o = json_loadb(without, strlen(without), 0, NULL);
    json_object_set_new(o, "neo4j_version", json_string("5.26.0"));
    t = dump_canonical(o);
    expect_reject(t, "neo4j_version added", "bad signature");
    free(t);
    json_decref(o);

    /* signed, but not exactly a version number */
    const char *bad[] = {"v5.26.0",      "5.26.0-enterprise", "5",       "5.26.", " 5.26.0",
                         "5.26.0\u00a0", "1.2.3.4.5",         "unknown", "5..26", "1234567890.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = json_deep_copy(orig);
        json_object_set_new(o, "neo4j_version", json_string(bad[i]));
        t = resigned(o);
        expect_reject(t, bad[i], "manifest field neo4j_version is not a version number");
        free(t);
        json_decref(o);
    }
    struct {
        json_t *val;
        const char *msg;
    } typed[] = {
        {json_string(""), "neo4j_version is empty"},
        {json_integer(5), "neo4j_version is not a string"},
        {json_null(), "neo4j_version is not a string"},
        {json_string("5.26.0.123456789012345678901234567890"), "neo4j_version is too long"},
        {json_string("5.26\t"), "neo4j_version contains a control character"},
    };
    for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++) {
        o = json_deep_copy(orig);
        json_object_set_new(o, "neo4j_version", typed[i].val);
        t = resigned(o);
        expect_reject(t, typed[i].msg, typed[i].msg);
        free(t);
        json_decref(o);
    }
    /* a version 1 manifest never has it */
    sample(&m);
    m.format_version = 1;
    char *v1 = manifest_sign(&m, signer, &len);
    o = json_loadb(v1, len, 0, NULL);
    json_object_set_new(o, "neo4j_version", json_string("5.26.0"));
    t = resigned(o);
    expect_reject(t, "a version 1 manifest with neo4j_version", "unknown field \"neo4j_version\"");
    free(t);
    json_decref(o);
    free(v1);

    /* nor is one written */
    sample(&m);
    snprintf(m.neo4j_version, sizeof m.neo4j_version, "5.26.0-enterprise");
    err_clear();
    assert_null(manifest_sign(&m, signer, &len));
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    assert_non_null(
        strstr(err_msg(), "neo4j_version is not a version number ('5.26.0-enterprise')"));
    sample(&m);
    m.format_version = 1;
    snprintf(m.neo4j_version, sizeof m.neo4j_version, "5.26.0");
    assert_null(manifest_sign(&m, signer, &len));
    assert_non_null(strstr(err_msg(), "neo4j_version needs format_version 2"));

    json_decref(orig);
    free(text);
    free(without);
}

static void test_untrusted_signer(void **state)
{
    (void)state;
    manifest m, out;
    sample(&m);
    size_t len;
    char *text = manifest_sign(&m, stranger, &len);
    assert_non_null(text);
    char hex[KEYS_ID_HEX], want[64];
    keys_id_hex(stranger_pub.id, hex);
    snprintf(want, sizeof want, "unknown key %s", hex);
    expect_reject(text, "an untrusted signer", want);
    /* trusted once its key is configured, e.g. next to the old one */
    keys_public both[2] = {signer_pub, stranger_pub};
    assert_int_equal(manifest_verify(text, len, both, 2, &out), 0);
    /* listing works without trust */
    assert_int_equal(manifest_parse_unverified(text, len, &out), 0);
    assert_string_equal(out.archive, m.archive);
    free(text);
}

static void test_malformed(void **state)
{
    (void)state;
    manifest m;
    size_t len;
    char *text = signed_sample(&m, &len);
    json_t *orig = json_loadb(text, len, 0, NULL);
    char *t;

    expect_reject("", "empty text", "not valid JSON");
    expect_reject("[1,2]", "an array", "not a JSON object");
    expect_reject("{\"format_version\":1", "cut JSON", "not valid JSON");
    expect_reject(text + 1, "a cut manifest", "not valid JSON");

    /* duplicate member: valid JSON for some parsers, refused here */
    size_t n = strlen(text);
    char *dup = malloc(n + 32);
    snprintf(dup, n + 32, "{\"database\":\"other\",%s", text + 1);
    expect_reject(dup, "a duplicate member", "duplicate");
    free(dup);

    struct {
        const char *key;
        json_t *val;
        const char *msg;
    } cases[] = {
        {"archive_size", json_string("12"), "not an integer"},
        {"archive_size", json_real(12.0), "not an integer"},
        {"archive_size", json_integer(-1), "out of range"},
        {"chunk_size", json_integer(1ll << 33), "out of range"},
        {"database", json_integer(1), "not a string"},
        {"database", json_string(""), "empty"},
        {"database", json_string("a\tb"), "control character"},
        {"dump_started", json_string("2026-02-30T03:00:00Z"), "RFC 3339"},
        {"dump_started", json_string("2026-11-28 03:00:00Z"), "RFC 3339"},
        {"dump_ended", json_string("2026-11-28T03:00:00+01:00"), "RFC 3339"},
        {"archive_blake2b", json_string("00"), "hex"},
        {"recipient_key_id", json_string("CB2F5160FC1F7E05"), "hex"},
        {"signature", json_string("AAAA"), "signature"},
        {"signature", json_integer(0), "not a string"},
        {"dump", json_string("DZV1"), "dump is not an object"},
        {"format_version", json_integer(0), "format_version 0"},
        {"format_version", json_string("1"), "not an integer"},
        {"surprise", json_true(), "unknown field \"surprise\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *o = json_deep_copy(orig);
        json_object_set_new(o, cases[i].key, cases[i].val);
        t = dump_canonical(o);
        expect_reject(t, cases[i].key, cases[i].msg);
        free(t);
        json_decref(o);
    }
    const char *required[] = {"archive", "signature", "dump", "host", "format_version"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        json_t *o = json_deep_copy(orig);
        json_object_del(o, required[i]);
        t = dump_canonical(o);
        expect_reject(t, required[i], required[i]);
        free(t);
        json_decref(o);
    }
    json_t *o = json_deep_copy(orig);
    json_object_set_new(json_object_get(o, "dump"), "extra", json_integer(1));
    t = dump_canonical(o);
    expect_reject(t, "an unknown dump member", "unknown field \"extra\"");
    free(t);
    json_decref(o);
    o = json_deep_copy(orig);
    json_object_del(json_object_get(o, "dump"), "files");
    t = dump_canonical(o);
    expect_reject(t, "no dump.files", "dump.files is missing");
    free(t);
    json_decref(o);

    json_decref(orig);
    free(text);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_canonical),
        cmocka_unit_test(test_unicode_text),
        cmocka_unit_test(test_writer_refuses_bad_text),
        cmocka_unit_test(test_every_field_tampered),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_neo4j_version),
        cmocka_unit_test(test_untrusted_signer),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
