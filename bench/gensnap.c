/* Writes large and adversarial snapshot files (docs/FORMAT.md) for the analyzer's benchmarks: the
 * sizes where an analyzer that is quadratic anywhere (sites, stacks, frames, modules, handles)
 * shows it. The files are valid: frames point into a real ELF file given on the command line
 * (the analyzer symbolizes them from its DWARF, as it would a program's), or into modules that
 * are not on disk (shown as module+offset). Deterministic: the same arguments write the same
 * bytes on one system (the C library's frames are this system's).
 *
 *   gensnap handles N ELF OUT         N handle names (types and functions), N handles, N stacks
 *   gensnap modules M F ELF OUT       M modules and F frames over stacks of 16 frames
 *   gensnap big MB ELF OUT            about MB megabytes: stacks of 24 frames and live blocks
 *   gensnap series SITES N ELF DIR    N snapshots of one process, SITES call sites each, some
 *                                     growing; DIR/imgleak.<pid>.<instance>.<seq>.snap
 *   gensnap scanned-series SITES N ELF DIR   the same, scanned: each site holds two or more
 *                                     blocks, leaked and reachable in turn (born 0, 10, 20 s ...)
 *   gensnap sites SITES SEED ELF OUT  one snapshot with SITES call sites (a baseline and a new
 *                                     run for gate --baseline differ by SEED)
 */
#define _GNU_SOURCE
#include "imgleak/format.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char *data;
    size_t len, cap;
} buf_t;

static void die(const char *what)
{
    fprintf(stderr, "gensnap: %s\n", what);
    exit(2);
}

