/* dumpcheck: a streaming validator for neo4j-admin dumps, fed every byte of
 * the dump, in bounded memory.  Accepts the formats of
 * ../shared/fixtures/neo4j-dumps/README.md: DZV1/DGV1 prefix (Neo4j 5), bare
 * zstd or gzip (3.5, 4.x); zstd frame checksums, the metadata block, every
 * tar header, end-of-archive blocks, counts, nothing after.  docs/DUMPCHECK.md
 * lists every check and reason. */
#ifndef N4O_DUMPCHECK_H
#define N4O_DUMPCHECK_H

#include <stddef.h>
#include <stdint.h>

/* Largest zstd window accepted (2^24 = 16 MiB; Neo4j writes 2 MiB windows).
 * It bounds the decoder's memory whatever the dump says. */
#define DUMPCHECK_WINDOW_LOG_MAX 24

typedef struct {
    char format[8];        /* "DZV1", "DGV1", "zstd", "gzip" */
    char era[8];           /* "5.x" or "3.5/4.x" */
    uint64_t files;        /* regular files in the tar */
    uint64_t bytes;        /* their total size */
    uint64_t entries;      /* all tar entries */
    uint64_t dump_size;    /* bytes fed */
    uint64_t decompressed; /* bytes out of the decompressor (metadata + tar) */
} dumpcheck_result;

typedef struct dumpcheck dumpcheck;

/* A new validator expecting the first byte of a dump; NULL (ERR_FAIL) when
 * out of memory. */
dumpcheck *dumpcheck_new(void);
/* Feed the next bytes, in pieces of any size (the outcome does not depend on
 * how the dump is cut into pieces); -1 with ERR_INTEGRITY and a precise
 * reason ("dump offset N: ...", "tar offset N: ...") at the first bad byte.
 * A line of text inside the compressed stream (a log line written into the
 * dump) is the reason when it is what broke it: "text inside the dump at
 * offset N: "<excerpt>" (...); decoding then failed: <the decoder's
 * reason>".  To see whether a line is what broke it, the verdict may come
 * later than the first bad byte: once the text run open there has ended
 * (at most 64 KiB), or at the end of the zstd block being decoded (at most
 * 128 KiB), or at dumpcheck_finish.  After a failure every call fails again
 * with the same reason. */
int dumpcheck_update(dumpcheck *dc, const void *buf, size_t len);
/* The stream ended: -1 (ERR_INTEGRITY) unless it is complete.  OUT (may be
 * NULL) gets what is known so far even on failure. */
int dumpcheck_finish(dumpcheck *dc, dumpcheck_result *out);
void dumpcheck_free(dumpcheck *dc);

#endif
