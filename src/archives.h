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

typedef enum {
    ARCHIVE_COMPLETE,   /* archive and manifest present */
    ARCHIVE_INCOMPLETE, /* no manifest, or an upload in progress / abandoned */
} archive_state;

typedef struct {
    char name[CATALOG_NAME_MAX];
    char database[128];
    time_t created;
    uint64_t size; /* of the .dump.enc (or the partial upload) */
    archive_state state;
    int has_archive, has_manifest;
} archive_info;

/* Archives named with PREFIX ([local] name_prefix) on B, sorted by database then time (oldest
 * first).  Only objects matching the naming scheme are considered. */
int archives_list(backend *b, const char *prefix, archive_info **out, size_t *n);

/* The newest complete archive of DATABASE in LIST, or NULL. */
const archive_info *archives_latest(const archive_info *list, size_t n, const char *database);

/* The archive a reading command works on: ARG (an archive name, with or
 * without ".dump.enc") or, with LATEST, the newest complete archive of
 * DATABASE on B.  NAME_OUT gets the archive name. */
int archives_resolve(backend *b, const char *prefix, const char *arg, int latest,
                     const char *database, char name_out[CATALOG_NAME_MAX]);

/* Read NAME's manifest from B and verify it with TRUSTED; also check that it
 * describes NAME.  ERR_INTEGRITY for any finding. */
int archives_load_manifest(backend *b, const char *name, const keys_public *trusted,
                           size_t n_trusted, manifest *out);

/* Load every [keys] verify_key file; *OUT is malloc'd. */
int archives_load_verify_keys(char *const *paths, size_t n_paths, keys_public **out, size_t *n);

#endif
