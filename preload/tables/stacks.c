/* Stack interning (see stacks.h). Everything grows as stacks are interned, never reserved up
 * front for the limit, so that a program under an address-space limit (ulimit -v) keeps what it
 * had without the shim:
 *  - the index is a list of open-addressing levels, each twice the size of the one before; new
 *    stacks go into the newest level, which gets a successor when half full, and a look-up reads
 *    the levels in turn. Two threads interning one stack just as a level is added may give it
 *    two ids, which costs a duplicate record and nothing else;
 *  - the stacks themselves are nodes in chunks of doubling size, bump-allocated;
 *  - id -> node is a two-level table whose pages are mapped on first use.
 * When memory for any of these cannot be had, the stack is dropped, counted, and said once. */
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
    uint32_t input;  /* the input it was recorded under (inputs.h); 0: none */
    uint64_t frames[];
} stack_node_t;

#define FLAG_TRUNCATED 1u
#define LEVELS_MAX 32
#define LEVEL0_SLOTS 16384u /* 64 KiB: most programs never need a second level */
#define CHUNKS_MAX 64
#define CHUNK0_BYTES (64u * 1024)
#define CHUNK_GROWTHS 10 /* chunks stop doubling at 64 MiB */
#define PAGE_IDS 4096u   /* ids per page of the id -> node table */
#define PAGES_MAX (((1u << 24) + PAGE_IDS) / PAGE_IDS)

typedef struct {
    /* stack ids, 0 = empty; level k has LEVEL0_SLOTS << k. The pointer is installed by one
     * thread while others may already look: atomic too. */
    _Atomic uint32_t *_Atomic slots;
    _Atomic size_t used;
} level_t;

static struct {
    level_t levels[LEVELS_MAX];
    _Atomic unsigned nlevels;
    size_t level_capacity_max; /* no level beyond twice max_stacks */
    _Atomic uint64_t *_Atomic pages[PAGES_MAX]; /* id -> node address; 0 = unpublished */
    size_t max_stacks;
    char *_Atomic chunks[CHUNKS_MAX];
    _Atomic size_t chunk_top[CHUNKS_MAX];
    _Atomic unsigned chunk_cur;
    size_t arena_limit;         /* bytes of nodes the limits allow */
    _Atomic size_t arena_mapped; /* bytes of chunks mapped */
    _Atomic uint32_t next_id;
    _Atomic uint64_t dropped;
} st;

static uint64_t hash_frames(const uint64_t *frames, unsigned depth, int truncated, uint32_t input)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ depth ^ ((uint64_t)truncated << 32) ^
                 ((uint64_t)input * UINT64_C(0x9e3779b97f4a7c15));
    for (unsigned i = 0; i < depth; i++) {
        h ^= frames[i];
        h *= UINT64_C(0x100000001b3);
        h ^= h >> 29;
    }
    return h ? h : 1;
}

__attribute__((cold)) static void say_full(const char *what)
{
    os_notice_once(NOTICE_STACKS_FULL, "no room for more call stacks (%s); new ones are dropped",
                   what);
}

/* ---- growing pieces, each installed with one compare-and-swap ---- */

/* *where, mapped and installed now if it was NULL; *won says this call installed it. */
__attribute__((cold)) static void *install(void *_Atomic *where, size_t bytes, int *won)
{
    void *fresh = os_map(bytes), *expected = NULL;
    *won = 0;
    if (!fresh)
        return atomic_load(where);
    if (!atomic_compare_exchange_strong(where, &expected, fresh)) {
        os_unmap(fresh, bytes);
        return expected;
    }
    *won = 1;
    return fresh;
}

static size_t chunk_bytes(unsigned k)
{
    return (size_t)CHUNK0_BYTES << (k < CHUNK_GROWTHS ? k : CHUNK_GROWTHS);
}

static char *chunk_get(unsigned k)
{
    char *c = atomic_load_explicit(&st.chunks[k], memory_order_acquire);
    if (c || k >= CHUNKS_MAX)
        return c;
    size_t mapped = atomic_load(&st.arena_mapped);
    if (mapped >= st.arena_limit || mapped + chunk_bytes(k) > os_budget())
        return NULL;
    int won;
    c = install((void *_Atomic *)&st.chunks[k], chunk_bytes(k), &won);
    if (won)
        atomic_fetch_add(&st.arena_mapped, chunk_bytes(k));
    return c;
}

