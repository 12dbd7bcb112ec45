/* private_file: read a small file whole - a key, a passphrase, S3
 * credentials - with the checks every such file gets, in one place:
 * - a regular file of at most MAX bytes (else ERR_USAGE naming it);
 * - with PRIVATE_FILE_SECRET: read straight into sodium_malloc() memory
 *   (guarded, no stdio buffer keeps a copy) and refused when group or
 *   others may read it ("... (mode 0644); run chmod 600 PATH"), unless the
 *   caller takes the mode to decide itself (MODE not NULL: a secret key
 *   file says what it is before its mode is judged);
 * - missing or not allowed: ERR_USAGE (a configuration error); other I/O
 *   errors: ERR_FAIL.
 * Messages name the file as "WHAT PATH" (WHAT may be "", e.g. for key
 * files whose name says what they are). */
#ifndef N4O_PRIVATE_FILE_H
#define N4O_PRIVATE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#define PRIVATE_FILE_SECRET 1u

/* The contents, NUL-terminated, *LEN bytes; free with private_file_free()
 * and the same FLAGS.  MODE (may be NULL) gets the file's mode. */
char *private_file_read(const char *what, const char *path, size_t max, unsigned flags, size_t *len,
                        mode_t *mode);
void private_file_free(char *buf, unsigned flags);
/* -1 (ERR_USAGE, the fix named) when MODE lets group or others read. */
int private_file_refuse_mode(const char *what, const char *path, mode_t mode);
/* For a file another library reads itself (an SSH identity): the same
 * checks, without reading it. */
int private_file_check(const char *what, const char *path);

#endif
