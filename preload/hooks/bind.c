/* How the codec hooks bind to the program. A hook is never exported under a codec function's
 * name: that would capture a program's own ReadImage as well. Instead, for each loaded instance
 * of a library that defines a hooked function (an object whose path matches the lib= of a
 * declaration, catalog.h):
 *  1. its .dynsym entries of hooked functions are rewritten so that l_addr + st_value is the hook:
 *     every later lookup that finds the library's own definition (lazy PLT binding, the
 *     relocations of objects loaded afterwards, dlsym(handle | RTLD_DEFAULT | RTLD_NEXT), so
 *     ctypes and plugin loaders too) gets the hook, and a lookup that finds another object's
 *     definition first is untouched;
 *  2. references bound before the shim started (BIND_NOW slots, GLOB_DAT, data pointers) are found
 *     in every loaded object's relocations and repointed, when they hold the real address.
 * Libraries that arrive later by dlopen are bound by the audit library (audit/audit.c, which
 * imgleak run adds with LD_AUDIT) from la_objopen: after mapping and before anything is relocated
 * against them, so step 1 alone suffices. dlopen and dlsym are deliberately not interposed: glibc
 * resolves dlopen's search path (the caller's DT_RUNPATH, $ORIGIN) and dlsym(RTLD_NEXT) from the
 * caller's return address, so a wrapper would change what the program's own calls find.
 * The real address is kept per function, for the instance bound, and cleared when that instance
 * is unloaded (la_objclose, or the check after dlclose in plain LD_PRELOAD use): a hook never
 * calls into an unmapped library. */
#define _GNU_SOURCE
#include "bind.h"
#include "bind_elf.h"

#include "catalog.h"
#include "guard.h"
#include "os.h"
#include "procinfo.h"

#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#define FUNCTIONS_MAX 1024
#define NAME_SLOTS 2048 /* a power of two, at least twice FUNCTIONS_MAX */
#define INSTANCES_MAX 64
#define PATH_MAX_BOUND 256


/* A codec library instance whose hooks are bound. */
typedef struct {
    uintptr_t base; /* 0: a free entry */
    char path[PATH_MAX_BOUND];
    int present; /* scratch for bind_forget_unloaded */
} instance_t;

static pthread_mutex_t bind_lock = PTHREAD_MUTEX_INITIALIZER;
static instance_t instances[INSTANCES_MAX];
static short owners[FUNCTIONS_MAX]; /* 1 + the instance whose fn is bound; 0 none */
static short name_slots[NAME_SLOTS]; /* 1 + fn, by hash of its name; 0 empty */
static unsigned long long seen_subs;
static size_t page_size;

/* Read by the audit library: set once the shim can take its calls. */
EXPORT int imgleak_bind_ready;

/* ---- hooked names ---- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void names_init(void)
{
    unsigned n = catalog_function_count();
    for (unsigned fn = 0; fn < n && fn < FUNCTIONS_MAX; fn++) {
        uint32_t at = name_hash(catalog_function_name(fn)) & (NAME_SLOTS - 1);
        while (name_slots[at])
            at = (at + 1) & (NAME_SLOTS - 1);
        name_slots[at] = (short)(fn + 1);
    }
}

/* The hooked function named name, or -1. */
static int function_find(const char *name)
{
    for (uint32_t at = name_hash(name) & (NAME_SLOTS - 1); name_slots[at];
         at = (at + 1) & (NAME_SLOTS - 1))
        if (strcmp(catalog_function_name((unsigned)name_slots[at] - 1), name) == 0)
            return name_slots[at] - 1;
    return -1;
}

/* ---- reading an object ---- */

/* glibc rewrites the dynamic section's addresses to absolute ones on load; an object whose
 * section is read-only (or the vDSO) keeps them relative. */
static uintptr_t dyn_address(uintptr_t base, uintptr_t value)
{
    return value < base ? base + value : value;
}

static size_t gnu_hash_symbol_count(const uint32_t *table)
{
    uint32_t nbuckets = table[0], symoffset = table[1], bloom_words = table[2];
    const uint32_t *buckets = table + 4 + bloom_words * (sizeof(ElfW(Addr)) / 4);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t last = 0;
    for (uint32_t b = 0; b < nbuckets; b++)
        if (buckets[b] > last)
            last = buckets[b];
    if (last < symoffset)
        return symoffset;
    while (!(chain[last - symoffset] & 1))
        last++;
    return last + 1;
}

