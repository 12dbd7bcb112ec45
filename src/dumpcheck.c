/* dumpcheck: the outer layer of the dump validator (dumpcheck.h), and the
 * decoding of its compressed stream.
 *
 * Three stacked push parsers over the dump bytes:
 *   outer   prefix (DZV1/DGV1/bare magic), then the zstd frames or gzip
 *           members, then nothing (here);
 *   zstd    our own walk of the frame structure (header, block headers,
 *           checksum) that hands libzstd one unit at a time, so every block's
 *           output reaches the tar walker before the next unit is decoded.
 *           That makes the verdict independent of how the caller cut the
 *           stream into pieces, and gives exact dump offsets (here; gzip is
 *           zlib's, member by member);
 *   inner   the 24-byte metadata block, then the ustar walk
 *           (dumpcheck_tar.c), fed the decompressed bytes.
 * Beside them, dumpcheck_text.c scans the raw bytes for lines of text, and
 * when the stream breaks, text_decide asks it for a line in the region the
 * zstd or gzip structure says the break can have started in.
 *
 * The decoders stay here because they are what defines the dump offsets,
 * the units the text region is made of, and where trailing bytes start:
 * splitting them off would share most of this state.
 *
 * State is a few fixed buffers: memory does not grow with the dump. */
#include "dumpcheck.h"

#include "dumpcheck_bytes.h"
#include "dumpcheck_tar.h"
#include "dumpcheck_text.h"
#include "err.h"
#include "strbuf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define OUTBUF_SIZE     (128 * 1024)
#define SHOW_MAX        72 /* bytes kept to show what a bad stream starts with */
#define ZSTD_BLOCK_MAX  (128 * 1024)
#define ZSTD_MAGIC      0xFD2FB528u
#define ZSTD_SKIP_MAGIC 0x184D2A50u  /* low 4 bits vary */
#define TEXT_GZIP_BACK  (256 * 1024) /* how far back of a gzip error text is looked for */
#define REASON_MAX      2048

enum fmt { FMT_NONE, FMT_DZV1, FMT_DGV1, FMT_ZSTD, FMT_GZIP };

enum outer_state {
    O_PREFIX,   /* deciding the format from the first bytes */
    O_NOTDUMP,  /* collecting a few bytes to show in the reason */
    O_ZSTD,     /* inside the zstd layer */
    O_GZIP,     /* inside a gzip member */
    O_GZ_MAGIC, /* between gzip members */
    O_TRAILING, /* bytes after the end of the compressed stream */
};

enum zstd_state { ZS_MAGIC, ZS_FHD, ZS_HDR, ZS_BLKHDR, ZS_BLKDATA, ZS_CHECKSUM };

struct dumpcheck {
    int failed;
    char reason[REASON_MAX];
    uint64_t off; /* dump bytes consumed so far */

    enum outer_state ostate;
    enum fmt fmt;
    unsigned char show[SHOW_MAX]; /* first bytes (prefix / trailing) */
    size_t show_len;
    uint64_t show_off;    /* dump offset of show[0] */
    uint64_t trail_bytes; /* bytes after the end of the compressed stream */

    /* zstd layer */
    ZSTD_DCtx *zd;
    enum zstd_state zst;
    unsigned char zbuf[8];
    size_t zlen;
    uint64_t unit_left;  /* bytes left in the current header/block/checksum */
    uint64_t unit_off;   /* dump offset where the current unit started */
    uint64_t unit_total; /* its full length on the wire */
    uint64_t frame_no;   /* frames started (1-based once inside one) */
    uint64_t frame_off;
    uint64_t block_no;
    int last_block;
    size_t zret; /* last ZSTD_decompressStream hint: 0 = frame complete */

    /* gzip layer */
    z_stream zs;
    int zs_ready;
    uint64_t member_no;
    uint64_t member_off;

    unsigned char *obuf;

    dumpcheck_tar *tar; /* inner: metadata + tar */
    int inner_failed;   /* the tar walk failed (not the decompressor) */

    /* text written into the dump (see "text" below) */
    dumpcheck_text *text;
    uint64_t scan_from;           /* where the compressed stream starts; UINT64_MAX: not known */
    uint64_t unit_prev, unit_cur; /* zstd: where the last two units started */
    uint64_t blk_end;             /* zstd: where the current block's data ends */
    int pending;                  /* broken, the verdict waits for a text run to end */
    uint64_t region_start, fail_point;
    char orig_reason[REASON_MAX - 256];
};

