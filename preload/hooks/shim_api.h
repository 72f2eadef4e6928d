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

/* imgleak attach (late.c): the shim was loaded into a running program. begin: starts tracking
 * with settings (NAME=VALUE lines, as the IMGLEAK_* variables) and says IMGLEAK_INTERVAL, 0 or
 * -1 (not loaded late, or started already); snapshot: one snapshot, final: with the reachability scan; end: every entry
 * point passes through from now on. */
int shim_late_begin(const char *settings, unsigned *interval_ms);
void shim_late_snapshot(int final);
void shim_late_end(void);

#endif
