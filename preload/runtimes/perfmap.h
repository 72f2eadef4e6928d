/* JIT-compiled code named by a perf map: node --perf-basic-prof, Python 3.12's -X perf, LuaJIT
 * and the JVM's perf-map-agent write /tmp/perf-PID.map, one "START SIZE name" line per piece of
 * code. At a snapshot the lines that name a frame of the stacks are copied into it: the map may
 * be gone, or belong to a later process with the same pid, by the time the snapshot is read. */
#ifndef IMGLEAK_PERFMAP_H
#define IMGLEAK_PERFMAP_H

#include "ownfd.h"
#include "procinfo.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    ownfd_t fd;
    uint64_t *frames; /* sorted return addresses of the stacks that no module holds */
    size_t nframes, mapped;
} perfmap_t;

/* 1 when /tmp/perf-<pid>.map exists and some frame of the stacks lies outside every module of
 * mods (JIT code); 0 otherwise (nothing to release then). Allocation-free: the shim's own pages. */
int perfmap_open(perfmap_t *map, long pid, const module_list_t *mods);
/* Visits, in the file's order, every line whose range holds one of those frames (a range a
 * later line reuses is named by the later one). */
void perfmap_foreach(perfmap_t *map,
                     void (*visit)(uint64_t start, uint64_t size, const char *name, size_t len, void *ctx),
                     void *ctx);
void perfmap_close(perfmap_t *map);

#endif