/* bytes (a multiple of 8, at most a chunk) from the arena; NULL when none can be had */
static void *arena_alloc(size_t bytes)
{
    for (;;) {
        unsigned k = atomic_load(&st.chunk_cur);
        if (k >= CHUNKS_MAX)
            return NULL;
        char *c = chunk_get(k);
        if (!c)
            return NULL;
        size_t at = atomic_fetch_add(&st.chunk_top[k], bytes);
        if (at + bytes <= chunk_bytes(k))
            return c + at;
        if (k + 1 >= CHUNKS_MAX || !chunk_get(k + 1))
            return NULL;
        atomic_compare_exchange_strong(&st.chunk_cur, &k, k + 1);
    }
}

static _Atomic uint64_t *page_get(uint32_t id, int create)
{
    _Atomic uint64_t *page = atomic_load_explicit(&st.pages[id / PAGE_IDS], memory_order_acquire);
    int won;
    if (!page && create)
        page = install((void *_Atomic *)&st.pages[id / PAGE_IDS], PAGE_IDS * sizeof *page, &won);
    return page;
}

static stack_node_t *node_at(uint32_t id)
{
    _Atomic uint64_t *page = page_get(id, 0);
    uint64_t addr = page ? atomic_load_explicit(&page[id % PAGE_IDS], memory_order_acquire) : 0;
    return (stack_node_t *)(uintptr_t)addr;
}

static size_t level_capacity(unsigned k)
{
    return (size_t)LEVEL0_SLOTS << k;
}

static int level_add(unsigned k)
{
    int won;
    if (!install((void *_Atomic *)&st.levels[k].slots, level_capacity(k) * sizeof(uint32_t), &won))
        return -1;
    unsigned expected = k;
    atomic_compare_exchange_strong(&st.nlevels, &expected, k + 1);
    return 0;
}

int stacks_init(size_t max_stacks, unsigned depth_limit)
{
    memset(&st, 0, sizeof st);
    if (max_stacks < 16)
        max_stacks = 16;
    if (max_stacks > (size_t)PAGES_MAX * PAGE_IDS - 2)
        max_stacks = (size_t)PAGES_MAX * PAGE_IDS - 2;
    st.max_stacks = max_stacks;
    st.level_capacity_max = 2 * max_stacks;
    st.arena_limit = max_stacks * (sizeof(stack_node_t) + (size_t)depth_limit * sizeof(uint64_t));
    st.next_id = 1;
    if (level_add(0) < 0 || !chunk_get(0) || !page_get(0, 1)) {
        stacks_destroy();
        return -1;
    }
    return 0;
}

void stacks_destroy(void)
{
    for (unsigned k = 0; k < LEVELS_MAX; k++)
        os_unmap(st.levels[k].slots, level_capacity(k) * sizeof(uint32_t));
    for (unsigned k = 0; k < CHUNKS_MAX; k++)
        os_unmap(st.chunks[k], chunk_bytes(k));
    for (unsigned i = 0; i < PAGES_MAX; i++)
        os_unmap(st.pages[i], PAGE_IDS * sizeof(uint64_t));
    memset(&st, 0, sizeof st);
}

static inline int node_equals(const stack_node_t *n, uint64_t hash, const uint64_t *frames,
                              unsigned depth, uint16_t flags, uint32_t input)
{
    return n->hash == hash && n->depth == depth && n->flags == flags && n->input == input &&
           memcmp(n->frames, frames, depth * sizeof *frames) == 0;
}

__attribute__((cold)) static uint32_t node_create(uint64_t hash, const uint64_t *frames,
                                                  unsigned depth, uint16_t flags, uint32_t input)
{
    size_t bytes = sizeof(stack_node_t) + depth * sizeof(uint64_t);
    bytes = (bytes + 7) & ~(size_t)7;
    uint32_t id = atomic_fetch_add(&st.next_id, 1);
    if (id > st.max_stacks)
        return 0;
    _Atomic uint64_t *page = page_get(id, 1);
    stack_node_t *n = page ? arena_alloc(bytes) : NULL;
    if (!n) {
        say_full("no memory");
        return 0;
    }
    n->hash = hash;
    n->depth = (uint16_t)depth;
    n->flags = flags;
    n->input = input;
    memcpy(n->frames, frames, depth * sizeof *frames);
    atomic_store_explicit(&page[id % PAGE_IDS], (uint64_t)(uintptr_t)n, memory_order_release);
    return id;
}

/* The id of an interned stack equal to this one in level l, or 0; *empty: the first empty slot
 * on its probe path (or SIZE_MAX: the level is full along it). */
static uint32_t level_find(unsigned k, uint64_t hash, const uint64_t *frames, unsigned depth,
                           uint16_t flags, uint32_t input, size_t *empty)
{
    _Atomic uint32_t *slots = atomic_load_explicit(&st.levels[k].slots, memory_order_acquire);
    size_t capacity = level_capacity(k), mask = capacity - 1;
    *empty = SIZE_MAX;
    for (size_t i = hash & mask, n = 0; n < capacity; i = (i + 1) & mask, n++) {
        uint32_t id = atomic_load_explicit(&slots[i], memory_order_acquire);
        if (id == 0) {
            *empty = i;
            return 0;
        }
        stack_node_t *node = node_at(id);
        if (node && node_equals(node, hash, frames, depth, flags, input))
            return id;
    }
    return 0;
}

