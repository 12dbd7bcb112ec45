/* Unit tests: parsing of S3's XML responses, with bodies shaped like those
 * AWS, radosgw and s3rver send, plus a generated listing of more than 1,000
 * keys read page by page, url-encoded listings, and the limits that hold a
 * hostile server in check (xml.h). */
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

/* encoding-type=url: keys and key markers decoded when the answer says so
 * (XML cannot carry ESC); a key that does not decode is flagged, not cut. */
static void test_url_encoded_listing(void **state)
{
    (void)state;
    const char *body =
        XMLDECL "<ListMultipartUploadsResult" NS "><EncodingType>url</EncodingType>"
                "<NextKeyMarker>p%2Fnext+key</NextKeyMarker><IsTruncated>true</IsTruncated>"
                "<Upload><Key>p/esc%1B%5B31m</Key><UploadId>u1</UploadId>"
                "<Initiated>2026-11-27T23:00:00Z</Initiated></Upload>"
                "<Upload><Key>p/a+b%2Bc</Key><UploadId>u2</UploadId>"
                "<Initiated>2026-11-27T23:00:00Z</Initiated></Upload>"
                "<Upload><Key>p/bad%G1</Key><UploadId>u3</UploadId>"
                "<Initiated>2026-11-27T23:00:00Z</Initiated></Upload>"
                "<Upload><Key>p/nul%00</Key><UploadId>u4</UploadId>"
                "<Initiated>2026-11-27T23:00:00Z</Initiated></Upload>"
                "</ListMultipartUploadsResult>";
    s3xml_list l;
    memset(&l, 0, sizeof l);
    assert_int_equal(s3xml_parse_list(body, strlen(body), &l), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.next_key_marker, "p/next key");
    assert_string_equal(l.items[0].key, "p/esc\x1b[31m");
    assert_false(l.items[0].bad_key);
    assert_string_equal(l.items[1].key, "p/a b+c");
    assert_string_equal(l.items[2].key, "p/bad%G1");
    assert_true(l.items[2].bad_key);
    assert_string_equal(l.items[3].key, "p/nul%00");
    assert_true(l.items[3].bad_key);
    /* a second page without EncodingType: its keys as sent, the first
     * page's untouched */
    const char *plain = "<ListMultipartUploadsResult><Upload><Key>p/x%41</Key><UploadId>u5"
                        "</UploadId><Initiated>2026-11-27T23:00:00Z</Initiated></Upload>"
                        "</ListMultipartUploadsResult>";
    assert_int_equal(s3xml_parse_list(plain, strlen(plain), &l), 0);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.items[4].key, "p/x%41");
    assert_string_equal(l.items[0].key, "p/esc\x1b[31m");
    s3xml_list_free(&l);
}

