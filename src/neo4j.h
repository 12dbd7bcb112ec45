/* neo4j: what the tool knows about Neo4j itself: its rule for database
 * names, and running the commands of [neo4j] (dump_command, load_command,
 * stop_command, start_command, check_command, and version_command, whose
 * output neo4j_version.c reads) against a database or none.  It promises:
 *   - one rule for database names (neo4j_check_database), used wherever a
 *     name is taken (the commands, catalog.c's archive names): a name that
 *     passes is never an option, a path, two words, or ambiguous inside
 *     "<prefix>_<database>_<YYYYMMDD_HHMMSS>.dump.enc";
 *   - a command runs only with a database name that passes it: the template
 *     is split by command_template.h with {database} replaced, and the child
 *     finds the name in NEO4J_OFFSITE_DATABASE (an inherited value never
 *     stays, also when no database is given);
 *   - commands run as supervised children (child.h: no shell, output logged
 *     as "neo4j: WHAT: line", timeout with process-group kill, no child
 *     outliving the tool, the tool's secrets kept from the child);
 *   - neo4j-admin's output is read for what it says: "Database does not
 *     exist" makes the failure say "database 'x' does not exist" and
 *     neo4j_last_db_missing() true; its generic "Run with --verbose" hint is
 *     never given as the reason of a failure. */
#ifndef N4O_NEO4J_H
#define N4O_NEO4J_H

#include "child.h"
#include "command_template.h"

#include <stddef.h>
#include <sys/types.h>

/* Database names: Neo4j's rule (Operations Manual, "Naming rules for
 * databases"), as the names any Neo4j from 4.0 on can hold, since a backup
 * must reach every database that exists:
 *   - 3 to 63 characters;
 *   - ASCII letters, digits, '.' and '-' ('_' is not one: it separates the
 *     fields of an archive name);
 *   - starting with a letter, or a digit (allowed from Neo4j 2025.01);
 *   - not starting with "system" (reserved), except "system" itself.
 * Letters of either case: Neo4j compares names ignoring case.  Current
 * Neo4j also refuses new names ending in '.' or '-', which 4.0 accepted:
 * accepted here.
 * 0 when NAME passes; else -1 with ERR_USAGE "database name 'x' ...". */
int neo4j_check_database(const char *name);
/* The same rule as a predicate: no error is set. */
int neo4j_database_name_ok(const char *name);

/* A running [neo4j] command. */
typedef struct neo4j_child neo4j_child;

/* Start WHAT ("dump_command", ...) from TEMPLATE for DATABASE (NULL when no
 * database applies; then a template using {database} is refused), with
 * PIPE and TIMEOUT_S (0: no limit) as in child.h.  NULL with ERR_USAGE for a
 * bad database name ("WHAT: database name ...") or template, ERR_FAIL when
 * the program cannot run.  Call it from a thread that lives until the
 * command is finished or killed (child.h, "Lifetime"). */
neo4j_child *neo4j_spawn(const char *what, const char *template_, const char *database,
                         child_pipe pipe, long timeout_s);
/* child_read(), child_write(), child_kill() and child_pid() of the command. */
ssize_t neo4j_read(neo4j_child *c, void *buf, size_t len);
int neo4j_write(neo4j_child *c, const void *buf, size_t len);
void neo4j_kill(neo4j_child *c);
pid_t neo4j_pid(const neo4j_child *c);
/* child_finish() of the command; its failure names a missing database
 * ("dump_command failed (exit 1): database 'x' does not exist: ...").
 * NULL is a no-op returning 0. */
int neo4j_finish(neo4j_child *c);
/* child_finish_soon() of the command (child.h). */
int neo4j_finish_soon(neo4j_child *c, long ms, int *failed_exit);

/* True when the last neo4j_finish() of this thread failed and the command
 * had said "Database does not exist". */
int neo4j_last_db_missing(void);

/* Run a template to completion (stop/start/check), stdout and stderr logged.
 * A NULL or blank template is a no-op returning 0.  Works while a signal is
 * pending (start_command is the cleanup path) and honours TIMEOUT_S.
 * The caller's pattern for "start_command always":
 *     neo4j_run(stop) ... c = neo4j_spawn(dump); while (neo4j_read(c) > 0) ...;
 *     rc = neo4j_finish(c);  (kills the dump if the read failed or was
 *     interrupted)  then neo4j_run(start) whatever rc and signals_pending()
 *     say, and only then exit non-zero. */
int neo4j_run(const char *what, const char *template_, const char *database, long timeout_s);

/* For the commands, before anything runs (backup: every configured template
 * before stop_command): whether the program of TEMPLATE (argv[0]) would
 * run, by child_check_program() (ERR_USAGE "dump_command: program
 * neo4j-admin not found in PATH (...)").  A template that does not split
 * fails as in command_template_check(); a NULL or blank one returns 0.  Not
 * checked: the programs inside an `sh -c` script (only the shell is), and a
 * program name holding {database} (resolved per database when it runs). */
int neo4j_check_program(const char *what, const char *template_);

/* Kept for src/config.c, which calls it; new code calls
 * command_template_check(). */

#endif