/* The newest level, with a successor added once it is half full. */
static unsigned newest_level(void)
{
    unsigned k = atomic_load(&st.nlevels) - 1;
    size_t used = atomic_load_explicit(&st.levels[k].used, memory_order_relaxed);
    if (__builtin_expect(used * 2 >= level_capacity(k), 0) && k + 1 < LEVELS_MAX &&
        level_capacity(k) < st.level_capacity_max && level_add(k + 1) == 0)
        k++;
    return k;
}

uint32_t stacks_intern(const uint64_t *frames, unsigned depth, int truncated, uint32_t input)
{
    uint16_t flags = truncated ? FLAG_TRUNCATED : 0;
    uint64_t hash = hash_frames(frames, depth, truncated, input);
    unsigned nlevels = atomic_load(&st.nlevels);
    size_t empty;
    for (unsigned k = 0; k < nlevels; k++) {
        uint32_t id = level_find(k, hash, frames, depth, flags, input, &empty);
        if (id)
            return id;
    }
    uint32_t fresh = 0;
    for (;;) {
        unsigned k = newest_level();
        level_t *l = &st.levels[k];
        uint32_t id = level_find(k, hash, frames, depth, flags, input, &empty);
        if (id) {
            if (fresh)
                node_at(fresh)->orphan = 1;
            return id;
        }
        if (empty == SIZE_MAX)
            break;
        if (!fresh && !(fresh = node_create(hash, frames, depth, flags, input)))
            break;
        uint32_t expected = 0;
        _Atomic uint32_t *slots = atomic_load_explicit(&l->slots, memory_order_acquire);
        if (atomic_compare_exchange_strong(&slots[empty], &expected, fresh)) {
            atomic_fetch_add_explicit(&l->used, 1, memory_order_relaxed);
            return fresh;
        }
        /* another thread filled this slot first: look again, it may hold this stack */
    }
    if (fresh)
        node_at(fresh)->orphan = 1;
    atomic_fetch_add_explicit(&st.dropped, 1, memory_order_relaxed);
    say_full("IMGLEAK_MAX_STACKS reached, or no memory");
    return 0;
}

void stacks_count_alloc(uint32_t id, uint64_t bytes)
{
    if (id == 0)
        return;
    stack_node_t *n = node_at(id);
    atomic_fetch_add_explicit(&n->allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n->alloc_bytes, bytes, memory_order_relaxed);
}

void stacks_count_free(uint32_t id, uint64_t bytes)
{
    if (id == 0)
        return;
    stack_node_t *n = node_at(id);
    atomic_fetch_add_explicit(&n->frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n->free_bytes, bytes, memory_order_relaxed);
}

void stacks_count_add(uint32_t id, uint64_t allocs, uint64_t frees, uint64_t alloc_bytes,
                      uint64_t free_bytes)
{
    stack_node_t *n = id ? node_at(id) : NULL;
    if (!n)
        return;
    if (allocs)
        atomic_fetch_add_explicit(&n->allocs, allocs, memory_order_relaxed);
    if (frees)
        atomic_fetch_add_explicit(&n->frees, frees, memory_order_relaxed);
    if (alloc_bytes)
        atomic_fetch_add_explicit(&n->alloc_bytes, alloc_bytes, memory_order_relaxed);
    if (free_bytes)
        atomic_fetch_add_explicit(&n->free_bytes, free_bytes, memory_order_relaxed);
}

static void view_of(uint32_t id, const stack_node_t *n, stack_view_t *out)
{
    out->id = id;
    out->depth = n->depth;
    out->truncated = (n->flags & FLAG_TRUNCATED) != 0;
    out->input = n->input;
    out->frames = n->frames;
    out->allocs = atomic_load_explicit(&n->allocs, memory_order_relaxed);
    out->frees = atomic_load_explicit(&n->frees, memory_order_relaxed);
    out->alloc_bytes = atomic_load_explicit(&n->alloc_bytes, memory_order_relaxed);
    out->free_bytes = atomic_load_explicit(&n->free_bytes, memory_order_relaxed);
}

/* An id handed out but never published (no memory, or still being written by another thread)
 * has no node yet. */
int stacks_get(uint32_t id, stack_view_t *out)
{
    uint32_t top = atomic_load(&st.next_id);
    if (id == 0 || id >= top || id > st.max_stacks)
        return 0;
    stack_node_t *n = node_at(id);
    if (!n || n->orphan)
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
