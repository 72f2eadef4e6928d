/* Snapshot assembly (see snapshot.h): gathers the tables into the sections of format.h and hands
 * them to snapfile. One snapshot at a time per process. */
#define _GNU_SOURCE
#include "snapshot.h"

#include "catalog.h"
#include "go.h"
#include "handles.h"
#include "inputs.h"
#include "maps.h"
#include "os.h"
#include "ownfd.h"
#include "perfmap.h"
#include "procinfo.h"
#include "python.h"
#include "reach.h"
#include "snapfile.h"
#include "stackcache.h"
#include "stacks.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic long snap_owner; /* the thread holding snap_lock, 0 when none */
static uint64_t sequence;
static snapfile_t file; /* 64 KiB buffer: static, so a snapshot needs no stack or heap for it */

static int closed; /* under snap_lock: the exit snapshot is taken, no more are */
static uint64_t instance;     /* this process, among all that ever had its pid */
static uint64_t failed_count; /* under snap_lock: snapshots that could not be written */
static int failure_said;      /* under snap_lock: the first failure was said on stderr */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* getrandom, or (no entropy yet, old kernel, seccomp) the clocks, the pid and an address mixed:
 * two processes with one pid then still differ by their start time. Never 0. */
static uint64_t draw_instance(void)
{
    uint64_t id = 0;
    if (syscall(SYS_getrandom, &id, sizeof id, 1 /* GRND_NONBLOCK */) != (long)sizeof id)
        id = mix64(now_ns(CLOCK_REALTIME) ^ mix64(now_ns(CLOCK_MONOTONIC)) ^
                   ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&id);
    return id ? id : 1;
}

void snapshot_init(void)
{
    instance = draw_instance();
}

uint64_t snapshot_instance(void)
{
    return instance;
}

static long adopted_pid, adopted_ppid; /* the final-snapshot sentinel writes for a dead program */

void snapshot_adopt(long pid, long ppid)
{
    adopted_pid = pid;
    adopted_ppid = ppid;
    reach_program_gone();
    /* the program is gone: a thread killed in a snapshot left the lock held, and no one else */
    pthread_mutex_init(&snap_lock, NULL);
}

static long snapshot_pid(void)
{
    return adopted_pid ? adopted_pid : (long)getpid();
}

void snapshot_after_fork_child(void)
{
    pthread_mutex_init(&snap_lock, NULL);
    atomic_store(&snap_owner, 0);
    sequence = 0;
    closed = 0;
    failed_count = 0;
    failure_said = 0;
    instance = draw_instance();
}

/* ctx: the reachability scan, or NULL */
static void put_live(uint64_t addr, const live_info_t *info, void *ctx)
{
    imgleak_live_rec_t r = {addr,
                            IMGLEAK_SIZE_KIND(info->size, IMGLEAK_KIND_HEAP,
                                              reach_class(ctx, addr)),
                            info->stack_id, info->birth_s};
    snapfile_put(&file, &r, sizeof r);
    snapfile_record(&file);
}

static void put_map(const map_rec_t *m, void *ctx)
{
    imgleak_live_rec_t r = {m->start,
                            IMGLEAK_SIZE_KIND(m->length, IMGLEAK_KIND_MMAP,
                                              reach_class(ctx, m->start)),
                            m->stack_id, m->birth_s};
    snapfile_put(&file, &r, sizeof r);
    snapfile_record(&file);
}

static void put_root(uint64_t addr, uint64_t bytes, uint64_t blocks, void *ctx)
{
    (void)ctx;
    imgleak_leak_root_rec_t r = {addr, bytes, blocks};
    snapfile_put(&file, &r, sizeof r);
    snapfile_record(&file);
}

static void put_stack(const stack_view_t *v, void *ctx)
{
    (void)ctx;
    imgleak_stack_rec_t r = {v->id, (uint16_t)v->depth,
                             (uint16_t)(v->truncated ? IMGLEAK_STACK_TRUNCATED : 0),
                             v->allocs, v->frees, v->alloc_bytes, v->free_bytes};
    stackcache_pending_of(v->id, &r.allocs, &r.frees, &r.alloc_bytes, &r.free_bytes);
    snapfile_put(&file, &r, sizeof r);
    snapfile_put(&file, v->frames, v->depth * sizeof(uint64_t));
    snapfile_record(&file);
}

