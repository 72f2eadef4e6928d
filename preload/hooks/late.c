/* The shim loaded into a running program by imgleak attach (analyzer/commands/inject.c calls
 * imgleak_attach_start once dlopen has mapped it). The program's references to the allocator
 * were bound long ago, to the C library: they are repointed to the shim's entry points, in every
 * object loaded now (its GOT slots, BIND_NOW or lazy, and data pointers) and in every object
 * loaded later (a thread polls the loader's count of objects added: LD_AUDIT cannot be added to
 * a running process, and a dlopen wrapper would change what the caller's dlopen finds, see
 * bind.c). Detaching puts every reference back to the real function; a pointer the program
 * copied meanwhile still reaches the shim, which then only passes calls through. */
#define _GNU_SOURCE
#include "bind.h"
#include "bind_elf.h"
#include "guard.h"
#include "os.h"
#include "ownfd.h"
#include "shim_api.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* The entry points of shim.c that a program reaches by reference: the allocator, mappings,
 * dlclose (module bookkeeping) and the descriptor calls that keep the shim's files its own.
 * sigaction and signal are left out: attached, the shim takes no signal. */
static const char *const redirected[] = {
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
    "memalign", "valloc", "pvalloc", "mmap", "mmap64", "munmap", "mremap", "dlclose", "close",
    "close_range", "closefrom", "dup2", "dup3",
};
#define NREDIRECTED (sizeof redirected / sizeof *redirected)

static struct {
    uintptr_t entry[NREDIRECTED]; /* the shim's */
    uintptr_t real[NREDIRECTED];  /* the program's definition */
    uintptr_t self_base;
    unsigned interval_ms;
    ownfd_t control;
    char done_path[4096];
    unsigned long long seen_adds;
} late;

static int redirected_find(const char *name)
{
    for (unsigned i = 0; i < NREDIRECTED; i++)
        if (name[0] == redirected[i][0] && strcmp(name, redirected[i]) == 0)
            return (int)i;
    return -1;
}

/* The lazy-binding stub a JUMP_SLOT holds until its first call lies inside its own object. */
static int inside_object(const elf_object_t *o, uintptr_t addr)
{
    for (unsigned i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        if (ph->p_type == PT_LOAD && addr >= o->base + ph->p_vaddr &&
            addr < o->base + ph->p_vaddr + ph->p_memsz)
            return 1;
    }
    return 0;
}

/* to_shim: real (or a lazy stub) -> entry; otherwise entry -> real. A slot bound to another
 * definition (an allocator the program loaded for one library with dlmopen) is left alone. */
static void repoint_slot(const elf_object_t *o, const char *name, unsigned type, uintptr_t *slot,
                         void *ctx)
{
    int to_shim = *(const int *)ctx;
    int fn = redirected_find(name);
    if (fn < 0 || !late.real[fn] || !late.entry[fn])
        return;
    uintptr_t now = __atomic_load_n(slot, __ATOMIC_RELAXED), want = 0;
    if (to_shim && (now == late.real[fn] || (type == R_JUMP_SLOT && inside_object(o, now))))
        want = late.entry[fn];
    else if (!to_shim && now == late.entry[fn])
        want = late.real[fn];
    if (want && object_write(o, slot, want, 1) != 0)
        os_log("%s: cannot repoint its reference to %s", o->path, redirected[fn]);
}

static void repoint_object(const elf_object_t *o, int to_shim)
{
    object_foreach_slot(o, repoint_slot, &to_shim);
}

static int visit_object(struct dl_phdr_info *info, size_t size, void *data)
{
    elf_object_t o;
    if (size >= offsetof(struct dl_phdr_info, dlpi_adds) + sizeof info->dlpi_adds)
        late.seen_adds = info->dlpi_adds;
    /* the shim's own calls go to the real functions already */
    if (info->dlpi_addr != late.self_base && object_read(info, &o) == 0)
        repoint_object(&o, *(int *)data);
    return 0;
}

