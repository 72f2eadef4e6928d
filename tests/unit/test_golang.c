/* Go frames in reports (analyzer/model/golang.c): cgo glue hidden, the runtime never the application,
 * the runtime's own memory recognised, cgo's closures dropped, inlined call lines corrected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "attribute.h"
#include "golang.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXE "/srv/goapp"

static frame_t go(const char *fn, const char *file, unsigned line)
{
    frame_t f;
    memset(&f, 0, sizeof f);
    f.function = fn;
    f.file = file;
    f.line = line;
    f.module = EXE;
    f.module_flags = IMGLEAK_MODULE_MAIN;
    return f;
}

static void test_golang_cgo_call_frames_are_glue(void **state)
{
    (void)state;
    frame_t stub = go("_cgo_6c78bd0561f5_Cfunc_WebPEncodeRGBA", "/tmp/go-build/cgo-gcc-prolog", 57),
            asm_ = go("runtime.asmcgocall.abi0", "/usr/lib/go-1.19/src/runtime/asm_amd64.s", 844),
            call = go("runtime.cgocall", "/usr/lib/go-1.19/src/runtime/cgocall.go", 168),
            wrap = go("main._Cfunc_WebPEncodeRGBA", "_cgo_gotypes.go", 57),
            mine = go("main.encode", "/src/app/main.go", 40);
    assert_true(golang_frame_is_glue(&stub));
    assert_true(golang_frame_is_glue(&asm_));
    assert_true(golang_frame_is_glue(&call));
    assert_true(golang_frame_is_glue(&wrap));
    assert_false(golang_frame_is_glue(&mine));
}

static void test_golang_runtime_is_never_the_application(void **state)
{
    (void)state;
    frame_t mmap_ = go("x_cgo_mmap", "/_/runtime/cgo/gcc_mmap.c", 19),
            sys = go("runtime.sysReserve", "/usr/lib/go-1.19/src/runtime/mem_linux.go", 10),
            lib = go("net._C2func_getaddrinfo", "/usr/lib/go-1.19/src/net/cgo_unix.go", 30),
            mine = go("main.encode", "/src/app/main.go", 40);
    assert_false(attribute_is_app(&mmap_, NULL));
    assert_false(attribute_is_app(&sys, NULL));
    assert_false(attribute_is_app(&lib, NULL));
    assert_true(attribute_is_app(&mine, NULL));
}

static void test_golang_runtime_memory_has_no_application_frame(void **state)
{
    (void)state;
    frame_t runtime[] = {go("x_cgo_mmap", "/_/runtime/cgo/gcc_mmap.c", 19),
                         go("runtime.sysReserve", "/usr/lib/go-1.19/src/runtime/mem_linux.go", 10)};
    frame_t mine[] = {go("main.encode", "/src/app/main.go", 40),
                      go("runtime.main", "/usr/lib/go-1.19/src/runtime/proc.go", 250)};
    for (size_t i = 0; i < 2; i++) {
        runtime[i].app = attribute_is_app(&runtime[i], NULL);
        mine[i].app = attribute_is_app(&mine[i], NULL);
    }
    assert_true(golang_stack_is_runtime(runtime, 2));
    assert_false(golang_stack_is_runtime(mine, 2));
}

static void test_golang_drops_the_closure_cgo_wraps_a_call_in(void **state)
{
    (void)state;
    frame_t s[] = {go("WebPEncodeRGBA", "encode.c", 5), go("main.encode.func1", "/src/app/main.go", 40),
                   go("main.encode", "/src/app/main.go", 40), go("main.main", "/src/app/main.go", 60)};
    assert_int_equal(golang_drop_cgo_closures(s, 4), 3);
    assert_string_equal(s[1].function, "main.encode");
    /* a closure the program wrote, at another line, stays */
    frame_t t[] = {go("main.encode.func2", "/src/app/main.go", 41), go("main.encode", "/src/app/main.go", 40)};
    assert_int_equal(golang_drop_cgo_closures(t, 2), 2);
}

static void test_golang_call_line_in_a_cgo_file_loses_cgo_preamble_before_go_1_21(void **state)
{
    (void)state;
    char cgo[] = "/tmp/imgleak-golang-XXXXXX.go", plain[] = "/tmp/imgleak-golang-XXXXXX.go";
    int a = mkstemps(cgo, 3), b = mkstemps(plain, 3);
    assert_true(a >= 0 && b >= 0);
    assert_true(write(a, "package main\n\nimport \"C\"\n", 25) == 25);
    assert_true(write(b, "package main\n\nimport \"fmt\"\n", 27) == 27);
    close(a);
    close(b);
    assert_int_equal(golang_call_line("Go cmd/compile go1.19.8", cgo, 21), 18);
    assert_int_equal(golang_call_line("Go cmd/compile go1.19.8", plain, 21), 21);
    assert_int_equal(golang_call_line("GNU C17 12.2.0", cgo, 21), 21);
    /* from Go 1.21 the compiler gets it right itself */
    assert_int_equal(golang_call_line("Go cmd/compile go1.21.13; regabi", cgo, 21), 21);
    assert_int_equal(golang_call_line("Go cmd/compile go1.23.5; regabi", cgo, 21), 21);
    assert_int_equal(golang_call_line("Go cmd/compile go1.20.14; regabi", cgo, 21), 18);
    unlink(cgo);
    unlink(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golang_cgo_call_frames_are_glue),
        cmocka_unit_test(test_golang_runtime_is_never_the_application),
        cmocka_unit_test(test_golang_runtime_memory_has_no_application_frame),
        cmocka_unit_test(test_golang_drops_the_closure_cgo_wraps_a_call_in),
        cmocka_unit_test(test_golang_call_line_in_a_cgo_file_loses_cgo_preamble_before_go_1_21),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
