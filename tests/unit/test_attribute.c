/* Attribution: the call site is the innermost frame of the application. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "attribute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static frame_t fr(const char *fn, const char *file, const char *module, unsigned flags)
{
    frame_t f;
    memset(&f, 0, sizeof f);
    f.function = fn;
    f.file = file;
    f.module = module;
    f.line = 10;
    f.module_flags = flags;
    return f;
}

static void test_attribute_skips_libraries_to_first_program_frame(void **state)
{
    (void)state;
    frame_t s[] = {fr("jpeg_get_small", "jmemmgr.c", "/usr/lib/x86_64-linux-gnu/libjpeg.so.62", 0),
                   fr("alloc_sarray", "jmemmgr.c", "/usr/lib/x86_64-linux-gnu/libjpeg.so.62", 0),
                   fr("decode", "app.c", "/srv/app", IMGLEAK_MODULE_MAIN),
                   fr("main", "app.c", "/srv/app", IMGLEAK_MODULE_MAIN)};
    assert_int_equal(attribute_site(s, 4, NULL), 2);
}

static void test_attribute_direct_call_is_its_own_site(void **state)
{
    (void)state;
    frame_t s[] = {fr("load", "app.c", "/srv/app", IMGLEAK_MODULE_MAIN),
                   fr("main", "app.c", "/srv/app", IMGLEAK_MODULE_MAIN)};
    assert_int_equal(attribute_site(s, 2, NULL), 0);
}

static void test_attribute_skips_code_inlined_from_system_headers(void **state)
{
    (void)state;
    frame_t s[] = {fr("strdup_inline", "/usr/include/x86_64-linux-gnu/bits/string3.h", "/srv/app",
                      IMGLEAK_MODULE_MAIN),
                   fr("parse", "src/parse.c", "/srv/app", IMGLEAK_MODULE_MAIN)};
    assert_int_equal(attribute_site(s, 2, NULL), 1);
}

static void test_attribute_counts_user_library_outside_system_dirs(void **state)
{
    (void)state;
    frame_t s[] = {fr("g_malloc", NULL, "/lib/x86_64-linux-gnu/libglib-2.0.so.0", 0),
                   fr("plugin_load", "plugin.c", "/opt/app/lib/libplugin.so", 0),
                   fr("main", "main.c", "/opt/app/bin/app", IMGLEAK_MODULE_MAIN)};
    assert_int_equal(attribute_site(s, 3, NULL), 1);
}

static void test_attribute_never_charges_the_shim_or_unknown_frames(void **state)
{
    (void)state;
    frame_t s[] = {fr("malloc", "shim.c", "/opt/imgleak/libimgleak.so", IMGLEAK_MODULE_SHIM),
                   fr(NULL, NULL, NULL, 0), fr("main", "m.c", "/a.out", IMGLEAK_MODULE_MAIN)};
    assert_int_equal(attribute_site(s, 3, NULL), 2);
}

static void test_attribute_app_pattern_claims_a_system_library(void **state)
{
    (void)state;
    frame_t s[] = {fr("MagickMalloc", NULL, "/usr/lib/libMagickCore-6.Q16.so.6", 0),
                   fr("my_ext", "ext.c", "/usr/lib/python3/dist-packages/myext.so", 0),
                   fr("main", "python.c", "/usr/bin/python3", IMGLEAK_MODULE_MAIN)};
    const char *pat[] = {"myext*.so"};
    attribute_opts_t o = {pat, 1};
    /* python3 is the interpreter, not the program: no frame is the application's */
    assert_int_equal(attribute_site(s, 3, NULL), 0);
    assert_int_equal(attribute_is_app(&s[2], NULL), 0);
    assert_int_equal(attribute_site(s, 3, &o), 1);
}

static frame_t script(const char *fn, const char *file)
{
    frame_t f = fr(fn, file, "CPython 3.11.2", 0);
    f.script = 1;
    return f;
}

static void test_attribute_interpreter_frames_go_to_the_script_line(void **state)
{
    (void)state;
    frame_t s[] = {fr("PyBytes_FromStringAndSize", NULL, "/usr/bin/python3.11", IMGLEAK_MODULE_MAIN),
                   fr("_PyEval_EvalFrameDefault", NULL, "/usr/bin/python3.11", IMGLEAK_MODULE_MAIN),
                   script("encode", "/srv/job/encode.py"),
                   script("<module>", "/srv/job/encode.py"),
                   fr("Py_BytesMain", NULL, "/opt/py/lib/libpython3.11.so.1.0", 0),
                   fr("main", NULL, "/usr/bin/python3.11", IMGLEAK_MODULE_MAIN)};
    assert_int_equal(attribute_site(s, 6, NULL), 2);
    assert_int_equal(attribute_is_app(&s[4], NULL), 0); /* libpython outside the system dirs */
    assert_int_equal(attribute_is_app(&s[5], NULL), 0);
}

