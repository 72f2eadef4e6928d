/* Offline symbolization with libdwfl (see symbolize.h). Every module is reported to a Dwfl of its
 * own at its recorded load bias, shared by the snapshots that map it there; an address is looked
 * up as address-1, because a return address points after the call, possibly already into the next
 * line or function. */
#define _GNU_SOURCE
#include "symbolize.h"

#include "golang.h"
#include "jitname.h"

#include "error.h"
#include "grow.h"
#include "safeopen.h"
#include "slots.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INLINE_MAX 16

typedef struct {
    uint64_t address;
    frame_t *frames;
    unsigned count;
} cache_entry_t;

/* Where each compile unit's code is, for a module without .debug_aranges: built on the first
 * address libdw cannot place, then searched by address. */
typedef struct {
    Dwarf_Addr low, high;
    Dwarf_Die unit;
} unit_range_t;

typedef struct {
    Dwarf_Addr bias;
    unit_range_t *ranges;
    size_t count;
    int built;
} unit_index_t;

/* One module as a process mapped it: its file at its load bias, with everything learnt about its
 * addresses. Snapshots that map the same file at the same place (a series of one process) share
 * it, so that each file is opened and its DWARF read once, not once per snapshot. */
typedef struct mapped_module {
    const char *path; /* interned; NULL for the addresses in no module */
    uint64_t start, end, bias, file_offset;
    uint8_t build_id[IMGLEAK_BUILD_ID_MAX];
    unsigned build_id_len, flags;
    Dwfl *dwfl; /* this module alone; NULL when it cannot be read (frames are module+offset) */
    cache_entry_t *cache;
    size_t cache_capacity, cache_count;
    unit_index_t units;
} mapped_module_t;

/* An address space as the symbolizers of its snapshots see it (segments below). */
typedef struct segment_map {
    struct segment *segments;
    size_t count;
    uint64_t hash;
    /* a process with script frames or a perf map (its instance id, else 0), and its frames out of
     * every module: script frames name a code id of that process, JIT addresses its perf map,
     * so they are cached per process, never shared with another one */
    uint64_t instance;
    struct mapped_module *script;
} segment_map_t;

struct symbols {
    char **strings; /* interned, by string_ix */
    size_t nstrings;
    slots_t string_ix;
    mapped_module_t **modules; /* by module_ix */
    size_t nmodules;
    slots_t module_ix;
    mapped_module_t none; /* addresses in no module */
    segment_map_t *maps;  /* the distinct address spaces seen, by map_ix */
    size_t nmaps;
    slots_t map_ix;
    char *cwd; /* source paths below it are shown relative to it; NULL: all absolute */
};

/* A snapshot's address space: where each of its modules is, without overlaps, sorted. */
typedef struct segment {
    uint64_t low, high;
    mapped_module_t *mod;
} segment_t;

struct symbolizer {
    symbols_t *symbols;
    const snapshot_t *snap;
    struct mapped_module *script; /* its map's frames out of every module, or NULL */
    int owns_symbols;
    segment_t *segments;
    size_t nsegments;
    uint64_t map_id; /* 1 + its address space's index in symbols->maps */
};

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

static uint64_t hash_str(const char *s)
{
    return slots_hash_string(1469598103934665603u, s);
}

static uint64_t string_hash_of(size_t item, const void *ctx)
{
    return hash_str(((const symbols_t *)ctx)->strings[item]);
}

static int same_string(size_t item, const void *key, const void *ctx)
{
    return strcmp(((const symbols_t *)ctx)->strings[item], key) == 0;
}

static const char *intern(symbols_t *sym, const char *s)
{
    if (!s || slots_reserve(&sym->string_ix, sym->nstrings, string_hash_of, sym) < 0)
        return NULL;
    size_t *slot = slots_find(&sym->string_ix, hash_str(s), same_string, s, sym);
    if (*slot)
        return sym->strings[*slot - 1];
    char *copy = strdup(s);
    if (!copy || grow_for(&sym->strings, sym->nstrings, sizeof *sym->strings) < 0) {
        free(copy);
        return NULL;
    }
    sym->strings[sym->nstrings] = copy;
    *slot = ++sym->nstrings;
    return copy;
}

