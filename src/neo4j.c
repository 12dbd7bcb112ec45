#include "neo4j.h"

#include "err.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DB_NAME_MIN        3
#define DB_NAME_MAX        63
#define DB_RESERVED_PREFIX "system"
#define LOG_PREFIX         "neo4j: "

/* ------------------------------------------------------- database names */

static int is_ascii_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The rule of neo4j.h: 0 when NAME passes, else -1 with WHY (N bytes) set to
 * "database name '...' <what is wrong>". */
static int database_name_problem(const char *name, char *why, size_t n)
{
    if (!name || !*name) {
        snprintf(why, n, "database name is empty");
        return -1;
    }
    char shown[96];
    strbuf_printable_copy(shown, sizeof shown, name);
    size_t len = strlen(name);
    if (len > DB_NAME_MAX) {
        snprintf(why, n, "database name '%.60s...' is longer than %d characters", shown,
                 DB_NAME_MAX);
        return -1;
    }
    if (len < DB_NAME_MIN) {
        snprintf(why, n, "database name '%s' is shorter than %d characters (Neo4j names)", shown,
                 DB_NAME_MIN);
        return -1;
    }
    /* A leading '-' would turn the name into an option of neo4j-admin, a
     * leading '.' into a path component. */
    if (!is_ascii_letter(name[0]) && !is_ascii_digit(name[0])) {
        snprintf(why, n, "database name '%s' must start with a letter or digit (Neo4j names)",
                 shown);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (is_ascii_letter(c) || is_ascii_digit(c) || c == '.' || c == '-')
            continue;
        char bad[8];
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
            snprintf(bad, sizeof bad, "'%c'", c);
        else
            snprintf(bad, sizeof bad, "\\x%02x", (unsigned char)c);
        snprintf(why, n,
                 "database name '%s' contains %s: only ASCII letters, digits, '.' and '-' are "
                 "allowed (Neo4j names)",
                 shown, bad);
        return -1;
    }
    size_t plen = strlen(DB_RESERVED_PREFIX);
    if (strncasecmp(name, DB_RESERVED_PREFIX, plen) == 0 && len > plen) {
        snprintf(why, n,
                 "database name '%s' is reserved: Neo4j keeps names starting with '%s' for "
                 "itself",
                 shown, DB_RESERVED_PREFIX);
        return -1;
    }
    return 0;
}

int neo4j_check_database(const char *name)
{
    char why[256];
    if (database_name_problem(name, why, sizeof why) < 0)
        return err_set(ERR_USAGE, "%s", why);
    return 0;
}

int neo4j_database_name_ok(const char *name)
{
    char why[256];
    return database_name_problem(name, why, sizeof why) == 0;
}

/* ------------------------------------------------------------- commands */

static _Thread_local int last_db_missing;

int neo4j_last_db_missing(void)
{
    return last_db_missing;
}

struct neo4j_child {
    child_process *c;
    char database[DB_NAME_MAX + 1];
    int db_missing; /* the command said "Database does not exist" */
    char cause[DB_NAME_MAX + 40];
};

/* Each stderr line of a command (child_opts.stderr_line): what neo4j-admin
 * says about the database, and whether the line may explain a failure. */
static int read_stderr_line(void *ctx, const char *line)
{
    neo4j_child *n = ctx;
    if (strcasestr(line, "database does not exist"))
        n->db_missing = 1;
    /* "Run with '--verbose' for a more detailed error message.": the last
     * line of every neo4j-admin failure, never its reason */
    return !(strstr(line, "Run with") && strstr(line, "--verbose"));
}

static const char *failure_cause(void *ctx)
{
    neo4j_child *n = ctx;
    if (!n->db_missing)
        return NULL;
    snprintf(n->cause, sizeof n->cause, ": database '%s' does not exist", n->database);
    return n->cause;
}

neo4j_child *neo4j_spawn(const char *what, const char *template_, const char *database,
                         child_pipe pipe, long timeout_s)
{
    if (!what)
        what = "command";
    last_db_missing = 0; /* never a verdict left from an earlier command */
    if (database && neo4j_check_database(database) < 0) {
        err_prefix("%s: ", what);
        return NULL;
    }
    char **argv = command_template_split(what, template_, database);
    if (!argv)
        return NULL;
    neo4j_child *n = calloc(1, sizeof *n);
    if (!n) {
        command_template_free(argv);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    snprintf(n->database, sizeof n->database, "%s", database ? database : "");
    /* set when a database applies, else removed: never a stale value */
    char env_database[sizeof COMMAND_TEMPLATE_DATABASE_ENV + DB_NAME_MAX + 2];
    snprintf(env_database, sizeof env_database, "%s%s%s", COMMAND_TEMPLATE_DATABASE_ENV,
             database ? "=" : "", database ? database : "");
    const char *const env[] = {env_database, NULL};
    child_opts opts = {
        .what = what,
        .log_prefix = LOG_PREFIX,
        .pipe = pipe,
        .timeout_s = timeout_s,
        .timeout_key = "command_timeout",
        .env = env,
        .stderr_line = read_stderr_line,
        .failure_cause = failure_cause,
        .ctx = n,
    };
    n->c = child_spawn(argv, &opts);
    command_template_free(argv);
    if (!n->c) {
        free(n);
        return NULL;
    }
    return n;
}

ssize_t neo4j_read(neo4j_child *c, void *buf, size_t len)
{
    return child_read(c->c, buf, len);
}

int neo4j_write(neo4j_child *c, const void *buf, size_t len)
{
    return child_write(c->c, buf, len);
}

void neo4j_kill(neo4j_child *c)
{
    last_db_missing = 0; /* killed: it said nothing to go by */
    if (!c)
        return;
    child_kill(c->c);
    free(c);
}

pid_t neo4j_pid(const neo4j_child *c)
{
    return c ? child_pid(c->c) : -1;
}

/* C's child finished with RC: remember whether it named a missing
 * database, free C. */
static int finished(neo4j_child *c, int rc)
{
    last_db_missing = rc < 0 && c->db_missing;
    free(c);
    return rc;
}

int neo4j_finish(neo4j_child *c)
{
    return c ? finished(c, child_finish(c->c)) : 0;
}

int neo4j_finish_soon(neo4j_child *c, long ms, int *failed_exit)
{
    *failed_exit = 0;
    return c ? finished(c, child_finish_soon(c->c, ms, failed_exit)) : 0;
}

int neo4j_run(const char *what, const char *template_, const char *database, long timeout_s)
{
    if (command_template_is_blank(template_))
        return 0;
    neo4j_child *c = neo4j_spawn(what, template_, database, CHILD_NO_PIPE, timeout_s);
    if (!c)
        return -1;
    return neo4j_finish(c);
}

int neo4j_check_program(const char *what, const char *template_)
{
    if (command_template_is_blank(template_))
        return 0;
    if (!what)
        what = "command template";
    char **argv = command_template_split_unfilled(what, template_);
    if (!argv)
        return -1;
    int rc = 0;
    /* A program named after the database is resolved per database when it
     * runs: nothing to look up before. */
    if (!strstr(argv[0], COMMAND_TEMPLATE_DATABASE))
        rc = child_check_program(what, argv[0]);
    command_template_free(argv);
    return rc;
}
