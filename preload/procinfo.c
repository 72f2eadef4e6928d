/* Module map, /proc/self/status figures and allocator statistics (see procinfo.h). Runs with the
 * shim's guard up, so libc calls that allocate are safe here; memory of its own comes from
 * os_map so that nothing is left in the program's heap. */
#define _GNU_SOURCE
#include "procinfo.h"

#include "os.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int grow(void **data, size_t *capacity, size_t need, size_t unit)
{
    if (need <= *capacity)
        return 0;
    size_t cap = *capacity ? *capacity * 2 : 64;
    while (cap < need)
        cap *= 2;
    void *fresh = os_map(cap * unit);
    if (!fresh)
        return -1;
    if (*data)
        memcpy(fresh, *data, *capacity * unit);
    os_unmap(*data, *capacity * unit);
    *data = fresh;
    *capacity = cap;
    return 0;
}

uint32_t strbuf_add(strbuf_t *sb, const char *s)
{
    size_t n = strlen(s) + 1;
    if (sb->len + n > UINT32_MAX || grow((void **)&sb->data, &sb->capacity, sb->len + n, 1) < 0)
        return 0; /* offset 0 is always the empty string */
    memcpy(sb->data + sb->len, s, n);
    uint32_t at = (uint32_t)sb->len;
    sb->len += n;
    return at;
}

void strbuf_release(strbuf_t *sb)
{
    os_unmap(sb->data, sb->capacity);
    memset(sb, 0, sizeof *sb);
}

typedef struct {
    module_list_t *mods;
    strbuf_t *sb;
    uintptr_t self;
    int failed;
    uintptr_t only_bias; /* when only_name is set: record just this module */
    const char *only_name;
} walk_t;

/* Modules seen at dlclose, with their paths in their own string blob. */
static struct {
    pthread_mutex_t lock;
    module_list_t mods;
    strbuf_t strings;
} unloaded = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void read_build_id(const struct dl_phdr_info *info, const ElfW(Phdr) *ph,
                          imgleak_module_rec_t *rec)
{
    const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
    const char *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
        size_t name = (nh->n_namesz + 3) & ~3u, desc = (nh->n_descsz + 3) & ~3u;
        const char *data = p + sizeof *nh + name;
        if (data + desc > end)
            return;
        if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
            memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz <= IMGLEAK_BUILD_ID_MAX) {
            rec->build_id_len = (uint16_t)nh->n_descsz;
            memcpy(rec->build_id, data, nh->n_descsz);
            return;
        }
        p = data + desc;
    }
}

static int add_module(struct dl_phdr_info *info, size_t size, void *data)
{
    walk_t *w = data;
    imgleak_module_rec_t rec;
    char exe[4096];
    const char *path = info->dlpi_name;
    int first_load = 1;
    (void)size;
    if (w->only_name && (info->dlpi_addr != w->only_bias || !path || strcmp(path, w->only_name)))
        return 0;
    memset(&rec, 0, sizeof rec);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_NOTE && rec.build_id_len == 0)
            read_build_id(info, ph, &rec);
        if (ph->p_type != PT_LOAD)
            continue;
        uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (first_load || lo < rec.start)
            rec.start = lo;
        if (first_load || hi > rec.end)
            rec.end = hi;
        if (first_load)
            rec.file_offset = ph->p_offset;
        first_load = 0;
    }
    if (first_load)
        return 0; /* nothing mapped */
    rec.bias = info->dlpi_addr;
    if (!path || !*path) {
        ssize_t n = w->mods->count == 0 ? readlink("/proc/self/exe", exe, sizeof exe - 1) : -1;
        exe[n > 0 ? n : 0] = '\0';
        path = exe;
        if (w->mods->count == 0)
            rec.flags |= IMGLEAK_MODULE_MAIN;
    }
    if (w->self >= rec.start && w->self < rec.end)
        rec.flags |= IMGLEAK_MODULE_SHIM;
    rec.path_string = strbuf_add(w->sb, path);
    if (grow((void **)&w->mods->recs, &w->mods->capacity, w->mods->count + 1, sizeof rec) < 0) {
        w->failed = 1;
        return 1;
    }
    w->mods->recs[w->mods->count++] = rec;
    return 0;
}

static int overlaps_any(const module_list_t *mods, size_t n, const imgleak_module_rec_t *m)
{
    for (size_t i = 0; i < n; i++)
        if (m->start < mods->recs[i].end && mods->recs[i].start < m->end)
            return 1;
    return 0;
}

