/* audit: what an auditor holding only public keys can prove about one
 * target - a remote, or the local directory of plain dumps - with no
 * secret key and without changing anything.
 *
 * On a remote, from one listing:
 * - every archive with a manifest goes through archives_check (the
 *   verification verify, fetch and restore share): manifest present and
 *   signed by a trusted key, archive present with the recorded size and
 *   header, and with READ_DATA every ciphertext byte hashed;
 * - retention: an archive the policy would have deleted 24 hours ago and
 *   still deletes now is kept past retention (prune runs after each
 *   nightly backup, so an archive may outlive its window by up to a day);
 * - an upload without manifest older than 24 hours is reported;
 * - freshness: the newest archive that verified, per database.
 * In the local directory: each dump (and safety dump) with its age and its
 * validity (dumpcheck: its first MiB, every byte with READ_DATA), and the
 * newest valid dump per database.
 *
 * Findings (integrity or policy) and errors (a target or an object that
 * could not be read) are kept apart: 4 and 1 in SPEC's exit codes. */
#ifndef N4O_AUDIT_H
#define N4O_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "backend.h"
#include "catalog.h"
#include "freshness.h"
#include "keys.h"
#include "retention.h"

#define AUDIT_STALE_UPLOAD_SECONDS (24 * 3600)
#define AUDIT_RETENTION_GRACE      (24 * 3600) /* a nightly prune's delay */
#define AUDIT_LOCAL_HEAD_BYTES     (1024u * 1024u)

typedef enum {
    AUDIT_OK,         /* checked, nothing wrong */
    AUDIT_FINDING,    /* an integrity or policy finding */
    AUDIT_UNREADABLE, /* could not be checked (the remote or the file failed) */
    AUDIT_NOTE,       /* nothing to prove either way (an upload in progress) */
} audit_outcome;

typedef struct {
    char name[CATALOG_NAME_MAX + 16]; /* archive name, or the local file */
    char database[128];
    const char *kind; /* "archive", "incomplete" (remote); "dump", "safety" (local) */
    time_t created;   /* the time in its name */
    double age_h;     /* hours since CREATED (incomplete: since its upload started) */
    uint64_t size;    /* as listed */
    audit_outcome outcome;
    char *problem;     /* the finding or error (malloc'd), else NULL */
    const char *check; /* what was read: "header", "data", "head", "full", "size", "-" */
    int format;        /* archives: the manifest's format version (0 unknown) */
    char signer[KEYS_ID_HEX];
    const char *retention; /* archives: the policy's reason ("within keep_days"...) */
} audit_item;

typedef struct {
    char database[128];
    char name[CATALOG_NAME_MAX + 16]; /* "" when none */
    time_t created;
    double age_h;
    freshness state;
} audit_newest;

typedef struct {
    const char *type;  /* "remote" or "local" */
    char target[1024]; /* the remote's name or the directory */
    audit_item *items; /* by database, then time */
    size_t n;
    audit_newest *newest; /* per database asked for */
    size_t n_newest;
    char *error; /* the target could not be read at all (malloc'd), else NULL */
    size_t findings, unreadable;
} audit_target;

typedef struct {
    const char *prefix;           /* [local] name_prefix */
    const char *const *databases; /* judged for freshness (others are still checked) */
    size_t n_databases;
    retention_policy policy;
    const keys_public *trusted;
    size_t n_trusted;
    int read_data;
    double max_age_h;
    time_t now;
    int progress;
} audit_opts;

/* Audit remote B (named in OUT->target).  Always fills OUT: a remote that
 * cannot be listed has OUT->error set. */
void audit_remote(backend *b, const audit_opts *o, audit_target *out);
/* Audit the plain dumps in DIR.  As audit_remote. */
void audit_local(const char *dir, const audit_opts *o, audit_target *out);
void audit_target_free(audit_target *t);

const char *audit_outcome_name(audit_outcome o);
/* How many newest backups of T are not fresh (stale, none, future). */
size_t audit_not_fresh(const audit_target *t);

#endif
