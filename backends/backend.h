/* backend: one interface for every kind of remote (local directory, SFTP,
 * S3).  Each backend type provides one const table of operations plus a
 * feature bitmask, and a constructor of its own taking its own parameters
 * (local.h, sftp.h, s3.h); commands and the pipeline only ever call the
 * backend_*() functions below, never a backend's operations directly.
 * src/remotes.c fills each driver's parameters from the configuration:
 * backends never see the configuration.
 *
 * Backends move bytes and names: they know nothing of crypto or Neo4j.
 * Every error carries the remote's name and the cause ("remote nas:
 * /mnt/x/y.partial: No space left on device").
 *
 * The contract every driver keeps, beyond the operations' comments:
 * - Object names are checked here, once, before a driver sees them
 *   (backend_check_name): nothing empty, hidden, with a '/' or a control
 *   character reaches a driver (incomplete uploads to remove may be hidden,
 *   but never "." or "..").
 * - A write goes to a temporary object first: where that is a file, its
 *   name is backend_temp_name(NAME), "<NAME>.<16 random hex>.partial",
 *   unique, created exclusively; listings mark such names (and the
 *   "<NAME>.partial" of versions before 0.2) incomplete.
 * - Every wait of a driver (sockets, backoff, threads) ends within 0.2 s
 *   of its cancel hook answering non-zero, failing with "interrupted by
 *   signal N". */
#ifndef N4O_BACKEND_H
#define N4O_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* How a driver learns that the run must stop: PENDING(ARG) answers the
 * number of the signal asking it (SIGINT, SIGTERM...) or 0.  A NULL
 * PENDING never cancels. */
typedef struct {
    int (*pending)(void *arg);
    void *arg;
} backend_cancel;

/* 0, or the signal number when C asks the driver to stop. */
static inline int backend_cancelled(const backend_cancel *c)
{
    return c && c->pending ? c->pending(c->arg) : 0;
}

/* One object in a listing.  NAME is relative to the remote's path/prefix. */
typedef struct {
    char *name;
    uint64_t size;
    time_t mtime;
    int incomplete;  /* a temporary / unfinished upload, not an object */
    char *upload_id; /* backend handle for remove_incomplete (may be NULL) */
} backend_entry;

typedef struct backend backend;
typedef struct backend_writer backend_writer;
typedef struct backend_reader backend_reader;

/* The operations a backend type implements.  Implementations set errors
 * with err_set(); the wrappers below prefix the remote's name. */
typedef struct {
    const char *type;
    void (*close)(void *impl);
    /* Start writing NAME, which must not exist; SIZE_HINT 0 when unknown. */
    void *(*writer_open)(void *impl, const char *name, uint64_t size_hint);
    int (*writer_write)(void *w, const void *buf, size_t len);
    /* Make NAME appear, complete, atomically; fails if it exists. */
    int (*writer_commit)(void *w);
    /* Remove every trace of the write (no error reporting). */
    void (*writer_abort)(void *w);
    void *(*reader_open)(void *impl, const char *name, uint64_t offset);
    /* >0 bytes, 0 at the end, -1 on error. */
    ssize_t (*reader_read)(void *r, void *buf, size_t len);
    void (*reader_close)(void *r);
    /* Objects (and incomplete uploads) whose name starts with PREFIX. */
    int (*list)(void *impl, const char *prefix, backend_entry **out, size_t *n);
    /* 1 and *OUT filled when NAME exists, 0 when not, -1 on error. */
    int (*stat)(void *impl, const char *name, backend_entry *out);
    int (*remove)(void *impl, const char *name);
    /* Remove NAMES[0..N) (N > 0, every name checked), in as few requests
     * as the store allows.  ERRORS has N entries, all NULL: each name that
     * could not be removed gets a malloc'd message without the remote's
     * name.  How many could not; -1 with the error set when cancelled or
     * out of memory (ERRORS may hold messages: backend.c frees them).
     * NULL: backend.c calls remove for one name after the other. */
    int (*remove_many)(void *impl, const char *const *names, size_t n, char **errors);
    /* 0 removed (or gone), 1 the server cannot remove such uploads (S3
     * servers without AbortMultipartUpload), -1 on error. */
    int (*remove_incomplete)(void *impl, const backend_entry *e);
    /* Check, cheaply and before any real work, that writing will be
     * accepted: create and remove a small temporary object where that is
     * how writes work (local, SFTP: path missing, not a directory or not
     * writable is an error naming it), or reach the store and the bucket
     * with the credentials (S3).  NULL: nothing to check. */
    int (*probe)(void *impl);
    /* The cancel hook the driver was given, which the loops of backend.c
     * look at between objects; NULL (or NULL answered): nothing cancels
     * them. */
    const backend_cancel *(*cancel_hook)(void *impl);
} backend_ops;

