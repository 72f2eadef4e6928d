/* An open-addressing index over the items of an array: a slot holds 1 + an item's position, 0
 * when empty. It is how the analyzer finds "the entry for this key" (a growth series, a handle
 * group, a summary entry, an entry's site) in linear time however many thousands of keys a
 * crafted or simply large snapshot has. The caller hashes and compares; the index probes and
 * grows, kept at most half full. */
#ifndef IMGLEAK_SLOTS_H
#define IMGLEAK_SLOTS_H

#include "symbolize.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t *slots;
    size_t capacity; /* a power of two; 0 before the first slots_reserve */
} slots_t;

/* same(item, key, ctx): item (a position) is the one key names. */
typedef int (*slots_same_fn)(size_t item, const void *key, const void *ctx);
/* hash_of(item, ctx): the hash the item was found by. */
typedef uint64_t (*slots_hash_fn)(size_t item, const void *ctx);

/* Room for one more item (n now); when the index grows, the n items are placed again by
 * hash_of. 0, or -1 when out of memory (the index is as it was). */
int slots_reserve(slots_t *ix, size_t n, slots_hash_fn hash_of, const void *ctx);
/* The same with room for `more` items: an index about to take many at once grows once, not
 * each time it fills. */
int slots_reserve_more(slots_t *ix, size_t n, size_t more, slots_hash_fn hash_of, const void *ctx);
/* The slot of the item key names, or the empty slot where it would go (set it to 1 + the new
 * item's position). After slots_reserve. */
size_t *slots_find(const slots_t *ix, uint64_t hash, slots_same_fn same, const void *key,
                   const void *ctx);
void slots_free(slots_t *ix);

/* Hashing the keys: a string mixed into h (FNV-1a), and a frame as model_frames_equal compares
 * frames (function, file, module and line; by address when neither function nor file is known). */
uint64_t slots_hash_string(uint64_t h, const char *s);
uint64_t slots_hash_frame(const frame_t *f);

#endif
