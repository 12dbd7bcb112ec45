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

#define STREAM_CHUNK_SIZE (64u * 1024u) /* plaintext bytes per chunk, see FORMAT.md */
#define STREAM_HEADER_SIZE 128u

/* Receives output bytes; return 0, or -1 (with err set) to stop the stream. */
typedef int (*stream_sink)(void *ctx, const uint8_t *buf, size_t len);

typedef struct stream_writer stream_writer;
typedef struct stream_reader stream_reader;

/* Start an archive for RECIPIENT; the header is emitted at once. */
stream_writer *stream_writer_new(const keys_public *recipient, stream_sink sink, void *ctx);
int stream_writer_update(stream_writer *w, const uint8_t *buf, size_t len);
/* Emit the final chunk.  After this the archive is complete. */
int stream_writer_finish(stream_writer *w);
void stream_writer_free(stream_writer *w);

/* Read an archive with SECRET; plaintext is passed to SINK chunk by chunk,
 * only after the chunk authenticated.  Any bad byte -> -1, ERR_INTEGRITY,
 * with the offset. */
stream_reader *stream_reader_new(const keys_secret *secret, stream_sink sink, void *ctx);
int stream_reader_update(stream_reader *r, const uint8_t *buf, size_t len);
/* Check that the final chunk was seen and nothing followed it. */
int stream_reader_finish(stream_reader *r);
void stream_reader_free(stream_reader *r);

/* Recipient key id from an archive's header (first STREAM_HEADER_SIZE
 * bytes), without any secret; -1 with ERR_INTEGRITY if not an archive. */
int stream_header_recipient(const uint8_t *header, size_t len, uint8_t id[KEYS_ID_BYTES]);

#endif
