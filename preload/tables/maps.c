/* Tracked mappings (see maps.h): a sorted array in memory the shim maps for itself, grown by
 * doubling. Guarded by a mutex that is re-initialised in a forked child.
 *
 * A signal handler may unmap while its thread is inside this file (holding the mutex, or about
 * to): taking the mutex there would deadlock, and skipping the update would leave a freed
 * mapping recorded, reported as leaked. Such a removal goes to a small lock-free queue instead,
 * which every holder of the mutex applies when it takes it and before it lets it go, so it takes
 * effect before any later mapping of the same range is recorded. */
#include "maps.h"

#include "os.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define PENDING_MAX 64
enum { SLOT_FREE, SLOT_WRITING, SLOT_READY };

typedef struct {
    _Atomic int state;
    uint64_t start, length;
} pending_t;

static struct {
    map_rec_t *recs;
    size_t count;
    size_t capacity;
    _Atomic uint64_t dropped;
    pthread_mutex_t lock;
    pending_t pending[PENDING_MAX];
    void (*on_removed)(const map_rec_t *, void *); /* for queued removals */
} mp = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* >0 while this thread holds the mutex or is about to take it: set before locking, so that a
 * handler interrupting the lock call itself queues rather than waits for its own thread. */
static __thread int busy_here __attribute__((tls_model("initial-exec")));

int maps_init(void)
{
    return 0;
}

void maps_after_fork_child(void)
{
    pthread_mutex_init(&mp.lock, NULL);
    busy_here = 0;
}

void maps_forget_all(void)
{
    mp.count = 0;
}

void maps_set_on_removed(void (*on_removed)(const map_rec_t *, void *))
{
    mp.on_removed = on_removed;
}

static int reserve(size_t need)
{
    if (need <= mp.capacity)
        return 0;
    size_t cap = mp.capacity ? mp.capacity * 2 : 256;
    while (cap < need)
        cap *= 2;
    map_rec_t *fresh = os_map(cap * sizeof *fresh);
    if (!fresh)
        return -1;
    if (mp.count)
        memcpy(fresh, mp.recs, mp.count * sizeof *fresh);
    os_unmap(mp.recs, mp.capacity * sizeof *fresh);
    mp.recs = fresh;
    mp.capacity = cap;
    return 0;
}

/* index of the first record that ends after addr */
static size_t first_ending_after(uint64_t addr)
{
    size_t lo = 0, hi = mp.count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (mp.recs[mid].start + mp.recs[mid].length <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void remove_locked(uint64_t start, uint64_t length,
                          void (*on_removed)(const map_rec_t *, void *), void *ctx)
{
    uint64_t end = start + length;
    size_t i = first_ending_after(start);
    while (i < mp.count && mp.recs[i].start < end) {
        map_rec_t *r = &mp.recs[i];
        uint64_t r_end = r->start + r->length;
        uint64_t cut_lo = r->start > start ? r->start : start;
        uint64_t cut_hi = r_end < end ? r_end : end;
        map_rec_t piece = *r;
        piece.start = cut_lo;
        piece.length = cut_hi - cut_lo;
        if (on_removed)
            on_removed(&piece, ctx);
        if (r->start < start && r_end > end) { /* a hole in the middle: split in two */
            if (reserve(mp.count + 1) < 0) {
                atomic_fetch_add(&mp.dropped, 1);
                os_notice_once(NOTICE_MAPS_FULL,
                               "no memory to record more mappings; some are not tracked");
                r->length = start - r->start; /* keep the lower part, lose the upper */
                return;
            }
            r = &mp.recs[i];
            memmove(r + 2, r + 1, (mp.count - i - 1) * sizeof *r);
            r[1] = *r;
            r[1].start = end;
            r[1].length = r_end - end;
            r->length = start - r->start;
            mp.count++;
            return;
        }
        if (r->start < start) { /* keep the lower part */
            r->length = start - r->start;
            i++;
        } else if (r_end > end) { /* keep the upper part */
            r->length = r_end - end;
            r->start = end;
            i++;
        } else {
            memmove(r, r + 1, (mp.count - i - 1) * sizeof *r);
            mp.count--;
        }
    }
}

static void apply_pending(void)
{
    for (int i = 0; i < PENDING_MAX; i++) {
        pending_t *q = &mp.pending[i];
        if (atomic_load_explicit(&q->state, memory_order_acquire) != SLOT_READY)
            continue;
        remove_locked(q->start, q->length, mp.on_removed, NULL);
        atomic_store_explicit(&q->state, SLOT_FREE, memory_order_release);
    }
}

static void lock(void)
{
    busy_here++;
    pthread_mutex_lock(&mp.lock);
    apply_pending();
}

static void unlock(void)
{
    apply_pending();
    pthread_mutex_unlock(&mp.lock);
    busy_here--;
}

/* Async-signal-safe: a claimed slot, filled, then published. */
static void queue_removal(uint64_t start, uint64_t length)
{
    for (int i = 0; i < PENDING_MAX; i++) {
        pending_t *q = &mp.pending[i];
        int expected = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&q->state, &expected, SLOT_WRITING))
            continue;
        q->start = start;
        q->length = length;
        atomic_store_explicit(&q->state, SLOT_READY, memory_order_release);
        return;
    }
    atomic_fetch_add(&mp.dropped, 1); /* the range stays recorded */
    os_notice_once(NOTICE_MAPS_QUEUE,
                   "a mapping unmapped in a signal handler could not be forgotten (queue full)");
}

int maps_add(const map_rec_t *rec)
{
    int rc = 0;
    lock();
    remove_locked(rec->start, rec->length, NULL, NULL);
    if (reserve(mp.count + 1) < 0) {
        atomic_fetch_add(&mp.dropped, 1);
        os_notice_once(NOTICE_MAPS_FULL, "no memory to record more mappings; some are not tracked");
        rc = -1;
    } else {
        size_t i = first_ending_after(rec->start);
        memmove(&mp.recs[i + 1], &mp.recs[i], (mp.count - i) * sizeof *rec);
        mp.recs[i] = *rec;
        mp.count++;
    }
    unlock();
    return rc;
}

void maps_remove(uint64_t start, uint64_t length,
                 void (*on_removed)(const map_rec_t *, void *), void *ctx)
{
    if (busy_here) { /* a signal handler interrupted this thread inside this file */
        queue_removal(start, length);
        return;
    }
    lock();
    remove_locked(start, length, on_removed, ctx);
    unlock();
}

void maps_foreach(void (*visit)(const map_rec_t *, void *), void *ctx)
{
    lock();
    for (size_t i = 0; i < mp.count; i++)
        visit(&mp.recs[i], ctx);
    unlock();
}

size_t maps_count(void)
{
    return mp.count;
}

uint64_t maps_dropped(void)
{
    return atomic_load(&mp.dropped);
}
