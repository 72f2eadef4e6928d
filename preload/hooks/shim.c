/* The interposed entry points of libimgleak.so. Each one forwards to the real function (found
 * with dlsym(RTLD_NEXT)) and then records or forgets the block in the tracker below. The order is
 * fixed by one rule: a block is recorded after the real allocation returns and forgotten before
 * the real free runs, so an address reused by another thread is never confused with its old self. */
#define _GNU_SOURCE
#include "bind.h"
#include "catalog.h"
#include "config.h"
#include "fds.h"
#include "final.h"
#include "glibc_heap.h"
#include "guard.h"
#include "handles.h"
#include "inputs.h"
#include "shim_api.h"
#include "imgleak/format.h"
#include "maps.h"
#include "os.h"
#include "ownfd.h"
#include "periodic.h"
#include "procinfo.h"
#include "python.h"
#include "reach.h"
#include "sampler.h"
#include "scrub.h"
#include "snapshot.h"
#include "stackcache.h"
#include "stacks.h"
#include "table.h"
#include "threads.h"
#include "unwind.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* STATE_WAKE: ready, and a snapshot signal asked for the background thread, which the next
 * allocation starts (see periodic.h); it costs the hot path nothing, being a state != READY. */
enum { STATE_NONE, STATE_STARTING, STATE_READY, STATE_OFF, STATE_WAKE };

static struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
    int (*dlclose)(void *);
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
    sighandler_t (*signal)(int, sighandler_t);
    int (*close)(int);
    void (*closefrom)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
} real;

static _Atomic int state;
/* Loaded into a running process by imgleak attach (late.c), not preloaded: nobody calls the
 * entry points until late.c repoints the program's references to them, and the settings come
 * from imgleak attach, not from the environment. */
static int late;
static const char *late_settings;
static config_t cfg;
static snapshot_ctx_t snap_ctx;
static struct timespec start_mono;
static _Atomic uint64_t truncated_stacks;
static size_t page_size = 4096;
static int free_is_glibc; /* the real free is glibc's (glibc_heap.h) */

/* ---- bootstrap: memory for dlsym and friends before the real allocator is known ---- */

#define BOOT_SIZE (256 * 1024)
static char boot_heap[BOOT_SIZE] __attribute__((aligned(64)));
static _Atomic size_t boot_top;

static int is_boot(const void *p)
{
    return (const char *)p >= boot_heap && (const char *)p < boot_heap + BOOT_SIZE;
}

/* Bump allocation with a size header; never freed. Zeroed because the array is. */
static void *boot_alloc(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    for (;;) {
        size_t top = atomic_load(&boot_top);
        size_t at = (top + sizeof(size_t) + align - 1) & ~(align - 1);
        if (size > BOOT_SIZE || at + size > BOOT_SIZE)
            return NULL;
        if (atomic_compare_exchange_weak(&boot_top, &top, at + size)) {
            memcpy(boot_heap + at - sizeof(size_t), &size, sizeof size);
            return boot_heap + at;
        }
    }
}

static size_t boot_size(const void *p)
{
    size_t n;
    memcpy(&n, (const char *)p - sizeof n, sizeof n);
    return n;
}

/* ---- start-up ---- */

static void resolve_real(void)
{
    /* loaded late, the shim is outside the global scope: the program's own definition is the
     * real one (RTLD_NEXT would search the shim's dependencies only, missing an allocator the
     * executable defines) */
    void *scope = late ? RTLD_DEFAULT : RTLD_NEXT;
#define RESOLVE(name) real.name = (__typeof__(real.name))dlsym(scope, #name)
    RESOLVE(malloc);
    RESOLVE(free);
    RESOLVE(calloc);
    RESOLVE(realloc);
    RESOLVE(posix_memalign);
    RESOLVE(aligned_alloc);
    RESOLVE(memalign);
    RESOLVE(valloc);
    RESOLVE(pvalloc);
    RESOLVE(malloc_usable_size);
    RESOLVE(mmap);
    RESOLVE(munmap);
    RESOLVE(mremap);
    RESOLVE(dlclose);
    RESOLVE(sigaction);
    RESOLVE(signal);
    RESOLVE(close);
    RESOLVE(closefrom);
    RESOLVE(dup2);
    RESOLVE(dup3);
#undef RESOLVE
}

static void map_forgotten(const map_rec_t *piece, void *ctx);