static int fail(dumpcheck *dc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(dumpcheck *dc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dc->reason, sizeof dc->reason, fmt, ap);
    va_end(ap);
    dc->failed = 1;
    return err_set(ERR_INTEGRITY, "%s", dc->reason);
}

/* Bytes of the stream for a reason (dumpcheck_show). */
static void describe(const unsigned char *p, size_t n, char *out, size_t outsz)
{
    dumpcheck_show(p, n, 0, 0, out, outsz);
}

/* The first or trailing bytes kept in dc->show, for a reason: a line of
 * text is named as one. */
static void describe_show(const dumpcheck *dc, char *out, size_t outsz)
{
    dumpcheck_show(dc->show, dc->show_len, dc->show_len == SHOW_MAX, 1, out, outsz);
}

dumpcheck *dumpcheck_new(void)
{
    dumpcheck *dc = calloc(1, sizeof *dc);
    if (!dc)
        goto fail;
    dc->obuf = malloc(OUTBUF_SIZE);
    dc->tar = dumpcheck_tar_new();
    dc->text = dumpcheck_text_new();
    if (!dc->obuf || !dc->tar || !dc->text)
        goto fail;
    dc->ostate = O_PREFIX;
    dc->scan_from = UINT64_MAX;
    return dc;
fail:
    dumpcheck_free(dc);
    err_set(ERR_FAIL, "dumpcheck: out of memory");
    return NULL;
}

void dumpcheck_free(dumpcheck *dc)
{
    if (!dc)
        return;
    if (dc->zd)
        ZSTD_freeDCtx(dc->zd);
    if (dc->zs_ready)
        inflateEnd(&dc->zs);
    free(dc->obuf);
    dumpcheck_tar_free(dc->tar);
    dumpcheck_text_free(dc->text);
    free(dc);
}

/* ----------------------------------------------------------------- text */

/* Text written into the dump (a log line Neo4j or the JVM printed to the
 * stdout that carries the dump) breaks the compressed stream where it
 * lands, but the decoder notices only later, with a reason that says
 * nothing of text.  dumpcheck_text.c finds the lines among the raw bytes;
 * here, when the stream breaks, a line in the region where the break can
 * have started becomes the reason: "text inside the dump at offset N: ...".
 *
 * The verdict must not depend on how the dump is cut into pieces, so the
 * region is fixed by the stream's own structure (text_region), and when a
 * run that may become a line is still open at the break (text landing on a
 * header is noticed after 3 bytes of it), the verdict waits until the run
 * ends (dc->pending). */

/* Where the break can have started and the offset up to which the bytes
 * must be seen before deciding (the byte at fail_point included: text that
 * starts there can be what broke); 0 when text is not looked for (no
 * compressed stream yet, or a point that depends on the piece sizes). */
static int text_region(dumpcheck *dc)
{
    if (dc->scan_from == UINT64_MAX)
        return 0;
    if (dc->ostate == O_ZSTD) {
        /* The previous unit (a block that swallowed text decodes wrongly or
         * shifts the next header) and the current one, to its end: raw
         * blocks stream their output, so a tar walk failing inside one
         * fails at a piece-dependent byte; the unit's end does not. */
        dc->region_start = dc->unit_prev;
        dc->fail_point = dc->zst == ZS_BLKDATA && dc->blk_end > dc->off ? dc->blk_end : dc->off;
        return 1;
    }
    if (dc->ostate == O_GZIP || dc->ostate == O_GZ_MAGIC) {
        /* zlib hides its block boundaries, and what it has consumed when the
         * tar walk fails depends on the pieces: only zlib's own errors. */
        if (dc->inner_failed)
            return 0;
        dc->region_start =
            dc->off - dc->member_off > TEXT_GZIP_BACK ? dc->off - TEXT_GZIP_BACK : dc->member_off;
        if (dc->region_start < dc->scan_from)
            dc->region_start = dc->scan_from;
        dc->fail_point = dc->off;
        return 1;
    }
    return 0;
}

/* The reason for text: the line, then what broke. */
static int text_fail(dumpcheck *dc, const dumpcheck_text_line *line)
{
    strbuf b;
    strbuf_init(&b, 0);
    dumpcheck_text_describe(line, &b);
    strbuf_printf(&b, "; decoding then failed: %s", dc->orig_reason);
    if (strbuf_failed(&b)) {
        strbuf_free(&b);
        return err_set(ERR_FAIL, "dumpcheck: out of memory");
    }
    int rc = fail(dc, "%s", strbuf_str(&b));
    strbuf_free(&b);
    return rc;
}

