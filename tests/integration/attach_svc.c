/* A small service for tests/integration/attach.sh: after a warm-up (a cache filled once, and a
 * table of blocks freed later, while imgleak may be attached) it handles "requests" on THREADS
 * threads; each request churns through the cache (its size stays flat) and leaks 96 bytes at
 * leak_per_request. With FORK_AT > 0 the first thread forks a child at that request, which
 * allocates, prints and exits. It prints a checksum of its work and exits with status 3, so
 * that a test can compare output and status with a run without imgleak, and says whether its
 * reference to malloc is the C library's again (imgleak attach puts it back when it detaches).
 * On stderr: the longest gap between two requests of the first thread (latency while attached).
 * usage: attach_svc READY_FILE REQUESTS SLEEP_MS THREADS FORK_AT */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CACHE_SLOTS 64
#define EARLY_BLOCKS 256

static long requests, sleep_ms, fork_at;
static char *cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static char *early[EARLY_BLOCKS];
static char **held; /* on the heap, from before the attach: what it holds is not leaked */
static void *volatile sink;

__attribute__((noinline)) static void leak_per_request(long n)
{
    char *p = malloc(96);
    snprintf(p, 96, "request %ld", n);
    sink = p; /* dropped at the next request: leaked */
}

__attribute__((noinline)) static void cache_fill(void)
{
    for (int i = 0; i < CACHE_SLOTS; i++)
        cache[i] = calloc(1, 2048);
}

/* replaces one cache entry: the cache holds as much as before */
__attribute__((noinline)) static uint64_t cache_touch(long n)
{
    pthread_mutex_lock(&cache_lock);
    int slot = (int)(n % CACHE_SLOTS);
    free(cache[slot]);
    cache[slot] = malloc(2048);
    memset(cache[slot], (int)(n & 0xff), 2048);
    uint64_t sum = (unsigned char)cache[slot][7];
    pthread_mutex_unlock(&cache_lock);
    return sum;
}

/* kept only through `held`, a heap block allocated before the attach */
__attribute__((noinline)) static char *hold_in_heap(long n)
{
    char *p = malloc(200);
    snprintf(p, 200, "held %ld", n);
    return p;
}

static void child_work(void)
{
    char *buf = malloc(4096);
    snprintf(buf, 4096, "child %d", 42);
    printf("%s\n", buf);
    free(buf);
    fflush(stdout);
    _exit(0);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double longest_gap_ms;

static void *worker(void *arg)
{
    long id = (long)arg;
    uint64_t sum = 0;
    double last = now_ms();
    for (long n = 0; n < requests; n++) {
        double t = now_ms();
        if (id == 0 && t - last > longest_gap_ms)
            longest_gap_ms = t - last;
        last = t;
        leak_per_request(n);
        sum += cache_touch(n + id);
        /* blocks from before the attach, freed while attached: not reported, no error */
        if (id == 0) {
            free(held[n % 8]);
            held[n % 8] = hold_in_heap(n);
        }
        if (id == 0 && n < EARLY_BLOCKS) {
            free(early[n]);
            early[n] = NULL;
        }
        if (id == 0 && fork_at > 0 && n == fork_at) {
            fflush(stdout);
            pid_t child = fork();
            if (child == 0)
                child_work();
            int st = 0;
            waitpid(child, &st, 0);
            sum += (uint64_t)WEXITSTATUS(st);
        }
        struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000};
        if (sleep_ms > 0) /* 0: as fast as it can (a benchmark) */
            nanosleep(&ts, NULL);
    }
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
    if (argc != 6)
        return fprintf(stderr, "usage: attach_svc READY_FILE REQUESTS SLEEP_MS THREADS FORK_AT\n"), 2;
    requests = atol(argv[2]);
    sleep_ms = atol(argv[3]);
    long threads = atol(argv[4]);
    fork_at = atol(argv[5]);
    cache_fill();
    held = calloc(8, sizeof *held);
    for (int i = 0; i < EARLY_BLOCKS; i++)
        early[i] = malloc(512);
    FILE *ready = fopen(argv[1], "w");
    if (ready)
        fclose(ready);
    /* give imgleak attach the time to arrive before the requests start */
    struct timespec wait = {0, 300 * 1000000};
    nanosleep(&wait, NULL);
    pthread_t th[16];
    uint64_t total = 0;
    if (threads < 1 || threads > 16)
        threads = 1;
    for (long i = 1; i < threads; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    total += (uint64_t)(uintptr_t)worker(0);
    for (long i = 1; i < threads; i++) {
        void *r;
        pthread_join(th[i], &r);
        total += (uint64_t)(uintptr_t)r;
    }
    printf("requests %ld threads %ld checksum %llu\n", requests, threads, (unsigned long long)total);
    fprintf(stderr, "longest gap between requests: %.1f ms\n", longest_gap_ms);
    /* the address of malloc as this executable's GOT holds it */
    void *(*volatile own)(size_t) = malloc;
    printf("malloc %s\n", (void *)own == dlsym(RTLD_DEFAULT, "malloc") ? "direct" : "redirected");
    return 3;
}
