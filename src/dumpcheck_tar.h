/* dumpcheck_tar: the check of a dump's decompressed stream, fed its bytes
 * in pieces of any size (the verdict does not depend on the pieces), in
 * fixed memory.  It knows nothing of zstd, gzip or the dump's own offsets.
 * It promises (docs/DUMPCHECK.md, "What is checked", 3 to 6):
 *   - the 24-byte metadata block first (unless dumpcheck_tar_no_metadata):
 *     "zstd", version 1, file count, byte count;
 *   - every tar header: its checksum (the unsigned or the signed sum, as tar
 *     accepts), the ustar magic, the size field (octal, or base-256 for
 *     8 GiB and up); then the entry's data and its padding to 512;
 *   - pax ('x', 'g') and GNU long-name ('L', 'K') headers describe the next
 *     entry and are not entries; a pax "size=" record overrides the next
 *     entry's size field; their data is at most 1 MiB;
 *   - typeflags '0', '\0' and '7' are regular files (counted with their
 *     bytes), every other header an entry;
 *   - the archive ends with two zero blocks, not a lone one followed by a
 *     header, and not right after an extended header; after them only zero
 *     bytes, and the stream ends on a 512-byte boundary;
 *   - the regular files and bytes equal the metadata block's counts.
 * A failure is -1 with a reason naming the offset: "tar offset N: ..."
 * (N counts the tar bytes, metadata not included) or "decompressed offset
 * N: ..." for the metadata block.  Nothing is allocated after
 * dumpcheck_tar_new; errno and the err module are left alone. */
#ifndef N4O_DUMPCHECK_TAR_H
#define N4O_DUMPCHECK_TAR_H

#include <stddef.h>
#include <stdint.h>

typedef struct dumpcheck_tar dumpcheck_tar;

typedef struct {
    uint64_t files;        /* regular files so far */
    uint64_t bytes;        /* their total size */
    uint64_t entries;      /* all entries (extended headers not counted) */
    uint64_t decompressed; /* bytes taken in (metadata + tar) */
} dumpcheck_tar_totals;

/* A checker expecting the metadata block; NULL when out of memory. */
dumpcheck_tar *dumpcheck_tar_new(void);
void dumpcheck_tar_free(dumpcheck_tar *t);
/* The stream carries no metadata block (gzip dumps): the tar starts at its
 * first byte.  Before the first dumpcheck_tar_feed only. */
void dumpcheck_tar_no_metadata(dumpcheck_tar *t);
/* The next N decompressed bytes: 0, or -1 at the first bad byte with the
 * reason in dumpcheck_tar_reason (and again on every later call). */
int dumpcheck_tar_feed(dumpcheck_tar *t, const unsigned char *p, size_t n);
/* 1 once both end-of-archive blocks have been seen (and the counts agreed):
 * only zero padding may follow. */
int dumpcheck_tar_ended(const dumpcheck_tar *t);
/* The decompressed stream ends here: 0 when the archive is complete, else
 * -1 with a reason that says where it stopped ("the tar ends inside ...",
 * "missing tar end-of-archive blocks: ...", "the tar ends with a partial
 * block ..."); callers put what ended the stream in front of it. */
int dumpcheck_tar_finish(dumpcheck_tar *t);
/* The reason of the last failure ("" when none). */
const char *dumpcheck_tar_reason(const dumpcheck_tar *t);
/* What was counted so far, also after a failure (then decompressed may
 * stop short of the bad byte, by up to the piece that held it). */
dumpcheck_tar_totals dumpcheck_tar_count(const dumpcheck_tar *t);

#endif
