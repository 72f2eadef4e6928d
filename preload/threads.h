/* The threads the shim has seen, with their stacks: each registers the first time it allocates.
 * The reachability scan reads their stacks (and the static TLS glibc puts at the top of them) as
 * roots. */
#ifndef IMGLEAK_THREADS_H
#define IMGLEAK_THREADS_H

#include <stdint.h>

/* Registers the calling thread (once; later calls return at once). Called with the guard up. */
void threads_register(void);

typedef struct {
    int tid;
    uint64_t lo, hi; /* the stack mapping */
} thread_rec_t;

/* Visits every registered thread that still exists. */
void threads_foreach(void (*visit)(const thread_rec_t *t, void *ctx), void *ctx);

#endif
