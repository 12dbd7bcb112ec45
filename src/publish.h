/* publish: the signed manifest of an archive just uploaded, written to each
 * remote that took the archive - after it, never before (SPEC "Names and
 * times": an archive without manifest is incomplete).  Used by backup and
 * push. */
#ifndef N4O_PUBLISH_H
#define N4O_PUBLISH_H

#include <stddef.h>
#include <time.h>

#include "backend.h"
#include "err.h"
#include "keys.h"
#include "pipeline.h"

typedef struct {
    const char *database;
    const char *name;                     /* the archive name */
    time_t started, ended;                /* of the dump */
    const pipeline_backup_result *plain;  /* the pass that read and validated the dump */
    const pipeline_backup_result *upload; /* the pass that fed the remotes (may be PLAIN) */
    const keys_public *recipient;
    const keys_secret *signer;
    /* The Neo4j that made the dump (neo4j_version.h), NULL or "" when
     * unknown (push: old dumps); then the manifest has no neo4j_version. */
    const char *neo4j_version;
} publish_job;

/* Sign J's manifest and write it to each remote B[i] whose ERRS[i] is
 * ERR_NONE; a failure sets ERRS[i] and MSGS[i] ("manifest: cause"). */
void publish_manifest(const publish_job *j, backend *const *b, size_t n, err_kind *errs,
                      char (*msgs)[1024]);

#endif
