/* err: the error of the current thread, set where it is first detected.
 *
 * Functions return 0 / -1 (or NULL) and call err_set() at the first place
 * that knows what failed; callers add context with err_prefix().  The kind
 * decides the exit code, in one place: err_exit_code(). */
#ifndef N4O_ERR_H
#define N4O_ERR_H

#include <stdarg.h>

#define ERR_MSG_MAX 2048 /* bytes of a message, its NUL included */

typedef enum {
    ERR_NONE = 0,
    ERR_FAIL,      /* operation failed: I/O, child process, remote unreachable -> 1 */
    ERR_USAGE,     /* usage or configuration error -> 2 */
    ERR_PARTIAL,   /* some work succeeded, some failed -> 3 */
    ERR_INTEGRITY, /* bad signature, hash/size mismatch, invalid dump -> 4 */
    ERR_STALE,     /* newest archive too old -> 5 */
    ERR_LOCKED,    /* another run holds the lock -> 6 */
} err_kind;

/* Record an error (replacing any previous one); always returns -1. */
int err_set(err_kind kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like err_set() with ": strerror(errnum)" appended. */
int err_sys(err_kind kind, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepend context ("remote nas: ") to the current message; returns -1. */
int err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Append context (" (use --no-local-copy)") to the current message; returns -1. */
int err_suffix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

err_kind err_get_kind(void);
/* The current message, "" when none. */
const char *err_msg(void);
void err_clear(void);

/* This thread's error, saved: to carry it to another thread, or to keep
 * it across cleanup code that may set errors of its own. */
typedef struct {
    err_kind kind;
    char msg[ERR_MSG_MAX];
} err_saved;
/* Save the current error (ERR_NONE and "" when none). */
void err_save(err_saved *s);
/* Like err_save(), but a failure without an error set is saved as ERR_FAIL
 * (a stage that failed must never look like one that succeeded). */
void err_save_failure(err_saved *s);
/* Make S the current error again (cleared when S holds none); returns -1. */
int err_restore(const err_saved *s);

/* Exit code (README, "Exit codes") for a kind (ERR_NONE -> 0). */
int err_exit_code(err_kind kind);
/* Of two outcomes, the one whose exit code wins (order 2, 6, 4, 1, 3, 5, 0). */
err_kind err_worse(err_kind a, err_kind b);

#endif
