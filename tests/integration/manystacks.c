/* Leaks one block from each of N distinct stacks (recursion depths 0..N-1), so that a small
 * IMGLEAK_MAX_STACKS fills the stack table and some leaks are recorded with no stack.
 *   manystacks N */
#include <stdlib.h>

void *sink[4096];

__attribute__((noinline)) static void *descend(int depth)
{
    if (depth == 0)
        return malloc(100); /* LEAK(deep) */
    void *p = descend(depth - 1);
    __asm__ volatile("" ::: "memory"); /* not a tail call: every depth is its own stack */
    return p;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 64;
    for (int i = 0; i < n && i < 4096; i++)
        sink[i] = descend(i);
    for (int i = 0; i < n && i < 4096; i++)
        sink[i] = NULL; /* unreachable at exit: leaked */
    return 0;
}
