/* The live table (see table.h). Each slot is 16 bytes: the key word holds the address in its low
 * 48 bits and the birth second in the top 16; the meta word holds the size (40 bits) and the stack
 * id (24 bits). Linear probing; a removed slot becomes a tombstone so probe chains stay intact,
 * and tombstones are swept when the table is rebuilt.
 *
 * Growing: a writer marks itself busy in its stripe (a word on a cache line of its own that also
 * carries the stripe's share of the live count, so that leaving and counting are one store), then
 * checks `resizing`. The thread that grows the table raises `resizing`, makes every writer's mark
 * visible, waits for every stripe to drain, rebuilds, and lowers it: either the writer sees
 * `resizing` and backs off, or the grower sees the writer's mark and waits for it. A grower that
 * waits too long gives up and the table stays as it is: the shim never blocks a program for good.
 *
 * A thread owns a stripe of its own while it lives (taken over from an ended thread when all are
 * owned; threads beyond OWNED_STRIPES at once share the rest with locked instructions). Only its
 * owner writes an owned stripe, so marking and leaving are plain loads and stores, and the
 * store-then-load order a mark needs against `resizing` is paid by the grower alone: it calls
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which puts a full barrier in every running thread
 * of the process, after raising `resizing` and before reading the marks (as liburcu's "memb"
 * flavour does). Where membarrier cannot be had, an owned writer fences itself. A pair of
 * malloc and free then costs one locked instruction (the slot's compare-and-swap), not five.
 * A signal handler that takes a snapshot on the same thread marks the same stripe inside the
 * interrupted load and store; it leaves it as it found it, so the store that resumes is right.
 *
 * When most frees are of blocks the table never saw (sampling), a free first looks without a
 * mark, seqlock-style: `generation` is odd while a rebuild runs, and a look that saw the same
 * even generation before and after is valid. Such a look may still be reading an old slot array,
 * so old arrays are never unmapped while the shim runs: they are discarded (their pages read back
 * as zeroes) and kept in a pool that later rebuilds take from, which bounds their number by the
 * number of distinct sizes the table has had.
 *
 * Frozen (table_freeze, for the last snapshot with no other thread left): the slots become a
 * packed array of records that the scan sorts in place and reads as its blocks, so that the exit
 * scan needs no copy of them; table_thaw_empty makes it an empty table again. */
#define _GNU_SOURCE
#include "table.h"

#include "guard.h"
#include "os.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEY_EMPTY 0u
#define KEY_TOMB 1u
#define ADDR_BITS 48
#define ADDR_MASK TABLE_ADDR_MASK
#define OWNED_STRIPES 256 /* a thread's own, while it lives */
#define SHARED_STRIPES 64 /* for the threads beyond, by their index */
#define STRIPES (OWNED_STRIPES + SHARED_STRIPES)
#define CLAIM_TRIES 64    /* owners of owned stripes asked whether they still exist */
#define GROW_NUM 3 /* grow when used slots (live + tombstones) pass 3/4 */
#define GROW_DEN 4
#define BATCH 32   /* per-thread updates of the used count are folded in batches */
#define GROW_WAIT_SPINS 200000
#define POOL_MAX 64
#define HUGE_FROM (UINT64_C(8) << 20) /* bytes of slots from which huge pages are asked for */
#define INSERT_PROBES_MAX 4096 /* a longer run means the table is full in practice */
#define LIKELY_INSERTED(rc) __builtin_expect((rc) >= 0, 1)

typedef struct {
    _Atomic uint64_t key;
    _Atomic uint64_t meta;
} slot_t;

/* A writer's cache line: one word that holds its marks (writers inside, the low MARK_BITS)
 * and its share of the live count above them (blocks inserted minus removed through this stripe,
 * which may go negative when another thread frees them), so that no counter is shared between
 * threads on the hot path, and leaving and counting the block are one store (one locked
 * instruction on a shared stripe). The word read as signed: live = word >> MARK_BITS
 * (arithmetic), marks = word & MARK_MASK. owner: the thread id of an owned stripe's thread. */
typedef struct {
    _Atomic int64_t word;
    _Atomic int owner;
    _Atomic int64_t chunk_bytes[2]; /* table_count_chunk: in the heaps, mapped apart */
} __attribute__((aligned(64))) stripe_t;
#define MARK_BITS 20
#define MARK_MASK ((INT64_C(1) << MARK_BITS) - 1)
#define LIVE_ONE (INT64_C(1) << MARK_BITS)

