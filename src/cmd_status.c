/* cmd_status: is the newest backup fresh?  One listing per remote (an
 * archive counts when its manifest exists; nothing is read or verified:
 * that is audit's work) and one scan of the local directory, for a
 * monitoring system to call often: a table, --json, or one Nagios plugin
 * line. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "archives.h"
#include "catalog.h"
#include "commands.h"
#include "config.h"
#include "err.h"
#include "freshness.h"
#include "local_dumps.h"
#include "log.h"
#include "remotes.h"
#include "restore_record.h"
#include "strbuf.h"

#define WARN_FRACTION 0.8 /* --nagios: WARNING past this share of the limit */

typedef struct {
    const char *type; /* "remote" or "local" */
    char target[128];
    char database[128];
    char newest[CATALOG_NAME_MAX + 16]; /* "" when none */
    time_t created;
    double age_h;
    freshness state;
} status_row;

typedef struct {
    status_row *rows;
    size_t n, cap;
    char (*err_target)[128];
    char (*err_msg)[1024];
    size_t n_err, cap_err;
    int config_error; /* a remote's settings are wrong: exit 2 (Nagios UNKNOWN) */
} status_report;

static status_row *add_row(status_report *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        status_row *n = realloc(r->rows, cap * sizeof *n);
        if (!n)
            return NULL;
        r->rows = n;
        r->cap = cap;
    }
    status_row *row = &r->rows[r->n++];
    memset(row, 0, sizeof *row);
    return row;
}

static void add_error(status_report *r, const char *target, const char *msg)
{
    if (r->n_err == r->cap_err) {
        size_t cap = r->cap_err ? 2 * r->cap_err : 4;
        char(*t)[128] = realloc(r->err_target, cap * sizeof *t);
        if (t)
            r->err_target = t;
        char(*m)[1024] = realloc(r->err_msg, cap * sizeof *m);
        if (m)
            r->err_msg = m;
        if (!t || !m)
            return;
        r->cap_err = cap;
    }
    snprintf(r->err_target[r->n_err], 128, "%s", target);
    /* escaped: a server's bytes may be in it, and JSON takes valid UTF-8 only */
    strbuf_printable_copy(r->err_msg[r->n_err], 1024, msg);
    r->n_err++;
}

/* One row: TARGET's newest of DATABASE (NAME created at CREATED, or none). */
static void judge(status_report *r, const char *type, const char *target, const char *database,
                  const char *name, time_t created, time_t now, double max_age_h)
{
    status_row *row = add_row(r);
    if (!row) {
        add_error(r, target, "out of memory");
        return;
    }
    row->type = type;
    snprintf(row->target, sizeof row->target, "%s", target);
    snprintf(row->database, sizeof row->database, "%s", database);
    row->state = freshness_judge(name != NULL, created, now, max_age_h, &row->age_h);
    if (!name)
        return;
    snprintf(row->newest, sizeof row->newest, "%s", name);
    row->created = created;
}

/* Each remote on its own: one that cannot be opened (its settings, or the
 * network) does not hide the others. */
static void check_remotes(status_report *r, const config *cfg, time_t now, double max_age_h)
{
    for (size_t k = 0; k < cfg->n_remotes; k++) {
        const config_remote *rc = &cfg->remotes[k];
        backend *b = remote_backend_open(rc, 0);
        archive_info *list = NULL;
        size_t n = 0;
        if (!b || archives_list(b, cfg->local.name_prefix, &list, &n) < 0) {
            if (err_get_kind() == ERR_USAGE)
                r->config_error = 1;
            add_error(r, rc->name, err_msg());
            backend_close(b);
            continue;
        }
        for (size_t d = 0; d < cfg->neo4j.n_databases; d++) {
            const char *db = cfg->neo4j.databases[d];
            const archive_info *a = archives_latest(list, n, db);
            judge(r, "remote", rc->name, db, a ? a->name : NULL, a ? a->created : 0, now,
                  max_age_h);
        }
        free(list);
        backend_close(b);
    }
}

/* The local directory, when one is configured: a host without it (a
 * monitoring host) has nothing to say about it. */
static void check_local(status_report *r, const config *cfg, time_t now, double max_age_h)
{
    const char *dir = cfg->local.directory;
    if (!dir || !*dir)
        return;
    local_dump *dumps = NULL;
    size_t n = 0;
    if (local_dumps_scan(AT_FDCWD, dir, cfg->local.name_prefix, 0, &dumps, &n) < 0) {
        add_error(r, "local", err_msg());
        return;
    }
    for (size_t d = 0; d < cfg->neo4j.n_databases; d++) {
        const char *db = cfg->neo4j.databases[d];
        const local_dump *newest = NULL;
        for (size_t i = 0; i < n; i++) /* oldest first */
            if (strcmp(dumps[i].database, db) == 0 && dumps[i].size > 0)
                newest = &dumps[i];
        judge(r, "local", "local", db, newest ? newest->file : NULL, newest ? newest->created : 0,
              now, max_age_h);
    }
    free(dumps);
}

