/* Edge cases of the interposed functions. It prints what each call returned, so that the output
 * with and without the shim can be compared byte for byte, and it leaves known blocks behind:
 *   LEAK(after_partial_munmap)  8 pages mapped, the middle 2 unmapped: 6 pages stay
 *   LEAK(mremap_moved)          a mapping grown by mremap to 16 pages, charged to mremap's line
 *   LEAK(realloc_grown)         realloc(NULL, 10) grown to 5000 bytes by realloc
 *   LEAK(aligned)               posix_memalign, memalign, aligned_alloc, valloc: 4 blocks
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define PRIVATE_ANON (MAP_PRIVATE | MAP_ANONYMOUS)

extern void *__libc_malloc(size_t);

static void *aligned[4];

int main(void)
{
    long page = sysconf(_SC_PAGESIZE);
    volatile size_t big = SIZE_MAX / 2; /* volatile: the compiler must not see the overflow */
    free(NULL);
    printf("free(NULL) ok\n");

    char *r = realloc(NULL, 10); /* LEAK(realloc_null) */
    printf("realloc(NULL,10) %s\n", r ? "ok" : "null");
    r = realloc(r, 5000); /* LEAK(realloc_grown) */
    memset(r, 1, 5000);

    void *z = malloc(100);
    errno = 0;
    void *z2 = realloc(z, 0);
    printf("realloc(p,0) -> %s errno %d\n", z2 ? "ptr" : "null", errno);
    free(z2);

    errno = 0;
    void *huge = malloc(big);
    printf("malloc(huge) -> %s errno %d\n", huge ? "ptr" : "null", errno);
    errno = 0;
    void *ovf = calloc(big, 4);
    printf("calloc(overflow) -> %s errno %d\n", ovf ? "ptr" : "null", errno);
    errno = 0;
    void *ra = reallocarray(NULL, big, 4);
    printf("reallocarray(overflow) -> %s errno %d\n", ra ? "ptr" : "null", errno);

    void *pm = NULL;
    printf("posix_memalign(3) -> %d\n", posix_memalign(&pm, 3, 64));
    printf("posix_memalign(64) -> %d\n", posix_memalign(&aligned[0], 64, 100)); /* LEAK(aligned) */
    aligned[1] = memalign(256, 100);                                           /* LEAK(aligned) */
    aligned[2] = aligned_alloc(128, 256);                                      /* LEAK(aligned) */
    aligned[3] = valloc(100);                                                  /* LEAK(aligned) */
    printf("alignments %d %d %d %d\n", (int)((uintptr_t)aligned[0] % 64),
           (int)((uintptr_t)aligned[1] % 256), (int)((uintptr_t)aligned[2] % 128),
           (int)((uintptr_t)aligned[3] % page));
    printf("usable >= 100: %d\n", malloc_usable_size(aligned[0]) >= 100);

    /* a block the shim never saw: allocated behind its back, freed through it */
    void *foreign = __libc_malloc(77);
    free(foreign);
    printf("foreign free ok\n");

    char *m = mmap(NULL, (size_t)(8 * page), RW, PRIVATE_ANON, -1, 0); /* LEAK(after_partial_munmap) */
    printf("munmap(middle) -> %d\n", munmap(m + 3 * page, (size_t)(2 * page)));
    errno = 0;
    int unaligned = munmap(m + 1, (size_t)page);
    printf("munmap(unaligned) -> %d errno %d\n", unaligned, errno);

    char *g = mmap(NULL, (size_t)(4 * page), RW, PRIVATE_ANON, -1, 0);
    g[0] = 'x';
    char *g2 = mremap(g, (size_t)(4 * page), (size_t)(16 * page), MREMAP_MAYMOVE); /* LEAK(mremap_moved) */
    printf("mremap -> %s, kept data %d\n", g2 == MAP_FAILED ? "failed" : "ok", g2[0] == 'x');

    char *gone = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, (size_t)page);
    return 0;
}
