/* A large leak for checking sampled estimates against full tracking: leak_large leaks 3,000
 * blocks of 64 KiB-2 MiB (about 1.7 GB of address space, barely touched), leak_small 100,000
 * blocks of 16 B-4 KiB (about 74 MB), with malloc/free churn around them. Sizes are log-uniform
 * from a fixed seed, so every run leaks exactly the same bytes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static size_t log_uniform(double lo, double hi)
{
    return (size_t)exp(log(lo) + uniform() * (log(hi) - log(lo)));
}

static void *volatile sink;

static __attribute__((noinline)) void leak_large(void)
{
    sink = malloc(log_uniform(65536, 2 << 20));
}

static __attribute__((noinline)) void leak_small(void)
{
    sink = malloc(log_uniform(16, 4096));
}

static __attribute__((noinline)) void churn(void)
{
    void *p = malloc(log_uniform(16, 65536));
    sink = p;
    free(p);
}

int main(void)
{
    for (int i = 0; i < 100000; i++) {
        if (i % 33 == 0 && i / 33 < 3000)
            leak_large();
        leak_small();
        churn();
    }
    return write(1, "bigleak done\n", 13) == 13 ? 0 : 1;
}
