/* Blocks with known reachability at exit, for the reachability scan's test. Each block is made by
 * its own function, so the report names its class by function:
 *   keep_in_global       pointed to by a global                      reachable
 *   keep_in_child        pointed to only from keep_in_global's block reachable
 *   keep_in_library      pointed to by a static in reach_lib.so      reachable
 *   free_in_library_destructor  kept by reach_lib.so, freed by its destructor: not live at the
 *                        exit snapshot (taken after every destructor, as valgrind's check)
 *   lose_in_library_destructor  pointed to only by a block reach_lib.so's destructor frees
 *                        (made by make_box, freed too)                leaked
 *   keep_on_thread       pointed to from a blocked thread's stack    reachable
 *   keep_on_quiet_thread pointed to only from the stack of a thread  reachable
 *                        that never allocates (unknown to the shim
 *                        until the scan looks at /proc/self/task)
 *   lose_overwritten     its only pointer overwritten                leaked
 *   lose_chain_root      nothing points to it                        leaked, holding:
 *   lose_chain_mid, lose_chain_tail   only the root's chain does     indirect under the root
 *   lose_cycle_a/_b      point at each other, nothing else does      one leaked, one indirect
 *   keep_interior        only a pointer into its middle              possible
 *   keep_last_word       only a pointer to its last 8 bytes, 8 past  possible (the 16-byte
 *                        a 16-byte boundary                          boundary there is glibc's)
 *   keep_array_elements  only a pointer past a new[] element count      reachable (valgrind's
 *                        at its start                                    newarray heuristic)
 *   keep_string_chars    only a pointer to a std::string's characters,   reachable (valgrind's
 *                        after length, capacity and reference count      stdstring heuristic)
 * Built with -O2 and allocating in noinline functions, so no stale copy stays in main's frame.
 * With "churn", 65,536 short-lived threads allocate first (see churn); with "busy", a thread that
 * never allocates nor blocks holds keep_on_busy_thread's block (reachable); with "ownstack", see
 * own_stack; with "tls_exit" and "tls_main", see tls_exit and tls_main; with "top", see top. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void lib_keep(void *p); /* reach_lib.so */
void lib_hold_cache(void *p);
void lib_hold_box(void **box);

struct node {
    struct node *next;
    char payload[56];
};

static struct node *global_block;
static void *volatile overwritten;
static char *volatile interior;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int thread_ready;

#define NOINLINE __attribute__((noinline))

/* a macro, so each block is charged to the function that wants it */
static struct node *checked(struct node *n)
{
    if (!n)
        _exit(3);
    return n;
}
#define make(extra) checked(calloc(1, sizeof(struct node) + (extra)))
/* the compiler must make the stores into n, though nothing reads them */
#define escape(n) __asm__ volatile("" : : "g"(n) : "memory")

static NOINLINE void keep_in_global(void) { global_block = make(0); }
static NOINLINE void keep_in_child(void) { global_block->next = make(8); }
static NOINLINE void keep_in_library(void) { lib_keep(make(16)); }
static NOINLINE void free_in_library_destructor(void) { lib_hold_cache(make(20)); }
static NOINLINE void **make_box(void) { return (void **)make(0); }
static NOINLINE void lose_in_library_destructor(void)
{
    void **box = make_box();
    box[0] = make(28);
    lib_hold_box(box);
}
static NOINLINE void lose_overwritten(void) { overwritten = make(24); }
static NOINLINE void forget(void) { overwritten = NULL; }

static NOINLINE struct node *lose_chain_tail(void) { return make(40); }
static NOINLINE struct node *lose_chain_mid(void)
{
    struct node *n = make(48);
    n->next = lose_chain_tail();
    escape(n);
    return n;
}
static NOINLINE void lose_chain_root(void)
{
    struct node *n = make(32);
    n->next = lose_chain_mid();
    escape(n);
}

static NOINLINE struct node *lose_cycle_b(void) { return make(64); }
static NOINLINE void lose_cycle_a(void)
{
    struct node *a = make(72), *b = lose_cycle_b();
    a->next = b;
    b->next = a;
    escape(a);
    escape(b);
}

static NOINLINE void keep_interior(void) { interior = (char *)make(256) + 64; }
static char *volatile last_word;
static NOINLINE void keep_last_word(void) { last_word = (char *)make(0) + sizeof(struct node) - 8; }

