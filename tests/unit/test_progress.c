/* Unit tests: progress: human sizes, the monotonic clock, a status line
 * drawn at most a few times a second (with the total and percentage when
 * known), cleared when done, and nothing at all when disabled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "progress.h"

static FILE *cap_file;
static int saved_fd = -1;

static void capture_start(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    assert_non_null(cap_file);
    saved_fd = dup(2);
    assert_int_equal(dup2(fileno(cap_file), 2), 2);
}

static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    long n = ftell(cap_file);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    rewind(cap_file);
    assert_int_equal(fread(buf, 1, (size_t)n, cap_file), (size_t)n);
    buf[n] = '\0';
    fclose(cap_file);
    return buf;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_human(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(progress_human(0, buf), "0 B");
    assert_string_equal(progress_human(1023, buf), "1023 B");
    assert_string_equal(progress_human(1024, buf), "1.0 KiB");
    assert_string_equal(progress_human(1536, buf), "1.5 KiB");
    assert_string_equal(progress_human(10u * 1024 * 1024, buf), "10.0 MiB");
    assert_string_equal(progress_human(3ull << 30 | 1ull << 29, buf), "3.5 GiB");
    assert_string_equal(progress_human(2ull << 40, buf), "2.0 TiB");
    /* TiB is the largest unit: larger counts stay in TiB */
    assert_string_equal(progress_human(1ull << 50, buf), "1024.0 TiB");
    const char *r = progress_human(UINT64_MAX, buf);
    assert_ptr_equal(r, buf);
    assert_non_null(strstr(buf, " TiB"));
    assert_true(strlen(buf) < 32);
}

static void test_clock(void **state)
{
    (void)state;
    double a = progress_now();
    usleep(20 * 1000);
    double b = progress_now();
    assert_true(b - a >= 0.019);
    assert_true(b - a < 5.0);
    for (int i = 0; i < 1000; i++) {
        double c = progress_now();
        assert_true(c >= b);
        b = c;
    }
}

static void test_disabled_is_silent(void **state)
{
    (void)state;
    capture_start();
    progress *p = progress_new(0, "backup neo4j", 1000);
    assert_non_null(p);
    progress_add(p, 100);
    usleep(300 * 1000);
    progress_add(p, 100);
    progress_done(p);
    /* NULL is accepted everywhere */
    progress_add(NULL, 5);
    progress_done(NULL);
    char *out = capture_end();
    assert_string_equal(out, "");
    free(out);
}

/* With a total: "LABEL: DONE of TOTAL (P%), RATE/s", at most one redraw per
 * quarter second, cleared at the end. */
static void test_line_with_total(void **state)
{
    (void)state;
    capture_start();
    progress *p = progress_new(1, "fetch x", 4096);
    progress_add(p, 1024); /* too soon after the start: not drawn */
    usleep(300 * 1000);
    progress_add(p, 1024); /* drawn */
    for (int i = 0; i < 100; i++)
        progress_add(p, 0); /* within the quarter second: not drawn again */
    progress_done(p);
    char *out = capture_end();
    assert_int_equal(count(out, "\rfetch x: "), 1);
    assert_non_null(strstr(out, "\rfetch x: 2.0 KiB of 4.0 KiB (50%), "));
    assert_non_null(strstr(out, "/s\033[K"));
    /* the line is cleared at the end and nothing ends with a newline */
    size_t len = strlen(out);
    assert_true(len >= 4);
    assert_string_equal(out + len - 4, "\r\033[K");
    assert_null(strchr(out, '\n'));
    free(out);
}

static void test_line_without_total(void **state)
{
    (void)state;
    capture_start();
    progress *p = progress_new(1, "backup neo4j", 0);
    usleep(300 * 1000);
    progress_add(p, 3u * 1024 * 1024);
    usleep(300 * 1000);
    progress_add(p, 1u * 1024 * 1024);
    progress_done(p);
    char *out = capture_end();
    assert_int_equal(count(out, "\rbackup neo4j: "), 2);
    assert_non_null(strstr(out, "\rbackup neo4j: 3.0 MiB, "));
    assert_non_null(strstr(out, "\rbackup neo4j: 4.0 MiB, "));
    assert_null(strstr(out, " of ")); /* no total to show */
    assert_null(strchr(out, '%'));
    free(out);
}

/* Nothing drawn: nothing to clear at the end. */
static void test_quick_run_leaves_no_trace(void **state)
{
    (void)state;
    capture_start();
    progress *p = progress_new(1, "quick", 10);
    progress_add(p, 10);
    progress_done(p);
    char *out = capture_end();
    assert_string_equal(out, "");
    free(out);
}

/* A long label is cut, not overflowed. */
static void test_long_label(void **state)
{
    (void)state;
    char label[400];
    memset(label, 'L', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    capture_start();
    progress *p = progress_new(1, label, 100);
    usleep(300 * 1000);
    progress_add(p, 50);
    progress_done(p);
    char *out = capture_end();
    assert_true(strlen(out) < 300);
    assert_true(count(out, "LLLL") > 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_human),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_disabled_is_silent),
        cmocka_unit_test(test_line_with_total),
        cmocka_unit_test(test_line_without_total),
        cmocka_unit_test(test_quick_run_leaves_no_trace),
        cmocka_unit_test(test_long_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
