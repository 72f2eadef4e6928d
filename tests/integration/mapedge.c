/* Mappings the shim must follow however they are changed:
 *   dontunmap  mremap(MREMAP_DONTUNMAP) moves a mapping and leaves the old range mapped: both are
 *              the program's (map_original's and move_keep's sites must both be reported);
 *   signal     a timer's handler unmaps mappings made in main while main maps and unmaps in a loop,
 *              so the handler often interrupts the shim itself: none of map_for_handler's mappings
 *              may be left recorded. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>

#define PAGE 4096
#define HANDLER_MAPS 200

static void *volatile kept[2];
static void *handler_maps[HANDLER_MAPS];
static volatile sig_atomic_t unmapped;

__attribute__((noinline)) static void *map_original(size_t len)
{
    return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

__attribute__((noinline)) static void *move_keep(void *old, size_t len)
{
    return mremap(old, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
}

static int dontunmap(void)
{
    char *old = map_original(3 * PAGE);
    if (old == MAP_FAILED)
        return 1;
    memset(old, 7, 3 * PAGE);
    char *moved = move_keep(old, 3 * PAGE);
    if (moved == MAP_FAILED) {
        perror("mremap");
        return 1;
    }
    kept[0] = old;
    kept[1] = moved;
    printf("dontunmap: %d %d\n", old[0], moved[0]);
    return 0;
}

__attribute__((noinline)) static void *map_for_handler(void)
{
    return mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void on_timer(int sig)
{
    (void)sig;
    if (unmapped < HANDLER_MAPS) {
        munmap(handler_maps[unmapped], PAGE);
        unmapped++;
    }
}

static int signal_unmaps(void)
{
    for (int i = 0; i < HANDLER_MAPS; i++)
        if ((handler_maps[i] = map_for_handler()) == MAP_FAILED)
            return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_timer;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &every, NULL);
    while (unmapped < HANDLER_MAPS) {
        void *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
            munmap(p, 2 * PAGE);
    }
    struct itimerval stop = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &stop, NULL);
    printf("signal: %d unmapped\n", (int)unmapped);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "dontunmap") == 0)
        return dontunmap();
    if (argc > 1 && strcmp(argv[1], "signal") == 0)
        return signal_unmaps();
    fprintf(stderr, "usage: mapedge dontunmap|signal\n");
    return 2;
}
