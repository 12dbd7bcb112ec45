/* Unit tests: SigV4 signing, pinned with the examples AWS publishes in the
 * S3 API reference ("Signature Calculations for the Authorization Header:
 * Transferring Payload in a Single Chunk"), all at 20130524T000000Z with
 * the documentation's example key pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3/sigv4.h"

#define HOST "examplebucket.s3.amazonaws.com"
#define DATE "20130524T000000Z"

static const sigv4_creds aws_example = {
    .access_key = "AKIAIOSFODNN7EXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
};

/* The signature part of an Authorization value. */
static const char *sig_of(const char *auth)
{
    const char *s = strstr(auth, ",Signature=");
    assert_non_null(s);
    return s + strlen(",Signature=");
}

static void check_canonical_hash(const sigv4_request *r, const char *want)
{
    char *cr = sigv4_canonical_request(&aws_example, r);
    assert_non_null(cr);
    char h[65];
    sigv4_sha256_hex(cr, strlen(cr), h);
    assert_string_equal(h, want);
    free(cr);
}

static void test_get_object(void **state)
{
    (void)state;
    sigv4_header range = {"Range", "bytes=0-9"};
    sigv4_request r = {.method = "GET",
                       .path = "/test.txt",
                       .query = "",
                       .host = HOST,
                       .amz_date = DATE,
                       .payload_sha256 = SIGV4_EMPTY_SHA256,
                       .headers = &range,
                       .n_headers = 1};
    char *cr = sigv4_canonical_request(&aws_example, &r);
    assert_non_null(cr);
    assert_string_equal(cr, "GET\n/test.txt\n\n"
                            "host:examplebucket.s3.amazonaws.com\n"
                            "range:bytes=0-9\n"
                            "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\n"
                            "x-amz-date:20130524T000000Z\n\n"
                            "host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256);
    free(cr);
    char *auth = sigv4_authorization(&aws_example, &r);
    assert_non_null(auth);
    assert_string_equal(
        auth, "AWS4-HMAC-SHA256 "
              "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    /* the secret never appears in what is sent */
    assert_null(strstr(auth, aws_example.secret_key));
    free(auth);
}

static void test_put_object(void **state)
{
    (void)state;
    const char *body = "Welcome to Amazon S3.";
    char body_hash[65];
    sigv4_sha256_hex(body, strlen(body), body_hash);
    assert_string_equal(body_hash,
                        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    char *path = sigv4_uri_encode("/test$file.text", 1);
    assert_string_equal(path, "/test%24file.text");
    /* extra headers in any case and order: the signer sorts them */
    sigv4_header h[] = {{"X-Amz-Storage-Class", "REDUCED_REDUNDANCY"},
                        {"Date", "Fri, 24 May 2013 00:00:00 GMT"}};
    sigv4_request r = {.method = "PUT",
                       .path = path,
                       .query = "",
                       .host = HOST,
                       .amz_date = DATE,
                       .payload_sha256 = body_hash,
                       .headers = h,
                       .n_headers = 2};
    check_canonical_hash(&r, "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    char *auth = sigv4_authorization(&aws_example, &r);
    assert_non_null(auth);
    assert_non_null(strstr(
        auth, ",SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"));
    assert_string_equal(sig_of(auth),
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    free(auth);
    free(path);
}

static void test_get_bucket_lifecycle(void **state)
{
    (void)state;
    sigv4_param q = {"lifecycle", ""};
    char *query = sigv4_canonical_query(&q, 1);
    assert_string_equal(query, "lifecycle=");
    sigv4_request r = {.method = "GET",
                       .path = "/",
                       .query = query,
                       .host = HOST,
                       .amz_date = DATE,
                       .payload_sha256 = SIGV4_EMPTY_SHA256};
    check_canonical_hash(&r, "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
    char *auth = sigv4_authorization(&aws_example, &r);
    assert_string_equal(sig_of(auth),
                        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    free(auth);
    free(query);
}

static void test_list_objects(void **state)
{
    (void)state;
    /* given out of order: the canonical query sorts by key */
    sigv4_param q[] = {{"prefix", "J"}, {"max-keys", "2"}};
    char *query = sigv4_canonical_query(q, 2);
    assert_string_equal(query, "max-keys=2&prefix=J");
    sigv4_request r = {.method = "GET",
                       .path = "/",
                       .query = query,
                       .host = HOST,
                       .amz_date = DATE,
                       .payload_sha256 = SIGV4_EMPTY_SHA256};
    char *auth = sigv4_authorization(&aws_example, &r);
    assert_string_equal(sig_of(auth),
                        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    free(auth);
    free(query);
}

static void test_encoding(void **state)
{
    (void)state;
    struct {
        const char *in;
        int keep_slash;
        const char *want;
    } cases[] = {
        {"a b", 0, "a%20b"},
        {"a+b", 0, "a%2Bb"},
        {"100%", 0, "100%25"},
        {"a/b", 1, "a/b"},
        {"a/b", 0, "a%2Fb"},
        {"A-z_0.9~", 0, "A-z_0.9~"},
        {"=&?#*", 0, "%3D%26%3F%23%2A"},
        {"\xc3\xa9t\xc3\xa9", 1, "%C3%A9t%C3%A9"},
        {"", 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *e = sigv4_uri_encode(cases[i].in, cases[i].keep_slash);
        assert_string_equal(e, cases[i].want);
        free(e);
    }
    /* S3 continuation tokens are base64 ('/', '+', '='): encoded in full;
     * valueless parameters keep their '=' and equal keys sort by value */
    sigv4_param q[] = {{"continuation-token", "1/a+b=="},
                       {"list-type", "2"},
                       {"uploads", ""},
                       {"a", "2"},
                       {"a", "1"}};
    char *query = sigv4_canonical_query(q, 5);
    assert_string_equal(query, "a=1&a=2&continuation-token=1%2Fa%2Bb%3D%3D&list-type=2&uploads=");
    free(query);
    char *none = sigv4_canonical_query(NULL, 0);
    assert_string_equal(none, "");
    free(none);
}

static void test_session_token_and_date(void **state)
{
    (void)state;
    char d[17];
    sigv4_amz_date(1369353600, d); /* 2013-05-24 00:00:00 UTC */
    assert_string_equal(d, DATE);

    sigv4_creds with_token = aws_example;
    with_token.session_token = "FQoGZXIvYXdzEXAMPLETOKEN";
    sigv4_header trimmed = {"X-Custom", "  a   b  "};
    sigv4_request r = {.method = "GET",
                       .path = "/k",
                       .query = "",
                       .host = HOST,
                       .amz_date = DATE,
                       .payload_sha256 = SIGV4_EMPTY_SHA256,
                       .headers = &trimmed,
                       .n_headers = 1};
    char *cr = sigv4_canonical_request(&with_token, &r);
    assert_non_null(strstr(cr, "\nx-amz-security-token:FQoGZXIvYXdzEXAMPLETOKEN\n"));
    assert_non_null(strstr(cr, "\nx-custom:a b\n"));
    assert_non_null(
        strstr(cr, "\nhost;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-custom\n"));
    free(cr);
    char *a1 = sigv4_authorization(&with_token, &r);
    char *a2 = sigv4_authorization(&aws_example, &r);
    assert_non_null(strstr(a1, "x-amz-security-token"));
    assert_null(strstr(a2, "x-amz-security-token"));
    assert_string_not_equal(sig_of(a1), sig_of(a2));
    free(a1);
    free(a2);

    /* another secret, another signature */
    sigv4_creds other = aws_example;
    other.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ";
    a1 = sigv4_authorization(&aws_example, &r);
    a2 = sigv4_authorization(&other, &r);
    assert_string_not_equal(sig_of(a1), sig_of(a2));
    free(a1);
    free(a2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_object),
        cmocka_unit_test(test_put_object),
        cmocka_unit_test(test_get_bucket_lifecycle),
        cmocka_unit_test(test_list_objects),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_session_token_and_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
