/* Unit tests: ring (bounded one-producer / many-consumer block queue). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ring.h"

#define BLOCKS       4
#define BLOCK        64
#define TOTAL_BLOCKS 500

typedef struct {
    ring *r;
    int index;
    int drop_after; /* -1: never */
    int slow;
    uint64_t sum, count;
    int aborted;
} consumer;

static void *consume(void *arg)
{
    consumer *c = arg;
    const uint8_t *blk;
    size_t len;
    while ((blk = ring_peek(c->r, c->index, &len, &c->aborted))) {
        for (size_t i = 0; i < len; i++)
            c->sum = c->sum * 31 + blk[i];
        c->count++;
        if (c->slow)
            usleep(100);
        ring_release(c->r, c->index);
        if (c->drop_after >= 0 && c->count == (uint64_t)c->drop_after) {
            ring_drop(c->r, c->index);
            break;
        }
    }
    return NULL;
}

static uint64_t expected_sum(int nblocks)
{
    uint64_t sum = 0;
    for (int b = 0; b < nblocks; b++)
        for (int i = 0; i < BLOCK; i++)
            sum = sum * 31 + (uint8_t)(b + i);
    return sum;
}

static void test_every_consumer_sees_every_block_in_order(void **state)
{
    (void)state;
    ring *r = ring_new(BLOCKS, BLOCK, 3);
    consumer c[3] = {{r, 0, -1, 0, 0, 0, 0}, {r, 1, -1, 1, 0, 0, 0}, {r, 2, 10, 0, 0, 0, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, consume, &c[i]);
    for (int b = 0; b < TOTAL_BLOCKS; b++) {
        uint8_t *blk = ring_acquire(r);
        assert_non_null(blk);
        for (int i = 0; i < BLOCK; i++)
            blk[i] = (uint8_t)(b + i);
        ring_publish(r, BLOCK);
    }
    ring_close(r, 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(c[0].count, TOTAL_BLOCKS);
    assert_int_equal(c[1].count, TOTAL_BLOCKS);
    assert_true(c[0].sum == expected_sum(TOTAL_BLOCKS));
    assert_true(c[1].sum == c[0].sum);
    assert_int_equal(c[2].count, 10); /* dropped out without blocking the others */
    assert_int_equal(c[0].aborted, 0);
    assert_int_equal(ring_live_consumers(r), 2);
    ring_free(r);
}

static void test_abort_reaches_consumers(void **state)
{
    (void)state;
    ring *r = ring_new(BLOCKS, BLOCK, 1);
    consumer c = {r, 0, -1, 0, 0, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, consume, &c);
    uint8_t *blk = ring_acquire(r);
    memset(blk, 1, BLOCK);
    ring_publish(r, BLOCK);
    ring_close(r, 1);
    pthread_join(t, NULL);
    assert_int_equal(c.aborted, 1);
    ring_free(r);
}

static void test_producer_stops_when_all_consumers_drop(void **state)
{
    (void)state;
    ring *r = ring_new(BLOCKS, BLOCK, 2);
    ring_drop(r, 0);
    ring_drop(r, 1);
    assert_null(ring_acquire(r));
    ring_free(r);
}

static void test_producer_waits_for_slowest(void **state)
{
    (void)state;
    ring *r = ring_new(BLOCKS, BLOCK, 1);
    /* Fill every block without a consumer: the ring is full ... */
    for (int b = 0; b < BLOCKS; b++) {
        assert_non_null(ring_acquire(r));
        ring_publish(r, (size_t)b + 1);
    }
    /* ... and frees one block per release. */
    size_t len;
    int aborted;
    const uint8_t *blk = ring_peek(r, 0, &len, &aborted);
    assert_non_null(blk);
    assert_int_equal(len, 1);
    ring_release(r, 0);
    assert_non_null(ring_acquire(r));
    ring_publish(r, 9);
    ring_close(r, 0);
    size_t lens[BLOCKS], n = 0;
    while ((blk = ring_peek(r, 0, &len, &aborted))) {
        lens[n++] = len;
        ring_release(r, 0);
    }
    assert_int_equal(n, BLOCKS);
    assert_int_equal(lens[0], 2);
    assert_int_equal(lens[BLOCKS - 1], 9);
    ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_consumer_sees_every_block_in_order),
        cmocka_unit_test(test_abort_reaches_consumers),
        cmocka_unit_test(test_producer_stops_when_all_consumers_drop),
        cmocka_unit_test(test_producer_waits_for_slowest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