static void after_fork_child(void)
{
    if (late) {
        /* attached to the parent only: the child's calls pass through (late.h) */
        atomic_store(&state, STATE_OFF);
        return;
    }
    /* the descriptors the shim moves and opens here are its own, not the program's (fds.h) */
    imgleak_guard.depth++;
    os_pid_now();
    table_after_fork_child();
    stackcache_after_fork_child();
    handles_after_fork_child();
    inputs_after_fork_child();
    fds_after_fork_child();
    maps_after_fork_child();
    /* What the child inherited is the parent's to report (its snapshots have it): the child's
     * own snapshots hold what the child allocates, and its exit costs no pass over the parent's
     * heap. IMGLEAK_SCAN=always keeps the inherited blocks and scans them as before. */
    if (cfg.scan != SNAPSHOT_SCAN_ALWAYS) {
        table_forget_all();
        sampler_forget_all();
        maps_forget_all();
    }
    reach_after_fork_child(cfg.scan == SNAPSHOT_SCAN_ALWAYS);
    ownfd_after_fork_child();
    snapshot_after_fork_child();
    periodic_after_fork_child();
    final_after_fork_child();
    imgleak_guard.depth--;
}

/* Called with the guard up: at exit, or on the background thread. */
static void take_snapshot(uint64_t flags, int interrupted)
{
    snap_ctx.truncated_stacks = atomic_load(&truncated_stacks);
    snapshot_write(&snap_ctx, flags | (late ? IMGLEAK_SNAP_ATTACHED : 0), interrupted);
}

/* In the sentinel, once the program is gone (final.h). */
static void take_final_snapshot(long pid, long ppid)
{
    imgleak_guard.depth++;
    /* The program's threads are gone: a lock one of them held when exit_group or a signal took
     * it is held by no one, and waiting for it would hang the sentinel (it blocks signals while
     * it waits, so not even its deadline ends it). Reset as a forked child resets them. */
    ownfd_lock_reset();
    maps_after_fork_child();
    handles_after_fork_child();
    inputs_after_fork_child();
    snapshot_adopt(pid, ppid);
    /* not "interrupted": the program's threads are gone, and final.c has already checked that
     * the allocator's lock is free (procinfo_skip_allocator when it is not) */
    take_snapshot(IMGLEAK_SNAP_AT_EXIT, 0);
}

static void take_periodic_snapshot(void)
{
    take_snapshot(periodic_take_peak() ? IMGLEAK_SNAP_PEAK : 0, 0);
}

static int snapshot_write_now(void)
{
    snap_ctx.truncated_stacks = atomic_load(&truncated_stacks);
    return snapshot_write(&snap_ctx, 0, 0);
}

static int is_ready(void)
{
    int now = atomic_load_explicit(&state, memory_order_acquire);
    return now == STATE_READY || now == STATE_WAKE;
}

/* From the signal handler: async-signal-safe. */
static void request_thread(void)
{
    int expected = STATE_READY;
    atomic_compare_exchange_strong(&state, &expected, STATE_WAKE);
}

__attribute__((cold, noinline)) static void start_requested_thread(void)
{
    int expected = STATE_WAKE;
    if (!atomic_compare_exchange_strong(&state, &expected, STATE_READY))
        return;
    imgleak_guard.depth++;
    periodic_ensure_thread();
    imgleak_guard.depth--;
}

static void shim_quick_exit(void);
static void shim_exit_handler(void *unused);
static int exit_handler_armed; /* shim_exit_handler takes the exit snapshot */
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

