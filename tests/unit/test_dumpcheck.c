/* Unit tests of dumpcheck: every real dump in $N4O_FIXTURES is accepted with
 * its true counts and rejected, with the right reason, once corrupted; the
 * same battery runs on dumps built here (always available).  Every verdict is
 * checked with three ways of feeding: whole buffer, 1 byte at a time, random
 * piece sizes - they must agree to the letter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dumpcheck.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void b_add(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 1024;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static buf b_copy(const unsigned char *p, size_t n)
{
    buf b = {0};
    b_add(&b, p, n);
    return b;
}

/* ------------------------------------------------------------ feeding */

typedef struct {
    int rc;
    char reason[2100];
    dumpcheck_result res;
} verdict;

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* mode 0: whole buffer, 1: one byte at a time, 2: random pieces (1..9000) */
static verdict run(const unsigned char *p, size_t n, int mode)
{
    verdict v;
    memset(&v, 0, sizeof v);
    err_clear();
    dumpcheck *dc = dumpcheck_new();
    assert_non_null(dc);
    size_t o = 0;
    int rc = 0;
    while (o < n && rc == 0) {
        size_t k = mode == 0 ? n - o : mode == 1 ? 1 : 1 + (size_t)(rnd() % 9000);
        if (k > n - o)
            k = n - o;
        rc = dumpcheck_update(dc, p + o, k);
        o += k;
    }
    if (rc == 0)
        rc = dumpcheck_finish(dc, &v.res);
    else
        assert_int_equal(dumpcheck_finish(dc, &v.res), -1); /* failure is sticky */
    v.rc = rc;
    if (rc < 0) {
        assert_int_equal(err_get_kind(), ERR_INTEGRITY);
        snprintf(v.reason, sizeof v.reason, "%s", err_msg());
    }
    dumpcheck_free(dc);
    return v;
}

static verdict check_all_modes(const unsigned char *p, size_t n)
{
    verdict v0 = run(p, n, 0);
    for (int mode = 1; mode <= 2; mode++) {
        verdict v = run(p, n, mode);
        assert_int_equal(v.rc, v0.rc);
        if (strcmp(v.reason, v0.reason) != 0)
            fail_msg("reason depends on feed mode %d:\n  whole: %s\n  mode:  %s", mode, v0.reason,
                     v.reason);
        assert_int_equal(v.res.files, v0.res.files);
        assert_int_equal(v.res.bytes, v0.res.bytes);
        assert_int_equal(v.res.entries, v0.res.entries);
    }
    return v0;
}

static void expect_ok(const char *what, const buf *b, uint64_t files, uint64_t bytes)
{
    verdict v = check_all_modes(b->p, b->n);
    if (v.rc != 0)
        fail_msg("%s: rejected: %s", what, v.reason);
    assert_int_equal(v.res.files, files);
    assert_int_equal(v.res.bytes, bytes);
    assert_int_equal(v.res.dump_size, b->n);
}

static void expect_reject(const char *what, const buf *b, const char *needle)
{
    verdict v = check_all_modes(b->p, b->n);
    if (v.rc == 0)
        fail_msg("%s: accepted, expected \"%s\"", what, needle);
    /* NEEDLE may list alternatives: "a|b" */
    char alts[300];
    snprintf(alts, sizeof alts, "%s", needle);
    int found = 0;
    for (char *save = NULL, *a = strtok_r(alts, "|", &save); a; a = strtok_r(NULL, "|", &save))
        found |= strstr(v.reason, a) != NULL;
    if (!found)
        fail_msg("%s: reason \"%s\" lacks \"%s\"", what, v.reason, needle);
    print_message("    %-34s -> %s\n", what, v.reason);
}

/* A rejection that must not be put down to text: corruption and cuts keep
 * their own reason even where the dump holds printable runs. */
static void expect_reject_no_text(const char *what, const buf *b, const char *needle)
{
    expect_reject(what, b, needle);
    verdict v = run(b->p, b->n, 0);
    if (strstr(v.reason, "text inside the dump"))
        fail_msg("%s: blamed on text: %s", what, v.reason);
}

