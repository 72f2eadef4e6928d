/* Threads that keep reaching malloc through call paths never seen before, as a service does
 * on new requests: each allocation comes through a chain of two functions chosen by the bits of
 * a counter, so nearly every stack is new to the shim. Snapshots taken meanwhile must name only
 * stacks they contain. Prints the same natively and under the shim.
 * usage: newstacks THREADS SECONDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEVELS 18 /* 2^18 paths per thread, within the shim's default 32 frames */

static double seconds;

static void *leaf(unsigned long path)
{
    return malloc(16 + path % 512);
}

static void *go_left(unsigned long path, int level);
static void *go_right(unsigned long path, int level);

static void *step(unsigned long path, int level)
{
    if (level == LEVELS)
        return leaf(path);
    return (path >> level) & 1 ? go_right(path, level + 1) : go_left(path, level + 1);
}

__attribute__((noinline)) static void *go_left(unsigned long path, int level)
{
    void *p = step(path, level);
    __asm__ volatile("" ::: "memory"); /* no tail call: each level keeps its frame */
    return p;
}

__attribute__((noinline)) static void *go_right(unsigned long path, int level)
{
    void *p = step(path, level);
    __asm__ volatile("" ::: "memory");
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    unsigned long salt = (unsigned long)(uintptr_t)arg, n = 0;
    void *keep[256] = {0};
    double end = now() + seconds;
    while (now() < end) {
        for (int i = 0; i < 64; i++, n++) {
            unsigned slot = n % 256;
            free(keep[slot]);
            keep[slot] = step(n * 2654435761u + salt, 0);
        }
    }
    for (int i = 0; i < 256; i++)
        free(keep[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    seconds = argc > 2 ? atof(argv[2]) : 2;
    pthread_t th[64];
    if (threads < 1 || threads > 64)
        return 2;
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i * 7919));
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    printf("%d threads done\n", threads);
    return 0;
}
