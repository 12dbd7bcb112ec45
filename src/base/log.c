#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "strbuf.h"

static log_level threshold = LOG_LVL_INFO;
static int to_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int status_shown; /* a status line is on stderr, without its newline */

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
    char raw[4096], line[4096];
    if (level > threshold)
        return;
    vsnprintf(raw, sizeof raw, fmt, ap);
    /* names, server replies and child output reach here: nothing in them
     * may act on the terminal */
    strbuf_printable_copy(line, sizeof line, raw);
    pthread_mutex_lock(&log_lock);
    if (status_shown) {
        fputs("\r\033[K", stderr);
        status_shown = 0;
    }
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

void log_status(const char *text)
{
    pthread_mutex_lock(&log_lock);
    if (text) {
        fprintf(stderr, "\r%s\033[K", text);
        status_shown = 1;
    } else if (status_shown) {
        fputs("\r\033[K", stderr);
        status_shown = 0;
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}
