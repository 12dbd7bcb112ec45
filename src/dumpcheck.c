/* dumpcheck: three stacked push parsers over the dump bytes.
 *
 *   outer   prefix (DZV1/DGV1/bare magic), then the zstd frames or gzip
 *           members, then nothing;
 *   zstd    our own walk of the frame structure (header, block headers,
 *           checksum) that hands libzstd one unit at a time, so every block's
 *           output reaches the tar walker before the next unit is decoded.
 *           That makes the verdict independent of how the caller cut the
 *           stream into pieces, and gives exact dump offsets;
 *   inner   the 24-byte metadata block, then the ustar walk.
 *
 * State is a few fixed buffers: memory does not grow with the dump. */
#include "dumpcheck.h"

#include "bytes_be.h"
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
#define META_SIZE       24
#define BLOCK           512
#define ZSTD_BLOCK_MAX  (128 * 1024)
#define ZSTD_MAGIC      0xFD2FB528u
#define ZSTD_SKIP_MAGIC 0x184D2A50u  /* low 4 bits vary */
#define TEXT_MIN        20           /* printable characters before the line end, at least */
#define TEXT_LINE_MAX   (64 * 1024)  /* a longer run without a line end is no line */
#define TEXT_EXCERPT    96           /* characters of it shown */
#define TEXT_CANDS      4            /* text runs remembered */
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

enum tar_state { T_META, T_HDR, T_DATA, T_END };

enum pax_state { P_LEN, P_KEY, P_VAL };

/* A run of text in the raw bytes that qualifies (text_qualifies). */
typedef struct {
    uint64_t start, end; /* dump offsets */
    unsigned char ex[TEXT_EXCERPT];
    size_t ex_len;
} text_cand;

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

    /* inner: metadata + tar */
    enum tar_state tst;
    uint64_t dec_off; /* decompressed bytes seen */
    uint64_t tar_off; /* tar bytes seen (decompressed minus metadata) */
    int has_meta;
    unsigned char meta[META_SIZE];
    size_t meta_len;
    uint64_t meta_files, meta_bytes;
    unsigned char hdr[BLOCK];
    size_t hdr_len;
    uint64_t hdr_off; /* tar offset of the current header */
    int zero_blocks;
    uint64_t first_zero_off;
    uint64_t data_left; /* data bytes left in the current entry */
    uint64_t pad_left;  /* then padding bytes to the next 512 boundary */
    uint64_t data_size;
    char kind;        /* typeflag of the current entry */
    int pending_meta; /* a pax/GNU header announced the next entry */
    int pending_size_set;
    uint64_t pending_size;
    char name[256];     /* of the current entry, for reasons */
    char longname[256]; /* from a GNU 'L' entry */
    size_t longname_len;
    int longname_set;
    uint64_t files, bytes, entries;
    uint64_t end_padding;

    /* pax record parser */
    enum pax_state pst;
    uint64_t pax_len, pax_read;
    char pax_key[16];
    size_t pax_key_len;
    int pax_key_long;
    uint64_t pax_val;
    int pax_val_digits, pax_val_bad;

    /* text written into the dump (see "text" below) */
    uint64_t scan_from;          /* where the compressed stream starts; UINT64_MAX: not known yet */
    uint64_t scan_off;           /* raw bytes scanned */
    uint64_t run_start, run_len; /* the printable run open at scan_off */
    unsigned char run_ex[TEXT_EXCERPT];
    size_t run_ex_len;
    text_cand cands[TEXT_CANDS]; /* a ring of the last ones */
    uint64_t n_cands;
    uint64_t unit_prev, unit_cur; /* zstd: where the last two units started */
    uint64_t blk_end;             /* zstd: where the current block's data ends */
    int inner_failed;             /* the tar walk failed (not the decompressor) */
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

/* Describe bytes for a reason: quoted text when they are printable (a log
 * line, typically), else hex. */
