/* The snapshot format: what the shim's writer (snapfile) writes, the analyzer's reader reads
 * back; every truncation and inconsistency is an error, never a crash; newer files with unknown
 * sections and longer records are still read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "error.h"
#include "reader.h"
#include "snapfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static snapfile_t sf;

typedef struct {
    unsigned char *data;
    size_t size;
} blob_t;

typedef struct {
    uint32_t live_record_size; /* 24, or more to act as a newer writer */
    int extra_section;
    int bad_stack_ref;
    uint16_t version_major;
    int handles;         /* 1: write the 1.2 handle sections; 2: with a handle of unknown type */
    int inputs;          /* 1: write the 1.6 inputs section; 2: naming a stack not in the file */
} shape_t;

static blob_t build(const shape_t *shape)
{
    FILE *f = tmpfile();
    int fd = fileno(f);
    const char strings[] = "\0/usr/bin/app\0/lib/libc.so.6\0MagickWand\0NewMagickWand\0photo_05.jpg";
    const uint64_t input_name = sizeof strings - 1 - strlen("photo_05.jpg");
    snapfile_begin(&sf, fd);

    imgleak_process_rec_t proc;
    memset(&proc, 0, sizeof proc);
    proc.pid = 4242;
    proc.rss_bytes = 1 << 20;
    proc.exe_string = 1;
    proc.allocator = IMGLEAK_ALLOCATOR_GLIBC;
    proc.glibc_in_use = 777;
    proc.rss_measured = 1 << 20;
    proc.rss_shim = 12345;
    proc.rss_rest = 67890;
    proc.depth_limit = 32;
    snapfile_section_begin(&sf, IMGLEAK_SECTION_PROCESS, sizeof proc);
    snapfile_put(&sf, &proc, sizeof proc);
    snapfile_record(&sf);

    snapfile_section_begin(&sf, IMGLEAK_SECTION_STRINGS, 0);
    snapfile_put(&sf, strings, sizeof strings);

    imgleak_module_rec_t mods[2];
    memset(mods, 0, sizeof mods);
    mods[0] = (imgleak_module_rec_t){0x400000, 0x500000, 0, 0, 1, 4, IMGLEAK_MODULE_MAIN, {1, 2, 3, 4}};
    mods[1] = (imgleak_module_rec_t){0x7f0000000000, 0x7f0000100000, 0x7f0000000000, 0, 14, 0, 0, {0}};
    snapfile_section_begin(&sf, IMGLEAK_SECTION_MODULES, sizeof mods[0]);
    for (int i = 0; i < 2; i++) {
        snapfile_put(&sf, &mods[i], sizeof mods[i]);
        snapfile_record(&sf);
    }

    if (shape->handles) {
        imgleak_name_rec_t names[2] = {{IMGLEAK_NAME_TYPE, 0, 29, 29, 0, 0},
                                       {IMGLEAK_NAME_FUNCTION, 0, 40, 0, 0, 0}};
        snapfile_section_begin(&sf, IMGLEAK_SECTION_HANDLE_NAMES, sizeof names[0]);
        for (int i = 0; i < 2; i++) {
            snapfile_put(&sf, &names[i], sizeof names[i]);
            snapfile_record(&sf);
        }
        imgleak_handle_rec_t handles[2] = {
            {0x5000, 1, shape->handles == 2 ? 7 : 0, 0, 2, 0, 1, IMGLEAK_HANDLE_LIVE},
            {0, 9, 0, 0, 3, 0, 0, IMGLEAK_HANDLE_ABANDONED}};
        snapfile_section_begin(&sf, IMGLEAK_SECTION_HANDLES, sizeof handles[0]);
        for (int i = 0; i < 2; i++) {
            snapfile_put(&sf, &handles[i], sizeof handles[i]);
            snapfile_record(&sf);
        }
    }

    if (shape->extra_section) {
        snapfile_section_begin(&sf, 999, 0);
        snapfile_put(&sf, "future data", 11);
    }

    snapfile_section_begin(&sf, IMGLEAK_SECTION_STACKS, sizeof(imgleak_stack_rec_t));
    for (uint32_t id = 1; id <= 3; id++) {
        imgleak_stack_rec_t st = {id, (uint16_t)id, 0, id * 10, id, id * 1000, id * 100};
        uint64_t frames[3] = {0x401000 + id, 0x402000, 0x403000};
        snapfile_put(&sf, &st, sizeof st);
        snapfile_put(&sf, frames, id * sizeof(uint64_t));
        snapfile_record(&sf);
    }

    if (shape->inputs) {
        /* stack 2 under input 1 (named), stack 3 under input 2 (named after the strings) */
        imgleak_input_rec_t in[] = {{IMGLEAK_INPUT_SEEN, 0, 24},
                                    {IMGLEAK_INPUT_NAME, 1, input_name},
                                    {IMGLEAK_INPUT_STACK, 2, 1},
                                    {IMGLEAK_INPUT_STACK, shape->inputs == 2 ? 9 : 3, 2}};
        snapfile_section_begin(&sf, IMGLEAK_SECTION_INPUTS, sizeof in[0]);
        for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
            snapfile_put(&sf, &in[i], sizeof in[i]);
            snapfile_record(&sf);
        }
    }

    snapfile_section_begin(&sf, IMGLEAK_SECTION_LIVE, shape->live_record_size);
    for (uint64_t i = 0; i < 5; i++) {
        unsigned char rec[64];
        memset(rec, 0xee, sizeof rec);
        imgleak_live_rec_t l = {0x10000 + i * 64,
                                (100 + i) | (uint64_t)(i == 4 ? IMGLEAK_KIND_MMAP : 0) << IMGLEAK_SIZE_BITS,
                                shape->bad_stack_ref && i == 2 ? 77 : (uint32_t)(i % 3) + 1, (uint32_t)i};
        memcpy(rec, &l, sizeof l);
        snapfile_put(&sf, rec, shape->live_record_size);
        snapfile_record(&sf);
    }
    imgleak_file_header_t hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.pid = 4242;
    hdr.sequence = 1;
    hdr.flags = IMGLEAK_SNAP_AT_EXIT;
    assert_int_equal(snapfile_finish(&sf, &hdr), 0);

    blob_t b;
    b.size = (size_t)lseek(fd, 0, SEEK_END);
    b.data = malloc(b.size);
    assert_int_equal(pread(fd, b.data, b.size, 0), (ssize_t)b.size);
    if (shape->version_major) {
        memcpy(b.data + 8, &shape->version_major, 2);
    }
    fclose(f);
    return b;
}

