/* cmd_audit: prove with public keys only that the archives are complete,
 * signed, retained as promised and fresh (audit.c does the work per
 * target); a table and a verdict, or --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "archives.h"
#include "audit.h"
#include "commands.h"
#include "config.h"
#include "err.h"
#include "freshness.h"
#include "log.h"
#include "progress.h"
#include "remotes.h"
#include "restore_record.h"
#include "strbuf.h"

typedef struct {
    audit_target *t;
    size_t n;
    int config_error; /* a remote's settings are wrong: exit 2 */
} audit_run;

static audit_target *add_target(audit_run *r)
{
    audit_target *n = realloc(r->t, (r->n + 1) * sizeof *n);
    if (!n)
        return NULL;
    r->t = n;
    memset(&r->t[r->n], 0, sizeof *r->t);
    return &r->t[r->n++];
}

static void audit_remotes(audit_run *r, const config *cfg, const char *only, const audit_opts *o)
{
    for (size_t k = 0; k < cfg->n_remotes; k++) {
        const config_remote *rc = &cfg->remotes[k];
        if (only && strcmp(rc->name, only) != 0)
            continue;
        audit_target *t = add_target(r);
        if (!t)
            return;
        snprintf(t->target, sizeof t->target, "%s", rc->name);
        t->type = "remote";
        log_info("auditing remote %s (%s)", rc->name, o->read_data ? "every byte" : "headers");
        backend *b = remote_backend_open(rc, o->read_data ? BACKEND_OPEN_BULK : 0);
        if (!b) {
            r->config_error |= err_get_kind() == ERR_USAGE;
            char shown[ERR_MSG_MAX];
            t->error = strdup(strbuf_printable_copy(shown, sizeof shown, err_msg()));
            continue;
        }
        audit_remote(b, o, t);
        backend_close(b);
    }
}

static size_t total(const audit_run *r, size_t (*what)(const audit_target *))
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        k += what(&r->t[i]);
    return k;
}
static size_t findings_of(const audit_target *t)
{
    return t->findings;
}
static size_t errors_of(const audit_target *t)
{
    return t->unreadable + (t->error != NULL);
}
static size_t items_of(const audit_target *t)
{
    return t->n;
}

static const char *verdict(const audit_run *r)
{
    return total(r, findings_of)       ? "findings"
           : total(r, errors_of)       ? "unreadable"
           : total(r, audit_not_fresh) ? "stale"
                                       : "ok";
}

static void print_target(const audit_target *t)
{
    printf("%s %s\n", strcmp(t->type, "local") == 0 ? "LOCAL DIRECTORY" : "REMOTE", t->target);
    if (t->error) {
        printf("  cannot be read: %s\n\n", t->error);
        return;
    }
    printf("  %-10s %-48s %-10s %-21s %9s %10s %-6s %-16s %s\n", "RESULT", "NAME", "KIND",
           "CREATED (UTC)", "AGE", "SIZE", "READ", "SIGNER", "RETENTION");
    for (size_t i = 0; i < t->n; i++) {
        const audit_item *it = &t->items[i];
        char created[32], age[32], size[32];
        catalog_rfc3339(it->created, created);
        snprintf(age, sizeof age, "%.1f h", it->age_h);
        printf("  %-10s %-48s %-10s %-21s %9s %10s %-6s %-16s %s\n",
               audit_outcome_name(it->outcome), it->name, it->kind, created, age,
               progress_human(it->size, size), it->check, it->signer[0] ? it->signer : "-",
               it->retention ? it->retention : "-");
        if (it->problem)
            printf("  %-10s %s\n", "", it->problem);
    }
    if (t->n == 0)
        printf("  (nothing named with the prefix)\n");
    for (size_t i = 0; i < t->n_newest; i++) {
        const audit_newest *nw = &t->newest[i];
        if (nw->state == FRESH_NONE)
            printf("  newest %s: none that %s\n", nw->database,
                   strcmp(t->type, "local") == 0 ? "is valid" : "verifies");
        else
            printf("  newest %s: %s, %.1f h old: %s\n", nw->database, nw->name, nw->age_h,
                   freshness_name(nw->state));
    }
    printf("\n");
}

static void print_table(const audit_run *r, const audit_opts *o)
{
    for (size_t i = 0; i < r->n; i++)
        print_target(&r->t[i]);
    size_t f = total(r, findings_of), e = total(r, errors_of), s = total(r, audit_not_fresh),
           n = total(r, items_of);
    const char *how = o->read_data ? "every byte read" : "manifests and headers read";
    if (f)
        printf("AUDIT FAILED: %zu finding%s in %zu objects (%s)\n", f, f == 1 ? "" : "s", n, how);
    else if (e)
        printf("AUDIT INCOMPLETE: %zu target%s or object%s could not be read (%s)\n", e,
               e == 1 ? "" : "s", e == 1 ? "" : "s", how);
    else if (s)
        printf("AUDIT STALE: %zu newest backup%s older than %g h, missing or dated in the future\n",
               s, s == 1 ? " is" : "s are", o->max_age_h);
    else
        printf("AUDIT OK: %zu objects on %zu target%s, no finding, every newest backup younger "
               "than %g h (%s)\n",
               n, r->n, r->n == 1 ? "" : "s", o->max_age_h, how);
}

static json_t *rfc3339(time_t t)
{
    char s[32];
    catalog_rfc3339(t, s);
    return json_string(s);
}

