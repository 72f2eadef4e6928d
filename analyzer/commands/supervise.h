/* imgleak run's watch over the program's end: the shim's sentinel (preload/snapshot/final.c) writes the
 * final snapshot after the program is gone, however it ended; run waits for it, and says how the
 * program ended. */
#ifndef IMGLEAK_SUPERVISE_H
#define IMGLEAK_SUPERVISE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t oom_kills;        /* the cgroup's oom_kill count before the program started; -1: unknown */
    int64_t system_oom_kills; /* the system's (/proc/vmstat); -1: unknown */
} supervise_t;

/* Before the program starts: orphans of the program (its sentinel) come to imgleak run. */
void supervise_begin(supervise_t *sv);
/* After the program was reaped: waits for the sentinels that write its final snapshot. */
void supervise_wait_final(void);
/* "exited 0", "killed by SIGKILL (out of memory)", ... from a wait status. */
void supervise_describe_end(const supervise_t *sv, int status, char *out, size_t size);
/* The oom_kill count of the cgroup a process is in (cgroup v2 memory.events); -1 unknown. */
int64_t supervise_oom_kills(const char *cgroup_file);

#endif
