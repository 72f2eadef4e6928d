/* A big process that forks a child which exits (with exit(), so the shim's exit snapshot runs)
 * without exec'ing. The child's exit should cost it nothing like reading the inherited heap.
 * Prints how long the child took, fork to reaped, on stderr (for measuring, not for tests).
 * Usage: forkbig MIB */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void **volatile blocks; /* volatile: kept, so the heap stays reachable */

static NOINLINE void parent_heap(size_t mib)
{
    size_t n = mib * 16; /* 64 KiB blocks */
    blocks = calloc(n, sizeof *blocks);
    for (size_t i = 0; i < n; i++) {
        blocks[i] = malloc(64 * 1024);
        memset(blocks[i], (int)i, 64 * 1024);
    }
}

static void *volatile child_lost;
static NOINLINE void child_block(void) { child_lost = malloc(72); }
/* a worker's entries in its parent's structure: kept only by a block the child inherited */
static NOINLINE void child_cached(void) { blocks[3] = malloc(88); }
/* and one it really loses */
static void *volatile child_dropped;
static NOINLINE void child_leak(void)
{
    child_dropped = malloc(56);
    child_dropped = NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
    parent_heap(mib);
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        child_block();
        child_cached();
        child_leak();
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    fprintf(stderr, "forkbig: child took %.3f s\n", now() - t0);
    printf("forkbig: child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
