/* Unit tests of dumpcheck_text, the search for lines of text among a dump's
 * raw bytes: hand-built byte runs, each answer checked to the letter, the
 * bytes scanned whole and in pieces (the answers must agree). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dumpcheck_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Raw bytes under construction. */
typedef struct {
    unsigned char p[200 * 1024];
    size_t n;
} raw;

/* N bytes that are no text (and no line end). */
static void binary(raw *r, size_t n)
{
    assert_true(r->n + n <= sizeof r->p);
    for (size_t i = 0; i < n; i++)
        r->p[r->n++] = (unsigned char)(0x80 + i % 0x40);
}

static void text(raw *r, const char *s)
{
    size_t n = strlen(s);
    assert_true(r->n + n <= sizeof r->p);
    memcpy(r->p + r->n, s, n);
    r->n += n;
}

typedef struct {
    int rc;         /* DUMPCHECK_TEXT_* */
    char said[400]; /* dumpcheck_text_describe of the line found */
    uint64_t scanned;
} answer;

/* Scan R (looked at from FROM; pieces of STEP bytes, 0: whole), then ask
 * about [START, POINT]. */
static answer ask_step(const raw *r, uint64_t from, size_t step, uint64_t start, uint64_t point,
                       int at_eof)
{
    answer a;
    memset(&a, 0, sizeof a);
    dumpcheck_text *t = dumpcheck_text_new();
    assert_non_null(t);
    if (from != UINT64_MAX)
        dumpcheck_text_from(t, from);
    for (size_t o = 0; o < r->n;) {
        size_t k = step && step < r->n - o ? step : r->n - o;
        dumpcheck_text_scan(t, r->p + o, k);
        o += k;
    }
    a.scanned = dumpcheck_text_scanned(t);
    dumpcheck_text_line line;
    a.rc = dumpcheck_text_find(t, start, point, at_eof, &line);
    if (a.rc == DUMPCHECK_TEXT_FOUND) {
        strbuf b;
        strbuf_init(&b, 0);
        dumpcheck_text_describe(&line, &b);
        assert_false(strbuf_failed(&b));
        snprintf(a.said, sizeof a.said, "%s", strbuf_str(&b));
        strbuf_free(&b);
    }
    dumpcheck_text_free(t);
    return a;
}

static answer ask(const raw *r, uint64_t from, uint64_t start, uint64_t point, int at_eof)
{
    answer whole = ask_step(r, from, 0, start, point, at_eof);
    static const size_t steps[] = {1, 2, 3, 17, 4096};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        answer a = ask_step(r, from, steps[i], start, point, at_eof);
        assert_int_equal(a.rc, whole.rc);
        assert_string_equal(a.said, whole.said);
    }
    assert_int_equal(whole.scanned, r->n);
    return whole;
}

static void expect_line(const raw *r, uint64_t from, uint64_t start, uint64_t point,
                        const char *said)
{
    answer a = ask(r, from, start, point, 0);
    assert_int_equal(a.rc, DUMPCHECK_TEXT_FOUND);
    assert_string_equal(a.said, said);
}

static void expect_rc(const raw *r, uint64_t from, uint64_t start, uint64_t point, int at_eof,
                      int rc)
{
    answer a = ask(r, from, start, point, at_eof);
    assert_int_equal(a.rc, rc);
}

#define LOG "2024-01-01 12:00:00.000+0000 INFO  Starting dump"

static void test_line(void **state)
{
    (void)state;
    raw r = {0};
    binary(&r, 100);
    text(&r, LOG "\n");
    binary(&r, 100);
    const char *said = "text inside the dump at offset 100: \"" LOG
                       "\" (a line of text, e.g. log output written into the dump)";
    expect_line(&r, 0, 0, 300, said);
    /* the region has to touch the line, its line end included */
    expect_line(&r, 0, 100, 100, said);
    expect_line(&r, 0, 100 + strlen(LOG), 250, said);
    expect_rc(&r, 0, 0, 99, 0, DUMPCHECK_TEXT_NONE);
    expect_rc(&r, 0, 101 + strlen(LOG), 200, 0, DUMPCHECK_TEXT_NONE);
    /* a carriage return ends a line too */
    r.p[100 + strlen(LOG)] = '\r';
    expect_line(&r, 0, 0, 300, said);
}

static void test_not_a_line(void **state)
{
    (void)state;
    /* 19 printable characters are not enough, 20 are */
    raw r = {0};
    binary(&r, 10);
    text(&r, "0123456789abcdefghi\n");
    binary(&r, 10);
    expect_rc(&r, 0, 0, 39, 0, DUMPCHECK_TEXT_NONE);
    r.n = 10;
    text(&r, "0123456789abcdefghij\n");
    binary(&r, 10);
    expect_line(&r, 0, 0, 40,
                "text inside the dump at offset 10: \"0123456789abcdefghij\" (a line of text, e.g. "
                "log output written into the dump)");

    /* no line end: no line */
    r.n = 10;
    text(&r, LOG LOG);
    binary(&r, 10);
    expect_rc(&r, 0, 0, r.n - 1, 0, DUMPCHECK_TEXT_NONE);

    /* longer than 64 KiB: no line */
    r.n = 0;
    while (r.n < 64 * 1024 + 1)
        text(&r, "x");
    text(&r, "\n");
    binary(&r, 10);
    expect_rc(&r, 0, 0, r.n - 1, 0, DUMPCHECK_TEXT_NONE);
    r.n -= 12;
    text(&r, "\n");
    binary(&r, 10);
    answer a = ask(&r, 0, 0, r.n - 1, 0);
    assert_int_equal(a.rc, DUMPCHECK_TEXT_FOUND);
}

