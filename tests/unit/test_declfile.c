/* Handle declarations (preload/catalog/declfile.c): the format of docs/HANDLES.md, read by the
 * shim at start and checked by imgleak run --handles; every mistake refused with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "imgleak/declfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static decl_set_t *fresh(void)
{
    decl_set_t *set = calloc(1, sizeof *set);
    assert_non_null(set);
    return set;
}

static int parse(decl_set_t *set, const char *text, decl_error_t *err)
{
    return decl_parse(set, text, strlen(text), err);
}

static void test_declfile_builtin_declarations_parse(void **state)
{
    (void)state;
    decl_set_t *set = fresh();
    decl_error_t err;
    assert_int_equal(parse(set, imgleak_builtin_handles, &err), 0);
    int vips = decl_type_find(set, "VipsImage");
    assert_true(vips >= 0);
    assert_true(set->types[vips].flags & DECL_TYPE_REFCOUNTED);
    assert_string_equal(set->types[vips].lib, "libvips.so");
    int unref = decl_function_find(set, "g_object_unref");
    assert_true(unref >= 0);
    assert_int_equal(set->functions[unref].kind, DECL_DESTROY);
    assert_string_equal(set->functions[unref].lib, "libgobject-2.0.so");
    int release = decl_function_find(set, "cvReleaseMat");
    assert_true(release >= 0);
    assert_int_equal(set->functions[release].from, DECL_FROM_DEREF);
    assert_int_equal(set->functions[release].arg, 1);
    assert_int_equal(__builtin_popcountll(set->functions[release].types), 2); /* CvMat, CvMatND */
    free(set);
}

static void test_declfile_user_pair_as_in_the_docs(void **state)
{
    (void)state;
    decl_set_t *set = fresh();
    decl_error_t err;
    const char *text = "# a user's own pair\n"
                       "type    UserBuf   lib=libuserbuf.so refcounted   # the type\n"
                       "\n"
                       "create  UserBuf   buf_new    return\n"
                       "create  UserBuf   buf_open   out=2 ok=0\n"
                       "create  UserBuf   buf_init   arg=9 fail=-1\n"
                       "create  UserBuf   buf_get    out=1 fail=null lib=libother.so\n"
                       "destroy UserBuf   buf_free   arg=1\n"
                       "destroy UserBuf   buf_release arg=*3\n"
                       "ref     UserBuf   buf_ref    arg=1\n"
                       "reset   UserBuf   buf_clear  arg=2\n";
    assert_int_equal(parse(set, text, &err), 0);
    assert_int_equal(set->type_count, 1);
    assert_int_equal(set->function_count, 8);
    const decl_function_t *open_ = &set->functions[decl_function_find(set, "buf_open")];
    assert_int_equal(open_->from, DECL_FROM_OUT);
    assert_int_equal(open_->arg, 2);
    assert_int_equal(open_->check, DECL_CHECK_OK);
    assert_int_equal(open_->value, 0);
    assert_string_equal(open_->lib, "libuserbuf.so");
    const decl_function_t *init = &set->functions[decl_function_find(set, "buf_init")];
    assert_int_equal(init->from, DECL_FROM_ARG);
    assert_int_equal(init->arg, 9);
    assert_int_equal(init->check, DECL_CHECK_FAIL);
    assert_int_equal(init->value, -1);
    const decl_function_t *get = &set->functions[decl_function_find(set, "buf_get")];
    assert_true(get->wide);
    assert_int_equal(get->value, 0);
    assert_string_equal(get->lib, "libother.so");
    assert_int_equal(set->functions[decl_function_find(set, "buf_release")].arg, 3);
    assert_int_equal(set->functions[decl_function_find(set, "buf_ref")].kind, DECL_REF);
    assert_int_equal(set->functions[decl_function_find(set, "buf_clear")].kind, DECL_RESET);
    assert_int_equal(set->functions[decl_function_find(set, "buf_free")].line, 8);
    free(set);
}