static void put_handle(const handle_rec_t *h, void *ctx)
{
    (void)ctx;
    imgleak_handle_rec_t r = {h->address, h->count, h->type, h->function,
                              h->stack_id, h->birth_s, h->refs, h->state};
    snapfile_put(&file, &r, sizeof r);
    snapfile_record(&file);
}

static void put_name(uint32_t kind, uint32_t id, const char *name, const char *library,
                     uint32_t flags, strbuf_t *strings)
{
    imgleak_name_rec_t r = {kind, id, strbuf_add(strings, name),
                            library ? strbuf_add(strings, library) : 0, flags, 0};
    snapfile_put(&file, &r, sizeof r);
    snapfile_record(&file);
}

static void put_script_rec(uint32_t kind, uint32_t id, uint32_t number, const char *text1,
                           size_t len1, const char *text2, size_t len2)
{
    imgleak_script_rec_t r = {kind, id, number, (uint16_t)len1, (uint16_t)len2, 0, 0};
    snapfile_put(&file, &r, sizeof r);
    snapfile_put(&file, text1, len1);
    snapfile_put(&file, text2, len2);
    snapfile_record(&file);
}

static void put_python_code(const python_code_t *c, void *ctx)
{
    (void)ctx;
    put_script_rec(IMGLEAK_SCRIPT_CODE, c->id, c->first_line, c->file, c->file_len, c->function,
                   c->function_len);
}

static void put_jit(uint64_t start, uint64_t size, const char *name, size_t len, void *ctx)
{
    (void)ctx;
    imgleak_script_rec_t r = {IMGLEAK_SCRIPT_JIT, 0, 0, (uint16_t)len, 0, start, size};
    snapfile_put(&file, &r, sizeof r);
    snapfile_put(&file, name, len);
    snapfile_record(&file);
}

/* After the stacks, for the same reason: a code is interned before a stack that names it. */
static void put_script(const module_list_t *mods)
{
    unsigned flags;
    const char *pythonmalloc, *runtime = python_runtime(&flags, &pythonmalloc);
    perfmap_t map;
    int jit = perfmap_open(&map, snapshot_pid(), mods);
    if (!runtime && !jit)
        return;
    snapfile_section_begin(&file, IMGLEAK_SECTION_SCRIPT, sizeof(imgleak_script_rec_t));
    if (runtime)
        put_script_rec(IMGLEAK_SCRIPT_RUNTIME, 0, flags, runtime, strlen(runtime), pythonmalloc,
                       strlen(pythonmalloc));
    python_foreach_code(put_python_code, NULL);
    if (jit)
        perfmap_foreach(&map, put_jit, NULL);
    perfmap_close(&map);
}

static void put_input_rec(uint32_t kind, uint32_t id, uint64_t value)
{
    imgleak_input_rec_t r = {kind, id, value};
    snapfile_put(&file, &r, sizeof r);
    snapfile_record(&file);
}

/* The inputs' names go into the strings before they are written; inputs named after that (the
 * program's threads go on) are in the table of the next snapshot. */
typedef struct {
    strbuf_t *strings;
    uint32_t *offsets;
    uint32_t count;
} input_names_t;

static void add_input_name(uint32_t id, const char *name, void *ctx)
{
    input_names_t *n = ctx;
    if (id <= n->count)
        n->offsets[id - 1] = strbuf_add(n->strings, name);
}

static void put_stack_input(const stack_view_t *v, void *ctx)
{
    (void)ctx;
    if (v->input)
        put_input_rec(IMGLEAK_INPUT_STACK, v->id, v->input);
}