static void hex_build_id(const uint8_t *id, unsigned len, char *out)
{
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = "0123456789abcdef"[id[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[id[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Opens the module's file for libdwfl; warns once per module that is missing on disk or whose
 * build-id differs from the snapshot's. */
static void open_module(mapped_module_t *m)
{
    if (!m->path[0] || strncmp(m->path, "linux-vdso", 10) == 0)
        return;
    /* the path comes from the snapshot: a FIFO or a device there must not hang the report */
    struct stat st;
    int fd = safeopen_read(m->path, &st);
    if (fd < 0) {
        if (access(m->path, F_OK) != 0)
            warn("%s: not found; its frames are shown as module+offset", m->path);
        else
            warn("%s; its frames are shown as module+offset", error_get());
        return;
    }
    Dwfl *dwfl = dwfl_begin(&callbacks);
    if (!dwfl) {
        close(fd);
        return;
    }
    dwfl_report_begin(dwfl);
    Dwfl_Module *mod = dwfl_report_elf(dwfl, m->path, m->path, fd, m->bias, true);
    dwfl_report_end(dwfl, NULL, NULL);
    if (!mod) { /* on success libdwfl owns fd */
        close(fd);
        dwfl_end(dwfl);
        warn("%s: cannot read as ELF (%s); its frames are shown as module+offset", m->path,
             dwfl_errmsg(-1));
        return;
    }
    if (m->build_id_len) {
        const unsigned char *bits;
        GElf_Addr vaddr;
        int n = dwfl_module_build_id(mod, &bits, &vaddr);
        if (n != (int)m->build_id_len || memcmp(bits, m->build_id, m->build_id_len) != 0) {
            char want[2 * IMGLEAK_BUILD_ID_MAX + 1];
            hex_build_id(m->build_id, m->build_id_len, want);
            warn("%s: build-id on disk differs from the snapshot's (%s); the file was replaced "
                 "since the run, its frames are shown as module+offset", m->path, want);
            dwfl_end(dwfl);
            return;
        }
    }
    m->dwfl = dwfl;
}

static uint64_t module_hash(const snap_module_t *m)
{
    uint64_t h = hash_str(m->path);
    h = (h ^ m->start) * 0x9e3779b97f4a7c15u;
    h = (h ^ m->end) * 0x9e3779b97f4a7c15u;
    h = (h ^ m->bias ^ m->file_offset << 17 ^ m->flags) * 0xff51afd7ed558ccdu;
    for (unsigned i = 0; i < m->build_id_len; i++)
        h = (h ^ m->build_id[i]) * 1099511628211u;
    return h;
}

static uint64_t module_hash_of(size_t item, const void *ctx)
{
    const mapped_module_t *mm = ((const symbols_t *)ctx)->modules[item];
    snap_module_t m = {mm->start, mm->end, mm->bias, mm->file_offset, mm->path, {0},
                       mm->build_id_len, mm->flags};
    memcpy(m.build_id, mm->build_id, mm->build_id_len);
    return module_hash(&m);
}

static int same_module(size_t item, const void *key, const void *ctx)
{
    const mapped_module_t *a = ((const symbols_t *)ctx)->modules[item];
    const snap_module_t *b = key;
    return a->start == b->start && a->end == b->end && a->bias == b->bias &&
           a->file_offset == b->file_offset && a->flags == b->flags &&
           a->build_id_len == b->build_id_len && strcmp(a->path, b->path) == 0 &&
           memcmp(a->build_id, b->build_id, a->build_id_len) == 0;
}

/* The shared module for a snapshot's module record: found, or made (and its file opened). */
static mapped_module_t *module_for(symbols_t *sym, const snap_module_t *m)
{
    if (slots_reserve(&sym->module_ix, sym->nmodules, module_hash_of, sym) < 0)
        return NULL;
    size_t *slot = slots_find(&sym->module_ix, module_hash(m), same_module, m, sym);
    if (*slot)
        return sym->modules[*slot - 1];
    mapped_module_t *mm = calloc(1, sizeof *mm);
    if (!mm || grow_for(&sym->modules, sym->nmodules, sizeof *sym->modules) < 0 ||
        !(mm->path = intern(sym, m->path))) {
        free(mm);
        return NULL;
    }
    mm->start = m->start;
    mm->end = m->end;
    mm->bias = m->bias;
    mm->file_offset = m->file_offset;
    mm->flags = m->flags;
    mm->build_id_len = m->build_id_len;
    memcpy(mm->build_id, m->build_id, m->build_id_len);
    sym->modules[sym->nmodules] = mm;
    *slot = ++sym->nmodules;
    open_module(mm);
    return mm;
}

symbols_t *symbols_new(void)
{
    symbols_t *sym = calloc(1, sizeof *sym);
    if (!sym)
        return NULL;
    sym->cwd = getcwd(NULL, 0);
    if (sym->cwd && strcmp(sym->cwd, "/") == 0) { /* everything is below /: keep paths whole */
        free(sym->cwd);
        sym->cwd = NULL;
    }
    return sym;
}

static void module_free(mapped_module_t *m)
{
    if (m->dwfl)
        dwfl_end(m->dwfl);
    for (size_t i = 0; m->cache && i < m->cache_capacity; i++)
        free(m->cache[i].frames);
    free(m->cache);
    free(m->units.ranges);
}

void symbols_free(symbols_t *sym)
{
    if (!sym)
        return;
    for (size_t i = 0; i < sym->nmodules; i++) {
        module_free(sym->modules[i]);
        free(sym->modules[i]);
    }
    module_free(&sym->none);
    for (size_t i = 0; i < sym->nmaps; i++) {
        free(sym->maps[i].segments);
        if (sym->maps[i].script)
            module_free(sym->maps[i].script);
        free(sym->maps[i].script);
    }
    free(sym->maps);
    slots_free(&sym->map_ix);
    for (size_t i = 0; i < sym->nstrings; i++)
        free(sym->strings[i]);
    free(sym->strings);
    free(sym->modules);
    slots_free(&sym->string_ix);
    slots_free(&sym->module_ix);
    free(sym->cwd);
    free(sym);
}

/* A module boundary: where record `index` starts or ends. */
typedef struct {
    uint64_t at;
    size_t index;
} boundary_t;

static int by_boundary(const void *a, const void *b)
{
    const boundary_t *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* A min-heap of module record indexes: of the modules that hold an address, the first record
 * names it, as it always has. */
static void heap_push(size_t *heap, size_t *n, size_t v)
{
    size_t i = (*n)++;
    for (; i && heap[(i - 1) / 2] > v; i = (i - 1) / 2)
        heap[i] = heap[(i - 1) / 2];
    heap[i] = v;
}

static void heap_pop(size_t *heap, size_t *n)
{
    size_t v = heap[--*n], i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && heap[c + 1] < heap[c])
            c++;
        if (heap[c] >= v)
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (*n)
        heap[i] = v;
}

/* Cuts the snapshot's address space at every module's start and end and gives each piece to the
 * first module record holding it: O(m log m), however many modules there are or however they
 * overlap in a crafted file. */
static int build_segments(symbolizer_t *view, const snapshot_t *snap, mapped_module_t **mods)
{
    size_t n = snap->nmodules;
    boundary_t *b = malloc((2 * n + 1) * sizeof *b);
    size_t *heap = malloc((n + 1) * sizeof *heap), nheap = 0;
    view->segments = malloc((2 * n + 1) * sizeof *view->segments);
    if (!b || !heap || !view->segments) {
        free(b);
        free(heap);
        return -1;
    }
    size_t nb = 0;
    for (size_t i = 0; i < n; i++)
        if (snap->modules[i].start < snap->modules[i].end) {
            b[nb++] = (boundary_t){snap->modules[i].start, i};
            b[nb++] = (boundary_t){snap->modules[i].end, i};
        }
    qsort(b, nb, sizeof *b, by_boundary);
    for (size_t k = 0; k < nb;) {
        uint64_t at = b[k].at;
        for (; k < nb && b[k].at == at; k++)
            if (snap->modules[b[k].index].start == at)
                heap_push(heap, &nheap, b[k].index);
        /* the modules that ended here leave (lazily: only from the top) */
        while (nheap && snap->modules[heap[0]].end <= at)
            heap_pop(heap, &nheap);
        if (!nheap || k == nb)
            continue;
        mapped_module_t *mod = mods[heap[0]];
        segment_t *last = view->nsegments ? &view->segments[view->nsegments - 1] : NULL;
        if (last && last->mod == mod && last->high == at)
            last->high = b[k].at;
        else
            view->segments[view->nsegments++] = (segment_t){at, b[k].at, mod};
    }
    free(b);
    free(heap);
    return 0;
}

static uint64_t map_hash(const segment_t *segs, size_t n, uint64_t instance)
{
    uint64_t h = 1469598103934665603u ^ instance;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ segs[i].low) * 0x9e3779b97f4a7c15u;
        h = (h ^ segs[i].high) * 0xff51afd7ed558ccdu;
        h = (h ^ (uintptr_t)segs[i].mod) * 1099511628211u;
    }
    return h;
}

static uint64_t map_hash_of(size_t item, const void *ctx)
{
    return ((const symbols_t *)ctx)->maps[item].hash;
}

static int same_map(size_t item, const void *key, const void *ctx)
{
    const segment_map_t *a = &((const symbols_t *)ctx)->maps[item], *b = key;
    return a->hash == b->hash && a->count == b->count && a->instance == b->instance &&
           memcmp(a->segments, b->segments, a->count * sizeof *a->segments) == 0;
}

/* Gives the view the id of its address space, the same for every snapshot mapped alike. */
static int register_map(symbols_t *sym, symbolizer_t *view)
{
    const snapshot_t *snap = view->snap;
    uint64_t instance = snap->ncodes || snap->njit ? snap->process.instance_id | 1 : 0;
    segment_map_t key = {view->segments, view->nsegments,
                         map_hash(view->segments, view->nsegments, instance), instance, NULL};
    if (slots_reserve(&sym->map_ix, sym->nmaps, map_hash_of, sym) < 0)
        return -1;
    size_t *slot = slots_find(&sym->map_ix, key.hash, same_map, &key, sym);
    if (!*slot) {
        segment_map_t copy = {malloc((key.count ? key.count : 1) * sizeof *key.segments), key.count,
                              key.hash, instance, instance ? calloc(1, sizeof *copy.script) : NULL};
        if (!copy.segments || (instance && !copy.script) ||
            grow_for(&sym->maps, sym->nmaps, sizeof *sym->maps) < 0) {
            free(copy.segments);
            free(copy.script);
            return -1;
        }
        memcpy(copy.segments, key.segments, key.count * sizeof *key.segments);
        sym->maps[sym->nmaps] = copy;
        *slot = ++sym->nmaps;
    }
    view->map_id = *slot;
    view->script = sym->maps[*slot - 1].script;
    return 0;
}

uint64_t symbolizer_map_id(const symbolizer_t *sym)
{
    return sym->map_id;
}

symbolizer_t *symbolizer_new_shared(symbols_t *shared, const snapshot_t *snap)
{
    symbolizer_t *view = calloc(1, sizeof *view);
    if (!view)
        return NULL;
    view->symbols = shared;
    view->snap = snap;
    if (!shared) {
        view->owns_symbols = 1;
        if (!(view->symbols = symbols_new())) {
            free(view);
            return NULL;
        }
    }
    mapped_module_t **mods = calloc(snap->nmodules + 1, sizeof *mods);
    int ok = mods != NULL;
    for (size_t i = 0; ok && i < snap->nmodules; i++)
        ok = (mods[i] = module_for(view->symbols, &snap->modules[i])) != NULL;
    if (!ok || build_segments(view, snap, mods) < 0 || register_map(view->symbols, view) < 0) {
        free(mods);
        symbolizer_free(view);
        return NULL;
    }
    free(mods);
    return view;
}

symbolizer_t *symbolizer_new(const snapshot_t *snap)
{
    return symbolizer_new_shared(NULL, snap);
}

void symbolizer_free(symbolizer_t *sym)
{
    if (!sym)
        return;
    if (sym->owns_symbols)
        symbols_free(sym->symbols);
    free(sym->segments);
    free(sym);
}

static mapped_module_t *module_of(const symbolizer_t *view, uint64_t address)
{
    size_t lo = 0, hi = view->nsegments; /* the first segment ending after address */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (view->segments[mid].high <= address)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < view->nsegments && view->segments[lo].low <= address)
        return view->segments[lo].mod;
    return &view->symbols->none;
}

/* libstdc++'s demangler, callable from C; also reads Rust's legacy (C++-like) mangling. */
char *__cxa_demangle(const char *mangled, char *out, size_t *length, int *status);

/* The length of name without the suffixes gcc gives the copies it makes of a function (foo.cold,
 * foo.constprop.0, foo.isra.0, foo.part.0, foo.lto_priv.0; demangled: " [clone .isra.0]"): they
 * are the same source function, one entry for the user, not several. */
static size_t without_clone_suffix(const char *name)
{
    static const char *const kinds[] = {"cold", "constprop", "isra", "part", "lto_priv",
                                        "localalias", "clone", "specialized"};
    const char *bracket = strstr(name, " [clone .");
    if (bracket)
        return (size_t)(bracket - name);
    for (const char *dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.'))
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
            if (strncmp(dot + 1, kinds[k], strlen(kinds[k])) == 0)
                return (size_t)(dot - name);
    return strlen(name);
}

/* A function's name as people write it: a mangled (C++) name demangled with its namespaces,
 * classes and parameters, so that text, JSON, pprof, suppressions and baselines all see
 * preview::keep_preview(cv::Mat const&), never _ZN7preview12keep_preview... or keep_preview. */
static const char *readable_name(symbols_t *sym, const char *name)
{
    if (!name)
        return NULL;
    int status = -1;
    char *plain = name[0] == '_' && name[1] == 'Z' ? __cxa_demangle(name, NULL, NULL, &status) : NULL;
    const char *full = status == 0 && plain ? plain : name;
    char *cut = strndup(full, without_clone_suffix(full));
    const char *out = intern(sym, cut ? cut : full);
    free(cut);
    free(plain);
    return out;
}

/* DW_AT_linkage_name first (through abstract origins and specifications): a C++ function's
 * DW_AT_name lacks its namespace and class. */
static const char *die_name(symbols_t *sym, Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = NULL;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
        name = dwarf_formstring(&attr);
    if (!name && dwarf_attr_integrate(die, DW_AT_name, &attr))
        name = dwarf_formstring(&attr);
    return readable_name(sym, name);
}

static const char *call_file(Dwarf_Die *cudie, Dwarf_Die *inlined)
{
    Dwarf_Attribute attr;
    Dwarf_Word index;
    Dwarf_Files *files;
    size_t nfiles;
    if (!dwarf_attr(inlined, DW_AT_call_file, &attr) || dwarf_formudata(&attr, &index) != 0)
        return NULL;
    if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0 || index >= nfiles)
        return NULL;
    return dwarf_filesrc(files, index, NULL, NULL);
}

static unsigned call_line(Dwarf_Die *inlined)
{
    Dwarf_Attribute attr;
    Dwarf_Word line;
    if (!dwarf_attr(inlined, DW_AT_call_line, &attr) || dwarf_formudata(&attr, &line) != 0)
        return 0;
    return (unsigned)line;
}

#define SCOPE_DEPTH_MAX 64

/* Whether code can sit directly under a DIE of this tag, or only further down (a namespace or a
 * class holds C++ functions but has no address ranges of its own). */
static int holds_code(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_lexical_block || tag == DW_TAG_try_block || tag == DW_TAG_catch_block;
}

static int holds_functions(int tag)
{
    return tag == DW_TAG_namespace || tag == DW_TAG_module || tag == DW_TAG_class_type ||
           tag == DW_TAG_structure_type || tag == DW_TAG_union_type;
}

/* Appends to chain[] the scopes under parent that hold pc, outermost first; returns the new depth.
 * nesting bounds the namespaces looked into, so a crafted file cannot exhaust the stack. */
static int scopes_down(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *chain, int depth, int max,
                       int nesting)
{
    Dwarf_Die child;
    while (depth < max && dwarf_child(parent, &child) == 0) {
        int found = 0;
        do {
            int tag = dwarf_tag(&child);
            if (holds_code(tag) && dwarf_haspc(&child, pc) > 0) {
                chain[depth++] = child;
                found = 1;
            } else if (holds_functions(tag) && nesting < SCOPE_DEPTH_MAX) {
                /* a function inside a namespace or class: look inside; the namespace is no scope */
                int deeper = scopes_down(&child, pc, chain, depth, max, nesting + 1);
                if (deeper > depth)
                    return deeper;
            }
        } while (!found && dwarf_siblingof(&child, &child) == 0);
        if (!found)
            break;
        parent = &chain[depth - 1];
    }
    return depth;
}

/* The scopes around pc as they are nested in the concrete code, innermost first, found by walking
 * the compile unit's tree down. dwarf_getscopes() is not that: past the innermost inlined
 * subroutine it goes on with the scopes around the inline function's abstract definition, so the
 * functions it was inlined into are lost, and it finds nothing at all in an LTO unit, whose
 * concrete DIEs name abstract origins in another unit. Returns how many scopes were found. */
static int concrete_scopes(Dwarf_Die *cudie, Dwarf_Addr pc, Dwarf_Die *chain, int max)
{
    int n = scopes_down(cudie, pc, chain, 0, max, 0);
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        Dwarf_Die t = chain[i];
        chain[i] = chain[j];
        chain[j] = t;
    }
    return n;
}

static int unit_range_cmp(const void *a, const void *b)
{
    const unit_range_t *x = a, *y = b;
    return x->low < y->low ? -1 : x->low > y->low;
}

static int unit_index_add(unit_index_t *ix, size_t *cap, Dwarf_Addr low, Dwarf_Addr high,
                          const Dwarf_Die *unit)
{
    if (ix->count == *cap) {
        size_t grown = *cap ? *cap * 2 : 64;
        unit_range_t *r = realloc(ix->ranges, grown * sizeof *r);
        if (!r)
            return -1;
        ix->ranges = r;
        *cap = grown;
    }
    ix->ranges[ix->count++] = (unit_range_t){low, high, *unit};
    return 0;
}

/* Every unit's address ranges (DW_AT_low_pc/high_pc or DW_AT_ranges), sorted; once per module. */
static unit_index_t *unit_index_of(mapped_module_t *mm, Dwfl_Module *mod)
{
    unit_index_t *ix = &mm->units;
    if (ix->built)
        return ix;
    ix->built = 1;
    size_t cap = 0;
    Dwarf_Die *cu = NULL;
    while ((cu = dwfl_module_nextcu(mod, cu, &ix->bias)) != NULL) {
        Dwarf_Addr base, low, high;
        for (ptrdiff_t off = 0; (off = dwarf_ranges(cu, off, &base, &low, &high)) > 0;)
            if (low < high && unit_index_add(ix, &cap, low, high, cu) < 0)
                return ix; /* out of memory: what was indexed still serves */
    }
    if (ix->count)
        qsort(ix->ranges, ix->count, sizeof *ix->ranges, unit_range_cmp);
    return ix;
}

/* The compile unit whose code holds pc. libdw finds it through .debug_aranges, which clang does
 * not write unless asked (-gdwarf-aranges): libdw 0.188 then finds no unit at all, so the units'
 * own ranges are indexed. libdwfl can also hand back the unit nearest to pc, so the ranges are
 * checked either way: a line from a unit that does not hold pc (startup code, a stripped object)
 * would be some other code's line, and none is better. */
static int unit_of(mapped_module_t *mm, Dwfl_Module *mod, Dwarf_Addr pc, Dwarf_Die *out,
                   Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, bias);
    if (cu && dwarf_haspc(cu, pc - *bias) > 0)
        return (*out = *cu), 1;
    unit_index_t *ix = unit_index_of(mm, mod);
    if (!ix || !ix->count)
        return 0;
    Dwarf_Addr rel = pc - ix->bias;
    size_t lo = 0, hi = ix->count; /* the last range starting at or before rel */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->ranges[mid].low <= rel)
            lo = mid;
        else
            hi = mid;
    }
    const unit_range_t *r = &ix->ranges[lo];
    if (rel < r->low || rel >= r->high)
        return 0;
    *bias = ix->bias;
    *out = r->unit;
    return 1;
}

