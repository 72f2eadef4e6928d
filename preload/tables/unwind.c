/* Stack capture (see unwind.h). unw_backtrace walks with libunwind's cached fast path; frames in
 * the shim's own text are dropped so that the innermost frame is the program's call to malloc. */
#define _GNU_SOURCE
#include "unwind.h"

#include "go.h"
#include "python.h"

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>

static uintptr_t self_lo, self_hi;

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t me = (uintptr_t)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (me >= lo && me < hi) {
            self_lo = lo;
            self_hi = hi;
            return 1;
        }
    }
    return 0;
}

void unwind_init(void)
{
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&unwind_init);
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    go_init();
}

int unwind_in_shim(uintptr_t addr)
{
    return addr >= self_lo && addr < self_hi;
}

unsigned unwind_capture(uint64_t *frames, unsigned max, int *truncated)
{
    void *ips[UNWIND_DEPTH_MAX + 8];
    /* a few frames beyond the limit for the shim's own, which are cut below; a buffer that
     * fills up means the stack went on past the limit */
    unsigned want = max + 6 > UNWIND_DEPTH_MAX + 8 ? UNWIND_DEPTH_MAX + 8 : max + 6;
    int n = unw_backtrace(ips, (int)want);
    int skip = 0;
    while (skip < n && (uintptr_t)ips[skip] >= self_lo && (uintptr_t)ips[skip] < self_hi)
        skip++;
    unsigned depth = 0;
    for (int i = skip; i < n && depth < max; i++)
        frames[depth++] = (uintptr_t)ips[i];
    *truncated = n == (int)want || n - skip > (int)max;
    if (!*truncated) /* a cgo call: libunwind stopped where the goroutine's frames begin */
        depth = go_append_frames(frames, depth, max, truncated);
    /* a separate step after the native unwind: the same native stack can run other Python lines */
    return python_interleave_frames(frames, depth, max, truncated);
}
