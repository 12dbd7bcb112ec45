/* cmd_push: ship the plain dumps already in the local directory (written by
 * an older backup script, or by backup while a remote was down) to the
 * remotes that do not hold them yet, oldest first, under the same
 * timestamped name; then retention.
 *
 * Each dump is validated and hashed first (pipeline, no remote), then
 * encrypted and uploaded in a second read that must hash the same; its
 * signed manifest follows the archive.  A remote that already holds the
 * name is compared by plaintext BLAKE2b and never overwritten. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archives.h"
#include "catalog.h"
#include "commands.h"
#include "config.h"
#include "err.h"
#include "lock.h"
#include "local_dumps.h"
#include "log.h"
#include "neo4j.h"
#include "progress.h"
#include "prune.h"
#include "publish.h"
#include "remotes.h"
#include "restore_record.h"
#include "signals.h"
#include "strbuf.h"

/* What push does with one dump on one remote. */
typedef enum {
    PUSH_SHIP,    /* the remote lacks it */
    PUSH_HELD,    /* a manifest of that name is there: compare */
    PUSH_SKIP,    /* retention would delete it there anyway */
    PUSH_BLOCKED, /* an archive object of that name without manifest is in the way */
    PUSH_UNKNOWN, /* the remote could not be listed (said once) */
    PUSH_INVALID, /* the dump is not valid or cannot be read (said once) */
} push_action;

typedef struct {
    const config *cfg;
    const cli_globals *g;
    remote_set remotes;
    keys_public recipient;
    keys_secret *signer;
    keys_public *trusted; /* our own signing key and the verify_keys */
    size_t n_trusted;
    local_dump *dumps;
    size_t n_dumps;
    archive_info *lists[REMOTES_MAX]; /* each remote's archives */
    size_t n_lists[REMOTES_MAX];
    push_action *act[REMOTES_MAX]; /* per dump */
    int remote_failed[REMOTES_MAX];
    int list_failed[REMOTES_MAX];   /* what it holds is unknown: nothing is shipped there */
    pipeline_backup_result **plain; /* per dump: its validated first read, once done */
    char *invalid;                  /* per dump: 1 not a valid dump, 2 unreadable */
    size_t shipped, held, skipped, findings;
    json_t *events, *errors; /* --json: what happened to each dump; remotes that failed */
} push_ctx;

/* What happened to dump D on REMOTE (NULL: on none in particular): a line
 * on stdout, or with --json an event {name, database, remote, action,
 * message}.  MSG may quote a server or a manifest: escaped here. */
static void say(push_ctx *ctx, const local_dump *d, const char *remote, const char *action,
                const char *msg)
{
    char shown[ERR_MSG_MAX + 64];
    strbuf_printable_copy(shown, sizeof shown, msg ? msg : "");
    if (ctx->g->json) {
        json_array_append_new(ctx->events,
                              json_pack("{s:s, s:s, s:s?, s:s, s:s?}", "name", d->name, "database",
                                        d->database, "remote", remote, "action", action, "message",
                                        msg ? shown : NULL));
        return;
    }
    if (strcmp(action, "shipped") == 0)
        printf("%s: shipped to %s\n", d->name, remote);
    else if (strcmp(action, "failed") == 0)
        printf("%s: remote %s FAILED (%s)\n", d->name, remote, shown);
    else if (strcmp(action, "skipped") == 0)
        printf("%s: not shipped to %s: retention would delete it there\n", d->name, remote);
    else if (strcmp(action, "present") == 0 && ctx->g->verbose > 0)
        printf("%s: already on %s\n", d->name, remote);
    else if (strcmp(action, "other-content") == 0)
        printf("%s: remote %s holds an archive of this name %s: not overwritten\n", d->name, remote,
               shown);
    else if (strcmp(action, "invalid") == 0)
        printf("%s: INVALID dump, not shipped: %s\n", d->name, shown);
    else if (strcmp(action, "unreadable") == 0)
        printf("%s: cannot read the dump, not shipped: %s\n", d->name, shown);
    fflush(stdout);
}

