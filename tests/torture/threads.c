/* Threads torture: THREADS threads allocate and free blocks through a shared array, each freeing
 * what others allocated, for SECONDS; the main thread asks for snapshots with SIGUSR2 in a tight
 * loop meanwhile; half the threads end with blocks still live; then a non-main thread calls
 * exit() while the others still run. Prints a line a run must reproduce with and without the shim.
 *   threads THREADS SECONDS */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 4096
static _Atomic(char *) slots[SLOTS];
static atomic_int stop, finished;
static int nthreads;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg * 2654435761u;
    char *mine[64];
    int kept = 0;
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 16 + (seed >> 8) % 4000;
        char *p = malloc(n);
        if (!p)
            abort();
        memset(p, 1, n < 64 ? n : 64);
        char *old = atomic_exchange(&slots[(seed >> 4) % SLOTS], p);
        if (old)
            free(old); /* most likely another thread's */
        if ((seed & 0xff) == 7) {
            char *q = realloc(NULL, 128);
            q = realloc(q, 4096);
            free(q);
        }
        if ((size_t)arg % 2 && kept < 64 && (seed & 0xfff) == 1)
            mine[kept++] = malloc(32); /* ends with these live */
    }
    (void)mine;
    atomic_fetch_add(&finished, 1);
    return NULL;
}

static void *exiter(void *arg)
{
    (void)arg;
    while (atomic_load(&finished) < nthreads / 2)
        usleep(1000);
    printf("threads: exit from a non-main thread\n");
    fflush(stdout);
    exit(0); /* others may still be running */
}

static void on_usr2(int sig)
{
    (void)sig;
}

int main(int argc, char **argv)
{
    nthreads = argc > 1 ? atoi(argv[1]) : 8;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    signal(SIGUSR2, on_usr2); /* the program's own handler: the shim must chain to it */
    pthread_t t[64], ex;
    if (nthreads > 64)
        nthreads = 64;
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, worker, (void *)(size_t)(i + 1));
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        kill(getpid(), SIGUSR2);
        usleep(2000);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
    atomic_store(&stop, 1);
    for (int i = 0; i < nthreads / 2; i++) /* the rest are left running */
        pthread_join(t[i], NULL);
    pthread_create(&ex, NULL, exiter, NULL);
    pthread_join(ex, NULL);
    return 1; /* not reached: the exiter ends the process */
}