int procinfo_modules(module_list_t *mods, strbuf_t *sb)
{
    walk_t w = {mods, sb, (uintptr_t)&procinfo_modules, 0, 0, NULL};
    dl_iterate_phdr(add_module, &w);
    size_t loaded = mods->count;
    pthread_mutex_lock(&unloaded.lock);
    for (size_t i = 0; i < unloaded.mods.count && !w.failed; i++) {
        imgleak_module_rec_t rec = unloaded.mods.recs[i];
        if (overlaps_any(mods, loaded, &rec) || overlaps_any(mods, mods->count, &rec))
            continue; /* still loaded, or its addresses were reused */
        rec.path_string = strbuf_add(sb, unloaded.strings.data + rec.path_string);
        if (grow((void **)&mods->recs, &mods->capacity, mods->count + 1, sizeof rec) < 0)
            w.failed = 1;
        else
            mods->recs[mods->count++] = rec;
    }
    pthread_mutex_unlock(&unloaded.lock);
    return w.failed ? -1 : 0;
}

void procinfo_module_unloading(uintptr_t load_bias, const char *name)
{
    if (!name || !*name)
        return;
    pthread_mutex_lock(&unloaded.lock);
    module_list_t found = {0};
    walk_t w = {&found, &unloaded.strings, (uintptr_t)&procinfo_modules, 0, load_bias, name};
    dl_iterate_phdr(add_module, &w);
    for (size_t i = 0; i < found.count; i++) {
        if (overlaps_any(&unloaded.mods, unloaded.mods.count, &found.recs[i]))
            continue; /* remembered already */
        if (grow((void **)&unloaded.mods.recs, &unloaded.mods.capacity, unloaded.mods.count + 1,
                 sizeof found.recs[i]) == 0)
            unloaded.mods.recs[unloaded.mods.count++] = found.recs[i];
    }
    procinfo_modules_release(&found);
    pthread_mutex_unlock(&unloaded.lock);
}

void procinfo_modules_release(module_list_t *mods)
{
    os_unmap(mods->recs, mods->capacity * sizeof *mods->recs);
    memset(mods, 0, sizeof *mods);
}

static uint64_t status_kib(const char *text, const char *field)
{
    const char *p = strstr(text, field);
    if (!p)
        return 0;
    return strtoull(p + strlen(field), NULL, 10) * 1024;
}

static void read_status(imgleak_process_rec_t *rec)
{
    char buf[8192];
    size_t len = 0;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    rec->rss_bytes = status_kib(buf, "VmRSS:");
    rec->peak_rss_bytes = status_kib(buf, "VmHWM:");
}

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static uint64_t je_stat(mallctl_fn mallctl, const char *name)
{
    size_t v = 0, len = sizeof v;
    return mallctl(name, &v, &len, NULL, 0) == 0 ? v : 0;
}

static void read_allocator(imgleak_process_rec_t *rec)
{
    mallctl_fn mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    if (mallctl) {
        uint64_t epoch = 1;
        size_t len = sizeof epoch;
        mallctl("epoch", &epoch, &len, &epoch, len); /* refreshes the cached statistics */
        rec->allocator = IMGLEAK_ALLOCATOR_JEMALLOC;
        rec->je_allocated = je_stat(mallctl, "stats.allocated");
        rec->je_active = je_stat(mallctl, "stats.active");
        rec->je_resident = je_stat(mallctl, "stats.resident");
        rec->je_retained = je_stat(mallctl, "stats.retained");
        rec->je_mapped = je_stat(mallctl, "stats.mapped");
        return;
    }
    struct mallinfo2 (*mi2)(void) = (struct mallinfo2(*)(void))dlsym(RTLD_DEFAULT, "mallinfo2");
    if (mi2) {
        struct mallinfo2 mi = mi2();
        rec->allocator = IMGLEAK_ALLOCATOR_GLIBC;
        rec->glibc_arena = mi.arena;
        rec->glibc_mmapped = mi.hblkhd;
        rec->glibc_in_use = mi.uordblks;
        rec->glibc_free = mi.fordblks;
    }
}

static int skip_allocator;

void procinfo_skip_allocator(void)
{
    skip_allocator = 1;
}

void procinfo_memory(imgleak_process_rec_t *rec)
{
    read_status(rec);
    if (!skip_allocator)
        read_allocator(rec);
}