static char *volatile array_elements, *volatile string_chars;
static NOINLINE void keep_array_elements(void)
{
    size_t *block = (size_t *)make(8); /* a count, then 4 elements of 16 bytes */
    block[0] = 4;
    array_elements = (char *)(block + 1);
}
static NOINLINE void keep_string_chars(void)
{
    size_t *block = (size_t *)make(0); /* 64 = 24 + capacity 39 + 1 */
    block[0] = 5;
    block[1] = 39;
    memcpy(block + 3, "image", 6);
    string_chars = (char *)(block + 3);
}

static NOINLINE void *keep_on_thread(void *arg)
{
    (void)arg;
    struct node *volatile mine = make(80); /* only on this thread's stack */
    pthread_mutex_lock(&lock);
    thread_ready = 1;
    pthread_cond_signal(&ready);
    for (;;) /* blocked until the process exits */
        pthread_cond_wait(&ready, &lock);
    return (void *)mine;
}

/* The quiet thread: takes the block main made, keeps it on its stack only, and blocks without
 * ever calling the allocator. */
static struct node *volatile handoff;
static int quiet_ready;

static NOINLINE void keep_on_quiet_thread(void) { handoff = make(88); }

static void *quiet_thread(void *arg)
{
    (void)arg;
    struct node *volatile mine = handoff;
    handoff = NULL;
    pthread_mutex_lock(&lock);
    quiet_ready = 1;
    pthread_cond_broadcast(&ready);
    for (;;)
        pthread_cond_wait(&ready, &lock);
    return (void *)mine;
}

/* "busy": a thread that never allocates and never blocks (so the kernel shows no stack pointer
 * for it) holds the only pointer to keep_on_busy_thread's block. */
static struct node *volatile busy_handoff;
static volatile int busy_ready;

static NOINLINE void keep_on_busy_thread(void) { busy_handoff = make(96); }

static void *busy_thread(void *arg)
{
    struct node *volatile mine = busy_handoff;
    busy_handoff = NULL;
    busy_ready = 1;
    for (;;)
        if (mine == arg) /* never: keeps mine live on this stack */
            break;
    return (void *)mine;
}

/* "ownstack": a thread that never allocates runs on a stack main took from malloc and holds
 * keep_on_own_stack's block there (reachable); lose_holder's block, above that stack in the heap,
 * is leaked with lose_above_stack's hanging from it (indirect): the heap past the end of the
 * stack's block is not read as part of the stack. */
#define OWN_STACK (64 * 1024)
static struct node *volatile own_handoff;
static volatile int own_ready;

static NOINLINE void keep_on_own_stack(void) { own_handoff = make(104); }
static NOINLINE struct node *lose_above_stack(void) { return make(112); }

static void *own_stack_thread(void *arg)
{
    struct node *volatile mine = own_handoff;
    own_handoff = NULL;
    pthread_mutex_lock(&lock);
    own_ready = 1;
    pthread_cond_broadcast(&ready);
    while (arg != (void *)mine)
        pthread_cond_wait(&ready, &lock);
    return NULL;
}

static NOINLINE void lose_holder(void)
{
    struct node *n = make(120);
    n->next = lose_above_stack();
    escape(n);
}

static void own_stack(void)
{
    static pthread_attr_t attr;
    char *stack = malloc(OWN_STACK);
    if (!stack)
        _exit(3);
    lose_holder(); /* above the stack in the heap */
    keep_on_own_stack();
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, OWN_STACK);
    if (pthread_create(&t, &attr, own_stack_thread, NULL) != 0)
        _exit(3);
    pthread_mutex_lock(&lock);
    while (!own_ready)
        pthread_cond_wait(&ready, &lock);
    pthread_mutex_unlock(&lock);
}

/* Overwrites the stack below main's frame, where the helpers' frames were. */
static NOINLINE void scrub(void)
{
    volatile char junk[16384];
    memset((char *)junk, 0, sizeof junk);
}

/* "churn": 65,536 threads allocate and end first, so the shim's table of threads that allocated
 * is full by the time keep_on_thread's thread starts. */
static void *churn_one(void *arg)
{
    free(malloc(16));
    return arg;
}

static void churn(void)
{
    for (int i = 0; i < 65536 + 16; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, churn_one, NULL) != 0 || pthread_join(t, NULL) != 0)
            _exit(4);
    }
}

