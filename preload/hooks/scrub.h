/* Clearing what the program gives back, so that the reachability scan never reads a word a block
 * held in an earlier life. glibc hands out freed chunks with their old contents, and memory
 * the program has not written since is not a pointer it keeps: valgrind skips such words as
 * undefined, a scan that cannot tell defined from undefined needs them gone. The program never
 * sees the difference: a freed block is no longer its to read, and the bytes of a block it has
 * just allocated are indeterminate. */
#ifndef IMGLEAK_SCRUB_H
#define IMGLEAK_SCRUB_H

#include <stddef.h>

/* Once at start-up, after glibc_heap_detect, with the real malloc_usable_size(); on: 0 when no
 * scan will read the heap (nothing to clear for). */
void scrub_init(size_t (*real_usable_size)(void *), int on);

/* Before the real free() of a block of size bytes the program allocated. */
void scrub_freed(void *p, size_t size);

/* Before a realloc() to size bytes of a block of old bytes: clears what a shrink gives back.
 * 1 when the real realloc may move the block and leave its contents behind in freed memory: the
 * caller then moves it itself (scrub_move). */
int scrub_before_realloc(void *p, size_t old, size_t size);

/* Moves a block of old bytes to q and clears and frees the old one; q already allocated. */
void scrub_move(void *q, void *p, size_t old);

#endif
