/* Module map, /proc/self/status figures and allocator statistics (see procinfo.h). Runs with the
 * shim's guard up; memory of its own comes from os_map so that nothing is left in the program's
 * heap. Nothing on the snapshot path allocates or looks symbols up: the exit snapshot may run in a
 * signal handler that interrupted malloc (procinfo_init finds what is needed at start). */
#define _GNU_SOURCE
#include "procinfo.h"

#include "glibc_heap.h"
#include "maps.h"
#include "os.h"
#include "table.h"
#include "ownfd.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

int procinfo_modules(module_list_t *mods, strbuf_t *sb, int may_block)
{
    walk_t w = {mods, sb, (uintptr_t)&procinfo_modules, 0, 0, NULL};
    dl_iterate_phdr(add_module, &w);
    size_t loaded = mods->count;
    /* this thread may have been interrupted in dlclose, holding the lock */
    if (may_block)
        pthread_mutex_lock(&unloaded.lock);
    else if (pthread_mutex_trylock(&unloaded.lock) != 0)
        return w.failed ? -1 : 0;
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
    ownfd_t fd = ownfd_open("/proc/self/status", O_RDONLY, 0);
    if (fd < 0)
        return;
    for (;;) {
        ssize_t n = ownfd_read(fd, buf + len, sizeof buf - 1 - len); /* retries EINTR */
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    ownfd_close(fd);
    buf[len] = '\0';
    rec->rss_bytes = status_kib(buf, "VmRSS:");
    rec->peak_rss_bytes = status_kib(buf, "VmHWM:");
}

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef struct mallinfo2 (*mallinfo2_fn)(void);

static mallctl_fn found_mallctl;
static mallinfo2_fn found_mallinfo2;
static int attached; /* procinfo_set_attached */

void procinfo_init(void)
{
    found_mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    found_mallinfo2 = (mallinfo2_fn)dlsym(RTLD_DEFAULT, "mallinfo2");
}

void procinfo_set_attached(void)
{
    attached = 1;
}

int procinfo_figures_lock(void)
{
    return found_mallctl != NULL || attached || access("/proc/self/smaps", R_OK) != 0;
}

static uint64_t je_stat(mallctl_fn mallctl, const char *name)
{
    size_t v = 0, len = sizeof v;
    return mallctl(name, &v, &len, NULL, 0) == 0 ? v : 0;
}

static void read_allocator(imgleak_process_rec_t *rec)
{
    mallctl_fn mallctl = found_mallctl;
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
    }
}

/* may_block 0: this thread was interrupted inside the allocator, whose statistics take the
 * locks it holds; they are left out (the record says allocator unknown). */
static int skip_allocator;

/* glibc's figures, with no lock and no walk: mallinfo2() would hold each arena's lock while it
 * walks every free chunk (2M freed small blocks: 0.14 s, every malloc of the arena waiting).
 * In use: the chunks the malloc hooks counted as handed out and not given back; the heaps'
 * size (the brk heap and the arena heaps, as smaps shows them) less that is free. Unlike
 * mallinfo2, chunks glibc keeps in its per-thread caches and fast bins count as free: the
 * program holds them no more than any other free chunk. */
static void glibc_figures(imgleak_process_rec_t *rec, int heaps_known, uint64_t heaps_bytes)
{
    /* attached, the hooks did not see what was allocated before; without smaps (no /proc in a
     * sandbox), the heaps' size is not known: glibc's own count, then */
    if (attached || !heaps_known) {
        mallinfo2_fn mi2 = found_mallinfo2;
        if (mi2 && !skip_allocator) {
            struct mallinfo2 mi = mi2();
            rec->allocator = IMGLEAK_ALLOCATOR_GLIBC;
            rec->glibc_arena = mi.arena;
            rec->glibc_mmapped = mi.hblkhd;
            rec->glibc_in_use = mi.uordblks;
            rec->glibc_free = mi.fordblks;
        }
        return;
    }
    uint64_t in_use, mapped;
    table_chunk_totals(&in_use, &mapped);
    rec->allocator = IMGLEAK_ALLOCATOR_GLIBC;
    rec->glibc_arena = heaps_bytes;
    rec->glibc_mmapped = mapped;
    rec->glibc_in_use = in_use < heaps_bytes ? in_use : heaps_bytes;
    rec->glibc_free = heaps_bytes - rec->glibc_in_use;
}

