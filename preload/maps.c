/* Tracked mappings (see maps.h): a sorted array in memory the shim maps for itself, grown by
 * doubling. Guarded by a mutex that is re-initialised in a forked child. */
#include "maps.h"

#include "os.h"

#include <pthread.h>
#include <string.h>

static struct {
    map_rec_t *recs;
    size_t count;
    size_t capacity;
    uint64_t dropped;
    pthread_mutex_t lock;
} mp = {.lock = PTHREAD_MUTEX_INITIALIZER};

int maps_init(void)
{
    return 0;
}

void maps_after_fork_child(void)
{
    pthread_mutex_init(&mp.lock, NULL);
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
                mp.dropped++;
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

int maps_add(const map_rec_t *rec)
{
    int rc = 0;
    pthread_mutex_lock(&mp.lock);
    remove_locked(rec->start, rec->length, NULL, NULL);
    if (reserve(mp.count + 1) < 0) {
        mp.dropped++;
        rc = -1;
    } else {
        size_t i = first_ending_after(rec->start);
        memmove(&mp.recs[i + 1], &mp.recs[i], (mp.count - i) * sizeof *rec);
        mp.recs[i] = *rec;
        mp.count++;
    }
    pthread_mutex_unlock(&mp.lock);
    return rc;
}

void maps_remove(uint64_t start, uint64_t length,
                 void (*on_removed)(const map_rec_t *, void *), void *ctx)
{
    pthread_mutex_lock(&mp.lock);
    remove_locked(start, length, on_removed, ctx);
    pthread_mutex_unlock(&mp.lock);
}

void maps_foreach(void (*visit)(const map_rec_t *, void *), void *ctx)
{
    pthread_mutex_lock(&mp.lock);
    for (size_t i = 0; i < mp.count; i++)
        visit(&mp.recs[i], ctx);
    pthread_mutex_unlock(&mp.lock);
}

size_t maps_count(void)
{
    return mp.count;
}

uint64_t maps_dropped(void)
{
    return mp.dropped;
}
