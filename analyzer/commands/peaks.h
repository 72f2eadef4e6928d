/* imgleak run's peak snapshots: an OOM kill leaves no final snapshot (the kernel kills the
 * sentinel with the program: they share its memory), so while the program runs, imgleak run
 * watches its resident set and asks the shim for a snapshot (IMGLEAK_SIGNAL) each time it
 * reaches a new high-water mark: from PEAKS_FLOOR (or half the memory limit) up by a factor,
 * and at 80, 90 and 95% of the limit. The last one before a kill is close to the peak. */
#ifndef IMGLEAK_PEAKS_H
#define IMGLEAK_PEAKS_H

#include <stdint.h>
#include <sys/types.h>

#define PEAKS_FACTOR_DEFAULT 2.0
#define PEAKS_FLOOR (UINT64_C(64) << 20) /* below this RSS, nothing to look at */
#define PEAKS_POLL_MS 50                 /* one read of /proc/PID/statm each time */

typedef struct {
    double factor;  /* > 1; 0: no peak snapshots */
    uint64_t mark;  /* the RSS that asks for the next one; 0: not known yet */
    uint64_t limit; /* the memory limit last seen; 0: unknown */
    unsigned asked; /* snapshots asked for */
} peaks_t;

void peaks_init(peaks_t *pk, double factor);
/* Called every PEAKS_POLL_MS while pid runs: 1 when its RSS has reached the mark (the mark then
 * moves on). */
int peaks_due(peaks_t *pk, pid_t pid);
/* The rule, apart for the tests: the first mark under limit (0: unknown), and the one after a
 * snapshot at rss. */
uint64_t peaks_first_mark(uint64_t limit);
uint64_t peaks_next_mark(uint64_t rss, uint64_t limit, double factor);
/* What pid may hold before the OOM killer ends it: the smallest memory limit of its cgroup and
 * those above (v2 memory.max, v1 memory.limit_in_bytes), or the machine's RAM; 0 unknown. */
uint64_t peaks_memory_limit(pid_t pid);

#endif
