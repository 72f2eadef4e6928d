/* What the shim's entry points offer the other interposed families (the codec hooks). */
#ifndef IMGLEAK_SHIM_API_H
#define IMGLEAK_SHIM_API_H

#include <stdint.h>

/* 1 when this call should be recorded: the shim is ready and not already at work on this thread */
int shim_tracking(void);
/* The interned id of the calling stack (the shim's own frames cut); call with the guard up. */
uint32_t shim_stack_here(void);
uint32_t shim_birth_now(void);
/* A snapshot now, for the program (imgleak_snapshot): 0, or -1 with errno. */
int shim_snapshot_now(void);

#endif