static int database_selected(const config *cfg, const char *database, const char *only)
{
    if (only)
        return strcmp(only, database) == 0;
    for (size_t i = 0; i < cfg->neo4j.n_databases; i++)
        if (strcmp(cfg->neo4j.databases[i], database) == 0)
            return 1;
    return 0;
}

/* The plain dumps of the selected databases in the local directory, oldest
 * first (safety dumps are not shipped). */
static int scan_dumps(push_ctx *ctx, const char *only)
{
    const char *dir = ctx->cfg->local.directory;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_sys(ERR_FAIL, errno, "local directory %s", dir);
    int rc = local_dumps_scan(fd, dir, ctx->cfg->local.name_prefix, 0, &ctx->dumps, &ctx->n_dumps);
    close(fd);
    if (rc < 0)
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < ctx->n_dumps; i++)
        if (database_selected(ctx->cfg, ctx->dumps[i].database, only))
            ctx->dumps[kept++] = ctx->dumps[i];
    ctx->n_dumps = kept;
    return 0;
}

static const archive_info *find_archive(const push_ctx *ctx, size_t r, const char *name)
{
    for (size_t i = 0; i < ctx->n_lists[r]; i++)
        if (strcmp(ctx->lists[r][i].name, name) == 0)
            return &ctx->lists[r][i];
    return NULL;
}

/* Decide, for remote R, what to do with each dump: what it holds is
 * compared, what it lacks is shipped - unless retention, judging the
 * remote's archives together with the dumps to ship, would delete it. */
static int plan_remote(push_ctx *ctx, size_t r)
{
    size_t n = ctx->n_dumps, nl = ctx->n_lists[r];
    free(ctx->act[r]);
    ctx->act[r] = calloc(n ? n : 1, sizeof *ctx->act[r]);
    retention_item *ri = calloc(n + nl + 1, sizeof *ri);
    retention_decision *dec = calloc(n + nl + 1, sizeof *dec);
    size_t *dump_of = calloc(n + nl + 1, sizeof *dump_of);
    int rc = -1;
    if (!ctx->act[r] || !ri || !dec || !dump_of) {
        err_set(ERR_FAIL, "out of memory");
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < nl; i++) {
        const archive_info *a = &ctx->lists[r][i];
        if (a->state == ARCHIVE_INCOMPLETE)
            continue;
        ri[m] =
            (retention_item){a->database, a->created, RETENTION_ARCHIVE,
                             a->state == ARCHIVE_COMPLETE ? RETENTION_COMPLETE : RETENTION_MISSING};
        dump_of[m++] = (size_t)-1;
    }
    for (size_t i = 0; i < n; i++) {
        const archive_info *a = find_archive(ctx, r, ctx->dumps[i].name);
        if (ctx->invalid[i]) { /* not a backup: neither shipped nor counted */
            ctx->act[r][i] = PUSH_INVALID;
            continue;
        }
        if (a && a->has_manifest) {
            ctx->act[r][i] = PUSH_HELD;
            continue;
        }
        ctx->act[r][i] = a && a->has_archive ? PUSH_BLOCKED : PUSH_SHIP;
        ri[m] = (retention_item){ctx->dumps[i].database, ctx->dumps[i].created, RETENTION_ARCHIVE,
                                 RETENTION_COMPLETE};
        dump_of[m++] = i;
    }
    if (retention_plan(
            ri, m, time(NULL),
            &(retention_policy){ctx->cfg->retention.keep_days, ctx->cfg->retention.min_keep,
                                ctx->cfg->retention.keep_weekly, ctx->cfg->retention.keep_monthly},
            dec) < 0)
        goto out;
    for (size_t k = 0; k < m; k++)
        if (dump_of[k] != (size_t)-1 && !dec[k].keep)
            ctx->act[r][dump_of[k]] = PUSH_SKIP;
    rc = 0;
out:
    free(ri);
    free(dec);
    free(dump_of);
    return rc;
}

