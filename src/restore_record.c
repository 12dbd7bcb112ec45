#include "restore_record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "atomic_file.h"
#include "command_template.h"
#include "err.h"
#include "log.h"
#include "strbuf.h"

#define RECORD_FILE_MAX (64 * 1024)

static const char *const state_names[] = {"waiting", "loading", "loaded"};

size_t restore_record_paths(const config *cfg, char paths[2][4200])
{
    size_t n = 0;
    if (cfg->general.lock_file && *cfg->general.lock_file)
        snprintf(paths[n++], 4200, "%s.restore", cfg->general.lock_file);
    if (cfg->local.directory && *cfg->local.directory)
        snprintf(paths[n++], 4200, "%s/.%s.restore", cfg->local.directory,
                 cfg->local.name_prefix ? cfg->local.name_prefix : "neo4j-offsite");
    return n;
}

static int save_one(const char *path, const char *text)
{
    atomic_file *f = atomic_file_create(path, 0600);
    int rc = -1;
    if (f && atomic_file_write(f, text, strlen(text)) == 0 && atomic_file_write(f, "\n", 1) == 0) {
        rc = atomic_file_commit_replace(f);
        f = NULL;
    }
    atomic_file_abort(f);
    if (rc < 0)
        err_prefix("restore record: ");
    return rc;
}

int restore_record_save(const config *cfg, const restore_record *r)
{
    json_t *dbs = json_array();
    for (size_t i = 0; dbs && i < r->n; i++) {
        const restore_record_db *d = &r->db[i];
        char hex[65] = "";
        if (d->safety[0])
            sodium_bin2hex(hex, sizeof hex, d->safety_blake2b, 32);
        json_array_append_new(dbs,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "database",
                                        d->database, "target", d->target, "archive", d->archive,
                                        "safety_dump", d->safety, "safety_blake2b", hex, "existed",
                                        d->existed, "state", state_names[d->state]));
    }
    char when[32];
    catalog_rfc3339(r->started, when);
    json_t *o =
        json_pack("{s:I, s:s, s:o}", "pid", (json_int_t)r->pid, "started", when, "databases", dbs);
    char *text = o ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return err_set(ERR_FAIL, "out of memory writing the restore record");
    char paths[2][4200];
    size_t n = restore_record_paths(cfg, paths);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = save_one(paths[i], text);
    free(text);
    return rc;
}

static int bad_record(const char *path, const char *why)
{
    return err_set(ERR_FAIL, "restore record %s: %s", path, why);
}

static int copy_field(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || strlen(s) >= cap || strbuf_has_control(s, strlen(s)))
        return -1;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int parse_db(json_t *o, restore_record_db *d)
{
    const char *state = json_string_value(json_object_get(o, "state"));
    json_t *existed = json_object_get(o, "existed");
    if (!json_is_object(o) || !state || !json_is_boolean(existed) ||
        copy_field(o, "database", d->database, sizeof d->database) < 0 ||
        copy_field(o, "target", d->target, sizeof d->target) < 0 ||
        copy_field(o, "archive", d->archive, sizeof d->archive) < 0 ||
        copy_field(o, "safety_dump", d->safety, sizeof d->safety) < 0)
        return -1;
    /* the safety dump is loaded back only when it still hashes as written */
    char hex[65];
    if (d->safety[0] &&
        (copy_field(o, "safety_blake2b", hex, sizeof hex) < 0 || strlen(hex) != 64 ||
         sodium_hex2bin(d->safety_blake2b, 32, hex, 64, NULL, NULL, NULL) != 0))
        return -1;
    d->existed = json_is_true(existed);
    for (int k = 0; k < 3; k++)
        if (strcmp(state, state_names[k]) == 0) {
            d->state = (restore_state)k;
            return 0;
        }
    return -1;
}

