/* hostkey: see hostkey.h. */
#include "hostkey.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

/* Host key types: libssh2's host key type, known_hosts type bits, the name
 * in known_hosts, and the host key methods that produce it. */
static const struct {
    int hostkey_type;
    int kh_type;
    const char *name;
    const char *methods;
} key_types[] = {
    {LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519", "ssh-ed25519"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256",
     "ecdsa-sha2-nistp256"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384",
     "ecdsa-sha2-nistp384"},
    {LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521",
     "ecdsa-sha2-nistp521"},
    {LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa",
     "rsa-sha2-512,rsa-sha2-256,ssh-rsa"},
    {LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss", "ssh-dss"},
};
#define N_KEY_TYPES (sizeof key_types / sizeof key_types[0])

void hostkey_free(hostkey_known *k)
{
    if (k->kh)
        libssh2_knownhost_free(k->kh);
    for (size_t i = 0; i < k->n_revoked; i++)
        free(k->revoked[i]);
    free(k->revoked);
    memset(k, 0, sizeof *k);
}

/* Read known_hosts line by line: libssh2_knownhost_readfile() stops at the
 * first line it cannot parse (a marker, a key type it does not know), which
 * would silently drop every later host.  Such lines are skipped instead,
 * like OpenSSH does; "@revoked" keys are remembered and refused. */
static int known_hosts_load(LIBSSH2_SESSION *s, const conn_params *cp, hostkey_known *k)
{
    memset(k, 0, sizeof *k);
    if (!(k->kh = libssh2_knownhost_init(s)))
        return err_set(ERR_FAIL, "out of memory");
    FILE *f = fopen(cp->known_hosts, "re");
    if (!f) {
        if (errno == ENOENT) {
            k->missing = 1;
            return 0;
        }
        return err_sys(ERR_FAIL, errno, "known_hosts %s", cp->known_hosts);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *p = line + strspn(line, " \t");
        if (!*p || *p == '#')
            continue;
        if (strncmp(p, "@revoked", 8) == 0) {
            /* @revoked HOSTS TYPE BASE64 [comment] */
            char *save = NULL, *tok = strtok_r(p, " \t", &save);
            for (int i = 0; i < 3 && tok; i++)
                tok = strtok_r(NULL, " \t", &save);
            if (tok) {
                char **nr = realloc(k->revoked, (k->n_revoked + 1) * sizeof *nr);
                if (nr) {
                    k->revoked = nr;
                    if ((nr[k->n_revoked] = strdup(tok)))
                        k->n_revoked++;
                }
            }
            continue;
        }
        if (*p == '@') {
            log_debug("%s:%d: marker not supported, line skipped", cp->known_hosts, lineno);
            continue;
        }
        if (libssh2_knownhost_readline(k->kh, p, strlen(p), LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0)
            log_warn("%s:%d: line not understood, skipped", cp->known_hosts, lineno);
    }
    free(line);
    fclose(f);
    return 0;
}

/* The host key methods to offer: the types known_hosts records for this
 * host (so a server with several keys shows the recorded one), "" when the
 * host is not recorded; with ALL, every type in OpenSSH's order (ed25519
 * first).  NAMES gets the recorded type names.  A host with an entry of
 * type T answers MISMATCH to a check with a dummy key of type T. */
static void host_key_methods(LIBSSH2_SESSION *s, const conn_params *cp, const hostkey_known *k,
                             int all, char *out, size_t outlen, char *names, size_t nameslen)
{
    const char **algs = NULL;
    int n_algs = libssh2_session_supported_algs(s, LIBSSH2_METHOD_HOSTKEY, &algs);
    *out = '\0';
    *names = '\0';
    for (size_t i = 0; i < N_KEY_TYPES; i++) {
        int rc = libssh2_knownhost_checkp(
            k->kh, cp->host, cp->port, "AAAA", 4,
            LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | key_types[i].kh_type,
            NULL);
        if (rc != LIBSSH2_KNOWNHOST_CHECK_MISMATCH && !all)
            continue;
        if (!all)
            snprintf(names + strlen(names), nameslen - strlen(names), "%s%s", *names ? ", " : "",
                     key_types[i].name);
        /* only methods this libssh2 has */
        char methods[128];
        snprintf(methods, sizeof methods, "%s", key_types[i].methods);
        char *save = NULL;
        for (char *m = strtok_r(methods, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
            int have = n_algs <= 0; /* unknown: offer it anyway */
            for (int j = 0; j < n_algs; j++)
                if (strcmp(algs[j], m) == 0)
                    have = 1;
            if (have)
                snprintf(out + strlen(out), outlen - strlen(out), "%s%s", *out ? "," : "", m);
        }
    }
    if (n_algs > 0)
        libssh2_free(s, algs);
}

int hostkey_prepare(LIBSSH2_SESSION *s, const conn_params *cp, hostkey_known *k)
{
    if (known_hosts_load(s, cp, k) < 0)
        return -1;
    char methods[512];
    host_key_methods(s, cp, k, 0, methods, sizeof methods, k->recorded, sizeof k->recorded);
    if (!*methods) /* not recorded: ask for the key OpenSSH would record */
        host_key_methods(s, cp, k, 1, methods, sizeof methods, k->recorded, sizeof k->recorded);
    if (*methods && libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY, methods) < 0)
        return err_set(ERR_FAIL, "%s: libssh2 supports none of the host key types %s", cp->where,
                       k->recorded);
    return 0;
}

static void b64(const unsigned char *bin, size_t len, int variant, char **out)
{
    size_t cap = sodium_base64_encoded_len(len, variant);
    *out = malloc(cap);
    if (*out)
        sodium_bin2base64(*out, cap, bin, len, variant);
}

/* The known_hosts line to add ends the message, on the same line: log
 * lines escape newlines (a message must not forge lines). */
int hostkey_check(LIBSSH2_SESSION *s, const conn_params *cp, const hostkey_known *k)
{
    size_t klen = 0;
    int type = 0;
    const char *key = libssh2_session_hostkey(s, &klen, &type);
    if (!key || !klen)
        return err_set(ERR_FAIL, "%s: the server sent no host key", cp->where);
    const char *tname = "unknown";
    int kh_type = LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    for (size_t i = 0; i < N_KEY_TYPES; i++)
        if (key_types[i].hostkey_type == type) {
            tname = key_types[i].name;
            kh_type = key_types[i].kh_type;
        }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)key, klen);
    char *fp = NULL, *blob = NULL;
    b64(digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL_NO_PADDING, &fp);
    b64((const unsigned char *)key, klen, sodium_base64_VARIANT_ORIGINAL, &blob);
    if (!fp || !blob) {
        free(fp);
        free(blob);
        return err_set(ERR_FAIL, "out of memory");
    }
    char hostfield[300];
    if (cp->port == 22)
        snprintf(hostfield, sizeof hostfield, "%s", cp->host);
    else
        snprintf(hostfield, sizeof hostfield, "[%s]:%d", cp->host, cp->port);

    int rc = -1;
    int check = libssh2_knownhost_checkp(
        k->kh, cp->host, cp->port, key, klen,
        LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kh_type, NULL);
    for (size_t i = 0; i < k->n_revoked; i++)
        if (strcmp(k->revoked[i], blob) == 0) {
            err_set(ERR_FAIL, "host key of %s (%s SHA256:%s) is marked @revoked in %s: refusing",
                    cp->where, tname, fp, cp->known_hosts);
            goto out;
        }
    switch (check) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
        break;
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
        err_set(ERR_FAIL,
                "WARNING: HOST KEY FOR %s HAS CHANGED! The server now offers %s SHA256:%s, "
                "which is not the key recorded in %s (someone may be intercepting the "
                "connection). Refusing to connect; nothing was sent. If the change is expected, "
                "replace the host's %s line in %s with: %s %s %s",
                cp->where, tname, fp, cp->known_hosts, tname, cp->known_hosts, hostfield, tname,
                blob);
        goto out;
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
        err_set(ERR_FAIL,
                "host %s is not in known_hosts %s%s: refusing to connect; nothing was sent. "
                "The server offers %s key SHA256:%s. After checking this fingerprint with the "
                "server's administrator (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), add this "
                "line to %s: %s %s %s",
                cp->where, cp->known_hosts, k->missing ? " (the file does not exist)" : "", tname,
                fp, cp->known_hosts, hostfield, tname, blob);
        goto out;
    default:
        err_set(ERR_FAIL, "%s: cannot check the host key against %s", cp->where, cp->known_hosts);
        goto out;
    }
    if (cp->pin) {
        const char *want = cp->pin + (strncmp(cp->pin, "SHA256:", 7) == 0 ? 7 : 0);
        size_t wl = strlen(want);
        while (wl && want[wl - 1] == '=')
            wl--;
        if (strlen(fp) != wl || memcmp(fp, want, wl) != 0) {
            err_set(ERR_FAIL,
                    "host key of %s is %s SHA256:%s, not the pinned host_key_fingerprint %s: "
                    "refusing to connect",
                    cp->where, tname, fp, cp->pin);
            goto out;
        }
    }
    log_debug("%s: host key %s SHA256:%s matches %s (recorded: %s)", cp->where, tname, fp,
              cp->known_hosts, k->recorded);
    rc = 0;
out:
    free(fp);
    free(blob);
    return rc;
}
