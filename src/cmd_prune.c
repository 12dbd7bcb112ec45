/* cmd_prune: apply retention now, to the local directory and the remotes
 * (prune.c does the work), or with --dry-run print the plan and change
 * nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "catalog.h"
#include "commands.h"
#include "config.h"
#include "err.h"
#include "lock.h"
#include "log.h"
#include "prune.h"
#include "remotes.h"
#include "restore_record.h"
#include "strbuf.h"

typedef struct {
    const cli_globals *g;
    int dry_run;
    json_t *targets, *errors;
    size_t ok, failed, findings;
} prune_run;

static const char *action(const prune_item *it, int dry_run)
{
    if (it->keep)
        return "keep";
    if (dry_run)
        return "delete";
    return it->removed ? "deleted" : it->soft ? "left" : "FAILED";
}

static void print_items(const prune_run *run, const char *label, const prune_result *r)
{
    char created[32], shown[ERR_MSG_MAX];
    for (size_t i = 0; i < r->n; i++) {
        const prune_item *it = &r->items[i];
        /* a real run shows what changed; -v and --dry-run show everything */
        if (!run->dry_run && it->keep && run->g->verbose < 1)
            continue;
        catalog_rfc3339(it->created, created);
        printf("  %-7s %-52s %-10s %-20s %s", action(it, run->dry_run), it->name, it->state,
               created, it->why ? it->why : "");
        if (it->error)
            printf(": %s", strbuf_printable_copy(shown, sizeof shown, prune_error_text(label, it)));
        printf("\n");
    }
}

static json_t *items_json(const prune_run *run, const prune_result *r)
{
    json_t *items = json_array();
    char created[32], shown[ERR_MSG_MAX];
    for (size_t i = 0; i < r->n; i++) {
        const prune_item *it = &r->items[i];
        catalog_rfc3339(it->created, created);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "name", it->name, "database",
                              it->database, "created", created, "state", it->state, "action",
                              it->keep ? "keep" : "delete", "reason", it->why ? it->why : "",
                              "deleted", it->removed);
        if (it->error)
            json_object_set_new(o, "error",
                                json_string(strbuf_printable_copy(shown, sizeof shown, it->error)));
        json_array_append_new(items, o);
    }
    (void)run;
    return items;
}

/* Record and show the result R of TARGET (KIND "local" or "remote"). */
static void report(prune_run *run, const char *kind, const char *target, const prune_result *r)
{
    char label[600];
    snprintf(label, sizeof label, "%s %s",
             strcmp(kind, "local") == 0 ? "local directory" : "remote", target);
    if (r->failed)
        run->failed++;
    else
        run->ok++;
    run->findings += r->missing;
    if (run->g->json) {
        json_array_append_new(run->targets,
                              json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:I}", "type", kind,
                                        "target", target, "items", items_json(run, r), "to_delete",
                                        (json_int_t)r->to_delete, "deleted", (json_int_t)r->removed,
                                        "failed", (json_int_t)r->failed, "missing",
                                        (json_int_t)r->missing));
    } else {
        printf("%s: %zu backup%s, %s %zu, keep %zu%s\n", label, r->backups,
               r->backups == 1 ? "" : "s", run->dry_run ? "would delete" : "deleted",
               run->dry_run ? r->to_delete : r->removed, r->n - r->to_delete,
               r->failed ? " (some deletions FAILED)" : "");
        print_items(run, label, r);
    }
    prune_log_findings(label, r);
}

static void target_failed(prune_run *run, const char *kind, const char *target, const char *msg)
{
    char shown[ERR_MSG_MAX];
    run->failed++;
    strbuf_printable_copy(shown, sizeof shown, msg);
    log_error("%s %s: %s", kind, target, shown);
    if (run->g->json)
        json_array_append_new(run->errors,
                              json_pack("{s:s, s:s}", "target", target, "message", shown));
}

static int parse_options(int argc, char **argv, const char **remote, int *local, int *dry_run)
{
    const cli_opt opts[] = {{"remote", 0, CLI_VALUE, remote},
                            {"local", 0, CLI_FLAG, local},
                            {"dry-run", 0, CLI_FLAG, dry_run},
                            {NULL, 0, 0, NULL}};
    int rc = cli_parse("prune", argc, argv, opts, NULL, 0);
    if (rc == 0 && *remote && *local)
        return cli_usage_error("prune", "--remote and --local exclude each other");
    return rc;
}

