/* Unit tests: parsing of S3's XML responses, with bodies shaped like those
 * AWS, radosgw and s3rver send, plus a generated listing of more than 1,000
 * keys read page by page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "s3/xml.h"

#define XMLDECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define NS      " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static void test_error(void **state)
{
    (void)state;
    const char *body = XMLDECL "<Error><Code>SignatureDoesNotMatch</Code>"
                               "<Message>The request signature we calculated does not match the "
                               "signature you provided.</Message>"
                               "<StringToSign>AWS4-HMAC-SHA256\n...</StringToSign>"
                               "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    s3xml_error e;
    assert_int_equal(s3xml_parse_error(body, strlen(body), &e), 1);
    assert_string_equal(e.code, "SignatureDoesNotMatch");
    assert_string_equal(e.message, "The request signature we calculated does not match the "
                                   "signature you provided.");
    s3xml_error_free(&e);

    /* entities are decoded, a missing Message is "" */
    const char *b2 = "<Error><Code>NoSuchBucket&amp;Co</Code><BucketName>x</BucketName></Error>";
    assert_int_equal(s3xml_parse_error(b2, strlen(b2), &e), 1);
    assert_string_equal(e.code, "NoSuchBucket&Co");
    assert_string_equal(e.message, "");
    s3xml_error_free(&e);

    /* not an error document; empty body */
    const char *ok = XMLDECL "<ListBucketResult" NS "><Name>b</Name></ListBucketResult>";
    assert_int_equal(s3xml_parse_error(ok, strlen(ok), &e), 0);
    assert_int_equal(s3xml_parse_error("", 0, &e), 0);
    /* an HTML error page from a proxy is not XML */
    const char *html = "<html><body><h1>502 Bad Gateway</h1></body>";
    assert_int_equal(s3xml_parse_error(html, strlen(html), &e), -1);
    assert_non_null(strstr(err_msg(), "malformed S3 response"));
}

