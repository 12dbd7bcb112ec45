/* Unit tests: strbuf (growable string for text from outside): appends that
 * never write past the buffer, the limit and the sticky failure, take/free,
 * and the escaping of bytes that could act on a terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "strbuf.h"

/* S escaped by strbuf_put_printable (LEN bytes), into a static buffer. */
static const char *printable(const char *s, size_t len)
{
    static char out[1024];
    strbuf b;
    strbuf_init(&b, 0);
    assert_int_equal(strbuf_put_printable(&b, s, len), 0);
    snprintf(out, sizeof out, "%s", strbuf_str(&b));
    strbuf_free(&b);
    return out;
}

/* 1 when S is valid UTF-8 without control characters. */
static int clean_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;
        if (*p >= 0x80 && (*p < 0xc2 || *p > 0xf4))
            return 0;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return 0;
        p += n;
    }
    return 1;
}

static void test_empty_and_appends(void **state)
{
    (void)state;
    strbuf b;
    strbuf_init(&b, 0);
    assert_string_equal(strbuf_str(&b), ""); /* never NULL, even before an append */
    assert_int_equal(b.len, 0);
    assert_int_equal(strbuf_append(&b, "abc", 3), 0);
    assert_int_equal(strbuf_puts(&b, "def"), 0);
    assert_int_equal(strbuf_printf(&b, "-%d-%s", 42, "x"), 0);
    assert_int_equal(strbuf_append(&b, "ignored", 0), 0);
    assert_string_equal(strbuf_str(&b), "abcdef-42-x");
    assert_int_equal(b.len, strlen("abcdef-42-x"));
    assert_true(b.cap > b.len); /* room for the NUL */
    assert_int_equal(strbuf_failed(&b), 0);
    strbuf_free(&b);
    assert_string_equal(strbuf_str(&b), "");
    assert_int_equal(b.len, 0);
}

/* Many appends of every size: the text is exactly the concatenation. */
static void test_growth_keeps_content(void **state)
{
    (void)state;
    strbuf b;
    strbuf_init(&b, 0);
    size_t want_len = 0;
    char piece[300];
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i * 37 % 300);
        memset(piece, 'a' + i % 26, n);
        assert_int_equal(strbuf_append(&b, piece, n), 0);
        want_len += n;
    }
    /* a formatted piece much longer than the first allocation */
    assert_int_equal(strbuf_printf(&b, "%0500d", 7), 0);
    want_len += 500;
    assert_int_equal(b.len, want_len);
    assert_int_equal(strlen(strbuf_str(&b)), want_len);
    size_t off = 0;
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i * 37 % 300);
        for (size_t k = 0; k < n; k++)
            assert_int_equal(b.s[off + k], 'a' + i % 26);
        off += n;
    }
    assert_int_equal(b.s[want_len - 1], '7');
    assert_int_equal(b.s[want_len - 2], '0');
    strbuf_free(&b);
}

/* The limit: exactly MAX bytes fit; one more fails, the text stays as it
 * was, ERR_FAIL is set once and every later append is a no-op. */
