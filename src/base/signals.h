/* signals: SIGINT, SIGTERM, SIGHUP (a dropped session) and SIGQUIT become a
 * flag that long work polls, so cleanup (start_command, aborting writers)
 * always runs before the tool exits. */
#ifndef N4O_SIGNALS_H
#define N4O_SIGNALS_H

/* Install the handlers (without SA_RESTART, so blocking calls return EINTR)
 * and ignore SIGPIPE. */
void signals_install(void);
/* The first signal received, 0 when none. */
int signals_pending(void);
/* Forget a pending signal (tests). */
void signals_reset(void);

#endif
