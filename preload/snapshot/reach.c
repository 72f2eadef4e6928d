/* The reachability scan (see reach.h), in the way of valgrind's and LeakSanitizer's leak checks:
 *  1. every live block (heap and tracked mappings) is gathered and sorted by address;
 *  2. the roots are read word by word: writable segments of the loaded modules (.data, .bss,
 *     the current thread's TLS blocks), the stack of every live thread in /proc/self/task (from
 *     its stack pointer up; for the calling thread, from the program's frame that called exit,
 *     with that frame's callee-saved registers);
 *  3. a block a root points to the start of is reachable, and so is everything it points to, to
 *     the end; a block only pointed into is possibly leaked, and so is what hangs from it;
 *  4. of the rest, a block that no other unreached block points to is a leak's root ("leaked"),
 *     and what it reaches is indirectly leaked under it; a cycle with no such root gets its
 *     lowest block as root.
 * Memory is read with process_vm_readv on the process itself, batched, so a block another thread
 * frees and unmaps meanwhile is a failed read, never a fault; where a sandbox refuses it, with
 * pread on /proc/self/mem, which fails the same way. What neither can read makes the scan
 * incomplete, and then no block is called leaked. */
#define _GNU_SOURCE
#include "reach.h"

#include "imgleak/declfile.h"

#include "glibc_heap.h"
#include "maps.h"
#include "os.h"
#include "ownfd.h"
#include "python.h"
#include "stacks.h"
#include "table.h"
#include "threads.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* A line of /proc/self/maps: where threads' stacks are. */
typedef struct {
    uint64_t lo, hi;
    uint8_t writable, guard; /* guard: no access at all, as below a thread's stack */
    uint8_t scanned;         /* read as a thread's stack already */
} vma_t;
#define VMA_MAX 65536 /* the kernel's default vm.max_map_count is 65530 */

/* F_LOADER: the dynamic linker allocated the block (kept when the marks are cleared) */
enum { F_REACHED = 1, F_INTERIOR = 2, F_POSSIBLE = 4, F_POINTED = 8, F_DONE = 16, F_LOADER = 32 };
/* A block is a record in the live table's format; the program's mappings are foreign records. */
#define ADDR(r, i) table_rec_addr(&(r)->rec[i])
#define SIZE(r, i) table_rec_size(&(r)->rec[i])
#define IS_MAP(r, i) (table_rec_stack(&(r)->rec[i]) == TABLE_STACK_FOREIGN)

/* The blocks that start in one 4 KiB page: addr[first .. first + count). */
typedef struct {
    uint64_t page; /* page number + 1; 0: empty */
    uint32_t first, count;
} page_ref_t;
#define PAGE_SHIFT 12

struct reach {
    table_rec_t *rec;      /* the blocks, sorted by address; the live table's own memory when frozen */
    int frozen;            /* rec is the frozen live table (table_freeze) */
    size_t copy_bytes;     /* else rec is a copy of its own, this long */
    size_t class_hint;     /* the block reach_class tries first */
    size_t find_hint;      /* the block find found last */
    size_t rec_cap;        /* records rec has room for */
    uint8_t *flags;
    uint8_t *cls;          /* IMGLEAK_CLASS_* */
    uint32_t *root;        /* for indirect blocks: the index of their leak's root */
    uint64_t *hung_bytes;  /* for leak roots: what hangs from them */
    uint32_t *hung_blocks;
    uint32_t *work;        /* worklist */
    size_t nwork;
    size_t n, cap;
    size_t mapped_bytes;   /* what the arrays above take, for unmapping */
    void *mapping;
    uint64_t lo, hi;       /* lowest block start, highest block end */
    page_ref_t *pages;     /* page -> the blocks starting in it, open addressing (index_pages) */
    size_t npages_mask;    /* capacity - 1 */
    size_t pages_bytes;
    uint32_t *large;       /* indexes of the blocks longer than a page, by address */
    size_t nlarge;
    unsigned char *buf;    /* read buffer */
    uint64_t unreadable;   /* bytes that could not be read */
    int direct;            /* no other thread runs: heap blocks and roots are read in place */
    vma_t *vma;            /* /proc/self/maps, sorted by address */
    size_t nvma;
    int vm_refused;        /* process_vm_readv is refused (a sandbox): /proc/self/mem instead */
    int mem_fd;            /* /proc/self/mem, opened on first need; -2 when it cannot be read */
    uint32_t scan_flags;   /* IMGLEAK_SCAN_* */
    uint64_t unscanned;    /* bytes that no way of reading could read */
    uint64_t missed;       /* blocks that did not fit the scan's arrays */
    int quiet;             /* incomplete by design (a forked child): nothing to say on stderr */
    int glib;              /* libgobject is loaded: GLib's typed instances are recognised */
    int in_gobject;        /* libgobject's own data is being read (module_roots) */
    struct {
        uint64_t cls;      /* a class pointer judged before, 0: none */
        int is_class;
    } glib_seen[64];       /* glib_instance's verdicts, by class pointer */
};

#define BUF_SIZE (256 * 1024)
#define IOV_BATCH 512

/* ---- gathering and sorting ---- */

/* The dynamic linker's text: what it allocates (each thread's DTV, dlopen'ed modules' TLS blocks,
 * link maps) it reaches through pointers the scan cannot follow (a DTV pointer is one word past
 * the block's start; a cached thread stack keeps its TCB and DTV), so such blocks are roots, as
 * LeakSanitizer treats them. */
static uint64_t loader_lo, loader_hi;

static int is_gobject(const char *path)
{
    return decl_lib_matches(path, "libgobject-2.0.so");
}

static int find_gobject(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    if (!is_gobject(info->dlpi_name))
        return 0;
    *(int *)ctx = 1;
    return 1;
}

static int find_loader(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    if (info->dlpi_addr != *(uint64_t *)ctx)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        loader_lo = info->dlpi_addr + ph->p_vaddr;
        loader_hi = loader_lo + ph->p_memsz;
    }
    return 1;
}

static int by_loader(uint32_t stack_id)
{
    stack_view_t st;
    return stack_id && stacks_get(stack_id, &st) && st.depth &&
           st.frames[0] >= loader_lo && st.frames[0] < loader_hi;
}

static void gather_map(const map_rec_t *m, void *ctx)
{
    reach_t *r = ctx;
    if (r->n < r->rec_cap)
        r->rec[r->n++] = table_rec_make(m->start, m->length, TABLE_STACK_FOREIGN);
    else
        r->missed++;
}

static void mark_loader_blocks(reach_t *r)
{
    uint32_t last_id = 0;
    int last_loader = 0; /* neighbours mostly share a stack: asked once for a run of them */
    for (size_t i = 0; i < r->n; i++) {
        if (IS_MAP(r, i))
            continue;
        uint32_t id = table_rec_stack(&r->rec[i]);
        if (id != last_id) {
            last_id = id;
            last_loader = by_loader(id);
        }
        if (last_loader)
            r->flags[i] |= F_LOADER;
    }
}

/* The page index: every word scanned is looked up, so finding the block a word points into must
 * not be a binary search over all blocks (a cache miss a level, 21 levels for 2M blocks). The
 * blocks are bucketed by the page they start in, in a hash table of pages, and the few longer
 * than a page are kept apart in a sorted list of their own. Built once, after sorting. */
static uint64_t page_hash(uint64_t page)
{
    return (page * UINT64_C(0x9e3779b97f4a7c15)) >> 20;
}

static const page_ref_t *page_ref(const reach_t *r, uint64_t page)
{
    for (size_t i = page_hash(page) & r->npages_mask;; i = (i + 1) & r->npages_mask) {
        const page_ref_t *ref = &r->pages[i];
        if (ref->page == page + 1)
            return ref;
        if (ref->page == 0)
            return NULL;
    }
}

