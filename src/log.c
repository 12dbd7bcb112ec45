#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static log_level threshold = LOG_LVL_INFO;
static int to_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(log_level level)
{
    threshold = level;
}

log_level log_get_level(void)
{
    return threshold;
}

void log_use_syslog(int on)
{
    if (on && !to_syslog)
        openlog("neo4j-offsite", LOG_PID, LOG_DAEMON);
    to_syslog = on;
}

static void emit(log_level level, const char *fmt, va_list ap)
{
    static const char *const tag[] = {"error: ", "warning: ", "", ""};
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char line[4096];
    if (level > threshold)
        return;
    vsnprintf(line, sizeof line, fmt, ap);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "neo4j-offsite: %s%s\n", tag[level], line);
    fflush(stderr);
    if (to_syslog)
        syslog(prio[level], "%s%s", tag[level], line);
    pthread_mutex_unlock(&log_lock);
}

#define LOG_FN(name, level)                                                                        \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        emit(level, fmt, ap);                                                                      \
        va_end(ap);                                                                                \
    }

LOG_FN(log_error, LOG_LVL_ERROR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)
