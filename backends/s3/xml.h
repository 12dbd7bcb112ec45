/* s3xml: the S3 XML responses the backend reads, parsed with expat.
 *
 * Element names are matched without their namespace.  Every parser takes
 * the whole body (responses are small: at most 1,000 entries per page) and
 * returns -1 with ERR_FAIL set when the body is not well-formed XML or not
 * the expected document. */
#ifndef N4O_S3_XML_H
#define N4O_S3_XML_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct {
    char *code, *message; /* "" when the element is absent */
} s3xml_error;

typedef struct {
    char *key;
    uint64_t size;   /* Contents/Size; 0 for uploads */
    time_t mtime;    /* LastModified, or Initiated for uploads */
    char *upload_id; /* uploads only */
} s3xml_item;

typedef struct {
    s3xml_item *items;
    size_t n;
    int truncated; /* IsTruncated */
    /* ListObjectsV2: NextContinuationToken; ListMultipartUploads:
     * NextKeyMarker and NextUploadIdMarker.  NULL when absent. */
    char *next_token;
    char *next_key_marker, *next_upload_id_marker;
} s3xml_list;

/* 1 and *OUT filled when BODY is an <Error> document, 0 when it is some
 * other well-formed document, -1 when it is not XML (err set).  An empty
 * body is 0. */
int s3xml_parse_error(const char *body, size_t len, s3xml_error *out);
void s3xml_error_free(s3xml_error *e);

/* The UploadId of an InitiateMultipartUploadResult, malloc'd. */
char *s3xml_parse_upload_id(const char *body, size_t len);

/* A ListBucketResult (ListObjectsV2: Contents) or a
 * ListMultipartUploadsResult (Upload), appended to *OUT (which starts
 * zeroed); the markers of this page replace the previous ones. */
int s3xml_parse_list(const char *body, size_t len, s3xml_list *out);
void s3xml_list_free(s3xml_list *l);

/* A CompleteMultipartUpload response: 0 when it is a
 * CompleteMultipartUploadResult; -1 with err set when it is an <Error>
 * (S3 may answer 200 and fail later in the body; *ERR filled when not NULL)
 * or anything else. */
int s3xml_parse_complete(const char *body, size_t len, s3xml_error *err);

/* "2009-10-12T17:50:30.000Z" -> time_t (UTC); -1 when malformed. */
time_t s3xml_parse_time(const char *s);

#endif
