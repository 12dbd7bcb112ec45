#include "child.h"

#include "err.h"
#include "keys.h"
#include "log.h"
#include "signals.h"
#include "strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PATH_SHOWN        400  /* PATH in messages is cut here */
#define LOG_LINE_MAX      1024 /* longer child lines are logged cut, marked " [...]" */
#define KEEP_LINES        2    /* stderr lines kept for the error message */
#define KEEP_LINE_MAX     400
#define POLL_SLICE_MS     250 /* bounds how late a signal or deadline is noticed */
#define DRAIN_EVERY_READS 32

static long kill_grace_ms = 3000;

void child_set_kill_grace_ms(long ms)
{
    kill_grace_ms = ms < 0 ? 0 : ms;
}

typedef struct {
    char buf[LOG_LINE_MAX + 1];
    size_t n;
    int skipping; /* the rest of an over-long line is dropped */
} linebuf;

typedef enum { ST_OK, ST_BROKEN, ST_INPUT_CLOSED } child_state;

struct child_process {
    char what[64];
    char log_prefix[32];
    char timeout_key[32];
    pid_t pid;
    int reaped, status;
    child_pipe mode;
    int out_fd;          /* stdout: data (READ_STDOUT) or logged (NO_PIPE) */
    int in_fd;           /* stdin (WRITE_STDIN) */
    int err_fd;          /* stderr, always logged */
    int64_t deadline_ms; /* CLOCK_MONOTONIC; 0 = none */
    long timeout_s;
    unsigned long reads;
    unsigned long long written;
    linebuf err_lb, out_lb;
    char last[KEEP_LINES][KEEP_LINE_MAX]; /* the latest informative stderr lines */
    unsigned n_last;
    int (*stderr_line)(void *ctx, const char *line);
    const char *(*failure_cause)(void *ctx);
    void *ctx;
    pid_t guard_pid; /* the guardian (guardian_start), 0 when none */
    int guard_fd;    /* our end of its pipe */
    /* BROKEN: a read/write failed (timeout, signal, I/O): finish kills the
     * child and reports SAVED.  INPUT_CLOSED: the child stopped reading its
     * stdin; finish waits for it and classifies its exit. */
    child_state state;
    err_kind saved_kind;
    char saved[512];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Milliseconds until the deadline, -1 when there is none. */
static long left_ms(const child_process *c)
{
    if (!c->deadline_ms)
        return -1;
    int64_t left = c->deadline_ms - now_ms();
    return left > 0 ? (long)left : 0;
}

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    case SIGQUIT:
        return "SIGQUIT";
    case SIGKILL:
        return "SIGKILL";
    case SIGPIPE:
        return "SIGPIPE";
    case SIGSEGV:
        return "SIGSEGV";
    case SIGABRT:
        return "SIGABRT";
    default:
        return "signal";
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void keep_line(child_process *c, const char *line)
{
    if (!*line)
        return;
    if (c->n_last == KEEP_LINES) {
        memmove(c->last[0], c->last[1], sizeof c->last[0] * (KEEP_LINES - 1));
        c->n_last--;
    }
    /* Cut, not formatted: long lines are expected here. */
    size_t n = strnlen(line, KEEP_LINE_MAX - 1);
    memcpy(c->last[c->n_last], line, n);
    c->last[c->n_last++][n] = '\0';
}

static void emit_line(child_process *c, linebuf *lb, int is_err, int cut)
{
    char *s = lb->buf;
    size_t n = lb->n;
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    s[n] = '\0';
    /* The child's bytes go to a terminal or syslog: no control sequences. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = '?';
    log_info("%s%s: %s%s", c->log_prefix, c->what, s, cut ? " [...]" : "");
    if (is_err && (!c->stderr_line || c->stderr_line(c->ctx, s)))
        keep_line(c, s);
    lb->n = 0;
}

static void feed_lines(child_process *c, linebuf *lb, const char *data, size_t n, int is_err)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            if (!lb->skipping)
                emit_line(c, lb, is_err, 0);
            lb->skipping = 0;
            lb->n = 0;
        } else if (lb->skipping) {
            continue;
        } else if (lb->n < LOG_LINE_MAX) {
            lb->buf[lb->n++] = data[i];
        } else {
            emit_line(c, lb, is_err, 1);
            lb->skipping = 1;
        }
    }
}

/* Read what is available on a logged fd; at EOF flush and close it. */
static void drain_log(child_process *c, int *fd, linebuf *lb, int is_err)
{
    char buf[4096];
    for (int i = 0; *fd >= 0 && i < 64; i++) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n > 0) {
            feed_lines(c, lb, buf, (size_t)n, is_err);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        /* EOF or a read error: either way nothing more will come. */
        if (lb->n && !lb->skipping)
            emit_line(c, lb, is_err, 0);
        close_fd(fd);
    }
}

static void drain_all(child_process *c)
{
    drain_log(c, &c->err_fd, &c->err_lb, 1);
    if (c->mode == CHILD_NO_PIPE)
        drain_log(c, &c->out_fd, &c->out_lb, 0);
}

static int try_reap(child_process *c, int flags)
{
    if (c->reaped)
        return 1;
    for (;;) {
        pid_t r = waitpid(c->pid, &c->status, flags);
        if (r == c->pid) {
            c->reaped = 1;
            return 1;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) { /* ECHILD: someone else reaped it; treat as gone */
            c->reaped = 1;
            c->status = 0xff00; /* unknown: reported as exit 255 */
            return 1;
        }
        return 0;
    }
}

/* Reap the members of C's group that have exited: the leader through
 * try_reap (its status is the command's), the others (our children too, as
 * we are a subreaper) so that they stop counting as members.  A zombie left
 * for init to reap would keep kill(-pgid, 0) succeeding until the grace
 * ran out. */
static void reap_group(child_process *c)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PGID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
            return;
        if (si.si_pid == c->pid) {
            if (c->reaped || !try_reap(c, WNOHANG))
                return;
            continue;
        }
        if (waitpid(si.si_pid, NULL, WNOHANG) <= 0)
            return;
    }
}

