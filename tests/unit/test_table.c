/* The live table: single-threaded behaviour, growth, a full table, and concurrent use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "table.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    (void)state;
    return table_init(64, 0);
}

static int teardown(void **state)
{
    (void)state;
    table_destroy();
    return 0;
}

static void test_table_insert_then_lookup_returns_info(void **state)
{
    (void)state;
    live_info_t in = {1234, 7, 3}, out;
    assert_int_equal(table_insert(0x10000, &in), 0);
    assert_int_equal(table_lookup(0x10000, &out), 1);
    assert_int_equal(out.size, 1234);
    assert_int_equal(out.stack_id, 7);
    assert_int_equal(out.birth_s, 3);
    assert_int_equal(table_live(), 1);
}

static void test_table_remove_returns_info_once(void **state)
{
    (void)state;
    live_info_t in = {99, 5, 0}, out;
    table_insert(0x20010, &in);
    assert_int_equal(table_remove(0x20010, &out), 1);
    assert_int_equal(out.size, 99);
    assert_int_equal(table_remove(0x20010, &out), 0);
    assert_int_equal(table_lookup(0x20010, &out), 0);
    assert_int_equal(table_live(), 0);
}

static void test_table_remove_of_unknown_address_finds_nothing(void **state)
{
    (void)state;
    live_info_t out;
    assert_int_equal(table_remove(0xdead0, &out), 0);
    assert_int_equal(table_remove(0, &out), 0);
}

static void test_table_insert_after_remove_reuses_tombstone(void **state)
{
    (void)state;
    live_info_t in = {1, 1, 0}, out;
    /* the same address over and over must not fill the table with tombstones */
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(table_insert(0x30000, &in), 0);
        assert_int_equal(table_remove(0x30000, &out), 1);
    }
    assert_int_equal(table_capacity(), 64);
    assert_int_equal(table_dropped(), 0);
}

static void test_table_grows_and_keeps_every_block(void **state)
{
    (void)state;
    const uint64_t n = 100000;
    for (uint64_t i = 1; i <= n; i++) {
        live_info_t in = {i, (uint32_t)(i % 1000), 0};
        assert_int_equal(table_insert(i * 16, &in), 0);
    }
    assert_true(table_capacity() >= n);
    assert_int_equal(table_live(), n);
    for (uint64_t i = 1; i <= n; i++) {
        live_info_t out;
        assert_int_equal(table_lookup(i * 16, &out), 1);
        assert_int_equal(out.size, i);
    }
}

static void test_table_full_counts_dropped_blocks(void **state)
{
    (void)state;
    table_destroy();
    assert_int_equal(table_init(64, 64), 0);
    live_info_t in = {8, 1, 0};
    int ok = 0, failed = 0;
    for (uint64_t i = 1; i <= 100; i++)
        *(table_insert(i * 32, &in) == 0 ? &ok : &failed) += 1;
    assert_int_equal(ok, 64);
    assert_int_equal(failed, 36);
    assert_int_equal(table_dropped(), 36);
    /* removing makes room again */
    live_info_t out;
    assert_int_equal(table_remove(32, &out), 1);
    assert_int_equal(table_insert(0x99990, &in), 0);
}

static void test_table_stores_sizes_beyond_limit_as_maximum(void **state)
{
    (void)state;
    live_info_t in = {TABLE_SIZE_MAX + 5, 1, 0}, out;
    table_insert(0x40000, &in);
    table_lookup(0x40000, &out);
    assert_int_equal(out.size, TABLE_SIZE_MAX);
    assert_int_equal(table_oversized(), 1);
}

typedef struct {
    uint64_t sum;
    size_t count;
} visit_sum_t;

static void sum_visit(uint64_t addr, const live_info_t *info, void *ctx)
{
    visit_sum_t *v = ctx;
    (void)addr;
    v->sum += info->size;
    v->count++;
}

static void test_table_foreach_visits_each_live_block(void **state)
{
    (void)state;
    live_info_t out;
    for (uint64_t i = 1; i <= 1000; i++) {
        live_info_t in = {i, 1, 0};
        table_insert(i * 64, &in);
    }
    for (uint64_t i = 1; i <= 1000; i += 2)
        table_remove(i * 64, &out);
    visit_sum_t v = {0, 0};
    table_foreach(sum_visit, &v);
    assert_int_equal(v.count, 500);
    assert_int_equal(v.sum, 500 * 501); /* 2 + 4 + ... + 1000 */
}