int object_read(const struct dl_phdr_info *info, elf_object_t *o)
{
    memset(o, 0, sizeof *o);
    o->base = info->dlpi_addr;
    o->path = info->dlpi_name ? info->dlpi_name : "";
    o->phdr = info->dlpi_phdr;
    o->phnum = info->dlpi_phnum;
    const ElfW(Dyn) *dyn = NULL;
    for (unsigned i = 0; i < o->phnum; i++)
        if (o->phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(o->base + o->phdr[i].p_vaddr);
    if (!dyn)
        return -1;
    size_t rela_bytes[2] = {0, 0};
    for (; dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t at = dyn_address(o->base, dyn->d_un.d_ptr);
        switch (dyn->d_tag) {
        case DT_SYMTAB: o->symtab = (ElfW(Sym) *)at; break;
        case DT_STRTAB: o->strtab = (const char *)at; break;
        case DT_STRSZ: o->strsz = dyn->d_un.d_val; break;
        case DT_VERSYM: o->versym = (const ElfW(Versym) *)at; break;
        case DT_HASH: o->nsyms = ((const uint32_t *)at)[1]; break;
        case DT_GNU_HASH:
            if (!o->nsyms)
                o->nsyms = gnu_hash_symbol_count((const uint32_t *)at);
            break;
        case DT_RELA: o->rela[0] = (const ElfW(Rela) *)at; break;
        case DT_RELASZ: rela_bytes[0] = dyn->d_un.d_val; break;
        case DT_JMPREL: o->rela[1] = (const ElfW(Rela) *)at; break;
        case DT_PLTRELSZ: rela_bytes[1] = dyn->d_un.d_val; break;
        default: break;
        }
    }
    for (int i = 0; i < 2; i++)
        o->rela_count[i] = o->rela[i] ? rela_bytes[i] / sizeof(ElfW(Rela)) : 0;
    return o->symtab && o->strtab ? 0 : -1;
}

/* The protection the page at addr has now: its segment's, or read-only inside RELRO once the
 * object is relocated (glibc protects RELRO rounded down to whole pages, so the same here). */
static int page_prot(const elf_object_t *o, uintptr_t addr, int relocated)
{
    for (unsigned i = 0; relocated && i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        uintptr_t start = (o->base + ph->p_vaddr) & ~(page_size - 1);
        uintptr_t end = (o->base + ph->p_vaddr + ph->p_memsz) & ~(page_size - 1);
        if (ph->p_type == PT_GNU_RELRO && addr >= start && addr < end)
            return PROT_READ;
    }
    for (unsigned i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        uintptr_t start = o->base + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= start && addr < start + ph->p_memsz)
            return (ph->p_flags & PF_R ? PROT_READ : 0) | (ph->p_flags & PF_W ? PROT_WRITE : 0) |
                   (ph->p_flags & PF_X ? PROT_EXEC : 0);
    }
    return -1;
}

/* Stores one word into the object, opening a read-only page for the moment of the store. The
 * store is atomic: another thread may be calling through the slot at the same time. */
int object_write(const elf_object_t *o, uintptr_t *slot, uintptr_t value, int relocated)
{
    int prot = page_prot(o, (uintptr_t)slot, relocated);
    void *page = (void *)((uintptr_t)slot & ~(page_size - 1));
    if (prot < 0)
        return -1;
    if (!(prot & PROT_WRITE) && mprotect(page, page_size, prot | PROT_WRITE) != 0)
        return -1;
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    if (!(prot & PROT_WRITE))
        mprotect(page, page_size, prot);
    return 0;
}

/* ---- instances ---- */

static int is_codec_library(const char *path)
{
    unsigned n = catalog_function_count();
    for (unsigned fn = 0; fn < n; fn++)
        if (catalog_function_in_library(fn, path))
            return 1;
    return 0;
}

static int instance_find(uintptr_t base)
{
    for (int i = 0; i < INSTANCES_MAX; i++)
        if (instances[i].base == base)
            return i;
    return -1;
}

static int instance_add(const elf_object_t *o)
{
    int i = instance_find(0);
    if (i < 0 || strlen(o->path) >= PATH_MAX_BOUND)
        return -1;
    instances[i].base = o->base;
    strcpy(instances[i].path, o->path);
    return i;
}

static void instance_release(int inst)
{
    unsigned n = catalog_function_count();
    for (unsigned fn = 0; fn < n && fn < FUNCTIONS_MAX; fn++)
        if (owners[fn] == inst + 1) {
            catalog_set_real(fn, NULL);
            owners[fn] = 0;
        }
    os_log("hooks of %s unbound: unloaded", instances[inst].path);
    instances[inst].base = 0;
}

/* ---- binding ---- */

/* Step 1: the library's own definitions of hooked functions now resolve to the hooks. An object
 * that defines none (one of ImageMagick's hundred coder modules) takes no instance slot. */