/* 0, or -1 when there is no memory for it (find then searches the whole array). */
static int index_pages(reach_t *r)
{
    size_t npages = 0;
    r->nlarge = 0;
    for (size_t i = 0; i < r->n; i++) {
        npages += i == 0 || ADDR(r, i) >> PAGE_SHIFT != ADDR(r, i - 1) >> PAGE_SHIFT;
        r->nlarge += SIZE(r, i) > (UINT64_C(1) << PAGE_SHIFT);
    }
    size_t capacity = 64;
    while (capacity < 2 * npages)
        capacity *= 2;
    r->pages_bytes = capacity * sizeof(page_ref_t) + r->nlarge * sizeof(uint32_t);
    char *m = os_map(r->pages_bytes);
    if (!m)
        return -1;
    r->pages = (page_ref_t *)m;
    r->large = (uint32_t *)(m + capacity * sizeof(page_ref_t));
    r->npages_mask = capacity - 1;
    size_t nlarge = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (SIZE(r, i) > (UINT64_C(1) << PAGE_SHIFT))
            r->large[nlarge++] = (uint32_t)i;
        uint64_t page = ADDR(r, i) >> PAGE_SHIFT;
        if (i > 0 && page == ADDR(r, i - 1) >> PAGE_SHIFT)
            continue;
        size_t k = page_hash(page) & r->npages_mask;
        while (r->pages[k].page)
            k = (k + 1) & r->npages_mask;
        size_t end = i + 1;
        while (end < r->n && ADDR(r, end) >> PAGE_SHIFT == page)
            end++;
        r->pages[k] = (page_ref_t){page + 1, (uint32_t)i, (uint32_t)(end - i)};
    }
    return 0;
}

/* The last block starting at or below p among addr[lo .. hi), or -1. */
static long last_at_or_below(const reach_t *r, size_t lo, size_t hi, uint64_t p)
{
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ADDR(r, mid) <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* The block with the greatest start at or below p, by the page index: one in p's page, else the
 * last one of the page before, else (only a block longer than a page can reach this far) the last
 * long block, provided no other block starts between it and p. */
static long candidate(const reach_t *r, uint64_t p)
{
    if (!r->pages)
        return last_at_or_below(r, 0, r->n, p);
    uint64_t page = p >> PAGE_SHIFT;
    const page_ref_t *ref = page_ref(r, page);
    if (ref && ADDR(r, ref->first) <= p)
        return last_at_or_below(r, ref->first, ref->first + ref->count, p);
    if (ref) /* every block of p's page starts above p: the one before them */
        return (long)ref->first - 1;
    if ((ref = page_ref(r, page - 1)))
        return (long)(ref->first + ref->count) - 1;
    size_t lo = 0, hi = r->nlarge;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ADDR(r, r->large[mid]) <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -1;
    size_t i = r->large[lo - 1];
    if (i + 1 < r->n && ADDR(r, i + 1) <= p) /* a shorter block starts nearer: that one */
        return last_at_or_below(r, i + 1, r->n, p);
    return (long)i;
}

/* 1 when block i is the one with the greatest start at or below p */
static inline int last_start_at_or_below(const reach_t *r, size_t i, uint64_t p)
{
    return i < r->n && ADDR(r, i) <= p && (i + 1 == r->n || ADDR(r, i + 1) > p);
}

/* The block holding p: its index, or -1. *interior says p is not its start. */
static long find(const reach_t *r, uint64_t p, int *interior)
{
    if (p < r->lo || p >= r->hi)
        return -1;
    /* an array of pointers to blocks made one after another points in address order: the block
     * found last, or the one after it, before the page index */
    reach_t *w = (reach_t *)r; /* the hint only */
    size_t i = w->find_hint;
    if (!last_start_at_or_below(r, i, p) && !last_start_at_or_below(r, ++i, p)) {
        long c = candidate(r, p);
        if (c < 0)
            return -1;
        i = (size_t)c;
    }
    w->find_hint = i;
    uint64_t start = ADDR(r, i);
    if (p == start) {
        *interior = 0;
        return (long)i;
    }
    /* Not the 16-byte boundary in the last 8 bytes of a glibc heap block: the arena's top and
     * bins point there, at the next chunk's header, which would make every block before a free
     * chunk look "possibly" leaked. glibc's blocks start on 16-byte boundaries, so that is the
     * only pointer into the last word that may be the allocator's; one at 8 past a boundary is
     * the program's (the last element of an array of 8-byte ones), as valgrind counts it, and
     * so is any in a mapping or under another allocator (no header follows a block there). */
    uint64_t off = p - start;
    if (off < SIZE(r, i) &&
        (off + 8 < SIZE(r, i) || (p & 15) != 0 || IS_MAP(r, i) || !glibc_heap_active())) {
        *interior = !python_object_start(start, off);
        return (long)i;
    }
    return -1;
}

/* ---- reading memory that may vanish ---- */

typedef void (*words_fn)(reach_t *r, const uint64_t *words, size_t n, size_t owner);

/* process_vm_readv said no for a reason other than the memory itself: seccomp, or an LSM. */
static int refused(int err)
{
    return err == EPERM || err == ENOSYS || err == EACCES;
}

/* Where process_vm_readv is refused: pread on /proc/self/mem, which fails (EIO) on memory that
 * is gone instead of faulting. 1 when [remote, remote+len) was read into local; 0 when the
 * memory is gone; -1 when there is no way to read it at all. */
static int read_fallback(reach_t *r, void *local, const void *remote, size_t len)
{
    if (r->mem_fd == -1) {
        r->mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
        if (r->mem_fd < 0)
            r->mem_fd = -2;
    }
    if (r->mem_fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t got = pread(r->mem_fd, (char *)local + done, len - done,
                            (off_t)(uintptr_t)remote + (off_t)done);
        if (got > 0) {
            done += (size_t)got;
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && refused(errno)) {
            close(r->mem_fd);
            r->mem_fd = -2;
            return -1;
        }
        return 0;
    }
    return 1;
}

static void read_one_fallback(reach_t *r, const struct iovec *local, const struct iovec *remote,
                              size_t owner, words_fn fn)
{
    int rc = read_fallback(r, local->iov_base, remote->iov_base, local->iov_len);
    if (rc > 0) {
        fn(r, local->iov_base, local->iov_len / 8, owner);
    } else if (rc == 0) {
        r->unreadable += local->iov_len;
    } else {
        r->unscanned += local->iov_len;
        r->scan_flags |= IMGLEAK_SCAN_INCOMPLETE;
    }
}

/* Reads ranges[0..n) (owner ids in owners[]) in batches and hands their words to fn. */
static void read_ranges(reach_t *r, const struct iovec *ranges, const size_t *owners, size_t n,
                        words_fn fn)
{
    struct iovec local[IOV_BATCH], remote[IOV_BATCH];
    size_t idx[IOV_BATCH];
    size_t i = 0;
    while (i < n) {
        size_t k = 0, used = 0;
        while (i < n && k < IOV_BATCH && used + ranges[i].iov_len <= BUF_SIZE) {
            local[k].iov_base = r->buf + used;
            local[k].iov_len = ranges[i].iov_len;
            remote[k] = ranges[i];
            idx[k] = i;
            used += ranges[i].iov_len;
            k++;
            i++;
        }
        size_t done = 0; /* elements of this batch handled */
        while (done < k) {
            if (r->vm_refused) {
                read_one_fallback(r, &local[done], &remote[done],
                                  owners ? owners[idx[done]] : SIZE_MAX, fn);
                done++;
                continue;
            }
            ssize_t got = process_vm_readv(getpid(), local + done, k - done, remote + done,
                                           k - done, 0);
            if (got < 0 && refused(errno)) {
                r->vm_refused = 1;
                os_notice_once(NOTICE_SCAN, "process_vm_readv is refused here; the reachability "
                                            "scan reads /proc/self/mem instead");
                continue;
            }
            size_t whole = 0, bytes = got > 0 ? (size_t)got : 0;
            while (done + whole < k && bytes >= local[done + whole].iov_len) {
                bytes -= local[done + whole].iov_len;
                whole++;
            }
            for (size_t j = done; j < done + whole; j++)
                fn(r, local[j].iov_base, local[j].iov_len / 8, owners ? owners[idx[j]] : SIZE_MAX);
            done += whole;
            if (done < k) { /* this element could not be read: skip it */
                r->unreadable += local[done].iov_len;
                done++;
            }
        }
    }
}

/* Reads [lo, hi) in pieces that fit the buffer; in place when direct says it is safe. */
static void read_region_as(reach_t *r, uint64_t lo, uint64_t hi, size_t owner, words_fn fn,
                           int direct)
{
    lo = (lo + 7) & ~(uint64_t)7;
    hi &= ~(uint64_t)7;
    if (direct && lo < hi) {
        fn(r, (const uint64_t *)(uintptr_t)lo, (hi - lo) / 8, owner);
        return;
    }
    while (lo < hi) {
        uint64_t end = hi - lo > BUF_SIZE ? lo + BUF_SIZE : hi;
        struct iovec one = {(void *)(uintptr_t)lo, end - lo};
        read_ranges(r, &one, &owner, 1, fn);
        lo = end;
    }
}

static void read_region(reach_t *r, uint64_t lo, uint64_t hi, size_t owner, words_fn fn)
{
    read_region_as(r, lo, hi, owner, fn, 0);
}

/* A large mapping, page run by page run, skipping the pages never touched (mincore): a runtime's
 * reserved heap (Go's, several hundred MiB) is mostly untouched, and reading it would fault in
 * every page. A page swapped out reads as untouched, and its pointers are missed. */
static void read_mapping_as(reach_t *r, uint64_t lo, uint64_t hi, size_t owner, words_fn fn,
                            int direct)
{
    const uint64_t page = 4096, chunk = 64 * 4096;
    unsigned char vec[64];
    for (uint64_t at = lo & ~(page - 1); at < hi; at += chunk) {
        uint64_t end = at + chunk < hi ? at + chunk : hi;
        if (mincore((void *)(uintptr_t)at, end - at, vec) != 0) {
            read_region(r, at < lo ? lo : at, end, owner, fn);
            continue;
        }
        for (uint64_t p = at; p < end;) {
            if (!(vec[(p - at) / page] & 1)) {
                p += page;
                continue;
            }
            uint64_t q = p;
            while (q < end && (vec[(q - at) / page] & 1))
                q += page;
            read_region_as(r, p < lo ? lo : p, q < end ? q : end, owner, fn, direct);
            p = q;
        }
    }
}

static void read_mapping(reach_t *r, uint64_t lo, uint64_t hi, size_t owner, words_fn fn)
{
    read_mapping_as(r, lo, hi, owner, fn, 0);
}

/* ---- marking ---- */

static void push(reach_t *r, size_t i)
{
    r->work[r->nwork++] = (uint32_t)i; /* each block is pushed at most once per phase */
}

/* n words at addr, of a live block: in place when direct, else as every other read. */
static int read_words(reach_t *r, uint64_t addr, uint64_t *out, size_t n)
{
    if (r->direct) {
        memcpy(out, (const void *)(uintptr_t)addr, n * 8);
        return 1;
    }
    struct iovec local = {out, n * 8}, remote = {(void *)(uintptr_t)addr, n * 8};
    if (!r->vm_refused)
        return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)(n * 8);
    return read_fallback(r, out, remote.iov_base, n * 8) > 0;
}