void procinfo_skip_allocator(void)
{
    skip_allocator = 1;
}

void procinfo_memory(imgleak_process_rec_t *rec, int may_block)
{
    read_status(rec);
    if (may_block && !skip_allocator)
        read_allocator(rec);
}

/* ---- where the resident set is (procinfo_resident) ----
 * /proc/self/smaps gives every mapping's resident size; the parts that are not whole mappings
 * (glibc's mmapped chunks, the program's tracked mappings, the shim's tables, which may share a
 * mapping with their neighbours) are measured page by page with /proc/self/pagemap, whose
 * "present" bit is what RSS counts. Nothing here reads the program's memory. */

#define ARENA_HEAP_SPAN (UINT64_C(64) << 20) /* glibc's HEAP_MAX_SIZE on 64-bit */
#define HEAP_RANGES 256

typedef struct {
    int pagemap;                 /* /proc/self/pagemap, or -1: mincore instead */
    uint64_t shim_lo, shim_hi;   /* the shim library's own address range */
    uint64_t heap_lo[HEAP_RANGES], heap_hi[HEAP_RANGES];
    size_t nheap;
    int heap_overflow;
    uint64_t brk_lo; /* the brk heap's start (0: none seen) */
    uint64_t chunks, chunk_bytes, mmaps, shim_regions;
} resident_t;

static uint64_t page_size_now(void)
{
    static _Atomic uint64_t known; /* asked once: add_chunk runs for every live block */
    uint64_t page = atomic_load_explicit(&known, memory_order_relaxed);
    if (!page) {
        long p = sysconf(_SC_PAGESIZE);
        page = p > 0 ? (uint64_t)p : 4096;
        atomic_store_explicit(&known, page, memory_order_relaxed);
    }
    return page;
}

/* Resident bytes of [start, end), both page aligned. */
static uint64_t resident_range(const resident_t *rs, uint64_t start, uint64_t end)
{
    uint64_t page = page_size_now(), bytes = 0;
    while (start < end) {
        uint64_t entries[512];
        unsigned char vec[512];
        uint64_t n = (end - start) / page;
        if (n > 512)
            n = 512;
        if (rs->pagemap >= 0) {
            if (ownfd_pread_all(rs->pagemap, entries, n * 8, (off_t)(start / page * 8)) < 0)
                return bytes;
            for (uint64_t i = 0; i < n; i++)
                bytes += (entries[i] >> 63) ? page : 0;
        } else if (mincore((void *)start, n * page, vec) == 0) {
            for (uint64_t i = 0; i < n; i++)
                bytes += (vec[i] & 1) ? page : 0;
        }
        start += n * page;
    }
    return bytes;
}

static int in_heap(const resident_t *rs, uint64_t addr)
{
    for (size_t i = 0; i < rs->nheap; i++)
        if (addr >= rs->heap_lo[i] && addr < rs->heap_hi[i])
            return 1;
    return 0;
}

/* A block in a heap now, though maybe past what smaps showed: the program goes on allocating
 * while a snapshot walks its blocks, and the heaps grow (the brk heap up to the current break, an
 * arena heap, which starts at a 64 MiB boundary, within its 64 MiB). Taken for chunks mapped
 * apart, each such block would cost a read of /proc/self/pagemap, with the live table's growth
 * held off the while. */
static int block_in_heap(const resident_t *rs, uint64_t addr)
{
    if (rs->brk_lo && addr >= rs->brk_lo && addr < (uint64_t)(uintptr_t)sbrk(0))
        return 1;
    for (size_t i = 0; i < rs->nheap; i++) {
        uint64_t lo = rs->heap_lo[i];
        uint64_t hi = lo % ARENA_HEAP_SPAN == 0 && lo != rs->brk_lo ? lo + ARENA_HEAP_SPAN
                                                                     : rs->heap_hi[i];
        if (addr >= lo && addr < hi)
            return 1;
    }
    return 0;
}