static void test_from(void **state)
{
    (void)state;
    /* the prefix is no text: the line starts where the stream does */
    raw r = {0};
    text(&r, "DZV1" LOG "\n");
    binary(&r, 10);
    expect_line(&r, 4, 0, 100,
                "text inside the dump at offset 4: \"" LOG
                "\" (a line of text, e.g. log output written into the dump)");
    /* nothing is looked at before the start is known */
    expect_rc(&r, UINT64_MAX, 0, 10, 0, DUMPCHECK_TEXT_NONE);
    /* or before it */
    r.n = 0;
    text(&r, LOG "\n");
    binary(&r, 10);
    expect_rc(&r, 40, 0, 20, 0, DUMPCHECK_TEXT_NONE);
}

static void test_wait(void **state)
{
    (void)state;
    /* a run open at the point may still become a line */
    raw r = {0};
    binary(&r, 50);
    text(&r, LOG);
    expect_rc(&r, 0, 0, 60, 0, DUMPCHECK_TEXT_WAIT);
    expect_rc(&r, 0, 0, 60, 1, DUMPCHECK_TEXT_NONE); /* no more bytes come */
    text(&r, "\n");
    expect_line(&r, 0, 0, 60,
                "text inside the dump at offset 50: \"" LOG
                "\" (a line of text, e.g. log output written into the dump)");
    /* ... until it is longer than a line can be */
    r.n = 50;
    while (r.n < 50 + 64 * 1024 + 1)
        text(&r, "y");
    expect_rc(&r, 0, 0, 60, 0, DUMPCHECK_TEXT_NONE);
    /* text may start at the point itself: it has to be seen */
    r.n = 0;
    binary(&r, 50);
    expect_rc(&r, 0, 0, 50, 0, DUMPCHECK_TEXT_WAIT);
    expect_rc(&r, 0, 0, 49, 0, DUMPCHECK_TEXT_NONE);
    expect_rc(&r, 0, 0, 50, 1, DUMPCHECK_TEXT_NONE);
}

static void test_excerpt(void **state)
{
    (void)state;
    /* quotes and backslashes escaped, a tab as \x09; lines that follow each
     * other are one text, shown from its start and cut after 96 characters */
    raw r = {0};
    binary(&r, 7);
    text(&r, "WARN \"quoted\" C:\\path\tand a tab\r\n");
    text(&r, LOG "\n" LOG "\n");
    binary(&r, 7);
    expect_line(&r, 0, 0, 30,
                "text inside the dump at offset 7: \"WARN \\\"quoted\\\" C:\\\\path\\x09and a "
                "tab...\" (a line of text, e.g. log output written into the dump)");
    /* a point past the first line still finds the whole text */
    expect_line(&r, 0, 100, 110,
                "text inside the dump at offset 7: \"WARN \\\"quoted\\\" C:\\\\path\\x09and a "
                "tab...\" (a line of text, e.g. log output written into the dump)");

    /* a line of more than 96 characters */
    r.n = 0;
    for (int i = 0; i < 10; i++)
        text(&r, "0123456789");
    text(&r, "\n");
    binary(&r, 3);
    expect_line(&r, 0, 0, 5,
                "text inside the dump at offset 0: \"012345678901234567890123456789012345678901234"
                "567890123456789012345678901234567890123456789012345...\" (a line of text, e.g. "
                "log output written into the dump)");
}

static void test_last_lines(void **state)
{
    (void)state;
    /* five lines apart: the first is forgotten, the others are found */
    raw r = {0};
    uint64_t at[5];
    for (int i = 0; i < 5; i++) {
        binary(&r, 100);
        at[i] = r.n;
        text(&r, LOG "\n");
    }
    binary(&r, 100);
    expect_rc(&r, 0, at[0], at[0] + 10, 0, DUMPCHECK_TEXT_NONE);
    char said[200];
    snprintf(said, sizeof said,
             "text inside the dump at offset %llu: \"" LOG
             "\" (a line of text, e.g. log output written into the dump)",
             (unsigned long long)at[1]);
    expect_line(&r, 0, at[1], at[1] + 10, said);
    expect_line(&r, 0, 0, r.n, said); /* the oldest remembered */
    snprintf(said, sizeof said,
             "text inside the dump at offset %llu: \"" LOG
             "\" (a line of text, e.g. log output written into the dump)",
             (unsigned long long)at[4]);
    expect_line(&r, 0, at[4], at[4], said);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line),    cmocka_unit_test(test_not_a_line),
        cmocka_unit_test(test_from),    cmocka_unit_test(test_wait),
        cmocka_unit_test(test_excerpt), cmocka_unit_test(test_last_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
