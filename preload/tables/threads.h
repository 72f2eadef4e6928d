/* The threads the shim has seen, with their stacks: each registers the first time it allocates.
 * The reachability scan finds every live thread in /proc/self/task, registered or not; a record
 * here tells it where a thread's stack is when the kernel cannot say (the thread is running). */
#ifndef IMGLEAK_THREADS_H
#define IMGLEAK_THREADS_H

#include <stdint.h>

/* Registers the calling thread (once; later calls return at once). Called with the guard up. */
void threads_register(void);

typedef struct {
    int tid;
    uint64_t lo, hi; /* the stack mapping */
    uint64_t tp;     /* its descriptor (pthread_self; the thread pointer on x86-64): its static
                      * TLS is next to it */
} thread_rec_t;

/* 1 and *out filled when tid registered (the newest record for it). */
int threads_find(int tid, thread_rec_t *out);

/* Visits every registered thread that still exists. */
void threads_foreach(void (*visit)(const thread_rec_t *t, void *ctx), void *ctx);
/* Visits every record, the threads that ended too (in the final-snapshot sentinel, all have). */
void threads_foreach_recorded(void (*visit)(const thread_rec_t *t, void *ctx), void *ctx);

#endif
