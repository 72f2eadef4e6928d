/* make bench's "interpose" configuration: the malloc family interposed by LD_PRELOAD and handed
 * straight to glibc, with nothing recorded. What it costs over native is what any interposing
 * tool pays before doing any work of its own (imgleak, heaptrack); imgleak's own cost is what it
 * adds beyond it. */
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

#define EXPORT __attribute__((visibility("default")))

EXPORT void *malloc(size_t size)
{
    return __libc_malloc(size);
}

EXPORT void free(void *p)
{
    __libc_free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
    return __libc_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t size)
{
    return __libc_realloc(p, size);
}

EXPORT void *memalign(size_t align, size_t size)
{
    return __libc_memalign(align, size);
}
