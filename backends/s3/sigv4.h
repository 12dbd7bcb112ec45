/* sigv4: AWS Signature Version 4 for S3 requests (header-based), on
 * OpenSSL's libcrypto.
 *
 * The signer always signs host, x-amz-content-sha256 and x-amz-date (and
 * x-amz-security-token when a session token is set) plus the caller's extra
 * headers; the caller must send exactly those headers with those values.
 * Nothing here logs: the secret key and the derived signing key never leave
 * these functions (intermediate keys are wiped). */
#ifndef N4O_S3_SIGV4_H
#define N4O_S3_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* SHA-256 of the empty string, hex: the payload hash of a request without a
 * body. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
    const char *key, *value; /* not encoded; VALUE "" signs as "key=" */
} sigv4_param;

typedef struct {
    const char *name, *value; /* any case; the value is trimmed when signed */
} sigv4_header;

typedef struct {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" when none */
    const char *region;
    const char *service; /* NULL means "s3" */
} sigv4_creds;

typedef struct {
    const char *method;          /* "GET", "PUT", ... */
    const char *path;            /* canonical URI, already encoded (sigv4_uri_encode) */
    const char *query;           /* canonical query string (sigv4_canonical_query), "" none */
    const char *host;            /* Host header value as sent ("h:port" when not default) */
    const char *amz_date;        /* "YYYYMMDDTHHMMSSZ" */
    const char *payload_sha256;  /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const sigv4_header *headers; /* extra headers to sign (range, content-md5, ...) */
    size_t n_headers;
} sigv4_request;

/* RFC 3986 percent-encoding as S3 wants it: A-Z a-z 0-9 - _ . ~ kept, every
 * other byte %XX (upper case); '/' kept when KEEP_SLASH.  malloc'd; NULL
 * with err set when out of memory. */
char *sigv4_uri_encode(const char *s, int keep_slash);

/* The canonical query string of N parameters: keys and values encoded,
 * sorted by encoded key then value, "k=v" joined by '&' (an empty value
 * gives "k=").  malloc'd ("" for none); NULL with err set. */
char *sigv4_canonical_query(const sigv4_param *p, size_t n);

/* "YYYYMMDDTHHMMSSZ" of T (UTC) into OUT. */
void sigv4_amz_date(time_t t, char out[17]);

/* Lower-case hex SHA-256 of BUF into OUT (NUL-terminated). */
void sigv4_sha256_hex(const void *buf, size_t len, char out[65]);

/* Base64 of the MD5 of BUF (a Content-MD5 header's value) into OUT
 * (NUL-terminated). */
void sigv4_md5_base64(const void *buf, size_t len, char out[32]);

/* The canonical request of R (as hashed into the string to sign), for
 * tests and debugging; malloc'd, NULL with err set. */
char *sigv4_canonical_request(const sigv4_creds *c, const sigv4_request *r);

/* The Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=...,Signature=..."), malloc'd; NULL with err set. */
char *sigv4_authorization(const sigv4_creds *c, const sigv4_request *r);

#endif