/* The heap block (not a mapping) that starts at addr and holds at least min bytes, or -1; the
 * look-up hint of the scan's walk is left as it was. */
static long heap_block_at(reach_t *r, uint64_t addr, uint64_t min)
{
    size_t hint = r->find_hint;
    int interior;
    long i = find(r, addr, &interior);
    r->find_hint = hint;
    return i >= 0 && !interior && !IS_MAP(r, (size_t)i) && SIZE(r, (size_t)i) >= min ? i : -1;
}

/* cls is a GLib class: a heap block whose first word is its GType, the start of a heap block
 * (the type's node) that ends with the node's list of supertypes, closed by the fundamental
 * type's number (a multiple of 4 up to 255 << 2) and 0. Instances of fundamental types
 * themselves (a plain GObject) have no private data, so no pointer into them is needed. */
static int glib_class(reach_t *r, uint64_t cls)
{
    uint64_t type, tail[2];
    long node;
    if (heap_block_at(r, cls, 8) < 0 || !read_words(r, cls, &type, 1) ||
        (node = heap_block_at(r, type, 16)) < 0 || SIZE(r, (size_t)node) % 8 ||
        !read_words(r, type + SIZE(r, (size_t)node) - 16, tail, 2))
        return 0;
    return tail[1] == 0 && tail[0] >= 4 && tail[0] <= (255u << 2) && !(tail[0] & 3);
}

/* GLib's typed instances (GObject, GParamSpec, any GTypeInstance; block i is not a mapping):
 * g_type_create_instance puts the instance's private data first and hands out a pointer past
 * it, at a multiple of 16 (a type's private size is a sum of 16-byte-aligned parts, less than
 * 64 KiB), and every pointer the program keeps points there. GLib tells valgrind where the
 * instance starts (a MALLOCLIKE block) when it runs under it; here the instance is recognised by
 * its first word, its class (glib_class). Only while libgobject is loaded; a class's verdict is
 * kept for the scan, so a pointer costs one read once its class was judged. */
static int glib_instance(reach_t *r, size_t i, uint64_t p, uint64_t off)
{
    uint64_t cls;
    if (!r->glib || (off & 15) || off > 65535 || SIZE(r, i) - off < 8 ||
        !read_words(r, p, &cls, 1) || !cls)
        return 0;
    unsigned k = (unsigned)(cls >> 4) % (sizeof r->glib_seen / sizeof *r->glib_seen);
    if (r->glib_seen[k].cls != cls) {
        r->glib_seen[k].cls = cls;
        r->glib_seen[k].is_class = glib_class(r, cls);
    }
    return r->glib_seen[k].is_class;
}

/* valgrind's leak-check heuristics (its default, --leak-check-heuristics=all; memcheck's
 * heuristic_reachedness): an interior pointer to where a C++ runtime keeps one counts as a start
 * pointer when the words before it fit. At 24 bytes, a std::string's characters after its length,
 * capacity and reference count (the block is 24 + capacity + 1 bytes, the length at most the
 * capacity); at 8 bytes, the elements of a new[] array after their count (the rest of the block
 * divides by it; this covers a 64-bit length of the rest too). Multiple inheritance (a pointer to
 * a second vtable pointer) is not recognised: it needs the symbol table. Before them, GLib's
 * instances and fundamental type nodes. */
static int interior_as_start(reach_t *r, size_t i, uint64_t p)
{
    uint64_t off = p - ADDR(r, i), size = SIZE(r, i), w[2];
    if (IS_MAP(r, i))
        return 0;
    if (glib_instance(r, i, p, off))
        return 1;
    /* GLib's fundamental types (GObject, GParamSpec, enums, flags, interfaces): each node is
     * allocated with its fundamental info in front (8 bytes), and libgobject's own table of them
     * points past it */
    if (r->in_gobject && off == 8)
        return 1;
    if (off != 8 && off != 24)
        return 0;
    if (!read_words(r, ADDR(r, i), w, off / 8 == 3 ? 2 : 1))
        return 0;
    if (off == 24)
        return w[1] < size && 3 * 8 + w[1] + 1 == size && w[0] <= w[1];
    return w[0] > 0 && (size - 8) % w[0] == 0;
}

