/* glibc's heap, where the shim needs to know it: the chunk header in the word before each block
 * (size and flags, malloc/malloc.c), read only when glibc's malloc is the allocator in use. */
#ifndef IMGLEAK_GLIBC_HEAP_H
#define IMGLEAK_GLIBC_HEAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Once at start-up: whether real_free, the free() the shim forwards to, is glibc's (a program
 * may bring its own allocator: jemalloc, tcmalloc). */
void glibc_heap_detect(void (*real_free)(void *));
int glibc_heap_active(void);

#define GLIBC_PREV_INUSE 1
#define GLIBC_MMAPPED 2
#define GLIBC_FLAGS 7

/* The size-and-flags word of the chunk that starts at chunk (a block's chunk is 16 bytes before
 * the block). */
static inline size_t glibc_chunk_header(uint64_t chunk)
{
    size_t h;
    memcpy(&h, (const void *)(uintptr_t)(chunk + sizeof h), sizeof h);
    return h;
}

/* The chunk of a block the program holds. */
static inline uint64_t glibc_chunk_of(const void *block)
{
    return (uint64_t)(uintptr_t)block - 2 * sizeof(size_t);
}

/* Bytes of a block's chunk the program may use (malloc_usable_size, for a chunk on the heap). */
static inline size_t glibc_usable(size_t header)
{
    return (header & ~(size_t)GLIBC_FLAGS) - sizeof(size_t);
}

#endif
