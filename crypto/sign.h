/* sign: Ed25519 detached signatures checked against a list of trusted keys. */
#ifndef N4O_SIGN_H
#define N4O_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define SIGN_BYTES 64

/* Sign MSG with the signing secret key (ERR_USAGE for an archive key). */
int sign_detached(const keys_secret *signing, const uint8_t *msg, size_t len,
                  uint8_t sig[SIGN_BYTES]);

/* Verify SIG made by the key with id SIGNER among TRUSTED.  ERR_INTEGRITY
 * with "signed by unknown key ID" or "bad signature (key ID)". */
int sign_verify(const keys_public *trusted, size_t n_trusted, const uint8_t signer[KEYS_ID_BYTES],
                const uint8_t *msg, size_t len, const uint8_t sig[SIGN_BYTES]);

#endif
