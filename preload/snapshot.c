/* Snapshot assembly (see snapshot.h): gathers the tables into the sections of format.h and hands
 * them to snapfile. One snapshot at a time per process. */
#define _GNU_SOURCE
#include "snapshot.h"

#include "codecs.h"
#include "go.h"
#include "handles.h"
#include "maps.h"
#include "os.h"
#include "procinfo.h"
#include "reach.h"
#include "snapfile.h"
#include "stacks.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t sequence;
static snapfile_t file; /* 64 KiB buffer: static, so a snapshot needs no stack or heap for it */

static int closed; /* under snap_lock: the exit snapshot is taken, no more are */
static long adopted_pid, adopted_ppid; /* the final-snapshot sentinel writes for a dead program */

void snapshot_adopt(long pid, long ppid)
{
    adopted_pid = pid;
    adopted_ppid = ppid;
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
    sequence = 0;
    closed = 0;
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

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void write_sections(const snapshot_ctx_t *ctx, int fd, reach_t *reach)
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
    procinfo_memory(&proc);
    proc.dropped_table_full = table_dropped() + maps_dropped();
    proc.truncated_stacks = ctx->truncated_stacks;
    proc.dropped_stacks = stacks_dropped();
    proc.oversized_blocks = table_oversized();
    proc.depth_limit = ctx->depth_limit;
    proc.go_resident_pages = go_resident_pages();
    /* the scan's blind spot: only where there is a scan (it reads all the Go heap's pages) */
    proc.go_heap_c_blocks = reach ? go_heap_c_blocks() : 0;
    proc.sample_bytes = ctx->sample_bytes;
    procinfo_modules(&mods, &strings);

    snapfile_begin(&file, fd);
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
    for (unsigned i = 0; i < codecs_type_count(); i++) {
        const codec_type_info_t *t = codecs_type(i);
        put_name(IMGLEAK_NAME_TYPE, i, t->name, t->library,
                 t->flags & (IMGLEAK_HTYPE_BUFFER | IMGLEAK_HTYPE_REFCOUNTED), &strings);
    }
    for (unsigned i = 0; i < codecs_function_count(); i++)
        put_name(IMGLEAK_NAME_FUNCTION, i, codecs_function_name(i), NULL, 0, &strings);
    snapfile_section_begin(&file, IMGLEAK_SECTION_HANDLES, sizeof(imgleak_handle_rec_t));
    handles_foreach(put_handle, NULL);

    snapfile_section_begin(&file, IMGLEAK_SECTION_STRINGS, 0);
    snapfile_put(&file, strings.data, strings.len);

    snapfile_section_begin(&file, IMGLEAK_SECTION_STACKS, sizeof(imgleak_stack_rec_t));
    stacks_foreach(put_stack, NULL);

    snapfile_section_begin(&file, IMGLEAK_SECTION_LIVE, sizeof(imgleak_live_rec_t));
    table_foreach(put_live, reach);
    maps_foreach(put_map, reach);
    if (reach) {
        snapfile_section_begin(&file, IMGLEAK_SECTION_LEAK_ROOTS, sizeof(imgleak_leak_root_rec_t));
        reach_foreach_root(reach, put_root, NULL);
    }

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

int snapshot_write(const snapshot_ctx_t *ctx, uint64_t flags)
{
    char tmp[4200], final[4200];
    int rc = -1;
    pthread_mutex_lock(&snap_lock);
    if (closed) /* the exit snapshot is written: a timed one now would be cut off by the exit */
        goto out;
    uint64_t seq = 0;
    long pid = snapshot_pid();
    int fd = -1;
    /* a name taken (by a file or a link someone put there) is skipped, never followed */
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        seq = ++sequence;
        snprintf(tmp, sizeof tmp, "%s/.imgleak.%ld.%llu.tmp", ctx->out_dir, pid,
                 (unsigned long long)seq);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        os_log("cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (flags & IMGLEAK_SNAP_AT_EXIT)
        closed = 1;
    /* the scan first: the file's process figures then include what it took */
    reach_t *reach = ctx->scan == SNAPSHOT_SCAN_ALWAYS ||
                             (ctx->scan == SNAPSHOT_SCAN_AT_EXIT && (flags & IMGLEAK_SNAP_AT_EXIT))
                         ? reach_scan()
                         : NULL;
    write_sections(ctx, fd, reach);
    if (reach)
        os_log("scan: %lu bytes could not be read", (unsigned long)reach_unreadable(reach));
    reach_free(reach);
    imgleak_file_header_t hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.pid = (uint64_t)pid;
    hdr.sequence = seq;
    hdr.time_ns = now_ns(CLOCK_REALTIME);
    hdr.flags = flags;
    int failed = snapfile_finish(&file, &hdr);
    if (close(fd) < 0)
        failed = -1;
    if (failed) {
        os_log("cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* a file of an earlier process with the same pid keeps its name; this one takes the next */
    for (int tries = 0; tries < 1000; tries++) {
        snprintf(final, sizeof final, "%s/imgleak.%ld.%llu.snap", ctx->out_dir, pid,
                 (unsigned long long)seq);
        if (rename_noreplace(tmp, final) == 0) {
            rc = 0;
            os_log("wrote %s", final);
            if (ctx->keep && seq > ctx->keep) {
                snprintf(final, sizeof final, "%s/imgleak.%ld.%llu.snap", ctx->out_dir, pid,
                         (unsigned long long)(seq - ctx->keep));
                unlink(final);
            }
            break;
        }
        if (errno != EEXIST)
            break;
        seq = ++sequence;
    }
    if (rc < 0) {
        os_log("cannot rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
    }
out:
    pthread_mutex_unlock(&snap_lock);
    return rc;
}
