/* Unit tests for crypto/stream.c: round trips at the chunk boundaries and
 * every kind of damage the format promises to detect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "err.h"
#include "keys.h"
#include "stream.h"

#define C  STREAM_CHUNK_SIZE
#define CC (STREAM_CHUNK_SIZE + STREAM_TAG_BYTES) /* ciphertext chunk */
#define H  STREAM_HEADER_SIZE

static char tmpdir[256];
static keys_public pub, other_pub;
static keys_secret *sec, *other_sec, *signing_sec;

/* A growable byte buffer used as a sink. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    size_t calls;
    size_t max_call; /* largest single call */
    int fail_after;  /* make the sink fail on this call (1-based), 0: never */
} buf;

static int buf_sink(void *ctx, const uint8_t *p, size_t n)
{
    buf *b = ctx;
    b->calls++;
    if (b->fail_after && (int)b->calls >= b->fail_after)
        return err_set(ERR_FAIL, "sink refused");
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 1024;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    if (n > b->max_call)
        b->max_call = n;
    return 0;
}

static void buf_free(buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    randombytes_buf(p, n);
    return p;
}

static size_t n_chunks(size_t n)
{
    return n == 0 ? 1 : (n + C - 1) / C;
}

/* Encrypt PLAIN fed in pieces of PIECE bytes. */
static void seal(const keys_public *to, const uint8_t *plain, size_t n, size_t piece, buf *out)
{
    memset(out, 0, sizeof *out);
    stream_writer *w = stream_writer_new(to, buf_sink, out);
    assert_non_null(w);
    assert_int_equal(out->len, H); /* the header goes out at once */
    for (size_t off = 0; off < n; off += piece) {
        size_t k = n - off < piece ? n - off : piece;
        assert_int_equal(stream_writer_update(w, plain + off, k), 0);
    }
    assert_int_equal(stream_writer_update(w, plain, 0), 0);
    assert_int_equal(stream_writer_finish(w), 0);
    stream_writer_free(w);
}

/* Decrypt ARCHIVE fed in pieces; returns 0 or -1 (err set). */
static int open_archive(const keys_secret *sk, const uint8_t *archive, size_t n, size_t piece,
                        buf *out)
{
    memset(out, 0, sizeof *out);
    err_clear();
    stream_reader *r = stream_reader_new(sk, buf_sink, out);
    assert_non_null(r);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += piece) {
        size_t k = n - off < piece ? n - off : piece;
        rc = stream_reader_update(r, archive + off, k);
    }
    if (rc == 0)
        rc = stream_reader_finish(r);
    if (rc != 0)
        assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    stream_reader_free(r);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/n4o-test-stream-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    unsetenv(KEYS_PASSPHRASE_ENV);
    char d[512], p[600];
    for (int i = 0; i < 2; i++) {
        snprintf(d, sizeof d, "%s/k%d", tmpdir, i);
        keys_public a, s;
        assert_int_equal(keys_generate(d, NULL, &a, &s), 0);
        snprintf(p, sizeof p, "%s/archive.key", d);
        keys_secret *sk = keys_load_secret(p, KEYS_ARCHIVE);
        assert_non_null(sk);
        if (i == 0) {
            pub = a;
            sec = sk;
            snprintf(p, sizeof p, "%s/signing.key", d);
            signing_sec = keys_load_secret(p, KEYS_SIGNING);
            assert_non_null(signing_sec);
        } else {
            other_pub = a;
            other_sec = sk;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    keys_secret_free(sec);
    keys_secret_free(other_sec);
    keys_secret_free(signing_sec);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_round_trips(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, C - 1, C, C + 1, 3 * C + 12345};
    const size_t pieces[] = {1, 7, 4099, C + 3, SIZE_MAX};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        uint8_t *plain = random_bytes(n);
        for (size_t j = 0; j < sizeof pieces / sizeof pieces[0]; j++) {
            size_t piece = pieces[j];
            if (piece == 1 && n > C + 1)
                continue; /* byte-by-byte over many chunks adds time, not coverage */
            buf a, p;
            seal(&pub, plain, n, piece, &a);
            /* FORMAT.md: 128 + plaintext + 17 per chunk */
            assert_int_equal(a.len, H + n + STREAM_TAG_BYTES * n_chunks(n));
            /* the size backends are told in advance is the real one */
            assert_int_equal(stream_archive_size(n, C), a.len);
            /* header bytes are as documented */
            assert_memory_equal(a.data, "\x89N4JOFS\n", 8);
            assert_memory_equal(a.data + 8, "\x00\x02\x00\x80\x00\x01\x00\x00", 8);
            assert_memory_equal(a.data + 16, pub.id, KEYS_ID_BYTES);
            size_t rpiece = piece == SIZE_MAX ? 1 + (n % 9973) : piece;
            assert_int_equal(open_archive(sec, a.data, a.len, rpiece, &p), 0);
            assert_int_equal(p.len, n);
            if (n)
                assert_memory_equal(p.data, plain, n);
            /* plaintext leaves the reader in whole chunks only */
            assert_true(p.max_call <= C);
            buf_free(&a);
            buf_free(&p);
        }
        free(plain);
    }
}

