/* Clearing freed blocks (see scrub.h). The cost is a pass over what the program frees, reading
 * it and writing only the 64-byte lines that are not zero: what the program wrote in the block's
 * life (what it did not write is zero from the chunk's last free). None is needed where free()
 * unmaps the chunk (glibc's own mappings), nor in pages of a large block that are not resident
 * (mincore): they hold nothing, and clearing them would only make them resident. */
#define _GNU_SOURCE
#include "scrub.h"

#include "glibc_heap.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096
#define SMALL 256              /* below this, a plain memset */
#define LARGE (64 * 1024)      /* from here, only the pages that are resident are cleared */
#define MOVE_MAX (64 * 1024)   /* a realloc that may move a larger block is left to the allocator */

static int enabled, glibc_heap;
static size_t (*usable_size)(void *);

void scrub_init(size_t (*real_usable_size)(void *), int on)
{
    enabled = on;
    usable_size = real_usable_size;
    glibc_heap = glibc_heap_active();
}

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
static void clear_nonzero(uint64_t *lo, uint64_t *hi)
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
