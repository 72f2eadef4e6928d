/* Allocation helpers as projects write them: static inline in a header, one calling the other,
 * so that an optimized build folds both into their callers. inline.sh checks that every one of
 * them still appears in the leak's stack, at its own line. */
#ifndef INLINE_HELPERS_H
#define INLINE_HELPERS_H
#include <stdlib.h>
#include <string.h>

static inline __attribute__((always_inline)) void *xmalloc(size_t n)
{
    void *p = malloc(n); /* INL(xmalloc) */
    if (!p)
        abort();
    memset(p, 0x5a, n);
    __asm__ volatile("" : : "r"(p) : "memory"); /* clang may not elide it */
    return p;
}

static inline void *alloc_row(size_t width)
{
    unsigned char *row = xmalloc(width * 3); /* INL(alloc_row) */
    row[0] = 1;
    return row;
}
#endif
