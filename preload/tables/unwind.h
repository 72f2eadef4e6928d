/* Capturing the calling stack with libunwind, minus the shim's own frames. */
#ifndef IMGLEAK_UNWIND_H
#define IMGLEAK_UNWIND_H

#include <stdint.h>

#define UNWIND_DEPTH_MAX 256

/* Remembers the shim's own code range, so its frames can be cut off the top of stacks. */
void unwind_init(void);
/* Fills frames (innermost first, return addresses) up to max; sets *truncated when the stack
 * was deeper than max. Returns the depth. */
unsigned unwind_capture(uint64_t *frames, unsigned max, int *truncated);
/* As unwind_capture, and slots[i] is where frames[i] was read from (for the stack cache). The
 * walk is slower than unwind_capture's; *cacheable says the slots describe the stack (not
 * through a signal frame or a cgo call, and the program's first return address is at ret_slot). */
unsigned unwind_capture_slots(uint64_t *frames, uint64_t *slots, unsigned max, int *truncated,
                              uintptr_t ret_slot, int *cacheable);
/* 1 when addr is in the shim's own code. */
int unwind_in_shim(uintptr_t addr);
/* 1 when addr is in libunwind (its calls of pipe2, close: see fds.c's pipe2). */
int unwind_is_libunwind(uintptr_t addr);

#endif
