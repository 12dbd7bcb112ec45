/* retention: which archives (or local dumps) to keep and which to delete,
 * per database, as a pure function: no I/O, no clock, no configuration -
 * the items, "now" and the policy in, one decision with its reason per item
 * out.  prune and backup apply the plan; `prune --dry-run` prints it.
 *
 * The rules (docs/CONFIG.md, [retention]):
 * - Items are judged per database; a database's items never affect
 *   another's.
 * - A complete archive is deleted when it is more than keep_days x 24 h
 *   older than NOW (exactly keep_days x 24 h old is kept), unless it is
 *   one of the min_keep newest complete archives of its database (never
 *   fewer good backups than that, however old), or the newest complete
 *   archive of one of the last keep_weekly ISO weeks or keep_monthly
 *   calendar months (UTC; the current week and month count).
 * - An archive dated after NOW is kept, with a reason that warrants a
 *   warning, and is not counted among the min_keep newest (a clock gone
 *   wrong must not push out real backups).
 * - An incomplete item (an upload without its manifest) is never deleted
 *   or counted here: incomplete uploads have their own 24-hour rule.
 * - A manifest whose archive is missing is not a backup: it never counts
 *   among the min_keep or weekly/monthly ones; it is kept within the
 *   window and deleted past it like any other archive (prune reports it).
 * - Safety dumps (taken before a restore) have their own rule: the newest
 *   of a database is always kept, the others are deleted past keep_days;
 *   they never count toward min_keep. */
#ifndef N4O_RETENTION_H
#define N4O_RETENTION_H

#include <stddef.h>
#include <time.h>

typedef enum {
    RETENTION_ARCHIVE, /* an archive (remote) or a plain dump (local) */
    RETENTION_SAFETY,  /* a safety dump taken before a restore (local) */
} retention_kind;

typedef enum {
    RETENTION_COMPLETE,   /* a backup: the archive and its manifest, or a whole dump */
    RETENTION_INCOMPLETE, /* an upload without its manifest */
    RETENTION_MISSING,    /* a manifest without (all of) its archive */
} retention_state;

typedef struct {
    const char *database;
    time_t time; /* the UTC time in its name */
    retention_kind kind;
    retention_state state;
} retention_item;

typedef struct {
    int keep_days;    /* >= 0 */
    int min_keep;     /* >= 0 */
    int keep_weekly;  /* >= 0 */
    int keep_monthly; /* >= 0 */
} retention_policy;

typedef enum {
    RETENTION_KEEP_WITHIN_DAYS,
    RETENTION_KEEP_MIN_KEEP,
    RETENTION_KEEP_WEEKLY,
    RETENTION_KEEP_MONTHLY,
    RETENTION_KEEP_FUTURE,        /* dated after now: warn */
    RETENTION_KEEP_INCOMPLETE,    /* not judged here */
    RETENTION_KEEP_NEWEST_SAFETY, /* the newest safety dump of its database */
    RETENTION_DELETE_EXPIRED,     /* older than keep_days, nothing keeps it */
} retention_reason;

typedef struct {
    int keep;                /* 1 keep, 0 delete */
    retention_reason reason; /* why */
} retention_decision;

/* Decide for each of the N ITEMS (in any order) at NOW under POLICY:
 * OUT[i] is the decision for ITEMS[i].  0, or -1 (ERR_FAIL) when out of
 * memory, OUT then undefined. */
int retention_plan(const retention_item *items, size_t n, time_t now,
                   const retention_policy *policy, retention_decision *out);
/* The reason in words, without the verb, for --dry-run and the log
 * ("within keep_days", "older than keep_days"). */
const char *retention_reason_text(retention_reason r);

#endif
