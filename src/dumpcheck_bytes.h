/* dumpcheck_bytes: two small helpers every dumpcheck layer uses.  They
 * promise:
 *   - dumpcheck_fill collects a fixed-size unit (a tar header, a zstd block
 *     header, the format prefix) from input that arrives in pieces of any
 *     size, so that a layer's verdict does not depend on the pieces;
 *   - dumpcheck_show writes bytes into a reason the same way everywhere:
 *     quoted when they are a line of text (4 printable characters or more,
 *     up to the end or to a line end; '"' shown as '\''), else as hex
 *     ("bytes 1f 8b ...", at most 16 bytes shown).
 * No state, no allocation. */
#ifndef N4O_DUMPCHECK_BYTES_H
#define N4O_DUMPCHECK_BYTES_H

#include <stddef.h>
#include <string.h>

/* Move bytes from the input (P, N: both advanced) into BUF until it holds
 * WANT (*LEN so far, advanced); returns the bytes taken. */
static inline size_t dumpcheck_fill(unsigned char *buf, size_t *len, size_t want,
                                    const unsigned char **p, size_t *n)
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

/* Describe P[0..N) into OUT (OUTSZ bytes, always terminated).  A line that
 * takes all N bytes gets "..." when MORE (the bytes were cut from a longer
 * run), and LINE_HINT adds " (a line of text, e.g. log output written into
 * the dump)" after a line. */
void dumpcheck_show(const unsigned char *p, size_t n, int more, int line_hint, char *out,
                    size_t outsz);

#endif