/* Removes "." and "name/.." components of a path, in place; a relative path keeps the ".."s
 * that climb above its start. */
static void normalize_path(char *path)
{
    int absolute = path[0] == '/';
    char *out = path, *floor = path; /* floor: the part made of ".." that cannot be undone */
    for (const char *in = path; *in;) {
        while (*in == '/')
            in++;
        const char *end = strchrnul(in, '/');
        size_t len = (size_t)(end - in);
        int dotdot = len == 2 && in[0] == '.' && in[1] == '.';
        if (len == 0 || (len == 1 && in[0] == '.')) {
        } else if (dotdot && out > floor) {
            while (out > floor && *--out != '/')
                ;
        } else if (!(dotdot && absolute)) {
            if (out > path || absolute)
                *out++ = '/';
            memmove(out, in, len);
            out += len;
            if (dotdot)
                floor = out;
        }
        in = end;
    }
    if (out == path)
        *out++ = absolute ? '/' : '.';
    *out = '\0';
}

/* A source path as every view shows it: the line table's name joined to the unit's compile
 * directory ("../sysdeps/x86/libc-start.c" of a unit compiled in "./csu" is
 * "sysdeps/x86/libc-start.c") and normalized, then, when absolute and below the current
 * directory, relative to it. */
static const char *source_path(symbols_t *sym, Dwarf_Die *cudie, const char *name)
{
    if (!name)
        return NULL;
    Dwarf_Attribute attr;
    const char *dir = NULL;
    if (name[0] != '/' && dwarf_attr(cudie, DW_AT_comp_dir, &attr))
        dir = dwarf_formstring(&attr);
    char *path = NULL;
    if (asprintf(&path, "%s%s%s", dir ? dir : "", dir ? "/" : "", name) < 0)
        return intern(sym, name);
    normalize_path(path);
    const char *shown = path;
    size_t n = sym->cwd ? strlen(sym->cwd) : 0;
    if (n && strncmp(path, sym->cwd, n) == 0 && path[n] == '/')
        shown = path + n + 1;
    const char *out = intern(sym, shown);
    free(path);
    return out;
}

