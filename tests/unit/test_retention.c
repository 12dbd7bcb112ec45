/* retention: the policy as a table - each case is a set of items (database,
 * age, kind, state), "now", a policy, and the decision and reason expected
 * for every item. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "retention.h"

#define DAY  86400L
#define HOUR 3600L

/* Thursday 2026-12-03 12:00:00 UTC (ISO week 2026-W49) */
static time_t now_utc(void)
{
    struct tm tm = {.tm_year = 126, .tm_mon = 11, .tm_mday = 3, .tm_hour = 12};
    return timegm(&tm);
}

static time_t utc(int y, int mon, int d, int h)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h};
    return timegm(&tm);
}

typedef struct {
    const char *db;
    long age; /* seconds before now; negative: in the future */
    retention_kind kind;
    retention_state state;
    int keep;
    retention_reason reason;
} row;

#define A  RETENTION_ARCHIVE
#define S  RETENTION_SAFETY
#define OK RETENTION_COMPLETE
#define IN RETENTION_INCOMPLETE
#define MI RETENTION_MISSING

static void run_table(const char *what, const row *rows, size_t n, time_t now, retention_policy pol)
{
    retention_item items[64];
    retention_decision out[64];
    for (size_t i = 0; i < n; i++)
        items[i] = (retention_item){rows[i].db, now - rows[i].age, rows[i].kind, rows[i].state};
    memset(out, 0xab, sizeof out);
    assert_int_equal(retention_plan(items, n, now, &pol, out), 0);
    for (size_t i = 0; i < n; i++)
        if (out[i].keep != rows[i].keep || out[i].reason != rows[i].reason)
            fail_msg("%s: item %zu (%s, %ld s old): got %s, expected %s", what, i, rows[i].db,
                     rows[i].age, retention_reason_text(out[i].reason),
                     retention_reason_text(rows[i].reason));
}

static const retention_policy seven = {.keep_days = 7, .min_keep = 3};

static void test_boundary(void **state)
{
    (void)state;
    const row rows[] = {
        {"neo4j", 7 * DAY, A, OK, 1, RETENTION_KEEP_WITHIN_DAYS},   /* exactly 7 x 24 h */
        {"neo4j", 7 * DAY + 1, A, OK, 0, RETENTION_DELETE_EXPIRED}, /* one second more */
        {"neo4j", 0, A, OK, 1, RETENTION_KEEP_WITHIN_DAYS},         /* this second */
        {"neo4j", 1 * DAY, A, OK, 1, RETENTION_KEEP_WITHIN_DAYS},
        {"neo4j", 2 * DAY, A, OK, 1, RETENTION_KEEP_WITHIN_DAYS},
    };
    run_table("boundary", rows, sizeof rows / sizeof rows[0], now_utc(), seven);
}

static void test_only_stale(void **state)
{
    (void)state;
    /* backups stopped three weeks ago: min_keep saves the 3 newest */
    const row rows[] = {
        {"neo4j", 30 * DAY, A, OK, 0, RETENTION_DELETE_EXPIRED},
        {"neo4j", 21 * DAY, A, OK, 1, RETENTION_KEEP_MIN_KEEP},
        {"neo4j", 25 * DAY, A, OK, 0, RETENTION_DELETE_EXPIRED},
        {"neo4j", 23 * DAY, A, OK, 1, RETENTION_KEEP_MIN_KEEP},
        {"neo4j", 22 * DAY, A, OK, 1, RETENTION_KEEP_MIN_KEEP},
    };
    run_table("only stale", rows, sizeof rows / sizeof rows[0], now_utc(), seven);
    /* min_keep 0: the shelf may empty only when asked for */
    const row none[] = {{"neo4j", 30 * DAY, A, OK, 0, RETENTION_DELETE_EXPIRED}};
    run_table("min_keep 0", none, 1, now_utc(), (retention_policy){.keep_days = 7});
}

