/* keys: the four key files (archive.key/.pub: X25519, signing.key/.pub:
 * Ed25519), key ids, and passphrase wrapping (Argon2id).  The file format is
 * in docs/FORMAT.md ("Key files").
 *
 * Secret keys live only in sodium_malloc() memory and are wiped on free.
 * Errors: ERR_USAGE for unusable files (missing, wrong type, readable by
 * group/others, refuses to overwrite, wrong passphrase: all things the
 * operator fixes in the setup), ERR_FAIL for I/O and out-of-memory. */
#ifndef N4O_KEYS_H
#define N4O_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEYS_ID_BYTES 8
#define KEYS_ID_HEX   (2 * KEYS_ID_BYTES + 1)

/* Environment variable naming a file that holds the passphrase. */
#define KEYS_PASSPHRASE_ENV "NEO4J_OFFSITE_PASSPHRASE_FILE"
/* Tests only: when set to 1, keygen wraps with the INTERACTIVE Argon2id
 * cost instead of MODERATE so the test suites stay fast.  The cost is stored
 * in the file, so loading needs no such setting. */
#define KEYS_TEST_PWHASH_ENV "N4O_TEST_PWHASH_INTERACTIVE"

typedef enum { KEYS_ARCHIVE, KEYS_SIGNING } keys_kind;

/* A public key (archive.pub or signing.pub) with its id. */
typedef struct {
    keys_kind kind;
    uint8_t key[32];
    uint8_t id[KEYS_ID_BYTES];
} keys_public;

/* A secret key: opaque, in guarded memory. */
typedef struct keys_secret keys_secret;

/* Key id of a public key: the first 8 bytes of BLAKE2b-256(key). */
void keys_id(const uint8_t key[32], uint8_t id[KEYS_ID_BYTES]);
/* The id as 16 lowercase hex digits. */
void keys_id_hex(const uint8_t id[KEYS_ID_BYTES], char out[KEYS_ID_HEX]);
/* Parse 16 hex digits (lowercase only); 0, or -1 without setting err. */
int keys_id_parse(const char *hex, uint8_t id[KEYS_ID_BYTES]);

/* Create DIR (0700) if missing, then DIR/archive.key, archive.pub,
 * signing.key, signing.pub (secrets 0600, public 0644, each fsync'd, then the
 * directory); refuse (ERR_USAGE) if any of the four exists, writing none.
 * With PASSPHRASE_FILE (not NULL), the secrets are wrapped.  The public keys
 * and their ids are returned for printing. */
int keys_generate(const char *dir, const char *passphrase_file, keys_public *archive_pub,
                  keys_public *signing_pub);

/* Load archive.pub (KEYS_ARCHIVE) or signing.pub (KEYS_SIGNING).  A secret
 * key file given instead is named as such ("this is a secret key
 * (archive.key); public_key needs archive.pub"). */
int keys_load_public(const char *path, keys_kind kind, keys_public *out);

/* Load a secret key file; a wrapped one is unlocked with the passphrase in
 * $NEO4J_OFFSITE_PASSPHRASE_FILE, else one asked on the terminal.  The file
 * must not be readable by group or others; a public key file given instead
 * is named as such before its mode is looked at ("this is a public key
 * (archive.pub); secret_key needs archive.key"). */
keys_secret *keys_load_secret(const char *path, keys_kind kind);
void keys_secret_free(keys_secret *sk);

/* The public half and id of a secret key. */
const keys_public *keys_secret_public(const keys_secret *sk);
/* Raw secret bytes: X25519 secret (32) or Ed25519 secret key (64). */
const uint8_t *keys_secret_bytes(const keys_secret *sk);

#endif
