/* malloc_churn THREADS OPS: each thread replaces blocks in a working set of 10,000 live blocks,
 * with a realistic size mix: mostly 16 B to 64 KiB, one in 2,000 of 1 to 8 MiB. Each new block
 * is written to, as a program would. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WORKING_SET 10000

static long ops;

static size_t pick_size(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    if (*s % 2000 == 0)
        return (1u << 20) + (size_t)(*s >> 20) % (7u << 20);
    unsigned bucket = (unsigned)(*s >> 8) % 100;
    if (bucket < 60)
        return 16 + (*s >> 16) % 240;    /* small: 16..256 */
    if (bucket < 90)
        return 256 + (*s >> 16) % 3840; /* medium: to 4 KiB */
    return 4096 + (*s >> 16) % 61440;   /* large: to 64 KiB */
}

static void *worker(void *arg)
{
    uint64_t s = 0x9e3779b97f4a7c15u ^ (uintptr_t)arg;
    void **set = calloc(WORKING_SET, sizeof *set);
    for (long i = 0; i < ops; i++) {
        size_t k = (size_t)(s >> 33) % WORKING_SET;
        free(set[k]);
        size_t n = pick_size(&s);
        set[k] = malloc(n);
        memset(set[k], (int)i, n < 512 ? n : 512);
    }
    for (size_t k = 0; k < WORKING_SET; k++)
        free(set[k]);
    free(set);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    ops = argc > 2 ? atol(argv[2]) : 2000000;
    pthread_t th[16];
    if (threads < 1 || threads > 16)
        return 2;
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)(t + 1));
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    return 0;
}
