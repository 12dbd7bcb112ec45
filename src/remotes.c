#include "remotes.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"

static void record_failure(remote_set *set, const char *name)
{
    log_error("%s", err_msg());
    set->failed_names[set->n_failed] = name;
    snprintf(set->failed_msgs[set->n_failed], sizeof set->failed_msgs[0], "%s", err_msg());
    set->n_failed++;
}

static int open_one(remote_set *set, const config_remote *rc, unsigned flags)
{
    if (set->n + set->n_failed >= REMOTES_MAX)
        return err_set(ERR_USAGE, "at most %d remotes are supported", REMOTES_MAX);
    backend *b = remote_backend_open(rc, flags);
    if (!b) {
        if (err_get_kind() == ERR_USAGE)
            return -1;
        record_failure(set, rc->name);
        return 0;
    }
    set->b[set->n] = b;
    set->names[set->n] = rc->name;
    set->cfgs[set->n] = rc;
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

size_t remote_set_probe(remote_set *set)
{
    size_t kept = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (backend_probe(set->b[i]) < 0) {
            record_failure(set, set->names[i]);
            backend_close(set->b[i]);
            continue;
        }
        set->b[kept] = set->b[i];
        set->names[kept] = set->names[i];
        set->cfgs[kept] = set->cfgs[i];
        kept++;
    }
    set->n = kept;
    return kept;
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
    backend *b = remote_backend_open(rc, flags);
    if (!b)
        return -1;
    set->b[0] = b;
    set->names[0] = rc->name;
    set->cfgs[0] = rc;
    set->n = 1;
    return 0;
}

void remote_set_close(remote_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        backend_close(set->b[i]);
    set->n = 0;
}

const char *remotes_object_path(const config_remote *rc)
{
    return strcmp(rc->type, "s3") == 0 ? rc->prefix : rc->path;
}
