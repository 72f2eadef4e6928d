/* The analyzer's one open-addressing index (see slots.h). */
#include "slots.h"

#include <stdint.h>
#include <stdlib.h>

/* The callers' hashes are cheap (FNV, a product): their low bits, which pick the slot, can be
 * all alike (addresses 16 apart, a frame's offset times an odd constant). Mixed (murmur3's
 * finalizer) so that every bit of the hash counts. */
static size_t spread(uint64_t h, size_t mask)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return (size_t)h & mask;
}

int slots_reserve(slots_t *ix, size_t n, slots_hash_fn hash_of, const void *ctx)
{
    return slots_reserve_more(ix, n, 1, hash_of, ctx);
}

int slots_reserve_more(slots_t *ix, size_t n, size_t more, slots_hash_fn hash_of, const void *ctx)
{
    if (ix->slots && (n + more) * 2 <= ix->capacity)
        return 0;
    if (n > SIZE_MAX / 32 || more > SIZE_MAX / 32 - n)
        return -1; /* (n + more) * 2 slots of 8 bytes would not fit a size_t */
    size_t cap = ix->capacity ? ix->capacity : 64;
    while ((n + more) * 2 > cap)
        cap *= 2;
    size_t *fresh = calloc(cap, sizeof *fresh);
    if (!fresh)
        return -1;
    /* the items are distinct: each goes to the first empty slot on its path */
    for (size_t i = 0; i < n; i++) {
        size_t j = spread(hash_of(i, ctx), cap - 1);
        while (fresh[j])
            j = (j + 1) & (cap - 1);
        fresh[j] = i + 1;
    }
    free(ix->slots);
    ix->slots = fresh;
    ix->capacity = cap;
    return 0;
}

size_t *slots_find(const slots_t *ix, uint64_t hash, slots_same_fn same, const void *key,
                   const void *ctx)
{
    size_t mask = ix->capacity - 1, j = spread(hash, mask);
    while (ix->slots[j] && !same(ix->slots[j] - 1, key, ctx))
        j = (j + 1) & mask;
    return &ix->slots[j];
}

void slots_free(slots_t *ix)
{
    free(ix->slots);
    *ix = (slots_t){NULL, 0};
}

uint64_t slots_hash_string(uint64_t h, const char *s)
{
    while (s && *s)
        h = (h ^ (unsigned char)*s++) * 1099511628211u;
    return h * 31 + 7;
}

uint64_t slots_hash_frame(const frame_t *f)
{
    uint64_t h = slots_hash_string(1469598103934665603u, f->function);
    h = slots_hash_string(slots_hash_string(h, f->file), f->module);
    h ^= f->line * 0x9e3779b97f4a7c15u;
    if (!f->function && !f->file) /* unknown frames differ by address */
        h ^= f->offset * 0xff51afd7ed558ccdu;
    return h;
}
