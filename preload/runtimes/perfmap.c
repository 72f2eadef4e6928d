/* Perf maps (see perfmap.h). Read at snapshot time only; the file is streamed through a fixed
 * buffer, a line at a time, and a line longer than the buffer is skipped. */
#define _GNU_SOURCE
#include "perfmap.h"

#include "imgleak/format.h"
#include "os.h"
#include "stacks.h"

#include <fcntl.h>
#include <string.h>

#define LINE_MAX_BYTES 4096

typedef struct {
    const module_list_t *mods;
    perfmap_t *map;
} collect_t;

static int in_a_module(const module_list_t *mods, uint64_t a)
{
    for (size_t i = 0; i < mods->count; i++)
        if (a >= mods->recs[i].start && a < mods->recs[i].end)
            return 1;
    return 0;
}

static void count_frames(const stack_view_t *v, void *ctx)
{
    *(size_t *)ctx += v->depth;
}

static void collect_frames(const stack_view_t *v, void *ctx)
{
    collect_t *c = ctx;
    for (unsigned i = 0; i < v->depth && c->map->nframes < c->map->mapped / sizeof(uint64_t); i++) {
        uint64_t a = v->frames[i];
        if (!(a & IMGLEAK_FRAME_SCRIPT) && a && !in_a_module(c->mods, a))
            c->map->frames[c->map->nframes++] = a;
    }
}

/* heapsort: no allocation, no recursion */
static void sift(uint64_t *a, size_t root, size_t n)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (a[root] >= a[child])
            return;
        uint64_t t = a[root];
        a[root] = a[child];
        a[child] = t;
    }
}

static size_t sort_unique(uint64_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift(a, i, n);
    for (size_t end = n; end > 1; end--) {
        uint64_t t = a[0];
        a[0] = a[end - 1];
        a[end - 1] = t;
        sift(a, 0, end - 1);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || a[i] != a[k - 1])
            a[k++] = a[i];
    return k;
}

static void put_decimal(char **at, unsigned long v)
{
    char digits[24];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 23);
    while (n)
        *(*at)++ = digits[--n];
}

int perfmap_open(perfmap_t *map, long pid, const module_list_t *mods)
{
    memset(map, 0, sizeof *map);
    map->fd = -1;
    char path[64] = "/tmp/perf-", *at = path + strlen(path);
    put_decimal(&at, (unsigned long)pid);
    memcpy(at, ".map", 5);
    map->fd = ownfd_open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
    if (map->fd < 0)
        return 0;
    size_t total = 0;
    stacks_foreach(count_frames, &total);
    map->mapped = (total ? total : 1) * sizeof(uint64_t);
    map->frames = os_map(map->mapped);
    collect_t c = {mods, map};
    if (map->frames)
        stacks_foreach(collect_frames, &c);
    map->nframes = map->frames ? sort_unique(map->frames, map->nframes) : 0;
    if (!map->nframes) {
        perfmap_close(map);
        return 0;
    }
    return 1;
}

/* 1 when a frame (a return address: the call is just before it) lies in [start, start + size) */
static int names_a_frame(const perfmap_t *map, uint64_t start, uint64_t size)
{
    size_t lo = 0, hi = map->nframes;
    while (lo < hi) { /* the first frame above start */
        size_t mid = (lo + hi) / 2;
        if (map->frames[mid] <= start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < map->nframes && map->frames[lo] - 1 < start + size;
}

static int hex_field(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    const char *first = s;
    for (; s < end && s - first < 16; s++) {
        char c = *s;
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d == 16)
            break;
        v = v << 4 | d;
    }
    if (s == first || s >= end || *s != ' ')
        return -1;
    *out = v;
    *p = s + 1;
    return 0;
}

void perfmap_foreach(perfmap_t *map,
                     void (*visit)(uint64_t start, uint64_t size, const char *name, size_t len, void *ctx),
                     void *ctx)
{
    static char buf[2 * LINE_MAX_BYTES]; /* snapshots are written one at a time */
    size_t have = 0;
    int skipping = 0; /* inside a line longer than the buffer */
    for (;;) {
        ssize_t n = ownfd_read(map->fd, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t used = 0;
        for (;;) {
            char *nl = memchr(buf + used, '\n', have - used);
            if (!nl)
                break;
            const char *p = buf + used, *end = nl;
            uint64_t start, size;
            if (!skipping && hex_field(&p, end, &start) == 0 && hex_field(&p, end, &size) == 0 &&
                end > p && names_a_frame(map, start, size))
                visit(start, size, p, (size_t)(end - p > 0xffff ? 0xffff : end - p), ctx);
            skipping = 0;
            used = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
        if (have == sizeof buf) { /* no end of line in a full buffer: drop this line */
            have = 0;
            skipping = 1;
        }
    }
}

void perfmap_close(perfmap_t *map)
{
    if (map->fd >= 0)
        ownfd_close(map->fd);
    if (map->frames)
        os_unmap(map->frames, map->mapped);
    memset(map, 0, sizeof *map);
    map->fd = -1;
}
