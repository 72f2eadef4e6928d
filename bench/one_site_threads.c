/* one_site_threads THREADS OPS: every thread allocates small blocks (16 to 128 bytes) at one and
 * the same call site and frees them from a small working set of its own: what a thread pool
 * decoding tiles does. Every thread shares that site's stack, so what the shim keeps per stack
 * is shared by all of them. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WORKING_SET 256

static long ops;

static __attribute__((noinline)) void *make_tile(size_t n)
{
    void *p = malloc(n);
    memset(p, 0, n < 32 ? n : 32);
    return p;
}

static void *worker(void *arg)
{
    uint64_t s = 0x9e3779b97f4a7c15u ^ (uintptr_t)arg;
    void *set[WORKING_SET] = {0};
    for (long i = 0; i < ops; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        size_t k = (size_t)(s >> 40) % WORKING_SET;
        free(set[k]);
        set[k] = make_tile(16 + (size_t)(s % 113));
    }
    for (size_t k = 0; k < WORKING_SET; k++)
        free(set[k]);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 8;
    long total = argc > 2 ? atol(argv[2]) : 8000000;
    pthread_t th[64];
    if (threads < 1 || threads > 64)
        return 2;
    ops = total / threads;
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)(t + 1));
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    return 0;
}
