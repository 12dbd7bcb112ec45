#include "signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t pending;

static void on_signal(int signo)
{
    if (!pending)
        pending = signo;
}

void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* a dropped SSH session (SIGHUP) or ^\ must not kill a run between
     * stop_command and start_command: they take the SIGTERM path */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int signals_pending(void)
{
    return pending;
}

void signals_reset(void)
{
    pending = 0;
}