static void describe_h(const unsigned char *p, size_t n, char *out, size_t outsz, int hint)
{
    size_t text = 0;
    while (text < n && ((p[text] >= 0x20 && p[text] < 0x7f) || p[text] == '\t'))
        text++;
    int is_line = text >= 4 && (text == n || p[text] == '\n' || p[text] == '\r');
    size_t o = 0;
    if (is_line) {
        o += (size_t)snprintf(out + o, outsz - o, "\"");
        for (size_t i = 0; i < text && o + 4 < outsz; i++)
            out[o++] = p[i] == '"' ? '\'' : (char)p[i];
        snprintf(out + o, outsz - o, "%s\"%s", text == n && n == SHOW_MAX ? "..." : "",
                 hint ? " (a line of text, e.g. log output written into the dump)" : "");
        return;
    }
    o += (size_t)snprintf(out + o, outsz - o, "bytes");
    size_t lim = n < 16 ? n : 16;
    for (size_t i = 0; i < lim && o + 4 < outsz; i++)
        o += (size_t)snprintf(out + o, outsz - o, " %02x", p[i]);
    if (n > lim)
        snprintf(out + o, outsz - o, " ...");
}

static void describe(const unsigned char *p, size_t n, char *out, size_t outsz)
{
    describe_h(p, n, out, outsz, 0);
}

/* Move bytes from the input (p, n: both advanced) into BUF until it holds
 * WANT (len so far), so that a fixed-size unit can arrive in any number of
 * pieces; returns the bytes taken. */
static size_t fill(unsigned char *buf, size_t *len, size_t want, const unsigned char **p, size_t *n)
{
    size_t k = want - *len;
    if (k > *n)
        k = *n;
    memcpy(buf + *len, *p, k);
    *len += k;
    *p += k;
    *n -= k;
    return k;
}

/* ----------------------------------------------------------------- text */

/* Text written into the dump (a log line Neo4j or the JVM printed to the
 * stdout that carries the dump) breaks the compressed stream where it
 * lands, but the decoder notices only later: at the end of the block that
 * swallowed it (up to 128 KiB on) or at the next header or checksum, with a
 * reason that says nothing of text.  So the raw bytes after the prefix are
 * scanned for runs of printable ASCII, and when the stream breaks, a line
 * of text (at least TEXT_MIN printable characters and a line end) in the
 * region where the break can have started becomes the reason: "text inside
 * the dump at offset N: ...".  Consecutive lines count as one text.
 *
 * Compressed data holds such lines almost never (a random byte is printable
 * ASCII with p = 0.37: 20 of them and a newline, p ~ 1e-11 per offset), and
 * they are looked for only once the stream is already broken.  The offset
 * may be a byte or two early: compressed bytes just before the text can be
 * printable too (the excerpt shows them).
 *
 * The verdict must not depend on how the dump is cut into pieces, so the
 * region is fixed by the stream's own structure (text_region), and when a
 * run that may become a line is still open at the break (text landing on a
 * header is noticed after 3 bytes of it), the verdict waits until the run
 * ends (dc->pending). */

static int is_text(unsigned char c)
{
    return (unsigned char)(c - 0x20) < 0x5f || c == '\t';
}

/* Keep the line [START, START+LEN) (its first characters in EX) when it
 * qualifies; the next line of a block of lines extends the last one kept. */
static void text_record(dumpcheck *dc, uint64_t start, uint64_t len, const unsigned char *ex,
                        size_t ex_len)
{
    if (len < TEXT_MIN || len > TEXT_LINE_MAX)
        return;
    if (dc->n_cands > 0) {
        text_cand *last = &dc->cands[(dc->n_cands - 1) % TEXT_CANDS];
        if (start <= last->end + 2) { /* after "\n" or "\r\n" */
            last->end = start + len;
            return;
        }
    }
    text_cand *c = &dc->cands[dc->n_cands % TEXT_CANDS];
    dc->n_cands++;
    c->start = start;
    c->end = start + len;
    c->ex_len = ex_len < TEXT_EXCERPT ? ex_len : TEXT_EXCERPT;
    memcpy(c->ex, ex, c->ex_len);
}

/* The printable run at the end of the bytes scanned so far becomes P[0..N)
 * (START: its dump offset), or grows by it (EXTEND). */
