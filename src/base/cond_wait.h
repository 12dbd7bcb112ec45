/* cond_wait: pthread_cond_wait for at most MS milliseconds, for waits that
 * must look at something else (a signal, a cancel hook, a deadline) while
 * they wait.  Callers loop, re-checking their condition. */
#ifndef N4O_COND_WAIT_H
#define N4O_COND_WAIT_H

#include <pthread.h>
#include <time.h>

static inline void cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

#endif
