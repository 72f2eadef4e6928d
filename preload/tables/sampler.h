/* Sampling for production (IMGLEAK_SAMPLE=BYTES): a heap allocation is recorded when a point of
 * a Poisson process with one point per BYTES bytes on average falls inside it, as the Go and
 * tcmalloc heap profilers do. A block of size s is then recorded with probability
 * 1 - exp(-s / BYTES), which the analyzer inverts to estimate what was not recorded. The fast
 * path is one subtraction on a thread-local counter. */
#ifndef IMGLEAK_SAMPLER_H
#define IMGLEAK_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

extern uint64_t sampler_mean; /* 0: record everything */
extern __thread int64_t sampler_until __attribute__((tls_model("initial-exec")));

void sampler_init(uint64_t mean_bytes);
int sampler_slow(size_t size) __attribute__((cold));

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

#endif