static void run_set(dumpcheck *dc, uint64_t start, const unsigned char *p, size_t n, int extend)
{
    if (!extend) {
        dc->run_start = start;
        dc->run_len = 0;
        dc->run_ex_len = 0;
    }
    dc->run_len += n;
    size_t k = TEXT_EXCERPT - dc->run_ex_len;
    if (k > n)
        k = n;
    memcpy(dc->run_ex + dc->run_ex_len, p, k);
    dc->run_ex_len += k;
}

/* The offset of the first C in P[I..N), N when none. */
static size_t find_byte(const unsigned char *p, size_t i, size_t n, unsigned char c)
{
    const unsigned char *q = i < n ? memchr(p + i, c, n - i) : NULL;
    return q ? (size_t)(q - p) : n;
}

/* Scan N raw bytes at dump offset dc->scan_off (advanced).  A line needs a
 * line end ('\n' or '\r'), so only those are visited (memchr), and from each
 * the run before it, which in compressed data is a byte or two: the cost
 * stays near memchr's. */
static void text_scan(dumpcheck *dc, const unsigned char *p, size_t n)
{
    uint64_t at = dc->scan_off;
    dc->scan_off += n;
    if (n == 0 || dc->scan_from == UINT64_MAX || at + n <= dc->scan_from)
        return;
    if (at < dc->scan_from) { /* the format prefix is no text */
        p += dc->scan_from - at;
        n -= (size_t)(dc->scan_from - at);
        at = dc->scan_from;
    }
    size_t i = 0, nl = find_byte(p, 0, n, '\n'), cr = find_byte(p, 0, n, '\r');
    for (;;) {
        size_t e = nl < cr ? nl : cr;
        if (e >= n)
            break;
        size_t s = e;
        while (s > i && is_text(p[s - 1]))
            s--;
        /* s == 0: the run may have begun in an earlier piece */
        run_set(dc, at + s, p + s, e - s, s == 0 && dc->run_len > 0);
        text_record(dc, dc->run_start, dc->run_len, dc->run_ex, dc->run_ex_len);
        dc->run_len = 0;
        i = e + 1;
        if (nl == e)
            nl = find_byte(p, i, n, '\n');
        if (cr == e)
            cr = find_byte(p, i, n, '\r');
    }
    /* The run open at the end, for the next piece (or a pending verdict). */
    size_t s = n;
    while (s > i && is_text(p[s - 1]))
        s--;
    if (s == n)
        dc->run_len = 0;
    else
        run_set(dc, at + s, p + s, n - s, s == 0 && dc->run_len > 0);
}

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

/* The reason for text: its offset and an excerpt, then what broke. */
static int text_fail(dumpcheck *dc, uint64_t start, const unsigned char *ex, size_t ex_len, int cut)
{
    strbuf b;
    strbuf_init(&b, 0);
    strbuf_printf(&b, "text inside the dump at offset %" PRIu64 ": \"", start);
    for (size_t i = 0; i < ex_len; i++) {
        if (ex[i] == '"' || ex[i] == '\\')
            strbuf_append(&b, "\\", 1);
        strbuf_put_printable(&b, (const char *)ex + i, 1);
    }
    strbuf_printf(&b,
                  "%s\" (a line of text, e.g. log output written into the dump); decoding then "
                  "failed: %s",
                  cut ? "..." : "", dc->orig_reason);
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
    uint64_t first = dc->n_cands > TEXT_CANDS ? dc->n_cands - TEXT_CANDS : 0;
    for (uint64_t k = first; k < dc->n_cands; k++) {
        const text_cand *c = &dc->cands[k % TEXT_CANDS];
        if (c->end >= dc->region_start && c->start <= dc->fail_point)
            return text_fail(dc, c->start, c->ex, c->ex_len, c->end - c->start > c->ex_len);
    }
    if (dc->run_len > 0 && dc->run_start <= dc->fail_point &&
        dc->run_start + dc->run_len >= dc->region_start) {
        if (!at_eof && dc->run_len <= TEXT_LINE_MAX)
            return 0; /* the run may still become a line */
    }
    if (!at_eof && dc->scan_off <= dc->fail_point)
        return 0; /* a run may start at the failing byte itself */
    return fail(dc, "%s", dc->orig_reason);
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

dumpcheck *dumpcheck_new(void)
{
    dumpcheck *dc = calloc(1, sizeof *dc);
    if (!dc)
        goto fail;
    dc->obuf = malloc(OUTBUF_SIZE);
    if (!dc->obuf)
        goto fail;
    dc->ostate = O_PREFIX;
    dc->tst = T_META;
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
    free(dc);
}

/* ------------------------------------------------------------------ tar */

/* Octal numeric field: optional leading spaces, digits, then NUL/space to
 * the end.  -1 when malformed. */
static int parse_octal(const unsigned char *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && p[i] == ' ')
        i++;
    size_t start = i;
    while (i < n && p[i] >= '0' && p[i] <= '7') {
        if (v >> 60)
            return -1;
        v = v * 8 + (uint64_t)(p[i] - '0');
        i++;
    }
    if (i == start)
        return -1;
    for (; i < n; i++)
        if (p[i] != ' ' && p[i] != '\0')
            return -1;
    *out = v;
    return 0;
}

