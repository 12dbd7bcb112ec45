/* s3http: one S3 endpoint spoken over libcurl - addressing, credentials,
 * SigV4 signing of every request, timeouts, retries.
 *
 * An s3http_client holds the remote's settings and credentials (immutable
 * after s3http_client_new, shared by every thread); an s3http_conn is one
 * curl handle (its connection is reused), used by one thread at a time.
 * Secrets live in sodium_malloc memory and never reach logs or error
 * messages.
 *
 * Every byte from the server is hostile until checked.  What a server can
 * make the client hold is bounded:
 *   - a buffered 2xx answer (listing, upload id): S3HTTP_MAX_BODY (8 MiB);
 *   - an error answer: S3HTTP_MAX_ERROR_BODY (64 KiB), the rest is not read;
 *   - an ETag header: S3HTTP_MAX_ETAG (1024) bytes, no control characters;
 *   - time: a buffered answer must arrive within S3HTTP_ANSWER_TIME seconds
 *     of its first byte (or 5 x io_timeout when that is longer), besides the
 *     io_timeout stall limit of every transfer.
 * An answer past a limit is an error naming the limit, never cut silently.
 * Text from the server quoted in an error (S3 Code and Message) is escaped
 * (strbuf_put_printable) and cut to a few hundred bytes.
 *
 * Signals: every wait here (transfers, connects, retry backoff) looks at
 * signals_pending() at least every S3HTTP_POLL_MS and then fails with
 * "interrupted by signal N", so Ctrl-C is noticed within a second.
 * Requests marked cleanup (aborting an upload) are still sent after a
 * signal, with S3HTTP_CLEANUP_GRACE_MS to finish and no retry. */
#ifndef N4O_S3_HTTP_H
#define N4O_S3_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "s3.h"
#include "sigv4.h"
#include "xml.h"

#define S3HTTP_MAX_BODY         (8u * 1024u * 1024u) /* a buffered 2xx answer */
#define S3HTTP_MAX_ERROR_BODY   (64u * 1024u)        /* an error answer (4xx, 5xx) */
#define S3HTTP_MAX_ETAG         1024u                /* bytes of an ETag header */
#define S3HTTP_ANSWER_TIME      300                  /* s, a buffered answer from its first byte */
#define S3HTTP_POLL_MS          100                  /* how often waits look at signals */
#define S3HTTP_CLEANUP_GRACE_MS 1000                 /* a cleanup request after a signal */
#define S3HTTP_MAX_CAPTURE      256                  /* bytes of a header kept for the caller */

typedef struct s3http_client s3http_client;
typedef struct s3http_conn s3http_conn;

/* Settings of RC and its credentials: "env" reads AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; otherwise RC->credentials is
 * a file in ~/.aws/credentials format read for RC->profile.  ERR_USAGE
 * (naming what is missing) when there are no usable credentials or the file
 * is readable by group or others.  No network I/O. */
s3http_client *s3http_client_new(const s3_params *rc);
void s3http_client_free(s3http_client *c);

/* The object key of NAME: the prefix joined with '/' (unless it already
 * ends with one).  malloc'd; NULL with err set. */
char *s3http_key(const s3http_client *c, const char *name);
/* The prefix as joined to names ("" or ending with '/'). */
const char *s3http_prefix(const s3http_client *c);
const s3_params *s3http_config(const s3http_client *c);

/* A connection; CANCEL (may be NULL), when set non-zero by another thread,
 * stops a transfer in progress and any retry. */
s3http_conn *s3http_conn_new(const s3http_client *c, atomic_int *cancel);
void s3http_conn_free(s3http_conn *conn);

typedef struct {
    const char *method; /* GET HEAD PUT POST DELETE */
    const char *key;    /* full object key; NULL: the bucket itself */
    const sigv4_param *query;
    size_t n_query;
    const sigv4_header *headers; /* extra headers, signed and sent */
    size_t n_headers;
    const void *body; /* request body (PUT, POST) */
    size_t body_len;
    const char *body_sha256; /* hex SHA-256 of BODY; computed when NULL */
    /* Answer body into OUT (capacity OUT_CAP) instead of a malloc'd buffer;
     * a larger answer is an error. */
    void *out;
    size_t out_cap;
    /* Or stream a 2xx answer body to SINK as it arrives (SINK returns -1 to
     * stop the transfer).  Once bytes went to SINK a failure is not retried
     * here: -1 with RESP->body_len = the bytes delivered, so that the caller
     * resumes from there. */
    int (*sink)(void *ctx, const void *data, size_t len);
    void *sink_ctx;
    int want_partial; /* a 200 instead of 206 (Range ignored) is an error */
    /* A ranged GET of bytes RANGE_FIRST..RANGE_LAST of an object of
     * RANGE_TOTAL bytes (the caller sends the Range header): a 206 must say
     * Content-Range "bytes RANGE_FIRST-E/RANGE_TOTAL" with E between
     * RANGE_FIRST and RANGE_LAST, and a Content-Length of E - RANGE_FIRST +
     * 1 when it has one.  Anything else (another start, another object
     * size, no Content-Range) fails before a byte reaches SINK: ERR_FAIL
     * naming what was asked and what the server answered, not retried. */
    int check_range;
    uint64_t range_first, range_last, range_total;
    /* The answer's header of this name (lower case) into RESP->CAPTURED
     * when it has one of at most S3HTTP_MAX_CAPTURE bytes without control
     * characters. */
    const char *capture;
    /* HTTP statuses besides 2xx that are answers, not failures (404 of a
     * HEAD); 0-terminated. */
    const long *accept;
    /* Cleanup after a failure (AbortMultipartUpload): sent even when a
     * signal is pending, then given S3HTTP_CLEANUP_GRACE_MS and no retry. */
    int cleanup;
} s3http_request;

typedef struct {
    long status;
    char *body; /* malloc'd answer body (unless the request's OUT was used) */
    size_t body_len;
    char etag[S3HTTP_MAX_ETAG + 1]; /* ETag header, quotes kept (checked: see above) */
    uint64_t content_length;        /* Content-Length header */
    int has_length;
    uint64_t total_size;                   /* the size after '/' in Content-Range */
    char captured[S3HTTP_MAX_CAPTURE + 1]; /* the request's CAPTURE header */
    int has_captured;
    time_t last_modified;
    int attempts;
    /* Of a failed answer: the S3 error Code (escaped, "" when none). */
    char err_code[64];
    int body_cut; /* an error answer past S3HTTP_MAX_ERROR_BODY: BODY dropped */
} s3http_response;

/* Perform R: sign, send, retry (500 502 503 504 408 429, SlowDown,
 * InternalError, RequestTimeout, BadDigest, XAmzContentSHA256Mismatch,
 * connection errors and timeouts; bounded by
 * the remote's retries, exponential backoff with jitter).  0 when the answer
 * is 2xx or in R->accept; -1 with ERR_FAIL and "METHOD KEY: HTTP STATUS
 * CODE: MESSAGE" (the server's reason) otherwise.  RESP is filled in both
 * cases; free it with s3http_response_free. */
int s3http_perform(s3http_conn *conn, const s3http_request *r, s3http_response *resp);
void s3http_response_free(s3http_response *resp);

/* 0 when no SIGINT/SIGTERM is pending; else -1 with ERR_FAIL "WHAT:
 * interrupted by signal N". */
int s3http_signal_check(const s3_params *p, const char *what);
/* pthread_cond_wait for at most S3HTTP_POLL_MS: callers loop, re-checking
 * their condition and s3http_signal_check(). */
void s3http_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mu);

#endif
