/* cmd_restore: full recovery.  Nothing touches Neo4j before every dump is
 * in the local directory verified (restore_stage.c) and the operator has
 * confirmed; then one stop, a validated safety dump of each database, the
 * loads, one start.  A failed load puts back what this run loaded; the
 * record next to the lock (restore_record.c) covers a run that dies while a
 * load runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "archives.h"
#include "atomic_file.h"
#include "catalog.h"
#include "commands.h"
#include "config.h"
#include "err.h"
#include "local_dumps.h"
#include "lock.h"
#include "log.h"
#include "neo4j.h"
#include "neo4j_version.h"
#include "pipeline.h"
#include "progress.h"
#include "restore_record.h"
#include "restore_stage.h"
#include "signals.h"
#include "strbuf.h"

typedef struct {
    const char *remote, *database, *archive, *as;
    int latest, all, yes, no_safety, allow_mismatch;
} restore_opts;

typedef struct {
    restore_item item;
    char target[128];  /* the database loaded */
    char safety[4200]; /* its safety dump; "" none */
    uint8_t safety_blake2b[32];
    int existed;     /* TARGET existed before the run */
    int from_record; /* SAFETY is a killed restore's: TARGET may be half-loaded */
    int loaded;      /* the archive is in TARGET */
} restore_db;

typedef struct {
    const config *cfg;
    const cli_globals *g;
    restore_opts o;
    restore_db *dbs;
    size_t n;
    run_lock *lock;
    restore_record rec;
    int stopped, start_failed;
    char start_msg[1024];
} restore_ctx;

static int parse_options(int argc, char **argv, restore_opts *o)
{
    const cli_opt opts[] = {{"remote", 0, CLI_VALUE, &o->remote},
                            {"database", 0, CLI_VALUE, &o->database},
                            {"latest", 0, CLI_FLAG, &o->latest},
                            {"all-databases", 0, CLI_FLAG, &o->all},
                            {"as", 0, CLI_VALUE, &o->as},
                            {"yes", 'y', CLI_FLAG, &o->yes},
                            {"no-safety-backup", 0, CLI_FLAG, &o->no_safety},
                            {"allow-version-mismatch", 0, CLI_FLAG, &o->allow_mismatch},
                            {NULL, 0, 0, NULL}};
    int rc = cli_parse("restore", argc, argv, opts, &o->archive, 1);
    if (rc)
        return rc;
    if ((o->archive != NULL) + o->latest != 1)
        return cli_usage_error("restore", "give exactly one of ARCHIVE, --latest");
    if (o->all && (o->archive || o->database || o->as))
        return cli_usage_error("restore", "--all-databases restores the newest archive of every "
                                          "configured database: it takes --latest, without "
                                          "ARCHIVE, --database or --as");
    if (o->as && neo4j_check_database(o->as) < 0)
        return cli_usage_error("restore", "--as: %s", err_msg());
    if (o->database && neo4j_check_database(o->database) < 0)
        return cli_usage_error("restore", "--database: %s", err_msg());
    return 0;
}

/* The databases to restore, `system` first (it holds users and roles). */
static int plan_databases(restore_ctx *ctx)
{
    const config *cfg = ctx->cfg;
    const restore_opts *o = &ctx->o;
    size_t n = o->all ? cfg->neo4j.n_databases : 1;
    if (n > RESTORE_RECORD_MAX)
        return err_set(ERR_USAGE, "%s: more than %d databases in one restore", cfg->path,
                       RESTORE_RECORD_MAX);
    if (!(ctx->dbs = calloc(n, sizeof *ctx->dbs)))
        return err_set(ERR_FAIL, "out of memory");
    ctx->n = n;
    if (!o->all) {
        const char *db = o->database ? o->database : o->archive ? "" : cfg->neo4j.databases[0];
        snprintf(ctx->dbs[0].item.database, sizeof ctx->dbs[0].item.database, "%s", db);
        return 0;
    }
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < cfg->neo4j.n_databases; i++) {
            const char *db = cfg->neo4j.databases[i];
            if ((strcmp(db, "system") == 0) == (pass == 0))
                snprintf(ctx->dbs[k++].item.database, sizeof ctx->dbs[0].item.database, "%s", db);
        }
    return 0;
}

