/* imgleak run's account of the program's end (analyzer/commands/supervise.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supervise_says_exit_status_and_signal),
        cmocka_unit_test(test_supervise_reads_oom_kill_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
