/* The per-thread stack cache: a hit only while every remembered slot holds its return address
 * and the frame key is unchanged, nothing remembered outside the thread's stack, counts held
 * back per thread and found by a snapshot. A fake stack (an array) stands in for the thread's;
 * the thread's cache lives on from test to test, so each test has return addresses of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "guard.h"
#include "stackcache.h"
#include "stacks.h"

#include <stdint.h>
#include <string.h>

static uint64_t region[128] __attribute__((aligned(64)));
#define fake_stack region /* the thread's stack is region[0..64): the rest is beyond its top */
static uint64_t *const elsewhere = &region[100];
static const unsigned at[] = {0, 3, 7, 20};
static uint64_t frames[4];
static uint64_t next_base = 0x400000;

/* a chain of return addresses no earlier test used */
static void fake_chain(void)
{
    memset(region, 0, sizeof region);
    next_base += 0x10000;
    for (unsigned i = 0; i < 4; i++)
        fake_stack[at[i]] = frames[i] = next_base + 0x1000 * i;
}

static void slots_of(uint64_t *slots)
{
    for (unsigned i = 0; i < 4; i++)
        slots[i] = (uint64_t)(uintptr_t)&fake_stack[at[i]];
}

static uintptr_t ret_slot(void)
{
    return (uintptr_t)&fake_stack[0];
}

static int setup(void **state)
{
    (void)state;
    imgleak_guard.stack_lo = (uint64_t)(uintptr_t)fake_stack;
    imgleak_guard.stack_hi = (uint64_t)(uintptr_t)(fake_stack + 64);
    imgleak_guard.frame_key = 0;
    stackcache_init(32);
    fake_chain();
    return stacks_init(1024, 32);
}

static int teardown(void **state)
{
    (void)state;
    stacks_destroy();
    return 0;
}

/* fills the cache with the fake chain as stack id; the first look-up makes the thread's cache */
static void remember(uint32_t id)
{
    uint32_t got;
    int truncated;
    uint64_t slots[4];
    stackcache_lookup(ret_slot(), &got, &truncated);
    slots_of(slots);
    stackcache_fill(frames, slots, 4, 0, id);
}

static void test_stackcache_hit_while_every_slot_holds(void **state)
{
    (void)state;
    uint32_t id = 0;
    int truncated = 1;
    remember(7);
    assert_true(stackcache_lookup(ret_slot(), &id, &truncated));
    assert_int_equal(id, 7);
    assert_int_equal(truncated, 0);
}

static void test_stackcache_miss_when_an_outer_frame_changed(void **state)
{
    (void)state;
    uint32_t id;
    int truncated;
    remember(8);
    fake_stack[at[2]] = 0x409999; /* another caller two frames up */
    assert_false(stackcache_lookup(ret_slot(), &id, &truncated));
    fake_stack[at[2]] = frames[2];
    assert_true(stackcache_lookup(ret_slot(), &id, &truncated));
    assert_int_equal(id, 8);
    fake_stack[at[3]] = 0; /* the outermost one */
    assert_false(stackcache_lookup(ret_slot(), &id, &truncated));
}

static void test_stackcache_miss_when_the_frame_key_changed(void **state)
{
    (void)state;
    uint32_t id;
    int truncated;
    remember(9);
    imgleak_guard.frame_key = 42; /* another input, other interpreter frames */
    assert_false(stackcache_lookup(ret_slot(), &id, &truncated));
    remember(10);
    assert_true(stackcache_lookup(ret_slot(), &id, &truncated));
    assert_int_equal(id, 10);
    imgleak_guard.frame_key = 0;
    assert_true(stackcache_lookup(ret_slot(), &id, &truncated));
    assert_int_equal(id, 9);
}

static void test_stackcache_never_remembers_outside_the_stack(void **state)
{
    (void)state;
    uint32_t id, got;
    int truncated;
    uint64_t slots[4];
    stackcache_lookup(ret_slot(), &id, &truncated);
    slots_of(slots);
    slots[3] = (uint64_t)(uintptr_t)&elsewhere[0]; /* an outer frame read beyond the stack */
    elsewhere[0] = frames[3];
    stackcache_fill(frames, slots, 4, 0, 11);
    assert_false(stackcache_lookup(ret_slot(), &got, &truncated));
}

static void test_stackcache_counts_held_back_are_summed_and_flushed(void **state)
{
    (void)state;
    uint64_t a[] = {0x401000, 0x402000}, b[] = {0x501000};
    uint32_t id = stacks_intern(a, 2, 0, 0), other = 0;
    assert_true(id != 0);
    for (int i = 0; i < 3; i++)
        stackcache_count_alloc(id, 100);
    stackcache_count_free(id, 100);
    stack_view_t v;
    assert_true(stacks_get(id, &v));
    assert_int_equal(v.allocs, 0); /* held back in this thread's cache */
    uint64_t allocs = 0, frees = 0, alloc_bytes = 0, free_bytes = 0;
    stackcache_pending_begin();
    stackcache_pending_of(id, &allocs, &frees, &alloc_bytes, &free_bytes);
    stackcache_pending_end();
    assert_int_equal(allocs, 3);
    assert_int_equal(frees, 1);
    assert_int_equal(alloc_bytes, 300);
    assert_int_equal(free_bytes, 100);
    /* a stack whose id takes the same entry: the first one's counts go to its own counters */
    while (other == 0 || (other - id) % 64 != 0) {
        other = stacks_intern(b, 1, 0, 0);
        b[0] += 16;
    }
    stackcache_count_alloc(other, 5);
    assert_true(stacks_get(id, &v));
    assert_int_equal(v.allocs, 3);
    assert_int_equal(v.frees, 1);
    assert_int_equal(v.alloc_bytes, 300);
    allocs = frees = alloc_bytes = free_bytes = 0;
    stackcache_pending_begin();
    stackcache_pending_of(id, &allocs, &frees, &alloc_bytes, &free_bytes);
    stackcache_pending_end();
    assert_int_equal(allocs, 0); /* nothing counted twice */
}

static void test_stackcache_stops_filling_when_most_lookups_miss(void **state)
{
    (void)state;
    uint32_t id;
    int truncated;
    remember(12);
    fake_stack[at[1]] = 0x40ffff;
    for (int i = 0; i < 1024 && stackcache_wants_fill(); i++)
        stackcache_lookup(ret_slot(), &id, &truncated);
    assert_false(stackcache_wants_fill());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stackcache_hit_while_every_slot_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stackcache_miss_when_an_outer_frame_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stackcache_miss_when_the_frame_key_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stackcache_never_remembers_outside_the_stack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stackcache_counts_held_back_are_summed_and_flushed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stackcache_stops_filling_when_most_lookups_miss, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