/* Decide a pending verdict: -1 with the verdict set, or 0 while the bytes
 * seen cannot tell yet; AT_EOF: the stream ended, decide now. */
static int text_decide(dumpcheck *dc, int at_eof)
{
    dumpcheck_text_line line;
    switch (dumpcheck_text_find(dc->text, dc->region_start, dc->fail_point, at_eof, &line)) {
    case DUMPCHECK_TEXT_FOUND:
        return text_fail(dc, &line);
    case DUMPCHECK_TEXT_WAIT:
        return 0;
    default:
        return fail(dc, "%s", dc->orig_reason);
    }
}

/* The stream just broke (dc->failed, reason set): look for text.  -1 with
 * the verdict, or 0 while it waits (pending). */
static int text_after_break(dumpcheck *dc)
{
    if (!text_region(dc))
        return -1;
    snprintf(dc->orig_reason, sizeof dc->orig_reason, "%.*s", (int)sizeof dc->orig_reason - 1,
             dc->reason);
    dc->failed = 0;
    dc->pending = 1;
    int rc = text_decide(dc, 0);
    if (rc < 0)
        dc->pending = 0;
    return rc;
}

/* ---------------------------------------------------------------- inner */

/* Decompressed bytes to the tar walk; its failure is the verdict. */
static int inner_feed(dumpcheck *dc, const unsigned char *p, size_t n)
{
    if (n && dumpcheck_tar_feed(dc->tar, p, n) < 0) {
        dc->inner_failed = 1;
        return fail(dc, "%s", dumpcheck_tar_reason(dc->tar));
    }
    return 0;
}

static int tar_ended(const dumpcheck *dc)
{
    return dumpcheck_tar_ended(dc->tar);
}

/* ----------------------------------------------------------------- zstd */

static int zstd_fail(dumpcheck *dc, size_t r)
{
    ZSTD_ErrorCode code = ZSTD_getErrorCode(r);
    if (code == ZSTD_error_checksum_wrong)
        return fail(dc,
                    "dump offset %" PRIu64 ": zstd: checksum mismatch (frame %" PRIu64
                    " at dump offset %" PRIu64 "): the data was altered",
                    dc->unit_off, dc->frame_no, dc->frame_off);
    if (code == ZSTD_error_frameParameter_windowTooLarge)
        return fail(dc,
                    "dump offset %" PRIu64 ": zstd frame %" PRIu64
                    " needs a window larger than the %u MiB limit",
                    dc->frame_off, dc->frame_no, (1u << DUMPCHECK_WINDOW_LOG_MAX) >> 20);
    if (dc->zst == ZS_BLKDATA || dc->zst == ZS_BLKHDR)
        return fail(dc,
                    "dump offset %" PRIu64 ": zstd: %s (frame %" PRIu64 ", block %" PRIu64
                    " at dump offset %" PRIu64 ")",
                    dc->unit_off, ZSTD_getErrorName(r), dc->frame_no, dc->block_no, dc->unit_off);
    return fail(dc, "dump offset %" PRIu64 ": zstd: %s (frame %" PRIu64 ")", dc->unit_off,
                ZSTD_getErrorName(r), dc->frame_no);
}

/* Give libzstd bytes of the current unit and pass all output on. */
static int zfeed(dumpcheck *dc, const unsigned char *p, size_t n)
{
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {dc->obuf, OUTBUF_SIZE, 0};
        size_t r = ZSTD_decompressStream(dc->zd, &out, &in);
        if (ZSTD_isError(r))
            return zstd_fail(dc, r);
        dc->zret = r;
        if (inner_feed(dc, dc->obuf, out.pos) < 0)
            return -1;
        if (in.pos == in.size && out.pos < out.size)
            return 0;
    }
}

static void trailing_start(dumpcheck *dc, const unsigned char *held, size_t n, uint64_t at)
{
    dc->ostate = O_TRAILING;
    dc->show_off = at;
    size_t k = n < SHOW_MAX ? n : SHOW_MAX;
    memcpy(dc->show, held, k);
    dc->show_len = k;
    dc->trail_bytes = n;
}

