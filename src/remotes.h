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
    size_t n;
    size_t n_failed; /* selected but could not be opened (logged) */
} remote_set;

/* Open NAMES (every configured remote when N_NAMES is 0), with
 * backend_open_ex() FLAGS.  An unknown name is an error (ERR_USAGE); a
 * remote that fails to open is logged and counted. */
int remote_set_open(remote_set *set, const config *cfg, const char *const *names, size_t n_names,
                    unsigned flags);
/* Open only the first configured remote, or NAME. */
int remote_set_open_one(remote_set *set, const config *cfg, const char *name, unsigned flags);
void remote_set_close(remote_set *set);

#endif
