/* log: human messages on stderr (and optionally syslog).
 *
 * Levels: error and warn always (unless quiet drops warn), info by default,
 * debug with -v.  Never pass a secret to these functions.  Bytes that could
 * act on a terminal (control characters, broken UTF-8) are written as \xNN. */
#ifndef N4O_LOG_H
#define N4O_LOG_H

typedef enum { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level;

/* Set the threshold: messages above it are dropped. */
void log_set_level(log_level level);
log_level log_get_level(void);
/* Also send messages to syslog (ident "neo4j-offsite"). */
void log_use_syslog(int on);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A status line on a terminal (progress): TEXT replaces the previous one on
 * the same line; NULL clears it.  Log lines clear it first, so the two never
 * share a line. */
void log_status(const char *text);

#endif