/* Phase 1 and 2 visitor: start pointers reach, interior pointers are noted. */
static void mark_words(reach_t *r, const uint64_t *w, size_t n, size_t owner)
{
    (void)owner;
    for (size_t k = 0; k < n; k++) {
        int interior;
        long i = find(r, w[k], &interior);
        if (i < 0)
            continue;
        if (interior && !(r->flags[i] & F_REACHED) && !interior_as_start(r, (size_t)i, w[k])) {
            r->flags[i] |= F_INTERIOR;
        } else if (!(r->flags[i] & F_REACHED)) {
            r->flags[i] |= F_REACHED;
            push(r, (size_t)i);
        }
    }
}

/* Possibly leaked: everything not reached that hangs (by any pointer) from such a block. */
static void possible_words(reach_t *r, const uint64_t *w, size_t n, size_t owner)
{
    (void)owner;
    for (size_t k = 0; k < n; k++) {
        int interior;
        long i = find(r, w[k], &interior);
        if (i >= 0 && !(r->flags[i] & (F_REACHED | F_POSSIBLE))) {
            r->flags[i] |= F_POSSIBLE;
            push(r, (size_t)i);
        }
    }
}

static int unreached(const reach_t *r, size_t i)
{
    return !(r->flags[i] & (F_REACHED | F_POSSIBLE));
}

/* Among unreached blocks: which ones another points to. */
static void pointed_words(reach_t *r, const uint64_t *w, size_t n, size_t owner)
{
    for (size_t k = 0; k < n; k++) {
        int interior;
        long i = find(r, w[k], &interior);
        if (i >= 0 && (size_t)i != owner && unreached(r, (size_t)i))
            r->flags[i] |= F_POINTED;
    }
}

static size_t current_root;

/* Indirect: unreached blocks reached from a leak's root. */
static void indirect_words(reach_t *r, const uint64_t *w, size_t n, size_t owner)
{
    (void)owner;
    for (size_t k = 0; k < n; k++) {
        int interior;
        long i = find(r, w[k], &interior);
        if (i >= 0 && unreached(r, (size_t)i) && !(r->flags[i] & F_DONE)) {
            r->flags[i] |= F_DONE;
            r->cls[i] = IMGLEAK_CLASS_INDIRECT;
            r->root[i] = (uint32_t)current_root;
            push(r, (size_t)i);
        }
    }
}

/* Reads the blocks on the worklist, and those they add, until it is empty. */
static void drain(reach_t *r, words_fn fn)
{
    struct iovec ranges[IOV_BATCH];
    size_t owners[IOV_BATCH];
    while (r->nwork) {
        size_t k = 0, bytes = 0;
        while (r->nwork && k < IOV_BATCH) {
            size_t i = r->work[r->nwork - 1];
            uint64_t len = SIZE(r, i) & ~(uint64_t)7;
            if (r->direct && !IS_MAP(r, i)) { /* in place: nobody can free it */
                r->nwork--;
                fn(r, (const uint64_t *)(uintptr_t)ADDR(r, i), len / 8, i);
                continue;
            }
            if (len > BUF_SIZE) { /* large: on its own, in pieces */
                r->nwork--;
                if (IS_MAP(r, i))
                    read_mapping(r, ADDR(r, i), ADDR(r, i) + len, i, fn);
                else
                    read_region(r, ADDR(r, i), ADDR(r, i) + len, i, fn);
                continue;
            }
            if (bytes + len > BUF_SIZE)
                break;
            r->nwork--;
            if (!len)
                continue;
            ranges[k].iov_base = (void *)(uintptr_t)ADDR(r, i);
            ranges[k].iov_len = len;
            owners[k++] = i;
            bytes += len;
        }
        read_ranges(r, ranges, owners, k, fn);
    }
}

/* ---- roots ---- */

static int module_roots(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    reach_t *r = ctx;
    Dl_info self;
    /* the shim's own data points at nothing of the program's that it should keep alive */
    if (dladdr((void *)module_roots, &self) && self.dli_fbase &&
        (uintptr_t)self.dli_fbase == info->dlpi_addr)
        return 0;
    r->in_gobject = r->glib && is_gobject(info->dlpi_name);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
            uint64_t lo = info->dlpi_addr + ph->p_vaddr;
            read_region_as(r, lo, lo + ph->p_memsz, SIZE_MAX, mark_words, r->direct);
        } else if (ph->p_type == PT_TLS && info->dlpi_tls_data) {
            uint64_t lo = (uint64_t)(uintptr_t)info->dlpi_tls_data;
            read_region(r, lo, lo + ph->p_memsz, SIZE_MAX, mark_words);
        }
    }
    r->in_gobject = 0;
    return 0;
}

static uint64_t scan_sp; /* where the calling thread's stack is read from */

/* Another thread's stack pointer, from /proc/self/task/TID/syscall ("NR args... SP PC", or
 * "-1 SP PC" when blocked outside a system call); 0 when it is running or unknown. */
static uint64_t thread_sp(int tid)
{
    char path[64], buf[256];
    int n = snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    if (n <= 0)
        return 0;
    ownfd_t fd = ownfd_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    ssize_t got = ownfd_read(fd, buf, sizeof buf - 1);
    ownfd_close(fd);
    if (got <= 0 || buf[0] == 'r') /* "running" */
        return 0;
    buf[got] = '\0';
    char *fields[16];
    int nf = 0;
    for (char *p = buf; *p && nf < 16;) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (*p)
            fields[nf++] = p;
        while (*p && *p != ' ' && *p != '\n')
            p++;
    }
    return nf >= 3 ? strtoull(fields[nf - 2], NULL, 16) : 0;
}

static void thread_roots(const thread_rec_t *t, void *ctx)
{
    reach_t *r = ctx;
    uint64_t lo = t->lo, sp;
    if (scan_sp >= t->lo && scan_sp <= t->hi) {
        /* this thread: only the live part of its stack, mapped all the way up */
        read_region_as(r, scan_sp, t->hi, SIZE_MAX, mark_words, 1);
        return;
    } else if ((sp = thread_sp(t->tid)) > t->lo + 128 && sp < t->hi)
        lo = sp - 128; /* below the stack pointer only the red zone is live */
    read_region(r, lo, t->hi, SIZE_MAX, mark_words);
}

/* ---- every live thread's stack, registered or not ---- */

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0;
}

/* Reads /proc/self/maps into r->vma without the allocator: one character at a time, as only the
 * range and the permissions of each line matter. */
static void vmas_load(reach_t *r)
{
    r->nvma = 0;
    ownfd_t fd = ownfd_open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return;
    char buf[4096], perms[4] = {0};
    uint64_t lo = 0, hi = 0;
    int field = 0, np = 0;
    ssize_t got;
    while ((got = ownfd_read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t k = 0; k < got; k++) {
            char c = buf[k];
            if (c == '\n') {
                if (field >= 3 && r->nvma < VMA_MAX && hi > lo) {
                    vma_t v = {lo, hi, perms[1] == 'w',
                               perms[0] == '-' && perms[1] == '-' && perms[2] == '-', 0};
                    r->vma[r->nvma++] = v;
                }
                field = np = 0;
                lo = hi = 0;
            } else if (field == 0) {
                if (c == '-')
                    field = 1;
                else
                    lo = lo * 16 + (uint64_t)hex_digit(c);
            } else if (field == 1) {
                if (c == ' ')
                    field = 2;
                else
                    hi = hi * 16 + (uint64_t)hex_digit(c);
            } else if (field == 2) {
                if (c == ' ')
                    field = 3;
                else if (np < 4)
                    perms[np++] = c;
            }
        }
    }
    ownfd_close(fd);
}

static vma_t *vma_holding(reach_t *r, uint64_t addr)
{
    size_t lo = 0, hi = r->nvma;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->vma[mid].hi <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nvma && r->vma[lo].lo <= addr ? &r->vma[lo] : NULL;
}