static void test_other_chunk_size(void **state)
{
    (void)state;
    size_t n = 10 * 1024 + 5;
    uint8_t *plain = random_bytes(n);
    buf a = {0}, p;
    stream_writer *w = stream_writer_new_sized(&pub, 1024, buf_sink, &a);
    assert_non_null(w);
    assert_int_equal(stream_writer_update(w, plain, n), 0);
    assert_int_equal(stream_writer_finish(w), 0);
    stream_writer_free(w);
    assert_int_equal(a.len, H + n + 17 * 11);
    assert_int_equal(stream_archive_size(n, 1024), a.len);
    uint32_t cs = 0;
    assert_int_equal(stream_header_chunk_size(a.data, a.len, &cs), 0);
    assert_int_equal(cs, 1024);
    assert_int_equal(open_archive(sec, a.data, a.len, 333, &p), 0);
    assert_int_equal(p.len, n);
    assert_memory_equal(p.data, plain, n);
    buf_free(&a);
    buf_free(&p);
    free(plain);
    err_clear();
    assert_null(stream_writer_new_sized(&pub, 512, buf_sink, &a));
    assert_null(stream_writer_new_sized(&pub, STREAM_CHUNK_MAX + 1, buf_sink, &a));
}

/* The 4-chunk archive the damage tests work on. */
#define DN (3 * C + 100)
static uint8_t *dplain;
static buf darch;

static void make_damage_archive(void)
{
    if (dplain)
        return;
    dplain = random_bytes(DN);
    seal(&pub, dplain, DN, 65521, &darch);
    assert_int_equal(darch.len, H + DN + 4 * 17);
}

/* Open a modified copy; expect failure with only the chunks before
 * BAD_CHUNK delivered, and the message naming OFFSET_TEXT if given. */
static void expect_damage(const uint8_t *a, size_t n, size_t bad_chunk, const char *msg_part)
{
    buf p;
    size_t pieces[] = {n, 8191};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(open_archive(sec, a, n, pieces[i], &p), -1);
        if (bad_chunk != SIZE_MAX) {
            assert_int_equal(p.len, bad_chunk * C);
            if (p.len)
                assert_memory_equal(p.data, dplain, p.len);
        }
        if (msg_part && !strstr(err_msg(), msg_part))
            fail_msg("error \"%s\" lacks \"%s\"", err_msg(), msg_part);
        buf_free(&p);
    }
}

static void test_header_bit_flips(void **state)
{
    (void)state;
    make_damage_archive();
    uint8_t *a = malloc(darch.len);
    for (size_t off = 0; off < H; off++) {
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(a, darch.data, darch.len);
            a[off] ^= (uint8_t)(1u << bit);
            /* nothing at all may come out of an archive with a bad header */
            expect_damage(a, darch.len, 0, NULL);
        }
    }
    /* the messages say what is wrong, field by field */
    memcpy(a, darch.data, darch.len);
    a[1] ^= 1;
    expect_damage(a, darch.len, 0, "bad magic");
    memcpy(a, darch.data, darch.len);
    a[9] = 3;
    expect_damage(a, darch.len, 0, "version 3 is not supported");
    memcpy(a, darch.data, darch.len);
    a[11] = 0x81;
    expect_damage(a, darch.len, 0, "header length");
    memcpy(a, darch.data, darch.len);
    a[12] = 0x10;
    expect_damage(a, darch.len, 0, "chunk size");
    memcpy(a, darch.data, darch.len);
    a[14] = 0x00; /* 65536 -> 256: below the minimum */
    a[13] = 0x00;
    a[15] = 0x01;
    expect_damage(a, darch.len, 0, "chunk size");
    memcpy(a, darch.data, darch.len);
    a[20] ^= 1;
    expect_damage(a, darch.len, 0, "archive is for key");
    memcpy(a, darch.data, darch.len);
    a[60] ^= 1;
    expect_damage(a, darch.len, 0, "sealed archive key");
    memcpy(a, darch.data, darch.len);
    a[110] ^= 1; /* stream header: caught by the first chunk */
    expect_damage(a, darch.len, 0, "chunk 0 at byte offset 128");
    free(a);
}

