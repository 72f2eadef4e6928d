/* Edge cases beyond tests/integration/semantics.c, printed so that the output with and without
 * the shim can be compared byte for byte: invalid and huge alignments, zero sizes, realloc
 * failing and keeping the block, malloc_usable_size(NULL), and malloc returning NULL under an
 * address-space limit, with errno passed through. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define SHOW(what, expr)                                                                           \
    do {                                                                                           \
        errno = 0;                                                                                 \
        void *p_ = (expr);                                                                         \
        printf("%-34s %s errno %d\n", what, p_ ? "ptr" : "null", errno);                         \
        free(p_);                                                                                  \
    } while (0)

int main(void)
{
    volatile size_t huge = SIZE_MAX - 4096, zero = 0;
    SHOW("malloc(0)", malloc(zero));
    SHOW("calloc(0, 8)", calloc(zero, 8));
    SHOW("memalign(3, 16)", memalign(3, 16));
    SHOW("memalign(0, 16)", memalign(0, 16));
    SHOW("memalign(1<<40, 16)", memalign((size_t)1 << 40, 16));
    SHOW("aligned_alloc(3, 16)", aligned_alloc(3, 16));
    SHOW("aligned_alloc(64, huge)", aligned_alloc(64, huge));
    SHOW("valloc(huge)", valloc(huge));
    SHOW("pvalloc(huge)", pvalloc(huge));
    SHOW("pvalloc(0)", pvalloc(zero));
    void *pm = NULL;
    errno = 0;
    printf("%-34s %d\n", "posix_memalign(0)", posix_memalign(&pm, 0, 16));
    printf("%-34s %d\n", "posix_memalign(24)", posix_memalign(&pm, 24, 16));
    printf("%-34s %d\n", "posix_memalign(64, huge)", posix_memalign(&pm, 64, huge));
    char *keep = malloc(32);
    strcpy(keep, "still here");
    errno = 0;
    char *volatile old = keep; /* a failed realloc leaves the block as it was */
    char *grown = realloc(keep, huge);
    printf("%-34s %s errno %d, old block %s\n", "realloc(p, huge)", grown ? "ptr" : "null", errno,
           !grown && strcmp(old, "still here") == 0 ? "intact" : "moved");
    free(grown ? grown : old);
    printf("%-34s %zu\n", "malloc_usable_size(NULL)", malloc_usable_size(NULL));
    /* under a 512 MiB address-space limit, allocate until malloc says no */
    struct rlimit lim = {512u << 20, 512u << 20};
    if (setrlimit(RLIMIT_AS, &lim) == 0) {
        size_t got = 0;
        void *blocks[4096];
        int n = 0;
        errno = 0;
        while (n < 4096 && (blocks[n] = malloc(1u << 20)) != NULL)
            n++, got++;
        printf("%-34s null after some, errno %d\n", "malloc until RLIMIT_AS", errno);
        while (n > 0)
            free(blocks[--n]);
        (void)got;
    }
    return 0;
}
