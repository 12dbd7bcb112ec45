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
 *     (| & ; < > ( ) and # starting a word) are refused, named whole:
 *     ERR_USAGE "dump_command: shell operator '&&' needs `sh -c '...'`
 *     (character 12): templates run without a shell; to pass it to the
 *     program as text, quote it: "&&"".
 *   - A template starting with the words `sh -c` (also /bin/sh, bash,
 *     /bin/bash) runs as written: when the script after `-c` is quoted it is
 *     split as above (sh -c 'script' [arg0 args...]); otherwise the rest of
 *     the line, verbatim, is the script.
 *
 * Placeholders ({database} is the only one), after splitting, in each word:
 *   - In every word but an `sh -c` script, "{NAME}" (NAME: letters, digits,
 *     '_', not starting with a digit) is a placeholder, quoted or not:
 *     {database} is replaced, any other NAME is refused (ERR_USAGE
 *     "dump_command: unknown placeholder {databse} (did you mean
 *     {database}?); known placeholders: {database} (...)").  Braces around
 *     anything else ("{}", "{a,b}", "{ x }") are literal text.  To pass a
 *     literal "{word}" to a program, run it through `sh -c`.
 *   - In the script of `sh -c` (the word after -c), braces are shell text
 *     (brace groups "{ a; b; }", awk '{print $1}', "${VAR}") and are left
 *     alone, except: {database} is replaced; "${database}" is refused (the
 *     shell would expand its own empty variable); and a {NAME} that was
 *     surely meant as {database} is refused as an unknown placeholder: NAME
 *     in any case within two typing errors of "database" ({databse},
 *     {Database}, {databases}) or one of {db}, {dbname}, {db_name},
 *     {database_name}, {databasename}, {db_names}.  Words after the script
 *     ($0, $1... of the script) are arguments: the first rule holds.
 *   - {database} is replaced inside each word after splitting, so a database
 *     name never becomes two words.  Names must match
 *     [A-Za-z0-9][A-Za-z0-9._-]*.  Every child also gets
 *     NEO4J_OFFSITE_DATABASE in its environment; "$NEO4J_OFFSITE_DATABASE"
 *     is the robust way to use the name inside an sh -c script.
 *   neo4j_check_template() and neo4j_split() apply the same rules (one code
 *   path), so a template that passed the check at config time splits when
 *   it runs.
 *
 * Children run in their own process group (so a terminal's ^C reaches only
 * the tool, which decides, and a timeout can kill everything the command
 * started), with stdin from /dev/null unless it is fed (load).
 *
 * Environment: a child gets ours without AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN and
 * NEO4J_OFFSITE_PASSPHRASE_FILE (the tool's secrets: no Neo4j command needs
 * them), and with NEO4J_OFFSITE_DATABASE set when a database is given.
 *
 * Lifetime: no child outlives the tool, not even a kill -9 of it.  The child
 * gets PR_SET_PDEATHSIG SIGKILL, and a guardian process per child (forked,
 * never exec'd, in its own process group, holding no descriptor of ours but
 * its pipe) SIGKILLs the child's whole process group when the tool dies.
 * Threads: the kernel sends PDEATHSIG when the *thread* that forked the
 * child exits, not the process, so call neo4j_spawn()/neo4j_run() from a
 * thread that lives until neo4j_finish()/neo4j_kill() (the tool spawns from
 * its main thread: cmd_backup.c); neo4j_read()/neo4j_write() may then run
 * in another thread.  On the normal paths (finish, kill, timeout) the
 * guardian is retired without touching the group, so a daemon that
 * start_command leaves running stays.  With kill -9 of the tool during
 * start_command, the start is killed too: nothing runs after a kill -9. */
#ifndef N4O_NEO4J_H
#define N4O_NEO4J_H

#include <stddef.h>
#include <sys/types.h>

/* Split TEMPLATE into a NULL-terminated argv with {database} -> DATABASE.
 * ERR_USAGE for unbalanced quotes, a shell operator, an expansion, an
 * unknown placeholder, or an empty template. */
char **neo4j_split(const char *template_, const char *database);
/* Same, naming the config key WHAT ("dump_command") in error messages.
 * DATABASE may be NULL when the template does not use {database}. */
char **neo4j_split_what(const char *what, const char *template_, const char *database);
void neo4j_argv_free(char **argv);

/* For the config loader: check TEMPLATE, the value of the key WHAT
 * ("dump_command"), completely and without running anything: 0 when it
 * splits (quotes balance, no unquoted shell operator or expansion, only
 * known placeholders, by the rules above), else -1 with ERR_USAGE and a
 * message "WHAT: <problem>" that names the quote, operator (with its
 * character position) or placeholder at fault.  A NULL or blank TEMPLATE
 * means "not set" and returns 0: whether the key may be unset is the
 * caller's business.  It does not look the program up (that depends on the
 * host's PATH at run time: neo4j_check_program). */
int neo4j_check_template(const char *what, const char *template_);

/* For the commands, before anything runs (backup: every configured
 * template before stop_command): resolve the program of TEMPLATE (argv[0])
 * as execvp() and neo4j_spawn() will: a path when it holds a '/', else the
 * first executable regular file in $PATH (confstr's default when PATH is
 * unset; a match without execute permission is passed over).  0 when it
 * would run; else -1 with ERR_USAGE: "dump_command: program neo4j-admin not
 * found in PATH (/usr/local/bin:/usr/bin:/bin)", "dump_command: program
 * /opt/x is not executable", "... is a directory", "... not found".  A
 * template that does not split fails as in neo4j_check_template().  A NULL
 * or blank TEMPLATE returns 0.  Not checked: the programs inside an `sh -c`
 * script (only the shell is), and a program name holding {database}
 * (resolved per database when it runs). */
int neo4j_check_program(const char *what, const char *template_);

/* 0 when NAME is a database name we accept ([A-Za-z0-9][A-Za-z0-9._-]*,
 * at most 63 characters); else -1 with ERR_USAGE. */
int neo4j_check_database(const char *name);

#define NEO4J_PIPE_SIZE (1024 * 1024) /* dump/load pipe buffer, bytes */

typedef enum { NEO4J_NO_PIPE, NEO4J_READ_STDOUT, NEO4J_WRITE_STDIN } neo4j_pipe;

typedef struct neo4j_child neo4j_child;

/* Start WHAT ("dump_command", ...) from TEMPLATE.  TIMEOUT_S 0 = no limit.
 * NO_PIPE: the child's stdout is logged like its stderr.  A program that
 * cannot be found or executed fails here (ERR_FAIL, the messages of
 * neo4j_check_program), not at finish.  Call it from a thread that lives
 * until the child is finished or killed (see "Lifetime" above). */
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
