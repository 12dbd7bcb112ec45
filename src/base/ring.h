/* ring: a bounded queue of fixed-size blocks from one producer to several
 * consumers that each see every block in order.  A block is reused only when
 * every live consumer released it, so the slowest consumer sets the pace and
 * memory is NBLOCKS x BLOCK_SIZE whatever flows through. */
#ifndef N4O_RING_H
#define N4O_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct ring ring;

ring *ring_new(size_t nblocks, size_t block_size, int nconsumers);
void ring_free(ring *r);
size_t ring_block_size(const ring *r);

/* Producer: the next block to fill (waits for room); NULL when every
 * consumer has dropped out or the ring was aborted. */
uint8_t *ring_acquire(ring *r);
/* Producer: hand the acquired block, holding LEN bytes, to the consumers. */
void ring_publish(ring *r, size_t len);
/* Producer: no more blocks; ABORTED tells consumers the stream is bad. */
void ring_close(ring *r, int aborted);

/* Consumer C: the next block (waits), *LEN set; NULL at the end of the
 * stream (*ABORTED set when the producer aborted). */
const uint8_t *ring_peek(ring *r, int c, size_t *len, int *aborted);
/* Consumer C: done with the block from ring_peek(). */
void ring_release(ring *r, int c);
/* Consumer C gives up (its remote failed): it no longer holds blocks back. */
void ring_drop(ring *r, int c);
/* Consumers still in the stream. */
int ring_live_consumers(ring *r);

#endif