static struct {
    slot_t *_Atomic slots;
    _Atomic size_t capacity;
    size_t max_capacity;
    _Atomic uint64_t generation; /* odd while a rebuild runs */
    int mostly_absent;           /* frees of unknown blocks are common: look before marking */
    size_t slots_bytes; /* of the current array, which may be a larger pooled one */
    struct {
        slot_t *slots;
        size_t bytes;
    } pool[POOL_MAX];
    unsigned npool;
    _Atomic size_t used; /* non-empty slots, approximately (batched) */
    _Atomic uint64_t dropped;
    _Atomic uint64_t oversized;
    _Atomic int resizing;
    _Atomic int grow_failed;
    int frozen;        /* the slots are an array of records (table_freeze); 2: sorted */
    size_t frozen_n;   /* its records, foreign ones included, once sorted */
} tb;

static stripe_t stripes[STRIPES] __attribute__((aligned(64)));
static __thread long used_pending __attribute__((tls_model("initial-exec")));
static __thread stripe_t *my_stripe __attribute__((tls_model("initial-exec")));
static __thread int my_stripe_owned __attribute__((tls_model("initial-exec")));
static int membarrier_ok; /* owned writers rely on the grower's membarrier, not a fence */
static unsigned claim_cursor;

static size_t live_count(void);

/* Blocks of one 4 KiB page go to one run of 256 slots at a place the page's number is hashed to,
 * in the order of their addresses: a program that allocates blocks next to each other (most do)
 * touches the same few cache lines of the table instead of one line a block. Pages land apart,
 * so blocks a page or more apart (mappings, large blocks) are spread as by any hash. */
static inline size_t home_slot(uint64_t addr, size_t capacity)
{
    uint64_t h = (addr >> 12) * UINT64_C(0x9e3779b97f4a7c15);
    size_t i = (size_t)(((unsigned __int128)h * capacity) >> 64) + (size_t)((addr >> 4) & 255);
    return i < capacity ? i : i % capacity;
}

static inline uint64_t pack_meta(const live_info_t *info)
{
    uint64_t size = info->size > TABLE_SIZE_MAX ? TABLE_SIZE_MAX : info->size;
    uint64_t stack = info->stack_id > TABLE_STACK_MAX ? 0 : info->stack_id;
    return size | stack << 40;
}

static inline void unpack(uint64_t key, uint64_t meta, live_info_t *out)
{
    out->size = meta & TABLE_SIZE_MAX;
    out->stack_id = (uint32_t)(meta >> 40);
    out->birth_s = (uint32_t)(key >> ADDR_BITS);
}

/* A zeroed array for capacity slots: a pooled one when one is large enough. *bytes is what
 * the array really spans. */
static slot_t *slots_alloc(size_t capacity, size_t *bytes)
{
    size_t need = capacity * sizeof(slot_t);
    for (unsigned i = 0; i < tb.npool; i++) {
        if (tb.pool[i].bytes >= need) {
            slot_t *slots = tb.pool[i].slots;
            *bytes = tb.pool[i].bytes;
            tb.pool[i] = tb.pool[--tb.npool];
            return slots;
        }
    }
    *bytes = need;
    slot_t *slots = os_map(need);
    /* a large table is touched all over (a hash): huge pages take its page faults and TLB
     * misses down by 512, where the system leaves them to madvise */
    if (slots && need >= HUGE_FROM)
        syscall(SYS_madvise, slots, need, MADV_HUGEPAGE);
    return slots;
}

/* An array no writer uses any more; an unmarked look may still read it (see the top). Without
 * unmarked looks (every free holds a mark) it can go at once, so that old arrays do not hold
 * address space that a limit (ulimit -v) would rather leave to the program. */
static void slots_retire(slot_t *slots, size_t bytes)
{
    if (!tb.mostly_absent) {
        os_unmap(slots, bytes);
        return;
    }
    os_discard(slots, bytes);
    if (tb.npool < POOL_MAX) {
        tb.pool[tb.npool].slots = slots;
        tb.pool[tb.npool++].bytes = bytes;
    }
    /* else: left mapped and forgotten; it cannot happen with fewer than POOL_MAX sizes */
}