/* Bytes after the end of the compressed stream: count them all, keep the
 * first few to show. */
static void trailing_add(dumpcheck *dc, const unsigned char *p, size_t n)
{
    size_t c = SHOW_MAX - dc->show_len;
    c = c < n ? c : n;
    memcpy(dc->show + dc->show_len, p, c);
    dc->show_len += c;
    dc->trail_bytes += n;
    dc->off += n;
}

/* A unit (frame magic, block header, checksum) starts at OFF: text_region()
 * looks for text from the previous one on. */
static void unit_mark(dumpcheck *dc, uint64_t off)
{
    dc->unit_prev = dc->unit_cur;
    dc->unit_cur = off;
}

/* Collect a fixed-size unit (frame magic, block header, gzip magic) in
 * dc->zbuf, whatever pieces it arrives in; unit_off marks where it started.
 * Returns 1 once the buffer holds WANT bytes (zlen is then reset for the
 * next unit), 0 while more are needed. */
static int gather(dumpcheck *dc, const unsigned char **p, size_t *n, size_t want)
{
    if (dc->zlen == 0) {
        dc->unit_off = dc->off;
        unit_mark(dc, dc->off);
    }
    dc->off += dumpcheck_fill(dc->zbuf, &dc->zlen, want, p, n);
    if (dc->zlen < want)
        return 0;
    dc->zlen = 0;
    return 1;
}

/* After a block: the last one is followed by the frame checksum, the others
 * by the next block header. */
static void block_end(dumpcheck *dc)
{
    if (dc->last_block) {
        dc->zst = ZS_CHECKSUM;
        dc->unit_off = dc->off;
        unit_mark(dc, dc->off);
        dc->unit_left = 4;
        dc->unit_total = 4;
    } else {
        dc->zst = ZS_BLKHDR;
    }
}

/* Process N bytes at dump offset dc->off in the zstd layer; all are used
 * (after the last frame, the rest is taken as trailing bytes). */
