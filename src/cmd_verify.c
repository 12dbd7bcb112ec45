/* cmd_verify: check manifests, sizes and hashes of archives (public keys
 * only); --deep also decrypts and validates the dump inside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archives.h"
#include "commands.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "pipeline.h"
#include "progress.h"
#include "remotes.h"
#include "restore_record.h"
#include "strbuf.h"

typedef struct {
    const char *remote, *database, *archive;
    int latest, all, deep;
} verify_opts;

static int parse_options(int argc, char **argv, verify_opts *o)
{
    const cli_opt opts[] = {
        {"remote", 0, CLI_VALUE, &o->remote}, {"database", 0, CLI_VALUE, &o->database},
        {"latest", 0, CLI_FLAG, &o->latest},  {"all", 0, CLI_FLAG, &o->all},
        {"deep", 0, CLI_FLAG, &o->deep},      {NULL, 0, 0, NULL}};
    int rc = cli_parse("verify", argc, argv, opts, &o->archive, 1);
    if (rc)
        return rc;
    if ((o->archive != NULL) + o->latest + o->all != 1)
        return cli_usage_error("verify", "give exactly one of ARCHIVE, --latest, --all");
    return 0;
}

/* Verify one archive; prints its line and returns its outcome. */
static err_kind verify_one(backend *b, const char *name, const keys_public *trusted,
                           size_t n_trusted, const keys_secret *secret, const cli_globals *g,
                           json_t *rows)
{
    manifest m;
    archives_check_result res;
    const archives_check_opts o = {.level = secret ? ARCHIVES_CHECK_DEEP : ARCHIVES_CHECK_DATA,
                                   .secret = secret,
                                   .progress = g->progress};
    char jmsg[2048];
    err_kind k =
        archives_check(b, name, trusted, n_trusted, &o, &m, &res) < 0 ? err_get_kind() : ERR_NONE;
    if (k == ERR_NONE && !g->json) {
        char a[32];
        printf("OK      %s: signed by %02x%02x..., %s, BLAKE2b matches%s\n", name,
               m.signer_key_id[0], m.signer_key_id[1], progress_human(m.archive_size, a),
               secret ? ", dump decrypted and valid" : "");
    } else if (!g->json) {
        char msg[2048];
        strbuf_printable_copy(msg, sizeof msg, err_msg()); /* it may quote a server */
        printf("FAILED  %s: %s\n", name, msg);
    }
    if (g->json)
        json_array_append_new(
            rows,
            json_pack("{s:s, s:s, s:b, s:b, s:s?}", "remote", backend_name(b), "name", name, "ok",
                      k == ERR_NONE, "deep", secret != NULL, "error",
                      k == ERR_NONE ? NULL : strbuf_printable_copy(jmsg, sizeof jmsg, err_msg())));
    fflush(stdout);
    return k == ERR_NONE ? ERR_NONE : (k == ERR_INTEGRITY ? ERR_INTEGRITY : ERR_FAIL);
}

int cmd_verify(int argc, char **argv, const cli_globals *g)
{
    verify_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;

    remote_set set;
    memset(&set, 0, sizeof set);
    keys_public *trusted = NULL;
    size_t n_trusted = 0;
    keys_secret *secret = NULL;
    archive_info *list = NULL;
    size_t n = 0;
    json_t *rows = json_array();
    err_kind outcome = ERR_NONE;
    config *cfg = config_load(g->config_path, CFG_CMD_VERIFY);
    if (!cfg)
        goto fail;
    restore_record_check(cfg, 0); /* a killed restore is said first */
    if (o.deep && config_require(cfg, "keys", "secret_key", "verify --deep") < 0)
        goto fail;
    if (archives_load_verify_keys(cfg->keys.verify_keys, cfg->keys.n_verify_keys, &trusted,
                                  &n_trusted) < 0)
        goto fail;
    if (o.deep && !(secret = keys_load_secret(cfg->keys.secret_key, KEYS_ARCHIVE)))
        goto fail;
    if (remote_set_open_one(&set, cfg, o.remote, BACKEND_OPEN_BULK) < 0)
        goto fail;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "%s", cfg->local.name_prefix);
    const char *database = o.database ? o.database : cfg->neo4j.databases[0];
    if (o.all) {
        if (archives_list(set.b[0], prefix, &list, &n) < 0)
            goto fail;
        size_t checked = 0;
        for (size_t i = 0; i < n; i++) {
            if (o.database && strcmp(list[i].database, o.database) != 0)
                continue;
            if (list[i].state == ARCHIVE_INCOMPLETE) {
                log_warn("%s: incomplete (no manifest): not an archive yet", list[i].name);
                continue;
            }
            checked++;
            outcome = err_worse(
                outcome, verify_one(set.b[0], list[i].name, trusted, n_trusted, secret, g, rows));
        }
        if (checked == 0)
            log_warn("remote %s holds no complete archive", set.names[0]);
    } else {
        char name[CATALOG_NAME_MAX];
        if (archives_resolve(set.b[0], prefix, remotes_object_path(set.cfgs[0]), o.archive,
                             o.latest, database, name) < 0)
            goto fail;
        outcome = verify_one(set.b[0], name, trusted, n_trusted, secret, g, rows);
        if (o.latest && outcome == ERR_INTEGRITY) {
            /* never a silent fallback: name the one to use instead */
            err_set(ERR_INTEGRITY, "the newest archive of %s, %s, failed", database, name);
            archives_suggest_older(set.b[0], prefix, database, name, trusted, n_trusted);
            log_error("verify: %s", err_msg());
        }
    }
    goto out;
fail:
    outcome = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
    log_error("verify: %s", err_msg());
out:
    if (g->json) {
        json_t *doc = json_pack("{s:O, s:b}", "results", rows, "ok", outcome == ERR_NONE);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    }
    json_decref(rows);
    free(list);
    free(trusted);
    keys_secret_free(secret);
    remote_set_close(&set);
    config_free(cfg);
    return err_exit_code(outcome);
}
