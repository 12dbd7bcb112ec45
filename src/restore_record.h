/* restore_record: what a restore is doing to Neo4j's stores, on disk next
 * to the run lock ("<lock_file>.restore"), so that a restore killed while a
 * load ran (kill -9, power loss) is not forgotten.  It is written before
 * the first load and after each one, and removed once every store is sound
 * again (all loaded, or every loaded one reinstated).  The next run of any
 * command finds it (restore_record_check): it says what was left half done
 * and the exact commands that reinstate the safety dumps; backup refuses to
 * run while it is there, and no command starts Neo4j on such a store. */
#ifndef N4O_RESTORE_RECORD_H
#define N4O_RESTORE_RECORD_H

#include <stddef.h>
#include <time.h>

#include "catalog.h"
#include "config.h"

#define RESTORE_RECORD_MAX 16 /* databases in one restore */

typedef enum {
    RESTORE_WAITING, /* not loaded yet: its store is as it was */
    RESTORE_LOADING, /* its load began: the store may be half-loaded */
    RESTORE_LOADED,  /* the archive is in it */
} restore_state;

typedef struct {
    char database[128]; /* the archive's database */
    char target[128];   /* the database loaded (--as) */
    char archive[CATALOG_NAME_MAX];
    char safety[4200]; /* the safety dump of TARGET; "" when none */
    int existed;       /* TARGET existed before (0: a fresh host) */
    restore_state state;
} restore_record_db;

typedef struct {
    long pid;
    time_t started;
    restore_record_db db[RESTORE_RECORD_MAX];
    size_t n;
} restore_record;

/* "<LOCK_FILE>.restore" into OUT. */
int restore_record_path(const char *lock_file, char *out, size_t cap);
/* Write R to PATH (a new file, then renamed over the old one; mode 0600). */
int restore_record_save(const char *path, const restore_record *r);
/* 1 and R filled when PATH holds a record, 0 when there is none, -1
 * (ERR_FAIL naming PATH) when it cannot be read or is not one. */
int restore_record_load(const char *path, restore_record *r);
/* Remove PATH (gone already is fine). */
int restore_record_remove(const char *path);
/* Whether R leaves a store that may be half-loaded (a load began and did
 * not end, or a reinstatement failed). */
int restore_record_unsound(const restore_record *r);
/* Log what R says was left half done and, per database, the command that
 * reinstates its safety dump (CFG's load_command, quoted for a shell), then
 * start_command and the removal of PATH. */
void restore_record_explain(const restore_record *r, const char *path, const config *cfg);
/* For every command, first thing after its config is loaded: a record left
 * by a killed restore is explained (restore_record_explain).  0 when there
 * is none, or it leaves every store sound; 1 when a store may be
 * half-loaded; -1 when the record cannot be read (logged, ERR_FAIL set). */
int restore_record_check(const config *cfg);

#endif
