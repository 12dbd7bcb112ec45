/* transfer: one remote file moved in blocks through parallel SSH
 * connections ("streams"), each on a thread of its own, with resume.
 *
 * What it promises:
 * - Block k covers bytes [k*XFER_BLOCK, (k+1)*XFER_BLOCK) of the range (768
 *   KiB; the last one may be shorter) and goes through stream k mod N, each
 *   stream being its own SSH connection (conn.h).  N is parallel_streams
 *   (reads: at most the number of blocks); a writer's streams start as
 *   their first block comes, or up front with xfer_start.
 * - Each stream keeps 2 blocks in flight on a short link (a round trip
 *   under 5 ms, measured by the caller), on a long link 4 when writing and
 *   3 when reading, each on its own SFTP handle on its own SFTP channel
 *   (one SSH window each).  Peak memory: N x those blocks x 768 KiB.
 * - Writes: every handle proves that it reaches the temporary file created
 *   (stamp_check) before a byte goes through it; a block is released only
 *   once the server acknowledged all of it, so xfer_drain returning 0 means
 *   that every byte handed over is in the file.
 * - Reads: xfer_read hands out the range's bytes in order; a file that
 *   ends before its size is an error naming the byte.
 * - Resume: a stream whose connection drops or times out reconnects after
 *   0.5 s, 1 s, 2 s... (at most 8 s), at most `retries` times (earned back
 *   after 64 MiB moved), logging a warning each time, and carries on from
 *   each block's acknowledged byte: the blocks it holds are the resume
 *   window.  A file written must still hold every acknowledged byte after
 *   the reconnect ("cannot resume" otherwise).
 * - The first error of a stream stops them all and is the transfer's error,
 *   returned by the next xfer_put, xfer_drain or xfer_read.  Every wait ends
 *   within 0.2 s of the remote's cancel hook answering ("interrupted by
 *   signal N").
 *
 * Threads: the caller (one thread at a time) hands blocks over or takes
 * them; the streams run on their own threads and use nothing of the
 * remote's but its parameters (and the pool). */
#ifndef N4O_SFTP_TRANSFER_H
#define N4O_SFTP_TRANSFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conn.h"
#include "stamp.h"

#define XFER_BLOCK         (768u * 1024u) /* bytes of a block */
#define XFER_READ_CHANNELS 3              /* SFTP channels a reading stream uses at most */

/* Connections opened ahead (BACKEND_OPEN_BULK): one per stream, opened in
 * the background alongside the remote's own, with the SFTP channels a
 * stream uses; each checks the host key and authenticates like any other.
 * The first transfer's streams take them instead of connecting then (one
 * still being opened is waited for); one left unused for 30 s is not
 * trusted to be alive and is closed without a goodbye. */
typedef struct xfer_pool xfer_pool;

/* Start opening P->streams connections to P's server (P must outlive the
 * pool); NULL when out of memory (the streams then connect themselves). */
xfer_pool *xfer_pool_open(const conn_params *p);
/* The first transfer needs CHANNELS channels per connection: the
 * connections being opened open no more (unless a transfer said it
 * first).  POOL NULL: a no-op. */
void xfer_pool_want(xfer_pool *pool, int channels);
/* Stop the attempts still running, close what was not taken (politely)
 * and free POOL (NULL: a no-op). */
void xfer_pool_close(xfer_pool *pool);

typedef struct sftp_xfer sftp_xfer;

/* A write of the temporary file PATH (created and stamped STAMP: NULL
 * fails every stream's check), through P->streams streams not started
 * yet, taking connections from POOL (may be NULL).  RTT_MS, a round trip
 * measured on the remote's connection, sizes what each stream keeps in
 * flight.  PATH and STAMP must outlive the transfer. */
sftp_xfer *xfer_writer(const conn_params *p, xfer_pool *pool, const char *path,
                       const temp_stamp *stamp, int64_t rtt_ms);
/* Start the first N streams now, so that their handshakes overlap what
 * produces the data. */
int xfer_start(sftp_xfer *x, int n);
/* Hand the next block, *BLOCK of *LEN bytes (XFER_BLOCK but for the
 * last), to its stream (started if it was not), waiting while that stream
 * still holds the block of that slot.  Once handed over, *BLOCK is a spare
 * buffer (XFER_BLOCK bytes, or NULL) and *LEN 0: the buffers swap, no
 * copy.  -1 with the transfer's error (the block handed over or not). */
int xfer_put(sftp_xfer *x, uint8_t **block, size_t *len);
/* Wait until the server acknowledged every block handed over; the streams
 * then close their connections by themselves while the caller goes on.
 * -1 with the transfer's error. */
int xfer_drain(sftp_xfer *x);

/* A read of bytes [OFFSET, SIZE) of PATH (SIZE as stat said), its streams
 * started.  PATH must outlive the transfer. */
sftp_xfer *xfer_reader(const conn_params *p, xfer_pool *pool, const char *path, uint64_t offset,
                       uint64_t size, int64_t rtt_ms);
/* The next bytes, in order: >0, 0 at the end, -1 with the error. */
ssize_t xfer_read(sftp_xfer *x, void *buf, size_t len);

/* Stop every stream and wait for their threads. */
void xfer_stop(sftp_xfer *x);
/* Stop and free X (NULL: a no-op). */
void xfer_free(sftp_xfer *x);

#endif
