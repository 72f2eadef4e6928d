/* Loading the shim into a running process (see inject.h), as linux-inject and heaptrack's gdb
 * script do it, with ptrace alone. Only the borrowed thread is stopped; the others run on, so
 * that a lock one of them holds (the allocator's, the loader's) is released as usual, and the
 * borrowed thread is one that holds none: blocked in a system call that is not a lock wait and
 * not the allocator's, or running the program's own code. The call's return address is 0: the
 * fault there is the sign the call returned, and is never delivered. A signal that arrives for
 * the thread meanwhile is held back and sent again once the thread is given back. Registers,
 * vector state included, are restored as they were; a thread stopped inside a system call gets
 * it restarted by the kernel, exactly as after any ptrace stop (orig_rax and -ERESTART* are
 * restored with the rest). */
#define _GNU_SOURCE
#include "inject.h"

#include "error.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "imgleak attach borrows a thread with x86-64 registers only"
#endif

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

typedef struct {
    uintptr_t lo, hi;
} range_t;

/* What /proc/PID/maps says about the process. */
typedef struct {
    char libc_path[PATH_MAX];
    uintptr_t libc_base;
    range_t libc[8], loader[8];
    int nlibc, nloader;
    int has_shim;
} target_map_t;

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    return (int)len;
}

/* "Name:\tvalue" of /proc/PID/status, or -1 */
static long status_field(pid_t pid, const char *name)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_text(path, buf, sizeof buf) < 0)
        return -1;
    size_t len = strlen(name);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, name, len) == 0 && line[len] == ':')
            return strtol(line + len + 1, NULL, 10);
    return -1;
}

static int map_read(pid_t pid, target_map_t *m)
{
    char path[64], line[PATH_MAX + 256];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return error_set("cannot read %s: %s", path, strerror(errno)), -1;
    memset(m, 0, sizeof *m);
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off;
        char perms[8];
        int at = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &lo, &hi, perms, &off, &at) < 4 || !at)
            continue;
        char *file = line + at;
        file[strcspn(file, "\n")] = '\0';
        if (file[0] != '/')
            continue;
        const char *base = basename_of(file);
        if (strncmp(base, "libimgleak", 10) == 0)
            m->has_shim = 1;
        int is_libc = strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-2.", 7) == 0;
        int is_loader = strncmp(base, "ld-linux", 8) == 0 || strncmp(base, "ld-2.", 5) == 0;
        if (is_libc && off == 0 && !m->libc_base) {
            m->libc_base = lo;
            snprintf(m->libc_path, sizeof m->libc_path, "%s", file);
        }
        if (is_libc && perms[2] == 'x' && m->nlibc < 8)
            m->libc[m->nlibc++] = (range_t){lo, hi};
        if (is_loader && perms[2] == 'x' && m->nloader < 8)
            m->loader[m->nloader++] = (range_t){lo, hi};
    }
    fclose(f);
    return 0;
}

static int in_ranges(const range_t *r, int n, uintptr_t addr)
{
    for (int i = 0; i < n; i++)
        if (addr >= r[i].lo && addr < r[i].hi)
            return 1;
    return 0;
}

/* A Go program's executable carries Go's build information; cgo ones link the C library too. */
static int is_go_program(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int go = 0;
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    size_t shstrndx;
    if (e && elf_getshdrstrndx(e, &shstrndx) == 0)
        for (Elf_Scn *scn = NULL; !go && (scn = elf_nextscn(e, scn));) {
            GElf_Shdr sh;
            const char *name = gelf_getshdr(scn, &sh) ? elf_strptr(e, shstrndx, sh.sh_name) : NULL;
            go = name && (strcmp(name, ".go.buildinfo") == 0 || strcmp(name, ".gopclntab") == 0 ||
                          strcmp(name, ".note.go.buildid") == 0);
        }
    if (e)
        elf_end(e);
    close(fd);
    return go;
}