__attribute__((cold, noinline)) static void shim_start(void)
{
    int expected = STATE_NONE;
    if (!atomic_compare_exchange_strong(&state, &expected, STATE_STARTING))
        return; /* another thread is starting it, or it is done */
    imgleak_guard.depth++;
    resolve_real();
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0)
        page_size = (size_t)ps;
    if (!real.malloc || !real.free || !real.calloc || !real.realloc || !real.mmap ||
        !real.munmap || getauxval(AT_SECURE)) {
        /* set-uid/set-gid programs are left alone entirely */
        atomic_store(&state, STATE_OFF);
        imgleak_guard.depth--;
        return;
    }
    /* before anything below allocates: a chunk handed out uncounted would be taken off the
     * count when freed (count_chunk) */
    glibc_heap_detect(real.free);
    free_is_glibc = glibc_heap_active();
    if (late)
        config_read_settings(&cfg, late_settings);
    else
        config_read(&cfg);
    if (catalog_load() < 0) {
        /* a declaration refused (said on stderr): untracked rather than half-tracked, as a
         * report that misses the handles the user asked for would read as clean */
        atomic_store(&state, STATE_OFF);
        imgleak_guard.depth--;
        return;
    }
    python_init();
    if (!cfg.depth_set && python_runtime_found())
        cfg.depth = CONFIG_DEPTH_INTERPRETED; /* the script's own frames are the outermost */
    snapshot_init();
    procinfo_init();
    clock_gettime(CLOCK_MONOTONIC_COARSE, &start_mono);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    snap_ctx.out_dir = cfg.out_dir;
    snap_ctx.out_dir_too_long = cfg.out_dir_too_long;
    snap_ctx.depth_limit = cfg.depth;
    snap_ctx.sample_bytes = cfg.sample_bytes;
    snap_ctx.keep = cfg.keep;
    snap_ctx.scan = cfg.scan;
    sampler_init(cfg.sample_bytes);
    /* Sampling records few of the blocks freed: most chunks go back to the allocator uncleared
     * whatever the shim does, so clearing the sampled ones (mostly large) would cost a read of
     * them and still leave sampled blocks made from unsampled chunks with stale words. */
    scrub_init(real.malloc_usable_size, cfg.scan != SNAPSHOT_SCAN_OFF && cfg.sample_bytes == 0);
    snap_ctx.start_time_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
    /* sampling records few blocks: a small table keeps untracked frees' look-ups in cache */
    if (table_init(cfg.sample_bytes ? 1024 : 1u << 16, cfg.max_live) < 0 || stacks_init(cfg.max_stacks, cfg.depth) < 0 ||
        maps_init() < 0) {
        os_notice_once(NOTICE_START, "no memory for the tables (an address-space limit?); "
                                     "not tracking this process");
        atomic_store(&state, STATE_OFF);
        imgleak_guard.depth--;
        return;
    }
    table_set_mostly_absent(cfg.sample_bytes > 0);
    inputs_set_limit((uint32_t)cfg.max_inputs);
    maps_set_on_removed(map_forgotten);
    unwind_init();
    stackcache_init(cfg.depth);
    pthread_atfork(NULL, NULL, after_fork_child);
    os_pid_now();
    os_log("tracking pid %ld, snapshots to %s", (long)getpid(), cfg.out_dir);
    at_quick_exit(shim_quick_exit); /* quick_exit() runs no destructor */
    atomic_store(&state, STATE_READY);
    /* attached: late.c's thread takes the snapshots, and no signal handler or sentinel is added
     * to a process that was not started with them */
    if (!late) {
        periodic_start(cfg.interval_ms, cfg.signal, take_periodic_snapshot, request_thread);
        if (cfg.final)
            final_start(take_final_snapshot, cfg.debug);
    }
    imgleak_guard.depth--;
}

/* dlopen()ed into a running program (imgleak attach) rather than preloaded: the program's malloc
 * is not the shim's, and LD_PRELOAD does not name it. Both, because an executable that defines
 * malloc itself comes before a preloaded shim too. */
static int loaded_late(void)
{
    Dl_info self, found;
    void *global = dlsym(RTLD_DEFAULT, "malloc");
    if (!global || !dladdr((void *)&loaded_late, &self) || !dladdr(global, &found) ||
        found.dli_fbase == self.dli_fbase)
        return 0;
    const char *preload = getenv("LD_PRELOAD");
    return !(preload && strstr(preload, "libimgleak"));
}

__attribute__((constructor)) static void shim_constructor(void)
{
    if (atomic_load(&state) == STATE_NONE && loaded_late()) {
        late = 1; /* shim_late_begin starts it */
        return;
    }
    shim_start();
    bind_start(is_ready()); /* the codec hooks: see bind.c */
    if (is_ready()) { /* glibc's list of handlers may grow by a malloc: the shim's, not tracked */
        imgleak_guard.depth++;
        exit_handler_armed = __cxa_atexit(shim_exit_handler, NULL, NULL) == 0;
        imgleak_guard.depth--;
    }
}

