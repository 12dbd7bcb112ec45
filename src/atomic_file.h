/* atomic_file: write a file under a temporary name ("<path>.partial"),
 * fsync it, then rename it to PATH only if PATH does not exist, and fsync the
 * directory.  A reader never sees a half-written PATH; a crash leaves at most
 * the .partial file. */
#ifndef N4O_ATOMIC_FILE_H
#define N4O_ATOMIC_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ATOMIC_FILE_SUFFIX ".partial"

typedef struct atomic_file atomic_file;

/* Create PATH.partial with MODE (replacing a stale one: callers hold the run
 * lock).  ERR_FAIL with the path and cause. */
atomic_file *atomic_file_create(const char *path, mode_t mode);
int atomic_file_write(atomic_file *f, const void *buf, size_t len);
/* Bytes written so far. */
uint64_t atomic_file_size(const atomic_file *f);
/* fsync, rename to PATH without replacing (EEXIST -> error), fsync the
 * directory, free F.  On failure the .partial is removed. */
int atomic_file_commit(atomic_file *f);
/* Remove the .partial and free F; NULL is a no-op. */
void atomic_file_abort(atomic_file *f);

/* rename(FROM, TO) that fails with EEXIST instead of replacing TO. */
int atomic_file_rename_noreplace(const char *from, const char *to);
/* fsync the directory that holds PATH. */
int atomic_file_sync_dir(const char *path);

#endif
