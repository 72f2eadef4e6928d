/* The thread-local guard and thread indexes (see guard.h). */
#include "guard.h"

#include <stdatomic.h>

__thread guard_state_t imgleak_guard __attribute__((tls_model("initial-exec")));

static _Atomic unsigned next_slot;

unsigned guard_slot_assign(void)
{
    unsigned s = atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed);
    imgleak_guard.slot = s + 1;
    return s;
}