int shim_late_begin(const char *settings, unsigned *interval_ms)
{
    if (!late || atomic_load(&state) != STATE_NONE)
        return -1;
    late_settings = settings;
    reach_set_attached();
    procinfo_set_attached();
    shim_start();
    late_settings = NULL;
    *interval_ms = cfg.interval_ms;
    return is_ready() ? 0 : -1;
}

void shim_late_snapshot(int final)
{
    if (!is_ready())
        return;
    imgleak_guard.depth++;
    snap_ctx.truncated_stacks = atomic_load(&truncated_stacks);
    snapshot_ctx_t ctx = snap_ctx;
    /* the end of the window is the end of this process's story as far as the report goes */
    if (final && ctx.scan == SNAPSHOT_SCAN_AT_EXIT)
        ctx.scan = SNAPSHOT_SCAN_ALWAYS;
    snapshot_write(&ctx, IMGLEAK_SNAP_ATTACHED, 0);
    imgleak_guard.depth--;
}

void shim_late_end(void)
{
    atomic_store(&state, STATE_OFF);
}

/* The exit snapshot. exit() may be called from a signal handler that interrupted this thread
 * inside malloc or inside the shim (the guard is up then): the snapshot must not wait for a lock
 * the interrupted code holds, so it is told. */
static void take_exit_snapshot(void)
{
    if (!is_ready())
        return;
    int interrupted = imgleak_guard.depth > 0;
    imgleak_guard.depth++;
    if (!interrupted) /* interrupted, the thread may wait for a lock this one holds */
        periodic_stop();
    take_snapshot(IMGLEAK_SNAP_AT_EXIT, interrupted);
    imgleak_guard.depth--;
}

/* The exit snapshot is taken once every library's destructor has run, as valgrind checks at the
 * very end: what a destructor frees is not live, and what one leaks is leaked. This handler,
 * registered by the shim's constructor with no object of its own (so that no __cxa_finalize runs
 * it early), is called by exit() after ld.so's _dl_fini: __libc_start_main
 * registers _dl_fini after the shared objects' constructors have run, and exit() calls its
 * handlers last registered first. The shim's destructor runs inside _dl_fini, right after the
 * executable's and before its libraries': it takes the snapshot only where the handler could not
 * be registered. */
static void shim_exit_handler(void *unused)
{
    (void)unused;
    take_exit_snapshot();
}

__attribute__((destructor)) static void shim_destructor(void)
{
    if (!exit_handler_armed)
        take_exit_snapshot();
}

static void shim_quick_exit(void)
{
    take_exit_snapshot();
}

/* 1 when this call should be recorded: the shim is ready and not already running on this thread. */
static inline int should_track(void)
{
    if (UNLIKELY(atomic_load_explicit(&state, memory_order_acquire) != STATE_READY)) {
        int now = atomic_load_explicit(&state, memory_order_relaxed);
        if (now == STATE_NONE)
            shim_start();
        else if (now == STATE_WAKE && imgleak_guard.depth == 0)
            start_requested_thread();
        if (atomic_load_explicit(&state, memory_order_acquire) != STATE_READY)
            return 0;
    }
    return imgleak_guard.depth == 0;
}

/* ---- recording ---- */

static inline uint32_t birth_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (uint32_t)(now.tv_sec - start_mono.tv_sec);
}

/* A stack not in the thread's cache: unwound, interned, and remembered when that pays. */
__attribute__((noinline)) static uint32_t capture_stack(uintptr_t ret_slot)
{
    uint64_t frames[UNWIND_DEPTH_MAX], slots[UNWIND_DEPTH_MAX];
    int truncated, cacheable = 0;
    unsigned depth;
    if (ret_slot && stackcache_wants_fill())
        depth = unwind_capture_slots(frames, slots, cfg.depth, &truncated, ret_slot, &cacheable);
    else
        depth = unwind_capture(frames, cfg.depth, &truncated);
    if (UNLIKELY(truncated))
        atomic_fetch_add_explicit(&truncated_stacks, 1, memory_order_relaxed);
    uint32_t id = stacks_intern(frames, depth, truncated, imgleak_guard.input);
    if (cacheable)
        stackcache_fill(frames, slots, depth, truncated, id);
    return id;
}

/* The stack of the program's call whose return address is at ret_slot (0: not known, as for
 * calls that reach here through another entry point of the shim). */
