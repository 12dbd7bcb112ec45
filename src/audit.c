#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archives.h"
#include "dumpcheck.h"
#include "err.h"
#include "local_dumps.h"
#include "log.h"
#include "signals.h"
#include "strbuf.h"

const char *audit_outcome_name(audit_outcome o)
{
    static const char *const names[] = {"ok", "finding", "unreadable", "note"};
    return names[o];
}

static audit_item *add_item(audit_target *t, size_t *cap)
{
    if (t->n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        audit_item *n = realloc(t->items, c * sizeof *n);
        if (!n)
            return NULL;
        t->items = n;
        *cap = c;
    }
    audit_item *it = &t->items[t->n++];
    memset(it, 0, sizeof *it);
    it->check = "-";
    return it;
}

/* IT's outcome becomes O with the message FMT (appended to one already
 * there); the message is escaped, as it may quote a server. */
static void set_problem(audit_item *it, audit_outcome o, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX], shown[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    strbuf_printable_copy(shown, sizeof shown, msg);
    if (it->problem) {
        char joined[2 * ERR_MSG_MAX];
        snprintf(joined, sizeof joined, "%s; %s", it->problem, shown);
        free(it->problem);
        it->problem = strdup(joined);
    } else {
        it->problem = strdup(shown);
    }
    if (it->outcome != AUDIT_FINDING) /* a finding stays one */
        it->outcome = o;
}

static void set_error(audit_target *t, const char *msg)
{
    char shown[ERR_MSG_MAX];
    strbuf_printable_copy(shown, sizeof shown, msg);
    free(t->error);
    t->error = strdup(shown);
}

static void count(audit_target *t)
{
    t->findings = t->unreadable = 0;
    for (size_t i = 0; i < t->n; i++) {
        t->findings += t->items[i].outcome == AUDIT_FINDING;
        t->unreadable += t->items[i].outcome == AUDIT_UNREADABLE;
    }
}

size_t audit_not_fresh(const audit_target *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n_newest; i++)
        k += t->newest[i].state != FRESH_OK;
    return k;
}

/* The newest item of each database asked for among those KIND and OK. */
static void judge_newest(audit_target *t, const audit_opts *o, const char *kind)
{
    t->newest = calloc(o->n_databases ? o->n_databases : 1, sizeof *t->newest);
    if (!t->newest) {
        set_error(t, "out of memory");
        return;
    }
    t->n_newest = o->n_databases;
    for (size_t d = 0; d < o->n_databases; d++) {
        audit_newest *nw = &t->newest[d];
        const audit_item *best = NULL;
        snprintf(nw->database, sizeof nw->database, "%s", o->databases[d]);
        for (size_t i = 0; i < t->n; i++) {
            const audit_item *it = &t->items[i];
            if (it->outcome == AUDIT_OK && strcmp(it->kind, kind) == 0 &&
                strcmp(it->database, nw->database) == 0 && (!best || it->created >= best->created))
                best = it;
        }
        nw->state = freshness_judge(best != NULL, best ? best->created : 0, o->now, o->max_age_h,
                                    &nw->age_h);
        if (best) {
            snprintf(nw->name, sizeof nw->name, "%s", best->name);
            nw->created = best->created;
        }
    }
}

void audit_target_free(audit_target *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i].problem);
    free(t->items);
    free(t->newest);
    free(t->error);
    memset(t, 0, sizeof *t);
}

/* ---- a remote ---------------------------------------------------------- */

static void check_archive(backend *b, const audit_opts *o, const archive_info *a, audit_item *it)
{
    manifest m;
    archives_check_result res;
    const archives_check_opts co = {.level =
                                        o->read_data ? ARCHIVES_CHECK_DATA : ARCHIVES_CHECK_HEADER,
                                    .progress = o->progress};
    it->kind = "archive";
    int rc = archives_check(b, a->name, o->trusted, o->n_trusted, &co, &m, &res);
    if (res.manifest_verified) {
        it->format = m.format_version;
        keys_id_hex(m.signer_key_id, it->signer);
    }
    if (rc < 0) {
        set_problem(it, err_get_kind() == ERR_INTEGRITY ? AUDIT_FINDING : AUDIT_UNREADABLE, "%s",
                    err_msg());
        err_clear();
        return;
    }
    it->check = o->read_data ? "data" : res.header_checked ? "header" : "size";
    it->outcome = AUDIT_OK;
}