/* ---- before Neo4j is touched --------------------------------------------- */

/* A killed restore's record: this run must cover every store it left
 * half-loaded, and then uses its safety dumps (a safety dump of a
 * half-loaded store would be worthless). */
static int adopt_record(restore_ctx *ctx)
{
    restore_record prev;
    char where[4200];
    int rc = restore_record_load(ctx->cfg, &prev, where, sizeof where);
    if (rc <= 0)
        return rc;
    restore_record_explain(&prev, where, ctx->cfg);
    for (size_t i = 0; i < prev.n; i++) {
        const restore_record_db *p = &prev.db[i];
        if (p->state != RESTORE_LOADING)
            continue;
        restore_db *d = NULL;
        for (size_t k = 0; k < ctx->n; k++)
            if (strcmp(ctx->dbs[k].target, p->target) == 0)
                d = &ctx->dbs[k];
        if (!d)
            return err_set(ERR_FAIL,
                           "database %s was left half-loaded by that restore and this one does "
                           "not restore it: restore %s too (or reinstate it as said above)",
                           p->target, p->target);
        char dir_prefix[4200], name_start[CATALOG_NAME_MAX + 32];
        snprintf(dir_prefix, sizeof dir_prefix, "%s/", ctx->cfg->local.directory);
        snprintf(name_start, sizeof name_start, "%s_%s_pre_restore_", ctx->cfg->local.name_prefix,
                 p->target);
        const char *base = strrchr(p->safety, '/');
        if (p->safety[0] && (strncmp(p->safety, dir_prefix, strlen(dir_prefix)) != 0 || !base ||
                             strncmp(base + 1, name_start, strlen(name_start)) != 0 ||
                             strchr(p->safety + strlen(dir_prefix), '/')))
            return err_set(ERR_FAIL,
                           "%s names %s as the safety dump of %s: not a safety dump of this "
                           "config's local directory; check it and remove the record",
                           where, p->safety, p->target);
        snprintf(d->safety, sizeof d->safety, "%s", p->safety);
        memcpy(d->safety_blake2b, p->safety_blake2b, 32);
        d->existed = p->existed;
        d->from_record = 1;
        log_info("database %s: its state before that restore is %s; this run keeps it as the "
                 "way back unless a new safety dump of it is valid",
                 p->target, p->safety[0] ? p->safety : "unknown (no safety dump)");
    }
    return 0;
}

/* Neo4j cannot load a store written by a newer version. */
static int check_versions(restore_ctx *ctx)
{
    const config *cfg = ctx->cfg;
    if (command_template_is_blank(cfg->neo4j.version_command)) {
        log_info("no version_command: the Neo4j versions of the archives are not checked");
        return 0;
    }
    char here[NEO4J_VERSION_MAX];
    if (neo4j_version_query(cfg->neo4j.version_command, cfg->neo4j.command_timeout, here) < 0) {
        if (ctx->o.allow_mismatch) {
            log_warn("%s; the versions are not checked (--allow-version-mismatch)", err_msg());
            return 0;
        }
        return err_prefix("%s: [neo4j] ", cfg->path);
    }
    log_info("Neo4j version here: %s (version_command)", here);
    for (size_t i = 0; i < ctx->n; i++) {
        const restore_item *it = &ctx->dbs[i].item;
        const char *was = it->m.neo4j_version;
        if (!was[0]) {
            log_info("%s records no Neo4j version (made without version_command, or by push)",
                     it->name);
            continue;
        }
        if (neo4j_version_compare(was, here) <= 0)
            continue;
        if (ctx->o.allow_mismatch) {
            log_warn("%s was dumped by Neo4j %s, newer than this Neo4j %s: loading anyway "
                     "(--allow-version-mismatch)",
                     it->name, was, here);
            continue;
        }
        return err_set(ERR_INTEGRITY,
                       "%s was dumped by Neo4j %s; this Neo4j is %s, older: Neo4j cannot "
                       "downgrade a store. Upgrade Neo4j here to %s or newer, or give "
                       "--allow-version-mismatch to try anyway",
                       it->name, was, here, was);
    }
    return 0;
}