static inline uint32_t current_stack(uintptr_t ret_slot)
{
    uint32_t id;
    int truncated;
    if (LIKELY(ret_slot != 0) && stackcache_lookup(ret_slot, &id, &truncated)) {
        if (UNLIKELY(truncated))
            atomic_fetch_add_explicit(&truncated_stacks, 1, memory_order_relaxed);
        return id;
    }
    return capture_stack(ret_slot);
}

/* Where the entry point's own return address is: the program's return slot. Forces a frame
 * pointer in the entry point, two instructions. */
#define RET_SLOT() ((uintptr_t)__builtin_frame_address(0) + sizeof(void *))

/* Into the live table, and while sampling into the sampler's count first (sampler.h). */
static void insert_heap(void *p, const live_info_t *info)
{
    if (sampler_mean == 0) {
        table_insert((uintptr_t)p, info);
        return;
    }
    sampler_note_recorded((uintptr_t)p);
    if (table_insert((uintptr_t)p, info) < 0)
        sampler_note_forgotten((uintptr_t)p);
}

/* Out of the live table: 1 and *info when p was in it. While sampling, most frees are of blocks
 * never recorded, told by the sampler's count without a look into the table. */
static inline int remove_heap(void *p, live_info_t *info)
{
    if (!sampler_may_have_recorded((uintptr_t)p))
        return 0;
    if (!table_remove((uintptr_t)p, info))
        return 0;
    if (sampler_mean)
        sampler_note_forgotten((uintptr_t)p);
    return 1;
}

/* glibc: the bytes of the chunk of a block the allocator just gave (sign 1) or is about to take
 * back (-1), from the chunk's header, for glibc's in-use and free figures (table_count_chunk).
 * Every block the interposed calls hand out and take back is counted, tracked or not. */
static inline void count_header(size_t h, int sign)
{
    table_count_chunk(sign * (int64_t)(h & ~(size_t)GLIBC_FLAGS), (h & GLIBC_MMAPPED) != 0);
}

static inline void count_chunk(const void *p, int sign)
{
    if (LIKELY(free_is_glibc))
        count_header(glibc_chunk_header(glibc_chunk_of(p)), sign);
}

/* A block the allocator just handed out (or NULL), counted. */
static inline void *counted(void *p)
{
    if (LIKELY(p != NULL))
        count_chunk(p, 1);
    return p;
}

/* A realloc's chunks: the old chunk's header, read before the call (once it returns, p may be
 * another thread's), is given back when the call took it: it returned a block, or freed p for a
 * size of 0 (glibc); a failed call leaves p the program's. */
static inline size_t old_chunk(const void *p)
{
    return p && free_is_glibc ? glibc_chunk_header(glibc_chunk_of(p)) : 0;
}

static inline void count_realloc(size_t old_header, const void *p, void *q, size_t size)
{
    if (old_header && (q || (p && size == 0)))
        count_header(old_header, -1);
    counted(q);
}

/* Records a heap block; called with the guard up. */
static void record_heap(void *p, size_t size, uintptr_t ret_slot)
{
    if (UNLIKELY(!imgleak_guard.registered))
        threads_register(); /* its stack is a root of the reachability scan */
    live_info_t info = {size, current_stack(ret_slot), birth_now()};
    stackcache_count_alloc(info.stack_id, size);
    insert_heap(p, &info);
}

int shim_tracking(void)
{
    return should_track();
}

uint32_t shim_stack_here(void)
{
    return current_stack(0);
}

uint32_t shim_birth_now(void)
{
    return birth_now();
}

int shim_snapshot_now(void)
{
    if (!is_ready() || imgleak_guard.depth > 0) {
        errno = is_ready() ? EDEADLK : ENOSYS;
        return -1;
    }
    imgleak_guard.depth++;
    errno = 0;
    int r = snapshot_write_now();
    int err = errno ? errno : EIO;
    imgleak_guard.depth--;
    if (r < 0)
        errno = err;
    return r;
}

static void forget_heap(void *p)
{
    live_info_t info;
    if (remove_heap(p, &info)) {
        stackcache_count_free(info.stack_id, info.size);
        scrub_freed(p, info.size); /* a double free finds nothing in the table: not cleared */
    }
}

/* The guard is up from before the real call until the block is recorded, so that whatever the
 * allocator does inside (jemalloc maps its arenas, glibc may call mmap) is not taken for the
 * program's own doing. errno is what the real call left. */