static int zstd_feed(dumpcheck *dc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t k;
        switch (dc->zst) {
        case ZS_MAGIC:
            if (!gather(dc, &p, &n, 4))
                break;
            uint32_t m = (uint32_t)dc->zbuf[0] | (uint32_t)dc->zbuf[1] << 8 |
                         (uint32_t)dc->zbuf[2] << 16 | (uint32_t)dc->zbuf[3] << 24;
            if (m != ZSTD_MAGIC) {
                if (dc->frame_no > 0 && tar_ended(dc)) {
                    trailing_start(dc, dc->zbuf, 4, dc->unit_off);
                    trailing_add(dc, p, n);
                    return 0;
                }
                char shown[200];
                describe(dc->zbuf, 4, shown, sizeof shown);
                if ((m & 0xFFFFFFF0u) == ZSTD_SKIP_MAGIC)
                    return fail(dc,
                                "dump offset %" PRIu64
                                ": zstd skippable frame (Neo4j never writes one)",
                                dc->unit_off);
                if (dc->frame_no == 0)
                    return fail(dc,
                                "dump offset %" PRIu64 ": expected a zstd frame (28 b5 2f fd) "
                                "after the %s prefix, found %s",
                                dc->unit_off, "DZV1", shown);
                return fail(dc,
                            "dump offset %" PRIu64 ": expected a zstd frame (28 b5 2f fd) after "
                            "frame %" PRIu64 ", found %s",
                            dc->unit_off, dc->frame_no, shown);
            }
            dc->frame_no++;
            dc->frame_off = dc->unit_off;
            dc->block_no = 0;
            if (zfeed(dc, dc->zbuf, 4) < 0)
                return -1;
            dc->zst = ZS_FHD;
            break;
        case ZS_FHD: {
            unsigned char d = p[0];
            unsigned fcs_flag = d >> 6, single = (d >> 5) & 1, cks = (d >> 2) & 1, did = d & 3;
            if (!cks)
                return fail(dc,
                            "dump offset %" PRIu64 ": zstd frame %" PRIu64
                            " carries no content checksum (Neo4j writes one; without it "
                            "corruption could go unnoticed)",
                            dc->off, dc->frame_no);
            static const unsigned did_size[4] = {0, 1, 2, 4};
            static const unsigned fcs_size[4] = {0, 2, 4, 8};
            unsigned rest = (single ? 0 : 1) + did_size[did] +
                            (fcs_flag == 0 ? (single ? 1 : 0) : fcs_size[fcs_flag]);
            dc->unit_off = dc->frame_off;
            dc->off += 1;
            if (zfeed(dc, p, 1) < 0)
                return -1;
            p++;
            n--;
            dc->unit_left = rest;
            dc->zst = rest ? ZS_HDR : ZS_BLKHDR;
            break;
        }
        case ZS_HDR:
        case ZS_BLKDATA:
        case ZS_CHECKSUM:
            k = dc->unit_left < n ? (size_t)dc->unit_left : n;
            dc->off += k;
            if (zfeed(dc, p, k) < 0)
                return -1;
            p += k;
            n -= k;
            dc->unit_left -= k;
            if (dc->unit_left > 0)
                break;
            if (dc->zst == ZS_HDR) {
                dc->zst = ZS_BLKHDR;
            } else if (dc->zst == ZS_BLKDATA) {
                block_end(dc);
            } else {
                if (dc->zret != 0)
                    return fail(dc,
                                "dump offset %" PRIu64 ": zstd frame %" PRIu64
                                " did not end after its checksum",
                                dc->off, dc->frame_no);
                dc->zst = ZS_MAGIC;
            }
            break;
        case ZS_BLKHDR:
            if (!gather(dc, &p, &n, 3))
                break;
            dc->block_no++;
            uint32_t bh =
                (uint32_t)dc->zbuf[0] | (uint32_t)dc->zbuf[1] << 8 | (uint32_t)dc->zbuf[2] << 16;
            unsigned type = (bh >> 1) & 3;
            uint32_t bsize = bh >> 3;
            dc->last_block = bh & 1;
            if (type == 3)
                return fail(dc,
                            "dump offset %" PRIu64 ": zstd: reserved block type (frame %" PRIu64
                            ", block %" PRIu64 ")",
                            dc->unit_off, dc->frame_no, dc->block_no);
            if (bsize > ZSTD_BLOCK_MAX)
                return fail(dc,
                            "dump offset %" PRIu64 ": zstd: block size %" PRIu32
                            " exceeds 128 KiB (frame %" PRIu64 ", block %" PRIu64 ")",
                            dc->unit_off, bsize, dc->frame_no, dc->block_no);
            if (zfeed(dc, dc->zbuf, 3) < 0)
                return -1;
            dc->unit_left = type == 1 ? 1 : bsize;
            dc->unit_total = dc->unit_left;
            dc->blk_end = dc->off + dc->unit_left;
            dc->zst = ZS_BLKDATA;
            if (dc->unit_left == 0)
                block_end(dc);
            break;
        }
    }
    return 0;
}

/* ----------------------------------------------------------------- gzip */

static int gzip_member_start(dumpcheck *dc)
{
    if (!dc->zs_ready) {
        memset(&dc->zs, 0, sizeof dc->zs);
        if (inflateInit2(&dc->zs, 16 + 15) != Z_OK)
            return err_set(ERR_FAIL, "dumpcheck: zlib init failed");
        dc->zs_ready = 1;
    } else if (inflateReset(&dc->zs) != Z_OK) {
        return err_set(ERR_FAIL, "dumpcheck: zlib reset failed");
    }
    dc->member_no++;
    dc->member_off = dc->off;
    dc->ostate = O_GZIP;
    return 0;
}

/* Feed the current gzip member; *used gets the bytes consumed (fewer than N
 * when the member ended). */
static int gzip_feed(dumpcheck *dc, const unsigned char *p, size_t n, size_t *used)
{
    dc->zs.next_in = (unsigned char *)p;
    dc->zs.avail_in = (uInt)n;
    for (;;) {
        dc->zs.next_out = dc->obuf;
        dc->zs.avail_out = OUTBUF_SIZE;
        uInt before = dc->zs.avail_in;
        int r = inflate(&dc->zs, Z_NO_FLUSH);
        dc->off += before - dc->zs.avail_in;
        size_t produced = OUTBUF_SIZE - dc->zs.avail_out;
        if (inner_feed(dc, dc->obuf, produced) < 0)
            return -1;
        if (r == Z_STREAM_END) {
            dc->ostate = O_GZ_MAGIC;
            dc->zlen = 0;
            break;
        }
        if (r == Z_DATA_ERROR || r == Z_NEED_DICT)
            return fail(
                dc,
                "dump offset %" PRIu64 ": gzip: %s (member %" PRIu64 " at dump offset %" PRIu64 ")",
                dc->off, dc->zs.msg ? dc->zs.msg : "invalid data", dc->member_no, dc->member_off);
        if (r == Z_MEM_ERROR)
            return err_set(ERR_FAIL, "dumpcheck: zlib out of memory");
        if (dc->zs.avail_in == 0 && dc->zs.avail_out != 0)
            break;
    }
    *used = n - dc->zs.avail_in;
    return 0;
}