static void write_sections(const snapshot_ctx_t *ctx, ownfd_t fd, reach_t *reach, int interrupted)
{
    strbuf_t strings = {0};
    module_list_t mods = {0};
    imgleak_process_rec_t proc;

    strbuf_add(&strings, ""); /* offset 0: the empty string */
    memset(&proc, 0, sizeof proc);
    proc.pid = (uint64_t)snapshot_pid();
    proc.ppid = adopted_ppid ? (uint64_t)adopted_ppid : (uint64_t)getppid();
    proc.start_time_ns = ctx->start_time_ns;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    proc.exe_string = strbuf_add(&strings, exe);
    proc.instance_id = instance;
    proc.failed_snapshots = failed_count;
    procinfo_memory(&proc, !interrupted);
    if (!interrupted) /* jemalloc's figures need its locks, which the interrupted call may hold */
        procinfo_resident(&proc);
    proc.dropped_table_full = table_dropped() + maps_dropped();
    proc.truncated_stacks = ctx->truncated_stacks;
    proc.dropped_stacks = stacks_dropped();
    proc.oversized_blocks = table_oversized();
    proc.depth_limit = ctx->depth_limit;
    proc.go_resident_pages = go_resident_pages();
    /* the scan's blind spot: only where there is a scan (it reads all the Go heap's pages) */
    proc.go_heap_c_blocks = reach ? go_heap_c_blocks() : 0;
    proc.sample_bytes = ctx->sample_bytes;
    proc.scan_flags = reach_scan_flags(reach);
    proc.unscanned_bytes = reach_unscanned(reach);
    procinfo_modules(&mods, &strings, !interrupted);
    input_names_t inputs = {&strings, NULL, inputs_seen()};
    if (inputs.count && !(inputs.offsets = os_map(inputs.count * sizeof *inputs.offsets)))
        inputs.count = 0;
    inputs_foreach(add_input_name, &inputs);

    snapfile_begin_own(&file, fd);
    snapfile_section_begin(&file, IMGLEAK_SECTION_PROCESS, sizeof proc);
    snapfile_put(&file, &proc, sizeof proc);
    snapfile_record(&file);

    snapfile_section_begin(&file, IMGLEAK_SECTION_MODULES, sizeof(imgleak_module_rec_t));
    for (size_t i = 0; i < mods.count; i++) {
        snapfile_put(&file, &mods.recs[i], sizeof mods.recs[i]);
        snapfile_record(&file);
    }
    /* the names go first: their strings must be in the blob before it is written */
    snapfile_section_begin(&file, IMGLEAK_SECTION_HANDLE_NAMES, sizeof(imgleak_name_rec_t));
    for (unsigned i = 0; i < catalog_type_count(); i++) {
        const catalog_type_t *t = catalog_type(i);
        put_name(IMGLEAK_NAME_TYPE, i, t->name, t->library,
                 t->flags & (IMGLEAK_HTYPE_BUFFER | IMGLEAK_HTYPE_REFCOUNTED), &strings);
    }
    for (unsigned i = 0; i < catalog_function_count(); i++)
        put_name(IMGLEAK_NAME_FUNCTION, i, catalog_function_name(i), NULL, 0, &strings);
    snapfile_section_begin(&file, IMGLEAK_SECTION_HANDLES, sizeof(imgleak_handle_rec_t));
    handles_foreach(put_handle, NULL);

    snapfile_section_begin(&file, IMGLEAK_SECTION_STRINGS, 0);
    snapfile_put(&file, strings.data, strings.len);

    snapfile_section_begin(&file, IMGLEAK_SECTION_LIVE, sizeof(imgleak_live_rec_t));
    table_foreach(put_live, reach);
    maps_foreach(put_map, reach);
    if (reach) {
        snapfile_section_begin(&file, IMGLEAK_SECTION_LEAK_ROOTS, sizeof(imgleak_leak_root_rec_t));
        reach_foreach_root(reach, put_root, NULL);
    }
    /* The stacks last: the program's threads go on allocating while the tables above are read,
     * and a stack is interned before the record that names it is inserted, so every stack named
     * above is in the table by now. Written first, a stack interned meanwhile would be missing. */
    snapfile_section_begin(&file, IMGLEAK_SECTION_STACKS, sizeof(imgleak_stack_rec_t));
    stackcache_pending_begin();
    stacks_foreach(put_stack, NULL);
    stackcache_pending_end();
    put_script(&mods);
    snapfile_section_begin(&file, IMGLEAK_SECTION_INPUTS, sizeof(imgleak_input_rec_t));
    put_input_rec(IMGLEAK_INPUT_SEEN, 0, inputs_seen());
    put_input_rec(IMGLEAK_INPUT_UNNAMED, 0, inputs_unnamed());
    for (uint32_t id = 1; id <= inputs.count; id++)
        put_input_rec(IMGLEAK_INPUT_NAME, id, inputs.offsets[id - 1]);
    stacks_foreach(put_stack_input, NULL);

    os_unmap(inputs.offsets, inputs.count * sizeof *inputs.offsets);
    procinfo_modules_release(&mods);
    strbuf_release(&strings);
}

