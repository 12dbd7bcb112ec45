/* Unit tests of dumpcheck_tar, the check of a dump's decompressed stream:
 * hand-built metadata blocks and tar headers, each verdict checked to the
 * letter, fed whole and one byte at a time (the two must agree). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dumpcheck_tar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ archive */

/* An archive under construction: at most 64 KiB, enough for every case. */
typedef struct {
    unsigned char p[64 * 1024];
    size_t n;
} arc;

static unsigned char *grow(arc *a, size_t n)
{
    assert_true(a->n + n <= sizeof a->p);
    unsigned char *at = a->p + a->n;
    memset(at, 0, n);
    a->n += n;
    return at;
}

static void meta(arc *a, const char *magic, unsigned version, uint64_t files, uint64_t bytes)
{
    unsigned char *m = grow(a, 24);
    memcpy(m, magic, 4);
    m[7] = (unsigned char)version;
    for (int i = 0; i < 8; i++) {
        m[8 + i] = (unsigned char)(files >> (56 - 8 * i));
        m[16 + i] = (unsigned char)(bytes >> (56 - 8 * i));
    }
}

/* The sum tar stores: every byte, the checksum field counted as spaces. */
static unsigned sum_of(const unsigned char *h)
{
    unsigned s = 8 * ' ';
    for (int i = 0; i < 512; i++)
        if (i < 148 || i >= 156)
            s += h[i];
    return s;
}

static void seal(unsigned char *h)
{
    snprintf((char *)h + 148, 8, "%06o", sum_of(h));
}

/* A ustar header for NAME, typeflag TYPE, SIZE in octal; sealed. */
static unsigned char *header(arc *a, const char *name, char type, uint64_t size)
{
    unsigned char *h = grow(a, 512);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", 0644);
    for (int i = 10; i >= 0; i--, size >>= 3) /* 11 octal digits, then NUL */
        h[124 + i] = (unsigned char)('0' + (size & 7));
    h[156] = (unsigned char)type;
    memcpy(h + 257,
           "ustar\0"
           "00",
           8);
    seal(h);
    return h;
}

/* N bytes of data (not zero) and the padding to 512. */
static void data(arc *a, size_t n)
{
    unsigned char *d = grow(a, (n + 511) / 512 * 512);
    memset(d, 'd', n);
}

static void zeros(arc *a, size_t n)
{
    grow(a, n);
}

/* A regular file "a" of 10 bytes and the end of the archive. */
static void small_tar(arc *a)
{
    header(a, "a", '0', 10);
    data(a, 10);
    zeros(a, 1024);
}

/* ------------------------------------------------------------ verdict */

typedef struct {
    char reason[1100]; /* "" when the archive is accepted */
    dumpcheck_tar_totals totals;
    int ended;
} verdict;

/* Feed A (whole when STEP is 0, else STEP bytes at a time), then finish. */
static verdict run(const arc *a, int with_meta, size_t step)
{
    verdict v;
    memset(&v, 0, sizeof v);
    dumpcheck_tar *t = dumpcheck_tar_new();
    assert_non_null(t);
    if (!with_meta)
        dumpcheck_tar_no_metadata(t);
    int rc = 0;
    for (size_t o = 0; o < a->n && rc == 0;) {
        size_t k = step && step < a->n - o ? step : a->n - o;
        rc = dumpcheck_tar_feed(t, a->p + o, k);
        o += k;
    }
    if (rc == 0) {
        v.ended = dumpcheck_tar_ended(t);
        rc = dumpcheck_tar_finish(t);
    } else {
        assert_int_equal(dumpcheck_tar_feed(t, a->p, 1), -1); /* failure is sticky */
    }
    if (rc < 0) {
        snprintf(v.reason, sizeof v.reason, "%s", dumpcheck_tar_reason(t));
        assert_true(v.reason[0] != '\0');
    } else {
        assert_string_equal(dumpcheck_tar_reason(t), "");
    }
    v.totals = dumpcheck_tar_count(t);
    dumpcheck_tar_free(t);
    return v;
}

