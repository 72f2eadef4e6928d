/* Per-thread state of the shim: the reentrancy guard and the thread's small index. Initial-exec
 * TLS, because a general-dynamic TLS access may call malloc on first use in a thread, which would
 * recurse into the shim before the guard exists. */
#ifndef IMGLEAK_GUARD_H
#define IMGLEAK_GUARD_H

#include <stdint.h>

typedef struct {
    int depth;     /* >0 while the shim runs on this thread: nested calls pass straight through */
    unsigned slot; /* 1 + the thread's index, assigned on first use; 0 = not yet */
    int registered; /* the thread's stack is known to the reachability scan (threads.h) */
    /* The input this thread is decoding now (inputs.h): part of every stack's identity when it is
     * interned, so the same call chain under two inputs is two stacks. 0: none. The only
     * per-thread state the hot path reads for inputs; a per-thread stack cache must compare it. */
    uint32_t input;
    uint64_t stack_lo, stack_hi; /* the thread's own stack, once registered; 0 when unknown */
    /* Identity of this thread's stacks beyond the native return addresses: a frame source that
     * adds frames or keys after the native unwind changes it whenever they change, so that the
     * stack cache (stackcache.h) never gives a stack captured under another key. 0 by default. */
    uint64_t frame_key;
} guard_state_t;

extern __thread guard_state_t imgleak_guard __attribute__((tls_model("initial-exec")));

static inline int guard_enter(void)
{
    return imgleak_guard.depth++ == 0;
}

static inline void guard_leave(void)
{
    imgleak_guard.depth--;
}

unsigned guard_slot_assign(void) __attribute__((cold));

static inline unsigned guard_slot(void)
{
    unsigned s = imgleak_guard.slot;
    return s ? s - 1 : guard_slot_assign();
}

#endif
