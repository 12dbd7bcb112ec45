/* cmd_list: archives per remote, as a table or JSON (README, "Reading archives back"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "archives.h"
#include "commands.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "progress.h"
#include "remotes.h"
#include "restore_record.h"
#include "strbuf.h"

static int parse_options(int argc, char **argv, const char **remote, const char **database,
                         int *all)
{
    const cli_opt opts[] = {{"remote", 0, CLI_VALUE, remote},
                            {"database", 0, CLI_VALUE, database},
                            {"all", 0, CLI_FLAG, all},
                            {NULL, 0, 0, NULL}};
    return cli_parse("list", argc, argv, opts, NULL, 0);
}

int cmd_list(int argc, char **argv, const cli_globals *g)
{
    const char *remote = NULL, *database = NULL;
    int all = 0;
    int rc = parse_options(argc, argv, &remote, &database, &all);
    if (rc)
        return rc;

    remote_set set;
    memset(&set, 0, sizeof set);
    json_t *rows = json_array(), *errors = json_array();
    int human = isatty(STDOUT_FILENO);
    size_t failed = 0, list_failed = 0, shown = 0;
    config *cfg = config_load(g->config_path, CFG_CMD_LIST);
    if (!cfg)
        goto fail;
    restore_record_check(cfg, 0); /* a killed restore is said first */
    const char *one[1] = {remote};
    if (remote_set_open(&set, cfg, one, remote ? 1 : 0, 0) < 0)
        goto fail;
    failed = set.n_failed;
    char msg[1024]; /* escaped: JSON takes valid UTF-8 only, and a server's bytes may not be */
    for (size_t i = 0; i < set.n_failed; i++)
        json_array_append_new(
            errors, json_pack("{s:s, s:s}", "remote", set.failed_names[i], "message",
                              strbuf_printable_copy(msg, sizeof msg, set.failed_msgs[i])));
    char prefix[160];
    snprintf(prefix, sizeof prefix, "%s", cfg->local.name_prefix);
    if (!g->json)
        printf("%-10s %-45s %-10s %-20s %12s  %s\n", "REMOTE", "NAME", "DATABASE", "CREATED (UTC)",
               "SIZE", "STATE");
    for (size_t r = 0; r < set.n; r++) {
        archive_info *list;
        size_t n;
        if (archives_list(set.b[r], prefix, &list, &n) < 0 ||
            archives_check_sizes(set.b[r], list, n) < 0) {
            log_error("%s", err_msg());
            json_array_append_new(errors,
                                  json_pack("{s:s, s:s}", "remote", set.names[r], "message",
                                            strbuf_printable_copy(msg, sizeof msg, err_msg())));
            list_failed++;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            const archive_info *a = &list[i];
            if ((database && strcmp(a->database, database) != 0) ||
                (!all && a->state == ARCHIVE_INCOMPLETE))
                continue;
            if (a->state == ARCHIVE_MISSING)
                log_warn("remote %s: %s: the archive is missing or shorter than its signed "
                         "manifest records (an integrity finding: run verify)",
                         set.names[r], a->name);
            char created[32], size[32];
            catalog_rfc3339(a->created, created);
            shown++;
            if (g->json) {
                json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "remote",
                                                      set.names[r], "name", a->name, "database",
                                                      a->database, "created", created, "size",
                                                      (json_int_t)a->size, "state",
                                                      archives_state_name(a->state)));
                continue;
            }
            if (human)
                progress_human(a->size, size);
            else
                snprintf(size, sizeof size, "%llu", (unsigned long long)a->size);
            printf("%-10s %-45s %-10s %-20s %12s  %s\n", set.names[r], a->name, a->database,
                   created, size, archives_state_name(a->state));
        }
        free(list);
    }
    if (g->json) {
        json_t *doc = json_pack("{s:O, s:O}", "archives", rows, "errors", errors);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    } else if (shown == 0) {
        printf("(no archives)\n");
    }
    /* a remote unreachable: partial when another one was listed */
    err_kind outcome = failed + list_failed == 0 ? ERR_NONE
                       : set.n > list_failed     ? ERR_PARTIAL
                                                 : ERR_FAIL;
    json_decref(rows);
    json_decref(errors);
    remote_set_close(&set);
    config_free(cfg);
    return err_exit_code(outcome);
fail:
    log_error("list: %s", err_msg());
    if (g->json) {
        json_t *doc = json_pack("{s:[], s:[{s:n, s:s}]}", "archives", "errors", "remote", "message",
                                strbuf_printable_copy(msg, sizeof msg, err_msg()));
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    }
    json_decref(rows);
    json_decref(errors);
    remote_set_close(&set);
    config_free(cfg);
    return err_exit_code(err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind());
}