/* "tls_exit": a thread keeps keep_in_thread_tls's block in a __thread variable only (as libgomp
 * keeps a thread's pool) and blocks; lose_tls_overwritten's block was in that variable before.
 * Main ends by _exit, so the sentinel takes the final snapshot after every thread has ended:
 * the first is reachable, the second leaked. */
__thread struct node *volatile tls_block;
static volatile int tls_ready;

static NOINLINE void lose_tls_overwritten(void) { tls_block = make(128); }
static NOINLINE void keep_in_thread_tls(void) { tls_block = make(136); }

static void *tls_thread(void *arg)
{
    lose_tls_overwritten();
    keep_in_thread_tls();
    tls_ready = 1;
    for (;;)
        pause();
    return arg;
}

static void tls_exit(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, tls_thread, NULL) != 0)
        _exit(3);
    while (!tls_ready)
        sched_yield();
    _exit(0);
}

/* "tls_main": main keeps keep_in_main_tls's block in its __thread variable only and blocks; a
 * thread calls exit, so the scan runs there and main's TLS (in memory the dynamic linker mapped,
 * not on its stack) must be read as a root: reachable. */
static NOINLINE void keep_in_main_tls(void) { tls_block = make(144); }

static void *exit_thread(void *arg)
{
    exit(0);
    return arg;
}

static void tls_main(void)
{
    pthread_t t;
    keep_in_main_tls();
    if (pthread_create(&t, NULL, exit_thread, NULL) != 0)
        _exit(3);
    for (;;)
        pause();
}

/* "top": the last 24-byte block top() makes (charged to top: lose_before_top tail-calls malloc)
 * is the last before glibc's top chunk, whose header lies in the block's last 8 bytes on a
 * 16-byte boundary, where the arena's top pointer (a root) points: that pointer is the
 * allocator's, and the block is leaked, not possibly leaked. Blocks are made until one is
 * followed by the top chunk (its header's size reaches the break); the others are kept. */
static void *volatile kept_small[1 << 16];

static NOINLINE char *lose_before_top(void) { return malloc(24); }

/* the chunk after p's (at p + 16, its size at p + 24) is the top chunk, which ends at the break */
static int before_top(const char *p)
{
    uint64_t next_size = *(const uint64_t *)(p + 24) & ~(uint64_t)7;
    return (char *)sbrk(0) == p + 16 + next_size;
}

static NOINLINE void top(void)
{
    for (size_t i = 0; i < sizeof kept_small / sizeof *kept_small; i++) {
        char *p = lose_before_top();
        if (!p)
            _exit(3);
        if (before_top(p))
            return;
        kept_small[i] = p;
    }
    _exit(4);
}

int main(int argc, char **argv)
{
    pthread_t t;
    if (argc > 1 && strcmp(argv[1], "top") == 0) {
        top();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "tls_exit") == 0)
        tls_exit();
    if (argc > 1 && strcmp(argv[1], "tls_main") == 0)
        tls_main();
    if (argc > 1 && strcmp(argv[1], "churn") == 0)
        churn();
    keep_in_global();
    keep_in_child();
    keep_in_library();
    free_in_library_destructor();
    lose_in_library_destructor();
    lose_overwritten();
    forget();
    lose_chain_root();
    lose_cycle_a();
    keep_interior();
    keep_last_word();
    keep_array_elements();
    keep_string_chars();
    if (pthread_create(&t, NULL, keep_on_thread, NULL) != 0)
        return 1;
    pthread_mutex_lock(&lock);
    while (!thread_ready)
        pthread_cond_wait(&ready, &lock);
    pthread_mutex_unlock(&lock);
    if (argc > 1 && strcmp(argv[1], "busy") == 0) {
        keep_on_busy_thread();
        if (pthread_create(&t, NULL, busy_thread, (void *)&busy_handoff) != 0)
            return 1;
        while (!busy_ready)
            sched_yield();
    }
    if (argc > 1 && strcmp(argv[1], "ownstack") == 0)
        own_stack();
    keep_on_quiet_thread();
    if (pthread_create(&t, NULL, quiet_thread, NULL) != 0)
        return 1;
    pthread_mutex_lock(&lock);
    while (!quiet_ready)
        pthread_cond_wait(&ready, &lock);
    pthread_mutex_unlock(&lock);
    scrub();
    exit(0); /* the thread is still blocked, its block on its stack */
}