static int load_one(const char *path, restore_record *r)
{
    memset(r, 0, sizeof *r);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return err_sys(ERR_FAIL, errno, "restore record %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return bad_record(path, "not a regular file (remove it once Neo4j's stores are sound)");
    }
    char *text = malloc(RECORD_FILE_MAX + 1);
    ssize_t n = text ? read(fd, text, RECORD_FILE_MAX + 1) : -1;
    close(fd);
    if (n < 0 || n > RECORD_FILE_MAX) {
        free(text);
        return bad_record(path, n < 0 ? "cannot be read" : "too large to be a restore record");
    }
    json_error_t jerr;
    json_t *o = json_loadb(text, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    json_t *dbs = json_object_get(o, "databases");
    const char *started = json_string_value(json_object_get(o, "started"));
    int rc = 1;
    if (!json_is_object(o) || !json_is_integer(json_object_get(o, "pid")) || !started ||
        !json_is_array(dbs) || json_array_size(dbs) > RESTORE_RECORD_MAX) {
        rc = bad_record(path, "not a restore record (remove it once Neo4j's stores are sound)");
        goto out;
    }
    r->pid = (long)json_integer_value(json_object_get(o, "pid"));
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(started, "%Y-%m-%dT%H:%M:%SZ", &tm);
    r->started = end && !*end ? timegm(&tm) : 0;
    r->n = json_array_size(dbs);
    for (size_t i = 0; i < r->n; i++)
        if (parse_db(json_array_get(dbs, i), &r->db[i]) < 0) {
            rc = bad_record(path, "not a restore record (remove it once Neo4j's stores are sound)");
            goto out;
        }
out:
    json_decref(o);
    return rc;
}

int restore_record_load(const config *cfg, restore_record *r, char *where, size_t cap)
{
    char paths[2][4200];
    size_t n = restore_record_paths(cfg, paths);
    for (size_t i = 0; i < n; i++) {
        int rc = load_one(paths[i], r);
        if (rc != 0) {
            snprintf(where, cap, "%.4199s", paths[i]);
            return rc;
        }
    }
    return 0;
}

int restore_record_remove(const config *cfg)
{
    char paths[2][4200];
    size_t n = restore_record_paths(cfg, paths);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (unlink(paths[i]) < 0 && errno != ENOENT)
            rc = err_sys(ERR_FAIL, errno, "cannot remove the restore record %s", paths[i]);
    return rc;
}

int restore_record_unsound(const restore_record *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->db[i].state == RESTORE_LOADING)
            return 1;
    return 0;
}

/* WORD as a POSIX shell reads it back (quoted only when it must be). */
static void put_shell_word(strbuf *b, const char *word)
{
    const char *safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-";
    if (*word && strspn(word, safe) == strlen(word)) {
        strbuf_puts(b, word);
        return;
    }
    strbuf_puts(b, "'");
    for (const char *p = word; *p; p++)
        strbuf_puts(b, *p == '\'' ? "'\\''" : (char[2]){*p, 0});
    strbuf_puts(b, "'");
}

/* TEMPLATE filled for DATABASE as one shell command line; "" when blank. */
static char *shell_command(const char *what, const char *template_, const char *database)
{
    strbuf b;
    strbuf_init(&b, 16384);
    char **argv =
        template_ && *template_ ? command_template_split(what, template_, database) : NULL;
    for (size_t i = 0; argv && argv[i]; i++) {
        if (i)
            strbuf_puts(&b, " ");
        put_shell_word(&b, argv[i]);
    }
    command_template_free(argv);
    char *s = strbuf_take(&b);
    return s ? s : strdup("");
}

void restore_record_explain(const restore_record *r, const char *where, const config *cfg)
{
    char paths[2][4200];
    size_t n = restore_record_paths(cfg, paths);
    char when[32];
    catalog_rfc3339(r->started, when);
    if (!restore_record_unsound(r)) {
        log_warn("a restore (pid %ld, %s) ended without removing its record %s; no load was cut "
                 "short (each database is as it was or completely loaded): remove %s%s%s",
                 r->pid, when, where ? where : "", paths[0], n > 1 ? " and " : "",
                 n > 1 ? paths[1] : "");
        return;
    }
    if (where)
        log_error("a restore (pid %ld, started %s) did not finish: it was killed or lost power "
                  "while loading (record %s). Neo4j must not be started on a half-loaded store:",
                  r->pid, when, where);
    else
        log_error("this restore could not put every database back as it was; Neo4j is left "
                  "stopped, not started on a half-loaded store:");
    for (size_t i = 0; i < r->n; i++) {
        const restore_record_db *d = &r->db[i];
        if (d->state == RESTORE_WAITING) {
            log_error("  database %s: not loaded, unchanged", d->target);
            continue;
        }
        const char *how = d->state == RESTORE_LOADED ? "loaded from" : "HALF-LOADED from";
        if (d->safety[0]) {
            strbuf q;
            strbuf_init(&q, 8192);
            put_shell_word(&q, d->safety);
            char *load = shell_command("load_command", cfg->neo4j.load_command, d->target);
            log_error("  database %s: %s %s; to reinstate its previous state run: %s < %s",
                      d->target, how, d->archive, load, strbuf_str(&q) ? strbuf_str(&q) : "");
            free(load);
            strbuf_free(&q);
        } else if (!d->existed) {
            log_error("  database %s: %s %s; it did not exist before this restore (no safety "
                      "dump): restore it again, or drop it",
                      d->target, how, d->archive);
        } else {
            log_error("  database %s: %s %s; no safety dump was taken (--no-safety-backup): "
                      "restore it again from an archive",
                      d->target, how, d->archive);
        }
    }
    char *start = shell_command("start_command", cfg->neo4j.start_command, NULL);
    log_error("then start Neo4j%s%s, and remove %s%s%s (a restore of every database listed "
              "removes them too)",
              *start ? ": " : "", start, paths[0], n > 1 ? " and " : "", n > 1 ? paths[1] : "");
    free(start);
}

int restore_record_check(const config *cfg, int lock_held)
{
    char where[4200];
    restore_record r;
    int rc = restore_record_load(cfg, &r, where, sizeof where);
    if (rc < 0) {
        log_warn("%s", err_msg());
        return -1;
    }
    if (rc == 0)
        return 0;
    if (!lock_held && r.pid > 0 && r.pid != (long)getpid() && kill((pid_t)r.pid, 0) == 0) {
        log_warn("a restore (pid %ld) is running now (record %s): leave Neo4j to it until it "
                 "ends",
                 r.pid, where);
        return 1;
    }
    restore_record_explain(&r, where, cfg);
    return restore_record_unsound(&r);
}
