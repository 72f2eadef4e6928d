/* Stack interning: identity, the truncation flag, counters, a full table, concurrent interning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "stacks.h"

#include <pthread.h>
#include <stdint.h>

static int setup(void **state)
{
    (void)state;
    return stacks_init(1024, 32);
}

static int teardown(void **state)
{
    (void)state;
    stacks_destroy();
    return 0;
}

static void test_stacks_same_frames_get_same_id(void **state)
{
    (void)state;
    uint64_t a[] = {0x401000, 0x402000, 0x403000};
    uint64_t b[] = {0x401000, 0x402000, 0x403000};
    uint32_t id = stacks_intern(a, 3, 0, 0);
    assert_true(id != 0);
    assert_int_equal(stacks_intern(b, 3, 0, 0), id);
    assert_int_equal(stacks_count(), 1);
}

static void test_stacks_different_frames_or_depth_get_new_ids(void **state)
{
    (void)state;
    uint64_t a[] = {0x401000, 0x402000, 0x403000};
    uint64_t c[] = {0x401000, 0x402001, 0x403000};
    uint32_t id_a = stacks_intern(a, 3, 0, 0);
    uint32_t id_c = stacks_intern(c, 3, 0, 0);
    uint32_t id_short = stacks_intern(a, 2, 0, 0);
    assert_true(id_a != id_c && id_a != id_short && id_c != id_short);
}

static void test_stacks_truncated_flag_is_part_of_identity(void **state)
{
    (void)state;
    uint64_t a[] = {1, 2, 3};
    uint32_t whole = stacks_intern(a, 3, 0, 0), cut = stacks_intern(a, 3, 1, 0);
    assert_true(whole != cut);
    stack_view_t v;
    assert_int_equal(stacks_get(cut, &v), 1);
    assert_int_equal(v.truncated, 1);
    assert_int_equal(v.depth, 3);
    assert_memory_equal(v.frames, a, sizeof a);
}

static void test_stacks_input_is_part_of_identity(void **state)
{
    (void)state;
    uint64_t a[] = {0x401000, 0x402000};
    uint32_t none = stacks_intern(a, 2, 0, 0);
    uint32_t first = stacks_intern(a, 2, 0, 7), second = stacks_intern(a, 2, 0, 8);
    assert_true(none != first && first != second && none != second);
    assert_int_equal(stacks_intern(a, 2, 0, 7), first);
    stack_view_t v;
    assert_int_equal(stacks_get(second, &v), 1);
    assert_int_equal(v.input, 8);
    assert_int_equal(stacks_get(none, &v), 1);
    assert_int_equal(v.input, 0);
}

static void test_stacks_counters_add_up(void **state)
{
    (void)state;
    uint64_t a[] = {7, 8};
    uint32_t id = stacks_intern(a, 2, 0, 0);
    stacks_count_alloc(id, 100);
    stacks_count_alloc(id, 50);
    stacks_count_free(id, 100);
    stacks_count_alloc(0, 1000); /* id 0 (no stack) is ignored, not a crash */
    stack_view_t v;
    stacks_get(id, &v);
    assert_int_equal(v.allocs, 2);
    assert_int_equal(v.frees, 1);
    assert_int_equal(v.alloc_bytes, 150);
    assert_int_equal(v.free_bytes, 100);
}

static void test_stacks_full_table_returns_zero_and_counts(void **state)
{
    (void)state;
    stacks_destroy();
    assert_int_equal(stacks_init(16, 4), 0);
    for (uint64_t i = 1; i <= 16; i++)
        assert_true(stacks_intern(&i, 1, 0, 0) != 0);
    uint64_t more = 99;
    assert_int_equal(stacks_intern(&more, 1, 0, 0), 0);
    assert_int_equal(stacks_dropped(), 1);
    uint64_t known = 3; /* already interned stacks are still found */
    assert_true(stacks_intern(&known, 1, 0, 0) != 0);
}

/* Many stacks: the index grows past its first levels and the nodes past their first chunks,
 * and every stack is still found under its first id. */
static void test_stacks_grow_as_they_are_interned(void **state)
{
    (void)state;
    stacks_destroy();
    assert_int_equal(stacks_init(1u << 20, 32), 0);
    enum { N = 40000 };
    static uint32_t ids[N];
    for (uint64_t i = 0; i < N; i++) {
        uint64_t frames[16] = {i + 1, i * 5, 77};
        ids[i] = stacks_intern(frames, 16, 0, 0);
        assert_true(ids[i] != 0);
    }
    for (uint64_t i = 0; i < N; i++) {
        uint64_t frames[16] = {i + 1, i * 5, 77};
        assert_int_equal(stacks_intern(frames, 16, 0, 0), ids[i]);
        stack_view_t v;
        assert_int_equal(stacks_get(ids[i], &v), 1);
        assert_int_equal(v.frames[0], i + 1);
    }
    assert_int_equal(stacks_count(), N);
    assert_int_equal(stacks_dropped(), 0);
}

/* Threads interning while the index and the arena grow under them: every stack gets an id whose
 * frames are its own (two ids for one stack are allowed when a level was added meanwhile). */
static void *intern_growing(void *arg)
{
    uintptr_t seed = (uintptr_t)arg;
    for (uint64_t i = 0; i < 12000; i++) {
        uint64_t frames[8] = {(i * 7 + seed) % 30000 + 1, 5, 6};
        uint32_t id = stacks_intern(frames, 8, 0, 0);
        stack_view_t v;
        if (id == 0 || !stacks_get(id, &v) || v.frames[0] != frames[0])
            return (void *)1;
    }
    return NULL;
}

static void test_stacks_concurrent_growth(void **state)
{
    (void)state;
    stacks_destroy();
    assert_int_equal(stacks_init(1u << 20, 32), 0);
    pthread_t th[4];
    for (uintptr_t t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, intern_growing, (void *)(t * 3001));
    for (int t = 0; t < 4; t++) {
        void *rc;
        pthread_join(th[t], &rc);
        assert_null(rc);
    }
    assert_true(stacks_count() >= 30000 / 7);
    assert_int_equal(stacks_dropped(), 0);
}

typedef struct {
    uint32_t ids[500];
} intern_result_t;

static void *intern_all(void *arg)
{
    intern_result_t *r = arg;
    for (uint64_t i = 0; i < 500; i++) {
        uint64_t frames[4] = {i, i * 3, i * 7, 42};
        r->ids[i] = stacks_intern(frames, 4, 0, 0);
    }
    return NULL;
}

static void test_stacks_concurrent_interning_agrees_on_ids(void **state)
{
    (void)state;
    pthread_t th[4];
    static intern_result_t res[4];
    for (int t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, intern_all, &res[t]);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < 500; i++) {
        assert_true(res[0].ids[i] != 0);
        for (int t = 1; t < 4; t++)
            assert_int_equal(res[t].ids[i], res[0].ids[i]);
    }
    size_t visible = 0;
    for (uint32_t id = 1; id < 2000; id++) {
        stack_view_t v;
        visible += stacks_get(id, &v);
    }
    assert_int_equal(visible, 500); /* ids that lost a race are not reported as stacks */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stacks_same_frames_get_same_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks_different_frames_or_depth_get_new_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks_input_is_part_of_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks_truncated_flag_is_part_of_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks_counters_add_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks_full_table_returns_zero_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks_concurrent_interning_agrees_on_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks_grow_as_they_are_interned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stacks_concurrent_growth, setup, teardown),
    };
    return cmocka_run_group_tests_name("stacks", tests, NULL, NULL);
}