static int preloads_shim(pid_t pid)
{
    char path[64], env[65536];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int len = read_text(path, env, sizeof env);
    for (int at = 0; len > 0 && at < len; at += (int)strlen(env + at) + 1)
        if (strncmp(env + at, "LD_PRELOAD=", 11) == 0 && strstr(env + at, "libimgleak"))
            return 1;
    return 0;
}

inject_status_t inject_check(pid_t pid, const char *shim_path)
{
    (void)shim_path;
    if (pid <= 0 || kill(pid, 0) < 0) {
        if (pid > 0 && errno == EPERM)
            return error_set("process %d belongs to another user: attach as that user or root",
                             (int)pid), INJECT_REFUSED;
        return error_set("no process %d", (int)pid), INJECT_REFUSED;
    }
    if (pid == getpid())
        return error_set("imgleak cannot attach to itself"), INJECT_REFUSED;
    long uid = status_field(pid, "Uid");
    if (geteuid() != 0 && uid >= 0 && (uid_t)uid != geteuid())
        return error_set("process %d belongs to another user (uid %ld): attach as that user or "
                         "root", (int)pid, uid), INJECT_REFUSED;
    char scope_text[16] = "0";
    read_text("/proc/sys/kernel/yama/ptrace_scope", scope_text, sizeof scope_text);
    int scope = atoi(scope_text);
    if (scope >= 3 || (scope >= 1 && geteuid() != 0))
        return error_set("cannot trace process %d: kernel.yama.ptrace_scope=%d %s", (int)pid, scope,
                         scope >= 3 ? "forbids ptrace to everyone until reboot"
                                    : "lets only root (or a parent) trace: run as root, or set "
                                      "it to 0"), INJECT_REFUSED;
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    const char *state = read_text(path, stat, sizeof stat) > 0 ? strrchr(stat, ')') : NULL;
    if (state && (state[2] == 'Z' || state[2] == 'X'))
        return error_set("process %d has exited", (int)pid), INJECT_REFUSED;
    if (state && (state[2] == 'T' || state[2] == 't'))
        return error_set("process %d is stopped (SIGSTOP, or a debugger): continue it first",
                         (int)pid), INJECT_REFUSED;
    long tracer = status_field(pid, "TracerPid");
    if (tracer > 0)
        return error_set("process %d is already traced by process %ld (a debugger, or another "
                         "imgleak attach)", (int)pid, tracer), INJECT_REFUSED;
    target_map_t m;
    if (map_read(pid, &m) < 0)
        return INJECT_REFUSED;
    if (m.has_shim)
        return error_set(preloads_shim(pid) ? "process %d already runs under imgleak (LD_PRELOAD): "
                                              "its snapshots are taken already"
                                            : "process %d has had imgleak attached already: "
                                              "attaching again is not supported", (int)pid),
               INJECT_REFUSED;
    if (is_go_program(pid))
        return error_set("process %d is a Go program: its memory is Go's, not the C "
                         "allocator's; attach supports C and C++ programs", (int)pid),
               INJECT_REFUSED;
    if (!m.libc_base)
        return error_set("process %d is a static binary (no libc.so loaded): attach needs the "
                         "dynamic loader to load the shim", (int)pid), INJECT_REFUSED;
    return INJECT_OK;
}

/* ---- symbols of the target's C library ---- */

enum { SYM_DLOPEN, SYM_DLSYM, SYM_DLERROR, NSYMS };
static const char *const sym_names[NSYMS] = {"dlopen", "dlsym", "dlerror"};

/* Their addresses in the process: the library's file (seen from the process's root, for a
 * container), its dynamic symbols at their default version. */