static void test_chunk_bit_flips(void **state)
{
    (void)state;
    make_damage_archive();
    uint8_t *a = malloc(darch.len);
    char want[64];
    for (size_t c = 0; c < 4; c++) {
        size_t start = H + c * CC;
        size_t len = c < 3 ? CC : 100 + 17;
        /* first byte (encrypted tag), body, and the MAC at the end */
        size_t offs[] = {start, start + 1, start + len / 2, start + len - 16, start + len - 1};
        for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
            memcpy(a, darch.data, darch.len);
            a[offs[i]] ^= 0x20;
            snprintf(want, sizeof want, "chunk %zu at byte offset %zu", c, start);
            expect_damage(a, darch.len, c, want);
        }
    }
    free(a);
}

static void test_truncation_and_appending(void **state)
{
    (void)state;
    make_damage_archive();
    /* at every chunk boundary, inside each chunk, inside the header */
    size_t cuts[] = {0,      1,          H - 1,      H,          H + 1,           H + CC - 1,
                     H + CC, H + CC + 5, H + 2 * CC, H + 3 * CC, H + 3 * CC + 16, darch.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t cut = cuts[i];
        size_t whole = cut < H ? 0 : (cut - H) / CC;
        expect_damage(darch.data, cut, SIZE_MAX, cut < H ? "truncated" : NULL);
        buf p;
        assert_int_equal(open_archive(sec, darch.data, cut, cut + 1, &p), -1);
        assert_true(p.len <= whole * C);
        if (cut >= H && (cut - H) % CC == 0)
            assert_non_null(strstr(err_msg(), "final chunk is missing"));
        buf_free(&p);
    }
    /* appended bytes.  After a short final chunk they make that chunk
     * longer, so it fails authentication; after a full final chunk the
     * reader has seen TAG_FINAL and names the extra bytes. */
    uint8_t *a = malloc(darch.len + CC);
    memcpy(a, darch.data, darch.len);
    a[darch.len] = 0;
    expect_damage(a, darch.len + 1, 3, "chunk 3 at byte offset");
    memcpy(a + darch.len, darch.data + H + 3 * CC, 117);
    expect_damage(a, darch.len + 117, 3, "chunk 3 at byte offset");
    free(a);

    buf full, p;
    seal(&pub, dplain, 2 * C, 2 * C, &full);
    assert_int_equal(full.len, H + 2 * CC);
    a = malloc(full.len + CC);
    memcpy(a, full.data, full.len);
    a[full.len] = 'x';
    /* a byte, a tag's worth, a second archive's header, a whole chunk */
    size_t extra[] = {1, 17, H, CC};
    for (size_t i = 0; i < 4; i++) {
        if (extra[i] == H)
            memcpy(a + full.len, full.data, H);
        if (extra[i] == CC)
            memcpy(a + full.len, full.data + H + CC, CC);
        size_t n = full.len + extra[i];
        assert_int_equal(open_archive(sec, a, n, n, &p), -1);
        assert_non_null(strstr(err_msg(), "after the final chunk"));
        buf_free(&p);
        assert_int_equal(open_archive(sec, a, n, 1000, &p), -1);
        assert_non_null(strstr(err_msg(), "after the final chunk"));
        buf_free(&p);
    }
    free(a);
    buf_free(&full);
}

