/* s3del: many objects removed with few requests, for backend_remove_many:
 * S3 DeleteObjects (POST /?delete on the bucket), at most S3DEL_MAX_KEYS
 * keys a request, Quiet (only the keys that could not be removed come
 * back), with its Content-MD5 and signed like every request (http.h).
 *
 * The answer is not trusted: it is parsed by xml.h (its limits hold), a
 * key it names is matched against the keys asked for and otherwise
 * ignored (logged), and every message quotes our key, with the server's
 * Code and Message escaped and cut.  A key the answer does not name as an
 * error is removed. */
#ifndef N4O_S3_DELETE_H
#define N4O_S3_DELETE_H

#include <stddef.h>

#include "http.h"

#define S3DEL_MAX_KEYS    1000 /* keys of one DeleteObjects request (S3's most) */
#define S3DEL_UNSUPPORTED (-2) /* s3del_batch: the server has no DeleteObjects */

/* 1 when KEY can travel in a DeleteObjects body: valid UTF-8 (no C1
 * controls either) of at most S3_MAX_KEY bytes, without control characters
 * or the noncharacters U+FFFE and U+FFFF, which XML cannot carry.  The
 * driver removes the others with one DELETE each. */
int s3del_can_carry(const char *key);

/* The body of a DeleteObjects of KEYS[0..N): <Delete><Quiet>true</Quiet>
 * <Object><Key>KEY</Key></Object>...</Delete>, each key's & < > " '
 * escaped.  malloc'd, *LEN its length; NULL with err set
 * (out of memory, or a key s3del_can_carry refuses). */
char *s3del_body(const char *const *keys, size_t n, size_t *len);

/* One DeleteObjects of KEYS[0..N) (0 < N <= S3DEL_MAX_KEYS) on CONN, which
 * the caller holds.  ERRORS[0..N) (all NULL before) gets a malloc'd
 * message for each key not removed: "KEY: Code: Message" for a key the
 * answer names, and "KEY: WHY" for every key when the request fails as a
 * whole (an HTTP error after the retries of http.h, an answer that is not
 * a DeleteResult or is past a limit).  Returns how many keys were not
 * removed; S3DEL_UNSUPPORTED when the server does not implement
 * DeleteObjects (HTTP 501, 405, or a 400 whose Code says so: nothing was
 * removed, ERRORS untouched, the error set to the server's answer); -1
 * with err set when the remote's cancel hook stopped it or out of memory
 * (ERRORS may hold messages: the caller frees them). */
int s3del_batch(s3http_conn *conn, const s3http_client *c, const char *const *keys, size_t n,
                char **errors);

#endif
