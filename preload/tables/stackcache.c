/* The per-thread stack cache (see stackcache.h). Each thread owns one cache, mapped on its first
 * tracked allocation: SETS x WAYS entries, a set chosen by a tag of (return slot, return address,
 * frame key), the set's tags on one cache line so that a look-up reads one line before it reads
 * any entry. An entry holds (slot, return address) pairs for the whole captured stack.
 *
 * Why re-reading the slots proves the chain: a frame's return address fixes the function it
 * returns into and the point in it, which fixes where that function's own return address lies
 * (its frame size there); so if the innermost slot is the same and holds the same address, the
 * next slot is the same place, and so on up. Only slots inside the thread's own registered stack
 * are ever remembered or read (never an alternate signal stack or a coroutine's stack, which may
 * be gone), and a capture that went through a signal frame or a cgo call is not remembered.
 *
 * The cache also holds back the thread's counts for up to PENDING stacks (see pending_t).
 *
 * A thread's cache outlives it: caches are on one list, and a new thread takes over the cache of
 * a thread that no longer exists before it maps a new one. Entries are filled only while they
 * pay: a window in which most look-ups missed turns filling off for a while (a program whose
 * stacks are all new then pays only the look-up). */
#define _GNU_SOURCE
#include "stackcache.h"

#include "os.h"
#include "stacks.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SETS 32u
#define WAYS 8u
#define WINDOW 256u        /* look-ups per judgement of the hit rate */
#define NOFILL_SPAN 4096u  /* look-ups without filling after a window that mostly missed */
#define CLAIM_TRIES 8      /* caches of ended threads looked at before mapping a new one */
#define PENDING 64         /* stacks whose counts a thread holds back, by id modulo this */

typedef struct {
    uint64_t slot, frame;
} cached_frame_t;

/* A stack's counts that this thread has not yet added to the stack's own: a thread allocating at
 * a site shared with other threads would otherwise take that cache line from them at every
 * call. Only this thread writes an entry (plain loads and stores, no locked instruction); a
 * snapshot reads them all (stackcache_pending_*). */
typedef struct {
    _Atomic uint32_t id; /* 0: empty */
    _Atomic uint64_t n[4]; /* allocations, frees, bytes allocated, bytes freed */
} __attribute__((aligned(64))) pending_t; /* one line each: a site's counts never straddle two */

typedef struct {
    uint64_t key; /* the thread's frame key when captured */
    uint32_t id;
    uint16_t depth;
    uint16_t truncated;
    cached_frame_t f[]; /* f[0].slot: the program's return slot */
} entry_t;

struct stackcache {
    uint64_t tags[SETS][WAYS]; /* 0: empty */
    _Atomic int owner;         /* thread id */
    stackcache_t *next;        /* the list of every cache */
    size_t bytes;
    uint64_t stack_lo, stack_hi;
    uint32_t lookups, misses; /* in the current window */
    uint32_t nofill;          /* look-ups left before filling again */
    uint8_t victim[SETS];
    pending_t pending[PENDING];
    char entries[] __attribute__((aligned(64)));
};

__thread stackcache_t *stackcache_mine __attribute__((tls_model("initial-exec")));
static __thread int stackcache_refused __attribute__((tls_model("initial-exec")));
static stackcache_t *_Atomic all_caches;
static unsigned depth_limit = 32;
static size_t entry_stride;

void stackcache_init(unsigned depth)
{
    depth_limit = depth;
    entry_stride = (sizeof(entry_t) + depth * sizeof(cached_frame_t) + 63) & ~(size_t)63;
}

static entry_t *entry_at(stackcache_t *c, unsigned set, unsigned way)
{
    return (entry_t *)(c->entries + (set * WAYS + way) * entry_stride);
}

static int tid_now(void)
{
    return (int)syscall(SYS_gettid);
}

static int thread_gone(int tid)
{
    return tid > 0 && syscall(SYS_tgkill, getpid(), tid, 0) < 0 && errno == ESRCH;
}

static void flush(pending_t *p)
{
    uint32_t id = atomic_load_explicit(&p->id, memory_order_relaxed);
    if (!id)
        return;
    uint64_t n[4];
    for (int k = 0; k < 4; k++)
        n[k] = atomic_load_explicit(&p->n[k], memory_order_relaxed);
    stacks_count_add(id, n[0], n[1], n[2], n[3]);
    /* the id goes first: a snapshot that sees the id and then zeroes counts nothing twice */
    atomic_store_explicit(&p->id, 0, memory_order_release);
    for (int k = 0; k < 4; k++)
        atomic_store_explicit(&p->n[k], 0, memory_order_relaxed);
}

