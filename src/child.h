/* child: runs a program (an argv, no shell) as a supervised child process.
 * It promises:
 *   - Output: the child's stderr, and its stdout unless it is piped to the
 *     caller, is logged line by line (control characters shown as '?',
 *     lines over 1024 bytes cut and marked " [...]"); stdin is /dev/null
 *     unless the caller feeds it.  Reading stdout never blocks on a full
 *     stderr pipe, and the reverse.
 *   - Outcome: the exit status decides.  A failure is ERR_FAIL with a
 *     message naming the child (WHAT), the exit status or signal, and its
 *     last informative stderr lines.
 *   - Time: a child running past its timeout is killed with its whole
 *     process group (SIGTERM, SIGKILL after a grace); SIGINT/SIGTERM of the
 *     tool (signals.h) interrupt waits for data, and the child is then
 *     killed by child_finish().
 *   - Group: the child runs in its own process group (so a terminal's ^C
 *     reaches only the tool, which decides, and a kill reaches everything
 *     the command started); we are a child subreaper, so what the command
 *     leaves behind is reaped here rather than by init.
 *   - Environment: the child gets ours without the tool's secrets
 *     (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 *     AWS_SECURITY_TOKEN, NEO4J_OFFSITE_PASSPHRASE_FILE: no child needs
 *     them, and a child's environment is readable by more than the tool),
 *     with the caller's changes (child_opts.env) applied.
 *   - Lifetime: no child outlives the tool, not even a kill -9 of it.  The
 *     child gets PR_SET_PDEATHSIG SIGKILL, and a guardian process per child
 *     (forked, exec'd as /bin/sh so it holds no copy of our memory, in its
 *     own process group, holding no descriptor of ours but its pipe)
 *     SIGKILLs the child's whole process group when the tool dies.
 *     Threads: the kernel sends PDEATHSIG when the *thread* that forked the
 *     child exits, not the process, so call child_spawn() from a thread that
 *     lives until child_finish()/child_kill() (the tool spawns from its main
 *     thread: cmd_backup.c); child_read()/child_write() may then run in
 *     another thread.  On the normal paths (finish, kill, timeout) the
 *     guardian is retired without touching the group, so a daemon that the
 *     command leaves running (start_command) stays.  With kill -9 of the
 *     tool while such a command runs, its group is killed too: nothing runs
 *     after a kill -9.
 *   - Program: argv[0] is resolved as execvp() would (child_check_program),
 *     relative to the working directory of child_set_workdir(); a program
 *     that cannot be found or executed fails child_spawn(), not later.
 * One child is used by one thread at a time; the settings (workdir, kill
 * grace) are process-wide and meant to be set before children run. */
#ifndef N4O_CHILD_H
#define N4O_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#define CHILD_PIPE_SIZE (1024 * 1024) /* a piped stdin/stdout's buffer, bytes */

typedef enum {
    CHILD_NO_PIPE,     /* stdout is logged like stderr */
    CHILD_READ_STDOUT, /* the caller reads stdout: child_read() */
    CHILD_WRITE_STDIN, /* the caller feeds stdin: child_write() */
} child_pipe;

typedef struct child_process child_process;

typedef struct {
    /* Names the child in messages ("dump_command failed (exit 1)") and in
     * log lines; NULL: "command". */
    const char *what;
    /* Put before WHAT in log lines ("neo4j: "); NULL for none. */
    const char *log_prefix;
    child_pipe pipe;
    long timeout_s; /* 0: no limit */
    /* The setting TIMEOUT_S comes from, named in the message of a timeout
     * ("dump_command timed out after 60 s (command_timeout)"); NULL: none. */
    const char *timeout_key;
    /* Changes to the environment the child inherits, NULL-terminated:
     * "NAME=value" sets NAME, "NAME" removes it.  NULL: none. */
    const char *const *env;
    /* Called with each stderr line, as logged: 1 when the line may explain
     * a failure, 0 when it never does (a generic hint) and is left out of
     * the failure message.  NULL: every line may. */
    int (*stderr_line)(void *ctx, const char *line);
    /* Called when the child exited non-zero, before the message is made:
     * text put after "WHAT failed (exit N)" (": database 'x' does not
     * exist"), NULL or "" for none.  NULL: none. */
    const char *(*failure_cause)(void *ctx);
    void *ctx; /* passed to the two callbacks */
} child_opts;

/* Start ARGV (argv[0] looked up as child_check_program() does) with OPTS.
 * The child or NULL with ERR_FAIL (a program not found: the messages of
 * child_check_program).  Call it from a thread that lives until the child is
 * finished or killed (see "Lifetime" above). */
child_process *child_spawn(char *const argv[], const child_opts *opts);
/* Read the child's stdout (CHILD_READ_STDOUT): >0 bytes, 0 at EOF, -1 on
 * timeout or signal (err set).  Stderr lines are logged meanwhile. */
ssize_t child_read(child_process *c, void *buf, size_t len);
/* Write all of BUF to the child's stdin (CHILD_WRITE_STDIN); -1 if it
 * stopped reading, timed out or a signal came.  Never dies of SIGPIPE and
 * leaves none pending. */
int child_write(child_process *c, const void *buf, size_t len);
/* Close our pipe ends, wait for the exit (killing the group at the
 * deadline) and free C.  0 when it exited 0 (having read all its input, when
 * fed); else -1, ERR_FAIL with the exit status and the last stderr lines.
 * Safe to call after a failed read/write: then the child is killed (a
 * consumer must not complete on a partial input) and the error of the failed
 * call is kept.  Does not abort on a pending signal (it is the cleanup path)
 * but honours the deadline.  NULL is a no-op returning 0. */
int child_finish(child_process *c);
/* child_finish, for a caller that already knows something is wrong with
 * the child's output: what it still writes to stdout is read and dropped
 * until it ends, for at most MS milliseconds (the deadline, if sooner,
 * stays), then the child is finished.  *FAILED_EXIT is 1 when the child
 * exited by itself with a non-zero status (then the error says so: that is
 * the cause), else 0. */
int child_finish_soon(child_process *c, long ms, int *failed_exit);
/* Kill the child's process group (SIGTERM, SIGKILL after the grace), reap it
 * and free C (on our own failure).  NULL is a no-op. */
void child_kill(child_process *c);
/* Process id of the child, which is also its process group id; -1 for NULL. */
pid_t child_pid(const child_process *c);

/* Whether NAME (an argv[0]) would run: resolved as execvp() and
 * child_spawn() do, a path when it holds a '/' (relative to the workdir),
 * else the first executable regular file in $PATH (confstr's default when
 * PATH is unset; an empty element is the workdir; a match without execute
 * permission is passed over).  0 when it would run; else -1 with ERR_USAGE
 * and a message starting "WHAT: ": "program neo4j-admin not found in PATH
 * (/usr/local/bin:/usr/bin:/bin)", "program /opt/x is not executable",
 * "... is a directory", "... not found". */
int child_check_program(const char *what, const char *name);

/* Run children in DIR and resolve relative program paths ("bin/x", or an
 * empty PATH element) against it: the config file's directory, so that a
 * command means the same from cron as from a shell.  NULL or "": the
 * current directory (the default). */
void child_set_workdir(const char *dir);

/* Grace between SIGTERM and SIGKILL when a child's group is killed, in ms
 * (default 3000; tests shorten it). */
void child_set_kill_grace_ms(long ms);

#endif
