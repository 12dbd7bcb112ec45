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
#include <stdint.h>
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
    char safety[4200];          /* the safety dump of TARGET; "" when none */
    uint8_t safety_blake2b[32]; /* its plaintext BLAKE2b (when SAFETY is set) */
    int existed;                /* TARGET existed before (0: a fresh host) */
    restore_state state;
} restore_record_db;

typedef struct {
    long pid;
    time_t started;
    restore_record_db db[RESTORE_RECORD_MAX];
    size_t n;
} restore_record;

/* The record is kept next to the run lock ("<lock_file>.restore") and, as
 * /run is usually a tmpfs that a power loss empties, also beside the safety
 * dumps it names, in [local] directory (".<name_prefix>.restore").  PATHS
 * gets both (the second only with a local directory); returns how many. */
size_t restore_record_paths(const config *cfg, char paths[2][4200]);
/* Write R to every place (each a new file renamed over the old one, mode
 * 0600); -1 when one cannot be written. */
int restore_record_save(const config *cfg, const restore_record *r);
/* 1 and R filled when a place holds a record (WHERE, CAP bytes, gets its
 * path), 0 when none does, -1 (ERR_FAIL naming the file) when one cannot
 * be read or is not a record. */
int restore_record_load(const config *cfg, restore_record *r, char *where, size_t cap);
/* Remove the record from every place (gone already is fine). */
int restore_record_remove(const config *cfg);
/* Whether R leaves a store that may be half-loaded (a load began and did
 * not end, or a reinstatement failed). */
int restore_record_unsound(const restore_record *r);
/* Log what R (found at WHERE; NULL: the running restore's own) says was
 * left half done and, per database,
 * the command that reinstates its safety dump (CFG's load_command, quoted
 * for a shell), then start_command and the removal of the record. */
void restore_record_explain(const restore_record *r, const char *where, const config *cfg);
/* For every command, first thing after its config is loaded: a record left
 * by a killed restore is explained (restore_record_explain).  0 when there
 * is none, or it leaves every store sound; 1 when a store may be
 * half-loaded, or a restore is running (its pid alive; not asked when the
 * caller holds the run lock, LOCK_HELD, since then none can be); -1 when
 * the record cannot be read (logged, ERR_FAIL set). */
int restore_record_check(const config *cfg, int lock_held);

#endif
