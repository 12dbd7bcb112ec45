/* keys: key files, key ids and passphrase wrapping (docs/FORMAT.md). */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes_be.h"
#include "err.h"
#include "private_file.h"

/* A key file is a few hundred bytes; anything much larger is not one. */
#define KEYFILE_MAX    4096
#define PASSPHRASE_MAX 1024

#define SALT_BYTES       16 /* crypto_pwhash_SALTBYTES */
#define WRAP_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define WRAP_BYTES                                                                                 \
    (SALT_BYTES + 8 + 8 + WRAP_NONCE_BYTES + 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES)

/* Sanity bounds on the Argon2id cost read from a wrapped file: a corrupt
 * file must not make us allocate terabytes or spin for hours. */
#define WRAP_OPS_MAX 64ull
#define WRAP_MEM_MAX (4ull << 30)

struct keys_secret {
    keys_public pub;
    uint8_t sk[crypto_sign_SECRETKEYBYTES]; /* X25519: first 32 bytes */
};

typedef struct {
    const char *pub_label, *key_label, *wrapped_label;
    const char *what; /* for messages */
    const char *file; /* usual file name */
    /* The [keys] settings (docs/CONFIG.md) that name the public and the secret
     * file, so that a message says which setting points at the wrong one. */
    const char *pub_setting, *key_setting;
} kind_info;

static const kind_info kinds[] = {
    [KEYS_ARCHIVE] = {"N4O-ARCHIVE-PUB-1", "N4O-ARCHIVE-KEY-1", "N4O-ARCHIVE-KEY-ARGON2ID-1",
                      "archive", "archive", "public_key", "secret_key"},
    [KEYS_SIGNING] = {"N4O-SIGNING-PUB-1", "N4O-SIGNING-KEY-1", "N4O-SIGNING-KEY-ARGON2ID-1",
                      "signing", "signing", "verify_key", "signing_key"},
};

/* The kind of key file LABEL starts, and whether it is secret; -1 when it
 * is none of ours. */
static int label_kind(const char *label, keys_kind *kind, int *secret)
{
    for (int k = KEYS_ARCHIVE; k <= KEYS_SIGNING; k++) {
        const kind_info *ki = &kinds[k];
        int pub = strcmp(label, ki->pub_label) == 0;
        if (pub || strcmp(label, ki->key_label) == 0 || strcmp(label, ki->wrapped_label) == 0) {
            *kind = (keys_kind)k;
            *secret = !pub;
            return 0;
        }
    }
    return -1;
}

void keys_id(const uint8_t key[32], uint8_t id[KEYS_ID_BYTES])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, key, 32, NULL, 0);
    memcpy(id, h, KEYS_ID_BYTES);
}

void keys_id_hex(const uint8_t id[KEYS_ID_BYTES], char out[KEYS_ID_HEX])
{
    sodium_bin2hex(out, KEYS_ID_HEX, id, KEYS_ID_BYTES);
}

int keys_id_parse(const char *hex, uint8_t id[KEYS_ID_BYTES])
{
    for (size_t i = 0; i < 2 * KEYS_ID_BYTES; i++) {
        char c = hex[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
    }
    if (hex[2 * KEYS_ID_BYTES] != '\0')
        return -1;
    size_t n = 0;
    if (sodium_hex2bin(id, KEYS_ID_BYTES, hex, 2 * KEYS_ID_BYTES, NULL, &n, NULL) != 0 ||
        n != KEYS_ID_BYTES)
        return -1;
    return 0;
}

/* The advice for a secret file that group or others may read. */
/* A whole key or passphrase file (private_file.h: regular, small and,
 * when SECRET, private unless the caller takes MODE), NUL-terminated; free
 * with sodium_free for secrets, free() otherwise. */
static char *read_small_file(const char *path, int secret, size_t *len, mode_t *mode)
{
    return private_file_read("", path, KEYFILE_MAX, secret ? PRIVATE_FILE_SECRET : 0, len, mode);
}

/* Find the data line of a key file: skip '#' comment lines and empty
 * lines; the data line is "LABEL BASE64" and only an end of file (after an
 * optional newline) may follow.  Points into TEXT (which is modified: the
 * space and newline become NULs). */
static int split_key_file(const char *path, char *text, size_t len, char **label, char **b64)
{
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        if (line_end == p || *p == '#') {
            p = nl ? nl + 1 : end;
            continue;
        }
        if (memchr(p, '\0', (size_t)(line_end - p)))
            break;
        char *sp = memchr(p, ' ', (size_t)(line_end - p));
        if (!sp)
            break;
        char *rest = nl ? nl + 1 : end;
        if (rest != end)
            return err_set(ERR_USAGE, "%s: unexpected text after the key line", path);
        *sp = '\0';
        *line_end = '\0';
        *label = p;
        *b64 = sp + 1;
        return 0;
    }
    return err_set(ERR_USAGE, "%s is not a neo4j-offsite key file (no \"LABEL base64\" line)",
                   path);
}

