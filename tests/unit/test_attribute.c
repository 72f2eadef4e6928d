/* Attribution: the call site is the innermost frame of the application. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "attribute.h"

#include <string.h>

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
    assert_int_equal(attribute_site(s, 3, NULL), 2);
    assert_int_equal(attribute_site(s, 3, &o), 1);
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
    };
    return cmocka_run_group_tests_name("attribute", tests, NULL, NULL);
}