static int is_text_byte(unsigned char c)
{
    return (c >= 0x20 && c < 0x7f) || c == '\t';
}

/* D with TEXT inserted at AT; the reason must name the text where it is, as
 * dumpcheck sees it: a run of printable bytes of D just before AT (after
 * the format prefix PRE) joins the text, so the run, and the offset, start
 * there. */
static void expect_text(const char *what, const buf *d, size_t pre, size_t at, const char *text,
                        int quiet)
{
    buf c = {0};
    b_add(&c, d->p, at);
    b_add(&c, text, strlen(text));
    b_add(&c, d->p + at, d->n - at);
    size_t start = at;
    while (start > pre && is_text_byte(d->p[start - 1]))
        start--;
    /* the excerpt: the run up to the first line end, 96 characters at most,
     * '"' and '\\' escaped, a tab as \x09; "..." when more text follows */
    char run[512];
    size_t rl = 0;
    for (size_t i = start; i < at && rl < sizeof run - 1; i++)
        run[rl++] = (char)d->p[i];
    for (const char *q = text; *q && *q != '\n' && *q != '\r' && rl < sizeof run - 1; q++)
        run[rl++] = *q;
    size_t line_len = strcspn(text, "\r\n");
    int more = rl > 96 || text[line_len + 1 + (text[line_len] == '\r')] != '\0';
    char want[1024];
    int o = snprintf(want, sizeof want, "text inside the dump at offset %zu: \"", start);
    for (size_t i = 0; i < rl && i < 96; i++) {
        if (run[i] == '"' || run[i] == '\\')
            o += snprintf(want + o, sizeof want - (size_t)o, "\\%c", run[i]);
        else if (run[i] == '\t')
            o += snprintf(want + o, sizeof want - (size_t)o, "\\x09");
        else
            o += snprintf(want + o, sizeof want - (size_t)o, "%c", run[i]);
    }
    snprintf(want + o, sizeof want - (size_t)o,
             "%s\" (a line of text, e.g. log output written into the dump); decoding then failed: ",
             more ? "..." : "");
    verdict v = check_all_modes(c.p, c.n);
    if (v.rc == 0)
        fail_msg("%s: accepted", what);
    if (strncmp(v.reason, want, strlen(want)) != 0)
        fail_msg("%s: reason\n  %s\nexpected it to start with\n  %s", what, v.reason, want);
    if (!quiet)
        print_message("    %-34s -> %.150s...\n", what, v.reason);
    free(c.p);
}

/* ------------------------------------------------------- pack / unpack */

static size_t prefix_len(const buf *d)
{
    return d->n >= 4 && (memcmp(d->p, "DZV1", 4) == 0 || memcmp(d->p, "DGV1", 4) == 0) ? 4 : 0;
}

static int is_gzip(const buf *d)
{
    size_t o = prefix_len(d);
    return d->n > o + 1 && d->p[o] == 0x1f && d->p[o + 1] == 0x8b;
}

/* The decompressed content (metadata + tar for zstd; tar for gzip). */
static buf unpack(const buf *d)
{
    buf out = {0};
    size_t o = prefix_len(d);
    unsigned char tmp[65536];
    if (is_gzip(d)) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK);
        zs.next_in = d->p + o;
        zs.avail_in = (uInt)(d->n - o);
        int r;
        do {
            zs.next_out = tmp;
            zs.avail_out = sizeof tmp;
            r = inflate(&zs, Z_NO_FLUSH);
            assert_true(r == Z_OK || r == Z_STREAM_END);
            b_add(&out, tmp, sizeof tmp - zs.avail_out);
        } while (r != Z_STREAM_END);
        inflateEnd(&zs);
        return out;
    }
    ZSTD_DCtx *z = ZSTD_createDCtx();
    ZSTD_inBuffer in = {d->p + o, d->n - o, 0};
    for (;;) {
        ZSTD_outBuffer ob = {tmp, sizeof tmp, 0};
        size_t r = ZSTD_decompressStream(z, &ob, &in);
        assert_false(ZSTD_isError(r));
        b_add(&out, tmp, ob.pos);
        if (in.pos == in.size && ob.pos < ob.size)
            break;
    }
    ZSTD_freeDCtx(z);
    return out;
}

