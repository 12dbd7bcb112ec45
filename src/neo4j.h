/* neo4j: the command templates of [neo4j] (dump, load, stop, start, check)
 * run as child processes.  A template is split into words like a shell does
 * for quotes, with no expansion, and run without a shell; {database} is
 * substituted.  The child's stderr is logged line by line; the exit status
 * decides; a child running past the timeout is killed with its process
 * group.  SIGINT/SIGTERM (signals.h) interrupt waits.
 *
 * Template syntax (SPEC.md "Values"):
 *   - '...' is literal; "..." is literal except \" \\ \$ \` (and \newline,
 *     removed); outside quotes a backslash makes the next character literal.
 *     Quoted and unquoted parts next to each other form one word; "" and ''
 *     are an empty word.
 *   - No expansion: $VAR, $(...), `...` are refused (quote a literal $ with
 *     '...'); globs and ~ stay literal.  Unquoted shell operators
 *     (| & ; < > ( ) and # starting a word) are refused: ERR_USAGE
 *     "dump_command: shell operator '|' needs `sh -c '...'`".
 *   - {database} is replaced inside each word after splitting, so a database
 *     name never becomes two words.  Names must match [A-Za-z0-9][A-Za-z0-9._-]*.
 *   - A template starting with the words `sh -c` (also /bin/sh, bash,
 *     /bin/bash) runs as written: when the script after `-c` is quoted it is
 *     split as above (sh -c 'script' [arg0 args...]); otherwise the rest of
 *     the line, verbatim, is the script.  {database} is substituted into the
 *     script text too; every child also gets NEO4J_OFFSITE_DATABASE in its
 *     environment, and "$NEO4J_OFFSITE_DATABASE" is the robust way to use
 *     the name inside an sh -c script.
 *
 * Children run in their own process group (so a terminal's ^C reaches only
 * the tool, which decides, and a timeout can kill everything the command
 * started), with stdin from /dev/null unless it is fed (load). */
#ifndef N4O_NEO4J_H
#define N4O_NEO4J_H

#include <stddef.h>
#include <sys/types.h>

/* Split TEMPLATE into a NULL-terminated argv with {database} -> DATABASE.
 * ERR_USAGE for unbalanced quotes or an empty template. */
char **neo4j_split(const char *template_, const char *database);
/* Same, naming the config key WHAT ("dump_command") in error messages.
 * DATABASE may be NULL when the template does not use {database}. */
char **neo4j_split_what(const char *what, const char *template_, const char *database);
void neo4j_argv_free(char **argv);

/* 0 when NAME is a database name we accept ([A-Za-z0-9][A-Za-z0-9._-]*,
 * at most 63 characters); else -1 with ERR_USAGE. */
int neo4j_check_database(const char *name);

#define NEO4J_PIPE_SIZE (1024 * 1024) /* dump/load pipe buffer, bytes */

typedef enum { NEO4J_NO_PIPE, NEO4J_READ_STDOUT, NEO4J_WRITE_STDIN } neo4j_pipe;

typedef struct neo4j_child neo4j_child;

/* Start WHAT ("dump_command", ...) from TEMPLATE.  TIMEOUT_S 0 = no limit.
 * NO_PIPE: the child's stdout is logged like its stderr.  A program that
 * cannot be found or executed fails here (ERR_FAIL), not at finish. */
neo4j_child *neo4j_spawn(const char *what, const char *template_, const char *database,
                         neo4j_pipe pipe, long timeout_s);
/* Read the child's stdout (READ_STDOUT): >0 bytes, 0 at EOF, -1 on timeout or
 * signal (err set).  Stderr lines are logged meanwhile. */
ssize_t neo4j_read(neo4j_child *c, void *buf, size_t len);
/* Write all of BUF to the child's stdin (WRITE_STDIN); -1 if it exited,
 * timed out or a signal came.  Never dies of SIGPIPE. */
int neo4j_write(neo4j_child *c, const void *buf, size_t len);
/* Close our pipe ends, wait for the exit (killing it at the deadline) and
 * free C.  0 when it exited 0; else -1, ERR_FAIL with the exit status and
 * the last stderr line.  Safe to call after a failed read/write: then the
 * child is killed (a load must not complete on a partial input) and the
 * error of the failed call is kept.  Does not abort on a pending signal
 * (it is the cleanup path) but honours the deadline.  NULL is a no-op. */
int neo4j_finish(neo4j_child *c);
/* Kill the child's process group (SIGTERM, SIGKILL after a grace period),
 * reap it and free C (on our own failure).  NULL is a no-op. */
void neo4j_kill(neo4j_child *c);
/* Process id of the child, which is also its process group id. */
pid_t neo4j_pid(const neo4j_child *c);

/* True when the last failed neo4j_finish() saw "Database does not exist". */
int neo4j_last_db_missing(void);

/* Run a template to completion (stop/start/check), stdout and stderr logged.
 * A NULL or empty template is a no-op returning 0.  Works while a signal is
 * pending (start_command is the cleanup path) and honours TIMEOUT_S.
 * The caller's pattern for "start_command always":
 *     neo4j_run(stop) ... c = neo4j_spawn(dump); while (neo4j_read(c) > 0) ...;
 *     rc = neo4j_finish(c);  (kills the dump if the read failed or was
 *     interrupted)  then neo4j_run(start) whatever rc and signals_pending()
 *     say, and only then exit non-zero. */
int neo4j_run(const char *what, const char *template_, const char *database, long timeout_s);

/* Grace between SIGTERM and SIGKILL when a child is killed, in ms
 * (default 3000; tests shorten it). */
void neo4j_set_kill_grace_ms(long ms);

#endif
