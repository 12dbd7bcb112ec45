/* neo4j: the command templates of [neo4j] (dump, load, stop, start, check)
 * run as child processes.  A template is split into words like a shell does
 * for quotes, with no expansion, and run without a shell; {database} is
 * substituted.  The child's stderr is logged line by line; the exit status
 * decides; a child running past the timeout is killed with its process
 * group.  SIGINT/SIGTERM (signals.h) interrupt waits. */
#ifndef N4O_NEO4J_H
#define N4O_NEO4J_H

#include <stddef.h>
#include <sys/types.h>

/* Split TEMPLATE into a NULL-terminated argv with {database} -> DATABASE.
 * ERR_USAGE for unbalanced quotes or an empty template. */
char **neo4j_split(const char *template_, const char *database);
void neo4j_argv_free(char **argv);

typedef enum { NEO4J_NO_PIPE, NEO4J_READ_STDOUT, NEO4J_WRITE_STDIN } neo4j_pipe;

typedef struct neo4j_child neo4j_child;

/* Start WHAT ("dump_command", ...) from TEMPLATE.  TIMEOUT_S 0 = no limit. */
neo4j_child *neo4j_spawn(const char *what, const char *template_, const char *database,
                         neo4j_pipe pipe, long timeout_s);
/* Read the child's stdout (READ_STDOUT): >0 bytes, 0 at EOF, -1 on timeout or
 * signal (err set).  Stderr lines are logged meanwhile. */
ssize_t neo4j_read(neo4j_child *c, void *buf, size_t len);
/* Write all of BUF to the child's stdin (WRITE_STDIN); -1 if it exited,
 * timed out or a signal came. */
int neo4j_write(neo4j_child *c, const void *buf, size_t len);
/* Close our pipe ends, wait for the exit (killing it at the deadline) and
 * free C.  0 when it exited 0; else -1, ERR_FAIL with the exit status and
 * the last stderr line.  Safe to call after a failed read/write. */
int neo4j_finish(neo4j_child *c);
/* Kill the child's process group and reap it (on our own failure). */
void neo4j_kill(neo4j_child *c);

/* True when the last failed neo4j_finish() saw "Database does not exist". */
int neo4j_last_db_missing(void);

/* Run a template to completion (stop/start/check), output logged. */
int neo4j_run(const char *what, const char *template_, const char *database, long timeout_s);

#endif
