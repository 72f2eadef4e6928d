/* Sampling for production (IMGLEAK_SAMPLE=BYTES): a heap allocation is recorded when a point of
 * a Poisson process with one point per BYTES bytes on average falls inside it, as the Go and
 * tcmalloc heap profilers do. A block of size s is then recorded with probability
 * 1 - exp(-s / BYTES), which the analyzer inverts to estimate what was not recorded. The fast
 * path is one subtraction on a thread-local counter.
 *
 * Nearly every free is then of a block that was not recorded. The sampler keeps, per bucket of
 * addresses (a hash of the address), how many recorded blocks are live there, so that such a
 * free is told apart with one load from a 4 KiB array that stays in cache, instead of a look
 * into the live table (whose probe runs grow with its tombstones). A bucket counts to 255 and
 * then stays there: its frees are always looked up. */
#ifndef IMGLEAK_SAMPLER_H
#define IMGLEAK_SAMPLER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SAMPLER_BUCKET_BITS 12

extern uint64_t sampler_mean; /* 0: record everything */
extern __thread int64_t sampler_until __attribute__((tls_model("initial-exec")));
extern _Atomic uint8_t sampler_recorded[1u << SAMPLER_BUCKET_BITS];

void sampler_init(uint64_t mean_bytes);
int sampler_slow(size_t size) __attribute__((cold));
/* Around the live table's insert and remove of a sampled block: counted before it is inserted
 * (so that a thread the program hands the block to finds it counted), and after it is removed
 * or could not be inserted. Only while sampling. */
void sampler_note_recorded(uintptr_t addr);
void sampler_note_forgotten(uintptr_t addr);
/* In a forked child whose live table was emptied: nothing is recorded any more. */
void sampler_forget_all(void);

/* 1 when this allocation of size bytes is to be recorded. */
static inline int sampler_take(size_t size)
{
    if (__builtin_expect(sampler_mean == 0, 1))
        return 1;
    sampler_until -= (int64_t)size;
    if (__builtin_expect(sampler_until > 0, 1))
        return 0;
    return sampler_slow(size);
}

static inline unsigned sampler_bucket(uintptr_t addr)
{
    return (unsigned)(((uint64_t)addr >> 4) * UINT64_C(0x9e3779b97f4a7c15) >> (64 - SAMPLER_BUCKET_BITS));
}

/* 0 when the block at addr is certainly not in the live table: sampling, and no recorded block
 * is live in its bucket. */
static inline int sampler_may_have_recorded(uintptr_t addr)
{
    if (__builtin_expect(sampler_mean == 0, 1))
        return 1;
    return atomic_load_explicit(&sampler_recorded[sampler_bucket(addr)], memory_order_relaxed) != 0;
}

#endif
