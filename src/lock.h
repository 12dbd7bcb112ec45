/* lock: one run at a time.  flock() on [general] lock_file; the kernel drops
 * the lock when the process dies, so a kill -9 leaves nothing stale.
 *
 * The file also records what the run holding it did to Neo4j: its pid and
 * command, when it stopped Neo4j and when it started it again.  A run that
 * ends with Neo4j started (or never stopped) empties the file; one killed
 * between the two leaves the stop without a start, one whose start_command
 * failed leaves that and when it ended, and the next run finds it
 * (lock_previous) and can put Neo4j back up before anything else.
 *
 * The file is opened without following a symlink and never truncated
 * before it is known to be a lock file (empty, or in the format above): a
 * lock_file that names some other file is refused, not emptied. */
#ifndef N4O_LOCK_H
#define N4O_LOCK_H

#include <time.h>

typedef struct run_lock run_lock;

/* What the lock file said when it was taken: the previous holder's record. */
typedef struct {
    long pid;         /* 0 when the file was empty */
    char command[32]; /* "backup", "restore"... */
    time_t stopped;   /* when it stopped Neo4j; 0 never */
    time_t started;   /* when it started Neo4j again; 0 never */
    time_t ended;     /* when the run ended (0: it was killed) */
} lock_record;

/* Take the lock at PATH for COMMAND (its directory is created if missing)
 * without waiting.  Held elsewhere: NULL with ERR_LOCKED naming the
 * holder's pid.  Not a lock file: NULL with ERR_USAGE. */
run_lock *lock_acquire(const char *path, const char *command);
/* The record the previous holder left (all zero after a clean end). */
const lock_record *lock_previous(const run_lock *l);
/* Record that this run stopped Neo4j / started it again (now). */
int lock_note_stopped(run_lock *l);
int lock_note_started(run_lock *l);
/* Drop the lock; the record is emptied unless Neo4j was left stopped
 * (then "ended" is added for the next run).  NULL is a no-op. */
void lock_release(run_lock *l);

#endif