/* The size field: octal, or GNU/star base-256 (first byte 0x80) for sizes
 * of 8 GiB and more. */
static int parse_size(const unsigned char *p, uint64_t *out)
{
    if (p[0] & 0x80) {
        if (p[0] != 0x80)
            return -1; /* negative or too large */
        uint64_t v = 0;
        for (int i = 1; i < 12; i++) {
            if (v >> 56)
                return -1;
            v = v << 8 | p[i];
        }
        if (v >> 62)
            return -1;
        *out = v;
        return 0;
    }
    return parse_octal(p, 12, out);
}

static void field_str(const unsigned char *p, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n && p[i] && o + 1 < outsz; i++)
        out[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    out[o] = '\0';
}

static void pax_reset(dumpcheck *dc)
{
    dc->pst = P_LEN;
    dc->pax_len = dc->pax_read = 0;
    dc->pax_key_len = 0;
    dc->pax_key_long = 0;
    dc->pax_val = 0;
    dc->pax_val_digits = dc->pax_val_bad = 0;
}

/* Parse pax records "LEN KEY=VALUE\n" byte by byte; only "size" matters to
 * the walk (it overrides the next header's size field). */
static int pax_feed(dumpcheck *dc, const unsigned char *p, size_t n, uint64_t at)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        uint64_t here = at + i;
        dc->pax_read++;
        switch (dc->pst) {
        case P_LEN:
            if (c >= '0' && c <= '9' && dc->pax_len < (1u << 30)) {
                dc->pax_len = dc->pax_len * 10 + (uint64_t)(c - '0');
            } else if (c == ' ' && dc->pax_len > 0) {
                dc->pst = P_KEY;
            } else {
                return fail(dc, "tar offset %" PRIu64 ": malformed pax record length", here);
            }
            break;
        case P_KEY:
            if (c == '=') {
                dc->pst = P_VAL;
            } else if (c == '\n') {
                return fail(dc, "tar offset %" PRIu64 ": malformed pax record (no '=')", here);
            } else if (dc->pax_key_len < sizeof dc->pax_key - 1) {
                dc->pax_key[dc->pax_key_len++] = (char)c;
            } else {
                dc->pax_key_long = 1;
            }
            break;
        case P_VAL:
            if (dc->pax_read == dc->pax_len) {
                if (c != '\n')
                    return fail(dc, "tar offset %" PRIu64 ": pax record does not end in newline",
                                here);
                dc->pax_key[dc->pax_key_len] = '\0';
                if (!dc->pax_key_long && strcmp(dc->pax_key, "size") == 0 && dc->kind == 'x') {
                    if (dc->pax_val_bad || !dc->pax_val_digits)
                        return fail(dc, "tar offset %" PRIu64 ": bad pax size value", here);
                    dc->pending_size = dc->pax_val;
                    dc->pending_size_set = 1;
                }
                pax_reset(dc);
                continue;
            }
            if (c >= '0' && c <= '9' && dc->pax_val < (UINT64_C(1) << 58)) {
                dc->pax_val = dc->pax_val * 10 + (uint64_t)(c - '0');
                dc->pax_val_digits++;
            } else {
                dc->pax_val_bad = 1;
            }
            break;
        }
        if (dc->pst != P_LEN && dc->pax_read >= dc->pax_len)
            return fail(dc, "tar offset %" PRIu64 ": pax record longer than its length %" PRIu64,
                        here, dc->pax_len);
    }
    return 0;
}

