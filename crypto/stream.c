/* stream: archive writer and reader (layout in docs/FORMAT.md). */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes_be.h"
#include "err.h"

#define FORMAT_VERSION     STREAM_FORMAT_VERSION /* written */
#define FORMAT_VERSION_MIN 1                     /* oldest read */
#define OFF_VERSION        8
#define OFF_HLEN           10
#define OFF_CHUNK          12
#define OFF_KEYID          16
#define OFF_SEALED         24
#define OFF_SSHDR          (OFF_SEALED + SEALED_BYTES)
#define SEALED_BYTES       (crypto_box_SEALBYTES + crypto_secretstream_xchacha20poly1305_KEYBYTES)

static const uint8_t magic[8] = {0x89, 'N', '4', 'J', 'O', 'F', 'S', '\n'};

_Static_assert(OFF_SSHDR + crypto_secretstream_xchacha20poly1305_HEADERBYTES == STREAM_HEADER_SIZE,
               "header layout must add up to 128 bytes");
_Static_assert(crypto_secretstream_xchacha20poly1305_ABYTES == STREAM_TAG_BYTES, "chunk overhead");

typedef crypto_secretstream_xchacha20poly1305_state ss_state;

/* Validate the fixed fields of a header; everything a reader checks before
 * it touches a key. */
static int check_header(const uint8_t *h, size_t len, uint32_t *chunk_size)
{
    if (len < STREAM_HEADER_SIZE)
        return err_set(ERR_INTEGRITY, "not a neo4j-offsite archive: only %zu header bytes", len);
    if (memcmp(h, magic, sizeof magic) != 0)
        return err_set(ERR_INTEGRITY, "not a neo4j-offsite archive (bad magic at byte offset 0)");
    uint16_t version = be_get16(h + OFF_VERSION);
    if (version < FORMAT_VERSION_MIN || version > FORMAT_VERSION)
        return err_set(ERR_INTEGRITY,
                       "archive format version %u is not supported (this version reads %d to %d)",
                       version, FORMAT_VERSION_MIN, FORMAT_VERSION);
    uint16_t hlen = be_get16(h + OFF_HLEN);
    if (hlen != STREAM_HEADER_SIZE)
        return err_set(ERR_INTEGRITY, "archive header length %u is invalid for version %u", hlen,
                       version);
    uint32_t cs = be_get32(h + OFF_CHUNK);
    if (cs < STREAM_CHUNK_MIN || cs > STREAM_CHUNK_MAX)
        return err_set(ERR_INTEGRITY, "archive chunk size %u is out of range (%u..%u)", cs,
                       STREAM_CHUNK_MIN, STREAM_CHUNK_MAX);
    *chunk_size = cs;
    return 0;
}

int stream_header_recipient(const uint8_t *header, size_t len, uint8_t id[KEYS_ID_BYTES])
{
    uint32_t cs = 0;
    if (check_header(header, len, &cs) != 0)
        return -1;
    memcpy(id, header + OFF_KEYID, KEYS_ID_BYTES);
    return 0;
}

uint64_t stream_archive_size(uint64_t plain, uint32_t chunk)
{
    uint64_t chunks = plain ? (plain + chunk - 1) / chunk : 1;
    return STREAM_HEADER_SIZE + plain + chunks * STREAM_TAG_BYTES;
}

int stream_header_chunk_size(const uint8_t *header, size_t len, uint32_t *chunk_size)
{
    return check_header(header, len, chunk_size);
}

int stream_header_version(const uint8_t *header, size_t len, unsigned *version)
{
    uint32_t cs = 0;
    if (check_header(header, len, &cs) != 0)
        return -1;
    *version = be_get16(header + OFF_VERSION);
    return 0;
}

void stream_header_hash(const uint8_t header[STREAM_HEADER_SIZE],
                        uint8_t digest[STREAM_HEADER_HASH_BYTES])
{
    crypto_generichash(digest, STREAM_HEADER_HASH_BYTES, header, STREAM_HEADER_SIZE, NULL, 0);
}

/* ---- writer ---- */

struct stream_writer {
    ss_state *st; /* sodium memory: holds the stream key */
    stream_sink sink;
    void *ctx;
    uint8_t header[STREAM_HEADER_SIZE];
    size_t chunk;
    uint8_t *in; /* one buffered plaintext chunk */
    size_t fill;
    uint8_t *out; /* chunk + tag */
    int first;    /* next chunk is the first: header as AD */
    int state;    /* 0 open, 1 finished, -1 failed */
};

