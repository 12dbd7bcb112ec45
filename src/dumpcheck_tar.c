/* dumpcheck_tar: the decompressed stream of a dump, walked as it arrives
 * (see dumpcheck_tar.h for what it promises).
 *
 * A push parser with four states: the metadata block, a header (collected
 * whole, whatever the pieces), an entry's data and padding (skipped, except
 * the data of extended headers, which is parsed: pax records byte by byte,
 * a GNU long name kept), and after the end-of-archive blocks.  State is a
 * few fixed buffers: memory does not grow with the archive. */
#include "dumpcheck_tar.h"

#include "bytes_be.h"
#include "dumpcheck_bytes.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_SIZE  24         /* the metadata block before the tar (zstd dumps) */
#define BLOCK      512        /* tar block */
#define EXT_MAX    (1u << 20) /* largest extended header data accepted */
#define REASON_MAX 1024

enum tar_state { T_META, T_HDR, T_DATA, T_END };

enum pax_state { P_LEN, P_KEY, P_VAL };

struct dumpcheck_tar {
    int failed;
    char reason[REASON_MAX];

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
};

static int fail(dumpcheck_tar *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(dumpcheck_tar *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->reason, sizeof t->reason, fmt, ap);
    va_end(ap);
    t->failed = 1;
    return -1;
}

static void describe(const unsigned char *p, size_t n, char *out, size_t outsz)
{
    dumpcheck_show(p, n, 0, 0, out, outsz);
}

dumpcheck_tar *dumpcheck_tar_new(void)
{
    dumpcheck_tar *t = calloc(1, sizeof *t);
    if (t)
        t->tst = T_META;
    return t;
}

void dumpcheck_tar_free(dumpcheck_tar *t)
{
    free(t);
}

void dumpcheck_tar_no_metadata(dumpcheck_tar *t)
{
    t->tst = T_HDR;
}

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

static void pax_reset(dumpcheck_tar *t)
{
    t->pst = P_LEN;
    t->pax_len = t->pax_read = 0;
    t->pax_key_len = 0;
    t->pax_key_long = 0;
    t->pax_val = 0;
    t->pax_val_digits = t->pax_val_bad = 0;
}

/* Parse pax records "LEN KEY=VALUE\n" byte by byte; only "size" matters to
 * the walk (it overrides the next header's size field). */
static int pax_feed(dumpcheck_tar *t, const unsigned char *p, size_t n, uint64_t at)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        uint64_t here = at + i;
        t->pax_read++;
        switch (t->pst) {
        case P_LEN:
            if (c >= '0' && c <= '9' && t->pax_len < (1u << 30)) {
                t->pax_len = t->pax_len * 10 + (uint64_t)(c - '0');
            } else if (c == ' ' && t->pax_len > 0) {
                t->pst = P_KEY;
            } else {
                return fail(t, "tar offset %" PRIu64 ": malformed pax record length", here);
            }
            break;
        case P_KEY:
            if (c == '=') {
                t->pst = P_VAL;
            } else if (c == '\n') {
                return fail(t, "tar offset %" PRIu64 ": malformed pax record (no '=')", here);
            } else if (t->pax_key_len < sizeof t->pax_key - 1) {
                t->pax_key[t->pax_key_len++] = (char)c;
            } else {
                t->pax_key_long = 1;
            }
            break;
        case P_VAL:
            if (t->pax_read == t->pax_len) {
                if (c != '\n')
                    return fail(t, "tar offset %" PRIu64 ": pax record does not end in newline",
                                here);
                t->pax_key[t->pax_key_len] = '\0';
                if (!t->pax_key_long && strcmp(t->pax_key, "size") == 0 && t->kind == 'x') {
                    if (t->pax_val_bad || !t->pax_val_digits)
                        return fail(t, "tar offset %" PRIu64 ": bad pax size value", here);
                    t->pending_size = t->pax_val;
                    t->pending_size_set = 1;
                }
                pax_reset(t);
                continue;
            }
            if (c >= '0' && c <= '9' && t->pax_val < (UINT64_C(1) << 58)) {
                t->pax_val = t->pax_val * 10 + (uint64_t)(c - '0');
                t->pax_val_digits++;
            } else {
                t->pax_val_bad = 1;
            }
            break;
        }
        if (t->pst != P_LEN && t->pax_read >= t->pax_len)
            return fail(t, "tar offset %" PRIu64 ": pax record longer than its length %" PRIu64,
                        here, t->pax_len);
    }
    return 0;
}

