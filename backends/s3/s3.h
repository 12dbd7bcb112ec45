/* s3: a remote that is an S3 bucket (AWS or any S3-compatible server),
 * spoken over libcurl with SigV4 (sigv4.h), XML answers parsed by expat
 * (xml.h), requests and retries in http.h, streaming multipart uploads in
 * multipart.h.
 *
 * Objects are "<prefix>/<name>".  A write is invisible until it completes:
 * small objects are one PutObject at commit, larger ones a multipart upload
 * completed at commit and aborted on failure (multipart.h: what happens
 * when the answer to that last request is lost).  Reads are ranged GETs,
 * each retried on its own, so a dropped connection resumes where it
 * stopped.  Listing shows unfinished multipart uploads as incomplete
 * entries.  The probe lists at most one key under the prefix, then creates
 * and at once aborts a multipart upload of S3_PROBE_NAME there (no object
 * is written): credentials that can read but not write fail it, before a
 * backup stops Neo4j.  A HEAD's 404 has no body: until the bucket has
 * answered once, a ranged GET of the key tells a missing bucket
 * (NoSuchBucket: an error naming bucket and endpoint) from a missing
 * object.  Many objects are removed with DeleteObjects, 1,000 keys a
 * request (delete.h); a server without it (HTTP 501, 405, a 400
 * NotImplemented) gets one DELETE per object from then on.
 *
 * The server is not trusted (see also http.h and xml.h).  A listing stops
 * with an error naming the limit past S3_LIST_MAX_PAGES (200) pages or
 * S3_LIST_MAX_ENTRIES (100,000) entries, when a continuation marker comes
 * back (any marker of the listing so far, not only the last) or is longer
 * than S3_LIST_MAX_TOKEN (4096) bytes: a server that never says the end
 * cannot hold the run or its memory.  Names that would reach a terminal
 * raw (control characters, C1 controls, broken UTF-8) or that are longer
 * than S3 allows (S3_MAX_KEY) are skipped with a warning that shows them
 * escaped.  A ranged GET answered with more bytes than asked for is an
 * error; so is a 206 whose Content-Range is not the range asked for (its
 * start, an end past the one asked for, another object size: http.h), and
 * more than S3_MAX_SHORT_ANSWERS answers in a row that end early with
 * fewer than S3_SHORT_ANSWER bytes each (a server that sends a few bytes
 * per request would take hours).
 *
 * Every wait (transfers, part buffers, the download FIFO, resume pauses)
 * ends within a second of SIGINT/SIGTERM with "interrupted by signal N";
 * an interrupted upload is aborted, and an object the server completed
 * all the same is deleted (multipart.h). */
#ifndef N4O_BACKEND_S3_H
#define N4O_BACKEND_S3_H

#include "backend.h"

#define S3_LIST_MAX_PAGES    200
#define S3_LIST_MAX_ENTRIES  100000
#define S3_LIST_MAX_TOKEN    4096
#define S3_MAX_KEY           1024  /* bytes of an object key, as S3 allows */
#define S3_SHORT_ANSWER      65536 /* bytes: an answer that ends early with fewer... */
#define S3_MAX_SHORT_ANSWERS 8     /* ...more than this many times in a row fails a read */
#define S3_PROBE_NAME        ".n4o-write-probe" /* the probe's test upload, under the prefix */

/* What the driver is given (src/remote_drivers.c fills it from the
 * configuration; docs/CONFIG.md says what each means).  The strings must
 * outlive the backend: the driver keeps pointers to them. */
typedef struct {
    const char *name; /* the remote's name, for messages */
    backend_cancel cancel;
    const char *endpoint, *region, *bucket;
    const char *prefix;               /* NULL or "": the whole bucket */
    const char *url_style;            /* "path" or "virtual" */
    const char *credentials;          /* "env" (AWS_* variables), or a credentials file */
    const char *profile;              /* in the credentials file; NULL: "default" */
    const char *ca_file;              /* NULL: the system's CA store */
    long connect_timeout, io_timeout; /* seconds; 0: 30 and 60 */
    int retries;
    uint64_t part_size; /* 0: the default */
    int parallel_parts; /* 0: 4 */
} s3_params;

extern const backend_ops s3_backend_ops;

/* The remote P->name in P->bucket.  FLAGS (BACKEND_OPEN_*) are not used:
 * nothing is created, and connections are made when needed. */
backend *s3_backend_open(const s3_params *p, unsigned flags);

#endif