static void test_reordered_chunks(void **state)
{
    (void)state;
    make_damage_archive();
    uint8_t *a = malloc(darch.len + CC);
    /* chunks 1 and 2 swapped */
    memcpy(a, darch.data, darch.len);
    memcpy(a + H + CC, darch.data + H + 2 * CC, CC);
    memcpy(a + H + 2 * CC, darch.data + H + CC, CC);
    expect_damage(a, darch.len, 1, "chunk 1 at byte offset");
    /* chunk 1 duplicated over chunk 2 */
    memcpy(a, darch.data, darch.len);
    memcpy(a + H + 2 * CC, darch.data + H + CC, CC);
    expect_damage(a, darch.len, 2, "chunk 2 at byte offset");
    /* chunk 1 duplicated, inserted */
    memcpy(a, darch.data, H + 2 * CC);
    memcpy(a + H + 2 * CC, darch.data + H + CC, darch.len - H - CC);
    expect_damage(a, darch.len + CC, 2, "chunk 2 at byte offset");
    /* chunk 1 dropped */
    memcpy(a, darch.data, H + CC);
    memcpy(a + H + CC, darch.data + H + 2 * CC, darch.len - H - 2 * CC);
    expect_damage(a, darch.len - CC, 1, "chunk 1 at byte offset");
    /* a chunk from another archive to the same key, same position */
    buf b;
    seal(&pub, dplain, DN, DN, &b);
    memcpy(a, darch.data, darch.len);
    memcpy(a + H + CC, b.data + H + CC, CC);
    expect_damage(a, darch.len, 1, "chunk 1 at byte offset");
    /* the header of another archive on this body */
    memcpy(a, b.data, H);
    memcpy(a + H, darch.data + H, darch.len - H);
    expect_damage(a, darch.len, 0, "chunk 0 at byte offset 128");
    buf_free(&b);
    free(a);
}

static void test_wrong_key(void **state)
{
    (void)state;
    make_damage_archive();
    buf p;
    assert_int_equal(open_archive(other_sec, darch.data, darch.len, darch.len, &p), -1);
    char want[128], a_hex[KEYS_ID_HEX], b_hex[KEYS_ID_HEX];
    keys_id_hex(pub.id, a_hex);
    keys_id_hex(other_pub.id, b_hex);
    snprintf(want, sizeof want, "archive is for key %s, this key is %s", a_hex, b_hex);
    assert_string_equal(err_msg(), want);
    assert_int_equal(p.len, 0);
    buf_free(&p);
    /* the key id rewritten to the other key: the sealed key still fails */
    uint8_t *a = malloc(darch.len);
    memcpy(a, darch.data, darch.len);
    memcpy(a + 16, other_pub.id, KEYS_ID_BYTES);
    assert_int_equal(open_archive(other_sec, a, darch.len, darch.len, &p), -1);
    assert_non_null(strstr(err_msg(), "sealed archive key"));
    assert_int_equal(p.len, 0);
    buf_free(&p);
    free(a);

    uint8_t id[KEYS_ID_BYTES];
    assert_int_equal(stream_header_recipient(darch.data, darch.len, id), 0);
    assert_memory_equal(id, pub.id, KEYS_ID_BYTES);
    assert_int_equal(stream_header_recipient(darch.data, 100, id), -1);
    assert_int_equal(stream_header_recipient(dplain, DN, id), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);

    /* keys of the wrong kind are refused up front */
    keys_public sp = *keys_secret_public(signing_sec);
    assert_null(stream_writer_new(&sp, buf_sink, &p));
    assert_null(stream_reader_new(signing_sec, buf_sink, &p));
}

static void test_sink_failure(void **state)
{
    (void)state;
    uint8_t *plain = random_bytes(3 * C);
    /* writer: the sink fails on the second chunk; the error stays */
    buf a = {.fail_after = 3};
    stream_writer *w = stream_writer_new(&pub, buf_sink, &a);
    assert_non_null(w);
    assert_int_equal(stream_writer_update(w, plain, 3 * C), -1);
    assert_string_equal(err_msg(), "sink refused");
    assert_int_equal(stream_writer_update(w, plain, 1), -1);
    assert_int_equal(stream_writer_finish(w), -1);
    assert_string_equal(err_msg(), "sink refused");
    stream_writer_free(w);
    buf_free(&a);
    /* the header sink failing fails the constructor */
    buf b = {.fail_after = 1};
    assert_null(stream_writer_new(&pub, buf_sink, &b));
    buf_free(&b);
    /* reader: sink failure stops the stream and is reported as such */
    seal(&pub, plain, 3 * C, 3 * C, &a);
    buf p = {.fail_after = 2};
    stream_reader *r = stream_reader_new(sec, buf_sink, &p);
    assert_int_equal(stream_reader_update(r, a.data, a.len), -1);
    assert_string_equal(err_msg(), "sink refused");
    assert_int_equal(stream_reader_finish(r), -1);
    assert_string_equal(err_msg(), "sink refused");
    stream_reader_free(r);
    stream_reader_free(NULL);
    stream_writer_free(NULL);
    buf_free(&a);
    buf_free(&p);
    free(plain);
}