static void check_upload(const audit_opts *o, const archive_info *a, audit_item *it)
{
    time_t started = a->mtime > 0 ? a->mtime : a->created;
    it->kind = "incomplete";
    it->age_h = difftime(o->now, started) / 3600.0;
    const char *what =
        a->has_archive ? "an archive without its manifest" : "an upload without manifest";
    if (started < o->now && o->now - started > AUDIT_STALE_UPLOAD_SECONDS)
        set_problem(it, AUDIT_FINDING,
                    "%s, %.1f h old: an interrupted backup or deletion that no prune has "
                    "removed (prune removes such uploads after 24 h)",
                    what, it->age_h);
    else
        set_problem(it, AUDIT_NOTE, "%s, %.1f h old: an upload in progress or just cut short", what,
                    it->age_h);
}

/* Retention over T's archives or dumps (uploads have their own rule): one
 * the policy deletes now and already deleted a day ago is kept past
 * retention. */
static int check_retention(audit_target *t, const audit_opts *o)
{
    retention_item *ri = calloc(t->n ? t->n : 1, sizeof *ri);
    retention_decision *now = calloc(t->n ? t->n : 1, sizeof *now);
    retention_decision *then = calloc(t->n ? t->n : 1, sizeof *then);
    size_t *idx = calloc(t->n ? t->n : 1, sizeof *idx);
    size_t m = 0;
    int rc = -1;
    if (!ri || !now || !then || !idx) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < t->n; i++) {
        const audit_item *it = &t->items[i];
        int safety = strcmp(it->kind, "safety") == 0;
        if (strcmp(it->kind, "incomplete") == 0)
            continue;
        /* a backup unless a finding says otherwise (one that could not be
         * read is given the benefit of the doubt) */
        ri[m] = (retention_item){
            it->database, it->created, safety ? RETENTION_SAFETY : RETENTION_ARCHIVE,
            it->outcome == AUDIT_FINDING ? RETENTION_MISSING : RETENTION_COMPLETE};
        idx[m++] = i;
    }
    if (retention_plan(ri, m, o->now, &o->policy, now) < 0 ||
        retention_plan(ri, m, o->now - AUDIT_RETENTION_GRACE, &o->policy, then) < 0)
        goto out;
    for (size_t k = 0; k < m; k++) {
        audit_item *it = &t->items[idx[k]];
        it->retention = retention_reason_text(now[k].reason);
        if (!now[k].keep && !then[k].keep)
            set_problem(it, AUDIT_FINDING,
                        "kept past retention: %.1f days old, the policy keeps %d days (and "
                        "min_keep %d, keep_weekly %d, keep_monthly %d do not keep it): a prune "
                        "should have deleted it",
                        it->age_h / 24, o->policy.keep_days, o->policy.min_keep,
                        o->policy.keep_weekly, o->policy.keep_monthly);
    }
    rc = 0;
out:
    free(ri);
    free(now);
    free(then);
    free(idx);
    return rc;
}

void audit_remote(backend *b, const audit_opts *o, audit_target *t)
{
    t->type = "remote";
    archive_info *list = NULL;
    size_t n = 0, cap = 0;
    if (archives_list(b, o->prefix, &list, &n) < 0) {
        set_error(t, err_msg());
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const archive_info *a = &list[i];
        if (signals_pending()) {
            set_error(t, "interrupted by a signal");
            break;
        }
        audit_item *it = add_item(t, &cap);
        if (!it) {
            set_error(t, "out of memory");
            break;
        }
        snprintf(it->name, sizeof it->name, "%s", a->name);
        snprintf(it->database, sizeof it->database, "%s", a->database);
        it->created = a->created;
        it->age_h = difftime(o->now, a->created) / 3600.0;
        it->size = a->size;
        if (a->has_manifest)
            check_archive(b, o, a, it);
        else
            check_upload(o, a, it);
    }
    free(list);
    if (!t->error && check_retention(t, o) < 0)
        set_error(t, err_msg());
    judge_newest(t, o, "archive");
    count(t);
}