static int counts_check(dumpcheck_tar *t)
{
    if (t->has_meta && (t->files != t->meta_files || t->bytes != t->meta_bytes))
        return fail(t,
                    "metadata says %" PRIu64 " files / %" PRIu64 " bytes, tar holds %" PRIu64
                    " / %" PRIu64 " (end of archive at tar offset %" PRIu64 ")",
                    t->meta_files, t->meta_bytes, t->files, t->bytes, t->first_zero_off);
    return 0;
}

static int header_done(dumpcheck_tar *t)
{
    const unsigned char *h = t->hdr;
    uint64_t at = t->hdr_off;
    int zero = 1;
    for (size_t i = 0; i < BLOCK; i++)
        if (h[i]) {
            zero = 0;
            break;
        }
    if (zero) {
        if (t->pending_meta)
            return fail(t,
                        "tar offset %" PRIu64 ": end-of-archive block right after a pax/GNU "
                        "extended header (the entry it describes is missing)",
                        at);
        if (t->zero_blocks == 0)
            t->first_zero_off = at;
        t->zero_blocks++;
        if (t->zero_blocks == 2) {
            t->tst = T_END;
            return counts_check(t);
        }
        return 0;
    }
    if (t->zero_blocks)
        return fail(t,
                    "tar offset %" PRIu64 ": a lone zero block at tar offset %" PRIu64
                    " followed by another header (end-of-archive needs two zero blocks)",
                    at, t->first_zero_off);

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
        return fail(t, "tar offset %" PRIu64 ": header checksum field is not octal (%s)", at,
                    shown);
    }
    if (stored != usum && (long long)stored != (long long)ssum)
        return fail(t, "tar offset %" PRIu64 ": header checksum %lu != stored %" PRIu64, at, usum,
                    stored);
    if (memcmp(h + 257, "ustar", 5) != 0 || (h[262] != '\0' && h[262] != ' ')) {
        char shown[80];
        describe(h + 257, 8, shown, sizeof shown);
        return fail(t, "tar offset %" PRIu64 ": not a ustar header (magic %s)", at, shown);
    }

    char nm[101], pre[156];
    field_str(h, 100, nm, sizeof nm);
    field_str(h + 345, 155, pre, sizeof pre);
    if (t->longname_set)
        snprintf(t->name, sizeof t->name, "%s", t->longname);
    else if (pre[0] && h[156] != 'L' && h[156] != 'K')
        snprintf(t->name, sizeof t->name, "%.150s/%.100s", pre, nm);
    else
        snprintf(t->name, sizeof t->name, "%s", nm);

    uint64_t size;
    if (parse_size(h + 124, &size) < 0) {
        char shown[80];
        describe(h + 124, 12, shown, sizeof shown);
        return fail(t, "tar offset %" PRIu64 ": size field of \"%s\" is not a number (%s)", at,
                    t->name, shown);
    }
    char type = (char)h[156];
    t->kind = type;
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
        /* Extended headers: their data describes the next entry. */
        if (size > EXT_MAX)
            return fail(t, "tar offset %" PRIu64 ": extended header of %" PRIu64 " bytes", at,
                        size);
        t->pending_meta = (type != 'g');
        if (type == 'L')
            t->longname_len = 0;
        pax_reset(t);
    } else {
        if (t->pending_size_set)
            size = t->pending_size;
        t->pending_meta = 0;
        t->pending_size_set = 0;
        t->longname_set = 0;
        t->entries++;
        if (type == '0' || type == '\0' || type == '7') {
            t->files++;
            t->bytes += size;
        }
    }
    t->data_size = size;
    t->data_left = size;
    t->pad_left = (BLOCK - size % BLOCK) % BLOCK;
    t->tst = T_DATA;
    return 0;
}

/* End of an extended header's data. */
static int meta_entry_done(dumpcheck_tar *t)
{
    if (t->kind == 'x' || t->kind == 'g') {
        if (t->pst != P_LEN || t->pax_len != 0)
            return fail(t, "tar offset %" PRIu64 ": pax header ends inside a record", t->tar_off);
    } else if (t->kind == 'L') {
        size_t n = t->longname_len;
        while (n > 0 && t->longname[n - 1] == '\0')
            n--;
        t->longname[n] = '\0';
        t->longname_set = 1;
    }
    return 0;
}

/* After data or padding: once both are used up, the next header follows. */
static int entry_done(dumpcheck_tar *t)
{
    if (t->data_left != 0 || t->pad_left != 0)
        return 0;
    if (t->kind == 'x' || t->kind == 'g' || t->kind == 'L' || t->kind == 'K')
        if (meta_entry_done(t) < 0)
            return -1;
    t->tst = T_HDR;
    return 0;
}

