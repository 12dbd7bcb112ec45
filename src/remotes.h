/* remotes: open the remotes a command works on (--remote NAME..., or every
 * configured one), keeping going when one cannot be opened. */
#ifndef N4O_REMOTES_H
#define N4O_REMOTES_H

#include <stddef.h>

#include "backend.h"
#include "config.h"

#define REMOTES_MAX 16

typedef struct {
    backend *b[REMOTES_MAX]; /* the remotes that opened */
    const char *names[REMOTES_MAX];
    const config_remote *cfgs[REMOTES_MAX]; /* their configuration */
    size_t n;
    size_t n_failed; /* selected but could not be opened (logged) */
    const char *failed_names[REMOTES_MAX];
    char failed_msgs[REMOTES_MAX][512]; /* why, for summaries and --json */
} remote_set;

/* Open NAMES (every configured remote when N_NAMES is 0), with
 * BACKEND_OPEN_* FLAGS.  An unknown name is an error (ERR_USAGE); a
 * remote that fails to open is logged and counted. */
int remote_set_open(remote_set *set, const config *cfg, const char *const *names, size_t n_names,
                    unsigned flags);
/* Probe every opened remote (backend_probe: will a write be accepted?); one
 * that fails is logged, closed and moved to the failed ones.  Returns how
 * many are left. */
size_t remote_set_probe(remote_set *set);
/* Open only the first configured remote, or NAME. */
int remote_set_open_one(remote_set *set, const config *cfg, const char *name, unsigned flags);
void remote_set_close(remote_set *set);
/* Open RC's driver (local, sftp or s3) with its parameters filled from the
 * configuration and the process's signals as its cancel hook; FLAGS are
 * BACKEND_OPEN_*.  NULL with the error (prefixed with the remote's name). */
backend *remote_backend_open(const config_remote *rc, unsigned flags);
/* Where RC's objects are named from: its path (local, SFTP) or prefix (S3). */
const char *remotes_object_path(const config_remote *rc);

#endif
