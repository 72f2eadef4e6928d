/* The sampler's count of recorded blocks by address (preload/tables/sampler.h): a free of a block
 * it never recorded is told without the live table, and a recorded block is never missed, however
 * many share its bucket; without sampling every free is looked up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sampler.h"

#include <stdint.h>

static int setup(void **state)
{
    (void)state;
    sampler_init(524288);
    sampler_forget_all();
    return 0;
}

/* count addresses of one bucket, 16 bytes apart as glibc's blocks are */
static unsigned same_bucket(uintptr_t addr, uintptr_t *out, unsigned count)
{
    unsigned n = 0;
    for (uintptr_t a = addr; n < count; a += 16)
        if (sampler_bucket(a) == sampler_bucket(addr))
            out[n++] = a;
    return n;
}

static void test_sampler_knows_unrecorded_blocks_without_the_table(void **state)
{
    (void)state;
    uintptr_t a = 0x55550000a010;
    assert_false(sampler_may_have_recorded(a));
    sampler_note_recorded(a);
    assert_true(sampler_may_have_recorded(a));
    /* the neighbours in other buckets stay certain */
    unsigned others = 0;
    for (uintptr_t b = a + 16; b < a + 16 * 64; b += 16)
        others += sampler_bucket(b) != sampler_bucket(a) && !sampler_may_have_recorded(b);
    assert_true(others >= 60);
    sampler_note_forgotten(a);
    assert_false(sampler_may_have_recorded(a));
}

static void test_sampler_keeps_a_bucket_while_any_recorded_block_lives(void **state)
{
    (void)state;
    uintptr_t in_bucket[3];
    same_bucket(0x7f0000001000, in_bucket, 3);
    for (int i = 0; i < 3; i++)
        sampler_note_recorded(in_bucket[i]);
    sampler_note_forgotten(in_bucket[0]);
    sampler_note_forgotten(in_bucket[2]);
    assert_true(sampler_may_have_recorded(in_bucket[1]));
    sampler_note_forgotten(in_bucket[1]);
    assert_false(sampler_may_have_recorded(in_bucket[1]));
}

static void test_sampler_full_bucket_stays_looked_up(void **state)
{
    (void)state;
    uintptr_t in_bucket[300];
    same_bucket(0x7f1000000000, in_bucket, 300);
    for (int i = 0; i < 300; i++)
        sampler_note_recorded(in_bucket[i]);
    /* past 255 the count no longer knows how many live there: forgetting all must not clear it
     * while one might be left, so it never clears */
    for (int i = 0; i < 299; i++)
        sampler_note_forgotten(in_bucket[i]);
    assert_true(sampler_may_have_recorded(in_bucket[299]));
}

static void test_sampler_forget_all_clears_every_bucket(void **state)
{
    (void)state;
    sampler_note_recorded(0x7f2000000010);
    sampler_forget_all();
    assert_false(sampler_may_have_recorded(0x7f2000000010));
}

static void test_sampler_off_looks_up_every_free(void **state)
{
    (void)state;
    sampler_init(0);
    assert_true(sampler_may_have_recorded(0x7f3000000010));
    sampler_init(524288);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_sampler_knows_unrecorded_blocks_without_the_table, setup),
        cmocka_unit_test_setup(test_sampler_keeps_a_bucket_while_any_recorded_block_lives, setup),
        cmocka_unit_test_setup(test_sampler_full_bucket_stays_looked_up, setup),
        cmocka_unit_test_setup(test_sampler_forget_all_clears_every_bucket, setup),
        cmocka_unit_test_setup(test_sampler_off_looks_up_every_free, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