stream_writer *stream_writer_new_version(const keys_public *recipient, uint32_t chunk_size,
                                         unsigned version, stream_sink sink, void *ctx)
{
    if (version < FORMAT_VERSION_MIN || version > FORMAT_VERSION) {
        err_set(ERR_USAGE, "archive format version %u cannot be written", version);
        return NULL;
    }
    if (recipient->kind != KEYS_ARCHIVE) {
        err_set(ERR_USAGE, "archives are encrypted to an archive public key, not a signing key");
        return NULL;
    }
    if (chunk_size < STREAM_CHUNK_MIN || chunk_size > STREAM_CHUNK_MAX) {
        err_set(ERR_USAGE, "chunk size %u out of range", chunk_size);
        return NULL;
    }
    stream_writer *w = calloc(1, sizeof *w);
    uint8_t *key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES);
    if (!w || !key)
        goto oom;
    w->st = sodium_malloc(sizeof *w->st);
    w->in = malloc(chunk_size);
    w->out = malloc((size_t)chunk_size + STREAM_TAG_BYTES);
    if (!w->st || !w->in || !w->out)
        goto oom;
    w->sink = sink;
    w->ctx = ctx;
    w->chunk = chunk_size;
    w->first = 1;

    uint8_t *h = w->header;
    memcpy(h, magic, sizeof magic);
    h[OFF_VERSION] = 0;
    h[OFF_VERSION + 1] = (uint8_t)version;
    h[OFF_HLEN] = 0;
    h[OFF_HLEN + 1] = STREAM_HEADER_SIZE;
    be_put32(h + OFF_CHUNK, chunk_size);
    memcpy(h + OFF_KEYID, recipient->id, KEYS_ID_BYTES);
    crypto_secretstream_xchacha20poly1305_keygen(key);
    crypto_secretstream_xchacha20poly1305_init_push(w->st, h + OFF_SSHDR, key);
    if (crypto_box_seal(h + OFF_SEALED, key, crypto_secretstream_xchacha20poly1305_KEYBYTES,
                        recipient->key) != 0) {
        err_set(ERR_USAGE, "cannot seal the archive key: invalid archive public key");
        goto fail;
    }
    sodium_free(key);
    key = NULL;
    if (w->sink(w->ctx, h, STREAM_HEADER_SIZE) != 0)
        goto fail;
    return w;
oom:
    err_set(ERR_FAIL, "out of memory for the archive writer");
fail:
    if (key)
        sodium_free(key);
    stream_writer_free(w);
    return NULL;
}

stream_writer *stream_writer_new_sized(const keys_public *recipient, uint32_t chunk_size,
                                       stream_sink sink, void *ctx)
{
    return stream_writer_new_version(recipient, chunk_size, FORMAT_VERSION, sink, ctx);
}

stream_writer *stream_writer_new(const keys_public *recipient, stream_sink sink, void *ctx)
{
    return stream_writer_new_sized(recipient, STREAM_CHUNK_SIZE, sink, ctx);
}

const uint8_t *stream_writer_header(const stream_writer *w)
{
    return w->header;
}

static int emit_chunk(stream_writer *w, unsigned char tag)
{
    unsigned long long outlen = 0;
    crypto_secretstream_xchacha20poly1305_push(w->st, w->out, &outlen, w->in, w->fill,
                                               w->first ? w->header : NULL,
                                               w->first ? STREAM_HEADER_SIZE : 0, tag);
    w->first = 0;
    w->fill = 0;
    if (w->sink(w->ctx, w->out, (size_t)outlen) != 0) {
        w->state = -1;
        return -1;
    }
    return 0;
}