/* Each bad text is refused with the line that is wrong and a message that names the mistake. */
static void test_declfile_refuses_a_bad_line_with_its_number(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned line;
        const char *says;
    } cases[] = {
        {"type T lib=libt.so\ncreate T t_new\n", 2, "create needs"},
        {"type T lib=libt.so\n\n# c\ndestroy T t_free arg=x1\n", 4, "bad argument number"},
        {"type T lib=libt.so\ndestroy T t_free arg=17\n", 2, "1 to 16"},
        {"type T lib=libt.so\ncreate T t_new out=0\n", 2, "bad argument number"},
        {"create T t_new return\n", 1, "not declared"},
        {"type T\n", 1, "lib="},
        {"type T lib=/usr/lib/libt.so\n", 1, "file name"},
        {"type T lib=libt.so\ntype T lib=libu.so\n", 2, "twice"},
        {"type T lib=libt.so\ncreate T t_new return\ncreate T t_new return\n", 3, "at line 2"},
        {"type T lib=libt.so\nref T t_ref arg=1\n", 2, "refcounted"},
        {"type T lib=libt.so\ncreat T t_new return\n", 2, "unknown word 'creat'"},
        {"type T lib=libt.so\ncreate T t-new return\n", 2, "bad function name"},
        {"type T lib=libt.so\ncreate T t_new return ok=0\n", 2, "ok=/fail="},
        {"type T lib=libt.so\ncreate T t_new out=1 ok=zero\n", 2, "bad value"},
        {"type T lib=libt.so\ncreate T t_new out=1 ok=4294967296\n", 2, "bad value"},
        {"type T lib=libt.so\ndestroy T t_free arg=1 colour=red\n", 2, "unknown word 'colour=red'"},
        {"type T lib=libt.so\ntype U lib=libt.so\ncreate T,U t_new return\n", 3, "one type"},
        {"type T lib=libt.so\ndestroy T,T t_free arg=1\n", 2, "named twice"},
        {"type T lib=libt.so\ncreate T close return\n", 2, "C library's"},
        {"type FILE lib=libt.so\n", 1, "C library's"},
        {"type \"T one lib=libt.so\n", 1, "quote is not closed"},
        {"type \"\" lib=libt.so\n", 1, "bad type name"},
        {"type T lib=libt.so,\n", 1, "file names"},
        {"type T lib=lib/t.so\n", 1, "file names"},
        {"type T lib=libt.so library=a,b\n", 1, "bad library name"},
        {"type T lib=libt.so\ndestroy T t_free arg=*1,2\n", 2, "all alike"},
        {"type T lib=libt.so\ndestroy T t_free arg=*1,*2,*3,*4\n", 2, "up to 3"},
        {"type T lib=libt.so\ncreate T t_new arg=1,2\n", 2, "bad argument number"},
        {"type T lib=libt.so\ncreate T t_new arg=*1\n", 2, "bad argument number"},
        {"type T lib=libt.so\ncreate T t_new return holds=1\n", 2, "unknown word 'holds=1'"},
        {"type T lib=libt.so\ndestroy T t_free arg=1 holds=16\n", 2, "0 to 15"},
        {"type T lib=libt.so\ncreate T t_new out=1 fail=0x\n", 2, "bad value"},
        {"type T lib=libt.so\ncreate T t_new out=1 fail=9223372036854775808L\n", 2, "bad value"},
        {"input t_read path=1\n", 1, "input needs lib="},
        {"input t_read handle=1 lib=libt.so\n", 1, "input needs path=N"},
        {"input t_read memory=1 lib=libt.so\n", 1, "bad input"},
        {"input t_read path=1,2 lib=libt.so\n", 1, "bad input"},
        {"type T lib=libt.so\ndestroy T t_read arg=1 path=1\n", 2, "unknown word 'path=1'"},
        {"type T lib=libt.so\ncreate T t_new return\xc3\xa9\n", 2, "printable"},
        {"type T lib=libt.so refcounted sometimes\n", 1, "unknown word 'sometimes'"},
        {"api VkTable vkGetTable lib=libvk.so\n", 1, "OrtApi only"},
        {"api OrtApi OrtGetApiBase\n", 1, "api needs"},
        {"type T lib=libt.so\ncreate T OrtApi.CreateEnv out=3 ok=null\n", 2, "api line first"},
        {"api OrtApi OrtGetApiBase lib=libort.so\ntype T lib=libt.so\ncreate T OrtApi.CreateNothing out=3\n", 3,
         "does not know"},
        {"type T lib=libt.so\ncreate T a.b.c return\n", 2, "bad function name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        decl_set_t *set = fresh();
        decl_error_t err;
        if (parse(set, cases[i].text, &err) != -1)
            fail_msg("case %zu: accepted", i);
        if (err.line != cases[i].line || !strstr(err.message, cases[i].says))
            fail_msg("case %zu: line %u '%s', expected line %u saying '%s'", i, err.line,
                     err.message, cases[i].line, cases[i].says);
        free(set);
    }
}

