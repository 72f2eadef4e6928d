/* Symbolization's module map and shared symbols: which module an address is in, however many
 * modules there are and however a crafted file makes them overlap, and one cache for the
 * snapshots of a series. Paths are not on disk: frames are module+offset (and a warning each). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "symbolize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static snap_module_t module(uint64_t start, uint64_t end, const char *path)
{
    snap_module_t m;
    memset(&m, 0, sizeof m);
    m.start = start;
    m.end = end;
    m.bias = start;
    m.path = path;
    return m;
}

static const char *module_at(symbolizer_t *sym, uint64_t address)
{
    unsigned count;
    const frame_t *f = symbolize(sym, address, &count);
    assert_int_equal(count, 1);
    assert_int_equal(f[0].address, address);
    return f[0].module;
}

static void assert_module(symbolizer_t *sym, uint64_t address, const char *want)
{
    const char *got = module_at(sym, address);
    if (!want)
        assert_null(got);
    else
        assert_string_equal(got, want);
}

static void test_symbolize_overlapping_modules_first_record_names_the_address(void **state)
{
    (void)state;
    snap_module_t mods[] = {module(0x3000, 0x8000, "/nonexistent/b.so"),
                            module(0x1000, 0x5000, "/nonexistent/a.so"),
                            module(0x3800, 0x3900, "/nonexistent/c.so"),
                            module(0x9000, 0xa000, "/nonexistent/d.so"),
                            module(0x9800, 0x9800, "/nonexistent/empty.so")};
    snapshot_t snap;
    memset(&snap, 0, sizeof snap);
    snap.modules = mods;
    snap.nmodules = sizeof mods / sizeof *mods;
    symbolizer_t *sym = symbolizer_new(&snap);
    assert_non_null(sym);
    assert_module(sym, 0x0fff, NULL);
    assert_module(sym, 0x1000, "/nonexistent/a.so");
    assert_module(sym, 0x2fff, "/nonexistent/a.so");
    assert_module(sym, 0x3000, "/nonexistent/b.so");
    assert_module(sym, 0x3850, "/nonexistent/b.so"); /* c.so is a later record */
    assert_module(sym, 0x4fff, "/nonexistent/b.so");
    assert_module(sym, 0x7fff, "/nonexistent/b.so");
    assert_module(sym, 0x8000, NULL);
    assert_module(sym, 0x9000, "/nonexistent/d.so");
    assert_module(sym, 0x9800, "/nonexistent/d.so");
    assert_module(sym, 0xa000, NULL);
    const frame_t *f;
    unsigned count;
    f = symbolize(sym, 0x3850, &count);
    assert_int_equal(f[0].offset, 0x850); /* relative to b.so's bias */
    symbolizer_free(sym);
}

static void test_symbolize_finds_each_of_twenty_thousand_modules(void **state)
{
    (void)state;
    enum { N = 20000 };
    snap_module_t *mods = calloc(N, sizeof *mods);
    char (*paths)[48] = calloc(N, sizeof *paths);
    assert_non_null(mods);
    assert_non_null(paths);
    /* recorded in reverse address order, with gaps between them */
    for (size_t i = 0; i < N; i++) {
        uint64_t start = 0x10000000u + (uint64_t)(N - 1 - i) * 0x20000;
        snprintf(paths[i], sizeof paths[i], "/nonexistent/plugin%zu.so", i);
        mods[i] = module(start, start + 0x10000, paths[i]);
    }
    snapshot_t snap;
    memset(&snap, 0, sizeof snap);
    snap.modules = mods;
    snap.nmodules = N;
    /* 20000 "not found" warnings are not the point */
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    symbolizer_t *sym = symbolizer_new(&snap);
    dup2(saved, 2);
    close(saved);
    close(null);
    assert_non_null(sym);
    for (size_t i = 0; i < N; i++) {
        assert_module(sym, mods[i].start + 0x8000, paths[i]);
        assert_module(sym, mods[i].end, NULL); /* the gap after it */
    }
    symbolizer_free(sym);
    free(paths);
    free(mods);
}

static void test_symbolize_series_shares_one_cache_and_its_strings(void **state)
{
    (void)state;
    snap_module_t first[] = {module(0x400000, 0x500000, "/nonexistent/service")};
    snap_module_t second[] = {module(0x400000, 0x500000, "/nonexistent/service"),
                              module(0x7f0000, 0x7f1000, "/nonexistent/dlopened.so")};
    snapshot_t a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.modules = first;
    a.nmodules = 1;
    b.modules = second;
    b.nmodules = 2;
    symbols_t *shared = symbols_new();
    assert_non_null(shared);
    symbolizer_t *sa = symbolizer_new_shared(shared, &a), *sb = symbolizer_new_shared(shared, &b);
    symbolizer_t *sa2 = symbolizer_new_shared(shared, &a);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_non_null(sa2);
    unsigned n1, n2;
    const frame_t *f1 = symbolize(sa, 0x401234, &n1), *f2 = symbolize(sb, 0x401234, &n2);
    assert_ptr_equal(f1, f2); /* the module read once for both snapshots */
    assert_ptr_equal(f1[0].module, f2[0].module);
    /* the same address space has the same id; another one another */
    assert_true(symbolizer_map_id(sa) == symbolizer_map_id(sa2));
    assert_true(symbolizer_map_id(sa) != symbolizer_map_id(sb));
    assert_string_equal(module_at(sb, 0x7f0010), "/nonexistent/dlopened.so");
    assert_null(module_at(sa, 0x7f0010));
    symbolizer_free(sa);
    symbolizer_free(sb);
    symbolizer_free(sa2);
    symbols_free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbolize_overlapping_modules_first_record_names_the_address),
        cmocka_unit_test(test_symbolize_finds_each_of_twenty_thousand_modules),
        cmocka_unit_test(test_symbolize_series_shares_one_cache_and_its_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