/* Decode BASE64 into exactly WANT bytes at OUT. */
static int decode_b64(const char *path, const char *b64, uint8_t *out, size_t want)
{
    size_t n = 0;
    const char *b64_end = NULL;
    size_t b64_len = strlen(b64);
    if (sodium_base642bin(out, want, b64, b64_len, NULL, &n, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != b64 + b64_len || n != want)
        return err_set(ERR_USAGE, "%s: the key data is corrupt (bad base64 or wrong length)", path);
    return 0;
}

static int wrong_label(const char *path, const char *found, const char *expected)
{
    return err_set(ERR_USAGE, "%s holds a %s key, expected %s", path, found, expected);
}

int keys_load_public(const char *path, keys_kind kind, keys_public *out)
{
    size_t len;
    char *text = read_small_file(path, 0, &len, NULL);
    if (!text)
        return -1;
    char *label, *b64;
    int rc = -1, secret;
    keys_kind found;
    if (split_key_file(path, text, len, &label, &b64) != 0)
        goto done;
    if (label_kind(label, &found, &secret) == 0 && secret) {
        err_set(ERR_USAGE, "%s: this is a secret key (%s.key); %s needs %s.pub", path,
                kinds[found].file, kinds[kind].pub_setting, kinds[kind].file);
        goto done;
    }
    if (strcmp(label, kinds[kind].pub_label) != 0) {
        wrong_label(path, label, kinds[kind].pub_label);
        goto done;
    }
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (decode_b64(path, b64, out->key, 32) != 0)
        goto done;
    if (kind == KEYS_SIGNING) {
        /* Reject a point that cannot be a valid Ed25519 key at load time, so
         * a corrupt verify_key fails as a config error, not as "bad
         * signature" on every archive. */
        uint8_t dummy[32];
        if (crypto_sign_ed25519_pk_to_curve25519(dummy, out->key) != 0) {
            err_set(ERR_USAGE, "%s: not a valid Ed25519 public key", path);
            goto done;
        }
    }
    keys_id(out->key, out->id);
    rc = 0;
done:
    sodium_memzero(text, len); /* it may have been a secret key file */
    free(text);
    return rc;
}

/* The passphrase, in sodium_malloc() memory, NUL-terminated. */
static char *read_passphrase_file(const char *pwfile, size_t *len)
{
    char *pw = read_small_file(pwfile, 1, len, NULL);
    if (!pw)
        return NULL;
    if (*len > 0 && pw[*len - 1] == '\n')
        pw[--*len] = '\0';
    if (*len == 0) {
        sodium_free(pw);
        err_set(ERR_USAGE, "passphrase file %s is empty", pwfile);
        return NULL;
    }
    if (memchr(pw, '\0', *len)) {
        sodium_free(pw);
        err_set(ERR_USAGE, "passphrase file %s contains a NUL byte", pwfile);
        return NULL;
    }
    return pw;
}

static char *prompt_passphrase(const char *keyfile, size_t *len)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        err_set(ERR_USAGE,
                "%s is protected by a passphrase and there is no terminal to ask for it: set %s "
                "to a file (mode 0600) holding the passphrase, or run on a terminal",
                keyfile, KEYS_PASSPHRASE_ENV);
        return NULL;
    }
    char *pw = sodium_malloc(PASSPHRASE_MAX + 1);
    if (!pw) {
        close(fd);
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    struct termios old, quiet;
    int have_termios = tcgetattr(fd, &old) == 0;
    if (have_termios) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    dprintf(fd, "Passphrase for %s: ", keyfile);
    size_t n = 0;
    int rc = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n' || c == '\r')
            break;
        if (n < PASSPHRASE_MAX)
            pw[n++] = c;
        else
            rc = -1;
    }
    pw[n] = '\0';
    if (have_termios)
        tcsetattr(fd, TCSAFLUSH, &old);
    dprintf(fd, "\n");
    close(fd);
    if (rc != 0 || n == 0) {
        sodium_free(pw);
        if (rc != 0)
            err_set(ERR_USAGE, "passphrase longer than %d bytes", PASSPHRASE_MAX);
        else
            err_set(ERR_USAGE, "empty passphrase for %s", keyfile);
        return NULL;
    }
    *len = n;
    return pw;
}

