/* remote_drivers: the one place where a remote's configuration becomes its
 * driver's parameters (see remotes.h).  Backends never see config.h. */
#include <string.h>

#include "err.h"
#include "local/local.h"
#include "remotes.h"
#include "signals.h"

/* The cancel hook every driver gets: a SIGINT/SIGTERM/SIGHUP/SIGQUIT
 * received by the process. */
static int signal_pending(void *arg)
{
    (void)arg;
    return signals_pending();
}

static const backend_cancel on_signal = {signal_pending, NULL};

static backend *open_local(const config_remote *rc)
{
    local_params p = {.name = rc->name, .path = rc->path};
    return local_backend_open(&p);
}

backend *remote_backend_open(const config_remote *rc, unsigned flags)
{
    (void)on_signal;
    if (strcmp(rc->type, "local") == 0)
        return open_local(rc);
    return backend_open_ex(rc, flags);
}
