/* Signal torture: a 50 µs interval timer interrupts the program while it allocates, frees and
 * unwinds deep stacks; the handler maps and unmaps memory (async-signal-safe calls the shim
 * interposes) and asks for a snapshot with SIGUSR2 now and then. The shim must add no deadlock.
 *   signals SECONDS */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
    (void)sig;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED)
        munmap(p, 4096);
    if (++ticks % 200 == 0)
        raise(SIGUSR2);
}

static __attribute__((noinline)) void *deep(int n)
{
    if (n == 0)
        return malloc(48);
    void *p = deep(n - 1);
    __asm__ volatile("" : : "g"(p) : "memory");
    return p;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGUSR2, SIG_IGN); /* ignored by the program: the shim still snapshots */
    struct itimerval it = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long rounds = 0;
    do {
        for (int i = 0; i < 100; i++) {
            void *p = deep(i % 50);
            void *q = realloc(malloc(16), 4000);
            free(p);
            free(q);
        }
        rounds++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("signals: done\n");
    return rounds > 0 ? 0 : 1;
}