/* The limits of xml.h, each named in the error. */
static void test_limits(void **state)
{
    (void)state;
    s3xml_list l;
    /* 1,000 entries in a page is fine, 1,001 is not */
    for (int n = 1000; n <= 1001; n++) {
        size_t cap = 64 + (size_t)n * 64, len = 0;
        char *b = malloc(cap);
        assert_non_null(b);
        len += (size_t)snprintf(b, cap, "<ListBucketResult>");
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(b + len, cap - len, "<Contents><Key>k%d</Key></Contents>", i);
        snprintf(b + len, cap - len, "</ListBucketResult>");
        memset(&l, 0, sizeof l);
        assert_int_equal(s3xml_parse_list(b, strlen(b), &l), n == 1000 ? 0 : -1);
        if (n == 1001)
            assert_non_null(strstr(err_msg(), "more than 1000 entries in one page"));
        else
            assert_int_equal(l.n, 1000);
        s3xml_list_free(&l);
        free(b);
    }
    /* a text of exactly 64 KiB is fine, one byte more is not */
    for (size_t n = S3XML_MAX_TEXT; n <= S3XML_MAX_TEXT + 1; n++) {
        char *b = malloc(n + 64);
        assert_non_null(b);
        strcpy(b, "<Error><Code>");
        memset(b + 13, 'c', n);
        strcpy(b + 13 + n, "</Code></Error>");
        s3xml_error e;
        int rc = s3xml_parse_error(b, strlen(b), &e);
        if (n == S3XML_MAX_TEXT) {
            assert_int_equal(rc, 1);
            assert_int_equal(strlen(e.code), S3XML_MAX_TEXT);
            s3xml_error_free(&e);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err_msg(), "a text value longer than 64 KiB"));
        }
        free(b);
    }
    /* a negative size, a DOCTYPE */
    const char *neg = "<ListBucketResult><Contents><Key>k</Key><Size>-5</Size></Contents>"
                      "</ListBucketResult>";
    memset(&l, 0, sizeof l);
    assert_int_equal(s3xml_parse_list(neg, strlen(neg), &l), -1);
    assert_non_null(strstr(err_msg(), "a Size that is not a number"));
    s3xml_list_free(&l);
    /* strtoull skips blanks and takes a sign: " -1" was 2^64 - 1 */
    const char *odd[] = {" -1", "+7", " 5", "5 ", "\n5", "0x10", "", "18446744073709551616"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        char doc[200];
        snprintf(doc, sizeof doc,
                 "<ListBucketResult><Contents><Key>k</Key><Size>%s</Size></Contents>"
                 "</ListBucketResult>",
                 odd[i]);
        memset(&l, 0, sizeof l);
        int rc = s3xml_parse_list(doc, strlen(doc), &l);
        if (rc != -1)
            print_message("<Size>%s</Size> was taken as %llu\n", odd[i],
                          l.n ? (unsigned long long)l.items[0].size : 0ull);
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err_msg(), "a Size that is not a number"));
        s3xml_list_free(&l);
    }
    const char *big = "<ListBucketResult><Contents><Key>k</Key><Size>18446744073709551615</Size>"
                      "</Contents></ListBucketResult>";
    memset(&l, 0, sizeof l);
    assert_int_equal(s3xml_parse_list(big, strlen(big), &l), 0);
    assert_true(l.items[0].size == UINT64_MAX);
    s3xml_list_free(&l);
    const char *dtd = "<!DOCTYPE Error><Error><Code>x</Code></Error>";
    assert_int_equal(s3xml_parse_error(dtd, strlen(dtd), NULL), -1);
    assert_non_null(strstr(err_msg(), "DOCTYPE"));
    assert_int_equal(s3xml_parse_error(NULL, 0, NULL), 0);
}

static void test_upload_id_checked(void **state)
{
    (void)state;
    char body[4096];
    const char *bad[] = {"a b", "a&#10;b", "a&#x9b;b", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body,
                 "<InitiateMultipartUploadResult><UploadId>%s</UploadId>"
                 "</InitiateMultipartUploadResult>",
                 bad[i]);
        assert_null(s3xml_parse_upload_id(body, strlen(body)));
        assert_non_null(strstr(err_msg(), "not printable ASCII of at most 1024 bytes"));
        assert_null(strchr(err_msg(), '\n'));
    }
    char id[S3XML_MAX_ID + 2];
    for (int len = S3XML_MAX_ID; len <= S3XML_MAX_ID + 1; len++) {
        memset(id, 'x', (size_t)len);
        id[len] = '\0';
        snprintf(body, sizeof body,
                 "<InitiateMultipartUploadResult><UploadId>%s</UploadId>"
                 "</InitiateMultipartUploadResult>",
                 id);
        char *got = s3xml_parse_upload_id(body, strlen(body));
        if (len == S3XML_MAX_ID) {
            assert_non_null(got);
            assert_string_equal(got, id);
            free(got);
        } else {
            assert_null(got);
        }
    }
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
        cmocka_unit_test(test_url_encoded_listing),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_upload_id_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
