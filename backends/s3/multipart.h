/* s3mp: an S3 object of unknown length written as a stream.
 *
 * Bytes are cut into parts: the first part_size bytes are held in memory;
 * if the stream ends there, commit is a single PutObject.  Otherwise a
 * multipart upload starts and up to parallel_parts parts are uploaded at
 * once by worker threads (each with its own connection), each with its real
 * SHA-256 in x-amz-content-sha256 and its Content-MD5, each retried on its
 * own.  Peak memory is about part_size x (parallel_parts + 1).  The part
 * size grows with the part count (s3mp_part_size) so that 10,000 parts hold
 * more than 5 TiB.  Commit completes the upload; abort (and any failed
 * commit) aborts it, so no incomplete upload is left behind.
 *
 * Never overwriting: the name is checked (HEAD) at open and again before
 * commit, and PutObject and CompleteMultipartUpload carry If-None-Match: *
 * so that a server that honours it refuses (412: "already exists") a name
 * another writer took between that check and the commit.  AWS S3 (since
 * 2024) and MinIO honour it on both; radosgw 16 (Ceph Pacific, Debian) on
 * PutObject only (it replaces the object on Complete); s3rver on neither.
 * Where it is not honoured the HEAD before commit is the only guard; a
 * server that refuses the header (501 NotImplemented) gets the request
 * again without it.
 *
 * The last request can fail after the server acted on it: its answer lost
 * (the retry then finds the upload gone, 404 NoSuchUpload, or the name
 * taken, 412), or Ctrl-C while the server completes.  Every write sends a
 * random token (x-amz-meta-n4o-write) with PutObject or
 * CreateMultipartUpload; after such a failure a HEAD of the key tells this
 * write's object (its token and size) from another's.  This write's
 * object is reported committed (a warning says how) when no signal is
 * pending, and deleted otherwise (the error says so, or says to delete it
 * by hand when the server refuses); an object whose presence cannot be
 * checked is named in the error.  An abort answered 404 (or not done)
 * after Complete went out looks again, since the server may have completed
 * the upload meanwhile. */
#ifndef N4O_S3_MULTIPART_H
#define N4O_S3_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define S3MP_MAX_PARTS     10000u
#define S3MP_MAX_PART_SIZE (5ull * 1024 * 1024 * 1024)
#define S3MP_GROW_EVERY    990u /* parts between doublings of the part size */

typedef struct s3mp s3mp;

/* Start writing KEY (a full object key) through client C.  SIZE_HINT (0:
 * unknown) raises the first part size so the object fits 10,000 parts.
 * Fails when KEY exists (one HeadObject; checked again before commit). */
s3mp *s3mp_open(const s3http_client *c, const char *key, uint64_t size_hint);
int s3mp_write(s3mp *u, const void *buf, size_t len);
/* Complete (or PUT) the object; frees U.  On failure the upload is
 * aborted too (and an object the server stored all the same deleted: see
 * above). */
int s3mp_commit(s3mp *u);
/* Cancel transfers in flight and abort the upload; frees U (NULL: no-op).
 * Keeps this thread's error as it was. */
void s3mp_abort(s3mp *u);

/* The CompleteMultipartUpload request body for parts 1..PARTS, whose ETags
 * (as the server sent them; escaped here) are ETAGS[0..N_ETAGS-1].
 * malloc'd, its length in *LEN; NULL with err set ("part N was not
 * uploaded" when an ETag is missing). */
char *s3mp_complete_body(char *const *etags, size_t n_etags, unsigned parts, size_t *len);

/* Size of part number N (1-based) when the first part has BASE bytes:
 * BASE doubled every S3MP_GROW_EVERY parts, at most 5 GiB.  From the 5 MiB
 * minimum, 10,000 parts hold 5.3 TiB. */
uint64_t s3mp_part_size(uint64_t base, unsigned n);

/* Bytes 10,000 parts of s3mp_part_size(BASE, n) hold. */
uint64_t s3mp_capacity(uint64_t base);

/* The first part size for an object: PART_SIZE (the configured size, at
 * least 5 MiB; 0: the default 8 MiB), raised when SIZE_HINT (0: unknown) is
 * known and would need more than 9,000 parts of it (a whole number of MiB,
 * at most 5 GiB). */
uint64_t s3mp_base_size(uint64_t part_size, uint64_t size_hint);

#endif