static int counts_check(dumpcheck *dc)
{
    if (dc->has_meta && (dc->files != dc->meta_files || dc->bytes != dc->meta_bytes))
        return fail(dc,
                    "metadata says %" PRIu64 " files / %" PRIu64 " bytes, tar holds %" PRIu64
                    " / %" PRIu64 " (end of archive at tar offset %" PRIu64 ")",
                    dc->meta_files, dc->meta_bytes, dc->files, dc->bytes, dc->first_zero_off);
    return 0;
}

static int header_done(dumpcheck *dc)
{
    const unsigned char *h = dc->hdr;
    uint64_t at = dc->hdr_off;
    int zero = 1;
    for (size_t i = 0; i < BLOCK; i++)
        if (h[i]) {
            zero = 0;
            break;
        }
    if (zero) {
        if (dc->pending_meta)
            return fail(dc,
                        "tar offset %" PRIu64 ": end-of-archive block right after a pax/GNU "
                        "extended header (the entry it describes is missing)",
                        at);
        if (dc->zero_blocks == 0)
            dc->first_zero_off = at;
        dc->zero_blocks++;
        if (dc->zero_blocks == 2) {
            dc->tst = T_END;
            return counts_check(dc);
        }
        return 0;
    }
    if (dc->zero_blocks)
        return fail(dc,
                    "tar offset %" PRIu64 ": a lone zero block at tar offset %" PRIu64
                    " followed by another header (end-of-archive needs two zero blocks)",
                    at, dc->first_zero_off);

    /* Checksum: the field counts as spaces; tar accepts signed or unsigned. */
    uint64_t stored;
    unsigned long usum = 0;
    long ssum = 0;
    for (size_t i = 0; i < BLOCK; i++) {
        unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
        usum += c;
        ssum += (signed char)c;
    }
    if (parse_octal(h + 148, 8, &stored) < 0) {
        char shown[80];
        describe(h + 148, 8, shown, sizeof shown);
        return fail(dc, "tar offset %" PRIu64 ": header checksum field is not octal (%s)", at,
                    shown);
    }
    if (stored != usum && (long long)stored != (long long)ssum)
        return fail(dc, "tar offset %" PRIu64 ": header checksum %lu != stored %" PRIu64, at, usum,
                    stored);
    if (memcmp(h + 257, "ustar", 5) != 0 || (h[262] != '\0' && h[262] != ' ')) {
        char shown[80];
        describe(h + 257, 8, shown, sizeof shown);
        return fail(dc, "tar offset %" PRIu64 ": not a ustar header (magic %s)", at, shown);
    }

    char nm[101], pre[156];
    field_str(h, 100, nm, sizeof nm);
    field_str(h + 345, 155, pre, sizeof pre);
    if (dc->longname_set)
        snprintf(dc->name, sizeof dc->name, "%s", dc->longname);
    else if (pre[0] && h[156] != 'L' && h[156] != 'K')
        snprintf(dc->name, sizeof dc->name, "%.150s/%.100s", pre, nm);
    else
        snprintf(dc->name, sizeof dc->name, "%s", nm);

    uint64_t size;
    if (parse_size(h + 124, &size) < 0) {
        char shown[80];
        describe(h + 124, 12, shown, sizeof shown);
        return fail(dc, "tar offset %" PRIu64 ": size field of \"%s\" is not a number (%s)", at,
                    dc->name, shown);
    }
    char t = (char)h[156];
    dc->kind = t;
    if (t == 'x' || t == 'g' || t == 'L' || t == 'K') {
        /* Extended headers: their data describes the next entry. */
        if (size > (1u << 20))
            return fail(dc, "tar offset %" PRIu64 ": extended header of %" PRIu64 " bytes", at,
                        size);
        dc->pending_meta = (t != 'g');
        if (t == 'L')
            dc->longname_len = 0;
        pax_reset(dc);
    } else {
        if (dc->pending_size_set)
            size = dc->pending_size;
        dc->pending_meta = 0;
        dc->pending_size_set = 0;
        dc->longname_set = 0;
        dc->entries++;
        if (t == '0' || t == '\0' || t == '7') {
            dc->files++;
            dc->bytes += size;
        }
    }
    dc->data_size = size;
    dc->data_left = size;
    dc->pad_left = (BLOCK - size % BLOCK) % BLOCK;
    dc->tst = T_DATA;
    return 0;
}