/* ---------------------------------------------------------------- outer */

static const char *const fmt_names[] = {"", "DZV1", "DGV1", "zstd", "gzip"};

static int is_magic_prefix(const unsigned char *p, size_t n)
{
    static const unsigned char mags[4][4] = {
        {'D', 'Z', 'V', '1'}, {'D', 'G', 'V', '1'}, {0x28, 0xb5, 0x2f, 0xfd}, {0x1f, 0x8b, 0, 0}};
    for (int i = 0; i < 4; i++) {
        size_t len = i == 3 ? 2 : 4;
        size_t c = n < len ? n : len;
        if (memcmp(p, mags[i], c) == 0)
            return 1;
    }
    return 0;
}

static int not_a_dump(dumpcheck *dc)
{
    char shown[400];
    describe_show(dc, shown, sizeof shown);
    return fail(dc, "not a Neo4j dump: starts with %s", shown);
}

static int zstd_init(dumpcheck *dc)
{
    dc->zd = ZSTD_createDCtx();
    if (!dc->zd)
        return err_set(ERR_FAIL, "dumpcheck: out of memory");
    size_t r = ZSTD_DCtx_setParameter(dc->zd, ZSTD_d_windowLogMax, DUMPCHECK_WINDOW_LOG_MAX);
    if (ZSTD_isError(r))
        return err_set(ERR_FAIL, "dumpcheck: zstd: %s", ZSTD_getErrorName(r));
    dc->ostate = O_ZSTD;
    dc->zst = ZS_MAGIC;
    return 0;
}

/* The first four bytes decide the format. */
static int decide(dumpcheck *dc)
{
    const unsigned char *s = dc->show;
    /* Text is looked for in the compressed stream, not in the prefix. */
    dc->scan_from = s[0] == 'D' ? 4 : 0;
    dumpcheck_text_from(dc->text, dc->scan_from);
    dc->unit_prev = dc->unit_cur = dc->scan_from;
    if (memcmp(s, "DZV1", 4) == 0 || memcmp(s, "\x28\xb5\x2f\xfd", 4) == 0) {
        dc->fmt = s[0] == 'D' ? FMT_DZV1 : FMT_ZSTD;
        if (zstd_init(dc) < 0)
            return -1;
        if (dc->fmt == FMT_ZSTD) {
            dc->off = 0;
            return zstd_feed(dc, s, 4);
        }
        return 0;
    }
    if (memcmp(s, "DGV1", 4) == 0 || (s[0] == 0x1f && s[1] == 0x8b)) {
        dc->fmt = s[0] == 'D' ? FMT_DGV1 : FMT_GZIP;
        /* No metadata block in gzip dumps: the tar follows directly. */
        dumpcheck_tar_no_metadata(dc->tar);
        dc->ostate = O_GZ_MAGIC;
        dc->zlen = 0;
        if (dc->fmt == FMT_GZIP) {
            /* Replay the 4 bytes through the member machinery. */
            dc->off = 0;
            return 1;
        }
        return 0;
    }
    dc->ostate = O_NOTDUMP;
    dc->scan_from = UINT64_MAX;
    dumpcheck_text_from(dc->text, dc->scan_from);
    return 0;
}

static int feed(dumpcheck *dc, const unsigned char *p, size_t n);

static int gz_magic_feed(dumpcheck *dc, const unsigned char **pp, size_t *nn)
{
    if (!gather(dc, pp, nn, 2))
        return 0;
    if (dc->zbuf[0] == 0x1f && dc->zbuf[1] == 0x8b) {
        if (gzip_member_start(dc) < 0)
            return -1;
        dc->member_off = dc->unit_off;
        dc->off -= 2; /* counted again as inflate consumes them */
        size_t used;
        return gzip_feed(dc, dc->zbuf, 2, &used);
    }
    if (dc->member_no > 0 && tar_ended(dc)) {
        trailing_start(dc, dc->zbuf, 2, dc->unit_off);
        return 0;
    }
    char shown[200];
    describe(dc->zbuf, 2, shown, sizeof shown);
    if (dc->member_no == 0)
        return fail(dc,
                    "dump offset %" PRIu64 ": expected a gzip stream (1f 8b) after the DGV1 "
                    "prefix, found %s",
                    dc->unit_off, shown);
    return fail(dc,
                "dump offset %" PRIu64
                ": expected another gzip member (1f 8b) after member %" PRIu64 ", found %s",
                dc->unit_off, dc->member_no, shown);
}