#define GUARD_UP() imgleak_guard.depth++
#define GUARD_DOWN() imgleak_guard.depth--
#define RECORD_HEAP(p, size)                                                                       \
    do {                                                                                           \
        if (sampler_take(size)) {                                                                  \
            int saved_errno_ = errno;                                                              \
            record_heap((p), (size), RET_SLOT());                                                  \
            errno = saved_errno_;                                                                  \
        }                                                                                          \
    } while (0)

/* ---- the malloc family ---- */

EXPORT void *malloc(size_t size)
{
    if (UNLIKELY(!should_track())) {
        if (UNLIKELY(!real.malloc))
            return boot_alloc(size, 16);
        return counted(real.malloc(size));
    }
    GUARD_UP();
    void *p = counted(real.malloc(size));
    if (LIKELY(p != NULL))
        RECORD_HEAP(p, size);
    GUARD_DOWN();
    return p;
}

EXPORT void free(void *p)
{
    if (UNLIKELY(p == NULL || is_boot(p)))
        return;
    count_chunk(p, -1);
    /* sampling: a block never recorded has nothing to forget or clear. glibc's free calls no
     * interposed function; another allocator's may map memory, which must not be taken for the
     * program's. */
    if (!sampler_may_have_recorded((uintptr_t)p)) {
        if (LIKELY(free_is_glibc)) {
            real.free(p);
            return;
        }
        GUARD_UP();
        real.free(p);
        GUARD_DOWN();
        return;
    }
    if (UNLIKELY(!should_track())) {
        real.free(p);
        return;
    }
    GUARD_UP();
    forget_heap(p);
    real.free(p);
    GUARD_DOWN();
}

EXPORT void *calloc(size_t n, size_t size)
{
    if (UNLIKELY(!should_track())) {
        if (UNLIKELY(!real.calloc)) {
            size_t total;
            if (__builtin_mul_overflow(n, size, &total)) {
                errno = ENOMEM;
                return NULL;
            }
            return boot_alloc(total, 16);
        }
        return counted(real.calloc(n, size));
    }
    GUARD_UP();
    void *p = counted(real.calloc(n, size));
    if (LIKELY(p != NULL))
        RECORD_HEAP(p, n * size);
    GUARD_DOWN();
    return p;
}

static void *realloc_boot(void *p, size_t size)
{
    void *q = malloc(size);
    if (q) {
        size_t old = boot_size(p);
        memcpy(q, p, old < size ? old : size);
    }
    return q;
}

EXPORT void *realloc(void *p, size_t size)
{
    if (UNLIKELY(p && is_boot(p)))
        return realloc_boot(p, size);
    if (UNLIKELY(!should_track())) {
        if (UNLIKELY(!real.realloc))
            return boot_alloc(size, 16);
        size_t old_header = old_chunk(p);
        void *q = real.realloc(p, size);
        count_realloc(old_header, p, q, size);
        return q;
    }
    live_info_t old;
    int was_tracked = 0;
    size_t old_header = old_chunk(p);
    GUARD_UP();
    /* forgotten before the real call: once it returns, p may belong to another thread */
    if (p)
        was_tracked = remove_heap(p, &old);
    void *q;
    if (was_tracked && scrub_before_realloc(p, old.size, size)) {
        /* moved here, not by the allocator, which would free the old block uncleared */
        q = real.malloc(size);
        if (q) {
            scrub_move(q, p, old.size);
            real.free(p);
        }
    } else {
        q = real.realloc(p, size);
    }
    int saved_errno = errno;
    count_realloc(old_header, p, q, size);
    if (q) {
        if (was_tracked)
            stackcache_count_free(old.stack_id, old.size);
        if (sampler_take(size))
            record_heap(q, size, RET_SLOT());
    } else if (p && size == 0) {
        /* glibc: realloc(p, 0) frees p and returns NULL */
        if (was_tracked)
            stackcache_count_free(old.stack_id, old.size);
    } else if (was_tracked) {
        insert_heap(p, &old); /* failed: p is still the program's */
    }
    errno = saved_errno;
    GUARD_DOWN();
    return q;
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (UNLIKELY(!should_track())) {
        if (UNLIKELY(!real.posix_memalign)) {
            void *p = boot_alloc(size, align);
            if (!p)
                return ENOMEM;
            *out = p;
            return 0;
        }
        int rc = real.posix_memalign(out, align, size);
        if (rc == 0)
            counted(*out);
        return rc;
    }
    GUARD_UP();
    int rc = real.posix_memalign(out, align, size);
    if (rc == 0 && counted(*out))
        RECORD_HEAP(*out, size);
    GUARD_DOWN();
    return rc;
}