static int libc_symbols(pid_t pid, const target_map_t *m, uintptr_t out[NSYMS])
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "/proc/%d/root%s", (int)pid, m->libc_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fd = open(m->libc_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set("cannot open %s: %s", m->libc_path, strerror(errno)), -1;
    memset(out, 0, NSYMS * sizeof *out);
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    Elf_Data *syms = NULL, *versym = NULL;
    size_t strndx = 0, count = 0;
    for (Elf_Scn *scn = NULL; e && (scn = elf_nextscn(e, scn));) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        if (sh.sh_type == SHT_DYNSYM) {
            syms = elf_getdata(scn, NULL);
            strndx = sh.sh_link;
            count = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
        } else if (sh.sh_type == SHT_GNU_versym) {
            versym = elf_getdata(scn, NULL);
        }
    }
    for (size_t i = 0; syms && i < count; i++) {
        GElf_Sym s;
        GElf_Versym v = 0;
        if (!gelf_getsym(syms, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
            GELF_ST_TYPE(s.st_info) != STT_FUNC)
            continue;
        if (versym && gelf_getversym(versym, (int)i, &v) && (v & 0x8000))
            continue; /* a hidden, older version */
        const char *name = elf_strptr(e, strndx, s.st_name);
        for (int k = 0; name && k < NSYMS; k++)
            if (strcmp(name, sym_names[k]) == 0)
                out[k] = m->libc_base + s.st_value;
    }
    if (e)
        elf_end(e);
    close(fd);
    for (int k = 0; k < NSYMS; k++)
        if (!out[k])
            return error_set("%s has no %s (a C library older than glibc 2.34 keeps it in "
                             "libdl, which attach does not use)", m->libc_path, sym_names[k]), -1;
    return 0;
}

/* ---- the borrowed thread ---- */

typedef struct {
    pid_t pid, tid;
    struct user_regs_struct regs;
    unsigned char xstate[16384];
    struct iovec xstate_iov;
    int held[64]; /* signals that arrived for the thread meanwhile, to send again */
    int nheld;
} borrowed_t;

static void hold_signal(borrowed_t *b, int sig)
{
    for (int i = 0; i < b->nheld; i++)
        if (b->held[i] == sig && sig < SIGRTMIN)
            return; /* a standard signal is pending once */
    if (b->nheld < 64)
        b->held[b->nheld++] = sig;
}

/* Waits for the next stop: 1 a ptrace-event stop (our interrupt, or a group stop), 0 the
 * signal *sig is about to be delivered, -1 the thread is gone. */
static int wait_stop(pid_t tid, int *sig)
{
    int st;
    for (;;) {
        if (waitpid(tid, &st, __WALL) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return -1;
        if (!WIFSTOPPED(st))
            continue;
        if ((st >> 16) == PTRACE_EVENT_STOP)
            return 1;
        *sig = WSTOPSIG(st);
        return 0;
    }
}

/* Stops tid where it is; 0, or -1 (gone, or not ours to trace). */
static int seize(borrowed_t *b, pid_t tid)
{
    if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
        return -1;
    b->tid = tid;
    b->nheld = 0;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
        return -1;
    int sig;
    for (;;) {
        int r = wait_stop(tid, &sig);
        if (r < 0)
            return -1;
        if (r == 1)
            return 0;
        hold_signal(b, sig); /* delivered after we are done */
        if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
            return -1;
    }
}

static void release(borrowed_t *b)
{
    ptrace(PTRACE_DETACH, b->tid, 0, 0);
    for (int i = 0; i < b->nheld; i++)
        syscall(SYS_tgkill, b->pid, b->tid, b->held[i]);
}

/* System calls a thread may be blocked in while it holds a lock the loader or the allocator
 * needs: a lock wait, and the allocator's own calls. */
static int unsafe_syscall(long nr)
{
    return nr == SYS_futex || nr == SYS_mmap || nr == SYS_munmap || nr == SYS_mprotect ||
           nr == SYS_brk || nr == SYS_madvise || nr == SYS_mremap || nr == SYS_clone ||
           nr == SYS_clone3 || nr == SYS_vfork || nr == SYS_execve || nr == SYS_exit ||
           nr == SYS_exit_group || nr == SYS_rt_sigreturn;
}

static int safe_point(const struct user_regs_struct *r, const target_map_t *m)
{
    if (in_ranges(m->loader, m->nloader, r->rip))
        return 0;
    if ((long)r->orig_rax >= 0)
        return !unsafe_syscall((long)r->orig_rax);
    return !in_ranges(m->libc, m->nlibc, r->rip);
}

static int list_threads(pid_t pid, pid_t *tids, int cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    int n = 0;
    if (!d)
        return -1;
    tids[n++] = pid; /* the main thread first: usually in a loop's wait */
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        long tid = strtol(e->d_name, NULL, 10);
        if (tid > 0 && tid != pid)
            tids[n++] = (pid_t)tid;
    }
    closedir(d);
    return n;
}