static const shape_t normal = {24, 0, 0, 0, 0, 0};

static void test_format_round_trip_keeps_every_field(void **state)
{
    (void)state;
    blob_t b = build(&normal);
    snapshot_t *s = reader_parse("t.snap", b.data, b.size);
    assert_non_null(s);
    assert_int_equal(s->header.pid, 4242);
    assert_int_equal(s->header.flags, IMGLEAK_SNAP_AT_EXIT);
    assert_int_equal(s->process.rss_bytes, 1 << 20);
    assert_int_equal(s->process.glibc_in_use, 777);
    assert_int_equal(s->process.rss_measured, 1 << 20); /* 1.5 */
    assert_int_equal(s->process.rss_shim, 12345);
    assert_int_equal(s->process.rss_rest, 67890);
    assert_string_equal(s->exe, "/usr/bin/app");
    assert_int_equal(s->nmodules, 2);
    assert_string_equal(s->modules[1].path, "/lib/libc.so.6");
    assert_int_equal(s->modules[0].build_id_len, 4);
    assert_int_equal(s->modules[0].build_id[3], 4);
    assert_int_equal(s->modules[0].flags, IMGLEAK_MODULE_MAIN);
    assert_int_equal(s->nstacks, 3);
    const snap_stack_t *st = snapshot_stack(s, 3);
    assert_non_null(st);
    assert_int_equal(st->depth, 3);
    assert_int_equal(st->frames[0], 0x401003);
    assert_int_equal(st->frames[2], 0x403000);
    assert_int_equal(st->alloc_bytes, 3000);
    assert_int_equal(s->nlive, 5);
    assert_int_equal(s->live[4].kind, IMGLEAK_KIND_MMAP);
    assert_int_equal(s->live[4].size, 104);
    assert_int_equal(s->live[3].birth_s, 3);
    assert_int_equal(s->live[2].stack_id, 3);
    reader_free(s);
    free(b.data);
}

