/* dumpcheck_text: lines of text among a dump's raw bytes (a log line that
 * Neo4j or the JVM wrote to the stdout carrying the dump), looked for so
 * that a broken stream can be put down to them (docs/DUMPCHECK.md, "Text in
 * the dump").  It promises:
 *   - a line is a run of at least 20 printable ASCII characters (tab
 *     included) ended by '\n' or '\r', at most 64 KiB long; lines that
 *     follow each other (after "\n" or "\r\n") count as one;
 *   - only bytes from the offset given to dumpcheck_text_from on are looked
 *     at (the format prefix is no text), and only the line ends are visited
 *     (memchr): the scan costs about what memchr does;
 *   - the last 4 lines and the run still open are remembered, each with its
 *     first 96 characters; memory is fixed;
 *   - what it finds does not depend on how the bytes are cut into pieces.
 * Whether a stream broke, and where, is the caller's: it asks
 * dumpcheck_text_find for a line in a region of offsets. */
#ifndef N4O_DUMPCHECK_TEXT_H
#define N4O_DUMPCHECK_TEXT_H

#include "strbuf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dumpcheck_text dumpcheck_text;

/* A line found: its dump offset and first characters. */
typedef struct {
    uint64_t start;
    const unsigned char *ex; /* owned by the dumpcheck_text; valid until the next scan */
    size_t ex_len;
    int cut; /* the line goes on after the excerpt */
} dumpcheck_text_line;

enum { DUMPCHECK_TEXT_NONE = -1, DUMPCHECK_TEXT_WAIT = 0, DUMPCHECK_TEXT_FOUND = 1 };

/* A scanner at dump offset 0 that looks at nothing until told where from;
 * NULL when out of memory. */
dumpcheck_text *dumpcheck_text_new(void);
void dumpcheck_text_free(dumpcheck_text *t);
/* Look for text from dump offset FROM on (where the compressed stream
 * starts).  Before the bytes at FROM are scanned. */
void dumpcheck_text_from(dumpcheck_text *t, uint64_t from);
/* The next N raw bytes of the dump. */
void dumpcheck_text_scan(dumpcheck_text *t, const unsigned char *p, size_t n);
/* The raw bytes scanned so far (the dump offset of the next one). */
uint64_t dumpcheck_text_scanned(const dumpcheck_text *t);
/* Is there a line that touches [START, POINT] (the region where the break
 * can have started; text starting at POINT counts)?  FOUND with *LINE set
 * (the oldest such line remembered); WAIT while the bytes scanned cannot
 * tell yet (a run open there may still become a line, or POINT is not
 * scanned yet); NONE.  AT_EOF: no more bytes come, never WAIT. */
int dumpcheck_text_find(const dumpcheck_text *t, uint64_t start, uint64_t point, int at_eof,
                        dumpcheck_text_line *line);
/* Append to B: text inside the dump at offset N: "<excerpt>" (a line of
 * text, e.g. log output written into the dump) - the excerpt with '"' and
 * '\' escaped by a backslash, other bytes as by strbuf_put_printable, and
 * "..." when cut.  An out-of-memory failure is left in B (strbuf_failed). */
void dumpcheck_text_describe(const dumpcheck_text_line *line, strbuf *b);

#endif
