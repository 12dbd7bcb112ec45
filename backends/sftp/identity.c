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

#include "err.h"

/* Secret files must be private (SPEC.md): exit 2 otherwise. */
static int check_private(const char *key, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return err_sys(ERR_USAGE, errno, "%s %s", key, path);
    if (!S_ISREG(st.st_mode))
        return err_set(ERR_USAGE, "%s %s is not a regular file", key, path);
    if (st.st_mode & 077)
        return err_set(ERR_USAGE, "%s %s is readable by group or others (mode %04o): chmod 600 %s",
                       key, path, (unsigned)(st.st_mode & 07777), path);
    return 0;
}

/* Read at most MAX bytes of PATH into a NUL-terminated buffer. */
static char *slurp(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = malloc(max + 1);
    size_t used = 0;
    while (buf && used < max) {
        ssize_t n = read(fd, buf + used, max - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    if (buf) {
        buf[used] = '\0';
        *len = used;
    }
    return buf;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The key type of a private key file ("ssh-ed25519", "ssh-rsa", ...), ""
 * when unknown.  The OpenSSH format keeps the public part in clear, also
 * for passphrase-protected keys. */
static void identity_type(const char *path, char *out, size_t outlen)
{
    static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    static const char end[] = "-----END OPENSSH PRIVATE KEY-----";
    size_t len = 0;
    *out = '\0';
    char *text = slurp(path, 64 * 1024, &len);
    if (!text)
        return;
    if (strstr(text, "-----BEGIN RSA PRIVATE KEY-----")) {
        snprintf(out, outlen, "ssh-rsa");
    } else if (strstr(text, "-----BEGIN EC PRIVATE KEY-----")) {
        snprintf(out, outlen, "ecdsa");
    } else if (strstr(text, "-----BEGIN DSA PRIVATE KEY-----")) {
        snprintf(out, outlen, "ssh-dss");
    } else {
        char *b = strstr(text, begin), *e = b ? strstr(b, end) : NULL;
        size_t cap = len, n = 0;
        unsigned char *bin = malloc(cap + 1);
        if (e && bin &&
            sodium_base642bin(bin, cap, b + sizeof begin - 1, (size_t)(e - b) - (sizeof begin - 1),
                              " \t\r\n", &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
            /* "openssh-key-v1\0" cipher kdf kdfoptions nkeys pubkey(type ...) */
            size_t off = 15;
            if (n > off && memcmp(bin, "openssh-key-v1", 15) == 0) {
                for (int i = 0; i < 3 && off + 4 <= n; i++)
                    off += 4 + be32(bin + off);
                off += 4; /* nkeys */
                if (off + 8 <= n) {
                    off += 4; /* public key blob length */
                    uint32_t tl = be32(bin + off);
                    off += 4;
                    if (tl < outlen && off + tl <= n) {
                        memcpy(out, bin + off, tl);
                        out[tl] = '\0';
                    }
                }
            }
        }
        free(bin);
    }
    sodium_memzero(text, len);
    free(text);
}

int identity_check(const char *identity_file, const char *passphrase_file)
{
    if (check_private("identity_file", identity_file) < 0)
        return -1;
    if (passphrase_file && check_private("identity_passphrase_file", passphrase_file) < 0)
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
    char *pass = slurp(path, 4096, &plen);
    if (!pass) {
        err_sys(ERR_USAGE, errno, "identity_passphrase_file %s", path);
        return NULL;
    }
    while (plen && (pass[plen - 1] == '\n' || pass[plen - 1] == '\r'))
        pass[--plen] = '\0';
    *len = plen;
    return pass;
}
