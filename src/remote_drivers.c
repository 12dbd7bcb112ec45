/* remote_drivers: the one place where a remote's configuration becomes its
 * driver's parameters (see remotes.h).  Backends never see config.h. */
#include <string.h>

#include "err.h"
#include "local/local.h"
#include "remotes.h"
#include "sftp/sftp.h"
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

static backend *open_sftp(const config_remote *rc, unsigned flags)
{
    sftp_params p = {
        .name = rc->name,
        .cancel = on_signal,
        .host = rc->host,
        .port = rc->port,
        .user = rc->user,
        .path = rc->path,
        .identity_file = rc->identity_file,
        .identity_passphrase_file = rc->identity_passphrase_file,
        .known_hosts = rc->known_hosts,
        .host_key_fingerprint = rc->host_key_fingerprint,
        .connect_timeout = rc->connect_timeout,
        .io_timeout = rc->io_timeout,
        .retries = rc->retries,
        .parallel_streams = rc->parallel_streams,
    };
    return sftp_backend_open(&p, flags);
}

backend *remote_backend_open(const config_remote *rc, unsigned flags)
{
    (void)on_signal;
    if (strcmp(rc->type, "local") == 0)
        return open_local(rc);
    if (strcmp(rc->type, "sftp") == 0)
        return open_sftp(rc, flags);
    return backend_open_ex(rc, flags);
}
