/* keys: the four key files (archive.key/.pub: X25519, signing.key/.pub:
 * Ed25519), key ids, and passphrase wrapping (Argon2id).
 *
 * Secret keys live only in sodium_malloc() memory and are wiped on free.
 * Errors: ERR_USAGE for unusable files (missing, wrong type, readable by
 * group/others, refuses to overwrite), ERR_INTEGRITY for a wrong passphrase
 * or corrupt key. */
#ifndef N4O_KEYS_H
#define N4O_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEYS_ID_BYTES 8
#define KEYS_ID_HEX (2 * KEYS_ID_BYTES + 1)

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
void keys_id_hex(const uint8_t id[KEYS_ID_BYTES], char out[KEYS_ID_HEX]);

/* Create DIR/archive.key, archive.pub, signing.key, signing.pub (secrets 0600);
 * refuse (ERR_USAGE) if any exists.  With PASSPHRASE_FILE, the secrets are
 * wrapped.  The ids are returned for printing. */
int keys_generate(const char *dir, const char *passphrase_file, keys_public *archive_pub,
                  keys_public *signing_pub);

int keys_load_public(const char *path, keys_kind kind, keys_public *out);

/* Load a secret key file; a wrapped one is unlocked with the passphrase in
 * $NEO4J_OFFSITE_PASSPHRASE_FILE, else one asked on the terminal. */
keys_secret *keys_load_secret(const char *path, keys_kind kind);
void keys_secret_free(keys_secret *sk);

/* The public half and id of a secret key. */
const keys_public *keys_secret_public(const keys_secret *sk);
/* Raw secret bytes: X25519 secret (32) or Ed25519 secret key (64). */
const uint8_t *keys_secret_bytes(const keys_secret *sk);

#endif
