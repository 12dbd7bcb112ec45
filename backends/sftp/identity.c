/* identity: see identity.h. */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes_be.h"
#include "err.h"
#include "private_file.h"

#define IDENTITY_MAX            (64 * 1024)
#define IDENTITY_PASSPHRASE_MAX 4096

/* The key type of a private key file ("ssh-ed25519", "ssh-rsa", ...), ""
 * when unknown.  The OpenSSH format keeps the public part in clear, also
 * for passphrase-protected keys. */
static void identity_type(const char *path, char *out, size_t outlen)
{
    static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    static const char end[] = "-----END OPENSSH PRIVATE KEY-----";
    size_t len = 0;
    *out = '\0';
    char *text =
        private_file_read("identity_file", path, IDENTITY_MAX, PRIVATE_FILE_SECRET, &len, NULL);
    if (!text) {
        err_clear(); /* libssh2 says why it cannot read it, at the connection */
        return;
    }
    if (strstr(text, "-----BEGIN RSA PRIVATE KEY-----")) {
        snprintf(out, outlen, "ssh-rsa");
    } else if (strstr(text, "-----BEGIN EC PRIVATE KEY-----")) {
        snprintf(out, outlen, "ecdsa");
    } else if (strstr(text, "-----BEGIN DSA PRIVATE KEY-----")) {
        snprintf(out, outlen, "ssh-dss");
    } else {
        char *b = strstr(text, begin), *e = b ? strstr(b, end) : NULL;
        size_t cap = len, n = 0;
        unsigned char *bin = sodium_malloc(cap + 1); /* sodium_init: private_file_read */
        if (e && bin &&
            sodium_base642bin(bin, cap, b + sizeof begin - 1, (size_t)(e - b) - (sizeof begin - 1),
                              " \t\r\n", &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
            /* "openssh-key-v1\0" cipher kdf kdfoptions nkeys pubkey(type ...) */
            size_t off = 15;
            if (n > off && memcmp(bin, "openssh-key-v1", 15) == 0) {
                for (int i = 0; i < 3 && off + 4 <= n; i++)
                    off += 4 + be_get32(bin + off);
                off += 4; /* nkeys */
                if (off + 8 <= n) {
                    off += 4; /* public key blob length */
                    uint32_t tl = be_get32(bin + off);
                    off += 4;
                    if (tl < outlen && off + tl <= n) {
                        memcpy(out, bin + off, tl);
                        out[tl] = '\0';
                    }
                }
            }
        }
        if (bin)
            sodium_free(bin); /* the private key too, for an unencrypted one */
    }
    private_file_free(text, PRIVATE_FILE_SECRET);
}

int identity_check(const char *identity_file, const char *passphrase_file)
{
    if (private_file_check("identity_file", identity_file) < 0)
        return -1;
    if (passphrase_file && private_file_check("identity_passphrase_file", passphrase_file) < 0)
        return -1;
    char ktype[64];
    identity_type(identity_file, ktype, sizeof ktype);
    if (strcmp(ktype, "ssh-rsa") == 0 || strcmp(ktype, "ssh-dss") == 0)
        return err_set(ERR_USAGE,
                       "identity_file %s is an %s key: libssh2 1.10 can only sign with plain "
                       "ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse, so RSA identities "
                       "cannot work. Use an ed25519 or ecdsa key (ssh-keygen -t ed25519 -f FILE).",
                       identity_file, ktype);
    return 0;
}

char *identity_passphrase(const char *path, size_t *len)
{
    size_t plen = 0;
    char *pass = private_file_read("identity_passphrase_file", path, IDENTITY_PASSPHRASE_MAX,
                                   PRIVATE_FILE_SECRET, &plen, NULL);
    if (!pass)
        return NULL;
    while (plen && (pass[plen - 1] == '\n' || pass[plen - 1] == '\r'))
        pass[--plen] = '\0';
    *len = plen;
    return pass;
}
