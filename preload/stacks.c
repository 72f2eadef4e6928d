/* Stack interning (see stacks.h). The index is an open-addressing table of stack ids; the stacks
 * themselves are nodes in an arena reserved up front and touched only as it fills, so memory
 * follows the number of distinct stacks, not the reservation. */
#include "stacks.h"

#include "os.h"

#include <stdatomic.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    _Atomic uint64_t allocs, frees, alloc_bytes, free_bytes;
    uint16_t depth;
    uint16_t flags;
    uint32_t orphan; /* lost the race to publish an identical stack: never referenced */
    uint64_t frames[];
} stack_node_t;

#define FLAG_TRUNCATED 1u

static struct {
    _Atomic uint32_t *index;  /* stack ids, 0 = empty */
    size_t index_capacity;    /* power of two */
    _Atomic uint64_t *offset; /* id -> 1 + byte offset of its node in the arena; 0 = unpublished */
    size_t max_stacks;
    char *arena;
    size_t arena_size;
    _Atomic size_t arena_top;
    _Atomic uint32_t next_id;
    _Atomic uint64_t dropped;
} st;

static uint64_t hash_frames(const uint64_t *frames, unsigned depth, int truncated)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ depth ^ ((uint64_t)truncated << 32);
    for (unsigned i = 0; i < depth; i++) {
        h ^= frames[i];
        h *= UINT64_C(0x100000001b3);
        h ^= h >> 29;
    }
    return h ? h : 1;
}

int stacks_init(size_t max_stacks, unsigned depth_limit)
{
    memset(&st, 0, sizeof st);
    if (max_stacks < 16)
        max_stacks = 16;
    st.max_stacks = max_stacks;
    st.index_capacity = 64;
    while (st.index_capacity < max_stacks * 2)
        st.index_capacity *= 2;
    st.arena_size = max_stacks * (sizeof(stack_node_t) + (size_t)depth_limit * sizeof(uint64_t));
    st.index = os_map(st.index_capacity * sizeof *st.index);
    st.offset = os_map((max_stacks + 1) * sizeof *st.offset);
    st.arena = os_map(st.arena_size);
    if (!st.index || !st.offset || !st.arena) {
        stacks_destroy();
        return -1;
    }
    st.next_id = 1;
    return 0;
}

void stacks_destroy(void)
{
    os_unmap(st.index, st.index_capacity * sizeof *st.index);
    os_unmap(st.offset, (st.max_stacks + 1) * sizeof *st.offset);
    os_unmap(st.arena, st.arena_size);
    memset(&st, 0, sizeof st);
}

static inline stack_node_t *node_of(uint32_t id)
{
    return (stack_node_t *)(st.arena + atomic_load_explicit(&st.offset[id], memory_order_acquire) - 1);
}

static inline int node_equals(const stack_node_t *n, uint64_t hash, const uint64_t *frames,
                              unsigned depth, uint16_t flags)
{
    return n->hash == hash && n->depth == depth && n->flags == flags &&
           memcmp(n->frames, frames, depth * sizeof *frames) == 0;
}

__attribute__((cold)) static uint32_t node_create(uint64_t hash, const uint64_t *frames,
                                                  unsigned depth, uint16_t flags)
{
    size_t bytes = sizeof(stack_node_t) + depth * sizeof(uint64_t);
    bytes = (bytes + 7) & ~(size_t)7;
    uint32_t id = atomic_fetch_add(&st.next_id, 1);
    size_t at = atomic_fetch_add(&st.arena_top, bytes);
    if (id > st.max_stacks || at + bytes > st.arena_size)
        return 0;
    stack_node_t *n = (stack_node_t *)(st.arena + at);
    n->hash = hash;
    n->depth = (uint16_t)depth;
    n->flags = flags;
    memcpy(n->frames, frames, depth * sizeof *frames);
    atomic_store_explicit(&st.offset[id], at + 1, memory_order_release);
    return id;
}

uint32_t stacks_intern(const uint64_t *frames, unsigned depth, int truncated)
{
    uint16_t flags = truncated ? FLAG_TRUNCATED : 0;
    uint64_t hash = hash_frames(frames, depth, truncated);
    size_t mask = st.index_capacity - 1;
    uint32_t fresh = 0;
    for (size_t i = hash & mask, n = 0; n < st.index_capacity; i = (i + 1) & mask, n++) {
        uint32_t id = atomic_load_explicit(&st.index[i], memory_order_acquire);
        if (id == 0) {
            if (!fresh && !(fresh = node_create(hash, frames, depth, flags))) {
                atomic_fetch_add_explicit(&st.dropped, 1, memory_order_relaxed);
                return 0;
            }
            if (atomic_compare_exchange_strong(&st.index[i], &id, fresh))
                return fresh;
            /* another thread filled this slot first: id now holds its stack */
        }
        if (node_equals(node_of(id), hash, frames, depth, flags)) {
            if (fresh)
                node_of(fresh)->orphan = 1;
            return id;
        }
    }
    atomic_fetch_add_explicit(&st.dropped, 1, memory_order_relaxed);
    return 0;
}

void stacks_count_alloc(uint32_t id, uint64_t bytes)
{
    if (id == 0)
        return;
    stack_node_t *n = node_of(id);
    atomic_fetch_add_explicit(&n->allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n->alloc_bytes, bytes, memory_order_relaxed);
}

void stacks_count_free(uint32_t id, uint64_t bytes)
{
    if (id == 0)
        return;
    stack_node_t *n = node_of(id);
    atomic_fetch_add_explicit(&n->frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n->free_bytes, bytes, memory_order_relaxed);
}

static void view_of(uint32_t id, const stack_node_t *n, stack_view_t *out)
{
    out->id = id;
    out->depth = n->depth;
    out->truncated = (n->flags & FLAG_TRUNCATED) != 0;
    out->frames = n->frames;
    out->allocs = atomic_load_explicit(&n->allocs, memory_order_relaxed);
    out->frees = atomic_load_explicit(&n->frees, memory_order_relaxed);
    out->alloc_bytes = atomic_load_explicit(&n->alloc_bytes, memory_order_relaxed);
    out->free_bytes = atomic_load_explicit(&n->free_bytes, memory_order_relaxed);
}

/* An id handed out but never published (arena full, or still being written by another thread)
 * has no offset yet. */
static int published(uint32_t id)
{
    return atomic_load_explicit(&st.offset[id], memory_order_acquire) != 0;
}

int stacks_get(uint32_t id, stack_view_t *out)
{
    uint32_t top = atomic_load(&st.next_id);
    if (id == 0 || id >= top || id > st.max_stacks || !published(id))
        return 0;
    stack_node_t *n = node_of(id);
    if (n->orphan)
        return 0;
    view_of(id, n, out);
    return 1;
}

void stacks_foreach(stacks_visit_fn visit, void *ctx)
{
    uint32_t top = atomic_load(&st.next_id);
    for (uint32_t id = 1; id < top && id <= st.max_stacks; id++) {
        stack_view_t v;
        if (stacks_get(id, &v))
            visit(&v, ctx);
    }
}

size_t stacks_count(void)
{
    uint32_t top = atomic_load(&st.next_id);
    return top - 1 > st.max_stacks ? st.max_stacks : top - 1;
}

uint64_t stacks_dropped(void)
{
    return atomic_load(&st.dropped);
}