static void test_attribute_library_code_of_the_interpreter_is_not_the_script(void **state)
{
    (void)state;
    frame_t s[] = {fr("PyBytes_FromStringAndSize", NULL, "/usr/bin/python3.11", IMGLEAK_MODULE_MAIN),
                   script("create_string_buffer", "/usr/lib/python3.11/ctypes/__init__.py"),
                   script("Image.resize", "/home/u/.venv/lib/python3.11/site-packages/PIL/Image.py"),
                   script("_find_and_load", "<frozen importlib._bootstrap>"),
                   script("thumbnail", "jobs/thumb.py")};
    assert_int_equal(attribute_site(s, 5, NULL), 4);
    const char *pat[] = {"*/ctypes/*"};
    attribute_opts_t o = {pat, 1};
    assert_int_equal(attribute_site(s, 5, &o), 1);
}

static void test_attribute_program_native_frame_before_a_script_frame(void **state)
{
    (void)state;
    /* a program embedding Python: its own C code owns the call, even from inside a script */
    frame_t s[] = {fr("png_malloc", NULL, "/usr/lib/x86_64-linux-gnu/libpng16.so.16", 0),
                   script("render", "/srv/app/render.py"),
                   fr("PyEval_EvalCode", NULL, "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", 0),
                   fr("run_plugin", "host.c", "/srv/app/host", IMGLEAK_MODULE_MAIN)};
    assert_int_equal(attribute_site(s, 4, NULL), 3);
    /* an extension module in site-packages or node_modules is the interpreter's library */
    frame_t ext = fr("Canvas::createPattern", "src/Canvas.cc",
                     "/srv/web/node_modules/canvas/build/Release/canvas.node", 0);
    assert_int_equal(attribute_is_app(&ext, NULL), 0);
    frame_t node = fr("node::Start", NULL, "/usr/local/bin/node", IMGLEAK_MODULE_MAIN);
    assert_int_equal(attribute_is_app(&node, NULL), 0);
}

/* an interpreter under another name is known by what it defines (Py_BytesMain) */
static void test_attribute_interpreter_known_by_its_symbols(void **state)
{
    (void)state;
    const char *python = "/usr/bin/python3.11";
    if (access(python, R_OK) != 0)
        skip();
    char dir[] = "/tmp/imgleak-attr-XXXXXX", link_path[64], plain[64];
    assert_non_null(mkdtemp(dir));
    snprintf(link_path, sizeof link_path, "%s/imgworker", dir);
    snprintf(plain, sizeof plain, "%s/plainprog", dir);
    assert_int_equal(symlink(python, link_path), 0);
    assert_int_equal(symlink("/bin/true", plain), 0);
    frame_t f = fr("f", NULL, link_path, IMGLEAK_MODULE_MAIN);
    frame_t g = fr("g", NULL, plain, IMGLEAK_MODULE_MAIN);
    int interp = attribute_is_app(&f, NULL), program = attribute_is_app(&g, NULL);
    unlink(link_path);
    unlink(plain);
    rmdir(dir);
    assert_int_equal(interp, 0);
    assert_int_equal(program, 1);
}

static void test_attribute_falls_back_to_innermost_when_no_program_frame(void **state)
{
    (void)state;
    frame_t s[] = {fr("eh_pool_init", NULL, "/lib/x86_64-linux-gnu/libstdc++.so.6", 0),
                   fr("_dl_init", NULL, "/lib64/ld-linux-x86-64.so.2", 0)};
    assert_int_equal(attribute_site(s, 2, NULL), 0);
    assert_int_equal(attribute_is_app(&s[0], NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attribute_skips_libraries_to_first_program_frame),
        cmocka_unit_test(test_attribute_direct_call_is_its_own_site),
        cmocka_unit_test(test_attribute_skips_code_inlined_from_system_headers),
        cmocka_unit_test(test_attribute_counts_user_library_outside_system_dirs),
        cmocka_unit_test(test_attribute_never_charges_the_shim_or_unknown_frames),
        cmocka_unit_test(test_attribute_app_pattern_claims_a_system_library),
        cmocka_unit_test(test_attribute_falls_back_to_innermost_when_no_program_frame),
        cmocka_unit_test(test_attribute_interpreter_frames_go_to_the_script_line),
        cmocka_unit_test(test_attribute_library_code_of_the_interpreter_is_not_the_script),
        cmocka_unit_test(test_attribute_program_native_frame_before_a_script_frame),
        cmocka_unit_test(test_attribute_interpreter_known_by_its_symbols),
    };
    return cmocka_run_group_tests_name("attribute", tests, NULL, NULL);
}
