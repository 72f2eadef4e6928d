/* Ways out of a program that the exit snapshot must survive.
 *   sigterm  a thread in a malloc/free loop receives SIGTERM, whose handler calls exit(): the
 *            handler interrupts malloc (holding the allocator's lock), and the exit snapshot
 *            must not wait for that lock
 *   quick    quick_exit(3), which runs at_quick_exit handlers and no destructor
 * Prints the same natively and under the shim. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic long rounds;

static void on_term(int sig)
{
    (void)sig;
    static const char msg[] = "terminated\n";
    write(1, msg, sizeof msg - 1);
    exit(0);
}

static void *churn(void *arg)
{
    (void)arg;
    void *keep[64] = {0};
    for (unsigned long i = 0;; i++) {
        unsigned slot = i % 64;
        free(keep[slot]);
        keep[slot] = malloc(16 + (i * 7919) % 4000);
        atomic_fetch_add(&rounds, 1);
    }
    return NULL;
}

static void *churn_unblocked(void *arg)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
    return churn(arg);
}

static int run_sigterm(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    /* only the churning thread may take SIGTERM: it is then inside malloc most of the time */
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, NULL);
    pthread_t th;
    pthread_create(&th, NULL, churn_unblocked, NULL);
    while (atomic_load(&rounds) < 20000)
        sched_yield();
    static const char msg[] = "started\n";
    write(1, msg, sizeof msg - 1);
    kill(getpid(), SIGTERM);
    pthread_join(th, NULL); /* never returns: the handler exits */
    return 1;
}

static int run_quick(void)
{
    char *leak = malloc(4242);
    memset(leak, 1, 4242);
    printf("quick %d\n", leak[7]);
    fflush(stdout);
    quick_exit(3);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "sigterm") == 0)
        return run_sigterm();
    if (argc > 1 && strcmp(argv[1], "quick") == 0)
        return run_quick();
    fprintf(stderr, "usage: exits sigterm|quick\n");
    return 2;
}
