/* Offline symbolization with libdwfl (see symbolize.h). Every module of the snapshot is reported
 * to one Dwfl at its recorded load bias; an address is looked up as address-1, because a return
 * address points after the call, possibly already into the next line or function. */
#define _GNU_SOURCE
#include "symbolize.h"

#include "jitname.h"

#include "golang.h"

#include "error.h"
#include "safeopen.h"

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
    Dwfl_Module *mod;
    Dwarf_Addr bias;
    unit_range_t *ranges;
    size_t count;
} unit_index_t;

typedef struct string_node {
    struct string_node *next;
    char text[];
} string_node_t;

struct symbolizer {
    Dwfl *dwfl;
    const snapshot_t *snap;
    unsigned char *usable; /* per module: 1 when reported to dwfl */
    cache_entry_t *cache;
    size_t cache_capacity, cache_count;
    string_node_t **strings; /* interned strings, hashed */
    size_t strings_capacity;
    unit_index_t *unit_indexes; /* modules whose units had to be indexed by hand */
    size_t unit_index_count;
    char *cwd; /* source paths below it are shown relative to it; NULL: all absolute */
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
    uint64_t h = 1469598103934665603u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h;
}

static const char *intern(symbolizer_t *sym, const char *s)
{
    if (!s)
        return NULL;
    size_t i = hash_str(s) & (sym->strings_capacity - 1);
    for (string_node_t *n = sym->strings[i]; n; n = n->next)
        if (strcmp(n->text, s) == 0)
            return n->text;
    size_t len = strlen(s);
    string_node_t *n = malloc(sizeof *n + len + 1);
    if (!n)
        return NULL;
    memcpy(n->text, s, len + 1);
    n->next = sym->strings[i];
    sym->strings[i] = n;
    return n->text;
}

static void hex_build_id(const uint8_t *id, unsigned len, char *out)
{
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = "0123456789abcdef"[id[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[id[i] & 15];
    }
    out[2 * len] = '\0';
}

static void report_module(symbolizer_t *sym, size_t i)
{
    const snap_module_t *m = &sym->snap->modules[i];
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
    Dwfl_Module *mod = dwfl_report_elf(sym->dwfl, m->path, m->path, fd, m->bias, true);
    if (!mod) { /* on success libdwfl owns fd */
        close(fd);
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
            return;
        }
    }
    sym->usable[i] = 1;
}

symbolizer_t *symbolizer_new(const snapshot_t *snap)
{
    symbolizer_t *sym = calloc(1, sizeof *sym);
    if (!sym)
        return NULL;
    sym->snap = snap;
    sym->usable = calloc(snap->nmodules + 1, 1);
    sym->cache_capacity = 1024;
    sym->cache = calloc(sym->cache_capacity, sizeof *sym->cache);
    sym->strings_capacity = 4096;
    sym->strings = calloc(sym->strings_capacity, sizeof *sym->strings);
    sym->dwfl = dwfl_begin(&callbacks);
    sym->cwd = getcwd(NULL, 0);
    if (sym->cwd && strcmp(sym->cwd, "/") == 0) { /* everything is below /: keep paths whole */
        free(sym->cwd);
        sym->cwd = NULL;
    }
    if (!sym->usable || !sym->cache || !sym->strings || !sym->dwfl) {
        symbolizer_free(sym);
        return NULL;
    }
    dwfl_report_begin(sym->dwfl);
    for (size_t i = 0; i < snap->nmodules; i++)
        report_module(sym, i);
    dwfl_report_end(sym->dwfl, NULL, NULL);
    return sym;
}

void symbolizer_free(symbolizer_t *sym)
{
    if (!sym)
        return;
    if (sym->dwfl)
        dwfl_end(sym->dwfl);
    for (size_t i = 0; sym->cache && i < sym->cache_capacity; i++)
        free(sym->cache[i].frames);
    for (size_t i = 0; sym->strings && i < sym->strings_capacity; i++) {
        string_node_t *n = sym->strings[i];
        while (n) {
            string_node_t *next = n->next;
            free(n);
            n = next;
        }
    }
    for (size_t i = 0; i < sym->unit_index_count; i++)
        free(sym->unit_indexes[i].ranges);
    free(sym->unit_indexes);
    free(sym->cwd);
    free(sym->strings);
    free(sym->cache);
    free(sym->usable);
    free(sym);
}

