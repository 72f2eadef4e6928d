/* imgleak run's peak snapshots (see peaks.h). Everything here runs in imgleak run, nothing in
 * the program: the cost to it is one snapshot per mark reached, none when its memory does not
 * grow. */
#define _GNU_SOURCE
#include "peaks.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const double limit_steps[] = {0.80, 0.90, 0.95};
#define NSTEPS (sizeof limit_steps / sizeof *limit_steps)

void peaks_init(peaks_t *pk, double factor)
{
    memset(pk, 0, sizeof *pk);
    pk->factor = factor > 1 ? factor : 0;
}

uint64_t peaks_first_mark(uint64_t limit)
{
    return limit && limit / 2 < PEAKS_FLOOR ? limit / 2 : PEAKS_FLOOR;
}

uint64_t peaks_next_mark(uint64_t rss, uint64_t limit, double factor)
{
    uint64_t next = (uint64_t)((double)rss * factor);
    if (next <= rss)
        next = rss + 1;
    for (size_t i = 0; limit && i < NSTEPS; i++) {
        uint64_t step = (uint64_t)((double)limit * limit_steps[i]);
        if (step > rss && step < next)
            next = step;
    }
    return next;
}

/* The first number in file, or 0 ("max", missing, unreadable). */
static uint64_t read_number(const char *file)
{
    FILE *f = fopen(file, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* The smallest limit in the files named pattern % each ancestor of rel (rel included). */
static uint64_t smallest_up(const char *pattern, char *rel, uint64_t best)
{
    char path[4200];
    for (;;) {
        snprintf(path, sizeof path, pattern, rel);
        uint64_t v = read_number(path);
        if (v && (!best || v < best))
            best = v;
        char *slash = strrchr(rel, '/');
        if (!slash)
            return best;
        *slash = '\0';
    }
}

uint64_t peaks_memory_limit(pid_t pid)
{
    uint64_t limit = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    unsigned long long kib;
    if (f) {
        if (fscanf(f, "MemTotal: %llu kB", &kib) == 1)
            limit = kib << 10;
        fclose(f);
    }
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%ld/cgroup", (long)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *rel = strchr(line, ':') ? strchr(strchr(line, ':') + 1, ':') : NULL;
        if (!rel)
            continue;
        rel++;
        if (strcmp(rel, "/") == 0)
            rel[0] = '\0';
        /* v1 says "no limit" with a huge number, which the MemTotal bound takes care of */
        if (strncmp(line, "0::", 3) == 0)
            limit = smallest_up("/sys/fs/cgroup%s/memory.max", rel, limit);
        else if (strstr(line, ":memory:"))
            limit = smallest_up("/sys/fs/cgroup/memory%s/memory.limit_in_bytes", rel, limit);
    }
    if (f)
        fclose(f);
    return limit;
}

static uint64_t resident_bytes(pid_t pid)
{
    char path[64];
    unsigned long long size, resident;
    snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fscanf(f, "%llu %llu", &size, &resident) == 2;
    fclose(f);
    return ok ? resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

int peaks_due(peaks_t *pk, pid_t pid)
{
    if (!pk->factor)
        return 0;
    uint64_t rss = resident_bytes(pid);
    /* the program may move itself into a smaller cgroup: the limit is read again each time
     * the RSS is near a mark (two small reads), not on every poll */
    if (!pk->mark || rss >= pk->mark) {
        uint64_t limit = peaks_memory_limit(pid);
        if (!pk->mark || limit != pk->limit) {
            pk->limit = limit;
            uint64_t first = peaks_first_mark(limit);
            if (!pk->mark || first < pk->mark)
                pk->mark = first;
        }
    }
    if (!rss || rss < pk->mark)
        return 0;
    pk->mark = peaks_next_mark(rss, pk->limit, pk->factor);
    pk->asked++;
    return 1;
}
