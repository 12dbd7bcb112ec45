#include "remotes.h"

#include <string.h>

#include "err.h"
#include "log.h"

static int open_one(remote_set *set, const config_remote *rc, unsigned flags)
{
    if (set->n + set->n_failed >= REMOTES_MAX)
        return err_set(ERR_USAGE, "at most %d remotes are supported", REMOTES_MAX);
    backend *b = backend_open_ex(rc, flags);
    if (!b) {
        if (err_get_kind() == ERR_USAGE)
            return -1;
        log_error("%s", err_msg());
        set->n_failed++;
        return 0;
    }
    set->b[set->n] = b;
    set->names[set->n] = rc->name;
    set->n++;
    return 0;
}

int remote_set_open(remote_set *set, const config *cfg, const char *const *names, size_t n_names,
                    unsigned flags)
{
    memset(set, 0, sizeof *set);
    if (n_names == 0) {
        for (size_t i = 0; i < cfg->n_remotes; i++)
            if (open_one(set, &cfg->remotes[i], flags) < 0)
                goto fail;
        return 0;
    }
    for (size_t i = 0; i < n_names; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0) {
                err_set(ERR_USAGE, "remote %s given twice", names[i]);
                goto fail;
            }
        const config_remote *rc = config_remote_find(cfg, names[i]);
        if (!rc || open_one(set, rc, flags) < 0)
            goto fail;
    }
    return 0;
fail:
    remote_set_close(set);
    return -1;
}

int remote_set_open_one(remote_set *set, const config *cfg, const char *name, unsigned flags)
{
    memset(set, 0, sizeof *set);
    const config_remote *rc = name ? config_remote_find(cfg, name) : NULL;
    if (name && !rc)
        return -1;
    if (!rc) {
        if (cfg->n_remotes == 0)
            return err_set(ERR_USAGE, "%s: no [remote \"NAME\"] section", cfg->path);
        rc = &cfg->remotes[0];
    }
    backend *b = backend_open_ex(rc, flags);
    if (!b)
        return -1;
    set->b[0] = b;
    set->names[0] = rc->name;
    set->n = 1;
    return 0;
}

void remote_set_close(remote_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        backend_close(set->b[i]);
    set->n = 0;
}
