/* cmd_backup: the nightly job.  Orchestrates lock, stop/start, the dump of
 * each database through the pipeline, manifests and the report; the data
 * path itself is pipeline.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "archives.h"
#include "atomic_file.h"
#include "catalog.h"
#include "child.h"
#include "commands.h"
#include "config.h"
#include "err.h"
#include "lock.h"
#include "log.h"
#include "manifest.h"
#include "neo4j.h"
#include "neo4j_version.h"
#include "pipeline.h"
#include "progress.h"
#include "publish.h"
#include "prune.h"
#include "remotes.h"
#include "restore_record.h"
#include "signals.h"
#include "stream.h"
#include "strbuf.h"

typedef struct {
    const char *database;
    char name[CATALOG_NAME_MAX];
    char local_path[4096];
    time_t name_time;      /* in the name: the start, or the next free second */
    time_t started, ended; /* of the dump, as they happened (the manifest) */
    int dumped;            /* the dump was read and validated */
    err_kind dump_err;
    char dump_msg[1024];
    pipeline_backup_result pass1, pass2;
    const pipeline_backup_result *upload; /* the pass that fed the remotes */
    err_kind remote_err[PIPELINE_MAX_REMOTES];
    char remote_msg[PIPELINE_MAX_REMOTES][1024];
} db_run;

typedef struct {
    const config *cfg;
    const cli_globals *g;
    remote_set remotes;
    keys_public recipient;
    keys_secret *signer;
    int local_copy;
    db_run *dbs;
    size_t n_dbs;
    run_lock *lock;
    int start_failed; /* start_command failed or timed out: Neo4j may be down */
    char start_msg[1024];
    char neo4j_version[NEO4J_VERSION_MAX]; /* from version_command; "" = unknown */
} backup_ctx;

static void record_dump_failure(db_run *d)
{
    d->dump_err = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
    snprintf(d->dump_msg, sizeof d->dump_msg, "%s", err_msg());
    log_error("database %s: %s", d->database, d->dump_msg);
}

/* Is NAME free everywhere it will be written? */
static int name_taken(backup_ctx *ctx, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s%s", ctx->cfg->local.directory, name, CATALOG_DUMP_SUFFIX);
    if (ctx->local_copy && lstat(path, &st) == 0)
        return 1;
    for (size_t i = 0; i < ctx->remotes.n; i++) {
        const char *suffixes[] = {CATALOG_ARCHIVE_SUFFIX, CATALOG_MANIFEST_SUFFIX};
        for (int k = 0; k < 2; k++) {
            char object[CATALOG_NAME_MAX + 32];
            snprintf(object, sizeof object, "%s%s", name, suffixes[k]);
            if (backend_stat(ctx->remotes.b[i], object, NULL) == 1)
                return 1;
        }
    }
    return 0;
}

/* Name the archive after the time its dump starts; the next free second
 * when that name is taken. */
static int choose_name(backup_ctx *ctx, db_run *d)
{
    d->started = time(NULL);
    d->name_time = d->started;
    for (int tries = 0; tries < 3600; tries++, d->name_time++) {
        if (catalog_name(d->name, sizeof d->name, ctx->cfg->local.name_prefix, d->database,
                         d->name_time, 0) < 0)
            return -1;
        if (!name_taken(ctx, d->name)) {
            snprintf(d->local_path, sizeof d->local_path, "%s/%s%s", ctx->cfg->local.directory,
                     d->name, CATALOG_DUMP_SUFFIX);
            return 0;
        }
    }
    return err_set(ERR_FAIL, "no free archive name for database %s", d->database);
}

/* Size of the newest earlier local dump of DATABASE in DIR, 0 when none. */
static uint64_t last_dump_size(const char *dir, const char *prefix, const char *database)
{
    DIR *d = opendir(dir);
    uint64_t size = 0;
    time_t newest = 0;
    struct dirent *de;
    if (!d)
        return 0;
    while ((de = readdir(d))) {
        catalog_entry ce;
        struct stat st;
        if (catalog_parse(prefix, de->d_name, &ce) < 0 || ce.kind != CATALOG_DUMP ||
            strcmp(ce.database, database) != 0 || ce.created < newest)
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode)) {
            newest = ce.created;
            size = (uint64_t)st.st_size;
        }
    }
    closedir(d);
    return size;
}

