#include "prune.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archives.h"
#include "err.h"
#include "local_dumps.h"
#include "log.h"
#include "signals.h"
#include "strbuf.h"

#define NO_ITEM ((size_t)-1) /* an object of another database, or not judged */

/* ---- the result ------------------------------------------------------- */

static prune_item *add_item(prune_result *r, size_t *cap)
{
    if (r->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        prune_item *ni = realloc(r->items, nc * sizeof *ni);
        if (!ni) {
            err_set(ERR_FAIL, "out of memory");
            return NULL;
        }
        r->items = ni;
        *cap = nc;
    }
    prune_item *it = &r->items[r->n++];
    memset(it, 0, sizeof *it);
    return it;
}

void prune_result_free(prune_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i].error);
    free(r->items);
    memset(r, 0, sizeof *r);
}

static int item_cmp(const void *pa, const void *pb)
{
    const prune_item *a = pa, *b = pb;
    int c = strcmp(a->database, b->database);
    if (c)
        return c;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return strcmp(a->name, b->name);
}

static int wanted(const prune_opts *o, const char *database)
{
    if (o->database && strcmp(o->database, database) != 0)
        return 0;
    if (o->n_databases == 0)
        return 1;
    for (size_t i = 0; i < o->n_databases; i++)
        if (strcmp(o->databases[i], database) == 0)
            return 1;
    return 0;
}

/* An upload in progress or abandoned (a temporary file, an S3 multipart
 * upload) is stale once more than 24 h old by its upload time (by the time
 * in its name when the server gives none). */
static int upload_is_stale(const prune_opts *o, time_t mtime, time_t created)
{
    time_t t = mtime > 0 ? mtime : created;
    return t < o->now && o->now - t > PRUNE_STALE_SECONDS;
}

/* An archive object without manifest is there for milliseconds between
 * the commit of an upload and its manifest; longer, it is an upload or a
 * deletion cut short.  Removed when stale as an upload, or once named
 * before the keep_days window and more than an hour old (a deletion cut
 * short is finished by the next prune). */
static int orphan_is_stale(const prune_opts *o, time_t mtime, time_t created)
{
    if (upload_is_stale(o, mtime, created))
        return 1;
    int past_window = created < o->now && o->now - created > (time_t)o->policy.keep_days * 86400;
    time_t t = mtime > 0 ? mtime : created;
    return past_window && t < o->now && o->now - t > 3600;
}

/* Plan the items judged by the policy (every item with a retention state)
 * and record decisions, reasons and counts. */
static int plan_items(const prune_opts *o, prune_result *r, const retention_item *ri,
                      const size_t *idx, size_t m)
{
    retention_decision *dec = calloc(m ? m : 1, sizeof *dec);
    if (!dec)
        return err_set(ERR_FAIL, "out of memory");
    if (retention_plan(ri, m, o->now, &o->policy, dec) < 0) {
        free(dec);
        return -1;
    }
    for (size_t k = 0; k < m; k++) {
        prune_item *it = &r->items[idx[k]];
        it->keep = dec[k].keep;
        it->why = retention_reason_text(dec[k].reason);
        it->future = dec[k].reason == RETENTION_KEEP_FUTURE;
    }
    free(dec);
    return 0;
}

static void count(prune_result *r)
{
    r->backups = r->to_delete = r->missing = r->future = 0;
    for (size_t i = 0; i < r->n; i++) {
        const prune_item *it = &r->items[i];
        r->backups += strcmp(it->state, "complete") == 0 || strcmp(it->state, "dump") == 0;
        r->to_delete += !it->keep;
        r->missing += strcmp(it->state, "missing") == 0 || strcmp(it->state, "bad-manifest") == 0;
        r->future += it->future;
    }
}

static void set_error(prune_item *it, const char *msg)
{
    free(it->error);
    it->error = strdup(msg ? msg : "failed");
}

/* ---- a remote --------------------------------------------------------- */

/* The policy over the archives of LIST (complete and missing ones; the
 * incomplete ones have their own rule), into R's items ITEM_OF[i]. */