static void bind_library(const elf_object_t *o)
{
    if (!o->base || !is_codec_library(o->path))
        return;
    int inst = instance_find(o->base);
    unsigned bound = 0;
    for (size_t i = 1; i < o->nsyms; i++) {
        ElfW(Sym) *s = &o->symtab[i];
        if (s->st_shndx == SHN_UNDEF || !s->st_value || ELF64_ST_TYPE(s->st_info) != STT_FUNC ||
            s->st_name >= o->strsz || (o->versym && (o->versym[i] & 0x8000)))
            continue; /* 0x8000: a hidden, non-default version */
        int fn = function_find(o->strtab + s->st_name);
        if (fn < 0 || !catalog_function_in_library((unsigned)fn, o->path))
            continue;
        uintptr_t hook = (uintptr_t)catalog_hook((unsigned)fn);
        if (o->base + s->st_value == hook)
            continue; /* bound already */
        if (inst < 0 && (inst = instance_add(o)) < 0) {
            os_log("%s: too many codec libraries loaded; its hooks are not bound", o->path);
            return;
        }
        if (owners[fn] && owners[fn] != inst + 1) {
            os_log("%s: %s is bound to another instance; not hooked here", o->path,
                   catalog_function_name((unsigned)fn));
            continue;
        }
        /* the real address first: a hook reached through the new value must find it */
        catalog_set_real((unsigned)fn, (void *)(o->base + s->st_value));
        owners[fn] = (short)(inst + 1);
        if (object_write(o, (uintptr_t *)&s->st_value, hook - o->base, 0) != 0)
            os_log("%s: cannot rewrite the symbol of %s", o->path, catalog_function_name((unsigned)fn));
        bound++;
    }
    if (bound)
        os_log("%u hooks bound to %s", bound, o->path);
}

void object_foreach_slot(const elf_object_t *o,
                         void (*visit)(const elf_object_t *o, const char *name, unsigned type,
                                       uintptr_t *slot, void *ctx),
                         void *ctx)
{
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < o->rela_count[t]; i++) {
            const ElfW(Rela) *r = &o->rela[t][i];
            unsigned type = (unsigned)ELF64_R_TYPE(r->r_info);
            size_t sym = ELF64_R_SYM(r->r_info);
            if ((type != R_JUMP_SLOT && type != R_GLOB_DAT && type != R_ABS64) || !sym ||
                (type == R_ABS64 && r->r_addend) || o->symtab[sym].st_name >= o->strsz)
                continue;
            visit(o, o->strtab + o->symtab[sym].st_name, type,
                  (uintptr_t *)(o->base + r->r_offset), ctx);
        }
}

static void bind_reference(const elf_object_t *o, const char *name, unsigned type,
                           uintptr_t *slot, void *ctx)
{
    (void)type;
    (void)ctx;
    int fn = function_find(name);
    uintptr_t real = fn < 0 ? 0 : (uintptr_t)catalog_real((unsigned)fn);
    if (real && *slot == real && object_write(o, slot, (uintptr_t)catalog_hook((unsigned)fn), 1) != 0)
        os_log("%s: cannot repoint its reference to %s", o->path, catalog_function_name((unsigned)fn));
}

/* Step 2: slots of a relocated object that already hold a hooked function's real address. */
static void bind_references(const elf_object_t *o)
{
    object_foreach_slot(o, bind_reference, NULL);
}

static int is_self(const struct dl_phdr_info *info)
{
    uintptr_t self = (uintptr_t)&is_self;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && self >= lo && self < lo + ph->p_memsz)
            return 1;
    }
    return 0;
}

static int visit_library(struct dl_phdr_info *info, size_t size, void *data)
{
    elf_object_t o;
    (void)size, (void)data;
    if (!is_self(info) && object_read(info, &o) == 0)
        bind_library(&o);
    return 0;
}

static int visit_references(struct dl_phdr_info *info, size_t size, void *data)
{
    elf_object_t o;
    (void)data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        seen_subs = info->dlpi_subs;
    if (!is_self(info) && object_read(info, &o) == 0)
        bind_references(&o);
    return 0;
}

/* Both steps over every object now loaded: libraries first, so that every real address is known
 * when the references are matched against them. */
static void bind_all(void)
{
    imgleak_guard.depth++;
    pthread_mutex_lock(&bind_lock);
    dl_iterate_phdr(visit_library, NULL);
    dl_iterate_phdr(visit_references, NULL);
    pthread_mutex_unlock(&bind_lock);
    imgleak_guard.depth--;
}

/* imgleak run raised the static TLS surplus for this program and added the audit library
 * (analyzer/commands/run_audit.c); the program's children get the environment they would have had. */