/* SIGTERM to the whole group, SIGKILL after the grace; reaps the leader.
 * Never touches the current error. */
static void kill_group(child_process *c)
{
    int saved_errno = errno;
    if (!c->reaped || kill(-c->pid, 0) == 0) {
        kill(-c->pid, SIGTERM);
        int64_t until = now_ms() + kill_grace_ms;
        for (;;) {
            try_reap(c, WNOHANG);
            reap_group(c);
            if (c->reaped && kill(-c->pid, 0) < 0)
                break;
            if (now_ms() >= until) {
                kill(-c->pid, SIGKILL);
                try_reap(c, 0);
                break;
            }
            sleep_ms(10);
        }
    }
    errno = saved_errno;
}

static void save_error(child_process *c)
{
    c->state = ST_BROKEN;
    c->saved_kind = err_get_kind() ? err_get_kind() : ERR_FAIL;
    snprintf(c->saved, sizeof c->saved, "%s", err_msg());
}

static int timed_out(child_process *c)
{
    kill_group(c);
    err_set(ERR_FAIL, "%s timed out after %ld s%s%s%s", c->what, c->timeout_s,
            *c->timeout_key ? " (" : "", c->timeout_key, *c->timeout_key ? ")" : "");
    save_error(c);
    return -1;
}

static int interrupted(child_process *c)
{
    int sig = signals_pending();
    err_set(ERR_FAIL, "%s interrupted by %s", c->what, sig_name(sig));
    save_error(c);
    return -1;
}

/* Wait until FD is ready for EVENTS, logging child output meanwhile; FD -1:
 * one short round of logging only.  1 ready (or round done), 0 nothing left
 * to wait for, -1 on timeout or (with HONOUR_SIGNALS) a pending signal. */
