/* Threads allocating and freeing each other's blocks, then a fork whose child leaks on its own.
 *   stress THREADS ROUNDS
 * Each thread keeps KEEP blocks of 24 bytes at LEAK(thread); every other block it allocates is
 * freed by the next thread. The child of the fork keeps CHILD_KEEP blocks of 4096 bytes at
 * LEAK(child) and writes its own snapshot; the parent waits for it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEP 10
#define CHILD_KEEP 7
#define SLOTS 256

static int nthreads, rounds;
static _Atomic(void *) mailbox[64][SLOTS];
void *kept[64][KEEP]; /* global and read by nobody: the compiler must still keep the stores */
void *volatile *kept_sink = &kept[0][0];

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    unsigned seed = (unsigned)t * 7919u + 1;
    for (int i = 0; i < rounds; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 16 + (seed >> 16) % 2048;
        char *p = malloc(size);
        memset(p, t, size);
        /* hand it to the next thread, and free what was handed to us */
        void *old = atomic_exchange(&mailbox[(t + 1) % nthreads][seed % SLOTS], p);
        free(old);
        void *mine = atomic_exchange(&mailbox[t][(seed >> 8) % SLOTS], NULL);
        free(mine);
    }
    for (int k = 0; k < KEEP; k++)
        kept[t][k] = malloc(24); /* LEAK(thread) */
    return NULL;
}

static __attribute__((noinline)) void child_work(void)
{
    for (int k = 0; k < CHILD_KEEP; k++) {
        void *volatile p = malloc(4096); /* LEAK(child) */
        (void)p;
    }
}

int main(int argc, char **argv)
{
    nthreads = argc > 1 ? atoi(argv[1]) : 4;
    rounds = argc > 2 ? atoi(argv[2]) : 100000;
    if (nthreads < 1 || nthreads > 64)
        return 2;
    pthread_t th[64];
    for (int t = 0; t < nthreads; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < nthreads; t++)
        for (int s = 0; s < SLOTS; s++)
            free(atomic_exchange(&mailbox[t][s], NULL));
    pid_t pid = fork();
    if (pid == 0) {
        child_work();
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