static int rename_noreplace(const char *from, const char *to)
{
    if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != ENOSYS && errno != EINVAL)
        return -1;
    /* filesystems without renameat2: link refuses to replace, too */
    if (link(from, to) < 0)
        return -1;
    unlink(from);
    return 0;
}

/* Appends s to out at *len; 0, or -1 when it does not fit. */
static int put_text(char *out, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > cap)
        return -1;
    memcpy(out + *len, s, n + 1);
    *len += n;
    return 0;
}

static int put_number(char *out, size_t cap, size_t *len, uint64_t v, unsigned base, int width)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v || n < width);
    char text[24];
    for (int i = 0; i < n; i++)
        text[i] = digits[n - 1 - i];
    text[n] = '\0';
    return put_text(out, cap, len, text);
}

/* DIR/imgleak.<pid>.<instance>.<seq>.snap, or DIR/.imgleak.<pid>.<instance>.<seq>.tmp while
 * written. The instance (16 hex digits) keeps apart two processes with one pid: pid 1 of two
 * containers writing to one volume, or a pid reused. Built by hand: snprintf is not
 * async-signal-safe, and the exit snapshot may run in a signal handler. 0, or -1 (too long). */
static int snapshot_name(char *out, size_t cap, const char *dir, int temporary, uint64_t seq)
{
    size_t len = 0;
    out[0] = '\0';
    return put_text(out, cap, &len, dir) || put_text(out, cap, &len, "/") ||
                   put_text(out, cap, &len, temporary ? ".imgleak." : "imgleak.") ||
                   put_number(out, cap, &len, (uint64_t)snapshot_pid(), 10, 1) ||
                   put_text(out, cap, &len, ".") || put_number(out, cap, &len, instance, 16, 16) ||
                   put_text(out, cap, &len, ".") || put_number(out, cap, &len, seq, 10, 1) ||
                   put_text(out, cap, &len, temporary ? ".tmp" : ".snap")
               ? -1
               : 0;
}

/* A snapshot lost is counted (the next one written says how many) and said once on stderr,
 * whatever IMGLEAK_DEBUG is: the user would otherwise find no files and no reason. */
static void snapshot_failed(const char *what, const char *path, int err)
{
    failed_count++;
    if (!failure_said) {
        failure_said = 1;
        os_warn("cannot %s snapshot %s: %s (errno %d); later failures are counted in the next "
                "snapshot written", what, path, os_errno_text(err), err);
    } else {
        os_log("cannot %s snapshot %s: %s", what, path, os_errno_text(err));
    }
}

/* The file at path is the one written through fd, as long as the header says, and the header
 * reads back as written: nothing of the program's came between. */
static int snapshot_verify(ownfd_t fd, const char *path, const imgleak_file_header_t *hdr)
{
    struct stat mine, there;
    imgleak_file_header_t back;
    if (ownfd_stat(fd, &mine) < 0)
        return -1;
    if (lstat(path, &there) < 0 || mine.st_dev != there.st_dev || mine.st_ino != there.st_ino ||
        (uint64_t)mine.st_size != hdr->file_size) {
        errno = EIO;
        return -1;
    }
    if (ownfd_pread_all(fd, &back, sizeof back, 0) < 0)
        /* a sandbox that refuses pread (seccomp): the file is ours and whole by the checks above */
        return errno == EPERM || errno == ENOSYS || errno == EACCES ? 0 : -1;
    if (memcmp(&back, hdr, sizeof back) != 0) {
        errno = EIO;
        return -1;
    }
    return 0;
}