/* Threads insert blocks, hand them to the next thread through a shared array, and remove the
 * blocks another thread inserted; at the end exactly the blocks never removed remain. */
#define THREADS 4
#define PER_THREAD 200000
static _Atomic uint64_t handoff[THREADS][1024];

static void *worker(void *arg)
{
    uintptr_t t = (uintptr_t)arg;
    live_info_t out;
    for (uint64_t i = 0; i < PER_THREAD; i++) {
        uint64_t addr = ((t + 1) << 40) | ((i + 1) << 4);
        live_info_t in = {i + 1, (uint32_t)t + 1, 0};
        if (table_insert(addr, &in) != 0)
            return (void *)1;
        uint64_t prev = atomic_exchange(&handoff[(t + 1) % THREADS][i % 1024], addr);
        if (prev && table_remove(prev, &out) != 1)
            return (void *)2;
    }
    return NULL;
}

static void test_table_concurrent_insert_remove_across_threads(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    for (uintptr_t t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)t);
    for (int t = 0; t < THREADS; t++) {
        void *rc;
        pthread_join(th[t], &rc);
        if (rc)
            fail_msg("thread %d: %s", t, rc == (void *)1 ? "insert failed" : "a handed-off block was not found");
    }
    size_t parked = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < 1024; i++) {
            live_info_t out;
            uint64_t addr = atomic_load(&handoff[t][i]);
            if (addr) {
                assert_int_equal(table_lookup(addr, &out), 1);
                parked++;
            }
        }
    assert_int_equal(table_live(), parked);
    assert_int_equal(table_dropped(), 0);
}

/* The same, with frees looking before they mark (the sampling mode): a block must never be
 * missed because the table was growing while it looked. */
static void test_table_unmarked_lookups_never_miss_during_growth(void **state)
{
    table_set_mostly_absent(1);
    memset(handoff, 0, sizeof handoff);
    test_table_concurrent_insert_remove_across_threads(state);
    live_info_t out;
    assert_int_equal(table_remove(0x7777770, &out), 0); /* an unknown block: not found */
    table_set_mostly_absent(0);
}

/* More threads alive at once than there are stripes of their own (the rest share), then as many
 * again once those ended (their stripes taken over): every block is counted once, through
 * growth, whichever kind of stripe counted it. */
#define WAVE 300
#define WAVE_BLOCKS 64
static pthread_barrier_t wave_all_in;

static void *wave_worker(void *arg)
{
    uint64_t base = (uint64_t)(uintptr_t)arg << 20;
    live_info_t in = {16, 1, 0}, out;
    for (uint64_t i = 0; i < WAVE_BLOCKS; i++)
        if (table_insert(base + i * 16, &in) != 0)
            return (void *)1;
    pthread_barrier_wait(&wave_all_in); /* every thread of the wave holds a stripe now */
    for (uint64_t i = 0; i < WAVE_BLOCKS; i += 2)
        if (table_remove(base + i * 16, &out) != 1)
            return (void *)2;
    return NULL;
}

static void test_table_counts_exact_with_more_threads_than_stripes_and_after_they_end(void **state)
{
    (void)state;
    static pthread_t th[WAVE];
    for (uintptr_t wave = 0; wave < 2; wave++) {
        pthread_barrier_init(&wave_all_in, NULL, WAVE);
        for (uintptr_t t = 0; t < WAVE; t++)
            assert_int_equal(pthread_create(&th[t], NULL, wave_worker, (void *)(wave * WAVE + t + 1)), 0);
        for (int t = 0; t < WAVE; t++) {
            void *rc;
            pthread_join(th[t], &rc);
            assert_null(rc);
        }
        pthread_barrier_destroy(&wave_all_in);
        assert_int_equal(table_live(), (wave + 1) * WAVE * WAVE_BLOCKS / 2);
    }
    visit_sum_t v = {0, 0};
    table_foreach(sum_visit, &v);
    assert_int_equal(v.count, 2 * WAVE * WAVE_BLOCKS / 2);
    assert_int_equal(table_dropped(), 0);
}

/* The record sort: a shuffled set of addresses, some equal in every bit but the lowest ones and
 * some far apart, comes out in address order with every record kept. */
