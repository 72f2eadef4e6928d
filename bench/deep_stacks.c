/* deep_stacks OPS: allocations made 40 to 60 frames deep, through a few different call paths,
 * so that every allocation pays for unwinding a deep stack. */
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

static __attribute__((noinline)) void descend(int depth, int path, size_t size)
{
    if (depth > 0) {
        if ((depth + path) % 3 == 0)
            descend(depth - 1, path, size + 1);
        else
            descend(depth - 1, path, size);
        __asm__ volatile("" ::: "memory"); /* not a tail call: the frame stays */
        return;
    }
    void *p = malloc(size);
    memset(p, 0, size < 64 ? size : 64);
    sink = p;
    free(p);
}

int main(int argc, char **argv)
{
    long ops = argc > 1 ? atol(argv[1]) : 200000;
    for (long i = 0; i < ops; i++)
        descend(40 + (int)(i % 21), (int)(i % 7), 32 + (size_t)(i % 200));
    return 0;
}
