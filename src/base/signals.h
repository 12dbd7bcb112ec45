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
/* Hold signals (nestable) while a step must not be cut short (restore's
 * load: a half-loaded store is worse than a late exit): signals_pending()
 * says 0 until signals_release(); a signal received meanwhile is kept and
 * reported from then on.  SIGKILL cannot be held. */
void signals_hold(void);
void signals_release(void);
/* The first signal received, held or not (to say that one came). */
int signals_received(void);
/* Forget a pending signal (tests). */
void signals_reset(void);

#endif