/* 1 when a block starts in [lo, hi) */
static int find_any(const reach_t *r, uint64_t lo, uint64_t hi)
{
    size_t a = 0, b = r->n;
    while (a < b) {
        size_t mid = (a + b) / 2;
        if (ADDR(r, mid) < lo)
            a = mid + 1;
        else
            b = mid;
    }
    return a < r->n && ADDR(r, a) < hi;
}

/* The shim's own snapshot thread (periodic.c names it so): its stack holds the addresses of
 * blocks it visited for earlier snapshots, which must not keep them alive. */
static int is_shim_thread(int tid)
{
    char path[64], name[32];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    ownfd_t fd = ownfd_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    ssize_t got = ownfd_read(fd, name, sizeof name - 1);
    ownfd_close(fd);
    return got == 8 && memcmp(name, "imgleak\n", 8) == 0;
}

static int task_exists(int tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", tid);
    return access(path, F_OK) == 0;
}

/* A running thread's stack pointer is not shown: it may block a moment later. */
static uint64_t thread_sp_patient(int tid)
{
    for (int tries = 0; tries < 8; tries++) {
        uint64_t sp = thread_sp(tid);
        if (sp)
            return sp;
        sched_yield();
    }
    return 0;
}

static void tls_roots(reach_t *r, uint64_t tp);

/* One thread's stack, from its stack pointer up to the end of the mapping holding it (glibc
 * keeps the thread's static TLS there too); 0, or -1 when where it is cannot be told. */
static int task_roots(reach_t *r, int tid)
{
    if (is_shim_thread(tid)) {
        /* not read, and not to be taken for an unknown thread's stack either */
        uint64_t sp = thread_sp(tid);
        vma_t *own = sp ? vma_holding(r, sp) : NULL;
        if (own)
            own->scanned = 1;
        return 0;
    }
    uint64_t sp = thread_sp_patient(tid);
    if (!sp && !task_exists(tid))
        return 0; /* it ended meanwhile: nothing of it to read */
    vma_t *v = sp ? vma_holding(r, sp) : NULL;
    thread_rec_t t;
    int known = threads_find(tid, &t);
    if (known)
        tls_roots(r, t.tp);
    if (v && v->writable) {
        uint64_t lo = sp - 128 > v->lo ? sp - 128 : v->lo, hi = v->hi;
        int interior;
        long b = find(r, sp, &interior);
        if (known && sp >= t.lo && sp < t.hi) {
            hi = t.hi; /* pthread knows where it ends */
        } else if (b >= 0) {
            /* a stack the program allocated (pthread_attr_setstack): it ends with its block,
             * not with the heap mapping that holds it */
            lo = lo > ADDR(r, b) ? lo : ADDR(r, b);
            hi = ADDR(r, b) + SIZE(r, b);
        }
        read_region(r, lo, hi, SIZE_MAX, mark_words);
        if (b < 0)
            v->scanned = 1;
        if (!known || (sp >= t.lo && sp < t.hi))
            return 0;
        /* on an alternate signal stack: its own stack is live too */
    }
    if (!known)
        return -1;
    read_region(r, t.lo, t.hi, SIZE_MAX, mark_words);
    if ((v = vma_holding(r, t.lo)) != NULL)
        v->scanned = 1;
    return 0;
}

/* When a thread's stack could not be found: every writable mapping that looks like a thread's
 * stack (right above a no-access guard) and was not read yet is read whole. Stale words there
 * may keep a leak "reachable", which is better than calling a reachable block leaked. */
static int guessed_stack_roots(reach_t *r)
{
    int read = 0;
    for (size_t i = 1; i < r->nvma; i++) {
        vma_t *v = &r->vma[i];
        uint64_t own = (uint64_t)(uintptr_t)r->mapping;
        if (v->writable && !v->scanned && r->vma[i - 1].guard && r->vma[i - 1].hi == v->lo &&
            !find_any(r, v->lo, v->hi) && !(own < v->hi && own + r->mapped_bytes > v->lo)) {
            read_region(r, v->lo, v->hi, SIZE_MAX, mark_words);
            v->scanned = 1;
            read++;
        }
    }
    return read;
}

/* Calls fn for every thread of the process but the caller; -1 when /proc/self/task cannot be
 * read. */
static int tasks_foreach(int (*fn)(reach_t *r, int tid), reach_t *r, int *unresolved)
{
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int self = (int)syscall(SYS_gettid);
    char buf[4096];
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            const char *name = buf + off + 19; /* struct linux_dirent64: d_name at 19 */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            off += reclen;
            if (name[0] < '0' || name[0] > '9')
                continue;
            int tid = atoi(name);
            if (tid != self && fn(r, tid) < 0)
                (*unresolved)++;
        }
    }
    close(fd);
    return 0;
}

/* The frames of exit() and the shim's destructor hold stale words from calls that returned long
 * ago (the program's last mmap, say), which would keep leaked blocks "reachable". So the calling
 * thread's stack is read from the innermost frame outside the C library, the dynamic linker and
 * the shim (main, when main called exit), and the callee-saved registers that frame had are
 * roots too. Without such a frame (main returned) nothing of the stack is live. */
static void caller_roots(reach_t *r, uint64_t stack_hi)
{
    Dl_info self, libc, rtld;
    uintptr_t bases[3] = {0, 0, 0};
    if (dladdr((void *)caller_roots, &self))
        bases[0] = (uintptr_t)self.dli_fbase;
    if (dladdr((void *)exit, &libc))
        bases[1] = (uintptr_t)libc.dli_fbase;
    if (dladdr((void *)dl_iterate_phdr, &rtld))
        bases[1] = bases[1] ? bases[1] : (uintptr_t)rtld.dli_fbase;
    bases[2] = (uintptr_t)getauxval(AT_BASE); /* ld.so */
    unw_context_t uc;
    unw_cursor_t c;
    scan_sp = stack_hi;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&c, &uc) != 0)
        return;
    while (unw_step(&c) > 0) {
        unw_word_t ip, sp;
        Dl_info where;
        if (unw_get_reg(&c, UNW_REG_IP, &ip) != 0 || unw_get_reg(&c, UNW_REG_SP, &sp) != 0)
            return;
        if (!dladdr((void *)(uintptr_t)ip, &where))
            continue; /* generated code: not ours to skip, but no module to judge by */
        uintptr_t base = (uintptr_t)where.dli_fbase;
        if (base == bases[0] || base == bases[1] || base == bases[2])
            continue;
        scan_sp = sp;
        /* the executable's entry code (_start): main returned, so no frame of the program is
         * live. The registers "restored" for this frame are whatever the exit path and the scan
         * itself left in them (block addresses among them): no roots. */
        uintptr_t entry = (uintptr_t)getauxval(AT_ENTRY);
        if (entry && ip >= entry && ip < entry + 64)
            return;
        static const int saved[] = {
#if defined(__x86_64__)
            UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12, UNW_X86_64_R13, UNW_X86_64_R14,
            UNW_X86_64_R15,
#elif defined(__aarch64__)
            UNW_AARCH64_X19, UNW_AARCH64_X20, UNW_AARCH64_X21, UNW_AARCH64_X22, UNW_AARCH64_X23,
            UNW_AARCH64_X24, UNW_AARCH64_X25, UNW_AARCH64_X26, UNW_AARCH64_X27, UNW_AARCH64_X28,
            UNW_AARCH64_X29,
#endif
        };
        uint64_t words[sizeof saved / sizeof *saved + 1];
        size_t n = 0;
        for (size_t i = 0; i < sizeof saved / sizeof *saved; i++) {
            unw_word_t v;
            if (unw_get_reg(&c, saved[i], &v) == 0)
                words[n++] = v;
        }
        mark_words(r, words, n, SIZE_MAX);
        return;
    }
}