static int lock_snapshots(int interrupted)
{
    long self = syscall(SYS_gettid);
    /* interrupted in the middle of a snapshot on this very thread (exit() from a signal
     * handler): waiting would be waiting for ourselves */
    if (interrupted && atomic_load(&snap_owner) == self)
        return -1;
    pthread_mutex_lock(&snap_lock);
    atomic_store(&snap_owner, self);
    return 0;
}

static void unlock_snapshots(void)
{
    atomic_store(&snap_owner, 0);
    pthread_mutex_unlock(&snap_lock);
}

/* Publishes tmp under the next free final name; keeps only ctx->keep of this instance's files. */
static int snapshot_publish(const snapshot_ctx_t *ctx, const char *tmp, uint64_t seq)
{
    char final[4200];
    /* a name taken (by a file or a link someone put there) is skipped, never replaced */
    for (int tries = 0; tries < 1000; tries++) {
        if (snapshot_name(final, sizeof final, ctx->out_dir, 0, seq) < 0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (rename_noreplace(tmp, final) == 0) {
            os_log("wrote %s", final);
            if (ctx->keep && seq > ctx->keep &&
                snapshot_name(final, sizeof final, ctx->out_dir, 0, seq - ctx->keep) == 0)
                unlink(final);
            return 0;
        }
        if (errno != EEXIST)
            return -1;
        seq = ++sequence;
    }
    return -1;
}

int snapshot_write(const snapshot_ctx_t *ctx, uint64_t flags, int interrupted)
{
    char tmp[4200];
    int rc = -1;
    if (lock_snapshots(interrupted) < 0)
        return -1;
    if (closed) /* the exit snapshot is written: a timed one now would be cut off by the exit */
        goto out;
    uint64_t seq = 0;
    ownfd_t fd = -1;
    int err = ENAMETOOLONG;
    /* a name taken (by a file or a link someone put there) is skipped, never followed */
    for (int tries = 0; !ctx->out_dir_too_long && fd < 0 && tries < 100; tries++) {
        seq = ++sequence;
        if (snapshot_name(tmp, sizeof tmp, ctx->out_dir, 1, seq) < 0) {
            err = ENAMETOOLONG;
            break;
        }
        fd = ownfd_open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        err = errno;
        if (fd < 0 && err != EEXIST)
            break;
    }
    if (fd < 0) {
        snapshot_failed("create", ctx->out_dir_too_long || err == ENAMETOOLONG ? ctx->out_dir : tmp,
                        err);
        goto out;
    }
    if (flags & IMGLEAK_SNAP_AT_EXIT)
        closed = 1;
    /* the scan first: the file's process figures then include what it took */
    reach_t *reach = ctx->scan == SNAPSHOT_SCAN_ALWAYS ||
                             (ctx->scan == SNAPSHOT_SCAN_AT_EXIT && (flags & IMGLEAK_SNAP_AT_EXIT))
                         ? reach_scan((flags & IMGLEAK_SNAP_AT_EXIT) && !interrupted)
                         : NULL;
    write_sections(ctx, fd, reach, interrupted);
    if (reach)
        os_log("scan: %lu bytes could not be read", (unsigned long)reach_unreadable(reach));
    reach_free(reach);
    imgleak_file_header_t hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.pid = (uint64_t)snapshot_pid();
    hdr.sequence = seq;
    hdr.time_ns = now_ns(CLOCK_REALTIME);
    hdr.flags = flags;
    int failed = snapfile_finish(&file, &hdr) < 0 || snapshot_verify(fd, tmp, &hdr) < 0;
    err = errno;
    if (ownfd_close(fd) < 0 && !failed) {
        failed = 1;
        err = errno;
    }
    if (failed) {
        snapshot_failed("write", tmp, err);
        unlink(tmp);
        goto out;
    }
    rc = snapshot_publish(ctx, tmp, seq);
    if (rc < 0) {
        snapshot_failed("rename", tmp, errno);
        unlink(tmp);
    }
out:
    unlock_snapshots();
    return rc;
}