int table_init(size_t capacity, size_t max_capacity)
{
    if (capacity < 64)
        capacity = 64;
    if (max_capacity && capacity > max_capacity)
        capacity = max_capacity;
    memset(&tb, 0, sizeof tb);
    for (int i = 0; i < STRIPES; i++) /* owners stay: a thread keeps the stripe it has */
        atomic_store(&stripes[i].word, 0);
    tb.slots = slots_alloc(capacity, &tb.slots_bytes);
    if (!tb.slots)
        return -1;
    tb.capacity = capacity;
    tb.max_capacity = max_capacity;
    membarrier_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    return 0;
}

void table_set_mostly_absent(int on)
{
    tb.mostly_absent = on;
}

void table_destroy(void)
{
    for (unsigned i = 0; i < tb.npool; i++)
        os_unmap(tb.pool[i].slots, tb.pool[i].bytes);
    tb.npool = 0;
    os_unmap(tb.slots, tb.slots_bytes);
    tb.slots = NULL;
    tb.capacity = 0;
}

void table_after_fork_child(void)
{
    for (int i = 0; i < STRIPES; i++)
        atomic_store(&stripes[i].word, atomic_load(&stripes[i].word) & ~MARK_MASK);
    atomic_store(&tb.resizing, 0);
    /* a new memory: registered again, and this thread is the only one, so the way owned writers
     * mark may change here */
    membarrier_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    if (my_stripe_owned)
        atomic_store(&my_stripe->owner, (int)syscall(SYS_gettid));
}

void table_forget_all(void)
{
    os_discard(tb.slots, tb.slots_bytes); /* reads back as empty slots */
    for (int i = 0; i < STRIPES; i++)
        atomic_store(&stripes[i].word, 0);
    atomic_store(&tb.used, 0);
    used_pending = 0;
}

/* ---- writer marks ---- */

static int thread_gone(int tid)
{
    return tid > 0 && syscall(SYS_tgkill, getpid(), tid, 0) < 0 && errno == ESRCH;
}

/* The calling thread's stripe: a free owned one, one whose thread has ended, or a shared one. */
__attribute__((cold, noinline)) static stripe_t *stripe_claim(void)
{
    int saved_errno = errno, me = (int)syscall(SYS_gettid);
    stripe_t *s = NULL;
    for (unsigned i = 0; i < OWNED_STRIPES && !s; i++) {
        int none = 0;
        if (atomic_load_explicit(&stripes[i].owner, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&stripes[i].owner, &none, me))
            s = &stripes[i];
    }
    for (unsigned n = 0; n < CLAIM_TRIES && !s; n++) {
        unsigned i = __atomic_fetch_add(&claim_cursor, 1, __ATOMIC_RELAXED) % OWNED_STRIPES;
        int owner = atomic_load(&stripes[i].owner);
        if (thread_gone(owner) && atomic_compare_exchange_strong(&stripes[i].owner, &owner, me))
            s = &stripes[i]; /* its live share stays: the sum over stripes is what counts */
    }
    errno = saved_errno;
    my_stripe_owned = s != NULL;
    if (!s)
        s = &stripes[OWNED_STRIPES + guard_slot() % SHARED_STRIPES];
    my_stripe = s;
    return s;
}

/* One more mark, ordered before the load of `resizing` that follows: on an owned stripe a plain
 * store, ordered by the grower's membarrier; without membarrier, or on a shared stripe, a locked
 * instruction. */