static void find_own_stack(const thread_rec_t *t, void *ctx)
{
    uint64_t *hi = ctx, here = (uint64_t)(uintptr_t)&here;
    if (here >= t->lo && here < t->hi)
        *hi = t->hi;
}

/* 1 when this is the process's only thread, from /proc/self/task. */
static int only_thread(void)
{
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[4096];
    int tasks = 0;
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            const char *name = buf + off + 19; /* struct linux_dirent64: d_name at 19 */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            if (name[0] != '.')
                tasks++;
            off += reclen;
        }
    }
    close(fd);
    return tasks == 1;
}

/* The calling thread's stack ends where the mapping holding this frame ends. */
static uint64_t own_stack_hi(reach_t *r)
{
    uint64_t here = (uint64_t)(uintptr_t)&here, hi = 0;
    vma_t *v = vma_holding(r, here);
    if (v) {
        v->scanned = 1;
        return v->hi;
    }
    threads_foreach(find_own_stack, &hi);
    return hi;
}

/* The calling thread's descriptor (glibc's struct pthread, at pthread_self()) holds its
 * pthread_setspecific values (glib's GPrivate, ImageMagick's thread-specific data). Another
 * thread's descriptor is at the top of its stack mapping and is read with the stack; the main
 * thread's lives in memory the dynamic linker allocated, which no other root covers. glibc
 * publishes the descriptor's size for libthread_db. */
static const uint32_t *descriptor_size;

/* Every thread's static TLS, with its descriptor: the __thread variables of the modules loaded
 * at start (libgomp keeps a thread's pool there) and of those dlopen'ed into the static surplus.
 * A live thread's lie at the top of its stack mapping, read with its stack, but the main thread's
 * are in memory the dynamic linker mapped; and in the final-snapshot sentinel the program's
 * threads have all ended at once (exit_group) while what their TLS held is as final as the rest
 * of the memory. As LeakSanitizer does, a thread's range is found from its thread pointer and the
 * static TLS size the dynamic linker publishes (_dl_get_tls_static_info, GLIBC_PRIVATE; without
 * it only the stacks cover it). */
static void (*tls_static_info)(size_t *size, size_t *align);
static uint64_t shim_tls_lo, shim_tls_hi; /* the shim's own TLS, as offsets from pthread_self */
static int program_gone;                  /* in the sentinel: every recorded thread has ended */

static int find_shim_tls(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    Dl_info self;
    if (!dladdr((void *)find_shim_tls, &self) || (uintptr_t)self.dli_fbase != info->dlpi_addr)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_TLS && info->dlpi_tls_data) {
            shim_tls_lo = (uint64_t)(uintptr_t)info->dlpi_tls_data - (uint64_t)pthread_self();
            shim_tls_hi = shim_tls_lo + info->dlpi_phdr[i].p_memsz;
        }
    return 1;
}

/* Looked up once at load: the scan may run where dlsym could wait for a lock the interrupted
 * program holds (exit from a signal handler). */
__attribute__((constructor)) static void descriptor_size_find(void)
{
    descriptor_size = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
    *(void **)&tls_static_info = dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info");
    dl_iterate_phdr(find_shim_tls, NULL);
}

static void descriptor_roots(reach_t *r)
{
    const uint32_t *size = descriptor_size;
    uint64_t lo = (uint64_t)pthread_self();
    if (size && *size && lo)
        read_region(r, lo, lo + *size, SIZE_MAX, mark_words);
}

/* The static TLS and descriptor of the thread whose descriptor (pthread_self) is at tp, less the
 * shim's own variables (as module_roots leaves the shim's data out). */
static void tls_roots(reach_t *r, uint64_t tp)
{
    size_t size = 0, align = 0;
    uint64_t tcb = descriptor_size ? *descriptor_size : 0;
    if (!tls_static_info || !tcb || !tp)
        return;
    tls_static_info(&size, &align);
#if defined(__x86_64__) || defined(__i386__)
    uint64_t lo = tp + tcb - size, hi = tp + tcb; /* TLS below the descriptor (size counts it) */
#else
    uint64_t lo = tp, hi = tp + tcb + size; /* the thread pointer after the descriptor, TLS above */
#endif
    uint64_t skip_lo = tp + shim_tls_lo, skip_hi = tp + shim_tls_hi;
    if (skip_lo >= lo && skip_hi <= hi && skip_hi > skip_lo) {
        read_region(r, lo, skip_lo, SIZE_MAX, mark_words);
        read_region(r, skip_hi, hi, SIZE_MAX, mark_words);
    } else {
        read_region(r, lo, hi, SIZE_MAX, mark_words);
    }
}

typedef struct {
    reach_t *r;
    uint64_t last_tp; /* a thread on a cached stack has its predecessor's pointer */
} recorded_tls_t;

static void recorded_tls_roots(const thread_rec_t *t, void *ctx)
{
    recorded_tls_t *seen = ctx;
    if (t->tp != seen->last_tp)
        tls_roots(seen->r, t->tp);
    seen->last_tp = t->tp;
}

void reach_program_gone(void)
{
    program_gone = 1;
}

/* ---- a forked child's inherited memory, and what was there before an attach ---- */

static int in_forked_child;
static int attached_late;

static void exclude_range(reach_t *r, uint64_t lo, uint64_t hi)
{
    for (size_t v = 0; v < r->nvma; v++)
        if (r->vma[v].lo < hi && r->vma[v].hi > lo)
            r->vma[v].scanned = 1;
}

static void exclude_region(uintptr_t start, size_t bytes, void *ctx)
{
    exclude_range(ctx, start, start + bytes);
}

static int exclude_module_data(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W))
            exclude_range(ctx, info->dlpi_addr + ph->p_vaddr,
                          info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
    }
    return 0;
}

/* The first block starting at or after addr. */
static size_t first_block_from(const reach_t *r, uint64_t addr)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ADDR(r, mid) < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Reads [lo, hi) as roots, only the pages this process wrote since it was forked. A page still
 * shared with the parent holds what it held at the fork, before any of the child's blocks existed,
 * so it cannot point to one; a page the child wrote was copied and is mapped only here
 * (/proc/self/pagemap bit 56, "exclusively mapped"). A page swapped out is read to be sure. */
#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_SWAPPED (UINT64_C(1) << 62)
#define PM_EXCLUSIVE (UINT64_C(1) << 56)
static void read_written(reach_t *r, ownfd_t pagemap, uint64_t lo, uint64_t hi)
{
    const uint64_t page = 4096;
    uint64_t entries[512];
    for (uint64_t at = lo & ~(page - 1); at < hi;) {
        size_t n = (size_t)((hi - at + page - 1) / page);
        if (n > 512)
            n = 512;
        if (ownfd_pread_all(pagemap, entries, n * 8, (off_t)(at / page * 8)) < 0) {
            read_mapping_as(r, at < lo ? lo : at, hi, SIZE_MAX, mark_words, r->direct);
            return;
        }
        for (size_t k = 0; k < n;) {
            uint64_t e = entries[k];
            if (!((e & PM_PRESENT) && (e & PM_EXCLUSIVE)) && !(e & PM_SWAPPED)) {
                k++;
                continue;
            }
            size_t j = k;
            while (j < n && (((entries[j] & PM_PRESENT) && (entries[j] & PM_EXCLUSIVE)) ||
                             (entries[j] & PM_SWAPPED)))
                j++;
            uint64_t a = at + k * page, b = at + j * page;
            read_region_as(r, a < lo ? lo : a, b < hi ? b : hi, SIZE_MAX, mark_words, r->direct);
            k = j;
        }
        at += n * page;
    }
}