/* Room for the safety dumps: the newest local dump of each target, else the
 * archive's own size. */
static uint64_t safety_estimate(const restore_ctx *ctx)
{
    const config *cfg = ctx->cfg;
    uint64_t total = 0;
    local_dump *dumps = NULL;
    size_t nd = 0;
    if (local_dumps_scan(AT_FDCWD, cfg->local.directory, cfg->local.name_prefix, 0, &dumps, &nd) <
        0)
        nd = 0;
    for (size_t i = 0; i < ctx->n; i++) {
        const restore_db *d = &ctx->dbs[i];
        if (ctx->o.no_safety || d->from_record)
            continue;
        uint64_t size = d->item.m.plaintext_size;
        for (size_t k = 0; k < nd; k++)
            if (strcmp(dumps[k].database, d->target) == 0)
                size = dumps[k].size; /* oldest first: the newest stays */
        total += size;
    }
    free(dumps);
    return total;
}

static void human_age(time_t secs, char out[32])
{
    if (secs < 0)
        snprintf(out, 32, "in the future");
    else if (secs < 3600)
        snprintf(out, 32, "%ld min ago", (long)(secs / 60));
    else if (secs < 2 * 86400)
        snprintf(out, 32, "%ld h %ld min ago", (long)(secs / 3600), (long)(secs % 3600 / 60));
    else
        snprintf(out, 32, "%ld days ago", (long)(secs / 86400));
}

/* What will happen, and the operator's yes: the database names typed. */
static int confirm(restore_ctx *ctx, const char *remote)
{
    char expect[RESTORE_RECORD_MAX * 130] = "";
    fprintf(stderr, "\nrestore from remote %s, replacing:\n", remote);
    for (size_t i = 0; i < ctx->n; i++) {
        const restore_db *d = &ctx->dbs[i];
        const manifest *m = &d->item.m;
        char age[32], size[32], created[32], signer[KEYS_ID_HEX];
        human_age(time(NULL) - m->dump_started, age);
        catalog_rfc3339(m->dump_started, created);
        keys_id_hex(m->signer_key_id, signer);
        fprintf(stderr,
                "  database %s  <- archive %s\n"
                "      dumped %s (%s) on host %s%s%s, %s, signed by key %s\n",
                d->target, d->item.name, created, age, m->host,
                m->neo4j_version[0] ? ", Neo4j " : "", m->neo4j_version,
                progress_human(m->plaintext_size, size), signer);
        if (i)
            strcat(expect, " ");
        strcat(expect, d->target);
    }
    fprintf(stderr,
            "Neo4j will be stopped, %s, the dump%s loaded, and Neo4j started again.\n"
            "Type %s to go on: ",
            ctx->o.no_safety ? "WITHOUT a safety dump (--no-safety-backup)"
                             : "a safety dump taken of each database",
            ctx->n > 1 ? "s" : "", ctx->n > 1 ? "the database names, as listed" : "its name");
    fflush(stderr);
    char line[RESTORE_RECORD_MAX * 130 + 2];
    if (!fgets(line, sizeof line, stdin))
        return err_set(ERR_FAIL, "no answer: nothing done");
    line[strcspn(line, "\r\n")] = '\0';
    /* the same words, however spaced */
    char *save = NULL, *a = strtok_r(line, " ,\t", &save);
    char copy[sizeof expect];
    snprintf(copy, sizeof copy, "%s", expect);
    char *save2 = NULL, *b = strtok_r(copy, " ", &save2);
    while (a && b && strcmp(a, b) == 0) {
        a = strtok_r(NULL, " ,\t", &save);
        b = strtok_r(NULL, " ", &save2);
    }
    if (a || b)
        return err_set(ERR_FAIL, "the answer was not \"%s\": nothing done", expect);
    return 0;
}

/* ---- Neo4j ------------------------------------------------------------- */