static void other_content(push_ctx *ctx, size_t r, const local_dump *d, const char *what)
{
    char how[ERR_MSG_MAX + 64]; /* it may quote a manifest's bytes */
    strbuf_printable_copy(how, sizeof how, what);
    say(ctx, d, ctx->remotes.names[r], "other-content", what);
    log_error("%s: remote %s holds an archive of this name %s: not overwritten", d->name,
              ctx->remotes.names[r], how);
    ctx->findings++;
}

/* Read and verify remote R's manifest of D into M: 0, or -1 when it could
 * not be read (the remote failed) or does not verify (a finding); said. */
static int held_manifest(push_ctx *ctx, size_t r, const local_dump *d, manifest *m)
{
    if (archives_load_manifest(ctx->remotes.b[r], d->name, ctx->trusted, ctx->n_trusted, m) == 0)
        return 0;
    if (err_get_kind() != ERR_INTEGRITY) {
        log_error("%s: %s", d->name, err_msg());
        ctx->remote_failed[r] = 1;
        return -1;
    }
    char why[ERR_MSG_MAX + 64];
    snprintf(why, sizeof why, "whose manifest does not verify (%s)", err_msg());
    other_content(ctx, r, d, why);
    return -1;
}

static int open_dump(const push_ctx *ctx, const local_dump *d, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", ctx->cfg->local.directory, d->file);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_sys(ERR_FAIL, errno, "cannot open %s", path);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return fd;
}

/* Hash D, and VALIDATE it (the first read). */
static int check_dump(push_ctx *ctx, const local_dump *d, int validate,
                      pipeline_backup_result *plain)
{
    char path[4200], label[CATALOG_NAME_MAX + 16];
    int fd = open_dump(ctx, d, path, sizeof path);
    if (fd < 0)
        return -1;
    snprintf(label, sizeof label, "check %s", d->name);
    pipeline_backup_job job = {.fd = fd,
                               .size_hint = d->size,
                               .validate = validate,
                               .archive_name = d->name,
                               .progress = ctx->g->progress,
                               .label = label};
    int rc = pipeline_backup(&job, plain);
    close(fd);
    if (rc < 0)
        err_prefix("%s: ", path);
    return rc;
}

/* Encrypt and upload D to the remotes TO (second read, which must hash as
 * the first), then publish its manifest where the archive landed. */