/* Fills out[] from DWARF: the innermost location from the line table, then one frame per
 * enclosing inlined subroutine, each at the line of its call inside the next, ending with the
 * real function. */
static unsigned from_dwarf(symbols_t *sym, mapped_module_t *mm, Dwfl_Module *mod, uint64_t pc,
                           frame_t *out, const frame_t *base)
{
    Dwarf_Addr bias;
    Dwarf_Die cu;
    if (!unit_of(mm, mod, pc, &cu, &bias))
        return 0;
    Dwarf_Die *cudie = &cu;
    const char *file = NULL;
    int line = 0;
    Dwarf_Line *dl = dwarf_getsrc_die(cudie, pc - bias);
    if (dl) {
        file = dwarf_linesrc(dl, NULL, NULL);
        dwarf_lineno(dl, &line);
    }
    Dwarf_Attribute attr;
    const char *producer =
        dwarf_attr(cudie, DW_AT_producer, &attr) ? dwarf_formstring(&attr) : NULL;
    Dwarf_Die scopes[SCOPE_DEPTH_MAX];
    int nscopes = concrete_scopes(cudie, pc - bias, scopes, SCOPE_DEPTH_MAX);
    unsigned n = 0;
    for (int i = 0; i < nscopes && n < INLINE_MAX; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
            continue;
        out[n] = *base;
        out[n].function = die_name(sym, &scopes[i]);
        out[n].file = source_path(sym, cudie, file);
        out[n].line = line > 0 ? (unsigned)line : 0;
        out[n].inlined = tag == DW_TAG_inlined_subroutine;
        n++;
        if (tag == DW_TAG_subprogram)
            break;
        /* the next frame outward is where this one was inlined */
        file = call_file(cudie, &scopes[i]);
        line = (int)golang_call_line(producer, source_path(sym, cudie, file), call_line(&scopes[i]));
    }
    if (n == 0 && file) {
        out[0] = *base;
        out[0].file = source_path(sym, cudie, file);
        out[0].line = line > 0 ? (unsigned)line : 0;
        n = 1;
    }
    return n;
}