static void test_table_sort_records_orders_by_address_keeping_every_record(void **state)
{
    (void)state;
    enum { N = 100000 };
    static table_rec_t recs[N];
    static uint32_t scratch[TABLE_SORT_SCRATCH];
    uint64_t x = 88172645463325252u, sum = 0, xor_all = 0;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t addr = i % 3 == 0 ? 0x7f0000000000 + (x % 4096) * 16         /* one page's worth */
                        : i % 3 == 1 ? 0x550000000000 + (x % (1u << 30)) * 16 /* a heap */
                                     : (x % ((UINT64_C(1) << 47) >> 4)) * 16 + 16;
        recs[i] = table_rec_make(addr, i, (uint32_t)(i % 1000));
        recs[i].key |= (x & 0xffff) << 48; /* birth bits: not part of the order */
        sum += recs[i].meta;
        xor_all ^= recs[i].key;
    }
    table_sort_records(recs, N, scratch);
    uint64_t sum_after = 0, xor_after = 0;
    for (size_t i = 0; i < N; i++) {
        if (i > 0 && table_rec_addr(&recs[i - 1]) > table_rec_addr(&recs[i]))
            fail_msg("record %zu out of order", i);
        sum_after += recs[i].meta;
        xor_after ^= recs[i].key;
    }
    assert_int_equal(sum_after, sum);
    assert_int_equal(xor_after, xor_all);
}

typedef struct {
    size_t count;
    uint64_t last;
    int ordered;
} order_visit_t;

static void order_visit(uint64_t addr, const live_info_t *info, void *ctx)
{
    (void)info;
    order_visit_t *v = ctx;
    v->ordered &= v->count == 0 || addr > v->last;
    v->last = addr;
    v->count++;
}

/* The last snapshot's frozen table: its live blocks in place and in order, foreign records
 * appended and sorted in but never visited or found as blocks; thawed, it is an empty table that
 * works as before. */
static void test_table_freeze_holds_live_blocks_sorted_then_thaws_empty(void **state)
{
    (void)state;
    live_info_t out;
    for (uint64_t i = 1; i <= 5000; i++) {
        live_info_t in = {i, 3, 0};
        assert_int_equal(table_insert(((i * 7919) % 5003 + 1) * 64, &in), 0);
    }
    for (uint64_t i = 1; i <= 5000; i += 2)
        assert_int_equal(table_remove(((i * 7919) % 5003 + 1) * 64, &out), 1);
    table_rec_t *recs;
    size_t n = table_freeze(&recs, 2);
    assert_int_equal(n, 2500);
    assert_non_null(recs);
    recs[n] = table_rec_make(0x100020, 4096, TABLE_STACK_FOREIGN);
    recs[n + 1] = table_rec_make(64 * 3000 + 8, 4096, TABLE_STACK_FOREIGN);
    uint32_t scratch[TABLE_SORT_SCRATCH];
    table_sort_records(recs, n + 2, scratch);
    table_frozen_sorted(n + 2);
    order_visit_t v = {0, 0, 1};
    table_foreach(order_visit, &v);
    assert_int_equal(v.count, 2500);
    assert_true(v.ordered);
    uint64_t kept = ((2 * 7919) % 5003 + 1) * 64, gone = ((1 * 7919) % 5003 + 1) * 64;
    assert_int_equal(table_lookup(kept, &out), 1);
    assert_int_equal(out.size, 2);
    assert_int_equal(table_lookup(gone, &out), 0);
    assert_int_equal(table_lookup(0x100020, &out), 0); /* foreign: not a block */
    live_info_t in = {1, 1, 0};
    assert_int_equal(table_insert(0x999990, &in), -1); /* frozen: nothing goes in */

    table_thaw_empty();
    assert_int_equal(table_live(), 0);
    assert_int_equal(table_lookup(kept, &out), 0);
    assert_int_equal(table_insert(kept, &in), 0);
    assert_int_equal(table_lookup(kept, &out), 1);
    assert_int_equal(table_live(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table_insert_then_lookup_returns_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_remove_returns_info_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_remove_of_unknown_address_finds_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_insert_after_remove_reuses_tombstone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_grows_and_keeps_every_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_full_counts_dropped_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_stores_sizes_beyond_limit_as_maximum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_foreach_visits_each_live_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_concurrent_insert_remove_across_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_unmarked_lookups_never_miss_during_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_counts_exact_with_more_threads_than_stripes_and_after_they_end,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_sort_records_orders_by_address_keeping_every_record, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_table_freeze_holds_live_blocks_sorted_then_thaws_empty, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
