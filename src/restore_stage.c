#include "restore_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>

#include "archives.h"
#include "err.h"
#include "log.h"
#include "pipeline.h"
#include "progress.h"

/* Resolve and verify every item on the remote in SRC->set.  *REACHED is
 * set once the remote answered a listing: from then on a failure is not a
 * reason to read another remote. */
static int resolve_on(restore_source *src, restore_item *items, size_t n, int *reached)
{
    backend *b = src->set.b[0];
    const char *prefix = src->cfg->local.name_prefix;
    archive_info *list = NULL;
    size_t nl = 0;
    if (archives_list(b, prefix, &list, &nl) < 0)
        return -1;
    *reached = 1;
    for (size_t i = 0; i < n; i++) {
        restore_item *it = &items[i];
        const archive_info *a = src->archive ? NULL : archives_latest(list, nl, it->database);
        if (!src->archive && !a) {
            free(list);
            return err_set(ERR_FAIL,
                           "remote %s has no complete archive of database %s (the other remotes "
                           "are read only when this one cannot be reached: give --remote NAME "
                           "to read one)",
                           src->set.names[0], it->database);
        }
        if (a)
            snprintf(it->name, sizeof it->name, "%s", a->name);
        else if (archives_resolve(b, prefix, remotes_object_path(src->set.cfgs[0]), src->archive, 0,
                                  it->database, it->name) < 0) {
            free(list);
            return -1;
        }
        if (archives_load_manifest(b, it->name, src->trusted, src->n_trusted, &it->m) < 0) {
            if (!src->archive && err_get_kind() == ERR_INTEGRITY)
                archives_suggest_older(b, prefix, it->database, it->name, src->trusted,
                                       src->n_trusted);
            free(list);
            return -1;
        }
        if (strcmp(it->m.database, it->database) != 0) {
            free(list);
            return err_set(ERR_INTEGRITY, "%s: its manifest is of database %s, not %s", it->name,
                           it->m.database, it->database);
        }
    }
    free(list);
    return 0;
}

int restore_stage_resolve(restore_source *src, restore_item *items, size_t n)
{
    const config *cfg = src->cfg;
    if (src->archive) {
        /* ARCHIVE names its database */
        char name[CATALOG_NAME_MAX], file[CATALOG_NAME_MAX + 16];
        catalog_entry ce;
        catalog_archive_arg(src->archive, name, sizeof name);
        snprintf(file, sizeof file, "%s%s", name, CATALOG_ARCHIVE_SUFFIX);
        if (catalog_parse(cfg->local.name_prefix, file, &ce) < 0 || ce.kind != CATALOG_ARCHIVE)
            return err_set(ERR_USAGE,
                           "%s is not an archive name of this config (%s_<database>_"
                           "<YYYYMMDD_HHMMSS>)",
                           src->archive, cfg->local.name_prefix);
        if (items[0].database[0] && strcmp(items[0].database, ce.database) != 0)
            return err_set(ERR_USAGE, "archive %s is of database %s, not %s", name, ce.database,
                           items[0].database);
        snprintf(items[0].database, sizeof items[0].database, "%s", ce.database);
    }
    size_t first = 0, last = cfg->n_remotes;
    if (src->remote) {
        const config_remote *rc = config_remote_find(cfg, src->remote);
        if (!rc)
            return -1;
        first = (size_t)(rc - cfg->remotes);
        last = first + 1;
    }
    if (first >= last)
        return err_set(ERR_USAGE, "%s: no [remote \"NAME\"] section", cfg->path);
    for (size_t r = first; r < last; r++) {
        const config_remote *rc = &cfg->remotes[r];
        backend *b = remote_backend_open(rc, BACKEND_OPEN_BULK);
        if (b) {
            src->set.b[0] = b;
            src->set.names[0] = rc->name;
            src->set.cfgs[0] = rc;
            src->set.n = 1;
            int reached = 0;
            if (resolve_on(src, items, n, &reached) == 0) {
                src->remote_used = rc->name;
                return 0;
            }
            restore_stage_close(src);
            if (reached) /* it answered: what it said stands */
                return -1;
        }
        /* a finding, or the remote the operator chose: no other remote */
        if (err_get_kind() != ERR_FAIL || src->remote || r + 1 == last)
            return -1;
        /* the message names the remote already */
        log_warn("%s; trying the next remote, %s", err_msg(), cfg->remotes[r + 1].name);
    }
    return -1;
}

