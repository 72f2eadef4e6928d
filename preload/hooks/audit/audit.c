/* libimgleak_audit.so: the LD_AUDIT half of the codec hooks' binding (preload/hooks/bind.c), which
 * imgleak run adds beside LD_PRELOAD. glibc calls la_objopen for each object as soon as it is
 * mapped, before anything is relocated against it: the one moment at which a codec library that
 * a dlopen brings in can be bound before any of its callers, without interposing dlopen (whose
 * search path, DT_RUNPATH and $ORIGIN, glibc takes from the caller's return address). la_objclose
 * comes before the object is unmapped, so its hooks are unbound in time.
 * This library runs in a namespace of its own, with its own libc: it only forwards to the shim's
 * imgleak_bind_* functions in the base namespace, and only once the shim's constructor has run
 * (imgleak_bind_ready); before that the shim binds what is loaded itself. It asks for no symbol
 * bindings (no LA_FLG_BIND*, no la_symbind or la_pltenter), so calls cost what they cost without
 * it. */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static struct link_map *shim;
static int startup_loaded;
static void (*bind_opened)(uintptr_t base, const char *path);
static void (*bind_closing)(uintptr_t base, const char *path);

static int is_shim(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    return strcmp(slash ? slash + 1 : path ? path : "", "libimgleak.so") == 0;
}

/* dlsym on a link map of another namespace is not safe (glibc 2.36 faults in do_lookup_x on the
 * preloaded shim's scope), so the shim's few symbols are read from its .dynsym directly. */
static size_t symbol_count(const ElfW(Dyn) *dyn, uintptr_t base)
{
    for (; dyn->d_tag != DT_NULL; dyn++) {
        const uint32_t *table = (const uint32_t *)(dyn->d_un.d_ptr < base ? base + dyn->d_un.d_ptr
                                                                          : dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_HASH)
            return table[1];
        if (dyn->d_tag == DT_GNU_HASH) {
            uint32_t nbuckets = table[0], symoffset = table[1], last = 0;
            const uint32_t *buckets = table + 4 + table[2] * (sizeof(ElfW(Addr)) / 4);
            for (uint32_t b = 0; b < nbuckets; b++)
                if (buckets[b] > last)
                    last = buckets[b];
            if (last < symoffset)
                return symoffset;
            while (!(buckets[nbuckets + last - symoffset] & 1))
                last++;
            return last + 1;
        }
    }
    return 0;
}

static void *shim_symbol(const char *name)
{
    uintptr_t base = shim->l_addr;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    for (const ElfW(Dyn) *dyn = shim->l_ld; dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t at = dyn->d_un.d_ptr < base ? base + dyn->d_un.d_ptr : dyn->d_un.d_ptr;
        if (dyn->d_tag == DT_SYMTAB)
            symtab = (const ElfW(Sym) *)at;
        else if (dyn->d_tag == DT_STRTAB)
            strtab = (const char *)at;
    }
    size_t n = symtab && strtab ? symbol_count(shim->l_ld, base) : 0;
    for (size_t i = 1; i < n; i++)
        if (symtab[i].st_shndx != SHN_UNDEF && strcmp(strtab + symtab[i].st_name, name) == 0)
            return (void *)(base + symtab[i].st_value);
    return NULL;
}

/* Looks the shim's entry points up once its constructor has run; binds what was loaded since. */
static void activate(void)
{
    if (bind_opened || !shim)
        return;
    const int *ready = shim_symbol("imgleak_bind_ready");
    if (!ready || !__atomic_load_n(ready, __ATOMIC_ACQUIRE))
        return;
    void (*rescan)(void) = (void (*)(void))shim_symbol("imgleak_bind_rescan");
    bind_closing = (void (*)(uintptr_t, const char *))shim_symbol("imgleak_bind_closing");
    bind_opened = (void (*)(uintptr_t, const char *))shim_symbol("imgleak_bind_opened");
    if (rescan)
        rescan();
}

/* The callbacks used here are the same in every version of the interface: an older glibc gets
 * its own version back, not one it would refuse. */
EXPORT unsigned la_version(unsigned version)
{
    return version < LAV_CURRENT ? version : LAV_CURRENT;
}

EXPORT unsigned la_objopen(struct link_map *map, Lmid_t lmid, uintptr_t *cookie)
{
    (void)cookie;
    if (lmid != LM_ID_BASE)
        return 0;
    if (!shim && is_shim(map->l_name))
        shim = map;
    if (bind_opened)
        bind_opened(map->l_addr, map->l_name);
    return 0;
}

EXPORT unsigned la_objclose(uintptr_t *cookie)
{
    const struct link_map *map = (const struct link_map *)*cookie;
    if (bind_closing && map)
        bind_closing(map->l_addr, map->l_name);
    return 0;
}

/* A dlopen begins: after start-up (the first consistent state) the shim may be ready, also in a
 * program that never reaches la_preinit (a Go binary starts without __libc_start_main). */
EXPORT void la_activity(uintptr_t *cookie, unsigned flag)
{
    (void)cookie;
    if (flag == LA_ACT_CONSISTENT)
        startup_loaded = 1;
    else if (flag == LA_ACT_ADD && startup_loaded)
        activate();
}

EXPORT void la_preinit(uintptr_t *cookie)
{
    (void)cookie;
    activate();
}
