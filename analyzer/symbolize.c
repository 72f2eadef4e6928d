/* Offline symbolization with libdwfl (see symbolize.h). Every module of the snapshot is reported
 * to one Dwfl at its recorded load bias; an address is looked up as address-1, because a return
 * address points after the call, possibly already into the next line or function. */
#define _GNU_SOURCE
#include "symbolize.h"

#include "error.h"
#include "safeopen.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INLINE_MAX 16

typedef struct {
    uint64_t address;
    frame_t *frames;
    unsigned count;
} cache_entry_t;

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

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = NULL;
    if (dwarf_attr_integrate(die, DW_AT_name, &attr))
        name = dwarf_formstring(&attr);
    if (!name && dwarf_attr_integrate(die, DW_AT_linkage_name, &attr))
        name = dwarf_formstring(&attr);
    return name;
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

/* Fills out[] from DWARF: the innermost location from the line table, then one frame per
 * enclosing inlined subroutine, ending with the real function. */
static unsigned from_dwarf(symbolizer_t *sym, Dwfl_Module *mod, uint64_t pc, frame_t *out,
                           const frame_t *base)
{
    Dwarf_Addr bias;
    Dwarf_Die *cudie = dwfl_module_addrdie(mod, pc, &bias);
    /* no compile unit covers pc (startup code, a stripped object): a line found anyway would be
     * the nearest one of some other unit, so none is better. libdwfl can hand back the unit
     * nearest to pc, so its ranges are checked too. */
    if (!cudie || dwarf_haspc(cudie, pc - bias) <= 0)
        return 0;
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = dwfl_module_getsrc(mod, pc);
    if (dl)
        file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
    Dwarf_Die *scopes = NULL;
    int nscopes = dwarf_getscopes(cudie, pc - bias, &scopes);
    unsigned n = 0;
    for (int i = 0; i < nscopes && n < INLINE_MAX; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
            continue;
        out[n] = *base;
        out[n].function = intern(sym, die_name(&scopes[i]));
        out[n].file = intern(sym, file);
        out[n].line = line > 0 ? (unsigned)line : 0;
        out[n].inlined = tag == DW_TAG_inlined_subroutine;
        n++;
        if (tag == DW_TAG_subprogram)
            break;
        /* the next frame outward is where this one was inlined */
        file = call_file(cudie, &scopes[i]);
        line = (int)call_line(&scopes[i]);
    }
    free(scopes);
    if (n == 0 && file) {
        out[0] = *base;
        out[0].file = intern(sym, file);
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
    const snap_module_t *m = module_of(sym, address, &index);
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
        out[n - 1].function = intern(sym, name);
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