static void ship_dump(push_ctx *ctx, const local_dump *d, const pipeline_backup_result *plain,
                      const size_t *to, size_t n_to)
{
    backend *b[REMOTES_MAX];
    err_kind errs[REMOTES_MAX];
    char(*msgs)[1024] = calloc(REMOTES_MAX, sizeof *msgs);
    pipeline_backup_result *up = calloc(1, sizeof *up);
    char path[4200], label[CATALOG_NAME_MAX + 16];
    int fd = -1;
    for (size_t k = 0; k < n_to; k++) {
        b[k] = ctx->remotes.b[to[k]];
        errs[k] = ERR_FAIL;
    }
    if (!msgs || !up) {
        err_set(ERR_FAIL, "out of memory");
        goto failed;
    }
    if ((fd = open_dump(ctx, d, path, sizeof path)) < 0)
        goto failed;
    snprintf(label, sizeof label, "push %s", d->name);
    pipeline_backup_job job = {.fd = fd,
                               .size_hint = d->size,
                               .expect_plain_blake2b = plain->plain_blake2b,
                               .recipient = &ctx->recipient,
                               .remotes = b,
                               .n_remotes = n_to,
                               .archive_name = d->name,
                               .progress = ctx->g->progress,
                               .label = label};
    if (pipeline_backup(&job, up) < 0) {
        err_prefix("%s: ", path);
        goto failed;
    }
    for (size_t k = 0; k < n_to; k++) {
        errs[k] = up->remote_err[k];
        snprintf(msgs[k], sizeof msgs[k], "%s", up->remote_msg[k]);
    }
    publish_job pj = {.database = d->database,
                      .name = d->name,
                      .started = d->created,
                      .ended = d->mtime >= d->created ? d->mtime : d->created,
                      .plain = plain,
                      .upload = up,
                      .recipient = &ctx->recipient,
                      .signer = ctx->signer};
    publish_manifest(&pj, b, n_to, errs, msgs);
    goto report;
failed:
    for (size_t k = 0; k < n_to && msgs; k++)
        snprintf(msgs[k], sizeof msgs[k], "%s", err_msg());
report:
    if (fd >= 0)
        close(fd);
    char shown[200];
    for (size_t k = 0; k < n_to; k++) {
        if (errs[k] == ERR_NONE) {
            ctx->shipped++;
            say(ctx, d, ctx->remotes.names[to[k]], "shipped", NULL);
            continue;
        }
        ctx->remote_failed[to[k]] = 1;
        if (errs[k] == ERR_INTEGRITY)
            ctx->findings++;
        strbuf_printable_copy(shown, sizeof shown, msgs ? msgs[k] : err_msg());
        say(ctx, d, ctx->remotes.names[to[k]], "failed", shown);
        if (strncmp(shown, "remote ", 7) == 0) /* the message names it already */
            log_error("%s: %s", d->name, shown);
        else
            log_error("%s: remote %s: %s", d->name, ctx->remotes.names[to[k]], shown);
    }
    fflush(stdout);
    free(msgs);
    free(up);
}

#define BLOCKED_WHY                                                                                \
    "an archive of this name without manifest is in the way (an upload or a deletion cut short; "  \
    "prune removes it)"

static void push_one(push_ctx *ctx, size_t i)
{
    const local_dump *d = &ctx->dumps[i];
    size_t to[REMOTES_MAX], n_to = 0, n_cmp = 0;
    int compare[REMOTES_MAX] = {0};
    manifest *held = calloc(REMOTES_MAX, sizeof *held);
    if (!held) {
        log_error("%s: out of memory", d->name);
        return;
    }
    for (size_t r = 0; r < ctx->remotes.n; r++) {
        push_action a = ctx->act[r][i];
        if (a == PUSH_SHIP)
            to[n_to++] = r;
        if (a == PUSH_HELD && held_manifest(ctx, r, d, &held[r]) == 0) {
            /* another size is other content: no need to read the dump */
            if (held[r].plaintext_size != d->size)
                other_content(ctx, r, d, "with other content (another plaintext size)");
            else
                n_cmp += compare[r] = 1;
        }
        if (a == PUSH_SKIP) {
            ctx->skipped++;
            say(ctx, d, ctx->remotes.names[r], "skipped", NULL);
        }
        if (a == PUSH_BLOCKED) {
            ctx->remote_failed[r] = 1;
            log_error("%s: remote %s: %s", d->name, ctx->remotes.names[r], BLOCKED_WHY);
            say(ctx, d, ctx->remotes.names[r], "blocked", BLOCKED_WHY);
        }
    }
    if (n_to == 0 && n_cmp == 0) {
        free(held);
        return;
    }
    /* a dump to ship was validated while planning; one only compared is
     * hashed here, not validated: it is not shipped */
    pipeline_backup_result *plain = ctx->plain[i];
    if (!plain) {
        plain = calloc(1, sizeof *plain);
        if (!plain || check_dump(ctx, d, 0, plain) < 0) {
            char shown[ERR_MSG_MAX];
            strbuf_printable_copy(shown, sizeof shown, plain ? err_msg() : "out of memory");
            log_error("%s: cannot compare it with the remotes' archive: %s", d->name, shown);
            for (size_t r = 0; r < ctx->remotes.n; r++)
                if (compare[r]) {
                    ctx->remote_failed[r] = 1;
                    say(ctx, d, ctx->remotes.names[r], "failed", shown);
                }
            free(plain);
            free(held);
            return;
        }
        ctx->plain[i] = plain;
    }
    for (size_t r = 0; r < ctx->remotes.n; r++) {
        if (!compare[r])
            continue;
        if (sodium_memcmp(held[r].plaintext_blake2b, plain->plain_blake2b, 32) != 0) {
            other_content(ctx, r, d, "with other content (plaintext BLAKE2b differs)");
            continue;
        }
        ctx->held++;
        say(ctx, d, ctx->remotes.names[r], "present", NULL);
    }
    if (n_to > 0 && !signals_pending())
        ship_dump(ctx, d, plain, to, n_to);
    free(held);
}