static int plan_archives(const prune_opts *o, const archive_info *list, size_t n, prune_result *r,
                         const size_t *item_of)
{
    retention_item *ri = calloc(n ? n : 1, sizeof *ri);
    size_t *idx = calloc(n ? n : 1, sizeof *idx);
    size_t m = 0;
    int rc = -1;
    if (!ri || !idx) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].state == ARCHIVE_INCOMPLETE || item_of[i] == NO_ITEM)
            continue;
        /* a manifest that cannot be read promises nothing: not a backup */
        int good = list[i].state == ARCHIVE_COMPLETE && !list[i].bad_manifest;
        ri[m] = (retention_item){list[i].database, list[i].created, RETENTION_ARCHIVE,
                                 good ? RETENTION_COMPLETE : RETENTION_MISSING};
        idx[m++] = item_of[i];
    }
    rc = plan_items(o, r, ri, idx, m);
out:
    free(ri);
    free(idx);
    return rc;
}

/* Judge LIST: the policy, then the size check of every archive kept as a
 * backup (an archive found short is missing: the plan is made again, as it
 * no longer counts), until every kept backup has been checked.  Each
 * manifest is read at most once; none of an archive to delete is read. */
static int judge_archives(backend *b, const prune_opts *o, archive_info *list, size_t n,
                          prune_result *r, const size_t *item_of)
{
    char *checked = calloc(n ? n : 1, 1);
    if (!checked)
        return err_set(ERR_FAIL, "out of memory");
    int rc = 0;
    for (;;) {
        if ((rc = plan_archives(o, list, n, r, item_of)) < 0)
            break;
        int again = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (checked[i] || item_of[i] == NO_ITEM || list[i].state != ARCHIVE_COMPLETE ||
                !r->items[item_of[i]].keep)
                continue;
            checked[i] = 1;
            if (archives_check_sizes(b, &list[i], 1) < 0)
                rc = -1;
            else if (list[i].state == ARCHIVE_MISSING || list[i].bad_manifest) {
                r->items[item_of[i]].state = list[i].bad_manifest ? "bad-manifest" : "missing";
                again = 1;
            }
        }
        if (rc < 0 || !again)
            break;
    }
    free(checked);
    return rc;
}

/* Remove the NAMES (with their items ITEMS) through B; each failure is
 * recorded on its item.  Returns how many failed, -1 when none could be
 * tried. */
static long remove_objects(backend *b, const char **names, prune_item **items, size_t n)
{
    if (n == 0)
        return 0;
    char **errors = calloc(n, sizeof *errors);
    if (!errors)
        return err_set(ERR_FAIL, "out of memory");
    int failed = backend_remove_many(b, names, n, errors);
    if (failed < 0) {
        for (size_t i = 0; i < n; i++)
            set_error(items[i], err_msg());
        failed = (int)n;
    }
    for (size_t i = 0; i < n; i++) {
        if (errors[i] && !items[i]->error)
            set_error(items[i], errors[i]);
        free(errors[i]);
    }
    free(errors);
    return failed;
}

typedef struct {
    const char **names;
    prune_item **items;
    size_t n;
} object_batch;

static int batch_add(object_batch *ob, size_t cap, const char *name, prune_item *it)
{
    char *copy = strdup(name);
    if (!copy || ob->n >= cap) {
        free(copy);
        return err_set(ERR_FAIL, "out of memory");
    }
    ob->names[ob->n] = copy;
    ob->items[ob->n++] = it;
    return 0;
}

static void batch_free(object_batch *ob)
{
    for (size_t i = 0; i < ob->n && ob->names; i++)
        free((char *)ob->names[i]);
    free(ob->names);
    free(ob->items);
    memset(ob, 0, sizeof *ob);
}

static int batch_init(object_batch *ob, size_t cap)
{
    ob->n = 0;
    ob->names = calloc(cap ? cap : 1, sizeof *ob->names);
    ob->items = calloc(cap ? cap : 1, sizeof *ob->items);
    if (!ob->names || !ob->items) {
        batch_free(ob);
        return err_set(ERR_FAIL, "out of memory");
    }
    return 0;
}

