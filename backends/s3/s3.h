/* s3: a remote that is an S3 bucket (AWS or any S3-compatible server),
 * spoken over libcurl with SigV4 (sigv4.h), XML answers parsed by expat
 * (xml.h), requests and retries in http.h, streaming multipart uploads in
 * multipart.h.
 *
 * Objects are "<prefix>/<name>".  A write is invisible until it completes:
 * small objects are one PutObject at commit, larger ones a multipart upload
 * completed at commit and aborted on failure.  Reads are ranged GETs, each
 * retried on its own, so a dropped connection resumes where it stopped.
 * Listing shows unfinished multipart uploads as incomplete entries.
 *
 * The server is not trusted (see also http.h and xml.h).  A listing stops
 * with an error naming the limit past S3_LIST_MAX_PAGES (200) pages or
 * S3_LIST_MAX_ENTRIES (100,000) entries, when a continuation marker
 * repeats or is longer than S3_LIST_MAX_TOKEN (4096) bytes: a server that
 * never says the end cannot hold the run or its memory.  Names that would
 * reach a terminal raw (control characters, C1 controls, broken UTF-8) or
 * that are longer than S3 allows (S3_MAX_KEY) are skipped with a warning
 * that shows them escaped.  A ranged GET answered with more bytes than
 * asked for is an error.
 *
 * Every wait (transfers, part buffers, the download FIFO, resume pauses)
 * ends within a second of SIGINT/SIGTERM with "interrupted by signal N";
 * an interrupted upload is aborted, nothing is published. */
#ifndef N4O_BACKEND_S3_H
#define N4O_BACKEND_S3_H

#include "backend.h"

#define S3_LIST_MAX_PAGES   200
#define S3_LIST_MAX_ENTRIES 100000
#define S3_LIST_MAX_TOKEN   4096
#define S3_MAX_KEY          1024 /* bytes of an object key, as S3 allows */

extern const backend_ops s3_backend_ops;

#endif
