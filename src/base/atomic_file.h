/* atomic_file: write a file under a unique temporary name
 * ("<path>.<16 random hex>.partial", created with O_EXCL|O_NOFOLLOW, mode
 * 0600 or stricter), fsync it, then rename it to PATH only if PATH does not
 * exist, and fsync the directory.  A reader never sees a half-written PATH;
 * a crash leaves at most the temporary file, which is never reused. */
#ifndef N4O_ATOMIC_FILE_H
#define N4O_ATOMIC_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ATOMIC_FILE_SUFFIX  ".partial"
#define ATOMIC_FILE_TAG_HEX 16 /* random hex digits between the name and the suffix */

/* A fresh temporary name for NAME (a path or an object name):
 * "<NAME>.<16 random hex>.partial", malloc'd; NULL (ERR_FAIL) out of memory.
 * Backends that write through a temporary name (local, SFTP) use it too. */
char *atomic_file_temp_name(const char *name);
/* 1 when NAME is a temporary name (from atomic_file_temp_name, or the
 * "<target>.partial" of versions before 0.2) and TARGET (CAP bytes) gets the
 * name it was meant to become; 0 when NAME is not a temporary name. */
int atomic_file_temp_target(const char *name, char *target, size_t cap);

typedef struct atomic_file atomic_file;

/* Create a new temporary file for PATH with MODE (never an existing file,
 * never through a symlink).  ERR_FAIL with the path and cause. */
atomic_file *atomic_file_create(const char *path, mode_t mode);
int atomic_file_write(atomic_file *f, const void *buf, size_t len);
/* Bytes written so far. */
uint64_t atomic_file_size(const atomic_file *f);
/* fsync, rename to PATH without replacing (EEXIST -> error), fsync the
 * directory, free F.  On failure the temporary file is removed. */
int atomic_file_commit(atomic_file *f);
/* atomic_file_commit, replacing PATH when it exists (a record that is
 * rewritten: a reader sees the old one or the new one, never neither). */
int atomic_file_commit_replace(atomic_file *f);
/* Remove the temporary file and free F; NULL is a no-op. */
void atomic_file_abort(atomic_file *f);

/* rename(FROM, TO) that fails with EEXIST instead of replacing TO. */
int atomic_file_rename_noreplace(const char *from, const char *to);
/* Check that files can be created in DIR now: create a uniquely named
 * hidden temporary file there and remove it.  ERR_FAIL naming DIR and the
 * cause (missing, not a directory, read-only, permission). */
int atomic_file_probe_dir(const char *dir);
/* fsync the directory that holds PATH. */
int atomic_file_sync_dir(const char *path);

#endif
