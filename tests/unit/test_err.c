/* Unit tests: err (the per-thread error): set, sys, prefix and suffix with
 * their bounds, one error per thread, and the exit codes and their order
 * of SPEC.md. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"

static void test_set_and_clear(void **state)
{
    (void)state;
    err_clear();
    assert_int_equal(err_get_kind(), ERR_NONE);
    assert_string_equal(err_msg(), "");
    assert_int_equal(err_set(ERR_USAGE, "bad %s %d", "key", 3), -1);
    assert_int_equal(err_get_kind(), ERR_USAGE);
    assert_string_equal(err_msg(), "bad key 3");
    /* a new error replaces the old one */
    err_set(ERR_INTEGRITY, "second");
    assert_int_equal(err_get_kind(), ERR_INTEGRITY);
    assert_string_equal(err_msg(), "second");
    err_clear();
    assert_int_equal(err_get_kind(), ERR_NONE);
    assert_string_equal(err_msg(), "");
}

static void test_sys_appends_cause(void **state)
{
    (void)state;
    assert_int_equal(err_sys(ERR_FAIL, ENOSPC, "cannot write %s", "/x"), -1);
    char want[256];
    snprintf(want, sizeof want, "cannot write /x: %s", strerror(ENOSPC));
    assert_string_equal(err_msg(), want);
    assert_int_equal(err_get_kind(), ERR_FAIL);
}

static void test_prefix_and_suffix(void **state)
{
    (void)state;
    err_set(ERR_LOCKED, "held");
    assert_int_equal(err_prefix("remote %s: ", "nas"), -1);
    assert_int_equal(err_prefix("run: "), -1);
    assert_int_equal(err_suffix(" (pid %d)", 7), -1);
    assert_string_equal(err_msg(), "run: remote nas: held (pid 7)");
    assert_int_equal(err_get_kind(), ERR_LOCKED); /* context never changes the kind */

    /* context on no error at all still yields a failure, never ERR_NONE */
    err_clear();
    err_prefix("a: ");
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(), "a: ");
    err_clear();
    err_suffix("b");
    assert_int_equal(err_get_kind(), ERR_FAIL);
    assert_string_equal(err_msg(), "b");
}

/* Messages are bounded: long text, long prefixes and suffixes are cut, the
 * message stays NUL-terminated and keeps its start. */
static void test_bounds(void **state)
{
    (void)state;
    static char big[8192];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    err_set(ERR_FAIL, "%s", big);
    size_t max = strlen(err_msg());
    assert_true(max >= 1024 && max < sizeof big);
    /* a prefix still comes first: the end of the message gives way */
    err_prefix("ctx: ");
    assert_int_equal(strlen(err_msg()), max);
    assert_int_equal(strncmp(err_msg(), "ctx: mmm", 8), 0);
    /* a suffix on a full message changes nothing and overflows nothing */
    err_suffix("%s", "tail");
    assert_int_equal(strlen(err_msg()), max);
    assert_null(strstr(err_msg(), "tail"));
    /* a prefix longer than the message can hold */
    err_set(ERR_USAGE, "short");
    static char huge[8192];
    memset(huge, 'p', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    err_prefix("%s", huge);
    assert_true(strlen(err_msg()) <= max);
    assert_int_equal(err_msg()[0], 'p');
    assert_int_equal(err_get_kind(), ERR_USAGE);
    /* err_sys on a full message: bounded too */
    err_sys(ERR_FAIL, EIO, "%s", big);
    assert_int_equal(strlen(err_msg()), max);
}

static void *other_thread(void *arg)
{
    int *seen = arg;
    /* a new thread starts without an error, whatever the creator has */
    seen[0] = err_get_kind();
    seen[1] = err_msg()[0];
    err_set(ERR_STALE, "thread's own");
    seen[2] = err_get_kind();
    return NULL;
}

static void test_per_thread(void **state)
{
    (void)state;
    err_set(ERR_INTEGRITY, "main's");
    int seen[3] = {-1, -1, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, seen), 0);
    pthread_join(t, NULL);
    assert_int_equal(seen[0], ERR_NONE);
    assert_int_equal(seen[1], '\0');
    assert_int_equal(seen[2], ERR_STALE);
    assert_int_equal(err_get_kind(), ERR_INTEGRITY); /* untouched by the thread */
    assert_string_equal(err_msg(), "main's");
}

static void test_exit_codes(void **state)
{
    (void)state;
    /* SPEC.md: 0 success, 1 failed, 2 usage, 3 partial, 4 integrity, 5 stale,
     * 6 locked */
    const struct {
        err_kind k;
        int code;
    } map[] = {{ERR_NONE, 0},      {ERR_FAIL, 1},  {ERR_USAGE, 2}, {ERR_PARTIAL, 3},
               {ERR_INTEGRITY, 4}, {ERR_STALE, 5}, {ERR_LOCKED, 6}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        assert_int_equal(err_exit_code(map[i].k), map[i].code);
    /* a value outside the enum is a failure, not success */
    assert_int_equal(err_exit_code((err_kind)99), 1);
}

/* "the first of 2, 6, 4, 1, 3, 5, 0 wins", whatever the order of the
 * arguments. */
static void test_worse_order(void **state)
{
    (void)state;
    const err_kind order[] = {ERR_USAGE,   ERR_LOCKED, ERR_INTEGRITY, ERR_FAIL,
                              ERR_PARTIAL, ERR_STALE,  ERR_NONE};
    const size_t n = sizeof order / sizeof order[0];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(err_worse(order[i], order[i]), order[i]);
        for (size_t j = i + 1; j < n; j++) {
            assert_int_equal(err_worse(order[i], order[j]), order[i]);
            assert_int_equal(err_worse(order[j], order[i]), order[i]);
        }
    }
    /* folding a run's outcomes: the worst one stays */
    err_kind acc = ERR_NONE;
    const err_kind run[] = {ERR_STALE, ERR_PARTIAL, ERR_FAIL, ERR_PARTIAL, ERR_NONE};
    for (size_t i = 0; i < sizeof run / sizeof run[0]; i++)
        acc = err_worse(acc, run[i]);
    assert_int_equal(acc, ERR_FAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_clear),     cmocka_unit_test(test_sys_appends_cause),
        cmocka_unit_test(test_prefix_and_suffix), cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_per_thread),        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_worse_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
