/* Clearing freed blocks (see scrub.h). The cost is a pass over what the program frees, reading
 * it and writing only the 64-byte lines that are not zero: what the program wrote in the block's
 * life (what it did not write is zero from the chunk's last free). None is needed where free()
 * unmaps the chunk (glibc's own mappings), nor in pages of a large block that are not resident
 * (mincore): they hold nothing, and clearing them would only make them resident. */
#define _GNU_SOURCE
#include "scrub.h"

#include "glibc_heap.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096
#define SMALL 256              /* below this, a plain memset */
#define LARGE (64 * 1024)      /* from here, only the pages that are resident are cleared */
#define MOVE_MAX (64 * 1024)   /* a realloc that may move a larger block is left to the allocator */
#define PREFETCH_AHEAD 2048    /* bytes: a few hundred ns of reading at what memory gives */

static int enabled, glibc_heap;
static size_t (*usable_size)(void *);

/* What the allocator will hand out again from this block: glibc's usable size (the chunk less
 * its header; the size the shim recorded may be more, as for glibc's pvalloc(0)), 0 when free()
 * unmaps it. With another allocator, the size the program asked for, within what that allocator
 * says the block holds. */
static size_t reusable_bytes(void *p, size_t size)
{
    if (!glibc_heap) {
        size_t usable = usable_size ? usable_size(p) : 0;
        return usable < size ? usable : size;
    }
    size_t h = glibc_chunk_header(glibc_chunk_of(p));
    return (h & GLIBC_MMAPPED) ? 0 : glibc_usable(h);
}

/* Clears the 64-byte lines of [lo, hi) (8-byte aligned) that are not zero already. Most of what
 * a block frees again was cleared when its chunk was freed before, and the program rewrote only
 * part of it: reading is cheaper than writing there, and a page never touched is read as the
 * kernel's zero page without becoming resident. */
static void clear_nonzero_words(uint64_t *lo, uint64_t *hi)
{
    while (lo + 8 <= hi) {
        uint64_t any = lo[0] | lo[1] | lo[2] | lo[3] | lo[4] | lo[5] | lo[6] | lo[7];
        if (any)
            memset(lo, 0, 64);
        lo += 8;
    }
    while (lo < hi)
        *lo++ = 0;
}

/* The same with 32-byte loads, four lines a step, and the lines PREFETCH_AHEAD bytes on asked
 * for: the read is what a free costs (a block of tens of KiB the program wrote a little of is
 * read whole, mostly from beyond the caches), and wide loads with one test a step and reads
 * already under way at a page's end, where the hardware's prefetcher stops, cut it by about
 * two fifths on malloc_churn. */
__attribute__((target("avx2"))) static void clear_nonzero_avx2(uint64_t *lo, uint64_t *hi)
{
    char *at = (char *)lo, *end = (char *)hi;
    const __m256i zero = _mm256_setzero_si256();
    for (; end - at >= 256; at += 256) {
        if (end - at > PREFETCH_AHEAD + 256) {
            for (int k = 0; k < 256; k += 64)
                __builtin_prefetch(at + PREFETCH_AHEAD + k);
        }
        __m256i l0 = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)at),
                                     _mm256_loadu_si256((const __m256i *)(at + 32)));
        __m256i l1 = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(at + 64)),
                                     _mm256_loadu_si256((const __m256i *)(at + 96)));
        __m256i l2 = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(at + 128)),
                                     _mm256_loadu_si256((const __m256i *)(at + 160)));
        __m256i l3 = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(at + 192)),
                                     _mm256_loadu_si256((const __m256i *)(at + 224)));
        __m256i any = _mm256_or_si256(_mm256_or_si256(l0, l1), _mm256_or_si256(l2, l3));
        if (__builtin_expect(_mm256_testz_si256(any, any), 1))
            continue;
        const __m256i line[4] = {l0, l1, l2, l3};
        for (int k = 0; k < 4; k++) {
            if (!_mm256_testz_si256(line[k], line[k])) {
                _mm256_storeu_si256((__m256i *)(at + 64 * k), zero);
                _mm256_storeu_si256((__m256i *)(at + 64 * k + 32), zero);
            }
        }
    }
    clear_nonzero_words((uint64_t *)at, hi);
}

static void (*clear_nonzero)(uint64_t *lo, uint64_t *hi) = clear_nonzero_words;

void scrub_init(size_t (*real_usable_size)(void *), int on)
{
    enabled = on;
    usable_size = real_usable_size;
    glibc_heap = glibc_heap_active();
    /* before the program's constructors, maybe: libgcc's CPU model may not be filled in yet */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        clear_nonzero = clear_nonzero_avx2;
}

/* Clears [p, p + n); in a large range only the resident pages. */
static void clear_range(void *p, size_t n)
{
    if (n < SMALL) {
        memset(p, 0, n);
        return;
    }
    size_t head = (8 - (uintptr_t)p % 8) % 8; /* a shrinking realloc's tail may start anywhere */
    memset(p, 0, head);
    p = (char *)p + head;
    n -= head;
    uint64_t *lo = p;
    if (n < LARGE) {
        clear_nonzero(lo, lo + n / 8);
        memset(lo + n / 8, 0, n % 8);
        return;
    }
    char *hi = (char *)p + n;
    char *first = (char *)(((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
    char *last = (char *)((uintptr_t)hi & ~(uintptr_t)(PAGE - 1));
    memset(p, 0, (size_t)(first - (char *)p)); /* partial pages at both ends: the allocator's */
    memset(last, 0, (size_t)(hi - last));
    unsigned char vec[256];
    for (char *at = first; at < last;) {
        size_t pages = (size_t)(last - at) / PAGE;
        if (pages > sizeof vec)
            pages = sizeof vec;
        int known = mincore(at, pages * PAGE, vec) == 0;
        for (size_t k = 0; k < pages; k++)
            if (!known || (vec[k] & 1))
                clear_nonzero((uint64_t *)(at + k * PAGE), (uint64_t *)(at + (k + 1) * PAGE));
        at += pages * PAGE;
    }
}

void scrub_freed(void *p, size_t size)
{
    if (!enabled)
        return;
    size_t n = reusable_bytes(p, size);
    if (n)
        clear_range(p, n);
}

int scrub_before_realloc(void *p, size_t old, size_t size)
{
    if (!enabled || !glibc_heap)
        return 0;
    size_t n = reusable_bytes(p, old);
    if (!n)
        return 0; /* mapped: glibc moves it with mremap */
    if (size == 0) {
        clear_range(p, n); /* glibc's realloc(p, 0) frees p */
        return 0;
    }
    if (size <= n) { /* in place: what is cut off goes back to the allocator */
        clear_range((char *)p + size, n - size);
        return 0;
    }
    return n <= MOVE_MAX;
}

void scrub_move(void *q, void *p, size_t old)
{
    size_t n = reusable_bytes(p, old); /* as glibc's realloc: what the program may have used */
    memcpy(q, p, n);
    clear_range(p, n);
}
