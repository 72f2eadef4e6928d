/* Clearing freed blocks (preload/hooks/scrub.c): after scrub_freed every byte glibc will hand out
 * again is zero, whichever lines held what, at every size the clearing takes a different way
 * (plain, the line-wise pass with its four-line steps and prefetches, resident pages of a large
 * block); a shrinking realloc clears the tail it gives back and keeps the rest. Blocks come from
 * the test's own glibc malloc, as the shim's real allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "glibc_heap.h"
#include "scrub.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    (void)state;
    mallopt(M_MMAP_THRESHOLD, 1 << 20); /* the large blocks below stay on the heap */
    glibc_heap_detect(free);
    scrub_init(malloc_usable_size, 1);
    return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* A block of size bytes whose usable bytes are zero but for the bytes at the offsets given
 * (taken modulo the usable size), then cleared: every usable byte must read zero after. */
static void check_cleared(size_t size, const size_t *offsets, size_t n)
{
    unsigned char *p = malloc(size);
    assert_non_null(p);
    size_t usable = malloc_usable_size(p);
    memset(p, 0, usable);
    for (size_t i = 0; i < n; i++)
        p[offsets[i] % usable] = (unsigned char)(0x5a + i);
    scrub_freed(p, size);
    assert_true(all_zero(p, usable));
    free(p);
}

static const size_t sizes[] = {8, 100, 255, 256, 300, 320, 1000, 4096, 5000, 20000, 65535, 70000, 300000};

static void test_scrub_clears_a_lone_byte_at_every_place(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        /* each byte of the first and last lines of a four-line step, and the block's last */
        static const size_t spots[] = {0, 7, 8, 31, 32, 63, 64, 127, 128, 191, 192, 255, 256, 511};
        for (size_t k = 0; k < sizeof spots / sizeof *spots; k++)
            check_cleared(sizes[s], &spots[k], 1);
        size_t last = (size_t)-1; /* modulo the usable size: its last byte */
        check_cleared(sizes[s], &last, 1);
    }
}

static void test_scrub_clears_scattered_lines_and_keeps_nothing(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15u;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        for (int round = 0; round < 8; round++) {
            size_t offsets[64];
            for (size_t i = 0; i < 64; i++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                offsets[i] = (size_t)(rng >> 11);
            }
            check_cleared(sizes[s], offsets, 1 + (size_t)round * 9);
        }
    }
}

static void test_scrub_shrinking_realloc_clears_the_tail_only(void **state)
{
    (void)state;
    if (!glibc_heap_active())
        skip(); /* another allocator (ASan's): realloc is left to it */
    static const size_t olds[] = {300, 5000, 70000};
    static const size_t news[] = {1, 13, 100, 257};
    for (size_t o = 0; o < 3; o++) {
        for (size_t n = 0; n < 4; n++) {
            unsigned char *p = malloc(olds[o]);
            assert_non_null(p);
            size_t usable = malloc_usable_size(p);
            memset(p, 0xa5, usable);
            assert_int_equal(scrub_before_realloc(p, olds[o], news[n]), 0);
            for (size_t i = 0; i < news[n]; i++)
                assert_int_equal(p[i], 0xa5);
            assert_true(all_zero(p + news[n], usable - news[n]));
            free(p);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrub_clears_a_lone_byte_at_every_place),
        cmocka_unit_test(test_scrub_clears_scattered_lines_and_keeps_nothing),
        cmocka_unit_test(test_scrub_shrinking_realloc_clears_the_tail_only),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