static int run_command(const config *cfg, const char *what, const char *tmpl, const char *db)
{
    if (command_template_is_blank(tmpl))
        return 0;
    log_info("running %s", what);
    if (neo4j_run(what, tmpl, db, cfg->neo4j.command_timeout) < 0) {
        log_error("%s", err_msg());
        return -1;
    }
    return 0;
}

static void start_neo4j(restore_ctx *ctx)
{
    const char *start = ctx->cfg->neo4j.start_command;
    if (run_command(ctx->cfg, "start_command", start, NULL) < 0) {
        ctx->start_failed = 1;
        snprintf(ctx->start_msg, sizeof ctx->start_msg, "%s", err_msg());
        return;
    }
    ctx->start_failed = 0;
    if (!command_template_is_blank(start))
        lock_note_started(ctx->lock);
}

/* The safety dump of D's target, validated, in the local directory. */
static int safety_dump(restore_ctx *ctx, restore_db *d)
{
    const config *cfg = ctx->cfg;
    char name[CATALOG_NAME_MAX];
    struct stat st;
    time_t t = time(NULL);
    for (int tries = 0;; tries++, t++) {
        if (catalog_name(name, sizeof name, cfg->local.name_prefix, d->target, t, 1) < 0)
            return -1;
        snprintf(d->safety, sizeof d->safety, "%s/%s%s", cfg->local.directory, name,
                 CATALOG_DUMP_SUFFIX);
        if (lstat(d->safety, &st) < 0)
            break;
        if (tries == 3600)
            return err_set(ERR_FAIL, "no free safety dump name for %s", d->target);
    }
    log_info("safety dump of database %s", d->target);
    neo4j_child *child = neo4j_spawn("dump_command", cfg->neo4j.dump_command, d->target,
                                     CHILD_READ_STDOUT, cfg->neo4j.command_timeout);
    if (!child) {
        d->safety[0] = '\0';
        return -1;
    }
    char label[160];
    snprintf(label, sizeof label, "safety dump %s", d->target);
    pipeline_backup_job job = {.child = child,
                               .fd = -1,
                               .validate = 1,
                               .local_path = d->safety,
                               .archive_name = name,
                               .progress = ctx->g->progress,
                               .label = label};
    pipeline_backup_result *res = calloc(1, sizeof *res);
    if (!res) {
        neo4j_kill(child);
        d->safety[0] = '\0';
        return err_set(ERR_FAIL, "out of memory");
    }
    int rc = pipeline_backup(&job, res);
    if (rc == 0) {
        char a[32];
        d->existed = 1;
        memcpy(d->safety_blake2b, res->plain_blake2b, 32);
        log_info("database %s: safety dump valid (%s, %llu files, %s) -> %s", d->target,
                 res->dump.format, (unsigned long long)res->dump.files,
                 progress_human(res->plain_size, a), d->safety);
    } else {
        d->safety[0] = '\0';
    }
    free(res);
    return rc;
}

/* Feed the dump at PATH to load_command for TARGET.  The bytes fed must
 * hash to BLAKE2B (what was verified, or the safety dump as written, also
 * by an earlier restore): a file swapped in the local directory since is
 * never loaded to the end. */