/* The heap between one of the child's blocks (at block) and hi, the next one's start or the
 * mapping's end: inherited blocks, and free chunks, whose words are glibc's free-list links and
 * what earlier chunks held there, never pointers the program keeps. With glibc's heap, the
 * chunks are walked from the end of block's chunk (a chunk boundary), and only those in use (the
 * next chunk's header says so) are read. Where a header does not fit, the rest is read whole.
 * Headers are read in place: only when r->direct (one thread, faults caught). */
static void read_gap(reach_t *r, ownfd_t pagemap, uint64_t block, uint64_t lo, uint64_t hi,
                     uint64_t map_hi)
{
    const uint64_t min_chunk = 4 * sizeof(size_t), head = 2 * sizeof(size_t);
    int walk = r->direct && glibc_heap_active() && block && pagemap >= 0;
    size_t h = walk ? glibc_chunk_header(glibc_chunk_of((const void *)(uintptr_t)block)) : 0;
    if (!walk || (h & GLIBC_MMAPPED)) {
        if (pagemap >= 0)
            read_written(r, pagemap, lo, hi);
        else /* no pagemap: every page touched */
            read_mapping_as(r, lo, hi, SIZE_MAX, mark_words, r->direct);
        return;
    }
    uint64_t chunk = glibc_chunk_of((const void *)(uintptr_t)block) + (h & ~(size_t)GLIBC_FLAGS);
    uint64_t limit = hi < map_hi ? hi - head : hi; /* the next block's chunk, or the end */
    while (chunk < limit) {
        uint64_t size = glibc_chunk_header(chunk) & ~(size_t)GLIBC_FLAGS;
        if (size < min_chunk || size % 16 || chunk + size > limit) {
            read_written(r, pagemap, chunk, hi); /* not glibc's layout after all */
            return;
        }
        uint64_t next = chunk + size;
        if (next + head > map_hi)
            return; /* the top chunk: free */
        if (glibc_chunk_header(next) & GLIBC_PREV_INUSE)
            read_written(r, pagemap, chunk + head, next + sizeof(size_t));
        chunk = next;
    }
}

/* A forked child reports only the blocks it made: the heap and mappings it inherited are its
 * parent's to report, and gathering them made every child's exit as slow as its parent's. But a
 * block of the child's may be kept by an inherited structure (a worker adding to its parent's
 * cache), so the inherited memory is read as roots, as plain memory: every writable mapping not
 * read already and not the shim's own, less the child's own blocks, whose contents count only when
 * something reaches them; of it, only the pages the child wrote (read_written). */
static void inherited_roots(reach_t *r)
{
    /* attached: the memory from before the attach was all written by the program itself */
    ownfd_t pagemap = in_forked_child ? ownfd_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0)
                                      : -1;
    exclude_range(r, (uint64_t)(uintptr_t)r->mapping,
                  (uint64_t)(uintptr_t)r->mapping + r->mapped_bytes);
    os_foreach_region(exclude_region, r);
    dl_iterate_phdr(exclude_module_data, r);
    for (size_t v = 0; v < r->nvma; v++) {
        vma_t *m = &r->vma[v];
        if (!m->writable || m->scanned)
            continue;
        m->scanned = 1;
        uint64_t lo = m->lo, prev = 0; /* prev: the child's heap block before lo */
        for (size_t i = first_block_from(r, lo); lo < m->hi; i++) {
            uint64_t block = i < r->n && ADDR(r, i) < m->hi ? ADDR(r, i) : m->hi;
            if (block > lo)
                read_gap(r, pagemap, prev, lo, block, m->hi);
            if (block >= m->hi)
                break;
            prev = IS_MAP(r, i) ? 0 : ADDR(r, i);
            uint64_t end = ADDR(r, i) + (SIZE(r, i) ? SIZE(r, i) : 1);
            if (end > lo)
                lo = end;
        }
    }
    if (pagemap >= 0)
        ownfd_close(pagemap);
}

static void scan_roots(reach_t *r)
{
    vmas_load(r);
    uint64_t stack_hi = own_stack_hi(r);
    caller_roots(r, stack_hi);
    descriptor_roots(r);
    if (program_gone) {
        recorded_tls_t seen = {r, 0};
        threads_foreach_recorded(recorded_tls_roots, &seen);
    }
    dl_iterate_phdr(module_roots, r);
    if (stack_hi > scan_sp)
        read_region_as(r, scan_sp, stack_hi, SIZE_MAX, mark_words, 1);
    if (in_forked_child || attached_late)
        inherited_roots(r);
    int unresolved = 0;
    if (tasks_foreach(task_roots, r, &unresolved) < 0) {
        /* no /proc: the threads that allocated are known, others may exist unseen */
        threads_foreach(thread_roots, r);
        r->scan_flags |= IMGLEAK_SCAN_INCOMPLETE;
        return;
    }
    if (unresolved) {
        os_log("scan: %d threads' stacks not found; reading every stack-like mapping", unresolved);
        if (guessed_stack_roots(r) == 0)
            r->scan_flags |= IMGLEAK_SCAN_INCOMPLETE; /* those stacks were not read at all */
    }
}

/* ---- the scan ---- */

/* Some roots or blocks could not be read: a block no read root reached may still be reachable
 * through what was not read, so nothing but "reachable" is claimed. */
static void forget_unproven(reach_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->cls[i] != IMGLEAK_CLASS_REACHABLE)
            r->cls[i] = IMGLEAK_CLASS_UNKNOWN;
        r->hung_blocks[i] = 0;
        r->hung_bytes[i] = 0;
    }
}

static void classify(reach_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        if ((r->flags[i] & F_LOADER) && !(r->flags[i] & F_REACHED)) {
            r->flags[i] |= F_REACHED;
            push(r, i);
        }
    scan_roots(r);
    drain(r, mark_words);

    for (size_t i = 0; i < r->n; i++)
        if ((r->flags[i] & (F_INTERIOR | F_REACHED)) == F_INTERIOR) {
            r->flags[i] |= F_POSSIBLE;
            push(r, i);
        }
    drain(r, possible_words);

    for (size_t i = 0; i < r->n; i++) {
        r->cls[i] = (r->flags[i] & F_REACHED)    ? IMGLEAK_CLASS_REACHABLE
                    : (r->flags[i] & F_POSSIBLE) ? IMGLEAK_CLASS_POSSIBLE
                                                 : 0;
        if (!r->cls[i])
            push(r, i);
    }
    drain(r, pointed_words); /* each unreached block once: who points at whom */
    /* roots of leaks: unreached and pointed to by no other unreached block; then cycles */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < r->n; i++) {
            if (r->cls[i] || (pass == 0 && (r->flags[i] & F_POINTED)))
                continue;
            r->cls[i] = IMGLEAK_CLASS_LEAKED;
            r->flags[i] |= F_DONE;
            current_root = i;
            push(r, i);
            drain(r, indirect_words);
        }
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->cls[i] == IMGLEAK_CLASS_INDIRECT) {
            r->hung_bytes[r->root[i]] += SIZE(r, i);
            r->hung_blocks[r->root[i]]++;
        }
    if (r->missed)
        r->scan_flags |= IMGLEAK_SCAN_INCOMPLETE;
    if (r->scan_flags & IMGLEAK_SCAN_INCOMPLETE)
        forget_unproven(r);
}

/* Reading in place is safe from other threads (there are none) but not from the program's own
 * protections (a heap block it made PROT_NONE): a fault while scanning jumps back here, and the
 * scan is done again through process_vm_readv. Only this thread runs, so borrowing SIGSEGV and
 * SIGBUS for the scan's duration cannot catch anyone else's fault. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
static sigjmp_buf fault_jump;

static void on_fault(int sig)
{
    (void)sig;
    siglongjmp(fault_jump, 1);
}

static int classify_guarded(reach_t *r)
{
    struct sigaction sa, old_segv, old_bus;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sa.sa_flags = SA_NODEFER;
    if (__sigaction(SIGSEGV, &sa, &old_segv) != 0)
        return -1;
    if (__sigaction(SIGBUS, &sa, &old_bus) != 0) {
        __sigaction(SIGSEGV, &old_segv, NULL);
        return -1;
    }
    int faulted = sigsetjmp(fault_jump, 1);
    if (!faulted)
        classify(r);
    __sigaction(SIGSEGV, &old_segv, NULL);
    __sigaction(SIGBUS, &old_bus, NULL);
    return faulted ? -1 : 0;
}

/* In a forked child the blocks it inherited are forgotten (shim.c): the snapshot says that its
 * inherited memory was read as roots only (inherited_roots). */