/* Build an archive by hand from FORMAT.md with chosen chunk lengths and
 * tags, to reach reader checks the writer never triggers. */
static size_t craft(uint8_t *out, const size_t *lens, const unsigned char *tags, size_t n)
{
    uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    crypto_secretstream_xchacha20poly1305_state st;
    static const uint8_t fixed[16] = {0x89, 'N', '4', 'J', 'O', 'F', 'S', '\n',
                                      0,    1,   0,   128, 0,   1,   0,   0};
    memcpy(out, fixed, 16);
    memcpy(out + 16, pub.id, 8);
    crypto_secretstream_xchacha20poly1305_keygen(key);
    crypto_secretstream_xchacha20poly1305_init_push(&st, out + 104, key);
    assert_int_equal(crypto_box_seal(out + 24, key, sizeof key, pub.key), 0);
    size_t off = H;
    static uint8_t zeros[C];
    for (size_t i = 0; i < n; i++) {
        unsigned long long clen;
        crypto_secretstream_xchacha20poly1305_push(&st, out + off, &clen, zeros, lens[i],
                                                   i == 0 ? out : NULL, i == 0 ? H : 0, tags[i]);
        off += (size_t)clen;
    }
    return off;
}

static void test_crafted_archives(void **state)
{
    (void)state;
    uint8_t *a = malloc(H + 4 * CC);
    buf p;
    const unsigned char M = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    const unsigned char F = crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    const unsigned char P = crypto_secretstream_xchacha20poly1305_TAG_PUSH;

    /* the hand-made layout is readable: it matches the writer's */
    size_t l1[] = {C, 10};
    unsigned char t1[] = {M, F};
    size_t n = craft(a, l1, t1, 2);
    assert_int_equal(open_archive(sec, a, n, 777, &p), 0);
    assert_int_equal(p.len, C + 10);
    buf_free(&p);

    /* a short last chunk that is not final (a short chunk in the middle
     * cannot be told apart: the reader takes C + 17 bytes, and the
     * concatenation fails authentication) */
    size_t l2[] = {C, 100};
    unsigned char t2[] = {M, M};
    n = craft(a, l2, t2, 2);
    assert_int_equal(open_archive(sec, a, n, n, &p), -1);
    assert_non_null(strstr(err_msg(), "chunk 1 at byte offset 65681 is short"));
    assert_int_equal(p.len, C);
    buf_free(&p);
    size_t l2b[] = {100, 10};
    n = craft(a, l2b, t1, 2);
    assert_int_equal(open_archive(sec, a, n, n, &p), -1);
    assert_non_null(strstr(err_msg(), "chunk 0 at byte offset 128 "));
    assert_int_equal(p.len, 0);
    buf_free(&p);

    /* a tag FORMAT.md does not allow */
    size_t l3[] = {C, 10};
    unsigned char t3[] = {P, F};
    n = craft(a, l3, t3, 2);
    assert_int_equal(open_archive(sec, a, n, n, &p), -1);
    assert_non_null(strstr(err_msg(), "unknown tag"));
    assert_int_equal(p.len, 0);
    buf_free(&p);

    /* a FINAL chunk followed by another valid chunk of the same stream */
    size_t l4[] = {C, C, 10};
    unsigned char t4[] = {M, F, F};
    n = craft(a, l4, t4, 3);
    assert_int_equal(open_archive(sec, a, n, n, &p), -1);
    assert_non_null(strstr(err_msg(), "after the final chunk"));
    buf_free(&p);

    /* no FINAL at all, ending at a chunk boundary */
    size_t l5[] = {C, C};
    unsigned char t5[] = {M, M};
    n = craft(a, l5, t5, 2);
    assert_int_equal(open_archive(sec, a, n, n, &p), -1);
    assert_non_null(strstr(err_msg(), "final chunk is missing"));
    buf_free(&p);
    free(a);
}

/* Decrypt with the reader bound to VERSION and HASH (NULL: version 1). */
static int open_bound(const uint8_t *archive, size_t n, unsigned version, const uint8_t *hash,
                      buf *out)
{
    memset(out, 0, sizeof *out);
    err_clear();
    stream_reader *r = stream_reader_new(sec, buf_sink, out);
    assert_non_null(r);
    int rc = stream_reader_bind(r, version, hash);
    if (rc == 0)
        rc = stream_reader_update(r, archive, n);
    if (rc == 0)
        rc = stream_reader_finish(r);
    stream_reader_free(r);
    return rc;
}