/* Compress PLAIN like the dump D was (same prefix and compressor); FRAMES
 * splits it into that many zstd frames; CHECKSUM sets the frame checksum
 * flag; WLOG forces a large declared window (streaming, size unknown). */
static buf pack_opts(const buf *d, const buf *plain, int frames, int checksum, int wlog)
{
    buf out = {0};
    b_add(&out, d->p, prefix_len(d));
    if (is_gzip(d)) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        uLong bound = deflateBound(&zs, (uLong)plain->n);
        size_t start = out.n;
        b_add(&out, NULL, 0);
        out.cap = start + bound + 64;
        out.p = realloc(out.p, out.cap);
        zs.next_in = plain->p;
        zs.avail_in = (uInt)plain->n;
        zs.next_out = out.p + start;
        zs.avail_out = (uInt)(bound + 64);
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        out.n = start + zs.total_out;
        deflateEnd(&zs);
        return out;
    }
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum);
    if (wlog)
        ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, wlog);
    size_t per = plain->n / (size_t)frames + 1;
    unsigned char tmp[65536];
    for (size_t o = 0; o < plain->n; o += per) {
        size_t k = plain->n - o < per ? plain->n - o : per;
        ZSTD_inBuffer in = {plain->p + o, k, 0};
        if (wlog) {
            /* feed with e_continue first so the size stays unknown */
            while (in.pos < in.size) {
                ZSTD_outBuffer ob = {tmp, sizeof tmp, 0};
                assert_false(ZSTD_isError(ZSTD_compressStream2(c, &ob, &in, ZSTD_e_continue)));
                b_add(&out, tmp, ob.pos);
            }
        }
        size_t r;
        do {
            ZSTD_outBuffer ob = {tmp, sizeof tmp, 0};
            r = ZSTD_compressStream2(c, &ob, &in, ZSTD_e_end);
            assert_false(ZSTD_isError(r));
            b_add(&out, tmp, ob.pos);
        } while (r != 0);
    }
    ZSTD_freeCCtx(c);
    return out;
}

static buf pack(const buf *d, const buf *plain)
{
    return pack_opts(d, plain, 1, 1, 0);
}

/* ------------------------------------------------------- tar builder */

static void tar_hdr(buf *t, const char *name, char type, uint64_t size, int base256)
{
    unsigned char h[512];
    memset(h, 0, sizeof h);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    if (base256) {
        h[124] = 0x80;
        uint64_t s = size;
        for (int i = 11; i >= 1; i--, s >>= 8)
            h[124 + i] = (unsigned char)s;
    } else {
        snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    }
    snprintf((char *)h + 136, 12, "%011o", 1600000000);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    b_add(t, h, 512);
}

static void tar_data(buf *t, uint64_t size, unsigned seed)
{
    unsigned char blk[512];
    for (uint64_t o = 0; o < size; o += 512) {
        size_t k = size - o < 512 ? (size_t)(size - o) : 512;
        for (size_t i = 0; i < 512; i++)
            blk[i] = i < k ? (unsigned char)((i * 7 + o / 512 + seed) % 251) : 0;
        b_add(t, blk, 512);
    }
}

static void meta_block(buf *b, uint64_t files, uint64_t bytes)
{
    unsigned char m[24] = {'z', 's', 't', 'd', 0, 0, 0, 1};
    for (int i = 0; i < 8; i++) {
        m[8 + i] = (unsigned char)(files >> (56 - 8 * i));
        m[16 + i] = (unsigned char)(bytes >> (56 - 8 * i));
    }
    b_add(b, m, 24);
}

/* A small store: directories, regular files, a pax header carrying the size
 * of the next file, a GNU long name, a base-256 size, a symlink. */
