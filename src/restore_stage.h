/* restore_stage: the part of a restore that touches nothing but the local
 * directory.  Find the archives (ARCHIVE or the newest of each database) on
 * the first remote that can be read, trying the next one when a remote
 * cannot be reached (unless the operator named one), verify their manifests,
 * and bring each dump into the local directory verified: downloaded,
 * hashed, decrypted and validated under a temporary name, renamed to
 * "<name>.dump" only when every check passed - or, when a local dump of
 * that name already holds exactly the manifest's plaintext (BLAKE2b), that
 * file as it is. */
#ifndef N4O_RESTORE_STAGE_H
#define N4O_RESTORE_STAGE_H

#include <stddef.h>

#include "backend.h"
#include "catalog.h"
#include "config.h"
#include "keys.h"
#include "manifest.h"
#include "remotes.h"

typedef struct {
    char database[128]; /* the archive's database (given, or "" to take it from ARCHIVE) */
    char name[CATALOG_NAME_MAX];
    manifest m;       /* verified */
    char path[4200];  /* the verified dump (restore_stage_fetch) */
    int reused;       /* PATH was already there with the manifest's BLAKE2b */
    int remove_after; /* PATH is a stand-in name: "<name>.dump" holds other bytes */
} restore_item;

typedef struct {
    const config *cfg;
    const char *remote;  /* --remote NAME, or NULL: the first that can be read */
    const char *archive; /* ARCHIVE, or NULL: the newest of each item's database */
    const keys_public *trusted;
    size_t n_trusted;
    const keys_secret *secret;
    int progress;
    /* filled by restore_stage_resolve */
    remote_set set; /* the remote used (one) */
    const char *remote_used;
} restore_source;

/* Open the remote and resolve and verify the manifest of every item
 * (ITEMS[i].database set; with SRC->archive, the one item is that archive
 * and its database is taken from its name).  A remote that cannot be
 * opened or listed is skipped for the next configured one (said) unless
 * SRC->remote was given; a finding (ERR_INTEGRITY) is never skipped: with
 * --latest it names the newest older archive that verifies. */
int restore_stage_resolve(restore_source *src, restore_item *items, size_t n);

/* Free space in the local directory for the dumps still to download, and
 * SAFETY_BYTES for the safety dumps; ERR_FAIL naming the directory and the
 * sizes. */
int restore_stage_check_space(const restore_source *src, const restore_item *items, size_t n,
                              uint64_t safety_bytes);

/* Bring ITEM's dump into the local directory, verified (see above). */
int restore_stage_fetch(restore_source *src, restore_item *item);

/* Close what restore_stage_resolve opened. */
void restore_stage_close(restore_source *src);

#endif