/* Issue 10, 1: anyone holding archive.pub can write an archive that
 * decrypts; bound to the header hash of the signed manifest, a reader
 * releases nothing of another archive, not even its first chunk. */
static void test_header_bound_to_manifest(void **state)
{
    (void)state;
    size_t n = 3 * C + 5;
    uint8_t *plain = random_bytes(n), *forged_plain = random_bytes(n);
    buf genuine, forged, p;
    seal(&pub, plain, n, C, &genuine);
    seal(&pub, forged_plain, n, C, &forged); /* same archive.pub, another writer */
    uint8_t signed_hash[STREAM_HEADER_HASH_BYTES];
    stream_header_hash(genuine.data, signed_hash);
    unsigned v = 0;
    assert_int_equal(stream_header_version(genuine.data, genuine.len, &v), 0);
    assert_int_equal(v, STREAM_FORMAT_VERSION);

    assert_int_equal(open_bound(genuine.data, genuine.len, 2, signed_hash, &p), 0);
    assert_int_equal(p.len, n);
    buf_free(&p);
    /* unbound, the forgery decrypts: the reason for the binding */
    assert_int_equal(open_archive(sec, forged.data, forged.len, C, &p), 0);
    buf_free(&p);
    assert_int_equal(open_bound(forged.data, forged.len, 2, signed_hash, &p), -1);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    assert_non_null(strstr(err_msg(), "does not match its signed manifest"));
    assert_int_equal(p.len, 0); /* zero plaintext bytes */
    buf_free(&p);
    /* the genuine header spliced onto the forgery's chunks: chunk 0 fails */
    memcpy(forged.data, genuine.data, H);
    assert_int_equal(open_bound(forged.data, forged.len, 2, signed_hash, &p), -1);
    assert_int_equal(p.len, 0);
    buf_free(&p);
    /* a version 2 manifest never accepts a version 1 archive, nor the reverse */
    buf v1 = {0};
    stream_writer *w = stream_writer_new_version(&pub, C, 1, buf_sink, &v1);
    assert_non_null(w);
    assert_int_equal(stream_writer_update(w, plain, n), 0);
    assert_int_equal(stream_writer_finish(w), 0);
    stream_writer_free(w);
    assert_int_equal(v1.data[9], 1);
    assert_int_equal(open_bound(v1.data, v1.len, 2, signed_hash, &p), -1);
    assert_non_null(strstr(err_msg(), "does not match its signed manifest"));
    assert_int_equal(p.len, 0);
    buf_free(&p);
    assert_int_equal(open_bound(genuine.data, genuine.len, 1, NULL, &p), -1);
    assert_int_equal(p.len, 0);
    buf_free(&p);
    /* version 1 archives stay readable */
    assert_int_equal(open_bound(v1.data, v1.len, 1, NULL, &p), 0);
    assert_int_equal(p.len, n);
    assert_memory_equal(p.data, plain, n);
    buf_free(&p);
    /* version 2 cannot be bound without the hash */
    stream_reader *r = stream_reader_new(sec, buf_sink, &p);
    assert_int_equal(stream_reader_bind(r, 2, NULL), -1);
    stream_reader_free(r);
    buf_free(&v1);
    buf_free(&genuine);
    buf_free(&forged);
    free(plain);
    free(forged_plain);
}

static void test_fresh_key_per_archive(void **state)
{
    (void)state;
    uint8_t plain[100] = {0};
    buf a, b;
    seal(&pub, plain, sizeof plain, sizeof plain, &a);
    seal(&pub, plain, sizeof plain, sizeof plain, &b);
    assert_int_equal(a.len, b.len);
    /* same plaintext, same key: sealed key, stream header and body differ */
    assert_memory_not_equal(a.data + 24, b.data + 24, 80);
    assert_memory_not_equal(a.data + 104, b.data + 104, 24);
    assert_memory_not_equal(a.data + H, b.data + H, a.len - H);
    buf_free(&a);
    buf_free(&b);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_other_chunk_size),
        cmocka_unit_test(test_header_bit_flips),
        cmocka_unit_test(test_chunk_bit_flips),
        cmocka_unit_test(test_truncation_and_appending),
        cmocka_unit_test(test_reordered_chunks),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_sink_failure),
        cmocka_unit_test(test_crafted_archives),
        cmocka_unit_test(test_fresh_key_per_archive),
        cmocka_unit_test(test_header_bound_to_manifest),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    free(dplain);
    buf_free(&darch);
    return rc;
}