/* A live block outside every heap is in a chunk of its own (glibc maps large blocks apart). */
static void add_chunk(uint64_t addr, const live_info_t *info, void *ctx)
{
    resident_t *rs = ctx;
    uint64_t page = page_size_now();
    if (block_in_heap(rs, addr))
        return;
    uint64_t lo = addr & ~(page - 1), hi = (addr + info->size + page - 1) & ~(page - 1);
    rs->chunks += resident_range(rs, lo, hi);
    rs->chunk_bytes += hi - lo;
}

static void add_mapping(const map_rec_t *m, void *ctx)
{
    resident_t *rs = ctx;
    uint64_t page = page_size_now();
    if (in_heap(rs, m->start))
        return; /* a mapping shaped like an arena heap: counted there already */
    rs->mmaps += resident_range(rs, m->start & ~(page - 1),
                                (m->start + m->length + page - 1) & ~(page - 1));
}

static void add_shim_region(uintptr_t start, size_t bytes, void *ctx)
{
    resident_t *rs = ctx;
    uint64_t page = page_size_now();
    if (!in_heap(rs, start))
        rs->shim_regions += resident_range(rs, start, (start + bytes + page - 1) & ~(page - 1));
}

static int find_shim(struct dl_phdr_info *info, size_t size, void *data)
{
    resident_t *rs = data;
    uint64_t lo = UINT64_MAX, hi = 0, self = (uintptr_t)&find_shim, page = page_size_now();
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uint64_t a = info->dlpi_addr + ph->p_vaddr, b = a + ph->p_memsz;
        lo = a < lo ? a : lo;
        hi = b > hi ? b : hi;
    }
    if (self < lo || self >= hi)
        return 0;
    rs->shim_lo = lo & ~(page - 1);
    rs->shim_hi = (hi + page - 1) & ~(page - 1); /* with the .bss pages past the file */
    return 1;
}

/* One mapping of smaps, classified once the next one's header is known (a glibc arena heap is
 * a read-write mapping at a 64 MiB boundary, followed by the PROT_NONE rest of its 64 MiB). */
typedef struct {
    uint64_t start, end, rss;
    int valid, anon, rw, none, named_heap, shim_file;
} vma_t;

enum { VMA_OTHER, VMA_HEAP, VMA_SHIM };

static int vma_class(const resident_t *rs, const vma_t *v, const vma_t *next)
{
    if (v->named_heap)
        return VMA_HEAP;
    if (v->shim_file || (v->start >= rs->shim_lo && v->end <= rs->shim_hi))
        return VMA_SHIM;
    if (v->anon && v->rw && v->start % ARENA_HEAP_SPAN == 0 &&
        (v->end - v->start == ARENA_HEAP_SPAN ||
         (next && next->valid && next->anon && next->none && next->start == v->end &&
          next->end == v->start + ARENA_HEAP_SPAN)))
        return VMA_HEAP;
    return VMA_OTHER;
}