int stream_writer_update(stream_writer *w, const uint8_t *buf, size_t len)
{
    if (w->state != 0)
        return w->state < 0 ? -1 : err_set(ERR_FAIL, "archive writer: data after finish");
    while (len > 0) {
        /* A full chunk is emitted only now that more data follows it: the
         * last chunk must carry TAG_FINAL and we cannot know in advance. */
        if (w->fill == w->chunk && emit_chunk(w, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
            return -1;
        size_t n = w->chunk - w->fill;
        if (n > len)
            n = len;
        memcpy(w->in + w->fill, buf, n);
        w->fill += n;
        buf += n;
        len -= n;
    }
    return 0;
}

int stream_writer_finish(stream_writer *w)
{
    if (w->state != 0)
        return w->state < 0 ? -1 : err_set(ERR_FAIL, "archive writer: finished twice");
    if (emit_chunk(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL) != 0)
        return -1;
    w->state = 1;
    return 0;
}

void stream_writer_free(stream_writer *w)
{
    if (!w)
        return;
    if (w->st)
        sodium_free(w->st);
    if (w->in) {
        sodium_memzero(w->in, w->chunk);
        free(w->in);
    }
    free(w->out);
    free(w);
}

/* ---- reader ---- */

enum { R_HEADER, R_BODY, R_DONE, R_FAILED };

struct stream_reader {
    const keys_secret *sk;
    ss_state *st;
    stream_sink sink;
    void *ctx;
    uint8_t header[STREAM_HEADER_SIZE];
    size_t hfill;
    size_t chunk; /* plaintext bytes per full chunk */
    uint8_t *in;  /* one ciphertext chunk */
    size_t fill;
    uint8_t *out;
    uint64_t offset;  /* archive byte offset of the chunk being filled */
    uint64_t index;   /* its number, from 0 */
    int phase;
    unsigned want_version; /* from the signed manifest; 0: not bound */
    int want_hash;         /* want_header_hash is set (version 2 on) */
    uint8_t want_header_hash[STREAM_HEADER_HASH_BYTES];
};

stream_reader *stream_reader_new(const keys_secret *secret, stream_sink sink, void *ctx)
{
    if (keys_secret_public(secret)->kind != KEYS_ARCHIVE) {
        err_set(ERR_USAGE, "archives are read with the archive secret key, not a signing key");
        return NULL;
    }
    stream_reader *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(ERR_FAIL, "out of memory for the archive reader");
        return NULL;
    }
    r->sk = secret;
    r->sink = sink;
    r->ctx = ctx;
    r->phase = R_HEADER;
    return r;
}

int stream_reader_bind(stream_reader *r, unsigned version,
                       const uint8_t header_hash[STREAM_HEADER_HASH_BYTES])
{
    if (r->phase != R_HEADER || r->hfill > 0)
        return err_set(ERR_FAIL, "archive reader: bound after the header was read");
    if (version < FORMAT_VERSION_MIN || version > FORMAT_VERSION)
        return err_set(ERR_INTEGRITY,
                       "format version %u is not supported (this version reads %d to %d)", version,
                       FORMAT_VERSION_MIN, FORMAT_VERSION);
    if (version >= 2 && !header_hash)
        return err_set(ERR_INTEGRITY, "format version %u needs the archive header's hash", version);
    r->want_version = version;
    r->want_hash = header_hash != NULL;
    if (header_hash)
        memcpy(r->want_header_hash, header_hash, STREAM_HEADER_HASH_BYTES);
    return 0;
}

/* The header against what the signed manifest recorded, before any key is
 * used: a header that is not the signer's never gets to decrypt a byte. */
static int check_binding(const stream_reader *r)
{
    if (!r->want_version)
        return 0;
    unsigned version = be_get16(r->header + OFF_VERSION);
    if (version != r->want_version)
        return err_set(ERR_INTEGRITY,
                       "the archive does not match its signed manifest: archive format version %u, "
                       "manifest format version %u; nothing was decrypted",
                       version, r->want_version);
    if (!r->want_hash)
        return 0;
    uint8_t got[STREAM_HEADER_HASH_BYTES];
    stream_header_hash(r->header, got);
    if (sodium_memcmp(got, r->want_header_hash, sizeof got) != 0) {
        char a[2 * STREAM_HEADER_HASH_BYTES + 1], b[2 * STREAM_HEADER_HASH_BYTES + 1];
        sodium_bin2hex(a, sizeof a, got, sizeof got);
        sodium_bin2hex(b, sizeof b, r->want_header_hash, sizeof got);
        return err_set(ERR_INTEGRITY,
                       "the archive does not match its signed manifest: header BLAKE2b %s, the "
                       "manifest signed %s (another archive put under this name?); nothing was "
                       "decrypted",
                       a, b);
    }
    return 0;
}

static int reader_fail(stream_reader *r)
{
    r->phase = R_FAILED;
    return -1;
}

/* The header is complete: check it, open the sealed key, start the stream. */
static int open_header(stream_reader *r)
{
    uint32_t cs = 0;
    if (check_header(r->header, STREAM_HEADER_SIZE, &cs) != 0 || check_binding(r) != 0)
        return -1;
    const keys_public *pub = keys_secret_public(r->sk);
    if (memcmp(r->header + OFF_KEYID, pub->id, KEYS_ID_BYTES) != 0) {
        char want[KEYS_ID_HEX], have[KEYS_ID_HEX];
        keys_id_hex(r->header + OFF_KEYID, want);
        keys_id_hex(pub->id, have);
        return err_set(ERR_INTEGRITY, "archive is for key %s, this key is %s", want, have);
    }
    uint8_t *key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES);
    r->st = sodium_malloc(sizeof *r->st);
    r->in = malloc((size_t)cs + STREAM_TAG_BYTES);
    r->out = malloc(cs);
    if (!key || !r->st || !r->in || !r->out) {
        if (key)
            sodium_free(key);
        return err_set(ERR_FAIL, "out of memory for the archive reader");
    }
    int rc = -1;
    if (crypto_box_seal_open(key, r->header + OFF_SEALED, SEALED_BYTES, pub->key,
                             keys_secret_bytes(r->sk)) != 0) {
        char have[KEYS_ID_HEX];
        keys_id_hex(pub->id, have);
        err_set(ERR_INTEGRITY,
                "cannot open the sealed archive key (byte offset %d) with key %s: the header is "
                "corrupt or tampered",
                OFF_SEALED, have);
        goto done;
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(r->st, r->header + OFF_SSHDR, key) != 0) {
        err_set(ERR_INTEGRITY, "invalid stream header at byte offset %d", OFF_SSHDR);
        goto done;
    }
    r->chunk = cs;
    r->offset = STREAM_HEADER_SIZE;
    r->phase = R_BODY;
    rc = 0;
done:
    sodium_free(key);
    return rc;
}

