/* Interned call stacks: each distinct stack is stored once, in an append-only arena, and named by
 * a small id that live records carry. Lock-free: a new stack is written first and published with
 * one compare-and-swap. Per-stack lifetime counters (allocations, frees, bytes) live beside it. */
#ifndef IMGLEAK_STACKS_H
#define IMGLEAK_STACKS_H

#include <stdint.h>
#include <stddef.h>

int stacks_init(size_t max_stacks, unsigned depth_limit);
void stacks_destroy(void);

/* The id of this stack under this input (inputs.h; 0: none), interning it on first sight: the
 * same frames under two inputs are two stacks. 1, 2, ...; 0 when the table is full. */
uint32_t stacks_intern(const uint64_t *frames, unsigned depth, int truncated, uint32_t input);

void stacks_count_alloc(uint32_t id, uint64_t bytes);
void stacks_count_free(uint32_t id, uint64_t bytes);
/* Adds counts held back elsewhere (stackcache.h) to id's. */
void stacks_count_add(uint32_t id, uint64_t allocs, uint64_t frees, uint64_t alloc_bytes,
                      uint64_t free_bytes);

typedef struct {
    uint32_t id;
    unsigned depth;
    int truncated;
    uint32_t input; /* the input it was interned under; 0: none */
    const uint64_t *frames;
    uint64_t allocs, frees, alloc_bytes, free_bytes;
} stack_view_t;

typedef void (*stacks_visit_fn)(const stack_view_t *stack, void *ctx);
void stacks_foreach(stacks_visit_fn visit, void *ctx);
/* 1 and *out filled when id names a stack */
int stacks_get(uint32_t id, stack_view_t *out);

size_t stacks_count(void);
uint64_t stacks_dropped(void);

#endif
