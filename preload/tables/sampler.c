/* The sampler and its count of recorded blocks by address (see sampler.h). Each thread draws
 * exponentially distributed gaps from its own xorshift generator; a gap starts afresh at the end
 * of a sampled block, which the exponential distribution's lack of memory makes exact. */
#include "sampler.h"

#include <math.h>
#include <time.h>

uint64_t sampler_mean;
__thread int64_t sampler_until __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng __attribute__((tls_model("initial-exec")));

void sampler_init(uint64_t mean_bytes)
{
    sampler_mean = mean_bytes;
}

static int64_t next_gap(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    uint64_t bits = (rng * UINT64_C(2685821657736338717)) >> 11; /* 53 bits */
    double u = ((double)bits + 1.0) / 9007199254740993.0;       /* (0, 1] */
    double gap = -log(u) * (double)sampler_mean;
    return gap < 1.0 ? 1 : gap > 9e18 ? INT64_MAX : (int64_t)gap;
}

int sampler_slow(size_t size)
{
    if (rng == 0) { /* this thread's first allocation: seed, and start with a gap of its own */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uintptr_t)&rng ^ (uint64_t)ts.tv_sec;
        if (rng == 0)
            rng = 1;
        sampler_until = next_gap() - (int64_t)size;
        if (sampler_until > 0)
            return 0;
    }
    sampler_until = next_gap();
    return 1;
}

/* Relaxed is enough: the count is raised before the block reaches the program, and a thread that
 * frees it got it from the program, after. */
_Atomic uint8_t sampler_recorded[1u << SAMPLER_BUCKET_BITS];

void sampler_note_recorded(uintptr_t addr)
{
    _Atomic uint8_t *count = &sampler_recorded[sampler_bucket(addr)];
    uint8_t now = atomic_load_explicit(count, memory_order_relaxed);
    while (now != UINT8_MAX &&
           !atomic_compare_exchange_weak_explicit(count, &now, (uint8_t)(now + 1), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void sampler_note_forgotten(uintptr_t addr)
{
    _Atomic uint8_t *count = &sampler_recorded[sampler_bucket(addr)];
    uint8_t now = atomic_load_explicit(count, memory_order_relaxed);
    /* a full count no longer knows how many it holds: it stays full */
    while (now != UINT8_MAX && now != 0 &&
           !atomic_compare_exchange_weak_explicit(count, &now, (uint8_t)(now - 1), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void sampler_forget_all(void)
{
    for (size_t i = 0; i < sizeof sampler_recorded; i++)
        atomic_store_explicit(&sampler_recorded[i], 0, memory_order_relaxed);
}