static buf build_plain(int with_meta, uint64_t *files, uint64_t *bytes)
{
    buf t = {0};
    static const uint64_t sizes[] = {8192, 40960, 9, 0, 513, 100000, 1};
    *files = 0;
    *bytes = 0;
    tar_hdr(&t, "./", '5', 0, 0);
    tar_hdr(&t, "./schema/", '5', 0, 0);
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "./neostore.store%u.db", i);
        tar_hdr(&t, name, '0', sizes[i], i == 4);
        tar_data(&t, sizes[i], i);
        (*files)++;
        *bytes += sizes[i];
    }
    /* pax: the real size (3000) overrides the 0 of the ustar header */
    const char *pax = "13 size=3000\n20 path=./pax-sized\n";
    tar_hdr(&t, "./PaxHeaders/x", 'x', strlen(pax), 0);
    b_add(&t, pax, strlen(pax));
    tar_data(&t, 0, 0);
    unsigned char zero[512] = {0};
    b_add(&t, zero, 512 - strlen(pax));
    tar_hdr(&t, "./pax-sized", '0', 0, 0);
    tar_data(&t, 3000, 9);
    (*files)++;
    *bytes += 3000;
    /* GNU long name */
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    memcpy(longname, "./", 2);
    longname[sizeof longname - 1] = '\0';
    tar_hdr(&t, "././@LongLink", 'L', strlen(longname) + 1, 0);
    b_add(&t, longname, strlen(longname) + 1);
    b_add(&t, zero, 512 - (strlen(longname) + 1) % 512);
    tar_hdr(&t, "./nnnn", '0', 700, 0);
    tar_data(&t, 700, 3);
    (*files)++;
    *bytes += 700;
    tar_hdr(&t, "./link", '2', 0, 0);
    b_add(&t, zero, 512);
    b_add(&t, zero, 512);
    if (!with_meta)
        return t;
    buf all = {0};
    meta_block(&all, *files, *bytes);
    b_add(&all, t.p, t.n);
    free(t.p);
    return all;
}

static buf build_dump(const char *prefix, int gzip, uint64_t *files, uint64_t *bytes)
{
    buf proto = {0};
    b_add(&proto, prefix, strlen(prefix));
    if (gzip)
        b_add(&proto, "\x1f\x8b", 2);
    buf plain = build_plain(!gzip, files, bytes);
    buf d = pack(&proto, &plain);
    free(proto.p);
    free(plain.p);
    return d;
}

/* -------------------------------------------------------- the battery */

/* Offset of the tar inside the decompressed content. */
static size_t tar_start(const buf *d)
{
    return is_gzip(d) ? 0 : 24;
}

