/* The live table: every heap block the program holds, keyed by address, in a lock-free
 * open-addressing hash table. Insert and remove are a few atomic operations on the thread's own
 * cache lines; only growing the table briefly holds writers back (see table.c). */
#ifndef IMGLEAK_TABLE_H
#define IMGLEAK_TABLE_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#define TABLE_SIZE_MAX ((UINT64_C(1) << 40) - 1) /* larger sizes are stored as this */
#define TABLE_STACK_MAX ((1u << 24) - 2)         /* stack ids above this are stored as 0 */
#define TABLE_STACK_FOREIGN ((1u << 24) - 1)     /* a record that is not a heap block */
#define TABLE_ADDR_MASK ((UINT64_C(1) << 48) - 1)
#define TABLE_BIRTH_MAX 0xffffu                  /* seconds; later births are stored as this */

typedef struct {
    uint64_t size;
    uint32_t stack_id;
    uint32_t birth_s;
} live_info_t;

/* capacity: initial slots; max_capacity: the table never grows past it (0: no limit but memory) */
int table_init(size_t capacity, size_t max_capacity);
void table_destroy(void);
/* Most frees will be of blocks the table never saw (sampling): look before taking a mark. */
void table_set_mostly_absent(int on);
/* In a forked child: other threads are gone mid-operation, so their marks are cleared. */
void table_after_fork_child(void);
/* Forgets every block; only while no other thread can use the table (a forked child). */
void table_forget_all(void);

/* 0, or -1 when the block could not be recorded (counted in table_dropped) */
int table_insert(uint64_t addr, const live_info_t *info);
/* 1 and *out filled when addr was live, 0 when the table never saw it */
int table_remove(uint64_t addr, live_info_t *out);
int table_lookup(uint64_t addr, live_info_t *out);

typedef void (*table_visit_fn)(uint64_t addr, const live_info_t *info, void *ctx);
/* Visits every live block; other threads may go on inserting and removing meanwhile. */
void table_foreach(table_visit_fn visit, void *ctx);

/* A block as the table stores it (a slot's two words): key = address | birth second << 48,
 * meta = size | stack id << 40. Records of other things (the scan's mappings) carry the stack id
 * TABLE_STACK_FOREIGN. */
typedef struct {
    uint64_t key, meta;
} table_rec_t;

static inline uint64_t table_rec_addr(const table_rec_t *r)
{
    return r->key & TABLE_ADDR_MASK;
}

static inline uint64_t table_rec_size(const table_rec_t *r)
{
    return r->meta & TABLE_SIZE_MAX;
}

static inline uint32_t table_rec_stack(const table_rec_t *r)
{
    return (uint32_t)(r->meta >> 40);
}

static inline table_rec_t table_rec_make(uint64_t addr, uint64_t size, uint32_t stack_id)
{
    table_rec_t r = {addr & TABLE_ADDR_MASK,
                     (size > TABLE_SIZE_MAX ? TABLE_SIZE_MAX : size) | (uint64_t)stack_id << 40};
    return r;
}

/* Sorts records by address in place (recsort.c); scratch: TABLE_SORT_SCRATCH words. */
#define TABLE_SORT_SCRATCH (2 * 2048 * 48 / 8) /* a level per 8 bits of address at most */
void table_sort_records(table_rec_t *recs, size_t n, uint32_t *scratch);

/* Copies the live blocks' records into out (at most cap; the rest counted in *missed); returns
 * how many. Other threads may go on inserting and removing meanwhile. */
size_t table_copy_records(table_rec_t *out, size_t cap, uint64_t *missed);

/* For the last snapshot, when no other thread can use the table: its live blocks become an
 * array in place, at the front of the slots, with room after them for `room` more records
 * (*recs, the count returned; 0 and *recs NULL when there is no such room). The caller may append
 * foreign records and must sort the whole array (table_sort_records), then call
 * table_frozen_sorted(total). Frozen and sorted, the table is read by table_foreach and
 * table_lookup (foreign records left out), and nothing may insert or remove; table_thaw_empty()
 * then makes it an empty table again, every block forgotten: what the program frees after its last
 * snapshot is no longer the table's. The pages past the array are given back. */
size_t table_freeze(table_rec_t **recs, size_t room);
void table_frozen_sorted(size_t total);
void table_thaw_empty(void);

size_t table_live(void);
size_t table_capacity(void);
/* The allocator's chunk bytes the program holds, counted by the malloc hooks (glibc: from each
 * chunk's header, as it is taken and given back) in the calling thread's own stripe: no shared
 * counter on the hot path and no walk of the allocator's free lists (mallinfo2) to read them.
 * mapped: a chunk mapped apart. The totals are the sums over every stripe, a thread that ended
 * included (a block may be freed by another thread than the one that took it). */
void table_count_chunk_slow(int64_t bytes, int mapped);
void table_chunk_totals(uint64_t *heap, uint64_t *mapped);
/* the calling thread's pair of counters in the stripe it owns (NULL: not yet, or a shared one) */
extern __thread _Atomic int64_t *table_own_chunk_bytes __attribute__((tls_model("initial-exec")));

/* A load and a store, not a locked add: a signal handler that allocates on this thread between
 * the two loses its own count (a program that allocates in handlers is outside what POSIX
 * allows; the figure is off by that block). */
static inline void table_count_chunk(int64_t bytes, int mapped)
{
    _Atomic int64_t *own = table_own_chunk_bytes;
    if (__builtin_expect(own == NULL, 0)) {
        table_count_chunk_slow(bytes, mapped);
        return;
    }
    own += mapped != 0;
    atomic_store_explicit(own, atomic_load_explicit(own, memory_order_relaxed) + bytes,
                          memory_order_relaxed);
}
uint64_t table_dropped(void);
uint64_t table_oversized(void);

#endif