/* Refuse to start a local copy that the previous dump's size says will not
 * fit. */
static int check_free_space(backup_ctx *ctx, const db_run *d)
{
    const char *dir = ctx->cfg->local.directory;
    uint64_t last = last_dump_size(dir, ctx->cfg->local.name_prefix, d->database);
    if (last == 0)
        return 0;
    struct statvfs vfs;
    if (statvfs(dir, &vfs) < 0)
        return err_sys(ERR_FAIL, errno, "local directory %s", dir);
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    uint64_t need = last + last / 10;
    if (avail < need) {
        char a[32], b[32];
        return err_set(ERR_FAIL,
                       "local directory %s has %s free; the last dump of %s took %s (need "
                       "10%% headroom): free space or use --no-local-copy",
                       dir, progress_human(avail, a), d->database, progress_human(last, b));
    }
    return 0;
}

static int run_template(const config *cfg, const char *what, const char *tmpl)
{
    if (!tmpl || !*tmpl)
        return 0;
    log_info("running %s", what);
    if (neo4j_run(what, tmpl, cfg->neo4j.databases[0], cfg->neo4j.command_timeout) < 0) {
        log_error("%s", err_msg());
        return -1;
    }
    return 0;
}

/* Dump D through the pipeline; with REMOTES also encrypt and upload. */
static void dump_database(backup_ctx *ctx, db_run *d, int to_remotes)
{
    const config *cfg = ctx->cfg;
    if (signals_pending()) {
        err_set(ERR_FAIL, "interrupted by signal %d before the dump", signals_pending());
        record_dump_failure(d);
        return;
    }
    if (choose_name(ctx, d) < 0) {
        record_dump_failure(d);
        return;
    }
    log_info("dumping database %s -> %s", d->database, d->name);
    neo4j_child *child = neo4j_spawn("dump_command", cfg->neo4j.dump_command, d->database,
                                     CHILD_READ_STDOUT, cfg->neo4j.command_timeout);
    if (!child) {
        record_dump_failure(d);
        return;
    }
    char label[160];
    snprintf(label, sizeof label, "dump %s", d->database);
    pipeline_backup_job job = {
        .child = child,
        .fd = -1,
        .validate = 1,
        .local_path = ctx->local_copy ? d->local_path : NULL,
        .recipient = &ctx->recipient,
        .remotes = to_remotes ? ctx->remotes.b : NULL,
        .n_remotes = to_remotes ? ctx->remotes.n : 0,
        .archive_name = d->name,
        .progress = ctx->g->progress,
        .label = label,
    };
    if (pipeline_backup(&job, &d->pass1) < 0) {
        record_dump_failure(d);
        return;
    }
    d->ended = time(NULL);
    d->dumped = 1;
    char a[32];
    log_info("database %s: dump valid (%s, Neo4j %s, %llu files), %s", d->database,
             d->pass1.dump.format, d->pass1.dump.era, (unsigned long long)d->pass1.dump.files,
             progress_human(d->pass1.plain_size, a));
    if (to_remotes)
        d->upload = &d->pass1;
}