static void battery(const char *name, const buf *d, uint64_t files, uint64_t bytes)
{
    char what[200];
    print_message("  %s (%zu bytes)\n", name, d->n);
    expect_ok(name, d, files, bytes);
    size_t pre = prefix_len(d);
    buf plain = unpack(d);
    size_t ts = tar_start(d);

    /* cut at several offsets */
    const size_t cuts[] = {2, pre + 5, d->n / 2, d->n - 5, d->n - 2, d->n - 1};
    const char *cut_why[] = {"inside the format prefix",
                             is_gzip(d) ? "(cut?)" : "frame header",
                             "(cut?)",
                             "(cut?)",
                             is_gzip(d) ? "(cut?)" : "frame checksum",
                             "(cut?)"};
    for (int i = 0; i < 6; i++) {
        buf c = b_copy(d->p, cuts[i]);
        snprintf(what, sizeof what, "%s cut at %zu", name, cuts[i]);
        expect_reject_no_text(what, &c, cut_why[i]);
        free(c.p);
    }
    {
        buf c = b_copy(d->p, 0);
        expect_reject("empty", &c, "empty");
        free(c.p);
    }

    /* bit flips in the compressed data and in the checksum / CRC trailer */
    for (int i = 0; i < 3; i++) {
        buf c = b_copy(d->p, d->n);
        size_t at = pre + 12 + (d->n - pre - 20) * (size_t)(i + 1) / 4;
        c.p[at] ^= (unsigned char)(1u << (i + 2));
        snprintf(what, sizeof what, "%s flip at %zu", name, at);
        /* a flip surfaces in the decoder or, when it decodes to other
         * bytes, at the next tar header, before the frame checksum */
        expect_reject_no_text(what, &c, is_gzip(d) ? "gzip|tar offset" : "zstd|tar offset");
        free(c.p);
    }
    {
        buf c = b_copy(d->p, d->n);
        c.p[d->n - (is_gzip(d) ? 6 : 2)] ^= 0x01; /* zstd XXH64 / gzip CRC32 */
        snprintf(what, sizeof what, "%s flip in checksum", name);
        expect_reject_no_text(what, &c, is_gzip(d) ? "incorrect data check" : "checksum mismatch");
        free(c.p);
    }

    /* injected log line: at the start, after the prefix, in the middle, near
     * the end: the same kind of reason wherever it lands (zstd) */
    const char *line = "2024-01-01 12:00:00.000+0000 INFO  [o.n.c.d.DumpCommand] Starting dump\n";
    {
        buf c = {0};
        b_add(&c, line, strlen(line));
        b_add(&c, d->p, d->n);
        snprintf(what, sizeof what, "%s log line at start", name);
        expect_reject(what, &c,
                      "not a Neo4j dump: starts with \"2024-01-01 12:00:00.000+0000 INFO");
        free(c.p);
        if (!is_gzip(d)) {
            /* right after the prefix (bare zstd: after the frame magic) */
            const size_t at[] = {pre ? pre : 4, pre + 5,  d->n / 3, d->n / 2,
                                 d->n - 100,    d->n - 6, d->n - 1};
            for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
                snprintf(what, sizeof what, "%s log line at %zu", name, at[i]);
                expect_text(what, d, pre, at[i], line, 0);
            }
            snprintf(what, sizeof what, "%s three lines", name);
            expect_text(what, d, pre, d->n / 2,
                        "2024-01-01 12:00:01.000+0000 WARN  \"quoted\" \\ a tab\tend\r\n"
                        "\tat org.neo4j.Foo.bar(Foo.java:12)\r\n"
                        "\tat org.neo4j.Foo.main(Foo.java:3)\n",
                        0);
        } else {
            /* gzip: text is recognised when zlib fails on it; this one
             * decodes to garbage that the tar walk refuses first. */
            buf m = {0};
            b_add(&m, d->p, d->n / 2);
            b_add(&m, line, strlen(line));
            b_add(&m, d->p + d->n / 2, d->n - d->n / 2);
            snprintf(what, sizeof what, "%s log line in the middle", name);
            expect_reject(what, &m, "dump offset|tar offset");
            free(m.p);
        }
    }

    /* trailing bytes */
    {
        buf c = b_copy(d->p, d->n);
        b_add(&c, "\0\0\0\0garb", 8);
        snprintf(what, sizeof what, "%s + 8 bytes", name);
        expect_reject(what, &c, "8 bytes after the end of the compressed stream");
        free(c.p);
        buf l = b_copy(d->p, d->n);
        b_add(&l, line, strlen(line));
        snprintf(what, sizeof what, "%s + log line", name);
        expect_reject(what, &l, "after the end of the compressed stream");
        free(l.p);
    }

    /* Re-compressed variants: only the tar / metadata checks can tell. */
    {
        /* a flipped bit in the third tar header */
        buf p = b_copy(plain.p, plain.n);
        size_t h = ts;
        for (int k = 0; k < 2; k++) { /* skip two entries */
            unsigned long long sz = strtoull((char *)p.p + h + 124, NULL, 8);
            h += 512 + (size_t)((sz + 511) / 512 * 512);
        }
        p.p[h + 10] ^= 0x04;
        buf c = pack(d, &p);
        snprintf(what, sizeof what, "%s tar header bit", name);
        expect_reject(what, &c, "header checksum");
        free(c.p);
        free(p.p);
    }
    {
        /* a flipped content byte is not detectable: dumps carry no file
         * hashes; dumpcheck must still accept the structure */
        buf p = b_copy(plain.p, plain.n);
        size_t h = ts, sz = 0;
        for (;;) { /* the first regular file of 200+ bytes */
            assert_true(h + 512 <= p.n && p.p[h] != 0);
            sz = (size_t)strtoull((char *)p.p + h + 124, NULL, 8);
            if (p.p[h + 156] == '0' && sz >= 200)
                break;
            h += 512 + (sz + 511) / 512 * 512;
        }
        p.p[h + 512 + sz / 2] ^= 0x20;
        buf c = pack(d, &p);
        snprintf(what, sizeof what, "%s content byte", name);
        verdict v = check_all_modes(c.p, c.n);
        (void)what;
        assert_int_equal(v.rc, 0);
        free(c.p);
        free(p.p);
    }
    {
        /* missing end blocks, one end block, cut inside a file */
        buf p = b_copy(plain.p, plain.n - 1024);
        buf c = pack(d, &p);
        snprintf(what, sizeof what, "%s no end blocks", name);
        expect_reject(what, &c, "missing tar end-of-archive blocks");
        free(c.p);
        p.n = plain.n - 512;
        c = pack(d, &p);
        snprintf(what, sizeof what, "%s one end block", name);
        expect_reject(what, &c, "only one tar end-of-archive block");
        free(c.p);
        p.n = ts + (plain.n - ts) / 2 + 100;
        p.n -= (p.n - ts) % 512;
        c = pack(d, &p);
        snprintf(what, sizeof what, "%s tar cut", name);
        expect_reject(what, &c, "the tar ends inside");
        free(c.p);
        free(p.p);
    }
    {
        /* non-zero bytes after the end blocks, inside the stream */
        buf p = b_copy(plain.p, plain.n);
        b_add(&p, "x", 1);
        buf c = pack(d, &p);
        snprintf(what, sizeof what, "%s data after tar end", name);
        expect_reject(what, &c, "non-zero byte 0x78 after the end-of-archive blocks");
        free(c.p);
        free(p.p);
    }
    {
        /* zero padding to a 10240-byte record (GNU tar's) is fine */
        buf p = b_copy(plain.p, plain.n);
        while ((p.n - ts) % 10240)
            b_add(&p, "", 1);
        buf c = pack(d, &p);
        expect_ok("record-padded", &c, files, bytes);
        free(c.p);
        free(p.p);
    }
    if (!is_gzip(d)) {
        /* wrong counts in the metadata */
        buf p = b_copy(plain.p, plain.n);
        p.p[15] += 1;
        buf c = pack(d, &p);
        char needle[120];
        snprintf(needle, sizeof needle, "metadata says %llu files", (unsigned long long)files + 1);
        snprintf(what, sizeof what, "%s files+1", name);
        expect_reject(what, &c, needle);
        free(c.p);
        p.p[15] -= 1;
        p.p[23] -= 1;
        c = pack(d, &p);
        snprintf(what, sizeof what, "%s bytes-1", name);
        expect_reject(what, &c, "tar holds");
        free(c.p);
        p.p[23] += 1;
        p.p[7] = 2;
        c = pack(d, &p);
        snprintf(what, sizeof what, "%s metadata version", name);
        expect_reject(what, &c, "metadata block version 2");
        free(c.p);
        free(p.p);

        /* no frame checksum; several frames; a window beyond the limit */
        c = pack_opts(d, &plain, 1, 0, 0);
        snprintf(what, sizeof what, "%s without checksum", name);
        expect_reject(what, &c, "carries no content checksum");
        free(c.p);
        c = pack_opts(d, &plain, 3, 1, 0);
        expect_ok("three frames", &c, files, bytes);
        free(c.p);
        c = pack_opts(d, &plain, 1, 1, 26);
        snprintf(what, sizeof what, "%s 64 MiB window", name);
        expect_reject(what, &c, "window larger than the 16 MiB limit");
        free(c.p);
    }
    free(plain.p);
}