static int feed(dumpcheck *dc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        switch (dc->ostate) {
        case O_PREFIX: {
            dumpcheck_fill(dc->show, &dc->show_len, 4, &p, &n);
            if (dc->show_len < 4)
                break;
            dc->off = 4;
            int r = decide(dc);
            if (r < 0)
                return -1;
            if (r == 1) {
                /* bare gzip: run the first 4 bytes through the member parser */
                unsigned char first[4];
                memcpy(first, dc->show, 4);
                if (feed(dc, first, 4) < 0)
                    return -1;
            }
            if (dc->ostate == O_NOTDUMP)
                dc->off = dc->show_len;
            break;
        }
        case O_NOTDUMP: {
            /* Collect up to the end of the first line, to show it. */
            int done = memchr(dc->show, '\n', dc->show_len) != NULL;
            while (!done && n > 0 && dc->show_len < SHOW_MAX) {
                dc->show[dc->show_len++] = *p;
                done = *p == '\n';
                p++;
                n--;
                dc->off++;
            }
            if (done || dc->show_len == SHOW_MAX)
                return not_a_dump(dc);
            break;
        }
        case O_ZSTD:
            if (zstd_feed(dc, p, n) < 0)
                return -1;
            n = 0;
            break;
        case O_GZ_MAGIC:
            if (gz_magic_feed(dc, &p, &n) < 0)
                return -1;
            break;
        case O_GZIP: {
            size_t used;
            if (gzip_feed(dc, p, n, &used) < 0)
                return -1;
            p += used;
            n -= used;
            break;
        }
        case O_TRAILING:
            trailing_add(dc, p, n);
            n = 0;
            break;
        }
    }
    return 0;
}

int dumpcheck_update(dumpcheck *dc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (dc->failed)
        return err_set(ERR_INTEGRITY, "%s", dc->reason);
    if (dc->pending) {
        dumpcheck_text_scan(dc->text, p, len);
        return text_decide(dc, 0);
    }
    uint64_t at = dumpcheck_text_scanned(dc->text);
    if (feed(dc, p, len) == 0) {
        dumpcheck_text_scan(dc->text, p, len);
        return 0;
    }
    if (!dc->failed)
        return -1; /* out of memory: not a verdict */
    /* Scan what the layers took, then what follows if the verdict waits. */
    size_t used = dc->off > at ? (dc->off - at < len ? (size_t)(dc->off - at) : len) : 0;
    dumpcheck_text_scan(dc->text, p, used);
    if (text_after_break(dc) < 0)
        return -1;
    dumpcheck_text_scan(dc->text, p + used, len - used);
    return text_decide(dc, 0);
}

/* The stream ended (WHY: how, put in front of the tar's reason): a failure
 * unless the tar is complete. */
static int tar_incomplete(dumpcheck *dc, const char *why)
{
    if (!tar_ended(dc)) {
        dumpcheck_tar_finish(dc->tar);
        return fail(dc, "%s%s", why, dumpcheck_tar_reason(dc->tar));
    }
    /* The tar was complete: the outer layer alone is at fault. */
    size_t len = strlen(why);
    if (len >= 2 && strcmp(why + len - 2, "; ") == 0)
        return fail(dc, "%.*s", (int)(len - 2), why);
    return 0;
}

/* The LAYER stream ended at a boundary after UNITS frames or members: fine
 * if there was one (else NONE is the reason) and the tar inside is complete. */
static int clean_end(dumpcheck *dc, uint64_t units, const char *none, const char *layer)
{
    if (units == 0)
        return fail(dc, "%s", none);
    char why[256];
    snprintf(why, sizeof why,
             "the %s stream ends cleanly after %" PRIu64 " bytes, but the tar is incomplete: ",
             layer, dc->off);
    return tar_incomplete(dc, why);
}

