/* Unit tests: log (messages on stderr): the line format and tags, levels,
 * the escaping of bytes that could act on a terminal (control characters,
 * ESC sequences, broken UTF-8), long messages, the status line that log
 * lines clear first, and whole lines from concurrent threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* ---- capturing stderr ---------------------------------------------------- */

static FILE *cap_file;
static int saved_fd = -1;

static void capture_start(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    assert_non_null(cap_file);
    saved_fd = dup(2);
    assert_true(saved_fd >= 0);
    assert_int_equal(dup2(fileno(cap_file), 2), 2);
}

/* What was written to stderr since capture_start (malloc'd). */
static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    saved_fd = -1;
    long n = ftell(cap_file);
    assert_true(n >= 0);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    rewind(cap_file);
    assert_int_equal(fread(buf, 1, (size_t)n, cap_file), (size_t)n);
    buf[n] = '\0';
    fclose(cap_file);
    return buf;
}

static int reset_level(void **state)
{
    (void)state;
    log_set_level(LOG_LVL_INFO);
    log_status(NULL);
    return 0;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_format_and_tags(void **state)
{
    (void)state;
    capture_start();
    log_error("disk %s", "full");
    log_warn("slow: %d ms", 900);
    log_info("plain");
    char *out = capture_end();
    assert_string_equal(out, "neo4j-offsite: error: disk full\n"
                             "neo4j-offsite: warning: slow: 900 ms\n"
                             "neo4j-offsite: plain\n");
    free(out);
}

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(log_get_level(), LOG_LVL_INFO);
    capture_start();
    log_debug("hidden by default");
    log_set_level(LOG_LVL_DEBUG);
    assert_int_equal(log_get_level(), LOG_LVL_DEBUG);
    log_debug("debug %d", 1);
    log_set_level(LOG_LVL_WARN); /* -q keeps warnings and errors */
    log_info("dropped");
    log_warn("kept");
    log_set_level(LOG_LVL_ERROR);
    log_warn("dropped too");
    log_error("always");
    char *out = capture_end();
    assert_string_equal(out, "neo4j-offsite: debug 1\n"
                             "neo4j-offsite: warning: kept\n"
                             "neo4j-offsite: error: always\n");
    free(out);
}

/* Names, server replies and child output pass through the log: nothing in
 * them reaches the terminal raw. */
static void test_unprintable_escaped(void **state)
{
    (void)state;
    capture_start();
    log_error("object %s", "x\033]2;owned\007y");
    log_warn("reply: %s", "a\nneo4j-offsite: fake line\rz");
    log_info("utf8 caf\xc3\xa9 ok, broken \xc3( and \xff, C1 \xc2\x9b"
             "31m, DEL \x7f");
    char *out = capture_end();
    assert_string_equal(out, "neo4j-offsite: error: object x\\x1b]2;owned\\x07y\n"
                             "neo4j-offsite: warning: reply: a\\x0aneo4j-offsite: fake line\\x0dz\n"
                             "neo4j-offsite: utf8 caf\xc3\xa9 ok, broken \\xc3( and \\xff, C1 "
                             "\\xc2\\x9b31m, DEL \\x7f\n");
    /* no ESC or carriage return reached the output */
    assert_null(strchr(out, '\033'));
    assert_null(strchr(out, '\r'));
    free(out);
}

/* A message longer than the line buffer is cut, still one line, never with
 * half an escape. */
static void test_long_message(void **state)
{
    (void)state;
    static char big[20000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = i % 3 == 0 ? '\033' : 'a';
    big[sizeof big - 1] = '\0';
    capture_start();
    log_info("%s", big);
    log_info("next");
    char *out = capture_end();
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, "neo4j-offsite: next\n");
    size_t len = (size_t)(nl - out);
    assert_true(len > 1000 && len < 8192);
    assert_null(memchr(out, '\033', len));
    /* the line ends on a whole escape or a plain byte */
    assert_false(nl[-1] == '\\' || nl[-1] == 'x');
    assert_false(nl[-2] == '\\');
    free(out);
}

static void test_status_line(void **state)
{
    (void)state;
    capture_start();
    log_status(NULL); /* nothing shown: nothing to clear */
    log_status("10%");
    log_status("20%"); /* replaces the previous one on the same line */
    log_info("message");
    log_status(NULL); /* the log line already cleared it */
    log_status("30%");
    log_status(NULL);
    char *out = capture_end();
    assert_string_equal(out, "\r10%\033[K"
                             "\r20%\033[K"
                             "\r\033[K"
                             "neo4j-offsite: message\n"
                             "\r30%\033[K"
                             "\r\033[K");
    free(out);
}

#define THREADS 4
#define LINES   200

static void *log_lines(void *arg)
{
    int id = (int)(intptr_t)arg;
    char word[64];
    memset(word, 'a' + id, sizeof word - 1);
    word[sizeof word - 1] = '\0';
    for (int i = 0; i < LINES; i++) {
        if (i % 50 == 0)
            log_status("progress");
        log_info("%d %s %d", id, word, i);
    }
    return NULL;
}

/* Lines from several threads never interleave inside a line. */
static void test_threads_whole_lines(void **state)
{
    (void)state;
    capture_start();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_lines, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    log_status(NULL);
    char *out = capture_end();
    int count[THREADS] = {0};
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* a status line may precede a log line on the same terminal row */
        char *start = strstr(line, "neo4j-offsite: ");
        if (!start)
            continue;
        int id, i;
        char word[80];
        assert_int_equal(sscanf(start, "neo4j-offsite: %d %79s %d", &id, word, &i), 3);
        assert_true(id >= 0 && id < THREADS);
        assert_int_equal(strlen(word), 63);
        assert_int_equal(strspn(word, (char[]){(char)('a' + id), 0}), 63);
        count[id]++;
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(count[i], LINES);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_format_and_tags, reset_level),
        cmocka_unit_test_setup(test_levels, reset_level),
        cmocka_unit_test_setup(test_unprintable_escaped, reset_level),
        cmocka_unit_test_setup(test_long_message, reset_level),
        cmocka_unit_test_setup(test_status_line, reset_level),
        cmocka_unit_test_setup(test_threads_whole_lines, reset_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
