/* retention: see retention.h. */
#include "retention.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define DAY 86400L

/* ISO week of T (UTC) as a number that orders weeks: ISO year x 100 + week. */
static long iso_week(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    /* ISO 8601: the week with the year's first Thursday is week 1; weeks
     * start on Monday.  The Thursday of T's week decides its ISO year. */
    int wday = (tm.tm_wday + 6) % 7; /* Monday 0 .. Sunday 6 */
    time_t thursday = t - (time_t)wday * DAY + 3 * DAY;
    struct tm th;
    gmtime_r(&thursday, &th);
    return (long)(th.tm_year + 1900) * 100 + th.tm_yday / 7 + 1;
}

/* Calendar month of T (UTC) as year x 12 + month. */
static long month_of(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    return (long)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* The ISO weeks that count: NOW's and the COUNT - 1 before it. */
static int in_last_weeks(long week, time_t now, int count)
{
    for (int i = 0; i < count; i++)
        if (iso_week(now - (time_t)i * 7 * DAY) == week)
            return 1;
    return 0;
}

static int in_last_months(long month, time_t now, int count)
{
    long cur = month_of(now);
    return month <= cur && month > cur - count;
}

typedef struct {
    size_t index;
    time_t time;
} by_time;

static int newest_first(const void *a, const void *b)
{
    const by_time *x = a, *y = b;
    if (x->time != y->time)
        return x->time > y->time ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Decide the items of one database (indexes IDX, N of them). */
static void plan_database(const retention_item *items, const size_t *idx, size_t n, time_t now,
                          const retention_policy *p, retention_decision *out, by_time *scratch)
{
    /* complete archives dated up to now, newest first */
    size_t nc = 0;
    time_t newest_safety = 0;
    int any_safety = 0;
    for (size_t k = 0; k < n; k++) {
        const retention_item *it = &items[idx[k]];
        if (it->kind == RETENTION_SAFETY) {
            /* the newest good one: an empty or invalid one keeps nothing */
            int good = it->state == RETENTION_COMPLETE && it->time <= now;
            if (good && (!any_safety || it->time > newest_safety))
                newest_safety = it->time;
            any_safety |= good;
            continue;
        }
        if (it->state == RETENTION_COMPLETE && it->time <= now)
            scratch[nc++] = (by_time){idx[k], it->time};
    }
    qsort(scratch, nc, sizeof *scratch, newest_first);

    for (size_t k = 0; k < n; k++) {
        const retention_item *it = &items[idx[k]];
        retention_decision *d = &out[idx[k]];
        int within = now - it->time <= (time_t)p->keep_days * DAY;
        d->keep = 1;
        if (it->time > now) {
            d->reason = RETENTION_KEEP_FUTURE;
        } else if (it->kind == RETENTION_SAFETY) {
            if (any_safety && it->time == newest_safety && it->state == RETENTION_COMPLETE)
                d->reason = RETENTION_KEEP_NEWEST_SAFETY;
            else if (within)
                d->reason = RETENTION_KEEP_WITHIN_DAYS;
            else
                *d = (retention_decision){0, RETENTION_DELETE_EXPIRED};
        } else if (it->state == RETENTION_INCOMPLETE) {
            d->reason = RETENTION_KEEP_INCOMPLETE;
        } else if (within) {
            d->reason = RETENTION_KEEP_WITHIN_DAYS;
        } else {
            *d = (retention_decision){0, RETENTION_DELETE_EXPIRED};
        }
    }
    /* what saves complete archives past the window: min_keep, then the
     * newest of each week and month that counts */
    long last_week = 0, last_month = 0;
    for (size_t r = 0; r < nc; r++) {
        retention_decision *d = &out[scratch[r].index];
        long week = iso_week(scratch[r].time), month = month_of(scratch[r].time);
        int first_of_week = r == 0 || week != last_week;
        int first_of_month = r == 0 || month != last_month;
        last_week = week;
        last_month = month;
        if (d->keep)
            continue;
        if (r < (size_t)(p->min_keep > 0 ? p->min_keep : 0))
            *d = (retention_decision){1, RETENTION_KEEP_MIN_KEEP};
        else if (first_of_week && in_last_weeks(week, now, p->keep_weekly))
            *d = (retention_decision){1, RETENTION_KEEP_WEEKLY};
        else if (first_of_month && in_last_months(month, now, p->keep_monthly))
            *d = (retention_decision){1, RETENTION_KEEP_MONTHLY};
    }
}

int retention_plan(const retention_item *items, size_t n, time_t now,
                   const retention_policy *policy, retention_decision *out)
{
    if (n == 0)
        return 0;
    size_t *idx = malloc(n * sizeof *idx);
    by_time *scratch = malloc(n * sizeof *scratch);
    char *done = calloc(n, 1);
    if (!idx || !scratch || !done) {
        free(idx);
        free(scratch);
        free(done);
        return err_set(ERR_FAIL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && strcmp(items[j].database, items[i].database) == 0) {
                idx[m++] = j;
                done[j] = 1;
            }
        plan_database(items, idx, m, now, policy, out, scratch);
    }
    free(idx);
    free(scratch);
    free(done);
    return 0;
}

const char *retention_reason_text(retention_reason r)
{
    switch (r) {
    case RETENTION_KEEP_WITHIN_DAYS:
        return "within keep_days";
    case RETENTION_KEEP_MIN_KEEP:
        return "one of the min_keep newest complete backups";
    case RETENTION_KEEP_WEEKLY:
        return "the newest of its ISO week (keep_weekly)";
    case RETENTION_KEEP_MONTHLY:
        return "the newest of its month (keep_monthly)";
    case RETENTION_KEEP_FUTURE:
        return "dated in the future (check the clock)";
    case RETENTION_KEEP_INCOMPLETE:
        return "incomplete (removed once older than 24 h)";
    case RETENTION_KEEP_NEWEST_SAFETY:
        return "the newest safety dump";
    case RETENTION_DELETE_EXPIRED:
        return "older than keep_days";
    }
    return "?";
}