/* Passphrase to unlock KEYFILE: $NEO4J_OFFSITE_PASSPHRASE_FILE, else the
 * terminal. */
static char *get_passphrase(const char *keyfile, size_t *len)
{
    const char *env = getenv(KEYS_PASSPHRASE_ENV);
    if (env && *env) {
        char *pw = read_passphrase_file(env, len);
        if (!pw)
            err_prefix("%s: ", KEYS_PASSPHRASE_ENV);
        return pw;
    }
    return prompt_passphrase(keyfile, len);
}

/* Unwrap PAYLOAD (WRAP_BYTES) into SECRET (32 bytes, sodium memory). */
static int unwrap(const char *path, const char *label, const uint8_t *payload, uint8_t *secret)
{
    const uint8_t *salt = payload;
    uint64_t ops = be_get64(payload + SALT_BYTES);
    uint64_t mem = be_get64(payload + SALT_BYTES + 8);
    const uint8_t *nonce = payload + SALT_BYTES + 16;
    const uint8_t *ct = nonce + WRAP_NONCE_BYTES;
    if (ops < crypto_pwhash_argon2id_OPSLIMIT_MIN || ops > WRAP_OPS_MAX ||
        mem < crypto_pwhash_argon2id_MEMLIMIT_MIN || mem > WRAP_MEM_MAX || mem > SIZE_MAX)
        return err_set(ERR_USAGE, "%s: corrupt key file (Argon2id cost out of range)", path);

    size_t pwlen = 0;
    char *pw = get_passphrase(path, &pwlen);
    if (!pw)
        return -1;
    uint8_t *k = sodium_malloc(32);
    if (!k) {
        sodium_free(pw);
        return err_set(ERR_FAIL, "out of memory");
    }
    int rc = -1;
    if (crypto_pwhash(k, 32, pw, pwlen, salt, ops, (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) !=
        0) {
        err_set(ERR_FAIL, "%s: Argon2id needs %llu MiB of memory, which is not available", path,
                (unsigned long long)(mem >> 20));
        goto done;
    }
    unsigned long long outlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            secret, &outlen, NULL, ct, 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES,
            (const uint8_t *)label, strlen(label), nonce, k) != 0 ||
        outlen != 32) {
        err_set(ERR_USAGE, "wrong passphrase for %s (or the file is corrupt)", path);
        goto done;
    }
    rc = 0;
done:
    sodium_memzero(pw, pwlen);
    sodium_free(pw);
    sodium_free(k);
    return rc;
}

keys_secret *keys_load_secret(const char *path, keys_kind kind)
{
    const kind_info *ki = &kinds[kind];
    keys_secret *sk = NULL;
    uint8_t *raw = NULL;
    size_t len;
    mode_t mode = 0;
    char *text = read_small_file(path, 1, &len, &mode);
    if (!text)
        return NULL;
    char *label, *b64;
    if (split_key_file(path, text, len, &label, &b64) != 0)
        goto fail;
    /* What the file is comes before its mode: a public key given here
     * (mode 0644, as keygen writes it) needs another path, not chmod. */
    keys_kind found;
    int secret, wrapped;
    if (label_kind(label, &found, &secret) == 0 && !secret) {
        err_set(ERR_USAGE, "%s: this is a public key (%s.pub); %s needs %s.key", path,
                kinds[found].file, ki->key_setting, ki->file);
        goto fail;
    }
    if (strcmp(label, ki->key_label) == 0) {
        wrapped = 0;
    } else if (strcmp(label, ki->wrapped_label) == 0) {
        wrapped = 1;
    } else {
        err_set(ERR_USAGE,
                "%s holds a %s key, expected %s (or %s): give the %s secret key (%s.key)", path,
                label, ki->key_label, ki->wrapped_label, ki->what, ki->file);
        goto fail;
    }
    if (private_file_refuse_mode("", path, mode) < 0)
        goto fail;
    raw = sodium_malloc(WRAP_BYTES);
    sk = sodium_malloc(sizeof *sk);
    if (!raw || !sk) {
        err_set(ERR_FAIL, "out of memory");
        goto fail;
    }
    memset(sk, 0, sizeof *sk);
    uint8_t *secret32 = raw; /* the 32 secret bytes end up at raw[0..32) */
    if (wrapped) {
        uint8_t payload[WRAP_BYTES];
        if (decode_b64(path, b64, payload, WRAP_BYTES) != 0)
            goto fail;
        if (unwrap(path, label, payload, secret32) != 0)
            goto fail;
    } else if (decode_b64(path, b64, secret32, 32) != 0) {
        goto fail;
    }
    sk->pub.kind = kind;
    if (kind == KEYS_ARCHIVE) {
        memcpy(sk->sk, secret32, 32);
        if (crypto_scalarmult_base(sk->pub.key, sk->sk) != 0) {
            err_set(ERR_USAGE, "%s: not a valid X25519 secret key", path);
            goto fail;
        }
    } else {
        crypto_sign_seed_keypair(sk->pub.key, sk->sk, secret32);
    }
    keys_id(sk->pub.key, sk->pub.id);
    sodium_mprotect_readonly(sk);
    sodium_free(raw);
    sodium_memzero(text, len);
    sodium_free(text);
    return sk;
fail:
    if (sk)
        sodium_free(sk);
    if (raw)
        sodium_free(raw);
    sodium_memzero(text, len);
    sodium_free(text);
    return NULL;
}