static void bind_restore_environment(void)
{
    static const char *const names[] = {"LD_AUDIT", "GLIBC_TUNABLES"};
    char var[64];
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(var, sizeof var, "IMGLEAK_RESTORE_%s", names[i]);
        const char *was = secure_getenv(var); /* a set-uid program is left alone */
        if (was && was[0] == 's')
            setenv(names[i], was + 1, 1);
        else if (was && was[0] == 'u')
            unsetenv(names[i]);
        if (was)
            unsetenv(var);
    }
}

/* A fork while another thread held the lock must not leave the child's dlclose waiting for it. */
static void bind_after_fork_child(void)
{
    pthread_mutex_init(&bind_lock, NULL);
}

void bind_start(int hook)
{
    imgleak_guard.depth++;
    bind_restore_environment();
    imgleak_guard.depth--;
    if (!hook)
        return;
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    names_init();
    pthread_atfork(NULL, NULL, bind_after_fork_child);
    /* before the scan: an object the audit library reports meanwhile waits for the lock */
    __atomic_store_n(&imgleak_bind_ready, 1, __ATOMIC_RELEASE);
    bind_all();
}

/* At exit glibc reports every object closed to the audit library, after the destructors have run
 * (the exit snapshot is written): nothing is left to bind or remember then. */
__attribute__((destructor)) static void bind_stop(void)
{
    __atomic_store_n(&imgleak_bind_ready, 0, __ATOMIC_RELEASE);
}

/* ---- objects loaded and unloaded later ---- */

/* Called by the audit library once start-up is over: anything loaded between the shim's
 * constructor and then is bound too. */
EXPORT void imgleak_bind_rescan(void)
{
    if (__atomic_load_n(&imgleak_bind_ready, __ATOMIC_ACQUIRE))
        bind_all();
}

typedef struct {
    uintptr_t base;
    const char *path;
} object_key_t;

static int visit_opened(struct dl_phdr_info *info, size_t size, void *data)
{
    const object_key_t *key = data;
    elf_object_t o;
    (void)size;
    if (info->dlpi_addr != key->base || strcmp(info->dlpi_name, key->path) != 0)
        return 0;
    if (object_read(info, &o) == 0)
        bind_library(&o);
    return 1;
}

/* From the audit library's la_objopen: the object is mapped, and nothing is relocated against it
 * yet, so rewriting its symbols binds every reference to come. */
EXPORT void imgleak_bind_opened(uintptr_t base, const char *path)
{
    if (!__atomic_load_n(&imgleak_bind_ready, __ATOMIC_ACQUIRE) || !path || !is_codec_library(path))
        return;
    object_key_t key = {base, path};
    imgleak_guard.depth++;
    pthread_mutex_lock(&bind_lock);
    dl_iterate_phdr(visit_opened, &key);
    pthread_mutex_unlock(&bind_lock);
    imgleak_guard.depth--;
}

/* From the audit library's la_objclose: the object is about to be unmapped. Every object a
 * dlclose takes away passes here, the plugin's dependencies too (the shim's dlclose sees only the
 * handle's own object), so this is also where its place and build-id are remembered for the
 * snapshot: the stacks through it stay symbolizable. */
EXPORT void imgleak_bind_closing(uintptr_t base, const char *path)
{
    if (!__atomic_load_n(&imgleak_bind_ready, __ATOMIC_ACQUIRE))
        return;
    imgleak_guard.depth++;
    procinfo_module_unloading(base, path);
    pthread_mutex_lock(&bind_lock);
    int inst = base ? instance_find(base) : -1;
    if (inst >= 0)
        instance_release(inst);
    pthread_mutex_unlock(&bind_lock);
    imgleak_guard.depth--;
}

static int visit_present(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        seen_subs = info->dlpi_subs;
    int inst = info->dlpi_addr ? instance_find(info->dlpi_addr) : -1;
    if (inst >= 0 && strcmp(instances[inst].path, info->dlpi_name) == 0)
        instances[inst].present = 1;
    return 0;
}

static int visit_subs(struct dl_phdr_info *info, size_t size, void *data)
{
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        *(unsigned long long *)data = info->dlpi_subs;
    return 1;
}

void bind_forget_unloaded(void)
{
    unsigned long long subs = 0;
    if (!__atomic_load_n(&imgleak_bind_ready, __ATOMIC_ACQUIRE))
        return;
    imgleak_guard.depth++;
    dl_iterate_phdr(visit_subs, &subs);
    pthread_mutex_lock(&bind_lock);
    if (subs != seen_subs) {
        for (int i = 0; i < INSTANCES_MAX; i++)
            instances[i].present = 0;
        dl_iterate_phdr(visit_present, NULL);
        for (int i = 0; i < INSTANCES_MAX; i++)
            if (instances[i].base && !instances[i].present)
                instance_release(i);
    }
    pthread_mutex_unlock(&bind_lock);
    imgleak_guard.depth--;
}