/* Flags of the drivers' constructors */
#define BACKEND_OPEN_BULK 1u /* a large transfer follows at once: get ready for it now */
/* The command writes: a backend may create the remote's path (SFTP: mkdir
 * -p).  Without it a missing path is an error naming it, and nothing is
 * created. */
#define BACKEND_OPEN_WRITE 2u
/* For drivers' constructors: the backend named NAME running OPS on IMPL
 * (which backend_close hands to OPS->close).  IMPL NULL (the driver's
 * error set) or out of memory: NULL, the error prefixed with the remote's
 * name, IMPL closed. */
backend *backend_wrap(const backend_ops *ops, const char *name, void *impl);
void backend_close(backend *b);
const char *backend_name(const backend *b);

backend_writer *backend_writer_open(backend *b, const char *name, uint64_t size_hint);
int backend_writer_write(backend_writer *w, const void *buf, size_t len);
/* Commit and free W; on failure the write is aborted too. */
int backend_writer_commit(backend_writer *w);
/* Abort and free W; NULL is a no-op. */
void backend_writer_abort(backend_writer *w);

backend_reader *backend_reader_open(backend *b, const char *name, uint64_t offset);
ssize_t backend_reader_read(backend_reader *r, void *buf, size_t len);
void backend_reader_close(backend_reader *r);

/* Listing, sorted by name; free with backend_entries_free(). */
int backend_list(backend *b, const char *prefix, backend_entry **out, size_t *n);
void backend_entries_free(backend_entry *e, size_t n);
int backend_stat(backend *b, const char *name, backend_entry *out);
int backend_remove(backend *b, const char *name);
/* Remove NAMES[0..N) like backend_remove each (an object already gone
 * is not an error), in batches where the driver can (S3 DeleteObjects,
 * up to 1,000 keys a request), else one by one.  ERRORS (N entries, may
 * be NULL) gets, for each name that could not be removed, a malloc'd
 * message naming the remote, the object and the cause (else NULL).
 * Returns how many could not be removed (0: all gone); -1 with the
 * error set when nothing could be tried (a name refused by
 * backend_check_name, out of memory) or the run was cancelled.
 * On -1 every ERRORS entry is NULL (some names may be gone all the same).
 * The names go in no particular order (one request may remove them all at
 * once): a caller that needs an order, manifests before their archives,
 * makes one call per step. */
int backend_remove_many(backend *b, const char *const *names, size_t n, char **errors);
/* Remove an incomplete upload of a listing: 0 done, 1 the server cannot
 * (not an error: the caller warns), -1 on error. */
int backend_remove_incomplete(backend *b, const backend_entry *e);
/* The backend's probe (see backend_ops); 0 when it has none. */
int backend_probe(backend *b);

/* Read all of NAME (at most MAX bytes) into a malloc'd NUL-terminated
 * buffer. */
char *backend_read_all(backend *b, const char *name, size_t max, size_t *len);
/* Write BUF as NAME atomically (temporary + commit). */
int backend_write_all(backend *b, const char *name, const void *buf, size_t len);

/* 0 when NAME may name an object: not empty, not hidden (leading '.'), no
 * '/', no control character; else -1 (ERR_USAGE) showing it escaped. */
int backend_check_name(const char *name);
/* The temporary name of a write of NAME: "<NAME>.<16 random hex>.partial",
 * malloc'd; NULL (ERR_FAIL) out of memory. */
char *backend_temp_name(const char *name);
/* 1 when NAME is a temporary name (also "<target>.partial" of versions
 * before 0.2), with its target copied to TARGET (CAP bytes); else 0. */
int backend_temp_target(const char *name, char *target, size_t cap);

#endif
