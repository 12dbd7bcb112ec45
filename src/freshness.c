#include "freshness.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

const char *freshness_name(freshness f)
{
    static const char *const names[] = {"ok", "stale", "none", "future"};
    return names[f];
}

freshness freshness_judge(int have, time_t created, time_t now, double max_age_h, double *age_h)
{
    *age_h = 0;
    if (!have)
        return FRESH_NONE;
    *age_h = difftime(now, created) / 3600.0;
    /* --max-age 0: anything is too old; a name dated ahead of the clock
     * would look fresh forever and hide backups that stopped */
    if (*age_h < -FRESHNESS_FUTURE_SKEW_H)
        return FRESH_FUTURE;
    return *age_h >= max_age_h ? FRESH_STALE : FRESH_OK;
}

int freshness_parse_max_age(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : FRESHNESS_DEFAULT_MAX_AGE_H;
    if (s && (end == s || *end || errno || !isfinite(v) || v < 0 || v > 24 * 3650))
        return -1;
    *out = v;
    return 0;
}