/* Borrows a thread at a safe point: up to 2 s of tries, each thread in turn. */
static int borrow(borrowed_t *b, const target_map_t *m)
{
    pid_t tids[256];
    for (int round = 0; round < 100; round++) {
        int n = list_threads(b->pid, tids, 256);
        if (n < 0)
            return error_set("process %d ended", (int)b->pid), -1;
        for (int i = 0; i < n; i++) {
            if (seize(b, tids[i]) < 0) {
                if (errno == EPERM && i == 0)
                    return error_set("cannot trace process %d: %s", (int)b->pid, strerror(errno)),
                           -1;
                continue;
            }
            if (ptrace(PTRACE_GETREGS, b->tid, 0, &b->regs) == 0 && safe_point(&b->regs, m)) {
                b->xstate_iov = (struct iovec){b->xstate, sizeof b->xstate};
                if (ptrace(PTRACE_GETREGSET, b->tid, NT_X86_XSTATE, &b->xstate_iov) < 0)
                    b->xstate_iov.iov_len = 0;
                return 0;
            }
            release(b);
        }
        struct timespec pause = {0, 20 * 1000000};
        nanosleep(&pause, NULL);
    }
    return error_set("no thread of process %d came to a safe point in 2 s (all busy in the C "
                     "library or the loader); try again", (int)b->pid), -1;
}

static void give_back(borrowed_t *b)
{
    ptrace(PTRACE_SETREGS, b->tid, 0, &b->regs);
    if (b->xstate_iov.iov_len)
        ptrace(PTRACE_SETREGSET, b->tid, NT_X86_XSTATE, &b->xstate_iov);
    release(b);
}

static int poke(pid_t pid, uintptr_t at, const void *data, size_t len)
{
    struct iovec local = {(void *)data, len}, remote = {(void *)at, len};
    return process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* fn(a0, a1) on the borrowed thread, its stack below the red zone; *ret is what it returned. */
static int call(borrowed_t *b, uintptr_t fn, uintptr_t sp, uintptr_t a0, uintptr_t a1,
                uintptr_t *ret)
{
    struct user_regs_struct r = b->regs;
    uint64_t zero = 0;
    r.rsp = sp - 8; /* sp 16-aligned: at entry rsp + 8 is, as after a call */
    r.rip = fn;
    r.rdi = a0;
    r.rsi = a1;
    r.rax = 0;
    r.orig_rax = (unsigned long long)-1; /* no system call to restart under this call */
    if (poke(b->pid, r.rsp, &zero, sizeof zero) < 0 || ptrace(PTRACE_SETREGS, b->tid, 0, &r) < 0 ||
        ptrace(PTRACE_CONT, b->tid, 0, 0) < 0)
        return error_set("cannot set up a call in process %d: %s", (int)b->pid, strerror(errno)), -1;
    for (;;) {
        int sig = 0, stop = wait_stop(b->tid, &sig);
        if (stop < 0)
            return error_set("process %d ended during the attach", (int)b->pid), -1;
        if (stop == 0) {
            struct user_regs_struct now;
            if (ptrace(PTRACE_GETREGS, b->tid, 0, &now) < 0)
                return error_set("process %d: %s", (int)b->pid, strerror(errno)), -1;
            if (sig == SIGSEGV && now.rip == 0) {
                *ret = now.rax;
                return 0;
            }
            if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE)
                return error_set("the call into process %d faulted (signal %d at %#llx); it was "
                                 "undone", (int)b->pid, sig, now.rip), -1;
            hold_signal(b, sig);
        }
        if (ptrace(PTRACE_CONT, b->tid, 0, 0) < 0)
            return error_set("process %d: %s", (int)b->pid, strerror(errno)), -1;
    }
}

