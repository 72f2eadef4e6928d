/* live_heavy BLOCKS: allocates BLOCKS small blocks (16 to 64 bytes) and keeps them all live,
 * then frees them: the shim's memory per live block is (peak RSS under it - native) / BLOCKS.
 * With "keep" as the second argument it exits without freeing, for a snapshot of them all, and
 * prints the monotonic time at which main returns ("main_end SECONDS"), so that the time the exit
 * takes (the shim's scan and snapshot) can be told apart from the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    int keep = argc > 2 && strcmp(argv[2], "keep") == 0;
    void **blocks = malloc((size_t)n * sizeof *blocks);
    for (long i = 0; i < n; i++) {
        blocks[i] = malloc(16 + (size_t)(i % 4) * 16);
        memset(blocks[i], 1, 16);
    }
    if (keep) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        printf("main_end %ld.%09ld\n", (long)now.tv_sec, now.tv_nsec);
        fflush(stdout);
        return 0;
    }
    for (long i = 0; i < n; i++)
        free(blocks[i]);
    free(blocks);
    return 0;
}