static unsigned resolve(symbols_t *sym, mapped_module_t *m, uint64_t address, frame_t *out)
{
    frame_t base;
    memset(&base, 0, sizeof base);
    base.address = address;
    if (!m->path)
        return (out[0] = base), 1;
    base.module = m->path;
    base.offset = address - m->bias;
    base.module_flags = m->flags;
    if (!m->dwfl)
        return (out[0] = base), 1;
    uint64_t pc = address - 1;
    Dwfl_Module *mod = dwfl_addrmodule(m->dwfl, pc);
    if (!mod)
        return (out[0] = base), 1;
    unsigned n = from_dwarf(sym, m, mod, pc, out, &base);
    /* the symbol table names the real function when DWARF did not */
    if (n == 0 || !out[n - 1].function) {
        GElf_Off off;
        GElf_Sym s;
        const char *name = dwfl_module_addrinfo(mod, pc, &off, &s, NULL, NULL, NULL);
        if (n == 0)
            out[n++] = base;
        out[n - 1].function = readable_name(sym, name);
    }
    return n;
}

/* A frame out of every module of a process with script frames: a script frame (its code and
 * line), JIT code its perf map names, or nothing known. */
static unsigned resolve_script(symbolizer_t *view, uint64_t address, frame_t *out)
{
    symbols_t *sym = view->symbols;
    const snapshot_t *snap = view->snap;
    frame_t base;
    memset(&base, 0, sizeof base);
    base.address = address;
    if (address & IMGLEAK_FRAME_SCRIPT) {
        const snap_code_t *code = snapshot_code(snap, IMGLEAK_FRAME_SCRIPT_CODE(address));
        base.script = 1;
        base.line = IMGLEAK_FRAME_SCRIPT_LINE(address);
        if (code) {
            base.function = intern(sym, code->function[0] ? code->function : "?");
            base.file = code->file[0] ? intern(sym, code->file) : NULL;
        }
        base.module = snap->script_runtime ? intern(sym, snap->script_runtime) : NULL;
        return (out[0] = base), 1;
    }
    const snap_jit_t *jit = snapshot_jit(snap, address - 1);
    if (jit) { /* JIT code the perf map names: a frame of the script, as an interpreter's */
        jit_name_t name;
        jitname_parse(jit->name, &name);
        base.script = 1;
        base.function = intern(sym, name.function);
        base.file = name.file[0] ? intern(sym, name.file) : NULL;
        base.line = name.line;
        base.module = intern(sym, "[perf map]");
        base.offset = address - jit->start;
    }
    return (out[0] = base), 1;
}

