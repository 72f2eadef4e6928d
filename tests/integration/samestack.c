/* The stack cache's traps: call chains that leave the same return address in the same stack slot
 * but differ further up. via_a() and via_b() have the same frame, so make_block()'s return slot
 * is the same place under both, and each calls it from the same line of a shared helper; only
 * the slot one frame up (the return into via_a or via_b) differs. They alternate, so a cache
 * that looked at the innermost frame alone would charge every block to whichever came first.
 * Then recursion to depths that alternate (the same innermost frames at different slots), and a
 * signal handler that allocates on an alternate stack. Leaks: A_BLOCKS under via_a, B_BLOCKS
 * under via_b, DEPTH_BLOCKS each at depth 5 and 9, SIGNAL_BLOCKS from the handler. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 3000

static void *volatile keep[4 * ROUNDS + 64];
static int nkeep;

static __attribute__((noinline)) void *make_block(size_t n)
{
    void *p = malloc(n);
    memset(p, 0, n);
    return p;
}

static __attribute__((noinline)) void helper(size_t n)
{
    keep[nkeep++] = make_block(n);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void via_a(size_t n)
{
    helper(n); /* LEAK(via_a) */
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void via_b(size_t n)
{
    helper(n); /* LEAK(via_b) */
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void deep(int depth, size_t n)
{
    if (depth > 0) {
        deep(depth - 1, n);
        __asm__ volatile("" ::: "memory");
        return;
    }
    helper(n);
}

static __attribute__((noinline)) void at_depth_5(size_t n)
{
    deep(5, n);
    __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void at_depth_9(size_t n)
{
    deep(9, n);
    __asm__ volatile("" ::: "memory");
}

static volatile sig_atomic_t in_handler;

static void on_signal(int sig)
{
    (void)sig;
    in_handler = 1;
    keep[nkeep++] = make_block(48); /* from the alternate stack */
}

int main(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        if (i % 2)
            via_b(32);
        else
            via_a(32);
        if (i % 3 == 0)
            at_depth_5(40);
        else if (i % 3 == 1)
            at_depth_9(40);
    }
    static char altstack[1 << 16];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &sa, NULL);
    for (int i = 0; i < 8; i++)
        raise(SIGUSR1);
    printf("samestack: %d blocks\n", nkeep);
    return 0;
}