static const snap_module_t *module_of(const symbolizer_t *sym, uint64_t address, size_t *index)
{
    for (size_t i = 0; i < sym->snap->nmodules; i++) {
        const snap_module_t *m = &sym->snap->modules[i];
        if (address >= m->start && address < m->end) {
            *index = i;
            return m;
        }
    }
    return NULL;
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
static const char *readable_name(symbolizer_t *sym, const char *name)
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
static const char *die_name(symbolizer_t *sym, Dwarf_Die *die)
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

/* Every unit's address ranges (DW_AT_low_pc/high_pc or DW_AT_ranges), sorted. */
static unit_index_t *unit_index_of(symbolizer_t *sym, Dwfl_Module *mod)
{
    for (size_t i = 0; i < sym->unit_index_count; i++)
        if (sym->unit_indexes[i].mod == mod)
            return &sym->unit_indexes[i];
    unit_index_t *grown = realloc(sym->unit_indexes, (sym->unit_index_count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    sym->unit_indexes = grown;
    unit_index_t *ix = &grown[sym->unit_index_count++];
    *ix = (unit_index_t){.mod = mod};
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
static int unit_of(symbolizer_t *sym, Dwfl_Module *mod, Dwarf_Addr pc, Dwarf_Die *out,
                   Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, bias);
    if (cu && dwarf_haspc(cu, pc - *bias) > 0)
        return (*out = *cu), 1;
    unit_index_t *ix = unit_index_of(sym, mod);
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
static const char *source_path(symbolizer_t *sym, Dwarf_Die *cudie, const char *name)
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
static unsigned from_dwarf(symbolizer_t *sym, Dwfl_Module *mod, uint64_t pc, frame_t *out,
                           const frame_t *base)
{
    Dwarf_Addr bias;
    Dwarf_Die cu;
    if (!unit_of(sym, mod, pc, &cu, &bias))
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

static unsigned resolve(symbolizer_t *sym, uint64_t address, frame_t *out)
{
    frame_t base;
    size_t index;
    memset(&base, 0, sizeof base);
    base.address = address;
    if (address & IMGLEAK_FRAME_SCRIPT) {
        const snap_code_t *code = snapshot_code(sym->snap, IMGLEAK_FRAME_SCRIPT_CODE(address));
        base.script = 1;
        base.line = IMGLEAK_FRAME_SCRIPT_LINE(address);
        if (code) {
            base.function = intern(sym, code->function[0] ? code->function : "?");
            base.file = code->file[0] ? intern(sym, code->file) : NULL;
        }
        base.module = sym->snap->script_runtime ? intern(sym, sym->snap->script_runtime) : NULL;
        return (out[0] = base), 1;
    }
    const snap_module_t *m = module_of(sym, address, &index);
    const snap_jit_t *jit = m ? NULL : snapshot_jit(sym->snap, address - 1);
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
    if (!m)
        return (out[0] = base), 1;
    base.module = intern(sym, m->path);
    base.offset = address - m->bias;
    base.module_flags = m->flags;
    if (!sym->usable[index])
        return (out[0] = base), 1;
    uint64_t pc = address - 1;
    Dwfl_Module *mod = dwfl_addrmodule(sym->dwfl, pc);
    if (!mod)
        return (out[0] = base), 1;
    unsigned n = from_dwarf(sym, mod, pc, out, &base);
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

static int cache_grow(symbolizer_t *sym)
{
    size_t cap = sym->cache_capacity * 2;
    cache_entry_t *fresh = calloc(cap, sizeof *fresh);
    if (!fresh)
        return -1;
    for (size_t i = 0; i < sym->cache_capacity; i++) {
        if (!sym->cache[i].frames)
            continue;
        size_t j = (sym->cache[i].address * 0x9e3779b97f4a7c15u >> 20) & (cap - 1);
        while (fresh[j].frames)
            j = (j + 1) & (cap - 1);
        fresh[j] = sym->cache[i];
    }
    free(sym->cache);
    sym->cache = fresh;
    sym->cache_capacity = cap;
    return 0;
}

const frame_t *symbolize(symbolizer_t *sym, uint64_t address, unsigned *count)
{
    static frame_t unknown;
    if (sym->cache_count * 2 >= sym->cache_capacity && cache_grow(sym) < 0)
        goto fail;
    size_t mask = sym->cache_capacity - 1;
    size_t i = (address * 0x9e3779b97f4a7c15u >> 20) & mask;
    for (; sym->cache[i].frames; i = (i + 1) & mask) {
        if (sym->cache[i].address == address) {
            *count = sym->cache[i].count;
            return sym->cache[i].frames;
        }
    }
    frame_t frames[INLINE_MAX];
    unsigned n = resolve(sym, address, frames);
    frame_t *copy = malloc(n * sizeof *copy);
    if (!copy)
        goto fail;
    memcpy(copy, frames, n * sizeof *copy);
    sym->cache[i].address = address;
    sym->cache[i].frames = copy;
    sym->cache[i].count = n;
    sym->cache_count++;
    *count = n;
    return copy;
fail:
    unknown.address = address;
    *count = 1;
    return &unknown;
}