/* Delete what R decided: manifests first, then the archives whose manifest
 * is gone, then the stale incomplete uploads (ENTS, ENT_ITEM). */
static void delete_remote(backend *b, const archive_info *list, size_t n, const size_t *item_of,
                          const backend_entry *ents, const size_t *ent_item, size_t nents,
                          prune_result *r)
{
    object_batch man = {0}, arc = {0};
    char object[CATALOG_NAME_MAX + 32];
    int oom = batch_init(&man, n) < 0 || batch_init(&arc, n) < 0;
    for (size_t i = 0; i < n && !oom; i++) {
        if (item_of[i] == NO_ITEM)
            continue;
        prune_item *it = &r->items[item_of[i]];
        if (it->keep || !list[i].has_manifest)
            continue;
        snprintf(object, sizeof object, "%s%s", list[i].name, CATALOG_MANIFEST_SUFFIX);
        oom = batch_add(&man, n, object, it) < 0;
    }
    if (!oom && remove_objects(b, man.names, man.items, man.n) < 0)
        oom = 1;
    for (size_t i = 0; i < n && !oom; i++) {
        if (item_of[i] == NO_ITEM)
            continue;
        prune_item *it = &r->items[item_of[i]];
        if (it->keep || it->error || !list[i].has_archive)
            continue;
        snprintf(object, sizeof object, "%s%s", list[i].name, CATALOG_ARCHIVE_SUFFIX);
        oom = batch_add(&arc, n, object, it) < 0;
    }
    if (!oom)
        remove_objects(b, arc.names, arc.items, arc.n);
    batch_free(&man);
    batch_free(&arc);
    for (size_t i = 0; i < nents; i++) {
        prune_item *it = ent_item[i] == NO_ITEM ? NULL : &r->items[ent_item[i]];
        if (!it || it->keep || it->error)
            continue;
        if (signals_pending()) {
            set_error(it, "interrupted by a signal before its removal");
            continue;
        }
        int rc = backend_remove_incomplete(b, &ents[i]);
        if (rc < 0)
            set_error(it, err_msg());
        if (rc > 0) { /* a server that cannot abort uploads: said, not a failure */
            set_error(it, "the server cannot abort uploads");
            it->soft = 1;
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        prune_item *it = &r->items[i];
        if (it->keep)
            continue;
        if (oom && !it->error)
            set_error(it, err_msg());
        if (it->error)
            r->failed += !it->soft;
        else {
            it->removed = 1;
            r->removed++;
        }
    }
}

static void fill_item(prune_item *it, const char *name, const char *database, time_t created,
                      const char *state)
{
    snprintf(it->name, sizeof it->name, "%s", name);
    snprintf(it->database, sizeof it->database, "%s", database);
    it->created = created;
    it->state = state;
    it->keep = 1;
}

int prune_remote(backend *b, const prune_opts *o, prune_result *out)
{
    memset(out, 0, sizeof *out);
    backend_entry *ents = NULL;
    size_t nents = 0, n = 0, cap = 0;
    archive_info *list = NULL;
    size_t *item_of = NULL, *ent_item = NULL;
    char list_prefix[CATALOG_NAME_MAX];
    int rc = -1;
    if (archives_list_prefix(o->prefix, list_prefix) < 0 ||
        backend_list(b, list_prefix, &ents, &nents) < 0 ||
        archives_from_entries(ents, nents, o->prefix, &list, &n) < 0)
        goto out;
    item_of = calloc(n ? n : 1, sizeof *item_of);
    ent_item = calloc(nents ? nents : 1, sizeof *ent_item);
    if (!item_of || !ent_item) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    /* an item per archive of the databases asked for */
    for (size_t i = 0; i < n; i++) {
        item_of[i] = NO_ITEM;
        const archive_info *a = &list[i];
        if (!wanted(o, a->database) || (a->state == ARCHIVE_INCOMPLETE && !a->has_archive))
            continue;
        prune_item *it = add_item(out, &cap);
        if (!it)
            goto out;
        item_of[i] = out->n - 1;
        fill_item(it, a->name, a->database, a->created, archives_state_name(a->state));
        if (a->state == ARCHIVE_INCOMPLETE) { /* an archive without its manifest */
            it->keep = !orphan_is_stale(o, a->mtime, a->created);
            it->why = it->keep ? "archive without manifest, recent (an upload in progress?)"
                               : "archive without manifest (an upload or a deletion cut short)";
        }
    }
    /* an item per temporary file or unfinished upload */
    for (size_t i = 0; i < nents; i++) {
        catalog_entry ce;
        ent_item[i] = NO_ITEM;
        if (!ents[i].incomplete || archives_parse_entry(o->prefix, &ents[i], &ce) < 0 ||
            !wanted(o, ce.database))
            continue;
        prune_item *it = add_item(out, &cap);
        if (!it)
            goto out;
        ent_item[i] = out->n - 1;
        fill_item(it, ents[i].name, ce.database, ce.created, "incomplete");
        it->keep = !upload_is_stale(o, ents[i].mtime, ce.created);
        it->why = it->keep ? "incomplete upload, less than 24 h old"
                           : "incomplete upload older than 24 h";
    }
    /* a list sorted by database then time holds the archives' items in
     * order: the size checks may now run */
    if (judge_archives(b, o, list, n, out, item_of) < 0)
        goto out;
    count(out);
    if (!o->dry_run && out->to_delete > 0)
        delete_remote(b, list, n, item_of, ents, ent_item, nents, out);
    if (out->n > 1)
        qsort(out->items, out->n, sizeof *out->items, item_cmp);
    rc = 0;
out:
    if (rc < 0)
        prune_result_free(out);
    free(item_of);
    free(ent_item);
    free(list);
    backend_entries_free(ents, nents);
    return rc;
}

/* ---- the local directory ---------------------------------------------- */

static int ce_is_safety(const char *file, const char *prefix)
{
    catalog_entry ce;
    return catalog_parse(prefix, file, &ce) == 0 && ce.kind == CATALOG_SAFETY_DUMP;
}

/* The dumps of DIR (open as DIR_FD) that local retention may judge, into R. */
static int scan_local(int dir_fd, const char *dir, const prune_opts *o, prune_result *r)
{
    local_dump *dumps;
    size_t n, cap = 0;
    if (local_dumps_scan(dir_fd, dir, o->prefix, 1, &dumps, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const local_dump *ld = &dumps[i];
        if (!wanted(o, ld->database))
            continue;
        prune_item *it = add_item(r, &cap);
        if (!it) {
            free(dumps);
            return -1;
        }
        const char *state = ld->kind == CATALOG_SAFETY_DUMP ? "safety" : "dump";
        if (ld->size == 0)
            state = "empty";
        for (size_t k = 0; k < o->n_not_backups; k++)
            if (strcmp(o->not_backups[k], ld->file) == 0)
                state = "invalid";
        fill_item(it, ld->file, ld->database, ld->created, state);
    }
    free(dumps);
    if (r->n > 1)
        qsort(r->items, r->n, sizeof *r->items, item_cmp);
    return 0;
}

int prune_local(const char *dir, const prune_opts *o, prune_result *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(ERR_FAIL, errno, "local directory %s", dir);
    retention_item *ri = NULL;
    size_t *idx = NULL;
    int rc = -1;
    if (scan_local(fd, dir, o, out) < 0)
        goto out;
    ri = calloc(out->n ? out->n : 1, sizeof *ri);
    idx = calloc(out->n ? out->n : 1, sizeof *idx);
    if (!ri || !idx) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < out->n; i++) {
        const prune_item *it = &out->items[i];
        int good = strcmp(it->state, "dump") == 0 || strcmp(it->state, "safety") == 0;
        /* an empty or invalid file is not a backup: judged like a missing
         * archive (a safety dump among them too) */
        ri[i] = (retention_item){it->database, it->created,
                                 ce_is_safety(it->name, o->prefix) ? RETENTION_SAFETY
                                                                   : RETENTION_ARCHIVE,
                                 good ? RETENTION_COMPLETE : RETENTION_MISSING};
        idx[i] = i;
    }
    if (plan_items(o, out, ri, idx, out->n) < 0)
        goto out;
    count(out);
    for (size_t i = 0; i < out->n && !o->dry_run; i++) {
        prune_item *it = &out->items[i];
        if (it->keep)
            continue;
        if (unlinkat(fd, it->name, 0) < 0 && errno != ENOENT) {
            char msg[ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s/%s: %s", dir, it->name, strerror(errno));
            set_error(it, msg);
            out->failed++;
        } else {
            it->removed = 1;
            out->removed++;
        }
    }
    if (out->removed > 0 && fsync(fd) < 0)
        log_warn("local directory %s: fsync: %s", dir, strerror(errno));
    rc = 0;
out:
    if (rc < 0)
        prune_result_free(out);
    free(ri);
    free(idx);
    close(fd);
    return rc;
}

/* ---- the log ---------------------------------------------------------- */

const char *prune_error_text(const char *target, const prune_item *it)
{
    const char *e = it->error ? it->error : "";
    size_t tl = strlen(target);
    /* the backend names the remote already: say it once */
    if (strncmp(e, target, tl) == 0 && e[tl] == ':' && e[tl + 1] == ' ')
        e += tl + 2;
    return e;
}

err_kind prune_outcome(const prune_result *r)
{
    if (r->missing)
        return ERR_INTEGRITY;
    return r->failed ? ERR_FAIL : ERR_NONE;
}

void prune_log_findings(const char *target, const prune_result *r)
{
    char shown[ERR_MSG_MAX];
    for (size_t i = 0; i < r->n; i++) {
        const prune_item *it = &r->items[i];
        if (it->future)
            log_warn("%s: %s is dated in the future (check the clock): kept", target, it->name);
        const char *fate = it->keep      ? ""
                           : it->removed ? "; past the window: deleted"
                           : it->error   ? "; past the window, but its deletion failed"
                                         : "; past the window: to be deleted";
        if (strcmp(it->state, "missing") == 0)
            log_error("%s: %s: its manifest is there but its archive is missing or shorter than "
                      "recorded (integrity finding: run verify)%s",
                      target, it->name, fate);
        if (strcmp(it->state, "bad-manifest") == 0)
            log_error("%s: %s: its manifest cannot be read as one (integrity finding: run "
                      "verify); not counted as a backup%s",
                      target, it->name, fate);
        if (strcmp(it->state, "empty") == 0 || strcmp(it->state, "invalid") == 0)
            log_warn("%s: %s is %s: not counted as a backup", target, it->name,
                     strcmp(it->state, "empty") == 0 ? "empty" : "not a valid dump");
        if (it->error) {
            strbuf_printable_copy(shown, sizeof shown, prune_error_text(target, it));
            if (it->soft)
                log_warn("%s: could not remove the incomplete upload %s: %s", target, it->name,
                         shown);
            else
                log_error("%s: could not delete %s: %s", target, it->name, shown);
        }
    }
}

err_kind prune_apply(backend *b, const char *remote, const char *dir, const prune_opts *o)
{
    char target[600];
    if (b)
        snprintf(target, sizeof target, "remote %s", remote);
    else
        snprintf(target, sizeof target, "local directory %s", dir);
    prune_result r;
    if ((b ? prune_remote(b, o, &r) : prune_local(dir, o, &r)) < 0) {
        char shown[ERR_MSG_MAX];
        log_error("%s: retention: %s", target,
                  strbuf_printable_copy(shown, sizeof shown, err_msg()));
        return ERR_FAIL;
    }
    prune_log(target, &r);
    err_kind k = prune_outcome(&r);
    prune_result_free(&r);
    return k;
}

void prune_log(const char *target, const prune_result *r)
{
    prune_log_findings(target, r);
    for (size_t i = 0; i < r->n; i++)
        if (r->items[i].removed)
            log_info("%s: deleted %s (%s)", target, r->items[i].name, r->items[i].why);
    log_info("%s: retention: %zu backup%s, %zu deleted, %zu kept%s", target, r->backups,
             r->backups == 1 ? "" : "s", r->removed, r->n - r->to_delete,
             r->failed ? ", some deletions failed" : "");
}
