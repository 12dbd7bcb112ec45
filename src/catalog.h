/* catalog: names <-> (database, time).
 *
 *   local dump      <prefix>_<db>_<YYYYMMDD_HHMMSS>.dump
 *   safety dump     <prefix>_<db>_pre_restore_<YYYYMMDD_HHMMSS>.dump
 *   remote archive  <prefix>_<db>_<YYYYMMDD_HHMMSS>.dump.enc  (+ .dump.manifest)
 *
 * Times are UTC.  An archive's "name" is the part before ".dump".  <db> is
 * a name that passes neo4j_check_database(), which holds no '_': names parse
 * back without ambiguity, and a file whose <db> fails the rule is not ours. */
#ifndef N4O_CATALOG_H
#define N4O_CATALOG_H

#include <stddef.h>
#include <time.h>

#define CATALOG_NAME_MAX        256
#define CATALOG_ARCHIVE_SUFFIX  ".dump.enc"
#define CATALOG_MANIFEST_SUFFIX ".dump.manifest"
#define CATALOG_DUMP_SUFFIX     ".dump"

typedef enum { CATALOG_DUMP, CATALOG_SAFETY_DUMP, CATALOG_ARCHIVE, CATALOG_MANIFEST } catalog_kind;

typedef struct {
    char name[CATALOG_NAME_MAX]; /* without suffix */
    char database[128];
    time_t created;
    catalog_kind kind;
} catalog_entry;

/* "<prefix>_<db>_<YYYYMMDD_HHMMSS>" (SAFETY: with "_pre_restore") into OUT. */
int catalog_name(char *out, size_t n, const char *prefix, const char *database, time_t t,
                 int safety);
/* Parse a file or object name; 0 and *OUT filled when it matches PREFIX and
 * one of the patterns, -1 (no error set) when it does not. */
int catalog_parse(const char *prefix, const char *filename, catalog_entry *out);
/* Normalise a user's ARCHIVE argument: strip ".dump.enc" / ".dump.manifest"
 * / ".dump" and any directory part. */
void catalog_archive_arg(const char *arg, char *out, size_t n);

/* "2026-11-28T03:00:00Z" */
void catalog_rfc3339(time_t t, char out[32]);

#endif