static void test_incomplete_and_missing(void **state)
{
    (void)state;
    /* incomplete uploads are neither deleted nor counted; a missing
     * archive is not a backup: min_keep looks past both */
    const row rows[] = {
        {"neo4j", 20 * DAY, A, IN, 1, RETENTION_KEEP_INCOMPLETE},
        {"neo4j", 21 * DAY, A, MI, 0, RETENTION_DELETE_EXPIRED},
        {"neo4j", 2 * DAY, A, MI, 1, RETENTION_KEEP_WITHIN_DAYS},
        {"neo4j", 22 * DAY, A, OK, 1, RETENTION_KEEP_MIN_KEEP},
        {"neo4j", 23 * DAY, A, OK, 1, RETENTION_KEEP_MIN_KEEP},
        {"neo4j", 24 * DAY, A, OK, 1, RETENTION_KEEP_MIN_KEEP},
        {"neo4j", 25 * DAY, A, OK, 0, RETENTION_DELETE_EXPIRED},
        {"neo4j", 1 * HOUR, A, IN, 1, RETENTION_KEEP_INCOMPLETE},
    };
    run_table("incomplete and missing", rows, sizeof rows / sizeof rows[0], now_utc(), seven);
}

static void test_databases_apart(void **state)
{
    (void)state;
    /* system's fresh backups do not let neo4j's old ones go, and back */
    const row rows[] = {
        {"neo4j", 10 * DAY, A, OK, 1, RETENTION_KEEP_MIN_KEEP},
        {"system", 1 * DAY, A, OK, 1, RETENTION_KEEP_WITHIN_DAYS},
        {"neo4j", 11 * DAY, A, OK, 0, RETENTION_DELETE_EXPIRED},
        {"system", 2 * DAY, A, OK, 1, RETENTION_KEEP_WITHIN_DAYS},
        {"system", 3 * DAY, A, OK, 1, RETENTION_KEEP_WITHIN_DAYS},
        {"system", 9 * DAY, A, OK, 0, RETENTION_DELETE_EXPIRED},
    };
    run_table("databases", rows, sizeof rows / sizeof rows[0], now_utc(),
              (retention_policy){.keep_days = 7, .min_keep = 1});
}

static void test_weekly_monthly(void **state)
{
    (void)state;
    time_t now = now_utc(); /* Thu 2026-12-03, W49 */
    retention_policy pol = {.keep_days = 2, .min_keep = 1, .keep_weekly = 3, .keep_monthly = 3};
    /* dates, not ages: W49 (Nov 30 - Dec 6), W48 (Nov 23 - 29), W47, W46 */
    const time_t t[] = {
        utc(2026, 12, 3, 6),   /* W49, within 2 days */
        utc(2026, 11, 30, 1),  /* W49 Monday: not the newest of W49, the newest of November */
        utc(2026, 11, 29, 23), /* W48 Sunday: the newest of W48 */
        utc(2026, 11, 24, 1),  /* W48: older */
        utc(2026, 11, 18, 1),  /* W47: newest of W47 */
        utc(2026, 11, 10, 1),  /* W46: a week too old, not the newest of November */
        utc(2026, 10, 31, 1),  /* newest of October */
        utc(2026, 10, 2, 1),   /* October, older */
        utc(2026, 9, 30, 1),   /* September: past 3 months (Dec, Nov, Oct) */
    };
    const row rows[] = {
        {"neo4j", (long)(now - t[0]), A, OK, 1, RETENTION_KEEP_WITHIN_DAYS},
        {"neo4j", (long)(now - t[1]), A, OK, 1, RETENTION_KEEP_MONTHLY},
        {"neo4j", (long)(now - t[2]), A, OK, 1, RETENTION_KEEP_WEEKLY},
        {"neo4j", (long)(now - t[3]), A, OK, 0, RETENTION_DELETE_EXPIRED},
        {"neo4j", (long)(now - t[4]), A, OK, 1, RETENTION_KEEP_WEEKLY},
        {"neo4j", (long)(now - t[5]), A, OK, 0, RETENTION_DELETE_EXPIRED},
        {"neo4j", (long)(now - t[6]), A, OK, 1, RETENTION_KEEP_MONTHLY},
        {"neo4j", (long)(now - t[7]), A, OK, 0, RETENTION_DELETE_EXPIRED},
        {"neo4j", (long)(now - t[8]), A, OK, 0, RETENTION_DELETE_EXPIRED},
    };
    run_table("weekly and monthly", rows, sizeof rows / sizeof rows[0], now, pol);
    /* ISO weeks across a year: 2027-01-01 (a Friday) is in 2026-W53 */
    pol = (retention_policy){.keep_days = 0, .min_keep = 0, .keep_weekly = 1};
    time_t jan = utc(2027, 1, 2, 12); /* Saturday, 2026-W53 */
    const row year[] = {
        {"neo4j", (long)(jan - utc(2026, 12, 28, 1)), A, OK, 0, RETENTION_DELETE_EXPIRED},
        {"neo4j", (long)(jan - utc(2027, 1, 1, 1)), A, OK, 1, RETENTION_KEEP_WEEKLY},
        {"neo4j", (long)(jan - utc(2026, 12, 27, 1)), A, OK, 0, RETENTION_DELETE_EXPIRED},
    };
    run_table("week across the year", year, sizeof year / sizeof year[0], jan, pol);
}

