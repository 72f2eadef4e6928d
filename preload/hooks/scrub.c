/* Clearing freed blocks (see scrub.h). The cost is a memset of what the program frees, which it
 * wrote (or could have written) before: bounded by its own work. Two cases need none: a chunk
 * glibc mapped on its own is unmapped by free(), and pages of a large block the program never
 * touched hold nothing (mincore), and clearing them would only make them resident. */
#define _GNU_SOURCE
#include "scrub.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096
#define LARGE (64 * 1024)      /* from here, only the pages that are resident are cleared */
#define MOVE_MAX (64 * 1024)   /* a realloc that may move a larger block is left to the allocator */

static int enabled, glibc_heap;

void scrub_init(void (*real_free)(void *), int on)
{
    enabled = on;
    /* glibc's chunk header (the word before the block) is read only when glibc's free is the
     * allocator in use: a program may bring its own (jemalloc, tcmalloc) */
    void *libc_free = dlsym(RTLD_DEFAULT, "__libc_free");
    glibc_heap = libc_free && (void *)real_free == libc_free;
}

/* glibc: the chunk's size and flags, in the word before the block. */
static size_t glibc_header(const void *p)
{
    size_t h;
    memcpy(&h, (const char *)p - sizeof h, sizeof h);
    return h;
}

#define GLIBC_MMAPPED 2

/* What the allocator will hand out again from this block: glibc's usable size (the chunk less
 * its header); 0 when free() unmaps it. Otherwise the size the program asked for. */
static size_t reusable_bytes(const void *p, size_t size)
{
    if (!glibc_heap)
        return size;
    size_t h = glibc_header(p);
    if (h & GLIBC_MMAPPED)
        return 0;
    size_t usable = (h & ~(size_t)7) - sizeof(size_t);
    return usable >= size ? usable : size;
}

/* Clears [lo, lo + n); in a large range only the resident pages. */
static void clear_range(char *lo, size_t n)
{
    if (n < LARGE) {
        memset(lo, 0, n);
        return;
    }
    char *hi = lo + n;
    char *first = (char *)(((uintptr_t)lo + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
    char *last = (char *)((uintptr_t)hi & ~(uintptr_t)(PAGE - 1));
    memset(lo, 0, (size_t)(first - lo)); /* partial pages at both ends: the allocator's */
    memset(last, 0, (size_t)(hi - last));
    unsigned char vec[256];
    for (char *at = first; at < last;) {
        size_t pages = (size_t)(last - at) / PAGE;
        if (pages > sizeof vec)
            pages = sizeof vec;
        if (mincore(at, pages * PAGE, vec) != 0) {
            memset(at, 0, pages * PAGE);
        } else {
            for (size_t k = 0; k < pages;) {
                size_t j = k;
                while (j < pages && (vec[j] & 1))
                    j++;
                if (j > k)
                    memset(at + k * PAGE, 0, (j - k) * PAGE);
                k = j + 1;
            }
        }
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
