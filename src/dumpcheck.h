/* dumpcheck: a streaming validator for neo4j-admin dumps, fed every byte of
 * the dump, in bounded memory.  Accepts the formats of
 * ../shared/fixtures/neo4j-dumps/README.md: DZV1/DGV1 prefix (Neo4j 5), bare
 * zstd or gzip (3.5, 4.x); zstd frame checksums, the metadata block, every
 * tar header, end-of-archive blocks, counts, nothing after. */
#ifndef N4O_DUMPCHECK_H
#define N4O_DUMPCHECK_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char format[8]; /* "DZV1", "DGV1", "zstd", "gzip" */
    char era[8];    /* "5.x" or "3.5/4.x" */
    uint64_t files; /* regular files in the tar */
    uint64_t bytes; /* their total size */
    uint64_t entries; /* all tar entries */
    uint64_t dump_size; /* bytes fed */
} dumpcheck_result;

typedef struct dumpcheck dumpcheck;

dumpcheck *dumpcheck_new(void);
/* Feed the next bytes; -1 with ERR_INTEGRITY and a precise reason ("at dump
 * offset N: ...") at the first bad byte. */
int dumpcheck_update(dumpcheck *dc, const void *buf, size_t len);
/* The stream ended: -1 (ERR_INTEGRITY) unless it is complete. */
int dumpcheck_finish(dumpcheck *dc, dumpcheck_result *out);
void dumpcheck_free(dumpcheck *dc);

#endif
