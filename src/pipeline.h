/* pipeline: the data path (docs/ARCHITECTURE.md), both directions.
 *
 * backup:  source (dump child stdout, or a local dump file)
 *            -> dumpcheck -> local plain copy            (reading thread)
 *            => plaintext size + BLAKE2b                  (hash thread)
 *            => encrypt                                   (encrypt thread)
 *            => archive size + BLAKE2b                    (hash thread)
 *            => one writer thread per remote
 *          "=>" is a bounded ring (ring.h): every stage sees every block in
 *          order, the slowest consumer sets the pace, and the stages run on
 *          separate cores.
 *          Archives are committed only after the source ended cleanly and
 *          validated; otherwise every writer aborts and nothing is published.
 *          Manifests are written by the caller, after the archives.
 * fetch:   remote reader => archive size + BLAKE2b
 *                         => decrypt => plaintext size + BLAKE2b
 *                                    => dumpcheck -> output (atomic file, fd)
 *
 * Memory is bounded by the constants below, never by the dump size. */
#ifndef N4O_PIPELINE_H
#define N4O_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "dumpcheck.h"
#include "err.h"
#include "keys.h"
#include "manifest.h"
#include "neo4j.h"

#define PIPELINE_MAX_REMOTES 16
#define PIPELINE_READ_SIZE   (256u * 1024u) /* plaintext / read blocks */
#define PIPELINE_READ_BLOCKS 8u
#define PIPELINE_RING_BLOCK  (1024u * 1024u) /* archive blocks to the remotes */
#define PIPELINE_RING_BLOCKS 4u

typedef struct {
    neo4j_child *child;                  /* source: a running dump (owned: finished or killed) */
    int fd;                              /* source when CHILD is NULL */
    uint64_t size_hint;                  /* for progress and backends; 0 when unknown */
    int validate;                        /* run dumpcheck over the plaintext */
    const uint8_t *expect_plain_blake2b; /* re-reading a local copy: must match */
    const char *local_path;              /* write a plain copy here (atomic); NULL none */
    const keys_public *recipient;        /* needed with remotes */
    backend *const *remotes;
    size_t n_remotes;
    const char *archive_name; /* "<prefix>_<db>_<stamp>" */
    int progress;
    const char *label;
} pipeline_backup_job;

typedef struct {
    dumpcheck_result dump;
    uint64_t plain_size;
    uint8_t plain_blake2b[32];
    uint64_t archive_size;
    uint8_t archive_blake2b[32];
    uint8_t archive_header_blake2b[32];        /* for the manifest (format 2) */
    err_kind remote_err[PIPELINE_MAX_REMOTES]; /* ERR_NONE: archive committed there */
    char remote_msg[PIPELINE_MAX_REMOTES][1024];
    double seconds;
} pipeline_backup_result;

/* 0 when the source was read completely and is valid (remote outcomes are
 * in RES); -1 with err set when the source failed: then nothing was
 * published and no temporary file is left. */
int pipeline_backup(const pipeline_backup_job *job, pipeline_backup_result *res);

typedef struct {
    backend *remote;
    const manifest *m;         /* verified manifest of the archive */
    backend_reader *rd;        /* from pipeline_fetch_open (closed here), or NULL */
    const keys_secret *secret; /* NULL: check size and hash only */
    const char *out_path;      /* atomic output file; NULL none */
    int out_fd;                /* or write here; -1 none (format 2 archives only) */
    int skip_archive_hash;     /* with SECRET and format 2: the bound header and the
                                  authenticated chunks make the ciphertext hash redundant */
    int progress;
} pipeline_fetch_job;

typedef struct {
    dumpcheck_result dump;
    uint64_t archive_size, plain_size;
    double seconds;
} pipeline_fetch_result;

/* Open archive NAME of REMOTE for pipeline_fetch before its manifest is
 * read, so that the transfer gets going meanwhile; nothing of it is used
 * before the manifest is verified.  NULL with the error set. */
backend_reader *pipeline_fetch_open(backend *remote, const char *name);

/* Read, check against the manifest, and (with a secret) decrypt and validate
 * an archive.  ERR_INTEGRITY for any mismatch; OUT_PATH appears only when
 * everything passed.  OUT_FD receives plaintext as it authenticates, so it
 * is refused (ERR_USAGE) for format 1 archives, whose header is not bound to
 * the manifest.  When the output fails (no space, the reader of a pipe went
 * away) that is the error reported (ERR_FAIL), not what it did to the
 * stages before it. */
int pipeline_fetch(const pipeline_fetch_job *job, pipeline_fetch_result *res);

#endif
