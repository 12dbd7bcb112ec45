/* prune: apply the retention plan (retention.c) to one target - the local
 * directory of plain dumps, or one remote - and say what was done.  Used by
 * `prune`, by `backup` after a successful run and by `push`.
 *
 * On a remote (through the backend interface only):
 * - archives are judged by retention_plan, per database; an archive whose
 *   deletion is decided loses its manifest first, then its archive object,
 *   so an interrupted prune leaves at worst an archive without manifest:
 *   incomplete, never counted or listed as a backup, removed by the next
 *   prune;
 * - the manifest of every archive kept as a backup is read to check that
 *   its archive has the recorded size (a shorter one is `missing`); a
 *   missing archive is an integrity finding, deleted only past the window;
 * - incomplete uploads (temporary files, S3 multipart uploads, archives
 *   without manifest) are removed once they are more than 24 hours old by
 *   their upload time, or dated before the keep_days window.
 * In the local directory only plain dumps and safety dumps named with the
 * prefix are judged (regular files only: a symbolic link is left alone);
 * an empty dump is not a backup (never counted among min_keep).  Every other
 * file is left alone. */
#ifndef N4O_PRUNE_H
#define N4O_PRUNE_H

#include <stddef.h>
#include <time.h>

#include "backend.h"
#include "catalog.h"
#include "err.h"
#include "retention.h"

#define PRUNE_STALE_SECONDS (24 * 3600) /* an incomplete upload older: removed */

typedef struct {
    const char *prefix;           /* [local] name_prefix */
    const char *database;         /* only this database; NULL: every one found (or DATABASES) */
    const char *const *databases; /* with N_DATABASES > 0: only these */
    size_t n_databases;
    retention_policy policy;
    time_t now;
    int dry_run; /* plan only: nothing is read beyond manifests, nothing deleted */
    /* local: file names known not to be valid dumps (push found them
     * invalid): judged like an empty dump, never counted as a backup */
    const char *const *not_backups;
    size_t n_not_backups;
} prune_opts;

typedef struct {
    char name[CATALOG_NAME_MAX + 64]; /* archive name, local file name or incomplete object */
    char database[128];
    time_t created;    /* the time in its name */
    const char *state; /* complete, missing, bad-manifest, incomplete (remote); dump, safety,
                          empty, invalid (local) */
    int keep;          /* 1 kept, 0 to delete */
    const char *why;   /* the reason, in words */
    int future;        /* dated in the future: warn */
    int removed;       /* deleted by this run */
    char *error;       /* why its deletion failed (malloc'd), else NULL */
    int soft;          /* that failure is a warning: an incomplete upload the server would
                          not remove (S3 servers that cannot abort uploads) */
} prune_item;

typedef struct {
    prune_item *items; /* by database, then time */
    size_t n;
    size_t backups; /* complete archives or dumps judged */
    size_t to_delete;
    size_t removed;
    size_t failed;  /* deletions that failed (not counting soft ones) */
    size_t missing; /* integrity findings: manifests whose archive is missing or short */
    size_t future;
} prune_result;

/* Prune remote B.  0 with *OUT filled (failed deletions are in it), -1 when
 * the remote could not be listed or read (error set; *OUT empty). */
int prune_remote(backend *b, const prune_opts *o, prune_result *out);
/* Prune the plain dumps in DIR.  As prune_remote. */
int prune_local(const char *dir, const prune_opts *o, prune_result *out);
void prune_result_free(prune_result *r);

/* IT's error without the "TARGET: " its backend put in front. */
const char *prune_error_text(const char *target, const prune_item *it);
/* ERR_INTEGRITY when R found a missing archive, ERR_FAIL when a deletion
 * failed, else ERR_NONE. */
err_kind prune_outcome(const prune_result *r);
/* Log what in R of TARGET ("local directory /x", "remote nas") needs a
 * reader's eye: future dates, missing archives, empty dumps, failed
 * deletions. */
void prune_log_findings(const char *target, const prune_result *r);
/* prune_log_findings, each deletion, and one summary line. */
void prune_log(const char *target, const prune_result *r);
/* Prune remote B named REMOTE (or, B NULL, the local directory DIR) with
 * O, and log it: what backup and push do after their work.  The outcome
 * kind: ERR_FAIL when it could not be done or a deletion failed,
 * ERR_INTEGRITY for a finding, else ERR_NONE. */
err_kind prune_apply(backend *b, const char *remote, const char *dir, const prune_opts *o);

#endif