static void test_format_every_truncation_is_an_error(void **state)
{
    (void)state;
    blob_t b = build(&normal);
    for (size_t len = 0; len < b.size; len++) {
        /* as cut off, and with the header's size patched to match, so that the section checks
         * themselves are exercised */
        assert_null(reader_parse("cut.snap", b.data, len));
        if (len >= sizeof(imgleak_file_header_t)) {
            unsigned char *copy = malloc(len);
            memcpy(copy, b.data, len);
            uint64_t patched = len;
            memcpy(copy + 24, &patched, sizeof patched);
            snapshot_t *s = reader_parse("cut.snap", copy, len);
            if (s)
                fail_msg("a file cut to %zu of %zu bytes was accepted", len, b.size);
            free(copy);
        }
    }
    free(b.data);
}

static void test_format_truncated_file_names_what_is_missing(void **state)
{
    (void)state;
    blob_t b = build(&normal);
    assert_null(reader_parse("cut.snap", b.data, b.size - 10));
    assert_non_null(strstr(error_get(), "cut.snap: truncated file"));
    free(b.data);
}

static void test_format_rejects_foreign_file(void **state)
{
    (void)state;
    const unsigned char junk[] = "\x7f" "ELF this is not a snapshot at all, but long enough......."
                                 "..................";
    assert_null(reader_parse("x.snap", junk, sizeof junk));
    assert_non_null(strstr(error_get(), "not an imgleak snapshot"));
}

static void test_format_rejects_unknown_major_version(void **state)
{
    (void)state;
    shape_t v2 = normal;
    v2.version_major = 2;
    blob_t b = build(&v2);
    assert_null(reader_parse("v2.snap", b.data, b.size));
    assert_non_null(strstr(error_get(), "version 2"));
    free(b.data);
}

static void test_format_reads_newer_file_with_unknown_section_and_longer_records(void **state)
{
    (void)state;
    shape_t newer = {40, 1, 0, 0, 0, 0};
    blob_t b = build(&newer);
    snapshot_t *s = reader_parse("new.snap", b.data, b.size);
    assert_non_null(s);
    assert_int_equal(s->nlive, 5);
    assert_int_equal(s->live[1].address, 0x10040);
    assert_int_equal(s->live[1].size, 101);
    reader_free(s);
    free(b.data);
}

static void test_format_rejects_live_record_naming_missing_stack(void **state)
{
    (void)state;
    shape_t bad = normal;
    bad.bad_stack_ref = 1;
    blob_t b = build(&bad);
    assert_null(reader_parse("bad.snap", b.data, b.size));
    assert_non_null(strstr(error_get(), "stack that is not in the file"));
    free(b.data);
}

static void test_format_flipped_bytes_never_crash(void **state)
{
    (void)state;
    blob_t b = build(&normal);
    /* every single-byte corruption either parses or is refused; under ASan, a wild read fails */
    for (size_t i = 0; i < b.size; i++) {
        unsigned char saved = b.data[i];
        b.data[i] ^= 0xff;
        snapshot_t *s = reader_parse("flip.snap", b.data, b.size);
        reader_free(s);
        b.data[i] = saved;
    }
    free(b.data);
}

static void test_format_handle_sections_round_trip(void **state)
{
    (void)state;
    shape_t with = normal;
    with.handles = 1;
    blob_t b = build(&with);
    snapshot_t *s = reader_parse("h.snap", b.data, b.size);
    assert_non_null(s);
    assert_int_equal(s->nhandles, 2);
    assert_int_equal(s->handles[0].address, 0x5000);
    assert_int_equal(s->handles[1].state, IMGLEAK_HANDLE_ABANDONED);
    assert_int_equal(s->handles[1].count, 9);
    assert_string_equal(snapshot_handle_type(s, 0)->name, "MagickWand");
    assert_string_equal(snapshot_handle_function(s, 0)->name, "NewMagickWand");
    reader_free(s);
    free(b.data);
}

static void test_format_file_without_handle_sections_has_no_handles(void **state)
{
    (void)state;
    blob_t b = build(&normal);
    snapshot_t *s = reader_parse("old.snap", b.data, b.size);
    assert_non_null(s);
    assert_int_equal(s->nhandles, 0);
    reader_free(s);
    free(b.data);
}

