/* Taking a snapshot: the live set, the stacks, the module map and the process figures, written to
 * IMGLEAK_OUT/imgleak.<pid>.<instance>.<seq>.snap under a temporary name, checked and renamed, so
 * that a file with the final name is always whole. <instance> is 16 hex digits drawn at random
 * per process (again in a forked child): two processes with one pid never share a name. */
#ifndef IMGLEAK_SNAPSHOT_H
#define IMGLEAK_SNAPSHOT_H

#include <stdint.h>

typedef struct {
    const char *out_dir; /* absolute */
    int out_dir_too_long; /* IMGLEAK_OUT did not fit: every snapshot fails (and says so) */
    unsigned depth_limit;
    uint64_t start_time_ns;
    uint64_t truncated_stacks;
    uint64_t sample_bytes;
    unsigned keep; /* keep only this many of the newest snapshots of this process (0: all) */
    int scan;      /* SNAPSHOT_SCAN_*: when to classify blocks by reachability */
} snapshot_ctx_t;

enum { SNAPSHOT_SCAN_OFF = 0, SNAPSHOT_SCAN_AT_EXIT = 1, SNAPSHOT_SCAN_ALWAYS = 2 };

/* At start: draws this process's instance id. */
void snapshot_init(void);
uint64_t snapshot_instance(void);
/* Called with the guard up. flags: IMGLEAK_SNAP_*. interrupted: this thread was stopped inside
 * the shim or the allocator (exit() from a signal handler), so nothing may take a lock that it
 * may hold: allocator statistics are left out. 0, or -1 (counted, said once on stderr). */
int snapshot_write(const snapshot_ctx_t *ctx, uint64_t flags, int interrupted);
/* In a forked child: a new instance, numbering starts again. */
void snapshot_after_fork_child(void);
/* In the final-snapshot sentinel (final.h): snapshots are the dead program's, pid and parent. */
void snapshot_adopt(long pid, long ppid);

#endif