static int peek_string(pid_t pid, uintptr_t at, char *out, size_t cap)
{
    struct iovec local = {out, cap - 1}, remote = {(void *)at, cap - 1};
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    return 0;
}

static const char *start_error(uintptr_t rc)
{
    switch (rc) {
    case 1: return "the shim was loaded already (attached, or preloaded)";
    case 2: return "the shim could not start (out of memory, or an address-space limit)";
    case 3: return "the shim cannot open the control pipe (the output directory is not reachable "
                   "from the process: another mount namespace, or permissions)";
    default: return "unknown failure";
    }
}

/* The three calls, on the borrowed thread. */
static int load(borrowed_t *b, const uintptr_t sym[NSYMS], const char *shim, const char *settings,
                const char *control)
{
    static const char entry_name[] = "imgleak_attach_start";
    size_t l_shim = strlen(shim) + 1, l_set = strlen(settings) + 1, l_ctl = strlen(control) + 1;
    size_t total = l_shim + l_set + l_ctl + sizeof entry_name;
    char *data = malloc(total);
    if (!data)
        return error_set("out of memory"), -1;
    memcpy(data, shim, l_shim);
    memcpy(data + l_shim, settings, l_set);
    memcpy(data + l_shim + l_set, control, l_ctl);
    memcpy(data + l_shim + l_set + l_ctl, entry_name, sizeof entry_name);
    /* below the red zone of whatever the thread was doing, 16-aligned */
    uintptr_t at = (b->regs.rsp - 128 - 1024 - total) & ~(uintptr_t)15;
    uintptr_t a_shim = at, a_set = at + l_shim, a_ctl = a_set + l_set, a_entry = a_ctl + l_ctl;
    int rc = poke(b->pid, at, data, total);
    free(data);
    if (rc < 0)
        return error_set("cannot write into process %d: %s", (int)b->pid, strerror(errno)), -1;
    uintptr_t handle = 0, entry = 0, started = 0;
    if (call(b, sym[SYM_DLOPEN], at, a_shim, RTLD_NOW, &handle) < 0)
        return -1;
    if (!handle) {
        uintptr_t msg = 0;
        char text[512] = "no reason given";
        if (call(b, sym[SYM_DLERROR], at, 0, 0, &msg) == 0 && msg)
            peek_string(b->pid, msg, text, sizeof text);
        return error_set("process %d could not load %s: %s", (int)b->pid, shim, text), -1;
    }
    if (call(b, sym[SYM_DLSYM], at, handle, a_entry, &entry) < 0)
        return -1;
    if (!entry)
        return error_set("%s in process %d has no imgleak_attach_start (an older shim?)", shim,
                         (int)b->pid), -1;
    if (call(b, entry, at, a_set, a_ctl, &started) < 0)
        return -1;
    if ((int)started != 0)
        return error_set("process %d: %s", (int)b->pid, start_error((uintptr_t)(int)started)), -1;
    return 0;
}

inject_status_t inject_load(pid_t pid, const char *shim_path, const char *settings,
                            const char *control)
{
    target_map_t m;
    uintptr_t sym[NSYMS];
    if (map_read(pid, &m) < 0 || libc_symbols(pid, &m, sym) < 0)
        return INJECT_FAILED;
    borrowed_t *b = calloc(1, sizeof *b);
    if (!b)
        return error_set("out of memory"), INJECT_FAILED;
    b->pid = pid;
    inject_status_t st = INJECT_FAILED;
    if (borrow(b, &m) == 0) {
        st = load(b, sym, shim_path, settings, control) == 0 ? INJECT_OK : INJECT_FAILED;
        give_back(b);
    }
    free(b);
    return st;
}