#define ALIGNED_WRAPPER(name, params, args, size_expr, boot_align)                                 \
    EXPORT void *name params                                                                       \
    {                                                                                              \
        if (UNLIKELY(!should_track())) {                                                           \
            if (UNLIKELY(!real.name))                                                              \
                return boot_alloc(size_expr, boot_align);                                          \
            return counted(real.name args);                                                        \
        }                                                                                          \
        GUARD_UP();                                                                                \
        void *p = counted(real.name args);                                                         \
        if (LIKELY(p != NULL))                                                                     \
            RECORD_HEAP(p, size_expr);                                                             \
        GUARD_DOWN();                                                                              \
        return p;                                                                                  \
    }

ALIGNED_WRAPPER(aligned_alloc, (size_t align, size_t size), (align, size), size, align)
ALIGNED_WRAPPER(memalign, (size_t align, size_t size), (align, size), size, align)
ALIGNED_WRAPPER(valloc, (size_t size), (size), size, page_size)
ALIGNED_WRAPPER(pvalloc, (size_t size), (size),
                size ? (size + page_size - 1) & ~(page_size - 1) : page_size, page_size)

EXPORT size_t malloc_usable_size(void *p)
{
    if (p && is_boot(p))
        return boot_size(p);
    if (UNLIKELY(!real.malloc_usable_size)) {
        shim_start();
        if (!real.malloc_usable_size)
            return 0;
    }
    return real.malloc_usable_size(p);
}

/* ---- mappings ---- */

static size_t page_round(size_t n)
{
    return (n + page_size - 1) & ~(page_size - 1);
}

static void map_forgotten(const map_rec_t *piece, void *ctx)
{
    (void)ctx;
    stacks_count_free(piece->stack_id, piece->length);
}

static void record_map(void *p, size_t length)
{
    map_rec_t rec = {(uintptr_t)p, page_round(length), current_stack(0), birth_now()};
    stacks_count_alloc(rec.stack_id, rec.length);
    maps_add(&rec);
}

static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (real.mmap)
        return real.mmap(addr, len, prot, flags, fd, off);
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (UNLIKELY(!should_track()))
        return raw_mmap(addr, len, prot, flags, fd, off);
    GUARD_UP();
    void *p = real.mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED) {
        int saved_errno = errno;
        record_map(p, len);
        errno = saved_errno;
    }
    GUARD_DOWN();
    return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

/* A mapping is forgotten whatever the guard says: a signal handler that interrupted the shim
 * (the guard is up) may unmap what the program mapped, and a range that is gone must not stay
 * recorded. maps_remove is safe there (see maps.h). Only a page-aligned call can succeed;
 * anything else must fail untouched. */
static void forget_range(void *addr, size_t len)
{
    if (is_ready() && ((uintptr_t)addr & (page_size - 1)) == 0 && len > 0)
        maps_remove((uintptr_t)addr, page_round(len), map_forgotten, NULL);
}

EXPORT int munmap(void *addr, size_t len)
{
    if (UNLIKELY(!should_track())) {
        forget_range(addr, len);
        if (UNLIKELY(!real.munmap))
            return (int)syscall(SYS_munmap, addr, len);
        return real.munmap(addr, len);
    }
    GUARD_UP();
    forget_range(addr, len);
    int rc = real.munmap(addr, len);
    GUARD_DOWN();
    return rc;
}

/* What mremap left of the old range: nothing, unless MREMAP_DONTUNMAP kept it mapped (as fresh
 * zero pages: a mapping of its own to report) or old_len 0 duplicated a shared mapping. */