/* ONNX Runtime: members of the OrtApi table by name, at their places in onnxruntime_c_api.h. */
static void test_declfile_table_members_get_their_index(void **state)
{
    (void)state;
    decl_set_t *set = fresh();
    decl_error_t err;
    assert_int_equal(parse(set, imgleak_builtin_handles, &err), 0);
    int api = decl_function_find(set, "OrtGetApiBase");
    assert_true(api >= 0);
    assert_int_equal(set->functions[api].kind, DECL_API);
    assert_string_equal(set->functions[api].table, "OrtApi");
    const decl_function_t *create = &set->functions[decl_function_find(set, "OrtApi.CreateTensorWithDataAsOrtValue")];
    assert_int_equal(create->table_index, 49);
    assert_int_equal(create->from, DECL_FROM_OUT);
    assert_int_equal(create->arg, 7);
    assert_true(create->wide);
    assert_int_equal(set->functions[decl_function_find(set, "OrtApi.ReleaseValue")].table_index, 96);
    assert_int_equal(set->functions[decl_function_find(set, "g_object_unref")].table_index, -1);
    free(set);
}

/* What the codec libraries need: quoted names, several libraries, a directory, a library name for
 * the reports, several handles in one destroy, a no-op destroy, a 64-bit failure value, inputs. */
static void test_declfile_codec_vocabulary(void **state)
{
    (void)state;
    decl_set_t *set = fresh();
    decl_error_t err;
    const char *text =
        "type \"png_struct (read)\" lib=libpng\n"
        "type png_info lib=libpng replaces refilled\n"
        "type Wand lib=libMagick,ImageMagick-/ library=MagickWand lenient\n"
        "destroy \"png_struct (read)\",png_info png_destroy_read_struct arg=*1,*2,*3\n"
        "destroy png_info png_image_free arg=1 holds=0\n"
        "create png_info WebPEncodeRGB out=5 fail=0L\n"
        "create png_info png_begin arg=1 fail=0 memory=2,3\n"
        "create Wand TIFFFdOpen return fd=1\n"
        "input jpeg_stdio_src stream=2 handle=1 lib=libjpeg.so,libturbojpeg.so\n"
        "input MagickReadImage path=2 lib=libMagick\n";
    assert_int_equal(parse(set, text, &err), 0);
    int read = decl_type_find(set, "png_struct (read)");
    assert_int_equal(read, 0);
    assert_string_equal(set->types[read].library, "libpng"); /* lib='s first word by default */
    assert_int_equal(set->types[1].flags, DECL_TYPE_REPLACES | DECL_TYPE_REFILLED);
    assert_string_equal(set->types[2].library, "MagickWand");
    const decl_function_t *f = &set->functions[decl_function_find(set, "png_destroy_read_struct")];
    assert_int_equal(f->types, 3);
    assert_int_equal(f->from, DECL_FROM_DEREF);
    assert_int_equal(f->arg, 1);
    assert_int_equal(f->more[0], 2);
    assert_int_equal(f->more[1], 3);
    assert_int_equal(set->functions[decl_function_find(set, "png_image_free")].holds, 1);
    f = &set->functions[decl_function_find(set, "WebPEncodeRGB")];
    assert_int_equal(f->check, DECL_CHECK_FAIL);
    assert_true(f->wide);
    assert_int_equal(f->value, 0);
    f = &set->functions[decl_function_find(set, "png_begin")];
    assert_false(f->wide);
    assert_int_equal(f->input, DECL_INPUT_MEMORY);
    assert_int_equal(f->input_arg, 2);
    assert_int_equal(f->input_len, 3);
    assert_int_equal(set->functions[decl_function_find(set, "TIFFFdOpen")].input, DECL_INPUT_FD);
    f = &set->functions[decl_function_find(set, "jpeg_stdio_src")];
    assert_int_equal(f->kind, DECL_INPUT);
    assert_int_equal(f->input, DECL_INPUT_STREAM);
    assert_int_equal(f->input_arg, 2);
    assert_int_equal(f->input_handle, 1);
    assert_string_equal(f->lib, "libjpeg.so,libturbojpeg.so");
    assert_int_equal(set->functions[decl_function_find(set, "MagickReadImage")].input_handle, 0);
    free(set);
}

/* lib= words: a file name's start, or (ending in '/') a directory's. */
static void test_declfile_lib_matches_file_names_and_directories(void **state)
{
    (void)state;
    const char *magick = "libMagick,ImageMagick-/";
    assert_true(decl_lib_matches("/usr/lib/x86_64-linux-gnu/libMagickCore-6.Q16.so.6", magick));
    assert_true(decl_lib_matches("/usr/lib/x86_64-linux-gnu/ImageMagick-6.9.11/modules-Q16/coders/png.so", magick));
    assert_false(decl_lib_matches("/usr/lib/x86_64-linux-gnu/libpng16.so.16", magick));
    assert_false(decl_lib_matches("/opt/ImageMagick-7", magick)); /* a file, not a directory */
    assert_false(decl_lib_matches("/opt/libMagick/libfoo.so", magick));
    assert_true(decl_lib_matches("/usr/lib/libturbojpeg.so.0", "libjpeg.so,libturbojpeg.so"));
    assert_false(decl_lib_matches("/usr/lib/libjpegxl.so", "libjpeg.so,libturbojpeg.so"));
    assert_false(decl_lib_matches("/usr/lib/libvips-cpp.so.42", "libvips.so"));
    assert_false(decl_lib_matches(NULL, "libvips.so"));
}

