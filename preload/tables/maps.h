/* Tracked memory mappings: what the program itself mapped with mmap/mremap and has not unmapped.
 * Kept as sorted address ranges, because munmap and mremap work on ranges: a partial munmap
 * splits a record, an overlapping MAP_FIXED mapping replaces what it covers. Mapping calls are
 * system calls already, so a mutex here costs nothing that matters. */
#ifndef IMGLEAK_MAPS_H
#define IMGLEAK_MAPS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t start;
    uint64_t length;
    uint32_t stack_id;
    uint32_t birth_s;
} map_rec_t;

int maps_init(void);
void maps_after_fork_child(void);
/* Forgets every mapping; only while no other thread runs (a forked child). */
void maps_forget_all(void);
/* The callback for removals that had to be queued (see maps_remove). */
void maps_set_on_removed(void (*on_removed)(const map_rec_t *piece, void *ctx));

/* Records [start, start+length) (replacing what it overlaps); -1 when out of room. */
int maps_add(const map_rec_t *rec);
/* Forgets [start, start+length). Calls on_removed for every piece it drops, so the stack's
 * counters can be updated. Async-signal-safe: from a handler that interrupted this thread inside
 * this module, the range is queued and forgotten (with the maps_set_on_removed callback) as soon
 * as the interrupted call is done. */
void maps_remove(uint64_t start, uint64_t length,
                 void (*on_removed)(const map_rec_t *piece, void *ctx), void *ctx);

void maps_foreach(void (*visit)(const map_rec_t *rec, void *ctx), void *ctx);
size_t maps_count(void);
uint64_t maps_dropped(void);

#endif