static void test_format_rejects_handle_of_unknown_type(void **state)
{
    (void)state;
    shape_t bad = normal;
    bad.handles = 2;
    blob_t b = build(&bad);
    assert_null(reader_parse("h.snap", b.data, b.size));
    assert_non_null(strstr(error_get(), "type or function that is not in the file"));
    free(b.data);
}

/* 1.6: the SCRIPT section, records of record_size bytes each followed by their two texts */
static size_t put_script(unsigned char *at, uint32_t record_size, uint32_t kind, uint32_t id,
                         uint32_t number, const char *t1, const char *t2)
{
    size_t l1 = strlen(t1), l2 = strlen(t2);
    memset(at, 0, record_size);
    imgleak_script_rec_t r = {kind, id, number, (uint16_t)l1, (uint16_t)l2, 0, 0};
    memcpy(at, &r, sizeof r);
    memcpy(at + record_size, t1, l1);
    memcpy(at + record_size + l1, t2, l2);
    return record_size + l1 + l2;
}

static void test_format_script_section_names_codes_and_runtime(void **state)
{
    (void)state;
    unsigned char data[512];
    size_t n = 0;
    for (uint32_t size = 32; size <= 40; size += 8) { /* 40: a newer writer's longer records */
        snapshot_t snap = {0};
        n = put_script(data, size, IMGLEAK_SCRIPT_CODE, 7, 12, "/srv/thumb.py", "make_thumbnail");
        n += put_script(data + n, size, IMGLEAK_SCRIPT_RUNTIME, 0,
                        IMGLEAK_SCRIPT_RT_FRAMES | IMGLEAK_SCRIPT_RT_MALLOC_BY_RUN, "CPython 3.11.2", "malloc");
        n += put_script(data + n, size, 99, 1, 0, "a kind from a newer writer", "");
        n += put_script(data + n, size, IMGLEAK_SCRIPT_CODE, 3, 1, "<frozen os>", "<module>");
        size_t jit = n;
        n += put_script(data + n, size, IMGLEAK_SCRIPT_JIT, 0, 0, "JS:*paint /srv/a.js:3:9", "");
        memcpy(data + jit + 16, &(uint64_t[2]){0x7f0000001000, 0x200}, 16);
        size_t later = n;
        n += put_script(data + n, size, IMGLEAK_SCRIPT_JIT, 0, 0, "JS:*later /srv/a.js:9:1", "");
        memcpy(data + later + 16, &(uint64_t[2]){0x7f0000001100, 0x80}, 16);
        assert_int_equal(reader_parse_script("s.snap", &snap, data, n, 6, size), 0);
        assert_string_equal(snap.script_runtime, "CPython 3.11.2");
        assert_string_equal(snap.script_malloc, "malloc");
        assert_int_equal(snap.script_flags, 3);
        assert_int_equal(snap.ncodes, 2);
        const snap_code_t *c = snapshot_code(&snap, 7);
        assert_non_null(c);
        assert_string_equal(c->file, "/srv/thumb.py");
        assert_string_equal(c->function, "make_thumbnail");
        assert_int_equal(c->first_line, 12);
        assert_string_equal(snapshot_code(&snap, 3)->file, "<frozen os>");
        assert_null(snapshot_code(&snap, 4));
        assert_int_equal(snap.njit, 2);
        assert_string_equal(snapshot_jit(&snap, 0x7f0000001010)->name, "JS:*paint /srv/a.js:3:9");
        /* code reused by a later entry is named by it */
        assert_string_equal(snapshot_jit(&snap, 0x7f0000001120)->name, "JS:*later /srv/a.js:9:1");
        assert_null(snapshot_jit(&snap, 0x7f0000001200));
        free(snap.jit);
        free(snap.codes);
        free(snap.script_text);
    }
}

