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

static uintptr_t libunwind_base;

int unwind_is_libunwind(uintptr_t addr)
{
    Dl_info info;
    return libunwind_base && dladdr((void *)addr, &info) && (uintptr_t)info.dli_fbase == libunwind_base;
}

void unwind_init(void)
{
    Dl_info info;
    /* before libunwind's first use below, which makes its pipe (unwind_is_libunwind) */
    if (dladdr((void *)(uintptr_t)&unw_backtrace, &info))
        libunwind_base = (uintptr_t)info.dli_fbase;
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

/* The same stack as unwind_capture, by stepping a cursor, which also tells where each return
 * address was read from: on x86-64 the slot just below the caller's stack pointer. The program's
 * first frame must have been read from ret_slot, or the walk is not what the entry point saw.
 * *cacheable is 0 when the slots do not describe the stack (a signal frame, a cgo call, another
 * architecture). */
unsigned unwind_capture_slots(uint64_t *frames, uint64_t *slots, unsigned max, int *truncated,
                              uintptr_t ret_slot, int *cacheable)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    unsigned depth = 0;
    int in_shim = 1;
    *cacheable = 0;
    *truncated = 0;
#if defined(__x86_64__)
    int ok = unw_getcontext(&ctx) == 0 && unw_init_local(&cur, &ctx) == 0;
    *cacheable = ok;
    int steps = 0;
    while (ok) {
        unw_word_t ip, sp;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || unw_get_reg(&cur, UNW_REG_SP, &sp) < 0 ||
            ip == 0)
            break;
        if (in_shim && !(ip >= self_lo && ip < self_hi)) {
            in_shim = 0;
            if (sp - 8 != ret_slot)
                *cacheable = 0;
        }
        if (!in_shim) {
            if (depth == max) {
                *truncated = 1;
                break;
            }
            if (unw_is_signal_frame(&cur) > 0)
                *cacheable = 0;
            frames[depth] = ip;
            slots[depth++] = sp - 8;
        }
        if (++steps > UNWIND_DEPTH_MAX + 64) /* a cycle in bad unwind data: stop somewhere */
            break;
        if (unw_step(&cur) <= 0)
            break;
    }
    if (!*truncated && depth && go_is_cgo_return(frames[depth - 1])) {
        *cacheable = 0;
        depth = go_append_frames(frames, depth, max, truncated);
    }
    /* Python frames change while the native chain stays (one evaluator frame runs many lines):
     * a stack that holds any is never cached */
    unsigned native = depth;
    depth = python_interleave_frames(frames, depth, max, truncated);
    if (depth != native)
        *cacheable = 0;
    return depth;
#else
    (void)slots;
    (void)ret_slot;
    (void)ctx;
    (void)cur;
    (void)in_shim;
    return unwind_capture(frames, max, truncated);
#endif
}
