/* remote_drivers: the one place where a remote's configuration becomes its
 * driver's parameters (see remotes.h).  Backends never see config.h. */
#include <string.h>

#include "err.h"
#include "local/local.h"
#include "s3/s3.h"
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

static backend *open_s3(const config_remote *rc, unsigned flags)
{
    s3_params p = {.name = rc->name,
                   .cancel = on_signal,
                   .endpoint = rc->endpoint,
                   .region = rc->region,
                   .bucket = rc->bucket,
                   .prefix = rc->prefix,
                   .url_style = rc->url_style,
                   .credentials = rc->credentials,
                   .profile = rc->profile,
                   .ca_file = rc->ca_file,
                   .connect_timeout = rc->connect_timeout,
                   .io_timeout = rc->io_timeout,
                   .retries = rc->retries,
                   .part_size = rc->part_size,
                   .parallel_parts = rc->parallel_parts};
    return s3_backend_open(&p, flags);
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
    if (strcmp(rc->type, "local") == 0)
        return open_local(rc);
    if (strcmp(rc->type, "s3") == 0)
        return open_s3(rc, flags);
    if (strcmp(rc->type, "sftp") == 0)
        return open_sftp(rc, flags);
    err_set(ERR_USAGE, "remote %s: type %s is not supported", rc->name, rc->type);
    return NULL;
}