static int load_file(restore_ctx *ctx, const char *target, const char *path,
                     const uint8_t blake2b[32], const char *label)
{
    const config *cfg = ctx->cfg;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return err_sys(ERR_FAIL, errno, "cannot open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(ERR_FAIL, "%s is not a regular file", path);
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    log_info("%s: loading %s into database %s", label, path, target);
    neo4j_child *child = neo4j_spawn("load_command", cfg->neo4j.load_command, target,
                                     CHILD_WRITE_STDIN, cfg->neo4j.command_timeout);
    if (!child) {
        close(fd);
        return -1;
    }
    enum { LOAD_BLOCK = 1024 * 1024 };
    char *buf = malloc(LOAD_BLOCK);
    progress *prog = progress_new(ctx->g->progress, label, (uint64_t)st.st_size);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    int rc = buf ? 0 : err_set(ERR_FAIL, "out of memory"), said = 0, wrote_failed = 0;
    while (rc == 0) {
        if (signals_received() && !said++)
            log_warn("signal %d: finishing the load of %s first (a half-loaded store is worse "
                     "than a late exit); no other load begins",
                     signals_received(), target);
        ssize_t n = read(fd, buf, LOAD_BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = err_sys(ERR_FAIL, errno, "cannot read %s", path);
        if (n <= 0)
            break;
        crypto_generichash_update(&h, (const uint8_t *)buf, (size_t)n);
        rc = neo4j_write(child, buf, (size_t)n);
        wrote_failed = rc < 0;
        progress_add(prog, (uint64_t)n);
    }
    progress_done(prog);
    free(buf);
    close(fd);
    uint8_t got[32];
    crypto_generichash_final(&h, got, sizeof got);
    if (rc == 0 && sodium_memcmp(got, blake2b, 32) != 0)
        rc = err_set(ERR_FAIL, "%s changed since it was verified (BLAKE2b differs): load stopped",
                     path);
    if (rc < 0 && !wrote_failed) {
        /* bytes unread or not the verified ones: the load never sees the
         * end of its input, so it cannot complete on them */
        neo4j_kill(child);
        return -1;
    }
    if (rc < 0) {
        err_saved why;
        err_save(&why);
        /* the load stopped reading: one that ended by itself says why
         * (e.g. "database in use"); else it is killed */
        int failed_exit = 0;
        if (neo4j_finish_soon(child, 2000, &failed_exit) < 0 && failed_exit)
            return -1;
        return err_restore(&why);
    }
    return neo4j_finish(child);
}

static int save_record(restore_ctx *ctx)
{
    restore_record *r = &ctx->rec;
    r->pid = (long)getpid();
    if (!r->started)
        r->started = time(NULL);
    r->n = ctx->n;
    for (size_t i = 0; i < ctx->n; i++) {
        const restore_db *d = &ctx->dbs[i];
        restore_record_db *e = &r->db[i];
        snprintf(e->database, sizeof e->database, "%s", d->item.database);
        snprintf(e->target, sizeof e->target, "%s", d->target);
        snprintf(e->archive, sizeof e->archive, "%s", d->item.name);
        snprintf(e->safety, sizeof e->safety, "%s", d->safety);
        memcpy(e->safety_blake2b, d->safety_blake2b, 32);
        e->existed = d->existed;
    }
    if (restore_record_save(ctx->cfg, r) < 0) {
        log_error("%s", err_msg());
        return -1;
    }
    return 0;
}

/* Put database K back as it was before this run: 0 when done (or nothing
 * was there), -1 when it cannot be (then its record stays "loading"). */
static int reinstate(restore_ctx *ctx, size_t k)
{
    restore_db *d = &ctx->dbs[k];
    if (!d->safety[0]) {
        if (d->existed || d->from_record)
            log_error("database %s: no safety dump to reinstate it from", d->target);
        else
            log_error("database %s did not exist before this restore: it may now hold a partial "
                      "load",
                      d->target);
        return -1;
    }
    char label[160];
    snprintf(label, sizeof label, "reinstate %s", d->target);
    ctx->rec.db[k].state = RESTORE_LOADING; /* until it is back */
    save_record(ctx);
    if (load_file(ctx, d->target, d->safety, d->safety_blake2b, label) < 0) {
        log_error("database %s: reinstating %s failed: %s", d->target, d->safety, err_msg());
        return -1;
    }
    log_info("database %s: previous state reinstated from %s", d->target, d->safety);
    ctx->rec.db[k].state = RESTORE_WAITING;
    save_record(ctx);
    return 0;
}

/* The loads, in order; a failure puts back every database touched. */
static err_kind load_all(restore_ctx *ctx, size_t *loaded)
{
    *loaded = 0;
    for (size_t i = 0; i < ctx->n; i++) {
        restore_db *d = &ctx->dbs[i];
        if (signals_received())
            return err_set(
                ERR_FAIL, "interrupted by signal %d: database %s%s not loaded (unchanged)",
                signals_received(), d->target, i + 1 < ctx->n ? " and the ones after it" : "");
        ctx->rec.db[i].state = RESTORE_LOADING;
        if (save_record(ctx) < 0) {
            ctx->rec.db[i].state = RESTORE_WAITING; /* not begun */
            err_prefix("database %s not loaded (unchanged): ", d->target);
            return ERR_FAIL;
        }
        char label[160];
        snprintf(label, sizeof label, "load %s", d->target);
        if (load_file(ctx, d->target, d->item.path, d->item.m.plaintext_blake2b, label) == 0) {
            ctx->rec.db[i].state = RESTORE_LOADED;
            d->loaded = 1;
            save_record(ctx);
            (*loaded)++;
            log_info("database %s: loaded from %s", d->target, d->item.name);
            continue;
        }
        char why[ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err_msg());
        log_error("database %s: load failed: %s", d->target, why);
        int all_back = 1;
        for (size_t k = i + 1; k-- > 0;)
            if (reinstate(ctx, k) < 0)
                all_back = 0;
            else
                ctx->dbs[k].loaded = 0;
        *loaded = 0;
        if (all_back) {
            strbuf files;
            strbuf_init(&files, 8192);
            for (size_t k = 0; k <= i; k++)
                if (ctx->dbs[k].safety[0])
                    strbuf_printf(&files, "%s%s", files.len ? ", " : "", ctx->dbs[k].safety);
            err_set(ERR_FAIL, "restore failed (%s); previous state reinstated from %s", why,
                    strbuf_str(&files) ? strbuf_str(&files) : "the safety dumps");
            strbuf_free(&files);
        } else {
            err_set(ERR_FAIL,
                    "restore failed (%s) and the previous state could not be reinstated%s", why,
                    command_template_is_blank(ctx->cfg->neo4j.stop_command)
                        ? ""
                        : ": Neo4j is left stopped");
        }
        return ERR_FAIL;
    }
    return ERR_NONE;
}

/* Stop Neo4j and take the safety dumps: -1 when Neo4j was started again
 * because one failed (nothing changed). */
static int stop_and_save(restore_ctx *ctx)
{
    const config *cfg = ctx->cfg;
    const char *stop = cfg->neo4j.stop_command;
    if (!command_template_is_blank(stop)) {
        lock_note_stopped(ctx->lock); /* before: it may half-stop Neo4j */
        ctx->stopped = 1;
        if (run_command(cfg, "stop_command", stop, NULL) < 0) {
            err_prefix("nothing changed: ");
            return -1;
        }
    }
    for (size_t i = 0; i < ctx->n; i++) {
        restore_db *d = &ctx->dbs[i];
        if (d->from_record) {
            /* put back by hand since, perhaps: a dump that validates is
             * the state to keep; a half-loaded store's will not */
            restore_db fresh = *d;
            if (!ctx->o.no_safety && safety_dump(ctx, &fresh) == 0) {
                *d = fresh;
                d->from_record = 0;
                log_info("database %s: a valid safety dump of it now, %s, is the way back",
                         d->target, d->safety);
            } else {
                log_warn("database %s: keeping %s from the earlier restore as the way back",
                         d->target, d->safety[0] ? d->safety : "nothing");
            }
            continue;
        }
        if (ctx->o.no_safety) {
            d->existed = 1; /* unknown: assume there is something to lose */
            log_warn("database %s: no safety dump (--no-safety-backup)", d->target);
            continue;
        }
        if (signals_pending()) {
            err_set(ERR_FAIL, "interrupted by signal %d before the loads: nothing changed",
                    signals_pending());
            return -1;
        }
        if (safety_dump(ctx, d) == 0)
            continue;
        if (neo4j_last_db_missing()) {
            log_info("database %s does not exist yet (a fresh host?): no safety dump needed",
                     d->target);
            continue;
        }
        /* the archive is sound: whatever went wrong here is exit 1 */
        err_set(ERR_FAIL, "safety dump of database %s failed, nothing changed: %s", d->target,
                err_msg());
        return -1;
    }
    return 0;
}

static void run_checks(restore_ctx *ctx, err_kind *outcome)
{
    const char *check = ctx->cfg->neo4j.check_command;
    if (command_template_is_blank(check))
        return;
    for (size_t i = 0; i < ctx->n; i++)
        if (run_command(ctx->cfg, "check_command", check, ctx->dbs[i].target) < 0) {
            log_error("database %s: check_command failed after the restore", ctx->dbs[i].target);
            *outcome = err_worse(*outcome, ERR_FAIL);
        }
}

static void report(const restore_ctx *ctx, const char *remote)
{
    for (size_t i = 0; i < ctx->n; i++) {
        const restore_db *d = &ctx->dbs[i];
        char size[32];
        if (!d->loaded)
            continue;
        printf("restored database %s from %s (remote %s, %s)%s%s\n", d->target, d->item.name,
               remote, progress_human(d->item.m.plaintext_size, size),
               d->safety[0] ? ", previous state in " : ", no previous state kept",
               d->safety[0] ? d->safety : "");
    }
    fflush(stdout);
}

/* Everything that can be checked before the lock is taken and a byte is
 * downloaded. */
static int check_setup(restore_ctx *ctx)
{
    const config *cfg = ctx->cfg;
    const restore_opts *o = &ctx->o;
    if (!o->yes && !isatty(STDIN_FILENO))
        return err_set(ERR_USAGE, "restore replaces a database: with no terminal to confirm on, "
                                  "give --yes (nothing done)");
    for (size_t i = 0; i < cfg->neo4j.n_databases; i++)
        if (neo4j_check_database(cfg->neo4j.databases[i]) < 0)
            return err_prefix("%s: [neo4j] database: ", cfg->path);
    struct {
        const char *what, *tmpl;
    } programs[] = {{"load_command", cfg->neo4j.load_command},
                    {"dump_command", o->no_safety ? NULL : cfg->neo4j.dump_command},
                    {"stop_command", cfg->neo4j.stop_command},
                    {"start_command", cfg->neo4j.start_command},
                    {"check_command", cfg->neo4j.check_command},
                    {"version_command", cfg->neo4j.version_command}};
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++)
        if (neo4j_check_program(programs[i].what, programs[i].tmpl) < 0)
            return err_prefix("%s: [neo4j] ", cfg->path);
    /* with --as or several databases, a template with the name written in
     * would dump or load the wrong database */
    if (o->as || ctx->n > 1) {
        const char *need[] = {"load_command", cfg->neo4j.load_command, "dump_command",
                              o->no_safety ? NULL : cfg->neo4j.dump_command};
        for (size_t i = 0; i < 4; i += 2)
            if (need[i + 1] && !strstr(need[i + 1], "{database}") &&
                !strstr(need[i + 1], "NEO4J_OFFSITE_DATABASE"))
                return err_set(ERR_USAGE,
                               "%s: [neo4j] %s names no {database}: with %s it would act on "
                               "the database written in it, not on %s",
                               cfg->path, need[i], o->as ? "--as" : "--all-databases",
                               o->as ? o->as : "each one restored");
    }
    if (atomic_file_probe_dir(cfg->local.directory) < 0)
        return err_prefix("local directory (where the verified dumps and safety dumps go): ");
    return 0;
}

static err_kind run_restore(restore_ctx *ctx)
{
    const config *cfg = ctx->cfg;
    keys_public *trusted = NULL;
    size_t n_trusted = 0;
    keys_secret *secret = NULL;
    restore_source src;
    memset(&src, 0, sizeof src);
    err_kind outcome = ERR_NONE;
    if (archives_load_verify_keys(cfg->keys.verify_keys, cfg->keys.n_verify_keys, &trusted,
                                  &n_trusted) < 0 ||
        !(secret = keys_load_secret(cfg->keys.secret_key, KEYS_ARCHIVE)))
        goto fail;
    restore_item items[RESTORE_RECORD_MAX];
    for (size_t i = 0; i < ctx->n; i++)
        items[i] = ctx->dbs[i].item;
    src = (restore_source){.cfg = cfg,
                           .remote = ctx->o.remote,
                           .archive = ctx->o.archive,
                           .trusted = trusted,
                           .n_trusted = n_trusted,
                           .secret = secret,
                           .progress = ctx->g->progress};
    if (restore_stage_resolve(&src, items, ctx->n) < 0)
        goto fail;
    for (size_t i = 0; i < ctx->n; i++) {
        ctx->dbs[i].item = items[i];
        snprintf(ctx->dbs[i].target, sizeof ctx->dbs[i].target, "%.127s",
                 ctx->o.as ? ctx->o.as : items[i].database);
    }
    if (adopt_record(ctx) < 0)
        goto fail;
    if (check_versions(ctx) < 0 ||
        restore_stage_check_space(&src, items, ctx->n, safety_estimate(ctx)) < 0)
        goto fail;
    for (size_t i = 0; i < ctx->n; i++) {
        if (signals_pending()) {
            err_set(ERR_FAIL, "interrupted by signal %d: nothing changed", signals_pending());
            goto fail;
        }
        if (restore_stage_fetch(&src, &ctx->dbs[i].item) < 0)
            goto fail;
    }
    if (!ctx->o.yes && confirm(ctx, src.remote_used) < 0)
        goto fail;
    if (stop_and_save(ctx) < 0) {
        int half = 0;
        for (size_t i = 0; i < ctx->n; i++)
            half |= ctx->dbs[i].from_record;
        if (half)
            log_error("a database may be half-loaded (the earlier restore's record): Neo4j is "
                      "not started");
        else
            start_neo4j(ctx);
        goto fail;
    }
    /* from the first load on, a signal waits for the load under way: a
     * half-loaded store is worse than a late exit */
    signals_hold();
    size_t loaded = 0;
    outcome = load_all(ctx, &loaded);
    signals_release();
    if (outcome == ERR_NONE && signals_received())
        log_warn("signal %d came during the load: the load was finished first, as a half-loaded "
                 "store is worse than a late exit",
                 signals_received());
    int unsound = restore_record_unsound(&ctx->rec);
    if (!unsound) {
        start_neo4j(ctx);
        restore_record_remove(cfg);
    } else {
        restore_record_explain(&ctx->rec, NULL, cfg);
    }
    if (outcome != ERR_NONE) {
        if (loaded)
            report(ctx, src.remote_used);
        goto fail_kept;
    }
    report(ctx, src.remote_used);
    if (!ctx->start_failed)
        run_checks(ctx, &outcome);
    goto out;
fail:
    outcome = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
fail_kept:
    if (outcome == ERR_NONE)
        outcome = ERR_FAIL;
    log_error("restore: %s", err_msg());
out:
    for (size_t i = 0; i < ctx->n; i++)
        if (ctx->dbs[i].item.remove_after && ctx->dbs[i].item.path[0])
            unlink(ctx->dbs[i].item.path); /* a stand-in name, never reused */
    restore_stage_close(&src);
    free(trusted);
    keys_secret_free(secret);
    return outcome;
}

int cmd_restore(int argc, char **argv, const cli_globals *g)
{
    restore_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    int rc = parse_options(argc, argv, &ctx.o);
    if (rc)
        return rc;
    ctx.g = g;
    err_kind outcome = ERR_FAIL;
    config *cfg = config_load(g->config_path, CFG_CMD_RESTORE);
    if (!cfg)
        goto fail;
    ctx.cfg = cfg;
    child_set_workdir(cfg->dir); /* the commands run where the config file is */
    if (plan_databases(&ctx) < 0 || check_setup(&ctx) < 0)
        goto fail;
    if (!(ctx.lock = lock_acquire(cfg->general.lock_file, "restore")))
        goto fail;
    const lock_record *prev = lock_previous(ctx.lock);
    if (prev->stopped && !prev->started)
        log_warn("the previous run (pid %ld, %s) stopped Neo4j and did not start it again; this "
                 "restore starts it when it is done",
                 prev->pid, prev->command[0] ? prev->command : "unknown");
    outcome = run_restore(&ctx);
    goto out;
fail:
    outcome = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
    log_error("restore: %s", err_msg());
out:
    if (ctx.start_failed) {
        outcome = err_worse(outcome, ERR_FAIL);
        log_error("Neo4j NOT started: %s", ctx.start_msg);
    }
    free(ctx.dbs);
    lock_release(ctx.lock);
    config_free(cfg);
    return err_exit_code(outcome);
}