static void vma_parse_header(vma_t *v, const char *line)
{
    char *p;
    memset(v, 0, sizeof *v);
    v->start = strtoull(line, &p, 16);
    v->end = strtoull(p + 1, &p, 16);
    v->rw = p[1] == 'r' && p[2] == 'w';
    v->none = p[1] == '-' && p[2] == '-' && p[3] == '-';
    /* offset, device, inode, then the path (absent for anonymous memory) */
    for (int field = 0; field < 4 && *p; field++) {
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    while (*p == ' ')
        p++;
    v->anon = *p == '\0';
    v->named_heap = strcmp(p, "[heap]") == 0;
    v->shim_file = strstr(p, "/libimgleak") != NULL;
    v->valid = 1;
}

typedef struct {
    resident_t *rs;
    vma_t pending;
    uint64_t total, heap, shim;
    uint64_t heap_size; /* the heaps' mapped size, resident or not */
    uint64_t scratch; /* the walk's own buffer, in total, gone once the walk is over */
} smaps_walk_t;

static void vma_finish(smaps_walk_t *w, const vma_t *next)
{
    vma_t *v = &w->pending;
    if (!v->valid)
        return;
    switch (vma_class(w->rs, v, next)) {
    case VMA_HEAP:
        if (v->named_heap && !w->rs->brk_lo) /* the lowest piece: [heap] may be split */
            w->rs->brk_lo = v->start;
        w->heap += v->rss;
        w->heap_size += v->end - v->start;
        if (w->rs->nheap < HEAP_RANGES) {
            w->rs->heap_lo[w->rs->nheap] = v->start;
            w->rs->heap_hi[w->rs->nheap++] = v->end;
        } else {
            w->rs->heap_overflow = 1;
        }
        break;
    case VMA_SHIM:
        w->shim += v->rss;
        break;
    }
    v->valid = 0;
}

static void smaps_line(smaps_walk_t *w, const char *line)
{
    if ((*line >= '0' && *line <= '9') || (*line >= 'a' && *line <= 'f')) {
        vma_t next;
        vma_parse_header(&next, line);
        vma_finish(w, &next);
        w->pending = next;
    } else if (strncmp(line, "Rss:", 4) == 0 && w->pending.valid) {
        w->pending.rss = strtoull(line + 4, NULL, 10) * 1024;
        w->total += w->pending.rss;
    }
}

/* Feeds smaps to smaps_line, a line at a time, through a buffer of the shim's own. */
static int smaps_read(smaps_walk_t *w)
{
    enum { BUF = 64 * 1024 };
    /* through a slot of the shim's: the program may close_range() or dup2() meanwhile */
    ownfd_t fd = ownfd_open("/proc/self/smaps", O_RDONLY | O_CLOEXEC, 0);
    char *buf = fd >= 0 ? os_map(BUF) : NULL;
    size_t len = 0;
    if (!buf) {
        if (fd >= 0)
            ownfd_close(fd);
        return -1;
    }
    for (;;) {
        ssize_t n = ownfd_read(fd, buf + len, BUF - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            smaps_line(w, line);
            line = nl + 1;
        }
        len = (size_t)(buf + len - line);
        memmove(buf, line, len);
    }
    vma_finish(w, NULL);
    ownfd_close(fd);
    w->scratch = resident_range(w->rs, (uintptr_t)buf, (uintptr_t)buf + BUF);
    os_unmap(buf, BUF);
    return 0;
}

static uint64_t minus_or_zero(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

void procinfo_resident(imgleak_process_rec_t *rec)
{
    resident_t *rs = os_map(sizeof *rs);
    if (!rs)
        return;
    rs->pagemap = ownfd_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
    dl_iterate_phdr(find_shim, rs);
    smaps_walk_t w = {.rs = rs};
    int walked = smaps_read(&w) == 0 && w.total;
    if (glibc_heap_active())
        glibc_figures(rec, walked, w.heap_size);
    if (walked) {
        if (rec->allocator == IMGLEAK_ALLOCATOR_GLIBC && !rs->heap_overflow)
            table_foreach(add_chunk, rs);
        maps_foreach(add_mapping, rs);
        os_foreach_region(add_shim_region, rs);
        /* what this function mapped for itself is gone when it returns: RSS as read before it
         * (procinfo_memory) never held it */
        uint64_t page = page_size_now();
        uint64_t own = resident_range(rs, (uintptr_t)rs,
                                      ((uintptr_t)rs + sizeof *rs + page - 1) & ~(page - 1));
        w.total = minus_or_zero(w.total, w.scratch + own);
        rs->shim_regions = minus_or_zero(rs->shim_regions, own);
        rec->rss_measured = w.total;
        /* jemalloc's arenas are anonymous mappings like any other: its own count of resident
         * pages says which are its */
        rec->rss_heap = rec->allocator == IMGLEAK_ALLOCATOR_JEMALLOC ? rec->je_resident : w.heap;
        rec->rss_heap_chunks = rs->chunks;
        rec->heap_chunk_bytes = rs->chunk_bytes;
        rec->rss_mmap = rs->mmaps;
        rec->rss_shim = w.shim + rs->shim_regions;
        uint64_t parts = rec->rss_heap + rec->rss_heap_chunks + rec->rss_mmap + rec->rss_shim;
        rec->rss_rest = minus_or_zero(w.total, parts);
        if (parts > w.total) /* measured while the program changed it: keep the sum */
            rec->rss_measured = parts;
    }
    if (rs->pagemap >= 0)
        ownfd_close(rs->pagemap);
    os_unmap(rs, sizeof *rs);
}