static json_t *hours(double h)
{
    return json_real((double)(long long)(h * 1000 + 0.5) / 1000);
}

static json_t *target_json(const audit_target *t)
{
    json_t *items = json_array(), *newest = json_array();
    for (size_t i = 0; i < t->n; i++) {
        const audit_item *it = &t->items[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:s, s:s, s:s*, s:s*, s:s*}", "name",
                              it->name, "database", it->database, "kind", it->kind, "created",
                              rfc3339(it->created), "age_hours", hours(it->age_h), "size",
                              (json_int_t)it->size, "result", audit_outcome_name(it->outcome),
                              "read", it->check, "signer", it->signer[0] ? it->signer : NULL,
                              "retention", it->retention, "problem", it->problem);
        if (it->format)
            json_object_set_new(o, "format", json_integer(it->format));
        json_array_append_new(items, o);
    }
    for (size_t i = 0; i < t->n_newest; i++) {
        const audit_newest *nw = &t->newest[i];
        int none = nw->state == FRESH_NONE;
        json_array_append_new(newest,
                              json_pack("{s:s, s:o, s:o, s:o, s:s}", "database", nw->database,
                                        "name", none ? json_null() : json_string(nw->name),
                                        "created", none ? json_null() : rfc3339(nw->created),
                                        "age_hours", none ? json_null() : hours(nw->age_h), "state",
                                        freshness_name(nw->state)));
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:I, s:s*}", "type", t->type, "target", t->target,
                     "items", items, "newest", newest, "findings", (json_int_t)t->findings, "error",
                     t->error);
}

static void print_json(const audit_run *r, const audit_opts *o, const char *fatal)
{
    json_t *targets = json_array();
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(targets, target_json(&r->t[i]));
    json_t *doc = json_pack(
        "{s:o, s:b, s:f, s:{s:i, s:i, s:i, s:i}, s:o, s:I, s:s, s:s*}", "checked", rfc3339(o->now),
        "read_data", o->read_data, "max_age_hours", o->max_age_h, "policy", "keep_days",
        o->policy.keep_days, "min_keep", o->policy.min_keep, "keep_weekly", o->policy.keep_weekly,
        "keep_monthly", o->policy.keep_monthly, "targets", targets, "findings",
        (json_int_t)total(r, findings_of), "verdict", fatal ? "error" : verdict(r), "error", fatal);
    json_dumpf(doc, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(doc);
}

/* SPEC's order: 2, 4, 1, 5, 0. */
static int exit_code(const audit_run *r)
{
    return err_exit_code(r->config_error             ? ERR_USAGE
                         : total(r, findings_of)     ? ERR_INTEGRITY
                         : total(r, errors_of)       ? ERR_FAIL
                         : total(r, audit_not_fresh) ? ERR_STALE
                                                     : ERR_NONE);
}

int cmd_audit(int argc, char **argv, const cli_globals *g)
{
    const char *remote = NULL, *max_age_arg = NULL;
    int read_data = 0;
    const cli_opt opts[] = {{"remote", 0, CLI_VALUE, &remote},
                            {"read-data", 0, CLI_FLAG, &read_data},
                            {"max-age", 0, CLI_VALUE, &max_age_arg},
                            {NULL, 0, 0, NULL}};
    int rc = cli_parse("audit", argc, argv, opts, NULL, 0);
    if (rc)
        return rc;
    audit_opts o = {.read_data = read_data, .progress = g->progress, .now = time(NULL)};
    if (freshness_parse_max_age(max_age_arg, &o.max_age_h) < 0)
        return cli_usage_error("audit", "--max-age %s: give the hours as a number, 0 or more",
                               max_age_arg);
    audit_run r = {0};
    keys_public *trusted = NULL;
    int code;
    config *cfg = config_load(g->config_path, CFG_CMD_AUDIT);
    if (!cfg)
        goto fail;
    restore_record_check(cfg, 0); /* a killed restore is said first */
    if (remote && !config_remote_find(cfg, remote))
        goto fail;
    if (archives_load_verify_keys(cfg->keys.verify_keys, cfg->keys.n_verify_keys, &trusted,
                                  &o.n_trusted) < 0)
        goto fail;
    o.trusted = trusted;
    o.prefix = cfg->local.name_prefix;
    o.databases = (const char *const *)cfg->neo4j.databases;
    o.n_databases = cfg->neo4j.n_databases;
    o.policy = cfg->retention;
    audit_remotes(&r, cfg, remote, &o);
    /* the local directory is the first copy a restore uses: it is the
     * auditor's too, unless one remote was asked for */
    if (!remote && cfg->local.directory && *cfg->local.directory) {
        audit_target *t = add_target(&r);
        if (t)
            audit_local(cfg->local.directory, &o, t);
    }
    for (size_t i = 0; i < r.n; i++)
        if (r.t[i].error)
            log_error("%s %s: %s", r.t[i].type, r.t[i].target, r.t[i].error);
    if (g->json)
        print_json(&r, &o, NULL);
    else
        print_table(&r, &o);
    code = exit_code(&r);
    goto out;
fail:
    log_error("audit: %s", err_msg());
    if (g->json) {
        char shown[ERR_MSG_MAX];
        print_json(&r, &o, strbuf_printable_copy(shown, sizeof shown, err_msg()));
    }
    code = err_exit_code(err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind());
out:
    for (size_t i = 0; i < r.n; i++)
        audit_target_free(&r.t[i]);
    free(r.t);
    free(trusted);
    config_free(cfg);
    return code;
}