static void test_future(void **state)
{
    (void)state;
    /* a clock gone wrong: kept, and not counted among min_keep */
    const row rows[] = {
        {"neo4j", -3 * DAY, A, OK, 1, RETENTION_KEEP_FUTURE},
        {"neo4j", -1, A, OK, 1, RETENTION_KEEP_FUTURE},
        {"neo4j", 30 * DAY, A, OK, 1, RETENTION_KEEP_MIN_KEEP},
        {"neo4j", 31 * DAY, A, OK, 0, RETENTION_DELETE_EXPIRED},
    };
    run_table("future", rows, sizeof rows / sizeof rows[0], now_utc(),
              (retention_policy){.keep_days = 7, .min_keep = 1});
}

static void test_safety_dumps(void **state)
{
    (void)state;
    /* the newest safety dump always stays; safety dumps never count
     * toward min_keep */
    const row rows[] = {
        {"neo4j", 40 * DAY, S, OK, 1, RETENTION_KEEP_NEWEST_SAFETY},
        {"neo4j", 50 * DAY, S, OK, 0, RETENTION_DELETE_EXPIRED},
        {"neo4j", 60 * DAY, A, OK, 1, RETENTION_KEEP_MIN_KEEP},
        {"neo4j", 61 * DAY, A, OK, 0, RETENTION_DELETE_EXPIRED},
        {"system", 3 * DAY, S, OK, 1, RETENTION_KEEP_NEWEST_SAFETY},
        {"system", 4 * DAY, S, OK, 1, RETENTION_KEEP_WITHIN_DAYS},
        {"system", 9 * DAY, S, OK, 0, RETENTION_DELETE_EXPIRED},
    };
    run_table("safety dumps", rows, sizeof rows / sizeof rows[0], now_utc(),
              (retention_policy){.keep_days = 7, .min_keep = 1});
}

static void test_empty_and_texts(void **state)
{
    (void)state;
    retention_decision d;
    assert_int_equal(retention_plan(NULL, 0, now_utc(), &seven, &d), 0);
    for (int r = RETENTION_KEEP_WITHIN_DAYS; r <= RETENTION_DELETE_EXPIRED; r++)
        assert_string_not_equal(retention_reason_text((retention_reason)r), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),
        cmocka_unit_test(test_only_stale),
        cmocka_unit_test(test_incomplete_and_missing),
        cmocka_unit_test(test_databases_apart),
        cmocka_unit_test(test_weekly_monthly),
        cmocka_unit_test(test_future),
        cmocka_unit_test(test_safety_dumps),
        cmocka_unit_test(test_empty_and_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