int restore_stage_check_space(const restore_source *src, const restore_item *items, size_t n,
                              uint64_t safety_bytes)
{
    const char *dir = src->cfg->local.directory;
    uint64_t need = safety_bytes;
    for (size_t i = 0; i < n; i++)
        need += items[i].m.plaintext_size; /* a copy already there is not counted twice below */
    struct statvfs vfs;
    if (statvfs(dir, &vfs) < 0)
        return err_sys(ERR_FAIL, errno, "local directory %s", dir);
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    /* dumps already in the directory with the right name need no room */
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s%s", dir, items[i].name, CATALOG_DUMP_SUFFIX);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t)st.st_size == items[i].m.plaintext_size)
            need -= items[i].m.plaintext_size;
    }
    need += need / 20 + 64 * 1024 * 1024; /* headroom */
    if (avail < need) {
        char a[32], b[32];
        return err_set(ERR_FAIL,
                       "local directory %s has %s free; this restore needs about %s there (the "
                       "verified dumps%s): free space, or point [local] directory elsewhere",
                       dir, progress_human(avail, a), progress_human(need, b),
                       safety_bytes ? " and the safety dumps" : "");
    }
    return 0;
}

/* 1 when the regular file PATH holds exactly the manifest's plaintext, 0
 * when it holds something else (or is not a regular file), -1 when it
 * cannot be read. */
static int local_matches(const restore_source *src, const restore_item *it, const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? 0 : err_sys(ERR_FAIL, errno, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != it->m.plaintext_size) {
        close(fd);
        return 0;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    char label[CATALOG_NAME_MAX + 16];
    snprintf(label, sizeof label, "check %s", it->name);
    pipeline_backup_job job = {.fd = fd,
                               .size_hint = it->m.plaintext_size,
                               .archive_name = it->name,
                               .progress = src->progress,
                               .label = label};
    pipeline_backup_result *res = calloc(1, sizeof *res);
    int rc = res ? pipeline_backup(&job, res) : err_set(ERR_FAIL, "out of memory");
    close(fd);
    if (rc == 0)
        rc = sodium_memcmp(res->plain_blake2b, it->m.plaintext_blake2b, 32) == 0;
    else
        err_prefix("%s: ", path);
    free(res);
    return rc;
}

int restore_stage_fetch(restore_source *src, restore_item *it)
{
    const char *dir = src->cfg->local.directory;
    snprintf(it->path, sizeof it->path, "%s/%s%s", dir, it->name, CATALOG_DUMP_SUFFIX);
    struct stat st;
    if (lstat(it->path, &st) == 0) {
        int same = local_matches(src, it, it->path);
        if (same < 0)
            return -1;
        if (same) {
            it->reused = 1;
            log_info("%s: the local dump %s holds the archive's plaintext (BLAKE2b as signed): "
                     "used without downloading",
                     it->name, it->path);
            return 0;
        }
        char other[4200];
        snprintf(other, sizeof other, "%s", it->path);
        snprintf(it->path, sizeof it->path, "%s/%s.restore-%ld%s", dir, it->name, (long)getpid(),
                 CATALOG_DUMP_SUFFIX);
        it->remove_after = 1;
        log_warn("%s exists with other bytes than archive %s (BLAKE2b or size differs): left as "
                 "it is; the archive is verified into %s, removed after the load",
                 other, it->name, it->path);
    }
    backend *b = src->set.b[0];
    log_info("downloading %s from remote %s into %s", it->name, src->remote_used, dir);
    const archives_check_opts co = {.level = ARCHIVES_CHECK_DEEP,
                                    .secret = src->secret,
                                    .progress = src->progress,
                                    .out_path = it->path,
                                    .skip_archive_hash = 1,
                                    .expect = &it->m};
    manifest m;
    archives_check_result checked;
    if (archives_check(b, it->name, src->trusted, src->n_trusted, &co, &m, &checked) < 0) {
        /* the newest failed its checks: never a silent fallback, name the one to use */
        if (!src->archive && err_get_kind() == ERR_INTEGRITY)
            archives_suggest_older(b, src->cfg->local.name_prefix, it->database, it->name,
                                   src->trusted, src->n_trusted);
        return -1;
    }
    const pipeline_fetch_result *res = &checked.fetch;
    char a[32];
    log_info("%s: verified (signature, hashes, dump %s, Neo4j %s, %llu files, %s) -> %s", it->name,
             res->dump.format, res->dump.era, (unsigned long long)res->dump.files,
             progress_human(res->plain_size, a), it->path);
    return 0;
}

void restore_stage_close(restore_source *src)
{
    remote_set_close(&src->set);
}
