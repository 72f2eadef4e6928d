/* The threads the shim has seen (see threads.h): a fixed array filled with an atomic counter,
 * never locked. A thread that ended is skipped by asking the kernel whether its tid still exists
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

static thread_rec_t *recs;
static _Atomic size_t count;
void threads_register(void)
{
    if (imgleak_guard.registered)
        return;
    imgleak_guard.registered = 1;
    if (!recs) {
        thread_rec_t *fresh = os_map(THREADS_MAX * sizeof *fresh);
        thread_rec_t *expected = NULL;
        if (!fresh)
            return;
        if (!atomic_compare_exchange_strong((_Atomic(thread_rec_t *) *)&recs, &expected, fresh))
            os_unmap(fresh, THREADS_MAX * sizeof *fresh);
    }
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    int got = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    if (got != 0)
        return;
    size_t i = atomic_fetch_add(&count, 1);
    if (i >= THREADS_MAX)
        return;
    thread_rec_t r = {(int)syscall(SYS_gettid), (uint64_t)(uintptr_t)addr,
                      (uint64_t)(uintptr_t)addr + size};
    recs[i] = r;
}

int threads_find(int tid, thread_rec_t *out)
{
    size_t n = atomic_load(&count);
    if (n > THREADS_MAX)
        n = THREADS_MAX;
    for (size_t i = n; recs && i-- > 0;) { /* newest first: a tid may have been reused */
        if (recs[i].tid == tid && recs[i].hi > recs[i].lo) {
            *out = recs[i];
            return 1;
        }
    }
    return 0;
}

void threads_foreach(void (*visit)(const thread_rec_t *t, void *ctx), void *ctx)
{
    size_t n = atomic_load(&count);
    if (n > THREADS_MAX)
        n = THREADS_MAX;
    pid_t pid = getpid();
    for (size_t i = 0; recs && i < n; i++) {
        thread_rec_t r = recs[i];
        /* EPERM: a sandbox refuses tgkill, which says nothing about the thread */
        if (r.tid && r.hi > r.lo && (syscall(SYS_tgkill, pid, r.tid, 0) == 0 || errno == EPERM))
            visit(&r, ctx);
    }
}
