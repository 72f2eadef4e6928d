/* Reachability at a snapshot: which live blocks a pointer in the program's memory still leads to
 * (reachable), which only a pointer into their middle does (possibly leaked), which none does
 * (leaked: the root of a leak) and which only leaked blocks lead to (indirectly leaked, under
 * their root). Called with the guard up; see reach.c for how. */
#ifndef IMGLEAK_REACH_H
#define IMGLEAK_REACH_H

#include "imgleak/format.h"

#include <stdint.h>

typedef struct reach reach_t;

/* Never NULL: when it cannot be done (no memory for its tables) the result classifies nothing
 * and says IMGLEAK_SCAN_SKIPPED. last: for the process's last snapshot (at its exit, not from a
 * handler that interrupted the shim): when no other thread is left, the live table itself holds
 * the scan's blocks until reach_free, which leaves it empty (table_freeze). */
reach_t *reach_scan(int last);
/* In a forked child that has not exec'd, unless scan_anyway: the inherited blocks are forgotten
 * (shim.c) and not read, so the child's blocks are reachable or unscanned, never leaked, and the
 * scan says IMGLEAK_SCAN_INCOMPLETE (without a word on stderr: it is by design). */
void reach_after_fork_child(int scan_anyway);
/* Loaded by imgleak attach: the blocks allocated before the attach are not in the table, yet a
 * block made since may hang from one of them (a node added to an older tree). So every writable
 * mapping, less the tracked blocks, is read as roots, as a forked child reads what it inherited
 * (all of it: unlike a child's, none of it is a copy of someone else's). Freed memory is read
 * too, so a leaked block a stale pointer still names is missed rather than a live one called
 * leaked. */
void reach_set_attached(void);
/* In the final-snapshot sentinel: the program's threads have all ended (exit_group), none shows
 * in /proc, and the static TLS of every thread the shim recorded is read as roots: what it held
 * is what the program held at its end. */
void reach_program_gone(void);
/* IMGLEAK_SCAN_* flags for the process record, and the bytes no reader could read (a sandbox
 * refusing process_vm_readv and /proc/self/mem): with INCOMPLETE, no block is called leaked. */
uint32_t reach_scan_flags(const reach_t *r);
uint64_t reach_unscanned(const reach_t *r);
/* IMGLEAK_CLASS_* of the block at addr (UNKNOWN when r is NULL or the scan did not see it). */
unsigned reach_class(const reach_t *r, uint64_t addr);
/* Bytes the scan could not read (freed and unmapped while it ran, or unmapped stack pages). */
uint64_t reach_unreadable(const reach_t *r);
void reach_free(reach_t *r);

/* Visits every leaked block that indirectly leaked blocks hang from, with their total. */
void reach_foreach_root(const reach_t *r,
                        void (*visit)(uint64_t addr, uint64_t bytes, uint64_t blocks, void *ctx),
                        void *ctx);

#endif