static void test_format_script_section_errors(void **state)
{
    (void)state;
    unsigned char data[256];
    size_t n = put_script(data, 32, IMGLEAK_SCRIPT_CODE, 1, 1, "a.py", "f");
    struct {
        size_t length, count;
        uint32_t record_size;
        const char *says;
    } cases[] = {
        {n - 1, 1, 32, "truncated script section (texts"}, /* a text cut short */
        {10, 1, 32, "bad record size or count"},
        {n, 1, 24, "bad record size or count"}, /* shorter than 1.6's record */
        {n, 2, 32, "bad record size or count"}, /* more records than the bytes hold */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snapshot_t snap = {0};
        assert_int_equal(reader_parse_script("s.snap", &snap, data, cases[i].length, cases[i].count,
                                             cases[i].record_size), -1);
        assert_non_null(strstr(error_get(), cases[i].says));
        free(snap.codes);
        free(snap.jit);
        free(snap.script_text);
    }
    snapshot_t snap = {0};
    size_t m = n + put_script(data + n, 32, IMGLEAK_SCRIPT_CODE, 1, 5, "b.py", "g");
    assert_int_equal(reader_parse_script("s.snap", &snap, data, m, 2, 32), -1);
    assert_non_null(strstr(error_get(), "duplicate code id"));
    free(snap.codes);
    free(snap.jit);
    free(snap.script_text);
    memset(&snap, 0, sizeof snap);
    m = n + put_script(data + n, 32, IMGLEAK_SCRIPT_JIT, 0, 0, "JS:f", ""); /* size 0 */
    assert_int_equal(reader_parse_script("s.snap", &snap, data, m, 2, 32), -1);
    assert_non_null(strstr(error_get(), "JIT range"));
    free(snap.codes);
    free(snap.jit);
    free(snap.script_text);
    memset(&snap, 0, sizeof snap);
    data[32] = '\0'; /* "a.py" with a NUL inside */
    assert_int_equal(reader_parse_script("s.snap", &snap, data, n, 1, 32), -1);
    assert_non_null(strstr(error_get(), "NUL"));
    free(snap.codes);
    free(snap.jit);
    free(snap.script_text);
}

static void test_format_inputs_section_names_each_stacks_input(void **state)
{
    (void)state;
    shape_t with = normal;
    with.inputs = 1;
    blob_t b = build(&with);
    snapshot_t *s = reader_parse("in.snap", b.data, b.size);
    assert_non_null(s);
    assert_int_equal(s->has_inputs, 1);
    assert_int_equal(s->inputs_seen, 24);
    assert_null(snapshot_stack(s, 1)->input);
    assert_string_equal(snapshot_stack(s, 2)->input, "photo_05.jpg");
    /* an input named after the snapshot's strings were written: said, not dropped */
    assert_non_null(strstr(snapshot_stack(s, 3)->input, "named while the snapshot was taken"));
    reader_free(s);
    free(b.data);
    b = build(&normal);
    s = reader_parse("old.snap", b.data, b.size);
    assert_non_null(s);
    assert_int_equal(s->has_inputs, 0);
    assert_null(snapshot_stack(s, 2)->input);
    reader_free(s);
    free(b.data);
}

static void test_format_rejects_input_record_naming_missing_stack(void **state)
{
    (void)state;
    shape_t bad = normal;
    bad.inputs = 2;
    blob_t b = build(&bad);
    assert_null(reader_parse("in.snap", b.data, b.size));
    assert_non_null(strstr(error_get(), "input record names a stack that is not in the file"));
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_round_trip_keeps_every_field),
        cmocka_unit_test(test_format_script_section_names_codes_and_runtime),
        cmocka_unit_test(test_format_script_section_errors),
        cmocka_unit_test(test_format_every_truncation_is_an_error),
        cmocka_unit_test(test_format_truncated_file_names_what_is_missing),
        cmocka_unit_test(test_format_rejects_foreign_file),
        cmocka_unit_test(test_format_rejects_unknown_major_version),
        cmocka_unit_test(test_format_reads_newer_file_with_unknown_section_and_longer_records),
        cmocka_unit_test(test_format_rejects_live_record_naming_missing_stack),
        cmocka_unit_test(test_format_flipped_bytes_never_crash),
        cmocka_unit_test(test_format_handle_sections_round_trip),
        cmocka_unit_test(test_format_file_without_handle_sections_has_no_handles),
        cmocka_unit_test(test_format_rejects_handle_of_unknown_type),
        cmocka_unit_test(test_format_inputs_section_names_each_stacks_input),
        cmocka_unit_test(test_format_rejects_input_record_naming_missing_stack),
    };
    return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
