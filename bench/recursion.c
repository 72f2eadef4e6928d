/* recursion OPS [DEPTH]: each operation recurses DEPTH frames (100 by default) and allocates and
 * frees a block at the bottom: every allocation has a 100-frame stack, the same each time, as a
 * recursive decoder or a parser does. Run with IMGLEAK_DEPTH above DEPTH, all frames are kept. */
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

static __attribute__((noinline)) void descend(int depth, size_t size)
{
    if (depth > 1) {
        descend(depth - 1, size);
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
    long ops = argc > 1 ? atol(argv[1]) : 1000000;
    int depth = argc > 2 ? atoi(argv[2]) : 100;
    /* main and libc's start frames make up the rest of the 100 */
    for (long i = 0; i < ops; i++)
        descend(depth - 3, 32 + (size_t)(i % 200));
    return 0;
}
