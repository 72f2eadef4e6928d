/* A program with leaks of known size at known lines, for the integration test. Each leaking line
 * carries a LEAK(name) marker that the test looks up, so the expectations follow the source.
 *   leaky leak   keeps 3 x 1000 bytes (direct), 5 x 48 bytes (through a helper), 2 x 64 KiB (mmap)
 *   leaky clean  does the same work and releases everything
 * It also churns through allocations it frees, which must not be reported. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RW (PROT_READ | PROT_WRITE)
#define PRIVATE_ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static void *keep[16];
static int nkeep;

/* An allocation helper, as programs have: the leak is charged to its malloc line. */
static __attribute__((noinline)) char *make_buffer(size_t n)
{
    char *p = malloc(n); /* LEAK(helper) */
    if (p)
        memset(p, 'x', n);
    return p;
}

static __attribute__((noinline)) void load_config(int leak)
{
    for (int i = 0; i < 3; i++) {
        char *cfg = malloc(1000); /* LEAK(direct) */
        memset(cfg, 0, 1000);
        if (!leak)
            free(cfg);
    }
}

static __attribute__((noinline)) void build_names(int leak)
{
    for (int i = 0; i < 5; i++) {
        char *name = make_buffer(48); /* CALLER(helper) */
        if (!leak)
            free(name);
    }
}

static __attribute__((noinline)) void map_tiles(int leak)
{
    for (int i = 0; i < 2; i++) {
        void *tile = mmap(NULL, 65536, RW, PRIVATE_ANON, -1, 0); /* LEAK(mmap) */
        if (tile == MAP_FAILED)
            _exit(3);
        memset(tile, 1, 65536);
        if (!leak)
            munmap(tile, 65536);
    }
}

static __attribute__((noinline)) void churn(void)
{
    for (int i = 0; i < 10000; i++) {
        void *p = malloc((size_t)(i % 500) + 1);
        void *q = calloc(4, (size_t)(i % 100) + 1);
        p = realloc(p, (size_t)(i % 700) + 16);
        free(q);
        if (nkeep < 16 && i % 1000 == 0) {
            keep[nkeep++] = p;
            continue;
        }
        free(p);
    }
    /* cleared as freed: a dangling pointer left in .bss would keep whichever later block reuses
     * its address "reachable" (a conservative scan cannot tell), making load_config's leak
     * depend on the heap's layout */
    while (nkeep > 0) {
        free(keep[--nkeep]);
        keep[nkeep] = NULL;
    }
}

int main(int argc, char **argv)
{
    int leak = argc > 1 && strcmp(argv[1], "leak") == 0;
    if (argc < 2 || (!leak && strcmp(argv[1], "clean") != 0)) {
        static const char usage[] = "usage: leaky leak|clean\n";
        if (write(2, usage, sizeof usage - 1) < 0)
            return 2;
        return 2;
    }
    churn();
    load_config(leak);
    build_names(leak);
    map_tiles(leak);
    return 0;
}
