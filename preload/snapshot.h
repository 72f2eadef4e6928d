/* Taking a snapshot: the live set, the stacks, the module map and the process figures, written to
 * IMGLEAK_OUT/imgleak.<pid>.<seq>.snap under a temporary name and renamed, so that a file with the
 * final name is always whole. */
#ifndef IMGLEAK_SNAPSHOT_H
#define IMGLEAK_SNAPSHOT_H

#include <stdint.h>

typedef struct {
    const char *out_dir;
    unsigned depth_limit;
    uint64_t start_time_ns;
    uint64_t truncated_stacks;
    uint64_t sample_bytes;
    unsigned keep; /* keep only this many of the newest snapshots of this process (0: all) */
    int scan;      /* SNAPSHOT_SCAN_*: when to classify blocks by reachability */
} snapshot_ctx_t;

enum { SNAPSHOT_SCAN_OFF = 0, SNAPSHOT_SCAN_AT_EXIT = 1, SNAPSHOT_SCAN_ALWAYS = 2 };

/* Called with the guard up. flags: IMGLEAK_SNAP_*. 0, or -1 (said with os_log). */
int snapshot_write(const snapshot_ctx_t *ctx, uint64_t flags);
/* In a forked child: numbering starts again for the new pid. */
void snapshot_after_fork_child(void);
/* In the final-snapshot sentinel (final.h): snapshots are the dead program's, pid and parent. */
void snapshot_adopt(long pid, long ppid);

#endif