/* Second pass: feed the remotes from the verified local copy. */
static void upload_local_copy(backup_ctx *ctx, db_run *d)
{
    int fd = open(d->local_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_sys(ERR_FAIL, errno, "cannot open %s", d->local_path);
        record_dump_failure(d);
        d->dumped = 0;
        return;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    char label[160];
    snprintf(label, sizeof label, "upload %s", d->database);
    pipeline_backup_job job = {
        .child = NULL,
        .fd = fd,
        .size_hint = d->pass1.plain_size,
        .validate = 0,
        .expect_plain_blake2b = d->pass1.plain_blake2b,
        .recipient = &ctx->recipient,
        .remotes = ctx->remotes.b,
        .n_remotes = ctx->remotes.n,
        .archive_name = d->name,
        .progress = ctx->g->progress,
        .label = label,
    };
    int rc = pipeline_backup(&job, &d->pass2);
    close(fd);
    if (rc < 0) {
        record_dump_failure(d);
        d->dumped = 0;
        return;
    }
    d->upload = &d->pass2;
}

static void publish_manifests(backup_ctx *ctx, db_run *d)
{
    for (size_t i = 0; i < ctx->remotes.n; i++) {
        d->remote_err[i] = d->upload->remote_err[i];
        snprintf(d->remote_msg[i], sizeof d->remote_msg[i], "%s", d->upload->remote_msg[i]);
    }
    publish_job j = {.database = d->database,
                     .name = d->name,
                     .started = d->started,
                     .ended = d->ended,
                     .plain = &d->pass1,
                     .upload = d->upload,
                     .recipient = &ctx->recipient,
                     .signer = ctx->signer,
                     .neo4j_version = ctx->neo4j_version};
    publish_manifest(&j, ctx->remotes.b, ctx->remotes.n, d->remote_err, d->remote_msg);
}

/* Print the outcome of one database; returns its exit kind. */
static err_kind report(backup_ctx *ctx, db_run *d)
{
    if (!d->dumped)
        return d->dump_err;
    size_t ok = 0;
    for (size_t i = 0; i < ctx->remotes.n; i++) {
        if (d->remote_err[i] == ERR_NONE) {
            ok++;
        } else {
            const char *msg = d->remote_msg[i];
            log_error("database %s: remote %s failed: %s", d->database, ctx->remotes.names[i], msg);
        }
    }
    char a[32], b[32], r[32];
    double secs = d->pass1.seconds + (d->upload == &d->pass2 ? d->pass2.seconds : 0);
    uint64_t rate = secs > 0 ? (uint64_t)((double)d->pass1.plain_size / secs) : 0;
    printf("%s: dump %s, archive %s, %.1f s, %s/s", d->name, progress_human(d->pass1.plain_size, a),
           progress_human(d->upload ? d->upload->archive_size : 0, b), secs,
           progress_human(rate, r));
    if (ctx->local_copy)
        printf(", local copy %s", d->local_path);
    printf(", remotes:");
    const char *sep = " ";
    char why[161]; /* a server's words may be in it: escaped for the terminal or the mail */
    for (size_t i = 0; i < ctx->remotes.n; i++, sep = ", ") {
        if (d->remote_err[i] == ERR_NONE) {
            printf("%s%s ok", sep, ctx->remotes.names[i]);
            continue;
        }
        strbuf_printable_copy(why, sizeof why, d->remote_msg[i]);
        printf("%s%s FAILED (%s)", sep, ctx->remotes.names[i], why);
    }
    for (size_t i = 0; i < ctx->remotes.n_failed; i++, sep = ", ") {
        strbuf_printable_copy(why, sizeof why, ctx->remotes.failed_msgs[i]);
        printf("%s%s FAILED (%s)", sep, ctx->remotes.failed_names[i], why);
    }
    printf("\n");
    fflush(stdout);
    if (ok == ctx->remotes.n && ctx->remotes.n_failed == 0)
        return ERR_NONE;
    return ok > 0 ? ERR_PARTIAL : ERR_FAIL;
}

/* start_command, always after a stop; its failure decides the exit code and
 * the last line of the run: Neo4j left down is never a success. */
static void start_neo4j(backup_ctx *ctx)
{
    const char *start = ctx->cfg->neo4j.start_command;
    if (run_template(ctx->cfg, "start_command", start) < 0) {
        ctx->start_failed = 1;
        snprintf(ctx->start_msg, sizeof ctx->start_msg, "%s", err_msg());
        return;
    }
    ctx->start_failed = 0; /* what counts is how the run leaves Neo4j */
    if (start && *start)
        lock_note_started(ctx->lock);
}

/* A previous run that stopped Neo4j and never started it again (killed, or
 * its start_command failed): say so first, and put Neo4j back up before
 * anything else. */
static void recover_previous_run(backup_ctx *ctx)
{
    const lock_record *prev = lock_previous(ctx->lock);
    if (!prev->stopped || prev->started)
        return;
    char when[32];
    const char *cmd = prev->command[0] ? prev->command : "unknown";
    catalog_rfc3339(prev->stopped, when);
    if (prev->stopped_by != prev->pid)
        log_warn("Neo4j has been down since run %ld stopped it at %s; the last run (pid %ld, %s) "
                 "did not start it again",
                 prev->stopped_by, when, prev->pid, cmd);
    else if (prev->ended)
        log_warn("the previous run (pid %ld, %s) stopped Neo4j at %s and could not start it again",
                 prev->pid, cmd, when);
    else
        log_warn("the previous run (pid %ld, %s) was killed after stopping Neo4j at %s and never "
                 "started it",
                 prev->pid, cmd, when);
    if (strcmp(prev->command, "backup") != 0) {
        /* a killed restore may have left a half-loaded store: starting it
         * blindly is the restore's decision, not ours */
        log_warn("it was a %s, not a backup: start Neo4j yourself once its store is sound", cmd);
        return;
    }
    const char *start = ctx->cfg->neo4j.start_command;
    if (!start || !*start) {
        log_warn("no start_command is configured: start Neo4j yourself");
        return;
    }
    log_info("running start_command first");
    start_neo4j(ctx);
    if (!ctx->start_failed)
        log_info("Neo4j started again");
}

/* The archives of a signer the configured verify keys do not hold could
 * never be restored with this config: refuse before Neo4j is touched. */
static int check_signer_trusted(const config *cfg, const keys_secret *signer)
{
    if (cfg->keys.n_verify_keys == 0)
        return 0;
    const keys_public *mine = keys_secret_public(signer);
    for (size_t i = 0; i < cfg->keys.n_verify_keys; i++) {
        keys_public pub;
        if (keys_load_public(cfg->keys.verify_keys[i], KEYS_SIGNING, &pub) < 0)
            return -1;
        if (sodium_memcmp(pub.key, mine->key, sizeof pub.key) == 0)
            return 0;
    }
    char id[KEYS_ID_HEX];
    keys_id_hex(mine->id, id);
    return err_set(ERR_USAGE,
                   "%s: [keys] signing_key %s (key id %s) is not among the configured verify_key "
                   "files: archives signed with it could never be verified with this config; add "
                   "its signing.pub to verify_key or use the matching signing_key",
                   cfg->path, cfg->keys.signing_key, id);
}

/* Retention after the run, per database that was backed up: the local
 * directory (when a copy was written) and each remote that took the
 * archive.  A failed run deletes nothing.  A failed deletion makes the run
 * partial; a missing archive found on the way is a finding. */
static err_kind apply_retention(backup_ctx *ctx, err_kind outcome)
{
    const config *cfg = ctx->cfg;
    if ((outcome != ERR_NONE && outcome != ERR_PARTIAL) || ctx->start_failed || signals_pending()) {
        log_info("retention skipped: the run failed, nothing is deleted");
        return outcome;
    }
    prune_opts o = {.prefix = cfg->local.name_prefix, .policy = cfg->retention, .now = time(NULL)};
    err_kind found = ERR_NONE;
    const char **dbs = calloc(ctx->n_dbs + 1, sizeof *dbs);
    if (!dbs)
        return err_worse(outcome, ERR_PARTIAL);
    /* one listing a target: the databases backed up there */
    for (size_t k = 0; k <= ctx->remotes.n; k++) {
        int local = k == ctx->remotes.n;
        o.n_databases = 0;
        for (size_t i = 0; i < ctx->n_dbs; i++) {
            const db_run *d = &ctx->dbs[i];
            if (d->dumped && (local ? ctx->local_copy : d->remote_err[k] == ERR_NONE))
                dbs[o.n_databases++] = d->database;
        }
        if (o.n_databases == 0)
            continue;
        o.databases = dbs;
        found = err_worse(found, prune_apply(local ? NULL : ctx->remotes.b[k],
                                             local ? NULL : ctx->remotes.names[k],
                                             cfg->local.directory, &o));
    }
    free(dbs);
    if (found == ERR_FAIL)
        found = ERR_PARTIAL; /* the backup itself is done */
    return err_worse(outcome, found);
}

static int parse_options(int argc, char **argv, const char **database, const char **remotes,
                         size_t *n_remotes, int *no_local, int *no_prune)
{
    cli_list remote_list = {remotes, 0, PIPELINE_MAX_REMOTES};
    const cli_opt opts[] = {{"database", 0, CLI_VALUE, database},
                            {"remote", 0, CLI_LIST, &remote_list},
                            {"no-local-copy", 0, CLI_FLAG, no_local},
                            {"no-prune", 0, CLI_FLAG, no_prune},
                            {NULL, 0, 0, NULL}};
    int rc = cli_parse("backup", argc, argv, opts, NULL, 0);
    *n_remotes = remote_list.n;
    return rc;
}

/* With a stop_command and a local copy the DBMS is started again as soon as
 * the dump is on local disk and the remotes are fed from that file (README, "What
 * `backup` does"); otherwise they are fed from the live stream. */
static int is_two_pass(const backup_ctx *ctx)
{
    const char *stop = ctx->cfg->neo4j.stop_command;
    return ctx->local_copy && stop && *stop;
}

static err_kind run_backup(backup_ctx *ctx)
{
    const config *cfg = ctx->cfg;
    const char *stop = cfg->neo4j.stop_command;
    int two_pass = is_two_pass(ctx);

    /* Before Neo4j is stopped: a dump that cannot fit is not started. */
    size_t runnable = 0;
    for (size_t i = 0; i < ctx->n_dbs; i++) {
        if (ctx->local_copy && check_free_space(ctx, &ctx->dbs[i]) < 0)
            record_dump_failure(&ctx->dbs[i]);
        else
            runnable++;
    }
    if (runnable == 0)
        return ctx->dbs[0].dump_err;

    if (stop && *stop) {
        lock_note_stopped(ctx->lock); /* before: it may half-stop Neo4j */
        if (run_template(cfg, "stop_command", stop) < 0) {
            /* It may have half-stopped the DBMS: start it again. */
            start_neo4j(ctx);
            return ERR_FAIL;
        }
    }
    for (size_t i = 0; i < ctx->n_dbs; i++)
        if (ctx->dbs[i].dump_err == ERR_NONE)
            dump_database(ctx, &ctx->dbs[i], !two_pass);
    /* As soon as the dumps are read, whatever happened to them. */
    start_neo4j(ctx);
    if (two_pass)
        for (size_t i = 0; i < ctx->n_dbs; i++)
            if (ctx->dbs[i].dumped && !signals_pending())
                upload_local_copy(ctx, &ctx->dbs[i]);

    err_kind overall = ERR_NONE;
    int any_ok = 0;
    for (size_t i = 0; i < ctx->n_dbs; i++) {
        db_run *d = &ctx->dbs[i];
        if (d->dumped && !d->upload) {
            d->dumped = 0;
            d->dump_err = ERR_FAIL;
            snprintf(d->dump_msg, sizeof d->dump_msg, "not uploaded (interrupted)");
        }
        if (d->dumped)
            publish_manifests(ctx, d);
        err_kind k = report(ctx, d);
        if (k == ERR_NONE || k == ERR_PARTIAL)
            any_ok = 1;
        if (k != ERR_NONE)
            overall = err_worse(overall, k == ERR_INTEGRITY ? ERR_INTEGRITY : ERR_FAIL);
    }
    if (ctx->remotes.n_failed > 0)
        overall = err_worse(overall, ERR_FAIL);
    if (signals_pending())
        overall = err_worse(overall, ERR_FAIL);
    else if (overall != ERR_INTEGRITY && overall != ERR_NONE)
        overall = any_ok ? ERR_PARTIAL : ERR_FAIL;
    if (ctx->start_failed)
        overall = err_worse(overall, ERR_FAIL); /* outranks partial and success */
    return overall;
}

int cmd_backup(int argc, char **argv, const cli_globals *g)
{
    const char *database = NULL, *remote_names[PIPELINE_MAX_REMOTES];
    size_t n_remote_names = 0;
    int no_local = 0, no_prune = 0;
    int rc =
        parse_options(argc, argv, &database, remote_names, &n_remote_names, &no_local, &no_prune);
    if (rc)
        return rc;

    backup_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    run_lock *lock = NULL;
    err_kind outcome = ERR_FAIL;
    config *cfg = config_load(g->config_path, CFG_CMD_BACKUP);
    if (!cfg)
        goto fail;
    ctx.cfg = cfg;
    ctx.g = g;
    child_set_workdir(cfg->dir); /* the commands run where the config file is */
    ctx.local_copy = !no_local;
    if (database && neo4j_check_database(database) < 0)
        goto fail;
    for (size_t i = 0; i < cfg->neo4j.n_databases; i++)
        if (neo4j_check_database(cfg->neo4j.databases[i]) < 0) {
            err_prefix("%s: [neo4j] database: ", cfg->path);
            goto fail;
        }
    ctx.n_dbs = database ? 1 : cfg->neo4j.n_databases;
    ctx.dbs = calloc(ctx.n_dbs, sizeof *ctx.dbs);
    if (!ctx.dbs) {
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ctx.n_dbs; i++)
        ctx.dbs[i].database = database ? database : cfg->neo4j.databases[i];

    if (!(lock = lock_acquire(cfg->general.lock_file, "backup")))
        goto fail;
    ctx.lock = lock;
    if (restore_record_check(cfg, 1) != 0) {
        /* a dump of a half-loaded store is no backup, and its retention
         * could delete good ones */
        err_set(ERR_FAIL, "not backing up while a restore is unfinished (see above)");
        goto fail;
    }
    recover_previous_run(&ctx);
    /* Everything that can be checked is checked before Neo4j is stopped. */
    if (keys_load_public(cfg->keys.public_key, KEYS_ARCHIVE, &ctx.recipient) < 0)
        goto fail;
    if (!(ctx.signer = keys_load_secret(cfg->keys.signing_key, KEYS_SIGNING)))
        goto fail;
    if (check_signer_trusted(cfg, ctx.signer) < 0)
        goto fail;
    /* a program that is not there is found now, not with Neo4j stopped */
    if (neo4j_check_program("dump_command", cfg->neo4j.dump_command) < 0 ||
        neo4j_check_program("stop_command", cfg->neo4j.stop_command) < 0 ||
        neo4j_check_program("start_command", cfg->neo4j.start_command) < 0 ||
        neo4j_check_program("version_command", cfg->neo4j.version_command) < 0) {
        err_prefix("%s: [neo4j] ", cfg->path);
        goto fail;
    }
    if (ctx.local_copy && atomic_file_probe_dir(cfg->local.directory) < 0) {
        err_prefix("local directory: ");
        err_suffix(" (set [local] directory, or use --no-local-copy)");
        goto fail;
    }
    /* a live pass uploads as soon as the dump starts: remotes may connect
     * for it while they open; a two-pass run uploads only after the dump */
    unsigned open_flags = BACKEND_OPEN_WRITE | (is_two_pass(&ctx) ? 0 : BACKEND_OPEN_BULK);
    if (remote_set_open(&ctx.remotes, cfg, remote_names, n_remote_names, open_flags) < 0)
        goto fail;
    if (remote_set_probe(&ctx.remotes) == 0) {
        err_set(ERR_FAIL, "no remote can be written (%s); this run did not stop Neo4j",
                ctx.remotes.n_failed ? ctx.remotes.failed_msgs[0] : "none selected");
        goto fail;
    }
    /* recorded in each manifest, for restore: Neo4j cannot downgrade a
     * store.  Last of the checks: the one that runs a command */
    if (!command_template_is_blank(cfg->neo4j.version_command)) {
        if (neo4j_version_query(cfg->neo4j.version_command, cfg->neo4j.command_timeout,
                                ctx.neo4j_version) < 0) {
            err_suffix("; this run did not stop Neo4j");
            goto fail;
        }
        log_info("Neo4j version %s (version_command)", ctx.neo4j_version);
    }
    outcome = run_backup(&ctx);
    if (!no_prune)
        outcome = apply_retention(&ctx, outcome);
    goto out;
fail:
    outcome = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
    log_error("backup: %s", err_msg());
out:
    if (ctx.start_failed) {
        /* the last line on stderr: monitoring and the operator must see it */
        outcome = err_worse(outcome, ERR_FAIL);
        log_error("Neo4j NOT started: %s", ctx.start_msg);
    }
    remote_set_close(&ctx.remotes);
    keys_secret_free(ctx.signer);
    free(ctx.dbs);
    lock_release(lock);
    config_free(cfg);
    return err_exit_code(outcome);
}
