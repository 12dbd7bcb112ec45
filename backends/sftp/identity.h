/* identity: the local files that say who the tool is to an SSH server (the
 * private key and the file holding its passphrase).
 *
 * What it promises:
 * - Both files must be regular files that group and others may not read
 *   (private_file.h): otherwise an ERR_USAGE error naming the key and the
 *   file (and the chmod that fixes it), before any connection is made.
 * - An RSA or DSA identity is refused up front (ERR_USAGE, saying why and
 *   what to use): libssh2 1.10 signs only with plain ssh-rsa (SHA-1), which
 *   OpenSSH 8.8 and later refuse.  The key type is read from the key's
 *   public part, in clear also in passphrase-protected OpenSSH keys.
 * - Key and passphrase are read into sodium memory only, and wiped. */
#ifndef N4O_SFTP_IDENTITY_H
#define N4O_SFTP_IDENTITY_H

#include <stddef.h>

/* Check IDENTITY_FILE and PASSPHRASE_FILE (NULL: none) as above: 0, or -1
 * with the error set. */
int identity_check(const char *identity_file, const char *passphrase_file);
/* The passphrase in PATH (at most 4096 bytes, without its trailing line
 * ends), its length in *LEN, in sodium memory: free with
 * private_file_free(P, PRIVATE_FILE_SECRET).  NULL with the error set
 * (ERR_USAGE, naming the file). */
char *identity_passphrase(const char *path, size_t *len);

#endif
