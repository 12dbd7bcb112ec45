#include "signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t pending;
static int held; /* signals_hold() depth (the main thread's) */

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
    return __atomic_load_n(&held, __ATOMIC_RELAXED) ? 0 : pending;
}

void signals_hold(void)
{
    __atomic_add_fetch(&held, 1, __ATOMIC_RELAXED);
}

void signals_release(void)
{
    if (__atomic_load_n(&held, __ATOMIC_RELAXED) > 0)
        __atomic_sub_fetch(&held, 1, __ATOMIC_RELAXED);
}

int signals_received(void)
{
    return pending;
}

void signals_reset(void)
{
    pending = 0;
}
