/* stream: the archive body (docs/FORMAT.md).  A per-archive key sealed to
 * archive.pub, then libsodium secretstream (XChaCha20-Poly1305) over fixed
 * plaintext chunks; the header is authenticated as additional data of the
 * first chunk; the last chunk carries TAG_FINAL.
 *
 * Both directions are push filters: feed bytes with _update(), output goes
 * to the sink callback as soon as it is complete (header, then whole chunks
 * for the writer; verified plaintext chunks for the reader). */
#ifndef N4O_STREAM_H
#define N4O_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define STREAM_CHUNK_SIZE        (64u * 1024u) /* plaintext bytes per chunk, see FORMAT.md */
#define STREAM_HEADER_SIZE       128u
#define STREAM_FORMAT_VERSION    2u  /* written; versions 1 and 2 are read */
#define STREAM_HEADER_HASH_BYTES 32u /* BLAKE2b-256 of the header, in the signed manifest */

/* Receives output bytes; return 0, or -1 (with err set) to stop the stream. */
typedef int (*stream_sink)(void *ctx, const uint8_t *buf, size_t len);

typedef struct stream_writer stream_writer;
typedef struct stream_reader stream_reader;

#define STREAM_CHUNK_MIN 1024u /* bounds a reader accepts in a header */
#define STREAM_CHUNK_MAX (16u * 1024u * 1024u)
#define STREAM_TAG_BYTES 17u /* ciphertext chunk = plaintext chunk + this */

/* Start an archive for RECIPIENT (an archive public key); the header is
 * emitted at once (the sink sees exactly STREAM_HEADER_SIZE bytes first). */
stream_writer *stream_writer_new(const keys_public *recipient, stream_sink sink, void *ctx);
/* Same with another plaintext chunk size (STREAM_CHUNK_MIN..MAX), for
 * benchmarks and tests: archives in production use STREAM_CHUNK_SIZE. */
stream_writer *stream_writer_new_sized(const keys_public *recipient, uint32_t chunk_size,
                                       stream_sink sink, void *ctx);
/* Same with an older format VERSION (1..STREAM_FORMAT_VERSION): tests use it
 * to check that archives of earlier releases stay readable. */
stream_writer *stream_writer_new_version(const keys_public *recipient, uint32_t chunk_size,
                                         unsigned version, stream_sink sink, void *ctx);
/* The STREAM_HEADER_SIZE bytes of the header W emitted (for the manifest). */
const uint8_t *stream_writer_header(const stream_writer *w);
int stream_writer_update(stream_writer *w, const uint8_t *buf, size_t len);
/* Emit the final chunk.  After this the archive is complete.  After a failure
 * (of the sink, say) every further call returns -1 and keeps the error. */
int stream_writer_finish(stream_writer *w);
void stream_writer_free(stream_writer *w);

/* Read an archive with SECRET (an archive secret key, which must outlive the
 * reader); plaintext is passed to SINK chunk by chunk, only after the chunk
 * authenticated.  Any bad byte -> -1, ERR_INTEGRITY, with the offset.  The
 * chunk size is taken from the header.  After a failure every further call
 * returns -1 and leaves the first error in place. */
stream_reader *stream_reader_new(const keys_secret *secret, stream_sink sink, void *ctx);
/* Bind R to what a verified manifest recorded, before any byte is fed: the
 * header must have VERSION and (version 2 on, where HEADER_HASH is
 * required) BLAKE2b-256 HEADER_HASH, else ERR_INTEGRITY "the archive does
 * not match its signed manifest" before the sealed key is even opened.
 * Bound to version 2, every plaintext byte R releases comes from the
 * signer's archive; version 1 has no such binding (FORMAT.md). */
int stream_reader_bind(stream_reader *r, unsigned version,
                       const uint8_t header_hash[STREAM_HEADER_HASH_BYTES]);
int stream_reader_update(stream_reader *r, const uint8_t *buf, size_t len);
/* Check that the final chunk was seen and nothing followed it. */
int stream_reader_finish(stream_reader *r);
void stream_reader_free(stream_reader *r);

/* Size of the archive of PLAIN plaintext bytes in CHUNK-byte chunks: the
 * header, then every chunk with its tag (the last one holds 1..CHUNK
 * bytes, or none for an empty plaintext). */
uint64_t stream_archive_size(uint64_t plain, uint32_t chunk);

/* Recipient key id from an archive's header (first STREAM_HEADER_SIZE
 * bytes), without any secret; -1 with ERR_INTEGRITY if not an archive. */
int stream_header_recipient(const uint8_t *header, size_t len, uint8_t id[KEYS_ID_BYTES]);
/* Plaintext chunk size from a header (checked like the reader does). */
int stream_header_chunk_size(const uint8_t *header, size_t len, uint32_t *chunk_size);
/* Format version from a header (checked like the reader does). */
int stream_header_version(const uint8_t *header, size_t len, unsigned *version);
/* BLAKE2b-256 of a header, as recorded in version 2 manifests. */
void stream_header_hash(const uint8_t header[STREAM_HEADER_SIZE],
                        uint8_t digest[STREAM_HEADER_HASH_BYTES]);

#endif