void keys_secret_free(keys_secret *sk)
{
    if (sk)
        sodium_free(sk); /* sodium_free wipes the memory */
}

const keys_public *keys_secret_public(const keys_secret *sk)
{
    return &sk->pub;
}

const uint8_t *keys_secret_bytes(const keys_secret *sk)
{
    return sk->sk;
}

/* ---- keygen ---- */

static int write_new_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return err_sys(errno == EEXIST ? ERR_USAGE : ERR_FAIL, errno, "cannot create %s", path);
    /* the umask must not widen or narrow what FORMAT.md promises */
    if (fchmod(fd, mode) != 0) {
        err_sys(ERR_FAIL, errno, "cannot chmod %s", path);
        goto fail;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_sys(ERR_FAIL, errno, "cannot write %s", path);
            goto fail;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        err_sys(ERR_FAIL, errno, "cannot fsync %s", path);
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        err_sys(ERR_FAIL, errno, "cannot close %s", path);
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(path);
    return -1;
}

/* Build "COMMENT\nLABEL BASE64\n" in sodium memory. */
static char *format_key_file(const char *comment, const char *label, const uint8_t *data,
                             size_t dlen, size_t *out_len)
{
    size_t b64len = sodium_base64_ENCODED_LEN(dlen, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = strlen(comment) + strlen(label) + b64len + 8;
    char *buf = sodium_malloc(cap);
    if (!buf) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    int n = snprintf(buf, cap, "%s%s ", comment, label);
    sodium_bin2base64(buf + n, cap - (size_t)n, data, dlen, sodium_base64_VARIANT_ORIGINAL);
    size_t l = strlen(buf);
    buf[l++] = '\n';
    buf[l] = '\0';
    *out_len = l;
    return buf;
}

/* The key file text for SECRET32: wrapped with PW when given. */
static char *secret_file_text(keys_kind kind, const char *comment, const uint8_t *secret32,
                              const char *pw, size_t pwlen, size_t *out_len)
{
    const kind_info *ki = &kinds[kind];
    if (!pw)
        return format_key_file(comment, ki->key_label, secret32, 32, out_len);

    uint64_t ops = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
    uint64_t mem = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
    const char *t = getenv(KEYS_TEST_PWHASH_ENV);
    if (t && strcmp(t, "1") == 0) {
        ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
        mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
    }
    uint8_t payload[WRAP_BYTES];
    uint8_t *salt = payload, *nonce = payload + SALT_BYTES + 16;
    randombytes_buf(salt, SALT_BYTES);
    be_put64(payload + SALT_BYTES, ops);
    be_put64(payload + SALT_BYTES + 8, mem);
    randombytes_buf(nonce, WRAP_NONCE_BYTES);
    uint8_t *k = sodium_malloc(32);
    if (!k) {
        err_set(ERR_FAIL, "out of memory");
        return NULL;
    }
    char *text = NULL;
    if (crypto_pwhash(k, 32, pw, pwlen, salt, ops, (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) !=
        0) {
        err_set(ERR_FAIL, "Argon2id: out of memory");
        goto done;
    }
    crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + WRAP_NONCE_BYTES, NULL, secret32, 32,
                                               (const uint8_t *)ki->wrapped_label,
                                               strlen(ki->wrapped_label), NULL, nonce, k);
    text = format_key_file(comment, ki->wrapped_label, payload, WRAP_BYTES, out_len);
done:
    sodium_free(k);
    return text;
}

int keys_generate(const char *dir, const char *passphrase_file, keys_public *archive_pub,
                  keys_public *signing_pub)
{
    static const char *const names[4] = {"archive.key", "archive.pub", "signing.key",
                                         "signing.pub"};
    char paths[4][PATH_MAX];
    int created[4] = {0, 0, 0, 0};
    char *texts[4] = {NULL, NULL, NULL, NULL};
    size_t lens[4] = {0, 0, 0, 0};
    char *pw = NULL;
    size_t pwlen = 0;
    uint8_t *sec = NULL; /* x25519 secret (32) | ed25519 seed (32) | ed25519 sk (64) */
    int rc = -1;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return err_sys(errno == ENOENT || errno == EACCES ? ERR_USAGE : ERR_FAIL, errno,
                       "cannot create directory %s", dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(ERR_USAGE, "%s is not a directory", dir);

    char existing[64] = "";
    for (int i = 0; i < 4; i++) {
        if ((size_t)snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]) >= sizeof paths[i])
            return err_set(ERR_USAGE, "path too long: %s/%s", dir, names[i]);
        if (lstat(paths[i], &st) == 0 || errno != ENOENT) {
            if (existing[0])
                strcat(existing, ", ");
            strcat(existing, names[i]);
        }
    }
    if (existing[0])
        return err_set(ERR_USAGE,
                       "%s already holds %s; keygen never overwrites key files (move them away "
                       "or choose another --out)",
                       dir, existing);

    if (passphrase_file) {
        pw = read_passphrase_file(passphrase_file, &pwlen);
        if (!pw)
            return -1;
    }
    sec = sodium_malloc(32 + 32 + 64);
    if (!sec) {
        err_set(ERR_FAIL, "out of memory");
        goto done;
    }
    keys_public apub = {.kind = KEYS_ARCHIVE}, spub = {.kind = KEYS_SIGNING};
    crypto_box_keypair(apub.key, sec);
    randombytes_buf(sec + 32, 32);
    crypto_sign_seed_keypair(spub.key, sec + 64, sec + 32);
    keys_id(apub.key, apub.id);
    keys_id(spub.key, spub.id);
    char aid[KEYS_ID_HEX], sid[KEYS_ID_HEX];
    keys_id_hex(apub.id, aid);
    keys_id_hex(spub.id, sid);

    char comment[512];
    snprintf(comment, sizeof comment,
             "# neo4j-offsite archive SECRET key (X25519), key id %s\n"
             "# It decrypts every archive: keep it on restore hosts only ([keys] secret_key)\n"
             "# and keep an offline copy.\n",
             aid);
    texts[0] = secret_file_text(KEYS_ARCHIVE, comment, sec, pw, pwlen, &lens[0]);
    snprintf(comment, sizeof comment,
             "# neo4j-offsite archive public key (X25519), key id %s\n"
             "# Backup hosts encrypt archives to it ([keys] public_key).\n",
             aid);
    texts[1] = format_key_file(comment, kinds[KEYS_ARCHIVE].pub_label, apub.key, 32, &lens[1]);
    snprintf(comment, sizeof comment,
             "# neo4j-offsite signing SECRET key (Ed25519), key id %s\n"
             "# It signs manifests: keep it on backup hosts only ([keys] signing_key).\n",
             sid);
    texts[2] = secret_file_text(KEYS_SIGNING, comment, sec + 32, pw, pwlen, &lens[2]);
    snprintf(comment, sizeof comment,
             "# neo4j-offsite signing public key (Ed25519), key id %s\n"
             "# Restore hosts and auditors trust manifests signed by it ([keys] verify_key).\n",
             sid);
    texts[3] = format_key_file(comment, kinds[KEYS_SIGNING].pub_label, spub.key, 32, &lens[3]);
    for (int i = 0; i < 4; i++)
        if (!texts[i])
            goto done;

    for (int i = 0; i < 4; i++) {
        if (write_new_file(paths[i], texts[i], lens[i], (i % 2 == 0) ? 0600 : 0644) != 0)
            goto done;
        created[i] = 1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        err_sys(ERR_FAIL, errno, "cannot fsync directory %s", dir);
        if (dfd >= 0)
            close(dfd);
        goto done;
    }
    close(dfd);
    if (archive_pub)
        *archive_pub = apub;
    if (signing_pub)
        *signing_pub = spub;
    rc = 0;
done:
    if (rc != 0)
        for (int i = 0; i < 4; i++)
            if (created[i])
                unlink(paths[i]);
    for (int i = 0; i < 4; i++)
        if (texts[i])
            sodium_free(texts[i]);
    if (sec)
        sodium_free(sec);
    if (pw)
        sodium_free(pw);
    return rc;
}