static void repoint_all(int to_shim)
{
    dl_iterate_phdr(visit_object, &to_shim);
}

static int visit_adds(struct dl_phdr_info *info, size_t size, void *data)
{
    if (size >= offsetof(struct dl_phdr_info, dlpi_adds) + sizeof info->dlpi_adds)
        *(unsigned long long *)data = info->dlpi_adds;
    return 1;
}

static int resolve_entries(void)
{
    Dl_info self;
    if (!dladdr((void *)&resolve_entries, &self) || !self.dli_fname)
        return -1;
    late.self_base = (uintptr_t)self.dli_fbase;
    void *handle = dlopen(self.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!handle)
        return -1;
    for (unsigned i = 0; i < NREDIRECTED; i++) {
        late.entry[i] = (uintptr_t)dlsym(handle, redirected[i]);
        late.real[i] = (uintptr_t)dlsym(RTLD_DEFAULT, redirected[i]);
        if (late.entry[i] == late.real[i])
            late.entry[i] = 0;
    }
    dlclose(handle); /* RTLD_NOLOAD took a reference; the shim is -z nodelete anyway */
    return late.entry[0] && late.real[0] ? 0 : -1;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* imgleak attach holds the control pipe's other end open (read and write, so that the pipe has
 * a writer from before this end opened): end of file means it closed it, to detach, or died. */
static int detach_requested(void)
{
    char byte;
    ssize_t n = ownfd_read(late.control, &byte, 1);
    return n == 0 || (n < 0 && errno != EAGAIN);
}

/* Objects loaded since the last look are repointed within a tick; what they allocate before
 * that is not seen (docs/HOOKS.md, "Loaded late"). */
#define TICK_MS 20

static void *late_thread(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    imgleak_guard.depth++;
    prctl(PR_SET_NAME, "imgleak-attach", 0, 0, 0);
    uint64_t next = now_ms() + late.interval_ms;
    while (!detach_requested()) {
        sleep_ms(TICK_MS);
        unsigned long long adds = 0;
        dl_iterate_phdr(visit_adds, &adds);
        if (adds != late.seen_adds)
            repoint_all(1);
        if (late.interval_ms && now_ms() >= next) {
            shim_late_snapshot(0);
            next = now_ms() + late.interval_ms;
        }
    }
    shim_late_snapshot(1);
    repoint_all(0);
    shim_late_end();
    ownfd_close(late.control);
    ownfd_t done = ownfd_open(late.done_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (done >= 0)
        ownfd_close(done);
    os_log("detached");
    return NULL;
}

/* Called by imgleak attach on one of the program's threads, which it has stopped and borrowed
 * (the others run on). settings: IMGLEAK_* lines; control: the pipe whose end of file means
 * detach (done: control + ".done" is created once detached). 0 attached; 1 not loaded late or
 * attached already; 2 the shim could not start; 3 the control pipe cannot be opened. */
EXPORT int imgleak_attach_start(const char *settings, const char *control)
{
    if (strlen(control) + 6 > sizeof late.done_path)
        return 3;
    if (shim_late_begin(settings, &late.interval_ms) < 0)
        return 1;
    imgleak_guard.depth++;
    int rc = 0;
    snprintf(late.done_path, sizeof late.done_path, "%s.done", control);
    late.control = ownfd_open(control, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
    if (late.control < 0) {
        rc = 3;
    } else if (resolve_entries() < 0) {
        rc = 2;
    } else {
        bind_start(1); /* the codec hooks, as at start-up */
        repoint_all(1);
        pthread_attr_t attr;
        pthread_t th;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 512 * 1024);
        if (pthread_create(&th, &attr, late_thread, NULL) != 0) {
            repoint_all(0);
            rc = 2;
        }
        pthread_attr_destroy(&attr);
    }
    if (rc) {
        shim_late_end();
        if (late.control >= 0)
            ownfd_close(late.control);
    }
    imgleak_guard.depth--;
    return rc;
}