/* Validate dump I (the first read), as the plan is about to ship it; an
 * invalid or unreadable one is said and left out of the plan. */
static void validate_dump(push_ctx *ctx, size_t i)
{
    const local_dump *d = &ctx->dumps[i];
    pipeline_backup_result *plain = calloc(1, sizeof *plain);
    if (plain && check_dump(ctx, d, 1, plain) == 0) {
        ctx->plain[i] = plain;
        return;
    }
    err_kind k = plain ? err_get_kind() : ERR_FAIL;
    char shown[ERR_MSG_MAX];
    strbuf_printable_copy(shown, sizeof shown, plain ? err_msg() : "out of memory");
    free(plain);
    ctx->invalid[i] = k == ERR_INTEGRITY ? 1 : 2;
    if (k == ERR_INTEGRITY)
        ctx->findings++;
    else /* the remotes that lack it did not get it */
        for (size_t r = 0; r < ctx->remotes.n; r++)
            if (ctx->act[r][i] == PUSH_SHIP)
                ctx->remote_failed[r] = 1;
    say(ctx, d, NULL, k == ERR_INTEGRITY ? "invalid" : "unreadable", shown);
    log_error("%s: not shipped: %s", d->name, shown);
}

/* Plan every remote; validate the oldest dump the plan ships that is not
 * validated yet, and plan again without it when it is invalid (it must not
 * count among the backups retention keeps), until every dump to ship is
 * valid. */
static int plan_and_validate(push_ctx *ctx)
{
    for (;;) {
        for (size_t r = 0; r < ctx->remotes.n; r++) {
            if (plan_remote(ctx, r) < 0)
                return -1;
            if (ctx->list_failed[r])
                for (size_t i = 0; i < ctx->n_dumps; i++)
                    ctx->act[r][i] = PUSH_UNKNOWN;
        }
        size_t next = ctx->n_dumps;
        for (size_t i = 0; i < ctx->n_dumps && next == ctx->n_dumps; i++)
            for (size_t r = 0; r < ctx->remotes.n; r++)
                if (!ctx->plain[i] && ctx->act[r][i] == PUSH_SHIP)
                    next = i;
        if (next == ctx->n_dumps || signals_pending())
            return 0;
        validate_dump(ctx, next);
    }
}

/* Retention for the selected databases: the local directory, and each
 * remote where nothing failed. */
static err_kind push_retention(push_ctx *ctx, const char *only)
{
    const config *cfg = ctx->cfg;
    prune_opts o = {.prefix = cfg->local.name_prefix, .policy = cfg->retention, .now = time(NULL)};
    const char **invalid = calloc(ctx->n_dumps + 1, sizeof *invalid);
    if (!invalid)
        return ERR_PARTIAL;
    for (size_t i = 0; i < ctx->n_dumps; i++)
        if (ctx->invalid[i] == 1)
            invalid[o.n_not_backups++] = ctx->dumps[i].file;
    o.not_backups = invalid;
    /* one listing a target: every database selected */
    if (only) {
        o.databases = &only;
        o.n_databases = 1;
    } else {
        o.databases = (const char *const *)cfg->neo4j.databases;
        o.n_databases = cfg->neo4j.n_databases;
    }
    err_kind found = ERR_NONE;
    for (size_t k = 0; k <= ctx->remotes.n; k++) {
        int local = k == ctx->remotes.n;
        if (!local && ctx->remote_failed[k])
            continue;
        found = err_worse(found, prune_apply(local ? NULL : ctx->remotes.b[k],
                                             local ? NULL : ctx->remotes.names[k],
                                             cfg->local.directory, &o));
    }
    free(invalid);
    return found == ERR_FAIL ? ERR_PARTIAL : found; /* the pushing itself is done */
}

