/* progress: a one-line progress display on stderr (bytes, rate), redrawn at
 * most a few times a second; silent when disabled. */
#ifndef N4O_PROGRESS_H
#define N4O_PROGRESS_H

#include <stdint.h>

typedef struct progress progress;

/* LABEL is shown before the counters; TOTAL 0 when unknown. */
progress *progress_new(int enabled, const char *label, uint64_t total);
void progress_add(progress *p, uint64_t bytes);
/* Clear the line and free P; NULL is a no-op. */
void progress_done(progress *p);

/* Seconds since an arbitrary start, monotonic. */
double progress_now(void);
/* "1.5 GiB" style, into BUF. */
const char *progress_human(uint64_t bytes, char buf[32]);

#endif