/* The oldest "newest" (the worst age); -1 when a target has none. */
static double worst_age(const status_report *r)
{
    double worst = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->rows[i].state == FRESH_NONE)
            return -1;
        if (r->rows[i].age_h > worst)
            worst = r->rows[i].age_h;
    }
    return worst;
}

static size_t count_state(const status_report *r, freshness s)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        k += r->rows[i].state == s;
    return k;
}

/* Rows that are not fresh: stale, none, or dated in the future. */
static size_t count_bad(const status_report *r)
{
    return count_state(r, FRESH_STALE) + count_state(r, FRESH_NONE) + count_state(r, FRESH_FUTURE);
}

static void print_table(const status_report *r, double max_age_h)
{
    printf("%-7s %-12s %-12s %-48s %-21s %9s  %s\n", "TYPE", "TARGET", "DATABASE", "NEWEST",
           "CREATED (UTC)", "AGE", "STATE");
    for (size_t i = 0; i < r->n; i++) {
        const status_row *row = &r->rows[i];
        char created[32] = "-", age[32] = "-";
        if (row->state != FRESH_NONE) {
            catalog_rfc3339(row->created, created);
            snprintf(age, sizeof age, "%.1f h", row->age_h);
        }
        printf("%-7s %-12s %-12s %-48s %-21s %9s  %s\n", row->type, row->target, row->database,
               row->newest[0] ? row->newest : "(none)", created, age, freshness_name(row->state));
    }
    for (size_t i = 0; i < r->n_err; i++)
        printf("%-7s %-12s cannot be read: %s\n", "error", r->err_target[i], r->err_msg[i]);
    size_t stale = count_bad(r);
    if (r->n_err)
        printf("UNREACHABLE: %zu target%s could not be read\n", r->n_err, r->n_err == 1 ? "" : "s");
    else if (stale)
        printf("STALE: %zu of %zu newest backups are older than %g h, missing or dated in the "
               "future\n",
               stale, r->n, max_age_h);
    else
        printf("OK: every newest backup is younger than %g h\n", max_age_h);
}

static void print_json(const status_report *r, double max_age_h, time_t now)
{
    json_t *rows = json_array(), *errors = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const status_row *row = &r->rows[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "type", row->type, "target", row->target,
                              "database", row->database, "state", freshness_name(row->state));
        if (row->state == FRESH_NONE) {
            json_object_set_new(o, "newest", json_null());
            json_object_set_new(o, "created", json_null());
            json_object_set_new(o, "age_hours", json_null());
        } else {
            char created[32];
            catalog_rfc3339(row->created, created);
            json_object_set_new(o, "newest", json_string(row->newest));
            json_object_set_new(o, "created", json_string(created));
            json_object_set_new(o, "age_hours",
                                json_real((double)(long long)(row->age_h * 1000 + 0.5) / 1000));
        }
        json_array_append_new(rows, o);
    }
    for (size_t i = 0; i < r->n_err; i++)
        json_array_append_new(
            errors, json_pack("{s:s, s:s}", "target", r->err_target[i], "message", r->err_msg[i]));
    char checked[32];
    catalog_rfc3339(now, checked);
    const char *verdict = r->n_err ? "unreachable" : count_bad(r) ? "stale" : "ok";
    json_t *doc = json_pack("{s:s, s:f, s:s, s:o, s:o}", "checked", checked, "max_age_hours",
                            max_age_h, "verdict", verdict, "targets", rows, "errors", errors);
    json_dumpf(doc, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(doc);
}

