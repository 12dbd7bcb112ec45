#include "ring.h"

#include <pthread.h>
#include <stdlib.h>

struct ring {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    uint8_t *mem;
    size_t *lens;
    size_t nblocks, block_size;
    uint64_t head;  /* blocks published */
    uint64_t *tail; /* per consumer: blocks released */
    int *live;
    int nconsumers, nlive;
    int closed, aborted;
    int producer_waiting, consumers_waiting; /* wake only who sleeps */
};

ring *ring_new(size_t nblocks, size_t block_size, int nconsumers)
{
    ring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->mem = malloc(nblocks * block_size);
    r->lens = calloc(nblocks, sizeof *r->lens);
    r->tail = calloc((size_t)nconsumers, sizeof *r->tail);
    r->live = calloc((size_t)nconsumers, sizeof *r->live);
    if (!r->mem || !r->lens || !r->tail || !r->live) {
        ring_free(r);
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->nblocks = nblocks;
    r->block_size = block_size;
    r->nconsumers = r->nlive = nconsumers;
    for (int i = 0; i < nconsumers; i++)
        r->live[i] = 1;
    return r;
}

void ring_free(ring *r)
{
    if (!r)
        return;
    if (r->mem) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cond);
    }
    free(r->mem);
    free(r->lens);
    free(r->tail);
    free(r->live);
    free(r);
}

size_t ring_block_size(const ring *r)
{
    return r->block_size;
}

static uint64_t min_tail(const ring *r)
{
    uint64_t m = r->head;
    for (int i = 0; i < r->nconsumers; i++)
        if (r->live[i] && r->tail[i] < m)
            m = r->tail[i];
    return m;
}

uint8_t *ring_acquire(ring *r)
{
    pthread_mutex_lock(&r->mu);
    while (r->nlive > 0 && !r->aborted && r->head - min_tail(r) >= r->nblocks) {
        r->producer_waiting = 1;
        pthread_cond_wait(&r->cond, &r->mu);
        r->producer_waiting = 0;
    }
    uint8_t *blk = NULL;
    if (r->nlive > 0 && !r->aborted)
        blk = r->mem + (r->head % r->nblocks) * r->block_size;
    pthread_mutex_unlock(&r->mu);
    return blk;
}

void ring_publish(ring *r, size_t len)
{
    pthread_mutex_lock(&r->mu);
    r->lens[r->head % r->nblocks] = len;
    r->head++;
    if (r->consumers_waiting)
        pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

void ring_close(ring *r, int aborted)
{
    pthread_mutex_lock(&r->mu);
    r->closed = 1;
    if (aborted)
        r->aborted = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

const uint8_t *ring_peek(ring *r, int c, size_t *len, int *aborted)
{
    const uint8_t *blk = NULL;
    pthread_mutex_lock(&r->mu);
    while (!r->aborted && r->tail[c] == r->head && !r->closed) {
        r->consumers_waiting++;
        pthread_cond_wait(&r->cond, &r->mu);
        r->consumers_waiting--;
    }
    if (!r->aborted && r->tail[c] < r->head) {
        size_t slot = r->tail[c] % r->nblocks;
        blk = r->mem + slot * r->block_size;
        *len = r->lens[slot];
    }
    if (aborted)
        *aborted = r->aborted;
    pthread_mutex_unlock(&r->mu);
    return blk;
}

void ring_release(ring *r, int c)
{
    pthread_mutex_lock(&r->mu);
    r->tail[c]++;
    if (r->producer_waiting)
        pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

void ring_drop(ring *r, int c)
{
    pthread_mutex_lock(&r->mu);
    if (r->live[c]) {
        r->live[c] = 0;
        r->nlive--;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

int ring_live_consumers(ring *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->nlive;
    pthread_mutex_unlock(&r->mu);
    return n;
}