static int tar_feed(dumpcheck_tar *t, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t k;
        switch (t->tst) {
        case T_META:
            t->dec_off += dumpcheck_fill(t->meta, &t->meta_len, META_SIZE, &p, &n);
            if (t->meta_len < META_SIZE)
                break;
            if (memcmp(t->meta, "zstd", 4) != 0) {
                char shown[120];
                describe(t->meta, 4, shown, sizeof shown);
                return fail(t,
                            "decompressed offset 0: metadata block should start with \"zstd\", "
                            "found %s",
                            shown);
            }
            uint32_t ver = (uint32_t)t->meta[4] << 24 | (uint32_t)t->meta[5] << 16 |
                           (uint32_t)t->meta[6] << 8 | t->meta[7];
            if (ver != 1)
                return fail(t,
                            "decompressed offset 4: metadata block version %" PRIu32 ", expected 1",
                            ver);
            t->meta_files = be_get64(t->meta + 8);
            t->meta_bytes = be_get64(t->meta + 16);
            t->has_meta = 1;
            t->tst = T_HDR;
            break;
        case T_HDR:
            if (t->hdr_len == 0)
                t->hdr_off = t->tar_off;
            k = dumpcheck_fill(t->hdr, &t->hdr_len, BLOCK, &p, &n);
            t->tar_off += k;
            t->dec_off += k;
            if (t->hdr_len < BLOCK)
                break;
            t->hdr_len = 0;
            if (header_done(t) < 0)
                return -1;
            if (t->tst == T_DATA && entry_done(t) < 0)
                return -1;
            break;
        case T_DATA:
            if (t->data_left > 0) {
                k = t->data_left < n ? (size_t)t->data_left : n;
                if (t->kind == 'x' || t->kind == 'g') {
                    if (pax_feed(t, p, k, t->tar_off) < 0)
                        return -1;
                } else if (t->kind == 'L') {
                    size_t room = sizeof t->longname - 1 - t->longname_len;
                    size_t c = k < room ? k : room;
                    memcpy(t->longname + t->longname_len, p, c);
                    t->longname_len += c;
                }
                t->data_left -= k;
            } else {
                k = t->pad_left < n ? (size_t)t->pad_left : n;
                t->pad_left -= k;
            }
            t->tar_off += k;
            t->dec_off += k;
            p += k;
            n -= k;
            if (entry_done(t) < 0)
                return -1;
            break;
        case T_END:
            /* tar pads to its record size with zeros; nothing else may follow. */
            for (size_t i = 0; i < n; i++)
                if (p[i])
                    return fail(t,
                                "tar offset %" PRIu64 ": non-zero byte 0x%02x after the "
                                "end-of-archive blocks",
                                t->tar_off + i, p[i]);
            t->tar_off += n;
            t->dec_off += n;
            t->end_padding += n;
            n = 0;
            break;
        }
    }
    return 0;
}

int dumpcheck_tar_feed(dumpcheck_tar *t, const unsigned char *p, size_t n)
{
    if (t->failed)
        return -1;
    return tar_feed(t, p, n);
}

int dumpcheck_tar_ended(const dumpcheck_tar *t)
{
    return t->tst == T_END;
}

int dumpcheck_tar_finish(dumpcheck_tar *t)
{
    switch (t->tst) {
    case T_META:
        return fail(t,
                    "the decompressed stream ends after %" PRIu64
                    " bytes, inside the 24-byte metadata block",
                    t->dec_off);
    case T_HDR:
        if (t->hdr_len)
            return fail(t,
                        "the tar ends inside a header at tar offset %" PRIu64 " (%zu of 512 bytes)",
                        t->hdr_off, t->hdr_len);
        if (t->zero_blocks == 1)
            return fail(
                t, "only one tar end-of-archive block (tar offset %" PRIu64 "), two are required",
                t->first_zero_off);
        return fail(t,
                    "missing tar end-of-archive blocks: the tar ends at tar offset %" PRIu64
                    " after %" PRIu64 " entries",
                    t->tar_off, t->entries);
    case T_DATA:
        return fail(t,
                    "the tar ends inside the data of \"%s\" at tar offset %" PRIu64 " (%" PRIu64
                    " of %" PRIu64 " bytes and padding missing)",
                    t->name, t->tar_off, t->data_left + t->pad_left,
                    t->data_size + (BLOCK - t->data_size % BLOCK) % BLOCK);
    case T_END:
        break;
    }
    if (t->tar_off % BLOCK)
        return fail(t, "the tar ends with a partial block (tar size %" PRIu64 ")", t->tar_off);
    return 0;
}

const char *dumpcheck_tar_reason(const dumpcheck_tar *t)
{
    return t->reason;
}

dumpcheck_tar_totals dumpcheck_tar_count(const dumpcheck_tar *t)
{
    dumpcheck_tar_totals c = {t->files, t->bytes, t->entries, t->dec_off};
    return c;
}
