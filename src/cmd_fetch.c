/* cmd_fetch: download, verify, decrypt an archive to a file (atomically) or
 * to stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archives.h"
#include "commands.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "pipeline.h"
#include "progress.h"
#include "remotes.h"
#include "restore_record.h"

static int isatty_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    int tty = fd >= 0 && isatty(fd);
    if (fd >= 0)
        close(fd);
    return tty;
}

typedef struct {
    const char *remote, *database, *archive, *output;
    int latest;
} fetch_opts;

static int parse_options(int argc, char **argv, fetch_opts *o)
{
    const cli_opt opts[] = {{"remote", 0, CLI_VALUE, &o->remote},
                            {"database", 0, CLI_VALUE, &o->database},
                            {"latest", 0, CLI_FLAG, &o->latest},
                            {"output", 'o', CLI_VALUE, &o->output},
                            {NULL, 0, 0, NULL}};
    int rc = cli_parse("fetch", argc, argv, opts, &o->archive, 1);
    if (rc)
        return rc;
    if ((o->archive != NULL) + o->latest != 1)
        return cli_usage_error("fetch", "give exactly one of ARCHIVE, --latest");
    if (!o->output)
        return cli_usage_error("fetch", "--output PATH (or - for stdout) is required");
    return 0;
}

int cmd_fetch(int argc, char **argv, const cli_globals *g)
{
    fetch_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;
    int to_stdout = strcmp(o.output, "-") == 0, out_fd = to_stdout ? STDOUT_FILENO : -1;
    struct stat st;
    if (!to_stdout && lstat(o.output, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return cli_usage_error("fetch", "%s is a directory; give the path of a new file",
                                   o.output);
        /* a character device or a pipe (/dev/null, /dev/stdout, a FIFO) is
         * written as a stream, like stdout; nothing else is ever replaced */
        struct stat target;
        int stream = S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) ||
                     (S_ISLNK(st.st_mode) && stat(o.output, &target) == 0 &&
                      (S_ISCHR(target.st_mode) || S_ISFIFO(target.st_mode)));
        if (!stream)
            return cli_usage_error("fetch",
                                   "%s exists; fetch never overwrites a file (use --output - for "
                                   "stdout)",
                                   o.output);
        if (isatty_path(o.output))
            return cli_usage_error("fetch", "refusing to write a dump to a terminal");
        out_fd = open(o.output, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (out_fd < 0)
            return cli_usage_error("fetch", "cannot open %s: %s", o.output, strerror(errno));
    }
    if (to_stdout && isatty(STDOUT_FILENO))
        return cli_usage_error("fetch", "refusing to write a dump to a terminal; redirect "
                                        "stdout or use --output PATH");
    int to_stream = out_fd >= 0;

    remote_set set;
    memset(&set, 0, sizeof set);
    keys_public *trusted = NULL;
    size_t n_trusted = 0;
    keys_secret *secret = NULL;
    err_kind outcome = ERR_NONE;
    manifest m;
    config *cfg = config_load(g->config_path, CFG_CMD_FETCH);
    if (!cfg)
        goto fail;
    restore_record_check(cfg, 0); /* a killed restore is said first */
    if (archives_load_verify_keys(cfg->keys.verify_keys, cfg->keys.n_verify_keys, &trusted,
                                  &n_trusted) < 0)
        goto fail;
    if (!(secret = keys_load_secret(cfg->keys.secret_key, KEYS_ARCHIVE)))
        goto fail;
    if (remote_set_open_one(&set, cfg, o.remote, BACKEND_OPEN_BULK) < 0)
        goto fail;
    char prefix[160], name[CATALOG_NAME_MAX];
    snprintf(prefix, sizeof prefix, "%s", cfg->local.name_prefix);
    const char *database = o.database ? o.database : cfg->neo4j.databases[0];
    if (archives_resolve(set.b[0], prefix, remotes_object_path(set.cfgs[0]), o.archive, o.latest,
                         database, name) < 0)
        goto fail;
    log_info("fetching %s from remote %s", name, set.names[0]);
    const archives_check_opts co = {.level = ARCHIVES_CHECK_DEEP,
                                    .secret = secret,
                                    .progress = g->progress,
                                    .out_path = to_stream ? NULL : o.output,
                                    .out_fd = to_stream ? &out_fd : NULL,
                                    .skip_archive_hash = 1};
    archives_check_result checked;
    if (archives_check(set.b[0], name, trusted, n_trusted, &co, &m, &checked) < 0)
        goto fail_latest;
    const pipeline_fetch_result res = checked.fetch;
    char a[32], b[32], r[32];
    double rate = res.seconds > 0 ? (double)res.plain_size / res.seconds : 0;
    log_info("fetched %s: archive %s, dump %s (%s, Neo4j %s, %llu files), %.1f s, %s/s -> %s", name,
             progress_human(res.archive_size, a), progress_human(res.plain_size, b),
             res.dump.format, res.dump.era, (unsigned long long)res.dump.files, res.seconds,
             progress_human((uint64_t)rate, r), to_stdout ? "stdout" : o.output);
    if (!to_stream)
        printf("%s\n", o.output);
    goto out;
fail_latest:
    /* the newest failed its checks: never a silent fallback, name the one to use */
    if (o.latest && err_get_kind() == ERR_INTEGRITY)
        archives_suggest_older(set.b[0], prefix, database, name, trusted, n_trusted);
fail:
    outcome = err_get_kind() == ERR_NONE ? ERR_FAIL : err_get_kind();
    log_error("fetch: %s", err_msg());
out:
    free(trusted);
    keys_secret_free(secret);
    remote_set_close(&set);
    config_free(cfg);
    if (out_fd > STDOUT_FILENO)
        close(out_fd);
    return err_exit_code(outcome);
}