static reach_t *child_only(reach_t *r)
{
    if (in_forked_child)
        r->scan_flags |= IMGLEAK_SCAN_INHERITED;
    return r;
}

/* What a snapshot carries when the scan was asked for and did not run: no block classified, and
 * the reason in the process record. */
static reach_t skipped = {.scan_flags = IMGLEAK_SCAN_SKIPPED, .mem_fd = -2};

void reach_after_fork_child(int scan_anyway)
{
    in_forked_child = !scan_anyway;
}

void reach_set_attached(void)
{
    attached_late = 1;
}

reach_t *reach_scan(int last)
{
    threads_register(); /* the calling thread, if it never allocated */
    /* The last snapshot with no other thread left: the live table becomes the scan's sorted
     * blocks in its own memory, as nobody will insert into it again (table_freeze). Otherwise the
     * blocks are copied: other threads go on using the table meanwhile. */
    int alone = only_thread();
    size_t nmaps = maps_count(), cap = table_live() + nmaps + 4096;
    cap += cap / 4; /* blocks allocated while gathering */
    size_t bytes = sizeof(reach_t) + cap * (1 + 1 + 4 + 4 + 8 + 4) + TABLE_SORT_SCRATCH * 4 +
                   BUF_SIZE + VMA_MAX * sizeof(vma_t) + 64 * 12;
    char *m = os_map(bytes);
    table_rec_t *frozen = NULL;
    size_t nheap = m && last && alone ? table_freeze(&frozen, nmaps) : 0;
    table_rec_t *copy = m && !frozen ? os_map(cap * sizeof *copy) : NULL;
    if (!frozen && !copy) {
        if (m)
            os_unmap(m, bytes);
        os_notice_once(NOTICE_SCAN, "no memory for the reachability scan; leaks are not told "
                                    "from reachable blocks");
        return &skipped;
    }
    reach_t *r = (reach_t *)m;
    r->mem_fd = -1;
    r->rec = frozen ? frozen : copy;
    r->frozen = frozen != NULL;
    r->copy_bytes = copy ? cap * sizeof *copy : 0;
    os_log("scan: the blocks %s", frozen ? "in the live table's own memory (one thread left)"
                                         : "copied (other threads go on)");
    char *p = m + ((sizeof *r + 63) & ~(size_t)63);
#define CARVE(ptr, count)                                                                          \
    do {                                                                                           \
        (ptr) = (void *)p;                                                                         \
        p += ((count) * sizeof *(ptr) + 63) & ~(size_t)63;                                         \
    } while (0)
    CARVE(r->flags, cap);
    CARVE(r->cls, cap);
    CARVE(r->root, cap);
    CARVE(r->hung_bytes, cap);
    CARVE(r->hung_blocks, cap);
    CARVE(r->work, cap);
    uint32_t *scratch;
    CARVE(scratch, TABLE_SORT_SCRATCH);
    CARVE(r->buf, BUF_SIZE);
    CARVE(r->vma, VMA_MAX);
#undef CARVE
    r->cap = cap;
    r->rec_cap = frozen ? nheap + nmaps : cap;
    r->mapping = m;
    r->mapped_bytes = bytes;
    uint64_t loader_base = getauxval(AT_BASE);
    loader_lo = loader_hi = 0;
    if (loader_base)
        dl_iterate_phdr(find_loader, &loader_base);
    r->glib = 0;
    dl_iterate_phdr(find_gobject, &r->glib);
    memset(r->glib_seen, 0, sizeof r->glib_seen);
    r->n = frozen ? nheap : table_copy_records(r->rec, cap, &r->missed);
    maps_foreach(gather_map, r);
    table_sort_records(r->rec, r->n, scratch);
    if (frozen)
        table_frozen_sorted(r->n);
    mark_loader_blocks(r);
    if (r->n) {
        r->lo = ADDR(r, 0);
        for (size_t i = 0; i < r->n; i++)
            if (ADDR(r, i) + (SIZE(r, i) ? SIZE(r, i) : 1) > r->hi)
                r->hi = ADDR(r, i) + (SIZE(r, i) ? SIZE(r, i) : 1);
        if (index_pages(r) < 0)
            r->pages = NULL;
    }

    r->direct = alone;
    if (r->direct && classify_guarded(r) == 0)
        return child_only(r);
    r->direct = 0; /* several threads, or a block could not be read in place */
    r->scan_flags = 0;
    r->in_gobject = 0; /* a fault may have left module_roots inside libgobject's data */
    memset(r->glib_seen, 0, sizeof r->glib_seen);
    r->unscanned = 0;
    for (size_t i = 0; i < r->n; i++)
        r->flags[i] &= F_LOADER;
    memset(r->cls, 0, r->n);
    r->nwork = 0;
    classify(r);
    return child_only(r);
}

/* The class of the block at addr. The snapshot asks in the live table's order: when the table is
 * frozen that is the scan's own order, so the block after the one asked before is tried first;
 * else the page index finds it (the table keeps the blocks of one page together, so one
 * look-up's cache lines serve the next). */
unsigned reach_class(const reach_t *r, uint64_t addr)
{
    if (!r || r == &skipped)
        return IMGLEAK_CLASS_UNKNOWN;
    reach_t *w = (reach_t *)r; /* the hint only */
    size_t next = w->class_hint;
    if (next < r->n && ADDR(r, next) == addr && !IS_MAP(r, next)) {
        w->class_hint = next + 1;
        return r->cls[next];
    }
    int interior;
    long i = find(r, addr, &interior);
    if (i < 0 || interior)
        return IMGLEAK_CLASS_UNKNOWN; /* allocated after the scan gathered the blocks */
    w->class_hint = (size_t)i + 1;
    return r->cls[i];
}

uint64_t reach_unreadable(const reach_t *r)
{
    return r ? r->unreadable : 0;
}

uint32_t reach_scan_flags(const reach_t *r)
{
    return r ? r->scan_flags : 0;
}

uint64_t reach_unscanned(const reach_t *r)
{
    return r ? r->unscanned : 0;
}

void reach_free(reach_t *r)
{
    if (!r || r == &skipped)
        return;
    if ((r->scan_flags & IMGLEAK_SCAN_INCOMPLETE) && !r->quiet)
        os_notice_once(NOTICE_SCAN_INCOMPLETE, "the reachability scan could not read %lu bytes; blocks it "
                                    "could not prove reachable are reported unscanned, not leaked",
                       (unsigned long)r->unscanned);
    if (r->mem_fd >= 0)
        close(r->mem_fd);
    if (r->pages)
        os_unmap(r->pages, r->pages_bytes);
    int frozen = r->frozen;
    if (r->copy_bytes)
        os_unmap(r->rec, r->copy_bytes);
    os_unmap(r->mapping, r->mapped_bytes);
    if (frozen)
        table_thaw_empty();
}

void reach_foreach_root(const reach_t *r,
                        void (*visit)(uint64_t addr, uint64_t bytes, uint64_t blocks, void *ctx),
                        void *ctx)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->cls[i] == IMGLEAK_CLASS_LEAKED && r->hung_blocks[i])
            visit(ADDR(r, i), r->hung_bytes[i], r->hung_blocks[i], ctx);
}