static void flush_all(stackcache_t *c)
{
    for (unsigned i = 0; i < PENDING; i++)
        flush(&c->pending[i]);
}

/* The calling thread's cache: one an ended thread left, emptied, or a new one. */
__attribute__((cold, noinline)) static stackcache_t *claim(void)
{
    if (stackcache_refused || !entry_stride || !imgleak_guard.stack_hi)
        return NULL;
    int me = tid_now(), saved_errno = errno;
    stackcache_t *c = atomic_load(&all_caches);
    for (int tries = 0; c && tries < CLAIM_TRIES; c = c->next, tries++) {
        int owner = atomic_load(&c->owner);
        if (thread_gone(owner) && atomic_compare_exchange_strong(&c->owner, &owner, me)) {
            /* an empty tag marks an empty entry: the entries themselves need no clearing */
            memset(c->tags, 0, sizeof c->tags);
            flush_all(c);
            memset(c->victim, 0, sizeof c->victim);
            c->lookups = c->misses = c->nofill = 0;
            break;
        }
    }
    errno = saved_errno;
    if (!c) {
        size_t bytes = sizeof(stackcache_t) + SETS * WAYS * entry_stride;
        c = os_map(bytes);
        if (!c) {
            stackcache_refused = 1;
            return NULL;
        }
        c->bytes = bytes;
        atomic_store(&c->owner, me);
        stackcache_t *head = atomic_load(&all_caches);
        do
            c->next = head;
        while (!atomic_compare_exchange_weak(&all_caches, &head, c));
    }
    c->stack_lo = imgleak_guard.stack_lo;
    c->stack_hi = imgleak_guard.stack_hi;
    stackcache_mine = c;
    return c;
}

void stackcache_after_fork_child(void)
{
    if (stackcache_mine)
        atomic_store(&stackcache_mine->owner, tid_now());
}

static inline uint64_t tag_of(uint64_t ret_slot, uint64_t ret, uint64_t key)
{
    uint64_t h = (ret_slot ^ (ret * UINT64_C(0x9e3779b97f4a7c15)) ^ (key * UINT64_C(0xc2b2ae3d27d4eb4f)));
    h ^= h >> 31;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 29;
    return h | 1;
}

static inline unsigned set_of(uint64_t tag)
{
    return (unsigned)(tag >> 58) & (SETS - 1);
}

/* Every remembered slot still holds its return address. The slots lie in this thread's own
 * stack above the current return slot (checked when the entry was filled, and the return slot
 * is the same now): they are the live frames of the callers, readable. */
static inline int entry_holds(const entry_t *e)
{
    for (unsigned i = 1; i < e->depth; i++)
        if (*(const volatile uint64_t *)(uintptr_t)e->f[i].slot != e->f[i].frame)
            return 0;
    return 1;
}

static void judge_window(stackcache_t *c)
{
    if (c->misses * 2 > c->lookups)
        c->nofill = NOFILL_SPAN;
    c->lookups = c->misses = 0;
}

int stackcache_lookup(uintptr_t ret_slot, uint32_t *id, int *truncated)
{
    stackcache_t *c = stackcache_mine;
    if (__builtin_expect(!c, 0) && !(c = claim()))
        return 0;
    if (ret_slot < c->stack_lo || ret_slot + 8 > c->stack_hi || (ret_slot & 7))
        return 0;
    uint64_t ret = *(const uint64_t *)ret_slot, key = imgleak_guard.frame_key;
    uint64_t tag = tag_of(ret_slot, ret, key);
    unsigned set = set_of(tag);
    for (unsigned w = 0; w < WAYS; w++) {
        if (c->tags[set][w] != tag)
            continue;
        const entry_t *e = entry_at(c, set, w);
        if (e->f[0].slot == ret_slot && e->f[0].frame == ret && e->key == key && entry_holds(e)) {
            *id = e->id;
            *truncated = e->truncated;
            if (!c->nofill && ++c->lookups == WINDOW)
                judge_window(c);
            return 1;
        }
    }
    if (c->nofill) {
        c->nofill--;
    } else {
        c->misses++;
        if (++c->lookups == WINDOW)
            judge_window(c);
    }
    return 0;
}

int stackcache_wants_fill(void)
{
    stackcache_t *c = stackcache_mine;
    return c && !c->nofill;
}

