#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct progress {
    int enabled;
    char label[96];
    uint64_t total, done;
    double start, last;
};

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *progress_human(uint64_t bytes, char buf[32])
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

progress *progress_new(int enabled, const char *label, uint64_t total)
{
    progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->enabled = enabled;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->start = p->last = progress_now();
    return p;
}

void progress_add(progress *p, uint64_t bytes)
{
    if (!p)
        return;
    p->done += bytes;
    if (!p->enabled)
        return;
    double now = progress_now();
    if (now - p->last < 0.25)
        return;
    p->last = now;
    char a[32], b[32], c[32], line[256];
    double rate = p->done / (now - p->start > 0 ? now - p->start : 1);
    if (p->total)
        snprintf(line, sizeof line, "%s: %s of %s (%.0f%%), %s/s", p->label,
                 progress_human(p->done, a), progress_human(p->total, b),
                 100.0 * (double)p->done / (double)p->total, progress_human((uint64_t)rate, c));
    else
        snprintf(line, sizeof line, "%s: %s, %s/s", p->label, progress_human(p->done, a),
                 progress_human((uint64_t)rate, b));
    log_status(line);
}

void progress_done(progress *p)
{
    if (!p)
        return;
    if (p->enabled && p->last > p->start)
        log_status(NULL);
    free(p);
}