static inline void mark_add(stripe_t *s, int64_t delta)
{
    if (__builtin_expect(my_stripe_owned && membarrier_ok, 1)) {
        atomic_store_explicit(&s->word, atomic_load_explicit(&s->word, memory_order_relaxed) + delta,
                              memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    } else {
        atomic_fetch_add(&s->word, delta); /* a full barrier of its own */
    }
}

static inline stripe_t *writer_enter(void)
{
    stripe_t *s = my_stripe;
    if (__builtin_expect(!s, 0))
        s = stripe_claim();
    for (;;) {
        mark_add(s, 1);
        if (__builtin_expect(!atomic_load(&tb.resizing), 1))
            return s;
        mark_add(s, -1);
        while (atomic_load_explicit(&tb.resizing, memory_order_relaxed))
            sched_yield();
    }
}

/* live_delta: +1 a block inserted, -1 removed, 0 neither. Release: the grower that sees the mark
 * gone sees the slot written. */
static inline void writer_leave(stripe_t *s, int live_delta)
{
    int64_t delta = live_delta * LIVE_ONE - 1;
    if (__builtin_expect(my_stripe_owned, 1))
        atomic_store_explicit(&s->word, atomic_load_explicit(&s->word, memory_order_relaxed) + delta,
                              memory_order_release);
    else
        atomic_fetch_add_explicit(&s->word, delta, memory_order_release);
}

/* ---- the allocator's chunks (table_count_chunk) ---- */

__thread _Atomic int64_t *table_own_chunk_bytes __attribute__((tls_model("initial-exec")));

void table_count_chunk_slow(int64_t bytes, int mapped)
{
    stripe_t *s = my_stripe;
    if (!s)
        s = stripe_claim();
    if (my_stripe_owned) { /* from now on, the inline path */
        table_own_chunk_bytes = s->chunk_bytes;
        table_count_chunk(bytes, mapped);
        return;
    }
    atomic_fetch_add_explicit(&s->chunk_bytes[mapped != 0], bytes, memory_order_relaxed);
}

void table_chunk_totals(uint64_t *heap, uint64_t *mapped)
{
    int64_t sum[2] = {0, 0};
    for (int i = 0; i < STRIPES; i++)
        for (int k = 0; k < 2; k++)
            sum[k] += atomic_load_explicit(&stripes[i].chunk_bytes[k], memory_order_relaxed);
    *heap = sum[0] > 0 ? (uint64_t)sum[0] : 0; /* a thread's share may be read mid-update */
    *mapped = sum[1] > 0 ? (uint64_t)sum[1] : 0;
}

/* ---- growing ---- */

/* 0 drained; -1 writers stayed too long; -2 their marks cannot be seen (membarrier refused
 * after it was granted: a seccomp filter installed later), which will not change. */
static int wait_writers_drained(void)
{
    /* every owned writer's mark, stored without a fence, is visible after this (see the top) */
    if (membarrier_ok && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        return -2;
    for (long spin = 0; spin < GROW_WAIT_SPINS; spin++) {
        int busy = 0;
        for (int i = 0; i < STRIPES; i++)
            busy |= (atomic_load(&stripes[i].word) & MARK_MASK) != 0;
        if (!busy)
            return 0;
        sched_yield();
    }
    return -1;
}

#define DISCARD_CHUNK 131072 /* slots: 2 MiB, a huge page (a smaller piece would split one) */

/* Moves every live slot into fresh. The old array is given back to the kernel chunk by chunk as
 * it is read, so that growing never holds both arrays in memory at once; an unmarked look that
 * reads a discarded chunk sees zeroes and retries, as the generation has changed. */
static void rebuild_into(slot_t *fresh, size_t capacity)
{
    size_t used = 0;
    for (size_t i = 0; i < tb.capacity; i++) {
        if (i % DISCARD_CHUNK == 0 && i >= DISCARD_CHUNK)
            os_discard(&tb.slots[i - DISCARD_CHUNK], DISCARD_CHUNK * sizeof(slot_t));
        uint64_t key = atomic_load_explicit(&tb.slots[i].key, memory_order_relaxed);
        if (key == KEY_EMPTY || key == KEY_TOMB)
            continue;
        size_t j = home_slot(key & ADDR_MASK, capacity);
        while (atomic_load_explicit(&fresh[j].key, memory_order_relaxed) != KEY_EMPTY)
            j = j + 1 == capacity ? 0 : j + 1;
        atomic_store_explicit(&fresh[j].key, key, memory_order_relaxed);
        atomic_store_explicit(&fresh[j].meta,
                              atomic_load_explicit(&tb.slots[i].meta, memory_order_relaxed),
                              memory_order_relaxed);
        used++;
    }
    atomic_store(&tb.used, used);
}

/* Growing keeps the old array mapped until the new one is filled: both must fit the budget. */
static int within_budget(size_t capacity)
{
    size_t budget = os_budget();
    return budget == SIZE_MAX || tb.slots_bytes + capacity * sizeof(slot_t) <= budget;
}

__attribute__((cold, noinline)) static void table_grow(void)
{
    if (atomic_exchange(&tb.resizing, 1))
        return; /* another thread is growing it */
    int drained = wait_writers_drained();
    if (drained == 0) {
        size_t live = live_count();
        size_t capacity = tb.capacity;
        /* room for twice the live blocks: loads stay between 1/2 and 3/4, 16 bytes a slot, so
         * 21 to 32 bytes a live block; tombstones alone only need a sweep at the same size */
        if (capacity < live * 2 + 64)
            capacity = live * 2 + 64;
        if (tb.max_capacity && capacity > tb.max_capacity)
            capacity = tb.max_capacity;
        size_t fresh_bytes;
        slot_t *fresh = within_budget(capacity) ? slots_alloc(capacity, &fresh_bytes) : NULL;
        if (fresh) {
            atomic_fetch_add(&tb.generation, 1);
            rebuild_into(fresh, capacity);
            slot_t *old = tb.slots;
            size_t old_bytes = tb.slots_bytes;
            tb.slots = fresh;
            tb.slots_bytes = fresh_bytes;
            tb.capacity = capacity;
            atomic_fetch_add(&tb.generation, 1);
            slots_retire(old, old_bytes);
        } else {
            atomic_store(&tb.grow_failed, 1);
            os_notice_once(NOTICE_TABLE_FULL, "no memory to grow the live table past %zu slots "
                           "(an address-space limit, ulimit -v?); blocks beyond are not tracked",
                           tb.capacity);
        }
    } else if (drained == -2) {
        atomic_store(&tb.grow_failed, 1);
        os_notice_once(NOTICE_TABLE_FULL, "membarrier refused: the live table cannot grow past %zu "
                       "slots; blocks beyond are not tracked", tb.capacity);
    } else {
        os_log("live table: writers did not drain, not growing now");
    }
    atomic_store(&tb.resizing, 0);
}

static inline void note_used(long delta)
{
    used_pending += delta;
    if (used_pending >= BATCH) {
        atomic_fetch_add_explicit(&tb.used, (size_t)used_pending, memory_order_relaxed);
        used_pending = 0;
    }
}

/* A rebuild makes room unless the table is at its size limit and really that full of live
 * blocks, or memory for a bigger one could not be had. */
static int growth_can_help(void)
{
    if (atomic_load_explicit(&tb.grow_failed, memory_order_relaxed))
        return 0;
    return !(tb.max_capacity && tb.capacity >= tb.max_capacity &&
             live_count() * GROW_DEN >= tb.capacity * GROW_NUM);
}

static inline int needs_growth(void)
{
    size_t used = atomic_load_explicit(&tb.used, memory_order_relaxed);
    return used * GROW_DEN >= tb.capacity * GROW_NUM && growth_can_help();
}

/* ---- operations ---- */

/* One attempt: 0 inserted, 1 inserted into a fresh slot (the used count grows), -1 no free slot
 * within the probe limit. */
static int try_insert(uint64_t key, uint64_t meta)
{
    stripe_t *s = writer_enter();
    slot_t *slots = tb.slots;
    size_t capacity = tb.capacity;
    size_t i = home_slot(key & ADDR_MASK, capacity);
    size_t probes = capacity < INSERT_PROBES_MAX ? capacity : INSERT_PROBES_MAX;
    int rc = -1;
    for (size_t n = 0; n < probes; n++) {
        uint64_t k = atomic_load_explicit(&slots[i].key, memory_order_relaxed);
        if ((k == KEY_EMPTY || k == KEY_TOMB) &&
            atomic_compare_exchange_strong(&slots[i].key, &k, key)) {
            atomic_store_explicit(&slots[i].meta, meta, memory_order_release);
            rc = k == KEY_EMPTY;
            break;
        }
        i = i + 1 == capacity ? 0 : i + 1;
    }
    writer_leave(s, rc >= 0);
    return rc;
}

int table_insert(uint64_t addr, const live_info_t *info)
{
    if (addr <= KEY_TOMB || addr > ADDR_MASK || __builtin_expect(tb.frozen, 0)) {
        atomic_fetch_add_explicit(&tb.dropped, 1, memory_order_relaxed);
        return -1;
    }
    if (info->size > TABLE_SIZE_MAX)
        atomic_fetch_add_explicit(&tb.oversized, 1, memory_order_relaxed);
    uint64_t birth = info->birth_s > TABLE_BIRTH_MAX ? TABLE_BIRTH_MAX : info->birth_s;
    uint64_t key = addr | birth << ADDR_BITS;
    uint64_t meta = pack_meta(info);
    int rc = try_insert(key, meta);
    if (LIKELY_INSERTED(rc)) {
        if (rc == 1) {
            note_used(1);
            if (__builtin_expect(used_pending == 0 && needs_growth(), 0))
                table_grow();
        }
        return 0;
    }
    /* No room where this address probes: the batched used count lagged behind, or tombstones
     * fill the table. Growing (or sweeping at the same size) makes room, unless the table is at
     * its limit or other threads would not let it be rebuilt. */
    for (int attempt = 0; attempt < 2 && growth_can_help(); attempt++) {
        table_grow();
        if (try_insert(key, meta) >= 0)
            return 0;
    }
    atomic_fetch_add_explicit(&tb.dropped, 1, memory_order_relaxed);
    os_notice_once(NOTICE_TABLE_FULL, "the live table is full (IMGLEAK_MAX_LIVE, or no memory); "
                   "blocks beyond are not tracked");
    return -1;
}

/* Finds addr's slot; the caller holds a writer mark. */
static inline slot_t *find(uint64_t addr)
{
    slot_t *slots = tb.slots;
    size_t capacity = tb.capacity;
    size_t i = home_slot(addr, capacity);
    for (size_t n = 0; n < capacity; n++) {
        uint64_t k = atomic_load_explicit(&slots[i].key, memory_order_acquire);
        if (k == KEY_EMPTY)
            return NULL;
        if (k != KEY_TOMB && (k & ADDR_MASK) == addr)
            return &slots[i];
        i = i + 1 == capacity ? 0 : i + 1;
    }
    return NULL;
}

/* 1 when addr may be in the table: a look without a writer mark (see the top of the file). */
static int maybe_present(uint64_t addr)
{
    for (int tries = 0; tries < 4; tries++) {
        uint64_t gen = atomic_load_explicit(&tb.generation, memory_order_acquire);
        if (gen & 1)
            continue;
        slot_t *slots = atomic_load_explicit(&tb.slots, memory_order_acquire);
        size_t capacity = atomic_load_explicit(&tb.capacity, memory_order_acquire);
        size_t i = home_slot(addr, capacity);
        int found = 0;
        for (size_t n = 0; n < capacity; n++) {
            uint64_t k = atomic_load_explicit(&slots[i].key, memory_order_acquire);
            if (k == KEY_EMPTY)
                break;
            if (k != KEY_TOMB && (k & ADDR_MASK) == addr) {
                found = 1;
                break;
            }
            i = i + 1 == capacity ? 0 : i + 1;
        }
        /* the slot loads above are acquires, so this load cannot be done before them */
        if (atomic_load_explicit(&tb.generation, memory_order_acquire) == gen)
            return found;
    }
    return 1; /* the table kept changing: let the marked path decide */
}

int table_remove(uint64_t addr, live_info_t *out)
{
    if (addr <= KEY_TOMB || addr > ADDR_MASK || __builtin_expect(tb.frozen, 0))
        return 0;
    if (tb.mostly_absent && !maybe_present(addr))
        return 0;
    stripe_t *s = writer_enter();
    slot_t *slot = find(addr);
    if (slot) {
        uint64_t key = atomic_load_explicit(&slot->key, memory_order_relaxed);
        unpack(key, atomic_load_explicit(&slot->meta, memory_order_acquire), out);
        atomic_store_explicit(&slot->key, KEY_TOMB, memory_order_release);
    }
    writer_leave(s, slot ? -1 : 0);
    return slot != NULL;
}

static const table_rec_t *frozen_find(uint64_t addr);

int table_lookup(uint64_t addr, live_info_t *out)
{
    if (addr <= KEY_TOMB || addr > ADDR_MASK)
        return 0;
    if (tb.frozen) {
        const table_rec_t *r = tb.frozen == 2 ? frozen_find(addr) : NULL;
        if (r)
            unpack(r->key, r->meta, out);
        return r != NULL;
    }
    stripe_t *s = writer_enter();
    slot_t *slot = find(addr);
    if (slot)
        unpack(atomic_load_explicit(&slot->key, memory_order_relaxed),
               atomic_load_explicit(&slot->meta, memory_order_acquire), out);
    writer_leave(s, 0);
    return slot != NULL;
}

void table_foreach(table_visit_fn visit, void *ctx)
{
    if (tb.frozen) {
        const table_rec_t *recs = (const table_rec_t *)tb.slots;
        for (size_t i = 0; tb.frozen == 2 && i < tb.frozen_n; i++) {
            if (table_rec_stack(&recs[i]) == TABLE_STACK_FOREIGN)
                continue;
            live_info_t info;
            unpack(recs[i].key, recs[i].meta, &info);
            visit(table_rec_addr(&recs[i]), &info, ctx);
        }
        return;
    }
    stripe_t *s = writer_enter(); /* holds growth off while the slots are walked */
    slot_t *slots = tb.slots;
    for (size_t i = 0; i < tb.capacity; i++) {
        uint64_t k = atomic_load_explicit(&slots[i].key, memory_order_acquire);
        if (k == KEY_EMPTY || k == KEY_TOMB)
            continue;
        live_info_t info;
        unpack(k, atomic_load_explicit(&slots[i].meta, memory_order_acquire), &info);
        visit(k & ADDR_MASK, &info, ctx);
    }
    writer_leave(s, 0);
}

size_t table_copy_records(table_rec_t *out, size_t cap, uint64_t *missed)
{
    stripe_t *s = writer_enter(); /* holds growth off while the slots are walked */
    slot_t *slots = tb.slots;
    size_t n = 0;
    for (size_t i = 0; i < tb.capacity; i++) {
        uint64_t k = atomic_load_explicit(&slots[i].key, memory_order_acquire);
        if (k == KEY_EMPTY || k == KEY_TOMB)
            continue;
        if (n == cap) {
            ++*missed;
            continue;
        }
        out[n].key = k;
        out[n++].meta = atomic_load_explicit(&slots[i].meta, memory_order_acquire);
    }
    writer_leave(s, 0);
    return n;
}

/* ---- frozen: the last snapshot's array of records, in the slots' own memory ---- */

size_t table_freeze(table_rec_t **recs, size_t room)
{
    *recs = NULL;
    size_t live = live_count(); /* exact: no other thread is inside */
    if (tb.frozen || live + room > tb.capacity)
        return 0;
    slot_t *slots = tb.slots;
    size_t n = 0;
    for (size_t i = 0; i < tb.capacity && n < live; i++) {
        uint64_t k = atomic_load_explicit(&slots[i].key, memory_order_relaxed);
        if (k == KEY_EMPTY || k == KEY_TOMB)
            continue;
        if (n != i) {
            atomic_store_explicit(&slots[n].key, k, memory_order_relaxed);
            atomic_store_explicit(&slots[n].meta,
                                  atomic_load_explicit(&slots[i].meta, memory_order_relaxed),
                                  memory_order_relaxed);
        }
        n++;
    }
    uintptr_t used_end = ((uintptr_t)&slots[n + room] + 4095) & ~(uintptr_t)4095,
              end = (uintptr_t)slots + tb.slots_bytes;
    if (end > used_end)
        os_discard((void *)used_end, end - used_end);
    tb.frozen = 1;
    *recs = (table_rec_t *)slots;
    return n;
}

void table_frozen_sorted(size_t total)
{
    tb.frozen_n = total;
    tb.frozen = 2;
}

static const table_rec_t *frozen_find(uint64_t addr)
{
    const table_rec_t *recs = (const table_rec_t *)tb.slots;
    size_t lo = 0, hi = tb.frozen_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table_rec_addr(&recs[mid]) < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < tb.frozen_n && table_rec_addr(&recs[lo]) == addr &&
        table_rec_stack(&recs[lo]) != TABLE_STACK_FOREIGN)
        return &recs[lo];
    return NULL;
}

void table_thaw_empty(void)
{
    if (!tb.frozen)
        return;
    os_discard(tb.slots, tb.slots_bytes); /* reads back as empty slots */
    for (int i = 0; i < STRIPES; i++) /* marks stay: an interrupted writer still holds its own */
        atomic_store(&stripes[i].word, atomic_load(&stripes[i].word) & MARK_MASK);
    atomic_store(&tb.used, 0);
    used_pending = 0;
    tb.frozen_n = 0;
    tb.frozen = 0;
}

static size_t live_count(void)
{
    long sum = 0;
    for (int i = 0; i < STRIPES; i++)
        sum += atomic_load_explicit(&stripes[i].word, memory_order_relaxed) >> MARK_BITS;
    return sum > 0 ? (size_t)sum : 0;
}

size_t table_live(void)
{
    return live_count();
}

size_t table_capacity(void)
{
    return tb.capacity;
}

uint64_t table_dropped(void)
{
    return atomic_load(&tb.dropped);
}

uint64_t table_oversized(void)
{
    return atomic_load(&tb.oversized);
}
