/* Tracked mappings: whole and partial unmaps, holes, and MAP_FIXED replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "maps.h"

#include <stdint.h>
#include <string.h>

#define PAGE 4096u

typedef struct {
    map_rec_t recs[16];
    size_t n;
} collect_t;

static void collect(const map_rec_t *r, void *ctx)
{
    collect_t *c = ctx;
    c->recs[c->n++] = *r;
}

static collect_t all(void)
{
    collect_t c;
    memset(&c, 0, sizeof c);
    maps_foreach(collect, &c);
    return c;
}

static int teardown(void **state)
{
    (void)state;
    maps_remove(0, UINT64_MAX / 2, NULL, NULL);
    return 0;
}

static void test_maps_munmap_whole_mapping_forgets_it(void **state)
{
    (void)state;
    map_rec_t r = {0x100000, 4 * PAGE, 3, 0};
    maps_add(&r);
    collect_t removed = {0};
    maps_remove(0x100000, 4 * PAGE, collect, &removed);
    assert_int_equal(removed.n, 1);
    assert_int_equal(removed.recs[0].length, 4 * PAGE);
    assert_int_equal(removed.recs[0].stack_id, 3);
    assert_int_equal(maps_count(), 0);
}

static void test_maps_partial_munmap_in_middle_splits_in_two(void **state)
{
    (void)state;
    map_rec_t r = {0x200000, 10 * PAGE, 5, 0};
    maps_add(&r);
    collect_t removed = {0};
    maps_remove(0x200000 + 3 * PAGE, 2 * PAGE, collect, &removed);
    assert_int_equal(removed.recs[0].length, 2 * PAGE);
    collect_t c = all();
    assert_int_equal(c.n, 2);
    assert_int_equal(c.recs[0].start, 0x200000);
    assert_int_equal(c.recs[0].length, 3 * PAGE);
    assert_int_equal(c.recs[1].start, 0x200000 + 5 * PAGE);
    assert_int_equal(c.recs[1].length, 5 * PAGE);
    assert_int_equal(c.recs[1].stack_id, 5);
}

static void test_maps_munmap_across_two_mappings_trims_both(void **state)
{
    (void)state;
    map_rec_t a = {0x300000, 4 * PAGE, 1, 0}, b = {0x300000 + 4 * PAGE, 4 * PAGE, 2, 0};
    maps_add(&a);
    maps_add(&b);
    maps_remove(0x300000 + 2 * PAGE, 4 * PAGE, NULL, NULL);
    collect_t c = all();
    assert_int_equal(c.n, 2);
    assert_int_equal(c.recs[0].length, 2 * PAGE);
    assert_int_equal(c.recs[1].start, 0x300000 + 6 * PAGE);
    assert_int_equal(c.recs[1].length, 2 * PAGE);
}

static void test_maps_fixed_mapping_replaces_what_it_covers(void **state)
{
    (void)state;
    map_rec_t a = {0x400000, 8 * PAGE, 1, 0}, fixed = {0x400000 + 2 * PAGE, 2 * PAGE, 9, 0};
    maps_add(&a);
    maps_add(&fixed);
    collect_t c = all();
    assert_int_equal(c.n, 3);
    uint64_t total = 0;
    for (size_t i = 0; i < c.n; i++)
        total += c.recs[i].length;
    assert_int_equal(total, 8 * PAGE);
    assert_int_equal(c.recs[1].stack_id, 9);
}

static void test_maps_unmap_of_untracked_range_changes_nothing(void **state)
{
    (void)state;
    map_rec_t a = {0x500000, PAGE, 1, 0};
    maps_add(&a);
    maps_remove(0x900000, 16 * PAGE, NULL, NULL);
    assert_int_equal(maps_count(), 1);
}

static void test_maps_many_mappings_stay_sorted(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 1000; i++) {
        map_rec_t r = {0x10000000 + ((i * 7919) % 1000) * 2 * PAGE, PAGE, (uint32_t)i, 0};
        maps_add(&r);
    }
    assert_int_equal(maps_count(), 1000);
    maps_remove(0x10000000, 2000 * PAGE, NULL, NULL);
    assert_int_equal(maps_count(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_maps_munmap_whole_mapping_forgets_it, teardown),
        cmocka_unit_test_teardown(test_maps_partial_munmap_in_middle_splits_in_two, teardown),
        cmocka_unit_test_teardown(test_maps_munmap_across_two_mappings_trims_both, teardown),
        cmocka_unit_test_teardown(test_maps_fixed_mapping_replaces_what_it_covers, teardown),
        cmocka_unit_test_teardown(test_maps_unmap_of_untracked_range_changes_nothing, teardown),
        cmocka_unit_test_teardown(test_maps_many_mappings_stay_sorted, teardown),
    };
    return cmocka_run_group_tests_name("maps", tests, NULL, NULL);
}