static int wait_ready(child_process *c, int fd, short events, int honour_signals)
{
    for (;;) {
        if (honour_signals && signals_pending())
            return interrupted(c);
        long left = left_ms(c);
        if (left == 0)
            return timed_out(c);
        struct pollfd pf[3];
        int n = 0, ifd = -1, ierr = -1, iout = -1;
        if (fd >= 0) {
            ifd = n;
            pf[n++] = (struct pollfd){.fd = fd, .events = events};
        }
        if (c->err_fd >= 0) {
            ierr = n;
            pf[n++] = (struct pollfd){.fd = c->err_fd, .events = POLLIN};
        }
        if (c->mode == CHILD_NO_PIPE && c->out_fd >= 0) {
            iout = n;
            pf[n++] = (struct pollfd){.fd = c->out_fd, .events = POLLIN};
        }
        if (n == 0)
            return 0;
        int slice = fd >= 0 ? POLL_SLICE_MS : 50;
        if (left >= 0 && left < slice)
            slice = (int)left;
        int r = poll(pf, (nfds_t)n, slice);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err_sys(ERR_FAIL, errno, "%s: poll", c->what);
            save_error(c);
            return -1;
        }
        if (ierr >= 0 && pf[ierr].revents)
            drain_log(c, &c->err_fd, &c->err_lb, 1);
        if (iout >= 0 && pf[iout].revents)
            drain_log(c, &c->out_fd, &c->out_lb, 0);
        if ((ifd >= 0 && pf[ifd].revents) || fd < 0)
            return 1;
    }
}

/* Where children run and relative program paths start (the tool sets the
 * config file's directory: docs/CONFIG.md, "Templates are split..."); ""
 * means the current directory. */
static char workdir[PATH_MAX];

void child_set_workdir(const char *dir)
{
    snprintf(workdir, sizeof workdir, "%s", dir ? dir : "");
}

/* The PATH a program is searched in: execvp()'s, confstr's default when
 * PATH is unset.  Malloc'd. */
static char *search_path(void)
{
    const char *path = getenv("PATH");
    if (path)
        return strdup(path);
    size_t n = confstr(_CS_PATH, NULL, 0);
    char *def = n ? malloc(n) : NULL;
    if (def)
        confstr(_CS_PATH, def, n);
    return def ? def : strdup("/bin:/usr/bin");
}