static verdict check(const arc *a, int with_meta)
{
    verdict whole = run(a, with_meta, 0);
    static const size_t steps[] = {1, 7, 511, 513};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        verdict v = run(a, with_meta, steps[i]);
        assert_string_equal(v.reason, whole.reason);
        assert_int_equal(v.ended, whole.ended);
        assert_int_equal(v.totals.files, whole.totals.files);
        assert_int_equal(v.totals.bytes, whole.totals.bytes);
        assert_int_equal(v.totals.entries, whole.totals.entries);
        if (!whole.reason[0]) /* after a failure it depends on the pieces */
            assert_int_equal(v.totals.decompressed, whole.totals.decompressed);
    }
    return whole;
}

static void expect(const arc *a, int with_meta, const char *reason)
{
    verdict v = check(a, with_meta);
    assert_string_equal(v.reason, reason);
}

/* ------------------------------------------------------------- tests */

static void test_accepts(void **state)
{
    (void)state;
    arc a = {0};
    meta(&a, "zstd", 1, 1, 10);
    small_tar(&a);
    verdict v = check(&a, 1);
    assert_string_equal(v.reason, "");
    assert_int_equal(v.ended, 1);
    assert_int_equal(v.totals.files, 1);
    assert_int_equal(v.totals.bytes, 10);
    assert_int_equal(v.totals.entries, 1);
    assert_int_equal(v.totals.decompressed, 24 + 2048);

    /* no metadata (gzip dumps); directories and links are entries, '\0' and
     * '7' files; zero padding to a tar record after the end */
    arc b = {0};
    header(&b, "d/", '5', 0);
    header(&b, "d/x", '\0', 600);
    data(&b, 600);
    header(&b, "d/c", '7', 1);
    data(&b, 1);
    header(&b, "d/l", '2', 0);
    zeros(&b, 1024 + 512 * 6);
    v = check(&b, 0);
    assert_string_equal(v.reason, "");
    assert_int_equal(v.totals.files, 2);
    assert_int_equal(v.totals.bytes, 601);
    assert_int_equal(v.totals.entries, 4);
    assert_int_equal(v.totals.decompressed, b.n);
}

static void test_checksum(void **state)
{
    (void)state;
    arc a = {0};
    unsigned char *h = header(&a, "a", '0', 10);
    unsigned sum = sum_of(h);
    snprintf((char *)h + 148, 8, "%06o", sum + 1);
    data(&a, 10);
    zeros(&a, 1024);
    char want[200];
    snprintf(want, sizeof want, "tar offset 0: header checksum %u != stored %u", sum, sum + 1);
    expect(&a, 0, want);

    memcpy(h + 148, "000x00\0 ", 8);
    expect(&a, 0,
           "tar offset 0: header checksum field is not octal (bytes 30 30 30 78 30 30 00 20)");

    /* the signed sum, as old tars wrote it for bytes over 0x7f, is accepted */
    a.n = 0;
    h = header(&a, "caf\xe9", '0', 10);
    int ssum = 0;
    for (int i = 0; i < 512; i++)
        ssum += (signed char)(i >= 148 && i < 156 ? ' ' : h[i]);
    snprintf((char *)h + 148, 8, "%06o", (unsigned)ssum);
    data(&a, 10);
    zeros(&a, 1024);
    expect(&a, 0, "");
}

/* A lone header for NAME, of 1 byte, with LEN bytes at OFF replaced (and
 * sealed again): REASON. */
static void expect_patched(const char *name, size_t off, const void *bytes, size_t len,
                           const char *reason)
{
    arc a = {0};
    unsigned char *h = header(&a, name, '0', 1);
    memcpy(h + off, bytes, len);
    seal(h);
    expect(&a, 0, reason);
}