/* ------------------------------------------------------------- tests */

static const struct {
    const char *file, *format, *era;
    uint64_t files, bytes, entries;
} fixtures[] = {
    /* counts as listed by `tar -tvf` over the decompressed tar */
    {"movies-35.dump", "zstd", "3.5/4.x", 55, 482299, 65},
    {"movies-40.dump", "zstd", "3.5/4.x", 72, 1226360, 82},
    {"movies-43.dump", "zstd", "3.5/4.x", 78, 1267809, 95},
    {"movies-50.dump", "DZV1", "5.x", 83, 1189511, 109},
    {"northwind-50.dump", "DZV1", "5.x", 88, 1785278, 118},
};

static int load(const char *path, buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    memset(b, 0, sizeof *b);
    unsigned char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        b_add(b, tmp, n);
    fclose(f);
    return 0;
}

static const char *fixture_dir(void)
{
    const char *dir = getenv("N4O_FIXTURES");
    char probe[4096];
    if (!dir)
        return NULL;
    snprintf(probe, sizeof probe, "%s/movies-35.dump", dir);
    FILE *f = fopen(probe, "rb");
    if (!f)
        return NULL;
    fclose(f);
    return dir;
}

static void test_fixtures(void **state)
{
    (void)state;
    const char *dir = fixture_dir();
    if (!dir) {
        print_message("SKIP: real Neo4j dumps not found ($N4O_FIXTURES=%s)\n",
                      getenv("N4O_FIXTURES") ? getenv("N4O_FIXTURES") : "unset");
        skip();
    }
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, fixtures[i].file);
        buf d;
        if (load(path, &d) < 0)
            fail_msg("cannot read %s", path);
        verdict v = check_all_modes(d.p, d.n);
        if (v.rc != 0)
            fail_msg("%s rejected: %s", path, v.reason);
        assert_string_equal(v.res.format, fixtures[i].format);
        assert_string_equal(v.res.era, fixtures[i].era);
        assert_int_equal(v.res.files, fixtures[i].files);
        assert_int_equal(v.res.bytes, fixtures[i].bytes);
        assert_int_equal(v.res.entries, fixtures[i].entries);
        assert_int_equal(v.res.dump_size, d.n);
        /* the counts also equal the dump's own metadata block */
        buf plain = unpack(&d);
        uint64_t mf = 0, mb = 0;
        for (int k = 0; k < 8; k++) {
            mf = mf << 8 | plain.p[8 + k];
            mb = mb << 8 | plain.p[16 + k];
        }
        assert_int_equal(mf, v.res.files);
        assert_int_equal(mb, v.res.bytes);
        free(plain.p);
        battery(fixtures[i].file, &d, fixtures[i].files, fixtures[i].bytes);
        free(d.p);
    }
}