/* CAND as a program: 0 runnable, else the errno execve() would give. */
static int runnable(const char *cand)
{
    struct stat st;
    if (stat(cand, &st) < 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (!S_ISREG(st.st_mode) || access(cand, X_OK) < 0)
        return EACCES;
    return 0;
}

/* argv[0] NAME as execvp() resolves it: a path when it holds a '/', else
 * the first runnable file in PATH (an empty element is the current
 * directory; a match that is not executable is passed over, as execvp
 * does).  The malloc'd path, or NULL with KIND and a message naming WHAT. */
static char *resolve_program(const char *what, const char *name, err_kind kind)
{
    char shown[PATH_MAX + 64];
    strbuf_printable_copy(shown, sizeof shown, name);
    if (strchr(name, '/')) {
        char rel[PATH_MAX + 8];
        const char *cand = name;
        if (name[0] != '/' && *workdir) {
            snprintf(rel, sizeof rel, "%s/%s", workdir, name);
            cand = rel;
        }
        int e = runnable(cand);
        if (e == 0) {
            char *s = strdup(cand);
            if (!s)
                err_set(ERR_FAIL, "out of memory");
            return s;
        }
        /* the name the user wrote, and where it was looked for */
        char note[PATH_MAX + 80] = "", shown_rel[PATH_MAX + 16];
        if (cand != name)
            snprintf(note, sizeof note, " (relative to the config file's directory: %s)",
                     strbuf_printable_copy(shown_rel, sizeof shown_rel, cand));
        if (e == ENOENT)
            err_set(kind, "%s: program %s not found%s", what, shown, note);
        else if (e == EISDIR)
            err_set(kind, "%s: program %s is a directory%s", what, shown, note);
        else if (e == EACCES)
            err_set(kind, "%s: program %s is not executable%s", what, shown, note);
        else
            err_sys(kind, e, "%s: program %s%s", what, shown, note);
        return NULL;
    }
    char *path = search_path();
    if (!path) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    char denied[PATH_MAX] = "";
    int denied_errno = 0;
    for (const char *p = path;; p++) {
        const char *e = strchr(p, ':');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char cand[PATH_MAX];
        int n = len ? snprintf(cand, sizeof cand, "%.*s/%s", (int)len, p, name)
                    : snprintf(cand, sizeof cand, "%s/%s", *workdir ? workdir : ".", name);
        if (n > 0 && (size_t)n < sizeof cand) {
            int r = runnable(cand);
            if (r == 0) {
                free(path);
                char *s = strdup(cand);
                if (!s)
                    err_set(ERR_FAIL, "out of memory");
                return s;
            }
            if ((r == EACCES || r == EISDIR) && !*denied) {
                snprintf(denied, sizeof denied, "%s", cand);
                denied_errno = r;
            }
        }
        if (!e)
            break;
        p = e;
    }
    char shown_path[PATH_SHOWN + 8];
    strbuf_printable_copy(shown_path, PATH_SHOWN, path);
    if (strlen(path) >= PATH_SHOWN - 1)
        strcat(shown_path, "...");
    if (*denied) {
        char shown_denied[PATH_MAX + 64];
        strbuf_printable_copy(shown_denied, sizeof shown_denied, denied);
        err_set(
            kind, "%s: program %s is not executable: %s %s (PATH %s)", what, shown, shown_denied,
            denied_errno == EISDIR ? "is a directory" : "has no execute permission", shown_path);
    } else {
        err_set(kind, "%s: program %s not found in PATH (%s)", what, shown, shown_path);
    }
    free(path);
    return NULL;
}

int child_check_program(const char *what, const char *name)
{
    char *prog = resolve_program(what ? what : "command", name, ERR_USAGE);
    int rc = prog ? 0 : -1;
    free(prog);
    return rc;
}

/* The tool's own secrets (the environment may supply them: the s3
 * `credentials = env` of docs/CONFIG.md, the passphrase file of README.md):
 * no child needs them, and a child's environment is readable by more than
 * the tool (its own children, /proc/PID/environ of the same user, core
 * dumps, `docker exec` passing it into a container). */
static const char *const scrubbed_env[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", /* the older name of AWS_SESSION_TOKEN */
    KEYS_PASSPHRASE_ENV,
};

/* True when ENTRY ("NAME=value") names the variable NAME (NAME_LEN bytes). */
static int env_names(const char *entry, const char *name, size_t name_len)
{
    return strncmp(entry, name, name_len) == 0 && entry[name_len] == '=';
}

/* Whether an inherited ENTRY is left out: a secret, or a variable that
 * CHANGES sets or removes (so that no stale value stays beside ours). */
static int env_dropped(const char *entry, const char *const *changes)
{
    for (size_t i = 0; i < sizeof scrubbed_env / sizeof scrubbed_env[0]; i++)
        if (env_names(entry, scrubbed_env[i], strlen(scrubbed_env[i])))
            return 1;
    for (size_t i = 0; changes && changes[i]; i++)
        if (env_names(entry, changes[i], strcspn(changes[i], "=")))
            return 1;
    return 0;
}

/* The child's environment: environ without the dropped entries, then the
 * "NAME=value" entries of CHANGES.  The array is malloc'd, the strings are
 * environ's and the caller's. */
static char **build_env(const char *const *changes)
{
    size_t n = 0, m = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    while (changes && changes[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (char **e = environ; e && *e; e++)
        if (!env_dropped(*e, changes))
            env[k++] = *e;
    for (size_t i = 0; i < m; i++)
        if (strchr(changes[i], '='))
            env[k++] = (char *)changes[i];
    env[k] = NULL;
    return env;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* In the child: put FROM on TARGET without the close-on-exec flag. */
static void child_fd(int from, int target)
{
    if (from == target)
        fcntl(target, F_SETFD, 0);
    else
        dup2(from, target);
}

/* In a forked child that never execs: close every descriptor but KEEP, so
 * it holds no pipe end, socket or lock of ours (a held write end would
 * delay an EOF someone waits for; a held lock fd, the lock). */
static void close_all_but(int keep)
{
    if ((keep == 0 || close_range(0, (unsigned)keep - 1, 0) == 0) &&
        close_range((unsigned)keep + 1, ~0U, 0) == 0)
        return;
    struct rlimit rl;
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                   ? (long)rl.rlim_cur
                   : 65536;
    for (long fd = 0; fd < max && fd < (1L << 20); fd++)
        if (fd != keep)
            close((int)fd);
}

/* Start the guardian of C's process group: a small process (/bin/sh, exec'd
 * so that it holds no copy of our memory) that waits on a pipe only we hold
 * the write end of.
 * When we die, kill -9 included, the kernel closes that end and the
 * guardian SIGKILLs the group.  PR_SET_PDEATHSIG takes the child alone:
 * what it started (the commands of an `sh -c` pipeline, a launcher's JVM,
 * anything under a set-user-ID program, for which the kernel clears
 * PDEATHSIG) would live on, holding the store lock, until a write into a
 * pipe nobody reads killed it, if ever.  It ignores the terminal's and
 * systemd's signals: our handling of SIGINT/SIGTERM decides, and on our
 * normal paths guardian_stop() retires it.  0, or -1 with ERR_FAIL. */
static int guardian_start(child_process *c)
{
    int gp[2];
    if (pipe2(gp, O_CLOEXEC) < 0)
        return err_sys(ERR_FAIL, errno, "%s: pipe", c->what);
    pid_t pgid = c->pid;
    char script[96]; /* formatted now: the forked child calls async-signal-safe functions only */
    snprintf(script, sizeof script, "read -r x; [ \"$x\" = done ] || kill -9 -%ld", (long)pgid);
    pid_t g = fork();
    if (g < 0) {
        int e = errno;
        close(gp[0]);
        close(gp[1]);
        return err_sys(ERR_FAIL, e, "%s: fork", c->what);
    }
    if (g == 0) {
        /* Async-signal-safe calls only (we may have threads). */
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        static const int sigs[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT, SIGPIPE,
                                   SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            sigaction(sigs[i], &ign, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0); /* out of our group: a ^C or kill of our group spares it */
        prctl(PR_SET_NAME, "n4o-guardian", 0, 0, 0);
        /* A fresh image, so that no copy of our memory (the keys in it)
         * lives on for as long as the child runs: /bin/sh reads the pipe on
         * its stdin and kills the group at EOF.  Were the exec to fail, the
         * same wait runs here. */
        if (dup2(gp[0], STDIN_FILENO) == STDIN_FILENO) {
            close_all_but(STDIN_FILENO);
            char *const gargv[] = {"n4o-guardian", "-c", script, NULL};
            char *const genv[] = {"PATH=/usr/bin:/bin", NULL};
            execve("/bin/sh", gargv, genv);
        }
        char b;
        ssize_t r;
        while ((r = read(STDIN_FILENO, &b, 1)) < 0 && errno == EINTR)
            ;
        if (r == 0)
            kill(-pgid, SIGKILL);
        _exit(0);
    }
    close(gp[0]);
    c->guard_pid = g;
    c->guard_fd = gp[1];
    return 0;
}

/* Retire the guardian without it touching the group (on our normal paths
 * the group was handled already, and a daemon that start_command left
 * behind must stay).  It is our unreaped child, so its pid is still its. */
static void guardian_stop(child_process *c)
{
    if (c->guard_pid > 0) {
        int saved_errno = errno;
        kill(c->guard_pid, SIGKILL);
        while (waitpid(c->guard_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->guard_pid = 0;
        errno = saved_errno;
    }
    close_fd(&c->guard_fd);
}

child_process *child_spawn(char *const argv[], const child_opts *opts)
{
    child_process *c = NULL;
    char **env = NULL, *prog = NULL;
    int errp[2] = {-1, -1}, outp[2] = {-1, -1}, inp[2] = {-1, -1}, execp[2] = {-1, -1};
    int devnull = -1;
    const char *what = opts->what ? opts->what : "command";
    child_pipe pipe_mode = opts->pipe;

    if (!argv || !argv[0]) {
        err_set(ERR_FAIL, "%s: no program to run", what);
        return NULL;
    }
    /* what our children start becomes ours when they exit first, so that
     * kill_group() can reap it instead of waiting for init to */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    prog = resolve_program(what, argv[0], ERR_FAIL);
    if (!prog)
        goto fail;
    env = build_env(opts->env);
    c = calloc(1, sizeof *c);
    if (!env || !c) {
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    snprintf(c->what, sizeof c->what, "%s", what);
    snprintf(c->log_prefix, sizeof c->log_prefix, "%s", opts->log_prefix ? opts->log_prefix : "");
    snprintf(c->timeout_key, sizeof c->timeout_key, "%s",
             opts->timeout_key ? opts->timeout_key : "");
    c->stderr_line = opts->stderr_line;
    c->failure_cause = opts->failure_cause;
    c->ctx = opts->ctx;
    c->mode = pipe_mode;
    c->out_fd = c->in_fd = c->err_fd = c->guard_fd = -1;
    c->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 0;

    if (pipe2(errp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(execp, O_CLOEXEC) < 0 ||
        (pipe_mode == CHILD_WRITE_STDIN && pipe2(inp, O_CLOEXEC) < 0)) {
        err_sys(ERR_FAIL, errno, "%s: pipe", what);
        goto fail;
    }
    /* A dump or load streams GiBs: a 1 MiB pipe (instead of 64 KiB) cuts the
     * context switches per GiB sixteenfold.  Best effort: the limit may be
     * lower for unprivileged users. */
    if (pipe_mode == CHILD_READ_STDOUT)
        (void)fcntl(outp[0], F_SETPIPE_SZ, CHILD_PIPE_SIZE);
    if (pipe_mode == CHILD_WRITE_STDIN)
        (void)fcntl(inp[1], F_SETPIPE_SZ, CHILD_PIPE_SIZE);
    if (pipe_mode != CHILD_WRITE_STDIN && (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        err_sys(ERR_FAIL, errno, "%s: /dev/null", what);
        goto fail;
    }

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        err_sys(ERR_FAIL, errno, "%s: fork", what);
        goto fail;
    }
    if (pid == 0) {
        /* Child: async-signal-safe calls only. */
        /* Die with us, kill -9 included (the guardian takes the rest of the
         * group).  The kernel sends it when the *thread* that forked exits,
         * hence the rule in child.h.  Had we died before the prctl, nobody
         * would send it: getppid() then names another process. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
            int e = errno;
            ssize_t wr = write(execp[1], &e, sizeof e);
            (void)wr;
            _exit(127);
        }
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL); /* ignored dispositions survive exec */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        setpgid(0, 0);
        /* Lift the fds above 2 first so no dup2 clobbers a source. */
        int in = fcntl(pipe_mode == CHILD_WRITE_STDIN ? inp[0] : devnull, F_DUPFD_CLOEXEC, 3);
        int out = fcntl(outp[1], F_DUPFD_CLOEXEC, 3);
        int er = fcntl(errp[1], F_DUPFD_CLOEXEC, 3);
        if (in >= 0 && out >= 0 && er >= 0 && (!*workdir || chdir(workdir) == 0)) {
            child_fd(in, 0);
            child_fd(out, 1);
            child_fd(er, 2);
            execve(prog, argv, env);
        }
        int e = errno;
        ssize_t wr = write(execp[1], &e, sizeof e);
        (void)wr;
        _exit(127);
    }
    c->pid = pid;
    setpgid(pid, pid); /* also here: kill(-pid) must work as soon as we return */
    if (guardian_start(c) < 0) {
        kill_group(c);
        goto fail;
    }
    close_fd(&execp[1]);
    close_fd(&errp[1]);
    close_fd(&outp[1]);
    close_fd(&inp[0]);
    close_fd(&devnull);
    c->err_fd = errp[0];
    c->out_fd = outp[0];
    c->in_fd = inp[1];
    errp[0] = outp[0] = inp[1] = -1;

    int child_errno = 0;
    ssize_t got;
    while ((got = read(execp[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR)
        ;
    close_fd(&execp[0]);
    if (got == (ssize_t)sizeof child_errno) {
        err_sys(ERR_FAIL, child_errno, "%s: cannot run '%s'", what, prog);
        try_reap(c, 0);
        goto fail;
    }
    if (set_nonblock(c->err_fd) < 0 || set_nonblock(c->out_fd) < 0 ||
        (c->in_fd >= 0 && set_nonblock(c->in_fd) < 0)) {
        err_sys(ERR_FAIL, errno, "%s: fcntl", what);
        kill_group(c);
        goto fail;
    }
    if (c->timeout_s)
        c->deadline_ms = now_ms() + (int64_t)c->timeout_s * 1000;
    log_debug("%s%s: started %s (pid %d)", c->log_prefix, what, prog, (int)pid);
    free(env);
    free(prog);
    return c;

fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&errp[i]);
        close_fd(&outp[i]);
        close_fd(&inp[i]);
        close_fd(&execp[i]);
    }
    close_fd(&devnull);
    if (c) {
        guardian_stop(c);
        close_fd(&c->err_fd);
        close_fd(&c->out_fd);
        close_fd(&c->in_fd);
    }
    free(c);
    free(env);
    free(prog);
    return NULL;
}

pid_t child_pid(const child_process *c)
{
    return c ? c->pid : -1;
}

static int refail(const child_process *c)
{
    return err_set(c->saved_kind, "%s", c->saved);
}

ssize_t child_read(child_process *c, void *buf, size_t len)
{
    if (c->state == ST_BROKEN)
        return refail(c);
    if (c->mode != CHILD_READ_STDOUT)
        return err_set(ERR_FAIL, "%s: stdout is not piped", c->what);
    if (c->out_fd < 0)
        return 0;
    if (signals_pending())
        return interrupted(c);
    if (left_ms(c) == 0)
        return timed_out(c);
    /* While stdout flows freely poll() is skipped: keep stderr moving too. */
    if (++c->reads % DRAIN_EVERY_READS == 0)
        drain_log(c, &c->err_fd, &c->err_lb, 1);
    for (;;) {
        ssize_t n = read(c->out_fd, buf, len);
        if (n > 0)
            return n;
        if (n == 0) {
            close_fd(&c->out_fd);
            return 0;
        }
        if (errno == EINTR) {
            if (signals_pending())
                return interrupted(c);
            continue;
        }
        if (errno != EAGAIN) {
            err_sys(ERR_FAIL, errno, "%s: reading its output", c->what);
            save_error(c);
            return -1;
        }
        int r = wait_ready(c, c->out_fd, POLLIN, 1);
        if (r < 0)
            return -1;
    }
}

int child_write(child_process *c, const void *buf, size_t len)
{
    const char *p = buf;
    size_t off = 0;
    int rc = 0, epipe = 0;

    if (c->state != ST_OK)
        return c->state == ST_BROKEN ? refail(c)
                                     : err_set(ERR_FAIL, "%s stopped reading its input", c->what);
    if (c->mode != CHILD_WRITE_STDIN || c->in_fd < 0)
        return err_set(ERR_FAIL, "%s: stdin is not piped", c->what);

    /* A reader that went away must give EPIPE, not kill us, even when the
     * caller did not install signals_install()'s SIG_IGN. */
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);

    while (off < len) {
        if (signals_pending()) {
            rc = interrupted(c);
            break;
        }
        if (left_ms(c) == 0) {
            rc = timed_out(c);
            break;
        }
        ssize_t n = write(c->in_fd, p + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            c->written += (unsigned long long)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (wait_ready(c, c->in_fd, POLLOUT, 1) < 0) {
                rc = -1;
                break;
            }
            continue;
        }
        if (n < 0 && errno == EPIPE) {
            epipe = 1;
            c->state = ST_INPUT_CLOSED;
            close_fd(&c->in_fd);
            rc = err_set(ERR_FAIL, "%s stopped reading its input after %llu bytes", c->what,
                         c->written);
            break;
        }
        rc = err_sys(ERR_FAIL, errno, "%s: writing its input", c->what);
        save_error(c);
        break;
    }

    if (epipe && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void free_child(child_process *c)
{
    guardian_stop(c);
    close_fd(&c->err_fd);
    close_fd(&c->out_fd);
    close_fd(&c->in_fd);
    free(c);
}

void child_kill(child_process *c)
{
    if (!c)
        return;
    kill_group(c);
    free_child(c);
}

/* The kept stderr lines for a message: ": older / newer", or "". */
static void describe_stderr(const child_process *c, char *out, size_t size)
{
    out[0] = '\0';
    if (c->n_last == 2)
        snprintf(out, size, ": %s / %s", c->last[0], c->last[1]);
    else if (c->n_last == 1)
        snprintf(out, size, ": %s", c->last[0]);
}

/* child_finish, with the child's wait status in *STATUS when it exited or
 * was killed by a signal of its own, -1 when it was broken or timed out. */
static int finish(child_process *c, int *status)
{
    *status = -1;
    if (!c)
        return 0;
    if (c->state == ST_BROKEN) {
        kill_group(c);
        drain_all(c);
        refail(c);
        free_child(c);
        return -1;
    }
    close_fd(&c->in_fd); /* EOF: a consumer sees the end of its input */
    if (c->mode == CHILD_READ_STDOUT)
        close_fd(&c->out_fd);

    long nap = 5;
    while (!try_reap(c, WNOHANG)) {
        long left = left_ms(c);
        if (left == 0) {
            timed_out(c);
            free_child(c);
            return -1;
        }
        /* The child's output may stay open after it exits (a daemon it
         * started): poll it, but decide by the exit of the child itself. */
        if (c->err_fd >= 0 || (c->mode == CHILD_NO_PIPE && c->out_fd >= 0)) {
            if (wait_ready(c, -1, 0, 0) < 0 && c->state == ST_BROKEN) {
                free_child(c);
                return -1;
            }
        } else {
            sleep_ms(left >= 0 && left < nap ? left : nap);
            if (nap < 50)
                nap *= 2;
        }
    }
    /* Collect what the child wrote just before exiting, without waiting for
     * an EOF that a background process holding the pipe may never send. */
    drain_all(c);
    if (c->err_lb.n && !c->err_lb.skipping)
        emit_line(c, &c->err_lb, 1, 0);
    if (c->out_lb.n && !c->out_lb.skipping)
        emit_line(c, &c->out_lb, 0, 0);

    char detail[KEEP_LINES * (KEEP_LINE_MAX + 3) + 8];
    describe_stderr(c, detail, sizeof detail);
    *status = c->status;
    int rc = 0;
    if (WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0) {
        if (c->state == ST_INPUT_CLOSED)
            rc = err_set(ERR_FAIL, "%s exited (0) before reading all its input (%llu bytes taken)",
                         c->what, c->written);
    } else if (WIFEXITED(c->status)) {
        const char *cause = c->failure_cause ? c->failure_cause(c->ctx) : NULL;
        rc = err_set(ERR_FAIL, "%s failed (exit %d)%s%s", c->what, WEXITSTATUS(c->status),
                     cause ? cause : "", detail);
    } else if (WIFSIGNALED(c->status)) {
        rc = err_set(ERR_FAIL, "%s killed by signal %d (%s)%s", c->what, WTERMSIG(c->status),
                     sig_name(WTERMSIG(c->status)), detail);
    }
    free_child(c);
    return rc;
}

int child_finish(child_process *c)
{
    int status;
    return finish(c, &status);
}

int child_finish_soon(child_process *c, long ms, int *failed_exit)
{
    *failed_exit = 0;
    if (!c)
        return 0;
    int64_t soon = now_ms() + ms;
    if (!c->deadline_ms || soon < c->deadline_ms)
        c->deadline_ms = soon;
    /* Read on (and drop) what it still writes: closing its stdout now would
     * make a healthy writer fail with EPIPE, blaming it for our choice. */
    if (c->mode == CHILD_READ_STDOUT) {
        char scratch[16384];
        while (child_read(c, scratch, sizeof scratch) > 0)
            ;
    }
    int status;
    int rc = finish(c, &status);
    *failed_exit = rc < 0 && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 0;
    return rc;
}