static void put(buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        if (!(b->data = realloc(b->data, cap)))
            die("out of memory");
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static uint32_t put_string(buf_t *strings, const char *s)
{
    uint32_t at = (uint32_t)strings->len;
    put(strings, s, strlen(s) + 1);
    return at;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The code of a real ELF file: its executable PT_LOAD's virtual addresses, and the span of all
 * its PT_LOADs for the module record. */
typedef struct {
    const char *path;
    uint64_t lo, hi;           /* all PT_LOADs */
    uint64_t code_lo, code_hi; /* the executable one */
    uint64_t first_offset;
} elf_code_t;

static elf_code_t elf_code(const char *path)
{
    elf_code_t e = {.path = path, .lo = UINT64_MAX};
    FILE *f = fopen(path, "rb");
    Elf64_Ehdr eh;
    if (!f || fread(&eh, sizeof eh, 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64)
        die("the ELF argument is not a 64-bit ELF file");
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (fseek(f, (long)(eh.e_phoff + (uint64_t)i * eh.e_phentsize), SEEK_SET) != 0 ||
            fread(&ph, sizeof ph, 1, f) != 1)
            die("cannot read the ELF program headers");
        if (ph.p_type != PT_LOAD)
            continue;
        if (ph.p_vaddr < e.lo) {
            e.lo = ph.p_vaddr;
            e.first_offset = ph.p_offset;
        }
        if (ph.p_vaddr + ph.p_memsz > e.hi)
            e.hi = ph.p_vaddr + ph.p_memsz;
        if ((ph.p_flags & PF_X) && ph.p_filesz > e.code_hi - e.code_lo) {
            e.code_lo = ph.p_vaddr;
            e.code_hi = ph.p_vaddr + ph.p_filesz;
        }
    }
    fclose(f);
    if (e.code_hi <= e.code_lo)
        die("the ELF file has no code");
    return e;
}

typedef struct {
    buf_t strings, modules, stacks, live, names, handles;
    uint64_t nmodules, nstacks, nlive, nnames, nhandles;
    uint32_t exe_string;
} snap_t;

static void snap_init(snap_t *s)
{
    memset(s, 0, sizeof *s);
    put(&s->strings, "", 1);
}

static void add_module(snap_t *s, const char *path, uint64_t start, uint64_t end, uint64_t bias,
                       uint64_t file_offset, unsigned flags)
{
    imgleak_module_rec_t m;
    memset(&m, 0, sizeof m);
    m.start = start;
    m.end = end;
    m.bias = bias;
    m.file_offset = file_offset;
    m.path_string = put_string(&s->strings, path);
    m.flags = (uint16_t)flags;
    put(&s->modules, &m, sizeof m);
    s->nmodules++;
}

static void add_stack(snap_t *s, uint32_t id, const uint64_t *frames, unsigned depth,
                      uint64_t allocs, uint64_t bytes)
{
    imgleak_stack_rec_t st = {id, (uint16_t)depth, 0, allocs, allocs / 2, bytes, bytes / 2};
    put(&s->stacks, &st, sizeof st);
    put(&s->stacks, frames, depth * sizeof *frames);
    s->nstacks++;
}

static void add_live_class(snap_t *s, uint64_t address, uint64_t size, uint32_t stack_id,
                           uint32_t birth, unsigned cls)
{
    imgleak_live_rec_t l = {address, IMGLEAK_SIZE_KIND(size, IMGLEAK_KIND_HEAP, cls), stack_id, birth};
    put(&s->live, &l, sizeof l);
    s->nlive++;
}

static void add_live(snap_t *s, uint64_t address, uint64_t size, uint32_t stack_id, uint32_t birth)
{
    add_live_class(s, address, size, stack_id, birth, IMGLEAK_CLASS_UNKNOWN);
}

static void snap_write(const snap_t *s, const char *path, uint64_t pid, uint64_t instance,
                       uint64_t seq, uint64_t time_ns, uint64_t start_ns)
{
    enum { NSEC = 16 };
    imgleak_process_rec_t proc;
    memset(&proc, 0, sizeof proc);
    proc.pid = pid;
    proc.ppid = 1;
    proc.start_time_ns = start_ns;
    proc.rss_bytes = 64u << 20;
    proc.peak_rss_bytes = 64u << 20;
    proc.exe_string = s->exe_string;
    proc.allocator = IMGLEAK_ALLOCATOR_GLIBC;
    proc.depth_limit = 64;
    proc.instance_id = instance;
    struct {
        uint32_t type, record_size;
        const void *data;
        uint64_t len, count;
    } sec[] = {
        {IMGLEAK_SECTION_PROCESS, sizeof proc, &proc, sizeof proc, 1},
        {IMGLEAK_SECTION_STRINGS, 0, s->strings.data, s->strings.len, 0},
        {IMGLEAK_SECTION_MODULES, sizeof(imgleak_module_rec_t), s->modules.data, s->modules.len, s->nmodules},
        {IMGLEAK_SECTION_STACKS, sizeof(imgleak_stack_rec_t), s->stacks.data, s->stacks.len, s->nstacks},
        {IMGLEAK_SECTION_LIVE, sizeof(imgleak_live_rec_t), s->live.data, s->live.len, s->nlive},
        {IMGLEAK_SECTION_HANDLE_NAMES, sizeof(imgleak_name_rec_t), s->names.data, s->names.len, s->nnames},
        {IMGLEAK_SECTION_HANDLES, sizeof(imgleak_handle_rec_t), s->handles.data, s->handles.len, s->nhandles},
    };
    unsigned nsec = s->nnames ? 7 : 5;
    uint64_t at = sizeof(imgleak_file_header_t) + NSEC * sizeof(imgleak_section_entry_t);
    imgleak_section_entry_t table[NSEC];
    memset(table, 0, sizeof table);
    for (unsigned i = 0; i < nsec; i++) {
        table[i] = (imgleak_section_entry_t){sec[i].type, sec[i].record_size, at, sec[i].len, sec[i].count};
        at += sec[i].len;
    }
    imgleak_file_header_t h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, IMGLEAK_MAGIC, IMGLEAK_MAGIC_LEN);
    h.version_major = IMGLEAK_VERSION_MAJOR;
    h.version_minor = IMGLEAK_VERSION_MINOR;
    h.header_size = sizeof h;
    h.section_count = nsec;
    h.section_entry_size = sizeof(imgleak_section_entry_t);
    h.file_size = at;
    h.pid = pid;
    h.sequence = seq;
    h.time_ns = time_ns;
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "gensnap: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    fwrite(&h, sizeof h, 1, f);
    fwrite(table, sizeof table, 1, f);
    for (unsigned i = 0; i < nsec; i++)
        if (sec[i].len)
            fwrite(sec[i].data, 1, sec[i].len, f);
    if (fclose(f) != 0)
        die("write failed");
}

static void snap_free(snap_t *s)
{
    free(s->strings.data);
    free(s->modules.data);
    free(s->stacks.data);
    free(s->live.data);
    free(s->names.data);
    free(s->handles.data);
}

#define BIAS 0x555555554000u
#define LIBC_BIAS 0x7f8000000000u
#define FAKE_BASE 0x7f0000000000u

/* The C library this program runs with, as a system library the allocations pass through */
static char libc_path[4096];

static int find_libc(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (info->dlpi_name && strstr(info->dlpi_name, "/libc.so")) {
        snprintf(libc_path, sizeof libc_path, "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

static elf_code_t libc_code(void)
{
    static elf_code_t libc;
    if (!libc.path) {
        dl_iterate_phdr(find_libc, NULL);
        if (!libc_path[0])
            die("cannot find the C library");
        libc = elf_code(libc_path);
    }
    return libc;
}

/* The C library (frames inside malloc's callers there), the real ELF as the program's own code
 * (its callers, symbolized from DWARF) and, as the main program, a module that is not on disk:
 * each call site is an offset in it, so that there can be any number of distinct sites. */
static void add_common_modules(snap_t *s, const elf_code_t *e, uint64_t fake_size)
{
    elf_code_t libc = libc_code();
    add_module(s, libc.path, libc.lo + LIBC_BIAS, libc.hi + LIBC_BIAS, LIBC_BIAS, libc.first_offset, 0);
    add_module(s, e->path, e->lo + BIAS, e->hi + BIAS, BIAS, e->first_offset, 0);
    s->exe_string = (uint32_t)s->strings.len;
    add_module(s, "/nonexistent/imgleak-bench/service", FAKE_BASE, FAKE_BASE + fake_size, FAKE_BASE,
               0, IMGLEAK_MODULE_MAIN);
}

/* One of `pool` distinct return addresses in an ELF's code, loaded at bias. */
static uint64_t code_address_in(const elf_code_t *e, uint64_t bias, uint64_t pool, uint64_t pick)
{
    uint64_t span = e->code_hi - e->code_lo;
    uint64_t k = pick % pool;
    return bias + e->code_lo + (k * 0x9e3779b97f4a7c15u >> 11) % span;
}

static uint64_t code_address(const elf_code_t *e, uint64_t pool, uint64_t pick)
{
    return code_address_in(e, BIAS, pool, pick);
}

/* A call site's stack: two C library frames, the site (unique per site in the fake main
 * program), then callers in the program's code shared by many sites. */
static unsigned site_stack(const elf_code_t *e, uint64_t site, uint64_t *frames, unsigned depth)
{
    elf_code_t libc = libc_code();
    frames[0] = code_address_in(&libc, LIBC_BIAS, 64, site);
    frames[1] = code_address_in(&libc, LIBC_BIAS, 4096, site * 7 + 1);
    frames[2] = FAKE_BASE + 0x1000 + 16 * site;
    for (unsigned d = 3; d < depth; d++)
        frames[d] = code_address(e, 256u << d, site >> (d - 2));
    return depth;
}

static void gen_handles(uint64_t n, const elf_code_t *e, const char *out)
{
    snap_t s;
    snap_init(&s);
    add_common_modules(&s, e, 16 * n + 0x2000);
    uint64_t ntypes = n / 2 ? n / 2 : 1, nfuncs = n - n / 2 ? n - n / 2 : 1;
    char name[64];
    for (uint64_t i = 0; i < ntypes + nfuncs; i++) {
        int is_type = i < ntypes;
        snprintf(name, sizeof name, is_type ? "BenchHandle%llu" : "bench_create%llu", (unsigned long long)i);
        imgleak_name_rec_t nm = {is_type ? IMGLEAK_NAME_TYPE : IMGLEAK_NAME_FUNCTION,
                                 (uint32_t)(is_type ? i : i - ntypes) + 1, put_string(&s.strings, name),
                                 is_type ? put_string(&s.strings, "libbench") : 0, 0, 0};
        put(&s.names, &nm, sizeof nm);
        s.nnames++;
    }
    uint64_t frames[8];
    for (uint64_t i = 0; i < n; i++) {
        uint32_t id = (uint32_t)i + 1;
        add_stack(&s, id, frames, site_stack(e, i, frames, 8), 1, 256);
        add_live(&s, 0x10000000u + 64 * i, 48 + i % 200, id, (uint32_t)(i % 100));
        uint32_t state = i % 10 == 9 ? IMGLEAK_HANDLE_ABANDONED + (uint32_t)(i / 10 % 4) : IMGLEAK_HANDLE_LIVE;
        imgleak_handle_rec_t h = {state == IMGLEAK_HANDLE_LIVE ? 0x10000000u + 64 * i : 0,
                                  state == IMGLEAK_HANDLE_LIVE ? 1 : 1 + i % 3,
                                  (uint32_t)(i % ntypes) + 1, (uint32_t)(i % nfuncs) + 1, id,
                                  (uint32_t)(i % 100), 1, state};
        put(&s.handles, &h, sizeof h);
        s.nhandles++;
    }
    snap_write(&s, out, 4242, 0x4242, 1, 1700000100000000000u, 1700000000000000000u);
    snap_free(&s);
}

static void gen_modules(uint64_t m, uint64_t f, const elf_code_t *e, const char *out)
{
    snap_t s;
    snap_init(&s);
    add_common_modules(&s, e, 0x100000);
    char path[96];
    const uint64_t span = 0x200000;
    for (uint64_t i = 0; i < m; i++) {
        uint64_t base = 0x7e0000000000u + i * span;
        snprintf(path, sizeof path, "/nonexistent/imgleak-bench/plugins/libplugin%llu.so",
                 (unsigned long long)i);
        add_module(&s, path, base, base + span / 2, base, 0, 0);
    }
    uint64_t nstacks = (f + 15) / 16, frames[16];
    for (uint64_t k = 0; k < nstacks; k++) {
        for (unsigned d = 0; d < 16; d++) {
            uint64_t r = rnd();
            if (d == 2)
                frames[d] = FAKE_BASE + 0x1000 + 16 * (k % 50000);
            else if (d % 4 == 3)
                frames[d] = code_address(e, 8192, r);
            else
                frames[d] = 0x7e0000000000u + (r % (m ? m : 1)) * span + 16 + r % (span / 2 - 32);
        }
        add_stack(&s, (uint32_t)k + 1, frames, 16, 4, 4096);
        add_live(&s, 0x10000000u + 64 * k, 100, (uint32_t)k + 1, 1);
    }
    snap_write(&s, out, 4343, 0x4343, 1, 1700000100000000000u, 1700000000000000000u);
    snap_free(&s);
}

static void gen_big(uint64_t mb, const elf_code_t *e, const char *out)
{
    snap_t s;
    snap_init(&s);
    uint64_t bytes = mb << 20;
    uint64_t nstacks = bytes * 2 / 5 / (40 + 24 * 8), nlive = bytes * 3 / 5 / 24;
    add_common_modules(&s, e, 16 * nstacks + 0x2000);
    uint64_t frames[24];
    for (uint64_t k = 0; k < nstacks; k++)
        add_stack(&s, (uint32_t)k + 1, frames, site_stack(e, k, frames, 24), 8, 8192);
    for (uint64_t i = 0; i < nlive; i++) {
        uint64_t k = rnd() % nstacks;
        add_live(&s, 0x10000000u + 32 * i, 16 + k % 500, (uint32_t)k + 1, (uint32_t)(i % 1000));
    }
    snap_write(&s, out, 4444, 0x4444, 1, 1700000100000000000u, 1700000000000000000u);
    snap_free(&s);
}

/* One snapshot of the series: every site's stack (the shim's table keeps them all) and live
 * blocks; one site in 50 leaks a block per snapshot, the others hold a steady one or two. When
 * scanned, a site's blocks are leaked and reachable in turn. */
static int scanned_series;

static void series_snapshot(uint64_t sites, uint64_t seq, uint64_t seed, const elf_code_t *e,
                            const char *path, uint64_t pid, uint64_t instance)
{
    snap_t s;
    snap_init(&s);
    add_common_modules(&s, e, 16 * sites + 0x2000);
    uint64_t frames[6], addr = 0x10000000u;
    for (uint64_t k = 0; k < sites; k++)
        add_stack(&s, (uint32_t)k + 1, frames, site_stack(e, k, frames, 6), 10 * seq, 640 * seq);
    for (uint64_t k = 0; k < sites; k++) {
        uint64_t blocks = k % 50 == 0 ? seq : 1 + (k + seed) % 2;
        if (scanned_series && blocks < 2)
            blocks = 2; /* one of each class */
        for (uint64_t b = 0; b < blocks; b++, addr += 64)
            add_live_class(&s, addr, 32 + (k + seed) % 64, (uint32_t)k + 1, (uint32_t)(b * 10),
                           !scanned_series ? IMGLEAK_CLASS_UNKNOWN
                           : b % 2         ? IMGLEAK_CLASS_REACHABLE
                                           : IMGLEAK_CLASS_LEAKED);
    }
    const uint64_t start = 1700000000000000000u;
    snap_write(&s, path, pid, instance, seq, start + seq * 10000000000u, start);
    snap_free(&s);
}

static uint64_t number(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s)
        die("expected a number");
    return v;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "handles") == 0) {
        elf_code_t e = elf_code(argv[3]);
        gen_handles(number(argv[2]), &e, argv[4]);
    } else if (argc == 6 && strcmp(argv[1], "modules") == 0) {
        elf_code_t e = elf_code(argv[4]);
        gen_modules(number(argv[2]), number(argv[3]), &e, argv[5]);
    } else if (argc == 5 && strcmp(argv[1], "big") == 0) {
        elf_code_t e = elf_code(argv[3]);
        gen_big(number(argv[2]), &e, argv[4]);
    } else if (argc == 6 && (strcmp(argv[1], "series") == 0 || strcmp(argv[1], "scanned-series") == 0)) {
        scanned_series = strcmp(argv[1], "scanned-series") == 0;
        elf_code_t e = elf_code(argv[4]);
        uint64_t sites = number(argv[2]), n = number(argv[3]);
        char path[4096];
        for (uint64_t seq = 1; seq <= n; seq++) {
            snprintf(path, sizeof path, "%s/imgleak.4545.%016llx.%llu.snap", argv[5], 0x4545ull,
                     (unsigned long long)seq);
            series_snapshot(sites, seq, 0, &e, path, 4545, 0x4545);
        }
    } else if (argc == 6 && strcmp(argv[1], "sites") == 0) {
        elf_code_t e = elf_code(argv[4]);
        uint64_t seed = number(argv[3]);
        series_snapshot(number(argv[2]), 3, seed, &e, argv[5], 4646 + seed, 0x4646 + seed);
    } else {
        fprintf(stderr, "usage: gensnap handles N ELF OUT | modules M F ELF OUT | big MB ELF OUT |\n"
                        "               series SITES N ELF DIR | scanned-series SITES N ELF DIR |\n"
                        "               sites SITES SEED ELF OUT\n");
        return 2;
    }
    return 0;
}