/* End of an extended header's data. */
static int meta_entry_done(dumpcheck *dc)
{
    if (dc->kind == 'x' || dc->kind == 'g') {
        if (dc->pst != P_LEN || dc->pax_len != 0)
            return fail(dc, "tar offset %" PRIu64 ": pax header ends inside a record", dc->tar_off);
    } else if (dc->kind == 'L') {
        size_t n = dc->longname_len;
        while (n > 0 && dc->longname[n - 1] == '\0')
            n--;
        dc->longname[n] = '\0';
        dc->longname_set = 1;
    }
    return 0;
}

/* After data or padding: once both are used up, the next header follows. */
static int entry_done(dumpcheck *dc)
{
    if (dc->data_left != 0 || dc->pad_left != 0)
        return 0;
    if (dc->kind == 'x' || dc->kind == 'g' || dc->kind == 'L' || dc->kind == 'K')
        if (meta_entry_done(dc) < 0)
            return -1;
    dc->tst = T_HDR;
    return 0;
}

static int tar_feed(dumpcheck *dc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t k;
        switch (dc->tst) {
        case T_META:
            dc->dec_off += fill(dc->meta, &dc->meta_len, META_SIZE, &p, &n);
            if (dc->meta_len < META_SIZE)
                break;
            if (memcmp(dc->meta, "zstd", 4) != 0) {
                char shown[120];
                describe(dc->meta, 4, shown, sizeof shown);
                return fail(dc,
                            "decompressed offset 0: metadata block should start with \"zstd\", "
                            "found %s",
                            shown);
            }
            uint32_t ver = (uint32_t)dc->meta[4] << 24 | (uint32_t)dc->meta[5] << 16 |
                           (uint32_t)dc->meta[6] << 8 | dc->meta[7];
            if (ver != 1)
                return fail(dc,
                            "decompressed offset 4: metadata block version %" PRIu32 ", expected 1",
                            ver);
            dc->meta_files = be_get64(dc->meta + 8);
            dc->meta_bytes = be_get64(dc->meta + 16);
            dc->has_meta = 1;
            dc->tst = T_HDR;
            break;
        case T_HDR:
            if (dc->hdr_len == 0)
                dc->hdr_off = dc->tar_off;
            k = fill(dc->hdr, &dc->hdr_len, BLOCK, &p, &n);
            dc->tar_off += k;
            dc->dec_off += k;
            if (dc->hdr_len < BLOCK)
                break;
            dc->hdr_len = 0;
            if (header_done(dc) < 0)
                return -1;
            if (dc->tst == T_DATA && entry_done(dc) < 0)
                return -1;
            break;
        case T_DATA:
            if (dc->data_left > 0) {
                k = dc->data_left < n ? (size_t)dc->data_left : n;
                if (dc->kind == 'x' || dc->kind == 'g') {
                    if (pax_feed(dc, p, k, dc->tar_off) < 0)
                        return -1;
                } else if (dc->kind == 'L') {
                    size_t room = sizeof dc->longname - 1 - dc->longname_len;
                    size_t c = k < room ? k : room;
                    memcpy(dc->longname + dc->longname_len, p, c);
                    dc->longname_len += c;
                }
                dc->data_left -= k;
            } else {
                k = dc->pad_left < n ? (size_t)dc->pad_left : n;
                dc->pad_left -= k;
            }
            dc->tar_off += k;
            dc->dec_off += k;
            p += k;
            n -= k;
            if (entry_done(dc) < 0)
                return -1;
            break;
        case T_END:
            /* tar pads to its record size with zeros; nothing else may follow. */
            for (size_t i = 0; i < n; i++)
                if (p[i])
                    return fail(dc,
                                "tar offset %" PRIu64 ": non-zero byte 0x%02x after the "
                                "end-of-archive blocks",
                                dc->tar_off + i, p[i]);
            dc->tar_off += n;
            dc->dec_off += n;
            dc->end_padding += n;
            n = 0;
            break;
        }
    }
    return 0;
}