static void test_header_fields(void **state)
{
    (void)state;
    arc a = {0};
    header(&a, "d/", '5', 0);
    small_tar(&a);
    unsigned char *h = a.p + 512; /* the second header */
    memcpy(h + 257, "garbage!", 8);
    seal(h);
    expect(&a, 0, "tar offset 512: not a ustar header (magic \"garbage!\")");

    expect_patched("a", 124, "0000001x000\0", 12,
                   "tar offset 0: size field of \"a\" is not a number (bytes 30 30 30 30 30 30 "
                   "31 78 30 30 30 00)");
    /* a prefix field names the entry with its directory */
    expect_patched(
        "file", 345, "some/dir", 8,
        "the tar ends inside the data of \"some/dir/file\" at tar offset 512 (512 of 512 "
        "bytes and padding missing)");
}

static void test_size_field(void **state)
{
    (void)state;
    /* base-256 (8 GiB and more): the archive is cut right after the header */
    arc a = {0};
    unsigned char *h = header(&a, "big", '0', 0);
    static const unsigned char size_8g[12] = {0x80, 0, 0, 0, 0, 0, 0, 0x02};
    memcpy(h + 124, size_8g, 12);
    seal(h);
    verdict v = check(&a, 0);
    assert_string_equal(v.reason, "the tar ends inside the data of \"big\" at tar offset 512 "
                                  "(8589934592 of 8589934592 bytes and padding missing)");
    assert_int_equal(v.totals.bytes, UINT64_C(8589934592));

    static const unsigned char too_long[12] = {0x80, 0xff, 0xff, 0xff, 0xff, 0xff,
                                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_patched("big", 124, too_long, 12,
                   "tar offset 0: size field of \"big\" is not a number (bytes 80 ff ff ff ff ff "
                   "ff ff ff ff ff ff)");
    static const unsigned char from_2_62[12] = {0x80, 0, 0, 0, 0x40};
    expect_patched("big", 124, from_2_62, 12,
                   "tar offset 0: size field of \"big\" is not a number (bytes 80 00 00 00 40 00 "
                   "00 00 00 00 00 00)");
    static const unsigned char negative[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_patched("big", 124, negative, 12,
                   "tar offset 0: size field of \"big\" is not a number (bytes ff ff ff ff ff ff "
                   "ff ff ff ff ff ff)");
}

static void test_end_of_archive(void **state)
{
    (void)state;
    arc a = {0};
    header(&a, "a", '0', 10);
    data(&a, 10);
    expect(&a, 0,
           "missing tar end-of-archive blocks: the tar ends at tar offset 1024 after 1 entries");

    zeros(&a, 512);
    verdict v = check(&a, 0);
    assert_string_equal(v.reason,
                        "only one tar end-of-archive block (tar offset 1024), two are required");
    assert_int_equal(v.ended, 0);

    header(&a, "b", '0', 0);
    expect(&a, 0,
           "tar offset 1536: a lone zero block at tar offset 1024 followed by another header "
           "(end-of-archive needs two zero blocks)");

    a.n = 0;
    header(&a, "a", '0', 0);
    grow(&a, 100);
    expect(&a, 0, "the tar ends inside a header at tar offset 512 (100 of 512 bytes)");
}

static void test_after_the_end(void **state)
{
    (void)state;
    arc a = {0};
    small_tar(&a);
    zeros(&a, 100);
    verdict v = check(&a, 0);
    assert_string_equal(v.reason, "the tar ends with a partial block (tar size 2148)");
    assert_int_equal(v.ended, 1);

    grow(&a, 1)[0] = 'g';
    expect(&a, 0, "tar offset 2148: non-zero byte 0x67 after the end-of-archive blocks");

    a.n = 2048 + 100;
    zeros(&a, 412);
    expect(&a, 0, "");
}

static void test_metadata(void **state)
{
    (void)state;
    /* a metadata block, then the small archive (1 file of 10 bytes) */
    static const struct {
        const char *magic;
        unsigned version;
        uint64_t files, bytes;
        const char *reason;
    } cases[] = {
        {"zstd", 1, 1, 10, ""},
        {"zsta", 1, 1, 10,
         "decompressed offset 0: metadata block should start with \"zstd\", found \"zsta\""},
        {"zstd", 2, 1, 10, "decompressed offset 4: metadata block version 2, expected 1"},
        {"zstd", 1, 2, 10,
         "metadata says 2 files / 10 bytes, tar holds 1 / 10 (end of archive at tar offset 1024)"},
        {"zstd", 1, 1, 11,
         "metadata says 1 files / 11 bytes, tar holds 1 / 10 (end of archive at tar offset 1024)"},
    };
    arc a;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        a.n = 0;
        meta(&a, cases[i].magic, cases[i].version, cases[i].files, cases[i].bytes);
        small_tar(&a);
        expect(&a, 1, cases[i].reason);
    }
    a.n = 10; /* cut inside the metadata block */
    expect(&a, 1, "the decompressed stream ends after 10 bytes, inside the 24-byte metadata block");
}

/* A pax header holding RECORDS, then a file "f" whose size field says 0. */
static void pax_then_file(arc *a, const char *records)
{
    size_t n = strlen(records);
    header(a, "PaxHeaders/f", 'x', n);
    memcpy(grow(a, (n + 511) / 512 * 512), records, n);
    header(a, "f", '0', 0);
}

static void test_extended_headers(void **state)
{
    (void)state;
    /* pax size= overrides the size field; a comment record is skipped */
    arc a = {0};
    pax_then_file(&a, "20 comment=anything\n13 size=4096\n");
    data(&a, 4096);
    zeros(&a, 1024);
    verdict v = check(&a, 0);
    assert_string_equal(v.reason, "");
    assert_int_equal(v.totals.files, 1);
    assert_int_equal(v.totals.bytes, 4096);
    assert_int_equal(v.totals.entries, 1);

    /* malformed records: the offset is the bad byte's (the data starts at
     * tar offset 512) or the end of the header's data */
    static const struct {
        const char *records, *reason;
    } bad[] = {
        {"1x", "tar offset 513: malformed pax record length"},
        {"5 size=1\n", "tar offset 516: pax record longer than its length 5"},
        {"9 size\nxx", "tar offset 518: malformed pax record (no '=')"},
        {"10 size=1x", "tar offset 521: pax record does not end in newline"},
        {"11 size=1x\n", "tar offset 522: bad pax size value"},
        {"13 size=4096\n12 size=", "tar offset 1024: pax header ends inside a record"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a.n = 0;
        pax_then_file(&a, bad[i].records);
        expect(&a, 0, bad[i].reason);
    }

    /* the entry a pax header announces is missing */
    a.n = 0;
    header(&a, "PaxHeaders/f", 'x', 13);
    memcpy(grow(&a, 512), "13 size=4096\n", 13);
    zeros(&a, 1024);
    expect(&a, 0,
           "tar offset 1024: end-of-archive block right after a pax/GNU extended header (the "
           "entry it describes is missing)");

    a.n = 0;
    header(&a, "PaxHeaders/f", 'x', 2u << 20);
    expect(&a, 0, "tar offset 0: extended header of 2097152 bytes");

    /* a GNU long name names the next entry */
    char longname[181];
    memset(longname, 'n', 180);
    longname[180] = '\0';
    a.n = 0;
    header(&a, "././@LongLink", 'L', 181);
    memcpy(grow(&a, 512), longname, 181);
    header(&a, "short", '0', 10);
    char want[400];
    snprintf(want, sizeof want,
             "the tar ends inside the data of \"%s\" at tar offset 1536 (512 of 512 bytes and "
             "padding missing)",
             longname);
    expect(&a, 0, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),        cmocka_unit_test(test_checksum),
        cmocka_unit_test(test_header_fields),  cmocka_unit_test(test_size_field),
        cmocka_unit_test(test_end_of_archive), cmocka_unit_test(test_after_the_end),
        cmocka_unit_test(test_metadata),       cmocka_unit_test(test_extended_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
