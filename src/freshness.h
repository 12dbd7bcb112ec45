/* freshness: is a target's newest backup young enough?  The one rule that
 * status and audit apply to every remote, database and the local
 * directory. */
#ifndef N4O_FRESHNESS_H
#define N4O_FRESHNESS_H

#include <time.h>

#define FRESHNESS_DEFAULT_MAX_AGE_H 25.0
#define FRESHNESS_FUTURE_SKEW_H     1.0 /* a clock this far ahead is tolerated */

typedef enum {
    FRESH_OK,
    FRESH_STALE,  /* older than the limit */
    FRESH_NONE,   /* no backup at all */
    FRESH_FUTURE, /* dated ahead of the clock: it would look fresh forever */
} freshness;

/* "ok", "stale", "none", "future" */
const char *freshness_name(freshness f);

/* The state of a newest backup made at CREATED (HAVE 0: there is none),
 * judged at NOW against MAX_AGE_H hours (0: anything is too old); *AGE_H
 * gets its age in hours (0 when none). */
freshness freshness_judge(int have, time_t created, time_t now, double max_age_h, double *age_h);

/* --max-age HOURS: S (NULL: the default) into *OUT; -1 when S is not a
 * number of hours from 0 to ten years. */
int freshness_parse_max_age(const char *s, double *out);

#endif