/* Authenticate and decrypt the buffered chunk (r->fill bytes), then pass
 * its plaintext on. */
static int pull_chunk(stream_reader *r)
{
    unsigned long long mlen = 0;
    unsigned char tag = 0;
    int first = r->index == 0;
    if (crypto_secretstream_xchacha20poly1305_pull(r->st, r->out, &mlen, &tag, r->in, r->fill,
                                                   first ? r->header : NULL,
                                                   first ? STREAM_HEADER_SIZE : 0) != 0)
        return err_set(ERR_INTEGRITY,
                       "archive chunk %llu at byte offset %llu (%zu bytes) failed authentication: "
                       "corrupt, tampered, truncated or out of order%s",
                       (unsigned long long)r->index, (unsigned long long)r->offset, r->fill,
                       first ? " (or the header was modified)" : "");
    int full = r->fill == r->chunk + STREAM_TAG_BYTES;
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
        r->phase = R_DONE;
    } else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
        return err_set(ERR_INTEGRITY, "archive chunk %llu at byte offset %llu has unknown tag %u",
                       (unsigned long long)r->index, (unsigned long long)r->offset, tag);
    } else if (!full) {
        return err_set(ERR_INTEGRITY,
                       "archive truncated: chunk %llu at byte offset %llu is short (%zu bytes) "
                       "and not the final chunk",
                       (unsigned long long)r->index, (unsigned long long)r->offset, r->fill);
    }
    r->offset += r->fill;
    r->index++;
    r->fill = 0;
    return r->sink(r->ctx, r->out, (size_t)mlen);
}

int stream_reader_update(stream_reader *r, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        switch (r->phase) {
        case R_FAILED:
            return -1;
        case R_DONE:
            reader_fail(r);
            return err_set(ERR_INTEGRITY,
                           "unexpected data after the final chunk at byte offset %llu",
                           (unsigned long long)r->offset);
        case R_HEADER: {
            size_t n = STREAM_HEADER_SIZE - r->hfill;
            if (n > len)
                n = len;
            memcpy(r->header + r->hfill, buf, n);
            r->hfill += n;
            buf += n;
            len -= n;
            if (r->hfill == STREAM_HEADER_SIZE && open_header(r) != 0)
                return reader_fail(r);
            break;
        }
        case R_BODY: {
            size_t want = r->chunk + STREAM_TAG_BYTES;
            size_t n = want - r->fill;
            if (n > len)
                n = len;
            memcpy(r->in + r->fill, buf, n);
            r->fill += n;
            buf += n;
            len -= n;
            if (r->fill == want && pull_chunk(r) != 0)
                return reader_fail(r);
            break;
        }
        }
    }
    return r->phase == R_FAILED ? -1 : 0;
}

int stream_reader_finish(stream_reader *r)
{
    switch (r->phase) {
    case R_FAILED:
        return -1;
    case R_DONE:
        return 0;
    case R_HEADER:
        reader_fail(r);
        return err_set(ERR_INTEGRITY, "archive truncated: %zu of %u header bytes", r->hfill,
                       STREAM_HEADER_SIZE);
    default:
        break;
    }
    if (r->fill > 0) {
        if (pull_chunk(r) != 0)
            return reader_fail(r);
        if (r->phase == R_DONE)
            return 0;
    }
    reader_fail(r);
    return err_set(ERR_INTEGRITY,
                   "archive truncated at byte offset %llu: the final chunk is missing",
                   (unsigned long long)r->offset);
}

void stream_reader_free(stream_reader *r)
{
    if (!r)
        return;
    if (r->st)
        sodium_free(r->st);
    if (r->out) {
        sodium_memzero(r->out, r->chunk);
        free(r->out);
    }
    free(r->in);
    free(r);
}