static int load_trusted(push_ctx *ctx)
{
    const config *cfg = ctx->cfg;
    keys_public *more = NULL;
    size_t n_more = 0;
    if (cfg->keys.n_verify_keys > 0 &&
        archives_load_verify_keys(cfg->keys.verify_keys, cfg->keys.n_verify_keys, &more, &n_more) <
            0)
        return -1;
    ctx->trusted = calloc(n_more + 1, sizeof *ctx->trusted);
    if (!ctx->trusted) {
        free(more);
        return err_set(ERR_FAIL, "out of memory");
    }
    ctx->trusted[0] = *keys_secret_public(ctx->signer);
    if (n_more)
        memcpy(ctx->trusted + 1, more, n_more * sizeof *more);
    ctx->n_trusted = n_more + 1;
    free(more);
    return 0;
}

static int parse_options(int argc, char **argv, const char **database, const char **remotes,
                         size_t *n_remotes)
{
    cli_list remote_list = {remotes, 0, REMOTES_MAX};
    const cli_opt opts[] = {{"database", 0, CLI_VALUE, database},
                            {"remote", 0, CLI_LIST, &remote_list},
                            {NULL, 0, 0, NULL}};
    int rc = cli_parse("push", argc, argv, opts, NULL, 0);
    *n_remotes = remote_list.n;
    return rc;
}

static void push_error(push_ctx *ctx, const char *remote, const char *msg)
{
    char shown[ERR_MSG_MAX];
    if (ctx->g->json)
        json_array_append_new(ctx->errors,
                              json_pack("{s:s?, s:s}", "remote", remote, "message",
                                        strbuf_printable_copy(shown, sizeof shown, msg)));
}

static err_kind run_push(push_ctx *ctx, const char *database)
{
    ctx->plain = calloc(ctx->n_dumps + 1, sizeof *ctx->plain);
    ctx->invalid = calloc(ctx->n_dumps + 1, 1);
    if (!ctx->plain || !ctx->invalid) {
        log_error("push: out of memory");
        return ERR_FAIL;
    }
    for (size_t r = 0; r < ctx->remotes.n; r++)
        if (archives_list(ctx->remotes.b[r], ctx->cfg->local.name_prefix, &ctx->lists[r],
                          &ctx->n_lists[r]) < 0) {
            log_error("%s", err_msg());
            push_error(ctx, ctx->remotes.names[r], err_msg());
            ctx->remote_failed[r] = ctx->list_failed[r] = 1;
        }
    if (plan_and_validate(ctx) < 0) {
        log_error("push: %s", err_msg());
        return ERR_FAIL;
    }
    for (size_t i = 0; i < ctx->n_dumps && !signals_pending(); i++)
        if (!ctx->invalid[i])
            push_one(ctx, i);
    size_t failed = ctx->remotes.n_failed;
    for (size_t r = 0; r < ctx->remotes.n; r++)
        failed += ctx->remote_failed[r] != 0;
    size_t total = ctx->remotes.n + ctx->remotes.n_failed;
    if (!ctx->g->json)
        printf("push: %zu local dump%s, %zu upload%s, %zu already there, %zu left to retention%s\n",
               ctx->n_dumps, ctx->n_dumps == 1 ? "" : "s", ctx->shipped,
               ctx->shipped == 1 ? "" : "s", ctx->held, ctx->skipped,
               failed ? ", some remotes FAILED" : "");
    fflush(stdout);
    /* whether the run failed is decided before its findings count: a run
     * that shipped nowhere deletes nothing, whatever else it found */
    err_kind outcome = failed == 0 ? ERR_NONE : failed < total ? ERR_PARTIAL : ERR_FAIL;
    if (signals_pending())
        outcome = ERR_FAIL;
    if (outcome != ERR_FAIL)
        outcome = err_worse(outcome, push_retention(ctx, database));
    else
        log_info("retention skipped: the run failed, nothing is deleted");
    if (ctx->findings)
        outcome = err_worse(outcome, ERR_INTEGRITY);
    return outcome;
}