/* ---- the local directory ---------------------------------------------- */

/* Feed FD (a dump) to dumpcheck: its first AUDIT_LOCAL_HEAD_BYTES, or all
 * of it with FULL.  0 valid (so far), -1 with the error: ERR_INTEGRITY
 * invalid, ERR_FAIL unreadable.  *WHOLE: the end was reached and checked. */
static int check_dump_bytes(int fd, const char *path, int full, int *whole)
{
    dumpcheck *dc = dumpcheck_new();
    uint8_t *buf = malloc(256 * 1024);
    uint64_t total = 0;
    int rc = -1;
    *whole = 0;
    if (!dc || !buf) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    for (;;) {
        if (signals_pending()) {
            err_set(ERR_FAIL, "interrupted by signal %d", signals_pending());
            goto out;
        }
        ssize_t got = read(fd, buf, 256 * 1024);
        if (got < 0) {
            err_sys(ERR_FAIL, errno, "%s: read", path);
            goto out;
        }
        if (got == 0)
            break;
        if (dumpcheck_update(dc, buf, (size_t)got) < 0) {
            err_prefix("%s: ", path);
            goto out;
        }
        total += (uint64_t)got;
        if (!full && total >= AUDIT_LOCAL_HEAD_BYTES) {
            rc = 0;
            goto out;
        }
    }
    *whole = 1;
    rc = dumpcheck_finish(dc, NULL) < 0 ? err_prefix("%s: ", path) : 0;
out:
    dumpcheck_free(dc);
    free(buf);
    return rc;
}

static void check_dump(int dir_fd, const char *dir, const audit_opts *o, const local_dump *d,
                       audit_item *it)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, d->file);
    it->kind = d->kind == CATALOG_SAFETY_DUMP ? "safety" : "dump";
    if (d->size == 0) {
        set_problem(it, AUDIT_FINDING, "%s is empty: not a backup", path);
        return;
    }
    int fd = openat(dir_fd, d->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd < 0 || !S_ISREG(st.st_mode))
            err_set(ERR_FAIL, "%s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
        else
            err_sys(ERR_FAIL, errno, "%s: fstat", path);
        set_problem(it, AUDIT_UNREADABLE, "%s", err_msg());
        if (fd >= 0)
            close(fd);
        return;
    }
    int whole;
    int rc = check_dump_bytes(fd, path, o->read_data, &whole);
    close(fd);
    it->check = whole ? "full" : "head";
    if (rc < 0) {
        if (err_get_kind() == ERR_INTEGRITY)
            set_problem(it, AUDIT_FINDING, "invalid dump: %s", err_msg());
        else
            set_problem(it, AUDIT_UNREADABLE, "%s", err_msg());
        err_clear();
        return;
    }
    it->outcome = AUDIT_OK;
}

void audit_local(const char *dir, const audit_opts *o, audit_target *t)
{
    t->type = "local";
    snprintf(t->target, sizeof t->target, "%s", dir);
    local_dump *dumps = NULL;
    size_t n = 0, cap = 0;
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        err_sys(ERR_FAIL, errno, "local directory %s", dir);
        set_error(t, err_msg());
        return;
    }
    if (local_dumps_scan(dir_fd, dir, o->prefix, 1, &dumps, &n) < 0) {
        set_error(t, err_msg());
        close(dir_fd);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        audit_item *it = add_item(t, &cap);
        if (!it) {
            set_error(t, "out of memory");
            break;
        }
        snprintf(it->name, sizeof it->name, "%s", dumps[i].file);
        snprintf(it->database, sizeof it->database, "%s", dumps[i].database);
        it->created = dumps[i].created;
        it->age_h = difftime(o->now, dumps[i].created) / 3600.0;
        it->size = dumps[i].size;
        check_dump(dir_fd, dir, o, &dumps[i], it);
    }
    free(dumps);
    close(dir_fd);
    if (!t->error && check_retention(t, o) < 0)
        set_error(t, err_msg());
    judge_newest(t, o, "dump");
    count(t);
}
