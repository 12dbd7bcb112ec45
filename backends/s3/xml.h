/* s3xml: the S3 XML responses the backend reads, parsed with expat.
 *
 * Element names are matched without their namespace.  Every parser takes
 * the whole body (at most S3HTTP_MAX_BODY, see http.h) and returns -1 with
 * ERR_FAIL set when the body is not well-formed XML or not the expected
 * document.  The server is not trusted: a document is refused, with the
 * limit named in the error, when it
 *   - nests elements deeper than S3XML_MAX_DEPTH (16) levels,
 *   - holds a text value longer than S3XML_MAX_TEXT (64 KiB),
 *   - lists more than S3XML_MAX_PAGE_ITEMS (1,000) entries in one page
 *     (the backend asks for at most 1,000, as S3 sends),
 *   - has a DOCTYPE (S3 answers have none; no entity tricks),
 *   - gives an UploadId longer than S3XML_MAX_ID (1,024) bytes or with
 *     bytes other than printable ASCII.
 * Text quoted from the server in errors is escaped (strbuf_put_printable). */
#ifndef N4O_S3_XML_H
#define N4O_S3_XML_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define S3XML_MAX_DEPTH      16
#define S3XML_MAX_TEXT       (64 * 1024)
#define S3XML_MAX_PAGE_ITEMS 1000
#define S3XML_MAX_ID         1024

typedef struct {
    char *code, *message; /* "" when the element is absent */
} s3xml_error;

typedef struct {
    char *key;
    uint64_t size;   /* Contents/Size; 0 for uploads */
    time_t mtime;    /* LastModified, or Initiated for uploads */
    char *upload_id; /* uploads only */
    int bad_key;     /* KEY came url-encoded but does not decode (left as sent) */
} s3xml_item;

typedef struct {
    s3xml_item *items;
    size_t n, cap;
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

/* The UploadId of an InitiateMultipartUploadResult, malloc'd (checked:
 * printable ASCII, at most S3XML_MAX_ID bytes). */
char *s3xml_parse_upload_id(const char *body, size_t len);

/* A ListBucketResult (ListObjectsV2: Contents) or a
 * ListMultipartUploadsResult (Upload), appended to *OUT (which starts
 * zeroed); the markers of this page replace the previous ones.  When the
 * answer says <EncodingType>url</EncodingType> (asked for with
 * encoding-type=url: XML 1.0 cannot carry most control characters, so a
 * key holding one would otherwise break the whole page), keys and
 * NextKeyMarker are decoded here. */
int s3xml_parse_list(const char *body, size_t len, s3xml_list *out);
void s3xml_list_free(s3xml_list *l);

/* A CompleteMultipartUpload response: 0 when it is a
 * CompleteMultipartUploadResult; -1 with err set when it is an <Error>
 * (S3 may answer 200 and fail later in the body; *ERR filled when not NULL)
 * or anything else. */
int s3xml_parse_complete(const char *body, size_t len, s3xml_error *err);

/* One <Error> entry of a DeleteObjects answer, as the server sent it
 * (unchecked: a caller matches KEY against the keys it asked for). */
typedef struct {
    char *key, *code, *message; /* "" when the element is absent */
} s3xml_delete_error;

typedef struct {
    s3xml_delete_error *errors;
    size_t n, cap;
    size_t deleted; /* <Deleted> entries (a Quiet request gets none) */
} s3xml_delete;

/* A DeleteObjects answer: 0 and *OUT (which starts zeroed) filled with its
 * <Error> entries when it is a DeleteResult of at most
 * S3XML_MAX_PAGE_ITEMS entries, Deleted and Error together (a request
 * names at most 1,000 keys); -1 with err set when it is an <Error>
 * document (S3 may answer 200 and fail in the body: its Code and Message
 * quoted, escaped), anything else, or past a limit. */
int s3xml_parse_delete(const char *body, size_t len, s3xml_delete *out);
void s3xml_delete_free(s3xml_delete *d);

/* "2009-10-12T17:50:30.000Z" -> time_t (UTC); -1 when malformed. */
time_t s3xml_parse_time(const char *s);

#endif