/* A log line at every 97th offset of a real Neo4j 5 and 3.5 dump (and at
 * every offset of their last 12 bytes) is reported as text, in every
 * feeding mode. */
static void test_text_sweep(void **state)
{
    (void)state;
    const char *dir = fixture_dir();
    if (!dir) {
        print_message("SKIP: real Neo4j dumps not found\n");
        skip();
    }
    const char *names[] = {"movies-50.dump", "movies-35.dump"};
    const char *line = "2024-01-01 12:00:00.000+0000 INFO  [o.n.c.d.DumpCommand] Starting dump\n";
    for (size_t k = 0; k < 2; k++) {
        char path[4096], what[200];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        buf d;
        if (load(path, &d) < 0)
            fail_msg("cannot read %s", path);
        size_t pre = prefix_len(&d), n = 0;
        /* from 4: the first 4 bytes decide the format (text there is "not a
         * Neo4j dump") */
        for (size_t at = 4; at < d.n; at = at + 97 < d.n - 12 ? at + 97 : at + 1) {
            snprintf(what, sizeof what, "%s log line at %zu", names[k], at);
            expect_text(what, &d, pre, at, line, 1);
            n++;
        }
        print_message("    %s: %zu offsets\n", names[k], n);
        free(d.p);
    }
}

static void test_generated(void **state)
{
    (void)state;
    static const struct {
        const char *prefix;
        int gzip;
        const char *format, *era;
    } kinds[] = {
        {"DZV1", 0, "DZV1", "5.x"},
        {"", 0, "zstd", "3.5/4.x"},
        {"DGV1", 1, "DGV1", "5.x"},
        {"", 1, "gzip", "3.5/4.x"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        uint64_t files, bytes;
        buf d = build_dump(kinds[i].prefix, kinds[i].gzip, &files, &bytes);
        verdict v = check_all_modes(d.p, d.n);
        if (v.rc != 0)
            fail_msg("generated %s rejected: %s", kinds[i].format, v.reason);
        assert_string_equal(v.res.format, kinds[i].format);
        assert_string_equal(v.res.era, kinds[i].era);
        assert_int_equal(v.res.files, 9);
        assert_int_equal(v.res.entries, 12); /* 2 dirs, 9 files, 1 symlink */
        char name[32];
        snprintf(name, sizeof name, "generated %s", kinds[i].format);
        battery(name, &d, files, bytes);
        free(d.p);
    }
}

static void test_not_a_dump(void **state)
{
    (void)state;
    buf z = b_copy((const unsigned char *)"PK\x03\x04\x14\x00\x00\x00\x08\x00", 10);
    expect_reject("zip file", &z, "not a Neo4j dump: starts with bytes 50 4b 03 04 14 00");
    free(z.p);
    buf t = b_copy((const unsigned char *)"Error: database is in use\nmore\n", 31);
    expect_reject("error text", &t, "starts with \"Error: database is in use\" (a line of text");
    free(t.p);
    buf s = b_copy((const unsigned char *)"DZV1\x1f\x8b\x08\x00", 8);
    expect_reject("DZV1 + gzip", &s, "expected a zstd frame (28 b5 2f fd) after the DZV1 prefix");
    free(s.p);
    buf g = b_copy((const unsigned char *)"DGV1\x28\xb5\x2f\xfd", 8);
    expect_reject("DGV1 + zstd", &g, "expected a gzip stream (1f 8b) after the DGV1 prefix");
    free(g.p);
    buf p = b_copy((const unsigned char *)"DZV1", 4);
    expect_reject("prefix only", &p, "no zstd frame (cut?)");
    free(p.p);
}

static void test_bad_tar_fields(void **state)
{
    (void)state;
    uint64_t files, bytes;
    buf proto = b_copy((const unsigned char *)"DZV1", 4);
    buf plain = build_plain(1, &files, &bytes);
    /* a size field that is not octal (header checksum fixed up) */
    buf p = b_copy(plain.p, plain.n);
    unsigned char *h = p.p + 24 + 1024; /* first regular file */
    memcpy(h + 124, "0000001x000\0", 12);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    buf c = pack(&proto, &p);
    expect_reject("size not octal", &c, "size field of \"./neostore.store0.db\" is not a number");
    free(c.p);
    /* no ustar magic */
    memcpy(p.p, plain.p, plain.n);
    h = p.p + 24 + 1024;
    memcpy(h + 257, "garbage", 7);
    memset(h + 148, ' ', 8);
    sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    c = pack(&proto, &p);
    expect_reject("no ustar magic", &c, "not a ustar header");
    free(c.p);
    /* a lone zero block in the middle */
    buf q = {0};
    b_add(&q, plain.p, 24 + 1024);
    unsigned char zero[512] = {0};
    b_add(&q, zero, 512);
    b_add(&q, plain.p + 24 + 1024, plain.n - 24 - 1024);
    c = pack(&proto, &q);
    expect_reject("lone zero block", &c, "a lone zero block at tar offset 1024");
    free(c.p);
    free(q.p);
    free(p.p);
    free(plain.p);
    free(proto.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated),      cmocka_unit_test(test_not_a_dump),
        cmocka_unit_test(test_bad_tar_fields), cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_text_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