void stackcache_fill(const uint64_t *frames, const uint64_t *slots, unsigned depth, int truncated,
                     uint32_t id)
{
    stackcache_t *c = stackcache_mine;
    if (!c || depth == 0 || depth > depth_limit || id == 0)
        return;
    for (unsigned i = 0; i < depth; i++)
        if (slots[i] < c->stack_lo || slots[i] + 8 > c->stack_hi || (slots[i] & 7) ||
            (i > 0 && slots[i] <= slots[i - 1]))
            return; /* not all in this thread's stack, in order: never remembered */
    uint64_t tag = tag_of(slots[0], frames[0], imgleak_guard.frame_key);
    unsigned set = set_of(tag), way = c->victim[set]++ % WAYS;
    entry_t *e = entry_at(c, set, way);
    c->tags[set][way] = 0;
    e->key = imgleak_guard.frame_key;
    e->id = id;
    e->depth = (uint16_t)depth;
    e->truncated = (uint16_t)(truncated != 0);
    for (unsigned i = 0; i < depth; i++) {
        e->f[i].slot = slots[i];
        e->f[i].frame = frames[i];
    }
    c->tags[set][way] = tag;
}

/* ---- counts held back ---- */

/* The calling thread's entry for id's counts, taken over from another stack if need be; NULL
 * without a cache. */
static inline pending_t *pending_for(uint32_t id)
{
    stackcache_t *c = stackcache_mine;
    if (__builtin_expect(!c, 0))
        return NULL;
    pending_t *p = &c->pending[id % PENDING];
    if (__builtin_expect(atomic_load_explicit(&p->id, memory_order_relaxed) != id, 0)) {
        flush(p);
        /* counts before the id: a snapshot never adds another stack's counts to this one */
        atomic_store_explicit(&p->id, id, memory_order_release);
    }
    return p;
}

/* Only this thread writes the entry: a plain load and store, no locked instruction. */
static inline void bump(_Atomic uint64_t *n, uint64_t add)
{
    atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + add, memory_order_relaxed);
}

void stackcache_count_alloc(uint32_t id, uint64_t bytes)
{
    if (!id)
        return;
    pending_t *p = pending_for(id);
    if (!p) {
        stacks_count_add(id, 1, 0, bytes, 0);
        return;
    }
    bump(&p->n[0], 1);
    bump(&p->n[2], bytes);
}

void stackcache_count_free(uint32_t id, uint64_t bytes)
{
    if (!id)
        return;
    pending_t *p = pending_for(id);
    if (!p) {
        stacks_count_add(id, 0, 1, 0, bytes);
        return;
    }
    bump(&p->n[1], 1);
    bump(&p->n[3], bytes);
}

/* The snapshot's sum of what every thread holds back: an open-addressing table by stack id, in
 * memory of its own, filled once per snapshot. */
typedef struct {
    uint32_t id;
    uint64_t n[4];
} pending_sum_t;

static pending_sum_t *sums;
static size_t sums_capacity, sums_bytes;

static pending_sum_t *sum_slot(uint32_t id)
{
    size_t mask = sums_capacity - 1;
    for (size_t i = (id * UINT64_C(0x9e3779b97f4a7c15)) >> 40 & mask;; i = (i + 1) & mask)
        if (sums[i].id == id || sums[i].id == 0)
            return &sums[i];
}

void stackcache_pending_begin(void)
{
    size_t entries = 0;
    for (stackcache_t *c = atomic_load(&all_caches); c; c = c->next)
        entries += PENDING;
    sums_capacity = 64;
    while (sums_capacity < 2 * entries)
        sums_capacity *= 2;
    sums_bytes = sums_capacity * sizeof *sums;
    sums = os_map(sums_bytes);
    if (!sums)
        return; /* then the counts held back are left out: said in stackcache.h */
    for (stackcache_t *c = atomic_load(&all_caches); c; c = c->next) {
        for (unsigned i = 0; i < PENDING; i++) {
            pending_t *p = &c->pending[i];
            uint32_t id = atomic_load_explicit(&p->id, memory_order_acquire);
            if (!id)
                continue;
            uint64_t n[4];
            for (int k = 0; k < 4; k++)
                n[k] = atomic_load_explicit(&p->n[k], memory_order_relaxed);
            if (atomic_load_explicit(&p->id, memory_order_acquire) != id)
                continue; /* flushed meanwhile: the stack's own counts have it */
            pending_sum_t *s = sum_slot(id);
            s->id = id;
            for (int k = 0; k < 4; k++)
                s->n[k] += n[k];
        }
    }
}

void stackcache_pending_of(uint32_t id, uint64_t *allocs, uint64_t *frees, uint64_t *alloc_bytes,
                           uint64_t *free_bytes)
{
    if (!sums || !id)
        return;
    const pending_sum_t *s = sum_slot(id);
    if (s->id != id)
        return;
    *allocs += s->n[0];
    *frees += s->n[1];
    *alloc_bytes += s->n[2];
    *free_bytes += s->n[3];
}

void stackcache_pending_end(void)
{
    if (sums)
        os_unmap(sums, sums_bytes);
    sums = NULL;
}