static void test_limit_and_sticky_failure(void **state)
{
    (void)state;
    strbuf b;
    strbuf_init(&b, 10);
    assert_int_equal(strbuf_append(&b, "0123456789", 10), 0);
    assert_string_equal(strbuf_str(&b), "0123456789");
    err_clear();
    assert_int_equal(strbuf_append(&b, "x", 1), -1);
    assert_int_equal(strbuf_failed(&b), 1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_non_null(strstr(err_msg(), "too long"));
    assert_string_equal(strbuf_str(&b), "0123456789"); /* nothing half-appended */
    err_clear();
    /* later appends fail too, even those that would fit, without a new error */
    assert_int_equal(strbuf_append(&b, "", 0), -1);
    assert_int_equal(strbuf_puts(&b, "y"), -1);
    assert_int_equal(strbuf_printf(&b, "%d", 1), -1);
    assert_int_equal(strbuf_put_printable(&b, "z", 1), -1);
    assert_int_equal(err_get_kind(), ERR_NONE);
    assert_int_equal(b.len, 10);
    /* take after a failure: NULL, and the buffer is reset with its limit */
    assert_null(strbuf_take(&b));
    assert_int_equal(strbuf_failed(&b), 0);
    assert_int_equal(b.max, 10);
    assert_int_equal(strbuf_append(&b, "0123456789", 10), 0);
    assert_int_equal(strbuf_append(&b, "0", 1), -1);
    strbuf_free(&b);
    assert_int_equal(b.max, 10);
    assert_int_equal(strbuf_failed(&b), 0);

    /* a formatted append past the limit fails as a whole */
    strbuf_init(&b, 8);
    assert_int_equal(strbuf_printf(&b, "%s", "abcd"), 0);
    assert_int_equal(strbuf_printf(&b, "%s", "efghi"), -1);
    assert_string_equal(strbuf_str(&b), "abcd");
    strbuf_free(&b);
}

/* A length that would overflow the size computation fails before a byte is
 * read from S (S here is far shorter than the length claimed). */
static void test_huge_length_refused(void **state)
{
    (void)state;
    strbuf b;
    strbuf_init(&b, 0);
    assert_int_equal(strbuf_append(&b, "abc", 3), 0);
    err_clear();
    assert_int_equal(strbuf_append(&b, "x", SIZE_MAX), -1);
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_int_equal(strbuf_failed(&b), 1);
    assert_string_equal(strbuf_str(&b), "abc");
    strbuf_free(&b);
}

static void test_take(void **state)
{
    (void)state;
    strbuf b;
    strbuf_init(&b, 0);
    char *s = strbuf_take(&b); /* empty: "" of its own, not NULL */
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    strbuf_puts(&b, "hello");
    s = strbuf_take(&b);
    assert_string_equal(s, "hello");
    assert_string_equal(strbuf_str(&b), ""); /* B no longer owns it */
    assert_int_equal(b.len, 0);
    strbuf_puts(&b, "again");
    assert_string_equal(strbuf_str(&b), "again");
    assert_string_equal(s, "hello");
    free(s);
    strbuf_free(&b);
}

static void test_printable_ascii_and_controls(void **state)
{
    (void)state;
    assert_string_equal(printable("plain text ~!", 13), "plain text ~!");
    assert_string_equal(printable("a\x1b[31mred", 9), "a\\x1b[31mred");
    assert_string_equal(printable("line\nnext\r\t", 11), "line\\x0anext\\x0d\\x09");
    assert_string_equal(printable("del\x7f", 4), "del\\x7f");
    /* an embedded NUL is a byte like any other: LEN counts */
    assert_string_equal(printable("a\0b", 3), "a\\x00b");
    assert_string_equal(printable("", 0), "");
    /* only LEN bytes are looked at */
    assert_string_equal(printable("abc\x1b", 3), "abc");
}

static void test_printable_utf8(void **state)
{
    (void)state;
    /* valid sequences of 2, 3 and 4 bytes pass unchanged */
    assert_string_equal(printable("caf\xc3\xa9", 5), "caf\xc3\xa9");
    assert_string_equal(printable("\xe2\x82\xac 5", 5), "\xe2\x82\xac 5");
    assert_string_equal(printable("\xf0\x9f\x98\x80", 4), "\xf0\x9f\x98\x80");
    assert_string_equal(printable("\xc2\xa0", 2), "\xc2\xa0"); /* U+00A0, first after C1 */
    /* C1 controls (U+0080..U+009F) act on terminals: escaped */
    assert_string_equal(printable("\xc2\x9b"
                                  "31m",
                                  5),
                        "\\xc2\\x9b31m");
    assert_string_equal(printable("\xc2\x85", 2), "\\xc2\\x85");
    /* overlong forms, surrogates, beyond U+10FFFF, stray continuation
     * bytes, bytes never valid, and a sequence cut by the end */
    assert_string_equal(printable("\xc0\x80", 2), "\\xc0\\x80");
    assert_string_equal(printable("\xe0\x80\xaf", 3), "\\xe0\\x80\\xaf");
    assert_string_equal(printable("\xed\xa0\x80", 3), "\\xed\\xa0\\x80");
    assert_string_equal(printable("\xf4\x90\x80\x80", 4), "\\xf4\\x90\\x80\\x80");
    assert_string_equal(printable("\xf5\x80\x80\x80", 4), "\\xf5\\x80\\x80\\x80");
    assert_string_equal(printable("\x80x", 2), "\\x80x");
    assert_string_equal(printable("\xff", 1), "\\xff");
    assert_string_equal(printable("ok\xe2\x82", 4), "ok\\xe2\\x82");
    /* a broken lead byte followed by ASCII: the ASCII is kept */
    assert_string_equal(printable("\xc3(", 2), "\\xc3(");
    /* whatever goes in, the output is clean UTF-8 */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    assert_true(clean_utf8(printable(all, sizeof all)));
}

static void test_has_control(void **state)
{
    (void)state;
    assert_int_equal(strbuf_has_control("abc", 3), 0);
    assert_int_equal(strbuf_has_control("caf\xc3\xa9", 5), 0); /* UTF-8 is not control */
    assert_int_equal(strbuf_has_control("a\tb", 3), 1);
    assert_int_equal(strbuf_has_control("a\x7f", 2), 1);
    assert_int_equal(strbuf_has_control("ab\0", 3), 1);
    assert_int_equal(strbuf_has_control("ab\0", 2), 0); /* only LEN bytes */
    assert_int_equal(strbuf_has_control("\x1f", 1), 1);
    assert_int_equal(strbuf_has_control(" ", 1), 0);
}

/* The copy is always NUL-terminated, cut at a character boundary: never
 * inside a UTF-8 sequence or an \xNN escape. */
static void test_printable_copy_cuts_cleanly(void **state)
{
    (void)state;
    char out[64];
    memset(out, 'Z', sizeof out);
    assert_ptr_equal(strbuf_printable_copy(out, 0, "abc"), out);
    assert_int_equal(out[0], 'Z'); /* CAP 0: nothing written */
    assert_string_equal(strbuf_printable_copy(out, 1, "abc"), "");
    assert_string_equal(strbuf_printable_copy(out, 4, "abc"), "abc");
    assert_string_equal(strbuf_printable_copy(out, 3, "abc"), "ab");
    assert_string_equal(strbuf_printable_copy(out, sizeof out, "a\x1b"), "a\\x1b");
    /* "ab\x1b" needs 7 bytes: with 6, 5, 4 the escape is dropped whole */
    assert_string_equal(strbuf_printable_copy(out, 7, "ab\x1b"), "ab\\x1b");
    for (size_t cap = 3; cap <= 6; cap++)
        assert_string_equal(strbuf_printable_copy(out, cap, "ab\x1b"), "ab");
    /* "a\xc3\xa9" (a + e acute): 3 bytes do not fit the two of the letter */
    assert_string_equal(strbuf_printable_copy(out, 4, "a\xc3\xa9"), "a\xc3\xa9");
    assert_string_equal(strbuf_printable_copy(out, 3, "a\xc3\xa9"), "a");
    assert_string_equal(strbuf_printable_copy(out, 4, "a\xe2\x82\xac"), "a");
    /* every cut of a mixed string is clean UTF-8 and a prefix of the full copy */
    const char *mixed = "x\x1b\xe2\x82\xac\x01y\xf0\x9f\x98\x80\xc2\x9b\xff z";
    char full[128];
    strbuf_printable_copy(full, sizeof full, mixed);
    for (size_t cap = 1; cap <= strlen(full) + 1; cap++) {
        strbuf_printable_copy(out, cap, mixed);
        assert_true(strlen(out) < cap);
        assert_true(clean_utf8(out));
        assert_int_equal(strncmp(out, full, strlen(out)), 0);
        /* never a lone backslash from a cut escape at the end */
        size_t n = strlen(out);
        assert_false(n > 0 && out[n - 1] == '\\');
        assert_false(n > 1 && out[n - 2] == '\\' && out[n - 1] == 'x');
        assert_false(n > 2 && out[n - 3] == '\\' && out[n - 2] == 'x');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_appends),
        cmocka_unit_test(test_growth_keeps_content),
        cmocka_unit_test(test_limit_and_sticky_failure),
        cmocka_unit_test(test_huge_length_refused),
        cmocka_unit_test(test_take),
        cmocka_unit_test(test_printable_ascii_and_controls),
        cmocka_unit_test(test_printable_utf8),
        cmocka_unit_test(test_has_control),
        cmocka_unit_test(test_printable_copy_cuts_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