int cmd_push(int argc, char **argv, const cli_globals *g)
{
    const char *database = NULL, *remote_names[REMOTES_MAX];
    size_t n_remote_names = 0;
    int rc = parse_options(argc, argv, &database, remote_names, &n_remote_names);
    if (rc)
        return rc;
    push_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.g = g;
    ctx.events = json_array();
    ctx.errors = json_array();
    run_lock *lock = NULL;
    err_kind outcome;
    config *cfg = config_load(g->config_path, CFG_CMD_PUSH);
    if (!cfg)
        goto fail;
    restore_record_check(cfg, 0); /* a killed restore is said first */
    ctx.cfg = cfg;
    if (database && neo4j_check_database(database) < 0)
        goto fail;
    if (!(lock = lock_acquire(cfg->general.lock_file, "push")))
        goto fail;
    if (keys_load_public(cfg->keys.public_key, KEYS_ARCHIVE, &ctx.recipient) < 0 ||
        !(ctx.signer = keys_load_secret(cfg->keys.signing_key, KEYS_SIGNING)) ||
        load_trusted(&ctx) < 0 || scan_dumps(&ctx, database) < 0)
        goto fail;
    if (remote_set_open(&ctx.remotes, cfg, remote_names, n_remote_names, BACKEND_OPEN_WRITE) < 0)
        goto fail;
    if (remote_set_probe(&ctx.remotes) == 0) {
        err_set(ERR_FAIL, "no remote can be written (%s)",
                ctx.remotes.n_failed ? ctx.remotes.failed_msgs[0] : "none selected");
        goto fail;
    }
    for (size_t i = 0; i < ctx.remotes.n_failed; i++)
        push_error(&ctx, ctx.remotes.failed_names[i], ctx.remotes.failed_msgs[i]);
    outcome = run_push(&ctx, database);
    goto out;
fail:
    outcome = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
    log_error("push: %s", err_msg());
    push_error(&ctx, NULL, err_msg());
out:
    if (g->json) { /* also for a run that failed: one valid document */
        json_t *doc =
            json_pack("{s:O, s:{s:I, s:I, s:I, s:I, s:I}, s:O}", "dumps", ctx.events, "summary",
                      "local_dumps", (json_int_t)ctx.n_dumps, "shipped", (json_int_t)ctx.shipped,
                      "present", (json_int_t)ctx.held, "skipped", (json_int_t)ctx.skipped,
                      "findings", (json_int_t)ctx.findings, "errors", ctx.errors);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    }
    json_decref(ctx.events);
    json_decref(ctx.errors);
    for (size_t r = 0; r < REMOTES_MAX; r++) {
        free(ctx.lists[r]);
        free(ctx.act[r]);
    }
    for (size_t i = 0; ctx.plain && i < ctx.n_dumps; i++)
        free(ctx.plain[i]);
    free(ctx.plain);
    free(ctx.invalid);
    free(ctx.dumps);
    free(ctx.trusted);
    remote_set_close(&ctx.remotes);
    keys_secret_free(ctx.signer);
    lock_release(lock);
    config_free(cfg);
    return err_exit_code(outcome);
}