static int cache_grow(mapped_module_t *m)
{
    size_t cap = m->cache_capacity ? m->cache_capacity * 2 : 8;
    cache_entry_t *fresh = calloc(cap, sizeof *fresh);
    if (!fresh)
        return -1;
    for (size_t i = 0; i < m->cache_capacity; i++) {
        if (!m->cache[i].frames)
            continue;
        size_t j = (m->cache[i].address * 0x9e3779b97f4a7c15u >> 20) & (cap - 1);
        while (fresh[j].frames)
            j = (j + 1) & (cap - 1);
        fresh[j] = m->cache[i];
    }
    free(m->cache);
    m->cache = fresh;
    m->cache_capacity = cap;
    return 0;
}

const frame_t *symbolize(symbolizer_t *view, uint64_t address, unsigned *count)
{
    static frame_t unknown;
    mapped_module_t *m = module_of(view, address);
    if (m == &view->symbols->none && view->script)
        m = view->script;
    if ((m->cache_count + 1) * 2 > m->cache_capacity && cache_grow(m) < 0)
        goto fail;
    size_t mask = m->cache_capacity - 1;
    size_t i = (address * 0x9e3779b97f4a7c15u >> 20) & mask;
    for (; m->cache[i].frames; i = (i + 1) & mask) {
        if (m->cache[i].address == address) {
            *count = m->cache[i].count;
            return m->cache[i].frames;
        }
    }
    frame_t frames[INLINE_MAX];
    unsigned n = m == view->script ? resolve_script(view, address, frames)
                                   : resolve(view->symbols, m, address, frames);
    frame_t *copy = malloc(n * sizeof *copy);
    if (!copy)
        goto fail;
    memcpy(copy, frames, n * sizeof *copy);
    m->cache[i].address = address;
    m->cache[i].frames = copy;
    m->cache[i].count = n;
    m->cache_count++;
    *count = n;
    return copy;
fail:
    unknown.address = address;
    *count = 1;
    return &unknown;
}
