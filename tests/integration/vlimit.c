/* For running under an address-space limit (ulimit -v):
 *   grab MAX    mallocs 1 MiB blocks until malloc fails or MAX MiB; prints how many it got
 *   many N      keeps N small blocks, then frees them; prints "many: N" (the live table must grow
 *               to hold them, which a tight limit may refuse) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grab(long max)
{
    long got = 0;
    while (got < max && malloc(1 << 20))
        got++;
    printf("grab: %ld MiB\n", got);
    return 0;
}

static int many(long n)
{
    void **blocks = malloc((size_t)n * sizeof *blocks);
    if (!blocks)
        return 1;
    long kept = 0;
    for (; kept < n; kept++)
        if (!(blocks[kept] = malloc(24)))
            break;
    for (long i = 0; i < kept; i++)
        free(blocks[i]);
    free(blocks);
    printf("many: %ld\n", kept);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "grab") == 0)
        return grab(atol(argv[2]));
    if (argc == 3 && strcmp(argv[1], "many") == 0)
        return many(atol(argv[2]));
    fprintf(stderr, "usage: vlimit grab MAX_MIB | many N\n");
    return 2;
}