static void test_upload_id(void **state)
{
    (void)state;
    const char *body =
        XMLDECL "<InitiateMultipartUploadResult" NS "><Bucket>examplebucket</Bucket>"
                "<Key>a/b.dump.enc</Key>"
                "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
                "</UploadId></InitiateMultipartUploadResult>";
    char *id = s3xml_parse_upload_id(body, strlen(body));
    assert_non_null(id);
    assert_string_equal(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    free(id);
    const char *none =
        "<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>";
    assert_null(s3xml_parse_upload_id(none, strlen(none)));
    assert_non_null(strstr(err_msg(), "without an UploadId"));
    const char *cut = "<InitiateMultipartUploadResult><UploadId>abc";
    assert_null(s3xml_parse_upload_id(cut, strlen(cut)));
}

static void test_list_objects_v2(void **state)
{
    (void)state;
    const char *body =
        XMLDECL "<ListBucketResult" NS "><Name>bucket</Name><Prefix>prod/</Prefix>"
                "<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
                "<Contents><Key>prod/a.dump.enc</Key><LastModified>2026-11-28T01:02:03.000Z"
                "</LastModified><ETag>&quot;d41d8cd98f00b204e9800998ecf8427e-3&quot;</ETag>"
                "<Size>20971520</Size><StorageClass>STANDARD</StorageClass>"
                "<Owner><ID>x</ID><DisplayName>y</DisplayName></Owner></Contents>"
                "<Contents><Key>prod/a.dump.manifest</Key><LastModified>2026-11-28T01:02:04Z"
                "</LastModified><Size>812</Size></Contents></ListBucketResult>";
    s3xml_list l;
    memset(&l, 0, sizeof l);
    assert_int_equal(s3xml_parse_list(body, strlen(body), &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.truncated, 0);
    assert_null(l.next_token);
    assert_string_equal(l.items[0].key, "prod/a.dump.enc");
    assert_int_equal(l.items[0].size, 20971520);
    assert_int_equal(l.items[0].mtime, 1795827723); /* 2026-11-28T01:02:03Z */
    assert_null(l.items[0].upload_id);
    assert_string_equal(l.items[1].key, "prod/a.dump.manifest");
    assert_int_equal(l.items[1].size, 812);
    assert_int_equal(l.items[1].mtime, 1795827724);
    s3xml_list_free(&l);

    /* a bad size is an error, not 0 */
    const char *bad = "<ListBucketResult><Contents><Key>k</Key><Size>12x</Size></Contents>"
                      "</ListBucketResult>";
    memset(&l, 0, sizeof l);
    assert_int_equal(s3xml_parse_list(bad, strlen(bad), &l), -1);
    s3xml_list_free(&l);
    /* an Error document is not a listing */
    const char *e = "<Error><Code>NoSuchBucket</Code></Error>";
    assert_int_equal(s3xml_parse_list(e, strlen(e), &l), -1);
    s3xml_list_free(&l);
}

/* One page of a generated listing of TOTAL keys, 1,000 per page, as
 * ListObjectsV2 sends it; the continuation token is the next index. */
static char *gen_page(size_t start, size_t total)
{
    size_t cap = 256 + 200 * 1000, len = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    size_t end = start + 1000 < total ? start + 1000 : total;
    len += (size_t)snprintf(b + len, cap - len,
                            XMLDECL "<ListBucketResult" NS "><Name>b</Name><KeyCount>%zu</KeyCount>"
                                    "<IsTruncated>%s</IsTruncated>",
                            end - start, end < total ? "true" : "false");
    if (end < total)
        len += (size_t)snprintf(b + len, cap - len,
                                "<NextContinuationToken>1/tok+%zu==</NextContinuationToken>", end);
    for (size_t i = start; i < end; i++)
        len += (size_t)snprintf(b + len, cap - len,
                                "<Contents><Key>p/k%05zu</Key><LastModified>2026-01-01T00:00:%02zuZ"
                                "</LastModified><Size>%zu</Size></Contents>",
                                i, i % 60, i * 7);
    snprintf(b + len, cap - len, "</ListBucketResult>");
    return b;
}

static void test_paginated_listing(void **state)
{
    (void)state;
    const size_t total = 2345;
    s3xml_list l;
    memset(&l, 0, sizeof l);
    size_t start = 0, pages = 0;
    for (;;) {
        char *page = gen_page(start, total);
        assert_int_equal(s3xml_parse_list(page, strlen(page), &l), 0);
        free(page);
        pages++;
        if (!l.truncated) {
            assert_null(l.next_token);
            break;
        }
        assert_non_null(l.next_token);
        assert_int_equal(sscanf(l.next_token, "1/tok+%zu==", &start), 1);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(l.n, total);
    for (size_t i = 0; i < total; i++) {
        char want[16];
        snprintf(want, sizeof want, "p/k%05zu", i);
        assert_string_equal(l.items[i].key, want);
        assert_int_equal(l.items[i].size, i * 7);
        assert_int_equal(l.items[i].mtime, 1767225600 + (time_t)(i % 60));
    }
    s3xml_list_free(&l);
}

static void test_list_uploads(void **state)
{
    (void)state;
    const char *body =
        XMLDECL "<ListMultipartUploadsResult" NS "><Bucket>b</Bucket><KeyMarker></KeyMarker>"
                "<UploadIdMarker></UploadIdMarker><NextKeyMarker>p/b.dump.enc</NextKeyMarker>"
                "<NextUploadIdMarker>2~xyz</NextUploadIdMarker><MaxUploads>1000</MaxUploads>"
                "<IsTruncated>true</IsTruncated>"
                "<Upload><Key>p/a.dump.enc</Key><UploadId>2~abc</UploadId>"
                "<Initiator><ID>i</ID><DisplayName>d</DisplayName></Initiator>"
                "<Owner><ID>o</ID></Owner><StorageClass>STANDARD</StorageClass>"
                "<Initiated>2026-11-27T23:00:00.000Z</Initiated></Upload>"
                "<Upload><Key>p/b.dump.enc</Key><UploadId>2~xyz</UploadId>"
                "<Initiated>2026-11-27T23:30:00.000Z</Initiated></Upload>"
                "</ListMultipartUploadsResult>";
    s3xml_list l;
    memset(&l, 0, sizeof l);
    assert_int_equal(s3xml_parse_list(body, strlen(body), &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.truncated, 1);
    assert_string_equal(l.next_key_marker, "p/b.dump.enc");
    assert_string_equal(l.next_upload_id_marker, "2~xyz");
    assert_string_equal(l.items[0].key, "p/a.dump.enc");
    assert_string_equal(l.items[0].upload_id, "2~abc");
    assert_int_equal(l.items[0].mtime, 1795820400);
    assert_string_equal(l.items[1].upload_id, "2~xyz");
    assert_int_equal(l.items[1].mtime, 1795822200);
    s3xml_list_free(&l);
}

static void test_complete(void **state)
{
    (void)state;
    const char *ok =
        XMLDECL "<CompleteMultipartUploadResult" NS "><Location>http://h/b/k</Location>"
                "<Bucket>b</Bucket><Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9"
                "\"</ETag></CompleteMultipartUploadResult>";
    assert_int_equal(s3xml_parse_complete(ok, strlen(ok), NULL), 0);

    /* S3 may answer 200 and then an error in the body */
    const char *failed = XMLDECL "\n\n<Error><Code>InternalError</Code><Message>We encountered an "
                                 "internal error. Please try again.</Message></Error>";
    s3xml_error e;
    assert_int_equal(s3xml_parse_complete(failed, strlen(failed), &e), -1);
    assert_string_equal(e.code, "InternalError");
    assert_non_null(strstr(err_msg(), "InternalError"));
    s3xml_error_free(&e);
    assert_int_equal(s3xml_parse_complete(failed, strlen(failed), NULL), -1);

    /* an empty or cut body is not a success */
    assert_int_equal(s3xml_parse_complete("", 0, NULL), -1);
    const char *cut = "<CompleteMultipartUploadResult><Location>";
    assert_int_equal(s3xml_parse_complete(cut, strlen(cut), NULL), -1);
}

static void test_time(void **state)
{
    (void)state;
    assert_int_equal(s3xml_parse_time("2013-05-24T00:00:00.000Z"), 1369353600);
    assert_int_equal(s3xml_parse_time("2013-05-24T00:00:00Z"), 1369353600);
    assert_int_equal(s3xml_parse_time("2013-05-24T00:00:00+00:00"), 1369353600);
    assert_int_equal(s3xml_parse_time("2013-05-24"), -1);
    assert_int_equal(s3xml_parse_time("2013-05-24T00:00:00+02:00"), -1);
}

static void test_hostile(void **state)
{
    (void)state;
    /* an entity expansion bomb and very deep nesting are refused */
    const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
                       "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
                       "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
                       "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">"
                       "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">]>"
                       "<Error><Code>&e;</Code></Error>";
    s3xml_error e;
    assert_int_equal(s3xml_parse_error(bomb, strlen(bomb), &e), -1);
    char deep[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "<a>");
    assert_int_equal(s3xml_parse_error(deep, strlen(deep), &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_upload_id),
        cmocka_unit_test(test_list_objects_v2),
        cmocka_unit_test(test_paginated_listing),
        cmocka_unit_test(test_list_uploads),
        cmocka_unit_test(test_complete),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