static int old_range_stays(size_t old_len, int flags)
{
    return old_len == 0 || (flags & MREMAP_DONTUNMAP);
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    if (UNLIKELY(!should_track())) {
        void *p = real.mremap ? real.mremap(old, old_len, new_len, flags, new_addr)
                              : (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
        if (p != MAP_FAILED && !old_range_stays(old_len, flags)) {
            int saved_errno = errno;
            /* moved: the new place is not known to the shim; shrunk in place: the tail went */
            if (p != old)
                forget_range(old, old_len);
            else if (new_len < old_len)
                forget_range((char *)old + page_round(new_len), old_len - page_round(new_len));
            errno = saved_errno;
        }
        return p;
    }
    GUARD_UP();
    void *p = real.mremap(old, old_len, new_len, flags, new_addr);
    if (p != MAP_FAILED) {
        int saved_errno = errno;
        if (!old_range_stays(old_len, flags))
            maps_remove((uintptr_t)old, page_round(old_len), map_forgotten, NULL);
        record_map(p, new_len);
        errno = saved_errno;
    }
    GUARD_DOWN();
    return p;
}

/* ---- modules ---- */

/* A library may be unmapped by dlclose long before the snapshot (ImageMagick unloads its coder
 * modules at MagickWandTerminus): its place and build-id are remembered first. */
EXPORT int dlclose(void *handle)
{
    void *volatile checked = handle; /* glibc declares it nonnull; programs still pass NULL */
    if (checked && is_ready()) {
        struct link_map *lm = NULL;
        GUARD_UP();
        if (dlinfo(checked, RTLD_DI_LINKMAP, &lm) == 0 && lm)
            procinfo_module_unloading(lm->l_addr, lm->l_name);
        GUARD_DOWN();
    }
    if (UNLIKELY(!real.dlclose))
        return -1;
    int r = real.dlclose(handle);
    int saved_errno = errno;
    bind_forget_unloaded(); /* a codec library unloaded with it: its hooks must not call it */
    errno = saved_errno;
    return r;
}

/* ---- signals: the snapshot signal stays the shim's; the program's handler for it is chained ---- */

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (is_ready() && periodic_sigaction(sig, act, old))
        return 0;
    if (UNLIKELY(!real.sigaction)) {
        errno = ENOSYS;
        return -1;
    }
    return real.sigaction(sig, act, old);
}

EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    if (is_ready()) {
        struct sigaction act, old;
        memset(&act, 0, sizeof act);
        act.sa_handler = handler;
        act.sa_flags = SA_RESTART; /* signal() has BSD semantics in glibc */
        if (periodic_sigaction(sig, &act, &old))
            return old.sa_handler;
    }
    if (UNLIKELY(!real.signal)) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    return real.signal(sig, handler);
}

/* ---- descriptors: the shim's own stay open whatever the program closes (see ownfd.h) ---- */

EXPORT int close(int fd)
{
    if (fd >= 0)
        fds_closing((unsigned)fd, (unsigned)fd, __builtin_return_address(0));
    if (UNLIKELY(!real.close))
        return (int)syscall(SYS_close, fd);
    return ownfd_program_close(fd, real.close);
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    if (!(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
        fds_closing(first, last, __builtin_return_address(0));
    return ownfd_program_close_range(first, last, flags);
}

EXPORT void closefrom(int lowfd)
{
    fds_closing(lowfd < 0 ? 0 : (unsigned)lowfd, ~0u, __builtin_return_address(0));
    ownfd_program_closefrom(lowfd, real.closefrom);
}

static int sys_dup2(int oldfd, int newfd)
{
    if (oldfd == newfd) /* dup3 refuses what dup2 allows */
        return fcntl(oldfd, F_GETFD) < 0 ? -1 : newfd;
    return (int)syscall(SYS_dup3, oldfd, newfd, 0);
}

static int sys_dup3(int oldfd, int newfd, int flags)
{
    return (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

/* newfd, closed first if it was open, becomes a new descriptor of the program's */
EXPORT int dup2(int oldfd, int newfd)
{
    if (newfd >= 0 && newfd != oldfd)
        fds_closing((unsigned)newfd, (unsigned)newfd, __builtin_return_address(0));
    int r = ownfd_program_dup(oldfd, newfd, 0, real.dup2 ? real.dup2 : sys_dup2, NULL);
    if (r >= 0 && oldfd != newfd)
        fds_duplicated(r, __builtin_return_address(0));
    return r;
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
    if (newfd >= 0 && newfd != oldfd)
        fds_closing((unsigned)newfd, (unsigned)newfd, __builtin_return_address(0));
    int r = ownfd_program_dup(oldfd, newfd, flags, NULL, real.dup3 ? real.dup3 : sys_dup3);
    if (r >= 0)
        fds_duplicated(r, __builtin_return_address(0));
    return r;
}
