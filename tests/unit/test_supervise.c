/* imgleak run's account of the program's end (analyzer/commands/supervise.c) and its peak
 * snapshots (analyzer/commands/peaks.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "peaks.h"
#include "supervise.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_supervise_says_exit_status_and_signal(void **state)
{
    (void)state;
    supervise_t sv = {.oom_kills = -1, .system_oom_kills = -1};
    char end[80];
    supervise_describe_end(&sv, 0, end, sizeof end); /* W_EXITCODE(0, 0) */
    assert_string_equal(end, "exited 0");
    supervise_describe_end(&sv, 3 << 8, end, sizeof end);
    assert_string_equal(end, "exited 3");
    supervise_describe_end(&sv, SIGTERM, end, sizeof end);
    assert_string_equal(end, "killed by SIGTERM");
    supervise_describe_end(&sv, SIGKILL, end, sizeof end); /* no count: no guess */
    assert_string_equal(end, "killed by SIGKILL");
}

static void test_supervise_reads_oom_kill_counts(void **state)
{
    (void)state;
    char path[] = "/tmp/imgleak-oom-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n";
    assert_true(write(fd, text, sizeof text - 1) == (ssize_t)sizeof text - 1);
    close(fd);
    assert_int_equal(supervise_oom_kills(path), 7);
    unlink(path);
    assert_int_equal(supervise_oom_kills("/nonexistent/memory.events"), -1);
}

#define MIB(n) ((uint64_t)(n) << 20)

static void test_peaks_first_mark_is_the_floor_or_half_a_small_limit(void **state)
{
    (void)state;
    assert_true(peaks_first_mark(0) == PEAKS_FLOOR);
    assert_true(peaks_first_mark(MIB(16384)) == PEAKS_FLOOR);
    assert_true(peaks_first_mark(MIB(96)) == MIB(48));
}

static void test_peaks_next_mark_grows_by_the_factor_without_a_limit(void **state)
{
    (void)state;
    assert_true(peaks_next_mark(MIB(64), 0, 1.25) == MIB(80));
    assert_true(peaks_next_mark(MIB(80), 0, 1.25) == MIB(100));
    assert_true(peaks_next_mark(MIB(1), 0, 1.0000001) > MIB(1)); /* always moves on */
}

static void test_peaks_next_mark_stops_at_80_90_95_percent_of_the_limit(void **state)
{
    (void)state;
    uint64_t limit = MIB(1000);
    assert_true(peaks_next_mark(MIB(700), limit, 1.25) == MIB(800));
    assert_true(peaks_next_mark(MIB(800), limit, 1.25) == MIB(900));
    assert_true(peaks_next_mark(MIB(900), limit, 1.25) == MIB(950));
    assert_true(peaks_next_mark(MIB(950), limit, 1.25) == (uint64_t)(MIB(950) * 1.25));
    assert_true(peaks_next_mark(MIB(100), limit, 1.25) == MIB(125)); /* far below: the factor */
}

static void test_peaks_off_never_asks(void **state)
{
    (void)state;
    peaks_t pk;
    peaks_init(&pk, 0);
    assert_int_equal(peaks_due(&pk, getpid()), 0);
    peaks_init(&pk, 1.0); /* not above 1: off */
    assert_int_equal(peaks_due(&pk, getpid()), 0);
}

static void test_peaks_memory_limit_is_at_most_the_machine(void **state)
{
    (void)state;
    uint64_t limit = peaks_memory_limit(getpid());
    assert_true(limit > MIB(16));
    peaks_t pk;
    peaks_init(&pk, 1.25);
    peaks_due(&pk, getpid()); /* this test is far below any mark */
    assert_true(pk.mark > 0 && pk.mark <= PEAKS_FLOOR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supervise_says_exit_status_and_signal),
        cmocka_unit_test(test_supervise_reads_oom_kill_counts),
        cmocka_unit_test(test_peaks_first_mark_is_the_floor_or_half_a_small_limit),
        cmocka_unit_test(test_peaks_next_mark_grows_by_the_factor_without_a_limit),
        cmocka_unit_test(test_peaks_next_mark_stops_at_80_90_95_percent_of_the_limit),
        cmocka_unit_test(test_peaks_off_never_asks),
        cmocka_unit_test(test_peaks_memory_limit_is_at_most_the_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