static int finish_check(dumpcheck *dc)
{
    char why[256];
    switch (dc->ostate) {
    case O_PREFIX:
        if (dc->show_len == 0)
            return fail(dc, "the dump is empty");
        if (is_magic_prefix(dc->show, dc->show_len))
            return fail(dc, "dump ended after %zu bytes, inside the format prefix (cut?)",
                        dc->show_len);
        return not_a_dump(dc);
    case O_NOTDUMP:
        return not_a_dump(dc);
    case O_ZSTD:
        if (dc->zst == ZS_MAGIC && dc->zlen > 0 && !(dc->frame_no > 0 && tar_ended(dc)))
            return fail(dc,
                        "dump ended after %" PRIu64 " bytes, inside a zstd frame magic at dump "
                        "offset %" PRIu64 " (cut?)",
                        dc->off, dc->unit_off);
        if (dc->zst != ZS_MAGIC || dc->zlen > 0) {
            if (dc->zst == ZS_MAGIC && dc->frame_no > 0 && tar_ended(dc)) {
                trailing_start(dc, dc->zbuf, dc->zlen, dc->unit_off);
                break; /* reported as trailing below */
            }
            const char *where = dc->zst == ZS_MAGIC     ? "a frame magic"
                                : dc->zst <= ZS_HDR     ? "a frame header"
                                : dc->zst == ZS_BLKHDR  ? "a block header"
                                : dc->zst == ZS_BLKDATA ? "a block"
                                                        : "the frame checksum";
            snprintf(why, sizeof why,
                     "dump ended inside a zstd frame after %" PRIu64 " bytes (cut?): frame %" PRIu64
                     ", inside %s at dump offset %" PRIu64 "; ",
                     dc->off, dc->frame_no, where, dc->unit_off);
            return tar_incomplete(dc, why);
        }
        if (clean_end(dc, dc->frame_no, "dump ended after the DZV1 prefix: no zstd frame (cut?)",
                      "zstd") < 0)
            return -1;
        break;
    case O_GZIP:
        snprintf(why, sizeof why,
                 "dump ended inside gzip member %" PRIu64 " after %" PRIu64 " bytes (cut?); ",
                 dc->member_no, dc->off);
        return tar_incomplete(dc, why);
    case O_GZ_MAGIC:
        if (dc->zlen > 0) {
            if (dc->member_no > 0 && tar_ended(dc)) {
                trailing_start(dc, dc->zbuf, dc->zlen, dc->unit_off);
                break;
            }
            return fail(dc, "dump ended after %" PRIu64 " bytes inside a gzip header (cut?)",
                        dc->off);
        }
        if (clean_end(dc, dc->member_no, "dump ended after the DGV1 prefix: no gzip stream (cut?)",
                      "gzip") < 0)
            return -1;
        break;
    case O_TRAILING:
        break;
    }
    if (dc->trail_bytes) {
        char shown[400];
        describe_show(dc, shown, sizeof shown);
        return fail(dc,
                    "%" PRIu64 " bytes after the end of the compressed stream (from dump offset "
                    "%" PRIu64 "): %s",
                    dc->trail_bytes, dc->show_off, shown);
    }
    if (dumpcheck_tar_finish(dc->tar) < 0)
        return fail(dc, "%s", dumpcheck_tar_reason(dc->tar));
    return 0;
}

int dumpcheck_finish(dumpcheck *dc, dumpcheck_result *out)
{
    int rc;
    if (dc->failed)
        rc = err_set(ERR_INTEGRITY, "%s", dc->reason);
    else if (dc->pending)
        rc = text_decide(dc, 1);
    else
        rc = finish_check(dc); /* text makes a dump longer, never cut: not looked for */
    if (out) {
        memset(out, 0, sizeof *out);
        snprintf(out->format, sizeof out->format, "%s", fmt_names[dc->fmt]);
        snprintf(out->era, sizeof out->era, "%s",
                 dc->fmt == FMT_NONE                            ? ""
                 : (dc->fmt == FMT_DZV1 || dc->fmt == FMT_DGV1) ? "5.x"
                                                                : "3.5/4.x");
        dumpcheck_tar_totals t = dumpcheck_tar_count(dc->tar);
        out->files = t.files;
        out->bytes = t.bytes;
        out->entries = t.entries;
        out->dump_size = dc->off;
        out->decompressed = t.decompressed;
    }
    return rc;
}