/* The codecs are declarations too: their report names and semantics are as they always were. */
static void test_declfile_builtin_codecs_parse(void **state)
{
    (void)state;
    decl_set_t *set = fresh();
    decl_error_t err;
    const char *file = NULL;
    assert_int_equal(decl_parse_builtin(set, &err, &file), 0);
    int gif = decl_type_find(set, "GifFileType (decoder)");
    assert_true(gif >= 0);
    assert_string_equal(set->types[gif].library, "giflib");
    assert_string_equal(set->types[decl_type_find(set, "Image")].library, "MagickCore");
    assert_true(set->types[decl_type_find(set, "WebPPicture")].flags & DECL_TYPE_REFILLED);
    const decl_function_t *f = &set->functions[decl_function_find(set, "jpeg_destroy")];
    assert_int_equal(f->holds, 2); /* the memory manager, word 1 */
    assert_int_equal(__builtin_popcountll(f->types), 2);
    f = &set->functions[decl_function_find(set, "tjCompress2")];
    assert_int_equal(f->from, DECL_FROM_OUT);
    assert_int_equal(f->arg, 7);
    assert_int_equal(f->check, DECL_CHECK_OK);
    assert_true(set->functions[decl_function_find(set, "WebPEncodeLosslessRGBA")].wide);
    assert_int_equal(set->functions[decl_function_find(set, "DGifOpenFileName")].input, DECL_INPUT_PATH);
    /* a user's file may not hook a built-in function again */
    assert_int_equal(parse(set, "type T lib=libt.so\ncreate T png_create_read_struct return\n", &err), -1);
    assert_true(strstr(err.message, "built-in hooks") != NULL);
    /* and the user keeps room: at least 20 types and 200 functions */
    assert_true(set->type_count + 20 <= DECL_TYPES_MAX);
    assert_true(set->function_count + 200 <= DECL_FUNCTIONS_MAX);
    free(set);
}

static void test_declfile_refuses_a_nul_byte(void **state)
{
    (void)state;
    decl_set_t *set = fresh();
    decl_error_t err;
    const char text[] = "type T lib=libt.so\ncreate T t\0new return\n";
    assert_int_equal(decl_parse(set, text, sizeof text - 1, &err), -1);
    assert_int_equal(err.line, 2);
    free(set);
}

static void test_declfile_refused_text_leaves_the_set_as_it_was(void **state)
{
    (void)state;
    decl_set_t *set = fresh();
    decl_error_t err;
    assert_int_equal(parse(set, "type A lib=liba.so\ncreate A a_new return\n", &err), 0);
    assert_int_equal(parse(set, "type B lib=libb.so\ncreate B b_new return\nbogus\n", &err), -1);
    assert_int_equal(set->type_count, 1);
    assert_int_equal(set->function_count, 1);
    assert_int_equal(decl_type_find(set, "B"), -1);
    /* a second file may use the first one's types, and may not redeclare its functions */
    assert_int_equal(parse(set, "destroy A a_free arg=1\n", &err), 0);
    assert_int_equal(parse(set, "create A a_new return\n", &err), -1);
    assert_int_equal(err.line, 1);
    free(set);
}

static void test_declfile_refuses_more_types_than_fit(void **state)
{
    (void)state;
    decl_set_t *set = fresh();
    decl_error_t err;
    char text[64 * (DECL_TYPES_MAX + 1)];
    size_t n = 0;
    for (unsigned i = 0; i <= DECL_TYPES_MAX; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "type T%u lib=libt.so\n", i);
    assert_int_equal(decl_parse(set, text, n, &err), -1);
    assert_int_equal(err.line, DECL_TYPES_MAX + 1);
    free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_declfile_builtin_declarations_parse),
        cmocka_unit_test(test_declfile_user_pair_as_in_the_docs),
        cmocka_unit_test(test_declfile_refuses_a_bad_line_with_its_number),
        cmocka_unit_test(test_declfile_table_members_get_their_index),
        cmocka_unit_test(test_declfile_codec_vocabulary),
        cmocka_unit_test(test_declfile_lib_matches_file_names_and_directories),
        cmocka_unit_test(test_declfile_builtin_codecs_parse),
        cmocka_unit_test(test_declfile_refuses_a_nul_byte),
        cmocka_unit_test(test_declfile_refused_text_leaves_the_set_as_it_was),
        cmocka_unit_test(test_declfile_refuses_more_types_than_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
