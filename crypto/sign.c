/* sign: Ed25519 detached signatures (docs/FORMAT.md, "Manifest"). */
#include "sign.h"

#include <string.h>

#include <sodium.h>

#include "err.h"

int sign_detached(const keys_secret *signing, const uint8_t *msg, size_t len,
                  uint8_t sig[SIGN_BYTES])
{
    if (keys_secret_public(signing)->kind != KEYS_SIGNING)
        return err_set(ERR_USAGE, "manifests are signed with the signing key, not an archive key");
    crypto_sign_detached(sig, NULL, msg, len, keys_secret_bytes(signing));
    return 0;
}

int sign_verify(const keys_public *trusted, size_t n_trusted, const uint8_t signer[KEYS_ID_BYTES],
                const uint8_t *msg, size_t len, const uint8_t sig[SIGN_BYTES])
{
    char hex[KEYS_ID_HEX];
    keys_id_hex(signer, hex);
    for (size_t i = 0; i < n_trusted; i++) {
        const keys_public *k = &trusted[i];
        if (k->kind != KEYS_SIGNING || memcmp(k->id, signer, KEYS_ID_BYTES) != 0)
            continue;
        if (crypto_sign_verify_detached(sig, msg, len, k->key) != 0)
            return err_set(ERR_INTEGRITY, "bad signature (key %s)", hex);
        return 0;
    }
    return err_set(ERR_INTEGRITY, "signed by unknown key %s (not a configured verify_key)", hex);
}