static void print_json(const prune_run *run, const prune_opts *o, const char *error)
{
    char shown[ERR_MSG_MAX];
    json_t *errors = json_copy(run->errors);
    if (error)
        json_array_append_new(errors, json_pack("{s:n, s:s}", "target", "message",
                                                strbuf_printable_copy(shown, sizeof shown, error)));
    json_t *doc = json_pack(
        "{s:b, s:{s:i, s:i, s:i, s:i}, s:O, s:o}", "dry_run", run->dry_run, "policy", "keep_days",
        o->policy.keep_days, "min_keep", o->policy.min_keep, "keep_weekly", o->policy.keep_weekly,
        "keep_monthly", o->policy.keep_monthly, "targets", run->targets, "errors", errors);
    json_dumpf(doc, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(doc);
}

int cmd_prune(int argc, char **argv, const cli_globals *g)
{
    const char *remote = NULL;
    int local = 0, dry_run = 0;
    int rc = parse_options(argc, argv, &remote, &local, &dry_run);
    if (rc)
        return rc;

    prune_run run = {.g = g, .dry_run = dry_run, .targets = json_array(), .errors = json_array()};
    prune_opts o = {.now = time(NULL), .dry_run = dry_run};
    remote_set set;
    memset(&set, 0, sizeof set);
    run_lock *lock = NULL;
    err_kind outcome;
    config *cfg = config_load(g->config_path, CFG_CMD_PRUNE);
    if (!cfg)
        goto fail;
    restore_record_check(cfg, 0); /* a killed restore is said first */
    o.prefix = cfg->local.name_prefix;
    o.policy = cfg->retention;
    int do_local = local || (!remote && cfg->local.directory);
    if (local && !cfg->local.directory) {
        err_set(ERR_USAGE, "%s: --local: [local] directory is not set", cfg->path);
        goto fail;
    }
    if (!do_local && !remote && cfg->n_remotes == 0) {
        err_set(ERR_USAGE, "%s: nothing to prune: no [local] directory and no remote", cfg->path);
        goto fail;
    }
    if (!(lock = lock_acquire(cfg->general.lock_file, "prune")))
        goto fail;
    if (!local) {
        const char *one[1] = {remote};
        if (remote_set_open(&set, cfg, one, remote ? 1 : 0, 0) < 0)
            goto fail;
        for (size_t i = 0; i < set.n_failed; i++)
            target_failed(&run, "remote", set.failed_names[i], set.failed_msgs[i]);
    }
    if (!g->json && dry_run)
        printf("Dry run (keep_days %d, min_keep %d, keep_weekly %d, keep_monthly %d): nothing is "
               "deleted.\n",
               o.policy.keep_days, o.policy.min_keep, o.policy.keep_weekly, o.policy.keep_monthly);
    prune_result r;
    if (do_local) {
        if (prune_local(cfg->local.directory, &o, &r) < 0) {
            target_failed(&run, "local directory", cfg->local.directory, err_msg());
        } else {
            report(&run, "local", cfg->local.directory, &r);
            prune_result_free(&r);
        }
    }
    for (size_t i = 0; i < set.n; i++) {
        if (prune_remote(set.b[i], &o, &r) < 0) {
            target_failed(&run, "remote", set.names[i], err_msg());
            continue;
        }
        report(&run, "remote", set.names[i], &r);
        prune_result_free(&r);
    }
    outcome = run.failed == 0 ? ERR_NONE : run.ok > 0 ? ERR_PARTIAL : ERR_FAIL;
    if (run.findings)
        outcome = err_worse(outcome, ERR_INTEGRITY);
    if (g->json)
        print_json(&run, &o, NULL);
    goto out;
fail:
    outcome = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
    log_error("prune: %s", err_msg());
    if (g->json)
        print_json(&run, &o, err_msg());
out:
    json_decref(run.targets);
    json_decref(run.errors);
    remote_set_close(&set);
    lock_release(lock);
    config_free(cfg);
    return err_exit_code(outcome);
}
