/* The threads the shim has seen (see threads.h): an array filled with an atomic counter, never
 * locked, in pages mapped as threads come (not 1.5 MB up front: address space is what a
 * `ulimit -v` program lacks). A thread that ended is skipped by asking the kernel whether its tid still exists
 * in this process; a forked child sees only itself that way. */
#define _GNU_SOURCE
#include "threads.h"

#include "guard.h"
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#define THREADS_MAX 65536

#define PAGE_RECS 4096
#define PAGES (THREADS_MAX / PAGE_RECS)

static thread_rec_t *_Atomic pages[PAGES];
static _Atomic size_t count;

/* The record slot i, its page mapped now if create; NULL when there is none. */
static thread_rec_t *rec_at(size_t i, int create)
{
    thread_rec_t *page = atomic_load(&pages[i / PAGE_RECS]), *expected = NULL;
    if (!page && create) {
        thread_rec_t *fresh = os_map(PAGE_RECS * sizeof *fresh);
        if (!fresh)
            return NULL;
        if (atomic_compare_exchange_strong(&pages[i / PAGE_RECS], &expected, fresh)) {
            page = fresh;
        } else {
            os_unmap(fresh, PAGE_RECS * sizeof *fresh);
            page = expected;
        }
    }
    return page ? &page[i % PAGE_RECS] : NULL;
}

void threads_register(void)
{
    if (imgleak_guard.registered)
        return;
    imgleak_guard.registered = 1;
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    int got = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    if (got != 0)
        return;
    imgleak_guard.stack_lo = (uint64_t)(uintptr_t)addr;
    imgleak_guard.stack_hi = (uint64_t)(uintptr_t)addr + size;
    size_t i = atomic_fetch_add(&count, 1);
    thread_rec_t *slot = i < THREADS_MAX ? rec_at(i, 1) : NULL;
    if (!slot)
        return; /* the scan finds the thread through /proc/self/task all the same */
    thread_rec_t r = {(int)syscall(SYS_gettid), (uint64_t)(uintptr_t)addr,
                      (uint64_t)(uintptr_t)addr + size, (uint64_t)pthread_self()};
    *slot = r;
}

int threads_find(int tid, thread_rec_t *out)
{
    size_t n = atomic_load(&count);
    if (n > THREADS_MAX)
        n = THREADS_MAX;
    for (size_t i = n; i-- > 0;) { /* newest first: a tid may have been reused */
        const thread_rec_t *r = rec_at(i, 0);
        if (r && r->tid == tid && r->hi > r->lo) {
            *out = *r;
            return 1;
        }
    }
    return 0;
}

/* Every record (alive says only the threads that still exist). */
static void foreach_rec(void (*visit)(const thread_rec_t *t, void *ctx), void *ctx, int alive)
{
    size_t n = atomic_load(&count);
    if (n > THREADS_MAX)
        n = THREADS_MAX;
    pid_t pid = getpid();
    for (size_t i = 0; i < n; i++) {
        const thread_rec_t *slot = rec_at(i, 0);
        if (!slot)
            continue;
        thread_rec_t r = *slot;
        /* EPERM: a sandbox refuses tgkill, which says nothing about the thread */
        if (r.tid && r.hi > r.lo &&
            (!alive || syscall(SYS_tgkill, pid, r.tid, 0) == 0 || errno == EPERM))
            visit(&r, ctx);
    }
}

void threads_foreach(void (*visit)(const thread_rec_t *t, void *ctx), void *ctx)
{
    foreach_rec(visit, ctx, 1);
}

void threads_foreach_recorded(void (*visit)(const thread_rec_t *t, void *ctx), void *ctx)
{
    foreach_rec(visit, ctx, 0);
}