static int inner_feed(dumpcheck *dc, const unsigned char *p, size_t n)
{
    if (n && tar_feed(dc, p, n) < 0) {
        dc->inner_failed = 1;
        return -1;
    }
    return 0;
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
    dc->off += fill(dc->zbuf, &dc->zlen, want, p, n);
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
                if (dc->frame_no > 0 && dc->tst == T_END) {
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
    describe_h(dc->show, dc->show_len, shown, sizeof shown, 1);
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
        dc->tst = T_HDR;
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
    if (dc->member_no > 0 && dc->tst == T_END) {
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
            fill(dc->show, &dc->show_len, 4, &p, &n);
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
        text_scan(dc, p, len);
        return text_decide(dc, 0);
    }
    uint64_t at = dc->scan_off;
    if (feed(dc, p, len) == 0) {
        text_scan(dc, p, len);
        return 0;
    }
    if (!dc->failed)
        return -1; /* out of memory: not a verdict */
    /* Scan what the layers took, then what follows if the verdict waits. */
    size_t used = dc->off > at ? (dc->off - at < len ? (size_t)(dc->off - at) : len) : 0;
    text_scan(dc, p, used);
    if (text_after_break(dc) < 0)
        return -1;
    text_scan(dc, p + used, len - used);
    return text_decide(dc, 0);
}

static int tar_incomplete(dumpcheck *dc, const char *why)
{
    switch (dc->tst) {
    case T_META:
        return fail(dc,
                    "%sthe decompressed stream ends after %" PRIu64
                    " bytes, inside the 24-byte metadata block",
                    why, dc->dec_off);
    case T_HDR:
        if (dc->hdr_len)
            return fail(
                dc, "%sthe tar ends inside a header at tar offset %" PRIu64 " (%zu of 512 bytes)",
                why, dc->hdr_off, dc->hdr_len);
        if (dc->zero_blocks == 1)
            return fail(dc,
                        "%sonly one tar end-of-archive block (tar offset %" PRIu64
                        "), two are required",
                        why, dc->first_zero_off);
        return fail(dc,
                    "%smissing tar end-of-archive blocks: the tar ends at tar offset %" PRIu64
                    " after %" PRIu64 " entries",
                    why, dc->tar_off, dc->entries);
    case T_DATA:
        return fail(dc,
                    "%sthe tar ends inside the data of \"%s\" at tar offset %" PRIu64 " (%" PRIu64
                    " of %" PRIu64 " bytes and padding missing)",
                    why, dc->name, dc->tar_off, dc->data_left + dc->pad_left,
                    dc->data_size + (BLOCK - dc->data_size % BLOCK) % BLOCK);
    case T_END:
        break;
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
        if (dc->zst == ZS_MAGIC && dc->zlen > 0 && !(dc->frame_no > 0 && dc->tst == T_END))
            return fail(dc,
                        "dump ended after %" PRIu64 " bytes, inside a zstd frame magic at dump "
                        "offset %" PRIu64 " (cut?)",
                        dc->off, dc->unit_off);
        if (dc->zst != ZS_MAGIC || dc->zlen > 0) {
            if (dc->zst == ZS_MAGIC && dc->frame_no > 0 && dc->tst == T_END) {
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
            if (dc->member_no > 0 && dc->tst == T_END) {
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
        describe_h(dc->show, dc->show_len, shown, sizeof shown, 1);
        return fail(dc,
                    "%" PRIu64 " bytes after the end of the compressed stream (from dump offset "
                    "%" PRIu64 "): %s",
                    dc->trail_bytes, dc->show_off, shown);
    }
    if (dc->tar_off % BLOCK)
        return fail(dc, "the tar ends with a partial block (tar size %" PRIu64 ")", dc->tar_off);
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
        out->files = dc->files;
        out->bytes = dc->bytes;
        out->entries = dc->entries;
        out->dump_size = dc->off;
        out->decompressed = dc->dec_off;
    }
    return rc;
}
