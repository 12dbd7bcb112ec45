/* archives: what a remote holds, seen as archives (catalog names), and the
 * checks every reading command shares: resolving ARCHIVE / --latest, reading
 * and verifying a manifest. */
#ifndef N4O_ARCHIVES_H
#define N4O_ARCHIVES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "backend.h"
#include "catalog.h"
#include "keys.h"
#include "manifest.h"
#include "pipeline.h"

typedef enum {
    ARCHIVE_COMPLETE,   /* archive and manifest present */
    ARCHIVE_MISSING,    /* a manifest whose archive is gone or shorter than recorded:
                           an integrity finding */
    ARCHIVE_INCOMPLETE, /* no manifest: an upload in progress or abandoned */
} archive_state;

typedef struct {
    char name[CATALOG_NAME_MAX];
    char database[128];
    time_t created;
    uint64_t size; /* of the .dump.enc (or the partial upload) */
    archive_state state;
    int has_archive, has_manifest;
    uint64_t recorded_size; /* from the (unverified) manifest; set by archives_check_sizes */
    time_t mtime;           /* the newest modification (S3: upload start) time of its objects */
    int bad_manifest; /* its manifest cannot be parsed or is too large (archives_check_sizes) */
} archive_info;

/* "complete", "missing" or "incomplete" */
const char *archives_state_name(archive_state s);

/* Archives named with PREFIX ([local] name_prefix) on B, sorted by database then time (oldest
 * first).  Only objects matching the naming scheme are considered.  A manifest without its
 * archive is ARCHIVE_MISSING. */
int archives_list(backend *b, const char *prefix, archive_info **out, size_t *n);

/* The listing prefix of PREFIX's names ("<prefix>_") into OUT. */
int archives_list_prefix(const char *prefix, char out[CATALOG_NAME_MAX]);
/* 0 and *CE filled when E (a temporary name: its target) is an archive or
 * a manifest named with PREFIX; -1 (no error set) when it is not ours. */
int archives_parse_entry(const char *prefix, const backend_entry *e, catalog_entry *ce);
/* archives_list over a listing already made (ENTS stay the caller's). */
int archives_from_entries(const backend_entry *ents, size_t nents, const char *prefix,
                          archive_info **out, size_t *n);

/* Read the manifest of every complete archive in LIST (unverified: only the
 * recorded size is used) and mark ARCHIVE_MISSING those whose archive is
 * shorter than recorded.  A manifest that cannot be parsed, is too large,
 * or is gone since the listing leaves the entry as it is: verify says what
 * is wrong with it.  -1 only when the remote fails. */
int archives_check_sizes(backend *b, archive_info *list, size_t n);

/* The newest archive of DATABASE in LIST that has a manifest (complete or
 * missing: a manifest is the promise of an archive), or NULL. */
const archive_info *archives_latest(const archive_info *list, size_t n, const char *database);

/* The archive a reading command works on: ARG (an archive name, with or
 * without ".dump.enc") or, with LATEST, the newest archive of DATABASE on B
 * that has a manifest.  NAME_OUT gets the archive name.  An ARG with a
 * directory part must name an object directly under REMOTE_PATH (the
 * remote's path or prefix; NULL: none accepted), else ERR_USAGE: checking
 * the remote's NAME for a file elsewhere would report on a file never read. */
int archives_resolve(backend *b, const char *prefix, const char *remote_path, const char *arg,
                     int latest, const char *database, char name_out[CATALOG_NAME_MAX]);

/* After the newest archive of DATABASE (NAME) failed: the newest older one
 * whose manifest verifies with TRUSTED and whose archive has the recorded
 * size and BLAKE2b (read in full, nothing decrypted), for the operator to
 * choose; 1 and OUT filled when one was found, 0 when none, -1 when B
 * cannot be listed.  Never used silently in NAME's place: a restore from
 * an older archive is the operator's choice, not ours. */
int archives_older_verified(backend *b, const char *prefix, const char *database, const char *name,
                            const keys_public *trusted, size_t n_trusted,
                            char out[CATALOG_NAME_MAX]);
/* Append to the current error: "; the newest older archive that verifies
 * is X" or "; no older archive verifies" (when searching is possible). */
void archives_suggest_older(backend *b, const char *prefix, const char *database, const char *name,
                            const keys_public *trusted, size_t n_trusted);

/* Read NAME's manifest from B and verify it with TRUSTED; also check that it
 * describes NAME.  ERR_INTEGRITY for any finding. */
int archives_load_manifest(backend *b, const char *name, const keys_public *trusted,
                           size_t n_trusted, manifest *out);

/* Start reading NAME's archive from B (the transfer gets going while the
 * manifest is read), then read and verify its manifest into M.  A manifest
 * that verifies while its archive does not exist is ERR_INTEGRITY ("missing"):
 * the signed manifest promised it.  *RD is NULL on failure. */
int archives_open_verified(backend *b, const char *name, const keys_public *trusted,
                           size_t n_trusted, manifest *m, backend_reader **rd);

/* How far archives_check reads an archive. */
typedef enum {
    ARCHIVES_CHECK_HEADER, /* the object's size as listed and its header's BLAKE2b (format
                              2): the first STREAM_HEADER_SIZE bytes only */
    ARCHIVES_CHECK_DATA,   /* every ciphertext byte: size and BLAKE2b */
    ARCHIVES_CHECK_DEEP,   /* decrypted (with SECRET) and the dump inside validated */
} archives_check_level;

typedef struct {
    archives_check_level level;
    const keys_secret *secret; /* ARCHIVES_CHECK_DEEP */
    int progress;
    /* ARCHIVES_CHECK_DEEP: where the dump goes, as pipeline_fetch_job's
     * out_path, out_fd (here NULL: none) and skip_archive_hash */
    const char *out_path;
    const int *out_fd;
    int skip_archive_hash;
    /* A manifest verified earlier (restore): the one read now must record
     * the same plaintext, else ERR_INTEGRITY (it changed meanwhile). */
    const manifest *expect;
} archives_check_opts;

typedef struct {
    int manifest_verified;       /* M holds the verified manifest (also when the archive failed) */
    uint64_t archive_size;       /* the archive's size as found */
    int header_checked;          /* its header's BLAKE2b matched (format 2 archives) */
    pipeline_fetch_result fetch; /* ARCHIVES_CHECK_DATA and _DEEP */
} archives_check_result;

/* The one verification of an archive that verify, fetch, restore, audit and
 * the search for an older archive share: NAME's manifest read from B and
 * verified with TRUSTED (archives_open_verified), then the archive read as
 * far as O->level says and checked against it (pipeline_fetch, which also
 * writes the dump where O says).  M gets the verified manifest.  ERR_INTEGRITY for
 * every finding (a bad or unknown signature, a missing, short, long or
 * altered archive), ERR_FAIL when B fails. */
int archives_check(backend *b, const char *name, const keys_public *trusted, size_t n_trusted,
                   const archives_check_opts *o, manifest *m, archives_check_result *res);

/* Load every [keys] verify_key file; *OUT is malloc'd. */
int archives_load_verify_keys(char *const *paths, size_t n_paths, keys_public **out, size_t *n);

#endif