/* One Nagios plugin line; returns the plugin's exit code. */
static int print_nagios(const status_report *r, double max_age_h)
{
    double worst = worst_age(r), warn = max_age_h * WARN_FRACTION;
    size_t stale = count_state(r, FRESH_STALE), none = count_state(r, FRESH_NONE),
           future = count_state(r, FRESH_FUTURE);
    int code;
    char text[1200];
    if (r->config_error) {
        code = 3;
        snprintf(text, sizeof text, "UNKNOWN - %s: %s", r->err_target[0], r->err_msg[0]);
    } else if (r->n_err) {
        code = 2;
        snprintf(text, sizeof text, "CRITICAL - %s cannot be read: %s", r->err_target[0],
                 r->err_msg[0]);
    } else if (r->n == 0) {
        code = 3;
        snprintf(text, sizeof text, "UNKNOWN - no database configured");
    } else if (none) {
        code = 2;
        snprintf(text, sizeof text, "CRITICAL - %zu %s no backup of a database", none,
                 none == 1 ? "target holds" : "targets hold");
    } else if (future) {
        code = 2;
        snprintf(text, sizeof text,
                 "CRITICAL - %zu newest backup%s dated in the future (a wrong clock or name hides "
                 "whether backups run)",
                 future, future == 1 ? " is" : "s are");
    } else if (stale) {
        code = 2;
        snprintf(text, sizeof text, "CRITICAL - newest backup %.1f h old (limit %g h)", worst,
                 max_age_h);
    } else if (worst >= warn) {
        code = 1;
        snprintf(text, sizeof text,
                 "WARNING - newest backup %.1f h old (warning at %g h, limit %g h)", worst, warn,
                 max_age_h);
    } else {
        code = 0;
        snprintf(text, sizeof text, "OK - newest backup %.1f h old (limit %g h)", worst, max_age_h);
    }
    /* the plugin's text may not hold '|' (it starts the performance data) */
    for (char *p = text; *p; p++)
        if (*p == '|' || *p == '\n')
            *p = '/';
    printf("NEO4J-OFFSITE %s |", text);
    /* plain decimals only (the plugin guidelines allow no exponent); the
     * label says the type, as a remote may be named "local" */
    if (worst >= 0)
        printf(" age_hours=%.3f;%.3f;%.3f;0", worst, warn, max_age_h);
    for (size_t i = 0; i < r->n; i++)
        if (r->rows[i].state != FRESH_NONE)
            printf(" '%s_%s_%s_age_hours'=%.3f;%.3f;%.3f", r->rows[i].type, r->rows[i].target,
                   r->rows[i].database, r->rows[i].age_h, warn, max_age_h);
    printf("\n");
    return code;
}

int cmd_status(int argc, char **argv, const cli_globals *g)
{
    const char *max_age_arg = NULL;
    int nagios = 0;
    const cli_opt opts[] = {{"max-age", 0, CLI_VALUE, &max_age_arg},
                            {"nagios", 0, CLI_FLAG, &nagios},
                            {NULL, 0, 0, NULL}};
    /* a plugin answers UNKNOWN on a usage error, wherever --nagios stands */
    int nagios_seen = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        nagios_seen |= strcmp(argv[i], "--nagios") == 0;
    int rc = cli_parse("status", argc, argv, opts, NULL, 0);
    nagios |= nagios_seen;
    double max_age_h = FRESHNESS_DEFAULT_MAX_AGE_H;
    if (rc == 0 && freshness_parse_max_age(max_age_arg, &max_age_h) < 0)
        rc = cli_usage_error("status", "--max-age %s: give the hours as a number, 0 or more",
                             max_age_arg);
    if (rc)
        return nagios ? (printf("NEO4J-OFFSITE UNKNOWN - usage error\n"), 3) : rc;
    status_report r;
    memset(&r, 0, sizeof r);
    config *cfg = config_load(g->config_path, CFG_CMD_STATUS);
    if (!cfg) {
        char shown[ERR_MSG_MAX];
        strbuf_printable_copy(shown, sizeof shown, err_msg());
        log_error("status: %s", shown);
        if (nagios) {
            for (char *p = shown; *p; p++)
                if (*p == '|')
                    *p = '/';
            printf("NEO4J-OFFSITE UNKNOWN - %s\n", shown);
            return 3;
        }
        return err_exit_code(err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind());
    }
    restore_record_check(cfg, 0); /* a killed restore is said first */
    time_t now = time(NULL);
    check_remotes(&r, cfg, now, max_age_h);
    check_local(&r, cfg, now, max_age_h);
    if (!nagios) /* the plugin line names the first; stderr may share its output */
        for (size_t i = 0; i < r.n_err; i++)
            log_error("%s", r.err_msg[i]);
    int code;
    if (nagios) {
        code = print_nagios(&r, max_age_h);
    } else {
        if (g->json)
            print_json(&r, max_age_h, now);
        else
            print_table(&r, max_age_h);
        code = err_exit_code(r.config_error  ? ERR_USAGE
                             : r.n_err       ? ERR_FAIL
                             : count_bad(&r) ? ERR_STALE
                                             : ERR_NONE);
    }
    free(r.rows);
    free(r.err_target);
    free(r.err_msg);
    config_free(cfg);
    return code;
}
