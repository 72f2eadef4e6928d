/* The per-thread stack cache: the stack id of a call chain seen before on this thread, found
 * without unwinding or interning. An entry remembers, for each frame of a captured stack, the
 * return address and the stack slot it was read from; a later call whose own return slot is the
 * same is given the entry's id when every remembered slot still holds its return address and the
 * thread's frame key (guard.h) is what it was. Any difference is a miss, and the caller unwinds.
 *
 * What a frame source beyond the native unwind must do (Go's cgo frames, interpreter frames, the
 * input being decoded): its frames are not on the native stack, so equal native chains may have
 * different stacks. Either it changes imgleak_guard.frame_key whenever its frames or key change
 * (the key is part of every entry), or unwind_capture_slots reports the capture as not cacheable
 * (as it does for every stack that goes through a cgo call). */
#ifndef IMGLEAK_STACKCACHE_H
#define IMGLEAK_STACKCACHE_H

#include <stdint.h>

#include "guard.h"

typedef struct stackcache stackcache_t;
extern __thread stackcache_t *stackcache_mine __attribute__((tls_model("initial-exec")));

/* Sizes the entries for stacks of at most depth frames; before the first look-up. */
void stackcache_init(unsigned depth);
/* 1 and *id, *truncated set when the chain above ret_slot (the slot holding the return address
 * into the program) is the one an entry holds. */
int stackcache_lookup(uintptr_t ret_slot, uint32_t *id, int *truncated);
/* 1 when a miss should be captured with its slots and filled in: the thread's recent hit rate
 * makes it worth the slower walk. */
int stackcache_wants_fill(void);
/* Remembers a capture: frames[i] was read from slots[i]; slots[0] is the program's return slot. */
void stackcache_fill(const uint64_t *frames, const uint64_t *slots, unsigned depth, int truncated,
                     uint32_t id);
/* A heap block's counts for its stack, held back in the thread's cache (plain stores) and added
 * to the stack's own counters when the entry is wanted for another stack or the cache is taken
 * over; without a cache, added at once. Only with the guard up, never from a path a signal
 * handler may run while the guard is up (mappings count through stacks.h directly). */
void stackcache_count_alloc(uint32_t id, uint64_t bytes);
void stackcache_count_free(uint32_t id, uint64_t bytes);
/* For a snapshot: sums what every thread holds back (begin), adds id's share to the counts given
 * (of), and lets the sums go (end). One snapshot at a time. A thread that flushes an entry while
 * the sums are taken may have it counted in neither place for that snapshot, as a snapshot taken
 * while threads allocate never sees one instant; at exit, and in the sentinel, the threads are
 * stopped or gone and the sums are exact. Without memory for the sums, they are left out. */
void stackcache_pending_begin(void);
void stackcache_pending_of(uint32_t id, uint64_t *allocs, uint64_t *frees, uint64_t *alloc_bytes,
                           uint64_t *free_bytes);
void stackcache_pending_end(void);
/* In a forked child: the calling thread's cache is its own under its new thread id. */
void stackcache_after_fork_child(void);

#endif
