/* dumpcheck_text: lines of text among the raw bytes (see dumpcheck_text.h
 * for what it promises).
 *
 * Text written into the dump breaks the compressed stream where it lands,
 * but the decoder notices only later: at the end of the block that
 * swallowed it (up to 128 KiB on) or at the next header or checksum, with a
 * reason that says nothing of text.  So the raw bytes after the prefix are
 * scanned for runs of printable ASCII, and when the stream breaks, a line
 * of text (at least TEXT_MIN printable characters and a line end) in the
 * region where the break can have started becomes the reason (dumpcheck.c,
 * text_region and text_decide).
 *
 * Compressed data holds such lines almost never (a random byte is printable
 * ASCII with p = 0.37: 20 of them and a newline, p ~ 1e-11 per offset), and
 * they are looked for only once the stream is already broken.  The offset
 * may be a byte or two early: compressed bytes just before the text can be
 * printable too (the excerpt shows them).
 *
 * The state is the run of printable bytes open at the end of what was
 * scanned (a line may be cut across pieces) and a ring of the last lines. */
#include "dumpcheck_text.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MIN      20          /* printable characters before the line end, at least */
#define TEXT_LINE_MAX (64 * 1024) /* a longer run without a line end is no line */
#define TEXT_EXCERPT  96          /* characters of it shown */
#define TEXT_CANDS    4           /* text runs remembered */

/* A run of text in the raw bytes that qualifies (text_record). */
typedef struct {
    uint64_t start, end; /* dump offsets */
    unsigned char ex[TEXT_EXCERPT];
    size_t ex_len;
} text_cand;

struct dumpcheck_text {
    uint64_t scan_from;          /* where the compressed stream starts; UINT64_MAX: not known yet */
    uint64_t scan_off;           /* raw bytes scanned */
    uint64_t run_start, run_len; /* the printable run open at scan_off */
    unsigned char run_ex[TEXT_EXCERPT];
    size_t run_ex_len;
    text_cand cands[TEXT_CANDS]; /* a ring of the last ones */
    uint64_t n_cands;
};

dumpcheck_text *dumpcheck_text_new(void)
{
    dumpcheck_text *t = calloc(1, sizeof *t);
    if (t)
        t->scan_from = UINT64_MAX;
    return t;
}

void dumpcheck_text_free(dumpcheck_text *t)
{
    free(t);
}

void dumpcheck_text_from(dumpcheck_text *t, uint64_t from)
{
    t->scan_from = from;
}

uint64_t dumpcheck_text_scanned(const dumpcheck_text *t)
{
    return t->scan_off;
}

static int is_text(unsigned char c)
{
    return (unsigned char)(c - 0x20) < 0x5f || c == '\t';
}

/* Keep the line [START, START+LEN) (its first characters in EX) when it
 * qualifies; the next line of a block of lines extends the last one kept. */
static void text_record(dumpcheck_text *t, uint64_t start, uint64_t len, const unsigned char *ex,
                        size_t ex_len)
{
    if (len < TEXT_MIN || len > TEXT_LINE_MAX)
        return;
    if (t->n_cands > 0) {
        text_cand *last = &t->cands[(t->n_cands - 1) % TEXT_CANDS];
        if (start <= last->end + 2) { /* after "\n" or "\r\n" */
            last->end = start + len;
            return;
        }
    }
    text_cand *c = &t->cands[t->n_cands % TEXT_CANDS];
    t->n_cands++;
    c->start = start;
    c->end = start + len;
    c->ex_len = ex_len < TEXT_EXCERPT ? ex_len : TEXT_EXCERPT;
    memcpy(c->ex, ex, c->ex_len);
}

/* The printable run at the end of the bytes scanned so far becomes P[0..N)
 * (START: its dump offset), or grows by it (EXTEND). */
static void run_set(dumpcheck_text *t, uint64_t start, const unsigned char *p, size_t n, int extend)
{
    if (!extend) {
        t->run_start = start;
        t->run_len = 0;
        t->run_ex_len = 0;
    }
    t->run_len += n;
    size_t k = TEXT_EXCERPT - t->run_ex_len;
    if (k > n)
        k = n;
    memcpy(t->run_ex + t->run_ex_len, p, k);
    t->run_ex_len += k;
}

/* The offset of the first C in P[I..N), N when none. */
static size_t find_byte(const unsigned char *p, size_t i, size_t n, unsigned char c)
{
    const unsigned char *q = i < n ? memchr(p + i, c, n - i) : NULL;
    return q ? (size_t)(q - p) : n;
}

/* Scan N raw bytes at dump offset t->scan_off (advanced).  A line needs a
 * line end ('\n' or '\r'), so only those are visited (memchr), and from each
 * the run before it, which in compressed data is a byte or two: the cost
 * stays near memchr's. */
void dumpcheck_text_scan(dumpcheck_text *t, const unsigned char *p, size_t n)
{
    uint64_t at = t->scan_off;
    t->scan_off += n;
    if (n == 0 || t->scan_from == UINT64_MAX || at + n <= t->scan_from)
        return;
    if (at < t->scan_from) { /* the format prefix is no text */
        p += t->scan_from - at;
        n -= (size_t)(t->scan_from - at);
        at = t->scan_from;
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
        run_set(t, at + s, p + s, e - s, s == 0 && t->run_len > 0);
        text_record(t, t->run_start, t->run_len, t->run_ex, t->run_ex_len);
        t->run_len = 0;
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
        t->run_len = 0;
    else
        run_set(t, at + s, p + s, n - s, s == 0 && t->run_len > 0);
}

int dumpcheck_text_find(const dumpcheck_text *t, uint64_t start, uint64_t point, int at_eof,
                        dumpcheck_text_line *line)
{
    uint64_t first = t->n_cands > TEXT_CANDS ? t->n_cands - TEXT_CANDS : 0;
    for (uint64_t k = first; k < t->n_cands; k++) {
        const text_cand *c = &t->cands[k % TEXT_CANDS];
        if (c->end >= start && c->start <= point) {
            line->start = c->start;
            line->ex = c->ex;
            line->ex_len = c->ex_len;
            line->cut = c->end - c->start > c->ex_len;
            return DUMPCHECK_TEXT_FOUND;
        }
    }
    if (t->run_len > 0 && t->run_start <= point && t->run_start + t->run_len >= start) {
        if (!at_eof && t->run_len <= TEXT_LINE_MAX)
            return DUMPCHECK_TEXT_WAIT; /* the run may still become a line */
    }
    if (!at_eof && t->scan_off <= point)
        return DUMPCHECK_TEXT_WAIT; /* a run may start at the failing byte itself */
    return DUMPCHECK_TEXT_NONE;
}

void dumpcheck_text_describe(const dumpcheck_text_line *line, strbuf *b)
{
    strbuf_printf(b, "text inside the dump at offset %" PRIu64 ": \"", line->start);
    for (size_t i = 0; i < line->ex_len; i++) {
        if (line->ex[i] == '"' || line->ex[i] == '\\')
            strbuf_append(b, "\\", 1);
        strbuf_put_printable(b, (const char *)line->ex + i, 1);
    }
    strbuf_printf(b, "%s\" (a line of text, e.g. log output written into the dump)",
                  line->cut ? "..." : "");
}
