/* s3: a remote that is an S3 bucket (AWS or any S3-compatible server),
 * spoken over libcurl with SigV4 (sigv4.h), XML answers parsed by expat
 * (xml.h), requests and retries in http.h, streaming multipart uploads in
 * multipart.h.
 *
 * Objects are "<prefix>/<name>".  A write is invisible until it completes:
 * small objects are one PutObject at commit, larger ones a multipart upload
 * completed at commit and aborted on failure.  Reads are ranged GETs, each
 * retried on its own, so a dropped connection resumes where it stopped.
 * Listing shows unfinished multipart uploads as incomplete entries. */
#ifndef N4O_BACKEND_S3_H
#define N4O_BACKEND_S3_H

#include "backend.h"

extern const backend_ops s3_backend_ops;

#endif
