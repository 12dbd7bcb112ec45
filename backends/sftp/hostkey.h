/* hostkey: the server is the one known_hosts says, before anything is sent.
 *
 * What it promises:
 * - known_hosts (OpenSSH's format) is read line by line: a line libssh2
 *   does not understand is skipped with a warning, a marker other than
 *   "@revoked" with a debug line, and neither hides the lines after it.  A
 *   missing file counts as empty (every host is then unknown).  (libssh2
 *   1.10 also matches a plain "host" entry for a port other than 22.)
 * - The handshake asks for the host key types known_hosts records for the
 *   host (so a server with several keys shows the recorded one), or, for a
 *   host not recorded, for every type in OpenSSH's order (ed25519 first).
 * - A key is accepted only when known_hosts records it for the host, it is
 *   not marked "@revoked", and it has the SHA256 fingerprint pinned by
 *   host_key_fingerprint when one is set.  Every refusal names host:port,
 *   the key type and its SHA256 fingerprint; for an unknown or changed key
 *   the message ends with the known_hosts line to add (on the same line). */
#ifndef N4O_SFTP_HOSTKEY_H
#define N4O_SFTP_HOSTKEY_H

#include <libssh2.h>
#include <stddef.h>

#include "conn.h"

/* A known_hosts file as read for one connection. */
typedef struct {
    LIBSSH2_KNOWNHOSTS *kh;
    char **revoked; /* base64 key blobs of "@revoked" lines */
    size_t n_revoked;
    int missing;        /* the file does not exist (treated as empty) */
    char recorded[256]; /* the host's key types in it ("ssh-ed25519, ..."), "" when none */
} hostkey_known;

/* Before the handshake of session S with P's host: read P->known_hosts
 * into K and make S ask for the key types it records.  -1 with the error
 * set (the file cannot be read, libssh2 supports none of those types). */
int hostkey_prepare(LIBSSH2_SESSION *s, const conn_params *p, hostkey_known *k);
/* After the handshake: 0 when the host key S received is accepted (see
 * above), else -1 with the error set. */
int hostkey_check(LIBSSH2_SESSION *s, const conn_params *p, const hostkey_known *k);
/* Free what K holds (K zeroed: freeing again is a no-op). */
void hostkey_free(hostkey_known *k);

#endif
